//! `NodeHandle::connect_to` between live nodes over TCP: a node handed a
//! peer's `PeerInfo` (its key binding in it) connects to it known-key at
//! first contact and gets the peer; a `PeerInfo` naming one peer at another
//! node's address fails the call with `AuthError::KnownKeyRefused` (signed,
//! without a binding: `AuthError::UnexpectedPeer`). Under `restartable!`
//! and `threaded!`.

mod log_capture;

use log_capture::Captured;
use mydht::service::PeersView;
use mydht::{
    AuthError, GlobalCommand, LocalCommand, MyDHTConf, NodeError, NodeHandle, PeerInfo, Reply,
};
use mydht_base::{Peer, Result, Service, SpawnerYield};
use mydht_basetest::harness::nodes::{stop_all, TIMEOUT};
use mydht_basetest::loopback_conf_items;
use serde::{Deserialize, Serialize};

/// The message between nodes (none is sent: the calls are the node
/// handle's).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Note(String);

macro_rules! connect_to_conf {
    ($m:ident, $profile:ident) => {
        mod $m {
            use super::*;

            /// A node with no application behaviour, its logs captured.
            pub struct Conf(pub Captured);

            pub struct Global;

            impl Service for Global {
                type CommandIn = GlobalCommand<Conf>;
                type CommandOut = Reply<Conf>;
                fn call<Y: SpawnerYield>(
                    &mut self,
                    _: GlobalCommand<Conf>,
                    _: &mut Y,
                ) -> Result<Reply<Conf>> {
                    Ok(Reply::None)
                }
            }

            pub struct Local;

            impl Service for Local {
                type CommandIn = LocalCommand<Conf>;
                type CommandOut = Reply<Conf>;
                fn call<Y: SpawnerYield>(
                    &mut self,
                    _: LocalCommand<Conf>,
                    _: &mut Y,
                ) -> Result<Reply<Conf>> {
                    Ok(Reply::None)
                }
            }

            impl MyDHTConf for Conf {
                loopback_conf_items!();
                type ProtoMsg = Note;
                type GlobalCmd = ();
                type ApiReply = ();
                type GlobalService = Global;
                type LocalService = Local;
                mydht::$profile!();

                fn logger(&self) -> slog::Logger {
                    self.0.logger()
                }
                fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<Global> {
                    Ok(Global)
                }
                fn init_local(
                    &mut self,
                    _: &PeerInfo,
                    _: &PeerInfo,
                    _: &PeersView,
                ) -> Result<Local> {
                    Ok(Local)
                }
            }

            #[test]
            fn a_peer_never_met_is_connected_known_key() {
                super::a_peer_never_met_is_connected_known_key(Conf);
            }

            #[test]
            fn a_peer_named_at_another_nodes_address_is_refused() {
                super::a_peer_named_at_another_nodes_address(Conf);
            }
        }
    };
}

connect_to_conf!(restart, restartable);
connect_to_conf!(threaded, threaded);

/// How a test makes a node's configuration.
type Mk<C> = fn(Captured) -> C;

/// A node, and its captured logs.
fn node<C: MyDHTConf>(mk: Mk<C>) -> (NodeHandle<C>, Captured) {
    let log = Captured::new();
    let node = mydht::start_loop(mk(log.clone())).expect("node");
    (node, log)
}

/// Known-key dials `log`'s node made (the core logs each flight it sends).
fn known_dials(log: &Captured) -> usize {
    log.lines()
        .iter()
        .filter(|l| l.contains("known-key dial;"))
        .count()
}

/// `a` is handed `b`'s `PeerInfo` (never met): `connect_to` answers with
/// `b`, reached by one known-key dial, and both are online at each other.
fn a_peer_never_met_is_connected_known_key<C: MyDHTConf>(mk: Mk<C>) {
    let ((a, log_a), (b, _)) = (node(mk), node(mk));
    let info_b = b.local_peer().clone();
    assert!(info_b.key_binding().is_some(), "a node's own info is bound");
    let got = a.connect_to(info_b.clone(), TIMEOUT).expect("connect_to");
    assert_eq!(got, info_b);
    assert_eq!(got.get_id(), info_b.get_id());
    assert_eq!(known_dials(&log_a), 1, "{:#?}", log_a.lines());
    assert_eq!(a.connected_peers(TIMEOUT).expect("peers"), vec![info_b]);
    // Asked again while online: the same peer, no new dial.
    let again = a.connect_to(got.clone(), TIMEOUT).expect("again");
    assert_eq!(again, got);
    assert_eq!(known_dials(&log_a), 1, "{:#?}", log_a.lines());
    assert!(!log_a
        .lines()
        .iter()
        .any(|l| l.contains("known-key dial refused")));
    stop_all([a, b]).expect("stop");
}

/// `b`'s identity and keys at `c`'s address: with `b`'s binding the call
/// fails with `AuthError::KnownKeyRefused` (one known-key flight, which `c`
/// refuses); without a binding the signed dial fails with
/// `AuthError::UnexpectedPeer`. Nobody goes online, `a` keeps no
/// connection.
fn a_peer_named_at_another_nodes_address<C: MyDHTConf>(mk: Mk<C>) {
    let ((a, log_a), (b, _), (c, _)) = (node(mk), node(mk), node(mk));
    let info_b = b.local_peer();
    let at_c = c.local_peer().get_address().clone();
    let unbound = PeerInfo::new(*info_b.identity_key(), at_c, *info_b.tunnel_public_key()).unwrap();
    let bound = unbound
        .clone()
        .with_binding(*info_b.key_binding().expect("bound"));
    // Signed first: the binding, once checked, makes `b`'s keys verified
    // here, and any later dial expecting `b` known-key.
    let cases = [
        (unbound, AuthError::UnexpectedPeer, 0),
        (bound, AuthError::KnownKeyRefused, 1),
    ];
    for (impostor, refusal, flights) in cases {
        let e = a.connect_to(impostor, TIMEOUT).expect_err("refused");
        let NodeError::AuthFailed(err) = &e else {
            panic!("not an auth failure: {e:?}");
        };
        assert_eq!(AuthError::of(err), Some(&refusal), "{e:?}");
        assert_eq!(known_dials(&log_a), flights, "{:#?}", log_a.lines());
        // `a` dropped the connection before it failed the call.
        assert_eq!(a.stats(TIMEOUT).expect("stats").open_connections, 0);
        assert_eq!(a.connected_peers(TIMEOUT).expect("peers"), vec![]);
        assert_eq!(c.connected_peers(TIMEOUT).expect("peers"), vec![]);
    }
    stop_all([a, b, c]).expect("stop");
}
