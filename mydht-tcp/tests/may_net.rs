//! The may transport: halves used from may coroutines (and from plain
//! threads), loopback with port 0, coroutines joined (no sleeps).
#![cfg(feature = "may")]

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use may::coroutine::JoinHandle;
use mio::Poll;
use mydht_base::{ConnectCheck, ConnectStatus, ErrorKind, Registerable, Transport};
use mydht_tcp::MayTcpTransport;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Runs `f` as a may coroutine.
fn go<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    // SAFETY: the test closures keep no thread-local state across a wait.
    unsafe { may::coroutine::spawn(f) }
}

#[test]
fn round_trip_with_halves_on_separate_coroutines() {
    let transport = MayTcpTransport::bind(loopback()).unwrap();
    assert!(!transport.is_nonblocking());
    let address = transport.local_address().unwrap();
    assert_ne!(address.port(), 0);

    // Server: an echo whose read half and write half live on two
    // coroutines, as a read service and a write service would.
    let server = go(move || {
        let accepted = transport.accept().unwrap().expect("accept waits");
        let (to_writer, from_reader) = may::sync::mpsc::channel::<Vec<u8>>();
        let mut write = accepted.write.unwrap();
        let writer = go(move || {
            while let Ok(chunk) = from_reader.recv() {
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

    let client = go(move || {
        let client = MayTcpTransport::bind(loopback()).unwrap();
        let connected = client.connect_with(&address).unwrap();
        assert_eq!(
            connected.write.check_connect().unwrap(),
            ConnectStatus::Established
        );
        let mut read = connected.read.unwrap();
        let mut write = connected.write;
        // 4 MiB: far more than both sockets buffer, so the writer waits
        // for the echo to be read while the reader waits for data.
        let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let writer = go(move || {
            write.write_all(&sent).unwrap();
            // End of our stream: the echo server ends, then ends ours.
        });
        let mut echoed = Vec::new();
        read.read_to_end(&mut echoed).unwrap();
        writer.join().unwrap();
        echoed == data
    });
    assert!(client.join().unwrap(), "the echo differs");
    server.join().unwrap();
}

/// A plain thread may use the transport too (a node's listener and
/// connector threads do): its waits park the thread.
#[test]
fn halves_from_plain_threads() {
    let transport = MayTcpTransport::bind(loopback()).unwrap();
    let address = transport.local_address().unwrap();
    let server = std::thread::spawn(move || {
        let accepted = transport.accept().unwrap().unwrap();
        let mut read = accepted.read;
        let mut write = accepted.write.unwrap();
        let mut word = [0u8; 5];
        read.read_exact(&mut word).unwrap();
        write.write_all(&word).unwrap();
        accepted.from
    });
    let client = MayTcpTransport::bind(loopback()).unwrap();
    let connected = client.connect_with(&address).unwrap();
    let mut write = connected.write;
    write.write_all(b"hello").unwrap();
    let mut back = [0u8; 5];
    connected.read.unwrap().read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello");
    let from = server.join().unwrap();
    assert_eq!(from.ip(), address.ip());
}

#[test]
fn many_connections_served_by_coroutines() {
    const CONNECTIONS: usize = 64;
    let transport = MayTcpTransport::bind(loopback()).unwrap();
    let address = transport.local_address().unwrap();
    // One coroutine accepts; each connection is answered by a coroutine of
    // its own, all of them on may's few workers.
    let server = go(move || {
        let mut served = Vec::new();
        for _ in 0..CONNECTIONS {
            let accepted = transport.accept().unwrap().unwrap();
            let from = accepted.from;
            served.push(go(move || {
                let mut read = accepted.read;
                let mut write = accepted.write.unwrap();
                let mut id = [0u8; 8];
                read.read_exact(&mut id).unwrap();
                write.write_all(&id).unwrap();
                from
            }));
        }
        let mut froms: Vec<SocketAddr> = served.into_iter().map(|h| h.join().unwrap()).collect();
        froms.sort();
        froms.dedup();
        froms.len()
    });
    let clients: Vec<_> = (0..CONNECTIONS as u64)
        .map(|i| {
            go(move || {
                let client = MayTcpTransport::bind(loopback()).unwrap();
                let connected = client.connect_with(&address).unwrap();
                let mut write = connected.write;
                write.write_all(&i.to_be_bytes()).unwrap();
                let mut back = [0u8; 8];
                connected.read.unwrap().read_exact(&mut back).unwrap();
                u64::from_be_bytes(back)
            })
        })
        .collect();
    for (i, c) in clients.into_iter().enumerate() {
        assert_eq!(c.join().unwrap(), i as u64);
    }
    assert_eq!(
        server.join().unwrap(),
        CONNECTIONS,
        "each connection has its own port"
    );
}

/// How long the test waits for a coroutine's wait to end after an unpark.
const UNPARK_EVERY: Duration = Duration::from_millis(20);

/// Unparks `co` until `ended` gives something (it waits `UNPARK_EVERY`),
/// for 10 s at most.
fn unpark_until<T>(
    co: &may::coroutine::Coroutine,
    mut ended: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        co.unpark();
        if let Some(v) = ended() {
            return Some(v);
        }
    }
    None
}

/// A coroutine's wait has no timer: it ends when the socket is ready, or
/// with `WouldBlock` when something else unparks the coroutine (an unpark
/// made before it parks counts: may keeps it). may keeps one unpark, not
/// a count: an unpark that comes with the socket's own wake-up (the
/// writable state the socket reports when it starts waiting) is taken by
/// that wake-up, and the wait goes on; so the test unparks until the wait
/// ends.
#[test]
fn an_unpark_ends_a_coroutine_wait() {
    let transport = MayTcpTransport::bind(loopback())
        .unwrap()
        .with_io_timeout(Some(Duration::from_millis(50)));
    let address = transport.local_address().unwrap();
    let connected = transport.connect_with(&address).unwrap();
    // The accepted side stays silent, reads nothing, but stays open.
    let accepted = transport.accept().unwrap().unwrap();
    let mut read = connected.read.unwrap();
    let mut write = connected.write;
    let (read_done, read_ended) = std::sync::mpsc::channel();
    let (result, finished) = std::sync::mpsc::channel();
    let waiter = go(move || {
        let read_error = read.read(&mut [0u8; 4]).unwrap_err().kind();
        read_done.send(()).unwrap();
        // The socket buffers fill up, then a write waits.
        let block = vec![0u8; 64 * 1024];
        let mut written = 0usize;
        let write_error = loop {
            match write.write(&block) {
                Ok(n) => written += n,
                Err(e) => break e.kind(),
            }
        };
        result
            .send((read_error, write_error, written, read))
            .unwrap();
    });
    // Unparks until the read's wait ended, then until the write's did.
    let co = waiter.coroutine();
    unpark_until(co, || read_ended.recv_timeout(UNPARK_EVERY).ok()).expect("the read's wait ended");
    let (read_error, write_error, written, mut read) =
        unpark_until(co, || finished.recv_timeout(UNPARK_EVERY).ok())
            .expect("the write's wait ended");
    waiter.join().unwrap();
    assert_eq!(read_error, io::ErrorKind::WouldBlock);
    assert_eq!(write_error, io::ErrorKind::WouldBlock);
    assert!(written > 0);
    // The stream still works after.
    let mut peer = accepted.write.unwrap();
    peer.write_all(b"late").unwrap();
    let mut late = [0u8; 4];
    read.read_exact(&mut late).unwrap();
    assert_eq!(&late, b"late");
}

/// From a plain thread (the node's listener and connector threads), the
/// timeouts hold too.
#[test]
fn io_timeout_on_a_plain_thread() {
    let transport = MayTcpTransport::bind(loopback())
        .unwrap()
        .with_io_timeout(Some(Duration::from_millis(50)));
    let address = transport.local_address().unwrap();
    let connected = transport.connect_with(&address).unwrap();
    let accepted = transport.accept().unwrap().unwrap();
    let mut read = connected.read.unwrap();
    let started = Instant::now();
    let error = read.read(&mut [0u8; 4]).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
    assert!(started.elapsed() >= Duration::from_millis(50));
    // A write to a peer that never reads fills the buffers, then times out.
    let mut write = connected.write;
    let block = vec![0u8; 64 * 1024];
    let error = loop {
        if let Err(e) = write.write(&block) {
            break e;
        }
    };
    assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
    // Then the peer reads: the stream goes on.
    let mut peer = accepted.read;
    let mut some = [0u8; 1024];
    assert_eq!(peer.read(&mut some).unwrap(), 1024);
}

/// A coroutine and a plain thread on the two ends of one connection.
#[test]
fn a_thread_and_a_coroutine_talk() {
    let transport = MayTcpTransport::bind(loopback()).unwrap();
    let address = transport.local_address().unwrap();
    let server = go(move || {
        let accepted = transport.accept().unwrap().unwrap();
        let mut read = accepted.read;
        let mut write = accepted.write.unwrap();
        let mut all = Vec::new();
        read.read_to_end(&mut all).unwrap();
        write.write_all(&(all.len() as u64).to_be_bytes()).unwrap();
    });
    let client = MayTcpTransport::bind(loopback()).unwrap();
    let connected = client.connect_with(&address).unwrap();
    let mut write = connected.write;
    // More than the socket buffers take: the thread waits to write.
    write.write_all(&vec![5u8; 4_000_000]).unwrap();
    drop(write);
    let mut len = [0u8; 8];
    connected.read.unwrap().read_exact(&mut len).unwrap();
    assert_eq!(u64::from_be_bytes(len), 4_000_000);
    server.join().unwrap();
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let closed = std::net::TcpListener::bind(loopback())
        .unwrap()
        .local_addr()
        .unwrap();
    let transport = MayTcpTransport::bind(loopback()).unwrap();
    // From a plain thread (std connects) and from a coroutine (may does).
    let error = transport.connect_with(&closed).map(drop).unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::Io(io::ErrorKind::ConnectionRefused)
    );
    let error = go(move || transport.connect_with(&closed).map(drop).unwrap_err())
        .join()
        .unwrap();
    assert_eq!(
        error.kind(),
        ErrorKind::Io(io::ErrorKind::ConnectionRefused)
    );
}

/// The port of a listening transport is not shared with a second one
/// (may's own `bind` would set `SO_REUSEPORT` and split the connections
/// between them).
#[test]
fn a_port_in_use_is_refused() {
    let first = MayTcpTransport::bind(loopback()).unwrap();
    let taken = first.local_address().unwrap();
    let error = MayTcpTransport::bind(taken).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Io(io::ErrorKind::AddrInUse));
    let std_taken = std::net::TcpListener::bind(loopback()).unwrap();
    let error = MayTcpTransport::bind(std_taken.local_addr().unwrap()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Io(io::ErrorKind::AddrInUse));
}

#[test]
fn dropping_the_write_half_ends_the_peer_stream() {
    let transport = MayTcpTransport::bind(loopback()).unwrap();
    let connected = transport
        .connect_with(&transport.local_address().unwrap())
        .unwrap();
    let accepted = transport.accept().unwrap().unwrap();
    drop(connected.write);
    let mut peer_read = accepted.read;
    let mut rest = Vec::new();
    peer_read.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    // Our read half still works.
    accepted.write.unwrap().write_all(b"still").unwrap();
    let mut back = [0u8; 5];
    connected.read.unwrap().read_exact(&mut back).unwrap();
    assert_eq!(&back, b"still");
}

#[test]
fn cannot_be_polled() {
    let poll = Poll::new().unwrap();
    let mut transport = MayTcpTransport::bind(loopback()).unwrap();
    assert!(!transport.register(poll.registry(), 0).unwrap());
    let mut connected = transport
        .connect_with(&transport.local_address().unwrap())
        .unwrap();
    assert!(!connected.write.register(poll.registry(), 1).unwrap());
    let mut read = connected.read.unwrap();
    assert!(!read.register(poll.registry(), 2).unwrap());
    read.deregister(poll.registry()).unwrap();
}
