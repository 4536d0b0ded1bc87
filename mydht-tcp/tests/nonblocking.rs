//! The mio transport driven by a real `Poll`, as the node's main loop drives
//! it: one registration per connection for both directions, readiness from
//! events only (no sleeps), loopback with port 0.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mio::{Events, Poll};
use mydht_base::{ConnectCheck, ConnectStatus, ErrorKind, Registerable, Transport};
use mydht_tcp::{TcpReadStream, TcpTransport, TcpWriteStream};

const LISTENER: usize = 0;
const DEADLINE: Duration = Duration::from_secs(20);

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// One end of a connection and what the test makes it send and expects.
struct End {
    read: TcpReadStream,
    write: TcpWriteStream,
    to_send: Vec<u8>,
    sent: usize,
    received: Vec<u8>,
    eof: bool,
}

impl End {
    fn new(read: TcpReadStream, write: TcpWriteStream, to_send: Vec<u8>) -> Self {
        End {
            read,
            write,
            to_send,
            sent: 0,
            received: Vec::new(),
            eof: false,
        }
    }

    /// What a read and a write service do on readiness: go on until
    /// `WouldBlock` (mio readiness is edge triggered).
    fn pump(&mut self) {
        while self.sent < self.to_send.len() {
            match self.write.write(&self.to_send[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        let mut buf = [0u8; 16 * 1024];
        while !self.eof {
            match self.read.read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => self.received.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
        }
    }
}

/// Waits on a `Poll` for the tokens of the next events, failing the test
/// when nothing useful happened before a generous deadline.
struct Waiter {
    events: Events,
    start: Instant,
}

impl Waiter {
    fn new() -> Self {
        Waiter {
            events: Events::with_capacity(256),
            start: Instant::now(),
        }
    }

    fn next(&mut self, poll: &mut Poll) -> Vec<usize> {
        assert!(
            self.start.elapsed() < DEADLINE,
            "no progress before the deadline"
        );
        poll.poll(&mut self.events, Some(Duration::from_millis(200)))
            .unwrap();
        self.events.iter().map(|e| e.token().0).collect()
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

#[test]
fn listener_reports_its_real_port() {
    let transport = TcpTransport::bind(loopback()).unwrap();
    let address = transport.local_address().unwrap();
    assert_eq!(address.ip(), loopback().ip());
    assert_ne!(address.port(), 0);
    assert!(transport.is_nonblocking());
    assert!(transport.accept().unwrap().is_none(), "nothing pending yet");
}

#[test]
fn data_both_ways_on_one_registration_per_connection() {
    let mut poll = Poll::new().unwrap();
    let mut transport = TcpTransport::bind(loopback()).unwrap();
    assert!(transport.register(poll.registry(), LISTENER).unwrap());

    // Bigger than the socket buffers, so both sides hit `WouldBlock` and rely
    // on writable readiness of the same registration.
    let len = 4 * 1024 * 1024;
    let connected = transport
        .connect_with(&transport.local_address().unwrap())
        .unwrap();
    let mut client = End::new(
        connected.read.expect("tcp is bidirectional"),
        connected.write,
        pattern(len, 1),
    );
    // The client registers its write half, the server its read half: either
    // half registers the whole connection.
    assert!(client.write.register(poll.registry(), 1).unwrap());
    let mut server: Option<End> = None;
    let mut established = false;

    let mut waiter = Waiter::new();
    while client.received.len() < len || server.as_ref().is_none_or(|s| s.received.len() < len) {
        for token in waiter.next(&mut poll) {
            match token {
                LISTENER => {
                    while let Some(accepted) = transport.accept().unwrap() {
                        assert_eq!(accepted.from, accepted.read.peer_address().unwrap());
                        let mut end = End::new(
                            accepted.read,
                            accepted.write.expect("tcp is bidirectional"),
                            pattern(len, 2),
                        );
                        assert!(end.read.register(poll.registry(), 2).unwrap());
                        server = Some(end);
                    }
                }
                1 => {
                    if !established {
                        match client.write.check_connect().unwrap() {
                            ConnectStatus::Pending => continue,
                            ConnectStatus::Established => established = true,
                        }
                    }
                    client.pump();
                }
                2 => server.as_mut().unwrap().pump(),
                other => panic!("unknown token {other}"),
            }
        }
    }
    assert!(client.received == pattern(len, 2));
    assert!(server.unwrap().received == pattern(len, 1));
}

#[test]
fn connect_to_a_closed_port_fails_through_check_connect() {
    // A port that was just free: bound then released.
    let closed = std::net::TcpListener::bind(loopback())
        .unwrap()
        .local_addr()
        .unwrap();
    let mut poll = Poll::new().unwrap();
    let transport = TcpTransport::bind(loopback()).unwrap();
    let mut connected = match transport.connect_with(&closed) {
        Ok(connected) => connected,
        // Allowed by the contract, though Linux reports it asynchronously.
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Io(io::ErrorKind::ConnectionRefused));
            return;
        }
    };
    connected.write.register(poll.registry(), 7).unwrap();
    let mut outcome = None;
    let mut waiter = Waiter::new();
    while outcome.is_none() {
        for token in waiter.next(&mut poll) {
            {
                assert_eq!(token, 7);
                match connected.write.check_connect() {
                    Ok(ConnectStatus::Pending) => {}
                    Ok(ConnectStatus::Established) => panic!("connected to a closed port"),
                    Err(e) => outcome = Some(e),
                }
            }
        }
    }
    let error = outcome.unwrap();
    assert_eq!(
        error.kind(),
        ErrorKind::Io(io::ErrorKind::ConnectionRefused)
    );
    assert_eq!(error.level(), mydht_base::ErrorLevel::ShutDown);
}

#[test]
fn dropping_the_write_half_is_end_of_stream_for_the_peer_only() {
    let mut poll = Poll::new().unwrap();
    let mut transport = TcpTransport::bind(loopback()).unwrap();
    transport.register(poll.registry(), LISTENER).unwrap();
    let connected = transport
        .connect_with(&transport.local_address().unwrap())
        .unwrap();
    let mut client_read = connected.read.unwrap();
    client_read.register(poll.registry(), 1).unwrap();
    // The client has nothing to say: its write half goes at once.
    drop(connected.write);

    let mut server = None;
    let mut client_received = Vec::new();
    let mut client_eof = false;
    let mut buf = [0u8; 64];
    let mut waiter = Waiter::new();
    while !client_eof {
        for token in waiter.next(&mut poll) {
            match token {
                LISTENER => {
                    if let Some(accepted) = transport.accept().unwrap() {
                        let mut end = End::new(
                            accepted.read,
                            accepted.write.unwrap(),
                            b"still here".to_vec(),
                        );
                        end.read.register(poll.registry(), 2).unwrap();
                        end.pump();
                        server = Some(end);
                    }
                }
                1 => loop {
                    match client_read.read(&mut buf) {
                        Ok(0) => {
                            client_eof = true;
                            break;
                        }
                        Ok(n) => client_received.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => panic!("{e}"),
                    }
                },
                2 => {
                    let end = server.as_mut().unwrap();
                    end.pump();
                    if end.eof && end.sent == end.to_send.len() {
                        // Closing our side in turn ends the client's read.
                        server = None;
                    }
                }
                other => panic!("unknown token {other}"),
            }
        }
    }
    assert_eq!(client_received, b"still here");
}

#[test]
fn many_connections_on_one_poll() {
    const CONNECTIONS: usize = 64;
    // Fixed length: the server knows when it has a whole message.
    const MESSAGE_LEN: usize = 11;
    fn message(i: usize) -> Vec<u8> {
        format!("client {i:04}").into_bytes()
    }
    let mut poll = Poll::new().unwrap();
    let mut transport = TcpTransport::bind(loopback()).unwrap();
    transport.register(poll.registry(), LISTENER).unwrap();
    let address = transport.local_address().unwrap();

    let mut ends: HashMap<usize, End> = HashMap::new();
    for i in 0..CONNECTIONS {
        let connected = transport.connect_with(&address).unwrap();
        let mut end = End::new(connected.read.unwrap(), connected.write, message(i));
        end.write.register(poll.registry(), 1 + i).unwrap();
        ends.insert(1 + i, end);
    }
    let mut next_token = 1 + CONNECTIONS;
    // Each server end answers with what it received, once it has it all.
    let mut answered: HashMap<usize, bool> = HashMap::new();
    let mut waiter = Waiter::new();
    let all_echoed = |ends: &HashMap<usize, End>| {
        (1..=CONNECTIONS)
            .all(|t| ends[&t].received == [b"echo ".as_slice(), &message(t - 1)].concat())
    };
    while !all_echoed(&ends) {
        for token in waiter.next(&mut poll) {
            if token == LISTENER {
                while let Some(accepted) = transport.accept().unwrap() {
                    let mut end = End::new(accepted.read, accepted.write.unwrap(), Vec::new());
                    end.read.register(poll.registry(), next_token).unwrap();
                    answered.insert(next_token, false);
                    ends.insert(next_token, end);
                    next_token += 1;
                }
                continue;
            }
            let end = ends.get_mut(&token).unwrap();
            end.pump();
            if let Some(done) = answered.get_mut(&token) {
                if !*done && end.received.len() == MESSAGE_LEN {
                    end.to_send = [b"echo ".as_slice(), &end.received].concat();
                    *done = true;
                    end.pump();
                }
            }
        }
    }
    assert_eq!(ends.len(), 2 * CONNECTIONS);
}

/// What the main loop does with readiness: wake the service owning a half,
/// which runs on a thread of its own. A pending wake-up is enough: the
/// service does its I/O after taking it.
fn wake(service: &mpsc::SyncSender<()>) {
    match service.try_send(()) {
        Ok(()) | Err(mpsc::TrySendError::Full(())) => {}
        Err(mpsc::TrySendError::Disconnected(())) => {} // the service ended
    }
}

#[test]
fn read_and_write_services_on_their_own_threads() {
    const LEN: usize = 2 * 1024 * 1024;
    let mut poll = Poll::new().unwrap();
    let mut transport = TcpTransport::bind(loopback()).unwrap();
    transport.register(poll.registry(), LISTENER).unwrap();
    let connected = transport
        .connect_with(&transport.local_address().unwrap())
        .unwrap();
    let mut write = connected.write;
    write.register(poll.registry(), 1).unwrap();

    let mut waiter = Waiter::new();
    let accepted = loop {
        if let Some(accepted) = transport.accept().unwrap() {
            break accepted;
        }
        waiter.next(&mut poll);
    };
    let mut read = accepted.read;
    read.register(poll.registry(), 2).unwrap();

    // The write service: connects, then writes until `WouldBlock` on each
    // wake-up.
    let (wake_writer, woken) = mpsc::sync_channel::<()>(1);
    let writer = thread::spawn(move || {
        let data = pattern(LEN, 3);
        let mut sent = 0;
        while sent < LEN {
            woken.recv_timeout(DEADLINE).expect("write service woken");
            if write.check_connect().unwrap() == ConnectStatus::Pending {
                continue;
            }
            while sent < LEN {
                match write.write(&data[sent..]) {
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        // Dropping `write` ends the stream: the reader stops on it.
    });
    // The read service: reads until `WouldBlock` on each wake-up.
    let (wake_reader, woken) = mpsc::sync_channel::<()>(1);
    let (done, finished) = mpsc::channel();
    let reader = thread::spawn(move || {
        let mut received = Vec::new();
        let mut buf = [0u8; 32 * 1024];
        loop {
            woken.recv_timeout(DEADLINE).expect("read service woken");
            loop {
                match read.read(&mut buf) {
                    Ok(0) => {
                        done.send(received).unwrap();
                        return;
                    }
                    Ok(n) => received.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
        }
    });

    let received = loop {
        if let Ok(received) = finished.try_recv() {
            break received;
        }
        for token in waiter.next(&mut poll) {
            match token {
                LISTENER => {}
                1 => wake(&wake_writer),
                2 => wake(&wake_reader),
                other => panic!("unknown token {other}"),
            }
        }
    };
    writer.join().unwrap();
    reader.join().unwrap();
    assert!(received == pattern(LEN, 3));
}
