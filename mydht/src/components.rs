//! [`default_components!`](crate::default_components): the component items
//! most configurations share, written once.

/// Writes the component items of a [`MyDHTConf`](crate::MyDHTConf) that
/// most nodes share: polled TCP (`mydht::tcp::TcpTransport`), the
/// [`Bincode`](crate::Bincode) encoder and the default
/// [`SessionShadow`](crate::SessionShadow) (ChaCha20-Poly1305), with their
/// `init_msg_enc` and `init_shadow`. The configuration then names only
/// its application (message, command, reply, services), its profile and
/// where it listens:
///
/// - `default_components!()` leaves `init_transport` to the configuration
///   (`TcpTransport::bind(address)`);
/// - `default_components!(loopback)` writes it too, on `127.0.0.1` with a
///   port the system picks: for examples and tests.
///
/// Any item can still be written by hand instead (a macro writes nothing a
/// configuration could not).
///
/// ```
/// use mydht::prelude::*;
///
/// struct Node;
///
/// struct Global;
/// impl Service for Global {
///     type CommandIn = GlobalCommand<Node>;
///     type CommandOut = Reply<Node>;
///     fn call<Y: SpawnerYield>(&mut self, cmd: GlobalCommand<Node>, _: &mut Y) -> Result<Reply<Node>> {
///         Ok(match cmd {
///             GlobalCommand::Api(qid, ()) => Reply::Api(qid, ()),
///             _ => Reply::None,
///         })
///     }
/// }
///
/// struct Local;
/// impl Service for Local {
///     type CommandIn = LocalCommand<Node>;
///     type CommandOut = Reply<Node>;
///     fn call<Y: SpawnerYield>(&mut self, _: LocalCommand<Node>, _: &mut Y) -> Result<Reply<Node>> {
///         Ok(Reply::None)
///     }
/// }
///
/// impl MyDHTConf for Node {
///     mydht::default_components!(loopback);
///     type ProtoMsg = ();
///     type GlobalCmd = ();
///     type ApiReply = ();
///     type GlobalService = Global;
///     type LocalService = Local;
///     mydht::restartable!();
///
///     fn init_global(&mut self, _: &PeerInfo, _: &PeersView) -> Result<Global> {
///         Ok(Global)
///     }
///     fn init_local(&mut self, _: &PeerInfo, _: &PeerInfo, _: &PeersView) -> Result<Local> {
///         Ok(Local)
///     }
/// }
///
/// let node = start_loop(Node)?;
/// assert_eq!(node.query((), 1, std::time::Duration::from_secs(5))?, vec![()]);
/// node.stop()?;
/// # Ok::<(), Error>(())
/// ```
#[macro_export]
macro_rules! default_components {
    () => {
        type Transport = $crate::tcp::TcpTransport;
        type MsgEnc = $crate::Bincode;
        type Shadow = $crate::SessionShadow;

        fn init_msg_enc(&mut self) -> Self::MsgEnc {
            $crate::Bincode
        }
        fn init_shadow(&mut self) -> Self::Shadow {
            $crate::SessionShadow::default()
        }
    };
    (loopback) => {
        $crate::default_components!();

        fn init_transport(&mut self) -> $crate::prelude::Result<Self::Transport> {
            $crate::tcp::TcpTransport::bind(::std::net::SocketAddr::from((
                ::std::net::Ipv4Addr::LOCALHOST,
                0,
            )))
        }
    };
}
