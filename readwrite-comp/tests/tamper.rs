//! Changed, cut, dropped, reordered or oversized chunks give typed errors,
//! never a wrong message and never a panic.

mod common;

use common::{config, read_plain, upper, write_plain, Spec};
use proptest::prelude::*;
use readwrite_comp::testing::{ChecksumCipher, FaultPlan, FaultyReader};
use readwrite_comp::{ChunkMode, ChunkR, CompR, LimiterR, NoCipher};
use std::io::{ErrorKind, Read};

/// A stack whose wire-side layer authenticates every byte.
fn authenticated_stack() -> impl Strategy<Value = (Spec, bool)> {
    let bottom = prop_oneof![
        (1..300usize, any::<u64>())
            .prop_map(|(max_chunk, key)| (Spec::Chunk { max_chunk, key }, false)),
        (13..300usize, any::<u64>())
            .prop_map(|(cell_size, key)| (Spec::Cell { cell_size, key }, true)),
    ];
    (prop::collection::vec(upper(), 0..3), bottom).prop_map(|(mut v, (b, cells))| {
        v.push(b);
        (Spec::Stack(v), cells)
    })
}

fn messages() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..700), 1..4)
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn any_changed_byte_is_an_error(
        (spec, cells) in authenticated_stack(),
        msgs in messages(),
        at in any::<prop::sample::Index>(),
        mask in 1..=255u8,
    ) {
        let mut wire = write_plain(&spec, &msgs);
        let i = at.index(wire.len());
        wire[i] ^= mask;
        let kind = read_plain(&spec, &wire, msgs.len()).unwrap_err().kind();
        if cells {
            // Cells have a fixed size: a change is always a bad tag.
            prop_assert_eq!(kind, ErrorKind::InvalidData);
        } else {
            // A changed length may also make the reader wait for more.
            prop_assert!(matches!(kind, ErrorKind::InvalidData | ErrorKind::UnexpectedEof), "{:?}", kind);
        }
    }

    #[test]
    fn any_truncation_is_unexpected_eof(
        spec in common::stack(),
        msgs in messages(),
        at in any::<prop::sample::Index>(),
    ) {
        let wire = write_plain(&spec, &msgs);
        let cut = at.index(wire.len());
        let err = read_plain(&spec, &wire[..cut], msgs.len()).unwrap_err();
        prop_assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    }
}

/// Wire chunks of `wire` written in variable mode with an 8-byte tag.
fn split_variable(mut wire: &[u8]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    while !wire.is_empty() {
        let len = (u32::from_be_bytes(wire[..4].try_into().unwrap()) & 0x7fff_ffff) as usize;
        let (c, rest) = wire.split_at(4 + len + 8);
        chunks.push(c.to_vec());
        wire = rest;
    }
    chunks
}

/// Two messages of several chunks each, cut into wire chunks, per mode.
fn chunked_wires() -> Vec<(Spec, Vec<Vec<u8>>)> {
    let msgs = vec![vec![1; 95], vec![2; 40]];
    let variable = Spec::Chunk {
        max_chunk: 10,
        key: 5,
    };
    let fixed = Spec::Cell {
        cell_size: 30,
        key: 5,
    };
    let v = split_variable(&write_plain(&variable, &msgs));
    let f = write_plain(&fixed, &msgs)
        .chunks(30)
        .map(<[u8]>::to_vec)
        .collect();
    vec![(variable, v), (fixed, f)]
}

#[test]
fn dropped_chunks_are_invalid_data() {
    for (spec, chunks) in chunked_wires() {
        assert!(chunks.len() > 5);
        // Dropping the very last chunk is a truncation (UnexpectedEof); any
        // other dropped chunk shifts the indexes after it.
        for drop in 0..chunks.len() - 1 {
            let mut c = chunks.clone();
            c.remove(drop);
            let err = read_plain(&spec, &c.concat(), 2).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidData, "{spec:?} drop {drop}");
        }
    }
}

#[test]
fn reordered_or_replayed_chunks_are_invalid_data() {
    for (spec, chunks) in chunked_wires() {
        for i in 0..chunks.len() - 1 {
            let mut c = chunks.clone();
            c.swap(i, i + 1);
            let err = read_plain(&spec, &c.concat(), 2).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidData, "{spec:?} swap {i}");

            let mut c = chunks.clone();
            c.insert(i + 1, chunks[i].clone());
            let err = read_plain(&spec, &c.concat(), 2).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidData, "{spec:?} replay {i}");
        }
    }
}

#[test]
fn chunk_from_another_key_is_invalid_data() {
    let msgs = vec![vec![9; 50]];
    let wire = write_plain(
        &Spec::Chunk {
            max_chunk: 16,
            key: 1,
        },
        &msgs,
    );
    let other = Spec::Chunk {
        max_chunk: 16,
        key: 2,
    };
    let err = read_plain(&other, &wire, 1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
}

#[test]
fn oversize_length_is_refused_before_its_data_is_read() {
    for len in [101u32, 1 << 20, 0x7fff_ffff] {
        let mut wire = len.to_be_bytes().to_vec();
        wire.extend_from_slice(&[0; 200]);
        let stream = FaultyReader::new(&wire[..], FaultPlan::new());
        let mut r = CompR::new(stream, LimiterR::new(100).unwrap());
        let err = r.read(&mut [0; 10]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert_eq!(r.get_ref().position(), 4, "read past the header");
        // The reader stays failed rather than resyncing on attacker data.
        let again = r.read(&mut [0; 10]).unwrap_err();
        assert_eq!(again.kind(), ErrorKind::InvalidData);
    }
}

#[test]
fn oversize_length_inside_a_cell_is_invalid_data() {
    let mode = ChunkMode::Fixed { cell_size: 16 };
    let mut cell = [0u8; 16];
    cell[..4].copy_from_slice(&13u32.to_be_bytes()); // capacity is 12
    let mut r = CompR::new(&cell[..], ChunkR::new(NoCipher, mode).unwrap());
    let err = r.read(&mut [0; 16]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
}

#[test]
fn last_flag_cannot_be_forged() {
    // Set the last flag on the first of several chunks: the message would
    // end early if the flag were not authenticated.
    let spec = Spec::Chunk {
        max_chunk: 10,
        key: 3,
    };
    let mut wire = write_plain(&spec, &[vec![4; 35]]);
    wire[0] |= 0x80;
    let mut r = CompR::new(
        &wire[..],
        ChunkR::new(
            ChecksumCipher::new(3),
            ChunkMode::Variable { max_chunk: 10 },
        )
        .unwrap(),
    );
    let err = r.read(&mut [0; 64]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
}
