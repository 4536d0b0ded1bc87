//! How a mio `Poll` learns that an in-memory connection or listener changed.
//!
//! mio polls file descriptors, and an in-memory pipe has none. Each
//! registered endpoint therefore gets a doorbell: a Unix socket pair whose
//! first end is registered (readable and writable) under the endpoint's
//! token, and whose second end is written one byte by [`Readiness::ring`]
//! when the endpoint may make progress. Every ring is a new readiness event
//! carrying both `is_readable()` and `is_writable()`: the in-memory transport
//! does not tell the directions apart, so the node resumes both services and
//! the one with nothing to do gets `WouldBlock` again (a spurious wakeup,
//! which mio allows anyway).
//!
//! Rings are made only when a side is waiting (it got `WouldBlock`), when a
//! side closes, and once at registration, so the doorbell holds few bytes; it
//! is drained only when full, which keeps at least one byte in it and so the
//! readable flag on every event.

use std::io::{self, Read, Write};
use std::sync::{Mutex, MutexGuard};

use mio::net::UnixStream;
use mio::{Interest, Registry, Token};

/// The registered end and the ringing end of a doorbell.
#[derive(Debug)]
struct Doorbell {
    polled: UnixStream,
    ringer: UnixStream,
}

/// The readiness source of one endpoint (one side of a connection, or a
/// listener): nothing until registered with a poller.
#[derive(Debug, Default)]
pub(crate) struct Readiness {
    bell: Mutex<Option<Doorbell>>,
}

impl Readiness {
    fn bell(&self) -> MutexGuard<'_, Option<Doorbell>> {
        // A panic while holding this lock leaves the doorbell usable.
        self.bell.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new doorbell under `token` and rings it once, so data
    /// that arrived before the registration is not missed.
    pub(crate) fn register(&self, registry: &Registry, token: usize) -> io::Result<()> {
        let mut bell = self.bell();
        if bell.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "in-memory endpoint already registered",
            ));
        }
        let (mut polled, ringer) = UnixStream::pair()?;
        registry.register(
            &mut polled,
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let registered = bell.insert(Doorbell { polled, ringer });
        ring(registered);
        Ok(())
    }

    /// Removes the doorbell; later rings do nothing.
    pub(crate) fn deregister(&self, registry: &Registry) -> io::Result<()> {
        match self.bell().take() {
            Some(mut doorbell) => registry.deregister(&mut doorbell.polled),
            None => Ok(()),
        }
    }

    /// Closes the doorbell without a registry: closing its sockets removes
    /// them from the poller.
    pub(crate) fn close(&self) {
        self.bell().take();
    }

    /// Makes the poller report this endpoint (no-op when unregistered).
    pub(crate) fn ring(&self) {
        if let Some(doorbell) = self.bell().as_mut() {
            ring(doorbell);
        }
    }
}

fn ring(doorbell: &mut Doorbell) {
    match doorbell.ringer.write(&[1]) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            // Full: empty it, then ring again so the event still comes.
            let mut sink = [0u8; 4096];
            while matches!(doorbell.polled.read(&mut sink), Ok(n) if n > 0) {}
            // Errors here cannot be reported to anyone: the next ring retries.
            let _ = doorbell.ringer.write(&[1]);
        }
        // The socket pair is private to this endpoint: no other failure is
        // expected, and a lost ring is retried by the next one.
        Err(_) => {}
    }
}
