//! Starting N nodes, reaching them, waiting on them, stopping them: every
//! wait ends by [`TIMEOUT`] at the latest, never by a sleep.

use std::str::FromStr;
use std::time::Duration;

use mydht::conf::Address;
use mydht::{MyDHTConf, NodeHandle, PeerCount, PeerInfo};
use mydht_base::{Error, ErrorKind, ErrorLevel, Peer, Result};

use super::touch::{Touch, Touched};

/// How long a harness wait lasts at most: long enough for a loaded 2-core
/// machine, short enough that a hung test fails rather than hangs.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Starts `n` nodes on their own main-loop thread, each with the
/// configuration `conf()` gives (a fresh transport each: port 0 or a fresh
/// `MemAddress`). If one fails to start, the ones started are stopped and
/// its error is returned.
pub fn start_nodes<C: MyDHTConf>(
    n: usize,
    mut conf: impl FnMut() -> C,
) -> Result<Vec<NodeHandle<C>>> {
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        match mydht::start_loop(conf()) {
            Ok(node) => nodes.push(node),
            Err(e) => {
                // The start error is the one the caller needs.
                let _ = stop_all(nodes);
                return Err(e);
            }
        }
    }
    Ok(nodes)
}

/// Stops every node, all of them even if one fails; the first error.
pub fn stop_all<C: MyDHTConf>(nodes: impl IntoIterator<Item = NodeHandle<C>>) -> Result<()> {
    let mut first = Ok(());
    for node in nodes {
        let stopped = node.stop();
        if first.is_ok() {
            first = stopped;
        }
    }
    first
}

/// The transport address `node` listens on, as other nodes connect to it.
pub fn address_of<C: MyDHTConf>(node: &NodeHandle<C>) -> Result<Address<C>>
where
    Address<C>: FromStr,
{
    text_address::<C>(node.local_peer())
}

/// Connects `from` to `to` and checks that the peer reached is `to`.
pub fn connect<C1, C2>(from: &NodeHandle<C1>, to: &NodeHandle<C2>) -> Result<PeerInfo>
where
    C1: MyDHTConf,
    C2: MyDHTConf,
    Address<C1>: FromStr,
{
    let address = text_address::<C1>(to.local_peer())?;
    let reached = from.connect(address, TIMEOUT)?;
    if reached.get_id() != to.local_peer().get_id() {
        return Err(Error::new(
            ErrorKind::Auth,
            ErrorLevel::Ignore,
            "connected to another peer than the one listening there",
        ));
    }
    Ok(reached)
}

/// Connects every node of `others` to `hub`, then waits until `hub` has
/// them all (at least `others.len()` peers).
pub fn connect_star<C: MyDHTConf>(hub: &NodeHandle<C>, others: &[NodeHandle<C>]) -> Result<()>
where
    Address<C>: FromStr,
{
    for node in others {
        connect(node, hub)?;
    }
    wait_peers(hub, PeerCount::AtLeast(others.len()))?;
    Ok(())
}

/// Waits, at most [`TIMEOUT`], until `node`'s peer count satisfies `count`;
/// its connected peers then.
pub fn wait_peers<C: MyDHTConf>(node: &NodeHandle<C>, count: PeerCount) -> Result<Vec<PeerInfo>> {
    Ok(node.wait_peers(count, TIMEOUT)?)
}

/// Touches `to` from `from` (they must be connected): the two replies,
/// sorted by peer id.
pub fn touch<C1, C2>(from: &NodeHandle<C1>, to: &NodeHandle<C2>) -> Result<Vec<Touched>>
where
    C1: MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>,
    C2: MyDHTConf,
{
    let mut replies = from.query(Touch(*to.local_peer().get_id()), 2, TIMEOUT)?;
    replies.sort_by_key(|t| *t.0.as_bytes());
    Ok(replies)
}

/// The scenario of issue #4: `n1` connects to `n2`, a touch query gives
/// two replies (`n1`'s own and `n2`'s, through the connection), each node
/// finds the other by id, and the connection carries a touch back.
///
/// # Panics
///
/// When any of that does not happen within [`TIMEOUT`]: it is a test
/// assertion.
pub fn connect_and_touch<C1, C2>(n1: &NodeHandle<C1>, n2: &NodeHandle<C2>)
where
    C1: MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>,
    C2: MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>,
    Address<C1>: FromStr,
{
    let p1 = n1.local_peer().clone();
    let p2 = n2.local_peer().clone();
    connect(n1, n2).expect("connect");

    let mut want = vec![Touched(*p1.get_id()), Touched(*p2.get_id())];
    want.sort_by_key(|t| *t.0.as_bytes());
    assert_eq!(touch(n1, n2).expect("touch replies"), want);

    let found = n1.find_peer(p2.get_id(), TIMEOUT).expect("find on node 1");
    assert_eq!(found.as_ref().map(|p| *p.get_id()), Some(*p2.get_id()));
    // Node 2 learnt node 1 from the inbound connection.
    let found = n2.find_peer(p1.get_id(), TIMEOUT).expect("find on node 2");
    assert_eq!(found.as_ref().map(|p| *p.get_id()), Some(*p1.get_id()));
    // The connection carries queries both ways.
    assert_eq!(touch(n2, n1).expect("touch back"), want);
}

/// Starts a node of each configuration, runs [`connect_and_touch`] from the
/// first to the second, and stops both: the whole touch scenario for a pair
/// of profiles or transports.
///
/// # Panics
///
/// When a node does not start or stop, or the scenario fails: it is a test
/// assertion.
pub fn touch_pair<C1, C2>(c1: C1, c2: C2)
where
    C1: MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>,
    C2: MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>,
    Address<C1>: FromStr,
{
    let n1 = mydht::start_loop(c1).expect("node 1");
    let n2 = mydht::start_loop(c2).expect("node 2");
    connect_and_touch(&n1, &n2);
    n1.stop().expect("stop node 1");
    n2.stop().expect("stop node 2");
}

/// `peer`'s address, as a node of configuration `C` connects to it (peers
/// of different transports may share an address kind, e.g. both TCP).
fn text_address<C: MyDHTConf>(peer: &PeerInfo) -> Result<Address<C>>
where
    Address<C>: FromStr,
{
    let text = peer.get_address();
    text.parse().map_err(|_| {
        Error::new(
            ErrorKind::Config,
            ErrorLevel::Ignore,
            format!("node address {text:?} does not parse"),
        )
    })
}
