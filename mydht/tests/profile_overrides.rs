//! The profile overrides that name one side of the read/write pair
//! (`read:`, `write:`) and the coroutine stack (`stack:`), and the
//! spawners `threaded!` gives each service by default (the write service:
//! `ThreadPark` whose senders write in place while it is idle).

use std::any::type_name;

use mydht::MyDHTConf;
use mydht_base::CoRoutine;
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::touch_conf_items;
use mydht_tcp::TcpTransport;

macro_rules! conf {
    ($name:ident, $profile:ident($($over:tt)*)) => {
        struct $name;
        impl MyDHTConf for $name {
            touch_conf_items!($profile($($over)*), TcpTransport);
            fn init_transport(&mut self) -> mydht_base::Result<TcpTransport> {
                loopback()
            }
        }
    };
}

conf!(SingleDefault, single_thread());
conf!(SingleBigStack, single_thread(stack: 512 << 10;));
conf!(ThreadedDefault, threaded());
conf!(
    ThreadedMixed,
    threaded(read: RestartOrError; write: ThreadBlock, MpscChannel; local: ThreadPark, MpscChannel;)
);
conf!(ReadWrite, threaded(read_write: ThreadBlock, MpscChannel;));

fn name_of<T>(_: &T) -> &'static str {
    type_name::<T>()
}

#[test]
fn stack_sets_the_read_and_write_coroutines_stack() {
    let big = format!("{:?}", CoRoutine::with_stack_size(512 << 10));
    let default = format!("{:?}", CoRoutine::new());
    assert_ne!(big, default);
    let mut c = SingleBigStack;
    assert_eq!(format!("{:?}", c.read_spawner().expect("read")), big);
    assert_eq!(format!("{:?}", c.write_spawner().expect("write")), big);
    let mut c = SingleDefault;
    assert_eq!(format!("{:?}", c.read_spawner().expect("read")), default);
    assert_eq!(format!("{:?}", c.write_spawner().expect("write")), default);
}

#[test]
fn threaded_runs_read_on_thread_idle_local_inline_and_api_on_the_loop() {
    let mut c = ThreadedDefault;
    assert!(name_of(&c.read_spawner().expect("read")).ends_with("ThreadIdle"));
    let write = name_of(&c.write_spawner().expect("write"));
    assert!(write.contains("IdleInline<") && write.ends_with("ThreadPark>"));
    let channel = name_of(&c.write_channel());
    assert!(channel.contains("IdleInlineChannel<") && channel.ends_with("MpscChannel>"));
    assert!(name_of(&c.local_spawner().expect("local")).ends_with("Blocker"));
    assert!(name_of(&c.local_channel()).ends_with("MpscChannel"));
    // `InPlaceGlobal<ThreadPark>`, its default parameter.
    assert!(name_of(&c.global_spawner().expect("global")).ends_with("InPlaceGlobal"));
    let channel = name_of(&c.global_channel());
    assert!(channel.contains("IdleInlineChannel<") && channel.ends_with("MpscChannel>"));
    assert!(name_of(&c.api_spawner().expect("api")).ends_with("RestartOrError"));
    assert!(name_of(&c.api_channel()).ends_with("LocalRcChannel"));
    assert!(name_of(&c.peer_store_spawner().expect("store")).ends_with("ThreadPark"));
    assert!(name_of(&c.peer_mgmt_spawner().expect("mgmt")).ends_with("ThreadPark"));
}

#[test]
fn read_and_write_overrides_set_one_side_each() {
    let mut c = ThreadedMixed;
    assert!(name_of(&c.read_spawner().expect("read")).ends_with("RestartOrError"));
    assert!(name_of(&c.write_spawner().expect("write")).ends_with("ThreadBlock"));
    assert!(name_of(&c.write_channel()).ends_with("MpscChannel"));
    assert!(name_of(&c.local_spawner().expect("local")).ends_with("ThreadPark"));
    let mut c = ReadWrite;
    assert!(name_of(&c.read_spawner().expect("read")).ends_with("ThreadBlock"));
    assert!(name_of(&c.write_spawner().expect("write")).ends_with("ThreadBlock"));
    assert!(name_of(&c.write_channel()).ends_with("MpscChannel"));
}
