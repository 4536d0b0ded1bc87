//! The complete three-message authentication in memory, both sides, against
//! its physical limit: the public-key operations it cannot avoid (per side
//! one X25519 key generation, one X25519 derivation, one Ed25519 signature,
//! one Ed25519 verification), done directly with the libraries the
//! handshake uses (openssl for X25519, ed25519-dalek for Ed25519) in the
//! same run.
//! Prints this run's medians, their ratio, and the median of paired
//! per-sample ratios, at the end.
//!
//! Then the one-message known-key handshake against the three-message one
//! in the same run: both sides with the peers known (their bindings
//! checked and static-static secrets made: every connection after the
//! first), both sides on first contact (fresh memories), and each side
//! alone (the dialler making its flight, the acceptor checking one).
//!
//! Last, between live nodes on loopback TCP (`restartable!`): the round
//! trip of a ping sent on a send-once connection and answered on another
//! (two dials, as a tunnel with no relay), with `known_key` on (every dial
//! after the first known-key) against off (every dial signed), paired.
//! And first contacts (`handshake_first`): a fresh node dials one it never
//! met, given its `PeerInfo` (known-key), against dialling its address
//! (signed), paired: a send-once ping and pong, and a pooled connect.
//!
//! `cargo bench -p mydht --bench handshake -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use mydht::auth::{wall_clock_ms, CipherSuite};
use mydht::{ChallengeCache, Handshake, Identity, LocalPeer};
use openssl::pkey::{Id, PKey};
use openssl::pkey_ctx::PkeyCtx;

mod handshake_first;
/// This run's medians and ratios (see the module's docs).
#[path = "../../mydht-base/benches/support/ratio.rs"]
mod ratio;

const GROUP: &str = "handshake";
const SAMPLES: usize = 30;
const MEASURED: &str = "handshake/three_messages";
const BASELINE: &str = "handshake/public_key_ops_sum";
const KNOWN: &str = "handshake/known_key";
const KNOWN_COLD: &str = "handshake/known_key_first_contact";
const KNOWN_DIALLER: &str = "handshake/known_key_dialler";
const KNOWN_ACCEPTOR: &str = "handshake/known_key_acceptor";
const LIVE_KNOWN: &str = "handshake/live_round_trip_known_key";
const LIVE_SIGNED: &str = "handshake/live_round_trip_signed";
const FIRST_PING_KNOWN: &str = "handshake/first_contact_ping_known_key";
const FIRST_PING_SIGNED: &str = "handshake/first_contact_ping_signed";
const FIRST_CONNECT_KNOWN: &str = "handshake/first_contact_connect_known_key";
const FIRST_CONNECT_SIGNED: &str = "handshake/first_contact_connect_signed";

/// A memory whose flight window is short (2 ms): the bench's flights
/// expire as fast as they come, the memory stays small.
fn short_memory() -> ChallengeCache {
    ChallengeCache::new(1 << 20, Duration::from_millis(4))
}

/// Alice dials Bob known-key, Bob accepts: one connection's handshake.
fn known_key(
    (alice, bob): (&Arc<LocalPeer>, &Arc<LocalPeer>),
    (at_alice, at_bob): (&mut ChallengeCache, &mut ChallengeCache),
    timeout: Duration,
) {
    at_alice
        .verify_peer(bob.info(), bob.identity().key_binding())
        .unwrap();
    let wall = wall_clock_ms();
    let (flight, a) =
        Handshake::dial_known(alice, bob.info(), at_alice, CipherSuite::default(), wall).unwrap();
    let now = Instant::now();
    let b = Handshake::respond(bob.clone(), timeout, now)
        .on_known(&flight, at_bob, now, wall)
        .unwrap();
    black_box((a, b));
}

fn known(c: &mut Criterion, run: &ratio::Run) {
    let peer = |a: &str| Arc::new(LocalPeer::new(Identity::generate().unwrap(), a.into()).unwrap());
    let (alice, bob) = (peer("alice:1"), peer("bob:2"));
    let timeout = Duration::from_secs(10);
    let mut seen = ChallengeCache::new(1024, timeout);
    let mut three_messages = || {
        let now = Instant::now();
        let (mut i, ping) = Handshake::initiate(alice.clone(), None, timeout, now).unwrap();
        let mut r = Handshake::respond(bob.clone(), timeout, now);
        let pong = r.on_ping(&ping, &mut seen, now).unwrap();
        let (fin, at_alice) = i.on_pong(&pong, now).unwrap();
        let at_bob = r.on_final(&fin, now).unwrap();
        black_box((at_alice, at_bob));
    };
    let (mut mem_a, mut mem_b) = (short_memory(), short_memory());
    let mut warm = || known_key((&alice, &bob), (&mut mem_a, &mut mem_b), timeout);
    let cold = || {
        let (mut a, mut b) = (short_memory(), short_memory());
        known_key((&alice, &bob), (&mut a, &mut b), timeout)
    };
    let mut group = c.benchmark_group(GROUP);
    group.sample_size(run.samples());
    group.bench_function("known_key", |b| {
        run.paired(b, (KNOWN, MEASURED), &mut warm, &mut three_messages)
    });
    group.bench_function("known_key_first_contact", |b| {
        run.paired(b, (KNOWN_COLD, MEASURED), cold, &mut three_messages)
    });
    let mut mem_a = short_memory();
    mem_a
        .verify_peer(bob.info(), bob.identity().key_binding())
        .unwrap();
    group.bench_function("known_key_dialler", |b| {
        run.iter(b, KNOWN_DIALLER, || {
            Handshake::dial_known(&alice, bob.info(), &mut mem_a, CipherSuite::default(), 0)
                .unwrap()
        })
    });
    let mut mem_b = short_memory();
    group.bench_function("known_key_acceptor", |b| {
        run.custom(b, KNOWN_ACCEPTOR, |iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let wall = wall_clock_ms();
                let (flight, _) = Handshake::dial_known(
                    &alice,
                    bob.info(),
                    &mut mem_a,
                    CipherSuite::default(),
                    wall,
                )
                .unwrap();
                let start = Instant::now();
                let mut r = Handshake::respond(bob.clone(), timeout, start);
                black_box(r.on_known(&flight, &mut mem_b, start, wall).unwrap());
                spent += start.elapsed();
            }
            spent
        })
    });
    group.finish();
}

fn handshake(c: &mut Criterion, run: &ratio::Run) {
    let peer = |a: &str| Arc::new(LocalPeer::new(Identity::generate().unwrap(), a.into()).unwrap());
    let (alice, bob) = (peer("alice:1"), peer("bob:2"));
    let timeout = Duration::from_secs(10);
    let mut seen = ChallengeCache::new(1024, timeout);

    // The baseline's long-term keys, as the handshake's.
    let (id_a, id_b) = (
        SigningKey::from_bytes(&[1; 32]),
        SigningKey::from_bytes(&[2; 32]),
    );
    let (pub_a, pub_b) = (
        id_a.verifying_key().to_bytes(),
        id_b.verifying_key().to_bytes(),
    );
    let transcript = [7u8; 64];

    let mut one_handshake = || {
        let now = Instant::now();
        let (mut i, ping) = Handshake::initiate(alice.clone(), None, timeout, now).unwrap();
        let mut r = Handshake::respond(bob.clone(), timeout, now);
        let pong = r.on_ping(&ping, &mut seen, now).unwrap();
        let (fin, at_alice) = i.on_pong(&pong, now).unwrap();
        let at_bob = r.on_final(&fin, now).unwrap();
        black_box((at_alice, at_bob));
    };
    let public_key_ops = || {
        let (ea, eb) = (
            PKey::generate_x25519().unwrap(),
            PKey::generate_x25519().unwrap(),
        );
        let mut secrets = [[0u8; 32]; 2];
        for (mine, theirs, out) in [(&ea, &eb, 0), (&eb, &ea, 1)] {
            let peer =
                PKey::public_key_from_raw_bytes(&theirs.raw_public_key().unwrap(), Id::X25519)
                    .unwrap();
            let mut ctx = PkeyCtx::new(mine).unwrap();
            ctx.derive_init().unwrap();
            ctx.derive_set_peer(&peer).unwrap();
            ctx.derive(Some(&mut secrets[out])).unwrap();
        }
        let sigs = [id_b.sign(&transcript), id_a.sign(&transcript)];
        // A peer's key arrives as bytes: decoded for each verification.
        for (key, sig) in [(&pub_b, &sigs[0]), (&pub_a, &sigs[1])] {
            let key = VerifyingKey::from_bytes(key).unwrap();
            assert!(key.verify_strict(&transcript, sig).is_ok());
        }
        black_box((secrets, sigs));
    };

    let mut group = c.benchmark_group(GROUP);
    group.sample_size(run.samples());
    group.bench_function("three_messages", |b| {
        run.paired(b, (MEASURED, BASELINE), &mut one_handshake, public_key_ops)
    });
    group.bench_function("public_key_ops_sum", |b| {
        run.iter(b, BASELINE, public_key_ops)
    });
    group.finish();
}

/// Two live nodes pinging each other over send-once connections.
mod live {
    use std::collections::VecDeque;
    use std::net::SocketAddr;

    use mydht::service::PeersView;
    use mydht::{
        GlobalCommand, LocalCommand, MyDHTConf, NodeConstants, NodeHandle, PeerInfo, QueryId, Reply,
    };
    use mydht_base::{Peer, Result, Service, SpawnerYield};
    use mydht_basetest::loopback_conf_items;
    use serde::{Deserialize, Serialize};

    /// Between the nodes: a ping names the address to answer.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub enum Msg {
        Ping(SocketAddr),
        Pong,
    }

    /// A node; `known_key` as the constant says.
    pub struct Pinger(pub bool);

    /// Holds the pings waiting for their pong.
    pub struct Global {
        me: SocketAddr,
        waiting: VecDeque<QueryId>,
    }

    impl Service for Global {
        type CommandIn = GlobalCommand<Pinger>;
        type CommandOut = Reply<Pinger>;
        fn call<Y: SpawnerYield>(
            &mut self,
            cmd: GlobalCommand<Pinger>,
            _: &mut Y,
        ) -> Result<Reply<Pinger>> {
            Ok(match cmd {
                GlobalCommand::Api(qid, to) => {
                    self.waiting.push_back(qid);
                    Reply::SendOnce(to, Msg::Ping(self.me))
                }
                GlobalCommand::Distant(_, Msg::Ping(from)) => Reply::SendOnce(from, Msg::Pong),
                GlobalCommand::Distant(_, Msg::Pong) => match self.waiting.pop_front() {
                    Some(qid) => Reply::Api(qid, ()),
                    None => Reply::None,
                },
                _ => Reply::None,
            })
        }
    }

    pub struct Local;

    impl Service for Local {
        type CommandIn = LocalCommand<Pinger>;
        type CommandOut = Reply<Pinger>;
        fn call<Y: SpawnerYield>(
            &mut self,
            cmd: LocalCommand<Pinger>,
            _: &mut Y,
        ) -> Result<Reply<Pinger>> {
            Ok(Reply::Global(cmd.from, cmd.msg))
        }
    }

    impl MyDHTConf for Pinger {
        loopback_conf_items!();
        type ProtoMsg = Msg;
        type GlobalCmd = SocketAddr;
        type ApiReply = ();
        type GlobalService = Global;
        type LocalService = Local;
        mydht::restartable!();

        fn constants(&self) -> NodeConstants {
            NodeConstants {
                known_key: self.0,
                ..NodeConstants::default()
            }
        }
        fn init_global(&mut self, me: &PeerInfo, _: &PeersView) -> Result<Global> {
            Ok(Global {
                me: me.get_address().parse().expect("a socket address"),
                waiting: VecDeque::new(),
            })
        }
        fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<Local> {
            Ok(Local)
        }
    }

    /// Two nodes, `known_key` on or off, and the address of the second.
    pub fn pair(known_key: bool) -> (NodeHandle<Pinger>, NodeHandle<Pinger>, SocketAddr) {
        let a = mydht::start_loop(Pinger(known_key)).expect("node");
        let b = mydht::start_loop(Pinger(known_key)).expect("node");
        let to = b.local_peer().get_address().parse().expect("address");
        (a, b, to)
    }

    /// One ping and its pong.
    pub fn round_trip(a: &NodeHandle<Pinger>, to: SocketAddr) {
        let timeout = std::time::Duration::from_secs(10);
        a.query(to, 1, timeout).expect("pong");
    }
}

fn live_round_trips(c: &mut Criterion, run: &ratio::Run) {
    let (known_a, known_b, to_known) = live::pair(true);
    let (signed_a, signed_b, to_signed) = live::pair(false);
    // The first round trip of each pair runs the signed handshakes (and
    // teaches the known-key pair each other's keys).
    live::round_trip(&known_a, to_known);
    live::round_trip(&signed_a, to_signed);
    let mut group = c.benchmark_group(GROUP);
    group.sample_size(run.samples());
    group.bench_function("live_round_trip_known_key", |b| {
        run.paired(
            b,
            (LIVE_KNOWN, LIVE_SIGNED),
            || live::round_trip(&known_a, to_known),
            || live::round_trip(&signed_a, to_signed),
        )
    });
    group.bench_function("live_round_trip_signed", |b| {
        run.iter(b, LIVE_SIGNED, || live::round_trip(&signed_a, to_signed))
    });
    group.finish();
    for node in [known_a, known_b, signed_a, signed_b] {
        node.stop().expect("stop");
    }
}

fn first_contacts(c: &mut Criterion, run: &ratio::Run) {
    let known = handshake_first::Acceptor::start(true);
    let signed = handshake_first::Acceptor::start(false);
    let mut group = c.benchmark_group(GROUP);
    group.sample_size(run.samples());
    group.bench_function("first_contact_ping_known_key", |b| {
        run.paired_custom(
            b,
            (FIRST_PING_KNOWN, FIRST_PING_SIGNED),
            |n| known.ping_known(n),
            |n| signed.ping_signed(n),
        )
    });
    group.bench_function("first_contact_connect_known_key", |b| {
        run.paired_custom(
            b,
            (FIRST_CONNECT_KNOWN, FIRST_CONNECT_SIGNED),
            |n| known.connect_known(n),
            |n| signed.connect_signed(n),
        )
    });
    // The baselines alone, for their medians.
    group.bench_function("first_contact_ping_signed", |b| {
        run.custom(b, FIRST_PING_SIGNED, |n| signed.ping_signed(n))
    });
    group.bench_function("first_contact_connect_signed", |b| {
        run.custom(b, FIRST_CONNECT_SIGNED, |n| signed.connect_signed(n))
    });
    group.finish();
    known.stop();
    signed.stop();
}

fn main() {
    let run = ratio::Run::new(SAMPLES);
    let mut c = Criterion::default().configure_from_args();
    handshake(&mut c, &run);
    known(&mut c, &run);
    live_round_trips(&mut c, &run);
    first_contacts(&mut c, &run);
    c.final_summary();
    run.compare(
        "three-message handshake vs its public-key operations",
        MEASURED,
        BASELINE,
    );
    run.compare(
        "known-key handshake (peers known) vs three-message handshake",
        KNOWN,
        MEASURED,
    );
    run.compare(
        "known-key handshake (first contact) vs three-message handshake",
        KNOWN_COLD,
        MEASURED,
    );
    run.compare(
        "live send-once ping + pong (2 dials): known-key vs signed",
        LIVE_KNOWN,
        LIVE_SIGNED,
    );
    run.compare(
        "live first contact, send-once ping + pong (2 dials): PeerInfo known-key vs address signed",
        FIRST_PING_KNOWN,
        FIRST_PING_SIGNED,
    );
    run.compare(
        "live first contact, pooled connect until online: PeerInfo known-key vs address signed",
        FIRST_CONNECT_KNOWN,
        FIRST_CONNECT_SIGNED,
    );
    run.summary("handshake, times per handshake (both sides)");
}
