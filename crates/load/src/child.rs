//! The processes a protocol load tool (`mqtt-load`, `osc-load`) starts: killed when dropped,
//! waited for with a bound, and asked for a counter through a SIGUSR1 stats report.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Kills a child process when dropped (SIGTERM, then SIGKILL after 3 s).
pub struct Reaper(pub Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let end = Instant::now() + Duration::from_secs(3);
        while self.0.try_wait().ok().flatten().is_none() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `f` every 20 ms until it holds, for at most `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) -> anyhow::Result<()> {
    let end = Instant::now() + timeout;
    while !f() {
        if Instant::now() > end {
            anyhow::bail!("{what}: not within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Counter `name` of instance `instance` of the patchbay process `pid`, from the SIGUSR1 stats
/// report it writes to `log` (run it with `--stats-format json`).
pub fn instance_stat(pid: u32, log: &Path, instance: &str, name: &str) -> Option<u64> {
    let tag = format!("\"instance\":\"{instance}\"");
    let count = |t: &str| t.matches(tag.as_str()).count();
    let before = count(&std::fs::read_to_string(log).ok()?);
    Command::new("kill")
        .args(["-USR1", &pid.to_string()])
        .status()
        .ok()?;
    let end = Instant::now() + Duration::from_secs(3);
    let key = format!("\"{name}\":");
    loop {
        let text = std::fs::read_to_string(log).ok()?;
        if count(&text) > before {
            let line = text.lines().rev().find(|l| l.contains(tag.as_str()))?;
            let v = line.split(key.as_str()).nth(1)?;
            return v.split([',', '}']).next()?.parse().ok();
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
