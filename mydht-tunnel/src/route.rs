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
#[derive(Debug)]
pub struct RouteProvider {
    me: RouteHop,
    peers: BTreeMap<PeerId, PeerInfo>,
}

impl RouteProvider {
    /// A provider for the node `me`, with no peer yet.
    pub fn new(me: &PeerInfo) -> Result<Self, TunnelSendError> {
        Ok(RouteProvider {
            me: hop_of(me)?,
            peers: BTreeMap::new(),
        })
    }

    /// `peer` came online.
    pub fn online(&mut self, peer: PeerInfo) {
        self.peers.insert(*peer.get_id(), peer);
    }

    /// `id` went offline.
    pub fn offline(&mut self, id: &PeerId) {
        self.peers.remove(id);
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
        let reply = match send.reply {
            ReplyRoute::Other(n) => n,
            _ => 0,
        };
        send.hops.max(reply) + 1
    }

    /// Draws the routes of `send` at random among the known peers: relays
    /// distinct from each other and from the exit; a different reply route
    /// takes peers the query does not use first.
    pub fn plan<M>(&self, send: &TunnelSend<M>) -> Result<RoutePlan, TunnelSendError> {
        let need = Self::needed(send);
        if self.peers.len() < need {
            return Err(TunnelSendError::NotEnoughPeers {
                have: self.peers.len(),
                need,
            });
        }
        let exit = match send.to {
            Destination::Peer(id) => self
                .peers
                .get(&id)
                .ok_or(TunnelSendError::UnknownDestination)?,
            Destination::Any => {
                let all: Vec<&PeerInfo> = self.peers.values().collect();
                all[random_below(all.len())?]
            }
        };
        let mut others: Vec<&PeerInfo> = self
            .peers
            .values()
            .filter(|p| p.get_id() != exit.get_id())
            .collect();
        shuffle(&mut others)?;
        let relays = &others[..send.hops];
        let mut route = relays
            .iter()
            .map(|p| hop_of(p))
            .collect::<Result<Vec<_>, _>>()?;
        route.push(hop_of(exit)?);
        let mut peers: Vec<PeerId> = relays.iter().map(|p| *p.get_id()).collect();
        peers.push(*exit.get_id());
        let reply_relays: Option<Vec<&PeerInfo>> = match send.reply {
            ReplyRoute::None => None,
            ReplyRoute::SameRoute => Some(relays.iter().rev().copied().collect()),
            ReplyRoute::Other(n) => {
                // The unused peers first (already shuffled), then the
                // query's relays if there are too few.
                let (used, unused) = others.split_at(send.hops);
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
}
