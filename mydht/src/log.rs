//! [`default_logger`]: where a node logs unless its configuration says
//! otherwise — warnings and errors on standard error, one line each.

use std::fmt::{self, Write as _};
use std::io::Write as _;

use slog::{Drain, Key, Level, OwnedKVList, Record, Serializer, KV};

/// The logger of a configuration that does not name one
/// ([`MyDHTConf::logger`](crate::MyDHTConf::logger)): records of level
/// warning and above (a message dropped for a peer that is not connected,
/// a connection dropped for a bad frame, a service that failed) go to
/// standard error, one line each, so that a mistake is never silent.
/// Configure a `slog` logger of your own for more (or less).
pub fn default_logger() -> slog::Logger {
    slog::Logger::root(StderrWarnings.fuse(), slog::o!())
}

/// A drain writing warnings and errors to standard error.
struct StderrWarnings;

impl Drain for StderrWarnings {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        if let Some(line) = warning_line(record, values) {
            // Standard error gone: nothing left to tell.
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
        Ok(())
    }
}

/// The line a warning or an error makes (`None` below warning).
fn warning_line(record: &Record<'_>, values: &OwnedKVList) -> Option<String> {
    if !record.level().is_at_least(Level::Warning) {
        return None;
    }
    let mut line = format!("mydht {}: {}", record.level().as_short_str(), record.msg());
    let mut fields = Fields(&mut line);
    // A field that does not format is left out of the line.
    let _ = record.kv().serialize(record, &mut fields);
    let _ = values.serialize(record, &mut fields);
    line.push('\n');
    Some(line)
}

/// Appends `key=value` pairs to a line.
struct Fields<'a>(&'a mut String);

impl Serializer for Fields<'_> {
    fn emit_arguments(&mut self, key: Key, val: &fmt::Arguments<'_>) -> slog::Result {
        write!(self.0, "; {key}={val}").map_err(|_| slog::Error::Other)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// The default drain's lines, kept.
    struct Kept(Arc<Mutex<Vec<String>>>);

    impl Drain for Kept {
        type Ok = ();
        type Err = slog::Never;
        fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
            if let Some(line) = warning_line(record, values) {
                self.0.lock().expect("lines").push(line);
            }
            Ok(())
        }
    }

    #[test]
    fn warnings_and_errors_make_one_line_each_with_their_fields() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let logger = slog::Logger::root(Kept(lines.clone()).fuse(), slog::o!("node" => 7));
        slog::debug!(logger, "not shown"; "conn" => 1);
        slog::info!(logger, "not shown either");
        slog::warn!(logger, "message dropped"; "peer" => "ab12");
        slog::error!(logger, "service failed"; "error" => "boom");
        let lines = lines.lock().expect("lines");
        assert_eq!(
            *lines,
            vec![
                "mydht WARN: message dropped; peer=ab12; node=7\n".to_string(),
                "mydht ERRO: service failed; error=boom; node=7\n".to_string(),
            ]
        );
    }
}
