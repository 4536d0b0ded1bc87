//! Frames and encoders: the cost of framing a message over encoding it
//! alone, and of streaming an attachment over `std::io::copy`. Each
//! baseline runs in the same group as what it is compared with.
//!
//! `cargo bench -p mydht --bench frame -- --warm-up-time 1 --measurement-time 3`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mydht::frame::{
    AttachmentReader, AttachmentWriter, FrameReader, FrameWriter, DEFAULT_ATTACHMENT_BUF,
    DEFAULT_MAX_FRAME_LEN,
};
use mydht::msgenc::{Bincode, Json};
use mydht_base::{Attachment, MsgEnc};
use serde::{Deserialize, Serialize};

/// A typical control message: a key, a small value, a few routing entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Msg {
    Store {
        key: Vec<u8>,
        value: String,
        hops: BTreeMap<u32, Vec<u8>>,
        attachment: Option<Attachment>,
    },
}

fn sample() -> Msg {
    Msg::Store {
        key: vec![7; 32],
        value: "v".repeat(200),
        hops: (0..8).map(|i| (i, vec![i as u8; 16])).collect(),
        attachment: Some(Attachment::new(1 << 20)),
    }
}

/// Encodes then decodes `msg` without frames: the baseline.
fn raw<E: MsgEnc>(enc: &E, msg: &Msg, out: &mut Vec<u8>) -> Msg {
    out.clear();
    enc.encode(msg, out).unwrap();
    enc.decode(out).unwrap()
}

/// Encodes `msg` into a frame, writes it, reads it back and decodes it.
fn framed<E: MsgEnc>(
    enc: &E,
    msg: &Msg,
    writer: &mut FrameWriter,
    reader: &mut FrameReader,
    wire: &mut Vec<u8>,
) -> Msg {
    wire.clear();
    writer.push_msg(enc, msg).unwrap();
    writer.write_to(wire).unwrap();
    reader.read_msg(enc, &mut &wire[..]).unwrap().unwrap()
}

fn bench_messages(c: &mut Criterion) {
    let msg = sample();
    let mut group = c.benchmark_group("message");
    group.sample_size(30);
    let mut out = Vec::new();
    let mut writer = FrameWriter::new(DEFAULT_MAX_FRAME_LEN);
    let mut reader = FrameReader::new(DEFAULT_MAX_FRAME_LEN);
    let mut wire = Vec::new();
    let bincode = Bincode::new();
    group.bench_function("bincode_raw", |b| {
        b.iter(|| raw(&bincode, black_box(&msg), &mut out))
    });
    group.bench_function("bincode_framed", |b| {
        b.iter(|| {
            framed(
                &bincode,
                black_box(&msg),
                &mut writer,
                &mut reader,
                &mut wire,
            )
        })
    });
    group.bench_function("json_raw", |b| {
        b.iter(|| raw(&Json, black_box(&msg), &mut out))
    });
    group.bench_function("json_framed", |b| {
        b.iter(|| framed(&Json, black_box(&msg), &mut writer, &mut reader, &mut wire))
    });
    group.finish();
}

/// A source that is only `Read` (a slice is also `BufRead`, which lets
/// `std::io::copy` skip its buffer): what a file or a socket looks like.
struct Source<'a>(&'a [u8]);

impl io::Read for Source<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.0.read(out)
    }
}

/// A sink the optimiser cannot see through.
struct Discard;

impl io::Write for Discard {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(black_box(buf).len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn bench_attachment(c: &mut Criterion) {
    const LEN: usize = 16 << 20;
    let content = vec![0x5a_u8; LEN];
    let announced = Attachment::new(LEN as u64);
    let mut group = c.benchmark_group("attachment_16MiB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(LEN as u64));
    group.bench_function("std_io_copy", |b| {
        b.iter(|| io::copy(&mut Source(&content), &mut Discard).unwrap())
    });
    group.bench_function("writer", |b| {
        b.iter(|| {
            let mut w = AttachmentWriter::new(announced, DEFAULT_ATTACHMENT_BUF);
            w.write_from(&mut Source(&content), &mut Discard).unwrap();
        })
    });
    group.bench_function("reader", |b| {
        b.iter(|| {
            let mut r =
                AttachmentReader::new(announced, LEN as u64, DEFAULT_ATTACHMENT_BUF).unwrap();
            r.read_into(&mut Source(&content), &mut Discard).unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, bench_messages, bench_attachment);
criterion_main!(benches);
