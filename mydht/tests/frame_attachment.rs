//! Attachments: streamed after their message's frame through a bounded
//! buffer, resumable on either side.

mod frame_support;

use std::io;

use frame_support::{PatternCheck, PatternSource, TestMsg, Transfer};
use mydht::frame::{AttachmentReader, AttachmentWriter};
use mydht_base::{Attachment, ErrorKind, ErrorLevel};

#[test]
fn an_attachment_streams_between_two_frames_across_would_blocks() {
    // A pipe smaller than the buffers: both ends block many times.
    let mut transfer = Transfer::new(1_000_003, 1000, 4096, 1 << 20);
    transfer.run().unwrap();
    assert_eq!(transfer.sink.received, 1_000_003);
    assert_eq!(transfer.received.len(), 2);
    assert_eq!(transfer.received[1], TestMsg::Bye);
}

#[test]
fn an_empty_attachment_is_a_frame_followed_by_nothing() {
    let mut transfer = Transfer::new(0, 16, 4096, 1 << 20);
    transfer.run().unwrap();
    assert_eq!(transfer.sink.received, 0);
    assert_eq!(transfer.received.len(), 2);
}

#[test]
fn an_attachment_over_the_maximum_is_refused_before_reading_it() {
    let mut transfer = Transfer::new(1 << 20, 4096, 4096, 1000);
    let e = transfer.run().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge);
    assert_eq!(e.level(), ErrorLevel::ShutDown);
    assert_eq!(transfer.sink.received, 0);

    let e = AttachmentReader::new(Attachment::new(1001), 1000, 64).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge);
}

#[test]
fn a_truncated_attachment_is_an_unexpected_eof() {
    let wire = [1u8; 99];
    let mut reader = AttachmentReader::new(Attachment::new(100), 1000, 16).unwrap();
    let mut sink = Vec::new();
    let e = reader.read_into(&mut &wire[..], &mut sink).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io(io::ErrorKind::UnexpectedEof));
    assert_eq!(e.level(), ErrorLevel::ShutDown);
    assert_eq!(reader.remaining(), 1);
    assert_eq!(sink.len(), 99);
}

#[test]
fn the_reader_never_reads_past_the_attachment() {
    let wire = *b"0123456789next frame";
    let mut conn = &wire[..];
    let mut sink = Vec::new();
    let mut reader = AttachmentReader::new(Attachment::new(10), 1000, 4).unwrap();
    reader.read_into(&mut conn, &mut sink).unwrap();
    assert_eq!(sink, b"0123456789");
    assert_eq!(conn, b"next frame");
    assert_eq!(reader.remaining(), 0);
}

#[test]
fn a_source_shorter_than_announced_is_an_error_for_the_sender() {
    let mut writer = AttachmentWriter::new(Attachment::new(1000), 64);
    let mut conn = Vec::new();
    let e = writer
        .write_from(&mut PatternSource::new(999), &mut conn)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io(io::ErrorKind::UnexpectedEof));
    assert_eq!(e.level(), ErrorLevel::ShutDown);
    assert_eq!(conn.len(), 999);
    // The error sticks: the peer's stream is out of sync.
    let e2 = writer
        .write_from(&mut PatternSource::new(1), &mut conn)
        .unwrap_err();
    assert_eq!(e2, e);
}

#[test]
fn the_writer_takes_no_more_than_announced_from_its_source() {
    let mut writer = AttachmentWriter::new(Attachment::new(500), 64);
    let mut conn = Vec::new();
    writer
        .write_from(&mut PatternSource::new(10_000), &mut conn)
        .unwrap();
    assert_eq!(conn.len(), 500);
    let mut check = PatternCheck::new();
    io::Write::write_all(&mut check, &conn).unwrap();
}

#[test]
fn a_sink_error_is_a_shutdown_error() {
    let wire = [0u8; 10];
    let mut reader = AttachmentReader::new(Attachment::new(10), 1000, 4).unwrap();
    let mut sink = PatternCheck::new(); // expects the pattern, gets zeros at byte 1
    let e = reader.read_into(&mut &wire[..], &mut sink).unwrap_err();
    assert_eq!(e.level(), ErrorLevel::ShutDown);
    assert_eq!(e.kind(), ErrorKind::Io(io::ErrorKind::Other));
}
