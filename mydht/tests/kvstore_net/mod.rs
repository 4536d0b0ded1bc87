//! An in-memory network of query engines, driven by hand (quinn-proto's
//! `Pair` style): messages go through a queue, round-trip through JSON as
//! on the wire, and time only moves when a test says so.

#![allow(dead_code)] // each test file uses its own part of the harness

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use mydht::service::kvstore::{
    KVStoreCommand, KVStoreLimits, KVStoreProtoMsg, KVStoreReply, MemoryStore, QueryEngine,
};
use mydht_base::{KVStore, KeyVal, Peer, Route};
use serde::{Deserialize, Serialize};

/// A test peer: its index in the network is its id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TPeer {
    pub id: usize,
    pub addr: String,
    pub key: [u8; 32],
}

impl Peer for TPeer {
    type Id = usize;
    type Address = String;
    fn get_id(&self) -> &usize {
        &self.id
    }
    fn get_address(&self) -> &String {
        &self.addr
    }
    fn tunnel_public_key(&self) -> &[u8; 32] {
        &self.key
    }
}

pub fn peer(id: usize) -> TPeer {
    TPeer {
        id,
        addr: format!("mem:{id}"),
        key: [id as u8; 32],
    }
}

/// A test value: `key` and a payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TVal {
    pub key: u32,
    pub data: String,
}

impl KeyVal for TVal {
    type Key = u32;
    fn get_key(&self) -> u32 {
        self.key
    }
}

pub fn val(key: u32, data: &str) -> TVal {
    TVal {
        key,
        data: data.to_string(),
    }
}

/// A deterministic route: the node's neighbours, in the order given, minus
/// the excluded ones. Counts how often it was asked.
pub struct GraphRoute {
    pub neighbours: Vec<TPeer>,
    pub asked: usize,
}

impl<K> Route<TPeer, K> for GraphRoute {
    fn route(&mut self, _key: &K, nb: usize, exclude: &[usize]) -> Vec<TPeer> {
        self.asked += 1;
        self.neighbours
            .iter()
            .filter(|p| !exclude.contains(&p.id))
            .take(nb)
            .cloned()
            .collect()
    }
}

pub type Engine = QueryEngine<TVal, TPeer, MemoryStore<TVal>, GraphRoute>;
pub type Msg = KVStoreProtoMsg<TVal, TPeer>;
pub type Reply = KVStoreReply<TVal, TPeer>;

/// What went over the wire, for assertions on the path of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Find,
    Store,
    Found(usize),
    Stored(u32),
}

pub fn kind(m: &Msg) -> Kind {
    match m {
        KVStoreProtoMsg::Find(..) | KVStoreProtoMsg::FindNear(..) => Kind::Find,
        KVStoreProtoMsg::Store(..) => Kind::Store,
        KVStoreProtoMsg::Found(_, v) => Kind::Found(v.len()),
        KVStoreProtoMsg::Stored(_, n) => Kind::Stored(*n),
    }
}

pub struct Net {
    pub nodes: Vec<Engine>,
    queue: VecDeque<(usize, usize, String)>,
    /// Every delivered message: (from, to, kind).
    pub log: Vec<(usize, usize, Kind)>,
    /// Api answers: (node, reply).
    pub api: Vec<(usize, Reply)>,
    /// Nodes whose incoming messages are dropped.
    pub dead: Vec<usize>,
    pub now: Instant,
}

impl Net {
    /// `adjacency[i]`: the neighbours node i routes to, in order.
    pub fn new(adjacency: &[Vec<usize>], limits: KVStoreLimits) -> Self {
        let nodes = adjacency
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let route = GraphRoute {
                    neighbours: n.iter().map(|&j| peer(j)).collect(),
                    asked: 0,
                };
                QueryEngine::new(peer(i), MemoryStore::new(64), route, limits, i as u64)
            })
            .collect();
        Net {
            nodes,
            queue: VecDeque::new(),
            log: Vec::new(),
            api: Vec::new(),
            dead: Vec::new(),
            now: Instant::now(),
        }
    }

    /// A line 0 - 1 - ... - (n-1).
    pub fn line(n: usize, limits: KVStoreLimits) -> Self {
        let adj: Vec<Vec<usize>> = (0..n)
            .map(|i| {
                let mut v = Vec::new();
                if i + 1 < n {
                    v.push(i + 1);
                }
                if i > 0 {
                    v.push(i - 1);
                }
                v
            })
            .collect();
        Net::new(&adj, limits)
    }

    pub fn put(&mut self, node: usize, v: TVal) {
        self.nodes[node].store_mut().put(v).unwrap();
    }

    /// Gives `cmd` to `node` and runs the network until no message is left.
    pub fn cmd(&mut self, node: usize, cmd: KVStoreCommand<TVal, TPeer>) {
        self.apply(node, cmd);
        self.run();
    }

    fn apply(&mut self, node: usize, cmd: KVStoreCommand<TVal, TPeer>) {
        let mut out = Vec::new();
        self.nodes[node].handle(cmd, self.now, &mut out);
        for r in out {
            match r {
                KVStoreReply::Forward(peers, msg) => {
                    for p in peers {
                        self.send(node, p.id, &msg);
                    }
                }
                KVStoreReply::Reply(p, msg) => self.send(node, p.id, &msg),
                other => self.api.push((node, other)),
            }
        }
    }

    fn send(&mut self, from: usize, to: usize, msg: &Msg) {
        // As on the wire: what arrives is what decodes.
        self.queue
            .push_back((from, to, serde_json::to_string(msg).unwrap()));
    }

    /// Delivers queued messages until none is left (bounded: a query that
    /// never ends fails the test instead of hanging it).
    pub fn run(&mut self) {
        let mut steps = 0;
        while let Some((from, to, wire)) = self.queue.pop_front() {
            steps += 1;
            assert!(steps < 100_000, "the network does not settle");
            let msg: Msg = serde_json::from_str(&wire).unwrap();
            self.log.push((from, to, kind(&msg)));
            if self.dead.contains(&to) {
                continue;
            }
            self.apply(to, KVStoreCommand::Received(peer(from), msg));
        }
    }

    /// Moves time on by `d`, ticking the nodes at each deadline on the way,
    /// earliest first, as their timers would fire.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = self.nodes.iter().filter_map(|n| n.next_deadline()).min();
            match next {
                Some(t) if t <= end => self.now = self.now.max(t),
                _ => break,
            }
            self.tick_all();
        }
        self.now = end;
        self.tick_all();
    }

    fn tick_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.apply(i, KVStoreCommand::Tick(self.now));
        }
        self.run();
    }

    /// The api answers of `node`, taken.
    pub fn take_api(&mut self, node: usize) -> Vec<Reply> {
        let (mine, rest) = std::mem::take(&mut self.api)
            .into_iter()
            .partition(|(n, _)| *n == node);
        self.api = rest;
        mine.into_iter().map(|(_, r)| r).collect()
    }

    /// Messages of a kind, as (from, to).
    pub fn sent(&self, pred: impl Fn(Kind) -> bool) -> Vec<(usize, usize)> {
        self.log
            .iter()
            .filter(|(_, _, k)| pred(*k))
            .map(|(f, t, _)| (*f, *t))
            .collect()
    }
}

pub fn is_found(k: Kind) -> bool {
    matches!(k, Kind::Found(_))
}

pub fn is_find(k: Kind) -> bool {
    k == Kind::Find
}
