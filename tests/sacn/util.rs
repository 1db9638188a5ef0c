//! Shared machinery of the sACN integration tests: the patchbay process, capture sockets, a raw
//! E1.31 sender, the python `sacn` peer and the strict checker tests/peers/e131_check.py.
//!
//! Every wait is bounded; a helper that times out returns what it saw so the assertion can print it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use patchbay_sacn::Cid;
use patchbay_sacn::wire::{self, DataHeader, Options, Packet};
use socket2::{Domain, Protocol, Socket, Type};

pub const VETH0: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const VETH0_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x5ac, 0, 0, 0, 0, 1);
pub const SACN_PORT: u16 = 5568;

/// Refuses to run outside the private network namespace (the network rule), then returns.
pub fn guard() {
    patchbay_net::netns::require_private_netns();
}

/// Tests that use port 5568 for unicast, or the python peer (whose senders can only send to 5568),
/// run one at a time: Linux hands a unicast datagram to a single one of the sockets sharing a port.
/// Tests that only use multicast on their own universes, or private ports, run in parallel.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A CID unique to a test, so captures can tell its packets from other tests' (discovery).
pub fn test_cid(n: u8) -> Cid {
    Cid([
        0x5a, 0xc1, 0x7e, 0x57, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, n,
    ])
}

pub fn cid_text(c: Cid) -> String {
    let h: String = c.0.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

pub fn group_v4(universe: u16) -> Ipv4Addr {
    let [hi, lo] = universe.to_be_bytes();
    Ipv4Addr::new(239, 255, hi, lo)
}

/// ETC layout (E1.31-2018 9.3): `ff18::8300:HHLL`.
pub fn group_v6(universe: u16) -> Ipv6Addr {
    Ipv6Addr::new(0xff18, 0, 0, 0, 0, 0, 0x8300, universe)
}

/// The literal reading `ff18::83:0:HH:LL` (not what patchbay joins).
pub fn group_v6_literal(universe: u16) -> Ipv6Addr {
    let [hi, lo] = universe.to_be_bytes();
    Ipv6Addr::new(0xff18, 0, 0, 0, 0x83, 0, u16::from(hi), u16::from(lo))
}

pub fn ifindex(name: &str) -> u32 {
    // /proc/net/if_inet6 is per namespace (sysfs may show the host's, see patchbay_net::netns);
    // every test interface has an IPv6 address (lo ::1, the veths 2001:db8:5ac::1/2 and link-local).
    let v6 = std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default();
    v6.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() == 6 && f[5] == name)
        .and_then(|f| u32::from_str_radix(f[1], 16).ok())
        .unwrap_or_else(|| panic!("no interface {name} in /proc/net/if_inet6"))
}

/// Polls `f` every 10 ms until it returns `Some` or `timeout` passes.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------------
// The patchbay process
// ---------------------------------------------------------------------------------------------

pub struct Patchbay {
    child: Child,
    /// Holds the config and logs; removed when the test ends.
    _dir: tempfile::TempDir,
    log: PathBuf,
}

impl Patchbay {
    /// Writes `config` to a fresh directory and starts the binary on it (debug logging to a file).
    /// Returns once the process has a UDP socket bound to `port` (plus a short settle time for its
    /// multicast joins), or panics with its log if it exits or does not get there in 10 s.
    pub fn start(config: &str, port: u16) -> Patchbay {
        Self::start_with(config, port, &["-d"])
    }

    /// As [`Patchbay::start`], with these command line arguments before the config path.
    pub fn start_with(config: &str, port: u16, args: &[&str]) -> Patchbay {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("test.cfg");
        std::fs::write(&cfg, config).expect("write config");
        Self::spawn(dir, &cfg, port, args)
    }

    /// Starts the binary on an existing configuration file (its path is part of the default CID).
    pub fn start_file(cfg: &Path, port: u16) -> Patchbay {
        Self::spawn(tempfile::tempdir().expect("tempdir"), cfg, port, &["-d"])
    }

    /// As [`Patchbay::start_file`], with these command line arguments before the config path
    /// (tests/reload.rs, which shares this file).
    #[allow(dead_code)]
    pub fn start_file_with(cfg: &Path, port: u16, args: &[&str]) -> Patchbay {
        Self::spawn(tempfile::tempdir().expect("tempdir"), cfg, port, args)
    }

    fn spawn(dir: tempfile::TempDir, cfg: &Path, port: u16, args: &[&str]) -> Patchbay {
        guard();
        let config = std::fs::read_to_string(cfg).unwrap_or_default();
        let log = dir.path().join("patchbay.log");
        let child = Command::new(env!("CARGO_BIN_EXE_patchbay"))
            .args(args)
            .arg(cfg)
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("stdout.log")).expect("log"))
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("start patchbay");
        let mut pb = Patchbay {
            child,
            _dir: dir,
            log,
        };
        let ready = poll(Duration::from_secs(10), || {
            if let Ok(Some(status)) = pb.child.try_wait() {
                panic!(
                    "patchbay exited at start with {status}\n--- config\n{config}\n--- log\n{}",
                    pb.log()
                );
            }
            has_udp_port(pb.child.id(), port).then_some(())
        });
        if ready.is_none() {
            panic!(
                "patchbay did not bind port {port} within 10 s\n--- log\n{}",
                pb.log()
            );
        }
        std::thread::sleep(Duration::from_millis(300));
        pb
    }

    pub fn log(&self) -> String {
        let mut s = std::fs::read_to_string(&self.log).unwrap_or_default();
        if s.len() > 20_000 {
            s = format!("...{}", &s[s.len() - 20_000..]);
        }
        s
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIG`sig` (e.g. "TERM") with the shell's builtin `kill` (no procps needed).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("sh")
            .args(["-c", &format!("kill -{sig} {}", self.child.id())])
            .status()
            .expect("sh");
        assert!(ok.success(), "kill -{sig} failed");
    }

    /// Waits for the process to exit (at most `timeout`); `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        poll(timeout, || self.child.try_wait().ok().flatten())
    }

    /// Panics with the log if the process is no longer running.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("patchbay exited with {status}\n--- log\n{}", self.log());
        }
    }
}

impl Drop for Patchbay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether process `pid` owns a UDP socket (IPv4 or IPv6) bound to local port `port`.
fn has_udp_port(pid: u32, port: u16) -> bool {
    let mut inodes = Vec::new();
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                continue;
            }
            let local_port = f[1]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .map(|t| inodes.iter().any(|i| Path::new(i) == t))
            .unwrap_or(false)
    })
}

/// Interfaces on which `group` is joined, from /proc/net/igmp (IPv4) or /proc/net/igmp6.
pub fn joined_on(group: IpAddr) -> Vec<String> {
    joined_table(group).remove(&group).unwrap_or_default()
}

/// The interfaces `group` is joined on once it is joined anywhere (3 s at most; empty if never).
pub fn wait_joined(group: IpAddr) -> Vec<String> {
    poll(Duration::from_secs(3), || {
        let j = joined_on(group);
        (!j.is_empty()).then_some(j)
    })
    .unwrap_or_default()
}

/// group → interfaces for every group of `group`'s family joined in this namespace.
pub fn joined_table(family: IpAddr) -> HashMap<IpAddr, Vec<String>> {
    let mut out: HashMap<IpAddr, Vec<String>> = HashMap::new();
    match family {
        IpAddr::V4(_) => {
            // "Idx Device : Count Querier" lines, then "\t\t\t\tGROUP(hex, host order) Users ...".
            let text = std::fs::read_to_string("/proc/net/igmp").unwrap_or_default();
            let mut dev = String::new();
            for line in text.lines().skip(1) {
                if !line.starts_with('\t') {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    dev = f.get(1).unwrap_or(&"").trim_end_matches(':').to_string();
                } else if let Some(g) = line
                    .split_whitespace()
                    .next()
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                {
                    let g = IpAddr::V4(Ipv4Addr::from(g.to_le_bytes()));
                    out.entry(g).or_default().push(dev.clone());
                }
            }
        }
        IpAddr::V6(_) => {
            let text = std::fs::read_to_string("/proc/net/igmp6").unwrap_or_default();
            for line in text.lines() {
                let f: Vec<&str> = line.split_whitespace().collect();
                if f.len() >= 3 && f[2].len() == 32 {
                    let b: [u8; 16] = unhex(f[2]).try_into().expect("16 bytes");
                    let g = IpAddr::V6(Ipv6Addr::from(b));
                    out.entry(g).or_default().push(f[1].to_string());
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Capture sockets
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct Captured {
    pub at: Instant,
    pub from: SocketAddr,
    pub bytes: Vec<u8>,
}

impl Captured {
    pub fn data(&self) -> Option<wire::DataPacket<'_>> {
        match Packet::parse(&self.bytes) {
            Ok(Packet::Data(d)) => Some(d),
            _ => None,
        }
    }
}

/// A socket that records every datagram it receives on a background thread.
pub struct Capture {
    pkts: Arc<Mutex<Vec<Captured>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pub local: SocketAddr,
}

impl Capture {
    /// IPv4 wildcard socket on `port` (0 = any) with IP_MULTICAST_ALL off, joined to `groups` on
    /// the interface holding `iface`: it sees those groups and unicast to its port, nothing else.
    pub fn v4(port: u16, iface: Ipv4Addr, groups: &[Ipv4Addr]) -> Capture {
        guard();
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).expect("socket");
        s.set_reuse_address(true).expect("reuse");
        s.set_multicast_all_v4(false).expect("multicast_all");
        s.bind(&SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port).into())
            .expect("bind capture");
        for g in groups {
            s.join_multicast_v4(g, &iface).expect("join");
        }
        Self::run(s)
    }

    /// IPv6 wildcard socket on `port`, IPV6_MULTICAST_ALL off, joined to `groups` on `ifindex`.
    pub fn v6(port: u16, ifindex: u32, groups: &[Ipv6Addr]) -> Capture {
        guard();
        let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)).expect("socket");
        s.set_reuse_address(true).expect("reuse");
        s.set_only_v6(true).expect("v6only");
        s.set_multicast_all_v6(false).expect("multicast_all");
        s.bind(&SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port).into())
            .expect("bind capture");
        for g in groups {
            s.join_multicast_v6(g, ifindex).expect("join");
        }
        Self::run(s)
    }

    fn run(s: Socket) -> Capture {
        s.set_recv_buffer_size(4 << 20).ok();
        let sock: UdpSocket = s.into();
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        let local = sock.local_addr().expect("local addr");
        let pkts = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, st) = (pkts.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !st.load(Ordering::Relaxed) {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    p.lock().unwrap_or_else(|e| e.into_inner()).push(Captured {
                        at: Instant::now(),
                        from,
                        bytes: buf[..n].to_vec(),
                    });
                }
            }
        });
        Capture {
            pkts,
            stop,
            thread: Some(thread),
            local,
        }
    }

    pub fn port(&self) -> u16 {
        self.local.port()
    }

    pub fn all(&self) -> Vec<Captured> {
        self.pkts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Packets whose CID is `cid` (data, sync and discovery).
    pub fn of_cid(&self, cid: Cid) -> Vec<Captured> {
        self.all()
            .into_iter()
            .filter(|c| c.bytes.len() >= 38 && c.bytes[22..38] == cid.0)
            .collect()
    }

    /// Data packets of `cid` for `universe`.
    pub fn data_of(&self, cid: Cid, universe: u16) -> Vec<Captured> {
        self.of_cid(cid)
            .into_iter()
            .filter(|c| c.data().is_some_and(|d| d.universe() == universe))
            .collect()
    }

    /// Waits until the latest data packet of (`cid`, `universe`) satisfies `pred`; returns its slots.
    /// Calls `send` every 100 ms until output of `universe` from `cid` whose slots satisfy
    /// `pred` arrives, for 8 s at most (a patchbay just started may not listen yet). Returns
    /// those slots.
    pub fn send_until(
        &self,
        cid: Cid,
        universe: u16,
        mut send: impl FnMut(),
        pred: impl Fn(&[u8]) -> bool,
    ) -> Option<Vec<u8>> {
        poll(Duration::from_secs(8), || {
            send();
            self.wait_slots(cid, universe, Duration::from_millis(100), &pred)
                .ok()
        })
    }

    pub fn wait_slots(
        &self,
        cid: Cid,
        universe: u16,
        timeout: Duration,
        pred: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<u8>, String> {
        let got = poll(timeout, || {
            let d = self.data_of(cid, universe);
            let last = d.last()?;
            let slots = last.data()?.slots().to_vec();
            pred(&slots).then_some(slots)
        });
        got.ok_or_else(|| {
            let d = self.data_of(cid, universe);
            match d.last().and_then(|c| c.data().map(|d| d.slots().to_vec())) {
                Some(s) => format!(
                    "{} packets of universe {universe}; the last has slots {:?}",
                    d.len(),
                    nonzero(&s)
                ),
                None => format!("no data packet of universe {universe} captured"),
            }
        })
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// (slot number, value) of every non-zero slot, for readable failure messages.
pub fn nonzero(slots: &[u8]) -> Vec<(usize, u8)> {
    slots
        .iter()
        .enumerate()
        .filter(|(_, v)| **v != 0)
        .map(|(i, v)| (i + 1, *v))
        .collect()
}

/// First differing slots between `got` and `want` (1-based), for failure messages.
pub fn diff(got: &[u8], want: &[u8]) -> Vec<(usize, u8, u8)> {
    (0..got.len().max(want.len()))
        .filter_map(|i| {
            let (g, w) = (
                got.get(i).copied().unwrap_or(0),
                want.get(i).copied().unwrap_or(0),
            );
            (g != w).then_some((i + 1, g, w))
        })
        .take(12)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// A raw E1.31 sender (packets from patchbay_sacn::wire, or from e131_check.py)
// ---------------------------------------------------------------------------------------------

pub struct RawSender {
    pub sock: UdpSocket,
    pub cid: Cid,
    pub name: String,
    seq: HashMap<u16, u8>,
    sync_seq: HashMap<u16, u8>,
    /// Datagrams sent so far.
    pub sent: u64,
}

impl RawSender {
    /// IPv4 socket bound to `bind`:0, multicast out of that address's interface, with loopback on
    /// (so traffic out of a veth reaches this host's own sockets).
    pub fn v4(bind: Ipv4Addr, cid: Cid) -> RawSender {
        guard();
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).expect("socket");
        s.bind(&SocketAddr::new(bind.into(), 0).into())
            .expect("bind");
        s.set_multicast_if_v4(&bind).expect("mcast if");
        s.set_multicast_loop_v4(true).expect("loop");
        s.set_send_buffer_size(4 << 20).ok();
        Self::from(s, cid)
    }

    pub fn v6(bind: Ipv6Addr, ifindex: u32, cid: Cid) -> RawSender {
        guard();
        let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)).expect("socket");
        s.bind(&SocketAddr::new(bind.into(), 0).into())
            .expect("bind");
        s.set_multicast_if_v6(ifindex).expect("mcast if");
        s.set_multicast_loop_v6(true).expect("loop");
        Self::from(s, cid)
    }

    fn from(s: Socket, cid: Cid) -> RawSender {
        RawSender {
            sock: s.into(),
            cid,
            name: "raw test source".into(),
            seq: HashMap::new(),
            sync_seq: HashMap::new(),
            sent: 0,
        }
    }

    fn next_seq(&mut self, universe: u16) -> u8 {
        let s = self.seq.entry(universe).or_insert(0);
        let v = *s;
        *s = s.wrapping_add(1);
        v
    }

    /// Builds a data packet with patchbay_sacn::wire (next sequence number of `universe`).
    pub fn build(&mut self, universe: u16, priority: u8, options: u8, slots: &[u8]) -> Vec<u8> {
        self.build_synced(universe, priority, options, 0, slots)
    }

    /// A data packet naming synchronization universe `sync` (0 = none).
    pub fn build_synced(
        &mut self,
        universe: u16,
        priority: u8,
        options: u8,
        sync: u16,
        slots: &[u8],
    ) -> Vec<u8> {
        let sequence = self.next_seq(universe);
        self.build_with_seq(universe, priority, options, sync, sequence, slots)
    }

    /// A data packet with the given sequence number (the counter is not touched).
    pub fn build_with_seq(
        &self,
        universe: u16,
        priority: u8,
        options: u8,
        sync: u16,
        sequence: u8,
        slots: &[u8],
    ) -> Vec<u8> {
        let h = DataHeader {
            cid: self.cid,
            source_name: &self.name,
            priority,
            sync_address: sync,
            sequence,
            options: Options::from_bits(options),
            universe,
            start_code: 0,
        };
        let mut buf = [0u8; wire::MAX_DATA_PACKET_LEN];
        let n = wire::write_data(&mut buf, &h, slots).expect("build packet");
        buf[..n].to_vec()
    }

    /// A synchronization packet for `sync_universe` (its own sequence counter, as E1.31 wants).
    pub fn build_sync(&mut self, sync_universe: u16) -> Vec<u8> {
        let s = self.sync_seq.entry(sync_universe).or_insert(0);
        let seq = *s;
        *s = s.wrapping_add(1);
        let mut buf = [0u8; wire::SYNC_PACKET_LEN];
        let n = wire::write_sync(&mut buf, self.cid, seq, sync_universe).expect("sync packet");
        buf[..n].to_vec()
    }

    /// Builds a data packet with e131_check.py's `build_data`.
    pub fn build_e131(
        &mut self,
        tool: &mut E131,
        universe: u16,
        priority: u8,
        slots: &[u8],
    ) -> Vec<u8> {
        let seq = self.next_seq(universe);
        tool.build(self.cid, &self.name, universe, seq, priority, 0, slots)
    }

    pub fn send(&mut self, to: SocketAddr, universe: u16, priority: u8, slots: &[u8]) {
        let p = self.build(universe, priority, 0, slots);
        self.send_raw(to, &p);
    }

    pub fn send_raw(&mut self, to: SocketAddr, packet: &[u8]) {
        self.sock.send_to(packet, to).expect("send");
        self.sent += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// e131_check.py: strict parser and independent builder
// ---------------------------------------------------------------------------------------------

/// What a test says when a peer it needs is missing.
pub const SETUP_HINT: &str =
    "scripts/setup installs every test peer (python3, python `sacn` 1.11.0; README, Prerequisites)";

pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// e131_check.py's decode of one datagram.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub kind: String,
    pub errors: usize,
    pub error_text: String,
    pub fields: HashMap<String, String>,
}

impl Parsed {
    pub fn num(&self, k: &str) -> i64 {
        self.fields
            .get(k)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("e131_check.py gave no numeric {k}: {self:?}"))
    }
    pub fn slots(&self) -> Vec<u8> {
        unhex(self.fields.get("slots").map(String::as_str).unwrap_or(""))
    }
    pub fn universes(&self) -> Vec<u16> {
        self.fields
            .get("universes")
            .map(|u| u.split(',').filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_default()
    }
}

pub struct E131 {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
}

impl E131 {
    pub fn new() -> E131 {
        let mut child = Command::new("python3")
            .arg(peers_dir().join("e131_check.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run python3 for tests/peers/e131_check.py ({e}); {SETUP_HINT}")
            });
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        E131 {
            child,
            stdin,
            stdout,
        }
    }

    fn ask(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").expect("write to e131_check.py");
        self.stdin.flush().expect("flush");
        let mut answer = String::new();
        self.stdout
            .read_line(&mut answer)
            .expect("read e131_check.py");
        assert!(!answer.is_empty(), "e131_check.py died");
        answer.trim_end().to_string()
    }

    pub fn parse(&mut self, b: &[u8]) -> Parsed {
        let line = self.ask(&format!("parse {}", hex(b)));
        let (fields, errs) = line.split_once(" | ").unwrap_or((&line, ""));
        let mut p = Parsed {
            error_text: errs.to_string(),
            ..Parsed::default()
        };
        for tok in fields.split_whitespace() {
            if let Some((k, v)) = tok.split_once('=') {
                p.fields.insert(k.to_string(), v.to_string());
            }
        }
        p.kind = p.fields.get("kind").cloned().unwrap_or_default();
        p.errors = p.num("errors") as usize;
        p
    }

    #[allow(clippy::too_many_arguments)]
    pub fn build(
        &mut self,
        cid: Cid,
        name: &str,
        universe: u16,
        seq: u8,
        priority: u8,
        options: u8,
        slots: &[u8],
    ) -> Vec<u8> {
        unhex(&self.ask(&format!(
            "build {} {} {universe} {seq} {priority} {options} {}",
            hex(&cid.0),
            hex(name.as_bytes()),
            hex(slots)
        )))
    }

    /// Parses every packet and panics, listing them, unless e131_check.py finds zero errors in each.
    pub fn check_all(&mut self, what: &str, packets: &[Captured]) -> Vec<Parsed> {
        assert!(!packets.is_empty(), "{what}: no packet captured to check");
        let parsed: Vec<Parsed> = packets.iter().map(|c| self.parse(&c.bytes)).collect();
        let bad: Vec<String> = parsed
            .iter()
            .zip(packets)
            .filter(|(p, _)| p.errors > 0 || p.kind == "unknown")
            .map(|(p, c)| format!("{} bytes: {} ({})", c.bytes.len(), p.error_text, p.kind))
            .collect();
        assert!(
            bad.is_empty(),
            "{what}: e131_check.py found malformed packets among {}:\n{}",
            packets.len(),
            bad.join("\n")
        );
        parsed
    }
}

impl Drop for E131 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks the discovery packets among `parsed`: at least `min` of them, each a single page
/// listing the output universes that were transmitting when it went out: a non-empty part of
/// `universes` in ascending order (exactly `universes` when there is one). An output that had no
/// value yet is not listed, and when the outputs of a test start depends on timing, so the tests
/// that need the full list (receive.rs, scale.rs) wait for a round that lists it.
pub fn check_discovery(parsed: &[Parsed], universes: &[u16], min: usize) {
    let disc: Vec<&Parsed> = parsed.iter().filter(|p| p.kind == "discovery").collect();
    assert!(
        disc.len() >= min,
        "expected at least {min} discovery packets, got {}",
        disc.len()
    );
    for d in disc {
        let listed = d.universes();
        assert!(
            !listed.is_empty()
                && listed.windows(2).all(|w| w[0] < w[1])
                && listed.iter().all(|u| universes.contains(u)),
            "discovery universe list {listed:?} is not a part of {universes:?}: {d:?}"
        );
        assert_eq!((d.num("page"), d.num("last")), (0, 0), "{d:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The python `sacn` peer
// ---------------------------------------------------------------------------------------------

/// One `on_dmx_data_change` of the python receiver (all fields kept for failure messages).
#[derive(Clone, Debug)]
#[allow(dead_code)]
pub struct PyDmx {
    pub at: Instant,
    pub universe: u16,
    pub priority: u8,
    pub seq: u8,
    pub terminated: bool,
    pub cid: String,
    pub slots: Vec<u8>,
}

#[derive(Default)]
struct PyState {
    lines: Vec<String>,
    dmx: Vec<PyDmx>,
    raw: Vec<Captured>,
    eof: bool,
}

pub struct PyPeer {
    child: Child,
    stdin: ChildStdin,
    state: Arc<(Mutex<PyState>, Condvar)>,
    answered: usize,
}

impl PyPeer {
    pub fn start() -> PyPeer {
        guard();
        let mut child = Command::new("python3")
            .arg("-u")
            .arg(peers_dir().join("sacn_peer.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run python3 tests/peers/sacn_peer.py ({e}); {SETUP_HINT}")
            });
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let state: Arc<(Mutex<PyState>, Condvar)> = Arc::default();
        let st = state.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let (m, cv) = &*st;
                let mut s = m.lock().unwrap_or_else(|e| e.into_inner());
                let w: Vec<&str> = line.split_whitespace().collect();
                if w.first() == Some(&"dmx") && w.len() == 7 {
                    s.dmx.push(PyDmx {
                        at: Instant::now(),
                        universe: w[1].parse().unwrap_or(0),
                        priority: w[2].parse().unwrap_or(0),
                        seq: w[3].parse().unwrap_or(0),
                        terminated: w[4] == "1",
                        cid: w[5].to_string(),
                        slots: unhex(w[6]),
                    });
                } else if w.first() == Some(&"raw") && w.len() == 2 {
                    s.raw.push(Captured {
                        at: Instant::now(),
                        from: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
                        bytes: unhex(w[1]),
                    });
                } else if w.first() != Some(&"avail") {
                    s.lines.push(line);
                }
                cv.notify_all();
            }
            let (m, cv) = &*st;
            m.lock().unwrap_or_else(|e| e.into_inner()).eof = true;
            cv.notify_all();
        });
        let mut p = PyPeer {
            child,
            stdin,
            state,
            answered: 0,
        };
        // Fails early with a clear message when the package is missing.
        p.cmd(r#"{"op":"noop"}"#).expect_err("noop must be refused");
        p
    }

    /// Sends one JSON command; returns Ok on "ok", Err(message) on "err".
    pub fn cmd(&mut self, json: &str) -> Result<(), String> {
        writeln!(self.stdin, "{json}").expect("write to python peer");
        self.stdin.flush().expect("flush");
        let (m, cv) = &*self.state;
        let mut s = m.lock().unwrap_or_else(|e| e.into_inner());
        let end = Instant::now() + Duration::from_secs(10);
        while s.lines.len() <= self.answered {
            if s.eof {
                panic!(
                    "python peer exited ({SETUP_HINT}); last lines: {:?}",
                    s.lines
                );
            }
            let left = end.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "python peer did not answer {json}");
            s = cv
                .wait_timeout(s, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let line = s.lines[self.answered].clone();
        self.answered += 1;
        if line.starts_with("ok ") {
            Ok(())
        } else {
            Err(line)
        }
    }

    pub fn ok(&mut self, json: &str) {
        if let Err(e) = self.cmd(json) {
            panic!("python peer refused {json}: {e}");
        }
    }

    pub fn sender(&mut self, id: &str, cid: Cid, name: &str) {
        let cid: Vec<String> = cid.0.iter().map(u8::to_string).collect();
        self.ok(&format!(
            r#"{{"op":"sender","id":"{id}","bind":"127.0.0.1","cid":[{}],"name":"{name}"}}"#,
            cid.join(",")
        ));
    }

    pub fn output(&mut self, id: &str, universe: u16, priority: u8, dest: Option<&str>) {
        let (mc, d) = match dest {
            Some(d) => ("false", format!(r#","destination":"{d}""#)),
            None => ("true", String::new()),
        };
        self.ok(&format!(
            r#"{{"op":"output","id":"{id}","universe":{universe},"priority":{priority},"multicast":{mc}{d}}}"#
        ));
    }

    pub fn dmx(&mut self, id: &str, universe: u16, data: &[u8]) {
        let d: Vec<String> = data.iter().map(u8::to_string).collect();
        self.ok(&format!(
            r#"{{"op":"dmx","id":"{id}","universe":{universe},"data":[{}]}}"#,
            d.join(",")
        ));
    }

    pub fn preview(&mut self, id: &str, universe: u16, on: bool) {
        self.ok(&format!(
            r#"{{"op":"preview","id":"{id}","universe":{universe},"on":{on}}}"#
        ));
    }

    /// Per-address priorities: python then sends a 0xDD packet before every levels packet.
    pub fn pap(&mut self, id: &str, universe: u16, prio: &[u8]) {
        let d: Vec<String> = prio.iter().map(u8::to_string).collect();
        self.ok(&format!(
            r#"{{"op":"pap","id":"{id}","universe":{universe},"data":[{}]}}"#,
            d.join(",")
        ));
    }

    pub fn terminate(&mut self, id: &str, universe: u16) {
        self.ok(&format!(
            r#"{{"op":"terminate","id":"{id}","universe":{universe}}}"#
        ));
    }

    /// Stops a sender without termination packets: for patchbay the source just goes silent.
    pub fn stop(&mut self, id: &str) {
        self.ok(&format!(r#"{{"op":"stop","id":"{id}"}}"#));
    }

    /// An sACNreceiver on `port`, joined (on lo) to the groups of `universes` if `join`; it
    /// reports every datagram it reads (see [`PyPeer::raw_from`]).
    pub fn receiver(&mut self, port: u16, universes: &[u16], join: bool) {
        let u: Vec<String> = universes.iter().map(u16::to_string).collect();
        self.ok(&format!(
            r#"{{"op":"receiver","bind":"127.0.0.1","port":{port},"universes":[{}],"join":{join},"raw":true}}"#,
            u.join(",")
        ));
    }

    /// Every datagram of `cid` the python receiver read.
    pub fn raw_from(&self, cid: Cid) -> Vec<Captured> {
        let s = self.state.0.lock().unwrap_or_else(|e| e.into_inner());
        s.raw
            .iter()
            .filter(|c| c.bytes.len() >= 38 && c.bytes[22..38] == cid.0)
            .cloned()
            .collect()
    }

    /// Kills the python process (its senders stop without termination packets).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn dmx_seen(&self, universe: u16) -> Vec<PyDmx> {
        let s = self.state.0.lock().unwrap_or_else(|e| e.into_inner());
        s.dmx
            .iter()
            .filter(|d| d.universe == universe)
            .cloned()
            .collect()
    }

    /// Waits until the python receiver's latest data for `universe` satisfies `pred`.
    pub fn wait_dmx(
        &self,
        universe: u16,
        timeout: Duration,
        pred: impl Fn(&[u8]) -> bool,
    ) -> Result<PyDmx, String> {
        poll(timeout, || {
            let last = self.dmx_seen(universe).pop()?;
            pred(&last.slots).then_some(last)
        })
        .ok_or_else(|| match self.dmx_seen(universe).pop() {
            Some(d) => format!(
                "python receiver's last data on universe {universe}: {:?}",
                nonzero(&d.slots)
            ),
            None => format!("python receiver saw no data on universe {universe}"),
        })
    }
}

impl PyPeer {
    /// Waits up to 8 s until the python receiver's latest data for `universe` is `want`, else
    /// fails the test with the first differing slots and patchbay's log.
    pub fn expect_dmx(&self, pb: &Patchbay, universe: u16, want: &[u8], what: &str) -> PyDmx {
        match self.wait_dmx(universe, Duration::from_secs(8), |s| s == want) {
            Ok(d) => d,
            Err(e) => {
                let last = self
                    .dmx_seen(universe)
                    .pop()
                    .map(|d| d.slots)
                    .unwrap_or_default();
                panic!(
                    "{what}: {e}\nfirst differences (slot, got, want): {:?}\n--- patchbay log\n{}",
                    diff(&last, want),
                    pb.log()
                )
            }
        }
    }
}

impl Drop for PyPeer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, r#"{{"op":"quit"}}"#);
        let _ = self.stdin.flush();
        let exited = poll(Duration::from_secs(3), || {
            self.child.try_wait().ok().flatten()
        });
        if exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A 512-slot pattern with every slot non-zero and distinct per `seed`.
pub fn pattern(seed: u8) -> Vec<u8> {
    (0..512u32)
        .map(|i| ((i * 7 + u32::from(seed) * 13) % 255 + 1) as u8)
        .collect()
}

/// A UDP port nobody in this namespace uses right now (bind to 0, read, release).
pub fn free_port() -> u16 {
    guard();
    UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|s| s.local_addr())
        .expect("free port")
        .port()
}

/// The `[backend sacn]` section every test config starts with.
pub fn backend(name: &str, cid: Cid, binds: &[&str]) -> String {
    let mut s = format!("[backend sacn]\nname = {name}\ncid = {}\n", cid_text(cid));
    for b in binds {
        s += &format!("bind = {b}\n");
    }
    s
}

/// Checks that the data packets of one universe (in capture order) have consecutive sequence numbers.
pub fn assert_consecutive(what: &str, packets: &[Captured]) {
    let seqs: Vec<u8> = packets
        .iter()
        .filter_map(|c| c.data().map(|d| d.sequence()))
        .collect();
    for w in seqs.windows(2) {
        assert_eq!(
            w[1],
            w[0].wrapping_add(1),
            "{what}: sequence numbers not consecutive: {seqs:?}"
        );
    }
}

/// The backend's shutdown summary of one bind (info level, printed after SIGTERM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindSummary {
    pub datagrams_in: u64,
    pub data_used: u64,
    pub packets_out: u64,
    pub dropped: u64,
}

impl Patchbay {
    /// SIGTERM, exit status 0 within 5 s, then the summary line of bind `b` from the log.
    pub fn stop_with_summary(&mut self, b: usize) -> BindSummary {
        self.signal("TERM");
        let status = self.wait_exit(Duration::from_secs(5));
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "exit after SIGTERM\n{}",
            self.log()
        );
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let prefix = format!("bind {b} (");
        let line = log
            .lines()
            .find(|l| l.contains(&prefix) && l.contains("datagram(s) in"))
            .unwrap_or_else(|| panic!("no shutdown summary for bind {b}\n{}", self.log()));
        // The number right before `label`.
        let before = |label: &str| -> u64 {
            let head = &line[..line
                .find(label)
                .unwrap_or_else(|| panic!("{label} in {line}"))];
            head.split(|c: char| !c.is_ascii_digit())
                .rfind(|t| !t.is_empty())
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("no number before {label} in {line}"))
        };
        let dropped = line
            .split("dropped ")
            .nth(1)
            .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no drop count in {line}"));
        BindSummary {
            datagrams_in: before(" datagram(s) in"),
            data_used: before(" data packet(s) used"),
            packets_out: before(" packet(s) out"),
            dropped,
        }
    }
}

/// Every captured packet of patchbay's CID passes e131_check.py; discovery lists only `outputs`
/// ([`check_discovery`]).
pub fn check_wire(cap: &Capture, cid: Cid, outputs: &[u16], min_discovery: usize, what: &str) {
    let mine = cap.of_cid(cid);
    let parsed = E131::new().check_all(what, &mine);
    check_discovery(&parsed, outputs, min_discovery);
    for p in parsed.iter().filter(|p| p.kind == "data") {
        assert!(
            outputs.contains(&(p.num("universe") as u16)),
            "{what}: data for {p:?}"
        );
        assert_eq!(p.num("start"), 0, "{what}: start code");
        assert_eq!(p.slots().len(), 512, "{what}: all 512 slots");
    }
    for u in outputs {
        assert_consecutive(what, &cap.data_of(cid, *u));
    }
}

/// Waits (at most 11 s: one discovery interval) until a discovery packet of `cid` was captured.
pub fn wait_discovery(cap: &Capture, cid: Cid) {
    let found = poll(Duration::from_secs(11), || {
        cap.of_cid(cid)
            .iter()
            .any(|c| c.bytes.len() >= 22 && c.bytes[18..22] == [0, 0, 0, 8])
            .then_some(())
    });
    assert!(found.is_some(), "no discovery packet within 11 s");
}

/// A capture of the discovery group on lo (where binds to 127.0.0.1 send it).
pub fn discovery_capture() -> Capture {
    Capture::v4(SACN_PORT, Ipv4Addr::LOCALHOST, &[group_v4(64214)])
}

/// The discovery packets of `cid` in `cap` (waiting up to one interval for the first) pass
/// e131_check.py and list only `universes`, on one page ([`check_discovery`]).
pub fn check_discovery_capture(cap: &Capture, cid: Cid, universes: &[u16]) {
    wait_discovery(cap, cid);
    let parsed = E131::new().check_all("discovery", &cap.of_cid(cid));
    check_discovery(&parsed, universes, 1);
}
