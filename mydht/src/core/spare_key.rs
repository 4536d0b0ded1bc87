//! The next handshakes' ephemeral X25519 keys, made while the loop has
//! nothing else to do: a connect then costs one public-key operation less
//! per side on its critical path.

use std::collections::VecDeque;

use crate::auth::EphemeralKey;

/// Keys kept ready: a relay dials and accepts in bursts (a tunnel hop is
/// an accept then a dial), so one spare was often taken before the loop
/// was idle again.
const SPARE_KEYS: usize = 4;

/// At most [`SPARE_KEYS`] keys, each used by one handshake only.
pub(crate) struct SpareKey(VecDeque<EphemeralKey>);

impl SpareKey {
    /// Spares with one key made (at node start, so that the first
    /// connection has one too); the others are made when the loop idles.
    pub(crate) fn new() -> Self {
        let mut spare = SpareKey(VecDeque::with_capacity(SPARE_KEYS));
        spare.refill();
        spare
    }

    /// True while fewer than [`SPARE_KEYS`] keys are ready.
    pub(crate) fn wants_refill(&self) -> bool {
        self.0.len() < SPARE_KEYS
    }

    /// A key, for one handshake; `None` makes the handshake generate its
    /// own.
    pub(crate) fn take(&mut self) -> Option<EphemeralKey> {
        self.0.pop_front()
    }

    /// A key a handshake took and did not use (a known-key flight needs no
    /// ephemeral key of the acceptor's): kept for the next one, if there
    /// is room.
    pub(crate) fn give_back(&mut self, key: EphemeralKey) {
        if self.wants_refill() {
            self.0.push_front(key);
        }
    }

    /// Makes one key if fewer than [`SPARE_KEYS`] are ready: the loop's
    /// idle work stays one key operation long. A failure is left to the
    /// next handshake, which generates its key itself and reports the
    /// error.
    pub(crate) fn refill(&mut self) {
        if self.wants_refill() {
            if let Ok(key) = EphemeralKey::generate() {
                self.0.push_back(key);
            }
        }
    }
}
