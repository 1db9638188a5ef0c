//! Running under systemd (`Type=notify`, contrib/patchbay.service): readiness, stopping and
//! status notices and the watchdog ping, over sd_notify(3).
//!
//! Everything here is a no-op unless the service manager set `NOTIFY_SOCKET`, so a daemon
//! started by hand, in a container or by another supervisor behaves exactly as before. The
//! watchdog ping is a [`Core::every`] task: it is sent from the event loop's own iterations,
//! so a loop that hangs (a backend stuck in a call) stops pinging and systemd restarts it.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use patchbay_core::Core;
use sd_notify::NotifyState;
use tracing::{debug, warn};

/// Whether a service manager listens for notices.
pub fn managed() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty())
}

/// How often to ping a watchdog of `timeout`: at half of it, as sd_watchdog_enabled(3)
/// recommends, so one late iteration does not get the service killed.
pub fn ping_period(timeout: Duration) -> Duration {
    timeout / 2
}

/// Called once every backend has started: sends READY=1 with `status`, pings the watchdog
/// from the loop when systemd asked for one (`WatchdogSec=`), and arranges STOPPING=1 for
/// the moment a graceful shutdown begins.
pub fn attach(core: &mut Core, status: &str) {
    if !managed() {
        return;
    }
    let ready = format!("running: {status}");
    send(
        &[NotifyState::Ready, NotifyState::Status(&ready)],
        "READY=1",
    );
    // Every reload ends with READY=1 (also a refused one: the old configuration runs on).
    core.on_reloaded(|outcome| {
        let first = outcome.message.lines().next().unwrap_or("");
        let status = if outcome.ok {
            format!("running: {first}")
        } else {
            format!("running the previous configuration: {first}")
        };
        send(
            &[NotifyState::Ready, NotifyState::Status(&status)],
            "READY=1",
        );
    });
    core.on_shutdown(|_| {
        send(
            &[NotifyState::Stopping, NotifyState::Status("shutting down")],
            "STOPPING=1",
        );
    });
    // `watchdog_enabled` also checks WATCHDOG_PID, so a watchdog meant for a parent process
    // is not answered by us.
    if let Some(timeout) = sd_notify::watchdog_enabled() {
        let period = ping_period(timeout);
        debug!(target: "core", "systemd watchdog of {timeout:?}: pinging every {period:?}");
        // Warn once: a notify socket that went away would otherwise log every period.
        let warned = Rc::new(Cell::new(false));
        core.every(period, move |_| {
            if let Err(e) = notify(&[NotifyState::Watchdog])
                && !warned.replace(true)
            {
                warn!(target: "core", "cannot ping the systemd watchdog: {e}");
            }
        });
    }
}

/// A reload begins: RELOADING=1 with the monotonic time systemd (v253+) asks for, so
/// `systemctl reload` waits for [`attach`]'s READY=1 at its end.
pub fn reloading() {
    if !managed() {
        return;
    }
    let mut states = vec![NotifyState::Reloading, NotifyState::Status("reloading")];
    match NotifyState::monotonic_usec_now() {
        Ok(now) => states.push(now),
        Err(e) => warn!(target: "core", "cannot read the monotonic clock for systemd: {e}"),
    }
    send(&states, "RELOADING=1");
}

/// A STATUS= line (e.g. why the daemon is about to exit with a failure).
pub fn status(text: &str) {
    if managed() {
        send(&[NotifyState::Status(text)], "STATUS");
    }
}

fn send(states: &[NotifyState<'_>], what: &str) {
    if let Err(e) = notify(states) {
        warn!(target: "core", "cannot send {what} to systemd: {e}");
    }
}

/// sd_notify(3), including the abstract socket addresses (`@name`) that sd-notify 0.5 does not
/// handle and that service managers in containers use.
fn notify(states: &[NotifyState<'_>]) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};

    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(());
    };
    let Some(name) = path.as_bytes().strip_prefix(b"@") else {
        return sd_notify::notify(states);
    };
    let message: String = states.iter().map(|s| format!("{s}\n")).collect();
    let socket = UnixDatagram::unbound()?;
    socket.send_to_addr(message.as_bytes(), &SocketAddr::from_abstract_name(name)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_at_half_the_watchdog_timeout() {
        assert_eq!(ping_period(Duration::from_secs(10)), Duration::from_secs(5));
        assert_eq!(
            ping_period(Duration::from_micros(3)),
            Duration::from_nanos(1500)
        );
    }
}
