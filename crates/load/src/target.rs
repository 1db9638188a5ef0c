//! The process under test: spawned by the tool (so exec time is known) or given by PID.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A spawned target, stopped (SIGTERM, then SIGKILL after a second) when dropped.
pub struct Target {
    child: Child,
    /// When `spawn` returned (the exec has happened by then).
    pub spawned: Instant,
}

impl Target {
    /// Starts `argv` with stdin closed and stdout/stderr appended to `log` (or discarded).
    pub fn spawn(argv: &[String], log: Option<&std::path::Path>) -> std::io::Result<Self> {
        let (prog, args) = argv
            .split_first()
            .ok_or_else(|| std::io::Error::other("empty target command"))?;
        let mut cmd = Command::new(prog);
        cmd.args(args).stdin(Stdio::null());
        match log {
            Some(p) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?;
                cmd.stdout(f.try_clone()?).stderr(f);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        let child = cmd.spawn()?;
        Ok(Self {
            child,
            spawned: Instant::now(),
        })
    }

    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, wait up to a second, then SIGKILL.
    pub fn stop(&mut self) {
        if !self.alive() {
            return;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if !self.alive() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.stop();
    }
}
