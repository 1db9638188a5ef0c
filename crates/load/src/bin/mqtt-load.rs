//! `mqtt-load`: MQTT → sACN through patchbay at a fixed message rate (issue 18: 1,000
//! messages/s with no loss), with the latency patchbay and the broker add and patchbay's CPU.
//!
//! Starts mosquitto on a free port of 127.0.0.1 (a private configuration) and patchbay on a
//! configuration that maps topics `bench/1..N` to slots 1..N of sACN universe 1 (realtime
//! output, unicast to this tool). A publisher of its own (MQTT 3.1.1 over one TCP connection,
//! packets from `patchbay_mqtt::wire`) sends the messages paced from absolute deadlines, round
//! robin over the topics; each message sets its topic to a level different from the topic's
//! previous one, so every message is one slot change in patchbay's output. A receiver counts
//! the changes and matches each with the message that asked for it:
//!
//! * delivered: changes to a level that was sent for that topic;
//! * lost: messages sent minus changes seen (a message patchbay dropped leaves its change out;
//!   two messages of one topic in one output packet would too, but with N topics they are
//!   N/rate apart: 100 ms at the defaults);
//! * wrong: changes to a level never sent for the slot;
//! * latency: publish → sACN packet, through the broker and patchbay.
//!
//! patchbay's own count of messages taken in comes from a SIGUSR1 stats report. Run it with
//! `scripts/bench-mqtt` (builds, then runs inside a private network namespace).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use patchbay_load::child::{Reaper, instance_stat, wait_for};
use patchbay_load::histogram::Histogram;
use patchbay_load::pacing::{now_ns, tighten_timer_slack, wait_until};
use patchbay_load::procfs;
use patchbay_mqtt::wire::{Connect, Packet, Properties, Protocol, Publish, QoS};
use patchbay_sacn::wire::Packet as SacnPacket;
use socket2::{Domain, Socket, Type};

#[derive(Parser)]
#[command(name = "mqtt-load")]
struct Cli {
    /// The patchbay binary
    #[arg(long, default_value = "target/release/patchbay")]
    patchbay: PathBuf,
    /// The mosquitto binary
    #[arg(long, default_value = "/usr/sbin/mosquitto")]
    mosquitto: PathBuf,
    /// Messages per second
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Seconds of sending
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// Topics (and sACN slots), 1..=512
    #[arg(long, default_value_t = 100)]
    topics: u16,
    /// QoS of the publications and of patchbay's subscriptions (0 or 1)
    #[arg(long, default_value_t = 0)]
    qos: u8,
}

fn free_tcp_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The level message `k` of a topic sets: 1..=255 and round again, never twice the same in a row.
fn level(k: u64) -> u8 {
    (k % 255) as u8 + 1
}

/// What the receiver saw.
#[derive(Default)]
struct Seen {
    delivered: u64,
    wrong: u64,
    latency: Histogram,
}

/// `sent_at[topic * 256 + level]`: when that level was last sent for that topic (ns since the
/// epoch; 0: never).
fn receive(
    sock: &UdpSocket,
    topics: usize,
    sent_at: &[AtomicU64],
    epoch: Instant,
    stop: &AtomicBool,
) -> Seen {
    let mut seen = Seen::default();
    let mut prev = [0u8; 512];
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::SeqCst) {
        let Ok(n) = sock.recv(&mut buf) else { continue };
        let at = now_ns(epoch);
        let Ok(SacnPacket::Data(d)) = SacnPacket::parse(&buf[..n]) else {
            continue;
        };
        let slots = d.slots();
        for i in 0..topics.min(slots.len()) {
            if slots[i] == prev[i] {
                continue;
            }
            prev[i] = slots[i];
            let sent = sent_at[i * 256 + usize::from(slots[i])].load(Ordering::Acquire);
            if sent == 0 {
                seen.wrong += 1;
                continue;
            }
            seen.delivered += 1;
            seen.latency.record(at.saturating_sub(sent));
        }
    }
    seen
}

fn run(cli: &Cli) -> Result<()> {
    patchbay_net::netns::require_private_netns();
    if cli.topics == 0 || cli.topics > 512 || cli.qos > 1 || cli.rate == 0 {
        bail!("--topics 1..512, --qos 0 or 1, --rate above 0");
    }
    tighten_timer_slack();
    let dir = std::env::temp_dir().join(format!("mqtt-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    let broker_port = free_tcp_port()?;
    std::fs::write(
        dir.join("mosquitto.conf"),
        format!("listener {broker_port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    )?;
    let _broker = Reaper(
        Command::new(&cli.mosquitto)
            .arg("-c")
            .arg(dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("{} (Debian mosquitto)", cli.mosquitto.display()))?,
    );
    wait_for("mosquitto", Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", broker_port)).is_ok()
    })?;

    let rx = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
    let _ = rx.set_recv_buffer_size(8 << 20);
    rx.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())?;
    let rx: UdpSocket = rx.into();
    rx.set_read_timeout(Some(Duration::from_millis(50)))?;
    let out_port = rx.local_addr()?.port();
    let sacn_port = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
    let n = cli.topics;
    let cfg = dir.join("mqtt-load.cfg");
    std::fs::write(
        &cfg,
        format!(
            "[mqtt mq]\nhost = mqtt://127.0.0.1:{broker_port}\nqos = {}\n\n\
             [backend sacn]\nbind = 127.0.0.1 {sacn_port}\n\n\
             [sacn out]\nuniverse = 1\npriority = 100\nrealtime = 1\ndestination = 127.0.0.1 {out_port}\n\n\
             [map]\nmq.bench/{{1..{n}}} > out.{{1..{n}}}\n",
            cli.qos
        ),
    )?;
    let log = dir.join("patchbay.log");
    let patchbay = Reaper(
        Command::new(&cli.patchbay)
            .args(["-d", "--stats-format", "json"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("{}", cli.patchbay.display()))?,
    );
    let pid = patchbay.0.id();
    wait_for("patchbay's subscriptions", Duration::from_secs(15), || {
        std::fs::read_to_string(&log)
            .is_ok_and(|t| t.matches("subscribed to 'bench/").count() >= usize::from(n))
    })?;

    // The publisher's connection.
    let mut tx = TcpStream::connect(("127.0.0.1", broker_port))?;
    tx.set_nodelay(true)?;
    let mut out = Vec::new();
    Packet::Connect(Connect {
        protocol: Protocol::V311,
        clean_start: true,
        keep_alive: 0,
        properties: Properties::EMPTY,
        client_id: "mqtt-load",
        will: None,
        username: None,
        password: None,
    })
    .write(Protocol::V311, &mut out)
    .map_err(|e| anyhow::anyhow!("CONNECT: {e:?}"))?;
    tx.write_all(&out)?;
    let mut connack = [0u8; 4];
    tx.read_exact(&mut connack)?;
    if connack != [0x20, 0x02, 0x00, 0x00] {
        bail!("mosquitto refused the publisher: {connack:?}");
    }
    // PUBACKs (QoS 1) are read and dropped.
    let mut acks = tx.try_clone()?;
    std::thread::spawn(move || {
        let mut r = BufReader::new(&mut acks);
        while r.fill_buf().is_ok_and(|b| !b.is_empty()) {
            let len = r.buffer().len();
            r.consume(len);
        }
    });

    let topics = usize::from(n);
    let sent_at: Arc<Vec<AtomicU64>> =
        Arc::new((0..topics * 256).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let epoch = Instant::now();
    let receiver = {
        let (s, st) = (Arc::clone(&sent_at), Arc::clone(&stop));
        std::thread::spawn(move || receive(&rx, topics, &s, epoch, &st))
    };

    let names: Vec<String> = (1..=n).map(|i| format!("bench/{i}")).collect();
    let total = u64::from(cli.rate) * u64::from(cli.seconds);
    let period_ns = 1_000_000_000 / u64::from(cli.rate);
    let qos = if cli.qos == 1 {
        QoS::AtLeastOnce
    } else {
        QoS::AtMostOnce
    };
    let cpu0 = procfs::sample(pid).context("patchbay is gone")?;
    let t0 = now_ns(epoch);
    let mut late_ns = 0u64;
    let mut payload = String::new();
    for k in 0..total {
        let topic = (k % u64::from(n)) as usize;
        let v = level(k / u64::from(n));
        payload.clear();
        payload.push_str(&format!("{:.6}", f64::from(v) / 255.0));
        out.clear();
        Packet::Publish(Publish {
            dup: false,
            qos,
            retain: false,
            topic: &names[topic],
            packet_id: if cli.qos == 1 {
                (k % 65535) as u16 + 1
            } else {
                0
            },
            properties: Properties::EMPTY,
            payload: payload.as_bytes(),
        })
        .write(Protocol::V311, &mut out)
        .map_err(|e| anyhow::anyhow!("PUBLISH: {e:?}"))?;
        late_ns = late_ns.max(wait_until(epoch, t0 + k * period_ns, 50_000));
        sent_at[topic * 256 + usize::from(v)].store(now_ns(epoch).max(1), Ordering::Release);
        tx.write_all(&out)?;
    }
    let wall_ns = now_ns(epoch) - t0;
    let cpu1 = procfs::sample(pid).context("patchbay is gone")?;
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    let seen = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("receiver panicked"))?;
    let taken_in = instance_stat(pid, &log, "mq", "messages_in");
    drop(patchbay);
    let _ = std::fs::remove_dir_all(&dir);

    let lost = total.saturating_sub(seen.delivered + seen.wrong);
    let cpu = (cpu1.cpu_ns - cpu0.cpu_ns) as f64 * 100.0 / wall_ns as f64;
    let ms = |ns: u64| ns as f64 / 1e6;
    println!(
        "MQTT -> sACN through mosquitto and patchbay: {n} topics, QoS {}, {} msg/s for {} s (sender at most {:.1} ms late)",
        cli.qos,
        cli.rate,
        cli.seconds,
        ms(late_ns)
    );
    println!(
        "| sent | delivered | lost | wrong | patchbay messages_in | latency p50 | p99 | max | patchbay CPU |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {total} | {} | {lost} | {} | {} | {} | {cpu:.1} % |",
        seen.delivered,
        seen.wrong,
        taken_in.map_or("?".to_string(), |v| v.to_string()),
        seen.latency.latency_cells(),
    );
    if lost > 0 || seen.wrong > 0 {
        bail!("{lost} message(s) lost, {} wrong", seen.wrong);
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mqtt-load: {e:#}");
            ExitCode::FAILURE
        }
    }
}
