//! [`Dht`]: the application's handle on a DHT node — `put` and `get`,
//! blocking or as futures.

use std::time::Duration;

use mydht::conf::MyDHTConf;
use mydht::service::kvstore::QueryConf;
use mydht::{NodeHandle, PeerInfo};
use mydht_base::{Error, ErrorKind, ErrorLevel};

use crate::dht::conf::DhtConf;
use crate::dht::error::DhtError;
use crate::dht::future::{block_on, DhtFuture};
use crate::dht::msg::{DhtCmd, DhtReply};
use crate::dht::stats::DhtStats;
use crate::key::Key;
use crate::value::SignedValue;

/// The handle on a running DHT node. Values are signed with the node's
/// identity; what `get` returns has been verified. Clones share the node,
/// which stops with [`stop`](Dht::stop) or when the last clone is dropped.
///
/// ```
/// use std::time::Duration;
/// use mydht_kvstore::dht::{Dht, DhtConf, DhtError};
/// use mydht_kvstore::Key;
///
/// let t = Duration::from_secs(5);
/// let a = Dht::start(DhtConf::generate()?)?;
/// let b = Dht::start(DhtConf::generate()?)?;
/// let address = b.local_peer().get_address().parse().unwrap();
/// a.node().connect(address, t)?;
/// let key = Key::hash_of(b"greeting");
/// a.put(key, b"hello".to_vec(), t)?;
/// assert_eq!(b.get(key, t)?.value(), b"hello");
/// assert!(matches!(b.get(Key::hash_of(b"nothing"), t), Err(DhtError::NotFound)));
/// # use mydht_base::Peer;
/// # a.stop()?; b.stop()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Dht<C: MyDHTConf = DhtConf> {
    node: NodeHandle<C>,
    query: QueryConf,
    ttl: Duration,
    /// The period at which the node's loop ticks its engine, when it does.
    tick: Option<Duration>,
}

impl<C: MyDHTConf> Clone for Dht<C> {
    fn clone(&self) -> Self {
        Dht {
            node: self.node.clone(),
            query: self.query,
            ttl: self.ttl,
            tick: self.tick,
        }
    }
}

impl Dht<DhtConf> {
    /// Starts a node of configuration `conf` (its main loop on a thread of
    /// its own).
    ///
    /// Unless [`DhtSettings::tick`](crate::dht::DhtSettings::tick) is
    /// zero, the node's loop ticks its engine at that period (so that the
    /// queries it proxies or collects for peers end on time).
    pub fn start(conf: DhtConf) -> Result<Self, DhtError> {
        let (query, ttl, tick) = (conf.settings.query, conf.settings.ttl, conf.settings.tick);
        let node = mydht::start_loop(conf)?;
        let dht = Dht::from_node(node, query, ttl);
        Ok(if tick.is_zero() {
            dht
        } else {
            dht.ticked_every(tick)
        })
    }
}

impl<C> Dht<C>
where
    C: MyDHTConf<GlobalCmd = DhtCmd, ApiReply = DhtReply>,
{
    /// The handle of a node already started, whose `put`s and `get`s
    /// travel as `query` and whose values live `ttl`.
    pub fn from_node(node: NodeHandle<C>, query: QueryConf, ttl: Duration) -> Self {
        Dht {
            node,
            query,
            ttl,
            tick: None,
        }
    }

    /// This handle, told that its node's loop ticks the engine every
    /// `period` (a [`DhtConf`] with a non-zero
    /// [`DhtSettings::tick`](crate::dht::DhtSettings::tick) does, started
    /// or driven): its calls then send no timer query of their own.
    pub fn ticked_every(mut self, period: Duration) -> Self {
        self.tick = Some(period);
        self
    }

    /// `conf` with a timeout that ends before the call's, and the deadline
    /// at which the call's future ticks the node: none when the node's
    /// loop's tick ends the query soon enough anyway (its period at most a
    /// fifth of the timeout), which spares a timer query per call.
    fn engine_conf(&self, mut conf: QueryConf, timeout: Duration) -> (QueryConf, Option<Duration>) {
        conf.timeout = conf.timeout.min(timeout - timeout / 5);
        let ticked = self.tick.is_some_and(|t| t <= timeout / 5);
        (conf, (!ticked).then_some(conf.timeout))
    }

    /// The node's own handle: connect, peers, stop.
    pub fn node(&self) -> &NodeHandle<C> {
        &self.node
    }

    /// This node's peer.
    pub fn local_peer(&self) -> &PeerInfo {
        self.node.local_peer()
    }

    /// How `put` and `get` travel.
    pub fn query_conf(&self) -> QueryConf {
        self.query
    }

    /// Signs `value` under `key` and stores it here and on the peers the
    /// default query reaches; how many peers stored it (0 when none was
    /// reached: the local copy is kept; a query of 0 hops, local only,
    /// counts the local copy: 1).
    pub fn put(&self, key: Key, value: Vec<u8>, timeout: Duration) -> Result<u32, DhtError> {
        self.put_with(key, value, self.query, timeout)
    }

    /// [`put`](Self::put) travelling as `conf` (its timeout capped at
    /// four fifths of `timeout`).
    pub fn put_with(
        &self,
        key: Key,
        value: Vec<u8>,
        conf: QueryConf,
        timeout: Duration,
    ) -> Result<u32, DhtError> {
        let ttl = self.ttl;
        let (conf, deadline) = self.engine_conf(conf, timeout);
        let cmd = DhtCmd::Put {
            key,
            value,
            ttl,
            conf,
        };
        let fut = DhtFuture::start(&self.node, cmd, timeout, deadline, stored)?;
        block_on(fut, timeout + GRACE)
    }

    /// Stores a value signed elsewhere (republishing it) as `conf` says.
    pub fn put_signed(
        &self,
        value: SignedValue,
        conf: QueryConf,
        timeout: Duration,
    ) -> Result<u32, DhtError> {
        let (conf, deadline) = self.engine_conf(conf, timeout);
        let cmd = DhtCmd::PutSigned(value, conf);
        let fut = DhtFuture::start(&self.node, cmd, timeout, deadline, stored)?;
        block_on(fut, timeout + GRACE)
    }

    /// The value of `key`, verified: the newest version found.
    /// [`DhtError::NotFound`] when the query ends without one.
    pub fn get(&self, key: Key, timeout: Duration) -> Result<SignedValue, DhtError> {
        block_on(self.get_future(key, timeout)?, timeout + GRACE)
    }

    /// [`get`](Self::get) as a `Future` (for a thread that drives the
    /// node's loop, or any executor).
    pub fn get_future(
        &self,
        key: Key,
        timeout: Duration,
    ) -> Result<DhtFuture<C, SignedValue>, DhtError> {
        let (conf, deadline) = self.engine_conf(self.query, timeout);
        DhtFuture::start(
            &self.node,
            DhtCmd::Get(key, conf),
            timeout,
            deadline,
            newest,
        )
    }

    /// Every verified copy of `key`'s value the query travelling as
    /// `conf` found (up to `conf.nb_result`); [`DhtError::NotFound`] when
    /// none.
    pub fn get_with(
        &self,
        key: Key,
        conf: QueryConf,
        timeout: Duration,
    ) -> Result<Vec<SignedValue>, DhtError> {
        block_on(self.get_with_future(key, conf, timeout)?, timeout + GRACE)
    }

    /// [`get_with`](Self::get_with) as a `Future`.
    pub fn get_with_future(
        &self,
        key: Key,
        conf: QueryConf,
        timeout: Duration,
    ) -> Result<DhtFuture<C, Vec<SignedValue>>, DhtError> {
        let (conf, deadline) = self.engine_conf(conf, timeout);
        DhtFuture::start(
            &self.node,
            DhtCmd::Get(key, conf),
            timeout,
            deadline,
            all_found,
        )
    }

    /// The node's DHT counters.
    pub fn stats(&self, timeout: Duration) -> Result<DhtStats, DhtError> {
        let fut = DhtFuture::start(&self.node, DhtCmd::Stats, timeout, None, stats)?;
        block_on(fut, timeout + GRACE)
    }

    /// Runs a republishing step now (the one the node's tick runs): the
    /// values due — or every value held, with `all` — placed again on the
    /// peers closest to their keys. Answers, once those placements have
    /// ended, how many values were placed again and how many peers took
    /// them.
    pub fn republish(&self, all: bool, timeout: Duration) -> Result<(u32, u32), DhtError> {
        let fut = DhtFuture::start(
            &self.node,
            DhtCmd::Republish { all },
            timeout,
            None,
            republished,
        )?;
        block_on(fut, timeout + GRACE)
    }

    /// An iterative lookup of the node's own id, dialling the peers it
    /// learns of (with [`LookupMode::Iterative`](crate::dht::LookupMode));
    /// how many of the closest peers answered.
    pub fn bootstrap(&self, timeout: Duration) -> Result<u32, DhtError> {
        let fut = DhtFuture::start(&self.node, DhtCmd::Bootstrap, timeout, None, bootstrapped)?;
        block_on(fut, timeout + GRACE)
    }

    /// Stops the node.
    pub fn stop(self) -> Result<(), DhtError> {
        Ok(self.node.stop()?)
    }
}

/// How long a blocking call waits past its timeout for the node's own
/// expiry of the call.
const GRACE: Duration = Duration::from_millis(500);

fn unexpected(reply: DhtReply) -> DhtError {
    DhtError::Failed(Error::new(
        ErrorKind::Decode,
        ErrorLevel::Ignore,
        format!("unexpected reply {reply:?}"),
    ))
}

fn stored(reply: DhtReply) -> Result<u32, DhtError> {
    match reply {
        DhtReply::Stored(n) => Ok(n),
        DhtReply::Refused(r) => Err(DhtError::Refused(r)),
        DhtReply::Failed(e) => Err(DhtError::Failed(e)),
        other => Err(unexpected(other)),
    }
}

fn all_found(reply: DhtReply) -> Result<Vec<SignedValue>, DhtError> {
    match reply {
        DhtReply::Found(v) if v.is_empty() => Err(DhtError::NotFound),
        DhtReply::Found(v) => Ok(v),
        DhtReply::Refused(r) => Err(DhtError::Refused(r)),
        DhtReply::Failed(e) => Err(DhtError::Failed(e)),
        other => Err(unexpected(other)),
    }
}

fn newest(reply: DhtReply) -> Result<SignedValue, DhtError> {
    all_found(reply)?
        .into_iter()
        .max_by_key(|v| (v.version(), v.expires_at()))
        .ok_or(DhtError::NotFound)
}

fn republished(reply: DhtReply) -> Result<(u32, u32), DhtError> {
    match reply {
        DhtReply::Republished { values, placements } => Ok((values, placements)),
        other => Err(unexpected(other)),
    }
}

fn bootstrapped(reply: DhtReply) -> Result<u32, DhtError> {
    match reply {
        DhtReply::Bootstrapped(n) => Ok(n),
        DhtReply::Failed(e) => Err(DhtError::Failed(e)),
        other => Err(unexpected(other)),
    }
}

fn stats(reply: DhtReply) -> Result<DhtStats, DhtError> {
    match reply {
        DhtReply::Stats(s) => Ok(s),
        other => Err(unexpected(other)),
    }
}
