//! Every hop refuses a changed, cut, replayed or reordered cell stream, and
//! forwards nothing of it.

mod cell_util;

use cell_util::*;
use tunnel::cell::{CellError, CellLayout};

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

#[test]
fn the_sender_refuses_a_reply_changed_at_any_hop() {
    let route = || ReplyRoute::new(layout(), RELAYS, 11);
    let frames = route().run(&payload(PAYLOAD), &Splits::default()).0;
    let c = layout().cell_size();
    // Changed before relay `hop` (or before the sender): relays cannot check
    // the exit's layer and pass it on; the sender refuses it.
    for (hop, frame) in frames.iter().enumerate() {
        for pos in 0..frame.len() {
            let mut bad = frame.clone();
            bad[pos] ^= 0x01;
            let mut r = route();
            let mut stream = bad;
            for proxy in &mut r.relays[hop..] {
                stream = relay(proxy, &stream, &Splits::default()).unwrap();
            }
            let err = read_message(&mut r.sender, &stream, &Splits::default()).unwrap_err();
            match cell_error(&err) {
                CellError::Tampered { cell } => assert_eq!(cell, (pos / c) as u64),
                other => panic!("hop {hop} byte {pos}: {other:?}"),
            }
        }
    }
}

#[test]
fn a_cut_reply_is_refused_mid_cell_by_relays_and_anywhere_by_the_sender() {
    let route = || ReplyRoute::new(layout(), RELAYS, 12);
    let frames = route().run(&payload(PAYLOAD), &Splits::default()).0;
    let c = layout().cell_size();
    for cut in 0..frames[0].len() {
        let mut r = route();
        let res = relay(&mut r.relays[0], &frames[0][..cut], &Splits::default());
        if cut % c != 0 || cut == 0 {
            let e = res.unwrap_err();
            assert!(
                matches!(cell_error(&e), CellError::Truncated { .. }),
                "cut {cut}"
            );
            continue;
        }
        // At a cell boundary the relay cannot know; the sender does.
        let mut stream = res.unwrap();
        stream = relay(&mut r.relays[1], &stream, &Splits::default()).unwrap();
        let e = read_message(&mut r.sender, &stream, &Splits::default()).unwrap_err();
        assert!(
            matches!(cell_error(&e), CellError::Truncated { cell } if cell == (cut / c) as u64)
        );
    }
}
