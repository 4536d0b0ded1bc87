//! Property: over any route, payload size and read/write split (with
//! `WouldBlock` between calls), a query and its reply arrive intact, and
//! every hop sees frames of one length.

mod full_util;

use full_util::*;
use proptest::prelude::*;
use readwrite_comp::{ExtRead, ExtWrite};
use tunnel::{FrameLayout, HopKind, HopReader, TunnelConfig};

fn config() -> TunnelConfig {
    TunnelConfig {
        max_hops: 4,
        cell_size: 300,
        ..TunnelConfig::default()
    }
}

/// Writes `payload` through any `ExtWrite` into a choppy writer.
fn write_choppy<W: ExtWrite>(w: &mut W, payload: &[u8], step: usize) -> Vec<u8> {
    let mut out = ChoppyWriter {
        data: Vec::new(),
        step,
        block: false,
    };
    retry(|| w.write_header(&mut out)).unwrap();
    let mut rest = payload;
    while !rest.is_empty() {
        let n = retry(|| w.write_into(&mut out, rest)).unwrap();
        rest = &rest[n..];
    }
    retry(|| w.write_end(&mut out)).unwrap();
    out.data
}

/// One hop over choppy streams: relays return the next frame, exits the
/// payload (and keep their reader for the reply).
fn hop_choppy(node: &mut Node, frame: &[u8], step: usize) -> (HopReader, Vec<u8>) {
    let mut input = Choppy {
        data: frame,
        step,
        block: false,
    };
    let mut reader = node.full.view().new_reader();
    retry(|| reader.read_header(&mut input)).unwrap();
    node.full.admit(&mut reader).unwrap();
    let mut out = Vec::new();
    match reader.kind().unwrap() {
        HopKind::Relay | HopKind::ReplyRelay => {
            let mut w = ChoppyWriter {
                data: Vec::new(),
                step: step + 11,
                block: false,
            };
            retry(|| reader.pump(&mut input, &mut w)).unwrap();
            out = w.data;
        }
        HopKind::Exit | HopKind::ReplyExit => {
            let mut buf = vec![0u8; step];
            loop {
                let n = retry(|| reader.read_from(&mut input, &mut buf)).unwrap();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
        }
    }
    assert!(input.data.is_empty());
    (reader, out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn query_and_reply_arrive_over_any_route_and_split(
        relays in 0usize..=4,
        reply_relays in 0usize..=4,
        len in 0usize..1200,
        reply_len in 0usize..900,
        step in 1usize..700,
    ) {
        let config = config();
        let layout = FrameLayout::new(&config).unwrap();
        let mut nodes = nodes(config, relays + reply_relays + 2);
        let path: Vec<usize> = (1..=relays + 1).collect();
        let bob = relays + 1;
        let mut back: Vec<usize> = (bob + 1..bob + 1 + reply_relays).collect();
        back.push(0);

        let data = payload(len);
        let (fwd, reply_route) = (route(&nodes, &path), route(&nodes, &back));
        let mut w = nodes[0].full.new_writer(&fwd, Some(&reply_route)).unwrap();
        let mut frame = write_choppy(&mut w, &data, step);
        let frame_len = frame.len();
        for &i in &path[..relays] {
            frame = hop_choppy(&mut nodes[i], &frame, step).1;
            prop_assert_eq!(frame.len(), frame_len);
        }
        let (mut exit, got) = hop_choppy(&mut nodes[bob], &frame, step);
        prop_assert_eq!(&got, &data);

        let answer = payload(reply_len);
        let mut rw = exit.reply_writer().unwrap();
        let mut frame = write_choppy(&mut rw, &answer, step + 3);
        let reply_frame_len = frame.len();
        prop_assert_eq!(reply_frame_len as u64, layout.reply_frame_len(reply_len as u64));
        for &i in &back[..reply_relays] {
            frame = hop_choppy(&mut nodes[i], &frame, step).1;
            prop_assert_eq!(frame.len(), reply_frame_len);
        }
        let (_, got) = hop_choppy(&mut nodes[0], &frame, step);
        prop_assert_eq!(got, answer);
    }
}
