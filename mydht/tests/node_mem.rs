//! The touch scenario over the in-memory transport with injected faults:
//! short reads and writes, and `WouldBlock` at many offsets, under every
//! profile. Frames, shadows and the handshake must resume wherever a read or
//! write stops.

#[macro_use]
mod node_common;

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use mio::Registry;
use mydht_base::{Accepted, Connected, Registerable, Result, Transport};
use mydht_basetest::transport::{
    Faults, MemAddress, MemConfig, MemNetwork, MemReadStream, MemTransport, MemWriteStream,
};
use node_common::connect_and_touch;
use serde::{Deserialize, Serialize};

/// A node announces its address as text: this wraps the in-memory address
/// with the parsing a node needs ("mem:N").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MemAddr(MemAddress);

impl fmt::Display for MemAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for MemAddr {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        s.trim_start_matches("mem:")
            .parse()
            .map(|n| MemAddr(MemAddress(n)))
    }
}

/// [`MemTransport`] with [`MemAddr`] addresses.
pub struct FaultyMem(MemTransport);

impl Transport for FaultyMem {
    type Address = MemAddr;
    type ReadStream = MemReadStream;
    type WriteStream = MemWriteStream;
    fn is_nonblocking(&self) -> bool {
        self.0.is_nonblocking()
    }
    fn local_address(&self) -> Result<MemAddr> {
        self.0.local_address().map(MemAddr)
    }
    fn accept(&self) -> Result<Option<Accepted<Self>>> {
        Ok(self.0.accept()?.map(|a| Accepted {
            read: a.read,
            write: a.write,
            from: MemAddr(a.from),
        }))
    }
    fn connect_with(&self, address: &MemAddr) -> Result<Connected<Self>> {
        let c = self.0.connect_with(&address.0)?;
        Ok(Connected {
            write: c.write,
            read: c.read,
        })
    }
}

impl Registerable<Registry> for FaultyMem {
    fn register(&mut self, registry: &Registry, token: usize) -> Result<bool> {
        self.0.register(registry, token)
    }
    fn deregister(&mut self, registry: &Registry) -> Result<()> {
        self.0.deregister(registry)
    }
}

/// One network for the nodes of this test binary.
fn network() -> &'static MemNetwork {
    static NET: OnceLock<MemNetwork> = OnceLock::new();
    NET.get_or_init(MemNetwork::new)
}

/// Short reads and writes everywhere, `WouldBlock` every 97 bytes of the
/// first 16 KiB (handshake frames, first shadow chunks, messages) in both
/// directions, and a small pipe so writers fill it.
fn faulty() -> Result<FaultyMem> {
    let mut faults = Faults::default().short_reads(7).short_writes(13);
    for offset in (1..16 * 1024).step_by(97) {
        faults = faults
            .would_block_on_read_at(offset)
            .would_block_on_write_at(offset + 31);
    }
    let config = MemConfig::nonblocking()
        .with_pipe_capacity(4096)
        .with_faults(faults);
    network().listen(config).map(FaultyMem)
}

/// The same faults on the blocking in-memory transport (its 50 ms wait
/// lets blocked services notice a stop).
fn blocking_faulty() -> Result<FaultyMem> {
    let faults = Faults::default()
        .short_reads(7)
        .short_writes(13)
        .would_block_on_read_at(100)
        .would_block_on_write_at(3000);
    let config = MemConfig::blocking(Some(std::time::Duration::from_millis(50)))
        .with_pipe_capacity(4096)
        .with_faults(faults);
    network().listen(config).map(FaultyMem)
}

touch_conf!(ThreadedMem, threaded, FaultyMem, faulty());
touch_conf!(BlockingMem, threaded_blocking, FaultyMem, blocking_faulty());
touch_conf!(LocalMem, single_thread, FaultyMem, faulty());
touch_conf!(RestartMem, restartable, FaultyMem, faulty());

#[test]
fn test_connect_all_th_mem_faults() {
    let n1 = mydht::start_loop(ThreadedMem).expect("node 1");
    let n2 = mydht::start_loop(ThreadedMem).expect("node 2");
    connect_and_touch(&n1, &n2);
    n1.stop().expect("stop node 1");
    n2.stop().expect("stop node 2");
}

#[test]
fn test_connect_local_mem_faults() {
    let n1 = mydht::start_loop(LocalMem).expect("node 1");
    let n2 = mydht::start_loop(LocalMem).expect("node 2");
    connect_and_touch(&n1, &n2);
    n1.stop().expect("stop node 1");
    n2.stop().expect("stop node 2");
}

#[test]
fn test_connect_restartable_mem_faults() {
    let n1 = mydht::start_loop(RestartMem).expect("node 1");
    let n2 = mydht::start_loop(RestartMem).expect("node 2");
    connect_and_touch(&n1, &n2);
    n1.stop().expect("stop node 1");
    n2.stop().expect("stop node 2");
}

#[test]
fn test_connect_blocking_mem_faults() {
    let n1 = mydht::start_loop(BlockingMem).expect("node 1");
    let n2 = mydht::start_loop(BlockingMem).expect("node 2");
    connect_and_touch(&n1, &n2);
    n1.stop().expect("stop node 1");
    n2.stop().expect("stop node 2");
}
