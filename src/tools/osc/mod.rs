//! `patchbay osc send` and `patchbay osc watch`: a test sender and a diagnostic receiver built
//! on the same OSC crate as the backend, so what they send and show is what patchbay itself
//! would send and read.
//!
//! * [`args`]: the command line, and the `TYPES VALUES...` words turned into arguments.
//! * [`show`]: a received datagram as text or JSON lines (sans-IO).
//! * this module: the sockets (UDP, or TCP with SLIP framing for `send --tcp`).

pub mod args;
pub mod show;

use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use patchbay_osc::framing::Framing;
use patchbay_osc::wire::{BundleWriter, TimeTag, write_message};

pub use args::{OscCommand, OscSendArgs, OscWatchArgs};

const EXIT_USAGE: u8 = 2;
const EXIT_RUNTIME: u8 = 1;

/// Runs a `patchbay osc ...` command.
pub fn run(cmd: &OscCommand) -> ExitCode {
    match cmd {
        OscCommand::Send(a) => run_send(a),
        OscCommand::Watch(a) => run_watch(a),
    }
}

fn usage(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("patchbay: {e}");
    ExitCode::from(EXIT_USAGE)
}

fn runtime(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("patchbay: {e}");
    ExitCode::from(EXIT_RUNTIME)
}

/// The packet `a` describes: a message, or a bundle holding it.
fn build(a: &OscSendArgs, values: &[args::Value]) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; 65_000];
    let args = values.iter().map(args::Value::arg);
    let n = if a.bundle || a.at.is_some() {
        let time = match a.at {
            None => TimeTag::IMMEDIATELY,
            Some(secs) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                TimeTag::from_unix(now + Duration::from_secs_f64(secs))
            }
        };
        let mut w = BundleWriter::new(&mut buf, time).map_err(|e| e.to_string())?;
        w.message(&a.path, args).map_err(|e| e.to_string())?;
        w.finish()
    } else {
        write_message(&mut buf, &a.path, args).map_err(|e| e.to_string())?
    };
    buf.truncate(n);
    Ok(buf)
}

fn run_send(a: &OscSendArgs) -> ExitCode {
    let target = match super::addr::parse_addr(&a.target, 0) {
        Ok(t) if t.port() != 0 => t,
        Ok(_) => return usage(format!("'{}': give the port as HOST:PORT", a.target)),
        Err(e) => return usage(e),
    };
    let values = match args::parse_values(&a.args) {
        Ok(v) => v,
        Err(e) => return usage(e),
    };
    if let Err(e) = patchbay_osc::channel::validate_pattern_path(&a.path) {
        return usage(format!("'{}' is not an OSC address: {e}", a.path));
    }
    if !(a.rate > 0.0 && a.rate <= 100_000.0) {
        return usage("--rate must be more than 0 and at most 100000");
    }
    let packet = match build(a, &values) {
        Ok(p) => p,
        Err(e) => return usage(format!("the message does not fit a packet: {e}")),
    };
    let mut link = match open_send(a, target) {
        Ok(l) => l,
        Err(e) => return runtime(e),
    };
    let period = Duration::from_secs_f64(1.0 / a.rate);
    let start = Instant::now();
    for i in 0..a.count {
        if i > 0 {
            let due = start + period.mul_f64(i as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        if let Err(e) = link.send(&packet) {
            return runtime(format!("cannot send to {target}: {e}"));
        }
    }
    tracing::info!(target: "osc", "sent {} packet(s) of {} bytes to {target}", a.count, packet.len());
    ExitCode::SUCCESS
}

enum SendLink {
    Udp(UdpSocket, SocketAddr),
    Tcp(TcpStream),
}

impl SendLink {
    fn send(&mut self, packet: &[u8]) -> std::io::Result<()> {
        match self {
            SendLink::Udp(s, to) => s.send_to(packet, *to).map(|_| ()),
            SendLink::Tcp(s) => {
                let mut framed = vec![0u8; Framing::Slip.encoded_len(packet)];
                let n = Framing::Slip
                    .write(packet, &mut framed)
                    .map_err(std::io::Error::other)?;
                s.write_all(&framed[..n])
            }
        }
    }
}

fn open_send(a: &OscSendArgs, target: SocketAddr) -> Result<SendLink, String> {
    if a.tcp {
        return TcpStream::connect(target)
            .map(SendLink::Tcp)
            .map_err(|e| format!("cannot connect to {target}: {e}"));
    }
    let bind = match &a.bind {
        Some(b) => super::addr::parse_addr(b, 0).map_err(|e| e.to_string())?,
        None if target.is_ipv6() => "[::]:0".parse().map_err(|_| "bind")?,
        None => "0.0.0.0:0".parse().map_err(|_| "bind")?,
    };
    let s = UdpSocket::bind(bind).map_err(|e| format!("cannot bind {bind}: {e}"))?;
    let _ = s.set_broadcast(true);
    Ok(SendLink::Udp(s, target))
}

fn run_watch(a: &OscWatchArgs) -> ExitCode {
    let listen = if a.listen.bytes().all(|b| b.is_ascii_digit()) {
        format!("0.0.0.0:{}", a.listen)
    } else {
        a.listen.clone()
    };
    let addr = match super::addr::parse_addr(&listen, 0) {
        Ok(addr) => addr,
        Err(e) => return usage(e),
    };
    let sock = match UdpSocket::bind(addr) {
        Ok(s) => s,
        Err(e) => return runtime(format!("cannot bind {addr}: {e}")),
    };
    let _ = sock.set_read_timeout(Some(Duration::from_millis(200)));
    tracing::info!(target: "osc", "watching {}", sock.local_addr().map_or(addr, |a| a));
    let start = Instant::now();
    let end = a.duration.map(|d| start + Duration::from_secs_f64(d));
    let mut buf = vec![0u8; 65_536];
    let mut seen = 0u64;
    let mut out = std::io::stdout().lock();
    let mut lines = Vec::new();
    loop {
        if end.is_some_and(|e| Instant::now() >= e) || a.count.is_some_and(|c| seen >= c) {
            return ExitCode::SUCCESS;
        }
        let (n, from) = match sock.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => return runtime(format!("cannot receive: {e}")),
        };
        seen += 1;
        let t = start.elapsed().as_secs_f64();
        lines.clear();
        if a.json {
            show::json_lines(&buf[..n], t, from, &mut lines);
        } else {
            show::text_lines(&buf[..n], t, from, &mut lines);
        }
        for l in &lines {
            if writeln!(out, "{l}").is_err() {
                return ExitCode::SUCCESS;
            }
        }
        let _ = out.flush();
    }
}
