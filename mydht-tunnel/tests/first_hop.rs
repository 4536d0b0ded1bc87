//! A query whose first relay cannot be reached fails at once, typed
//! (`TunnelSendError::Unreachable`), not at the tunnel timeout: the
//! sender's node raises `GlobalCommand::SendOnceFailed` for the onion it
//! could not deliver, and no hop is there to report it. The relay's
//! listener refuses every connection (each closed as soon as it is
//! accepted) while its pooled connection to the sender stays up, so the
//! sender still draws routes through it (a relay that stops goes offline
//! at the sender, which then routes around it).
//!
//! Further on, a relay whose next hop cannot be reached reports it: the
//! sender gets `HopFailed { hop: 0, Unreachable }` from that relay, in
//! frames as in streams, well before the timeout (in frames the relay's
//! node gives the onion back with `GlobalCommand::SendOnceFailed`, which
//! names its link). The same when the next hop accepts the connection but
//! refuses the relay's known-key flight (as another identity at the
//! address would): the onion went out behind the flight, and the relay's
//! node still gives it back.

mod support;

use std::time::{Duration, Instant};

use mydht::SessionShadow;
use mydht_basetest::harness::nodes::stop_all;
use mydht_tunnel::{Carriage, ReplyRoute, TunnelAnswer, TunnelSendError};
use support::spy::Relaying::Honest;
use support::spy::{ping, start_spies, Spy};
use support::wire::Wire;
use support::PingPong;
use tunnel::TunnelConfig;
use tunnel::{HopFailure, TunnelError};

/// The tunnel timeout of the nodes (`MyDHTTunnelConf::tunnel_timeout`'s
/// default).
const TUNNEL_TIMEOUT: Duration = Duration::from_secs(10);

/// How a node turns down the connections it accepts.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    /// Closed as soon as accepted.
    Accepts,
    /// Read, and the dialler's known-key flight refused (after a first
    /// ping, so that the relay's dial is known-key).
    Flights,
}

/// Alice (node 0) pings Bob (node 2) through R (node 1), the onions
/// carried as `carriage` says, while node `refusing` turns down the
/// connections it accepts as `refusal` says (its pooled connection to
/// Alice stays up, so she still routes through it). The answer, which
/// comes within half the tunnel timeout.
fn ping_past_a_refusing_node(
    carriage: Carriage,
    refusing: usize,
    refusal: Refusal,
) -> TunnelAnswer<PingPong> {
    let spy = || Spy::<SessionShadow>::new(TunnelConfig::default(), carriage, Honest).0;
    let wire = Wire::default();
    let mut confs = vec![spy(), spy(), spy()];
    confs[refusing] = spy().on_wire(wire.clone());
    let nodes = start_spies(confs);
    match refusal {
        Refusal::Accepts => wire.refuse_accepts(),
        Refusal::Flights => {
            // A first ping through the same nodes: R meets Bob, and its
            // next dial to him is known-key.
            let first = ping(&nodes, 2, 1, ReplyRoute::SameRoute, 1, 10);
            assert!(first.is_ok(), "{carriage:?}: {first:?}");
            wire.garble_accepts();
        }
    }
    let started = Instant::now();
    let got = ping(&nodes, 2, 1, ReplyRoute::SameRoute, 1, 10);
    let elapsed = started.elapsed();
    assert!(
        elapsed < TUNNEL_TIMEOUT / 2,
        "{carriage:?}, {refusal:?}: {elapsed:?}"
    );
    stop_all(nodes).expect("stop");
    got
}

/// R refuses: no hop is there to report, the sender's node fails the query
/// `Unreachable` itself.
fn first_relay_unreachable(carriage: Carriage) {
    let got = ping_past_a_refusing_node(carriage, 1, Refusal::Accepts);
    assert!(
        matches!(got, Err(TunnelSendError::Unreachable)),
        "{carriage:?}: {got:?}"
    );
}

#[test]
fn a_framed_query_whose_first_relay_is_unreachable_fails_at_once() {
    first_relay_unreachable(Carriage::Frame);
}

#[test]
fn a_streamed_query_whose_first_relay_is_unreachable_fails_at_once() {
    first_relay_unreachable(Carriage::Streamed);
}

/// Bob refuses: R, which never met him, cannot pass the onion on and
/// reports it (hop 0).
fn next_hop_unreachable(carriage: Carriage, refusal: Refusal) {
    let got = ping_past_a_refusing_node(carriage, 2, refusal);
    assert!(
        matches!(
            got,
            Err(TunnelSendError::Tunnel(TunnelError::HopFailed {
                hop: 0,
                failure: HopFailure::Unreachable
            }))
        ),
        "{carriage:?}, {refusal:?}: {got:?}"
    );
}

#[test]
fn a_framed_relay_reports_its_next_hop_unreachable() {
    next_hop_unreachable(Carriage::Frame, Refusal::Accepts);
}

#[test]
fn a_streaming_relay_reports_its_next_hop_unreachable() {
    next_hop_unreachable(Carriage::Streamed, Refusal::Accepts);
}

#[test]
fn a_framed_relay_reports_its_next_hop_refusing_its_flight() {
    next_hop_unreachable(Carriage::Frame, Refusal::Flights);
}

#[test]
fn a_streaming_relay_reports_its_next_hop_refusing_its_flight() {
    next_hop_unreachable(Carriage::Streamed, Refusal::Flights);
}
