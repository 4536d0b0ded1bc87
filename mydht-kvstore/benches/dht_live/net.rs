//! [`Net`]: the bench's nodes, each on a loop thread of its own
//! (`Dht::start`) or driven by a few threads of the bench
//! (`mydht::start_driven`).

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mydht::{MainLoopDriver, MainLoopSpawn, NodeHandle};
use mydht_kvstore::dht::{Dht, DhtCmd, DhtConf, DhtReply, DhtSettings};
use mydht_kvstore::Key;

use super::poll;
use super::T;

/// The running nodes.
pub struct Net {
    dhts: Vec<Dht>,
    /// The driving threads (none when each node has its own).
    drivers: Vec<JoinHandle<()>>,
    /// Tells the driving threads to drop their nodes and end.
    stop: Arc<AtomicBool>,
}

fn conf(replicas: usize, main_loop: MainLoopSpawn) -> DhtConf {
    let mut conf = DhtConf::generate().expect("identity");
    conf.settings = DhtSettings::kademlia(replicas);
    conf.logger = Some(slog::Logger::root(slog::Discard, slog::o!()));
    conf.main_loop = main_loop;
    conf
}

/// The longest a driving thread waits before it looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// Turns `nodes` until `stop`, then drops them (which stops them): waits
/// on all their pollers at once (one epoll instance holding each node's
/// poller descriptor), at most until the nearest of their deadlines, then
/// turns those that are ready or due. A node's deadline is asked once
/// after each of its turns (it moves only when the node runs: a command
/// sent to it wakes its poller), not of every node at every wait.
fn drive(nodes: Vec<MainLoopDriver<DhtConf>>, stop: &AtomicBool) {
    let mut epoll = poll::Epoll::new(nodes.len()).expect("epoll");
    for (i, d) in nodes.iter().enumerate() {
        epoll.add(d.as_raw_fd(), i as u64).expect("epoll add");
    }
    let start = Instant::now();
    let mut due: Vec<Instant> = nodes.iter().map(|d| start + d.next_wait()).collect();
    let mut nodes: Vec<Option<MainLoopDriver<DhtConf>>> = nodes.into_iter().map(Some).collect();
    let mut left = nodes.len();
    let (mut ready, mut turn) = (Vec::new(), Vec::new());
    while !stop.load(Ordering::Relaxed) && left > 0 {
        let now = Instant::now();
        let next = nodes
            .iter()
            .zip(&due)
            .filter(|(d, _)| d.is_some())
            .map(|(_, t)| *t)
            .min()
            .map_or(STOP_CHECK, |t| t.saturating_duration_since(now));
        epoll
            .wait(next.min(STOP_CHECK), &mut ready)
            .expect("epoll wait");
        let now = Instant::now();
        turn.clear();
        turn.extend(ready.iter().map(|&i| i as usize));
        turn.extend((0..nodes.len()).filter(|&i| nodes[i].is_some() && due[i] <= now));
        turn.sort_unstable();
        turn.dedup();
        for &i in &turn {
            let Some(d) = nodes[i].as_mut() else {
                continue;
            };
            if d.run_once(Duration::ZERO).expect("turn") {
                due[i] = Instant::now() + d.next_wait();
            } else {
                epoll.remove(d.as_raw_fd()).expect("epoll remove");
                nodes[i] = None;
                left -= 1;
            }
        }
    }
}

impl Net {
    /// `n` nodes keeping `replicas` copies of each value: each on a thread
    /// of its own (`threads` = 0) or node `i` driven by thread
    /// `i % threads`.
    pub fn start(n: usize, threads: usize, replicas: usize) -> Net {
        let stop = Arc::new(AtomicBool::new(false));
        if threads == 0 {
            let dhts = (0..n)
                .map(|_| Dht::start(conf(replicas, MainLoopSpawn::Thread)).expect("node"))
                .collect();
            return Net {
                dhts,
                drivers: Vec::new(),
                stop,
            };
        }
        let settings = DhtSettings::kademlia(replicas);
        let (send, handles) = mpsc::channel::<(usize, NodeHandle<DhtConf>)>();
        let drivers = (0..threads)
            .map(|t| {
                let (send, stop) = (send.clone(), stop.clone());
                std::thread::Builder::new()
                    .name(format!("dht-live-driver-{t}"))
                    .spawn(move || {
                        // A driver stays on the thread that built it.
                        let nodes = (t..n)
                            .step_by(threads)
                            .map(|i| {
                                let conf = conf(replicas, MainLoopSpawn::Caller);
                                let (driver, handle) = mydht::start_driven(conf).expect("node");
                                send.send((i, handle)).expect("bench");
                                driver
                            })
                            .collect();
                        drop(send);
                        drive(nodes, &stop);
                    })
                    .expect("driver thread")
            })
            .collect();
        drop(send);
        let mut slots: Vec<Option<NodeHandle<DhtConf>>> = (0..n).map(|_| None).collect();
        for (i, handle) in handles {
            slots[i] = Some(handle);
        }
        let dhts = slots
            .into_iter()
            .map(|h| Dht::from_node(h.expect("every node started"), settings.query, settings.ttl))
            .collect();
        Net {
            dhts,
            drivers,
            stop,
        }
    }

    /// The nodes' handles.
    pub fn dhts(&self) -> &[Dht] {
        &self.dhts
    }

    /// The value node `by` finds under `key`, or why not (not found, an
    /// error).
    ///
    /// A driven node's `Dht` handle does not know its loop ticks it, so
    /// its `get` would add a timer query per call: the query goes to the
    /// node as `Dht::get` sends it, without the timer.
    pub fn get(&self, by: usize, key: Key) -> Result<Vec<u8>, String> {
        let dht = &self.dhts[by];
        if self.drivers.is_empty() {
            return dht
                .get(key, T)
                .map(|v| v.value().to_vec())
                .map_err(|e| e.to_string());
        }
        let mut conf = dht.query_conf();
        conf.timeout = conf.timeout.min(T - T / 5);
        let replies = dht
            .node()
            .query(DhtCmd::Get(key, conf), 1, T)
            .map_err(|e| e.to_string())?;
        match replies.first() {
            Some(DhtReply::Found(values)) => values
                .iter()
                .max_by_key(|v| (v.version(), v.expires_at()))
                .map(|v| v.value().to_vec())
                .ok_or_else(|| "not found".to_string()),
            other => Err(format!("answered {other:?}")),
        }
    }

    /// True when node `by` holds a value under `key` in its own store.
    pub fn holds(&self, by: usize, key: Key) -> bool {
        let dht = &self.dhts[by];
        let mut conf = dht.query_conf();
        conf.hops = 0;
        dht.get_with(key, conf, T).is_ok()
    }

    /// Stops every node at once: the driving threads drop theirs, or
    /// each node's `stop` on a thread of its own. (One after the other,
    /// each stop would make the nodes still running place again what the
    /// stopped one held: a minute of CPU for the 128.)
    pub fn stop(self) {
        if self.drivers.is_empty() {
            std::thread::scope(|s| {
                for d in self.dhts {
                    s.spawn(move || {
                        let _ = d.stop();
                    });
                }
            });
            return;
        }
        self.stop.store(true, Ordering::Relaxed);
        for d in self.drivers {
            d.join().expect("driver thread");
        }
    }
}
