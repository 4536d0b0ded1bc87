//! Three nodes on one thread: each node's main loop is turned by the
//! caller (`start_driven`), every service runs inline (`restartable!`),
//! and the calls are futures polled between turns — no other thread.
//!
//! `cargo run -p mydht --example driven`

#[path = "touch/app.rs"]
mod app;

use std::future::Future;
use std::marker::PhantomData;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use app::{Touch, TouchGlobal, TouchLocal, TouchMsg, Touched};
use mydht::service::PeersView;
use mydht::{
    Bincode, MainLoopDriver, MainLoopSpawn, MyDHTConf, PeerCount, PeerInfo, SessionShadow,
};
use mydht_base::{Peer, Result};
use mydht_tcp::TcpTransport;

/// A node on the caller's thread: `restartable!` runs every service
/// inline, and `main_loop_spawn` gives the main loop to the caller.
struct OneThread;

impl MyDHTConf for OneThread {
    type Transport = TcpTransport;
    type MsgEnc = Bincode;
    type Shadow = SessionShadow;
    type ProtoMsg = TouchMsg;
    type GlobalCmd = Touch;
    type ApiReply = Touched;
    type GlobalService = TouchGlobal<Self>;
    type LocalService = TouchLocal<Self>;
    mydht::restartable!();

    fn main_loop_spawn(&self) -> MainLoopSpawn {
        MainLoopSpawn::Caller
    }
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

/// Turns every node's loop until `call` resolves: the calls' answers come
/// from these same turns.
fn drive<T>(drivers: &mut [MainLoopDriver<OneThread>], call: impl Future<Output = T>) -> Result<T> {
    let mut call = pin!(call);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(answer) = call.as_mut().poll(&mut cx) {
            return Ok(answer);
        }
        for driver in drivers.iter_mut() {
            driver.run_once(Duration::from_millis(1))?;
        }
    }
}

fn main() -> Result<()> {
    let timeout = Duration::from_secs(5);
    let (mut drivers, handles): (Vec<_>, Vec<_>) = (0..3)
        .map(|_| mydht::start_driven(OneThread))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .unzip();
    // Node 0 connects to the two others.
    for other in &handles[1..] {
        let address = other.local_peer().get_address().parse().expect("address");
        let peer = drive(&mut drivers, handles[0].connect_future(address, timeout)?)??;
        println!("node 0 connected to {}", peer.get_id());
    }
    let peers = drive(
        &mut drivers,
        handles[0].wait_peers_future(PeerCount::AtLeast(2), timeout)?,
    )??;
    println!("node 0 has {} peers", peers.len());
    // A touch of node 2: one reply from node 0 itself, one from node 2.
    let to = *handles[2].local_peer().get_id();
    let replies = drive(
        &mut drivers,
        handles[0].query_future(Touch(to), 2, timeout)?,
    )??;
    println!("touch replies: {replies:?}");
    for handle in handles {
        handle.stop()?;
    }
    // Each driver's next turn stops its node.
    for mut driver in drivers {
        while driver.run_once(Duration::ZERO)? {}
    }
    Ok(())
}
