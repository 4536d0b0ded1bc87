//! `may_blocking!` suspends an idle connection's services: after
//! `IDLE_AFTER` without traffic their coroutines end (no stack held), and
//! the connection still serves both ways (the socket's readiness restarts
//! the read service, the main loop's command the write service), closes
//! when its peer goes, and stops with its node; while suspended its
//! services hold no coroutine stack. Its own binary: the count
//! of may services is the process's.

use std::time::{Duration, Instant};

use mydht::PeerCount;
use mydht_base::service::spawn::{MayCoroutine, IDLE_AFTER};
use mydht_basetest::harness::conf::BLOCKING_IO_TIMEOUT;
use mydht_basetest::harness::nodes::{connect_star, start_nodes, stop_all, touch, wait_peers};
use mydht_basetest::touch_conf;
use mydht_tcp::MayTcpTransport;

touch_conf!(
    MayTcp,
    may_blocking,
    MayTcpTransport,
    Ok(MayTcpTransport::bind(([127, 0, 0, 1], 0).into())?
        .with_io_timeout(Some(BLOCKING_IO_TIMEOUT)))
);

const PEERS: usize = 3;
/// Read and write services on both sides of a connection.
const PER_CONNECTION: usize = 4;

/// Waits until the process's may services are `live`, all suspended:
/// each idle one is asked within `2 × IDLE_AFTER`.
fn wait_all_suspended(live: usize) {
    let now = settle(MayCoroutine::idle_services, |n| *n == (live, live));
    assert_eq!(now, (live, live), "(live, suspended) services");
}

/// Waits until no coroutine stack is mapped: a suspended service's
/// coroutine yields once more before it ends (`MayCoroutine`), and may
/// unmaps its stack only then.
fn wait_no_coroutine_stacks() {
    let stacks = settle(coroutine_stacks, |n| *n == 0);
    assert_eq!(stacks, 0, "coroutine stacks of suspended services");
}

/// Reads `read` until `done` holds of it, at most `10 × IDLE_AFTER`; the
/// last reading.
fn settle<T>(read: impl Fn() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + 10 * IDLE_AFTER;
    loop {
        let now = read();
        if done(&now) || Instant::now() >= deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The profile's coroutine stacks mapped in the process: read-write
/// anonymous areas of 128 KiB (`may_blocking!`'s default) right above a
/// 4 KiB guard page (`/proc/self/maps`).
fn coroutine_stacks() -> usize {
    const STACK: u64 = 128 * 1024;
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    let mut guard_end = None;
    let mut stacks = 0;
    for line in maps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some((start, end)) = fields[0].split_once('-') else {
            continue;
        };
        let start = u64::from_str_radix(start, 16).expect("address");
        let end = u64::from_str_radix(end, 16).expect("address");
        let anonymous = fields.len() == 5;
        if anonymous && fields[1] == "rw-p" && end - start == STACK && guard_end == Some(start) {
            stacks += 1;
        }
        guard_end = (anonymous && fields[1] == "---p" && end - start == 4096).then_some(end);
    }
    stacks
}

#[test]
fn idle_services_suspend_and_serve() {
    let hub = start_nodes(1, || MayTcp).expect("hub").remove(0);
    let mut peers = start_nodes(PEERS, || MayTcp).expect("peers");
    connect_star(&hub, &peers).expect("every peer connected");
    for peer in &peers {
        wait_peers(peer, PeerCount::AtLeast(1)).expect("the hub online");
    }
    wait_all_suspended(PEERS * PER_CONNECTION);
    // Their coroutines end: no stack stays mapped for them.
    wait_no_coroutine_stacks();

    // Suspended read services wake on the request, suspended write
    // services on the reply to write: two replies each way.
    for peer in &peers {
        assert_eq!(touch(peer, &hub).expect("touch the hub").len(), 2);
        assert_eq!(touch(&hub, peer).expect("touch a peer").len(), 2);
    }
    // The last touch's services ran a moment ago (a suspension takes at
    // least `IDLE_AFTER`): their stacks are there, and seen.
    assert!(coroutine_stacks() >= 1, "running services have stacks");
    wait_all_suspended(PEERS * PER_CONNECTION);
    // And again: a service restarted once suspends and restarts again.
    for peer in &peers {
        assert_eq!(touch(peer, &hub).expect("touch the hub").len(), 2);
    }

    // A peer that goes while its connection is suspended: the hub's read
    // service wakes on the end of stream and the hub drops the connection.
    wait_all_suspended(PEERS * PER_CONNECTION);
    let gone = peers.pop().expect("a peer");
    gone.stop().expect("stop a peer");
    wait_peers(&hub, PeerCount::AtMost(PEERS - 1)).expect("the hub saw the peer go");
    wait_all_suspended((PEERS - 1) * PER_CONNECTION);

    // Nodes stop with their services suspended: nothing of them is left.
    stop_all(peers).expect("stop the peers");
    hub.stop().expect("stop the hub");
    wait_all_suspended(0);
}
