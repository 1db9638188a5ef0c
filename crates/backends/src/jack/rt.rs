//! The side of the backend that runs on JACK's threads: the process callback (real-time: it
//! neither blocks nor allocates), the shutdown notification, and what they share with the loop.
//!
//! Between the callback and the loop, MIDI travels through wait-free single-producer
//! single-consumer byte rings (`rtrb`), one per MIDI port and direction, as records of a
//! 2-byte length and the event's bytes. CV travels as the latest sample in an atomic per port:
//! only the newest value of a control voltage matters. The callback wakes the loop (an eventfd
//! write, what MIDIMonster does with a socket) only in a period that brought something.
//! Whatever does not fit is dropped and counted, never waited for.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use jack::{
    AudioIn, AudioOut, Client, ClientStatus, Control, MidiIn, MidiOut, NotificationHandler, Port,
    PortId, ProcessHandler, ProcessScope, RawMidi,
};
use patchbay_core::Waker;
use rtrb::{Consumer, Producer};

/// Bytes of one MIDI ring (per port and direction): 1,300 three-byte events of one period.
pub const RING_BYTES: usize = 8 * 1024;

/// Longest MIDI event carried: the longest SysEx template (`patchbay_midi::MAX_TEMPLATE_LEN`).
/// A longer incoming event could match no template; it is dropped and counted (`in_too_long`).
pub const MAX_EVENT: usize = patchbay_midi::MAX_TEMPLATE_LEN;

const HEADER: usize = 2;

/// Appends one record; false (nothing written) when the ring has no room for it.
pub fn push_record(ring: &mut Producer<u8>, bytes: &[u8]) -> bool {
    let Ok(len) = u16::try_from(bytes.len()) else {
        return false;
    };
    match ring.write_chunk_uninit(HEADER + bytes.len()) {
        Ok(chunk) => {
            chunk.fill_from_iter(len.to_le_bytes().into_iter().chain(bytes.iter().copied()));
            true
        }
        Err(_) => false,
    }
}

/// Copies the oldest record into `buf` without removing it; its length, or `None` when the
/// ring is empty (or holds a record longer than `buf`, which `push_record`'s callers rule out).
fn peek_record(ring: &mut Consumer<u8>, buf: &mut [u8]) -> Option<usize> {
    let len = {
        let head = ring.read_chunk(HEADER).ok()?;
        let (a, b) = head.as_slices();
        let mut h = [0u8; HEADER];
        for (d, s) in h.iter_mut().zip(a.iter().chain(b)) {
            *d = *s;
        }
        usize::from(u16::from_le_bytes(h))
    };
    let chunk = ring.read_chunk(HEADER + len).ok()?;
    let dst = buf.get_mut(..len)?;
    let (a, b) = chunk.as_slices();
    for (d, s) in dst.iter_mut().zip(a.iter().chain(b).skip(HEADER)) {
        *d = *s;
    }
    Some(len)
}

/// Removes the oldest record (after [`peek_record`] returned it).
fn commit_record(ring: &mut Consumer<u8>, len: usize) {
    if let Ok(chunk) = ring.read_chunk(HEADER + len) {
        chunk.commit_all();
    }
}

/// Takes the oldest record into `buf`; its length, or `None` when the ring is empty.
pub fn pop_record(ring: &mut Consumer<u8>, buf: &mut [u8]) -> Option<usize> {
    let len = peek_record(ring, buf)?;
    commit_record(ring, len);
    Some(len)
}

/// State shared by JACK's threads and the loop for one connection of one instance.
#[derive(Debug)]
pub struct Shared {
    /// The server shut the client down (set by the shutdown notification).
    pub dead: AtomicBool,
    /// Latest first sample of each CV input port (f32 bits), by port index.
    pub cv_in: Box<[AtomicU32]>,
    /// A CV input changed since the loop last looked.
    pub cv_in_changed: AtomicBool,
    /// Sample written to each CV output port (f32 bits), by port index.
    pub cv_out: Box<[AtomicU32]>,
    /// A MIDI output port got a new connection: the loop sends it the last values again.
    pub resend: Box<[AtomicBool]>,
    /// Incoming events dropped because their port's ring was full.
    pub in_overflow: AtomicU64,
    /// Incoming events longer than [`MAX_EVENT`], dropped.
    pub in_too_long: AtomicU64,
    /// Outgoing events JACK's port buffer had no room for in their period: kept for the next.
    pub out_deferred: AtomicU64,
    /// Periods JACK reported as late (xruns).
    pub xruns: AtomicU64,
}

impl Shared {
    /// For a client with `ports` ports; CV outputs start at `cv_out` (by port index).
    pub fn new(ports: usize, cv_out: &[f32]) -> Shared {
        Shared {
            dead: AtomicBool::new(false),
            cv_in: (0..ports).map(|_| AtomicU32::new(0)).collect(),
            cv_in_changed: AtomicBool::new(false),
            cv_out: (0..ports)
                .map(|i| AtomicU32::new(cv_out.get(i).copied().unwrap_or(0.0).to_bits()))
                .collect(),
            resend: (0..ports).map(|_| AtomicBool::new(false)).collect(),
            in_overflow: AtomicU64::new(0),
            in_too_long: AtomicU64::new(0),
            out_deferred: AtomicU64::new(0),
            xruns: AtomicU64::new(0),
        }
    }
}

/// One port as the process callback holds it.
pub enum RtPort {
    /// Events go into the ring.
    MidiIn(Port<MidiIn>, Producer<u8>),
    /// Records from the ring are written to the port.
    MidiOut(Port<MidiOut>, Consumer<u8>),
    /// The first sample of each period is published when it changed.
    CvIn(Port<AudioIn>, usize),
    /// Every sample is the published value.
    CvOut(Port<AudioOut>, usize),
}

/// The process callback of one client.
pub struct Process {
    /// The client's ports, in the order of the instance's port lines.
    pub ports: Vec<RtPort>,
    /// Shared with the loop.
    pub shared: Arc<Shared>,
    /// The loop's waker.
    pub waker: Arc<Waker>,
    /// Last CV input sample seen, by port index (the callback's own copy).
    pub cv_last: Vec<u32>,
}

impl ProcessHandler for Process {
    fn process(&mut self, _: &Client, ps: &ProcessScope) -> Control {
        let shared = &*self.shared;
        let mut wake = false;
        let mut buf = [0u8; MAX_EVENT];
        for port in &mut self.ports {
            match port {
                RtPort::MidiIn(port, ring) => {
                    for ev in port.iter(ps) {
                        if ev.bytes.len() > MAX_EVENT {
                            shared.in_too_long.fetch_add(1, Ordering::Relaxed);
                        } else if push_record(ring, ev.bytes) {
                            wake = true;
                        } else {
                            shared.in_overflow.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                RtPort::MidiOut(port, ring) => {
                    let mut writer = port.writer(ps);
                    while let Some(len) = peek_record(ring, &mut buf) {
                        let ev = RawMidi {
                            time: 0,
                            bytes: &buf[..len],
                        };
                        if writer.write(&ev).is_err() {
                            shared.out_deferred.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        commit_record(ring, len);
                    }
                }
                RtPort::CvIn(port, i) => {
                    let sample = port.as_slice(ps).first().copied().unwrap_or(0.0).to_bits();
                    if let (Some(last), Some(slot)) =
                        (self.cv_last.get_mut(*i), shared.cv_in.get(*i))
                        && *last != sample
                    {
                        *last = sample;
                        slot.store(sample, Ordering::Relaxed);
                        shared.cv_in_changed.store(true, Ordering::Release);
                        wake = true;
                    }
                }
                RtPort::CvOut(port, i) => {
                    let v = shared
                        .cv_out
                        .get(*i)
                        .map_or(0.0, |a| f32::from_bits(a.load(Ordering::Relaxed)));
                    port.as_mut_slice(ps).fill(v);
                }
            }
        }
        if wake {
            // An eventfd write: bounded, never blocks (mio's waker is non-blocking).
            let _ = self.waker.wake();
        }
        Control::Continue
    }
}

/// The notification handler of one client: notes that the server went away, that a MIDI
/// output was connected to (whoever connects gets the current values: a JACK port has no
/// state, and connections are made after a client appears, by a patchbay or session manager),
/// and xruns. It runs on JACK's notification thread, not the real-time one.
pub struct Notify {
    /// Shared with the loop.
    pub shared: Arc<Shared>,
    /// The loop's waker.
    pub waker: Arc<Waker>,
    /// Short names of the client's MIDI output ports, `None` for the other ports.
    pub midi_out: Vec<Option<String>>,
}

impl NotificationHandler for Notify {
    // JACK calls this like a signal handler: an atomic store and an eventfd write are all it
    // does (both async-signal-safe). The trait declares the method unsafe for that reason.
    #[allow(unsafe_code)]
    unsafe fn shutdown(&mut self, _status: ClientStatus, _reason: &str) {
        self.shared.dead.store(true, Ordering::Release);
        let _ = self.waker.wake();
    }

    fn ports_connected(&mut self, client: &Client, a: PortId, b: PortId, are_connected: bool) {
        if !are_connected {
            return;
        }
        let mut wake = false;
        for id in [a, b] {
            let Some(port) = client.port_by_id(id) else {
                continue;
            };
            if !client.is_mine(&port) {
                continue;
            }
            let Ok(name) = port.short_name() else {
                continue;
            };
            let index = self
                .midi_out
                .iter()
                .position(|n| n.as_deref() == Some(&name));
            if let Some(flag) = index.and_then(|i| self.shared.resend.get(i)) {
                flag.store(true, Ordering::Release);
                wake = true;
            }
        }
        if wake {
            let _ = self.waker.wake();
        }
    }

    fn xrun(&mut self, _: &Client) -> Control {
        self.shared.xruns.fetch_add(1, Ordering::Relaxed);
        Control::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtrb::RingBuffer;

    #[test]
    fn records_keep_their_bytes_and_order_across_the_wrap() {
        let (mut p, mut c) = RingBuffer::<u8>::new(16);
        let mut buf = [0u8; 16];
        for round in 0..20u8 {
            assert!(push_record(&mut p, &[round, 1, 2]));
            assert!(push_record(&mut p, &[0xF0, round, 0xF7, 9]));
            assert!(!push_record(&mut p, &[0; 8]), "no room: nothing written");
            assert_eq!(pop_record(&mut c, &mut buf), Some(3));
            assert_eq!(buf[..3], [round, 1, 2]);
            assert_eq!(pop_record(&mut c, &mut buf), Some(4));
            assert_eq!(buf[..4], [0xF0, round, 0xF7, 9]);
            assert_eq!(pop_record(&mut c, &mut buf), None);
        }
    }

    #[test]
    fn a_peeked_record_stays_until_committed() {
        let (mut p, mut c) = RingBuffer::<u8>::new(32);
        let mut buf = [0u8; 8];
        assert!(push_record(&mut p, &[0x90, 60, 100]));
        assert_eq!(peek_record(&mut c, &mut buf), Some(3));
        assert_eq!(peek_record(&mut c, &mut buf), Some(3));
        commit_record(&mut c, 3);
        assert_eq!(peek_record(&mut c, &mut buf), None);
    }

    #[test]
    fn shared_starts_cv_outputs_where_told() {
        let s = Shared::new(3, &[0.0, -1.0]);
        let out: Vec<f32> = s
            .cv_out
            .iter()
            .map(|a| f32::from_bits(a.load(Ordering::Relaxed)))
            .collect();
        assert_eq!(out, [0.0, -1.0, 0.0]);
    }
}
