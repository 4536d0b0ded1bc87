//! A slog drain that records every record a node logs, as one line of text
//! (message and key-values), so that a test can wait for a record or assert
//! that none of a kind was logged.
#![allow(dead_code)] // each test binary uses a different part

use std::fmt::{self, Write as _};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use slog::{Drain, Key, OwnedKVList, Record, Serializer, KV};

/// The records logged so far, shared by the drain and the test.
#[derive(Clone, Default)]
pub struct Captured {
    inner: Arc<(Mutex<Vec<String>>, Condvar)>,
}

impl Captured {
    /// A fresh, empty capture.
    pub fn new() -> Self {
        Self::default()
    }

    /// A logger whose records (every level the build keeps) land here.
    pub fn logger(&self) -> slog::Logger {
        slog::Logger::root(CaptureDrain(self.clone()).fuse(), slog::o!())
    }

    /// Every record so far, one line each: `LEVEL message; key=value, ...`.
    pub fn lines(&self) -> Vec<String> {
        self.inner.0.lock().unwrap().clone()
    }

    /// The first record that `pred` accepts, waiting at most `timeout` for
    /// it (woken by each new record, never by a sleep).
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        self.wait_lines(timeout, |lines| lines.iter().find(|l| pred(l)).cloned())
    }

    /// Waits at most `timeout` until `count` records that `pred` accepts
    /// were logged: true if they were.
    pub fn wait_for_count(
        &self,
        timeout: Duration,
        count: usize,
        pred: impl Fn(&str) -> bool,
    ) -> bool {
        let enough =
            |lines: &[String]| (lines.iter().filter(|l| pred(l)).count() >= count).then_some(());
        self.wait_lines(timeout, enough).is_some()
    }

    /// What `found` finds in the records, waiting at most `timeout` for it
    /// (woken by each new record).
    fn wait_lines<T>(
        &self,
        timeout: Duration,
        found: impl Fn(&[String]) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let (lock, cond) = &*self.inner;
        let mut lines = lock.lock().unwrap();
        loop {
            if let Some(t) = found(&lines) {
                return Some(t);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            lines = cond.wait_timeout(lines, left).unwrap().0;
        }
    }

    fn push(&self, line: String) {
        let (lock, cond) = &*self.inner;
        lock.lock().unwrap().push(line);
        cond.notify_all();
    }
}

struct CaptureDrain(Captured);

struct Line(String);

impl Serializer for Line {
    fn emit_arguments(&mut self, key: Key, val: &fmt::Arguments) -> slog::Result {
        let _ = write!(self.0, " {key}={val};");
        Ok(())
    }
}

impl Drain for CaptureDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record, values: &OwnedKVList) -> Result<(), slog::Never> {
        let mut line = Line(format!(
            "{} {};",
            record.level().as_short_str(),
            record.msg()
        ));
        let _ = record.kv().serialize(record, &mut line);
        let _ = values.serialize(record, &mut line);
        self.0.push(line.0);
        Ok(())
    }
}
