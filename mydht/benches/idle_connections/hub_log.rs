//! `--hub-log`: the hub's records of every level on standard error, one
//! line each with its time. Why a hub closed a connection is a debug
//! record, which slog leaves out of a release build: build the bench with
//! `cargo bench --profile dev` for those.

use std::fmt::{self, Write};
use std::time::Instant;

use slog::{Drain, Key, OwnedKVList, Record, Serializer, KV};

/// The hub's logger: every record with `--hub-log`, else mydht's default
/// (warnings and errors).
pub fn hub_logger() -> slog::Logger {
    if !std::env::args().any(|a| a == "--hub-log") {
        return mydht::log::default_logger();
    }
    slog::Logger::root(
        AllRecords {
            start: Instant::now(),
        }
        .fuse(),
        slog::o!(),
    )
}

struct AllRecords {
    start: Instant,
}

impl Drain for AllRecords {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        let mut line = format!(
            "hub {:.3}s {}: {}",
            self.start.elapsed().as_secs_f64(),
            record.level().as_short_str(),
            record.msg()
        );
        let _ = record.kv().serialize(record, &mut Fields(&mut line));
        let _ = values.serialize(record, &mut Fields(&mut line));
        eprintln!("{line}");
        Ok(())
    }
}

struct Fields<'a>(&'a mut String);

impl Serializer for Fields<'_> {
    fn emit_arguments(&mut self, key: Key, val: &fmt::Arguments<'_>) -> slog::Result {
        write!(self.0, "; {key}={val}").map_err(|_| slog::Error::Other)
    }
}
