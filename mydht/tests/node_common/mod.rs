//! What the node tests share: the touch application (the example's) and a
//! configuration of it per profile.

#![allow(dead_code)]

#[path = "../../examples/touch/app.rs"]
pub mod app;

use std::time::Duration;

use app::{Touch, Touched};
use mydht::{MyDHTConf, NodeHandle};
use mydht_base::Peer;

/// Every wait of these tests ends by this timeout, never by a sleep.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A touch node configuration named `$name`, under the profile macro
/// `$profile`, on the transport made by `$bind`.
#[macro_export]
macro_rules! touch_conf {
    ($name:ident, $profile:ident, $transport:ty, $bind:expr) => {
        touch_conf!(
            $name,
            $profile,
            $transport,
            $bind,
            mydht::NodeConstants::default()
        );
    };
    ($name:ident, $profile:ident, $transport:ty, $bind:expr, $constants:expr) => {
        #[doc = concat!("Touch node under `", stringify!($profile), "!`.")]
        pub struct $name;
        impl mydht::MyDHTConf for $name {
            type Transport = $transport;
            type MsgEnc = mydht::Bincode;
            type Shadow = mydht::SessionShadow;
            type ProtoMsg = $crate::node_common::app::TouchMsg;
            type GlobalCmd = $crate::node_common::app::Touch;
            type ApiReply = $crate::node_common::app::Touched;
            type GlobalService = $crate::node_common::app::TouchGlobal<Self>;
            type LocalService = $crate::node_common::app::TouchLocal<Self>;
            mydht::$profile!();

            fn init_transport(&mut self) -> mydht_base::Result<$transport> {
                $bind
            }
            fn constants(&self) -> mydht::NodeConstants {
                $constants
            }
            fn init_msg_enc(&mut self) -> mydht::Bincode {
                mydht::Bincode
            }
            fn init_shadow(&mut self) -> mydht::SessionShadow {
                mydht::SessionShadow::default()
            }
            fn init_global(
                &mut self,
                me: &mydht::PeerInfo,
            ) -> mydht_base::Result<Self::GlobalService> {
                Ok($crate::node_common::app::TouchGlobal(
                    *mydht_base::Peer::get_id(me),
                    std::marker::PhantomData,
                ))
            }
            fn init_local(
                &mut self,
                me: &mydht::PeerInfo,
                _: &mydht::PeerInfo,
            ) -> mydht_base::Result<Self::LocalService> {
                Ok($crate::node_common::app::TouchLocal(
                    *mydht_base::Peer::get_id(me),
                    std::marker::PhantomData,
                ))
            }
        }
    };
}

/// The scenario of issue #4: node 1 connects to node 2, a touch query gives
/// two replies (node 1's own and node 2's, through the connection), and
/// each node finds the other by id.
pub fn connect_and_touch<C1, C2>(n1: &NodeHandle<C1>, n2: &NodeHandle<C2>)
where
    C1: MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>,
    C2: MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>,
{
    let p1 = n1.local_peer().clone();
    let p2 = n2.local_peer().clone();
    let address = p2.get_address().parse().ok().expect("node address");
    let reached = n1.connect(address, TIMEOUT).expect("connect");
    assert_eq!(reached.get_id(), p2.get_id(), "connected to the wrong peer");

    let mut replies = n1
        .query(Touch(*p2.get_id()), 2, TIMEOUT)
        .expect("touch replies");
    replies.sort_by_key(|t| *t.0.as_bytes());
    let mut want = vec![Touched(*p1.get_id()), Touched(*p2.get_id())];
    want.sort_by_key(|t| *t.0.as_bytes());
    assert_eq!(replies, want);

    let found = n1.find_peer(p2.get_id(), TIMEOUT).expect("find on node 1");
    assert_eq!(found.as_ref().map(|p| *p.get_id()), Some(*p2.get_id()));
    // Node 2 learnt node 1 from the inbound connection.
    let found = n2.find_peer(p1.get_id(), TIMEOUT).expect("find on node 2");
    assert_eq!(found.as_ref().map(|p| *p.get_id()), Some(*p1.get_id()));
    // The connection carries queries both ways.
    let back = n2
        .query(Touch(*p1.get_id()), 2, TIMEOUT)
        .expect("touch back");
    assert_eq!(back.len(), 2);
}
