//! Whole onions in memory: the frame-carried mode, where a small message's
//! onion (fixed header and cells) travels inside one frame.
//!
//! Every function works on a bounded input already in memory (one frame),
//! so nothing here can block or grow past that frame's size.

use std::io;

use readwrite_comp::{ExtRead, ExtWrite};
use tunnel::HopReader;

/// Writes one message with `writer` (a query's `FullWriter` or an exit's
/// `ReplyWriter`): the header, `payload` in cells, the end.
pub fn write_onion<W: ExtWrite>(writer: &mut W, payload: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    writer.write_header(&mut out)?;
    writer.write_all_into(&mut out, payload)?;
    writer.write_end(&mut out)?;
    Ok(out)
}

/// A relay (query or admitted reply relay), its header read from `input`:
/// the onion for the next hop, the same length as the one it got.
pub fn relay_onion(reader: &mut HopReader, input: &mut &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    reader.pump(input, &mut out)?;
    Ok(out)
}

/// The exit or the sender of a reply, its header read from `input`: the
/// whole payload (at most the onion's size, which the frame bounded).
pub fn read_payload(reader: &mut HopReader, input: &mut &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = reader.read_from(input, &mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}
