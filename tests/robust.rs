//! Robustness of the running binary (issue 7): malformed and hostile input, floods, sequence
//! chaos, source loss, link down/up, unreachable destinations, signals under load.
//!
//! Every test that opens a socket or starts the binary calls `require_private_netns()` first.
//! Build outside, run inside:
//! `cargo test --test robust --no-run && scripts/netns-run --veth cargo test --offline --test robust`.
//! Each test uses its own ports, so they run in parallel. `ROBUST_ECHO=1` echoes patchbay's
//! stderr.

#[path = "robust/harness.rs"]
mod harness;
#[path = "robust/malformed.rs"]
mod malformed;

use std::time::{Duration, Instant};

use harness::{Collector, Daemon, Output, Report, changes, cid, data, delta, sender};
use patchbay_net::netns::require_private_netns;
use patchbay_sacn::Packet;

const T: Duration = Duration::from_secs(5);

/// In `in` (universe 1, unicast on 127.0.0.1:`port`), out (universe 2, realtime, unicast to
/// 127.0.0.1:`port + 1`), slots 1..8 mapped straight through.
fn through_config(port: u16, extra_in: &str) -> String {
    format!(
        "[backend sacn]\nbind = 127.0.0.1 {port}\n\n[sacn in]\nuniverse = 1\nunicast = 1\n{extra_in}\n\
         [sacn out]\nuniverse = 2\npriority = 100\nrealtime = 1\ndestination = 127.0.0.1 {}\n\n\
         [map]\nin.{{1..8}} > out.{{1..8}}\n",
        port + 1
    )
}

/// Tests that load the machine (flood, SIGTERM under load, W1) run one at a time, so one does
/// not starve another's daemon on a 2-core machine and turn a timing margin into a failure.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

/// The parser itself gives every class the reason its table names (no sockets).
#[test]
fn malformed_table_matches_the_parser() {
    let mut wrong = Vec::new();
    for case in malformed::cases() {
        let got = match Packet::parse(&case.bytes) {
            _ if case.bytes.is_empty() => "empty".to_string(),
            Err(r) => format!("malformed.{}", r.as_str()),
            Ok(Packet::Data(p)) if p.start_code() != 0 => {
                "discarded.unsupported_start_code".to_string()
            }
            Ok(_) => "accepted".to_string(),
        };
        // Longer than the daemon's receive buffer: the kernel truncates, the daemon says oversize.
        let got = if case.bytes.len() > 2048 {
            "malformed.oversize".to_string()
        } else {
            got
        };
        if got != case.counter {
            wrong.push(format!(
                "{}: parser says {got}, table says {}",
                case.name, case.counter
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// One datagram per malformed class between valid frames: each is dropped, exactly its counter
/// rises (bind scope, +1), nothing else is dropped, and the valid sender's next values reach the
/// output unchanged (a wrongly applied hostile packet would show 255s).
#[test]
fn every_malformed_class_is_dropped_and_counted_while_valid_traffic_flows() {
    require_private_netns();
    let port = 15600;
    let out = Output::bind(&format!("127.0.0.1:{}", port + 1));
    let d = Daemon::start("malformed", &through_config(port, ""), &[]);
    let tx = sender();
    let to = format!("127.0.0.1:{port}");
    let valid = cid(0xA1);
    let mut seq = 0u8;
    let mut send_valid = |v: u8| {
        seq = seq.wrapping_add(1);
        let slots: Vec<u8> = (0..8).map(|i| v.wrapping_add(i)).collect();
        tx.send_to(&data(valid, 1, 100, seq, &slots), &to)
            .expect("send");
        slots
    };
    // Until the 1.5 s sampling period is over nothing is forwarded: resend until it is.
    let t0 = Instant::now();
    loop {
        let want = send_valid(10);
        if out
            .next(Duration::from_millis(100))
            .is_some_and(|s| s.slots[..8] == want[..])
        {
            break;
        }
        assert!(t0.elapsed() < T, "valid traffic never reached the output");
    }
    // Datagrams sent while waiting for the first output may still be queued: let them be
    // processed before the counters are read, so they are not charged to the first case.
    std::thread::sleep(Duration::from_millis(200));
    out.drain();
    let mut before = d.stats();
    let hostile_tx = sender();
    let mut failures = Vec::new();
    for (i, case) in malformed::cases().into_iter().enumerate() {
        hostile_tx.send_to(&case.bytes, &to).expect("send hostile");
        let v = 20 + (i as u8 % 200);
        // Sent from the other socket: ordering across sockets is kept on lo, but wait for the
        // hostile datagram to be counted before the valid one is judged.
        let want = send_valid(v);
        out.expect_values(2, &want, T, case.name);
        let after = d.stats();
        let got = delta(&before, &after, "bind 0", case.counter);
        let dropped = delta(&before, &after, "bind 0", "dropped");
        let frames = delta(&before, &after, "in", "frames_in");
        if got != 1 || dropped != 1 || frames != 1 {
            failures.push(format!(
                "{}: {} rose by {got} (want 1), dropped by {dropped} (want 1), frames_in by {frames} (want 1); changes: {:?}",
                case.name,
                case.counter,
                changes(&before, &after, "bind 0"),
            ));
        }
        before = after;
    }
    let sources = before["in"]["sources"];
    assert!(d.log().iter().all(|l| !l.contains("panicked")));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(sources, 1, "a hostile packet created a source");
}

#[allow(dead_code)]
fn _unused(_: Report) {}

/// Sends `slots` from `cid` every `period` until `stop`; returns the values last sent.
fn steady_sender(
    to: String,
    cid: patchbay_sacn::Cid,
    priority: u8,
    period: Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    values: impl Fn(u32) -> Vec<u8> + Send + 'static,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let tx = sender();
        let mut seq = 0u8;
        let mut n = 0u32;
        let mut last = Vec::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            seq = seq.wrapping_add(1);
            last = values(n);
            tx.send_to(&data(cid, 1, priority, seq, &last), &to)
                .expect("send");
            n += 1;
            std::thread::sleep(period);
        }
        last
    })
}

/// 100,000 packets from random CIDs (priority 100, all slots 255) on the input universe while a
/// priority-150 source keeps sending: every output packet carries the valid source's values, the
/// source table stays at its bound, and RSS grows by less than 4 MiB.
#[test]
fn flood_of_random_cids_keeps_memory_bounded_and_the_valid_source_on_top() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    require_private_netns();
    let _heavy = heavy();
    let port = 15610;
    let out = Output::bind(&format!("127.0.0.1:{}", port + 1));
    let d = Daemon::start("flood", &through_config(port, ""), &[]);
    let to = format!("127.0.0.1:{port}");
    let stop = Arc::new(AtomicBool::new(false));
    let valid = steady_sender(
        to.clone(),
        cid(0xA1),
        150,
        Duration::from_millis(10),
        Arc::clone(&stop),
        |n| {
            let v = (n % 200) as u8;
            (0..8).map(|i| v.wrapping_add(i) % 250).collect()
        },
    );
    // Valid values are always < 250; the flood's are 255.
    let t0 = Instant::now();
    while out
        .next(Duration::from_millis(100))
        .is_none_or(|s| s.slots[0] >= 250)
    {
        assert!(t0.elapsed() < T, "valid traffic never reached the output");
    }
    let before = d.stats();
    let rss_before = harness::rss_kib(d.pid());

    let reader = {
        let sock = out.sock.try_clone().expect("clone");
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let out = Output { sock };
            let (mut packets, mut bad) = (0u64, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                if let Some(s) = out.next(Duration::from_millis(50)) {
                    packets += 1;
                    if s.slots.iter().take(8).any(|&v| v >= 250) && bad.len() < 5 {
                        bad.push(s);
                    }
                }
            }
            (packets, bad)
        })
    };
    let tx = sender();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut buf = data(cid(0), 1, 100, 0, &[255; 512]);
    for i in 0..100_000u32 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        buf[22..30].copy_from_slice(&rng.to_le_bytes());
        buf[30..38].copy_from_slice(&(!rng).to_le_bytes());
        buf[111] = i as u8;
        // Pace a little so the kernel's socket buffer does not drop most of the flood.
        while tx.send_to(&buf, &to).is_err() {
            std::thread::sleep(Duration::from_micros(100));
        }
        if i % 256 == 255 {
            std::thread::sleep(Duration::from_micros(500));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let after = d.stats();
    let rss_after = harness::rss_kib(d.pid());
    stop.store(true, Ordering::Relaxed);
    let last = valid.join().expect("sender");
    let (packets, bad) = reader.join().expect("reader");
    let received = delta(&before, &after, "bind 0", "datagrams");
    let limited = delta(&before, &after, "bind 0", "discarded.too_many_sources");
    eprintln!(
        "flood: {received} datagrams read (of 100,000 + the valid sender's), {limited} over the source limit, \
         sources now {}, RSS {rss_before} -> {rss_after} KiB, {packets} output packets",
        after["in"]["sources"]
    );
    assert!(bad.is_empty(), "flood values reached the output: {bad:?}");
    assert!(received >= 50_000, "only {received} datagrams were read");
    assert!(limited > 0, "the source limit was never reached");
    assert!(
        after["in"]["sources"] <= 64,
        "{} sources",
        after["in"]["sources"]
    );
    assert!(
        rss_after <= rss_before + 4096,
        "RSS grew from {rss_before} to {rss_after} KiB"
    );
    out.drain();
    // The valid source is still the one on top once the flood is over.
    let _ = last;
    let t0 = Instant::now();
    let tx2 = sender();
    let mut seq = 200u8;
    loop {
        seq = seq.wrapping_add(1);
        tx2.send_to(&data(cid(0xA1), 1, 150, seq, &[7; 8]), &to)
            .expect("send");
        if out
            .next(Duration::from_millis(50))
            .is_some_and(|s| s.slots[..8] == [7; 8])
        {
            break;
        }
        assert!(
            t0.elapsed() < T,
            "valid source lost control after the flood"
        );
    }
    assert!(d.log().iter().all(|l| !l.contains("panicked")));
}

/// Duplicates, reordering and a sender restart (sequence jumps back) on one source: the E1.31
/// rule (E1.31 6.7.2: discard if `seq - last` is in (-20, 0]) decides each packet, and the output
/// never goes back to older values.
#[test]
fn sequence_chaos_is_decided_by_the_e131_rule_and_never_outputs_stale_values() {
    require_private_netns();
    let port = 15620;
    let out = Output::bind(&format!("127.0.0.1:{}", port + 1));
    let d = Daemon::start("chaos", &through_config(port, ""), &[]);
    let tx = sender();
    let to = format!("127.0.0.1:{port}");
    let a = cid(0xA1);
    // Get past the sampling period with sequence 100 (value 1).
    let t0 = Instant::now();
    loop {
        tx.send_to(&data(a, 1, 100, 100, &[1; 8]), &to)
            .expect("send");
        if out
            .next(Duration::from_millis(100))
            .is_some_and(|s| s.slots[..8] == [1; 8])
        {
            break;
        }
        assert!(t0.elapsed() < T, "no output");
    }
    // (what, sequence, value sent, accepted?)
    let steps: &[(&str, u8, u8, bool)] = &[
        ("next in order", 101, 2, true),
        ("duplicate of the last", 101, 3, false),
        ("skips ahead by 3 (loss is fine)", 104, 4, true),
        ("late packet from before", 103, 5, false),
        ("late by 19", 85, 6, false),
        ("late by 20 counts as new", 84, 7, true),
        ("back in order after that", 85, 8, true),
        ("sender restart far back: 85 -> 0 (diff -85)", 0, 9, true),
        ("one before the restart point", 255, 10, false),
        ("in order after the restart", 1, 11, true),
        ("in order", 10, 12, true),
        (
            "restart close by: 10 -> 0 (diff -10) is discarded",
            0,
            13,
            false,
        ),
        ("restarted sender still inside the window", 5, 14, false),
        ("restarted sender passes the old sequence", 11, 15, true),
        ("wraps 11 -> 250 (diff -17)", 250, 16, false),
        ("wraps forward 11 -> 200 (diff -67)", 200, 17, true),
        ("wraps forward 200 -> 5 (diff +61)", 5, 18, true),
    ];
    let mut last_out = 1u8;
    let mut last_seq = 100u8;
    let mut failures = Vec::new();
    // Datagrams sent while waiting for the first output may still be queued: let them be
    // processed before the counters are read, so they are not charged to the first case.
    std::thread::sleep(Duration::from_millis(200));
    out.drain();
    let mut before = d.stats();
    for &(what, seq, v, accept) in steps {
        // The table is checked against the rule itself, so a wrong row cannot hide a wrong result.
        let diff = seq.wrapping_sub(last_seq) as i8;
        assert_eq!(
            accept,
            !(-20 < diff && diff <= 0),
            "table row '{what}' contradicts E1.31"
        );
        tx.send_to(&data(a, 1, 100, seq, &[v; 8]), &to)
            .expect("send");
        // Wait until the datagram was processed (counted), then read what the output did.
        let t0 = Instant::now();
        let after = loop {
            let s = d.stats();
            if delta(&before, &s, "bind 0", "datagrams") >= 1 {
                break s;
            }
            assert!(t0.elapsed() < T, "{what}: never counted");
        };
        let mut seen = Vec::new();
        while let Some(s) = out.next(Duration::from_millis(20)) {
            seen.push(s.slots[0]);
        }
        let expect_out = if accept { v } else { last_out };
        let frames = delta(&before, &after, "in", "frames_in");
        let oos = delta(&before, &after, "in", "discarded.out_of_sequence");
        let shown = seen.last().copied().unwrap_or(last_out);
        // Repeats of the previous value may still be in flight ahead of the change; after the
        // expected value nothing else may appear, and nothing but these two ever.
        let first = seen
            .iter()
            .position(|&x| x == expect_out)
            .unwrap_or(seen.len());
        let ordered = seen[..first].iter().all(|&x| x == last_out)
            && seen[first..].iter().all(|&x| x == expect_out);
        if shown != expect_out
            || !ordered
            || frames != i64::from(accept)
            || oos != i64::from(!accept)
        {
            failures.push(format!(
                "{what} (seq {seq}, diff {diff}): want {} -> output {expect_out}; output showed {seen:?}, frames_in {frames:+}, out_of_sequence {oos:+}",
                if accept { "accepted" } else { "discarded" }
            ));
        }
        if accept {
            last_seq = seq;
            last_out = v;
        }
        before = after;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs `ip ARGS...` (the test runs as root in its private namespace).
fn ip(args: &str) {
    let st = std::process::Command::new("ip")
        .args(args.split_whitespace())
        .status()
        .expect("run ip");
    assert!(st.success(), "ip {args} failed");
}

/// A UDP socket on the veth peer (sacn1, 198.18.0.2 or 2001:db8:5ac::2) that sends multicast
/// out of sacn1.
fn peer_multicast_sender(v6: bool) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    if v6 {
        let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
        s.bind(
            &"[2001:db8:5ac::2]:0"
                .parse::<std::net::SocketAddr>()
                .map_err(std::io::Error::other)?
                .into(),
        )?;
        s.set_multicast_if_v6(ifindex("sacn1")?)?;
        return Ok(s.into());
    }
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.bind(&std::net::SocketAddr::from(([198, 18, 0, 2], 0)).into())?;
    s.set_multicast_if_v4(&std::net::Ipv4Addr::new(198, 18, 0, 2))?;
    Ok(s.into())
}

/// Index of an interface of this namespace (`ip -o link`; /sys shows the mounter's namespace).
fn ifindex(name: &str) -> std::io::Result<u32> {
    let out = std::process::Command::new("ip")
        .args(["-o", "link", "show", name])
        .output()?;
    String::from_utf8_lossy(&out.stdout)
        .split(':')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no interface {name}")))
}

/// The veth tests change sacn0/sacn1 for the whole namespace: one at a time.
static VETH: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[derive(Clone, Copy, Debug)]
enum Outage {
    /// `ip link set sacn0 down`, address removed, re-added, link up (same ifindex; the kernel
    /// keeps the memberships).
    DownAndUp,
    /// The veth pair deleted and created again (new ifindex; memberships are gone, as after
    /// unplugging a USB adapter): only a re-join on the new index brings multicast back.
    Recreated,
}

fn accept_from_peer() {
    // Both ends of the veth live in this namespace, so a datagram from sacn1 carries a local
    // source address; sacn0 must accept it (otherwise it is a martian).
    for (k, v) in [("accept_local", "1"), ("rp_filter", "0")] {
        std::fs::write(format!("/proc/sys/net/ipv4/conf/sacn0/{k}"), v).expect("sysctl");
    }
    std::fs::write("/proc/sys/net/ipv4/conf/all/rp_filter", "0").expect("sysctl");
}

/// Puts the veth pair back as `scripts/netns-run --veth` made it (addresses, IPv6 addresses flushed by
/// link down, the multicast routes that go with the link), also when a test fails, so later test
/// binaries in the same namespace find it intact.
struct RestoreVeth;

impl RestoreVeth {
    fn restore(&self) {
        let run = |args: &str| {
            let _ = std::process::Command::new("ip")
                .args(args.split_whitespace())
                .stderr(std::process::Stdio::null())
                .status();
        };
        if !std::path::Path::new("/proc/sys/net/ipv4/conf/sacn0").exists() {
            run("link add sacn0 type veth peer name sacn1");
        }
        run("addr replace 198.18.0.1/24 dev sacn0");
        run("addr replace 198.18.0.2/24 dev sacn1");
        run("addr replace 2001:db8:5ac::1/64 dev sacn0 nodad");
        run("addr replace 2001:db8:5ac::2/64 dev sacn1 nodad");
        run("link set sacn0 up");
        run("link set sacn1 up");
        run("-6 route replace multicast ff00::/8 dev sacn0 table local metric 1");
        run("route replace 224.0.0.0/4 dev sacn0 src 198.18.0.1");
        run("route replace broadcast 255.255.255.255 dev sacn0 table local src 198.18.0.1");
    }
}

impl Drop for RestoreVeth {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Multicast input from the veth peer forwarded to a unicast output on the peer; `outage`
/// happens; patchbay must keep running, log it, re-join and forward fresh values again within 2 s
/// of the link returning. Returns the recovery time.
fn survive_outage(outage: Outage, v6: bool, port: u16) -> Duration {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    require_private_netns();
    let _one = VETH.lock().unwrap_or_else(|e| e.into_inner());
    let restore = RestoreVeth;
    accept_from_peer();
    let (here, peer) = if v6 {
        ("2001:db8:5ac::1", "2001:db8:5ac::2")
    } else {
        ("198.18.0.1", "198.18.0.2")
    };
    let out =
        Output::bind(&std::net::SocketAddr::new(peer.parse().expect("ip"), port + 1).to_string());
    let cfg = format!(
        "[backend sacn]\nbind = {here} {port}\n\n[sacn in]\nuniverse = 1\n\n\
         [sacn out]\nuniverse = 2\npriority = 100\nrealtime = 1\ndestination = {peer} {}\n\n\
         [map]\nin.{{1..8}} > out.{{1..8}}\n",
        port + 1
    );
    let mut d = Daemon::start("link", &cfg, &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU32::new(0));
    let sender = {
        let stop = Arc::clone(&stop);
        let counter = Arc::clone(&counter);
        std::thread::spawn(move || {
            let group = if v6 {
                format!("[ff18::8300:1]:{port}")
            } else {
                format!("239.255.0.1:{port}")
            };
            let mut seq = 0u8;
            while !stop.load(Ordering::Relaxed) {
                seq = seq.wrapping_add(1);
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                let b = n.to_be_bytes();
                let slots = [b[0], b[1], b[2], b[3], 1, 2, 3, 4];
                // A fresh socket each time: the peer interface may have been re-created (a socket's
                // multicast interface is fixed when set). Errors while the link is down are expected.
                if let Ok(tx) = peer_multicast_sender(v6) {
                    let _ = tx.send_to(&data(cid(0xA1), 1, 100, seq, &slots), &group);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let fresh = |after: u32, timeout: Duration| -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(s) = out.next(Duration::from_millis(20)) {
                let n = u32::from_be_bytes([s.slots[0], s.slots[1], s.slots[2], s.slots[3]]);
                if n > after {
                    return Some(Instant::now());
                }
            }
        }
        None
    };
    assert!(
        fresh(0, T).is_some(),
        "{outage:?}: multicast input never forwarded"
    );
    let mark = d.line_count();
    match outage {
        Outage::DownAndUp => {
            ip("link set sacn0 down");
            // IPv6 addresses go with the link (keep_addr_on_down = 0); IPv4 ones are removed.
            if !v6 {
                ip("addr del 198.18.0.1/24 dev sacn0");
            }
        }
        Outage::Recreated => ip("link del sacn0"),
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        d.alive(),
        "{outage:?}: patchbay exited while the link was down"
    );
    match outage {
        Outage::DownAndUp => {
            ip("addr replace 198.18.0.1/24 dev sacn0");
            ip("addr replace 2001:db8:5ac::1/64 dev sacn0 nodad");
            ip("link set sacn0 up");
            if v6 {
                ip("-6 route replace multicast ff00::/8 dev sacn0 table local metric 1");
            }
        }
        Outage::Recreated => {
            ip("link add sacn0 type veth peer name sacn1");
            ip("addr add 198.18.0.1/24 dev sacn0");
            ip("addr add 198.18.0.2/24 dev sacn1");
            ip("addr add 2001:db8:5ac::1/64 dev sacn0 nodad");
            ip("addr add 2001:db8:5ac::2/64 dev sacn1 nodad");
            ip("link set sacn0 up");
            ip("link set sacn1 up");
            ip("-6 route replace multicast ff00::/8 dev sacn0 table local metric 1");
            accept_from_peer();
        }
    }
    let up = Instant::now();
    let sent_at_up = counter.load(Ordering::SeqCst);
    out.drain();
    let resumed = fresh(sent_at_up, Duration::from_secs(6));
    let logged = d.wait_line(mark, Duration::from_secs(2), |l| {
        l.contains("sacn0 is up again") || l.contains("sacn0 was re-created")
    });
    restore.restore();
    stop.store(true, Ordering::Relaxed);
    sender.join().expect("sender");
    let log = d.log()[mark..].join("\n");
    let resumed = resumed.unwrap_or_else(|| {
        panic!("{outage:?}: input did not resume within 6 s of link up; log since:\n{log}")
    });
    let recovery = resumed - up;
    assert!(d.alive(), "{outage:?}: patchbay exited");
    assert!(
        recovery <= Duration::from_secs(2),
        "{outage:?}: resumed only after {recovery:?}; log:\n{log}"
    );
    assert!(
        log.contains("sacn0 went down"),
        "{outage:?}: the link going down was not logged:\n{log}"
    );
    let logged = logged.map(|i| d.log()[i].clone()).unwrap_or_default();
    assert!(
        logged.contains("rejoined 1 multicast group"),
        "{outage:?}: the link coming back was not logged with the re-join:\n{log}"
    );
    let stats = d.stats();
    assert_eq!(
        stats["bind 0"]["link_down"], 1,
        "{outage:?}: link_down counter"
    );
    assert_eq!(stats["bind 0"]["rejoins"], 1, "{outage:?}: rejoins counter");
    eprintln!("{outage:?}: forwarding resumed {recovery:?} after the link returned");
    recovery
}

#[test]
fn link_down_and_up_is_survived_and_multicast_input_resumes() {
    survive_outage(Outage::DownAndUp, false, 15640);
}

#[test]
fn interface_recreated_under_a_new_index_is_rejoined() {
    survive_outage(Outage::Recreated, false, 15650);
}

#[test]
fn ipv6_link_down_and_up_is_survived_and_multicast_input_resumes() {
    survive_outage(Outage::DownAndUp, true, 15740);
}

#[test]
fn ipv6_interface_recreated_under_a_new_index_is_rejoined() {
    survive_outage(Outage::Recreated, true, 15750);
}

/// A priority-150 source stops without terminating while a priority-100 source keeps sending:
/// the output switches to the lower source once the 2.5 s loss timeout has passed (wall clock:
/// a wide window, 2.3..3.5 s; the exact 2.5 s is checked with a fake clock in the receiver's
/// unit tests), and `sources_lost` rises by one.
#[test]
fn source_loss_is_reflected_after_the_timeout() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    require_private_netns();
    let port = 15660;
    let out = Output::bind(&format!("127.0.0.1:{}", port + 1));
    let d = Daemon::start("loss", &through_config(port, ""), &[]);
    let to = format!("127.0.0.1:{port}");
    let stop_a = Arc::new(AtomicBool::new(false));
    let stop_b = Arc::new(AtomicBool::new(false));
    let a = steady_sender(
        to.clone(),
        cid(0xA1),
        150,
        Duration::from_millis(20),
        Arc::clone(&stop_a),
        |_| vec![50; 8],
    );
    let b = steady_sender(
        to.clone(),
        cid(0xB2),
        100,
        Duration::from_millis(20),
        Arc::clone(&stop_b),
        |_| vec![20; 8],
    );
    out.expect_values(2, &[50; 8], T, "high-priority source on top");
    let before = d.stats();
    stop_a.store(true, std::sync::atomic::Ordering::SeqCst);
    a.join().expect("sender a");
    let last_a = Instant::now();
    let switched = out.expect_values(
        2,
        &[20; 8],
        Duration::from_secs(5),
        "lower source after loss",
    );
    let after_loss = last_a.elapsed();
    let _ = switched;
    stop_b.store(true, std::sync::atomic::Ordering::SeqCst);
    b.join().expect("sender b");
    let after = d.stats();
    eprintln!("loss: output switched {after_loss:?} after the last packet of the lost source");
    assert!(
        after_loss >= Duration::from_millis(2300) && after_loss <= Duration::from_millis(3500),
        "switched after {after_loss:?}"
    );
    assert_eq!(delta(&before, &after, "in", "sources_lost"), 1);
    assert!(
        d.log()
            .iter()
            .any(|l| l.contains("lost (nothing for 2.5 s)"))
    );
}

/// Three outputs fed by one input: one reachable, one to a closed port (ICMP port unreachable),
/// one to an address without a route (the send fails). The reachable one keeps getting every
/// change; the failing one counts send errors; nothing stops.
#[test]
fn unreachable_destinations_do_not_stop_other_universes() {
    require_private_netns();
    let port = 15670;
    let out = Output::bind(&format!("127.0.0.1:{}", port + 1));
    let cfg = format!(
        "[backend sacn]\nbind = 127.0.0.1 {port}\n\n[sacn in]\nuniverse = 1\nunicast = 1\n\n\
         [sacn good]\nuniverse = 2\npriority = 100\nrealtime = 1\ndestination = 127.0.0.1 {}\n\n\
         [sacn closed]\nuniverse = 3\npriority = 100\nrealtime = 1\ndestination = 127.0.0.1 {}\n\n\
         [sacn noroute]\nuniverse = 4\npriority = 100\nrealtime = 1\ndestination = 203.0.113.1 5568\n\n\
         [map]\nin.{{1..8}} > good.{{1..8}}\nin.{{1..8}} > closed.{{1..8}}\nin.{{1..8}} > noroute.{{1..8}}\n",
        port + 1,
        port + 2
    );
    let mut d = Daemon::start("unreach", &cfg, &[]);
    let tx = sender();
    let to = format!("127.0.0.1:{port}");
    let mut seq = 0u8;
    let t0 = Instant::now();
    loop {
        seq = seq.wrapping_add(1);
        tx.send_to(&data(cid(0xA1), 1, 100, seq, &[1; 8]), &to)
            .expect("send");
        if out
            .next(Duration::from_millis(100))
            .is_some_and(|s| s.slots[..8] == [1; 8])
        {
            break;
        }
        assert!(t0.elapsed() < T, "no output");
    }
    for v in 2..=60u8 {
        seq = seq.wrapping_add(1);
        tx.send_to(&data(cid(0xA1), 1, 100, seq, &[v; 8]), &to)
            .expect("send");
        out.expect_values(2, &[v; 8], T, "reachable output");
    }
    let s = d.stats();
    assert!(d.alive());
    assert!(
        s["noroute"]["send_errors"] >= 59,
        "noroute send errors: {:?}",
        s["noroute"]
    );
    assert_eq!(s["good"]["send_errors"], 0);
    assert!(s["good"]["frames_out"] >= 60);
    assert!(
        s["closed"]["frames_out"] >= 60,
        "closed port: {:?}",
        s["closed"]
    );
}

/// Under load (20 universes in, each mapped to its own realtime output, a sender at full speed)
/// SIGTERM makes every output universe send its three Stream_Terminated packets and the process
/// exit 0 within the 2 s shutdown grace period.
///
/// The output is read by a [`Collector`] thread with an 8 MiB buffer, and the test fails if even
/// that socket dropped a datagram: issue 14 item 10 (terminations of 2 of 20 universes, or none,
/// in 2 of 6 runs on a busy machine) was this test's own socket, read only between waits, whose
/// 208 KiB filled with realtime output while the test thread waited for the process to exit;
/// the kernel then dropped what patchbay sent last (`/proc/net/udp` counted 116 drops in a run
/// that saw 1 of 3 terminations of a universe, while patchbay reported no send error).
#[test]
fn sigterm_under_load_sends_terminations_and_exits_in_time() {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    require_private_netns();
    let _heavy = heavy();
    let port = 15680;
    const N: u16 = 20;
    // Read on its own thread from now on: the test thread waits on other things below, and a
    // socket it read only in between overflowed under load (issue 14 item 10).
    let out = Collector::bind(&format!("127.0.0.1:{}", port + 1));
    let mut cfg = format!("[backend sacn]\nbind = 127.0.0.1 {port}\n\n");
    let mut map = String::from("[map]\n");
    for u in 1..=N {
        cfg += &format!(
            "[sacn in{u}]\nuniverse = {u}\nunicast = 1\n\n[sacn out{u}]\nuniverse = {}\npriority = 100\n\
             realtime = 1\ndestination = 127.0.0.1 {}\n\n",
            u + 100,
            port + 1
        );
        map += &format!("in{u}.{{1..512}} > out{u}.{{1..512}}\n");
    }
    cfg += &map;
    // A stats interval longer than the test: the only report is the one at exit.
    let mut d = Daemon::start("sigterm", &cfg, &["--stats", "3600"]);
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = Arc::clone(&stop);
        let to = format!("127.0.0.1:{port}");
        std::thread::spawn(move || {
            let tx = sender();
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                for u in 1..=N {
                    let v = (n % 250) as u8;
                    let _ = tx.send_to(&data(cid(0xA1), u, 100, n as u8, &[v; 512]), &to);
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            n
        })
    };
    // Every output universe carries traffic before the signal.
    let t0 = Instant::now();
    loop {
        let active = out.with(|seen| {
            seen.iter()
                .map(|s| s.universe)
                .collect::<std::collections::HashSet<_>>()
                .len()
        });
        if active == usize::from(N) {
            break;
        }
        assert!(t0.elapsed() < T, "only {active} universes active");
        std::thread::sleep(Duration::from_millis(5));
    }
    d.signal("TERM");
    let signalled = Instant::now();
    let exit = d.wait_exit(Duration::from_secs(5));
    let took = signalled.elapsed();
    stop.store(true, Ordering::Relaxed);
    let sent = load.join().expect("load");
    let drops = out.receive_drops();
    let seen = out.finish();
    let mut terminated: HashMap<u16, u32> = HashMap::new();
    for s in seen.iter().filter(|s| s.terminated) {
        *terminated.entry(s.universe).or_default() += 1;
    }
    let (status, _) = exit.expect("patchbay did not exit within 5 s of SIGTERM");
    // What patchbay says it handed to the kernel for the output universes.
    let mut frames_out = 0;
    let mut would_block = None;
    for (scope, c) in d
        .log()
        .iter()
        .filter(|l| l.starts_with("{\"stats\":\"exit\""))
        .filter_map(|l| harness::parse_stats_line(l))
    {
        if scope.starts_with("out") {
            frames_out += c.get("frames_out").copied().unwrap_or(0);
        } else if scope == "bind 0" {
            would_block = c.get("send_would_block").copied();
        }
    }
    eprintln!(
        "sigterm: {sent} rounds of {N} universes sent; exit after {took:?}; terminations {terminated:?}; \
         patchbay sent {frames_out} data packets (send buffer full {would_block:?} times), the test \
         received {} and its socket dropped {drops}",
        seen.len()
    );
    // Otherwise a missing termination might be the test's loss, not patchbay's.
    assert_eq!(drops, 0, "the test's own receive socket overflowed");
    assert_eq!(
        seen.len() as u64,
        frames_out,
        "data packets patchbay sent vs received"
    );
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_millis(2500), "exit took {took:?}");
    for u in 101..=100 + N {
        assert_eq!(
            terminated.get(&u).copied().unwrap_or(0),
            3,
            "terminations of universe {u}"
        );
    }
}

/// SIGHUP with a file that is no configuration: the reload is refused and logged, no crash,
/// forwarding continues with the configuration it started with (tests/reload.rs covers reloads
/// that apply).
#[test]
fn sighup_with_a_broken_file_is_refused_and_forwarding_continues() {
    require_private_netns();
    let port = 15690;
    let out = Output::bind(&format!("127.0.0.1:{}", port + 1));
    let mut d = Daemon::start("sighup", &through_config(port, ""), &[]);
    let tx = sender();
    let to = format!("127.0.0.1:{port}");
    let mut seq = 0u8;
    let mut send = |v: u8| {
        seq = seq.wrapping_add(1);
        tx.send_to(&data(cid(0xA1), 1, 100, seq, &[v; 8]), &to)
            .expect("send");
    };
    let t0 = Instant::now();
    loop {
        send(1);
        if out
            .next(Duration::from_millis(100))
            .is_some_and(|s| s.slots[..8] == [1; 8])
        {
            break;
        }
        assert!(t0.elapsed() < T, "no output");
    }
    // A broken file is not picked up: the refusal is complete, not partial.
    std::fs::write(&d.cfg, "this is not a configuration\n").expect("write");
    let mark = d.line_count();
    for _ in 0..3 {
        d.signal("HUP");
    }
    assert!(
        d.wait_line(mark, T, |l| l
            .contains("reload refused, the running configuration stays"))
            .is_some(),
        "SIGHUP not logged"
    );
    for v in 2..=10 {
        send(v);
        out.expect_values(2, &[v; 8], T, "after SIGHUP");
    }
    assert!(d.alive());
    d.signal("TERM");
    let (status, _) = d.wait_exit(T).expect("exit");
    assert!(status.success());
}

/// W1 load (100 universes × 44 frames/s, all 512 slots mapped through) for `ROBUST_SOAK_SECS`
/// seconds (default 5; the soak is 60: `ROBUST_SOAK_SECS=60`): every input frame is
/// taken in (none dropped below the ceiling), the output never goes back to older values, and
/// the last values of every universe arrive exactly.
#[test]
fn w1_load_loses_nothing_and_final_values_arrive_exactly() {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    require_private_netns();
    let _heavy = heavy();
    let secs: u64 = std::env::var("ROBUST_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let port = 15700;
    const N: u16 = 100;
    let out = Output::bind(&format!("127.0.0.1:{}", port + 1));
    out.sock
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut cfg = format!("[backend sacn]\nbind = 127.0.0.1 {port}\n\n");
    let mut map = String::from("[map]\n");
    for u in 1..=N {
        cfg += &format!(
            "[sacn in{u}]\nuniverse = {u}\nunicast = 1\n\n[sacn out{u}]\nuniverse = {}\npriority = 100\n\
             destination = 127.0.0.1 {}\n\n",
            u + 1000,
            port + 1
        );
        map += &format!("in{u}.{{1..512}} > out{u}.{{1..512}}\n");
    }
    cfg += &map;
    let d = Daemon::start("soak", &cfg, &[]);
    let frame = |u: u16, n: u32| -> Vec<u8> {
        let mut s = vec![0u8; 512];
        s[..4].copy_from_slice(&n.to_be_bytes());
        for (i, b) in s.iter_mut().enumerate().skip(4) {
            *b = (n as usize * 7 + i * 13 + usize::from(u)) as u8;
        }
        s
    };
    let to = format!("127.0.0.1:{port}");
    let tx = sender();
    // Past the sampling period: one frame each, until the output shows universe 1.
    let t0 = Instant::now();
    loop {
        for u in 1..=N {
            tx.send_to(&data(cid(0xA1), u, 100, 0, &frame(u, 0)), &to)
                .expect("send");
        }
        if out.next(Duration::from_millis(100)).is_some() {
            break;
        }
        assert!(t0.elapsed() < T, "no output");
    }
    // Datagrams sent while waiting for the first output may still be queued: let them be
    // processed before the counters are read, so they are not charged to the first case.
    std::thread::sleep(Duration::from_millis(200));
    out.drain();
    let before = d.stats_until("bind 0");
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let sock = out.sock.try_clone().expect("clone");
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let out = Output { sock };
            let mut last: HashMap<u16, Vec<u8>> = HashMap::new();
            let mut stale = Vec::new();
            let mut packets = 0u64;
            let mut quiet_since = None;
            loop {
                match out.next(Duration::from_millis(100)) {
                    Some(s) => {
                        packets += 1;
                        quiet_since = None;
                        let n =
                            u32::from_be_bytes([s.slots[0], s.slots[1], s.slots[2], s.slots[3]]);
                        if let Some(prev) = last.get(&s.universe) {
                            let p = u32::from_be_bytes([prev[0], prev[1], prev[2], prev[3]]);
                            if n < p && stale.len() < 5 {
                                stale.push((s.universe, p, n));
                            }
                        }
                        last.insert(s.universe, s.slots);
                    }
                    None if stop.load(Ordering::Relaxed) => {
                        let q = *quiet_since.get_or_insert_with(Instant::now);
                        if q.elapsed() > Duration::from_millis(500) {
                            break;
                        }
                    }
                    None => {}
                }
            }
            (last, stale, packets)
        })
    };
    let period = Duration::from_micros(1_000_000 / 44);
    let start = Instant::now();
    let mut n = 0u32;
    let mut sent = 0u64;
    let mut seq = 0u8;
    while start.elapsed() < Duration::from_secs(secs) {
        n += 1;
        seq = seq.wrapping_add(1);
        for u in 1..=N {
            tx.send_to(&data(cid(0xA1), u, 100, seq, &frame(u, n)), &to)
                .expect("send");
            sent += 1;
        }
        let next = start + period * n;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    // The three repeats after the last change carry the final values too; let them go out.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let (last, stale, packets) = reader.join().expect("reader");
    let after = d.stats_until("bind 0");
    let taken: i64 = (1..=N)
        .map(|u| delta(&before, &after, &format!("in{u}"), "frames_in"))
        .sum();
    let kernel = delta(&before, &after, "bind 0", "kernel_drops");
    let coalesced: i64 = (1..=N)
        .map(|u| delta(&before, &after, &format!("out{u}"), "coalesced"))
        .sum();
    eprintln!(
        "soak {secs} s: {sent} frames sent ({n} per universe), {taken} taken in, {kernel} dropped \
         by the kernel (counted), {packets} output packets, {coalesced} output changes coalesced"
    );
    assert!(
        stale.is_empty(),
        "output went back to older values: {stale:?}"
    );
    // Nothing silent: every frame is taken in or counted as a kernel drop ...
    assert_eq!(taken + kernel, sent as i64, "frames lost without a count");
    // ... and below the ceiling (4 MiB buffer, 4,400 frames/s) there are none at all.
    if std::env::var_os("ROBUST_ALLOW_KERNEL_DROPS").is_none() {
        assert_eq!(kernel, 0, "frames dropped by a full receive buffer");
    }
    let mut wrong = Vec::new();
    for u in 1..=N {
        let want = frame(u, n);
        match last.get(&(u + 1000)) {
            Some(got) if got[..] == want[..] => {}
            Some(got) => wrong.push(format!(
                "universe {}: last output is frame {}, want {n}",
                u + 1000,
                u32::from_be_bytes([got[0], got[1], got[2], got[3]])
            )),
            None => wrong.push(format!("universe {}: no output", u + 1000)),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `--stats 1` (text): one summary line per instance and bind every second, with the counters
/// of the traffic so far; SIGUSR1 adds one at once and does not stop the daemon.
#[test]
fn periodic_stats_lines_show_the_counters() {
    require_private_netns();
    let port = 15710;
    let out = Output::bind(&format!("127.0.0.1:{}", port + 1));
    let mut d = Daemon::start(
        "statsline",
        &through_config(port, ""),
        &["--stats", "1", "--stats-format", "text"],
    );
    let tx = sender();
    let to = format!("127.0.0.1:{port}");
    let mut seq = 0u8;
    let t0 = Instant::now();
    loop {
        seq = seq.wrapping_add(1);
        tx.send_to(&data(cid(0xA1), 1, 100, seq, &[seq; 8]), &to)
            .expect("send");
        if out.next(Duration::from_millis(100)).is_some() {
            break;
        }
        assert!(t0.elapsed() < T, "no output");
    }
    tx.send_to(&[], &to).expect("send empty");
    let mark = d.line_count();
    let field = |l: &str, name: &str| -> Option<u64> {
        l.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
    };
    // The first line after the empty datagram was counted: bind and instance agree with it.
    let bind = d
        .wait_line(mark, Duration::from_secs(3), |l| {
            l.contains("stats: sacn bind 0: ") && l.contains(" empty=1")
        })
        .map(|i| d.log()[i].clone())
        .expect("no bind line with empty=1");
    let log = d.log();
    let pos = log.iter().rposition(|l| *l == bind).expect("line");
    let inst = log[..pos]
        .iter()
        .rev()
        .find(|l| l.contains("stats: sacn instance 'in': "))
        .expect("instance line before the bind line");
    let frames = field(inst, "frames_in").expect("frames_in");
    let datagrams = field(&bind, "datagrams").expect("datagrams");
    assert!(frames >= 1 && frames <= u64::from(seq), "{inst}");
    assert_eq!(datagrams, frames + 1, "bind: {bind}\ninstance: {inst}");
    assert_eq!(field(&bind, "dropped"), Some(1), "{bind}");
    let mark = d.line_count();
    d.signal("USR1");
    // SIGUSR1 lists every counter, zeros included (well before the next periodic line).
    assert!(
        d.wait_line(mark, Duration::from_millis(900), |l| {
            l.contains("stats: sacn instance 'out': ") && l.contains(" sources_lost=0 ")
        })
        .is_some(),
        "no full SIGUSR1 dump"
    );
    assert!(d.alive());
}

/// Above the output ceiling (44 packets/s per universe without `realtime`) changes arriving at
/// up to 1 kHz are shed by coalescing: counted (`coalesced`), the output only ever moves forward, and
/// the latest value arrives.
#[test]
fn overload_is_shed_by_coalescing_and_the_latest_value_wins() {
    require_private_netns();
    let port = 15720;
    let out = Output::bind(&format!("127.0.0.1:{}", port + 1));
    let cfg = through_config(port, "").replace("realtime = 1\n", "");
    let d = Daemon::start("coalesce", &cfg, &[]);
    let tx = sender();
    let to = format!("127.0.0.1:{port}");
    let mut seq = 0u8;
    let t0 = Instant::now();
    loop {
        seq = seq.wrapping_add(1);
        tx.send_to(&data(cid(0xA1), 1, 100, seq, &[1; 8]), &to)
            .expect("send");
        if out.next(Duration::from_millis(100)).is_some() {
            break;
        }
        assert!(t0.elapsed() < T, "no output");
    }
    std::thread::sleep(Duration::from_millis(200));
    out.drain();
    let before = d.stats();
    let start = Instant::now();
    for v in 2..=250u8 {
        seq = seq.wrapping_add(1);
        tx.send_to(&data(cid(0xA1), 1, 100, seq, &[v; 8]), &to)
            .expect("send");
        std::thread::sleep(Duration::from_millis(1));
    }
    let burst = start.elapsed();
    let mut seen = Vec::new();
    while let Some(s) = out.next(Duration::from_millis(300)) {
        seen.push(s.slots[0]);
    }
    let after = d.stats();
    let coalesced = delta(&before, &after, "out", "coalesced");
    let taken = delta(&before, &after, "in", "frames_in");
    eprintln!(
        "coalescing: 249 changes in {burst:?}, {taken} taken in, {} output packets, {coalesced} coalesced",
        seen.len()
    );
    assert_eq!(taken, 249, "input frames");
    assert_eq!(
        seen.last(),
        Some(&250),
        "latest value did not arrive: {seen:?}"
    );
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "output went backwards: {seen:?}"
    );
    assert!(coalesced > 0, "nothing counted as coalesced");
    // 44/s during the burst, then the three repeats of the last change.
    let limit = (burst.as_secs_f64() * 44.0).ceil() as usize + 8;
    assert!(
        seen.len() <= limit,
        "{} packets, more than the rate limit allows ({limit})",
        seen.len()
    );
}
