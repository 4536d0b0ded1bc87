//! The sender's side: build a header for a chosen route.

use mydht_base::Peer;

use super::ephemeral::EphemeralKeys;
use super::layout::HeaderLayout;
use super::slot::{HopKind, Slot};
use super::HeaderError;
use crate::crypto::{
    chacha20_xor, mac, random_bytes, HopKeys, KEY_LEN, NONCE_LEN, PUBLIC_KEY_LEN, TAG_LEN,
};

/// One hop of a route as the sender sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteHop {
    /// The hop's static X25519 tunnel public key.
    pub public_key: [u8; PUBLIC_KEY_LEN],
    /// The hop's opaque address, written in the previous hop's slot (the
    /// first hop's address is where the sender connects; not in the header).
    pub address: Vec<u8>,
}

/// Builds a route from peers, `encode` turning a peer address into the
/// opaque bytes the node layer maps back to a peer.
pub fn route_from_peers<P: Peer>(
    peers: &[P],
    mut encode: impl FnMut(&P::Address) -> Vec<u8>,
) -> Vec<RouteHop> {
    peers
        .iter()
        .map(|p| RouteHop {
            public_key: *p.tunnel_public_key(),
            address: encode(p.get_address()),
        })
        .collect()
}

/// A header ready to send, with the keys the sender shares with every hop.
#[derive(Debug)]
pub struct BuiltHeader {
    /// The header bytes, `layout.header_len()` long.
    pub bytes: Vec<u8>,
    /// The keys of each hop, in route order (the last is the exit's).
    pub hop_keys: Vec<HopKeys>,
}

/// Builds the header for `route` (relays then the exit, at least one hop).
///
/// `reply` makes a reply header (relays add content layers, the exit is the
/// original sender). `exit_info` is opaque data for the exit only, at most
/// `layout.max_address_len()` bytes. Every hop's key pair is made here; see
/// [`build_header_with`] for key pairs made ahead.
pub fn build_header(
    layout: &HeaderLayout,
    route: &[RouteHop],
    reply: bool,
    exit_info: &[u8],
) -> Result<BuiltHeader, HeaderError> {
    build_header_with(layout, route, reply, exit_info, &mut EphemeralKeys::none())
}

/// [`build_header`] with the hops' key pairs taken from `keys` (made ahead;
/// fresh ones when it has too few), and each hop prepared in `keys` for its
/// key taken whole ([`EphemeralKeys::take_hop`]).
pub fn build_header_with(
    layout: &HeaderLayout,
    route: &[RouteHop],
    reply: bool,
    exit_info: &[u8],
    keys: &mut EphemeralKeys,
) -> Result<BuiltHeader, HeaderError> {
    let n = route.len();
    if n == 0 {
        return Err(HeaderError::EmptyRoute);
    }
    if n > layout.max_layers() {
        return Err(HeaderError::RouteTooLong {
            layers: n,
            max: layout.max_layers(),
        });
    }
    if let Some(h) = route
        .iter()
        .find(|h| h.address.len() > layout.max_address_len())
    {
        return Err(HeaderError::AddressTooLong(h.address.len()));
    }
    if exit_info.len() > layout.max_address_len() {
        return Err(HeaderError::AddressTooLong(exit_info.len()));
    }
    let slot_len = layout.slot_len();
    let routing_len = layout.routing_len();
    let stream_len = routing_len + slot_len;

    let mut ephemerals = Vec::with_capacity(n);
    let mut hop_keys = Vec::with_capacity(n);
    for hop in route {
        let (public, keys) = keys.take_hop(&hop.public_key)?;
        hop_keys.push(keys);
        ephemerals.push(public);
    }
    let streams = hop_keys
        .iter()
        .map(|k| keystream(&k.header_stream_key, stream_len))
        .collect::<Result<Vec<_>, _>>()?;

    // Filler: what hops 0..n-2 shift into the tail of the routing block, so
    // the MACs computed here match what each hop will see.
    let mut filler: Vec<u8> = Vec::with_capacity(n * slot_len);
    for (i, stream) in streams.iter().enumerate().take(n - 1) {
        filler.extend(std::iter::repeat_n(0u8, slot_len));
        let from = routing_len - i * slot_len;
        for (f, s) in filler.iter_mut().zip(&stream[from..]) {
            *f ^= s;
        }
    }

    let (relay, exit) = if reply {
        (HopKind::ReplyRelay, HopKind::ReplyExit)
    } else {
        (HopKind::Relay, HopKind::Exit)
    };

    // The exit's routing block: its slot, random padding, then the filler.
    let mut routing = vec![0u8; routing_len];
    let mut exit_public = [0u8; PUBLIC_KEY_LEN];
    let mut exit_mac = [0u8; TAG_LEN];
    let mut exit_link_key = [0u8; KEY_LEN];
    random_bytes(&mut exit_public)?;
    random_bytes(&mut exit_mac)?;
    random_bytes(&mut exit_link_key)?;
    Slot {
        kind: exit,
        address: exit_info,
        next_public: exit_public,
        next_mac: exit_mac,
        next_link_key: exit_link_key,
    }
    .encode(layout, &mut routing[..slot_len])?;
    let clear_end = routing_len - (n - 1) * slot_len;
    random_bytes(&mut routing[slot_len..clear_end])?;
    xor_into(&mut routing[..clear_end], &streams[n - 1][..clear_end]);
    routing[clear_end..].copy_from_slice(&filler);
    let mut tag = mac(&hop_keys[n - 1].header_mac_key, &routing)?;

    // Wrap outwards: each relay's slot points at the next hop.
    let mut slot = vec![0u8; slot_len];
    for i in (0..n - 1).rev() {
        // A reply relay learns the link key of the hop after it; a query
        // slot carries random bytes in the same place.
        let next_link_key = if reply {
            hop_keys[i + 1].link_key
        } else {
            let mut k = [0u8; KEY_LEN];
            random_bytes(&mut k)?;
            k
        };
        Slot {
            kind: relay,
            address: &route[i + 1].address,
            next_public: ephemerals[i + 1],
            next_mac: tag,
            next_link_key,
        }
        .encode(layout, &mut slot)?;
        routing.copy_within(0..routing_len - slot_len, slot_len);
        routing[..slot_len].copy_from_slice(&slot);
        xor_into(&mut routing, &streams[i][..routing_len]);
        tag = mac(&hop_keys[i].header_mac_key, &routing)?;
    }

    let mut bytes = Vec::with_capacity(layout.header_len());
    bytes.extend_from_slice(&ephemerals[0]);
    bytes.extend_from_slice(&routing);
    bytes.extend_from_slice(&tag);
    Ok(BuiltHeader { bytes, hop_keys })
}

/// `len` bytes of the ChaCha20 keystream of `key` (nonce zero: the key is
/// used for one header only).
pub(crate) fn keystream(key: &[u8; 32], len: usize) -> Result<Vec<u8>, HeaderError> {
    let mut out = vec![0u8; len];
    chacha20_xor(key, &[0u8; NONCE_LEN], &mut out)?;
    Ok(out)
}

fn xor_into(data: &mut [u8], stream: &[u8]) {
    for (d, s) in data.iter_mut().zip(stream) {
        *d ^= s;
    }
}
