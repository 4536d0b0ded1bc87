//! One direction of a connection cut into the records it carries, at the
//! transport, as its bytes pass: first the handshake's messages (`len: u32
//! big endian ‖ len bytes`, decoded to know which is the direction's last),
//! then the session's chunks (`header: u32 big endian, bit 31 the last
//! flag, the data length below ‖ data ‖ tag`): the lengths anyone on the
//! path sees, the chunk headers being in clear under the session shadow.
//! A dialler's direction ends its handshake with its final pong (signed),
//! its ping (unsigned) or its known-key flight (one message, to which the
//! acceptor answers nothing); an acceptor's with its pong.
//! Only a chunk's header is kept, never its data, so a transfer of any
//! length costs a few bytes.

use mydht::{AuthMessage, AuthMode, Bincode};
use mydht_base::MsgEnc;

/// The name of the known-key handshake's one message.
const KNOWN_KEY_FLIGHT: &str = "known-key flight";

/// A handshake message longer than this is a cut gone wrong.
const MAX_HANDSHAKE_MSG: usize = 64 << 10;

/// One record on the wire, with its length there (prefix included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// A handshake message: its name and length.
    Handshake(&'static str, usize),
    /// A session chunk: header, data and tag.
    Chunk(usize),
}

/// Which side of the handshake writes a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The side that dialled: its ping (and final pong when signed).
    Dialler,
    /// The side that accepted: its pong.
    Acceptor,
}

/// Where the cut is.
#[derive(Debug, Clone)]
enum State {
    /// Reading a record's 4-byte prefix.
    Prefix([u8; 4], usize),
    /// Reading a handshake message's body.
    Message(usize),
    /// Passing over a chunk's data and tag.
    Chunk(usize),
    /// Cut wrong: nothing more is recorded.
    Lost,
}

/// Cuts one direction of a connection into [`Record`]s.
#[derive(Clone)]
pub struct Cutter {
    side: Side,
    tag: usize,
    state: State,
    body: Vec<u8>,
    in_session: bool,
    /// The dialler's first message was the known-key flight (the
    /// acceptor then answers nothing before the session).
    known_key: bool,
    /// The records cut so far (the last one complete).
    pub records: Vec<Record>,
    /// Why the cut went wrong, if it did.
    pub error: Option<String>,
}

impl std::fmt::Debug for Cutter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cutter")
            .field("side", &self.side)
            .field("records", &self.records)
            .field("error", &self.error)
            .finish()
    }
}

impl Cutter {
    /// A cutter for the direction `side` writes, whose session chunks
    /// carry tags of `tag` bytes.
    pub fn new(side: Side, tag: usize) -> Self {
        Cutter {
            side,
            tag,
            state: State::Prefix([0; 4], 0),
            body: Vec::new(),
            in_session: false,
            known_key: false,
            records: Vec::new(),
            error: None,
        }
    }

    /// The session chunks' lengths, in order.
    pub fn chunks(&self) -> Vec<usize> {
        self.records
            .iter()
            .filter_map(|r| match r {
                Record::Chunk(n) => Some(*n),
                Record::Handshake(..) => None,
            })
            .collect()
    }

    /// Bytes of the handshake's messages.
    pub fn handshake_len(&self) -> usize {
        self.records
            .iter()
            .map(|r| match r {
                Record::Handshake(_, n) => *n,
                Record::Chunk(_) => 0,
            })
            .sum()
    }

    /// Whether this dialler's direction began with the known-key flight.
    pub fn known_key(&self) -> bool {
        self.known_key
    }

    /// The other direction began with the known-key flight: this
    /// acceptor's direction has no handshake message.
    pub fn no_handshake(&mut self) {
        self.in_session = true;
    }

    /// Takes the next bytes of the direction.
    pub fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Lost => return,
                State::Prefix(prefix, have) => {
                    let n = (4 - *have).min(bytes.len());
                    prefix[*have..*have + n].copy_from_slice(&bytes[..n]);
                    *have += n;
                    bytes = &bytes[n..];
                    if *have == 4 {
                        let word = u32::from_be_bytes(*prefix) as usize;
                        self.begin(word);
                    }
                }
                State::Message(left) => {
                    let n = (*left).min(bytes.len());
                    self.body.extend_from_slice(&bytes[..n]);
                    *left -= n;
                    bytes = &bytes[n..];
                    if *left == 0 {
                        self.message();
                    }
                }
                State::Chunk(left) => {
                    let n = (*left).min(bytes.len());
                    *left -= n;
                    bytes = &bytes[n..];
                    if *left == 0 {
                        self.state = State::Prefix([0; 4], 0);
                    }
                }
            }
        }
    }

    /// A record's prefix came: `word`.
    fn begin(&mut self, word: usize) {
        if self.in_session {
            let data = word & 0x7fff_ffff;
            self.records.push(Record::Chunk(4 + data + self.tag));
            self.state = match data + self.tag {
                0 => State::Prefix([0; 4], 0),
                n => State::Chunk(n),
            };
        } else if word == 0 || word > MAX_HANDSHAKE_MSG {
            self.lose(format!("a handshake message of {word} bytes"));
        } else {
            self.body.clear();
            self.state = State::Message(word);
        }
    }

    /// A handshake message came whole: is it the direction's last?
    fn message(&mut self) {
        let enc: Bincode = Bincode;
        let msg = match enc.decode::<AuthMessage>(&self.body) {
            Ok(m) => m,
            Err(e) => return self.lose(format!("not a handshake message: {e}")),
        };
        // Named by its name: the known-key flight is a variant of its own.
        let last = match (self.side, &msg) {
            (Side::Dialler, AuthMessage::Ping(p)) => p.mode == AuthMode::NoAuth,
            (Side::Dialler, AuthMessage::PongFinal(_)) => true,
            (Side::Dialler, m) if m.name() == KNOWN_KEY_FLIGHT => {
                self.known_key = true;
                true
            }
            (Side::Acceptor, AuthMessage::Pong(_)) => true,
            (side, m) => return self.lose(format!("{} from the {side:?}", m.name())),
        };
        self.records
            .push(Record::Handshake(msg.name(), 4 + self.body.len()));
        self.in_session = last;
        self.state = State::Prefix([0; 4], 0);
    }

    fn lose(&mut self, why: String) {
        self.error.get_or_insert(why);
        self.state = State::Lost;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_cut_at_any_split() {
        // Straight into the session (as after a handshake).
        let mut wire = Vec::new();
        for (len, last) in [(5usize, false), (0, false), (3, true)] {
            let word = len as u32 | if last { 1 << 31 } else { 0 };
            wire.extend_from_slice(&word.to_be_bytes());
            wire.extend(std::iter::repeat_n(7u8, len + 16));
        }
        for split in 1..wire.len() {
            let mut c = Cutter::new(Side::Dialler, 16);
            c.in_session = true;
            c.push(&wire[..split]);
            c.push(&wire[split..]);
            assert_eq!(c.chunks(), vec![25, 20, 23], "split at {split}");
        }
    }
}
