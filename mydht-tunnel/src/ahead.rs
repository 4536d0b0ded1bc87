//! Header hops prepared ahead on a helper thread, off every node's loop.
//!
//! A query's headers cost its sender one X25519 derivation per hop (the
//! hop's fresh key pair with the hop's static key), on the query's path
//! before anything is sent: 8 through 3 relays each way. After each query,
//! the global service draws the next query's order of peers
//! ([`RouteProvider::draw_ahead`](crate::route::RouteProvider::draw_ahead))
//! and hands the static keys of the hops it will have to this thread, which
//! makes their key pairs and exchanges ([`PreparedHop`]) and leaves them in
//! the node's [`Inbox`]; the next query moves them into its `FullTunnel`
//! and its headers take them.
//!
//! One thread for the process, started with the first tunnel node and
//! never stopped (it waits on its queue when there is nothing to do), so
//! nodes on one thread (`Restartable`) still run their loop on one thread.
//! It runs at the nodes' priority: under `SCHED_IDLE` it stalled round
//! trips for up to 2 s (p99 747 and 2,006 ms in 2 of 38 bench runs, none
//! in 38 at normal priority), the node's threads waiting on a lock the
//! thread held when a busy core preempted it (an allocator arena,
//! openssl's, a channel's: any lock it shares with them). Its queue is
//! bounded: a job that finds it full is dropped, and the query it was for
//! makes its hops itself, as it would without this thread. A job for a node
//! that stopped is dropped too.
//!
//! The thread also makes the node's spare header key pairs (those a query
//! takes for a hop not prepared), which the global service's tick asks for:
//! made on the node's loop, a tick's batch of up to 32 key generations
//! held it (a `Restartable` node's only thread) while a hop waited.
//!
//! The thread keeps tables of the hop keys it meets often
//! ([`HopTable`], [`Tables`]): a hop prepared from its key's table costs
//! about a third of openssl's key generation and exchange. One table per
//! hop key met [`TABLE_AFTER`] times, at most [`TABLES`] (30 KiB each),
//! the least lately used dropped first; a hop key met less often is
//! prepared through openssl as before.
//!
//! A node never waits for this thread: it leaves what it made in the
//! node's inbox, whose lock the node only tries ([`take_ready`]; if the
//! thread holds it, the query goes on without, making its hops itself).
//! The thread used to put its hops in the node's shared tunnel state, whose
//! lock every query and hop of the node takes.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, TryLockError, Weak};

use tunnel::crypto::{CryptoError, X25519Secret};
use tunnel::full::EPHEMERAL_KEYS_KEPT;
use tunnel::header::{HopTable, PreparedHop};
use tunnel::FullTunnel;

/// Jobs waiting for the thread, at most (one per query sent).
const QUEUE: usize = 64;

/// Prepared hops an inbox holds, at most (past it the oldest are dropped:
/// those of a route that was not taken).
const HOPS_KEPT: usize = 64;

/// Hop tables the thread keeps, at most (30 KiB each).
const TABLES: usize = 32;

/// A hop key gets a table once the thread has prepared that many hops for
/// it (a table costs about 1 ms to build, some 30 prepared hops' saving).
const TABLE_AFTER: u32 = 4;

/// Hop keys whose prepared hops are counted, at most (the oldest counted
/// is forgotten first).
const COUNTED: usize = 256;

/// The thread's hop tables and its count of the hops prepared for keys
/// with none yet; both bounded.
#[derive(Default)]
struct Tables {
    /// The least lately used first.
    tables: VecDeque<HopTable>,
    counts: VecDeque<([u8; 32], u32)>,
}

impl Tables {
    /// A hop prepared for the hop whose static key is `hop`: from its
    /// table, made now if `hop` was met [`TABLE_AFTER`] times, else
    /// through openssl.
    fn prepare(&mut self, hop: &[u8; 32]) -> Result<PreparedHop, CryptoError> {
        let found = self.tables.iter().position(|t| t.hop() == hop);
        if let Some(table) = found.and_then(|i| self.tables.remove(i)) {
            let prepared = PreparedHop::with_table(&table);
            self.tables.push_back(table);
            return prepared;
        }
        if self.met(hop) >= TABLE_AFTER {
            self.counts.retain(|(k, _)| k != hop);
            if let Some(table) = HopTable::new(hop) {
                let prepared = PreparedHop::with_table(&table);
                if self.tables.len() >= TABLES {
                    self.tables.pop_front();
                }
                self.tables.push_back(table);
                return prepared;
            }
        }
        X25519Secret::generate().and_then(|key| PreparedHop::new(hop, key))
    }

    /// Counts one more hop for `hop`: how many so far.
    fn met(&mut self, hop: &[u8; 32]) -> u32 {
        if let Some((_, n)) = self.counts.iter_mut().find(|(k, _)| k == hop) {
            *n += 1;
            return *n;
        }
        if self.counts.len() >= COUNTED {
            self.counts.pop_front();
        }
        self.counts.push_back((*hop, 1));
        1
    }
}

/// What the thread made for one node, until its global service takes it
/// ([`take_ready`]).
#[derive(Default)]
pub(crate) struct Inbox {
    ready: Mutex<Ready>,
    /// Set while a key job of the node waits or runs.
    keys_pending: AtomicBool,
}

/// Made and not taken yet: at most [`HOPS_KEPT`] hops and
/// [`EPHEMERAL_KEYS_KEPT`] keys.
#[derive(Default)]
struct Ready {
    hops: Vec<PreparedHop>,
    keys: Vec<X25519Secret>,
}

/// Hops to prepare for one node, or spare key pairs to make.
struct Job {
    node: Weak<Inbox>,
    hops: Vec<[u8; 32]>,
    /// Spare header key pairs to make.
    keys: usize,
    logger: slog::Logger,
}

/// The thread's queue; `None` if the thread could not start.
static QUEUE_TX: OnceLock<Option<SyncSender<Job>>> = OnceLock::new();

/// Starts the thread if it is not running (a tunnel node calls it when it
/// starts). If it cannot start, every query makes its hops itself.
pub(crate) fn start(logger: &slog::Logger) {
    QUEUE_TX.get_or_init(|| {
        let (tx, rx) = sync_channel(QUEUE);
        match std::thread::Builder::new()
            .name("mydht-tunnel-keys".into())
            .spawn(move || run(rx))
        {
            Ok(_) => Some(tx),
            Err(e) => {
                slog::warn!(logger, "tunnel header hops not prepared ahead: no thread"; "error" => %e);
                None
            }
        }
    });
}

/// Asks the thread to prepare `hops` (static keys, one prepared hop each)
/// for the node of `inbox`. Never blocks.
pub(crate) fn prepare(inbox: &Arc<Inbox>, hops: Vec<[u8; 32]>, logger: &slog::Logger) {
    let job = Job {
        node: Arc::downgrade(inbox),
        hops,
        keys: 0,
        logger: logger.clone(),
    };
    queue(job, logger);
}

/// Asks the thread to make `count` spare header key pairs for the node of
/// `inbox`, unless a key job of that node waits already. Never blocks.
/// False only when there is no thread to ask (a full queue drops the job:
/// the next tick asks again).
pub(crate) fn make_keys(inbox: &Arc<Inbox>, count: usize, logger: &slog::Logger) -> bool {
    if count == 0 || inbox.keys_pending.swap(true, Ordering::AcqRel) {
        return true;
    }
    let job = Job {
        node: Arc::downgrade(inbox),
        hops: Vec::new(),
        keys: count,
        logger: logger.clone(),
    };
    let queued = queue(job, logger);
    if queued != Queued::Yes {
        inbox.keys_pending.store(false, Ordering::Release);
    }
    queued != Queued::NoThread
}

/// Moves what the thread made for this node into `full`, without waiting:
/// false (nothing moved) while the thread holds the inbox.
pub(crate) fn take_ready(inbox: &Inbox, full: &mut FullTunnel) -> bool {
    let mut ready = match inbox.ready.try_lock() {
        Ok(ready) => ready,
        // Each step leaves the inbox consistent.
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => return false,
    };
    let kept = full.ephemeral_keys_mut();
    if !ready.hops.is_empty() {
        kept.add_prepared(ready.hops.drain(..));
    }
    if !ready.keys.is_empty() {
        kept.add(ready.keys.drain(..));
    }
    true
}

/// What became of a job.
#[derive(Debug, PartialEq, Eq)]
enum Queued {
    Yes,
    /// Dropped: the queue was full.
    Full,
    /// Dropped: there is no thread.
    NoThread,
}

/// Queues `job`, or drops it.
fn queue(job: Job, logger: &slog::Logger) -> Queued {
    let Some(Some(tx)) = QUEUE_TX.get() else {
        return Queued::NoThread;
    };
    match tx.try_send(job) {
        Ok(()) => Queued::Yes,
        Err(TrySendError::Full(_)) => {
            slog::debug!(logger, "tunnel keys not made ahead: queue full");
            Queued::Full
        }
        Err(TrySendError::Disconnected(_)) => {
            slog::warn!(logger, "tunnel keys not made ahead: the thread ended");
            Queued::NoThread
        }
    }
}

/// The thread: makes each job's hops and keys, then leaves them in its
/// node's inbox.
fn run(rx: Receiver<Job>) {
    let mut tables = Tables::default();
    for job in rx {
        if job.node.strong_count() == 0 {
            continue;
        }
        let mut hops = Vec::with_capacity(job.hops.len());
        for hop in &job.hops {
            match tables.prepare(hop) {
                Ok(p) => hops.push(p),
                Err(e) => {
                    // That query makes the hop itself (and fails typed if
                    // it cannot either).
                    slog::warn!(job.logger, "tunnel hop not prepared ahead"; "error" => %e);
                }
            }
        }
        let mut keys = Vec::with_capacity(job.keys);
        for _ in 0..job.keys {
            match X25519Secret::generate() {
                Ok(key) => keys.push(key),
                Err(e) => {
                    // A query then makes its own (and fails typed if it
                    // cannot either).
                    slog::warn!(job.logger, "tunnel header keys not made ahead"; "error" => %e);
                    break;
                }
            }
        }
        let Some(node) = job.node.upgrade() else {
            continue;
        };
        {
            let mut ready = node.ready.lock().unwrap_or_else(|e| e.into_inner());
            ready.hops.extend(hops);
            let past = ready.hops.len().saturating_sub(HOPS_KEPT);
            ready.hops.drain(..past);
            ready.keys.extend(keys);
            ready.keys.truncate(EPHEMERAL_KEYS_KEPT);
        }
        if job.keys > 0 {
            node.keys_pending.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use tunnel::TunnelConfig;

    use super::*;

    fn full() -> FullTunnel {
        FullTunnel::new(TunnelConfig::default(), X25519Secret::generate().unwrap()).unwrap()
    }

    fn logger() -> slog::Logger {
        slog::Logger::root(slog::Discard, slog::o!())
    }

    /// Waits (yielding, at most 10 s) until `done` holds.
    fn until(mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(
                Instant::now() < deadline,
                "the thread's job not done in 10 s"
            );
            std::thread::yield_now();
        }
    }

    #[test]
    fn spare_header_keys_are_made_by_the_thread_one_job_at_a_time() {
        start(&logger());
        let (inbox, mut full) = (Arc::new(Inbox::default()), full());
        let room = full.ephemeral_room();
        assert_eq!(room, EPHEMERAL_KEYS_KEPT);
        assert!(make_keys(&inbox, room, &logger()));
        until(|| !inbox.keys_pending.load(Ordering::Acquire));
        assert_eq!(
            full.ephemeral_room(),
            room,
            "not in the node's tunnel until taken"
        );
        assert!(take_ready(&inbox, &mut full));
        assert_eq!(full.ephemeral_room(), 0);
        // While a key job of the node waits, no other is queued.
        inbox.keys_pending.store(true, Ordering::Release);
        assert!(make_keys(&inbox, 3, &logger()));
        assert!(inbox.keys_pending.load(Ordering::Acquire));
        assert!(inbox.ready.lock().unwrap().keys.is_empty());
    }

    #[test]
    fn a_node_never_waits_for_the_thread_holding_its_inbox() {
        start(&logger());
        let (inbox, mut full) = (Arc::new(Inbox::default()), full());
        let hop = X25519Secret::generate().unwrap();
        prepare(&inbox, vec![*hop.public_key()], &logger());
        until(|| !inbox.ready.lock().unwrap().hops.is_empty());
        // The thread preempted while it holds the inbox: the node takes
        // nothing and goes on.
        let held = inbox.ready.lock().unwrap();
        assert!(!take_ready(&inbox, &mut full));
        assert_eq!(full.ephemeral_keys_mut().prepared_len(), 0);
        drop(held);
        assert!(take_ready(&inbox, &mut full));
        assert_eq!(full.ephemeral_keys_mut().prepared_len(), 1);
        assert!(inbox.ready.lock().unwrap().hops.is_empty());
    }

    /// A hop key gets a table at its [`TABLE_AFTER`]th prepared hop; every
    /// hop has a fresh key pair whose keys the hop derives too; tables and
    /// counts stay within their bounds.
    #[test]
    fn hop_keys_met_often_get_a_table_and_every_hop_a_fresh_key() {
        let mut tables = Tables::default();
        let hop = X25519Secret::generate().unwrap();
        let mut kept = tunnel::header::EphemeralKeys::new(64);
        let mut seen = Vec::new();
        for i in 1..=TABLE_AFTER + 3 {
            kept.add_prepared([tables.prepare(hop.public_key()).unwrap()]);
            assert_eq!(tables.tables.len(), usize::from(i >= TABLE_AFTER));
            let (ephemeral, keys) = kept.take_hop(hop.public_key()).unwrap();
            let shared = hop.diffie_hellman(&ephemeral).unwrap();
            assert!(tunnel::crypto::derive_hop_keys(&shared, &ephemeral).unwrap() == keys);
            assert!(!seen.contains(&ephemeral), "a key used twice");
            seen.push(ephemeral);
        }
        assert!(tables.counts.is_empty());
        // Bounded: more hop keys met often than tables kept, and more
        // met once than counted.
        for _ in 0..TABLES + 2 {
            let other = *X25519Secret::generate().unwrap().public_key();
            for _ in 0..TABLE_AFTER {
                tables.prepare(&other).unwrap();
            }
        }
        assert_eq!(tables.tables.len(), TABLES);
        assert!(tables.tables.iter().all(|t| t.hop() != hop.public_key()));
        for _ in 0..COUNTED + 2 {
            tables.met(X25519Secret::generate().unwrap().public_key());
        }
        assert_eq!(tables.counts.len(), COUNTED);
    }

    #[test]
    fn an_inbox_keeps_at_most_its_bounds() {
        start(&logger());
        let inbox = Arc::new(Inbox::default());
        let hops: Vec<[u8; 32]> = (0..HOPS_KEPT + 4)
            .map(|_| *X25519Secret::generate().unwrap().public_key())
            .collect();
        prepare(&inbox, hops, &logger());
        until(|| inbox.ready.lock().unwrap().hops.len() == HOPS_KEPT);
        assert!(make_keys(&inbox, EPHEMERAL_KEYS_KEPT, &logger()));
        until(|| !inbox.keys_pending.load(Ordering::Acquire));
        assert!(make_keys(&inbox, 5, &logger()));
        until(|| !inbox.keys_pending.load(Ordering::Acquire));
        let ready = inbox.ready.lock().unwrap();
        assert_eq!(ready.hops.len(), HOPS_KEPT);
        assert_eq!(ready.keys.len(), EPHEMERAL_KEYS_KEPT);
    }
}
