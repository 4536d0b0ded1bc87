//! A sender on the main loop's own thread never waits on a full loop
//! channel, even in a configuration that says its services run on threads
//! (a mix): it would wait for itself, forever. It gets `ChannelFull`.

use mydht::command::MainLoopCommand;
use mydht::MainLoop;
use mydht::{MyDHTConf, NodeConstants};
use mydht_base::{ErrorKind, Result};
use mydht_basetest::harness::conf::loopback;
use mydht_basetest::touch_conf_items;
use mydht_tcp::TcpTransport;

/// `restartable!` (every service inline on the loop's thread) that claims
/// its services run on threads, with a one-command loop channel.
struct InlineOnThreads;

impl MyDHTConf for InlineOnThreads {
    touch_conf_items!(restartable(on_threads: true;), TcpTransport);

    fn init_transport(&mut self) -> Result<TcpTransport> {
        loopback()
    }
    fn constants(&self) -> NodeConstants {
        NodeConstants {
            mainloop_channel: 1,
            ..NodeConstants::default()
        }
    }
}

#[test]
fn a_full_loop_channel_is_an_error_on_the_loops_own_thread_not_a_wait() {
    // Built here: this thread is the loop's (it is never turned).
    let main_loop = MainLoop::new(InlineOnThreads).expect("node");
    let mut sender = main_loop.sender();
    sender
        .send_cmd(MainLoopCommand::Stop)
        .expect("room for one");
    let full = sender
        .send_cmd(MainLoopCommand::Stop)
        .expect_err("the channel is full");
    assert_eq!(full.kind(), ErrorKind::ChannelFull);
}
