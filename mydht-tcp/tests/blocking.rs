//! The blocking transport of the synchronous mode: each half on a thread of
//! its own, loopback with port 0, threads joined (no sleeps).

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use mio::Poll;
use mydht_base::{ConnectCheck, ConnectStatus, ErrorKind, Registerable, Transport};
use mydht_tcp::BlockingTcpTransport;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[test]
fn round_trip_with_halves_on_separate_threads() {
    let transport = BlockingTcpTransport::bind(loopback()).unwrap();
    assert!(!transport.is_nonblocking());
    let address = transport.local_address().unwrap();
    assert_ne!(address.port(), 0);

    // Server: an echo whose read half and write half live on two threads,
    // as a read service and a write service would.
    let server = thread::spawn(move || {
        let accepted = transport.accept().unwrap().expect("blocking accept waits");
        let (to_writer, from_reader) = mpsc::sync_channel::<Vec<u8>>(4);
        let mut write = accepted.write.unwrap();
        let writer = thread::spawn(move || {
            for chunk in from_reader {
                write.write_all(&chunk).unwrap();
            }
            // Dropping the write half ends the client's stream.
        });
        let mut read = accepted.read;
        let mut buf = [0u8; 8192];
        loop {
            let n = read.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            to_writer.send(buf[..n].to_vec()).unwrap();
        }
        drop(to_writer);
        writer.join().unwrap();
    });

    let client = BlockingTcpTransport::bind(loopback()).unwrap();
    let connected = client.connect_with(&address).unwrap();
    assert_eq!(
        connected.write.check_connect().unwrap(),
        ConnectStatus::Established
    );
    let mut read = connected.read.unwrap();
    let mut write = connected.write;
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let sent = data.clone();
    let writer = thread::spawn(move || {
        write.write_all(&sent).unwrap();
        // End of our stream: the echo server ends, then ends ours.
    });
    let mut echoed = Vec::new();
    read.read_to_end(&mut echoed).unwrap();
    writer.join().unwrap();
    server.join().unwrap();
    assert!(echoed == data);
}

#[test]
fn many_connections() {
    const CONNECTIONS: usize = 32;
    let transport = BlockingTcpTransport::bind(loopback()).unwrap();
    let address = transport.local_address().unwrap();
    let server = thread::spawn(move || {
        let mut froms = Vec::new();
        for _ in 0..CONNECTIONS {
            let accepted = transport.accept().unwrap().unwrap();
            froms.push(accepted.from);
            let mut read = accepted.read;
            let mut write = accepted.write.unwrap();
            let mut id = [0u8; 8];
            read.read_exact(&mut id).unwrap();
            write.write_all(&id).unwrap();
        }
        froms
    });
    let client = BlockingTcpTransport::bind(loopback()).unwrap();
    for i in 0..CONNECTIONS as u64 {
        let connected = client.connect_with(&address).unwrap();
        let mut write = connected.write;
        write.write_all(&i.to_be_bytes()).unwrap();
        let mut back = [0u8; 8];
        connected.read.unwrap().read_exact(&mut back).unwrap();
        assert_eq!(u64::from_be_bytes(back), i);
    }
    let mut froms = server.join().unwrap();
    froms.sort();
    froms.dedup();
    assert_eq!(froms.len(), CONNECTIONS, "each connection has its own port");
}

#[test]
fn io_timeout_ends_a_read_from_a_silent_peer() {
    let transport = BlockingTcpTransport::bind(loopback())
        .unwrap()
        .with_io_timeout(Some(Duration::from_millis(50)));
    let connected = transport
        .connect_with(&transport.local_address().unwrap())
        .unwrap();
    // The accepted side stays silent but open.
    let _accepted = transport.accept().unwrap().unwrap();
    let mut buf = [0u8; 4];
    let error = connected.read.unwrap().read(&mut buf).unwrap_err();
    // Unix reports an expired socket timeout as `WouldBlock`.
    assert!(
        matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{error:?}"
    );
}

#[test]
fn connect_to_a_closed_port_is_an_error_at_once() {
    let closed = std::net::TcpListener::bind(loopback())
        .unwrap()
        .local_addr()
        .unwrap();
    let transport = BlockingTcpTransport::bind(loopback()).unwrap();
    let error = transport.connect_with(&closed).unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::Io(io::ErrorKind::ConnectionRefused)
    );
}

#[test]
fn cannot_be_polled() {
    let poll = Poll::new().unwrap();
    let mut transport = BlockingTcpTransport::bind(loopback()).unwrap();
    assert!(!transport.register(poll.registry(), 0).unwrap());
    let mut connected = transport
        .connect_with(&transport.local_address().unwrap())
        .unwrap();
    assert!(!connected.write.register(poll.registry(), 1).unwrap());
    let mut read = connected.read.unwrap();
    assert!(!read.register(poll.registry(), 2).unwrap());
    read.deregister(poll.registry()).unwrap();
}
