//! [`OutStream`]: what a write service pumps after a message's frame.

use std::io::Read;
use std::sync::{Arc, Mutex, PoisonError};

use mydht_base::{Error, ErrorKind, ErrorLevel, SpawnerYield, YieldReturn};
use readwrite_comp::ExtWrite;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::command::ConnRef;

/// The raw bytes that follow a message on its connection: a source, read
/// to its end, and an optional writer layer they pass through.
///
/// ```
/// use mydht::stream::OutStream;
///
/// let attachment = OutStream::new(std::io::Cursor::new(vec![7u8; 1 << 20]));
/// assert!(attachment.wakes_on().is_none());
/// ```
pub struct OutStream {
    pub(crate) source: Box<dyn PumpSource>,
    pub(crate) layer: Option<Box<dyn ExtWrite + Send>>,
    pub(crate) woken_by: Option<ConnRef>,
    on_end: Option<OnEnd>,
}

/// What a write service pumps ([`OutStream::pumping`]): bytes, and how
/// the pump waits when none are there.
pub trait PumpSource: Read + Send {
    /// A read returned `WouldBlock`: suspends the pump through `yld` until
    /// the source may be read again (as
    /// [`SpawnerYield::spawn_yield`] does). By default it is that yield:
    /// the node's poller wakes the pump ([`OutStream::woken_by`]). A
    /// [`LentStream`](super::LentStream) waits in its socket
    /// ([`SpawnerYield::spawn_yield_read`]) when the pump's spawner can.
    fn wait_readable(&mut self, yld: &mut dyn SpawnerYield) -> YieldReturn {
        yld.spawn_yield()
    }
}

/// Any reader as a [`PumpSource`] woken by the poller.
struct AnySource<R>(R);

impl<R: Read> Read for AnySource<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read + Send> PumpSource for AnySource<R> {}

/// What [`OutStream::on_end`] calls.
type OnEnd = Box<dyn FnOnce(Result<(), Error>) + Send>;

impl OutStream {
    /// The bytes of `source`, to its end (`Ok(0)`). A source error ends the
    /// connection: the peer reads a cut stream.
    pub fn new(source: impl Read + Send + 'static) -> Self {
        Self::pumping(AnySource(source))
    }

    /// The bytes of `source`, to its end, as [`new`](Self::new); when a
    /// read of it would block, the pump waits through
    /// [`PumpSource::wait_readable`] (a relay's source: in the socket of
    /// the [`LentStream`](super::LentStream) it reads).
    pub fn pumping(source: impl PumpSource + 'static) -> Self {
        OutStream {
            source: Box::new(source),
            layer: None,
            woken_by: None,
            on_end: None,
        }
    }

    /// Writes the bytes through `layer`: its header first, then each
    /// buffer, then its end, into the connection's shadow.
    pub fn through(mut self, layer: impl ExtWrite + Send + 'static) -> Self {
        self.layer = Some(Box::new(layer));
        self
    }

    /// The source reads the [`LentStream`](super::LentStream) of `conn`:
    /// that connection's readiness wakes the write service pumping it.
    pub fn woken_by(mut self, conn: ConnRef) -> Self {
        self.woken_by = Some(conn);
        self
    }

    /// The connection whose readiness wakes the pump, if any.
    pub fn wakes_on(&self) -> Option<ConnRef> {
        self.woken_by
    }

    /// Calls `f` once the stream ended: `Ok` when all of it was written
    /// into its connection (its end included), the error otherwise (its
    /// source or its connection failed, or it was dropped unwritten: the
    /// dial failed, the connection closed first, too many send-once
    /// connections). Called on the thread of the write service, or of
    /// whoever drops it: keep `f` short (send on a channel).
    pub fn on_end(mut self, f: impl FnOnce(Result<(), Error>) + Send + 'static) -> Self {
        self.on_end = Some(Box::new(f));
        self
    }

    /// Reports how the stream ended to its [`on_end`](Self::on_end).
    pub(crate) fn ended(&mut self, result: Result<(), Error>) {
        if let Some(f) = self.on_end.take() {
            f(result);
        }
    }
}

impl Drop for OutStream {
    fn drop(&mut self) {
        self.ended(Err(Error::new(
            ErrorKind::Other,
            ErrorLevel::ShutDown,
            "stream dropped before it was written",
        )));
    }
}

impl std::fmt::Debug for OutStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutStream")
            .field("layer", &self.layer.is_some())
            .field("woken_by", &self.woken_by)
            .finish()
    }
}

/// The stream a queued message carries to its write service: taken once,
/// by the write service that writes the message. It is not part of the
/// message on the wire (it serializes as nothing and decodes empty), and a
/// copy of the message shares it (only the first writer pumps it).
#[derive(Clone, Default)]
pub struct StreamSlot(Option<Arc<Mutex<Option<OutStream>>>>);

impl StreamSlot {
    /// A slot holding `stream`.
    pub fn new(stream: OutStream) -> Self {
        StreamSlot(Some(Arc::new(Mutex::new(Some(stream)))))
    }

    /// Takes the stream, once.
    pub fn take(&self) -> Option<OutStream> {
        let slot = self.0.as_ref()?;
        slot.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// The connection whose readiness wakes the stream's pump, while the
    /// stream is still in the slot.
    pub fn wakes_on(&self) -> Option<ConnRef> {
        let slot = self.0.as_ref()?;
        let stream = slot.lock().unwrap_or_else(PoisonError::into_inner);
        stream.as_ref().and_then(OutStream::wakes_on)
    }
}

impl std::fmt::Debug for StreamSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "StreamSlot(stream)"
        } else {
            "StreamSlot(empty)"
        })
    }
}

impl Serialize for StreamSlot {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}

impl<'de> Deserialize<'de> for StreamSlot {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <()>::deserialize(d)?;
        Ok(StreamSlot::default())
    }
}
