//! The node's own services as the driver holds them (global, api, peer
//! store, peer management): made from the configuration, given the core's
//! commands, made anew when the core says so.

use std::sync::Arc;

use mydht_base::{Error, NoSend, Result};

use super::global_door::GlobalDoor;
use crate::command::MainLoopSender;
use crate::conf::{MyDHTConf, NodeConstants, PeerVerdict};
use crate::core::ServiceKind;
use crate::identity::LocalPeer;
use crate::service::api::SharedBook;
use crate::service::kvstore::{KVStoreLimits, KVStoreService, MemoryStore};
use crate::service::peer_store::{closest_in_store, ConnectedRoute, PeerStoreService};
use crate::service::{
    global_ends, ApiService, DirectPeers, GlobalDest, GlobalInput, GlobalWay, PeerMgmtService,
    PeersView, ServiceSlot,
};

type GlobalSlot<C> = ServiceSlot<
    <C as MyDHTConf>::GlobalService,
    GlobalDest<C>,
    <C as MyDHTConf>::GlobalSpawn,
    GlobalInput<C>,
>;
type PeerStoreSlot<C> = ServiceSlot<
    PeerStoreService<ConnectedRoute>,
    MainLoopSender<C>,
    <C as MyDHTConf>::PeerStoreSpawn,
    <C as MyDHTConf>::PeerStoreChannel,
>;
type PeerMgmtSlot<C> = ServiceSlot<
    PeerMgmtService<<C as MyDHTConf>::PeerRef>,
    MainLoopSender<C>,
    <C as MyDHTConf>::PeerMgmtSpawn,
    <C as MyDHTConf>::PeerMgmtChannel,
>;
type ApiSlot<C> =
    ServiceSlot<ApiService<C>, NoSend, <C as MyDHTConf>::ApiSpawn, <C as MyDHTConf>::ApiChannel>;

/// What a delivery to a service gave: the error to report, and whether the
/// service's state is lost.
pub(super) type Delivery = Option<(Error, bool)>;

/// The node's services.
pub(super) struct Services<C: MyDHTConf> {
    pub(super) global: GlobalSlot<C>,
    pub(super) api: ApiSlot<C>,
    pub(super) peer_store: PeerStoreSlot<C>,
    pub(super) peer_mgmt: PeerMgmtSlot<C>,
    /// The api service's book, which local services answer into; kept
    /// across restarts of the api service.
    pub(super) api_book: SharedBook<C>,
    /// The online peers whose write services the global service reaches
    /// directly ([`GlobalDest`]); kept across restarts of the global
    /// service.
    pub(super) direct: Arc<DirectPeers<C>>,
    /// The node handles' way straight into the global service's channel
    /// ([`MyDHTConf::direct_global`]), when the profile has one and the
    /// global service's loops are not counted; kept across its restarts.
    pub(super) global_door: Option<Arc<GlobalDoor<C>>>,
    me: Arc<LocalPeer>,
    sender: MainLoopSender<C>,
    route: ConnectedRoute,
    view: PeersView,
    constants: NodeConstants,
    fixed_verdict: Option<PeerVerdict>,
}

impl<C: MyDHTConf> Services<C> {
    /// Makes every service from the configuration.
    pub(super) fn new(
        conf: &mut C,
        me: &Arc<LocalPeer>,
        sender: &MainLoopSender<C>,
        route: ConnectedRoute,
        view: &PeersView,
        constants: &NodeConstants,
    ) -> Result<Self> {
        let (peer_mgmt, fixed_verdict) = peer_mgmt_slot(conf, me, sender, constants)?;
        let api_book = SharedBook::new(constants.max_pending_queries);
        let direct = Arc::new(DirectPeers::new(constants.max_connections));
        let to = GlobalTo {
            sender,
            book: &api_book,
            view,
            direct: &direct,
        };
        let mut global = global_slot(conf, me, &to, constants)?;
        // Started now, so that the handles' first query finds it running.
        let global_door = if constants.loops.global == 0 && conf.services_on_threads() {
            global.start(None)?;
            global_way(&global).map(|way| Arc::new(GlobalDoor::new(way, api_book.clone())))
        } else {
            None
        };
        Ok(Services {
            global,
            api: api_slot(conf, &api_book, constants)?,
            api_book,
            direct,
            global_door,
            peer_store: peer_store_slot(conf, me, sender, &route, constants)?,
            peer_mgmt,
            me: me.clone(),
            sender: sender.clone(),
            route,
            view: view.clone(),
            constants: constants.clone(),
            fixed_verdict,
        })
    }

    /// The peer manager's verdict on every peer, if it does not depend on
    /// the peer.
    pub(super) fn fixed_verdict(&self) -> Option<PeerVerdict> {
        self.fixed_verdict
    }

    /// What sending to a slot gave: its failure and the end error of its
    /// last loop, and whether its state is lost.
    pub(super) fn outcome(sent: Result<()>, last: Option<Error>, gone: bool) -> Delivery {
        delivery(sent, last, gone)
    }

    /// True while a service has commands waiting for its next loop
    /// ([`ServiceSlot::has_backlog`]).
    pub(super) fn has_backlog(&self) -> bool {
        self.global.has_backlog()
            || self.api.has_backlog()
            || self.peer_store.has_backlog()
            || self.peer_mgmt.has_backlog()
    }

    /// Spawns the next loop of each service with a backlog whose loop has
    /// ended: what each gave.
    pub(super) fn resume_backlogs(&mut self) -> [(ServiceKind, Delivery); 4] {
        fn resume<S, D, Sp, Ch>(slot: &mut ServiceSlot<S, D, Sp, Ch>) -> Delivery
        where
            S: mydht_base::Service,
            D: mydht_base::SpawnSend<S::CommandOut>,
            Ch: mydht_base::SpawnChannel<S::CommandIn>,
            Sp: mydht_base::Spawner<S, D, Ch::Recv>,
        {
            if !slot.has_backlog() {
                return None;
            }
            let checked = slot.check();
            delivery(checked, slot.take_error(), slot.is_gone())
        }
        [
            (ServiceKind::Global, resume(&mut self.global)),
            (ServiceKind::Api, resume(&mut self.api)),
            (ServiceKind::PeerStore, resume(&mut self.peer_store)),
            (ServiceKind::PeerMgmt, resume(&mut self.peer_mgmt)),
        ]
    }

    /// True when the handles' way to the global service needs the main
    /// loop: a handle found it dead, or the global service's loop ended
    /// (an error it returned, or its restart).
    pub(super) fn global_door_needs_care(&mut self) -> bool {
        match &self.global_door {
            Some(door) => door.is_shut() || self.global.is_finished(),
            None => false,
        }
    }

    /// Starts the global service again if its loop ended (it reads what
    /// handles left in its channel), then opens the handles' way to it:
    /// what starting it gave.
    pub(super) fn reopen_global_door(&mut self) -> Delivery {
        let door = self.global_door.clone()?;
        let s = &mut self.global;
        let started = s.check().and_then(|()| s.start(None));
        let out = delivery(started, s.take_error(), s.is_gone());
        if let Some(way) = global_way(&self.global) {
            door.reopen(way, self.api_book.clone());
        }
        out
    }

    /// Closes the handles' way to the global service (the node stops).
    pub(super) fn close_global_door(&self) {
        if let Some(door) = &self.global_door {
            door.close();
        }
    }

    /// Makes `kind` anew from the configuration.
    pub(super) fn restart(&mut self, conf: &mut C, kind: ServiceKind) -> Result<()> {
        let (me, sender, constants) = (&self.me, &self.sender, &self.constants);
        match kind {
            ServiceKind::Global => {
                let to = GlobalTo {
                    sender,
                    book: &self.api_book,
                    view: &self.view,
                    direct: &self.direct,
                };
                self.global = global_slot(conf, me, &to, constants)?
            }
            ServiceKind::Api => self.api = api_slot(conf, &self.api_book, constants)?,
            ServiceKind::PeerStore => {
                self.peer_store = peer_store_slot(conf, me, sender, &self.route, constants)?
            }
            ServiceKind::PeerMgmt => {
                let (slot, verdict) = peer_mgmt_slot(conf, me, sender, constants)?;
                self.peer_mgmt = slot;
                self.fixed_verdict = verdict;
            }
        }
        Ok(())
    }

    /// Stops every service, joining their threads. The loop's channel is
    /// closed by then: a service whose last answer found it closed ended
    /// as it should.
    pub(super) fn stop(self) -> Result<()> {
        let g = self.global.stop();
        let p = self.peer_store.stop();
        let m = self.peer_mgmt.stop();
        let a = self.api.stop();
        [g, p, m, a]
            .into_iter()
            .filter(|r| !matches!(r, Err(e) if e.kind() == mydht_base::ErrorKind::ChannelClosed))
            .collect()
    }
}

/// See [`Services::outcome`].
fn delivery(sent: Result<()>, last: Option<Error>, gone: bool) -> Delivery {
    match (sent, last) {
        (Err(e), _) | (Ok(()), Some(e)) => Some((e, gone)),
        (Ok(()), None) if gone => Some((gone_error(), true)),
        _ => None,
    }
}

fn gone_error() -> Error {
    Error::new(
        mydht_base::ErrorKind::ServiceDied,
        mydht_base::ErrorLevel::ShutDown,
        "service state lost",
    )
}

/// The handles' way to the global service of `slot`, while it runs (and
/// when the profile has one).
fn global_way<C: MyDHTConf>(slot: &GlobalSlot<C>) -> Option<GlobalWay<C>> {
    let (send, handle) = slot.direct_way()?;
    C::direct_global(send, handle)
}

/// What the global service's destination is made of.
struct GlobalTo<'a, C: MyDHTConf> {
    sender: &'a MainLoopSender<C>,
    book: &'a SharedBook<C>,
    view: &'a PeersView,
    direct: &'a Arc<DirectPeers<C>>,
}

fn global_slot<C: MyDHTConf>(
    conf: &mut C,
    me: &LocalPeer,
    to: &GlobalTo<'_, C>,
    constants: &NodeConstants,
) -> Result<GlobalSlot<C>> {
    let service = conf.init_global(me.info(), to.view)?;
    // Held for one batch while commands are queued, unless the service's
    // loop may end with messages held.
    let (dest, channel) = global_ends(
        to.sender.clone(),
        to.book.clone(),
        to.view.clone(),
        to.direct.clone(),
        conf.global_channel(),
        constants.loops.global == 0,
    );
    ServiceSlot::new(
        service,
        dest,
        conf.global_spawner()?,
        channel,
        constants.loops.global,
    )
}

fn api_slot<C: MyDHTConf>(
    conf: &mut C,
    book: &SharedBook<C>,
    constants: &NodeConstants,
) -> Result<ApiSlot<C>> {
    ServiceSlot::new(
        ApiService::shared(book.clone()),
        NoSend,
        conf.api_spawner()?,
        conf.api_channel(),
        constants.loops.api,
    )
}

fn peer_store_slot<C: MyDHTConf>(
    conf: &mut C,
    me: &LocalPeer,
    sender: &MainLoopSender<C>,
    route: &ConnectedRoute,
    constants: &NodeConstants,
) -> Result<PeerStoreSlot<C>> {
    ServiceSlot::new(
        KVStoreService::new(
            me.info().clone(),
            MemoryStore::new(constants.peer_store_capacity),
            route.clone(),
            KVStoreLimits::default(),
        )
        .with_near(closest_in_store),
        sender.clone(),
        conf.peer_store_spawner()?,
        conf.peer_store_channel(),
        constants.loops.peer_store,
    )
}

fn peer_mgmt_slot<C: MyDHTConf>(
    conf: &mut C,
    me: &LocalPeer,
    sender: &MainLoopSender<C>,
    constants: &NodeConstants,
) -> Result<(PeerMgmtSlot<C>, Option<PeerVerdict>)> {
    let manager = conf.peer_manager()?;
    let verdict = manager.fixed_verdict();
    let slot = ServiceSlot::new(
        PeerMgmtService::new(me.info().clone(), manager),
        sender.clone(),
        conf.peer_mgmt_spawner()?,
        conf.peer_mgmt_channel(),
        constants.loops.peer_mgmt,
    )?;
    Ok((slot, verdict))
}
