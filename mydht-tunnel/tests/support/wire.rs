//! A transport that watches the wire: the node's TCP transport, every
//! connection's bytes counted at the socket as they are written and read
//! and cut into the records they carry (`records.rs`: handshake messages,
//! then session chunks), and, when told to, one byte of the first cell a node sends on a
//! connection it dialled flipped on the way out (under a clear shadow that
//! is the byte of a cell: the tunnel layer of the next hop must catch it),
//! or every connection it is dialled on closed as soon as it is accepted.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use mio::Registry;
use mydht::tcp::{TcpReadStream, TcpTransport, TcpWriteStream};
use mydht_base::{
    Accepted, ConnectCheck, ConnectStatus, Connected, Registerable, Result, Transport,
};

use super::records::{Cutter, Side};

/// Writes at least this long carry cell bytes: the header frame (about 5
/// KB) and the handshake are shorter, a cell is 16 KiB.
const CELL_WRITE: usize = 8 << 10;

/// The byte of an accepted connection's first read that a garbling wire
/// flips ([`Wire::garble_accepts`]).
const GARBLED_BYTE: usize = 8;

/// What went over one connection, seen from this node's end.
#[derive(Debug, Clone)]
pub struct ConnLog {
    /// This node dialled it.
    pub dialled: bool,
    /// Bytes this node wrote.
    pub written: usize,
    /// Bytes this node read.
    pub read: usize,
    /// What this node wrote, cut into records.
    pub sent: Cutter,
    /// What this node read, cut into records.
    pub got: Cutter,
}

impl ConnLog {
    /// Takes bytes this node wrote (`sent`) or read.
    fn push(&mut self, sent: bool, bytes: &[u8]) {
        let (this, other) = match sent {
            true => (&mut self.sent, &mut self.got),
            false => (&mut self.got, &mut self.sent),
        };
        let known = this.known_key();
        this.push(bytes);
        if !known && this.known_key() {
            // A known-key flight from the dialler: nothing comes back
            // before the session.
            other.no_handshake();
        }
    }

    fn new(dialled: bool, tag: usize) -> Self {
        let (mine, theirs) = match dialled {
            true => (Side::Dialler, Side::Acceptor),
            false => (Side::Acceptor, Side::Dialler),
        };
        ConnLog {
            dialled,
            written: 0,
            read: 0,
            sent: Cutter::new(mine, tag),
            got: Cutter::new(theirs, tag),
        }
    }
}

/// The connections of one node that closed, and whether it tampers.
#[derive(Clone, Default)]
pub struct Wire(Arc<WireState>);

#[derive(Default)]
struct WireState {
    closed: Mutex<Vec<ConnLog>>,
    changed: Condvar,
    tamper: AtomicBool,
    /// Connections accepted from now on are closed at once.
    refuse: AtomicBool,
    /// Connections accepted from now on have their first read garbled.
    garble: AtomicBool,
    /// Bytes of a session chunk's tag (set by the node's shadow).
    tag: AtomicUsize,
}

impl Wire {
    /// A wire whose node flips a byte of the first cell of every
    /// connection it dials.
    pub fn tampering() -> Self {
        let wire = Wire::default();
        wire.0.tamper.store(true, Ordering::Release);
        wire
    }

    /// Its node closes every connection it accepts from now on, at once
    /// (as a node whose listener is gone; those open stay).
    pub fn refuse_accepts(&self) {
        self.0.refuse.store(true, Ordering::Release);
    }

    /// Its node reads every connection it accepts from now on with a byte
    /// of its first read flipped, in the dialler's first frame (as a node
    /// that cannot open the known-key flight sealed to it: another
    /// identity at the address the dialler knew): it refuses the flight.
    pub fn garble_accepts(&self) {
        self.0.garble.store(true, Ordering::Release);
    }

    /// Its node's session chunks carry tags of `tag` bytes.
    pub fn set_tag(&self, tag: usize) {
        self.0.tag.store(tag, Ordering::Release);
    }

    /// Forgets the connections closed so far.
    pub fn clear(&self) {
        self.0.closed.lock().unwrap().clear();
    }

    /// Waits until `n` connections this node dialled (`dialled`) or
    /// accepted closed, at most `timeout`; returns them.
    pub fn wait_closed(&self, dialled: bool, n: usize, timeout: Duration) -> Vec<ConnLog> {
        let deadline = Instant::now() + timeout;
        let mut closed = self.0.closed.lock().unwrap();
        loop {
            let these: Vec<ConnLog> = closed
                .iter()
                .filter(|c| c.dialled == dialled)
                .cloned()
                .collect();
            if these.len() >= n {
                return these;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{} of {n} connections closed (dialled: {dialled})",
                these.len()
            );
            closed = self.0.changed.wait_timeout(closed, left).unwrap().0;
        }
    }
}

/// One connection's record, shared by its two halves: logged when both
/// are dropped (the socket is closed then).
struct Conn {
    wire: Wire,
    log: Mutex<ConnLog>,
    tampered: AtomicBool,
    /// Its first read is still to be garbled.
    garble: AtomicBool,
}

impl Conn {
    fn new(wire: &Wire, dialled: bool) -> Arc<Conn> {
        let tag = wire.0.tag.load(Ordering::Acquire);
        let garble = !dialled && wire.0.garble.load(Ordering::Acquire);
        Arc::new(Conn {
            wire: wire.clone(),
            log: Mutex::new(ConnLog::new(dialled, tag)),
            tampered: AtomicBool::new(false),
            garble: AtomicBool::new(garble),
        })
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let log = self
            .log
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let state = &self.wire.0;
        state
            .closed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(log);
        state.changed.notify_all();
    }
}

/// The node's TCP transport, watched.
pub struct SpyTransport {
    tcp: TcpTransport,
    wire: Wire,
}

impl SpyTransport {
    /// Listens on a free port of 127.0.0.1, reporting to `wire`.
    pub fn bind(wire: Wire) -> Result<Self> {
        let tcp = TcpTransport::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        Ok(SpyTransport { tcp, wire })
    }

    fn halves(
        &self,
        read: TcpReadStream,
        write: TcpWriteStream,
        dialled: bool,
    ) -> (SpyRead, SpyWrite) {
        let conn = Conn::new(&self.wire, dialled);
        (
            SpyRead {
                inner: read,
                conn: conn.clone(),
            },
            SpyWrite { inner: write, conn },
        )
    }
}

impl Transport for SpyTransport {
    type Address = SocketAddr;
    type ReadStream = SpyRead;
    type WriteStream = SpyWrite;

    fn is_nonblocking(&self) -> bool {
        self.tcp.is_nonblocking()
    }

    fn local_address(&self) -> Result<SocketAddr> {
        self.tcp.local_address()
    }

    fn accept(&self) -> Result<Option<Accepted<Self>>> {
        let a = loop {
            let Some(a) = self.tcp.accept()? else {
                return Ok(None);
            };
            if !self.wire.0.refuse.load(Ordering::Acquire) {
                break a;
            }
        };
        let write = a.write.expect("TCP connections are bidirectional");
        let (read, write) = self.halves(a.read, write, false);
        Ok(Some(Accepted {
            read,
            write: Some(write),
            from: a.from,
        }))
    }

    fn connect_with(&self, address: &SocketAddr) -> Result<Connected<Self>> {
        let c = self.tcp.connect_with(address)?;
        let read = c.read.expect("TCP connections are bidirectional");
        let (read, write) = self.halves(read, c.write, true);
        Ok(Connected {
            write,
            read: Some(read),
        })
    }
}

impl Registerable<Registry> for SpyTransport {
    fn register(&mut self, registry: &Registry, token: usize) -> Result<bool> {
        self.tcp.register(registry, token)
    }

    fn deregister(&mut self, registry: &Registry) -> Result<()> {
        self.tcp.deregister(registry)
    }
}

/// A read half, counting.
pub struct SpyRead {
    inner: TcpReadStream,
    conn: Arc<Conn>,
}

impl Read for SpyRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 && self.conn.garble.swap(false, Ordering::AcqRel) {
            // Past the frame's 4-byte length: inside the flight itself.
            buf[GARBLED_BYTE.min(n - 1)] ^= 0x5a;
        }
        let mut log = self.conn.log.lock().unwrap();
        log.read += n;
        log.push(false, &buf[..n]);
        Ok(n)
    }
}

impl Registerable<Registry> for SpyRead {
    fn register(&mut self, registry: &Registry, token: usize) -> Result<bool> {
        self.inner.register(registry, token)
    }

    fn deregister(&mut self, registry: &Registry) -> Result<()> {
        self.inner.deregister(registry)
    }
}

/// A write half, counting (and tampering, if its wire says so).
pub struct SpyWrite {
    inner: TcpWriteStream,
    conn: Arc<Conn>,
}

impl SpyWrite {
    /// Whether this write is the one to tamper with.
    fn tampers(&self, buf: &[u8]) -> bool {
        let conn = &self.conn;
        buf.len() >= CELL_WRITE
            && conn.wire.0.tamper.load(Ordering::Acquire)
            && !conn.tampered.load(Ordering::Acquire)
            && conn.log.lock().unwrap().dialled
    }
}

impl Write for SpyWrite {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let tampers = self.tampers(buf);
        // The log is held across the write: the peer's answer to these
        // bytes, read on another thread, is logged after them.
        let conn = self.conn.clone();
        let mut log = conn.log.lock().unwrap();
        let n = if tampers {
            let mut changed = buf.to_vec();
            let at = changed.len() / 2;
            changed[at] ^= 1;
            let n = self.inner.write(&changed)?;
            // A shorter write did not carry the changed byte: the next
            // write (the rest) is changed instead.
            if n > at {
                self.conn.tampered.store(true, Ordering::Release);
            }
            n
        } else {
            self.inner.write(buf)?
        };
        log.written += n;
        log.push(true, &buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl ConnectCheck for SpyWrite {
    fn check_connect(&self) -> Result<ConnectStatus> {
        self.inner.check_connect()
    }
}
