//! Frames and attachments: how messages and bulk bytes share one stream.
//!
//! On the wire (inside the connection's shadow) a stream is a sequence of
//!
//! ```text
//! frame      = len: u32 big endian ‖ len bytes (one message, encoded by a MsgEnc)
//! attachment = exactly Attachment::len() raw bytes, right after the frame of
//!              the message that announces it
//! ```
//!
//! Everything here is a plain state machine over any `Read`/`Write` (a
//! socket, a shadow layer, an in-memory pipe): a call does as much as the
//! stream allows, returns an `Io(WouldBlock)` error (level `Ignore`) when the
//! stream would block, and goes on from where it stopped at the next call.
//! That is what lets a read or write service run restartable without a
//! coroutine.
//!
//! A [`FrameReader`] reads exactly one frame at a time (what follows stays
//! in the stream); a [`BufferedFrameReader`] reads ahead, for a stream that
//! carries only frames, and returns frames in place.
//!
//! Bounds: a [`FrameReader`] rejects a length prefix over its maximum before
//! allocating anything, and grows its buffer only as bytes arrive, so a peer
//! pays in sent bytes for the memory it makes us hold. A [`FrameWriter`]
//! holds at most two frames; one that encodes straight into the shadow
//! ([`FrameWriter::push_msg_into`]) checks a frame's length before writing
//! anything of it, and the shadow then holds at most what its caller lets
//! it plus that frame. Attachments stream through a fixed buffer, whatever
//! their length.
//!
//! Errors: any error other than `WouldBlock` leaves the stream out of sync
//! (a partial frame, a short attachment), so it has level `ShutDown` (close
//! the connection) and the state machine keeps returning it.

mod attachment;
mod buffered;
mod reader;
mod wire;
mod writer;

pub use attachment::{AttachmentReader, AttachmentWriter};
pub use buffered::BufferedFrameReader;
pub use reader::FrameReader;
pub use wire::WireMessage;
pub use writer::FrameWriter;

use std::io;

use mydht_base::{Error, ErrorKind, ErrorLevel};

/// Bytes of a frame's length prefix.
pub const LEN_PREFIX: usize = 4;

/// Default maximum length of a control frame (its body, prefix excluded):
/// 1 MiB.
pub const DEFAULT_MAX_FRAME_LEN: usize = 1 << 20;

/// Default size of an attachment's streaming buffer: 64 KiB.
pub const DEFAULT_ATTACHMENT_BUF: usize = 64 << 10;

/// Capacity a reader or writer keeps between frames; a larger buffer, grown
/// for a big frame, is released after it. Room for a 64 KiB bulk message and
/// a write batch: a buffer released and grown again for every such frame
/// costs page faults that show in bulk throughput.
const RETAINED_CAPACITY: usize = 256 << 10;

/// The largest maximum a `u32` length prefix can carry.
fn clamp_max_len(max_len: usize) -> usize {
    max_len.min(u32::MAX as usize)
}

/// The stream ended in the middle of something of known length.
/// Decodes a frame read whole (`None`: the stream ended between frames).
/// A frame that does not decode has level `ShutDown`: a peer that sends one
/// is not followed any further.
fn decode_frame<M: serde::de::DeserializeOwned, E: mydht_base::MsgEnc>(
    enc: &E,
    frame: Option<&[u8]>,
) -> mydht_base::Result<Option<M>> {
    match frame {
        None => Ok(None),
        Some(bytes) => enc
            .decode(bytes)
            .map(Some)
            .map_err(|e| e.with_level(ErrorLevel::ShutDown)),
    }
}

fn truncated(what: &str, missing: u64) -> Error {
    Error::new(
        ErrorKind::Io(io::ErrorKind::UnexpectedEof),
        ErrorLevel::ShutDown,
        format!("stream ended {missing} bytes before the end of the {what}"),
    )
}

/// Keeps `WouldBlock` resumable (level `Ignore`), makes every other I/O
/// error end the connection.
fn io_error(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        // The hot path of a non-blocking stream: an empty message does not
        // allocate, and the kind says it all.
        return Error::new(
            ErrorKind::Io(io::ErrorKind::WouldBlock),
            ErrorLevel::Ignore,
            String::new(),
        );
    }
    Error::from(e).with_level(ErrorLevel::ShutDown)
}

/// Retries `f` on `Interrupted`.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}
