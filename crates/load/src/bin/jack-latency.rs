//! `jack-latency`: the latency patchbay adds between a JACK MIDI event and the sACN packet that
//! carries its value (issue 17: p99 ≤ one JACK period + 200 µs with the dummy driver).
//!
//! Starts `jackd -d dummy` (server name from `JACK_DEFAULT_SERVER`, which this tool's own JACK
//! client reads too), then patchbay on a configuration mapping a JACK MIDI port to sACN
//! universe 1 (realtime output, 127.0.0.1), and a JACK client of its own connected to
//! patchbay's port. Each sample: the client's process callback writes a control change and
//! notes the time; a socket joined to the universe's group notes when the packet with the new
//! value arrives. The difference is patchbay's added latency (JACK hands the event to patchbay's
//! callback in the same period, right after the sender's). Samples are spaced 20–25 ms apart
//! (below sACN's rate limit, which `realtime = 1` turns off anyway) at varying phases of the
//! period.
//!
//! Run it with `scripts/bench-jack` (builds, then runs inside a private network namespace).

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use jack::{Client, ClientOptions, Control, MidiOut, ProcessScope, RawMidi};
use patchbay_load::histogram::Histogram;
use patchbay_sacn::wire::Packet;
use socket2::{Domain, Protocol, Socket, Type};

#[derive(Parser)]
#[command(name = "jack-latency")]
struct Cli {
    /// The patchbay binary (built with --features jack)
    #[arg(long, default_value = "target/release/patchbay")]
    patchbay: PathBuf,
    /// Samples to take
    #[arg(long, default_value_t = 1000)]
    samples: u32,
    /// JACK period (frames); the sample rate is 48 kHz
    #[arg(long, default_value_t = 256)]
    period: u32,
}

/// Kills a child process when dropped.
struct Reaper(Child);

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

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) -> Result<()> {
    let end = Instant::now() + timeout;
    while !f() {
        if Instant::now() > end {
            bail!("{what}: not within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn capture() -> Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, 5568)).into())?;
    s.join_multicast_v4(&Ipv4Addr::new(239, 255, 0, 1), &Ipv4Addr::LOCALHOST)?;
    let s: UdpSocket = s.into();
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    Ok(s)
}

/// Waits for a data packet of universe 1 whose slot 1 is `want`; its arrival time.
fn arrival(sock: &UdpSocket, want: u8, timeout: Duration) -> Option<Instant> {
    let end = Instant::now() + timeout;
    let mut buf = [0u8; 1500];
    while Instant::now() < end {
        let Ok(n) = sock.recv(&mut buf) else {
            continue;
        };
        let at = Instant::now();
        if let Ok(Packet::Data(d)) = Packet::parse(&buf[..n])
            && d.universe() == 1
            && d.slots().first() == Some(&want)
        {
            return Some(at);
        }
    }
    None
}

fn run(cli: &Cli) -> Result<()> {
    patchbay_net::netns::require_private_netns();
    let server = std::env::var("JACK_DEFAULT_SERVER")
        .context("set JACK_DEFAULT_SERVER to a private server name (scripts/bench-jack does)")?;
    let jackd = Reaper(
        Command::new("jackd")
            .args(["-n", &server, "-d", "dummy", "-r", "48000", "-p"])
            .arg(cli.period.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("jackd (Debian jackd2)")?,
    );
    wait_for("jackd", Duration::from_secs(10), || {
        Command::new("jack_lsp")
            .args(["-s", &server])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })?;

    let dir = std::env::temp_dir().join(format!("jack-latency-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let cfg = dir.join("jack-latency.cfg");
    std::fs::write(
        &cfg,
        format!(
            "[jack desk]\nserver = {server}\nname = patchbay\nmidi_in = midi in\n\n\
             [backend sacn]\nbind = 127.0.0.1 5568\n\n\
             [sacn stage]\nuniverse = 1\npriority = 100\nrealtime = 1\n\n\
             [map]\ndesk.midi_in.ch0.cc1 > stage.1\n"
        ),
    )?;
    let sock = capture()?;
    let patchbay = Reaper(
        Command::new(&cli.patchbay)
            .arg("-q")
            .arg(&cfg)
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("{}", cli.patchbay.display()))?,
    );

    let (client, _) = Client::new("latency", ClientOptions::NO_START_SERVER)
        .map_err(|e| anyhow::anyhow!("JACK client: {e}"))?;
    let mut port = client
        .register_port("out", MidiOut::default())
        .map_err(|e| anyhow::anyhow!("port: {e}"))?;
    let request = Arc::new(AtomicU32::new(0));
    let sent_ns = Arc::new(AtomicU64::new(0));
    let base = Instant::now();
    let (req, sent) = (Arc::clone(&request), Arc::clone(&sent_ns));
    let process = jack::contrib::ClosureProcessHandler::new(
        move |_: &Client, ps: &ProcessScope| -> Control {
            let mut w = port.writer(ps);
            let v = req.swap(0, Ordering::AcqRel);
            if v != 0 {
                let bytes = [0xB0, 1, (v - 1) as u8];
                if w.write(&RawMidi {
                    time: 0,
                    bytes: &bytes,
                })
                .is_ok()
                {
                    sent.store(base.elapsed().as_nanos() as u64, Ordering::Release);
                }
            }
            Control::Continue
        },
    );
    let active = client
        .activate_async((), process)
        .map_err(|e| anyhow::anyhow!("activate: {e}"))?;
    wait_for("patchbay's JACK port", Duration::from_secs(10), || {
        active
            .as_client()
            .connect_ports_by_name("latency:out", "patchbay:midi_in")
            .is_ok()
    })?;

    let mut hist = Histogram::new();
    let mut lost = 0u32;
    for i in 0..cli.samples + 20 {
        let v = (i % 127 + 1) as u8;
        let want = ((f64::from(v) * 255.0 / 127.0).round()) as u8;
        sent_ns.store(0, Ordering::Release);
        request.store(u32::from(v) + 1, Ordering::Release);
        let at = arrival(&sock, want, Duration::from_secs(1));
        let sent = sent_ns.load(Ordering::Acquire);
        match at {
            // The first 20 are warm-up (the route, the sockets, the caches).
            Some(at) if sent != 0 && i >= 20 => {
                let sent = base + Duration::from_nanos(sent);
                hist.record(at.saturating_duration_since(sent).as_nanos() as u64);
            }
            Some(_) => {}
            None => lost += 1,
        }
        // 20..25 ms apart, so the sends fall at varying points of the period.
        std::thread::sleep(Duration::from_micros(20_000 + u64::from(i % 50) * 100));
    }
    drop(active);
    drop(patchbay);
    drop(jackd);
    let _ = std::fs::remove_dir_all(&dir);

    let period_us = f64::from(cli.period) * 1e6 / 48_000.0;
    let us = |ns: u64| ns as f64 / 1000.0;
    let p99 = hist.percentile(99.0);
    println!(
        "JACK MIDI -> sACN added latency, dummy driver 48 kHz, period {} frames ({period_us:.0} us)",
        cli.period
    );
    println!("| samples | lost | p50 | p90 | p99 | max | target p99 |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {lost} | {:.0} us | {:.0} us | {:.0} us | {:.0} us | {:.0} us |",
        hist.len(),
        us(hist.percentile(50.0)),
        us(hist.percentile(90.0)),
        us(p99),
        us(hist.max()),
        period_us + 200.0
    );
    if hist.is_empty() {
        bail!("no sample arrived");
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jack-latency: {e:#}");
            ExitCode::FAILURE
        }
    }
}
