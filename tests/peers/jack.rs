//! Test helpers for JACK: a `jackd -d dummy` under a fixed private name and the python peer
//! `jack_peer.py` beside this file (python JACK-Client, an independent client). Included by the
//! JACK tests of the root package and of crates/backends (`#[path]`).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a peer waits for what it expects.
pub const T: Duration = Duration::from_secs(5);

/// One JACK server at a time: libjack keeps per-process state about the server it talks to.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A `jackd -d dummy` under a private name, stopped when dropped.
///
/// The name is fixed (one server at a time, see [`serial`]): JACK keeps a registry of at most 8
/// servers in shared memory and frees the entry of a server that died without a goodbye (as the
/// reconnect test makes it) only when a server of the same name starts again.
pub struct Jackd {
    pub name: String,
    child: Option<Child>,
}

impl Jackd {
    /// Starts a server named `name` (fixed per test binary, see above).
    pub fn start(name: &str) -> Jackd {
        let mut j = Jackd {
            name: name.into(),
            child: None,
        };
        j.restart();
        j
    }

    /// Starts the server (again) under the same name; returns once clients can connect.
    pub fn restart(&mut self) {
        let child = Command::new("jackd")
            .args(["-n", &self.name, "-d", "dummy", "-r", "48000", "-p", "256"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("jackd (Debian jackd2; scripts/setup installs it)");
        self.child = Some(child);
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let up = Command::new("jack_lsp")
                .args(["-s", &self.name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if up {
                return;
            }
            assert!(Instant::now() < end, "jackd {} did not come up", self.name);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server (SIGKILL: no goodbye to its clients) and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Jackd {
    /// SIGTERM, so that the server leaves JACK's registry.
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let end = Instant::now() + Duration::from_secs(5);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The python peer.
pub struct Peer {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    backlog: VecDeque<String>,
}

impl Peer {
    pub fn start(server: &str, name: &str) -> Peer {
        // The workspace root: the package of the test, or two levels above it (crates/NAME).
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|d| d.join("tests/peers/jack_peer.py"))
            .find(|p| p.exists())
            .expect("tests/peers/jack_peer.py in the workspace");
        let mut child = Command::new("python3")
            .arg(&script)
            .args([server, name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut p = Peer {
            child,
            stdin,
            lines,
            backlog: VecDeque::new(),
        };
        p.expect("ready", Duration::from_secs(10));
        p
    }

    pub fn command(&mut self, c: &str) {
        writeln!(self.stdin, "{c}").expect("peer stdin");
        self.stdin.flush().expect("flush");
    }

    pub fn connect(&mut self, from: &str, to: &str) {
        self.command(&format!("connect {from} {to}"));
        self.expect("ok", Duration::from_secs(5));
    }

    /// The first line (waiting or seen before) that `pick` accepts; lines it does not accept
    /// stay for later calls. `None` after `timeout`.
    pub fn take<T>(
        &mut self,
        timeout: Duration,
        mut pick: impl FnMut(&str) -> Option<T>,
    ) -> Option<T> {
        if let Some(i) = self.backlog.iter().position(|l| pick(l).is_some()) {
            let l = self.backlog.remove(i).expect("index from position");
            return pick(&l);
        }
        let end = Instant::now() + timeout;
        loop {
            match self
                .lines
                .recv_timeout(end.saturating_duration_since(Instant::now()))
            {
                Ok(l) => match pick(&l) {
                    Some(v) => return Some(v),
                    None => self.backlog.push_back(l),
                },
                Err(_) => return None,
            }
        }
    }

    /// Waits for the line `want`.
    pub fn expect(&mut self, want: &str, timeout: Duration) {
        if self.take(timeout, |l| (l == want).then_some(())).is_none() {
            panic!(
                "peer: no '{want}' within {timeout:?}; saw {:?}",
                self.backlog
            );
        }
    }

    /// `count` MIDI events, hex.
    pub fn midi(&mut self, count: usize, timeout: Duration) -> Vec<String> {
        let mut got = Vec::new();
        while got.len() < count {
            match self.take(timeout, |l| l.strip_prefix("midi ").map(str::to_string)) {
                Some(m) => got.push(m),
                None => panic!("peer: {count} MIDI events expected, got {got:?}"),
            }
        }
        got
    }

    /// The next `cv` line whose value is `want` (within 1e-6).
    pub fn cv(&mut self, want: f64, timeout: Duration) {
        let hit = self.take(timeout, |l| {
            let v = l.strip_prefix("cv ")?.parse::<f64>().ok()?;
            ((v - want).abs() < 1e-6).then_some(())
        });
        if hit.is_none() {
            panic!(
                "peer: no cv {want} within {timeout:?}; saw {:?}",
                self.backlog
            );
        }
    }

    /// No MIDI event arrives within `d`.
    pub fn no_midi(&mut self, d: Duration) {
        if let Some(m) = self.take(d, |l| l.strip_prefix("midi ").map(str::to_string)) {
            panic!("unexpected MIDI {m}");
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
