//! The tunnel layers stack with other readwrite-comp layers, as a node
//! stacks them under its session shadow: the onion inside a chunked,
//! authenticated link layer, over streams that block.

mod full_util;

use std::io::Write;

use full_util::*;
use readwrite_comp::testing::{retry as rc_retry, ChecksumCipher, FaultPlan, FaultyReader};
use readwrite_comp::{ChunkMode, ChunkR, ChunkW, CompR, CompW, ExtRead, ExtWrite, MultiWExt};
use tunnel::{HopKind, TunnelConfig};

/// The link "shadow" of one connection (a checksum chunk layer here).
fn shadow_w(key: u64) -> ChunkW<ChecksumCipher> {
    ChunkW::new(
        ChecksumCipher::new(key),
        ChunkMode::Variable { max_chunk: 1500 },
    )
    .unwrap()
}

fn shadow_r(key: u64) -> ChunkR<ChecksumCipher> {
    ChunkR::new(
        ChecksumCipher::new(key),
        ChunkMode::Variable { max_chunk: 1500 },
    )
    .unwrap()
}

#[test]
fn an_onion_crosses_hops_inside_link_shadows() {
    let mut nodes = nodes(TunnelConfig::default(), 3);
    let data = payload(70_000);
    let (fwd, back) = (route(&nodes, &[1, 2]), route(&nodes, &[0]));
    let writer = nodes[0].full.new_writer(&fwd, Some(&back)).unwrap();

    // Alice: payload -> onion layer -> link shadow -> wire, as one stack.
    let layers: Vec<Box<dyn ExtWrite>> = vec![Box::new(writer), Box::new(shadow_w(1))];
    let mut stack = MultiWExt::new(layers);
    let mut link1 = Vec::new();
    stack.write_header(&mut link1).unwrap();
    stack.write_all_into(&mut link1, &data).unwrap();
    stack.write_end(&mut link1).unwrap();

    // The relay: wire -> shadow -> its HopReader -> next shadow -> wire,
    // the incoming side blocking at many offsets.
    let plan = FaultPlan::new().max_io(333).seeded(7, 300);
    let mut input = CompR::new(FaultyReader::new(&link1[..], plan), shadow_r(1));
    let mut reader = nodes[1].full.view().new_reader();
    rc_retry(|| reader.read_header(&mut input)).unwrap();
    assert_eq!(reader.kind(), Some(HopKind::Relay));
    assert_eq!(reader.next_address(), Some(&b"node-2"[..]));
    let mut output = CompW::new(Vec::new(), shadow_w(2));
    rc_retry(|| reader.pump(&mut input, &mut output)).unwrap();
    output.write_end().unwrap();
    output.flush().unwrap();
    let link2 = output.into_inner();

    // Bob: wire -> shadow -> HopReader -> payload.
    let mut input = CompR::new(&link2[..], shadow_r(2));
    let mut exit = nodes[2].full.view().new_reader();
    exit.read_header(&mut input).unwrap();
    assert_eq!(read_payload(&mut exit, &mut input).unwrap(), data);
    assert!(exit.reply_block().is_some());
}
