//! Route addresses: a peer's listening address as the opaque bytes a
//! tunnel header carries, and back.
//!
//! `[family 1][ip 4 | 16][port 2, big endian]`: 7 bytes for IPv4, 19 for
//! IPv6, well under the tunnel's `max_address_len` (64 by default).
//! Decoding checks the exact length: a hop never trusts what an onion says.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::error::TunnelSendError;

/// Family byte of an IPv4 address.
const V4: u8 = 4;
/// Family byte of an IPv6 address.
const V6: u8 = 6;

/// The route bytes of `addr`.
pub fn encode_address(addr: &SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(19);
    match addr.ip() {
        IpAddr::V4(ip) => {
            out.push(V4);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(V6);
            out.extend_from_slice(&ip.octets());
        }
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
    out
}

/// The address route bytes stand for; [`TunnelSendError::BadAddress`] if
/// they are not an encoding of one.
pub fn decode_address(bytes: &[u8]) -> Result<SocketAddr, TunnelSendError> {
    let port = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    match bytes {
        [V4, rest @ ..] if rest.len() == 6 => {
            let ip = Ipv4Addr::new(rest[0], rest[1], rest[2], rest[3]);
            Ok(SocketAddr::new(ip.into(), port(&rest[4..])))
        }
        [V6, rest @ ..] if rest.len() == 18 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&rest[..16]);
            Ok(SocketAddr::new(
                Ipv6Addr::from(octets).into(),
                port(&rest[16..]),
            ))
        }
        _ => Err(TunnelSendError::BadAddress),
    }
}

/// The route bytes of a peer's announced (text) address.
pub fn encode_text_address(text: &str) -> Result<Vec<u8>, TunnelSendError> {
    text.parse::<SocketAddr>()
        .map(|a| encode_address(&a))
        .map_err(|_| TunnelSendError::BadAddress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_families_round_trip_and_other_bytes_are_refused() {
        for text in ["127.0.0.1:4000", "[::1]:65535", "10.1.2.3:0"] {
            let addr: SocketAddr = text.parse().unwrap();
            let bytes = encode_address(&addr);
            assert_eq!(decode_address(&bytes).unwrap(), addr);
            assert_eq!(encode_text_address(text).unwrap(), bytes);
            // One byte short or long, or another family: refused.
            assert!(decode_address(&bytes[..bytes.len() - 1]).is_err());
            let mut long = bytes.clone();
            long.push(0);
            assert!(decode_address(&long).is_err());
        }
        assert!(decode_address(&[5, 127, 0, 0, 1, 0, 1]).is_err());
        assert!(decode_address(&[]).is_err());
        assert!(encode_text_address("not an address").is_err());
    }
}
