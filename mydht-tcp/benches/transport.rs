//! Throughput of a transport connection against the bare socket it wraps,
//! measured in the same run: 1 MiB one way over loopback per iteration
//! (the may transport with its two halves on may coroutines).
//!
//! `cargo bench -p mydht-tcp --bench transport -- --warm-up-time 1 --measurement-time 3`

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mio::{Events, Interest, Poll, Token};
use mydht_base::{Registerable, Transport};
use mydht_tcp::{
    BlockingTcpTransport, MayTcpReadStream, MayTcpTransport, MayTcpWriteStream, TcpTransport,
};

const LEN: usize = 1024 * 1024;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Moves `LEN` bytes from `write` to `read`, both non-blocking and registered
/// with `poll`, driven by its events as the node's main loop would.
fn pump(poll: &mut Poll, events: &mut Events, write: &mut impl Write, read: &mut impl Read) {
    let data = vec![7u8; 64 * 1024];
    let mut buf = vec![0u8; 64 * 1024];
    let (mut sent, mut received) = (0, 0);
    while received < LEN {
        while sent < LEN {
            let end = (LEN - sent).min(data.len());
            match write.write(&data[..end]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        loop {
            match read.read(&mut buf) {
                Ok(0) => panic!("early end of stream"),
                Ok(n) => received += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        if received < LEN {
            poll.poll(events, Some(Duration::from_secs(5))).unwrap();
        }
    }
}

fn nonblocking(c: &mut Criterion) {
    let mut group = c.benchmark_group("nonblocking_1MiB");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.sample_size(20);

    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(64);

    // Baseline: a bare mio socket pair, each registered for both directions.
    let listener = mio::net::TcpListener::bind(loopback()).unwrap();
    let mut raw_out = mio::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let mut raw_in = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => panic!("{e}"),
        }
    };
    let both = Interest::READABLE | Interest::WRITABLE;
    poll.registry()
        .register(&mut raw_out, Token(1), both)
        .unwrap();
    poll.registry()
        .register(&mut raw_in, Token(2), both)
        .unwrap();
    group.bench_function("baseline_mio_stream", |b| {
        b.iter(|| pump(&mut poll, &mut events, &mut raw_out, &mut raw_in))
    });

    let transport = TcpTransport::bind(loopback()).unwrap();
    let connected = transport
        .connect_with(&transport.local_address().unwrap())
        .unwrap();
    let accepted = loop {
        if let Some(a) = transport.accept().unwrap() {
            break a;
        }
    };
    let mut out = connected.write;
    let mut inbound = accepted.read;
    out.register(poll.registry(), 3).unwrap();
    inbound.register(poll.registry(), 4).unwrap();
    group.bench_function("tcp_transport", |b| {
        b.iter(|| pump(&mut poll, &mut events, &mut out, &mut inbound))
    });
    group.finish();
}

/// Writes `LEN` bytes from another thread and reads them here.
fn blocking_transfer<W: Write + Send + 'static>(write: W, read: &mut impl Read) -> W {
    let writer = thread::spawn(move || {
        let mut write = write;
        let data = vec![7u8; LEN];
        write.write_all(&data).unwrap();
        write
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut received = 0;
    while received < LEN {
        let n = read.read(&mut buf).unwrap();
        assert_ne!(n, 0, "early end of stream");
        received += n;
    }
    writer.join().unwrap()
}

fn blocking(c: &mut Criterion) {
    let mut group = c.benchmark_group("blocking_1MiB");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.sample_size(20);

    let listener = std::net::TcpListener::bind(loopback()).unwrap();
    let mut raw_out = Some(std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap());
    let (mut raw_in, _) = listener.accept().unwrap();
    group.bench_function("baseline_std_stream", |b| {
        b.iter(|| raw_out = Some(blocking_transfer(raw_out.take().unwrap(), &mut raw_in)))
    });

    let transport = BlockingTcpTransport::bind(loopback()).unwrap();
    let mut out = Some(
        transport
            .connect_with(&transport.local_address().unwrap())
            .unwrap()
            .write,
    );
    let mut inbound = transport.accept().unwrap().unwrap().read;
    group.bench_function("blocking_tcp_transport", |b| {
        b.iter(|| out = Some(blocking_transfer(out.take().unwrap(), &mut inbound)))
    });
    group.finish();
}

/// Writes `LEN` bytes from a may coroutine and reads them on another, as a
/// write service and a read service of the may profile would.
fn may_transfer(
    write: MayTcpWriteStream,
    read: MayTcpReadStream,
) -> (MayTcpWriteStream, MayTcpReadStream) {
    // SAFETY: neither closure keeps thread-local state across a wait.
    let writer = unsafe {
        may::coroutine::spawn(move || {
            let mut write = write;
            write.write_all(&vec![7u8; LEN]).unwrap();
            write
        })
    };
    // SAFETY: as above.
    let reader = unsafe {
        may::coroutine::spawn(move || {
            let mut read = read;
            let mut buf = vec![0u8; 64 * 1024];
            let mut received = 0;
            while received < LEN {
                let n = read.read(&mut buf).unwrap();
                assert_ne!(n, 0, "early end of stream");
                received += n;
            }
            read
        })
    };
    (writer.join().unwrap(), reader.join().unwrap())
}

fn may_coroutines(c: &mut Criterion) {
    let mut group = c.benchmark_group("may_1MiB");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.sample_size(20);

    // Baseline: the blocking std pair, writer on a thread.
    let listener = std::net::TcpListener::bind(loopback()).unwrap();
    let mut raw_out = Some(std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap());
    let (mut raw_in, _) = listener.accept().unwrap();
    group.bench_function("baseline_std_stream", |b| {
        b.iter(|| raw_out = Some(blocking_transfer(raw_out.take().unwrap(), &mut raw_in)))
    });

    let transport = MayTcpTransport::bind(loopback()).unwrap();
    let out = transport
        .connect_with(&transport.local_address().unwrap())
        .unwrap()
        .write;
    let inbound = transport.accept().unwrap().unwrap().read;
    let mut halves = Some((out, inbound));
    group.bench_function("may_tcp_transport", |b| {
        b.iter(|| {
            let (write, read) = halves.take().unwrap();
            halves = Some(may_transfer(write, read));
        })
    });
    group.finish();
}

criterion_group!(benches, nonblocking, blocking, may_coroutines);
criterion_main!(benches);
