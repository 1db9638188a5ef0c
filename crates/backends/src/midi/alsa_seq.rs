//! The real [`Sequencer`]: libasound's sequencer through the `alsa` crate, non-blocking, with
//! ALSA's own MIDI byte coder (`snd_midi_event`, running status off) between sequencer events
//! and MIDI bytes, so that the backend reads and writes plain MIDI like every MIDI backend.
//!
//! Tested only where `/dev/snd/seq` exists (tests/midi_alsa.rs); the logic above it is tested
//! against a fake.

use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;

use alsa::PollDescriptors;
use alsa::seq::{
    Addr as AlsaAddr, ClientIter, EventType, MidiEvent, PortCap, PortInfo as AlsaPortInfo,
    PortIter, PortSubscribe, PortType, Seq,
};

use super::seq::{Addr, PortInfo, SeqEvent, Sequencer};

/// A sequencer client.
pub struct AlsaSeq {
    seq: Seq,
    client: i32,
    /// Sequencer events → MIDI bytes.
    decoder: MidiEvent,
    /// MIDI bytes → sequencer events.
    encoder: MidiEvent,
    fd: RawFd,
}

fn io_error(what: &str, e: alsa::Error) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

/// Room for the longest SysEx template, with some to spare.
const CODER_BUFFER: u32 = 2048;

impl AlsaSeq {
    /// Opens the default sequencer as client `name`, subscribed to the system announcements
    /// (ports and clients that come and go).
    pub fn open(name: &str) -> io::Result<AlsaSeq> {
        let seq = Seq::open(None, None, true).map_err(|e| {
            io_error(
                "cannot open the ALSA sequencer (/dev/snd/seq; is snd-seq loaded?)",
                e,
            )
        })?;
        let cname = CString::new(name).map_err(|_| io::Error::other("client name with a NUL"))?;
        seq.set_client_name(&cname)
            .map_err(|e| io_error("cannot set the client name", e))?;
        let client = seq
            .client_id()
            .map_err(|e| io_error("cannot get the client id", e))?;
        // A port of its own for the announcements, which nobody else may subscribe to.
        let announce = seq
            .create_simple_port(
                c"announcements",
                PortCap::WRITE | PortCap::NO_EXPORT,
                PortType::APPLICATION,
            )
            .map_err(|e| io_error("cannot create the announcement port", e))?;
        let sub = PortSubscribe::empty().map_err(|e| io_error("subscription", e))?;
        sub.set_sender(AlsaAddr::system_announce());
        sub.set_dest(AlsaAddr {
            client,
            port: announce,
        });
        seq.subscribe_port(&sub)
            .map_err(|e| io_error("cannot subscribe to the system announcements", e))?;
        let decoder =
            MidiEvent::new(CODER_BUFFER).map_err(|e| io_error("MIDI event decoder", e))?;
        decoder.enable_running_status(false);
        let encoder =
            MidiEvent::new(CODER_BUFFER).map_err(|e| io_error("MIDI event encoder", e))?;
        let mut fds = [libc_pollfd()];
        let n = (&seq, Some(alsa::Direction::Capture))
            .fill(&mut fds)
            .map_err(|e| io_error("poll descriptors", e))?;
        if n == 0 {
            return Err(io::Error::other("the sequencer has no poll descriptor"));
        }
        let fd = fds[0].fd;
        Ok(AlsaSeq {
            seq,
            client,
            decoder,
            encoder,
            fd,
        })
    }
}

fn libc_pollfd() -> alsa::poll::pollfd {
    alsa::poll::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }
}

impl Sequencer for AlsaSeq {
    fn client_id(&self) -> i32 {
        self.client
    }

    fn create_port(&mut self, name: &str) -> io::Result<i32> {
        let cname = CString::new(name).map_err(|_| io::Error::other("port name with a NUL"))?;
        self.seq
            .create_simple_port(
                &cname,
                PortCap::READ | PortCap::SUBS_READ | PortCap::WRITE | PortCap::SUBS_WRITE,
                PortType::MIDI_GENERIC | PortType::APPLICATION,
            )
            .map_err(|e| io_error("cannot create a port", e))
    }

    fn ports(&self) -> Vec<PortInfo> {
        let mut out = Vec::new();
        for c in ClientIter::new(&self.seq) {
            let client = c.get_client();
            if client == self.client {
                continue;
            }
            let client_name = c.get_name().unwrap_or("").to_owned();
            for p in PortIter::new(&self.seq, client) {
                out.push(port_info(&p, &client_name));
            }
        }
        out
    }

    fn connect_from(&mut self, port: i32, from: Addr) -> io::Result<()> {
        self.subscribe(
            from,
            Addr {
                client: self.client,
                port,
            },
        )
    }

    fn connect_to(&mut self, port: i32, to: Addr) -> io::Result<()> {
        self.subscribe(
            Addr {
                client: self.client,
                port,
            },
            to,
        )
    }

    fn fd(&self) -> RawFd {
        self.fd
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<Option<SeqEvent>> {
        let mut input = self.seq.input();
        let mut ev = match input.event_input() {
            Ok(ev) => ev,
            Err(e) if e.errno() == libc_eagain() => return Ok(None),
            Err(e) => return Err(io_error("reading the sequencer", e)),
        };
        let addr = || {
            ev.get_data::<AlsaAddr>().map(|a| Addr {
                client: a.client,
                port: a.port,
            })
        };
        let got = match ev.get_type() {
            EventType::PortStart => addr().map(SeqEvent::PortStart),
            EventType::PortExit => addr().map(SeqEvent::PortExit),
            EventType::ClientExit => addr().map(|a| SeqEvent::ClientExit(a.client)),
            EventType::Noteon
            | EventType::Noteoff
            | EventType::Keypress
            | EventType::Controller
            | EventType::Pgmchange
            | EventType::Chanpress
            | EventType::Pitchbend
            | EventType::Sysex
            | EventType::Qframe
            | EventType::Songpos
            | EventType::Songsel
            | EventType::TuneRequest
            | EventType::Clock
            | EventType::Start
            | EventType::Continue
            | EventType::Stop
            | EventType::Sensing
            | EventType::Reset => {
                let port = ev.get_dest().port;
                match self.decoder.decode(buf, &mut ev) {
                    Ok(len) => Some(SeqEvent::Midi { port, len }),
                    // Larger than the buffer, or not MIDI after all: the caller counts it.
                    Err(_) => Some(SeqEvent::Midi { port, len: 0 }),
                }
            }
            _ => Some(SeqEvent::Other),
        };
        Ok(Some(got.unwrap_or(SeqEvent::Other)))
    }

    fn write(&mut self, port: i32, bytes: &[u8]) -> io::Result<()> {
        self.encoder.reset_encode();
        let (_, ev) = self
            .encoder
            .encode(bytes)
            .map_err(|e| io_error("encoding MIDI", e))?;
        let Some(mut ev) = ev else {
            return Err(io::Error::other("not a whole MIDI message"));
        };
        ev.set_source(port);
        ev.set_subs();
        ev.set_direct();
        self.seq
            .event_output(&mut ev)
            .map(|_| ())
            .map_err(|e| io_error("queueing an event", e))
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.seq.drain_output() {
            Ok(_) => Ok(()),
            Err(e) if e.errno() == libc_eagain() => Ok(()),
            Err(e) => Err(io_error("sending events", e)),
        }
    }
}

impl AlsaSeq {
    fn subscribe(&self, sender: Addr, dest: Addr) -> io::Result<()> {
        let sub = PortSubscribe::empty().map_err(|e| io_error("subscription", e))?;
        sub.set_sender(AlsaAddr {
            client: sender.client,
            port: sender.port,
        });
        sub.set_dest(AlsaAddr {
            client: dest.client,
            port: dest.port,
        });
        self.seq
            .subscribe_port(&sub)
            .map_err(|e| io_error(&format!("cannot connect {sender} to {dest}"), e))
    }
}

fn port_info(p: &AlsaPortInfo, client_name: &str) -> PortInfo {
    let caps = p.get_capability();
    PortInfo {
        addr: Addr {
            client: p.get_client(),
            port: p.get_port(),
        },
        client_name: client_name.to_owned(),
        port_name: p.get_name().unwrap_or("").to_owned(),
        readable: caps.contains(PortCap::READ | PortCap::SUBS_READ)
            && !caps.contains(PortCap::NO_EXPORT),
        writable: caps.contains(PortCap::WRITE | PortCap::SUBS_WRITE)
            && !caps.contains(PortCap::NO_EXPORT),
    }
}

fn libc_eagain() -> i32 {
    nix::errno::Errno::EAGAIN as i32
}
