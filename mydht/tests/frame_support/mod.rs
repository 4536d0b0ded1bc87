//! What the frame and encoder tests share: streams that stutter, an
//! in-memory pipe, a representative message enum and the round-trip check.

// Each test file uses a part of this module.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Debug;
use std::io::{self, Read, Write};

use mydht::frame::{AttachmentReader, AttachmentWriter, FrameReader, FrameWriter};
use mydht::msgenc::Bincode;
use mydht_base::{Attachment, MsgEnc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

fn would_block() -> io::Error {
    io::ErrorKind::WouldBlock.into()
}

/// Reads from a slice in chunks whose sizes cycle through `pattern`,
/// returning `WouldBlock` before every chunk: a non-blocking socket at its
/// worst.
pub struct StutterReader<'a> {
    data: &'a [u8],
    pattern: Vec<usize>,
    calls: usize,
    pub would_blocks: usize,
}

impl<'a> StutterReader<'a> {
    pub fn new(data: &'a [u8], pattern: &[usize]) -> Self {
        StutterReader {
            data,
            pattern: pattern.iter().map(|&n| n.max(1)).collect(),
            calls: 0,
            would_blocks: 0,
        }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &[u8] {
        self.data
    }
}

impl Read for StutterReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls % 2 == 1 && !self.data.is_empty() {
            self.would_blocks += 1;
            return Err(would_block());
        }
        let chunk = self.pattern[(self.calls / 2) % self.pattern.len()];
        let n = chunk.min(out.len()).min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Writes into a `Vec` in chunks whose sizes cycle through `pattern`,
/// returning `WouldBlock` before every chunk.
pub struct StutterWriter {
    pub data: Vec<u8>,
    pattern: Vec<usize>,
    calls: usize,
    pub would_blocks: usize,
}

impl StutterWriter {
    pub fn new(pattern: &[usize]) -> Self {
        StutterWriter {
            data: Vec::new(),
            pattern: pattern.iter().map(|&n| n.max(1)).collect(),
            calls: 0,
            would_blocks: 0,
        }
    }
}

impl Write for StutterWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls % 2 == 1 {
            self.would_blocks += 1;
            return Err(would_block());
        }
        let n = self.pattern[(self.calls / 2) % self.pattern.len()].min(buf.len());
        self.data.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A bounded in-memory byte pipe: writes past its capacity and reads of an
/// empty pipe would block; reads after `close` and an empty pipe end.
/// Its buffer is allocated once.
pub struct Pipe {
    buf: VecDeque<u8>,
    cap: usize,
    closed: bool,
}

impl Pipe {
    pub fn new(cap: usize) -> Self {
        Pipe {
            buf: VecDeque::with_capacity(cap),
            cap,
            closed: false,
        }
    }

    pub fn close(&mut self) {
        self.closed = true;
    }
}

impl Read for Pipe {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.buf.is_empty() {
            return if self.closed {
                Ok(0)
            } else {
                Err(would_block())
            };
        }
        self.buf.read(out)
    }
}

impl Write for Pipe {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.cap - self.buf.len();
        if room == 0 {
            return Err(would_block());
        }
        let n = room.min(data.len());
        self.buf.extend(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Length of the repeating pattern of [`PatternSource`] (a prime, so that
/// chunk boundaries rarely align with it).
const PATTERN: usize = 251;

fn pattern_block() -> Vec<u8> {
    (0..PATTERN * 64).map(|i| (i % PATTERN) as u8).collect()
}

/// An attachment's content generated on the fly: `len` bytes of a
/// repeating pattern, never held whole.
pub struct PatternSource {
    block: Vec<u8>,
    pos: u64,
    len: u64,
}

impl PatternSource {
    pub fn new(len: u64) -> Self {
        PatternSource {
            block: pattern_block(),
            pos: 0,
            len,
        }
    }
}

impl Read for PatternSource {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let offset = (self.pos % PATTERN as u64) as usize;
        let n = (self.len - self.pos)
            .min(out.len() as u64)
            .min((self.block.len() - offset) as u64) as usize;
        out[..n].copy_from_slice(&self.block[offset..offset + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

/// A sink that checks it receives the [`PatternSource`] content, without
/// keeping it.
pub struct PatternCheck {
    block: Vec<u8>,
    pub received: u64,
}

impl PatternCheck {
    pub fn new() -> Self {
        PatternCheck {
            block: pattern_block(),
            received: 0,
        }
    }
}

impl Write for PatternCheck {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let offset = (self.received % PATTERN as u64) as usize;
        let n = data.len().min(self.block.len() - offset);
        if data[..n] != self.block[offset..offset + n] {
            return Err(io::Error::other(format!(
                "wrong content near byte {}",
                self.received
            )));
        }
        self.received += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A representative protocol message: nested enums, byte vectors, strings,
/// options, maps, an attachment announcement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TestMsg {
    Ping {
        nonce: u64,
        from: Option<String>,
    },
    Store {
        key: Vec<u8>,
        value: Value,
        attachment: Option<Attachment>,
    },
    Found {
        values: BTreeMap<u32, Value>,
        hops: u8,
    },
    Tags(Vec<String>),
    Nested(Option<Value>, (u16, i32)),
    Bye,
}

/// A value nested in [`TestMsg`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Bytes(Vec<u8>),
    Text(String),
    Pair(i64, bool),
    Empty,
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..64)
}

impl Arbitrary for Value {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;

    fn arbitrary_with(_: ()) -> Self::Strategy {
        prop_oneof![
            bytes().prop_map(Value::Bytes),
            any::<String>().prop_map(Value::Text),
            any::<(i64, bool)>().prop_map(|(a, b)| Value::Pair(a, b)),
            Just(Value::Empty),
        ]
        .boxed()
    }
}

impl Arbitrary for TestMsg {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;

    fn arbitrary_with(_: ()) -> Self::Strategy {
        prop_oneof![
            any::<(u64, Option<String>)>().prop_map(|(nonce, from)| TestMsg::Ping { nonce, from }),
            (bytes(), any::<Value>(), any::<Option<u64>>()).prop_map(|(key, value, att)| {
                TestMsg::Store {
                    key,
                    value,
                    attachment: att.map(Attachment::new),
                }
            }),
            (
                prop::collection::btree_map(any::<u32>(), any::<Value>(), 0..6),
                any::<u8>()
            )
                .prop_map(|(values, hops)| TestMsg::Found { values, hops }),
            prop::collection::vec(any::<String>(), 0..6).prop_map(TestMsg::Tags),
            any::<(Option<Value>, (u16, i32))>().prop_map(|(v, t)| TestMsg::Nested(v, t)),
            Just(TestMsg::Bye),
        ]
        .boxed()
    }
}

/// Checks that `msgs` survive `enc` alone, then a [`FrameWriter`] and a
/// [`FrameReader`] over streams that stutter with chunk sizes from
/// `pattern` and `WouldBlock` before every chunk.
pub fn round_trip<M, E>(enc: &E, msgs: &[M], pattern: &[usize]) -> Result<(), TestCaseError>
where
    M: Serialize + DeserializeOwned + PartialEq + Debug,
    E: MsgEnc,
{
    for m in msgs {
        let mut bytes = Vec::new();
        enc.encode(m, &mut bytes).map_err(fail)?;
        prop_assert_eq!(&enc.decode::<M>(&bytes).map_err(fail)?, m);
    }

    let mut writer = FrameWriter::new(mydht::frame::DEFAULT_MAX_FRAME_LEN);
    let mut wire = StutterWriter::new(pattern);
    for m in msgs {
        writer.push_msg(enc, m).map_err(fail)?;
        loop {
            match writer.write_to(&mut wire) {
                Ok(()) => break,
                Err(e) if e.is_would_block() => continue,
                Err(e) => return Err(fail(e)),
            }
        }
    }

    let mut reader = FrameReader::new(mydht::frame::DEFAULT_MAX_FRAME_LEN);
    let mut stream = StutterReader::new(&wire.data, pattern);
    let mut decoded = Vec::new();
    loop {
        match reader.read_msg::<M, _, _>(enc, &mut stream) {
            Ok(Some(m)) => decoded.push(m),
            Ok(None) => break,
            Err(e) if e.is_would_block() => continue,
            Err(e) => return Err(fail(e)),
        }
    }
    prop_assert_eq!(&decoded[..], msgs);
    prop_assert!(stream.would_blocks > 0 || msgs.is_empty());
    Ok(())
}

fn fail(e: mydht_base::Error) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// Runs [`round_trip`] on `cases` random batches of arbitrary `M`s.
pub fn check_round_trip<M, E>(enc: &E, cases: u32)
where
    M: Arbitrary + Serialize + DeserializeOwned + PartialEq + Debug,
    E: MsgEnc,
{
    let mut runner = TestRunner::new(Config::with_cases(cases));
    let strategy = (
        prop::collection::vec(any::<M>(), 0..6),
        prop::collection::vec(1usize..40, 1..5),
    );
    if let Err(e) = runner.run(&strategy, |(msgs, pattern)| {
        round_trip(enc, &msgs, &pattern)
    }) {
        panic!("round trip failed: {e}");
    }
}

/// The two ends of an attachment transfer, driven in turn by one thread
/// over a [`Pipe`]: the sender writes a `Store` frame announcing `len`
/// bytes, the bytes, then a `Bye` frame; the receiver reads frames and
/// streams the announced bytes into a [`PatternCheck`].
pub struct Transfer {
    pipe: Pipe,
    enc: Bincode,
    // Sender.
    frames: FrameWriter,
    source: PatternSource,
    sending: Option<AttachmentWriter>,
    bye_pushed: bool,
    // Receiver.
    reader: FrameReader,
    receiving: Option<AttachmentReader>,
    max_attachment: u64,
    buf: usize,
    pub sink: PatternCheck,
    pub received: Vec<TestMsg>,
}

impl Transfer {
    /// A transfer of `len` bytes through a pipe of `pipe_cap` bytes, with
    /// attachment buffers of `buf` bytes; the receiver accepts attachments
    /// of at most `max_attachment` bytes.
    pub fn new(len: u64, pipe_cap: usize, buf: usize, max_attachment: u64) -> Self {
        let enc = Bincode::new();
        let announced = Attachment::new(len);
        let mut frames = FrameWriter::new(1024);
        let store = TestMsg::Store {
            key: b"k".to_vec(),
            value: Value::Empty,
            attachment: Some(announced),
        };
        frames.push_msg(&enc, &store).unwrap();
        Transfer {
            pipe: Pipe::new(pipe_cap),
            enc,
            frames,
            source: PatternSource::new(len),
            sending: Some(AttachmentWriter::new(announced, buf)),
            bye_pushed: false,
            reader: FrameReader::new(1024),
            receiving: None,
            max_attachment,
            buf,
            sink: PatternCheck::new(),
            received: Vec::new(),
        }
    }

    /// Runs both ends until the receiver saw the end of the stream; the
    /// first error other than `WouldBlock` is returned.
    pub fn run(&mut self) -> mydht_base::Result<()> {
        loop {
            self.send()?;
            if self.receive()? {
                return Ok(());
            }
        }
    }

    /// One turn of the sender, until it would block or is done.
    fn send(&mut self) -> mydht_base::Result<()> {
        let r = self.send_inner();
        match r {
            Err(e) if e.is_would_block() => Ok(()),
            r => r,
        }
    }

    fn send_inner(&mut self) -> mydht_base::Result<()> {
        if self.bye_pushed && self.frames.pending() == 0 {
            return Ok(());
        }
        self.frames.write_to(&mut self.pipe)?;
        if let Some(sending) = self.sending.as_mut() {
            sending.write_from(&mut self.source, &mut self.pipe)?;
            self.sending = None;
        }
        if !self.bye_pushed {
            self.frames.push_msg(&self.enc, &TestMsg::Bye)?;
            self.bye_pushed = true;
            self.frames.write_to(&mut self.pipe)?;
        }
        self.pipe.close();
        Ok(())
    }

    /// One turn of the receiver; `true` once the stream ended.
    fn receive(&mut self) -> mydht_base::Result<bool> {
        let r = self.receive_inner();
        match r {
            Err(e) if e.is_would_block() => Ok(false),
            r => r,
        }
    }

    fn receive_inner(&mut self) -> mydht_base::Result<bool> {
        loop {
            if let Some(receiving) = self.receiving.as_mut() {
                receiving.read_into(&mut self.pipe, &mut self.sink)?;
                self.receiving = None;
            }
            let Some(msg) = self
                .reader
                .read_msg::<TestMsg, _, _>(&self.enc, &mut self.pipe)?
            else {
                return Ok(true);
            };
            if let TestMsg::Store {
                attachment: Some(a),
                ..
            } = &msg
            {
                self.receiving = Some(AttachmentReader::new(*a, self.max_attachment, self.buf)?);
            }
            self.received.push(msg);
        }
    }
}
