//! Every hop, query or reply, refuses a changed, cut, replayed or reordered
//! cell stream, and forwards nothing of it.

mod cell_util;

use std::io;

use cell_util::*;
use tunnel::cell::{CellError, CellLayout, CellSealer, ReplyCellSealer, SealCell};

/// Small cells so every byte of every hop's input can be tried.
fn layout() -> CellLayout {
    CellLayout::with_sizes(128, 3).unwrap()
}

const RELAYS: usize = 2;
const PAYLOAD: usize = 150; // three cells of 68 data bytes

/// The frames each hop of a fresh route received, and a fresh route with the
/// same keys (its hops are at cell 0 again).
fn frames() -> Vec<Vec<u8>> {
    QueryRoute::new(layout(), RELAYS, 9)
        .run(&payload(PAYLOAD), &Splits::default())
        .0
}

/// What hop `hop` of a fresh route says about `input` (relays, then the
/// exit at index RELAYS).
fn hop_result(hop: usize, input: &[u8]) -> Result<Vec<u8>, CellError> {
    let mut route = QueryRoute::new(layout(), RELAYS, 9);
    let splits = Splits::default();
    let r = if hop < RELAYS {
        relay(&mut route.relays[hop], input, &splits)
    } else {
        read_message(&mut route.exit, input, &splits)
    };
    r.map_err(|e| cell_error(&e))
}

#[test]
fn a_flipped_bit_anywhere_is_refused_by_the_hop_that_receives_it() {
    let frames = frames();
    assert_eq!(frames[0].len(), 3 * layout().cell_size());
    for (hop, frame) in frames.iter().enumerate() {
        assert!(hop_result(hop, frame).is_ok());
        for pos in 0..frame.len() {
            let mut bad = frame.clone();
            bad[pos] ^= 0x10;
            let cell = (pos / layout().cell_size()) as u64;
            match hop_result(hop, &bad) {
                Err(CellError::Tampered { cell: c }) => assert_eq!(c, cell),
                other => panic!("hop {hop} byte {pos}: {other:?}"),
            }
        }
    }
}

#[test]
fn a_relay_forwards_only_the_cells_before_a_bad_one() {
    let frames = frames();
    let mut bad = frames[0].clone();
    let c = layout().cell_size();
    bad[c + 40] ^= 1;
    let mut route = QueryRoute::new(layout(), RELAYS, 9);
    let mut out = FlakyWriter::new(Vec::new());
    let mut input = &bad[..];
    let err = route.relays[0].pump(&mut input, &mut out).unwrap_err();
    assert!(matches!(cell_error(&err), CellError::Tampered { cell: 1 }));
    assert_eq!(out.data, frames[1][..c]);
    // The relay stays failed.
    assert!(route.relays[0].pump(&mut input, &mut out).is_err());
}

#[test]
fn a_cut_stream_is_refused_by_the_hop_that_receives_it() {
    let frames = frames();
    let c = layout().cell_size();
    for (hop, frame) in frames.iter().enumerate() {
        for cut in 0..frame.len() {
            match hop_result(hop, &frame[..cut]) {
                Err(CellError::Truncated { cell }) => assert_eq!(cell, (cut / c) as u64),
                other => panic!("hop {hop} cut {cut}: {other:?}"),
            }
        }
    }
}

#[test]
fn replayed_dropped_or_reordered_cells_are_refused() {
    let frame = &frames()[0];
    let c = layout().cell_size();
    let cell = |i: usize| &frame[i * c..(i + 1) * c];
    let replayed = [cell(0), cell(0), cell(1), cell(2)].concat();
    let dropped = [cell(0), cell(2)].concat();
    let swapped = [cell(1), cell(0), cell(2)].concat();
    let extended = [cell(0), cell(1), cell(1), cell(2)].concat();
    for (name, bad) in [
        ("replayed", replayed),
        ("dropped", dropped),
        ("swapped", swapped),
        ("extended", extended),
    ] {
        assert!(
            matches!(hop_result(0, &bad), Err(CellError::Tampered { .. })),
            "{name}"
        );
    }
}

#[test]
fn a_stream_from_another_route_is_refused() {
    let other = QueryRoute::new(layout(), RELAYS, 10)
        .run(&payload(PAYLOAD), &Splits::default())
        .0;
    assert!(matches!(
        hop_result(0, &other[0]),
        Err(CellError::Tampered { cell: 0 })
    ));
}

/// The frames each hop of a fresh reply route received (reply relays, then
/// the sender at index RELAYS).
fn reply_frames() -> Vec<Vec<u8>> {
    ReplyRoute::new(layout(), RELAYS, 11)
        .run(&payload(PAYLOAD), &Splits::default())
        .0
}

/// What reply hop `hop` of a fresh reply route says about `input`.
fn reply_hop_result(hop: usize, input: &[u8]) -> Result<Vec<u8>, CellError> {
    let mut route = ReplyRoute::new(layout(), RELAYS, 11);
    let splits = Splits::default();
    let r = if hop < RELAYS {
        relay(&mut route.relays[hop], input, &splits)
    } else {
        read_message(&mut route.sender, input, &splits)
    };
    r.map_err(|e| cell_error(&e))
}

#[test]
fn a_flipped_bit_in_a_reply_is_refused_by_the_reply_hop_that_receives_it() {
    let frames = reply_frames();
    let c = layout().cell_size();
    // Reply cells hold a link entry: 48 data bytes, so four cells.
    assert_eq!(frames[0].len(), 4 * c);
    for (hop, frame) in frames.iter().enumerate() {
        assert!(reply_hop_result(hop, frame).is_ok());
        for pos in 0..frame.len() {
            let mut bad = frame.clone();
            bad[pos] ^= 0x01;
            match reply_hop_result(hop, &bad) {
                Err(CellError::Tampered { cell }) => assert_eq!(cell, (pos / c) as u64),
                other => panic!("hop {hop} byte {pos}: {other:?}"),
            }
        }
    }
}

#[test]
fn a_cut_reply_is_refused_by_the_reply_hop_that_receives_it() {
    let frames = reply_frames();
    let c = layout().cell_size();
    for (hop, frame) in frames.iter().enumerate() {
        // Every length, exact cell boundaries (and nothing at all) included.
        for cut in 0..frame.len() {
            match reply_hop_result(hop, &frame[..cut]) {
                Err(CellError::Truncated { cell }) => assert_eq!(cell, (cut / c) as u64),
                other => panic!("hop {hop} cut {cut}: {other:?}"),
            }
        }
    }
}

#[test]
fn a_reply_relay_forwards_only_the_cells_before_a_bad_one() {
    let frames = reply_frames();
    let c = layout().cell_size();
    let mut bad = frames[0].clone();
    bad[2 * c + 30] ^= 1;
    let mut route = ReplyRoute::new(layout(), RELAYS, 11);
    let mut out = FlakyWriter::new(Vec::new());
    let mut input = &bad[..];
    let err = route.relays[0].pump(&mut input, &mut out).unwrap_err();
    assert!(matches!(cell_error(&err), CellError::Tampered { cell: 2 }));
    assert_eq!(out.data, frames[1][..2 * c]);
}

#[test]
fn replayed_dropped_or_reordered_reply_cells_are_refused_at_every_reply_hop() {
    let c = layout().cell_size();
    for (hop, frame) in reply_frames().iter().enumerate() {
        let cell = |i: usize| &frame[i * c..(i + 1) * c];
        let replayed = [cell(0), cell(0), cell(1), cell(2), cell(3)].concat();
        let dropped = [cell(0), cell(2), cell(3)].concat();
        let swapped = [cell(1), cell(0), cell(2), cell(3)].concat();
        let extended = [cell(0), cell(1), cell(1), cell(2), cell(3)].concat();
        for (name, bad) in [
            ("replayed", replayed),
            ("dropped", dropped),
            ("swapped", swapped),
            ("extended", extended),
        ] {
            assert!(
                matches!(reply_hop_result(hop, &bad), Err(CellError::Tampered { .. })),
                "hop {hop} {name}"
            );
        }
    }
}

#[test]
fn a_reply_from_another_route_is_refused_by_the_first_reply_relay() {
    let other = ReplyRoute::new(layout(), RELAYS, 12)
        .run(&payload(PAYLOAD), &Splits::default())
        .0;
    assert!(matches!(
        reply_hop_result(0, &other[0]),
        Err(CellError::Tampered { cell: 0 })
    ));
}

/// Cells sealed one by one by `sealer`, `(data length, last)` each: what
/// a hostile sender can make, unlike [`tunnel::cell::CellWriter`].
fn sealed_cells(sealer: &mut impl SealCell, cells: &[(usize, bool)]) -> Vec<u8> {
    let layout = *sealer.layout();
    let mut frame = Vec::new();
    for &(len, last) in cells {
        let mut cell = vec![0; layout.cell_size()];
        cell[layout.data_range(len)].fill(0x5a);
        sealer.seal(&mut cell, len, last).unwrap();
        frame.extend(cell);
    }
    frame
}

/// What a reader makes of three cells whose middle one holds `middle`
/// bytes, `read(middle)`: with 0 (an empty cell before the last, never
/// sealed by the writer) it refuses cell 1 as `BadInfo`, not skipping it;
/// with `filled` bytes it reads all `around + filled` bytes.
fn check_middle_cell(read: impl Fn(usize) -> io::Result<Vec<u8>>, around: usize, filled: usize) {
    match read(0) {
        Err(e) => match cell_error(&e) {
            CellError::BadInfo { cell } => assert_eq!(cell, 1),
            other => panic!("empty middle cell: {other:?}"),
        },
        Ok(data) => panic!("empty middle cell read: {} bytes", data.len()),
    }
    assert_eq!(read(filled).unwrap(), vec![0x5a; around + filled]);
}

/// The exit refuses an empty cell before the last. A relay cannot see a
/// cell's length and forwards it.
#[test]
fn an_empty_cell_before_the_last_is_refused_by_the_exit() {
    let k = keys(RELAYS + 1, 9);
    let read = |middle| {
        let mut sealer = CellSealer::new(layout(), &k).unwrap();
        let mut input = sealed_cells(&mut sealer, &[(5, false), (middle, false), (3, true)]);
        let mut route = QueryRoute::new(layout(), RELAYS, 9);
        for proxy in &mut route.relays {
            input = relay(proxy, &input, &Splits::default()).unwrap();
        }
        read_message(&mut route.exit, &input, &Splits::default())
    };
    check_middle_cell(read, 5 + 3, 1);
}

/// The same on the reply path, at the sender's reader.
#[test]
fn an_empty_reply_cell_before_the_last_is_refused_by_the_sender() {
    let k = keys(RELAYS + 1, 11);
    let links = keys(RELAYS + 1, 11u8.wrapping_add(128));
    let read = |middle| {
        let mut sealer = ReplyCellSealer::new(layout(), &k[0], &links[0]).unwrap();
        let mut input = sealed_cells(&mut sealer, &[(4, false), (middle, false), (6, true)]);
        let mut route = ReplyRoute::new(layout(), RELAYS, 11);
        for proxy in &mut route.relays {
            input = relay(proxy, &input, &Splits::default()).unwrap();
        }
        read_message(&mut route.sender, &input, &Splits::default())
    };
    check_middle_cell(read, 4 + 6, 2);
}
