//! The raw TCP side of the link workload: length-prefixed frames (a
//! big-endian `u32` length, then the bytes) over plain sockets on
//! loopback. The servers run on threads of their own for the rest of the
//! process.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::{loopback, BULK, CHUNK, MSG};

/// A server connection: its socket, bytes read, bytes to write.
type EchoConn = (mio::net::TcpStream, Vec<u8>, Vec<u8>);

/// Starts a mio echo server of frames on loopback: every frame is echoed
/// except [`CHUNK`]-long ones (bulk messages); a one-byte frame (the end
/// of a bulk transfer) is echoed too. Its address.
pub fn echo_server() -> io::Result<SocketAddr> {
    use mio::net::TcpListener;
    use mio::{Events, Interest, Poll, Token};
    let mut listener = TcpListener::bind(loopback())?;
    let addr = listener.local_addr()?;
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, Token(0), Interest::READABLE)?;
    thread::Builder::new()
        .name("raw-echo".into())
        .spawn(move || {
            let mut conns: Vec<Option<EchoConn>> = Vec::new();
            let mut events = Events::with_capacity(256);
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                if poll.poll(&mut events, None).is_err() {
                    return;
                }
                for ev in events.iter() {
                    if ev.token() == Token(0) {
                        while let Ok((mut s, _)) = listener.accept() {
                            let t = Token(conns.len() + 1);
                            let interest = Interest::READABLE | Interest::WRITABLE;
                            if s.set_nodelay(true).is_ok()
                                && poll.registry().register(&mut s, t, interest).is_ok()
                            {
                                conns.push(Some((s, Vec::new(), Vec::new())));
                            }
                        }
                        continue;
                    }
                    let i = ev.token().0 - 1;
                    if let Some(Some(conn)) = conns.get_mut(i) {
                        if !echo_ready(conn, &mut buf) {
                            conns[i] = None;
                        }
                    }
                }
            }
        })?;
    Ok(addr)
}

/// Reads what `conn` has, echoes its whole frames (not bulk chunks) and
/// writes what it can; false once the peer closed.
fn echo_ready((s, inb, out): &mut EchoConn, buf: &mut [u8]) -> bool {
    let mut open = true;
    loop {
        match s.read(buf) {
            Ok(0) => {
                open = false;
                break;
            }
            Ok(k) => inb.extend_from_slice(&buf[..k]),
            Err(_) => break,
        }
    }
    let mut at = 0;
    while inb.len() >= at + 4 {
        let len = u32::from_be_bytes([inb[at], inb[at + 1], inb[at + 2], inb[at + 3]]) as usize;
        if inb.len() < at + 4 + len {
            break;
        }
        if len != CHUNK {
            out.extend_from_slice(&inb[at..at + 4 + len]);
        }
        at += 4 + len;
    }
    inb.drain(..at);
    while !out.is_empty() {
        match s.write(out) {
            Ok(k) => {
                out.drain(..k);
            }
            Err(_) => break,
        }
    }
    open
}

/// A frame of `len` bytes (all ones).
pub fn frame(len: usize) -> Vec<u8> {
    let mut f = (len as u32).to_be_bytes().to_vec();
    f.resize(4 + len, 1);
    f
}

/// Reads one frame into `buf`.
pub fn read_frame(s: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    buf.resize(u32::from_be_bytes(len) as usize, 0);
    s.read_exact(buf)
}

/// `n` requests of [`MSG`] bytes to the echo server with `window` in
/// flight: the latency of each.
pub fn raw_requests(s: &mut TcpStream, n: usize, window: usize) -> io::Result<Vec<Duration>> {
    let req = frame(MSG);
    let mut buf = Vec::new();
    let mut lat = Vec::with_capacity(n);
    let mut flight = VecDeque::with_capacity(window);
    let mut sent = 0;
    while lat.len() < n {
        while sent < n && flight.len() < window.max(1) {
            s.write_all(&req)?;
            flight.push_back(Instant::now());
            sent += 1;
        }
        read_frame(s, &mut buf)?;
        if let Some(t) = flight.pop_front() {
            lat.push(t.elapsed());
        }
    }
    Ok(lat)
}

/// A connection to `addr`, without Nagle's delay.
pub fn connect_raw(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// A connection to the echo server and its first reply.
pub fn connect_raw_once(server: SocketAddr) -> io::Result<()> {
    let mut s = connect_raw(server)?;
    s.write_all(&frame(MSG))?;
    let mut buf = Vec::new();
    read_frame(&mut s, &mut buf)
}

/// Frames per write of the raw bulk sender: 1 MiB and a bit (sixteen
/// 64 KiB frames), where the node's chunk writer writes four sealed 64 KiB
/// chunks (256 KiB) per socket write.
pub const RAW_BULK_FRAMES: usize = 16;
/// The raw bulk receiver's read buffer. Its socket keeps the kernel's
/// receive buffer autotuning (up to `tcp_rmem`'s maximum). Variants tried
/// against this one, paired in the same samples: a mio (epoll) receiver
/// with 1 MiB reads and 1 MiB or 256 KiB writes (0.96–1.14 of its time), a
/// busy-polling receiver (0.67–0.95: faster, by spinning a core on
/// `WouldBlock`, which the node does not do), 256 KiB writes to this
/// server (0.98–1.25), the former 64 KiB-write baseline (1.16–1.35); fixed
/// 4 MiB `SO_RCVBUF`/`SO_SNDBUF` (`rmem_max`, which turns autotuning off)
/// was not faster in a standalone test.
pub const RAW_BULK_READ: usize = 1 << 20;

/// Starts a blocking bulk server on loopback, a thread per connection,
/// that reads frames into a large buffer and drops them without a copy,
/// then answers a one-byte frame (the end of a transfer) with a one-byte
/// frame. Its address.
pub fn bulk_server() -> io::Result<SocketAddr> {
    let listener = StdListener::bind(loopback())?;
    let addr = listener.local_addr()?;
    thread::Builder::new()
        .name("raw-bulk".into())
        .spawn(move || {
            for s in listener.incoming().map_while(|s| s.ok()) {
                if s.set_nodelay(true).is_ok() {
                    let _ = thread::Builder::new()
                        .name("raw-bulk-conn".into())
                        .spawn(move || bulk_receive(s));
                }
            }
        })?;
    Ok(addr)
}

/// Reads frames from `s` until it closes, acknowledging each end frame.
fn bulk_receive(mut s: TcpStream) {
    let mut buf = vec![0u8; RAW_BULK_READ];
    // The length prefix read so far, and the body bytes left.
    let (mut len, mut have, mut left) = ([0u8; 4], 0, 0usize);
    loop {
        let k = match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(k) => k,
        };
        let mut at = 0;
        while at < k {
            if left == 0 {
                let take = (4 - have).min(k - at);
                len[have..have + take].copy_from_slice(&buf[at..at + take]);
                (have, at) = (have + take, at + take);
                if have == 4 {
                    (have, left) = (0, u32::from_be_bytes(len) as usize);
                }
                continue;
            }
            let take = left.min(k - at);
            (left, at) = (left - take, at + take);
            if left == 0 && u32::from_be_bytes(len) == 1 && s.write_all(&frame(1)).is_err() {
                return;
            }
        }
    }
}

/// [`RAW_BULK_FRAMES`] frames of [`CHUNK`] bytes, written as one buffer.
pub fn raw_bulk_block() -> Vec<u8> {
    frame(CHUNK).repeat(RAW_BULK_FRAMES)
}

/// [`BULK`] bytes in [`CHUNK`] frames to the bulk server, written
/// [`RAW_BULK_FRAMES`] at a time, then the end frame; waits for the
/// acknowledgement.
pub fn raw_bulk(s: &mut TcpStream, block: &[u8]) -> io::Result<()> {
    for _ in 0..BULK / CHUNK / RAW_BULK_FRAMES {
        s.write_all(block)?;
    }
    s.write_all(&frame(1))?;
    let mut buf = Vec::new();
    read_frame(s, &mut buf)
}

/// The baseline the bench used before: one 64 KiB frame per write, to the
/// mio echo server (which copies what it reads into a frame buffer).
pub fn raw_bulk_64k(s: &mut TcpStream) -> io::Result<()> {
    let chunk = frame(CHUNK);
    for _ in 0..BULK / CHUNK {
        s.write_all(&chunk)?;
    }
    s.write_all(&frame(1))?;
    let mut buf = Vec::new();
    read_frame(s, &mut buf)
}
