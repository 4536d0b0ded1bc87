//! 1 GiB streamed from the sender through a relay to the exit, in one thread
//! over small bounded pipes that block when full or empty: the heap never
//! grows with the payload (peak well under 1 MiB above the start).
//!
//! The counting allocator sees Rust allocations of the test thread only (the
//! harness's own threads allocate at any time); openssl's cipher contexts (a
//! few hundred bytes per layer, allocated once) are not counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicIsize, Ordering};

use readwrite_comp::{ExtRead, ExtWrite};
use tunnel::cell::{
    CellLayout, CellOpener, CellPeeler, CellProxy, CellReader, CellSealer, CellWriter,
};
use tunnel::config::TunnelConfig;

struct Counting;

static CURRENT: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    /// Whether this thread's allocations are counted (const: no allocation).
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn counted() -> bool {
    COUNTED.try_with(Cell::get).unwrap_or(false)
}

fn grew(size: usize) {
    if counted() {
        let now = CURRENT.fetch_add(size as isize, Ordering::SeqCst) + size as isize;
        PEAK.fetch_max(now, Ordering::SeqCst);
    }
}

fn shrank(size: usize) {
    if counted() {
        CURRENT.fetch_sub(size as isize, Ordering::SeqCst);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// A bounded in-memory pipe: `WouldBlock` when full (writer) or empty and
/// still open (reader).
struct Pipe {
    buf: Vec<u8>,
    start: usize,
    len: usize,
    closed: bool,
}

impl Pipe {
    fn new(capacity: usize) -> Self {
        Pipe {
            buf: vec![0; capacity],
            start: 0,
            len: 0,
            closed: false,
        }
    }
}

impl Write for Pipe {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let cap = self.buf.len();
        if self.len == cap {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let end = (self.start + self.len) % cap;
        let n = data.len().min(cap - self.len).min(cap - end);
        self.buf[end..end + n].copy_from_slice(&data[..n]);
        self.len += n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Pipe {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.len == 0 {
            return if self.closed {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let cap = self.buf.len();
        let n = out.len().min(self.len).min(cap - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start = (self.start + n) % cap;
        self.len -= n;
        Ok(n)
    }
}

/// Prime length, so pattern and cell boundaries never line up.
const PATTERN_LEN: usize = 65_521;
const TOTAL: u64 = 1 << 30;

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

#[test]
fn one_gib_streams_through_a_relay_with_bounded_heap() {
    COUNTED.with(|c| c.set(true));
    let start = CURRENT.load(Ordering::SeqCst);
    PEAK.store(start, Ordering::SeqCst);

    let pattern: Vec<u8> = (0..PATTERN_LEN)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let layout = CellLayout::new(&TunnelConfig::default()).unwrap();
    let (relay_key, exit_key) = ([1u8; 32], [2u8; 32]);
    let mut writer = CellWriter::new(CellSealer::new(layout, &[relay_key, exit_key]).unwrap());
    let mut relay = CellProxy::new(CellPeeler::new(layout, &relay_key).unwrap());
    let mut exit = CellReader::new(CellOpener::new(layout, &exit_key).unwrap());
    let mut to_relay = Pipe::new(64 * 1024);
    let mut to_exit = Pipe::new(64 * 1024);
    let mut read_buf = vec![0u8; 32 * 1024];

    let (mut sent, mut received) = (0u64, 0u64);
    let (mut writer_done, mut relay_done, mut exit_done) = (false, false, false);
    let mut peak_at_quarter = 0;
    while !exit_done {
        while !writer_done {
            let r = if sent == TOTAL {
                writer.write_end(&mut to_relay).map(|()| {
                    writer_done = true;
                    to_relay.closed = true;
                })
            } else {
                let at = (sent % PATTERN_LEN as u64) as usize;
                let n = (PATTERN_LEN - at).min((TOTAL - sent) as usize);
                writer
                    .write_into(&mut to_relay, &pattern[at..at + n])
                    .map(|n| sent += n as u64)
            };
            match r {
                Ok(()) => {}
                Err(e) if would_block(&e) => break,
                Err(e) => panic!("writer: {e}"),
            }
        }
        if !relay_done {
            match relay.pump(&mut to_relay, &mut to_exit) {
                Ok(()) => {
                    relay_done = true;
                    to_exit.closed = true;
                }
                Err(e) if would_block(&e) => {}
                Err(e) => panic!("relay: {e}"),
            }
        }
        loop {
            match exit.read_from(&mut to_exit, &mut read_buf) {
                Ok(0) => {
                    exit.read_end(&mut to_exit).unwrap();
                    exit_done = true;
                    break;
                }
                Ok(n) => {
                    let mut got = &read_buf[..n];
                    while !got.is_empty() {
                        let at = (received % PATTERN_LEN as u64) as usize;
                        let k = got.len().min(PATTERN_LEN - at);
                        assert!(got[..k] == pattern[at..at + k], "byte {received}");
                        received += k as u64;
                        got = &got[k..];
                    }
                }
                Err(e) if would_block(&e) => break,
                Err(e) => panic!("exit: {e}"),
            }
        }
        if received >= TOTAL / 4 && peak_at_quarter == 0 {
            peak_at_quarter = PEAK.load(Ordering::SeqCst);
        }
    }

    assert_eq!(received, TOTAL);
    let cells = layout.cells_for(TOTAL);
    assert_eq!(relay.cells(), cells);
    let final_peak = PEAK.load(Ordering::SeqCst);
    COUNTED.with(|c| c.set(false));
    let peak = final_peak - start;
    println!("peak heap above the start: {peak} bytes for {TOTAL} payload bytes");
    assert!(peak < 1 << 20, "peak heap {peak} bytes");
    // The last three quarters of the stream allocated nothing new.
    assert_eq!(final_peak, peak_at_quarter);
}
