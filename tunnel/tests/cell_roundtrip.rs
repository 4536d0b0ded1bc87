//! Cells end to end over in-memory streams: any route length, any payload
//! size, both directions, same frame length at every hop.

mod cell_util;

use cell_util::*;
use tunnel::cell::CellLayout;
use tunnel::config::TunnelConfig;

fn layout_for(relays: usize) -> CellLayout {
    CellLayout::new(&TunnelConfig::with_max_hops(relays.max(32))).unwrap()
}

fn payload_sizes(layout: &CellLayout) -> Vec<usize> {
    let cap = layout.data_capacity();
    vec![0, 1, cap, cap + 1, 3 * cap + 7]
}

#[test]
fn query_round_trips_over_0_1_2_25_and_128_relays() {
    for relays in [0, 1, 2, 25, 128] {
        let layout = layout_for(relays);
        let mut route = QueryRoute::new(layout, relays, 1);
        for len in payload_sizes(&layout) {
            let data = payload(len);
            let (frames, got) = route.run(&data, &Splits::default());
            assert_eq!(got, data, "{relays} relays, {len} bytes");
            assert_eq!(frames.len(), relays + 1);
        }
    }
}

#[test]
fn reply_round_trips_over_0_1_2_25_and_128_relays() {
    for relays in [0, 1, 2, 25, 128] {
        let layout = layout_for(relays);
        let mut route = ReplyRoute::new(layout, relays, 2);
        // Reply cells hold a link entry: their own capacity edges.
        for len in payload_sizes(&layout.reply()) {
            let data = payload(len);
            let (_, got) = route.run(&data, &Splits::default());
            assert_eq!(got, data, "{relays} relays, {len} bytes");
        }
    }
}

#[test]
fn every_hop_receives_frames_of_the_same_length() {
    let layout = layout_for(3);
    let (cap, reply_cap) = (layout.data_capacity(), layout.reply().data_capacity());
    for len in [0, 1, reply_cap, reply_cap + 1, cap, 2 * cap + 1] {
        let data = payload(len);
        let cells = layout.cells_for(len as u64) as usize;
        let reply_cells = layout.reply().cells_for(len as u64) as usize;
        let (query, _) = QueryRoute::new(layout, 3, 3).run(&data, &Splits::default());
        let (reply, _) = ReplyRoute::new(layout, 3, 4).run(&data, &Splits::default());
        for frame in &query {
            assert_eq!(frame.len(), cells * layout.cell_size(), "query {len}");
        }
        for frame in &reply {
            assert_eq!(frame.len(), reply_cells * layout.cell_size(), "reply {len}");
        }
    }
}

#[test]
fn a_payload_of_exactly_one_cell_is_one_cell_and_empty_is_one_cell() {
    let layout = layout_for(1);
    let mut route = QueryRoute::new(layout, 1, 5);
    let (frames, _) = route.run(&payload(layout.data_capacity()), &Splits::default());
    assert_eq!(frames[0].len(), layout.cell_size());
    let (frames, got) = route.run(&[], &Splits::default());
    assert_eq!(frames[0].len(), layout.cell_size());
    assert!(got.is_empty());
}

#[test]
fn messages_follow_each_other_on_the_same_keys_with_fresh_nonces() {
    let layout = CellLayout::with_sizes(256, 4).unwrap();
    let mut route = QueryRoute::new(layout, 2, 6);
    let a = payload(500);
    let (fa, ga) = route.run(&a, &Splits::default());
    let (fb, gb) = route.run(&a, &Splits::default());
    assert_eq!((ga, gb), (a.clone(), a));
    // Same payload, same keys, later counter: no byte pattern repeats.
    assert_ne!(fa[0], fb[0]);
}

#[test]
fn relays_cannot_tell_their_position_from_a_zero_byte_or_a_filler() {
    // Relay 0 and relay 2 both receive cells that look uniformly random:
    // in particular, no all-zero entry slot at the end of the entry area.
    let layout = CellLayout::with_sizes(512, 6).unwrap();
    let (frames, _) = QueryRoute::new(layout, 3, 7).run(&payload(10), &Splits::default());
    for frame in &frames {
        let slots = &frame[..6 * tunnel::cell::ENTRY_LEN];
        for slot in slots.chunks(tunnel::cell::ENTRY_LEN) {
            assert!(slot.iter().any(|b| *b != 0));
        }
        let zeros = frame.iter().filter(|b| **b == 0).count();
        assert!(zeros < frame.len() / 32, "{zeros} zero bytes");
    }
}

#[test]
fn flush_delivers_a_partial_cell_before_the_end() {
    use readwrite_comp::{ExtRead, ExtWrite};
    let layout = CellLayout::with_sizes(128, 2).unwrap();
    let mut route = QueryRoute::new(layout, 1, 8);
    let mut wire = Vec::new();
    route.writer.write_into(&mut wire, b"hello").unwrap();
    route.writer.flush_into(&mut wire).unwrap();
    assert_eq!(wire.len(), layout.cell_size());
    let mut hop = Vec::new();
    let mut r = &wire[..];
    // The relay forwards the flushed cell; the stream has not ended yet.
    let mut buf = [0u8; 1024];
    let n = route.relays[0].read_from(&mut r, &mut buf).unwrap();
    hop.extend_from_slice(&buf[..n]);
    assert_eq!(hop.len(), layout.cell_size());
    let mut r = &hop[..];
    let n = route.exit.read_from(&mut r, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
}

#[test]
fn routes_beyond_the_layout_are_refused() {
    use tunnel::cell::{CellError, CellSealer, ReplyCellOpener};
    let layout = CellLayout::with_sizes(256, 3).unwrap();
    assert!(matches!(
        CellSealer::new(layout, &keys(4, 0)),
        Err(CellError::LayerCount { layers: 4, max: 3 })
    ));
    assert!(CellSealer::new(layout, &[]).is_err());
    assert!(ReplyCellOpener::new(layout, &[0; 32], &keys(3, 0), &[1; 32]).is_err());
    assert!(ReplyCellOpener::new(layout, &[0; 32], &keys(2, 0), &[1; 32]).is_ok());
}
