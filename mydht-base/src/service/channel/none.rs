//! [`NoChannel`]: a service without input, and [`NoSend`]: a destination
//! that drops results.

use super::closed;
use crate::error::Result;
use crate::service::{SpawnChannel, SpawnRecv, SpawnSend, TrySendError};
use crate::sref::{SRef, SToRef};

/// The channel of a service that only ever runs its first command: its
/// receiver is closed from the start, so the service loop ends after the
/// first command.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoChannel;

/// The sender of a [`NoChannel`]: every command is refused as
/// `ErrorKind::ChannelClosed`, so nothing is lost silently.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoInput;

/// The receiver of a [`NoChannel`]: always closed.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRecv;

/// A destination for services whose results nobody needs: `send` drops them.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSend;

impl<C> SpawnChannel<C> for NoChannel {
    type WeakSend = NoInput;
    type Send = NoInput;
    type Recv = NoRecv;

    fn new_channel(&mut self) -> Result<(NoInput, NoRecv)> {
        Ok((NoInput, NoRecv))
    }

    fn get_weak_send(_: &NoInput) -> Option<NoInput> {
        None
    }
}

impl<C> SpawnSend<C> for NoInput {
    fn send(&mut self, _: C) -> Result<()> {
        Err(closed())
    }

    fn try_send(&mut self, cmd: C) -> std::result::Result<(), TrySendError<C>> {
        Err(TrySendError::Closed(cmd))
    }
}

impl<C> SpawnRecv<C> for NoRecv {
    fn recv(&mut self) -> Result<Option<C>> {
        Err(closed())
    }
}

impl<C> SpawnSend<C> for NoSend {
    fn send(&mut self, _: C) -> Result<()> {
        Ok(())
    }

    fn try_send(&mut self, _: C) -> std::result::Result<(), TrySendError<C>> {
        Ok(())
    }
}

// Stateless: they cross threads as they are.
macro_rules! sref_identity {
    ($($t:ty),*) => {$(
        impl SRef for $t {
            type Send = Self;
            fn get_sendable(self) -> Self {
                self
            }
        }
        impl SToRef<$t> for $t {
            fn to_ref(self) -> Self {
                self
            }
        }
    )*};
}
sref_identity!(NoRecv, NoSend);
