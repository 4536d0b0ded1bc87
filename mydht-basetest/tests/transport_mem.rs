//! The in-memory transport: pipes per connection, bounded buffers, every
//! fault it injects, and readiness a real `mio::Poll` wakes on. No sleeps:
//! waits are on poll events or thread joins, with deadlines.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mio::{Events, Poll};
use mydht_base::{ConnectCheck, ConnectStatus, ErrorKind, Registerable, Transport};
use mydht_basetest::transport::{Faults, MemAddress, MemConfig, MemNetwork, MemTransport};

const DEADLINE: Duration = Duration::from_secs(10);

/// Polls until an event for `token` comes; returns (readable, writable).
fn wait_for(poll: &mut Poll, token: usize) -> (bool, bool) {
    let start = Instant::now();
    let mut events = Events::with_capacity(64);
    loop {
        assert!(start.elapsed() < DEADLINE, "no event for token {token}");
        poll.poll(&mut events, Some(Duration::from_millis(200)))
            .unwrap();
        if let Some(e) = events.iter().find(|e| e.token().0 == token) {
            return (e.is_readable(), e.is_writable());
        }
    }
}

fn pair(server: MemConfig, client: MemConfig) -> (MemNetwork, MemTransport, MemTransport) {
    let network = MemNetwork::new();
    let s = network.listen(server).unwrap();
    let c = network.listen(client).unwrap();
    (network, s, c)
}

fn would_block<T: std::fmt::Debug>(result: io::Result<T>) -> bool {
    matches!(result, Err(ref e) if e.kind() == io::ErrorKind::WouldBlock)
}

#[test]
fn a_connection_is_a_pipe_each_way() {
    let (_net, server, client) = pair(MemConfig::nonblocking(), MemConfig::nonblocking());
    assert!(server.is_nonblocking());
    assert_ne!(
        server.local_address().unwrap(),
        client.local_address().unwrap()
    );
    assert!(server.accept().unwrap().is_none());

    let mut connected = client
        .connect_with(&server.local_address().unwrap())
        .unwrap();
    assert_eq!(
        connected.write.check_connect().unwrap(),
        ConnectStatus::Established
    );
    let mut accepted = server.accept().unwrap().unwrap();
    assert_eq!(accepted.from, client.local_address().unwrap());

    connected.write.write_all(b"ping").unwrap();
    accepted.write.as_mut().unwrap().write_all(b"pong").unwrap();
    let mut buf = [0u8; 4];
    accepted.read.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    let mut client_read = connected.read.unwrap();
    client_read.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong");
    assert!(would_block(client_read.read(&mut buf)));
}

#[test]
fn connecting_to_nothing_or_a_full_backlog_is_refused() {
    let network = MemNetwork::new();
    let server = network
        .listen(MemConfig::nonblocking().with_backlog(2))
        .unwrap();
    let client = network.listen(MemConfig::nonblocking()).unwrap();
    let error = client.connect_with(&MemAddress(u64::MAX)).unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::Io(io::ErrorKind::ConnectionRefused)
    );

    let address = server.local_address().unwrap();
    let _first = client.connect_with(&address).unwrap();
    let _second = client.connect_with(&address).unwrap();
    let error = client.connect_with(&address).unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::Io(io::ErrorKind::ConnectionRefused)
    );
    // Accepting one makes room for one.
    let _accepted = server.accept().unwrap().unwrap();
    let _third = client.connect_with(&address).unwrap();

    let taken = network.listen_at(address, MemConfig::nonblocking());
    assert_eq!(
        taken.unwrap_err().kind(),
        ErrorKind::Io(io::ErrorKind::AddrInUse)
    );
}

#[test]
fn a_poll_wakes_on_connections_and_data() {
    let mut poll = Poll::new().unwrap();
    let (_net, mut server, client) = pair(MemConfig::nonblocking(), MemConfig::nonblocking());
    assert!(server.register(poll.registry(), 0).unwrap());
    // Registration rings once; accept until nothing is left, as with TCP.
    wait_for(&mut poll, 0);
    assert!(server.accept().unwrap().is_none());

    let connected = client
        .connect_with(&server.local_address().unwrap())
        .unwrap();
    let (readable, _) = wait_for(&mut poll, 0);
    assert!(readable);
    let mut accepted = server.accept().unwrap().unwrap();
    assert!(accepted.read.register(poll.registry(), 1).unwrap());
    wait_for(&mut poll, 1);
    let mut buf = [0u8; 16];
    assert!(would_block(accepted.read.read(&mut buf)));

    // Data written on another thread wakes the poll of this one.
    let writer = thread::spawn(move || {
        let mut write = connected.write;
        write.write_all(b"woken").unwrap();
        write
    });
    let (readable, writable) = wait_for(&mut poll, 1);
    assert!(readable && writable, "both directions are reported");
    assert_eq!(accepted.read.read(&mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"woken");

    // The peer's end of stream wakes it too.
    drop(writer.join().unwrap());
    wait_for(&mut poll, 1);
    assert_eq!(accepted.read.read(&mut buf).unwrap(), 0);
}

#[test]
fn a_full_pipe_is_would_block_and_draining_it_wakes_the_writer() {
    let mut poll = Poll::new().unwrap();
    let (_net, server, client) = pair(
        MemConfig::nonblocking().with_pipe_capacity(1000),
        MemConfig::nonblocking(),
    );
    let connected = client
        .connect_with(&server.local_address().unwrap())
        .unwrap();
    let mut write = connected.write;
    let mut accepted = server.accept().unwrap().unwrap();
    assert!(write.register(poll.registry(), 5).unwrap());
    wait_for(&mut poll, 5);

    let chunk = [9u8; 300];
    let mut total = 0;
    loop {
        match write.write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(total, 1000, "the pipe holds its capacity and no more");

    let mut buf = [0u8; 250];
    assert_eq!(accepted.read.read(&mut buf).unwrap(), 250);
    let (_, writable) = wait_for(&mut poll, 5);
    assert!(writable);
    assert_eq!(write.write(&chunk).unwrap(), 250);
    assert!(would_block(write.write(&chunk)));
}

#[test]
fn short_reads_and_writes_keep_the_bytes() {
    let (_net, server, client) = pair(
        MemConfig::nonblocking().with_faults(Faults::default().short_reads(3)),
        MemConfig::nonblocking().with_faults(Faults::default().short_writes(5)),
    );
    let mut connected = client
        .connect_with(&server.local_address().unwrap())
        .unwrap();
    let mut accepted = server.accept().unwrap().unwrap();
    let data: Vec<u8> = (0..100).collect();
    assert_eq!(connected.write.write(&data).unwrap(), 5);
    connected.write.write_all(&data[5..]).unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 64];
    while received.len() < data.len() {
        let n = accepted.read.read(&mut buf).unwrap();
        assert!((1..=3).contains(&n));
        received.extend_from_slice(&buf[..n]);
    }
    assert_eq!(received, data);
}

#[test]
fn would_block_at_chosen_offsets_then_a_readiness_event() {
    let mut poll = Poll::new().unwrap();
    let (_net, server, client) = pair(
        MemConfig::nonblocking().with_faults(Faults::default().would_block_on_read_at(7)),
        MemConfig::nonblocking().with_faults(Faults::default().would_block_on_write_at(10)),
    );
    let connected = client
        .connect_with(&server.local_address().unwrap())
        .unwrap();
    let mut write = connected.write;
    let mut accepted = server.accept().unwrap().unwrap();
    write.register(poll.registry(), 1).unwrap();
    accepted.read.register(poll.registry(), 2).unwrap();
    wait_for(&mut poll, 1);

    let data: Vec<u8> = (0..20).collect();
    assert_eq!(write.write(&data).unwrap(), 10, "stops before offset 10");
    assert!(would_block(write.write(&data[10..])));
    // A service suspended on that `WouldBlock` is resumed by an event.
    wait_for(&mut poll, 1);
    assert_eq!(write.write(&data[10..]).unwrap(), 10);

    let mut buf = [0u8; 20];
    assert_eq!(accepted.read.read(&mut buf).unwrap(), 7, "stops before 7");
    assert!(would_block(accepted.read.read(&mut buf[7..])));
    wait_for(&mut poll, 2);
    assert_eq!(accepted.read.read(&mut buf[7..]).unwrap(), 13);
    assert_eq!(buf.to_vec(), data);
}

#[test]
fn dropped_halves_are_end_of_stream_and_broken_pipe() {
    let (_net, server, client) = pair(MemConfig::nonblocking(), MemConfig::nonblocking());
    let mut connected = client
        .connect_with(&server.local_address().unwrap())
        .unwrap();
    let mut accepted = server.accept().unwrap().unwrap();
    connected.write.write_all(b"last words").unwrap();
    drop(connected.write);
    let mut received = Vec::new();
    accepted.read.read_to_end(&mut received).unwrap();
    assert_eq!(received, b"last words");

    drop(connected.read);
    let error = accepted.write.unwrap().write(b"anyone?").unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
}

#[test]
fn a_cut_connection_is_reset_on_both_sides() {
    let (_net, server, client) = pair(
        MemConfig::nonblocking(),
        MemConfig::nonblocking().with_faults(Faults::default().cut_after(5)),
    );
    let mut connected = client
        .connect_with(&server.local_address().unwrap())
        .unwrap();
    let mut accepted = server.accept().unwrap().unwrap();
    assert_eq!(connected.write.write(b"0123456789").unwrap(), 5);
    let error = connected.write.write(b"56789").unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
    assert!(connected.write.check_connect().is_err());

    let mut buf = [0u8; 10];
    assert_eq!(accepted.read.read(&mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"01234");
    let error = accepted.read.read(&mut buf).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
    // The other direction is gone too.
    let error = accepted.write.unwrap().write(b"x").unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
}

#[test]
fn a_cut_on_demand_and_a_closed_listener_reach_the_peer() {
    let network = MemNetwork::new();
    let server = network.listen(MemConfig::nonblocking()).unwrap();
    let client = network.listen(MemConfig::nonblocking()).unwrap();
    let connected = client
        .connect_with(&server.local_address().unwrap())
        .unwrap();
    let mut accepted = server.accept().unwrap().unwrap();
    connected.write.cut();
    let mut buf = [0u8; 4];
    let error = accepted.read.read(&mut buf).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);

    // A connection never accepted: dropping the listener closes it.
    let pending = client
        .connect_with(&server.local_address().unwrap())
        .unwrap();
    let address = server.local_address().unwrap();
    drop(server);
    assert_eq!(pending.read.unwrap().read(&mut buf).unwrap(), 0);
    let error = client.connect_with(&address).unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::Io(io::ErrorKind::ConnectionRefused)
    );
}

#[test]
fn the_tamper_hook_flips_a_chosen_byte() {
    let (_net, server, client) = pair(
        MemConfig::nonblocking(),
        MemConfig::nonblocking().with_faults(Faults::default().short_writes(4).flip_byte(6, 0xff)),
    );
    let mut connected = client
        .connect_with(&server.local_address().unwrap())
        .unwrap();
    let mut accepted = server.accept().unwrap().unwrap();
    let data = *b"abcdefghij";
    connected.write.write_all(&data).unwrap();
    drop(connected.write);
    let mut received = Vec::new();
    accepted.read.read_to_end(&mut received).unwrap();
    let mut expected = data;
    expected[6] ^= 0xff;
    assert_eq!(received, expected);

    // Any rewrite through a custom hook, by stream offset.
    let hooked = Faults::default().tamper(Arc::new(|offset, bytes: &mut [u8]| {
        for (i, b) in bytes.iter_mut().enumerate() {
            if (offset + i as u64) % 2 == 0 {
                *b = b'_';
            }
        }
    }));
    let network = MemNetwork::new();
    let server = network.listen(MemConfig::nonblocking()).unwrap();
    let client = network
        .listen(MemConfig::nonblocking().with_faults(hooked))
        .unwrap();
    let mut connected = client
        .connect_with(&server.local_address().unwrap())
        .unwrap();
    connected.write.write_all(b"abcdef").unwrap();
    drop(connected.write);
    let mut received = Vec::new();
    server
        .accept()
        .unwrap()
        .unwrap()
        .read
        .read_to_end(&mut received)
        .unwrap();
    assert_eq!(received, b"_b_d_f");
}

#[test]
fn blocking_mode_waits_with_halves_on_two_threads() {
    let timeout = Some(Duration::from_secs(10));
    let (_net, server, client) = pair(
        MemConfig::blocking(timeout).with_pipe_capacity(64),
        MemConfig::blocking(timeout).with_pipe_capacity(64),
    );
    assert!(!server.is_nonblocking());
    let address = server.local_address().unwrap();
    // An echo: its read half and write half on two threads.
    let echo = thread::spawn(move || {
        let accepted = server.accept().unwrap().expect("a connection comes");
        let mut read = accepted.read;
        let mut write = accepted.write.unwrap();
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
        let writer = thread::spawn(move || {
            for chunk in rx {
                write.write_all(&chunk).unwrap();
            }
        });
        let mut buf = [0u8; 50];
        loop {
            match read.read(&mut buf).unwrap() {
                0 => break,
                n => tx.send(buf[..n].to_vec()).unwrap(),
            }
        }
        drop(tx);
        writer.join().unwrap();
    });
    let connected = client.connect_with(&address).unwrap();
    let mut write = connected.write;
    // Far more than both pipes hold: the writer waits for the echo.
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
    let sent = data.clone();
    let writer = thread::spawn(move || write.write_all(&sent).unwrap());
    let mut received = Vec::new();
    connected.read.unwrap().read_to_end(&mut received).unwrap();
    writer.join().unwrap();
    echo.join().unwrap();
    assert!(received == data);
}

#[test]
fn blocking_mode_times_out_and_cannot_be_polled() {
    let poll = Poll::new().unwrap();
    let (_net, mut server, client) = pair(
        MemConfig::blocking(Some(Duration::from_millis(20))),
        MemConfig::blocking(Some(Duration::from_millis(20))),
    );
    assert!(!server.register(poll.registry(), 0).unwrap());
    assert!(server.accept().unwrap().is_none(), "accept gave up");
    let connected = client
        .connect_with(&server.local_address().unwrap())
        .unwrap();
    let _accepted = server.accept().unwrap().unwrap();
    let mut read = connected.read.unwrap();
    assert!(!read.register(poll.registry(), 1).unwrap());
    let error = read.read(&mut [0u8; 4]).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::TimedOut);
}

#[test]
fn many_connections_on_one_poll() {
    const CONNECTIONS: usize = 50;
    let mut poll = Poll::new().unwrap();
    let (_net, mut server, client) = pair(
        MemConfig::nonblocking().with_backlog(CONNECTIONS),
        MemConfig::nonblocking(),
    );
    server.register(poll.registry(), 0).unwrap();
    let address = server.local_address().unwrap();
    let mut clients: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let mut c = client.connect_with(&address).unwrap();
            c.write.write_all(&(i as u32).to_be_bytes()).unwrap();
            c
        })
        .collect();
    let mut servers = Vec::new();
    let mut answered = 0;
    let mut events = Events::with_capacity(128);
    let start = Instant::now();
    while answered < CONNECTIONS {
        assert!(start.elapsed() < DEADLINE);
        poll.poll(&mut events, Some(Duration::from_millis(200)))
            .unwrap();
        for event in events.iter() {
            let token = event.token().0;
            if token == 0 {
                while let Some(mut accepted) = server.accept().unwrap() {
                    accepted
                        .read
                        .register(poll.registry(), 1 + servers.len())
                        .unwrap();
                    servers.push(Some(accepted));
                }
                continue;
            }
            let Some(accepted) = servers[token - 1].as_mut() else {
                continue;
            };
            let mut id = [0u8; 4];
            match accepted.read.read_exact(&mut id) {
                Ok(()) => {
                    let mut write = accepted.write.take().unwrap();
                    write.write_all(&id).unwrap();
                    servers[token - 1] = None;
                    answered += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let mut id = [0u8; 4];
        c.read.as_mut().unwrap().read_exact(&mut id).unwrap();
        assert_eq!(u32::from_be_bytes(id) as usize, i);
    }
}

#[test]
fn a_dropped_connection_sends_no_more_events_to_its_token() {
    let mut poll = Poll::new().unwrap();
    let (_net, server, client) = pair(MemConfig::nonblocking(), MemConfig::nonblocking());
    let connected = client
        .connect_with(&server.local_address().unwrap())
        .unwrap();
    let mut accepted = server.accept().unwrap().unwrap();
    accepted.read.register(poll.registry(), 1).unwrap();
    wait_for(&mut poll, 1);
    // The node drops this connection; the token may go to another one.
    drop(accepted);
    // The peer, still holding its read half, closes its write half: that
    // rings the dropped side, and a ring is written before `drop` returns,
    // so a zero-timeout poll would see a stale event.
    let _peer_read = connected.read;
    drop(connected.write);
    let mut events = Events::with_capacity(8);
    poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
    assert!(events.is_empty(), "stale event for a dropped connection");
}

#[test]
fn mem_address_parses_what_it_displays() {
    use mydht_basetest::transport::MemAddress;
    let a = MemAddress(42);
    assert_eq!(a.to_string().parse::<MemAddress>(), Ok(a));
    assert_eq!("7".parse::<MemAddress>(), Ok(MemAddress(7)));
    assert!("mem:x".parse::<MemAddress>().is_err());
}
