//! TCP for backends that need it (MQTT, OSC over TCP): a non-blocking listener and connections
//! on mio, with a bounded write buffer, connects completed by write readiness, and hang-ups and
//! errors reported as values. Framing (where a message ends in the byte stream) is the caller's:
//! [`TcpConn::read`] hands out bytes as they come.
//!
//! How to drive it: register [`TcpListener::source_mut`] for `READABLE` and call
//! [`TcpListener::accept`] until `Ok(None)`; register every [`TcpConn::source_mut`] for
//! `READABLE | WRITABLE` once. mio is edge-triggered, so write readiness costs nothing while
//! the socket stays writable and fires when a full send buffer drains or a connect finishes:
//! on it, call [`TcpConn::on_writable`] (completes a connect in progress, then sends what
//! [`TcpConn::send`] had to keep). On read readiness, call [`TcpConn::read`] until
//! [`Read::WouldBlock`] or [`Read::Closed`].
//!
//! Why bounded: a peer that stops reading must not make patchbay buffer without end. A message
//! that does not fit is refused whole ([`TcpError::BufferFull`]), never cut, so the caller
//! decides what to drop (a control protocol usually wants the newest state, not a backlog).
//! Why `TCP_NODELAY`: control messages are small and latency matters more than packet count.

use std::fmt;
use std::io::{self, Read as _, Write as _};
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use crate::holder::{PortUse, Proto};

/// Write buffer of a connection unless the caller says otherwise: room for a burst of a few
/// thousand small control messages.
pub const DEFAULT_WRITE_LIMIT: usize = 256 << 10;

/// Pending connections the kernel queues for [`TcpListener::accept`].
const BACKLOG: i32 = 128;

/// TCP failures, each naming the address involved.
#[derive(Debug, thiserror::Error)]
pub enum TcpError {
    /// Creating or configuring the socket failed.
    #[error("cannot {what} for {addr}: {source}")]
    Setup {
        /// The address to bind or connect to.
        addr: SocketAddr,
        /// The step that failed.
        what: &'static str,
        /// What the kernel said.
        source: io::Error,
    },
    /// `bind` or `listen` failed.
    #[error("cannot listen on {addr}: {source}{held}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// What the kernel said.
        source: io::Error,
        /// For `EADDRINUSE`: who listens there, and what to change.
        held: PortUse,
    },
    /// The connection could not be established (refused, unreachable, timed out).
    #[error("cannot connect to {peer}: {source}")]
    Connect {
        /// The peer.
        peer: SocketAddr,
        /// What the kernel said.
        source: io::Error,
    },
    /// The connection failed after it was established (reset, broken pipe, ...).
    #[error("connection with {peer} failed: {source}")]
    Io {
        /// The peer.
        peer: SocketAddr,
        /// What the kernel said.
        source: io::Error,
    },
    /// [`TcpConn::send`] refused a message: it does not fit beside what waits to be sent.
    #[error(
        "{len} byte(s) for {peer} refused: {pending} byte(s) already wait to be sent and the write \
         buffer holds {limit} (the peer reads too slowly)"
    )]
    BufferFull {
        /// The peer.
        peer: SocketAddr,
        /// Size of the refused message.
        len: usize,
        /// Bytes waiting.
        pending: usize,
        /// The buffer's size.
        limit: usize,
    },
    /// The connection is closed (after a hang-up, an error or [`TcpConn::close`]).
    #[error("connection with {peer} is closed")]
    Closed {
        /// The peer.
        peer: SocketAddr,
    },
}

/// A listening socket.
pub struct TcpListener {
    sock: mio::net::TcpListener,
    local: SocketAddr,
}

impl TcpListener {
    /// Listens on `addr` (`SO_REUSEADDR`, so a restart is not refused while old connections
    /// linger in `TIME_WAIT`; an IPv6 wildcard also takes IPv4). Port 0 picks a free port.
    ///
    /// # Errors
    /// [`TcpError::Setup`], or [`TcpError::Listen`] naming the process in the way on `EADDRINUSE`.
    pub fn bind(addr: SocketAddr) -> Result<Self, TcpError> {
        let setup = |what| move |source| TcpError::Setup { addr, what, source };
        let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .map_err(setup("create the socket"))?;
        sock.set_reuse_address(true)
            .map_err(setup("set SO_REUSEADDR"))?;
        sock.set_nonblocking(true)
            .map_err(setup("set O_NONBLOCK"))?;
        if addr.is_ipv6() && addr.ip().is_unspecified() {
            sock.set_only_v6(false)
                .map_err(setup("clear IPV6_V6ONLY"))?;
        }
        let listen = |source: io::Error| {
            let held = if source.raw_os_error() == Some(libc::EADDRINUSE) {
                PortUse::lookup(Proto::Tcp, addr)
            } else {
                PortUse::none()
            };
            TcpError::Listen { addr, source, held }
        };
        sock.bind(&addr.into()).map_err(listen)?;
        sock.listen(BACKLOG).map_err(listen)?;
        let local = sock
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .unwrap_or(addr);
        Ok(Self {
            sock: mio::net::TcpListener::from_std(sock.into()),
            local,
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The socket, to register with mio for `READABLE`.
    pub fn source_mut(&mut self) -> &mut mio::net::TcpListener {
        &mut self.sock
    }

    /// The next pending connection, open, with a write buffer of `write_limit` bytes;
    /// `Ok(None)` when none waits (call until then on each readable event).
    ///
    /// # Errors
    /// Kernel errors other than `EAGAIN`; the listener stays usable (a connection that was reset
    /// while queued, `ECONNABORTED`, is skipped).
    pub fn accept(&mut self, write_limit: usize) -> Result<Option<TcpConn>, TcpError> {
        loop {
            match self.sock.accept() {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(Some(TcpConn::new(stream, peer, State::Open, write_limit)));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e)
                    if e.kind() == io::ErrorKind::Interrupted
                        || e.raw_os_error() == Some(libc::ECONNABORTED) => {}
                Err(source) => {
                    return Err(TcpError::Io {
                        peer: self.local,
                        source,
                    });
                }
            }
        }
    }
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// `connect` is in progress; write readiness ends it ([`TcpConn::on_writable`]).
    Connecting,
    /// Established.
    Open,
    /// Hung up, failed or closed; nothing more is read or sent.
    Closed,
}

/// What one [`TcpConn::read`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// This many bytes are at the start of the buffer.
    Data(usize),
    /// Nothing more for now: wait for read readiness.
    WouldBlock,
    /// The peer closed its side (end of stream); the connection is [`State::Closed`].
    Closed,
}

/// What a [`TcpConn::on_writable`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// This call completed the connect: the connection is open now (send a greeting, ...).
    pub connected: bool,
    /// Bytes still waiting for the next write readiness.
    pub pending: usize,
}

/// One TCP connection: accepted, or connecting out.
pub struct TcpConn {
    stream: mio::net::TcpStream,
    peer: SocketAddr,
    state: State,
    out: OutBuf,
}

impl fmt::Debug for TcpConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpConn")
            .field("peer", &self.peer)
            .field("state", &self.state)
            .field("pending", &self.out.len())
            .finish_non_exhaustive()
    }
}

impl TcpConn {
    fn new(stream: mio::net::TcpStream, peer: SocketAddr, state: State, limit: usize) -> Self {
        Self {
            stream,
            peer,
            state,
            out: OutBuf::new(limit),
        }
    }

    /// Starts connecting to `peer` without waiting ([`State::Connecting`]); what is sent before
    /// the connection is open waits in the write buffer of `write_limit` bytes. Register the
    /// stream for `READABLE | WRITABLE`; the first write readiness completes the connect.
    ///
    /// # Errors
    /// [`TcpError::Connect`] when the kernel refuses at once (no route, bad address).
    pub fn connect(peer: SocketAddr, write_limit: usize) -> Result<Self, TcpError> {
        let stream = mio::net::TcpStream::connect(peer)
            .map_err(|source| TcpError::Connect { peer, source })?;
        let _ = stream.set_nodelay(true);
        Ok(Self::new(stream, peer, State::Connecting, write_limit))
    }

    /// The stream, to register with mio for `READABLE | WRITABLE`.
    pub fn source_mut(&mut self) -> &mut mio::net::TcpStream {
        &mut self.stream
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// This end's address.
    ///
    /// # Errors
    /// The kernel cannot say (the socket is gone).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    /// Where the connection is.
    pub fn state(&self) -> State {
        self.state
    }

    /// Bytes waiting in the write buffer.
    pub fn pending(&self) -> usize {
        self.out.len()
    }

    /// Room left in the write buffer.
    pub fn room(&self) -> usize {
        self.out.limit - self.out.len()
    }

    /// On write readiness: finishes a connect in progress, then sends what waits.
    ///
    /// # Errors
    /// [`TcpError::Connect`] when the connect failed, [`TcpError::Io`] when sending did; the
    /// connection is closed then.
    pub fn on_writable(&mut self) -> Result<Written, TcpError> {
        let mut connected = false;
        if self.state == State::Connecting {
            // mio: after write readiness, an error means the connect failed; no peer address yet
            // means the readiness was spurious and the connect is still in progress.
            if let Some(source) = self.stream.take_error().ok().flatten() {
                return Err(self.fail_connect(source));
            }
            match self.stream.peer_addr() {
                Ok(_) => {
                    self.state = State::Open;
                    connected = true;
                }
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    return Ok(Written {
                        connected: false,
                        pending: self.out.len(),
                    });
                }
                Err(source) => return Err(self.fail_connect(source)),
            }
        }
        self.flush()?;
        Ok(Written {
            connected,
            pending: self.out.len(),
        })
    }

    fn fail_connect(&mut self, source: io::Error) -> TcpError {
        self.state = State::Closed;
        TcpError::Connect {
            peer: self.peer,
            source,
        }
    }

    fn fail(&mut self, source: io::Error) -> TcpError {
        self.state = State::Closed;
        TcpError::Io {
            peer: self.peer,
            source,
        }
    }

    /// Sends `bytes` whole or not at all: as much as the socket takes now, the rest kept for
    /// write readiness. While connecting, everything is kept.
    ///
    /// # Errors
    /// [`TcpError::BufferFull`] (nothing queued; the connection stays usable) when `bytes` does
    /// not fit beside what waits; [`TcpError::Closed`] after a hang-up; [`TcpError::Io`] when
    /// the kernel refuses (the connection is closed then).
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), TcpError> {
        if self.state == State::Closed {
            return Err(TcpError::Closed { peer: self.peer });
        }
        if bytes.len() > self.room() {
            return Err(TcpError::BufferFull {
                peer: self.peer,
                len: bytes.len(),
                pending: self.out.len(),
                limit: self.out.limit,
            });
        }
        let mut rest = bytes;
        if self.state == State::Open && self.out.is_empty() {
            // The common case: straight to the socket, no copy.
            while !rest.is_empty() {
                match self.stream.write(rest) {
                    Ok(0) => return Err(self.fail(io::ErrorKind::WriteZero.into())),
                    Ok(n) => rest = &rest[n..],
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(self.fail(e)),
                }
            }
        }
        self.out.push(rest);
        if self.state == State::Open {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends what waits, until the socket takes no more.
    fn flush(&mut self) -> Result<(), TcpError> {
        while !self.out.is_empty() {
            match self.stream.write(self.out.as_slice()) {
                Ok(0) => return Err(self.fail(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.out.consume(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(())
    }

    /// Reads what has arrived into `buf`.
    ///
    /// # Errors
    /// [`TcpError::Io`] (reset, ...; the connection is closed then) or [`TcpError::Closed`]
    /// when called after the connection closed.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<Read, TcpError> {
        match self.state {
            State::Closed => return Err(TcpError::Closed { peer: self.peer }),
            State::Connecting => return Ok(Read::WouldBlock),
            State::Open => {}
        }
        if buf.is_empty() {
            return Ok(Read::WouldBlock);
        }
        loop {
            return match self.stream.read(buf) {
                Ok(0) => {
                    self.state = State::Closed;
                    Ok(Read::Closed)
                }
                Ok(n) => Ok(Read::Data(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Read::WouldBlock),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(self.fail(e)),
            };
        }
    }

    /// Closes the connection at once (what waits to be sent is dropped). Deregister the
    /// stream from the poll, then drop the connection.
    pub fn close(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        self.out.clear();
        self.state = State::Closed;
    }
}

/// A bounded byte queue that is written from its front: one allocation, grown up to its limit
/// once and reused, compacted when the sent part outgrows the rest.
struct OutBuf {
    buf: Vec<u8>,
    start: usize,
    limit: usize,
}

impl OutBuf {
    fn new(limit: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            limit,
        }
    }

    fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn as_slice(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Appends (the caller checked the room).
    fn push(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.start > 0 && self.start >= self.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.clear();
        }
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The queue hands out exactly what was pushed, in order, however it is consumed.
        #[test]
        fn out_buf_is_a_fifo(ops in proptest::collection::vec((any::<bool>(), 0usize..50), 0..200)) {
            let mut q = OutBuf::new(1 << 20);
            let mut model: std::collections::VecDeque<u8> = Default::default();
            let mut next = 0u8;
            for (push, n) in ops {
                if push {
                    let bytes: Vec<u8> = (0..n).map(|_| { next = next.wrapping_add(1); next }).collect();
                    q.push(&bytes);
                    model.extend(bytes);
                } else {
                    let n = n.min(q.len());
                    q.consume(n);
                    model.drain(..n);
                }
                let want: Vec<u8> = model.iter().copied().collect();
                prop_assert_eq!(q.as_slice(), want.as_slice());
            }
        }
    }
}
