//! The terminal logger: slog-term on standard error, at a level the
//! command and its `-v` flags choose.

use std::sync::Mutex;

use slog::{o, Drain, Level, LevelFilter, Logger};

/// A logger writing to standard error at `base` and above, each `-v`
/// (`verbose`) one level more detailed.
pub fn terminal(base: Level, verbose: u8) -> Logger {
    let level = (0..verbose).fold(base, |l, _| match l {
        Level::Critical => Level::Error,
        Level::Error => Level::Warning,
        Level::Warning => Level::Info,
        Level::Info => Level::Debug,
        Level::Debug | Level::Trace => Level::Trace,
    });
    let decorator = slog_term::TermDecorator::new().stderr().build();
    let drain = slog_term::FullFormat::new(decorator).build();
    let drain = LevelFilter::new(Mutex::new(drain), level).fuse();
    Logger::root(drain, o!())
}
