//! Frames: length-prefixed, bounded, resumable; every malformed stream is a
//! typed error with level `ShutDown` (close the connection).

mod frame_support;

use std::io::{self, Write};

use frame_support::{StutterReader, StutterWriter, TestMsg};
use mydht::frame::{FrameReader, FrameWriter, DEFAULT_MAX_FRAME_LEN, LEN_PREFIX};
use mydht::msgenc::{Bincode, Json};
use mydht_base::{Error, ErrorKind, ErrorLevel};
use proptest::prelude::*;

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// Reads one frame, going on after every `WouldBlock`.
fn read_one(
    reader: &mut FrameReader,
    stream: &mut StutterReader,
) -> Result<Option<Vec<u8>>, Error> {
    loop {
        match reader.read_frame(stream) {
            Err(e) if e.is_would_block() => continue,
            r => return r.map(|f| f.map(<[u8]>::to_vec)),
        }
    }
}

fn assert_shutdown(e: &Error, kind: ErrorKind) {
    assert_eq!(e.kind(), kind, "{e}");
    assert_eq!(e.level(), ErrorLevel::ShutDown, "{e}");
}

#[test]
fn frames_are_read_one_at_a_time_across_would_blocks() {
    let mut wire = frame(b"first");
    wire.extend(frame(b""));
    wire.extend(frame(&[9; 10_000]));
    let mut stream = StutterReader::new(&wire, &[1, 3, 4096]);
    let mut reader = FrameReader::new(DEFAULT_MAX_FRAME_LEN);

    assert_eq!(
        read_one(&mut reader, &mut stream).unwrap().unwrap(),
        b"first"
    );
    assert!(!reader.in_frame());
    assert_eq!(read_one(&mut reader, &mut stream).unwrap().unwrap(), b"");
    assert_eq!(
        read_one(&mut reader, &mut stream).unwrap().unwrap(),
        [9; 10_000]
    );
    assert_eq!(read_one(&mut reader, &mut stream).unwrap(), None);
    assert!(stream.would_blocks > 10);
}

#[test]
fn a_would_block_in_the_middle_of_a_frame_loses_nothing() {
    let wire = frame(b"hello");
    let mut stream = StutterReader::new(&wire, &[2]);
    let mut reader = FrameReader::new(64);
    let mut would_blocks = 0;
    let body = loop {
        match reader.read_frame(&mut stream) {
            Ok(body) => break body.unwrap().to_vec(),
            Err(e) => {
                assert!(e.is_would_block(), "{e}");
                assert_eq!(e.level(), ErrorLevel::Ignore);
                would_blocks += 1;
                assert_eq!(reader.in_frame(), would_blocks > 1);
            }
        }
    };
    assert_eq!(body, b"hello");
    // A prefix of 4 and a body of 5 in chunks of 2: five reads.
    assert_eq!(would_blocks, 5);
}

#[test]
fn the_reader_never_reads_past_the_end_of_a_frame() {
    let mut wire = frame(b"msg");
    wire.extend_from_slice(b"attachment bytes");
    let mut stream = StutterReader::new(&wire, &[100]);
    let mut reader = FrameReader::new(64);
    assert_eq!(read_one(&mut reader, &mut stream).unwrap().unwrap(), b"msg");
    assert_eq!(stream.rest(), b"attachment bytes");
}

#[test]
fn a_frame_of_exactly_the_maximum_is_accepted() {
    let wire = frame(&[1; 100]);
    let mut reader = FrameReader::new(100);
    assert_eq!(reader.max_len(), 100);
    let mut stream = StutterReader::new(&wire, &[1000]);
    assert_eq!(
        read_one(&mut reader, &mut stream).unwrap().unwrap(),
        [1; 100]
    );
}

#[test]
fn an_oversize_length_prefix_is_rejected_and_the_reader_stays_failed() {
    let mut wire = u32::MAX.to_be_bytes().to_vec();
    wire.extend_from_slice(&[0; 64]);
    let mut stream = StutterReader::new(&wire, &[1000]);
    let mut reader = FrameReader::new(DEFAULT_MAX_FRAME_LEN);
    let e = read_one(&mut reader, &mut stream).unwrap_err();
    assert_shutdown(&e, ErrorKind::TooLarge);
    // Nothing past the prefix was read, and the next call fails the same way.
    assert_eq!(stream.rest().len(), 64);
    assert_eq!(read_one(&mut reader, &mut stream).unwrap_err(), e);
}

#[test]
fn one_byte_over_the_maximum_is_rejected() {
    let wire = frame(&[1; 101]);
    let mut stream = StutterReader::new(&wire, &[1000]);
    let e = read_one(&mut FrameReader::new(100), &mut stream).unwrap_err();
    assert_shutdown(&e, ErrorKind::TooLarge);
}

#[test]
fn a_truncated_frame_body_is_an_unexpected_eof() {
    let wire = frame(b"cut short");
    let mut stream = StutterReader::new(&wire[..wire.len() - 3], &[2]);
    let mut reader = FrameReader::new(64);
    let e = read_one(&mut reader, &mut stream).unwrap_err();
    assert_shutdown(&e, ErrorKind::Io(io::ErrorKind::UnexpectedEof));
    assert!(e.message().contains("3 bytes"), "{e}");
}

#[test]
fn a_truncated_length_prefix_is_an_unexpected_eof() {
    let wire = frame(b"cut short");
    let mut stream = StutterReader::new(&wire[..LEN_PREFIX - 1], &[1]);
    let e = read_one(&mut FrameReader::new(64), &mut stream).unwrap_err();
    assert_shutdown(&e, ErrorKind::Io(io::ErrorKind::UnexpectedEof));
}

#[test]
fn a_frame_that_does_not_decode_is_a_shutdown_error() {
    let wire = frame(b"\xff\xfe garbage {");
    for result in [
        FrameReader::new(64).read_msg::<TestMsg, _, _>(&Json, &mut &wire[..]),
        FrameReader::new(64).read_msg::<TestMsg, _, _>(&Bincode::new(), &mut &wire[..]),
    ] {
        assert_shutdown(&result.unwrap_err(), ErrorKind::Decode);
    }
}

proptest! {
    #[test]
    fn garbage_bytes_give_frames_or_shutdown_errors(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        chunk in 1usize..64,
    ) {
        let mut stream = StutterReader::new(&bytes, &[chunk]);
        let mut reader = FrameReader::new(128);
        loop {
            match reader.read_msg::<TestMsg, _, _>(&Bincode::new(), &mut stream) {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(e) if e.is_would_block() => continue,
                Err(e) => {
                    prop_assert_eq!(e.level(), ErrorLevel::ShutDown);
                    break;
                }
            }
        }
    }
}

fn write_all(writer: &mut FrameWriter, wire: &mut StutterWriter) {
    loop {
        match writer.write_to(wire) {
            Ok(()) => return,
            Err(e) => assert!(e.is_would_block(), "{e}"),
        }
    }
}

#[test]
fn the_writer_resumes_where_it_stopped_and_batches_frames() {
    let mut writer = FrameWriter::new(64);
    writer.push_frame(b"one").unwrap();
    writer.push_frame(b"two").unwrap();
    assert_eq!(writer.pending(), 2 * (LEN_PREFIX + 3));
    let mut wire = StutterWriter::new(&[1, 2]);
    write_all(&mut writer, &mut wire);
    assert_eq!(writer.pending(), 0);
    assert!(wire.would_blocks >= 5);
    let mut expected = frame(b"one");
    expected.extend(frame(b"two"));
    assert_eq!(wire.data, expected);
}

#[test]
fn a_message_over_the_maximum_is_refused_and_the_writer_stays_usable() {
    let mut writer = FrameWriter::new(8);
    writer.push_frame(b"ok").unwrap();
    let e = writer.push_frame(&[0; 9]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge);
    assert_eq!(e.level(), ErrorLevel::Ignore);
    let e = writer.push_msg(&Json, &"a long string").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge);
    assert_eq!(writer.pending(), LEN_PREFIX + 2);
    let mut wire = StutterWriter::new(&[100]);
    write_all(&mut writer, &mut wire);
    assert_eq!(wire.data, frame(b"ok"));
}

#[test]
fn the_writer_refuses_a_push_while_a_maximum_is_pending() {
    let mut writer = FrameWriter::new(8);
    writer.push_frame(b"12").unwrap();
    // 6 bytes pending: under the maximum, one more frame fits.
    writer.push_frame(b"1234").unwrap();
    let e = writer.push_frame(b"x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ChannelFull);
    assert_eq!(e.level(), ErrorLevel::Ignore);
    let mut wire = StutterWriter::new(&[100]);
    write_all(&mut writer, &mut wire);
    writer.push_frame(b"x").unwrap();
}

/// A sink that accepts nothing.
struct Closed;

impl Write for Closed {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Ok(0)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_write_error_is_a_shutdown_error_and_the_writer_stays_failed() {
    let mut writer = FrameWriter::new(8);
    writer.push_frame(b"x").unwrap();
    let e = writer.write_to(&mut Closed).unwrap_err();
    assert_shutdown(&e, ErrorKind::Io(io::ErrorKind::WriteZero));
    assert_eq!(writer.write_to(&mut Vec::new()).unwrap_err(), e);
    assert_eq!(writer.push_frame(b"y").unwrap_err(), e);
}
