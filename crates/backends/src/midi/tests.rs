//! The backend's logic against a fake sequencer: options, channel names, events ↔ channel
//! values, subscriptions, devices that go away and come back (with the last values re-sent).
//! The real sequencer is tested where `/dev/snd/seq` exists (tests/midi_alsa.rs).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use patchbay_core::testing::Rig;
use patchbay_core::{Direction, Value};

use super::seq::{Addr, PortInfo, SeqEvent, Sequencer};
use super::*;

/// What the fake sequencer knows and did, shared with the test.
#[derive(Default)]
struct World {
    client_name: Option<String>,
    /// Other clients' ports.
    ports: Vec<PortInfo>,
    /// Our ports, by number.
    ours: Vec<String>,
    /// (sender, dest) subscriptions made.
    subscriptions: Vec<(Addr, Addr)>,
    /// Events to deliver: the event and its MIDI bytes.
    incoming: VecDeque<(SeqEvent, Vec<u8>)>,
    /// Messages written: (our port, bytes), flushed or not.
    written: Vec<(i32, Vec<u8>)>,
    flushed: usize,
    /// The test's end of the descriptor pair: a byte makes the sequencer readable.
    bell: Option<UnixStream>,
}

const US: i32 = 128;

impl World {
    fn ring(&mut self) {
        if let Some(b) = &mut self.bell {
            let _ = b.write_all(&[1]);
        }
    }

    /// MIDI bytes arriving at our port `port`.
    fn midi(&mut self, port: i32, bytes: &[u8]) {
        self.incoming.push_back((
            SeqEvent::Midi {
                port,
                len: bytes.len(),
            },
            bytes.to_vec(),
        ));
        self.ring();
    }

    fn announce(&mut self, ev: SeqEvent) {
        self.incoming.push_back((ev, Vec::new()));
        self.ring();
    }

    fn add_device(&mut self, client: i32, name: &str) -> Addr {
        let addr = Addr { client, port: 0 };
        self.ports.push(PortInfo {
            addr,
            client_name: name.into(),
            port_name: format!("{name} MIDI 1"),
            readable: true,
            writable: true,
        });
        addr
    }

    fn remove_client(&mut self, client: i32) {
        self.ports.retain(|p| p.addr.client != client);
        self.subscriptions
            .retain(|(s, d)| s.client != client && d.client != client);
        self.announce(SeqEvent::ClientExit(client));
    }

    fn take_written(&mut self) -> Vec<(i32, Vec<u8>)> {
        self.flushed = 0;
        std::mem::take(&mut self.written)
    }
}

struct Fake {
    world: Rc<RefCell<World>>,
    fd: UnixStream,
}

impl Sequencer for Fake {
    fn client_id(&self) -> i32 {
        US
    }

    fn create_port(&mut self, name: &str) -> io::Result<i32> {
        let mut w = self.world.borrow_mut();
        w.ours.push(name.into());
        Ok(w.ours.len() as i32 - 1)
    }

    fn ports(&self) -> Vec<PortInfo> {
        self.world.borrow().ports.clone()
    }

    fn connect_from(&mut self, port: i32, from: Addr) -> io::Result<()> {
        self.world
            .borrow_mut()
            .subscriptions
            .push((from, Addr { client: US, port }));
        Ok(())
    }

    fn connect_to(&mut self, port: i32, to: Addr) -> io::Result<()> {
        self.world
            .borrow_mut()
            .subscriptions
            .push((Addr { client: US, port }, to));
        Ok(())
    }

    fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<Option<SeqEvent>> {
        let next = self.world.borrow_mut().incoming.pop_front();
        match next {
            Some((ev, bytes)) => {
                buf[..bytes.len()].copy_from_slice(&bytes);
                Ok(Some(ev))
            }
            None => {
                // Empty: drain the bell so the next event makes the descriptor readable again.
                let mut b = [0u8; 64];
                while matches!(self.fd.read(&mut b), Ok(n) if n > 0) {}
                Ok(None)
            }
        }
    }

    fn write(&mut self, port: i32, bytes: &[u8]) -> io::Result<()> {
        self.world.borrow_mut().written.push((port, bytes.to_vec()));
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut w = self.world.borrow_mut();
        w.flushed = w.written.len();
        Ok(())
    }
}

fn fake() -> (Midi, Rc<RefCell<World>>) {
    let world = Rc::new(RefCell::new(World::default()));
    let w = Rc::clone(&world);
    let midi = Midi::with_opener(Box::new(move |name| {
        let (ours, theirs) = UnixStream::pair()?;
        ours.set_nonblocking(true)?;
        let mut state = w.borrow_mut();
        state.client_name = Some(name.into());
        state.bell = Some(theirs);
        Ok(Box::new(Fake {
            world: Rc::clone(&w),
            fd: ours,
        }) as Box<dyn Sequencer>)
    }));
    (midi, world)
}

fn turn(rig: &mut Rig<Midi>) {
    rig.turn(Duration::from_millis(5)).expect("turn");
}

#[test]
fn midimonster_options() {
    let (midi, _) = fake();
    let mut rig = Rig::new(midi);
    assert_eq!(rig.configure("name", "Desk"), Ok(vec![]));
    assert_eq!(rig.configure("detect", "on"), Ok(vec![]));
    assert!(rig.configure("detect", "sure").expect("accepted").len() == 1);
    let e = rig.configure("bind", "x").unwrap_err();
    assert!(e.to_string().contains("name, detect"), "{e}");
    let i = rig.add_instance("m").unwrap();
    for (k, v) in [
        ("read", "20:0"),
        ("target", "Launchpad"),
        ("epn-tx", "short"),
        ("note-off", "note-off 0"),
        ("sysex.x", "F0 01 {v} F7"),
    ] {
        assert_eq!(rig.configure_instance(i, k, v), Ok(vec![]), "{k}");
    }
    let e = rig.configure_instance(i, "source", "x").unwrap_err();
    assert!(e.to_string().contains("already has a read device"), "{e}");
    let e = rig.configure_instance(i, "write", "x").unwrap_err();
    assert!(e.to_string().contains("already has a write device"), "{e}");
    let e = rig.configure_instance(i, "device", "x").unwrap_err();
    assert!(e.to_string().contains("read, source, write, target"), "{e}");
    let e = rig.configure_instance(i, "epn-tx", "x").unwrap_err();
    assert!(e.to_string().contains("short"), "{e}");
}

#[test]
fn channel_names_follow_midimonster() {
    let (midi, _) = fake();
    let mut rig = Rig::new(midi);
    let i = rig.add_instance("m").unwrap();
    for name in [
        "ch0.note9",
        "channel1.cc4",
        "channel15.pressure1",
        "ch1.aftertouch",
        "ch0.pitch",
        "ch0.nrpn900",
        "ch0.rpn1",
        "ch2.program",
    ] {
        assert!(rig.channel(i, name, Direction::Input).is_ok(), "{name}");
    }
    for (name, said) in [
        ("ch0.note128", "0..127"),
        ("ch0.cc", "needs a number"),
        ("cc7", "expected ch"),
        ("sysex.x", "no SysEx template"),
    ] {
        let e = rig.channel(i, name, Direction::Input).unwrap_err();
        assert!(e.message.contains(said), "{name}: {e}");
    }
}

/// An instance `keys` reading from and writing to device "Launchpad" (client 20).
fn started(configure: &[(&str, &str)]) -> (Rig<Midi>, Rc<RefCell<World>>, InstanceId) {
    let (midi, world) = fake();
    let mut rig = Rig::new(midi);
    let i = rig.add_instance("keys").unwrap();
    rig.configure_instance(i, "read", "Launchpad").unwrap();
    rig.configure_instance(i, "write", "20:0").unwrap();
    for (k, v) in configure {
        rig.configure_instance(i, k, v).unwrap();
    }
    (rig, world, i)
}

#[test]
fn one_client_one_port_per_instance_and_the_devices_subscribed() {
    let (mut rig, world, _) = started(&[]);
    let _other = rig.add_instance("pads").unwrap();
    let dev = world.borrow_mut().add_device(20, "Launchpad Mini");
    rig.start().unwrap();
    let w = world.borrow();
    assert_eq!(w.client_name.as_deref(), Some("MIDIMonster"));
    assert_eq!(w.ours, ["keys", "pads"]);
    let ours = Addr {
        client: US,
        port: 0,
    };
    assert_eq!(w.subscriptions, [(dev, ours), (ours, dev)]);
    drop(w);
    assert!(rig.backend().is_connected("keys", false));
    assert!(rig.backend().is_connected("keys", true));
}

#[test]
fn received_events_become_exact_channel_values() {
    let (mut rig, world, i) = started(&[("sysex.cut", "F0 43 10 {v} F7")]);
    world.borrow_mut().add_device(20, "Launchpad Mini");
    let cc = rig.input(i, "ch0.cc7").unwrap();
    let pitch = rig.input(i, "ch1.pitch").unwrap();
    let note = rig.input(i, "ch9.note36").unwrap();
    let nrpn = rig.input(i, "ch0.nrpn900").unwrap();
    let cut = rig.input(i, "sysex.cut").unwrap();
    rig.start().unwrap();
    {
        let mut w = world.borrow_mut();
        w.midi(0, &[0xB0, 7, 127]);
        w.midi(0, &[0xE1, 0x00, 0x40]);
        w.midi(0, &[0x99, 36, 100]);
        w.midi(0, &[0x89, 36, 127]);
        for cc in [[99, 7], [98, 4], [6, 1], [38, 2]] {
            w.midi(0, &[0xB0, cc[0], cc[1]]);
        }
        // A SysEx in two events (ALSA splits long ones), with a clock byte in between.
        w.midi(0, &[0xF0, 0x43]);
        w.midi(0, &[0xF8]);
        w.midi(0, &[0x10, 0x55, 0xF7]);
        // Malformed: a data byte without status.
        w.midi(0, &[0x33]);
        // To a port that is no instance's: ignored.
        w.midi(5, &[0xB0, 7, 1]);
    }
    turn(&mut rig);
    let got: Vec<_> = rig
        .take_events()
        .iter()
        .map(|e| (e.channel, e.value.raw()))
        .collect();
    assert_eq!(
        got,
        [
            (cc, Some((127, 7))),
            (pitch, Some((8192, 14))),
            (note, Some((100, 7))),
            (note, Some((0, 7))),
            (nrpn, Some((130, 14))),
            (cut, Some((0x55, 7))),
        ]
    );
    assert_eq!(rig.stat("keys", "malformed.stray_data"), Some(1));
    assert_eq!(rig.stat("keys", "midi_in"), Some(10));
}

#[test]
fn values_are_sent_byte_for_byte_once_per_turn() {
    let (mut rig, world, i) = started(&[("epn-tx", "short"), ("sysex.cut", "F0 43 {hi} {lo} F7")]);
    world.borrow_mut().add_device(20, "Launchpad Mini");
    let cc = rig.output(i, "ch1.cc1").unwrap();
    let note = rig.output(i, "ch0.note60").unwrap();
    let rpn = rig.output(i, "ch3.rpn1").unwrap();
    let cut = rig.output(i, "sysex.cut").unwrap();
    rig.start().unwrap();
    rig.set(cc, Value::from_raw(255, 8));
    rig.set(note, Value::from_raw(0, 16));
    rig.set(rpn, Value::from_raw(16383, 14));
    rig.set(cut, Value::from_normalised(1.0));
    turn(&mut rig);
    let mut w = world.borrow_mut();
    assert_eq!(w.flushed, w.written.len(), "flushed at the end of the turn");
    let bytes: Vec<Vec<u8>> = w
        .take_written()
        .into_iter()
        .map(|(p, b)| {
            assert_eq!(p, 0);
            b
        })
        .collect();
    assert_eq!(
        bytes,
        [
            vec![0xB1, 1, 127],
            vec![0x90, 60, 0],
            vec![0xB3, 101, 0],
            vec![0xB3, 100, 1],
            vec![0xB3, 6, 127],
            vec![0xB3, 38, 127],
            vec![0xF0, 0x43, 0x7F, 0x7F, 0xF7],
        ]
    );
}

#[test]
fn a_device_that_goes_away_and_returns_gets_the_last_values_again() {
    let (mut rig, world, i) = started(&[]);
    world.borrow_mut().add_device(20, "Launchpad Mini");
    let cc = rig.output(i, "ch0.cc7").unwrap();
    let pitch = rig.output(i, "ch0.pitch").unwrap();
    let input = rig.input(i, "ch0.cc1").unwrap();
    rig.start().unwrap();
    rig.set(cc, Value::from_raw(10, 7));
    rig.set(pitch, Value::from_raw(100, 14));
    turn(&mut rig);
    world.borrow_mut().take_written();

    world.borrow_mut().remove_client(20);
    turn(&mut rig);
    assert!(!rig.backend().is_connected("keys", false));
    assert!(!rig.backend().is_connected("keys", true));
    // Still sent to the port (others may be connected to it) and kept as the last value.
    rig.set(cc, Value::from_raw(11, 7));
    turn(&mut rig);
    assert_eq!(world.borrow_mut().take_written(), [(0, vec![0xB0, 7, 11])]);
    // Tried again every second, quietly.
    for _ in 0..3 {
        rig.advance(RETRY_PERIOD);
        turn(&mut rig);
    }
    assert!(!rig.backend().is_connected("keys", true));
    world.borrow_mut().subscriptions.clear();

    // It comes back as a new client number; the name finds it ('write = 20:0' does not).
    let dev = world.borrow_mut().add_device(24, "Launchpad Mini");
    world.borrow_mut().announce(SeqEvent::PortStart(dev));
    turn(&mut rig);
    assert!(rig.backend().is_connected("keys", false));
    assert!(!rig.backend().is_connected("keys", true));
    let ours = Addr {
        client: US,
        port: 0,
    };
    assert_eq!(world.borrow().subscriptions, [(dev, ours)]);
    world.borrow_mut().midi(0, &[0xB0, 1, 64]);
    turn(&mut rig);
    let got: Vec<_> = rig
        .take_events()
        .iter()
        .map(|e| (e.channel, e.value.raw()))
        .collect();
    assert_eq!(got, [(input, Some((64, 7)))]);

    // The write device returns under its number: it gets the last values, in channel order.
    world.borrow_mut().remove_client(24);
    turn(&mut rig);
    let dev = world.borrow_mut().add_device(20, "Launchpad Mini");
    world.borrow_mut().announce(SeqEvent::PortStart(dev));
    turn(&mut rig);
    assert!(rig.backend().is_connected("keys", true));
    assert_eq!(
        world.borrow_mut().take_written(),
        [(0, vec![0xB0, 7, 11]), (0, vec![0xE0, 100, 0])]
    );
    assert_eq!(rig.stat("keys", "reconnects"), Some(3));
}

#[test]
fn a_device_missing_at_start_is_connected_when_it_appears() {
    let (mut rig, world, i) = started(&[]);
    let cc = rig.output(i, "ch0.cc7").unwrap();
    rig.start().unwrap();
    assert!(!rig.backend().is_connected("keys", true));
    rig.set(cc, Value::from_raw(3, 7));
    turn(&mut rig);
    world.borrow_mut().take_written();
    // Without an announcement: the retry a second later finds it.
    world.borrow_mut().add_device(20, "Launchpad Mini");
    rig.advance(RETRY_PERIOD);
    turn(&mut rig);
    assert!(rig.backend().is_connected("keys", true));
    assert_eq!(world.borrow_mut().take_written(), [(0, vec![0xB0, 7, 3])]);
}

#[test]
fn a_sequencer_that_cannot_be_opened_stops_the_start() {
    let mut rig = Rig::new(Midi::with_opener(Box::new(|_| {
        Err(io::Error::other("cannot open the ALSA sequencer"))
    })));
    rig.add_instance("m").unwrap();
    let e = rig.start().unwrap_err().to_string();
    assert!(e.contains("modprobe snd-seq"), "{e}");
}
