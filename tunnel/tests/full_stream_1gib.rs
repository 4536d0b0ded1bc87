//! 1 GiB through a whole Full tunnel (sender, relay, exit, with a reply
//! block) in one thread over small bounded pipes: no hop ever holds the
//! message, so the heap stays under 1 MiB plus the header block.
//!
//! Only the test thread's Rust allocations are counted (the harness's other
//! threads allocate whenever they like); openssl's own allocations (cipher
//! contexts, made once) are outside Rust's allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicIsize, Ordering};

use readwrite_comp::{ExtRead, ExtWrite};
use tunnel::crypto::X25519Secret;
use tunnel::{FrameLayout, FullTunnel, RouteHop, TunnelConfig};

static LIVE: AtomicIsize = AtomicIsize::new(0);
static HIGH: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    static COUNT_ME: Cell<bool> = const { Cell::new(false) };
}

fn on_this_thread() -> bool {
    COUNT_ME.try_with(Cell::get).unwrap_or(false)
}

fn add(n: usize) {
    if on_this_thread() {
        let live = LIVE.fetch_add(n as isize, Ordering::SeqCst) + n as isize;
        HIGH.fetch_max(live, Ordering::SeqCst);
    }
}

fn sub(n: usize) {
    if on_this_thread() {
        LIVE.fetch_sub(n as isize, Ordering::SeqCst);
    }
}

/// The system allocator, counting the live bytes of the test thread.
struct Tally;

unsafe impl GlobalAlloc for Tally {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        sub(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            sub(layout.size());
            add(new_size);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Tally = Tally;

/// A bounded byte pipe shared by its two ends (a ring of `buf.len()`
/// bytes, copied with slices so debug builds stay fast).
struct Pipe {
    buf: Vec<u8>,
    start: usize,
    len: usize,
    closed: bool,
}

#[derive(Clone)]
struct End(Rc<RefCell<Pipe>>);

fn pipe(cap: usize) -> End {
    End(Rc::new(RefCell::new(Pipe {
        buf: vec![0; cap],
        start: 0,
        len: 0,
        closed: false,
    })))
}

impl Write for End {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut p = self.0.borrow_mut();
        let cap = p.buf.len();
        if p.len == cap && !data.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        // Up to the end of the ring only; the caller writes the rest next.
        let at = (p.start + p.len) % cap;
        let n = data.len().min(cap - p.len).min(cap - at);
        p.buf[at..at + n].copy_from_slice(&data[..n]);
        p.len += n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for End {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut p = self.0.borrow_mut();
        if p.len == 0 {
            if p.closed {
                return Ok(0);
            }
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let cap = p.buf.len();
        let n = out.len().min(p.len).min(cap - p.start);
        out[..n].copy_from_slice(&p.buf[p.start..p.start + n]);
        p.start = (p.start + n) % cap;
        p.len -= n;
        Ok(n)
    }
}

/// `Ok(Some(v))` done, `Ok(None)` blocked: try again after the others ran.
fn ready<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

const TOTAL: u64 = 1 << 30;
/// The payload repeats with this period, so one small source buffer and
/// slice comparisons stand for 1 GiB of known bytes.
const PERIOD: usize = 251;

#[test]
fn one_gib_crosses_a_relay_with_the_heap_bounded() {
    let config = TunnelConfig::default();
    let layout = FrameLayout::new(&config).unwrap();
    let mk = |addr: &str| {
        let s = X25519Secret::generate().unwrap();
        let hop = RouteHop {
            public_key: *s.public_key(),
            address: addr.into(),
        };
        (FullTunnel::new(config, s).unwrap(), hop)
    };
    let (mut alice, alice_hop) = mk("alice");
    let (relay, relay_hop) = mk("relay");
    let (bob, bob_hop) = mk("bob");
    let chunk = 64 * 1024;
    let source: Vec<u8> = (0..chunk + PERIOD).map(|i| (i % PERIOD) as u8).collect();
    let mut sink = vec![0u8; chunk];

    COUNT_ME.with(|c| c.set(true));
    let start = LIVE.load(Ordering::SeqCst);
    HIGH.store(start, Ordering::SeqCst);

    let mut writer = alice
        .new_writer(&[relay_hop, bob_hop], Some(&[alice_hop]))
        .unwrap();
    let mut to_relay = pipe(64 * 1024);
    let mut from_alice = to_relay.clone();
    let to_bob = pipe(64 * 1024);
    let (mut relay_out, mut bob_in) = (to_bob.clone(), to_bob);
    let mut hop = relay.view().new_reader();
    let mut exit = bob.view().new_reader();

    let (mut header_sent, mut sent, mut ended) = (false, 0u64, false);
    let (mut relay_header, mut relay_done) = (false, false);
    let (mut exit_header, mut received, mut finished) = (false, 0u64, false);
    while !finished {
        // Alice writes until her pipe is full.
        if !header_sent {
            header_sent = ready(writer.write_header(&mut to_relay)).unwrap().is_some();
        }
        while header_sent && sent < TOTAL {
            let at = (sent % PERIOD as u64) as usize;
            let len = chunk.min((TOTAL - sent) as usize);
            match ready(writer.write_into(&mut to_relay, &source[at..at + len])).unwrap() {
                Some(n) => sent += n as u64,
                None => break,
            }
        }
        if sent == TOTAL && !ended && ready(writer.write_end(&mut to_relay)).unwrap().is_some() {
            ended = true;
            to_relay.0.borrow_mut().closed = true;
        }
        // The relay moves what it can.
        if !relay_header {
            relay_header = ready(hop.read_header(&mut from_alice)).unwrap().is_some();
        }
        if relay_header
            && !relay_done
            && ready(hop.pump(&mut from_alice, &mut relay_out))
                .unwrap()
                .is_some()
        {
            relay_done = true;
            relay_out.0.borrow_mut().closed = true;
        }
        // Bob reads and checks what arrived.
        if !exit_header {
            exit_header = ready(exit.read_header(&mut bob_in)).unwrap().is_some();
        }
        if exit_header {
            loop {
                match ready(exit.read_from(&mut bob_in, &mut sink)).unwrap() {
                    Some(0) => {
                        finished = true;
                        break;
                    }
                    Some(n) => {
                        let at = (received % PERIOD as u64) as usize;
                        assert!(sink[..n] == source[at..at + n], "byte {received}");
                        received += n as u64;
                    }
                    None => break,
                }
            }
        }
    }
    let high = (HIGH.load(Ordering::SeqCst) - start) as usize;
    COUNT_ME.with(|c| c.set(false));

    assert_eq!(received, TOTAL);
    assert!(exit.reply_block().is_some());
    let bound = (1 << 20) + layout.header.header_len();
    println!("peak heap {high} bytes for {TOTAL} bytes through the tunnel (bound {bound})");
    assert!(high < bound, "peak heap {high} bytes");
}
