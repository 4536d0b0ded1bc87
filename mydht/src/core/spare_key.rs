//! The next handshake's ephemeral X25519 key, made while the loop has
//! nothing else to do: a connect then costs one public-key operation less
//! per side on its critical path.

use crate::auth::EphemeralKey;

/// At most one key, used by one handshake only.
pub(crate) struct SpareKey(Option<EphemeralKey>);

impl SpareKey {
    /// A spare with its key made (at node start, so that the first
    /// connection has one too).
    pub(crate) fn new() -> Self {
        let mut spare = SpareKey(None);
        spare.refill();
        spare
    }

    /// True when a handshake took the key.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The key, for one handshake; `None` makes the handshake generate its
    /// own.
    pub(crate) fn take(&mut self) -> Option<EphemeralKey> {
        self.0.take()
    }

    /// A key a handshake took and did not use (a known-key flight needs no
    /// ephemeral key of the acceptor's): kept for the next one, if none
    /// was made meanwhile.
    pub(crate) fn give_back(&mut self, key: EphemeralKey) {
        if self.0.is_none() {
            self.0 = Some(key);
        }
    }

    /// Makes the key if there is none. A failure is left to the next
    /// handshake, which generates its key itself and reports the error.
    pub(crate) fn refill(&mut self) {
        if self.0.is_none() {
            self.0 = EphemeralKey::generate().ok();
        }
    }
}
