//! Whatever the mix of faults, the in-memory transport neither loses,
//! duplicates nor reorders a byte, and the tamper hook changes exactly the
//! chosen one.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};

use mydht_base::Transport;
use mydht_basetest::transport::{Faults, MemConfig, MemNetwork, MemReadStream, MemWriteStream};
use proptest::prelude::*;

fn faults(max: usize, would_block_at: &BTreeSet<u64>, reading: bool) -> Faults {
    would_block_at
        .iter()
        .fold(Faults::default(), |f, &offset| {
            if reading {
                f.would_block_on_read_at(offset)
            } else {
                f.would_block_on_write_at(offset)
            }
        })
        .short_reads(max)
        .short_writes(max)
}

/// Moves `data` from `write` to `read` on one thread, as a read and a write
/// service would on readiness; fails if no call makes progress for long.
fn transfer(mut write: MemWriteStream, mut read: MemReadStream, data: &[u8]) -> Vec<u8> {
    let mut sent = 0;
    let mut received = Vec::new();
    let mut buf = [0u8; 97];
    let mut idle_rounds = 0;
    while received.len() < data.len() {
        let before = (sent, received.len());
        loop {
            if sent == data.len() {
                break;
            }
            match write.write(&data[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        loop {
            match read.read(&mut buf) {
                Ok(0) => panic!("early end of stream"),
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        // An injected `WouldBlock` may stop a round without moving a byte,
        // but each is consumed: two idle rounds in a row are a stall.
        idle_rounds = if before == (sent, received.len()) {
            idle_rounds + 1
        } else {
            0
        };
        assert!(idle_rounds < 3, "transfer stalled");
    }
    drop(write);
    assert_eq!(read.read(&mut buf).unwrap(), 0, "nothing more than sent");
    received
}

fn connect(server: MemConfig, client: MemConfig) -> (MemWriteStream, MemReadStream) {
    let network = MemNetwork::new();
    let server = network.listen(server).unwrap();
    let client = network.listen(client).unwrap();
    let connected = client
        .connect_with(&server.local_address().unwrap())
        .unwrap();
    let accepted = server.accept().unwrap().unwrap();
    (connected.write, accepted.read)
}

proptest! {
    #[test]
    fn bytes_arrive_intact_whatever_the_faults(
        data in proptest::collection::vec(any::<u8>(), 1..3000),
        capacity in 1usize..300,
        read_max in 1usize..80,
        write_max in 1usize..80,
        read_blocks in proptest::collection::btree_set(0u64..3000, 0..8),
        write_blocks in proptest::collection::btree_set(0u64..3000, 0..8),
    ) {
        let (write, read) = connect(
            MemConfig::nonblocking()
                .with_pipe_capacity(capacity)
                .with_faults(faults(read_max, &read_blocks, true)),
            MemConfig::nonblocking().with_faults(faults(write_max, &write_blocks, false)),
        );
        prop_assert_eq!(transfer(write, read, &data), data);
    }

    #[test]
    fn flip_byte_changes_that_byte_only(
        data in proptest::collection::vec(any::<u8>(), 1..2000),
        at in any::<prop::sample::Index>(),
        mask in 1u8..,
        write_max in 1usize..50,
    ) {
        let offset = at.index(data.len());
        let (write, read) = connect(
            MemConfig::nonblocking().with_pipe_capacity(100),
            MemConfig::nonblocking()
                .with_faults(Faults::default().short_writes(write_max).flip_byte(offset as u64, mask)),
        );
        let received = transfer(write, read, &data);
        let mut expected = data.clone();
        expected[offset] ^= mask;
        prop_assert_eq!(received, expected);
    }
}
