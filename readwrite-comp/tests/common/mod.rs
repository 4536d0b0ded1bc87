//! Shared by the integration tests: layer stacks described as data (so
//! proptest can generate and shrink them) and fault-injecting drivers.
#![allow(dead_code)] // each test binary uses a different part

use proptest::prelude::*;
use readwrite_comp::testing::{retry, ChecksumCipher, FaultPlan, FaultyReader, FaultyWriter};
use readwrite_comp::{
    ChunkMode, ChunkR, ChunkW, CompR, CompW, ExtRead, ExtWrite, LimiterR, LimiterW, MultiRExt,
    MultiWExt,
};
use std::io::{self, Cursor, Read, Write};

/// A layer or a stack of layers, index 0 nearest to the application.
#[derive(Debug, Clone)]
pub enum Spec {
    Limiter(usize),
    Chunk {
        max_chunk: usize,
        key: u64,
    },
    Cell {
        cell_size: usize,
        key: u64,
    },
    Stack(Vec<Spec>),
    /// A header-only layer (see [`Marker`]); needs a framing layer below.
    Marker(u8),
}

impl Spec {
    pub fn writer(&self) -> Box<dyn ExtWrite> {
        match self {
            Spec::Limiter(max) => Box::new(LimiterW::new(*max).unwrap()),
            Spec::Chunk { max_chunk, key } => Box::new(
                ChunkW::new(
                    ChecksumCipher::new(*key),
                    ChunkMode::Variable {
                        max_chunk: *max_chunk,
                    },
                )
                .unwrap(),
            ),
            Spec::Cell { cell_size, key } => Box::new(
                ChunkW::new(
                    ChecksumCipher::new(*key),
                    ChunkMode::Fixed {
                        cell_size: *cell_size,
                    },
                )
                .unwrap(),
            ),
            Spec::Stack(v) => Box::new(MultiWExt::new(v.iter().map(Spec::writer).collect())),
            Spec::Marker(id) => Box::new(Marker::new(*id)),
        }
    }

    pub fn reader(&self) -> Box<dyn ExtRead> {
        match self {
            Spec::Limiter(max) => Box::new(LimiterR::new(*max).unwrap()),
            Spec::Chunk { max_chunk, key } => Box::new(
                ChunkR::new(
                    ChecksumCipher::new(*key),
                    ChunkMode::Variable {
                        max_chunk: *max_chunk,
                    },
                )
                .unwrap(),
            ),
            Spec::Cell { cell_size, key } => Box::new(
                ChunkR::new(
                    ChecksumCipher::new(*key),
                    ChunkMode::Fixed {
                        cell_size: *cell_size,
                    },
                )
                .unwrap(),
            ),
            Spec::Stack(v) => Box::new(MultiRExt::new(v.iter().map(Spec::reader).collect())),
            Spec::Marker(id) => Box::new(Marker::new(*id)),
        }
    }
}

/// `cases` cases; no failure file (integration tests have no lib.rs for
/// proptest to anchor it): a failure prints its minimal input instead.
pub fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One framing layer (the test cipher has an 8-byte tag: cells need > 12).
pub fn leaf() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (1..300usize).prop_map(Spec::Limiter),
        (1..300usize, any::<u64>()).prop_map(|(max_chunk, key)| Spec::Chunk { max_chunk, key }),
        (13..300usize, any::<u64>()).prop_map(|(cell_size, key)| Spec::Cell { cell_size, key }),
    ]
}

/// Any layer over a framing layer: a framing layer or a header marker.
pub fn upper() -> impl Strategy<Value = Spec> {
    prop_oneof![4 => leaf(), 1 => any::<u8>().prop_map(Spec::Marker)]
}

/// Any stack, nested stacks included, that ends (wire side) with a framing
/// layer so messages are delimited.
pub fn stack() -> impl Strategy<Value = Spec> {
    let any_layer = upper().prop_recursive(2, 8, 3, |inner| {
        prop::collection::vec(inner, 0..3).prop_map(Spec::Stack)
    });
    (prop::collection::vec(any_layer, 0..3), leaf()).prop_map(|(mut v, bottom)| {
        v.push(bottom);
        Spec::Stack(v)
    })
}

/// How the test splits its own calls and misbehaves below the layers.
#[derive(Debug, Clone)]
pub struct Drive {
    /// Sizes of successive application writes / reads, cycled.
    pub splits: Vec<usize>,
    /// Flush after every `flush_every`-th write (0: never mid-message).
    pub flush_every: usize,
    pub max_io: usize,
    pub seed: u64,
    pub block_per_mille: u16,
}

pub fn drive() -> impl Strategy<Value = Drive> {
    (
        prop::collection::vec(1..200usize, 1..8),
        0..6usize,
        prop_oneof![Just(1usize), 1..64usize, Just(usize::MAX)],
        any::<u64>(),
        prop_oneof![Just(0u16), 1..400u16],
    )
        .prop_map(
            |(splits, flush_every, max_io, seed, block_per_mille)| Drive {
                splits,
                flush_every,
                max_io,
                seed,
                block_per_mille,
            },
        )
}

impl Drive {
    fn plan(&self, salt: u64) -> FaultPlan {
        FaultPlan::new()
            .max_io(self.max_io)
            .seeded(self.seed ^ salt, self.block_per_mille)
    }
}

/// Writes `msgs` one after the other through `spec`, retrying every call
/// that blocks; returns the wire bytes.
pub fn write_messages(spec: &Spec, msgs: &[Vec<u8>], d: &Drive) -> io::Result<Vec<u8>> {
    let mut w = CompW::new(FaultyWriter::new(Vec::new(), d.plan(1)), spec.writer());
    let mut calls = 0usize;
    for m in msgs {
        let mut off = 0;
        while off < m.len() {
            let n = d.splits[calls % d.splits.len()].min(m.len() - off);
            calls += 1;
            off += retry(|| w.write(&m[off..off + n]))?;
            if d.flush_every != 0 && calls % d.flush_every == 0 {
                retry(|| w.flush())?;
            }
        }
        retry(|| w.write_end())?;
    }
    retry(|| w.flush())?;
    Ok(w.into_inner().into_inner())
}

/// Reads `count` messages from `wire` through `spec`, retrying every call
/// that blocks; returns them and the bytes left unread in the stream.
pub fn read_messages(
    spec: &Spec,
    wire: &[u8],
    count: usize,
    d: &Drive,
) -> io::Result<(Vec<Vec<u8>>, Vec<u8>)> {
    let stream = FaultyReader::new(Cursor::new(wire), d.plan(2));
    let mut r = CompR::new(stream, spec.reader());
    let mut msgs = Vec::new();
    let mut buf = vec![0; d.splits.iter().copied().max().unwrap_or(1)];
    let mut calls = 0usize;
    for _ in 0..count {
        let mut m = Vec::new();
        loop {
            let n = d.splits[calls % d.splits.len()];
            calls += 1;
            let got = retry(|| r.read(&mut buf[..n]))?;
            if got == 0 {
                break;
            }
            m.extend_from_slice(&buf[..got]);
        }
        retry(|| r.read_end())?;
        msgs.push(m);
    }
    let mut cursor = r.into_inner().into_inner();
    let mut rest = Vec::new();
    cursor.read_to_end(&mut rest)?;
    Ok((msgs, rest))
}

/// Reads `count` messages with plain blocking calls.
pub fn read_plain(spec: &Spec, wire: &[u8], count: usize) -> io::Result<Vec<Vec<u8>>> {
    let d = Drive {
        splits: vec![256],
        flush_every: 0,
        max_io: usize::MAX,
        seed: 0,
        block_per_mille: 0,
    };
    read_messages(spec, wire, count, &d).map(|(m, _)| m)
}

/// Writes `msgs` with plain blocking calls.
pub fn write_plain(spec: &Spec, msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut w = CompW::new(Vec::new(), spec.writer());
    for m in msgs {
        w.write_all(m).unwrap();
        w.write_end().unwrap();
    }
    w.into_inner()
}

/// A layer with a 3-byte header `[0xA5, id, !id]` and a pass-through body:
/// shows where each layer's header lands in a stack, and that partly
/// written or read headers resume.
#[derive(Debug)]
pub struct Marker {
    header: [u8; 3],
    /// Header bytes written or read so far.
    done: usize,
}

impl Marker {
    pub fn new(id: u8) -> Self {
        Marker {
            header: [0xA5, id, !id],
            done: 0,
        }
    }
}

impl ExtWrite for Marker {
    fn write_header(&mut self, w: &mut dyn Write) -> io::Result<()> {
        while self.done < 3 {
            match w.write(&self.header[self.done..])? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => self.done += n,
            }
        }
        self.done = 0;
        Ok(())
    }
    fn write_into(&mut self, w: &mut dyn Write, buf: &[u8]) -> io::Result<usize> {
        w.write(buf)
    }
    fn flush_into(&mut self, w: &mut dyn Write) -> io::Result<()> {
        w.flush()
    }
    fn write_end(&mut self, _: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

impl ExtRead for Marker {
    fn read_header(&mut self, r: &mut dyn Read) -> io::Result<()> {
        let mut got = [0; 3];
        while self.done < 3 {
            let n = r.read(&mut got[..3 - self.done])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if got[..n] != self.header[self.done..self.done + n] {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "bad marker"));
            }
            self.done += n;
        }
        self.done = 0;
        Ok(())
    }
    fn read_from(&mut self, r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
        r.read(buf)
    }
    fn read_end(&mut self, _: &mut dyn Read) -> io::Result<()> {
        Ok(())
    }
}
