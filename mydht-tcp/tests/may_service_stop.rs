//! A service run by `MayCoroutine` that waits in a `MayTcpTransport` stream
//! ends when its owner stops it: the stop wakes the wait, no I/O timeout
//! needed (a node stops its connections' read services so).
#![cfg(feature = "may")]

use std::io::Read;
use std::sync::mpsc;
use std::time::Duration;

use mydht_base::service::channel::NoRecv;
use mydht_base::service::spawn::MayCoroutine;
use mydht_base::{
    NoSend, ReadYield, Result, Service, SpawnHandle, Spawner, SpawnerYield, Transport,
};
use mydht_tcp::{MayTcpReadStream, MayTcpTransport};

/// Reads one byte per command, yielding while the stream has none.
struct ReadByte(MayTcpReadStream);

impl Service for ReadByte {
    type CommandIn = ();
    type CommandOut = u8;

    fn call<Y: SpawnerYield>(&mut self, _: (), yld: &mut Y) -> Result<u8> {
        let mut byte = [0u8; 1];
        ReadYield::new(&mut self.0, yld).read_exact(&mut byte)?;
        Ok(byte[0])
    }
}

#[test]
fn a_stop_wakes_a_service_waiting_in_its_stream() {
    // No I/O timeout: nothing but the stop can end the wait.
    let transport = MayTcpTransport::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let connected = transport
        .connect_with(&transport.local_address().unwrap())
        .unwrap();
    let accepted = transport.accept().unwrap().unwrap();
    // SAFETY: the service keeps no thread-local state across a yield.
    let mut spawner = unsafe { MayCoroutine::with_stack_size(64 * 1024) };
    let handle = spawner
        .spawn(ReadByte(accepted.read), NoSend, Some(()), NoRecv, 0)
        .unwrap();
    let (stopped, stop_ended) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = stopped.send(handle.unwrap_state());
    });
    let (service, _, _, _) = stop_ended
        .recv_timeout(Duration::from_secs(10))
        .expect("the stop ended the service's wait")
        .expect("the service's state is back");
    // The stream is whole: what the peer sends next is read.
    let mut write = connected.write;
    std::io::Write::write_all(&mut write, b"x").unwrap();
    let mut stream = service.0;
    let mut byte = [0u8; 1];
    stream.read_exact(&mut byte).unwrap();
    assert_eq!(&byte, b"x");
}
