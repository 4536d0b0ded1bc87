//! The query engine: the cost of one proxied hop (a `Find` forwarded, then
//! its `Found` relayed) beside the bincode encode + decode of the same two
//! messages, which the node pays per message anyway (the baseline, same
//! group, same run, and alternately with it inside each sample). This
//! run's medians, their ratio and the median of the paired per-sample
//! ratios are printed at the end (one table).
//!
//! `cargo bench -p mydht --bench kvstore -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;
use mydht::service::kvstore::{
    KVStoreCommand, KVStoreLimits, KVStoreProtoMsg, MemoryStore, QueryEngine, QueryMode, QueryMsg,
};
use mydht::{PeerId, PeerInfo};
use mydht_base::{Peer, Route};

struct Next(PeerInfo);
impl Route<PeerInfo, PeerId> for Next {
    fn route(&mut self, _: &PeerId, _: usize, exclude: &[PeerId]) -> Vec<PeerInfo> {
        if exclude.contains(self.0.get_id()) {
            Vec::new()
        } else {
            vec![self.0.clone()]
        }
    }
}

fn peer(i: u8) -> PeerInfo {
    PeerInfo::new([i; 32], format!("10.0.0.{i}:4000"), [i; 32]).unwrap()
}

type Msg = KVStoreProtoMsg<PeerInfo, PeerInfo>;

fn find(qid: u64, key: PeerId) -> Msg {
    let q = QueryMsg {
        qid,
        origin: None,
        mode: QueryMode::AProxy,
        hops: 3,
        forward: 2,
        nb_result: 1,
        timeout_ms: 10_000,
    };
    KVStoreProtoMsg::Find(q, key)
}

fn hop(c: &mut Criterion, run: &ratio::Run) {
    let (prev, me, next) = (peer(1), peer(2), peer(3));
    let target = peer(9);
    let key = *target.get_id();
    let mut g = c.benchmark_group("kvstore_hop");
    g.sample_size(run.samples());

    let cfg = bincode::config::standard();
    let (f, r) = (find(1, key), Msg::Found(1, vec![target.clone()]));
    let baseline = || {
        let bf = bincode::serde::encode_to_vec(black_box(&f), cfg).unwrap();
        let br = bincode::serde::encode_to_vec(black_box(&r), cfg).unwrap();
        let (f2, _): (Msg, usize) = bincode::serde::decode_from_slice(&bf, cfg).unwrap();
        let (r2, _): (Msg, usize) = bincode::serde::decode_from_slice(&br, cfg).unwrap();
        black_box((f2, r2));
    };
    g.bench_function("baseline_bincode_find_and_found", |b| {
        run.iter(b, BASELINE, baseline)
    });

    let limits = KVStoreLimits::default();
    let mut e = QueryEngine::new(me, MemoryStore::new(16), Next(next.clone()), limits, 0);
    let now = Instant::now();
    let mut qid = 0u64;
    let mut out = Vec::new();
    let mut hop = || {
        qid += 1;
        out.clear();
        e.handle(
            KVStoreCommand::Received(prev.clone(), find(qid, key)),
            now,
            &mut out,
        );
        let found = Msg::Found(qid, vec![target.clone()]);
        e.handle(KVStoreCommand::Received(next.clone(), found), now, &mut out);
        black_box(&out);
    };
    // Each hop paired with one baseline iteration.
    g.bench_function("engine_proxied_hop", |b| {
        run.paired(b, (MEASURED, BASELINE), &mut hop, baseline)
    });
    g.finish();
}

const BASELINE: &str = "kvstore_hop/baseline_bincode_find_and_found";
const MEASURED: &str = "kvstore_hop/engine_proxied_hop";

fn main() {
    let run = ratio::Run::new(30);
    let mut c = Criterion::default().configure_from_args();
    hop(&mut c, &run);
    c.final_summary();
    run.compare(
        "one proxied hop vs bincode encode + decode of its two messages",
        MEASURED,
        BASELINE,
    );
    run.summary("kvstore, times per hop");
}

/// This run's medians and ratios (see the module's docs).
#[path = "../../mydht-base/benches/support/ratio.rs"]
mod ratio;
