//! Parsers of the command line's values: addresses and keys. Each error
//! is one line saying what was expected.

use std::net::{SocketAddr, ToSocketAddrs};

use mydht_kvstore::dht::default_key_check;
use mydht_kvstore::{Key, KEY_LEN};

/// Longest key name, in bytes.
pub const MAX_KEY_NAME: usize = 1024;

/// A listening address: an IP and a port.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|_| "expected IP:PORT, such as 127.0.0.1:4000 or [::1]:0".to_string())
}

/// A peer's address: IP:PORT or HOST:PORT (resolved now, first address).
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if !s.contains(':') {
        return Err("expected HOST:PORT, such as 127.0.0.1:4000".into());
    }
    match s.to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| "the host name has no address".into()),
        Err(e) => Err(format!("cannot resolve it ({e})")),
    }
}

/// A key: `0x` and 64 hex digits, or a name whose SHA-256 is the key.
pub fn parse_key(s: &str) -> Result<Key, String> {
    let key = match s.strip_prefix("0x") {
        Some(hex) => Key::new(parse_hex(hex)?),
        None if s.is_empty() => return Err("a key name cannot be empty".into()),
        None if s.len() > MAX_KEY_NAME => {
            return Err(format!("a key name is at most {MAX_KEY_NAME} bytes"))
        }
        None => Key::hash_of(s.as_bytes()),
    };
    default_key_check(&key).map_err(str::to_string)?;
    Ok(key)
}

/// A peer id: 64 hex digits (`0x` allowed before them).
pub fn parse_peer_id(s: &str) -> Result<mydht::PeerId, String> {
    let hex = s.strip_prefix("0x").unwrap_or(s);
    parse_hex(hex)
        .map(mydht::PeerId::from)
        .map_err(|_| format!("expected a peer id: {} hex digits", KEY_LEN * 2))
}

fn parse_hex(hex: &str) -> Result<[u8; KEY_LEN], String> {
    let bad = || format!("expected 0x and {} hex digits", KEY_LEN * 2);
    if hex.len() != KEY_LEN * 2 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut key = [0u8; KEY_LEN];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(key)
}
