//! Memory bounds, measured: a counting global allocator (this file's own,
//! so other tests do not share it) records what the current thread
//! allocates while a closure runs.

mod frame_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use frame_support::{StutterReader, TestMsg, Transfer};
use mydht::frame::{FrameReader, DEFAULT_ATTACHMENT_BUF, DEFAULT_MAX_FRAME_LEN};
use mydht::msgenc::Bincode;
use mydht_base::{ErrorKind, MsgEnc};

struct Counting;

thread_local! {
    // Const-initialised `Cell`s: touching them never allocates, so the
    // allocator may use them.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    static TOTAL: Cell<usize> = const { Cell::new(0) };
}

fn on_alloc(size: usize) {
    if COUNTING.with(Cell::get) {
        let live = LIVE.with(|l| {
            l.set(l.get() + size as isize);
            l.get()
        });
        PEAK.with(|p| p.set(p.get().max(live)));
        TOTAL.with(|t| t.set(t.get() + size));
    }
}

fn on_dealloc(size: usize) {
    if COUNTING.with(Cell::get) {
        LIVE.with(|l| l.set(l.get() - size as isize));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        on_alloc(layout.size());
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        on_dealloc(layout.size());
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        on_dealloc(layout.size());
        on_alloc(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What the current thread allocated while `f` ran.
struct Usage {
    /// Most bytes live at once, above what was live before.
    peak: usize,
    /// All bytes allocated.
    total: usize,
}

fn measure<T>(f: impl FnOnce() -> T) -> (T, Usage) {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    TOTAL.with(|t| t.set(0));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    let usage = Usage {
        peak: PEAK.with(Cell::get) as usize,
        total: TOTAL.with(Cell::get),
    };
    (r, usage)
}

#[test]
fn a_100_mib_attachment_streams_in_memory_bounded_by_the_buffer() {
    const LEN: u64 = 100 << 20;
    // Everything but the attachment buffers is allocated before measuring.
    let mut transfer = Transfer::new(LEN, 16 << 10, DEFAULT_ATTACHMENT_BUF, 1 << 30);
    let (result, usage) = measure(|| transfer.run());
    result.unwrap();
    assert_eq!(transfer.sink.received, LEN);
    assert_eq!(transfer.received.len(), 2);
    // The receiver's buffer (the sender's was allocated before measuring),
    // two small frames and the decoded messages: nothing grows with the
    // length, nothing is allocated per chunk.
    let bound = DEFAULT_ATTACHMENT_BUF + (4 << 10);
    assert!(usage.peak <= bound, "peak {} over {bound}", usage.peak);
    assert!(usage.total <= bound, "total {} over {bound}", usage.total);
}

#[test]
fn an_oversize_length_prefix_allocates_nothing() {
    let wire = u32::MAX.to_be_bytes();
    let mut reader = FrameReader::new(DEFAULT_MAX_FRAME_LEN);
    let mut stream = StutterReader::new(&wire, &[4]);
    let (result, usage) = measure(|| loop {
        match reader.read_frame(&mut stream) {
            Err(e) if e.is_would_block() => continue,
            r => return r.map(|f| f.map(<[u8]>::to_vec)),
        }
    });
    assert_eq!(result.unwrap_err().kind(), ErrorKind::TooLarge);
    // Only the error's message.
    assert!(usage.total < 256, "total {}", usage.total);
}

#[test]
fn a_frame_claiming_the_maximum_holds_only_what_arrived() {
    // 1 MiB claimed, 10 bytes sent, then the peer stalls.
    let mut wire = (DEFAULT_MAX_FRAME_LEN as u32).to_be_bytes().to_vec();
    wire.extend_from_slice(&[0; 10]);
    let mut reader = FrameReader::new(DEFAULT_MAX_FRAME_LEN);
    let mut stream = Stall { data: &wire };
    let (result, usage) = measure(|| reader.read_frame(&mut stream).map(|f| f.is_some()));
    assert!(result.unwrap_err().is_would_block());
    assert!(usage.peak <= 8 << 10, "peak {}", usage.peak);
}

#[test]
fn a_frame_grows_its_buffer_to_at_most_twice_what_arrived() {
    let body = vec![3u8; 300_000];
    let mut wire = (body.len() as u32).to_be_bytes().to_vec();
    wire.extend_from_slice(&body);
    let mut reader = FrameReader::new(DEFAULT_MAX_FRAME_LEN);
    let mut stream = StutterReader::new(&wire, &[1000]);
    let (len, usage) = measure(|| loop {
        match reader.read_frame(&mut stream) {
            Err(e) if e.is_would_block() => continue,
            r => return r.unwrap().unwrap().len(),
        }
    });
    assert_eq!(len, body.len());
    assert!(usage.peak <= 2 * body.len(), "peak {}", usage.peak);
}

#[test]
fn bincode_never_allocates_a_claimed_length() {
    // `Ping { nonce: 0, from: Some(<string of 2^56 bytes>) }` in 12 bytes.
    let mut bytes = vec![0, 0, 1, 253];
    bytes.extend_from_slice(&(1u64 << 56).to_le_bytes());
    // Under the limit, but far over the slice: still bounded by the limit.
    let mut under = vec![0, 0, 1, 252];
    under.extend_from_slice(&(3u32 << 20).to_le_bytes());
    let ((huge, big), usage) = measure(|| {
        (
            Bincode::new().decode::<TestMsg>(&bytes),
            Bincode::new().decode::<TestMsg>(&under),
        )
    });
    assert_eq!(huge.unwrap_err().kind(), ErrorKind::Decode);
    assert_eq!(big.unwrap_err().kind(), ErrorKind::Decode);
    assert!(
        usage.peak <= mydht::msgenc::DEFAULT_DECODE_LIMIT,
        "peak {}",
        usage.peak
    );
}

/// A peer that sent `data` and then nothing more.
struct Stall<'a> {
    data: &'a [u8],
}

impl std::io::Read for Stall<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.data.is_empty() {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        let n = out.len().min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}
