//! [`RouteProvider`]: the peers a node can route through, fed by its peer
//! online/offline events, and the routes it draws from them.

use std::collections::BTreeMap;

use mydht::{PeerId, PeerInfo};
use mydht_base::Peer;
use tunnel::RouteHop;

use crate::address::encode_text_address;
use crate::app::{Destination, ReplyRoute, TunnelSend};
use crate::error::TunnelSendError;

/// The routes of one query: the query's (relays then the exit) and, if a
/// reply is asked for, the reply's (reply relays then this node).
#[derive(Debug, Clone)]
pub struct RoutePlan {
    /// Relays then the exit.
    pub route: Vec<RouteHop>,
    /// Reply relays then this node, when a reply is asked for.
    pub reply: Option<Vec<RouteHop>>,
    /// The peers of `route`, in order (for logs and tests).
    pub peers: Vec<PeerId>,
    /// The reply relays, in the reply's order (empty without a reply).
    pub reply_peers: Vec<PeerId>,
}

impl RoutePlan {
    /// The relays on both routes, each with its index in the reply route.
    pub fn on_both_routes(&self) -> Vec<(PeerId, usize)> {
        let relays = &self.peers[..self.peers.len().saturating_sub(1)];
        self.reply_peers
            .iter()
            .enumerate()
            .filter(|(_, p)| relays.contains(p))
            .map(|(i, p)| (*p, i))
            .collect()
    }
}

/// The peers this node knows online (bounded by the node's `max_peers`,
/// as its events are) and this node's own route hop.
///
/// It can draw the next query's order of peers ahead
/// ([`draw_ahead`](Self::draw_ahead)), so the hops of that query's headers
/// are prepared off its path; the next [`plan`](Self::plan) then takes
/// that order (once) instead of shuffling anew, unless a peer came or went
/// since. Drawn ahead or not, the order is a uniform random permutation of
/// the known peers, so the routes are drawn as before.
#[derive(Debug)]
pub struct RouteProvider {
    me: RouteHop,
    peers: BTreeMap<PeerId, PeerInfo>,
    ahead: Option<Vec<PeerId>>,
}

impl RouteProvider {
    /// A provider for the node `me`, with no peer yet.
    pub fn new(me: &PeerInfo) -> Result<Self, TunnelSendError> {
        Ok(RouteProvider {
            me: hop_of(me)?,
            peers: BTreeMap::new(),
            ahead: None,
        })
    }

    /// `peer` came online.
    pub fn online(&mut self, peer: PeerInfo) {
        self.peers.insert(*peer.get_id(), peer);
        self.ahead = None;
    }

    /// `id` went offline.
    pub fn offline(&mut self, id: &PeerId) {
        self.peers.remove(id);
        self.ahead = None;
    }

    /// Peers known now.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// True when no peer is known.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// How many known peers `send` needs: its relays (or its reply relays,
    /// if more) and its exit.
    pub fn needed<M>(send: &TunnelSend<M>) -> usize {
        needed(send.hops, send.reply)
    }

    /// Draws the routes of `send` at random among the known peers: relays
    /// distinct from each other and from the exit; a different reply route
    /// takes peers the query does not use first. The order drawn ahead, if
    /// any, is taken here.
    pub fn plan<M>(&mut self, send: &TunnelSend<M>) -> Result<RoutePlan, TunnelSendError> {
        let ahead = self.ahead.take();
        let order: Vec<&PeerInfo> = match ahead {
            // Peers came or went since: the order is dropped then.
            Some(ids) => ids.iter().filter_map(|id| self.peers.get(id)).collect(),
            None => {
                let mut all: Vec<&PeerInfo> = self.peers.values().collect();
                shuffle(&mut all)?;
                all
            }
        };
        self.plan_in(send.to, send.hops, send.reply, order)
    }

    /// Draws the order of peers of the next [`plan`](Self::plan) now, and
    /// gives the static keys of the hops that plan will have if the next
    /// query has the shape of `send` (destination, relays, reply route):
    /// the keys to prepare header hops for. `None` when too few peers are
    /// known for that shape.
    pub fn draw_ahead<M>(&mut self, send: &TunnelSend<M>) -> Option<Vec<[u8; 32]>> {
        let mut order: Vec<&PeerInfo> = self.peers.values().collect();
        shuffle(&mut order).ok()?;
        let ids: Vec<PeerId> = order.iter().map(|p| *p.get_id()).collect();
        let plan = self.plan_in(send.to, send.hops, send.reply, order).ok()?;
        self.ahead = Some(ids);
        let hops = plan.route.iter().chain(plan.reply.iter().flatten());
        Some(hops.map(|h| h.public_key).collect())
    }

    /// The routes of a query to `to` through `hops` relays, replied by
    /// `reply`, the relays taken in `order` (every known peer, in a random
    /// order; an `Any` destination is its first).
    fn plan_in(
        &self,
        to: Destination,
        hops: usize,
        reply: ReplyRoute,
        order: Vec<&PeerInfo>,
    ) -> Result<RoutePlan, TunnelSendError> {
        let need = needed(hops, reply);
        if self.peers.len() < need || order.len() < need {
            return Err(TunnelSendError::NotEnoughPeers {
                have: self.peers.len(),
                need,
            });
        }
        let exit = match to {
            Destination::Peer(id) => self
                .peers
                .get(&id)
                .ok_or(TunnelSendError::UnknownDestination)?,
            Destination::Any => order[0],
        };
        let others: Vec<&PeerInfo> = order
            .into_iter()
            .filter(|p| p.get_id() != exit.get_id())
            .collect();
        let relays = &others[..hops];
        let mut route = relays
            .iter()
            .map(|p| hop_of(p))
            .collect::<Result<Vec<_>, _>>()?;
        route.push(hop_of(exit)?);
        let mut peers: Vec<PeerId> = relays.iter().map(|p| *p.get_id()).collect();
        peers.push(*exit.get_id());
        let reply_relays: Option<Vec<&PeerInfo>> = match reply {
            ReplyRoute::None => None,
            ReplyRoute::SameRoute => Some(relays.iter().rev().copied().collect()),
            ReplyRoute::Other(n) => {
                // The unused peers first (in random order already), then
                // the query's relays if there are too few.
                let (used, unused) = others.split_at(hops);
                Some(unused.iter().chain(used.iter()).take(n).copied().collect())
            }
        };
        let reply_peers = reply_relays.iter().flatten().map(|p| *p.get_id()).collect();
        let reply = match reply_relays {
            Some(r) => {
                let mut hops = r.into_iter().map(hop_of).collect::<Result<Vec<_>, _>>()?;
                hops.push(self.me.clone());
                Some(hops)
            }
            None => None,
        };
        Ok(RoutePlan {
            route,
            reply,
            peers,
            reply_peers,
        })
    }
}

/// Known peers a query through `hops` relays replied by `reply` needs.
fn needed(hops: usize, reply: ReplyRoute) -> usize {
    let reply = match reply {
        ReplyRoute::Other(n) => n,
        _ => 0,
    };
    hops.max(reply) + 1
}

/// The route hop of `peer`: its tunnel key and its encoded address.
fn hop_of(peer: &PeerInfo) -> Result<RouteHop, TunnelSendError> {
    Ok(RouteHop {
        public_key: *peer.tunnel_public_key(),
        address: encode_text_address(peer.get_address())?,
    })
}

/// A uniform random number in `0..n` (`n > 0`).
fn random_below(n: usize) -> Result<usize, TunnelSendError> {
    let mut b = [0u8; 8];
    openssl::rand::rand_bytes(&mut b).map_err(|e| TunnelSendError::Codec(e.to_string()))?;
    // The modulo bias over 2^64 is negligible for route sizes.
    Ok((u64::from_le_bytes(b) % n as u64) as usize)
}

/// Fisher-Yates with openssl's random numbers.
fn shuffle<T>(v: &mut [T]) -> Result<(), TunnelSendError> {
    for i in (1..v.len()).rev() {
        let j = random_below(i + 1)?;
        v.swap(i, j);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mydht::Identity;

    fn peer(port: u16) -> PeerInfo {
        Identity::generate()
            .unwrap()
            .peer_info(format!("127.0.0.1:{port}"))
            .unwrap()
    }

    fn send(to: Destination, hops: usize, reply: ReplyRoute) -> TunnelSend<()> {
        TunnelSend {
            to,
            hops,
            reply,
            msg: (),
            attachment: None,
        }
    }

    #[test]
    fn routes_follow_the_known_peers_and_refuse_when_too_few() {
        let me = peer(1);
        let mut p = RouteProvider::new(&me).unwrap();
        let peers: Vec<PeerInfo> = (2..8).map(peer).collect();
        for q in &peers {
            p.online(q.clone());
        }
        let bob = *peers[0].get_id();
        let plan = p
            .plan(&send(Destination::Peer(bob), 3, ReplyRoute::SameRoute))
            .unwrap();
        assert_eq!(plan.route.len(), 4);
        assert_eq!(plan.peers[3], bob);
        let mut distinct = plan.peers.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 4, "relays and exit are distinct");
        let reply = plan.reply.clone().unwrap();
        // The same relays, reversed, then this node.
        assert_eq!(reply.len(), 4);
        assert_eq!(reply[0], plan.route[2]);
        assert_eq!(reply[2], plan.route[0]);
        assert_eq!(reply[3].public_key, *me.tunnel_public_key());
        let back: Vec<PeerId> = plan.peers[..3].iter().rev().copied().collect();
        assert_eq!(plan.reply_peers, back);
        let both: Vec<(PeerId, usize)> = back.iter().copied().zip(0..).collect();
        assert_eq!(plan.on_both_routes(), both);

        // A different reply route: 2 relays, none of the query's (6 peers:
        // 2 relays + exit leave 3 unused).
        let plan = p
            .plan(&send(Destination::Peer(bob), 2, ReplyRoute::Other(2)))
            .unwrap();
        let reply = plan.reply.clone().unwrap();
        for r in &reply[..2] {
            assert!(!plan.route.contains(r), "reply relay reused");
        }
        assert!(plan.on_both_routes().is_empty());

        // Too few: 6 peers known, 6 relays + exit asked.
        match p.plan(&send(Destination::Any, 6, ReplyRoute::None)) {
            Err(TunnelSendError::NotEnoughPeers { have: 6, need: 7 }) => {}
            other => panic!("{other:?}"),
        }
        p.offline(&bob);
        assert_eq!(p.len(), 5);
        assert!(matches!(
            p.plan(&send(Destination::Peer(bob), 1, ReplyRoute::None)),
            Err(TunnelSendError::UnknownDestination)
        ));
    }

    #[test]
    fn a_route_drawn_ahead_is_the_next_plan_once_and_dropped_when_peers_change() {
        let me = peer(1);
        let mut p = RouteProvider::new(&me).unwrap();
        let peers: Vec<PeerInfo> = (2..9).map(peer).collect();
        for q in &peers {
            p.online(q.clone());
        }
        let bob = *peers[0].get_id();
        let s = send(Destination::Peer(bob), 3, ReplyRoute::SameRoute);
        let keys = p.draw_ahead(&s).expect("drawn");
        let plan = p.plan(&s).expect("plan");
        let planned: Vec<[u8; 32]> = plan
            .route
            .iter()
            .chain(plan.reply.iter().flatten())
            .map(|h| h.public_key)
            .collect();
        // 3 relays and Bob, the 3 relays back and this node.
        assert_eq!(keys.len(), 8);
        assert_eq!(keys, planned);
        assert_eq!(keys[7], *me.tunnel_public_key());
        assert!(p.ahead.is_none(), "taken once");
        // A peer that comes (or goes) drops the order drawn.
        p.draw_ahead(&s).expect("drawn");
        p.online(peer(20));
        assert!(p.ahead.is_none());
        p.draw_ahead(&s).expect("drawn");
        p.offline(peers[1].get_id());
        assert!(p.ahead.is_none());
        // Too few peers for the shape: nothing drawn.
        let big = send(Destination::Any, 9, ReplyRoute::None);
        assert!(p.draw_ahead(&big).is_none());
        assert!(p.ahead.is_none());
    }
}
