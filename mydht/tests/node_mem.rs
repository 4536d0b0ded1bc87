//! The touch scenario over the in-memory transport with injected faults:
//! short reads and writes, and `WouldBlock` at many offsets, under every
//! profile. Frames, shadows and the handshake must resume wherever a read or
//! write stops.

use mydht_base::Result;
use mydht_basetest::harness::conf::mem_network;
use mydht_basetest::harness::nodes::touch_pair;
use mydht_basetest::touch_conf;
use mydht_basetest::transport::{Faults, MemConfig, MemTransport};

/// Short reads and writes everywhere, `WouldBlock` every 97 bytes of the
/// first 16 KiB (handshake frames, first shadow chunks, messages) in both
/// directions, and a small pipe so writers fill it.
fn faulty() -> Result<MemTransport> {
    let mut faults = Faults::default().short_reads(7).short_writes(13);
    for offset in (1..16 * 1024).step_by(97) {
        faults = faults
            .would_block_on_read_at(offset)
            .would_block_on_write_at(offset + 31);
    }
    let config = MemConfig::nonblocking()
        .with_pipe_capacity(4096)
        .with_faults(faults);
    mem_network().listen(config)
}

/// The same faults on the blocking in-memory transport (its 50 ms wait
/// lets blocked services notice a stop).
fn blocking_faulty() -> Result<MemTransport> {
    let faults = Faults::default()
        .short_reads(7)
        .short_writes(13)
        .would_block_on_read_at(100)
        .would_block_on_write_at(3000);
    let config = MemConfig::blocking(Some(std::time::Duration::from_millis(50)))
        .with_pipe_capacity(4096)
        .with_faults(faults);
    mem_network().listen(config)
}

touch_conf!(ThreadedMem, threaded, MemTransport, faulty());
touch_conf!(
    BlockingMem,
    threaded_blocking,
    MemTransport,
    blocking_faulty()
);
touch_conf!(LocalMem, single_thread, MemTransport, faulty());
touch_conf!(RestartMem, restartable, MemTransport, faulty());

#[test]
fn test_connect_all_th_mem_faults() {
    touch_pair(ThreadedMem, ThreadedMem);
}

#[test]
fn test_connect_local_mem_faults() {
    touch_pair(LocalMem, LocalMem);
}

#[test]
fn test_connect_restartable_mem_faults() {
    touch_pair(RestartMem, RestartMem);
}

#[test]
fn test_connect_blocking_mem_faults() {
    touch_pair(BlockingMem, BlockingMem);
}
