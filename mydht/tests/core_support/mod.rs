//! A simulated network of [`NodeCore`]s for the `core_*` tests (in the
//! manner of quinn-proto's test `Pair`): no socket, no thread, a manual
//! clock. [`Net::pump`] carries each core's actions out: a `Dial` to a
//! node's listening address becomes `accepted` on that node and `dialled`
//! on the dialling one, a `SendFrame` becomes `handshake_frame` on the
//! other end of the link, a `Close` ends the link (the other end sees
//! `conn_failed`, unless closes are held), api commands go to a real
//! [`ApiBook`] per node. Every action is recorded per node as a [`Rec`]
//! for the test to assert on; verdicts, api queries and the time are the
//! test's to give.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mydht::command::{ApiAction, ConnRef, DialId, MainLoopCommand};
use mydht::core::{Action, ServiceKind};
use mydht::frame::WireMessage;
use mydht::service::api::ApiBook;
use mydht::service::{
    ApiCommand, ApiResult, GlobalCommand, PeerMgmtCommand, PeerStatus, QueryId, ReplySlot,
};
use mydht::{
    ClosestConnected, ConnectedRoute, Identity, LocalPeer, NodeConstants, NodeCore, PeerId,
    PeerVerdict,
};
use mydht_base::{Error, ErrorKind, ErrorLevel, Peer};
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::touch_conf;
use mydht_tcp::TcpTransport;

// The whole node on one thread (`RcRef` peers); its transport only gives
// the `Address` type (a `SocketAddr`): no socket is ever bound.
touch_conf!(Conf, restartable, TcpTransport, loopback());

/// The core of the tests.
pub type Core = NodeCore<Conf>;

/// A fake address: 127.0.0.1:`port` (never bound).
pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A reply of the api, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Res {
    /// `ApiResult::Peer`, by id.
    Peer(Option<PeerId>),
    /// `ApiResult::Peers`, by id.
    Peers(Vec<PeerId>),
    /// Anything else.
    Other,
}

/// One action of a core, as recorded (what a test asserts on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rec {
    Dial {
        dial: DialId,
        address: SocketAddr,
    },
    SendFrame {
        conn: usize,
    },
    PrepareShadows {
        conn: usize,
    },
    Open {
        conn: ConnRef,
        peer: PeerId,
        /// Application messages among what waited for it.
        app_msgs: usize,
    },
    Write {
        conn: usize,
        msgs: usize,
    },
    /// `Finish`: a send-once connection's write service is to end it.
    Finish(usize),
    /// `Refuse`: the refused peer is told.
    Refuse(usize),
    /// `Close`, with the error's kind and message.
    Close {
        conn: usize,
        error: Option<(ErrorKind, String)>,
    },
    Register {
        qid: QueryId,
        deadline: Instant,
    },
    Reply {
        qid: QueryId,
        result: Res,
    },
    Fail {
        qid: QueryId,
        kind: ErrorKind,
    },
    Expire(Instant),
    /// `Global(PeerStatus(peer, Online | Offline))`.
    PeerStatus {
        peer: PeerId,
        online: bool,
    },
    /// Another global command.
    Global,
    PeerStore,
    /// `PeerMgmt(Accept{conn, peer})`: a verdict is asked.
    Accept {
        conn: ConnRef,
        peer: PeerId,
    },
    PeerOnline(PeerId),
    PeerOffline(PeerId),
    CheckGlobal,
    Restart(ServiceKind),
    Stop,
}

/// One node of the net.
pub struct Node {
    pub core: Core,
    /// Where the net routes dials to it (not necessarily the address it
    /// announces).
    pub listen: SocketAddr,
    pub id: PeerId,
    /// Every action of its core, in order.
    pub log: Vec<Rec>,
    /// Its api service's book: every `Api` action is applied to it.
    pub book: ApiBook<Conf>,
    /// Connection keys in use (the lowest free one is given next, so a
    /// key is reused as a slab would).
    keys: BTreeSet<usize>,
    /// Its open connections (an `Open` not followed by a `Close`).
    pub open: BTreeMap<usize, ConnRef>,
    /// Connections whose peer's admission arrived before they opened here
    /// (a stream keeps it until the read service starts).
    admitted_early: BTreeSet<usize>,
    /// The same for a refusal.
    refused_early: BTreeSet<usize>,
    next_qid: QueryId,
}

impl Node {
    /// The records since the last call.
    pub fn take_log(&mut self) -> Vec<Rec> {
        std::mem::take(&mut self.log)
    }

    fn alloc_key(&mut self) -> usize {
        let key = (0..).find(|k| !self.keys.contains(k)).expect("a free key");
        self.keys.insert(key);
        key
    }
}

/// A connection between two nodes: `(node, key)` at each end, the
/// dialling end first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub dialler: (usize, usize),
    pub acceptor: (usize, usize),
    alive: bool,
}

enum Event {
    /// A handshake frame for the end `to` of link `link`.
    Frame {
        link: usize,
        to: (usize, usize),
        frame: Vec<u8>,
    },
    /// The other end closed link `link`: end `to` reads its end.
    Closed { link: usize, to: (usize, usize) },
    /// The other end's first frame once open: it admitted end `to`'s node.
    Admitted { link: usize, to: (usize, usize) },
    /// The other end refused end `to`'s node.
    Refused { link: usize, to: (usize, usize) },
}

/// The simulated network.
pub struct Net {
    pub base: Instant,
    pub now: Instant,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    /// The last link of each end `(node, key)`: `link_of` without a pass
    /// over every link (scale tests hold thousands).
    ends: HashMap<(usize, usize), usize>,
    inflight: VecDeque<Event>,
    /// While set, a closed link's other end hears nothing until
    /// [`release_closes`](Self::release_closes).
    pub hold_closes: bool,
    held: Vec<Event>,
    /// Frames that reached a connection no longer handshaking.
    pub dropped_frames: usize,
}

impl Default for Net {
    fn default() -> Self {
        Self::new()
    }
}

impl Net {
    pub fn new() -> Self {
        let base = Instant::now();
        Net {
            base,
            now: base,
            nodes: Vec::new(),
            links: Vec::new(),
            ends: HashMap::new(),
            inflight: VecDeque::new(),
            hold_closes: false,
            held: Vec::new(),
            dropped_frames: 0,
        }
    }

    /// `base + ms` milliseconds.
    pub fn at(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms)
    }

    /// A node listening on `listen` that announces `announced`, with its
    /// peer manager's fixed verdict (`None`: asked per peer).
    pub fn add_node(
        &mut self,
        listen: SocketAddr,
        announced: SocketAddr,
        fixed_verdict: Option<PeerVerdict>,
        constants: NodeConstants,
    ) -> usize {
        // Seeded: the same peer ids (and so the same tie-breaks) every run;
        // past 254 nodes (a scale test), the index in the first bytes.
        let index = self.nodes.len();
        let seed = match u8::try_from(index + 1) {
            Ok(k) if k < u8::MAX => [k; 32],
            _ => {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&(index as u64).to_le_bytes());
                seed[31] = u8::MAX;
                seed
            }
        };
        let identity = Identity::from_seed(seed).expect("identity");
        let me = Arc::new(LocalPeer::new(identity, announced.to_string()).expect("local peer"));
        let id = *me.info().get_id();
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let route = ConnectedRoute::new(Box::<ClosestConnected>::default());
        let seed = self.nodes.len() as u64 + 1;
        let core = NodeCore::new(
            me,
            constants,
            mydht::Bincode,
            logger,
            fixed_verdict,
            route,
            self.now,
            seed,
        );
        self.nodes.push(Node {
            core,
            listen,
            id,
            log: Vec::new(),
            book: ApiBook::new(64),
            keys: BTreeSet::new(),
            open: BTreeMap::new(),
            admitted_early: BTreeSet::new(),
            refused_early: BTreeSet::new(),
            next_qid: 1,
        });
        self.nodes.len() - 1
    }

    /// A node that announces its own listening address.
    pub fn node(&mut self, port: u16, fixed_verdict: Option<PeerVerdict>) -> usize {
        self.add_node(
            addr(port),
            addr(port),
            fixed_verdict,
            NodeConstants::default(),
        )
    }

    /// An api query of `node` (one reply expected), asked now: its slot.
    pub fn api(
        &mut self,
        node: usize,
        timeout: Duration,
        action: ApiAction<Conf>,
    ) -> (QueryId, ReplySlot<ApiResult<Conf>>) {
        let n = &mut self.nodes[node];
        let qid = n.next_qid;
        n.next_qid += 1;
        let slot = ReplySlot::new(1);
        let cmd = MainLoopCommand::Api {
            qid,
            slot: slot.clone(),
            timeout,
            action,
        };
        n.core.command(cmd, self.now);
        (qid, slot)
    }

    /// `Connect(address)` from `node`, with a 10 s timeout.
    pub fn connect(
        &mut self,
        node: usize,
        address: SocketAddr,
    ) -> (QueryId, ReplySlot<ApiResult<Conf>>) {
        self.api(node, Duration::from_secs(10), ApiAction::Connect(address))
    }

    /// Peer management's verdict on `conn`, given to `node` now.
    pub fn verdict(&mut self, node: usize, conn: ConnRef, verdict: PeerVerdict) {
        let now = self.now;
        self.nodes[node]
            .core
            .command(MainLoopCommand::Verdict { conn, verdict }, now);
    }

    /// An inbound connection on `node` with nobody at the other end (its
    /// peer never sends a byte): its key and reference.
    pub fn accept_silent(&mut self, node: usize) -> (usize, Option<ConnRef>) {
        let now = self.now;
        let n = &mut self.nodes[node];
        let key = n.alloc_key();
        let cref = n.core.accepted(key, now);
        (key, cref)
    }

    /// Sets the clock to `base + ms` and gives `node` the time (whatever
    /// was due is done), then pumps.
    pub fn tick(&mut self, node: usize, ms: u64) {
        self.now = self.at(ms);
        let now = self.now;
        self.nodes[node].core.handle_timeout(now);
        self.pump();
    }

    /// The link with end `(node, key)`, alive.
    pub fn link_of(&self, node: usize, key: usize) -> Option<usize> {
        let link = *self.ends.get(&(node, key))?;
        self.links[link].alive.then_some(link)
    }

    /// Carries out actions and delivers events until there are none.
    pub fn pump(&mut self) {
        loop {
            let mut busy = false;
            for i in 0..self.nodes.len() {
                while let Some(action) = self.nodes[i].core.poll_action() {
                    busy = true;
                    self.carry_out(i, action);
                }
            }
            if let Some(ev) = self.inflight.pop_front() {
                busy = true;
                self.deliver(ev);
            }
            if !busy {
                break;
            }
        }
        for n in &mut self.nodes {
            n.core.end_turn();
        }
        // `end_turn` may have written: those too.
        for i in 0..self.nodes.len() {
            while let Some(action) = self.nodes[i].core.poll_action() {
                self.carry_out(i, action);
            }
        }
        if !self.inflight.is_empty() {
            self.pump();
        }
    }

    /// The held closes reach their other ends (then pumps).
    pub fn release_closes(&mut self) {
        self.inflight.extend(self.held.drain(..));
        self.pump();
    }

    fn deliver(&mut self, ev: Event) {
        let now = self.now;
        match ev {
            Event::Frame { link, to, frame } => {
                if !self.links[link].alive {
                    return;
                }
                let core = &mut self.nodes[to.0].core;
                if core.is_handshaking(to.1) {
                    core.handshake_frame(to.1, &frame, now);
                } else {
                    self.dropped_frames += 1;
                }
            }
            Event::Admitted { link, to } => {
                if !self.links[link].alive {
                    return;
                }
                let node = &mut self.nodes[to.0];
                match node.open.get(&to.1) {
                    Some(&cref) => node.core.command(MainLoopCommand::Admitted(cref), now),
                    None => {
                        node.admitted_early.insert(to.1);
                    }
                }
            }
            Event::Refused { link, to } => {
                if !self.links[link].alive {
                    return;
                }
                let node = &mut self.nodes[to.0];
                match node.open.get(&to.1) {
                    Some(&cref) => node.core.command(MainLoopCommand::Refused(cref), now),
                    None => {
                        node.refused_early.insert(to.1);
                    }
                }
            }
            Event::Closed { link, to } => {
                let l = &mut self.links[link];
                if !l.alive {
                    return;
                }
                l.alive = false;
                self.nodes[to.0].keys.remove(&to.1);
                self.nodes[to.0].admitted_early.remove(&to.1);
                self.nodes[to.0].refused_early.remove(&to.1);
                self.nodes[to.0].core.conn_failed(to.1, None);
            }
        }
    }

    fn carry_out(&mut self, i: usize, action: Action<Conf>) {
        let now = self.now;
        let rec = match action {
            Action::Dial { dial, address } => {
                // A stopped node listens no more.
                let there = |n: &Node| n.listen == address && n.core.is_running();
                match self.nodes.iter().position(there) {
                    Some(j) => {
                        let kj = self.nodes[j].alloc_key();
                        let ki = self.nodes[i].alloc_key();
                        self.ends.insert((i, ki), self.links.len());
                        self.ends.insert((j, kj), self.links.len());
                        self.links.push(Link {
                            dialler: (i, ki),
                            acceptor: (j, kj),
                            alive: true,
                        });
                        let _ = self.nodes[j].core.accepted(kj, now);
                        self.nodes[i].core.dialled(dial, ki, now);
                    }
                    None => {
                        let e = Error::new(
                            ErrorKind::Io(std::io::ErrorKind::ConnectionRefused),
                            ErrorLevel::Ignore,
                            "nobody there",
                        );
                        self.nodes[i].core.dial_failed(dial, e);
                    }
                }
                Rec::Dial { dial, address }
            }
            Action::SendFrame { conn, frame } => {
                if let Some(link) = self.link_of(i, conn) {
                    let l = self.links[link];
                    let to = if l.dialler == (i, conn) {
                        l.acceptor
                    } else {
                        l.dialler
                    };
                    self.inflight.push_back(Event::Frame { link, to, frame });
                }
                Rec::SendFrame { conn }
            }
            Action::PrepareShadows { conn, .. } => Rec::PrepareShadows { conn },
            Action::Open {
                conn,
                peer,
                pending,
                ..
            } => {
                self.nodes[i].open.insert(conn.key, conn);
                let app_msgs = pending
                    .iter()
                    .filter(|m| matches!(m, WireMessage::App(_)))
                    .count();
                // Its first frame tells the peer it is admitted (a send-once
                // connection admits nobody).
                let admits = matches!(pending.first(), Some(WireMessage::Admitted));
                if let Some(link) = self.link_of(i, conn.key).filter(|_| admits) {
                    let l = self.links[link];
                    let to = if l.dialler == (i, conn.key) {
                        l.acceptor
                    } else {
                        l.dialler
                    };
                    self.inflight.push_back(Event::Admitted { link, to });
                }
                if self.nodes[i].admitted_early.remove(&conn.key) {
                    self.nodes[i]
                        .core
                        .command(MainLoopCommand::Admitted(conn), now);
                }
                if self.nodes[i].refused_early.remove(&conn.key) {
                    self.nodes[i]
                        .core
                        .command(MainLoopCommand::Refused(conn), now);
                }
                Rec::Open {
                    conn,
                    peer: *peer.get_id(),
                    app_msgs,
                }
            }
            Action::Write { conn, msgs } => Rec::Write {
                conn,
                msgs: msgs.len(),
            },
            Action::Finish { conn } => Rec::Finish(conn),
            Action::Refuse { conn, .. } => {
                if let Some(link) = self.link_of(i, conn) {
                    let l = self.links[link];
                    let to = if l.dialler == (i, conn) {
                        l.acceptor
                    } else {
                        l.dialler
                    };
                    self.inflight.push_back(Event::Refused { link, to });
                }
                Rec::Refuse(conn)
            }
            Action::Close { conn, error } => {
                self.nodes[i].open.remove(&conn);
                self.nodes[i].admitted_early.remove(&conn);
                self.nodes[i].refused_early.remove(&conn);
                self.nodes[i].keys.remove(&conn);
                if let Some(link) = self.link_of(i, conn) {
                    let l = self.links[link];
                    let to = if l.dialler == (i, conn) {
                        l.acceptor
                    } else {
                        l.dialler
                    };
                    let ev = Event::Closed { link, to };
                    if self.hold_closes {
                        self.held.push(ev);
                    } else {
                        self.inflight.push_back(ev);
                    }
                }
                Rec::Close {
                    conn,
                    error: error.map(|e| (e.kind(), e.message().to_string())),
                }
            }
            Action::Api(cmd) => {
                let rec = match &cmd {
                    ApiCommand::Register { qid, deadline, .. } => Rec::Register {
                        qid: *qid,
                        deadline: *deadline,
                    },
                    ApiCommand::Reply(qid, r) => Rec::Reply {
                        qid: *qid,
                        result: res(r),
                    },
                    ApiCommand::Fail(qid, e) => Rec::Fail {
                        qid: *qid,
                        kind: e.kind(),
                    },
                    ApiCommand::Expire(t) => Rec::Expire(*t),
                };
                self.nodes[i].book.apply(cmd);
                rec
            }
            Action::Global(GlobalCommand::PeerStatus(p, s)) => Rec::PeerStatus {
                peer: *p.get_id(),
                online: matches!(s, PeerStatus::Online),
            },
            Action::Global(_) => Rec::Global,
            Action::PeerStore(_) => Rec::PeerStore,
            Action::PeerMgmt(PeerMgmtCommand::Accept { conn, peer }) => Rec::Accept {
                conn,
                peer: *peer.get_id(),
            },
            Action::PeerMgmt(PeerMgmtCommand::PeerOnline(p)) => Rec::PeerOnline(*p.get_id()),
            Action::PeerMgmt(PeerMgmtCommand::PeerOffline(p)) => Rec::PeerOffline(*p.get_id()),
            Action::CheckGlobal => Rec::CheckGlobal,
            Action::Restart(s) => Rec::Restart(s),
            Action::Stop => Rec::Stop,
        };
        self.nodes[i].log.push(rec);
    }
}

fn res(r: &ApiResult<Conf>) -> Res {
    match r {
        ApiResult::Peer(p) => Res::Peer(p.as_ref().map(|p| *p.get_id())),
        ApiResult::Peers(v) => Res::Peers(v.iter().map(|p| *p.get_id()).collect()),
        _ => Res::Other,
    }
}

/// The records of `log` that match `f`.
pub fn only<T>(log: &[Rec], f: impl Fn(&Rec) -> Option<T>) -> Vec<T> {
    log.iter().filter_map(f).collect()
}

/// The connections `log` closes, with their errors.
pub fn closes(log: &[Rec]) -> Vec<(usize, Option<(ErrorKind, String)>)> {
    only(log, |r| match r {
        Rec::Close { conn, error } => Some((*conn, error.clone())),
        _ => None,
    })
}

/// The connections `log` opens.
pub fn opens(log: &[Rec]) -> Vec<ConnRef> {
    only(log, |r| match r {
        Rec::Open { conn, .. } => Some(*conn),
        _ => None,
    })
}

/// The verdicts `log` asks for.
pub fn asks(log: &[Rec]) -> Vec<(ConnRef, PeerId)> {
    only(log, |r| match r {
        Rec::Accept { conn, peer } => Some((*conn, *peer)),
        _ => None,
    })
}

/// The dials of `log`.
pub fn dials(log: &[Rec]) -> Vec<SocketAddr> {
    only(log, |r| match r {
        Rec::Dial { address, .. } => Some(*address),
        _ => None,
    })
}

/// The api replies of `log` to `qid`.
pub fn replies(log: &[Rec], qid: QueryId) -> Vec<Res> {
    only(log, |r| match r {
        Rec::Reply { qid: q, result } if *q == qid => Some(result.clone()),
        _ => None,
    })
}

/// How many times `log` says `peer` came online (to peer management, and
/// to the global service).
pub fn onlines(log: &[Rec], peer: PeerId) -> (usize, usize) {
    let mgmt = log.iter().filter(|r| **r == Rec::PeerOnline(peer)).count();
    let global = log
        .iter()
        .filter(|r| **r == Rec::PeerStatus { peer, online: true })
        .count();
    (mgmt, global)
}

/// How many times `log` says `peer` went offline (peer management, global).
pub fn offlines(log: &[Rec], peer: PeerId) -> (usize, usize) {
    let mgmt = log.iter().filter(|r| **r == Rec::PeerOffline(peer)).count();
    let global = log
        .iter()
        .filter(|r| {
            **r == Rec::PeerStatus {
                peer,
                online: false,
            }
        })
        .count();
    (mgmt, global)
}
