//! The command line: clap's description of every command and option.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use mydht::PeerId;
use mydht_kvstore::Key;

use crate::args::{parse_addr, parse_key, parse_listen, parse_peer_id};

/// A MyDHT node, its key/value store, a local demo network and the
/// benchmarks.
#[derive(Debug, Parser)]
#[command(name = "mydht", version, about, max_term_width = 100)]
pub struct Cli {
    /// More log lines (-v: debug, -vv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs a node until Ctrl-C or SIGTERM: prints its id and address,
    /// keeps its identity and values in its data directory.
    Node(NodeArgs),
    /// Stores a value under a key through the DHT (a short-lived peer).
    Put(PutArgs),
    /// Finds a key's value through the DHT and prints it (a short-lived
    /// peer).
    Get(GetArgs),
    /// Sends a file through a tunnel of relays to a node, which saves it
    /// in its receive directory.
    Send(SendArgs),
    /// Starts a local network in this process and shows the DHT at work.
    Demo(DemoArgs),
    /// Runs the benchmarks, each against its baseline in the same run.
    Bench(BenchArgs),
}

/// `mydht node`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Where to listen, IP:PORT (port 0: any free port; the real address
    /// is printed).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// A node of the network to join, HOST:PORT (repeat for several).
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    pub bootstrap: Vec<SocketAddr>,
    /// Where the node keeps its identity and values (default: the user's
    /// data directory, `mydht` in it).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where the node's tunnel node listens, IP:PORT (default: the
    /// --listen IP, any free port).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub tunnel_listen: Option<SocketAddr>,
    /// Save the files sent to this node (`mydht send`) in DIR (without
    /// it, the node refuses files; it relays them either way).
    #[arg(long, value_name = "DIR")]
    pub receive_dir: Option<PathBuf>,
    /// The largest file the node takes, in MiB.
    #[arg(long, default_value_t = 4096, value_name = "MIB")]
    pub max_receive: u64,
}

/// `mydht send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The file to send.
    pub file: PathBuf,
    /// The receiver's peer id (64 hex digits, as `mydht node` prints it).
    #[arg(long, value_name = "PEER_ID", value_parser = parse_peer_id)]
    pub to: PeerId,
    /// Relays between this peer and the receiver.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(0..=32))]
    pub hops: u16,
    /// A node of the network, HOST:PORT.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    pub bootstrap: SocketAddr,
    /// Seconds to wait for the network at each step before the transfer.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub timeout: u64,
}

/// `mydht put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// The key: a name (its SHA-256 is the key) or 0x and 64 hex digits.
    #[arg(value_parser = parse_key)]
    pub key: Key,
    /// The value (or --file).
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub value: Option<String>,
    /// Read the value from this file.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// A node of the network, HOST:PORT.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    pub bootstrap: SocketAddr,
    /// Where the publishing identity is kept (values are signed with it:
    /// only it can replace them).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Seconds to wait for the network.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub timeout: u64,
}

/// `mydht get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The key: a name (its SHA-256 is the key) or 0x and 64 hex digits.
    #[arg(value_parser = parse_key)]
    pub key: Key,
    /// A node of the network, HOST:PORT.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    pub bootstrap: SocketAddr,
    /// Seconds to wait for the network.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub timeout: u64,
}

/// How the nodes of the demo and the benchmarks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// Every service on its own thread.
    Threaded,
    /// The whole node on one thread, services restarted on readiness.
    Restartable,
    /// The whole node on one thread, connections as coroutines.
    SingleThread,
}

impl Profile {
    /// The profile's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Threaded => "threaded",
            Profile::Restartable => "restartable",
            Profile::SingleThread => "single-thread",
        }
    }
}

/// `mydht demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Nodes in the network (at least 2).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(2..=512))]
    pub nodes: u16,
    /// Values stored, then found.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub values: u32,
    /// Relays of the tunnel a query goes through (at most nodes - 2).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(0..=128))]
    pub hops: u16,
    /// MiB of the file sent through a tunnel of 3 relays.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(0..=4096))]
    pub size: u32,
    /// How each node runs.
    #[arg(long, value_enum, default_value_t = Profile::Restartable)]
    pub profile: Profile,
    /// Print the summary as JSON on standard output, no progress bars.
    #[arg(long)]
    pub json: bool,
}

/// Which benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchWhich {
    /// A service's command dispatch against a raw std channel.
    Service,
    /// Two nodes over loopback TCP against raw TCP.
    Link,
    /// Lookups through a DHT of nodes against one direct round trip.
    Dht,
    /// A file through a tunnel of 3 relays against one raw TCP connection.
    Tunnel,
    /// All of them.
    All,
}

/// `mydht bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which benchmarks to run.
    #[arg(value_enum)]
    pub which: BenchWhich,
    /// Samples per figure (medians over them).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(3..=1000))]
    pub samples: u32,
    /// How the nodes run (dht and tunnel).
    #[arg(long, value_enum, default_value_t = Profile::Restartable)]
    pub profile: Profile,
    /// Print the table as JSON on standard output.
    #[arg(long)]
    pub json: bool,
}
