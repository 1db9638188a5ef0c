//! The load tool against the raw forwarder binary for about a second at a low rate: every frame
//! must arrive whole. Opens sockets, so it refuses to run outside a private network namespace
//! (`netns-run cargo test -p patchbay-load`).
#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use patchbay_load::session::{Mode, PatternKind, Setup};
use patchbay_load::workloads::{RunPlan, TargetSpec, run};

fn setup(mode: Mode, pattern: PatternKind, target_port: u16, listen_port: u16) -> Setup {
    Setup {
        universes: 10,
        first: 1,
        offset: 1000,
        mode,
        target: SocketAddrV4::new(Ipv4Addr::LOCALHOST, target_port),
        listen: SocketAddrV4::new(Ipv4Addr::LOCALHOST, listen_port),
        self_test: false,
        pattern,
        spin_ns: 0,
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
    }
}

fn assert_whole(out: &patchbay_load::workloads::RunOutcome) {
    let m = &out.phases[1];
    assert_eq!(m.name, "measure");
    assert_eq!(m.sent, 10 * 100, "{m:?}");
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
    let out = run(
        &setup(Mode::Unicast, PatternKind::Single, 15569, 16001),
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
