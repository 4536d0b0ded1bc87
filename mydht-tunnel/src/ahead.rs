//! Header hops prepared ahead on a helper thread, off every node's loop.
//!
//! A query's headers cost its sender one X25519 derivation per hop (the
//! hop's fresh key pair with the hop's static key), on the query's path
//! before anything is sent: 8 through 3 relays each way. After each query,
//! the global service draws the next query's order of peers
//! ([`RouteProvider::draw_ahead`](crate::route::RouteProvider::draw_ahead))
//! and hands the static keys of the hops it will have to this thread, which
//! makes their key pairs and exchanges ([`PreparedHop`]) and leaves them in
//! the node's `FullTunnel`; the next query's headers take them.
//!
//! One thread for the process, started with the first tunnel node and
//! never stopped (it waits on its queue when there is nothing to do), so
//! nodes on one thread (`Restartable`) still run their loop on one thread;
//! the work goes to a core when no node's thread wants it: on Linux the
//! thread runs under `SCHED_IDLE`, so a node's thread woken by a message
//! takes the core at once (at the same priority, a job running beside a
//! round trip delayed the hops' wake-ups as much as it saved). Its queue is
//! bounded: a job that finds it full is dropped, and the query it was for
//! makes its hops itself, as it would without this thread. A job for a node
//! that stopped is dropped too.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::OnceLock;

use tunnel::crypto::X25519Secret;
use tunnel::header::PreparedHop;

use crate::shared::WeakTunnel;

/// Jobs waiting for the thread, at most (one per query sent).
const QUEUE: usize = 64;

/// Hops to prepare for one node.
struct Job {
    node: WeakTunnel,
    hops: Vec<[u8; 32]>,
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
/// for `node`. Never blocks.
pub(crate) fn prepare(node: WeakTunnel, hops: Vec<[u8; 32]>, logger: &slog::Logger) {
    let Some(Some(tx)) = QUEUE_TX.get() else {
        return;
    };
    let job = Job {
        node,
        hops,
        logger: logger.clone(),
    };
    match tx.try_send(job) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            slog::debug!(logger, "tunnel hops not prepared ahead: queue full");
        }
        Err(TrySendError::Disconnected(_)) => {
            slog::warn!(logger, "tunnel hops not prepared ahead: the thread ended");
        }
    }
}

/// The thread: prepares each job's hops, then leaves them with its node.
fn run(rx: Receiver<Job>) {
    let idle = idle_priority();
    for job in rx {
        if let Err(e) = &idle {
            slog::debug!(job.logger, "tunnel keys thread at normal priority"; "error" => %e);
        }
        let mut made = Vec::with_capacity(job.hops.len());
        for hop in &job.hops {
            match X25519Secret::generate().and_then(|key| PreparedHop::new(hop, key)) {
                Ok(p) => made.push(p),
                Err(e) => {
                    // That query makes the hop itself (and fails typed if
                    // it cannot either).
                    slog::warn!(job.logger, "tunnel hop not prepared ahead"; "error" => %e);
                }
            }
        }
        if let Some(node) = job.node.upgrade() {
            node.lock().full.ephemeral_keys_mut().add_prepared(made);
        }
    }
}

/// Puts the calling thread under `SCHED_IDLE` (Linux: the policy is the
/// thread's): it runs only on a core no other thread wants.
#[cfg(target_os = "linux")]
fn idle_priority() -> std::io::Result<()> {
    /// `struct sched_param`.
    #[repr(C)]
    struct SchedParam {
        sched_priority: i32,
    }
    extern "C" {
        fn sched_setscheduler(pid: i32, policy: i32, param: *const SchedParam) -> i32;
    }
    const SCHED_IDLE: i32 = 5;
    let param = SchedParam { sched_priority: 0 };
    // SAFETY: libc's sched_setscheduler with a valid pointer to a
    // sched_param that outlives the call; pid 0 is the calling thread.
    let rc = unsafe { sched_setscheduler(0, SCHED_IDLE, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Other systems: the thread keeps its priority.
#[cfg(not(target_os = "linux"))]
fn idle_priority() -> std::io::Result<()> {
    Ok(())
}
