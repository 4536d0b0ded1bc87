//! The two wire modes of the chunk framing and the buffer layout they imply.

use std::io;

/// Bytes of the chunk header (a big-endian `u32`: last flag and length).
pub const CHUNK_HEADER_LEN: usize = 4;

/// Largest accepted `max_chunk` or `cell_size`, so a configuration cannot
/// make a layer allocate without bound.
pub const MAX_CHUNK_LEN: usize = 16 << 20;

const LAST_FLAG: u32 = 1 << 31;

/// How chunks look on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkMode {
    /// Chunks of `1..=max_chunk` data bytes (the last one may be empty), each
    /// prefixed by its length.
    Variable {
        /// Largest data length of one chunk; also the reader's bound on an
        /// incoming length.
        max_chunk: usize,
    },
    /// Every chunk is exactly `cell_size` bytes on the wire, the last one
    /// padded; a message's wire length is a multiple of `cell_size`.
    Fixed {
        /// Wire size of one cell, header and tag included.
        cell_size: usize,
    },
}

/// Where things sit in a chunk buffer, checked once at construction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    /// Data bytes one chunk carries at most.
    pub(crate) capacity: usize,
    pub(crate) tag_len: usize,
    /// `Some(cell_size)` in fixed-cell mode.
    pub(crate) cell: Option<usize>,
}

impl Layout {
    pub(crate) fn new(mode: ChunkMode, tag_len: usize) -> io::Result<Layout> {
        let invalid = |msg| Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
        if tag_len > MAX_CHUNK_LEN {
            return invalid("cipher tag too long");
        }
        match mode {
            ChunkMode::Variable { max_chunk } => {
                if max_chunk == 0 || max_chunk > MAX_CHUNK_LEN {
                    return invalid("max_chunk must be in 1..=MAX_CHUNK_LEN");
                }
                Ok(Layout {
                    capacity: max_chunk,
                    tag_len,
                    cell: None,
                })
            }
            ChunkMode::Fixed { cell_size } => {
                if cell_size > MAX_CHUNK_LEN || cell_size <= CHUNK_HEADER_LEN + tag_len {
                    return invalid("cell_size must leave room for header, tag and one data byte");
                }
                Ok(Layout {
                    capacity: cell_size - CHUNK_HEADER_LEN - tag_len,
                    tag_len,
                    cell: Some(cell_size),
                })
            }
        }
    }

    /// Size of the buffer holding one whole chunk.
    pub(crate) fn buffer_len(&self) -> usize {
        CHUNK_HEADER_LEN + self.capacity + self.tag_len
    }
}

pub(crate) fn encode_header(len: usize, last: bool) -> [u8; CHUNK_HEADER_LEN] {
    // `len <= MAX_CHUNK_LEN < 2^31`, checked by `Layout::new`.
    let flag = if last { LAST_FLAG } else { 0 };
    (len as u32 | flag).to_be_bytes()
}

/// `(length, last)` of a header.
pub(crate) fn decode_header(h: [u8; CHUNK_HEADER_LEN]) -> (usize, bool) {
    let v = u32::from_be_bytes(h);
    ((v & !LAST_FLAG) as usize, v & LAST_FLAG != 0)
}
