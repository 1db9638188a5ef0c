//! An instance's sockets: a UDP endpoint (datagrams, OSC 1.0), or TCP streams with SLIP
//! (OSC 1.1) or length-prefix (OSC 1.0) framing: a listener for `bind`, a connection out for
//! `destination`, re-established after it drops.
//!
//! Tags: socket 0 of the instance's group is the UDP socket or the TCP listener, socket
//! `1 + k` connection slot `k`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::Interest;
use patchbay_core::Io;
use patchbay_kit::SocketTag;
use patchbay_net::tcp::{Read, State};
use patchbay_net::{SendError, SocketId, TcpConn, TcpListener, UdpEndpoint};
use patchbay_osc::framing::{Decoder, FrameError, Framing};

/// Most connections a listening instance accepts at once.
pub const MAX_CONNECTIONS: usize = 16;
/// Largest frame accepted on a stream.
pub const MAX_FRAME: usize = 65_536;
/// Write buffer of a connection.
const WRITE_LIMIT: usize = 256 << 10;
/// Time between connection attempts to a `destination` that is not there.
pub const RECONNECT: Duration = Duration::from_secs(2);

/// One stream with its frame decoder.
pub struct Conn {
    pub tcp: TcpConn,
    pub decoder: Decoder,
}

/// TCP: a listener (`bind`) and/or a connection out (`destination`), and the streams.
pub struct Tcp {
    pub framing: Framing,
    pub listener: Option<TcpListener>,
    /// The peer to connect to (`destination`).
    pub target: Option<SocketAddr>,
    /// Slot of the outgoing connection while there is one.
    pub outgoing: Option<usize>,
    pub conns: Vec<Option<Conn>>,
    /// When to connect out again.
    pub retry_at: Option<Instant>,
    /// A frame being built.
    pub frame: Vec<u8>,
}

/// Where an instance's packets come and go.
pub enum Link {
    /// A UDP socket: bound as configured, or to a free port when only sending.
    Udp(Box<UdpEndpoint>),
    /// TCP streams.
    Tcp(Tcp),
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Link::Udp(ep) => write!(f, "udp {ep}"),
            Link::Tcp(t) => write!(
                f,
                "tcp {:?} {} connection(s)",
                t.framing,
                t.conns.iter().flatten().count()
            ),
        }
    }
}

impl Link {
    /// Sends one packet: to `dst` over UDP, to every open stream over TCP (framed).
    pub fn send(&mut self, bytes: &[u8], dst: SocketAddr) -> Result<(), SendError> {
        match self {
            Link::Udp(ep) => ep.send_to(bytes, dst).map(|_| ()),
            Link::Tcp(t) => t.send(bytes),
        }
    }

    /// Where output can go now: `udp_dest` over UDP; over TCP the first open stream's peer
    /// (every open stream gets the output).
    pub fn target(&self, udp_dest: Option<SocketAddr>) -> Option<SocketAddr> {
        match self {
            Link::Udp(_) => udp_dest,
            Link::Tcp(t) => t
                .conns
                .iter()
                .flatten()
                .find(|c| c.tcp.state() == State::Open)
                .map(|c| c.tcp.peer_addr()),
        }
    }

    /// The UDP socket, to watch for writability.
    pub fn udp_socket(&mut self) -> Option<&mut mio::net::UdpSocket> {
        match self {
            Link::Udp(ep) => ep.socket_mut(SocketId::Main),
            Link::Tcp(_) => None,
        }
    }

    /// The bound (or listening) address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Link::Udp(ep) => Some(ep.local_addr()),
            Link::Tcp(t) => t.listener.as_ref().map(TcpListener::local_addr),
        }
    }
}

/// What reading one stream found, for the caller to act on.
pub enum StreamEvent<'a> {
    Frame(&'a [u8]),
    Bad(FrameError),
}

impl Tcp {
    pub fn new(framing: Framing) -> Tcp {
        Tcp {
            framing,
            listener: None,
            target: None,
            outgoing: None,
            conns: Vec::new(),
            retry_at: None,
            frame: vec![0; 2 * MAX_FRAME + 2],
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        let n = self
            .framing
            .write(bytes, &mut self.frame)
            .map_err(|_| SendError::WouldBlock)?;
        let mut full = false;
        for c in self.conns.iter_mut().flatten() {
            if c.tcp.state() != State::Open {
                continue;
            }
            if let Err(patchbay_net::TcpError::BufferFull { .. }) = c.tcp.send(&self.frame[..n]) {
                full = true;
            }
        }
        // A stream that cannot take more drops this packet (its peer reads too slowly).
        if full {
            Err(SendError::WouldBlock)
        } else {
            Ok(())
        }
    }

    /// Puts `conn` in a free slot and registers it; `None` when every slot is taken.
    pub fn add(&mut self, mut tcp: TcpConn, group: u16, io: &mut Io<'_>) -> Option<usize> {
        let slot = match self.conns.iter().position(Option::is_none) {
            Some(s) => s,
            None if self.conns.len() < MAX_CONNECTIONS => {
                self.conns.push(None);
                self.conns.len() - 1
            }
            None => {
                tcp.close();
                return None;
            }
        };
        let tag = SocketTag::new(group, 1 + slot as u16).tag();
        if io
            .register(
                tcp.source_mut(),
                tag,
                Interest::READABLE | Interest::WRITABLE,
            )
            .is_err()
        {
            tcp.close();
            return None;
        }
        self.conns[slot] = Some(Conn {
            tcp,
            decoder: Decoder::new(self.framing, MAX_FRAME),
        });
        Some(slot)
    }

    /// Closes slot `slot`; an outgoing connection is tried again after [`RECONNECT`].
    pub fn drop_conn(&mut self, slot: usize, group: u16, now: Instant, io: &mut Io<'_>) {
        if let Some(mut c) = self.conns.get_mut(slot).and_then(Option::take) {
            let tag = SocketTag::new(group, 1 + slot as u16).tag();
            let _ = io.deregister(c.tcp.source_mut(), tag);
            c.tcp.close();
        }
        if self.outgoing == Some(slot) {
            self.outgoing = None;
            self.retry_at = Some(now + RECONNECT);
        }
    }

    /// Connects out if it is time to; returns an error text for the log.
    pub fn connect(&mut self, group: u16, now: Instant, io: &mut Io<'_>) -> Result<(), String> {
        let Some(target) = self.target else {
            return Ok(());
        };
        if self.outgoing.is_some() || self.retry_at.is_some_and(|t| t > now) {
            return Ok(());
        }
        self.retry_at = None;
        match TcpConn::connect(target, WRITE_LIMIT) {
            Ok(c) => {
                self.outgoing = self.add(c, group, io);
                if self.outgoing.is_none() {
                    self.retry_at = Some(now + RECONNECT);
                }
                Ok(())
            }
            Err(e) => {
                self.retry_at = Some(now + RECONNECT);
                Err(e.to_string())
            }
        }
    }

    /// Accepts waiting connections (at most `budget`); returns how many were accepted and
    /// whether the listener is dry.
    pub fn accept(&mut self, group: u16, budget: usize, io: &mut Io<'_>) -> (u64, bool) {
        let mut n = 0;
        for _ in 0..budget {
            let Some(l) = self.listener.as_mut() else {
                return (n, true);
            };
            match l.accept(WRITE_LIMIT) {
                Ok(Some(c)) => {
                    if self.add(c, group, io).is_some() {
                        n += 1;
                    }
                }
                Ok(None) | Err(_) => return (n, true),
            }
        }
        (n, false)
    }

    /// Reads slot `slot` once into `buf` and hands every complete frame to `f`. Returns
    /// `Ok(true)` when the stream is dry, `Ok(false)` when more may wait, `Err(())` when it
    /// closed or failed (the caller drops it).
    pub fn read(
        &mut self,
        slot: usize,
        buf: &mut [u8],
        mut f: impl FnMut(StreamEvent<'_>),
    ) -> Result<bool, ()> {
        let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return Ok(true);
        };
        match c.tcp.read(buf) {
            Ok(Read::Data(n)) => {
                let mut rest = &buf[..n];
                while !rest.is_empty() {
                    let (used, event) = c.decoder.feed(rest);
                    match event {
                        Some(Ok(frame)) => f(StreamEvent::Frame(frame)),
                        Some(Err(e)) => f(StreamEvent::Bad(e)),
                        None => {}
                    }
                    rest = &rest[used..];
                }
                Ok(false)
            }
            Ok(Read::WouldBlock) => Ok(true),
            Ok(Read::Closed) | Err(_) => Err(()),
        }
    }

    /// On write readiness of slot `slot`: completes a connect, sends what waits. `Err` when
    /// the connection failed.
    pub fn writable(&mut self, slot: usize) -> Result<bool, String> {
        let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return Ok(false);
        };
        c.tcp
            .on_writable()
            .map(|w| w.connected)
            .map_err(|e| e.to_string())
    }
}
