//! The load tool against the raw forwarder binary for about a second at a low rate: every frame
//! must arrive whole. Opens sockets, so it refuses to run outside a private network namespace
//! (`scripts/netns-run cargo test -p patchbay-load`).
#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use patchbay_load::session::{Mode, PatternKind, Setup};
use patchbay_load::workloads::{RunPlan, TargetSpec, run};

fn setup(mode: Mode, pattern: PatternKind, target_port: u16, listen_port: u16) -> Setup {
    Setup {
        input: patchbay_load::packet::Wire::Sacn,
        universes: 10,
        first: 1,
        offset: 1000,
        mode,
        target: SocketAddrV4::new(Ipv4Addr::LOCALHOST, target_port),
        listen: SocketAddrV4::new(Ipv4Addr::LOCALHOST, listen_port),
        self_test: false,
        pattern,
        spin_ns: 0,
        chunks: 1,
        pid: None,
    }
}

fn forwarder(args: &[&str]) -> TargetSpec {
    let mut argv = vec![env!("CARGO_BIN_EXE_raw-forwarder").to_string()];
    argv.extend(args.iter().map(|s| s.to_string()));
    TargetSpec {
        argv,
        pid: None,
        log: None,
    }
}

fn plan() -> RunPlan {
    RunPlan {
        warmup: Duration::from_millis(100),
        phases: vec![("measure".into(), 100.0, Duration::from_secs(1))],
        drain: Duration::from_millis(300),
        hook: None,
    }
}

fn assert_whole(out: &patchbay_load::workloads::RunOutcome) {
    let m = &out.phases[1];
    assert_eq!(m.name, "measure");
    // On a loaded machine the sender may skip a tick it woke up too late for (all universes).
    assert!(m.skipped_ticks < 10, "{m:?}");
    assert_eq!(m.sent, 10 * (100 - m.skipped_ticks), "{m:?}");
    assert_eq!(
        (m.received, m.lost, m.torn, m.reordered),
        (m.sent, 0, 0, 0),
        "{m:?}"
    );
    assert_eq!(m.send_failed, 0);
    assert!(m.lat_max_us > 0.0 && m.lat_p50_us <= m.lat_p99_us, "{m:?}");
    assert!(
        m.target_cpu_pct.is_some() && m.target_rss_kb.unwrap() > 0,
        "{m:?}"
    );
    assert_eq!(out.strays.2, 0, "no foreign universes");
    assert_eq!(
        out.final_exact,
        (10, 10),
        "every universe ends on its last frame"
    );
}

#[test]
fn unicast_full_pattern_arrives_whole() {
    patchbay_net::netns::require_private_netns();
    let out = run(
        &setup(Mode::Unicast, PatternKind::Full, 15568, 16000),
        &forwarder(&["--listen", "127.0.0.1:15568", "--to", "127.0.0.1:16000"]),
        &plan(),
    )
    .unwrap();
    assert_whole(&out);
}

#[test]
fn unicast_single_slot_pattern_arrives_whole() {
    patchbay_net::netns::require_private_netns();
    // Also spreads the universes over three sends per period (--chunks 3).
    let mut s = setup(Mode::Unicast, PatternKind::Single, 15569, 16001);
    s.chunks = 3;
    let out = run(
        &s,
        &forwarder(&["--listen", "127.0.0.1:15569", "--to", "127.0.0.1:16001"]),
        &plan(),
    )
    .unwrap();
    assert_whole(&out);
}

#[test]
fn multicast_arrives_whole() {
    patchbay_net::netns::require_private_netns();
    let out = run(
        &setup(Mode::Multicast, PatternKind::Full, 5568, 0),
        &forwarder(&["--multicast", "--first", "1", "-u", "10"]),
        &plan(),
    )
    .unwrap();
    assert_whole(&out);
}

/// A forwarder that tears every second frame of each universe (slots 101..512 from the frame
/// before, as MIDIMonster does): the tool must count exactly those as torn, the others as received,
/// and none as lost.
#[test]
fn tearing_forwarder_is_caught_frame_by_frame() {
    patchbay_net::netns::require_private_netns();
    let rx = std::net::UdpSocket::bind("127.0.0.1:15570").unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let fwd = std::thread::spawn(move || {
        let mut prev: std::collections::HashMap<u16, Vec<u8>> = Default::default();
        let mut count: std::collections::HashMap<u16, u64> = Default::default();
        let mut buf = [0u8; 2000];
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let Ok(n) = rx.recv(&mut buf) else { continue };
            let p = buf[..n].to_vec();
            let u = patchbay_load::packet::universe(&p).unwrap();
            let k = count.entry(u).or_default();
            *k += 1;
            let mut out = p.clone();
            if (*k).is_multiple_of(2)
                && let Some(old) = prev.get(&u)
            {
                out[126 + 100..].copy_from_slice(&old[126 + 100..]);
            }
            patchbay_load::packet::shift_universe(&mut out, 1000).unwrap();
            rx.send_to(&out, "127.0.0.1:16002").unwrap();
            prev.insert(u, p);
        }
    });
    let hooked = std::env::temp_dir().join(format!("patchbay-load-hook-{}", std::process::id()));
    let plan = RunPlan {
        warmup: Duration::ZERO,
        phases: vec![("measure".into(), 50.0, Duration::from_secs(1))],
        drain: Duration::from_millis(300),
        hook: Some(format!("echo \"$PHASE\" >> '{}'", hooked.display())),
    };
    let out = run(
        &setup(Mode::Unicast, PatternKind::Full, 15570, 16002),
        &TargetSpec::default(),
        &plan,
    )
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    fwd.join().unwrap();
    let m = &out.phases[0];
    assert!(m.skipped_ticks < 5, "{m:?}");
    let per_universe = 50 - m.skipped_ticks;
    assert_eq!(m.sent, 10 * per_universe, "{m:?}");
    assert_eq!(m.torn, 10 * (per_universe / 2), "{m:?}");
    assert_eq!(m.received, m.sent - m.torn, "{m:?}");
    assert_eq!(m.lost, 0, "{m:?}");
    let ran = std::fs::read_to_string(&hooked).unwrap();
    let _ = std::fs::remove_file(&hooked);
    assert_eq!(
        ran, "measure\n",
        "the phase hook ran once, with the phase's name"
    );
}
