//! A changed or cut byte anywhere in a Full tunnel frame is refused at the
//! hop that receives it, in both directions.

mod full_util;

use std::io;

use full_util::*;
use readwrite_comp::ExtRead;
use tunnel::cell::CellError;
use tunnel::{FrameLayout, HopKind, TunnelConfig, TunnelError};

/// A small config so every cell position can be tried quickly.
fn config() -> TunnelConfig {
    TunnelConfig {
        max_hops: 4,
        cell_size: 400,
        ..TunnelConfig::default()
    }
}

/// Runs `frame` into hop `path[k]` (relay or exit) and returns its result.
fn step(nodes: &mut [Node], path: &[usize], k: usize, frame: &[u8]) -> io::Result<Vec<u8>> {
    if k + 1 < path.len() {
        let next = nodes[path[k + 1]].address.clone();
        relay(&mut nodes[path[k]], frame, HopKind::Relay, &next)
    } else {
        let mut input = frame;
        let mut reader = nodes[path[k]].full.view().new_reader();
        reader.read_header(&mut input)?;
        let payload = read_payload(&mut reader, &mut input)?;
        reader.read_end(&mut input)?;
        Ok(payload)
    }
}

/// Positions worth flipping in a frame: every header byte in steps, the
/// header's edges, and every byte of each cell's entry area and data
/// edges.
fn positions(layout: &FrameLayout, frame_len: usize) -> Vec<usize> {
    let h = layout.header.header_len();
    let mut p: Vec<usize> = (0..h).step_by(37).collect();
    p.extend([31, 32, h - 17, h - 16, h - 1]);
    let cell = layout.cell.cell_size();
    let mut c = h;
    while c < frame_len {
        p.extend((c..c + 5 * 20).step_by(3));
        p.extend([c + cell / 2, c + cell - 1]);
        c += cell;
    }
    p.retain(|&x| x < frame_len);
    p
}

#[test]
fn a_flipped_byte_is_refused_by_the_hop_that_receives_it() {
    let config = config();
    let layout = FrameLayout::new(&config).unwrap();
    let mut nodes = nodes(config, 5);
    let path = [1, 2, 3, 4];
    let data = payload(3 * layout.cell.data_capacity() - 50);
    let (frames, _) = send_query(&mut nodes, 0, &path, Some(&[3, 0]), &data);
    // Untouched, the route delivers.
    assert_eq!(step(&mut nodes, &path, 3, &frames[3]).unwrap(), data);
    for (k, frame) in frames.iter().enumerate() {
        for pos in positions(&layout, frame.len()) {
            let mut bad = frame.clone();
            bad[pos] ^= 0x20;
            let err = step(&mut nodes, &path, k, &bad).unwrap_err();
            let header = matches!(TunnelError::from_io(&err), Some(TunnelError::Header(_)));
            let cell = matches!(
                CellError::from_io(&err),
                Some(CellError::Tampered { .. }) | Some(CellError::BadInfo { .. })
            );
            assert!(header || cell, "hop {k} byte {pos}: {err}");
            assert_eq!(
                header,
                pos < layout.header.header_len(),
                "hop {k} byte {pos}"
            );
        }
    }
}

#[test]
fn a_cut_stream_is_refused_by_the_hop_that_receives_it() {
    let config = config();
    let layout = FrameLayout::new(&config).unwrap();
    let mut nodes = nodes(config, 4);
    let path = [1, 2, 3];
    let data = payload(2 * layout.cell.data_capacity() + 1);
    let (frames, _) = send_query(&mut nodes, 0, &path, None, &data);
    let h = layout.header.header_len();
    let cell = layout.cell.cell_size();
    for (k, frame) in frames.iter().enumerate() {
        assert_eq!(frame.len(), h + 3 * cell);
        // Inside the header, right after it, inside a cell, and at each
        // cell boundary before the last cell.
        for cut in [0, 1, h - 1, h, h + 1, h + cell - 1, h + cell, h + 2 * cell] {
            let err = step(&mut nodes, &path, k, &frame[..cut]).unwrap_err();
            let header = matches!(
                TunnelError::from_io(&err),
                Some(TunnelError::TruncatedHeader { got }) if *got == cut
            );
            let cells = matches!(CellError::from_io(&err), Some(CellError::Truncated { .. }));
            assert!(header || cells, "hop {k} cut at {cut}: {err}");
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        }
    }
}

/// Reply hops of the reply tests: Bob (node 1) replies through nodes 2 and
/// 3 to Alice (node 0).
const REPLY_PATH: [usize; 3] = [2, 3, 0];

/// A fresh reply (blocks are single use, relays remember them) carrying
/// `answer`, relayed by the reply hops before `hop`: what reply hop `hop`
/// receives (0 and 1 the relays, 2 Alice).
fn reply_input(nodes: &mut [Node], answer: &[u8], hop: usize) -> Vec<u8> {
    let (query, _) = send_query(nodes, 0, &[1], Some(&REPLY_PATH), b"q");
    let mut input = &query[0][..];
    let mut exit = nodes[1].full.view().new_reader();
    exit.read_header(&mut input).unwrap();
    let mut w = exit.reply_writer().unwrap();
    let mut frame = write_message(&mut w, answer).unwrap();
    for k in 0..hop {
        frame = reply_step(nodes, k, &frame).unwrap();
    }
    frame
}

/// Runs `frame` into reply hop `hop`: a relay's output, or Alice's payload.
fn reply_step(nodes: &mut [Node], hop: usize, frame: &[u8]) -> io::Result<Vec<u8>> {
    let node = REPLY_PATH[hop];
    if hop + 1 < REPLY_PATH.len() {
        let next = nodes[REPLY_PATH[hop + 1]].address.clone();
        return relay(&mut nodes[node], frame, HopKind::ReplyRelay, &next);
    }
    let mut input = frame;
    let mut reader = nodes[node].full.view().new_reader();
    reader.read_header(&mut input)?;
    nodes[node].full.admit(&mut reader)?;
    let payload = read_payload(&mut reader, &mut input)?;
    reader.read_end(&mut input)?;
    Ok(payload)
}

#[test]
fn a_flipped_byte_in_a_reply_is_refused_by_the_reply_hop_that_receives_it() {
    let config = config();
    let layout = FrameLayout::new(&config).unwrap();
    let mut nodes = nodes(config, 4);
    let answer = payload(2 * layout.cell.reply().data_capacity() + 9);
    for hop in 0..REPLY_PATH.len() {
        let frame = reply_input(&mut nodes, &answer, hop);
        assert_eq!(
            frame.len() as u64,
            layout.reply_frame_len(answer.len() as u64)
        );
        let out = reply_step(&mut nodes, hop, &frame).unwrap();
        if hop + 1 == REPLY_PATH.len() {
            assert_eq!(out, answer);
        }
        for pos in positions(&layout, frame.len()) {
            let mut bad = reply_input(&mut nodes, &answer, hop);
            bad[pos] ^= 0x04;
            let err = reply_step(&mut nodes, hop, &bad).unwrap_err();
            let header = matches!(TunnelError::from_io(&err), Some(TunnelError::Header(_)));
            let cell = matches!(CellError::from_io(&err), Some(CellError::Tampered { .. }));
            assert!(header || cell, "reply hop {hop} byte {pos}: {err}");
            assert_eq!(
                header,
                pos < layout.header.header_len(),
                "reply hop {hop} byte {pos}"
            );
        }
    }
}

#[test]
fn a_cut_reply_is_refused_by_the_reply_hop_that_receives_it() {
    let config = config();
    let layout = FrameLayout::new(&config).unwrap();
    let mut nodes = nodes(config, 4);
    let answer = payload(2 * layout.cell.reply().data_capacity() + 1);
    let h = layout.header.header_len();
    let cell = layout.cell.cell_size();
    for hop in 0..REPLY_PATH.len() {
        // Inside the header, right after it, inside a cell, and at each
        // cell boundary before the last cell.
        for cut in [0, 1, h - 1, h, h + 1, h + cell - 1, h + cell, h + 2 * cell] {
            let frame = reply_input(&mut nodes, &answer, hop);
            assert_eq!(frame.len(), h + 3 * cell);
            let err = reply_step(&mut nodes, hop, &frame[..cut]).unwrap_err();
            let header = matches!(
                TunnelError::from_io(&err),
                Some(TunnelError::TruncatedHeader { got }) if *got == cut
            );
            let cells = matches!(
                CellError::from_io(&err),
                Some(CellError::Truncated { cell: c }) if *c == (cut.saturating_sub(h) / cell) as u64
            );
            assert!(header || cells, "reply hop {hop} cut at {cut}: {err}");
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        }
    }
}
