//! Frames and encoders: the cost of framing a message over encoding it
//! alone, and of streaming an attachment over `std::io::copy`. Each
//! baseline runs in the same group as what it is compared with, and also
//! alternately with it inside each sample; this run's medians, their
//! ratios and the medians of the paired per-sample ratios are printed at
//! the end (one table).
//!
//! `cargo bench -p mydht --bench frame -- --warm-up-time 1 --measurement-time 3`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
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

/// `{name}_raw` (encode + decode alone) and `{name}_framed`, each framed
/// iteration paired with a bare one.
fn bench_encoder<E: MsgEnc>(
    group: &mut BenchmarkGroup<WallTime>,
    run: &ratio::Run,
    (enc, name): (&E, &str),
    msg: &Msg,
) {
    let mut out = Vec::new();
    let mut writer = FrameWriter::new(DEFAULT_MAX_FRAME_LEN);
    let mut reader = FrameReader::new(DEFAULT_MAX_FRAME_LEN);
    let mut wire = Vec::new();
    let mut bare = || {
        black_box(raw(enc, black_box(msg), &mut out));
    };
    let mut with_frames = || {
        black_box(framed(
            enc,
            black_box(msg),
            &mut writer,
            &mut reader,
            &mut wire,
        ));
    };
    let ids = (
        format!("message/{name}_framed"),
        format!("message/{name}_raw"),
    );
    group.bench_function(format!("{name}_raw"), |b| run.iter(b, &ids.1, &mut bare));
    group.bench_function(format!("{name}_framed"), |b| {
        run.paired(b, (&ids.0, &ids.1), &mut with_frames, &mut bare)
    });
}

fn bench_messages(c: &mut Criterion, run: &ratio::Run) {
    let msg = sample();
    let mut group = c.benchmark_group("message");
    group.sample_size(run.samples());
    bench_encoder(&mut group, run, (&Bincode::new(), "bincode"), &msg);
    bench_encoder(&mut group, run, (&Json, "json"), &msg);
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

fn bench_attachment(c: &mut Criterion, run: &ratio::Run) {
    const LEN: usize = 16 << 20;
    let content = vec![0x5a_u8; LEN];
    let announced = Attachment::new(LEN as u64);
    let mut group = c.benchmark_group("attachment_16MiB");
    group.sample_size(run.samples());
    group.throughput(Throughput::Bytes(LEN as u64));
    let copy = || {
        io::copy(&mut Source(&content), &mut Discard).unwrap();
    };
    let write = || {
        let mut w = AttachmentWriter::new(announced, DEFAULT_ATTACHMENT_BUF);
        w.write_from(&mut Source(&content), &mut Discard).unwrap();
    };
    let read = || {
        let mut r = AttachmentReader::new(announced, LEN as u64, DEFAULT_ATTACHMENT_BUF).unwrap();
        r.read_into(&mut Source(&content), &mut Discard).unwrap();
    };
    let base = "attachment_16MiB/std_io_copy";
    group.bench_function("std_io_copy", |b| run.iter(b, base, copy));
    group.bench_function("writer", |b| {
        run.paired(b, ("attachment_16MiB/writer", base), write, copy)
    });
    group.bench_function("reader", |b| {
        run.paired(b, ("attachment_16MiB/reader", base), read, copy)
    });
    group.finish();
}

fn main() {
    let run = ratio::Run::new(20);
    let mut c = Criterion::default().configure_from_args();
    bench_messages(&mut c, &run);
    bench_attachment(&mut c, &run);
    c.final_summary();
    for enc in ["bincode", "json"] {
        run.compare(
            &format!("message, {enc}: framed vs encode + decode alone"),
            &format!("message/{enc}_framed"),
            &format!("message/{enc}_raw"),
        );
    }
    for (side, name) in [
        ("writer", "AttachmentWriter"),
        ("reader", "AttachmentReader"),
    ] {
        run.compare(
            &format!("attachment of 16 MiB, `{name}` vs `std::io::copy`"),
            &format!("attachment_16MiB/{side}"),
            "attachment_16MiB/std_io_copy",
        );
    }
    run.summary("frame, times per message (message) and per 16 MiB (attachment)");
}

/// This run's medians and ratios (see the module's docs).
#[path = "../../mydht-base/benches/support/ratio.rs"]
mod ratio;
