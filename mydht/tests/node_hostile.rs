//! What an authenticated peer that turns hostile can do to a node: nothing
//! that lasts. A raw client completes the real handshake with a live node
//! over TCP, then sends either a chunk whose ciphertext was changed (its
//! tag no longer checks) or a well-sealed frame whose body is not a message.
//! Either way the node drops that connection (the client reads the socket's
//! end), logs why (a failed chunk, a failed decode: one case cannot pass for
//! the other), and keeps serving a normal peer.

mod log_capture;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use log_capture::Captured;
use mydht::auth::AuthMessage;
use mydht::frame::WireMessage;
use mydht::{
    Bincode, FrameReader, FrameWriter, Handshake, MyDHTConf, NodeHandle, PeerCount, SessionShadow,
    Shadow,
};
use mydht_base::{Peer, Result};
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::harness::nodes::{connect_and_touch, touch, wait_peers, TIMEOUT};
use mydht_basetest::harness::touch::{Touch, TouchMsg, Touched};
use mydht_basetest::peers::local_peer;
use mydht_basetest::{touch_conf, touch_conf_items};
use mydht_tcp::TcpTransport;
use readwrite_comp::CompW;

macro_rules! logged_conf {
    ($name:ident, $profile:ident) => {
        /// A touch node on loopback TCP whose logs go to a capture.
        struct $name(Captured);

        impl MyDHTConf for $name {
            touch_conf_items!($profile, TcpTransport);

            fn init_transport(&mut self) -> Result<TcpTransport> {
                loopback()
            }
            fn logger(&self) -> slog::Logger {
                self.0.logger()
            }
        }
    };
}

logged_conf!(AttackedRestart, restartable);
logged_conf!(AttackedThreaded, threaded);
touch_conf!(Normal, threaded, TcpTransport, loopback());

/// The nodes' encoder (the harness's touch nodes use bincode).
const ENC: Bincode = Bincode;

/// Frames of the handshake are small.
const AUTH_FRAME: usize = 8 * 1024;

/// A client that authenticated with a node the way a node does, and holds
/// the session keys: what it sends next is up to the test.
struct RawPeer {
    stream: TcpStream,
    /// This side's session shadow, sealing chunk after chunk.
    writer: Option<<SessionShadow as Shadow>::Writer>,
}

impl RawPeer {
    /// Dials `node` and runs the three-message handshake with it.
    fn authenticate<C: MyDHTConf>(node: &NodeHandle<C>) -> RawPeer {
        // An address nothing listens on: the node never reaches it back.
        let me = local_peer("127.0.0.1:9");
        let mut stream = TcpStream::connect(node.local_peer().get_address()).expect("dial");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let expected = Some(*node.local_peer().get_id());
        let (mut hs, ping) =
            Handshake::initiate(me, expected, TIMEOUT, Instant::now()).expect("ping");
        let mut out = FrameWriter::new(AUTH_FRAME);
        out.push_msg(&ENC, &AuthMessage::Ping(ping))
            .expect("push ping");
        out.write_to(&mut stream).expect("send ping");
        let mut input = FrameReader::new(AUTH_FRAME);
        let pong = match input.read_msg::<AuthMessage, _, _>(&ENC, &mut stream) {
            Ok(Some(AuthMessage::Pong(pong))) => pong,
            other => panic!("expected a pong, got {other:?}"),
        };
        let (fin, auth) = hs.on_pong(&pong, Instant::now()).expect("pong checks");
        assert_eq!(auth.peer.get_id(), node.local_peer().get_id());
        out.push_msg(&ENC, &AuthMessage::PongFinal(fin))
            .expect("push final");
        out.write_to(&mut stream).expect("send final");
        let writer = SessionShadow::default().writer(&auth.keys).expect("shadow");
        let mut raw = RawPeer {
            stream,
            writer: Some(writer),
        };
        // A node makes a peer online once the peer admitted it too: its
        // first frame says so.
        let mut admitted = Vec::new();
        mydht_base::MsgEnc::encode(&ENC, &WireMessage::<TouchMsg>::Admitted, &mut admitted)
            .expect("encode");
        let first = raw.sealed_frame(&admitted);
        raw.stream.write_all(&first).expect("send the admission");
        raw
    }

    /// The session's next chunk as the node's shadow expects it: `frame`
    /// (a length prefix and `body`) sealed with this side's key.
    fn sealed_frame(&mut self, body: &[u8]) -> Vec<u8> {
        let writer = self
            .writer
            .take()
            .expect("the shadow is back after each chunk");
        let mut sealed = CompW::new(Vec::new(), writer);
        let mut frames = FrameWriter::new(AUTH_FRAME);
        frames.push_frame(body).expect("frame");
        frames.write_to(&mut sealed).expect("seal");
        let (bytes, writer) = sealed.into_parts();
        self.writer = Some(writer);
        bytes
    }

    /// Sends `bytes`, then reads (and discards) what the node sends until
    /// it closes the socket: true if it did within the test timeout.
    fn closed_after(mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).expect("send the attack");
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return false
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
                Err(e) => panic!("unexpected read error {e}"),
            }
        }
    }
}

/// A message the node would take, encoded: the tampered case changes only
/// its seal.
fn valid_body() -> Vec<u8> {
    let msg: WireMessage<TouchMsg> = WireMessage::App(TouchMsg::Touched(0xa11ce, [0xaa; 32]));
    let mut body = Vec::new();
    mydht_base::MsgEnc::encode(&ENC, &msg, &mut body).expect("encode");
    body
}

/// The attack a raw peer makes once authenticated.
enum Attack {
    /// A valid message whose sealed chunk has one ciphertext byte changed.
    TamperedChunk,
    /// A well-sealed frame whose body is not a message (variant 0xb0).
    UndecodableFrame,
}

/// `attack` on a live node (logging into `log`) that also serves a normal
/// peer: the attacker is disconnected, the node says why, the normal peer
/// is still served.
fn hostile_peer<C>(mk: fn(Captured) -> C, attack: Attack)
where
    C: MyDHTConf<GlobalCmd = Touch, ApiReply = Touched>,
{
    let log = Captured::new();
    let node = mydht::start_loop(mk(log.clone())).expect("attacked node");
    let normal = mydht::start_loop(Normal).expect("normal node");
    connect_and_touch(&normal, &node);

    let mut raw = RawPeer::authenticate(&node);
    // The raw peer is admitted: the attack comes from an authenticated
    // peer, not from one refused at the handshake.
    wait_peers(&node, PeerCount::AtLeast(2)).expect("raw peer admitted");

    let (bytes, expected, other) = match attack {
        Attack::TamperedChunk => {
            let mut sealed = raw.sealed_frame(&valid_body());
            // Chunk header (4 bytes), then the ciphertext: the frame's
            // length prefix, then the message; change a message byte.
            sealed[4 + 4 + 3] ^= 0x40;
            (sealed, "chunk failed to open", "error=Decode")
        }
        Attack::UndecodableFrame => {
            let sealed = raw.sealed_frame(&[0xb0; 6]);
            (sealed, "error=Decode", "InvalidData")
        }
    };
    assert!(raw.closed_after(&bytes), "the node kept the connection");

    let dropped = log
        .wait_for(TIMEOUT, |l| {
            l.contains("connection dropped") && l.contains(expected)
        })
        .unwrap_or_else(|| panic!("no drop logged with {expected:?}: {:#?}", log.lines()));
    assert!(!dropped.contains(other), "{dropped}");
    assert!(
        !log.lines().iter().any(|l| l.contains(other)),
        "the other attack's error was logged: {:#?}",
        log.lines()
    );

    // The node serves its normal peer as before.
    let peers = wait_peers(&node, PeerCount::AtMost(1)).expect("raw peer offline");
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].get_id(), normal.local_peer().get_id());
    let mut want = vec![
        Touched(*normal.local_peer().get_id()),
        Touched(*node.local_peer().get_id()),
    ];
    want.sort_by_key(|t| *t.0.as_bytes());
    assert_eq!(touch(&normal, &node).expect("touch after the attack"), want);
    assert_eq!(touch(&node, &normal).expect("touch back"), want);

    node.stop().expect("stop");
    normal.stop().expect("stop normal");
}

#[test]
fn test_tampered_chunk_restartable() {
    hostile_peer(AttackedRestart, Attack::TamperedChunk);
}

#[test]
fn test_tampered_chunk_threaded() {
    hostile_peer(AttackedThreaded, Attack::TamperedChunk);
}

#[test]
fn test_undecodable_frame_restartable() {
    hostile_peer(AttackedRestart, Attack::UndecodableFrame);
}

#[test]
fn test_undecodable_frame_threaded() {
    hostile_peer(AttackedThreaded, Attack::UndecodableFrame);
}
