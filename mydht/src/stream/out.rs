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
    /// The source's reads never wait ([`PumpSource::never_waits`], or
    /// [`reads_never_wait`](OutStream::reads_never_wait)).
    pub(crate) never_waits: bool,
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

    /// True when a read never waits: it returns bytes, the end, or
    /// `WouldBlock` at once (a [`LentStream`](super::LentStream) on a
    /// non-blocking transport). Only such a source is pumped by a sender
    /// on its own thread (the main loop, say) while the write service's
    /// thread is idle; any other (a file, a pipe, a channel) is read by
    /// the write service's thread alone. False by default.
    fn never_waits(&self) -> bool {
        false
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
            never_waits: source.never_waits(),
            source: Box::new(source),
            layer: None,
            woken_by: None,
            on_end: None,
        }
    }

    /// The caller vouches that the source's reads never wait (bytes in
    /// memory, say): a sender may then pump it on its own thread
    /// ([`PumpSource::never_waits`]). A source that blocks would then
    /// block that sender: the main loop, under
    /// [`threaded!`](crate::threaded).
    pub fn reads_never_wait(mut self) -> Self {
        self.never_waits = true;
        self
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
    /// connections). On a send-once connection dialled known-key, `Ok`
    /// waits for the peer to confirm the flight as well (its sealed
    /// session end), and a refused flight is the error
    /// (`AuthError::KnownKeyRefused`). Called on the thread of the write
    /// service, of the node's main loop, or of whoever drops it: keep `f`
    /// short (send on a channel).
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

    /// Defers the end report of the stream still in the slot
    /// ([`OutStream::on_end`], if it has one) until the returned
    /// [`DeferredEnd`] is settled too: a stream sent behind a known-key
    /// flight is delivered only once the peer confirms the flight.
    pub(crate) fn defer_end(&self) -> Option<DeferredEnd> {
        let slot = self.0.as_ref()?;
        let mut stream = slot.lock().unwrap_or_else(PoisonError::into_inner);
        let stream = stream.as_mut()?;
        let end = DeferredEnd(Arc::new(Mutex::new(Deferred {
            report: Some(stream.on_end.take()?),
            written: false,
            confirmed: false,
        })));
        let written = end.clone();
        stream.on_end = Some(Box::new(move |r| written.written(r)));
        Some(end)
    }

    /// The connection whose readiness wakes the stream's pump, while the
    /// stream is still in the slot.
    pub fn wakes_on(&self) -> Option<ConnRef> {
        let slot = self.0.as_ref()?;
        let stream = slot.lock().unwrap_or_else(PoisonError::into_inner);
        stream.as_ref().and_then(OutStream::wakes_on)
    }
}

/// A stream's end report ([`OutStream::on_end`]) waiting for two
/// outcomes: its pump's (all written, or not), and its connection's
/// (`settle`: the peer confirmed what it got, or the connection failed).
/// The report is the first failure, or `Ok` once both are `Ok`; made once.
#[derive(Clone)]
pub(crate) struct DeferredEnd(Arc<Mutex<Deferred>>);

struct Deferred {
    report: Option<OnEnd>,
    /// The pump wrote all of the stream.
    written: bool,
    /// The peer confirmed what it got.
    confirmed: bool,
}

impl DeferredEnd {
    /// The pump's outcome.
    fn written(&self, result: Result<(), Error>) {
        self.outcome(result, |d| {
            d.written = true;
            d.confirmed
        });
    }

    /// The connection's outcome: `Ok` when the peer confirmed what it got.
    pub(crate) fn settle(&self, result: Result<(), Error>) {
        self.outcome(result, |d| {
            d.confirmed = true;
            d.written
        });
    }

    /// One outcome: a failure is reported at once; an `Ok` is marked
    /// (`mark` says whether the other one was `Ok` already), and reported
    /// once both are. The report is made outside the lock.
    fn outcome(&self, result: Result<(), Error>, mark: impl FnOnce(&mut Deferred) -> bool) {
        let report = {
            let mut d = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            let due = result.is_err() || mark(&mut d);
            if due {
                d.report.take()
            } else {
                None
            }
        };
        if let Some(f) = report {
            f(result);
        }
    }
}

impl Drop for Deferred {
    /// Neither outcome came (the connection's record was dropped first):
    /// the report still says the stream's end is not known to be good.
    fn drop(&mut self) {
        if let Some(f) = self.report.take() {
            f(Err(Error::new(
                ErrorKind::Other,
                ErrorLevel::ShutDown,
                "stream's connection gone before the peer confirmed it",
            )));
        }
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

#[cfg(test)]
mod tests {
    use std::sync::mpsc::{channel, Receiver};

    use super::*;

    /// A slot whose stream reports its end on the returned receiver, and
    /// the slot's deferred end.
    fn deferred() -> (StreamSlot, DeferredEnd, Receiver<Result<(), Error>>) {
        let (tx, rx) = channel();
        let stream = OutStream::new(std::io::empty()).on_end(move |r| tx.send(r).unwrap());
        let slot = StreamSlot::new(stream);
        let end = slot.defer_end().expect("a stream with a report");
        (slot, end, rx)
    }

    fn refused() -> Error {
        Error::new(ErrorKind::Auth, ErrorLevel::ShutDown, "refused")
    }

    #[test]
    fn a_written_stream_is_reported_once_its_connection_is_settled() {
        let (slot, end, rx) = deferred();
        slot.take().unwrap().ended(Ok(()));
        assert!(rx.try_recv().is_err(), "written, not confirmed yet");
        end.settle(Ok(()));
        assert!(rx.try_recv().unwrap().is_ok());
        // Settled first, written then.
        let (slot, end, rx) = deferred();
        end.settle(Ok(()));
        assert!(rx.try_recv().is_err(), "confirmed, not written yet");
        slot.take().unwrap().ended(Ok(()));
        assert!(rx.try_recv().unwrap().is_ok());
    }

    #[test]
    fn the_first_failure_is_reported_at_once_and_only_once() {
        // The connection refused after the pump wrote it all.
        let (slot, end, rx) = deferred();
        slot.take().unwrap().ended(Ok(()));
        end.settle(Err(refused()));
        assert_eq!(rx.try_recv().unwrap().unwrap_err().message(), "refused");
        // Refused while the pump still runs: reported then, not again.
        let (slot, end, rx) = deferred();
        end.settle(Err(refused()));
        assert_eq!(rx.try_recv().unwrap().unwrap_err().message(), "refused");
        slot.take().unwrap().ended(Ok(()));
        assert!(rx.try_recv().is_err());
        // The pump failed: reported at once, whatever the connection says.
        let (slot, end, rx) = deferred();
        drop(slot.take());
        assert_eq!(
            rx.try_recv().unwrap().unwrap_err().message(),
            "stream dropped before it was written"
        );
        end.settle(Ok(()));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_report_with_no_outcome_is_a_failure_when_dropped() {
        let (slot, end, rx) = deferred();
        slot.take().unwrap().ended(Ok(()));
        drop(end);
        let e = rx.try_recv().unwrap().unwrap_err();
        assert!(e.message().contains("before the peer confirmed"), "{e}");
    }

    #[test]
    fn a_stream_without_a_report_is_not_deferred() {
        let slot = StreamSlot::new(OutStream::new(std::io::empty()));
        assert!(slot.defer_end().is_none());
        assert!(StreamSlot::default().defer_end().is_none());
    }
}
