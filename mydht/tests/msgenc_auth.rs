//! The authentication messages round-trip through `Json` and `Bincode`,
//! framed, and garbage in their place is a `Decode` error.

mod frame_support;

use frame_support::check_round_trip;
use mydht::auth::{AuthMode, AuthPing, AuthPong, AuthPongFinal, CipherSuite, PeerInfoMsg};
use mydht::msgenc::{Bincode, Json};
use mydht::AuthMessage;
use mydht_base::{ErrorKind, ErrorLevel, MsgEnc};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// `AuthMessage` with an `Arbitrary` implementation; `transparent` keeps
/// its encoding that of the message itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
struct Auth(AuthMessage);

/// Byte fields of any length around the valid ones (32 and 64): the
/// encoders must carry whatever a peer sends, the handshake checks lengths.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 32),
        prop::collection::vec(any::<u8>(), 64),
        prop::collection::vec(any::<u8>(), 0..80),
    ]
}

fn peer() -> impl Strategy<Value = PeerInfoMsg> {
    (bytes(), bytes(), any::<String>(), bytes()).prop_map(
        |(id, identity_key, address, tunnel_key)| PeerInfoMsg {
            id,
            identity_key,
            address,
            tunnel_key,
        },
    )
}

fn suite() -> impl Strategy<Value = CipherSuite> {
    prop_oneof![
        Just(CipherSuite::ChaCha20Poly1305),
        Just(CipherSuite::Aes256Gcm)
    ]
}

impl Arbitrary for Auth {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;

    fn arbitrary_with(_: ()) -> Self::Strategy {
        prop_oneof![
            (peer(), bytes(), bytes(), any::<bool>(), suite()).prop_map(
                |(peer, challenge, ephemeral_key, signed, suite)| {
                    AuthMessage::Ping(AuthPing {
                        peer,
                        challenge,
                        ephemeral_key,
                        mode: if signed {
                            AuthMode::Signed
                        } else {
                            AuthMode::NoAuth
                        },
                        suite,
                    })
                }
            ),
            (peer(), bytes(), bytes(), bytes(), bytes(), suite()).prop_map(
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
        .prop_map(Auth)
        .boxed()
    }
}

#[test]
fn json_round_trips_every_auth_message() {
    check_round_trip::<Auth, _>(&Json, 128);
}

#[test]
fn bincode_round_trips_every_auth_message() {
    check_round_trip::<Auth, _>(&Bincode::new(), 128);
}

proptest! {
    #[test]
    fn garbage_in_place_of_an_auth_message_is_a_decode_error(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        for result in [
            Json.decode::<AuthMessage>(&bytes),
            Bincode::new().decode::<AuthMessage>(&bytes),
        ] {
            if let Err(e) = result {
                prop_assert_eq!(e.kind(), ErrorKind::Decode);
                prop_assert_eq!(e.level(), ErrorLevel::ShutDown);
            }
        }
    }
}
