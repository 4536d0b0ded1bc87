//! Authenticated chunk framing: [`ChunkW`] / [`ChunkR`], the one mechanism
//! for a message of unknown length inside a byte stream.
//!
//! A message is cut into chunks; each chunk is sealed in place by a
//! [`ChunkCipher`] with its chunk index (a counter over the whole stream,
//! never reset between messages, usable as a nonce) and the message's last
//! chunk is flagged, so tampering, truncation, dropped or reordered chunks
//! fail [`ChunkCipher::open`] and surface as `InvalidData`.
//!
//! # A stream's end
//!
//! A long-lived stream (a connection's session) can be one message, flushed
//! as it goes (each flush seals a chunk that is not the last) and ended by
//! [`write_end`](crate::CompW::write_end) when the writer closes: its last
//! chunk, possibly empty, is the authenticated end. The reader returns
//! `Ok(0)` only once that chunk has opened, so it tells a closed stream
//! from a cut one: the inner stream ending anywhere before it is
//! `UnexpectedEof`, and a last flag the writer did not seal (set on another
//! chunk, or a last chunk under another key or at another index) fails to
//! open, `InvalidData`. With [`NoCipher`] nothing is authenticated, the end
//! included.
//!
//! # Wire format
//!
//! The chunk header is a big-endian `u32`: bit 31 is the *last* flag, bits
//! 0..31 the data length.
//!
//! - [`ChunkMode::Variable`]: `header | data | tag`, with
//!   `data.len() <= max_chunk`. The header is the cipher's associated data
//!   (so it is authenticated but readable); a length over `max_chunk` is
//!   rejected before the data is read.
//! - [`ChunkMode::Fixed`]: every chunk is exactly `cell_size` bytes:
//!   `sealed(header | data | zero padding) | tag`. Header and padding are
//!   inside the sealed part, so a cipher that encrypts hides both a message's
//!   exact length and where it ends; only the number of cells shows. The last
//!   flag is authenticated as sealed data, and `open` is called with
//!   `last == false` because the reader cannot know it before opening.
//!
//! Buffers are taken as chunks need them, not at construction: the writer
//! has room for one chunk (or cell), grown once to four when a write goes on
//! past a sealed chunk (sealed ones wait while the next fills, all go out in
//! one write), and further only while it
//! [holds](crate::ExtWrite::hold_into) for a blocked stream, and it fills
//! that room only as far as its messages reach; the reader, one chunk and
//! the next chunk's header when a chunk goes through its buffer, a tag and
//! a header when it goes straight into the caller's. Both give a buffer
//! grown past 4 KiB back when the stream goes quiet: the writer after a
//! flush of small messages, the reader when the stream blocks between two
//! chunks. A connection kept open but idle holds a few KiB.

mod cipher;
mod mode;
mod read;
mod write;

pub use cipher::{held_len, ChunkCipher, NoCipher};
pub use mode::{ChunkMode, CHUNK_HEADER_LEN, MAX_CHUNK_LEN};
pub use read::ChunkR;
pub use write::ChunkW;
