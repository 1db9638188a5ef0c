//! The rig on in-memory sockets (pipes): input recorded as events, output sent from `flush`,
//! a full pipe waited out by writability rather than a timer, the manual clock, direct calls.

use std::io::{Read, Write};

use mio::Interest;
use mio::unix::pipe;

use super::*;

/// Tag of the pipe the backend reads, and of the one it writes.
const READ: u32 = 1;
const WRITE: u32 = 2;
/// Bytes per record the backend writes: 16 fill a 64 KiB pipe.
const RECORD: usize = 4096;

/// A backend on two pipes: every 2 bytes `[key, level]` read from one become an event on the
/// channel with that key; every delivered value is written to the other as a record of
/// [`RECORD`] bytes `[key, level, 0...]`. What a full pipe does not take waits, and the backend
/// watches the pipe for writability only while something waits.
#[derive(Default)]
struct Piped {
    rx: Option<pipe::Receiver>,
    tx: Option<pipe::Sender>,
    /// The test's ends: (writer into `rx`, reader of `tx`).
    peer: Option<(pipe::Sender, pipe::Receiver)>,
    ids: FxHashMap<u64, ChannelId>,
    queue: std::collections::VecDeque<[u8; 2]>,
    watching_writable: bool,
    written: u64,
    would_block: u64,
    deadline: Option<Instant>,
    fired_at: Vec<Instant>,
    flushes: usize,
}

impl Piped {
    fn write_queued(&mut self, io: &mut Io<'_>) {
        let Some(tx) = self.tx.as_mut() else {
            return;
        };
        while let Some(&[key, level]) = self.queue.front() {
            let mut record = [0u8; RECORD];
            record[0] = key;
            record[1] = level;
            // Pipe writes up to PIPE_BUF (4 KiB) are atomic: all or WouldBlock.
            match tx.write(&record) {
                Ok(n) => {
                    assert_eq!(n, RECORD);
                    self.queue.pop_front();
                    self.written += 1;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.would_block += 1;
                    break;
                }
                Err(e) => panic!("write: {e}"),
            }
        }
        let waiting = !self.queue.is_empty();
        if waiting != self.watching_writable {
            let interest = if waiting {
                Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            io.reregister(tx, WRITE, interest).expect("reregister");
            self.watching_writable = waiting;
        }
    }
}

impl Backend for Piped {
    fn name(&self) -> &'static str {
        "piped"
    }
    fn configure(&mut self, _: &str, _: &str, _: &mut ConfigCtx<'_>) -> Result<(), OptionError> {
        Ok(())
    }
    fn create_instance(&mut self, _: InstanceId, _: &str) -> Result<(), OptionError> {
        Ok(())
    }
    fn configure_instance(
        &mut self,
        _: InstanceId,
        key: &str,
        _: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        ctx.warn(Part::Key, format!("{key} does nothing"));
        Ok(())
    }
    fn channel(
        &mut self,
        instance: InstanceId,
        name: &str,
        _: Direction,
        ctx: &mut ChannelCtx<'_>,
    ) -> Result<ChannelId, ChannelError> {
        let key: u8 = name.parse().map_err(|_| ChannelError {
            message: format!("'{name}' is not 0..255"),
        })?;
        let id = ctx.ids.resolve(instance, u64::from(key));
        self.ids.insert(u64::from(key), id);
        Ok(id)
    }
    fn start(&mut self, _: Instant, io: &mut Io<'_>) -> Result<(), StartError> {
        let fail = |e: std::io::Error| StartError::backend(e.to_string());
        let (peer_tx, mut rx) = pipe::new().map_err(fail)?;
        let (mut tx, peer_rx) = pipe::new().map_err(fail)?;
        io.register(&mut rx, READ, Interest::READABLE)
            .map_err(fail)?;
        // Registered for reading although nobody reads a write end: a writer watches for
        // writability only while it waits, and `reregister` needs a registration.
        io.register(&mut tx, WRITE, Interest::READABLE)
            .map_err(fail)?;
        self.rx = Some(rx);
        self.tx = Some(tx);
        self.peer = Some((peer_tx, peer_rx));
        Ok(())
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
    fn process(
        &mut self,
        now: Instant,
        ready: &[Ready],
        _: &mut Io<'_>,
        sink: &mut Sink<'_>,
    ) -> Result<(), FatalError> {
        if self.deadline.is_some_and(|d| now >= d) {
            self.deadline = None;
            self.fired_at.push(now);
        }
        if !ready.iter().any(|r| r.tag == READ && r.should_read()) {
            return Ok(());
        }
        let Some(rx) = self.rx.as_mut() else {
            return Ok(());
        };
        let mut buf = [0u8; 64];
        loop {
            match rx.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    for pair in buf[..n].chunks_exact(2) {
                        if let Some(&id) = self.ids.get(&u64::from(pair[0])) {
                            sink.push(id, Value::from_raw(u64::from(pair[1]), 8));
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    return Err(FatalError {
                        message: e.to_string(),
                    });
                }
            }
        }
        Ok(())
    }
    fn handle(&mut self, _: Instant, _: InstanceId, deliveries: &[Delivery], _: &mut Sink<'_>) {
        for d in deliveries {
            self.queue.push_back([d.key as u8, d.value.to_raw(8) as u8]);
        }
    }
    fn flush(&mut self, _: Instant, io: &mut Io<'_>) {
        self.flushes += 1;
        self.write_queued(io);
    }
    fn shutdown(&mut self, _: Instant, _: &mut Io<'_>) {}
    fn stats(&self, out: &mut Vec<Stat>) {
        out.push(Stat::backend("pipes", "written", self.written));
        out.push(Stat::backend("pipes", "would_block", self.would_block));
    }
}

/// Reads whole records from `rx` until it is empty: their (key, level) pairs.
fn read_records(rx: &mut pipe::Receiver, partial: &mut Vec<u8>) -> Vec<(u8, u8)> {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match rx.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => partial.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    let whole = partial.len() / RECORD * RECORD;
    let records = partial[..whole]
        .chunks_exact(RECORD)
        .map(|r| (r[0], r[1]))
        .collect();
    partial.drain(..whole);
    records
}

fn piped_rig() -> (Rig<Piped>, ChannelId, ChannelId) {
    let mut rig = Rig::new(Piped::default());
    let a = rig.add_instance("a").unwrap();
    assert_eq!(a, InstanceId(0));
    assert_eq!(
        rig.configure_instance(a, "speed", "fast").unwrap(),
        vec![(Part::Key, "speed does nothing".to_string())]
    );
    let input = rig.input(a, "7").unwrap();
    let output = rig.output(a, "9").unwrap();
    assert_eq!(rig.input(a, "7").unwrap(), input, "the same lookup again");
    assert!(rig.input(a, "x").is_err());
    let b = rig.add_instance("b").unwrap();
    assert_eq!(b, InstanceId(1), "the probe's instance comes last");
    rig.start().unwrap();
    (rig, input, output)
}

#[test]
fn input_becomes_recorded_events_with_the_backends_channel_ids() {
    let (mut rig, input, _) = piped_rig();
    let (mut to_backend, _from_backend) = rig.backend_mut().peer.take().unwrap();
    to_backend.write_all(&[7, 10, 8, 99, 7, 20]).unwrap();
    rig.turn(Duration::from_secs(5)).unwrap();
    assert_eq!(
        rig.ready(),
        vec![Ready {
            tag: READ,
            readable: true,
            ..Ready::default()
        }]
    );
    let got: Vec<(ChannelId, Option<(u64, u8)>)> = rig
        .take_events()
        .iter()
        .map(|e| (e.channel, e.value.raw()))
        .collect();
    // Key 8 is not a mapped channel: its event is not routed anywhere.
    assert_eq!(got, vec![(input, Some((10, 8))), (input, Some((20, 8)))]);
    assert!(rig.events().is_empty(), "taken");
}

/// 40 records do not fit a 64 KiB pipe: the backend writes what fits, waits for writability
/// (no deadline, so only the pipe can wake it) and writes the rest as the reader makes room.
#[test]
fn a_full_pipe_is_waited_out_by_writability_not_a_timer() {
    let (mut rig, _, output) = piped_rig();
    let (_to_backend, mut from_backend) = rig.backend_mut().peer.take().unwrap();
    for level in 0..40u8 {
        rig.set(output, Value::from_raw(u64::from(level), 8));
    }
    rig.turn(Duration::ZERO).unwrap();
    let written = rig.stat("pipes", "written").unwrap();
    assert!((1..40).contains(&written), "{written} records written");
    assert_eq!(rig.stat("pipes", "would_block"), Some(1));
    assert!(rig.backend().watching_writable);
    assert_eq!(rig.backend().poll_timeout(), None, "no retry timer");
    // Nothing read yet: a wait ends at its limit, with nothing ready.
    let turns = rig.core().turns();
    rig.turn(Duration::from_millis(30)).unwrap();
    assert_eq!(rig.core().turns(), turns + 1);
    assert!(rig.ready().is_empty(), "{:?}", rig.ready());

    let mut partial = Vec::new();
    let mut got = read_records(&mut from_backend, &mut partial);
    let mut wakes = 0;
    while got.len() < 40 {
        rig.turn(Duration::from_secs(5)).unwrap();
        assert!(
            rig.ready().iter().any(|r| r.tag == WRITE && r.writable),
            "woken by the pipe, not by a timer: {:?}",
            rig.ready()
        );
        wakes += 1;
        assert!(wakes <= 10, "{wakes} wake-ups for 40 records");
        got.extend(read_records(&mut from_backend, &mut partial));
    }
    let levels: Vec<u8> = got
        .iter()
        .map(|&(k, l)| {
            assert_eq!(k, 9);
            l
        })
        .collect();
    assert_eq!(
        levels,
        (0..40).collect::<Vec<u8>>(),
        "every record once, in order"
    );
    assert!(!rig.backend().watching_writable, "back to readable only");
    // With nothing waiting, a turn is not woken by the pipe.
    rig.turn(Duration::from_millis(30)).unwrap();
    assert!(rig.ready().is_empty(), "{:?}", rig.ready());
}

#[test]
fn backend_deadlines_follow_the_manual_clock() {
    let (mut rig, _, _) = piped_rig();
    let t0 = rig.now();
    rig.backend_mut().deadline = Some(t0 + Duration::from_secs(60));
    rig.turn(Duration::ZERO).unwrap();
    assert!(rig.backend().fired_at.is_empty());
    rig.advance(Duration::from_secs(60));
    assert_eq!(rig.now(), t0 + Duration::from_secs(60));
    // Due now: the turn does not wait although it may.
    let start = Instant::now();
    rig.turn(Duration::from_secs(5)).unwrap();
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(rig.backend().fired_at, vec![t0 + Duration::from_secs(60)]);
}

/// `call` reaches the backend with the loop's Io and sink between turns: two `handle` calls
/// then one `flush`, and an event pushed there is routed by the next turn.
#[test]
fn direct_calls_use_the_loops_io_and_sink() {
    let (mut rig, input, output) = piped_rig();
    let (_to_backend, mut from_backend) = rig.backend_mut().peer.take().unwrap();
    let flushes = rig.backend().flushes;
    rig.call(|b, now, io, sink| {
        for level in [1, 2] {
            let d = Delivery {
                channel: output,
                key: 9,
                value: Value::from_raw(level, 8),
            };
            b.handle(now, InstanceId(0), &[d], sink);
        }
        b.flush(now, io);
        sink.push(input, Value::from_raw(5, 8));
    });
    assert_eq!(rig.backend().flushes, flushes + 1);
    assert_eq!(
        read_records(&mut from_backend, &mut Vec::new()),
        vec![(9, 1), (9, 2)]
    );
    assert!(rig.events().is_empty(), "routed at the next turn");
    rig.turn(Duration::ZERO).unwrap();
    assert_eq!(rig.events().len(), 1);
    assert_eq!(rig.events()[0].channel, input);
}

#[test]
fn start_failures_and_shutdown_go_through_the_core() {
    let mut rig = Rig::new(Echo);
    let a = rig.add_instance("a").unwrap();
    assert!(rig.add_instance("a").is_err(), "names are unique");
    let x = rig.output(a, "x").unwrap();
    let y = rig.input(a, "y").unwrap();
    assert!(rig.map(x, y));
    assert!(!rig.map(x, y));
    assert!(rig.configure("anything", "1").unwrap().is_empty());
    rig.start().unwrap();
    assert!(matches!(rig.start(), Err(CoreError::AlreadyStarted)));
    // Echo re-reports x; the mapping x > y makes echo report y, which the probe records.
    rig.set(x, Value::from_raw(3, 8));
    rig.turn(Duration::ZERO).unwrap();
    assert_eq!(rig.take_events().len(), 1);
    rig.shutdown();
    assert_eq!(rig.turn(Duration::ZERO).unwrap(), Some(Exit::Clean));
}

#[test]
#[should_panic(expected = "was not looked up with Rig::output")]
fn set_needs_an_output_lookup() {
    let mut rig = Rig::new(Echo);
    let a = rig.add_instance("a").unwrap();
    let y = rig.input(a, "y").unwrap();
    rig.set(y, Value::from_raw(1, 8));
}

#[test]
#[should_panic(expected = "cannot move time")]
fn a_real_time_rig_cannot_move_time() {
    Rig::real_time(Echo).advance(Duration::from_secs(1));
}
