//! Any stack of layers gives back exactly what was written, message by
//! message, under any split of calls, short I/O and interleaved blocking.

mod common;

use common::{drive, read_messages, stack, write_messages, Drive, Spec};
use proptest::prelude::*;

const TRAILER: &[u8] = b"bytes after the last message";

fn roundtrip(spec: &Spec, msgs: &[Vec<u8>], d: &Drive) {
    let mut wire = write_messages(spec, msgs, d).unwrap();
    wire.extend_from_slice(TRAILER);
    let (back, rest) = read_messages(spec, &wire, msgs.len(), d).unwrap();
    assert!(back == msgs, "messages differ");
    assert_eq!(rest, TRAILER, "bytes after the last message were read");
}

proptest! {
    #![proptest_config(common::config(300))]

    #[test]
    fn small_messages_round_trip(
        spec in stack(),
        msgs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..1500), 1..4),
        d in drive(),
    ) {
        roundtrip(&spec, &msgs, &d);
    }
}

proptest! {
    #![proptest_config(common::config(3))]

    #[test]
    fn large_messages_round_trip(
        spec in stack(),
        len in (1usize << 20)..(3 << 20),
        seed in any::<u64>(),
        d in drive(),
    ) {
        let msg: Vec<u8> = (0..len).map(|i| (i as u64).wrapping_mul(seed | 1).to_le_bytes()[3]).collect();
        // Large calls so the test stays fast; the faults still cut them.
        let d = Drive { splits: vec![65536, 1000, 7], max_io: d.max_io.max(4096), ..d };
        roundtrip(&spec, &[msg, vec![1, 2, 3]], &d);
    }
}

#[test]
fn every_byte_blocked_once_one_byte_at_a_time() {
    use readwrite_comp::testing::{retry, FaultPlan, FaultyReader, FaultyWriter};
    use readwrite_comp::{CompR, CompW};
    use std::io::{Read, Write};

    let spec = Spec::Stack(vec![
        Spec::Marker(1),
        Spec::Marker(2),
        Spec::Cell {
            cell_size: 40,
            key: 7,
        },
        Spec::Marker(3),
        Spec::Chunk {
            max_chunk: 9,
            key: 8,
        },
        Spec::Stack(vec![Spec::Marker(4), Spec::Marker(5)]),
        Spec::Limiter(5),
    ]);
    let msg: Vec<u8> = (0..=255).collect();
    let mut w = CompW::new(
        FaultyWriter::new(Vec::new(), FaultPlan::new().max_io(1).block_at(0..10_000)),
        spec.writer(),
    );
    let mut off = 0;
    while off < msg.len() {
        off += retry(|| w.write(&msg[off..])).unwrap();
    }
    retry(|| w.write_end()).unwrap();
    let wire = w.into_inner().into_inner();

    let plan = FaultPlan::new().max_io(1).block_at(0..10_000);
    let mut r = CompR::new(FaultyReader::new(&wire[..], plan), spec.reader());
    let mut back = Vec::new();
    let mut b = [0; 3];
    loop {
        let n = retry(|| r.read(&mut b)).unwrap();
        if n == 0 {
            break;
        }
        back.extend_from_slice(&b[..n]);
    }
    retry(|| r.read_end()).unwrap();
    assert_eq!(back, msg);
    assert_eq!(r.get_ref().position(), wire.len() as u64);
}
