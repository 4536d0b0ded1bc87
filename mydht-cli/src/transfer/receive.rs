//! The receiving side: a file written to a temporary file in the receive
//! directory, hashed as it comes, and given its name only once its size
//! and SHA-256 are the announced ones.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openssl::sha::Sha256;
use slog::{info, warn, Logger};

use crate::transfer::{hex, plain_name, Offer, Refusal, Saved};

/// Most `.N` suffixes tried when a file of the offered name is there.
const MAX_SUFFIX: u32 = 999;

/// Where and how a node saves the files it receives.
pub struct ReceiveConf {
    /// The directory (checked writable when the node starts).
    pub dir: PathBuf,
    /// The largest file taken, in bytes.
    pub max_size: u64,
    /// Where refusals and saved files are logged.
    pub log: Logger,
}

impl ReceiveConf {
    /// `dir` made if missing and checked writable (a file created and
    /// removed there): the system's error otherwise.
    pub fn open(dir: PathBuf, max_size: u64, log: Logger) -> io::Result<Self> {
        fs::create_dir_all(&dir)?;
        let probe = dir.join(format!(".mydht-probe-{}", random_tag()));
        File::create(&probe)?;
        fs::remove_file(&probe)?;
        Ok(ReceiveConf { dir, max_size, log })
    }
}

/// A file coming in.
pub struct Receiving {
    conf: Arc<ReceiveConf>,
    offer: Offer,
    temp: PathBuf,
    file: Option<File>,
    sha: Sha256,
    got: u64,
    failed: Option<Refusal>,
}

impl Receiving {
    /// Takes `offer` (its temporary file created) or refuses it.
    pub fn start(conf: Arc<ReceiveConf>, offer: Offer) -> Result<Self, Refusal> {
        let refuse = |r: Refusal| {
            warn!(conf.log, "file refused"; "size" => offer.size, "why" => %r);
            Err(r)
        };
        if !plain_name(&offer.name) {
            return refuse(Refusal::BadName);
        }
        if offer.size > conf.max_size {
            return refuse(Refusal::TooLarge { max: conf.max_size });
        }
        let temp = conf.dir.join(format!(".mydht-{}.part", random_tag()));
        let file = match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(f) => f,
            Err(e) => return refuse(disk(&e)),
        };
        Ok(Receiving {
            conf,
            offer,
            temp,
            file: Some(file),
            sha: Sha256::new(),
            got: 0,
            failed: None,
        })
    }

    /// The next bytes; past the announced size, or once a write failed,
    /// nothing more is written.
    pub fn write(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.got + bytes.len() as u64 > self.offer.size {
            self.fail(Refusal::WrongSize {
                got: self.offer.size + 1,
            });
            return;
        }
        if let Some(f) = &mut self.file {
            if let Err(e) = f.write_all(bytes) {
                self.fail(disk(&e));
                return;
            }
        }
        self.sha.update(bytes);
        self.got += bytes.len() as u64;
    }

    /// The attachment ended: the file checked and named, or why not (its
    /// temporary file removed).
    pub fn finish(mut self) -> Result<Saved, Refusal> {
        let outcome = self.check_and_place();
        if let Err(r) = &outcome {
            warn!(self.conf.log, "file refused"; "name" => &self.offer.name, "why" => %r);
        }
        outcome
    }

    fn check_and_place(&mut self) -> Result<Saved, Refusal> {
        if let Some(r) = self.failed.take() {
            return Err(r);
        }
        if self.got != self.offer.size {
            return Err(Refusal::WrongSize { got: self.got });
        }
        let sha256 = std::mem::replace(&mut self.sha, Sha256::new()).finish();
        if sha256 != self.offer.sha256 {
            return Err(Refusal::WrongHash);
        }
        if let Some(f) = self.file.take() {
            f.sync_all().map_err(|e| disk(&e))?;
        }
        let name = place(&self.temp, &self.conf.dir, &self.offer.name)?;
        let _ = fs::remove_file(&self.temp);
        info!(self.conf.log, "file received"; "name" => &name, "size" => self.got);
        println!("received {name} {} bytes sha256 {}", self.got, hex(&sha256));
        Ok(Saved {
            name,
            size: self.got,
            sha256,
        })
    }

    fn fail(&mut self, r: Refusal) {
        self.file = None;
        let _ = fs::remove_file(&self.temp);
        self.failed = Some(r);
    }
}

impl Drop for Receiving {
    /// An unfinished or refused file leaves nothing behind.
    fn drop(&mut self) {
        self.file = None;
        let _ = fs::remove_file(&self.temp);
    }
}

/// Links `temp` as `name` in `dir`, or `name.1`, `name.2`... when taken
/// (a link never replaces a file): the name used.
fn place(temp: &Path, dir: &Path, name: &str) -> Result<String, Refusal> {
    for n in 0..=MAX_SUFFIX {
        let candidate = match n {
            0 => name.to_string(),
            n => format!("{name}.{n}"),
        };
        match fs::hard_link(temp, dir.join(&candidate)) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(disk(&e)),
        }
    }
    Err(Refusal::Disk(format!(
        "{MAX_SUFFIX} files named {name} already"
    )))
}

fn disk(e: &io::Error) -> Refusal {
    Refusal::Disk(e.kind().to_string())
}

/// Eight random bytes in hex, for temporary names.
fn random_tag() -> String {
    let mut b = [0u8; 8];
    // A failing generator still gives a name: create_new refuses clashes.
    let _ = openssl::rand::rand_bytes(&mut b);
    hex(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::sha::sha256;

    /// A receive directory of its own (removed at the end of the test).
    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn conf(tag: &str, max_size: u64) -> (Dir, Arc<ReceiveConf>) {
        let path = std::env::temp_dir().join(format!("mydht-receive-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        let log = Logger::root(slog::Discard, slog::o!());
        let conf = ReceiveConf::open(path.clone(), max_size, log).unwrap();
        (Dir(path), Arc::new(conf))
    }

    fn offer(name: &str, bytes: &[u8]) -> Offer {
        Offer {
            name: name.into(),
            size: bytes.len() as u64,
            sha256: sha256(bytes),
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_whole_file_is_saved_and_a_second_gets_a_suffix() {
        let (dir, conf) = conf("whole", 1 << 20);
        for expected in ["a.txt", "a.txt.1"] {
            let mut r = Receiving::start(conf.clone(), offer("a.txt", b"hello world")).unwrap();
            r.write(b"hello ");
            r.write(b"world");
            let saved = r.finish().unwrap();
            assert_eq!(saved.name, expected);
            assert_eq!(saved.sha256, sha256(b"hello world"));
        }
        assert_eq!(names(&dir.0), ["a.txt", "a.txt.1"]);
        assert_eq!(fs::read(dir.0.join("a.txt.1")).unwrap(), b"hello world");
    }

    #[test]
    fn names_that_leave_the_directory_are_refused() {
        let (dir, conf) = conf("names", 1 << 20);
        for name in ["../x", "a/b", "..", ".", ".hidden", "a\\b", "", "a\nb"] {
            let r = Receiving::start(conf.clone(), offer(name, b"x"));
            assert_eq!(r.err(), Some(Refusal::BadName), "{name:?}");
        }
        let long = "n".repeat(crate::transfer::MAX_NAME_LEN + 1);
        assert_eq!(
            Receiving::start(conf.clone(), offer(&long, b"x")).err(),
            Some(Refusal::BadName)
        );
        assert!(names(&dir.0).is_empty());
    }

    #[test]
    fn size_over_the_bound_too_many_bytes_or_another_hash_leave_nothing() {
        let (dir, conf) = conf("bad", 10);
        assert_eq!(
            Receiving::start(conf.clone(), offer("big", &[0; 11])).err(),
            Some(Refusal::TooLarge { max: 10 })
        );
        let mut r = Receiving::start(conf.clone(), offer("long", b"12345")).unwrap();
        r.write(b"123456");
        assert_eq!(r.finish().err(), Some(Refusal::WrongSize { got: 6 }));
        let mut r = Receiving::start(conf.clone(), offer("short", b"12345")).unwrap();
        r.write(b"1234");
        assert_eq!(r.finish().err(), Some(Refusal::WrongSize { got: 4 }));
        let mut r = Receiving::start(conf.clone(), offer("other", b"12345")).unwrap();
        r.write(b"54321");
        assert_eq!(r.finish().err(), Some(Refusal::WrongHash));
        // A transfer cut off (the connection dropped) removes its temporary file.
        let mut r = Receiving::start(conf.clone(), offer("cut", b"12345")).unwrap();
        r.write(b"12");
        assert_eq!(names(&dir.0).len(), 1);
        drop(r);
        assert!(names(&dir.0).is_empty());
    }
}
