//! What the Full tunnel tests share: nodes with their full tunnel object,
//! routes, and drivers that move one onion through every hop in memory.
#![allow(dead_code)] // each test file uses its own part

use std::io::{self, Read, Write};

use readwrite_comp::{ExtRead, ExtWrite};
use tunnel::crypto::X25519Secret;
use tunnel::{FullTunnel, FullWriter, HopKind, HopReader, RouteHop, TunnelConfig, TunnelError};

/// A node: its full tunnel object and its address.
pub struct Node {
    pub full: FullTunnel,
    pub public: [u8; 32],
    pub address: Vec<u8>,
}

/// `n` nodes for `config`, addresses `node-0`, `node-1`, ...
pub fn nodes(config: TunnelConfig, n: usize) -> Vec<Node> {
    (0..n)
        .map(|i| {
            let secret = X25519Secret::generate().unwrap();
            let public = *secret.public_key();
            Node {
                full: FullTunnel::new(config, secret).unwrap(),
                public,
                address: format!("node-{i}").into_bytes(),
            }
        })
        .collect()
}

/// The route through `nodes[idx]`, in that order.
pub fn route(nodes: &[Node], idx: &[usize]) -> Vec<RouteHop> {
    idx.iter()
        .map(|&i| RouteHop {
            public_key: nodes[i].public,
            address: nodes[i].address.clone(),
        })
        .collect()
}

/// A payload whose bytes depend on their position.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 253) as u8).collect()
}

/// Writes one whole message through `w` into a vector.
pub fn write_message<W: ExtWrite>(w: &mut W, payload: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    w.write_header(&mut out)?;
    w.write_all_into(&mut out, payload)?;
    w.write_end(&mut out)?;
    Ok(out)
}

/// Reads the rest of a message's payload.
pub fn read_payload(r: &mut HopReader, input: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1000];
    loop {
        let n = r.read_from(input, &mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// One relay step: `node` reads `frame`, checks it is a relay of `kind`
/// pointing at `next`, and returns the frame for the next hop.
pub fn relay(node: &mut Node, frame: &[u8], kind: HopKind, next: &[u8]) -> io::Result<Vec<u8>> {
    let view = node.full.view();
    let mut input = frame;
    let mut reader = view.new_reader();
    reader.read_header(&mut input)?;
    assert_eq!(reader.kind(), Some(kind));
    assert_eq!(reader.next_address(), Some(next));
    if view.needs_full(&reader) {
        node.full.admit(&mut reader).map_err(io::Error::from)?;
    }
    let mut out = Vec::new();
    reader.pump(&mut input, &mut out)?;
    // Nothing of the onion is left behind.
    assert!(input.is_empty());
    Ok(out)
}

/// The tunnel error inside `e`, for assertions.
pub fn tunnel_error(e: &io::Error) -> Option<&TunnelError> {
    TunnelError::from_io(e)
}

/// A query from `nodes[alice]` along `path` (relays then the exit), with an
/// optional reply route; returns the writer and the frames each hop received.
pub fn send_query(
    nodes: &mut [Node],
    alice: usize,
    path: &[usize],
    reply_path: Option<&[usize]>,
    payload: &[u8],
) -> (Vec<Vec<u8>>, FullWriter) {
    let fwd = route(nodes, path);
    let reply_route = reply_path.map(|p| route(nodes, p));
    let mut writer = nodes[alice]
        .full
        .new_writer(&fwd, reply_route.as_deref())
        .unwrap();
    assert_eq!(writer.first_address(), &nodes[path[0]].address[..]);
    let mut frames = vec![write_message(&mut writer, payload).unwrap()];
    for (k, &i) in path[..path.len() - 1].iter().enumerate() {
        let next = nodes[path[k + 1]].address.clone();
        let f = relay(&mut nodes[i], frames.last().unwrap(), HopKind::Relay, &next).unwrap();
        frames.push(f);
    }
    (frames, writer)
}

/// A stream that moves at most `step` bytes per call and answers
/// `WouldBlock` every other call, over a byte slice.
pub struct Choppy<'a> {
    pub data: &'a [u8],
    pub step: usize,
    pub block: bool,
}

impl Read for Choppy<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.block = !self.block;
        if self.block {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.step).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// A writer that takes at most `step` bytes per call and answers
/// `WouldBlock` every other call.
pub struct ChoppyWriter {
    pub data: Vec<u8>,
    pub step: usize,
    pub block: bool,
}

impl Write for ChoppyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.block = !self.block;
        if self.block {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.step);
        self.data.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Retries `f` while it returns `WouldBlock` (bounded, so a bug cannot
/// spin forever).
pub fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    for _ in 0..10_000_000 {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => return other,
        }
    }
    panic!("no progress after many WouldBlock");
}
