//! OLA (the Open Lighting Architecture's `olad`, Debian package `ola`) as an Art-Net peer.
//!
//! Why OLA gets a network namespace of its own, joined to the test namespace by a veth pair
//! (`pbola0` 198.19.0.1 here, `pbola1` 198.19.0.2 there): OLA's Art-Net node binds
//! 0.0.0.0:6454 and sends from there, so on the same host as patchbay every packet between the
//! two would carry the receiver's own address as its source, and OLA's ArtPoll goes to its
//! interface's broadcast address, which needs a `brd` the shared test interfaces do not have.
//! Two namespaces are two hosts: OLA polls, patchbay answers, OLA lists it as a node and sends
//! it data, and patchbay's output reaches OLA's input port.
//!
//! olad refuses to run as root, so it runs as `nobody` (setpriv); its configuration is a fresh
//! directory with every plugin but Art-Net disabled. The clients (ola_patch, ola_artnet,
//! ola_streaming_client, ola_recorder) run in OLA's namespace (nsenter), where its RPC port is.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{Checker, HINT, start};
use crate::util::{guard, poll};

const OLA_NET: &str = r#"
for i in $(seq 100); do ip link show pbola1 >/dev/null 2>&1 && break; sleep 0.05; done
ip link set lo up
ip addr add 198.19.0.2/24 brd + dev pbola1
ip link set pbola1 up
exec setpriv --reuid=nobody --regid=nogroup --clear-groups olad -c "$1" -l 3 --no-http --no-register-with-dns-sd
"#;

/// Plugins olad has besides Art-Net, all disabled so it opens nothing else.
const OTHER_PLUGINS: &[&str] = &[
    "dummy",
    "e131",
    "espnet",
    "ftdidmx",
    "gpio",
    "karate",
    "kinet",
    "milinst",
    "opendmx",
    "openpixelcontrol",
    "osc",
    "pathport",
    "renard",
    "sandnet",
    "shownet",
    "spi",
    "stageprofi",
    "uartdmx",
    "usbdmx",
    "usbserial",
];

fn sh(cmd: &str) -> std::process::Output {
    Command::new("sh").args(["-c", cmd]).output().expect("sh")
}

/// The veth pair, olad and tshark; all removed when dropped.
struct OlaNet {
    olad: Child,
    tshark: Option<Child>,
    _dir: tempfile::TempDir,
}

impl OlaNet {
    fn nsenter(&self, args: &[&str]) -> std::process::Output {
        Command::new("nsenter")
            .arg(format!("--net=/proc/{}/ns/net", self.olad.id()))
            .args(args)
            .output()
            .expect("nsenter")
    }
}

impl Drop for OlaNet {
    fn drop(&mut self) {
        for c in [Some(&mut self.olad), self.tshark.as_mut()]
            .into_iter()
            .flatten()
        {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = sh("ip link del pbola0 2>/dev/null");
    }
}

fn write_config(dir: &Path) {
    for p in OTHER_PLUGINS {
        std::fs::write(dir.join(format!("ola-{p}.conf")), "enabled = false\n").unwrap();
    }
    std::fs::write(
        dir.join("ola-artnet.conf"),
        "enabled = true\nip = 198.19.0.2\nlong_name = OLA test node\nshort_name = ola-test\n\
         net = 0\nsubnet = 0\noutput_ports = 4\nalways_broadcast = false\n\
         use_limited_broadcast = false\nuse_loopback = false\n",
    )
    .unwrap();
    sh(&format!("chmod -R a+rwX {}", dir.display()));
}

#[test]
fn ola_polls_lists_sends_to_and_receives_from_patchbay() {
    guard();
    assert!(
        sh("command -v olad && command -v ola_recorder")
            .status
            .success(),
        "olad is not installed; {HINT}"
    );
    let _ = sh("ip link del pbola0 2>/dev/null");
    let up = sh("ip link add pbola0 type veth peer name pbola1 && \
                 ip addr add 198.19.0.1/24 brd + dev pbola0 && ip link set pbola0 up");
    assert!(up.status.success(), "cannot make the veth pair: {up:?}");
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let capdir = tempfile::tempdir().unwrap();
    let pcap = capdir.path().join("cap.pcapng");
    let tshark = Command::new("tshark")
        .args(["-i", "pbola0", "-f", "udp port 6454", "-q", "-w"])
        .arg(&pcap)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| panic!("cannot run tshark ({e}); {HINT}"))
        .ok();
    // OLA's universe 1 goes out on Art-Net 0:0:1; its input port patched to universe 2 takes
    // Art-Net 0:0:2 (OLA addresses a port by its universe). patchbay shifts slots 1-3 to 4-6.
    let cfg = "[backend artnet]\nbind = 198.19.0.1 6454\n\n[artnet fromola]\nuni = 1\n\n\
               [artnet toola]\nuni = 2\ndest = 198.19.0.2\n\n[map]\nfromola.{1..3} > toola.{4..6}\n";
    let pb = start(cfg, 6454);
    let olad = Command::new("unshare")
        .args(["--net", "sh", "-c", OLA_NET, "ola-net"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("olad.log")).unwrap())
        .spawn()
        .expect("unshare");
    let pid = olad.id();
    let ola = OlaNet {
        olad,
        tshark,
        _dir: dir,
    };
    // unshare may not have made its namespace yet: moving the link before would move it into
    // ours, a no-op.
    let own = std::fs::read_link("/proc/self/ns/net").unwrap();
    let entered = poll(Duration::from_secs(5), || {
        std::fs::read_link(format!("/proc/{pid}/ns/net"))
            .ok()
            .filter(|ns| *ns != own)
    });
    assert!(entered.is_some(), "olad's namespace was not made");
    let moved = sh(&format!("ip link set pbola1 netns {pid}"));
    assert!(moved.status.success(), "{moved:?}");
    let olad_log = || std::fs::read_to_string(ola._dir.path().join("olad.log")).unwrap_or_default();
    let device = poll(Duration::from_secs(10), || {
        let out = ola.nsenter(&["ola_dev_info"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.lines()
            .find(|l| l.contains(": ArtNet"))
            .and_then(|l| l.strip_prefix("Device "))
            .and_then(|l| l.split(':').next())
            .map(str::to_string)
    })
    .unwrap_or_else(|| panic!("olad did not start its Art-Net device\n{}", olad_log()));
    for args in [["-p", "0", "-u", "1"], ["-p", "1", "-i", "-u"]] {
        let mut a = vec!["ola_patch", "-d", &device];
        a.extend(args);
        if a.last() == Some(&"-u") {
            a.push("2");
        }
        let out = ola.nsenter(&a);
        assert!(out.status.success(), "{a:?}: {out:?}");
    }
    // OLA's node list (from patchbay's ArtPollReply) names patchbay for universe 1.
    let listed = poll(Duration::from_secs(25), || {
        let out = ola.nsenter(&["ola_artnet", "-d", &device, "-u", "1"]);
        String::from_utf8_lossy(&out.stdout)
            .contains("198.19.0.1")
            .then_some(())
    });
    assert!(
        listed.is_some(),
        "OLA does not list patchbay\n{}\n{}",
        olad_log(),
        pb.log()
    );
    let rec = ola._dir.path().join("rec.txt");
    let mut recorder = Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .args(["ola_recorder", "-u", "2", "--duration", "4", "-r"])
        .arg(&rec)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..6 {
        ola.nsenter(&["ola_streaming_client", "-u", "1", "-d", "10,20,30"]);
        std::thread::sleep(Duration::from_millis(400));
    }
    // It stops after --duration; bounded anyway, and killed if it did not.
    let _ = poll(Duration::from_secs(6), || {
        recorder.try_wait().ok().flatten()
    });
    let _ = recorder.kill();
    let _ = recorder.wait();
    let show = std::fs::read_to_string(&rec).unwrap_or_default();
    assert!(
        show.lines().any(|l| l.starts_with("2 0,0,0,10,20,30,0")),
        "OLA's universe 2 never had 10, 20, 30 at slots 4-6:\n{}\n--- olad\n{}\n--- patchbay\n{}",
        show.lines().take(3).collect::<Vec<_>>().join("\n"),
        olad_log(),
        pb.log()
    );
    // Everything patchbay sent on the link passes the independent parser. tshark writes out
    // what it holds on SIGTERM.
    let mut ola = ola;
    if let Some(t) = ola.tshark.take() {
        sh(&format!("kill -TERM {}", t.id()));
        let mut t = t;
        let _ = poll(Duration::from_secs(5), || t.try_wait().ok().flatten());
        let _ = t.kill();
        let _ = t.wait();
    }
    drop(ola);
    let fields = Command::new("tshark")
        .args(["-r"])
        .arg(&pcap)
        .args(["-T", "fields", "-e", "ip.src", "-e", "udp.payload"])
        .stderr(Stdio::null())
        .output();
    {
        let out = fields.unwrap_or_else(|e| panic!("tshark: {e}; {HINT}"));
        let mut checker = Checker::new();
        let mut kinds = std::collections::BTreeSet::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(("198.19.0.1", hex)) = line.split_once('\t') {
                let v = checker.check(&crate::util::unhex(hex));
                kinds.insert(v["op"].as_str().unwrap_or("").to_string());
            }
        }
        assert!(
            kinds.contains("dmx") && kinds.contains("poll_reply"),
            "captured from patchbay: {kinds:?}"
        );
    }
}
