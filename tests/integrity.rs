//! Frame integrity under a burst (issue 9): the real binary patches one sACN universe 1:1 while
//! input frames arrive far faster than the output may send them. Every output packet must equal
//! one input frame (no mix of two frames), and the last output must be the last input frame.
//! Not timing-based: the burst only has to outrun the output, which the 44 packets/s limit (and,
//! in realtime mode, the loop itself) guarantees. Opens sockets, so it runs only in a private
//! network namespace (`scripts/test`, or `scripts/netns-run cargo test --test integrity`).

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use patchbay_sacn::Cid;
use patchbay_sacn::wire::{DataHeader, MAX_PACKET_LEN, Options, Packet, write_data};

const IN_UNIVERSE: u16 = 7;
const OUT_UNIVERSE: u16 = 1007;
/// Frames of the burst (frame 0 is the warm-up frame).
const FRAMES: u32 = 1500;

/// Slot `i` of input frame `f`: consecutive frames differ in every slot, so an output that
/// mixes two frames matches neither.
fn frame(f: u32) -> [u8; 512] {
    let mut s = [0u8; 512];
    for (i, v) in s.iter_mut().enumerate() {
        *v = (f
            .wrapping_mul(7)
            .wrapping_add(i as u32 * 13)
            .wrapping_add(1)
            % 256) as u8;
    }
    s
}

/// The input frames (ids, in sending order) an output packet's slots equal.
fn matches(slots: &[u8], sent: &[u32]) -> Vec<u32> {
    sent.iter()
        .copied()
        .filter(|&f| frame(f)[..] == *slots)
        .collect()
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("probe port")
        .port()
}

fn start(realtime: bool, out_port: u16) -> (Daemon, u16, std::path::PathBuf) {
    let in_port = free_port();
    let config = format!(
        "[backend sacn]\nbind = 127.0.0.1 {in_port}\n\n\
         [sacn in]\nuniverse = {IN_UNIVERSE}\nunicast = 1\n\n\
         [sacn out]\nuniverse = {OUT_UNIVERSE}\npriority = 100\nrealtime = {}\n\
         destination = 127.0.0.1 {out_port}\n\n\
         [map]\nin.{{1..512}} > out.{{1..512}}\n",
        u8::from(realtime)
    );
    let path = std::env::temp_dir().join(format!(
        "patchbay-integrity-{}-{realtime}.cfg",
        std::process::id()
    ));
    std::fs::write(&path, config).expect("write config");
    let child = Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .arg("-q")
        .arg(&path)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start patchbay");
    (Daemon(child), in_port, path)
}

struct Sender {
    sock: UdpSocket,
    to: String,
    seq: u8,
    buf: [u8; MAX_PACKET_LEN],
}

impl Sender {
    fn send(&mut self, f: u32) {
        let header = DataHeader {
            cid: Cid([0x5a; 16]),
            source_name: "integrity test",
            priority: 100,
            sync_address: 0,
            sequence: self.seq,
            options: Options::NONE,
            universe: IN_UNIVERSE,
            start_code: 0,
        };
        self.seq = self.seq.wrapping_add(1);
        let len = write_data(&mut self.buf, &header, &frame(f)).expect("build");
        self.sock
            .send_to(&self.buf[..len], self.to.as_str())
            .expect("send");
    }
}

/// Output packets of `OUT_UNIVERSE` received until `until`: (sequence, slots).
fn receive(rx: &UdpSocket, until: Instant, out: &mut Vec<(u8, Vec<u8>)>) {
    let mut buf = [0u8; 2048];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        rx.set_read_timeout(Some(left)).expect("timeout");
        let Ok(n) = rx.recv(&mut buf) else {
            continue;
        };
        if let Ok(Packet::Data(d)) = Packet::parse(&buf[..n])
            && d.universe() == OUT_UNIVERSE
            && d.start_code() == 0
            && !d.options().stream_terminated()
        {
            out.push((d.sequence(), d.slots().to_vec()));
        }
    }
}

fn burst_keeps_frames_whole(realtime: bool) {
    patchbay_net::netns::require_private_netns();
    let rx = UdpSocket::bind("127.0.0.1:0").expect("bind receiver");
    let out_port = rx.local_addr().expect("addr").port();
    let (_daemon, in_port, path) = start(realtime, out_port);
    let mut tx = Sender {
        sock: UdpSocket::bind("127.0.0.1:0").expect("bind sender"),
        to: format!("127.0.0.1:{in_port}"),
        seq: 0,
        buf: [0; MAX_PACKET_LEN],
    };

    // Warm-up: frame 0 at 44 fps until it comes out (patchbay withholds output for the 1.5 s
    // E1.31 sampling period).
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.is_empty() {
        assert!(Instant::now() < deadline, "no output from patchbay");
        tx.send(0);
        receive(&rx, Instant::now() + Duration::from_millis(23), &mut out);
    }
    assert_eq!(matches(&out[0].1, &[0]), [0]);

    // The burst: frames 1..FRAMES back to back (a short pause every 50 so the kernel's receive
    // buffer does not overflow), then, after a pause inside the rate limit's gap, the last one.
    let mut sent = vec![0u32];
    for f in 1..FRAMES {
        tx.send(f);
        sent.push(f);
        if f % 50 == 0 {
            std::thread::sleep(Duration::from_micros(300));
        }
    }
    std::thread::sleep(Duration::from_millis(5));
    tx.send(FRAMES);
    sent.push(FRAMES);
    receive(&rx, Instant::now() + Duration::from_millis(1500), &mut out);
    let _ = std::fs::remove_file(path);

    // Every output packet is one whole input frame, in input order.
    let mut last_frame = 0;
    let mut distinct = 0;
    for (i, (seq, slots)) in out.iter().enumerate() {
        let m = matches(slots, &sent);
        assert!(
            !m.is_empty(),
            "output packet {i} (sequence {seq}) equals no input frame: slots 1..8 = {:?}",
            &slots[..8]
        );
        // Frames repeat every 256 ids; take the first candidate not before the previous one.
        let f = m
            .iter()
            .copied()
            .find(|&f| f >= last_frame)
            .unwrap_or_else(|| panic!("output packet {i} goes back to an older frame"));
        if f != last_frame {
            distinct += 1;
        }
        last_frame = f;
    }
    let last = out.last().expect("output");
    assert_eq!(
        last.1[..],
        frame(FRAMES)[..],
        "the last output is not the last input frame"
    );
    // The burst outran the output: most frames were coalesced, some still went out.
    assert!(distinct >= 2, "{distinct} distinct frames out");
    assert!(
        (distinct as u32) < FRAMES / 2,
        "{distinct} distinct frames out of {FRAMES}: the burst did not outrun the output"
    );
}

#[test]
fn burst_through_the_rate_limit_keeps_frames_whole_and_ends_on_the_last_frame() {
    burst_keeps_frames_whole(false);
}

#[test]
fn burst_in_realtime_mode_keeps_frames_whole_and_ends_on_the_last_frame() {
    burst_keeps_frames_whole(true);
}
