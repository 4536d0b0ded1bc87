//! [`DhtLocal`]: the service of one connection, which hands what its peer
//! sends to the node's [`DhtGlobal`](crate::dht::DhtGlobal).

use std::fmt;
use std::marker::PhantomData;

use mydht::conf::MyDHTConf;
use mydht::service::{LocalCommand, Reply};
use mydht_base::{Result, Service, SpawnerYield};

use crate::dht::msg::DhtMsg;

/// Forwards each message of its peer to the global service
/// ([`Reply::Global`]): the query engine and the store are the node's,
/// shared by all connections.
pub struct DhtLocal<C>(PhantomData<fn() -> C>);

impl<C> DhtLocal<C> {
    /// The service of one connection.
    pub fn new() -> Self {
        DhtLocal(PhantomData)
    }
}

impl<C> Default for DhtLocal<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C> fmt::Debug for DhtLocal<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DhtLocal")
    }
}

impl<C: MyDHTConf<ProtoMsg = DhtMsg>> Service for DhtLocal<C> {
    type CommandIn = LocalCommand<C>;
    type CommandOut = Reply<C>;

    fn call<Y: SpawnerYield>(&mut self, cmd: LocalCommand<C>, _: &mut Y) -> Result<Reply<C>> {
        Ok(Reply::Global(cmd.from, cmd.msg))
    }
}
