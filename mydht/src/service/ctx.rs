//! [`ServiceCtx`]: what a connection service gets from the main loop.

use crate::command::MainLoopSender;
use crate::conf::MyDHTConf;

/// What the main loop gives each connection service it spawns.
pub struct ServiceCtx<C: MyDHTConf> {
    /// The encoder.
    pub enc: C::MsgEnc,
    /// The largest frame read or written.
    pub max_frame: usize,
    /// The way back to the main loop.
    pub to_loop: MainLoopSender<C>,
    /// Where the service logs.
    pub logger: slog::Logger,
}

impl<C: MyDHTConf> Clone for ServiceCtx<C> {
    fn clone(&self) -> Self {
        ServiceCtx {
            enc: self.enc.clone(),
            max_frame: self.max_frame,
            to_loop: self.to_loop.clone(),
            logger: self.logger.clone(),
        }
    }
}
