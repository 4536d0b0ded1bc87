//! Two nodes on loopback: node 1 connects to node 2 and touches it.
//!
//! `cargo run -p mydht --example touch`

#[path = "touch/app.rs"]
mod app;

use std::marker::PhantomData;
use std::time::Duration;

use app::{Touch, TouchGlobal, TouchLocal, TouchMsg, Touched};
use mydht::service::PeersView;
use mydht::{Bincode, MyDHTConf, PeerInfo, SessionShadow};
use mydht_base::{Peer, Result};
use mydht_tcp::TcpTransport;

/// The whole node configuration: every service on its own thread, peers
/// shared as `ArcRef<PeerInfo>`. The profile line is the whole switch:
/// - `mydht::restartable!();` runs the node on one thread (peers as
///   `RcRef`; `single_thread!` does the same with coroutines);
/// - `mydht::restartable!(global: ThreadParkRef, MpscChannelRef;);` keeps
///   that but gives the global service a thread (peers cross to it as
///   copies and are `Rc`s again there).
struct TouchNode;

impl MyDHTConf for TouchNode {
    type Transport = TcpTransport;
    type MsgEnc = Bincode;
    type Shadow = SessionShadow;
    type ProtoMsg = TouchMsg;
    type GlobalCmd = Touch;
    type ApiReply = Touched;
    type GlobalService = TouchGlobal<Self>;
    type LocalService = TouchLocal<Self>;
    mydht::threaded!();

    fn init_transport(&mut self) -> Result<TcpTransport> {
        TcpTransport::bind("127.0.0.1:0".parse().expect("literal address"))
    }
    fn init_msg_enc(&mut self) -> Bincode {
        Bincode
    }
    fn init_shadow(&mut self) -> SessionShadow {
        SessionShadow::default()
    }
    fn init_global(&mut self, me: &PeerInfo, _: &PeersView) -> Result<Self::GlobalService> {
        Ok(TouchGlobal(*me.get_id(), PhantomData))
    }
    fn init_local(
        &mut self,
        me: &PeerInfo,
        _: &PeerInfo,
        _: &PeersView,
    ) -> Result<Self::LocalService> {
        Ok(TouchLocal(*me.get_id(), PhantomData))
    }
}

fn main() -> Result<()> {
    let timeout = Duration::from_secs(5);
    let n1 = mydht::start_loop(TouchNode)?;
    let n2 = mydht::start_loop(TouchNode)?;
    let address = n2.local_peer().get_address().parse().expect("node address");
    let peer2 = n1.connect(address, timeout)?;
    let replies = n1.query(Touch(*peer2.get_id()), 2, timeout)?;
    println!("touch replies: {replies:?}");
    n1.stop()?;
    n2.stop()
}
