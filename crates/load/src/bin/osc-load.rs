//! `osc-load`: OSC ↔ sACN through patchbay at a fixed rate (issue 16: 512 faders at 100 Hz
//! each into one universe with no loss, and the universe back out as OSC), with the latency
//! patchbay adds and its CPU.
//!
//! * `--to sacn`: this tool plays a fader page: N faders (`/f/1` .. `/f/N`, float 0..1), each
//!   sent R times per second, paced from absolute deadlines (every 1 ms, what is due), each
//!   message a level different from the fader's previous one. patchbay maps them to slots 1..N
//!   of sACN universe 1 (realtime output, unicast to this tool). Delivered: slot changes to a
//!   level that was sent for the slot; wrong: changes to a level never sent; lost: messages
//!   sent minus patchbay's `messages_in` (what reached it), and sent minus changes seen.
//! * `--to osc`: this tool plays a console: universe 1 at R frames/s, every one of the N slots
//!   changing in every frame, unicast to patchbay's sACN bind. patchbay maps slots 1..N to OSC
//!   paths `/f/1` .. `/f/N` (`i 0 255`, sent to this tool; `--bundle`: one bundle per turn).
//!   Delivered: messages with a level sent for that slot; lost: N × frames minus delivered.
//!   The frames are preceded by 2 s of an all-zero universe (patchbay's sACN receiver passes
//!   a new source's levels on only after its sampling period), which sends no OSC.
//!
//! Run it with `scripts/bench-osc` (builds, then runs inside a private network namespace).

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use patchbay_load::child::{Reaper, instance_stat, wait_for};
use patchbay_load::histogram::Histogram;
use patchbay_load::pacing::{now_ns, tighten_timer_slack, wait_until};
use patchbay_load::packet::{SEQUENCE, SLOTS_AT, template};
use patchbay_load::procfs;
use patchbay_osc::wire::{Arg, Packet as OscPacket, write_message};
use patchbay_sacn::Cid;
use patchbay_sacn::wire::Packet as SacnPacket;
use socket2::{Domain, Socket, Type};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum To {
    /// OSC faders in, sACN out
    Sacn,
    /// sACN in, OSC out
    Osc,
}

#[derive(Parser)]
#[command(name = "osc-load")]
struct Cli {
    /// The patchbay binary
    #[arg(long, default_value = "target/release/patchbay")]
    patchbay: PathBuf,
    /// Direction
    #[arg(long, value_enum, default_value_t = To::Sacn)]
    to: To,
    /// Faders (OSC paths and sACN slots), 1..=512
    #[arg(long, default_value_t = 512)]
    faders: u16,
    /// Messages per fader per second (--to sacn) or frames per second (--to osc)
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Seconds of sending
    #[arg(long, default_value_t = 5)]
    seconds: u32,
    /// --to osc: patchbay sends one bundle per turn
    #[arg(long)]
    bundle: bool,
}

/// The level message `k` of a fader sets: 1..=255 and round again, never twice the same in a
/// row.
fn level(k: u64) -> u8 {
    (k % 255) as u8 + 1
}

fn free_udp_port() -> Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A receive socket on 127.0.0.1 with a large buffer.
fn receiver_socket() -> Result<UdpSocket> {
    let rx = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
    let _ = rx.set_recv_buffer_size(8 << 20);
    rx.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())?;
    let rx: UdpSocket = rx.into();
    rx.set_read_timeout(Some(Duration::from_millis(50)))?;
    Ok(rx)
}

/// What the receiver saw.
#[derive(Default)]
struct Seen {
    delivered: u64,
    wrong: u64,
    latency: Histogram,
}

impl Seen {
    /// Slot (0-based) `i` reached `v`: matched with when `v` was last sent for it.
    fn note(&mut self, sent_at: &[AtomicU64], i: usize, v: u8, at: u64) {
        let sent = sent_at
            .get(i * 256 + usize::from(v))
            .map_or(0, |a| a.load(Ordering::Acquire));
        if sent == 0 {
            self.wrong += 1;
        } else {
            self.delivered += 1;
            self.latency.record(at.saturating_sub(sent));
        }
    }
}

/// sACN from patchbay: every slot change.
fn receive_sacn(
    sock: &UdpSocket,
    n: usize,
    sent_at: &[AtomicU64],
    epoch: Instant,
    stop: &AtomicBool,
) -> Seen {
    let mut seen = Seen::default();
    let mut prev = [0u8; 512];
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::SeqCst) {
        let Ok(len) = sock.recv(&mut buf) else {
            continue;
        };
        let at = now_ns(epoch);
        let Ok(SacnPacket::Data(d)) = SacnPacket::parse(&buf[..len]) else {
            continue;
        };
        let slots = d.slots();
        for i in 0..n.min(slots.len()) {
            if slots[i] != prev[i] {
                prev[i] = slots[i];
                seen.note(sent_at, i, slots[i], at);
            }
        }
    }
    seen
}

/// OSC from patchbay: every `/f/N ,i V` message, bare or in bundles.
fn receive_osc(sock: &UdpSocket, sent_at: &[AtomicU64], epoch: Instant, stop: &AtomicBool) -> Seen {
    let mut seen = Seen::default();
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::SeqCst) {
        let Ok(len) = sock.recv(&mut buf) else {
            continue;
        };
        let at = now_ns(epoch);
        let Ok(p) = OscPacket::parse(&buf[..len]) else {
            seen.wrong += 1;
            continue;
        };
        p.for_each_message(|m| {
            let Ok((_, m)) = m else {
                seen.wrong += 1;
                return;
            };
            let slot = m
                .address()
                .strip_prefix("/f/")
                .and_then(|s| s.parse::<usize>().ok());
            match (slot, m.value(0)) {
                (Some(s), Some(Arg::Int(v)))
                    if (1..=512).contains(&s) && (0..=255).contains(&v) =>
                {
                    seen.note(sent_at, s - 1, v as u8, at);
                }
                _ => seen.wrong += 1,
            }
        });
    }
    seen
}

fn run(cli: &Cli) -> Result<()> {
    patchbay_net::netns::require_private_netns();
    if cli.faders == 0 || cli.faders > 512 || cli.rate == 0 || cli.seconds == 0 {
        bail!("--faders 1..512, --rate and --seconds above 0");
    }
    tighten_timer_slack();
    let dir = std::env::temp_dir().join(format!("osc-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let n = cli.faders;
    let rx = receiver_socket()?;
    let rx_port = rx.local_addr()?.port();
    let (osc_port, sacn_port) = (free_udp_port()?, free_udp_port()?);
    let config = match cli.to {
        To::Sacn => format!(
            "[osc in]\nbind = 127.0.0.1 {osc_port}\n/f/* = f 0.0 1.0\n\n\
             [backend sacn]\nbind = 127.0.0.1 {sacn_port}\n\n\
             [sacn out]\nuniverse = 1\npriority = 100\nrealtime = 1\ndestination = 127.0.0.1 {rx_port}\n\n\
             [map]\nin./f/{{1..{n}}} > out.{{1..{n}}}\n"
        ),
        To::Osc => format!(
            "[backend sacn]\nbind = 127.0.0.1 {sacn_port}\n\n[sacn in]\nuniverse = 1\n\n\
             [osc out]\nbind = 127.0.0.1 {osc_port}\ndestination = 127.0.0.1 {rx_port}\nbundle = {}\n/f/* = i 0 255\n\n\
             [map]\nin.{{1..{n}}} > out./f/{{1..{n}}}\n",
            if cli.bundle { "on" } else { "off" }
        ),
    };
    let cfg = dir.join("osc-load.cfg");
    std::fs::write(&cfg, config)?;
    let log = dir.join("patchbay.log");
    let patchbay = Reaper(
        Command::new(&cli.patchbay)
            .args(["--stats-format", "json"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("{}", cli.patchbay.display()))?,
    );
    let pid = patchbay.0.id();
    // Up once both ports are taken.
    wait_for("patchbay's sockets", Duration::from_secs(15), || {
        UdpSocket::bind(("127.0.0.1", osc_port)).is_err()
            && UdpSocket::bind(("127.0.0.1", sacn_port)).is_err()
    })?;
    std::thread::sleep(Duration::from_millis(300));

    let faders = usize::from(n);
    let sent_at: Arc<Vec<AtomicU64>> =
        Arc::new((0..faders * 256).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let epoch = Instant::now();
    let receiver = {
        let (s, st) = (Arc::clone(&sent_at), Arc::clone(&stop));
        let to = cli.to;
        std::thread::spawn(move || match to {
            To::Sacn => receive_sacn(&rx, faders, &s, epoch, &st),
            To::Osc => receive_osc(&rx, &s, epoch, &st),
        })
    };
    let tx = UdpSocket::bind("127.0.0.1:0")?;
    let cpu0 = procfs::sample(pid).context("patchbay is gone")?;
    let t0 = now_ns(epoch);
    let mut late_ns = 0u64;
    let (sent, expected) = match cli.to {
        To::Sacn => {
            let to = SocketAddr::from((Ipv4Addr::LOCALHOST, osc_port));
            let total = u64::from(cli.rate) * u64::from(cli.seconds) * u64::from(n);
            let per_ms = u64::from(cli.rate) * u64::from(n);
            let names: Vec<String> = (1..=n).map(|i| format!("/f/{i}")).collect();
            let mut buf = [0u8; 64];
            let mut k = 0u64;
            let mut tick = 0u64;
            while k < total {
                tick += 1;
                late_ns = late_ns.max(wait_until(epoch, t0 + tick * 1_000_000, 50_000));
                // Every message whose deadline (k / rate·N seconds) has come.
                let due = (tick * per_ms / 1000).min(total);
                while k < due {
                    let fader = (k % u64::from(n)) as usize;
                    let v = level(k / u64::from(n));
                    let len =
                        write_message(&mut buf, &names[fader], [Arg::Float(f32::from(v) / 255.0)])
                            .map_err(|e| anyhow::anyhow!("{e}"))?;
                    sent_at[fader * 256 + usize::from(v)]
                        .store(now_ns(epoch).max(1), Ordering::Release);
                    tx.send_to(&buf[..len], to)?;
                    k += 1;
                }
            }
            (total, total)
        }
        To::Osc => {
            let to = SocketAddr::from((Ipv4Addr::LOCALHOST, sacn_port));
            let mut p = template(Cid([0x05; 16]), 1).map_err(|e| anyhow::anyhow!("{e}"))?;
            let frames = u64::from(cli.rate) * u64::from(cli.seconds);
            let period = 1_000_000_000 / u64::from(cli.rate);
            // Warm-up: all slots at 0 (what patchbay's OSC output starts from, so it sends
            // nothing) for 2 s, past the receiver's sampling period for a new source (E1.31
            // 6.6.2), in which levels are not yet passed on.
            let warm = 2 * u64::from(cli.rate);
            for k in 0..warm {
                p[SEQUENCE] = k as u8;
                wait_until(epoch, t0 + k * period, 50_000);
                tx.send_to(&p, to)?;
            }
            let t0 = t0 + warm * period;
            for k in 0..frames {
                p[SEQUENCE] = (warm + k) as u8;
                for i in 0..faders {
                    p[SLOTS_AT + i] = level(k + i as u64);
                }
                late_ns = late_ns.max(wait_until(epoch, t0 + k * period, 50_000));
                let at = now_ns(epoch).max(1);
                for i in 0..faders {
                    sent_at[i * 256 + usize::from(p[SLOTS_AT + i])].store(at, Ordering::Release);
                }
                tx.send_to(&p, to)?;
            }
            (frames, frames * u64::from(n))
        }
    };
    let wall_ns = now_ns(epoch) - t0;
    // (CPU is over the whole send, warm-up included.)
    let cpu1 = procfs::sample(pid).context("patchbay is gone")?;
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    let seen = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("receiver panicked"))?;
    let (instance, counter) = match cli.to {
        To::Sacn => ("in", "messages_in"),
        To::Osc => ("out", "messages_out"),
    };
    let counted = instance_stat(pid, &log, instance, counter);
    drop(patchbay);
    let _ = std::fs::remove_dir_all(&dir);

    let lost = expected.saturating_sub(seen.delivered);
    let cpu = (cpu1.cpu_ns - cpu0.cpu_ns) as f64 * 100.0 / wall_ns as f64;
    let ms = |ns: u64| ns as f64 / 1e6;
    let what = match cli.to {
        To::Sacn => format!(
            "OSC -> sACN: {n} faders x {} Hz = {} messages/s for {} s",
            cli.rate,
            u64::from(cli.rate) * u64::from(n),
            cli.seconds
        ),
        To::Osc => format!(
            "sACN -> OSC: {n} slots changing at {} frames/s = {} messages/s for {} s{}",
            cli.rate,
            u64::from(cli.rate) * u64::from(n),
            cli.seconds,
            if cli.bundle { ", bundles" } else { "" }
        ),
    };
    println!("{what} (sender at most {:.1} ms late)", ms(late_ns));
    println!(
        "| sent | expected | delivered | lost | wrong | patchbay {instance}.{counter} | latency p50 | p99 | max | patchbay CPU |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {sent} | {expected} | {} | {lost} | {} | {} | {} | {cpu:.1} % |",
        seen.delivered,
        seen.wrong,
        counted.map_or("?".to_string(), |v| v.to_string()),
        seen.latency.latency_cells(),
    );
    if lost > 0 || seen.wrong > 0 {
        bail!("{lost} lost, {} wrong", seen.wrong);
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("osc-load: {e:#}");
            ExitCode::FAILURE
        }
    }
}
