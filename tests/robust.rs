//! Robustness of the running binary (issue 7): malformed and hostile input, floods, sequence
//! chaos, source loss, link down/up, unreachable destinations, signals under load.
//!
//! Every test that opens a socket or starts the binary calls `require_private_netns()` first.
//! Build outside, run inside:
//! `cargo test --test robust --no-run && ../shared/tools/netns-run --veth cargo test --offline --test robust`.
//! Each test uses its own ports, so they run in parallel. `ROBUST_ECHO=1` echoes patchbay's
//! stderr.

#[path = "robust/harness.rs"]
mod harness;
#[path = "robust/malformed.rs"]
mod malformed;

use std::time::{Duration, Instant};

use harness::{Daemon, Output, Report, changes, cid, data, delta, sender};
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
