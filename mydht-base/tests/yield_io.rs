//! `ReadYield`/`WriteYield`: a `WouldBlock` stream yields the service; a
//! `Loop` yield retries, a `Return` yield hands `WouldBlock` back so that a
//! restartable service can save its progress and be resumed.

use std::io::{self, Read, Write};

use mydht_base::{Error, ReadYield, SpawnerYield, WriteYield, YieldReturn};

/// A non-blocking stream that is not ready for its first `blocks` calls,
/// then reads from `data` / writes into `written` at most `chunk` bytes at a
/// time.
struct MockStream {
    blocks: usize,
    interrupts: usize,
    calls: usize,
    data: Vec<u8>,
    chunk: usize,
    written: Vec<u8>,
    flushed: bool,
}

impl MockStream {
    fn new(blocks: usize, data: &[u8]) -> Self {
        MockStream {
            blocks,
            interrupts: 0,
            calls: 0,
            data: data.to_vec(),
            chunk: usize::MAX,
            written: Vec::new(),
            flushed: false,
        }
    }

    /// Counts a call and fails it while the stream is not ready.
    fn ready(&mut self) -> io::Result<()> {
        self.calls += 1;
        if self.interrupts > 0 {
            self.interrupts -= 1;
            return Err(io::ErrorKind::Interrupted.into());
        }
        if self.blocks > 0 {
            self.blocks -= 1;
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(())
    }
}

impl Read for MockStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.ready()?;
        let n = buf.len().min(self.data.len()).min(self.chunk);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data.drain(..n);
        Ok(n)
    }
}

impl Write for MockStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.ready()?;
        let n = buf.len().min(self.chunk);
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.ready()?;
        self.flushed = true;
        Ok(())
    }
}

/// A yield that answers `answer` and counts its calls.
struct CountingYield {
    answer: YieldReturn,
    calls: usize,
}

impl CountingYield {
    fn new(answer: YieldReturn) -> Self {
        CountingYield { answer, calls: 0 }
    }
}

impl SpawnerYield for CountingYield {
    fn spawn_yield(&mut self) -> YieldReturn {
        self.calls += 1;
        self.answer
    }
}

#[test]
fn read_with_loop_yield_retries_until_ready() {
    let mut stream = MockStream::new(3, b"hello");
    let mut yld = CountingYield::new(YieldReturn::Loop);
    let mut buf = [0u8; 8];
    let n = ReadYield::new(&mut stream, &mut yld)
        .read(&mut buf)
        .unwrap();
    assert_eq!(&buf[..n], b"hello");
    assert_eq!(yld.calls, 3);
    assert_eq!(stream.calls, 4);
}

#[test]
fn read_with_return_yield_gives_would_block_back_each_time() {
    let mut stream = MockStream::new(2, b"hello");
    let mut yld = CountingYield::new(YieldReturn::Return);
    let mut buf = [0u8; 8];
    for attempt in 1..=2 {
        let err = ReadYield::new(&mut stream, &mut yld)
            .read(&mut buf)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(yld.calls, attempt);
        // The service turns it into a typed, ignorable error.
        assert!(Error::from(err).is_would_block());
    }
    let n = ReadYield::new(&mut stream, &mut yld)
        .read(&mut buf)
        .unwrap();
    assert_eq!(&buf[..n], b"hello");
    assert_eq!(yld.calls, 2);
}

#[test]
fn interrupted_is_retried_without_yielding() {
    for answer in [YieldReturn::Loop, YieldReturn::Return] {
        let mut stream = MockStream::new(0, b"x");
        stream.interrupts = 3;
        let mut yld = CountingYield::new(answer);
        let mut buf = [0u8; 1];
        assert_eq!(
            ReadYield::new(&mut stream, &mut yld)
                .read(&mut buf)
                .unwrap(),
            1
        );
        stream.interrupts = 2;
        assert_eq!(
            WriteYield::new(&mut stream, &mut yld).write(b"y").unwrap(),
            1
        );
        assert_eq!(yld.calls, 0);
    }
}

#[test]
fn other_errors_and_end_of_stream_pass_through() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::ErrorKind::ConnectionReset.into())
        }
    }
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }
    let mut yld = CountingYield::new(YieldReturn::Loop);
    let mut buf = [0u8; 4];
    let err = ReadYield::new(&mut Broken, &mut yld)
        .read(&mut buf)
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    let mut broken = Broken;
    let mut w = WriteYield::new(&mut broken, &mut yld);
    assert_eq!(w.write(b"a").unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    assert_eq!(w.flush().unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    let mut eof = MockStream::new(0, b"");
    assert_eq!(
        ReadYield::new(&mut eof, &mut yld).read(&mut buf).unwrap(),
        0
    );
    assert_eq!(yld.calls, 0);
}

#[test]
fn write_and_flush_with_loop_yield_retry_until_ready() {
    let mut stream = MockStream::new(2, b"");
    stream.chunk = 3;
    let mut yld = CountingYield::new(YieldReturn::Loop);
    {
        let mut w = WriteYield::new(&mut stream, &mut yld);
        w.write_all(b"hello world").unwrap();
    }
    assert_eq!(yld.calls, 2);
    stream.blocks = 4;
    WriteYield::new(&mut stream, &mut yld).flush().unwrap();
    assert_eq!(stream.written, b"hello world");
    assert!(stream.flushed);
    assert_eq!(yld.calls, 6);
}

#[test]
fn write_and_flush_with_return_yield_give_would_block_back() {
    let mut stream = MockStream::new(1, b"");
    let mut yld = CountingYield::new(YieldReturn::Return);
    let err = WriteYield::new(&mut stream, &mut yld)
        .write(b"abc")
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    assert!(stream.written.is_empty());
    assert_eq!(
        WriteYield::new(&mut stream, &mut yld)
            .write(b"abc")
            .unwrap(),
        3
    );
    stream.blocks = 1;
    let err = WriteYield::new(&mut stream, &mut yld).flush().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    assert!(!stream.flushed);
    WriteYield::new(&mut stream, &mut yld).flush().unwrap();
    assert!(stream.flushed);
    assert_eq!(yld.calls, 2);
}

/// A restartable reader of fixed-size frames, as a read service would be:
/// its progress lives in `self`, so a `Return` yield loses nothing.
struct FrameReader {
    frame: [u8; 8],
    filled: usize,
}

impl FrameReader {
    fn poll<R: Read, Y: SpawnerYield>(
        &mut self,
        stream: &mut R,
        yld: &mut Y,
    ) -> mydht_base::Result<[u8; 8]> {
        let mut r = ReadYield::new(stream, yld);
        while self.filled < self.frame.len() {
            match r.read(&mut self.frame[self.filled..]) {
                Ok(0) => {
                    return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
                }
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(Error::yielded()),
                Err(e) => return Err(e.into()),
            }
        }
        self.filled = 0;
        Ok(self.frame)
    }
}

#[test]
fn restartable_service_resumes_a_frame_across_return_yields() {
    /// Ready for one 3-byte chunk, then blocks once, and so on.
    struct Trickle {
        data: Vec<u8>,
        ready: bool,
    }
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let was_ready = self.ready;
            self.ready = !was_ready;
            if !was_ready {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.data.len()).min(3);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data.drain(..n);
            Ok(n)
        }
    }
    let mut stream = Trickle {
        data: b"01234567".to_vec(),
        ready: true,
    };
    let mut yld = CountingYield::new(YieldReturn::Return);
    let mut service = FrameReader {
        frame: [0; 8],
        filled: 0,
    };
    let mut restarts = 0;
    let frame = loop {
        match service.poll(&mut stream, &mut yld) {
            Ok(frame) => break frame,
            Err(e) if e.is_yielded() => restarts += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    };
    assert_eq!(&frame, b"01234567");
    assert_eq!(restarts, 2);
    assert_eq!(yld.calls, 2);
}

/// A real non-blocking socket: the yield plays the peer that makes the
/// stream ready before the service is resumed.
#[cfg(unix)]
#[test]
fn unix_socket_read_resumes_after_loop_yield() {
    use std::os::unix::net::UnixStream;

    struct PeerWrites {
        peer: UnixStream,
        calls: usize,
    }
    impl SpawnerYield for PeerWrites {
        fn spawn_yield(&mut self) -> YieldReturn {
            self.calls += 1;
            self.peer.write_all(b"pong").unwrap();
            YieldReturn::Loop
        }
    }

    let (mut ours, peer) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    let mut yld = PeerWrites { peer, calls: 0 };
    let mut buf = [0u8; 4];
    ReadYield::new(&mut ours, &mut yld)
        .read_exact(&mut buf)
        .unwrap();
    assert_eq!(&buf, b"pong");
    assert_eq!(yld.calls, 1);
}

#[test]
fn works_through_trait_objects() {
    let mut stream = MockStream::new(1, b"dyn");
    let mut yld = CountingYield::new(YieldReturn::Loop);
    let stream_dyn: &mut dyn Read = &mut stream;
    let yld_dyn: &mut dyn SpawnerYield = &mut yld;
    let mut out = String::new();
    ReadYield::new(stream_dyn, yld_dyn)
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "dyn");
    assert_eq!(yld.calls, 1);
}
