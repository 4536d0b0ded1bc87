//! What the known-key node tests share: inside a test's per-profile
//! module that defines `Conf(Identity, Captured)`, `Global` (`Default`) and
//! the types `Note`, `Ask` and `Answer`, `note_node_items!` adds the local
//! service (it hands every note to the global service) and the node's
//! `MyDHTConf` under the profile named.

/// The local service and `impl MyDHTConf for Conf` of a note node under
/// `$profile` (`restartable`, `threaded`, ...).
macro_rules! note_node_items {
    ($profile:ident) => {
        pub struct Local;

        impl Service for Local {
            type CommandIn = LocalCommand<Conf>;
            type CommandOut = Reply<Conf>;
            fn call<Y: SpawnerYield>(
                &mut self,
                cmd: LocalCommand<Conf>,
                _: &mut Y,
            ) -> Result<Reply<Conf>> {
                Ok(Reply::Global(cmd.from, cmd.msg))
            }
        }

        impl MyDHTConf for Conf {
            loopback_conf_items!();
            type ProtoMsg = Note;
            type GlobalCmd = Ask;
            type ApiReply = Answer;
            type GlobalService = Global;
            type LocalService = Local;
            mydht::$profile!();

            fn init_identity(&mut self) -> Result<Identity> {
                Ok(self.0.clone())
            }
            fn logger(&self) -> slog::Logger {
                self.1.logger()
            }
            fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<Global> {
                Ok(Global::default())
            }
            fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<Local> {
                Ok(Local)
            }
        }
    };
}
