//! What the CLI tests share: the built binary, a scratch directory, and
//! node processes that are always killed, even when a test fails.

#![allow(dead_code)] // each test file uses its part

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// How long a node may take to print a line the test waits for.
pub const LINE_TIMEOUT: Duration = Duration::from_secs(30);

/// The `mydht` binary of this build.
pub fn mydht() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mydht"))
}

/// Runs `mydht args...` to its end.
pub fn run(args: &[&str]) -> Output {
    mydht()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the mydht binary runs")
}

/// A directory of its own under the system's temporary directory,
/// removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    /// A new empty directory.
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("mydht-cli-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch(dir)
    }

    /// The path of `name` in it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `mydht node` process; killed when dropped.
pub struct NodeProc {
    child: Child,
    lines: Receiver<String>,
    /// The id it printed.
    pub id: String,
    /// The address it printed (its real one).
    pub address: String,
    /// Its tunnel node's address.
    pub tunnel: String,
}

impl NodeProc {
    /// Starts `mydht node` on a free loopback port with its data in
    /// `dir`, bootstrapped on `bootstrap`, and waits for its `ready`.
    pub fn start(dir: &Path, bootstrap: &[&str]) -> Self {
        Self::start_with(dir, bootstrap, &[])
    }

    /// [`start`](Self::start) with more options (`extra`).
    pub fn start_with(dir: &Path, bootstrap: &[&str], extra: &[&str]) -> Self {
        let mut cmd = mydht();
        cmd.args(["node", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for b in bootstrap {
            cmd.args(["--bootstrap", b]);
        }
        cmd.args(extra);
        let mut child = cmd.spawn().expect("mydht node starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut node = NodeProc {
            child,
            lines,
            id: String::new(),
            address: String::new(),
            tunnel: String::new(),
        };
        node.id = node.field("id");
        node.address = node.field("listening");
        node.tunnel = node.field("tunnel");
        node.wait_line("ready");
        node
    }

    /// The value of the next line `name value`.
    fn field(&mut self, name: &str) -> String {
        let line = self.wait_prefix(&format!("{name} "));
        line[name.len() + 1..].to_string()
    }

    /// Waits for the line `line` on its standard output.
    pub fn wait_line(&mut self, line: &str) {
        self.wait_prefix(line);
    }

    /// Waits for a line starting with `prefix`: the line.
    pub fn wait_prefix(&mut self, prefix: &str) -> String {
        loop {
            match self.lines.recv_timeout(LINE_TIMEOUT) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => continue,
                Err(e) => panic!("node {}: no line {prefix:?} ({e})", self.address),
            }
        }
    }

    /// Sends SIGTERM and waits for the process's end: its exit code.
    pub fn terminate(mut self) -> (Option<i32>, Vec<String>) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let code = self.child.wait().expect("node ends").code();
        // The process ended: its stdout reaches its end, the reader thread too.
        let rest = self.lines.iter().collect();
        (code, rest)
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text of an output stream.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
