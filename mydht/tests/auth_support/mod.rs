//! Random authentication messages for the property tests of the handshake
//! (`auth_garbage.rs`) and of the encoders (`msgenc_auth.rs`).

use mydht::auth::{AuthMode, AuthPing, AuthPong, AuthPongFinal, CipherSuite, PeerInfoMsg};
use mydht::AuthMessage;
use proptest::prelude::*;

/// Byte fields of any length around the valid ones (32 and 64): encoders
/// must carry whatever a peer sends, the handshake checks lengths.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 32),
        prop::collection::vec(any::<u8>(), 64),
        prop::collection::vec(any::<u8>(), 0..80),
    ]
}

/// A peer info with any fields; addresses around the length bound and any
/// text.
fn peer_msg() -> impl Strategy<Value = PeerInfoMsg> {
    let address = prop_oneof![".{0,300}", any::<String>()];
    (bytes(), bytes(), address, bytes(), bytes()).prop_map(
        |(id, identity_key, address, tunnel_key, binding)| PeerInfoMsg {
            id,
            identity_key,
            address,
            tunnel_key,
            binding,
        },
    )
}

fn suite() -> impl Strategy<Value = CipherSuite> {
    prop_oneof![
        Just(CipherSuite::ChaCha20Poly1305),
        Just(CipherSuite::Aes256Gcm)
    ]
}

fn mode() -> impl Strategy<Value = AuthMode> {
    prop_oneof![Just(AuthMode::Signed), Just(AuthMode::NoAuth)]
}

/// Any ping, pong or final pong, of any field values.
pub fn auth_message() -> impl Strategy<Value = AuthMessage> {
    prop_oneof![
        (peer_msg(), bytes(), bytes(), mode(), suite()).prop_map(
            |(peer, challenge, ephemeral_key, mode, suite)| {
                AuthMessage::Ping(AuthPing {
                    peer,
                    challenge,
                    ephemeral_key,
                    mode,
                    suite,
                })
            }
        ),
        (peer_msg(), bytes(), bytes(), bytes(), bytes(), suite()).prop_map(
            |(peer, your_challenge, challenge, ephemeral_key, signature, suite)| {
                AuthMessage::Pong(AuthPong {
                    peer,
                    your_challenge,
                    challenge,
                    ephemeral_key,
                    signature,
                    suite,
                })
            }
        ),
        (bytes(), bytes()).prop_map(|(your_challenge, signature)| {
            AuthMessage::PongFinal(AuthPongFinal {
                your_challenge,
                signature,
            })
        }),
    ]
}
