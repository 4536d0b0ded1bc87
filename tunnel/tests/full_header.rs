//! Header format: every hop reads its own layer, at every route length, with
//! the same header length everywhere; any tampered byte is refused.

use tunnel::config::TunnelConfig;
use tunnel::crypto::X25519Secret;
use tunnel::header::{build_header, HeaderError, HeaderLayout, HeaderProcessor, HopKind, RouteHop};

struct Hop {
    secret: X25519Secret,
    address: Vec<u8>,
}

fn hops(n: usize) -> Vec<Hop> {
    (0..n)
        .map(|i| Hop {
            secret: X25519Secret::generate().unwrap(),
            address: format!("peer-{i}").into_bytes(),
        })
        .collect()
}

fn route(hops: &[Hop]) -> Vec<RouteHop> {
    hops.iter()
        .map(|h| RouteHop {
            public_key: *h.secret.public_key(),
            address: h.address.clone(),
        })
        .collect()
}

/// Walks a header along `hops`; returns the header length seen at each hop.
fn walk(layout: &HeaderLayout, hops: &[Hop], reply: bool) -> Vec<usize> {
    let built = build_header(layout, &route(hops), reply, b"exit-info").unwrap();
    assert_eq!(built.hop_keys.len(), hops.len());
    let mut proc = HeaderProcessor::new(*layout);
    let mut header = built.bytes;
    let mut next = vec![0u8; layout.header_len()];
    let mut seen = Vec::new();
    for (i, hop) in hops.iter().enumerate() {
        seen.push(header.len());
        let out = proc.process(&hop.secret, &header, &mut next).unwrap();
        assert!(out.keys == built.hop_keys[i], "hop {i} keys");
        let last = i + 1 == hops.len();
        let expected = match (last, reply) {
            (false, false) => HopKind::Relay,
            (true, false) => HopKind::Exit,
            (false, true) => HopKind::ReplyRelay,
            (true, true) => HopKind::ReplyExit,
        };
        assert_eq!(out.kind, expected, "hop {i} kind");
        if last {
            assert_eq!(out.address, b"exit-info");
        } else {
            assert_eq!(out.address, hops[i + 1].address, "hop {i} next address");
            std::mem::swap(&mut header, &mut next);
        }
    }
    seen
}

#[test]
fn every_route_length_reaches_the_exit_with_equal_header_lengths() {
    let layout = HeaderLayout::new(&TunnelConfig::default()).unwrap();
    // 0, 1, 2, 25 and 32 relays, plus the exit.
    for relays in [0, 1, 2, 25, 32] {
        for reply in [false, true] {
            let seen = walk(&layout, &hops(relays + 1), reply);
            assert_eq!(seen.len(), relays + 1);
            assert!(seen.iter().all(|l| *l == layout.header_len()));
        }
    }
}

#[test]
fn a_128_hop_build_works() {
    let layout = HeaderLayout::new(&TunnelConfig::with_max_hops(128)).unwrap();
    let seen = walk(&layout, &hops(129), false);
    assert_eq!(seen.len(), 129);
    assert!(seen.iter().all(|l| *l == layout.header_len()));
}

#[test]
fn a_route_longer_than_the_config_is_refused() {
    let layout = HeaderLayout::new(&TunnelConfig::with_max_hops(2)).unwrap();
    let err = build_header(&layout, &route(&hops(4)), false, b"").unwrap_err();
    assert_eq!(err, HeaderError::RouteTooLong { layers: 4, max: 3 });
    let err = build_header(&layout, &[], false, b"").unwrap_err();
    assert_eq!(err, HeaderError::EmptyRoute);
}

#[test]
fn tampering_any_byte_at_any_hop_is_detected() {
    let layout = HeaderLayout::new(&TunnelConfig::with_max_hops(3)).unwrap();
    let hops = hops(4);
    let built = build_header(&layout, &route(&hops), false, b"").unwrap();
    let mut proc = HeaderProcessor::new(layout);
    let mut next = vec![0u8; layout.header_len()];
    // The headers each hop receives, untouched.
    let mut headers = vec![built.bytes];
    for hop in &hops[..3] {
        proc.process(&hop.secret, headers.last().unwrap(), &mut next)
            .unwrap();
        headers.push(next.clone());
    }
    for (i, hop) in hops.iter().enumerate() {
        for pos in 0..layout.header_len() {
            let mut bad = headers[i].clone();
            bad[pos] ^= 0x01;
            let res = proc.process(&hop.secret, &bad, &mut next);
            assert!(
                matches!(res, Err(HeaderError::BadMac) | Err(HeaderError::Crypto(_))),
                "hop {i} byte {pos}: {res:?}"
            );
        }
    }
}

#[test]
fn a_header_for_another_hop_or_of_the_wrong_length_is_refused() {
    let layout = HeaderLayout::new(&TunnelConfig::default()).unwrap();
    let hops = hops(2);
    let built = build_header(&layout, &route(&hops), false, b"").unwrap();
    let mut proc = HeaderProcessor::new(layout);
    let mut next = vec![0u8; layout.header_len()];
    let res = proc.process(&hops[1].secret, &built.bytes, &mut next);
    assert_eq!(res.unwrap_err(), HeaderError::BadMac);
    let res = proc.process(&hops[0].secret, &built.bytes[1..], &mut next);
    assert_eq!(
        res.unwrap_err(),
        HeaderError::BadLength(layout.header_len() - 1)
    );
}

/// A minimal peer: what the node layer's peers give the tunnel.
#[derive(Clone, Debug)]
struct TestPeer {
    id: u32,
    address: String,
    tunnel_key: [u8; 32],
}

impl mydht_base::Peer for TestPeer {
    type Id = u32;
    type Address = String;
    fn get_id(&self) -> &u32 {
        &self.id
    }
    fn get_address(&self) -> &String {
        &self.address
    }
    fn tunnel_public_key(&self) -> &[u8; 32] {
        &self.tunnel_key
    }
}

#[test]
fn a_route_built_from_peers_reaches_them() {
    let layout = HeaderLayout::new(&TunnelConfig::default()).unwrap();
    let secrets: Vec<X25519Secret> = (0..3).map(|_| X25519Secret::generate().unwrap()).collect();
    let peers: Vec<TestPeer> = secrets
        .iter()
        .enumerate()
        .map(|(i, s)| TestPeer {
            id: i as u32,
            address: format!("10.0.0.{i}:7000"),
            tunnel_key: *s.public_key(),
        })
        .collect();
    let route = tunnel::route_from_peers(&peers, |a| a.as_bytes().to_vec());
    let built = build_header(&layout, &route, false, b"").unwrap();
    let mut proc = HeaderProcessor::new(layout);
    let mut next = vec![0u8; layout.header_len()];
    let first = proc.process(&secrets[0], &built.bytes, &mut next).unwrap();
    assert_eq!(first.address, b"10.0.0.1:7000");
}
