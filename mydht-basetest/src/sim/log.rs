//! [`EventLog`]: what a simulation did, event by event, and a hash of it
//! that two runs compare.

use std::time::Duration;

/// What happened (an event handled, or an action carried out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogKind {
    /// A node started.
    Start,
    /// A node's timer fired.
    Timer,
    /// A node asked for a connection.
    Dial,
    /// A dial failed (no such node, or across a partition).
    DialFailed,
    /// A node accepted a connection.
    Accept,
    /// A handshake frame was sent (size: its body).
    SendFrame,
    /// A handshake frame arrived (size: its body).
    Frame,
    /// A connection opened on one side (its peer admitted).
    Open,
    /// Messages were sent (size: their encoded length).
    Write,
    /// Messages arrived (size: their encoded length).
    Msgs,
    /// A node closed its end of a connection.
    Close,
    /// A node saw its connection end (its peer closed it, or it was cut).
    Ended,
    /// Something in flight was lost (its connection was cut or closed).
    Lost,
    /// A connection was cut by the fault injector or a partition.
    Cut,
    /// The network was partitioned (node: the number of nodes cut off).
    Partition,
    /// The partition healed.
    Heal,
    /// An api call was issued.
    Call,
    /// An api call ended (size: 1 for a reply, 0 for an error).
    CallEnd,
    /// The peer store was given a command (size: the replies it gave).
    PeerStore,
    /// The application's global service was given a command.
    Global,
    /// A call of an application's service failed (conn: the connection of
    /// a local service, 0 for the global service).
    ServiceFailed,
    /// A node stopped.
    Stop,
    /// A node's application tick was given to it.
    AppTick,
}

/// One line of the log: no key or random byte, only what a run with the
/// same seed must repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEntry {
    /// Simulated time since the start.
    pub at: Duration,
    /// The node.
    pub node: u32,
    /// What happened.
    pub kind: LogKind,
    /// The simulation's connection id (or call id for calls; 0 if none).
    pub conn: u64,
    /// A size (see each [`LogKind`]).
    pub size: u64,
}

/// The log: a running FNV-1a hash of every entry, a count per kind, and
/// the entries themselves when asked to keep them.
#[derive(Debug, Clone)]
pub struct EventLog {
    hash: u64,
    len: u64,
    counts: std::collections::BTreeMap<LogKind, u64>,
    entries: Option<Vec<LogEntry>>,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl EventLog {
    /// An empty log; `keep` keeps every entry (memory grows with the run).
    pub fn new(keep: bool) -> Self {
        EventLog {
            hash: FNV_OFFSET,
            len: 0,
            counts: Default::default(),
            entries: keep.then(Vec::new),
        }
    }

    /// Adds an entry.
    pub fn push(&mut self, entry: LogEntry) {
        let at = u64::try_from(entry.at.as_nanos()).unwrap_or(u64::MAX);
        let words = [
            at,
            u64::from(entry.node),
            entry.kind as u64,
            entry.conn,
            entry.size,
        ];
        for w in words {
            for b in w.to_le_bytes() {
                self.hash = (self.hash ^ u64::from(b)).wrapping_mul(FNV_PRIME);
            }
        }
        self.len += 1;
        *self.counts.entry(entry.kind).or_default() += 1;
        if let Some(e) = &mut self.entries {
            e.push(entry);
        }
    }

    /// The hash of every entry so far, in order.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// Entries so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing was logged.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many entries of `kind`.
    pub fn count(&self, kind: LogKind) -> u64 {
        self.counts.get(&kind).copied().unwrap_or(0)
    }

    /// The entries, when kept.
    pub fn entries(&self) -> Option<&[LogEntry]> {
        self.entries.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::{EventLog, LogEntry, LogKind};
    use std::time::Duration;

    fn entry(size: u64) -> LogEntry {
        LogEntry {
            at: Duration::from_millis(1),
            node: 2,
            kind: LogKind::Write,
            conn: 3,
            size,
        }
    }

    #[test]
    fn hash_follows_content_and_order() {
        let (mut a, mut b, mut c) = (
            EventLog::new(true),
            EventLog::new(false),
            EventLog::new(false),
        );
        a.push(entry(1));
        a.push(entry(2));
        b.push(entry(1));
        b.push(entry(2));
        c.push(entry(2));
        c.push(entry(1));
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), c.hash());
        assert_eq!(a.count(LogKind::Write), 2);
        assert_eq!(a.entries().map(<[_]>::len), Some(2));
        assert!(b.entries().is_none());
    }
}
