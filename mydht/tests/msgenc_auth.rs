//! The authentication messages round-trip through `Json` and `Bincode`,
//! framed, and garbage in their place is a `Decode` error.

mod auth_support;
mod frame_support;

use auth_support::auth_message;

use frame_support::check_round_trip;
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

impl Arbitrary for Auth {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;

    fn arbitrary_with(_: ()) -> Self::Strategy {
        auth_message().prop_map(Auth).boxed()
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
