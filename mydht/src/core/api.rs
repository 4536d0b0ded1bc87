//! The node handle's queries, as the core answers them: connect,
//! disconnect, find a peer, the connected peers, waits for a peer count,
//! counters; application commands go to the global service.

use std::time::Instant;

use mydht_base::{Error, ErrorKind, ErrorLevel, Peer};

use super::conn::Target;
use super::{info_of, NodeCore};
use crate::command::{ApiAction, NodeStats, PeerCount};
use crate::conf::{Address, MyDHTConf};
use crate::identity::PeerInfo;
use crate::service::kvstore::QueryConf;
use crate::service::peer_store::PeerStoreCommand;
use crate::service::{ApiCommand, ApiResult, GlobalCommand, QueryId};

/// A query waiting for a number of connected peers.
pub(super) struct Watcher {
    qid: QueryId,
    count: PeerCount,
    deadline: Instant,
}

impl<C: MyDHTConf> NodeCore<C> {
    pub(super) fn on_api(
        &mut self,
        qid: QueryId,
        deadline: Instant,
        action: ApiAction<C>,
        now: Instant,
    ) {
        match action {
            ApiAction::Global(cmd) => self.tell_global(GlobalCommand::Api(qid, cmd)),
            ApiAction::FindPeer(id) => {
                let conf = QueryConf {
                    timeout: deadline.saturating_duration_since(now),
                    ..QueryConf::default()
                };
                self.tell_peer_store(PeerStoreCommand::Find(qid, id, conf));
            }
            ApiAction::ConnectedPeers => {
                let peers = self.connected_peers();
                self.tell_api(ApiCommand::Reply(qid, ApiResult::Peers(peers)));
            }
            ApiAction::Connect(address) => self.connect(qid, address, None),
            ApiAction::ConnectTo(peer) => match self.peer_address(&peer) {
                Ok(address) => self.connect(qid, address, Some(peer)),
                Err(e) => self.tell_api(ApiCommand::Fail(qid, e)),
            },
            ApiAction::Disconnect(id) => {
                // Every connection to the peer (two for a moment after a
                // simultaneous dial): it goes offline once the last closes.
                let keys: Vec<usize> = self
                    .conns
                    .iter()
                    .filter(|(_, c)| c.open_peer().is_some_and(|p| p.get_id() == &id))
                    .map(|(k, _)| *k)
                    .collect();
                let peer = self.peers.get(&id).map(|p| info_of::<C>(&p.peer).clone());
                for key in keys {
                    // This node ends it: not a refusal of a known-key flight.
                    if let Some(conn) = self.conns.get_mut(&key) {
                        conn.known_unconfirmed = false;
                    }
                    self.drop_conn(key, None);
                }
                self.tell_api(ApiCommand::Reply(qid, ApiResult::Peer(peer)));
            }
            ApiAction::Stats => {
                let open_connections = self.conns.values().filter(|c| c.is_open()).count();
                let stats = NodeStats {
                    open_connections,
                    resumed_flights: self.challenges.resumed_flights(),
                    ..self.stats
                };
                self.tell_api(ApiCommand::Reply(qid, ApiResult::Stats(stats)));
            }
            ApiAction::WaitPeers(count) => {
                if self.watchers.len() >= self.constants.max_pending_queries {
                    let e = Error::new(ErrorKind::TooLarge, ErrorLevel::Ignore, "too many waits");
                    return self.tell_api(ApiCommand::Fail(qid, e));
                }
                self.watchers.push(Watcher {
                    qid,
                    count,
                    deadline,
                });
                self.check_watchers();
                self.expire_watchers(now);
            }
        }
    }

    /// A connect query: answered with the peer once it is admitted on the
    /// connection dialled to `address` (the query waits on the connection,
    /// or on its dial, before any event of it is handled). With `expected`
    /// the dial expects that peer there: known-key when its keys are
    /// verified (its binding checked), failing with
    /// `AuthError::KnownKeyRefused` if the flight is refused; signed
    /// otherwise, refusing any other peer.
    fn connect(&mut self, qid: QueryId, address: Address<C>, expected: Option<PeerInfo>) {
        match self.dial_address(address, expected) {
            Ok(Target::Conn(key)) => {
                let Some(conn) = self.conns.get_mut(&key) else {
                    return;
                };
                match conn.online_peer() {
                    Some(peer) => {
                        let peer = info_of::<C>(peer).clone();
                        self.tell_api(ApiCommand::Reply(qid, ApiResult::Peer(Some(peer))));
                    }
                    None => conn.waiters.push(qid),
                }
            }
            Ok(Target::Dial(dial)) => {
                if let Some(d) = self.dials.get_mut(&dial) {
                    d.waiters.push(qid);
                }
            }
            Err(e) => self.tell_api(ApiCommand::Fail(qid, e)),
        }
    }

    /// Answers the waits whose peer count is reached.
    pub(super) fn check_watchers(&mut self) {
        if self.watchers.is_empty() {
            return;
        }
        let n = self.peers.len();
        let mut done = Vec::new();
        self.watchers.retain(|w| {
            let holds = w.count.holds(n);
            if holds {
                done.push(w.qid);
            }
            !holds
        });
        for qid in done {
            let peers = self.connected_peers();
            self.tell_api(ApiCommand::Reply(qid, ApiResult::Peers(peers)));
        }
    }

    /// Forgets the waits past their deadline (the api service fails them).
    pub(super) fn expire_watchers(&mut self, now: Instant) {
        self.watchers.retain(|w| w.deadline > now);
    }
}
