//! The light, clonable tunnel views a read service holds: no cache, only
//! the layout and the hop's key.

use std::sync::Arc;

use super::hop::HopReader;
use super::layout::FrameLayout;
use super::writer::ReplyWriter;
use crate::config::TunnelConfig;
use crate::crypto::X25519Secret;
use crate::error::TunnelError;
use crate::header::HopKind;

/// Light view for tunnels without reply: makes [`HopReader`]s, tells which
/// ones it can carry on alone (relay, exit), never touches a stream in its
/// checks. Cheap to clone into every read service.
#[derive(Clone)]
pub struct TunnelNoRepReadProv {
    config: TunnelConfig,
    layout: FrameLayout,
    secret: Arc<X25519Secret>,
}

impl TunnelNoRepReadProv {
    /// A view for the hop holding `secret`.
    pub fn new(config: TunnelConfig, secret: Arc<X25519Secret>) -> Result<Self, TunnelError> {
        Ok(TunnelNoRepReadProv {
            layout: FrameLayout::new(&config)?,
            config,
            secret,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TunnelConfig {
        &self.config
    }

    /// The frame layout.
    pub fn layout(&self) -> &FrameLayout {
        &self.layout
    }

    /// A reader for the next onion arriving on a stream.
    pub fn new_reader(&self) -> HopReader {
        HopReader::new(self.layout, self.secret.clone())
    }

    /// True if `reader`, its header read, is a relay this view can pump to
    /// the next hop on its own.
    pub fn can_proxy(&self, reader: &HopReader) -> bool {
        reader.kind() == Some(HopKind::Relay)
    }

    /// True if `reader`, its header read, is the exit and its payload can be
    /// read here.
    pub fn can_read(&self, reader: &HopReader) -> bool {
        reader.kind() == Some(HopKind::Exit)
    }

    /// True if `reader` must go to the full tunnel object before its stream
    /// goes on (reply relay, reply to this node). Checks state only.
    pub fn needs_full(&self, reader: &HopReader) -> bool {
        reader.kind().is_some() && !reader.is_admitted()
    }
}

/// Light view for tunnels with reply: everything [`TunnelNoRepReadProv`]
/// does, plus making the exit's [`ReplyWriter`] (that needs no cache).
/// Reply relays and replies to this node still go to
/// [`FullTunnel::admit`](super::FullTunnel::admit).
#[derive(Clone)]
pub struct TunnelReadProv {
    inner: TunnelNoRepReadProv,
}

impl TunnelReadProv {
    /// A view for the hop holding `secret`.
    pub fn new(config: TunnelConfig, secret: Arc<X25519Secret>) -> Result<Self, TunnelError> {
        Ok(TunnelReadProv {
            inner: TunnelNoRepReadProv::new(config, secret)?,
        })
    }

    /// The view without reply handling.
    pub fn no_rep(&self) -> &TunnelNoRepReadProv {
        &self.inner
    }

    /// The configuration.
    pub fn config(&self) -> &TunnelConfig {
        self.inner.config()
    }

    /// The frame layout.
    pub fn layout(&self) -> &FrameLayout {
        self.inner.layout()
    }

    /// A reader for the next onion arriving on a stream.
    pub fn new_reader(&self) -> HopReader {
        self.inner.new_reader()
    }

    /// See [`TunnelNoRepReadProv::can_proxy`].
    pub fn can_proxy(&self, reader: &HopReader) -> bool {
        self.inner.can_proxy(reader)
    }

    /// See [`TunnelNoRepReadProv::can_read`].
    pub fn can_read(&self, reader: &HopReader) -> bool {
        self.inner.can_read(reader)
    }

    /// See [`TunnelNoRepReadProv::needs_full`].
    pub fn needs_full(&self, reader: &HopReader) -> bool {
        self.inner.needs_full(reader)
    }

    /// True if `reader` is an exit whose sender asked for a reply.
    pub fn can_reply(&self, reader: &HopReader) -> bool {
        reader.reply_block().is_some()
    }

    /// The writer of the reply to `reader`'s message (single use).
    pub fn reply_writer(&self, reader: &mut HopReader) -> Result<ReplyWriter, TunnelError> {
        reader.reply_writer()
    }
}
