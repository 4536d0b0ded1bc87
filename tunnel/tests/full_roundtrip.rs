//! The Full tunnel end to end in memory: queries over 0 to 128 relays,
//! replies over the same route reversed and over another route, equal frame
//! lengths at every hop, single-use reply blocks, streams that block.

mod full_util;

use std::io;

use full_util::*;
use readwrite_comp::{ExtRead, ExtWrite};
use tunnel::{FrameLayout, HopKind, HopReader, TunnelConfig, TunnelError};

/// The exit reads `frame`: returns its reader (for the reply) and payload.
fn exit_read(node: &mut Node, frame: &[u8]) -> io::Result<(HopReader, Vec<u8>)> {
    let view = node.full.view();
    let mut input = frame;
    let mut reader = view.new_reader();
    reader.read_header(&mut input)?;
    assert_eq!(reader.kind(), Some(HopKind::Exit));
    assert!(view.can_read(&reader) && !view.needs_full(&reader));
    let payload = read_payload(&mut reader, &mut input)?;
    reader.read_end(&mut input)?;
    assert!(input.is_empty());
    Ok((reader, payload))
}

/// The sender reads a reply `frame` with the keys her full tunnel kept.
fn reply_read(node: &mut Node, frame: &[u8]) -> io::Result<Vec<u8>> {
    let view = node.full.view();
    let mut input = frame;
    let mut reader = view.new_reader();
    reader.read_header(&mut input)?;
    assert_eq!(reader.kind(), Some(HopKind::ReplyExit));
    assert!(view.needs_full(&reader));
    node.full.admit(&mut reader).map_err(io::Error::from)?;
    read_payload(&mut reader, &mut input)
}

/// Bob replies with `payload` along `reply_path` (relays then Alice);
/// returns the frames each reply hop received.
fn send_reply(
    nodes: &mut [Node],
    exit_reader: &mut HopReader,
    bob: usize,
    reply_path: &[usize],
    payload: &[u8],
) -> Vec<Vec<u8>> {
    let view = nodes[bob].full.view();
    assert!(view.can_reply(exit_reader));
    let mut writer = view.reply_writer(exit_reader).unwrap();
    assert_eq!(writer.first_address(), &nodes[reply_path[0]].address[..]);
    let mut frames = vec![write_message(&mut writer, payload).unwrap()];
    for (k, &i) in reply_path[..reply_path.len() - 1].iter().enumerate() {
        let next = nodes[reply_path[k + 1]].address.clone();
        let f = relay(
            &mut nodes[i],
            frames.last().unwrap(),
            HopKind::ReplyRelay,
            &next,
        )
        .unwrap();
        frames.push(f);
    }
    frames
}

fn assert_equal_lengths(frames: &[Vec<u8>]) {
    let len = frames[0].len();
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.len(), len, "hop {i} frame length");
    }
}

#[test]
fn queries_reach_the_exit_over_0_1_2_and_25_relays() {
    let config = TunnelConfig::default();
    let layout = FrameLayout::new(&config).unwrap();
    let cap = layout.cell.data_capacity();
    let mut nodes = nodes(config, 27);
    for relays in [0usize, 1, 2, 25] {
        // node 0 is Alice; relays 1..=relays; the exit after them.
        let path: Vec<usize> = (1..=relays + 1).collect();
        let bob = *path.last().unwrap();
        // 0 bytes, 1 byte, content of exactly one cell (the reply marker
        // takes one byte), several cells.
        for len in [0, 1, cap - 1, 3 * cap + 17] {
            let data = payload(len);
            let (frames, _) = send_query(&mut nodes, 0, &path, None, &data);
            assert_eq!(frames.len(), relays + 1);
            assert_equal_lengths(&frames);
            assert_eq!(frames[0].len() as u64, layout.frame_len(len as u64 + 1));
            let (mut reader, got) = exit_read(&mut nodes[bob], frames.last().unwrap()).unwrap();
            assert_eq!(got, data, "{relays} relays, {len} bytes");
            assert!(reader.reply_block().is_none());
            assert!(matches!(
                reader.reply_writer(),
                Err(TunnelError::NoReplyBlock)
            ));
        }
    }
}

#[test]
fn a_build_with_128_relays_works() {
    let config = TunnelConfig::with_max_hops(128);
    let mut nodes = nodes(config, 130);
    let path: Vec<usize> = (1..=129).collect();
    let data = payload(40_000);
    let (frames, _) = send_query(&mut nodes, 0, &path, None, &data);
    assert_eq!(frames.len(), 129);
    assert_equal_lengths(&frames);
    let (_, got) = exit_read(&mut nodes[129], frames.last().unwrap()).unwrap();
    assert_eq!(got, data);
}

#[test]
fn a_reply_comes_back_over_the_same_route_reversed() {
    let config = TunnelConfig::default();
    let mut nodes = nodes(config, 4);
    let data = payload(50_000);
    // Alice 0 -> 1 -> 2 -> Bob 3; reply Bob -> 2 -> 1 -> Alice.
    let (query, _) = send_query(&mut nodes, 0, &[1, 2, 3], Some(&[2, 1, 0]), &data);
    let (mut exit, got) = exit_read(&mut nodes[3], query.last().unwrap()).unwrap();
    assert_eq!(got, data);
    let answer = payload(30_001);
    let reply = send_reply(&mut nodes, &mut exit, 3, &[2, 1, 0], &answer);
    assert_eq!(reply.len(), 3);
    assert_equal_lengths(&reply);
    // The length every reply hop sees depends only on the reply's size.
    let layout = FrameLayout::new(&config).unwrap();
    assert_eq!(
        reply[0].len() as u64,
        layout.reply_frame_len(answer.len() as u64)
    );
    assert_eq!(nodes[0].full.pending_replies(), 1);
    let read = reply_read(&mut nodes[0], reply.last().unwrap()).unwrap();
    assert_eq!(read, answer);
    assert_eq!(nodes[0].full.pending_replies(), 0);
}

#[test]
fn a_reply_comes_back_over_another_route_or_straight() {
    let config = TunnelConfig::default();
    let mut nodes = nodes(config, 8);
    // Query 0 -> 1 -> 2 -> 3; reply 3 -> 4 -> 5 -> 6 -> 7 -> 0.
    let (query, _) = send_query(&mut nodes, 0, &[1, 2, 3], Some(&[4, 5, 6, 7, 0]), b"q");
    let (mut exit, _) = exit_read(&mut nodes[3], query.last().unwrap()).unwrap();
    let reply = send_reply(&mut nodes, &mut exit, 3, &[4, 5, 6, 7, 0], b"");
    assert_equal_lengths(&reply);
    assert_eq!(
        reply_read(&mut nodes[0], reply.last().unwrap()).unwrap(),
        b""
    );

    // No relay either way: Alice 0 -> Bob 1 -> Alice 0.
    let (query, _) = send_query(&mut nodes, 0, &[1], Some(&[0]), b"ping");
    let (mut exit, got) = exit_read(&mut nodes[1], query.last().unwrap()).unwrap();
    assert_eq!(got, b"ping");
    let reply = send_reply(&mut nodes, &mut exit, 1, &[0], b"pong");
    assert_eq!(reply_read(&mut nodes[0], &reply[0]).unwrap(), b"pong");
}

#[test]
fn a_reply_block_is_single_use() {
    let config = TunnelConfig::default();
    let mut nodes = nodes(config, 4);
    let (query, _) = send_query(&mut nodes, 0, &[1, 2], Some(&[3, 0]), b"q");
    let (mut exit, _) = exit_read(&mut nodes[2], query.last().unwrap()).unwrap();
    let reply = send_reply(&mut nodes, &mut exit, 2, &[3, 0], b"first");
    // Bob cannot make a second writer from the same block.
    let err = exit.reply_writer().unwrap_err();
    assert!(matches!(err, TunnelError::Used));
    // Replaying the reply frame at the reply relay is refused.
    let err = relay(&mut nodes[3], &reply[0], HopKind::ReplyRelay, b"node-0").unwrap_err();
    assert!(
        matches!(tunnel_error(&err), Some(TunnelError::Replayed)),
        "{err}"
    );
    // The refused reader stays failed and says why.
    let mut input = &reply[0][..];
    let mut reader = nodes[3].full.view().new_reader();
    reader.read_header(&mut input).unwrap();
    assert!(matches!(
        nodes[3].full.admit(&mut reader),
        Err(TunnelError::Replayed)
    ));
    assert!(matches!(reader.failure(), Some(TunnelError::Replayed)));
    assert!(matches!(
        nodes[3].full.admit(&mut reader),
        Err(TunnelError::Replayed)
    ));
    // The sender reads it once; a second copy has no keys left.
    assert_eq!(reply_read(&mut nodes[0], &reply[1]).unwrap(), b"first");
    let err = reply_read(&mut nodes[0], &reply[1]).unwrap_err();
    assert!(
        matches!(tunnel_error(&err), Some(TunnelError::UnknownReply)),
        "{err}"
    );
}

#[test]
fn a_reply_relay_is_not_streamed_without_the_full_tunnel() {
    let config = TunnelConfig::default();
    let mut nodes = nodes(config, 3);
    let (query, _) = send_query(&mut nodes, 0, &[1], Some(&[2, 0]), b"q");
    let (mut exit, _) = exit_read(&mut nodes[1], query.last().unwrap()).unwrap();
    let view = nodes[1].full.view();
    let mut writer = view.reply_writer(&mut exit).unwrap();
    let frame = write_message(&mut writer, b"r").unwrap();

    let view = nodes[2].full.view();
    let mut input = &frame[..];
    let mut reader = view.new_reader();
    reader.read_header(&mut input).unwrap();
    let after_header = input.len();
    assert!(!view.can_proxy(&reader) && !view.can_read(&reader));
    assert!(view.needs_full(&reader));
    let err = reader.pump(&mut input, &mut Vec::new()).unwrap_err();
    assert!(matches!(
        tunnel_error(&err),
        Some(TunnelError::NeedsFullTunnel(HopKind::ReplyRelay))
    ));
    // The checks consumed nothing: the full tunnel takes over from here.
    assert_eq!(input.len(), after_header);
    nodes[2].full.admit(&mut reader).unwrap();
    let mut out = Vec::new();
    reader.pump(&mut input, &mut out).unwrap();
    assert_eq!(reply_read(&mut nodes[0], &out).unwrap(), b"r");
}

#[test]
fn a_writer_carries_one_message_only() {
    let config = TunnelConfig::default();
    let mut nodes = nodes(config, 2);
    let r = route(&nodes, &[1]);
    let mut w = nodes[0].full.new_writer(&r, None).unwrap();
    let mut out = Vec::new();
    let err = w.write_into(&mut out, b"x").unwrap_err();
    assert!(matches!(tunnel_error(&err), Some(TunnelError::NoHeader)));
    write_message(&mut w, b"x").unwrap();
    let err = w.write_header(&mut out).unwrap_err();
    assert!(matches!(tunnel_error(&err), Some(TunnelError::Used)));
}

#[test]
fn the_pending_reply_table_is_bounded() {
    let config = TunnelConfig {
        max_pending_replies: 2,
        ..TunnelConfig::default()
    };
    let mut nodes = nodes(config, 2);
    let fwd = route(&nodes, &[1]);
    let back = route(&nodes, &[0]);
    nodes[0].full.new_writer(&fwd, Some(&back)).unwrap();
    nodes[0].full.new_writer(&fwd, Some(&back)).unwrap();
    let err = nodes[0].full.new_writer(&fwd, Some(&back)).err().unwrap();
    assert!(matches!(err, TunnelError::TooManyPendingReplies));
    // Without a reply nothing is kept, so it still works.
    nodes[0].full.new_writer(&fwd, None).unwrap();
}

#[test]
fn a_reply_given_up_frees_its_keys_by_the_id_its_writer_gave() {
    let config = TunnelConfig {
        max_pending_replies: 1,
        ..TunnelConfig::default()
    };
    let mut nodes = nodes(config, 2);
    let fwd = route(&nodes, &[1]);
    let back = route(&nodes, &[0]);
    let first = nodes[0].full.new_writer(&fwd, Some(&back)).unwrap();
    let id = *first.reply_id().expect("asked for a reply");
    assert!(nodes[0]
        .full
        .new_writer(&fwd, None)
        .unwrap()
        .reply_id()
        .is_none());
    // Full until the first reply is given up by its id.
    assert!(nodes[0].full.new_writer(&fwd, Some(&back)).is_err());
    assert!(nodes[0].full.cancel_reply(&id));
    let mut second = nodes[0].full.new_writer(&fwd, Some(&back)).unwrap();
    let second_id = *second.reply_id().expect("asked for a reply");
    assert_ne!(second_id, id);

    // The reply to the second query carries its id to the sender's reader.
    let frame = write_message(&mut second, b"ask").unwrap();
    let mut input = &frame[..];
    let mut exit = nodes[1].full.view().new_reader();
    exit.read_header(&mut input).unwrap();
    assert_eq!(exit.reply_id(), None);
    let mut reply = nodes[1].full.view().reply_writer(&mut exit).unwrap();
    let reply_frame = write_message(&mut reply, b"answer").unwrap();
    let mut input = &reply_frame[..];
    let mut reader = nodes[0].full.view().new_reader();
    reader.read_header(&mut input).unwrap();
    assert_eq!(reader.reply_id(), Some(&second_id[..]));
}

#[test]
fn every_layer_survives_streams_that_block_and_split() {
    let config = TunnelConfig::default();
    let layout = FrameLayout::new(&config).unwrap();
    let mut nodes = nodes(config, 4);
    let data = payload(2 * layout.cell.data_capacity() + 333);
    let fwd = route(&nodes, &[1, 2, 3]);
    let back = route(&nodes, &[0]);
    let mut w = nodes[0].full.new_writer(&fwd, Some(&back)).unwrap();
    let mut out = ChoppyWriter {
        data: Vec::new(),
        step: 777,
        block: false,
    };
    retry(|| w.write_header(&mut out)).unwrap();
    let mut rest = &data[..];
    while !rest.is_empty() {
        let n = retry(|| w.write_into(&mut out, rest)).unwrap();
        rest = &rest[n..];
    }
    retry(|| w.write_end(&mut out)).unwrap();
    let mut frame = out.data;

    for (k, hop) in [1usize, 2].into_iter().enumerate() {
        let mut input = Choppy {
            data: &frame,
            step: 501 + k,
            block: false,
        };
        let mut reader = nodes[hop].full.view().new_reader();
        retry(|| reader.read_header(&mut input)).unwrap();
        let mut out = ChoppyWriter {
            data: Vec::new(),
            step: 999,
            block: false,
        };
        retry(|| reader.pump(&mut input, &mut out)).unwrap();
        assert_eq!(out.data.len(), frame.len());
        frame = out.data;
    }
    let mut input = Choppy {
        data: &frame,
        step: 313,
        block: false,
    };
    let mut reader = nodes[3].full.view().new_reader();
    retry(|| reader.read_header(&mut input)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = retry(|| reader.read_from(&mut input, &mut buf)).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, data);
    assert!(reader.reply_block().is_some());
}

/// Sends `payload` with any [`Tunnel`], as a node generic over it would.
fn send_with<T: tunnel::Tunnel>(
    t: &mut T,
    route: &[tunnel::RouteHop],
    back: &[tunnel::RouteHop],
    payload: &[u8],
) -> Vec<u8> {
    let mut w = t.new_writer_with_reply(route, back).unwrap();
    write_message(&mut w, payload).unwrap()
}

#[test]
fn the_tunnel_traits_drive_a_query_and_its_reply() {
    use tunnel::{Tunnel, TunnelNoRep};
    let mut nodes = nodes(TunnelConfig::default(), 3);
    let (fwd, back) = (route(&nodes, &[1, 2]), route(&nodes, &[0]));
    let frame = send_with(&mut nodes[0].full, &fwd, &back, b"generic");
    let frame = relay(&mut nodes[1], &frame, HopKind::Relay, b"node-2").unwrap();
    let prov = TunnelNoRep::read_prov(&nodes[2].full);
    let mut input = &frame[..];
    let mut reader = prov.new_reader();
    reader.read_header(&mut input).unwrap();
    TunnelNoRep::admit(&mut nodes[2].full, &mut reader).unwrap();
    assert_eq!(read_payload(&mut reader, &mut input).unwrap(), b"generic");
    let mut w = nodes[2].full.new_reply_writer(&mut reader).unwrap();
    let reply = write_message(&mut w, b"back").unwrap();
    assert_eq!(reply_read(&mut nodes[0], &reply).unwrap(), b"back");
    // Without a reply route, nothing is kept at the sender.
    let w = TunnelNoRep::new_writer(&mut nodes[0].full, &fwd);
    assert!(w.is_ok());
    assert_eq!(nodes[0].full.pending_replies(), 0);
}

#[test]
fn tunnel_objects_can_move_to_service_threads() {
    fn send<T: Send>() {}
    fn shared<T: Send + Sync + Clone>() {}
    send::<tunnel::FullTunnel>();
    send::<tunnel::FullWriter>();
    send::<tunnel::ReplyWriter>();
    send::<HopReader>();
    shared::<tunnel::TunnelReadProv>();
    shared::<tunnel::TunnelNoRepReadProv>();
}
