//! A simulated network: many nodes — their [`NodeCore`](mydht::NodeCore)s,
//! each with a peer store, an api book and the application's global and
//! local services run inline — on one thread, over simulated connections,
//! with a simulated clock and seeded faults.
//!
//! [`Sim`] holds an event queue ordered by (simulated time, tie-break,
//! sequence number) and carries out every action of every core as the mio
//! driver would: a dial makes a connection whose other end is accepted a
//! latency later, handshake frames and messages travel each direction of a
//! connection in order, each after its own seeded latency ([`Latency`]),
//! closes reach the other end after what was sent before. [`Faults`] add
//! connections cut at random (in-flight data lost, both ends see the
//! connection end), and a shuffled order of events due at the same time;
//! [`Sim::partition_at`] splits the nodes in sides that cannot reach each
//! other until [`Sim::heal_at`]. Api calls ([`Sim::call_at`]) go through
//! the cores and a real [`ApiBook`](mydht::service::api::ApiBook); their
//! outcomes are kept in [`CallRecord`]s.
//!
//! Everything random comes from the seed of [`SimConfig`] ([`SimRng`]):
//! identities ([`mydht::Identity::from_seed`]), the cores' discovery ids,
//! the peer stores' query ids, latencies, faults. The same seed gives the
//! same run, event for event: [`EventLog`] hashes each event (time, node,
//! kind, connection, size — never a key or a random byte), and two runs
//! compare hashes. Handshakes are signed ([`mydht::AuthMode::Signed`]):
//! their random challenges and keys change run to run, but not the size
//! of a frame nor the outcome.
//!
//! The nodes run a configuration's application ([`SimApp`]): the touch
//! application of this crate by default ([`Sim::new`]), any configuration
//! over the in-memory transport with [`Sim::with_app`]. Its global service
//! and each open connection's local service, made through `init_global`
//! and `init_local`, are called inline ([`SimApp::global_at`],
//! [`SimApp::local_at`], given the simulated time); their replies go back
//! to the core in the same turn, as a driver's main loop takes them from
//! its channel. [`Sim::app_call_at`] asks a node's global service through
//! the api, [`Sim::stop_at`] stops a node as a crash.
//!
//! What it leaves out: bytes (messages are passed as values, their
//! encoded size computed for the log; the session shadow is not run; a
//! message followed by a stream is dropped where it arrives, counted in
//! [`SimStats::streams_dropped`]), peer
//! management (every peer is accepted), service restarts other than the
//! global service's, and the time a node takes to compute (handling an
//! event takes no simulated time).

mod actions;
mod app;
mod calls;
mod config;
mod conn;
mod events;
mod log;
mod network;
mod node;
mod queue;
mod rng;

pub use app::{Inline, NodeStart, SimApp};
pub use calls::{CallId, CallKind, CallOutcome, CallRecord};
pub use config::{Faults, Latency, SimConfig};
pub use log::{EventLog, LogEntry, LogKind};
pub use network::{Sim, SimStats};
pub use node::SimConf;
pub use rng::SimRng;
