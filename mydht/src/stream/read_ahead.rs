//! [`ReadAhead`]: a session's stream read ahead below its shadow.

use std::io::{self, Read};

/// Bytes a session's stream reads ahead: one read of the socket takes
/// what it holds up to this, so a message's chunk header and its body, or
/// several small messages, come in one system call (the shadow asks for a
/// header, then for the chunk the header announces).
pub const READ_AHEAD: usize = 4 << 10;

/// Reads of this many bytes or more, with nothing held, go straight to
/// the inner stream: what they ask for is the rest of a chunk, and
/// reading it ahead would only add a copy (and, after a `WouldBlock`, a
/// buffer to allocate again).
const STRAIGHT: usize = 1 << 10;

/// A stream read ahead by up to [`READ_AHEAD`] bytes.
///
/// Nothing read ahead is lost: whoever holds the `ReadAhead` reads it
/// first (a lent stream takes it along). The buffer is given back each
/// time the stream has nothing more (`WouldBlock`) or fails, so an idle
/// connection holds none of it; reads of 1 KiB or more with nothing held
/// go straight to the inner stream.
#[derive(Debug)]
pub struct ReadAhead<S> {
    inner: S,
    /// Bytes read ahead are `buf[start..end]`; empty when given back.
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl<S> ReadAhead<S> {
    /// `inner`, read ahead.
    pub fn new(inner: S) -> Self {
        ReadAhead {
            inner,
            buf: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// Bytes of buffer held now (0 once given back).
    pub fn buffer_len(&self) -> usize {
        self.buf.len()
    }

    /// A failed read: a stream with nothing more gives its buffer back.
    fn failed(&mut self, e: io::Error) -> io::Error {
        self.buf = Vec::new();
        e
    }
}

impl<S: Read> Read for ReadAhead<S> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end {
            if out.len() >= STRAIGHT {
                return self.inner.read(out).map_err(|e| self.failed(e));
            }
            if self.buf.is_empty() {
                self.buf = vec![0; READ_AHEAD];
            }
            let n = match self.inner.read(&mut self.buf) {
                Ok(n) => n,
                Err(e) => return Err(self.failed(e)),
            };
            (self.start, self.end) = (0, n);
        }
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::io::{self, Read};

    use super::{ReadAhead, READ_AHEAD, STRAIGHT};

    /// A stream of scripted reads: each `Some` is what one read can give
    /// (less if the caller asks less; the rest stays for the next read),
    /// `None` a `WouldBlock`; the sizes asked are recorded.
    struct Script {
        steps: VecDeque<Option<Vec<u8>>>,
        asked: Vec<usize>,
    }

    impl Script {
        fn new(steps: Vec<Option<Vec<u8>>>) -> Self {
            Script {
                steps: steps.into(),
                asked: Vec::new(),
            }
        }
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.asked.push(buf.len());
            match self.steps.pop_front() {
                None => Ok(0),
                Some(None) => Err(io::ErrorKind::WouldBlock.into()),
                Some(Some(mut bytes)) => {
                    let n = bytes.len().min(buf.len());
                    buf[..n].copy_from_slice(&bytes[..n]);
                    if n < bytes.len() {
                        self.steps.push_front(Some(bytes.split_off(n)));
                    }
                    Ok(n)
                }
            }
        }
    }

    /// A header and the body it announces, sent together, come in one
    /// read of the inner stream; the next message's bytes after a
    /// `WouldBlock` follow in order, and the buffer was given back at the
    /// `WouldBlock`.
    #[test]
    fn a_header_and_its_body_come_in_one_read_and_nothing_is_lost() {
        let first: Vec<u8> = (0..104u8).collect();
        let second: Vec<u8> = (200..250u8).collect();
        let mut r = ReadAhead::new(Script::new(vec![
            Some(first.clone()),
            None,
            Some(second.clone()),
        ]));
        let mut header = [0; 4];
        r.read_exact(&mut header).unwrap();
        let mut body = [0; 100];
        r.read_exact(&mut body).unwrap();
        assert_eq!([&header[..], &body[..]].concat(), first);
        assert_eq!(r.inner.asked, vec![READ_AHEAD]);
        assert_eq!(r.buffer_len(), READ_AHEAD);
        let e = r.read(&mut header).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(r.buffer_len(), 0);
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert_eq!(got, second);
    }

    /// A read of [`STRAIGHT`] bytes or more with nothing held goes
    /// straight to the inner stream, with the caller's buffer; what is
    /// held is handed out first.
    #[test]
    fn large_reads_go_straight_once_nothing_is_held() {
        let bulk: Vec<u8> = (0..3 * READ_AHEAD).map(|i| (i % 251) as u8).collect();
        let mut r = ReadAhead::new(Script::new(vec![Some(bulk.clone())]));
        let mut head = [0; 10];
        r.read_exact(&mut head).unwrap();
        let mut rest = vec![0; bulk.len() - 10];
        r.read_exact(&mut rest).unwrap();
        assert_eq!([&head[..], &rest[..]].concat(), bulk);
        // One read ahead for the head, the held rest handed out, then
        // straight reads of what remains.
        assert_eq!(r.inner.asked[0], READ_AHEAD);
        assert!(r.inner.asked[1..].iter().all(|&n| n >= STRAIGHT));
        assert_eq!(r.inner.asked.len(), 2);
    }
}
