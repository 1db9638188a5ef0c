//! The real binary under a fake systemd: the test binds the unix datagram socket systemd would
//! pass as NOTIFY_SOCKET and checks the sd_notify(3) messages (READY=1 after start, WATCHDOG=1
//! repeatedly at half WATCHDOG_USEC, STOPPING=1 on SIGTERM, exit 0). The configuration is
//! loopback-only and a unix socket is no network socket, so no namespace is needed.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A bound notify socket in its own temporary directory, removed on drop.
struct NotifySocket {
    dir: PathBuf,
    path: PathBuf,
    socket: UnixDatagram,
}

impl NotifySocket {
    fn new(name: &str) -> NotifySocket {
        let dir = std::env::temp_dir().join(format!("patchbay-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("notify");
        let socket = UnixDatagram::bind(&path).expect("bind notify socket");
        NotifySocket { dir, path, socket }
    }

    /// The next message, or None after `timeout`.
    fn recv(&self, timeout: Duration) -> Option<String> {
        self.socket
            .set_read_timeout(Some(timeout))
            .expect("read timeout");
        let mut buf = [0u8; 4096];
        let n = self.socket.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// Messages arriving until `until`.
    fn collect_until(&self, until: Instant) -> Vec<(Instant, String)> {
        let mut out = Vec::new();
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if left.is_zero() {
                break;
            }
            if let Some(m) = self.recv(left) {
                out.push((Instant::now(), m));
            }
        }
        out
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn(notify: &Path, envs: &[(&str, String)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .arg("monster.cfg")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs"))
        .env_remove("RUST_LOG")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .env("NOTIFY_SOCKET", notify)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn patchbay")
}

fn terminate(child: &mut Child) -> Option<i32> {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("patchbay did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `KEY=VALUE` lines of one message.
fn lines(message: &str) -> Vec<&str> {
    message.lines().filter(|l| !l.is_empty()).collect()
}

#[test]
fn ready_watchdog_and_stopping_reach_the_notify_socket() {
    let sock = NotifySocket::new("service");
    // 400 ms watchdog: pings every 200 ms.
    let mut child = spawn(&sock.path, &[("WATCHDOG_USEC", "400000".into())]);

    let ready = sock
        .recv(Duration::from_secs(10))
        .expect("READY=1 within 10 s");
    let ready = lines(&ready);
    assert!(ready.contains(&"READY=1"), "{ready:?}");
    assert!(
        ready.contains(&"STATUS=running: 1 instance, 2 mappings"),
        "{ready:?}"
    );

    let pings = sock.collect_until(Instant::now() + Duration::from_millis(1500));
    for (_, m) in &pings {
        assert_eq!(lines(m), ["WATCHDOG=1"], "only pings while running");
    }
    // 1.5 s at one ping per 200 ms is 7; allow for a slow machine, but they must repeat.
    assert!(
        (4..=9).contains(&pings.len()),
        "{} pings in 1.5 s: {pings:?}",
        pings.len()
    );
    // At about half the timeout apart: never late enough for systemd to kill the service.
    for pair in pings.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(gap < Duration::from_millis(400), "ping gap {gap:?}");
        assert!(gap > Duration::from_millis(100), "ping gap {gap:?}");
    }

    assert_eq!(terminate(&mut child), Some(0));
    let rest: Vec<String> = std::iter::from_fn(|| sock.recv(Duration::from_millis(200))).collect();
    let stopping = rest
        .iter()
        .find(|m| lines(m).contains(&"STOPPING=1"))
        .unwrap_or_else(|| panic!("no STOPPING=1 after SIGTERM: {rest:?}"));
    assert!(
        lines(stopping).contains(&"STATUS=shutting down"),
        "{stopping:?}"
    );
}

/// SIGHUP (what `systemctl reload` sends): RELOADING=1 with MONOTONIC_USEC, then READY=1 once
/// the configuration is reloaded, so systemd knows when the reload is over.
#[test]
fn a_reload_is_announced_and_its_end_is_ready() {
    let sock = NotifySocket::new("reload");
    let mut child = spawn(&sock.path, &[]);
    let ready = sock
        .recv(Duration::from_secs(10))
        .expect("READY=1 within 10 s");
    assert!(lines(&ready).contains(&"READY=1"), "{ready:?}");
    let status = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let reloading = sock.recv(Duration::from_secs(10)).expect("RELOADING=1");
    let reloading = lines(&reloading);
    assert!(reloading.contains(&"RELOADING=1"), "{reloading:?}");
    assert!(
        reloading.iter().any(|l| l.starts_with("MONOTONIC_USEC=")),
        "{reloading:?}"
    );
    let done = sock
        .recv(Duration::from_secs(10))
        .expect("READY=1 after the reload");
    let done = lines(&done);
    assert!(done.contains(&"READY=1"), "{done:?}");
    assert!(
        done.iter()
            .any(|l| l.starts_with("STATUS=running: reloaded in")),
        "{done:?}"
    );
    assert_eq!(terminate(&mut child), Some(0));
}

#[test]
fn no_pings_without_a_watchdog_or_for_another_process() {
    for envs in [
        vec![],
        vec![
            ("WATCHDOG_USEC", "200000".to_string()),
            ("WATCHDOG_PID", "1".to_string()),
        ],
    ] {
        let sock = NotifySocket::new(&format!("service-nowd-{}", envs.len()));
        let mut child = spawn(&sock.path, &envs);
        let ready = sock
            .recv(Duration::from_secs(10))
            .expect("READY=1 within 10 s");
        assert!(lines(&ready).contains(&"READY=1"), "{ready:?}");
        let after = sock.collect_until(Instant::now() + Duration::from_millis(600));
        assert!(after.is_empty(), "{envs:?}: {after:?}");
        assert_eq!(terminate(&mut child), Some(0));
        let rest: Vec<String> =
            std::iter::from_fn(|| sock.recv(Duration::from_millis(200))).collect();
        assert!(
            rest.iter().any(|m| lines(m).contains(&"STOPPING=1")),
            "{rest:?}"
        );
    }
}

#[test]
fn abstract_notify_socket() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;

    let name = format!("patchbay-test-notify-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract address");
    let socket = UnixDatagram::bind_addr(&addr).expect("bind abstract socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut child = spawn(Path::new(&format!("@{name}")), &[]);
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).expect("READY=1 within 10 s");
    let ready = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(lines(&ready).contains(&"READY=1"), "{ready:?}");
    assert_eq!(terminate(&mut child), Some(0));
    let n = socket.recv(&mut buf).expect("STOPPING=1");
    let stopping = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(lines(&stopping).contains(&"STOPPING=1"), "{stopping:?}");
}

/// Under journald (JOURNAL_STREAM names stderr) lines carry a syslog priority prefix and no
/// timestamp; a JOURNAL_STREAM inherited from elsewhere changes nothing.
#[test]
fn journal_lines_have_priorities_and_no_timestamps() {
    use std::os::unix::fs::MetadataExt;

    let sock = NotifySocket::new("journal");
    for matching in [true, false] {
        let log = sock.dir.join(format!("stderr-{matching}"));
        let file = std::fs::File::create(&log).expect("log file");
        let meta = file.metadata().expect("stat");
        let stream = if matching {
            format!("{}:{}", meta.dev(), meta.ino())
        } else {
            format!("{}:{}", meta.dev(), meta.ino() + 1)
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_patchbay"))
            .arg("monster.cfg")
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs"))
            .env_remove("RUST_LOG")
            .env("NOTIFY_SOCKET", &sock.path)
            .env("JOURNAL_STREAM", stream)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn patchbay");
        sock.recv(Duration::from_secs(10)).expect("READY=1");
        assert_eq!(terminate(&mut child), Some(0));
        while sock.recv(Duration::from_millis(100)).is_some() {}
        let text = std::fs::read_to_string(&log).expect("read log");
        let first = text.lines().next().unwrap_or_default();
        assert!(first.contains("core: patchbay"), "{text}");
        if matching {
            assert!(
                text.lines().all(|l| l.starts_with("<6> INFO core: ")),
                "{text}"
            );
        } else {
            assert!(first.starts_with("20"), "timestamp expected: {text}");
            assert!(!text.contains("<6>"), "{text}");
        }
    }
}

/// The unit's settings that the daemon depends on, and (where systemd-analyze exists)
/// systemd's own parser finding nothing to complain about.
#[test]
fn unit_file_matches_the_daemon() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(root.join("contrib/patchbay.service")).expect("unit");
    let values = |key: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(values("Type"), ["notify"]);
    assert_eq!(
        values("ExecStart"),
        ["/usr/local/bin/patchbay /etc/patchbay/patchbay.cfg"]
    );
    assert_eq!(values("ExecReload"), ["/bin/kill -HUP $MAINPID"]);
    assert_eq!(values("WatchdogSec").len(), 1);
    assert_eq!(values("Restart"), ["on-failure"]);
    // sd_notify needs AF_UNIX; sACN needs both IP families.
    let families = values("RestrictAddressFamilies").join(" ");
    for family in ["AF_UNIX", "AF_INET", "AF_INET6"] {
        assert!(families.split(' ').any(|f| f == family), "{families}");
    }
    // Exit status 2 is a configuration error: restarting cannot fix it.
    assert_eq!(values("RestartPreventExitStatus"), ["2"]);

    let Ok(analyze) = which("systemd-analyze") else {
        eprintln!("systemd-analyze not installed: unit syntax not checked");
        return;
    };
    let sock = NotifySocket::new("unit");
    let copy = sock.dir.join("patchbay.service");
    // The binary must exist for verify; the man page is not installed here.
    let text: String = unit
        .lines()
        .filter(|l| !l.starts_with("Documentation="))
        .map(|l| l.replace("/usr/local/bin/patchbay", env!("CARGO_BIN_EXE_patchbay")) + "\n")
        .collect();
    std::fs::write(&copy, text).expect("write unit copy");
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "{err}");
}

fn which(program: &str) -> Result<PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .ok_or(())
}
