//! One instance's connection to its broker while running: the sans-IO [`Client`], the TCP
//! connection (`patchbay_net::tcp`) with TLS between them when `mqtts://`, the host name look-up
//! and what the client's events mean for the core.
//!
//! Nothing here waits. The client asks for a connection ([`Event::Open`]); the host is looked
//! up on the resolver thread (IP addresses need no look-up), a non-blocking connect is started
//! to its first address and, if that fails, to the next; write readiness completes it. The
//! client's deadlines (back-off, connect timeout, keep-alive) are the backend's `poll_timeout`.
//! A connection the client closes (shutdown, a broker breaking the protocol) keeps its socket
//! for up to [`CLOSE_WAIT`] to write what is left (DISCONNECT, TLS close_notify) and see the
//! broker's end of stream, so the last bytes are not lost to a reset.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::Interest;
use patchbay_core::{Io, Ready, Sink, Value};
use patchbay_kit::SocketTag;
use patchbay_kit::throttle::{LOG_PERIOD, Throttle};
use patchbay_mqtt::client::DisconnectReason;
use patchbay_mqtt::transport::{ClientConfig, Transport};
use patchbay_mqtt::wire::reason_text;
use patchbay_mqtt::{Client, Event};
use patchbay_net::tcp::{DEFAULT_WRITE_LIMIT, Read, TcpConn, TcpError};

use super::counters::{InstanceCounters, LinkState};
use super::resolver::{Answer, Request, Resolver};
use super::topics::Topics;

/// Bytes read from one connection per loop turn before other sources get their turn (the rest
/// is read in the next turn, which follows at once).
pub const READ_BUDGET: usize = 64 * 1024;

/// How long a closing connection may take to write its last bytes and see the broker's end of
/// stream (within the daemon's shutdown grace of 2 s).
pub const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// While connection attempts keep failing, the first failure is logged as a warning, then one
/// line per this period with the number of attempts (each one at debug level).
pub const DOWN_LOG_PERIOD: Duration = Duration::from_secs(60);

/// Where the broker is.
#[derive(Debug)]
pub struct Target {
    /// Host name or address, as configured (also the name TLS checks the certificate against).
    pub host: String,
    pub port: u16,
    /// The host is an IP address: connect without a look-up.
    pub literal: Option<IpAddr>,
    /// `mqtts://`: the TLS configuration (roots) shared by the instance's connections.
    pub tls: Option<Arc<ClientConfig>>,
}

impl Target {
    /// A TCP failure for a log line that names the broker already: what the kernel said,
    /// and which address it was when the host is a name.
    fn describe(&self, e: &TcpError) -> String {
        match e {
            TcpError::Connect { peer, source } | TcpError::Io { peer, source } => {
                if self.literal == Some(peer.ip()) {
                    source.to_string()
                } else {
                    format!("{source} ({peer})")
                }
            }
            other => other.to_string(),
        }
    }

    /// `host:port` for logs, IPv6 addresses in brackets.
    pub fn label(&self) -> String {
        match self.literal {
            Some(IpAddr::V6(_)) => format!("[{}]:{}", self.host, self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Non-blocking connect under way.
    Connecting,
    /// TCP is up (TLS and MQTT handshakes, then traffic).
    Up,
    /// The client closed it: last bytes out, waiting for the broker's end of stream.
    Closing { deadline: Instant, shut: bool },
}

#[derive(Debug)]
struct Conn {
    tcp: TcpConn,
    tag: u32,
    transport: Transport,
    phase: Phase,
    /// Addresses of this attempt not tried yet, the next one last.
    rest: Vec<SocketAddr>,
}

/// What the instance's event handling needs besides the session.
pub struct Cx<'a, 's> {
    /// Instance name, for logs.
    pub name: &'a str,
    pub topics: &'a Topics,
    pub k: &'a mut InstanceCounters,
    /// Where events go; `None` outside `process` (no message can arrive there).
    pub sink: Option<&'a mut Sink<'s>>,
    pub resolver: Option<&'a Resolver>,
    /// Read buffer.
    pub buf: &'a mut [u8],
}

/// The running side of one instance.
#[derive(Debug)]
pub struct Session {
    pub client: Client,
    target: Target,
    /// Instance index: the group of its socket tags.
    group: u16,
    conn: Option<Conn>,
    closing: Option<Conn>,
    /// Socket part of the tags, new for every connection, so readiness of a connection that
    /// is gone is never taken for its successor's.
    generation: u16,
    /// Connection attempts (`Event::Open`), matched with resolver answers.
    attempt: u32,
    /// The attempt whose look-up is under way.
    resolving: Option<u32>,
    pub state: LinkState,
    /// The current connection reached CONNACK.
    up: bool,
    ever_connected: bool,
    /// Failed attempts since the last connection.
    failures: u64,
    /// Why the last attempt or connection failed, when the transport knows better than the
    /// client (refused, unreachable, certificate).
    last_error: Option<String>,
    /// The read budget ran out: read again next turn.
    more_input: bool,
    down_log: Throttle,
    decode_log: Throttle,
    encode_log: Throttle,
    refused_log: Throttle,
    /// Payload being built by `publish`.
    payload: Vec<u8>,
}

/// Stops watching a connection and closes it.
fn discard(io: &mut Io<'_>, mut c: Conn) {
    let _ = io.deregister(c.tcp.source_mut(), c.tag);
    c.tcp.close();
}

/// Moves what the client (through TLS) has to send into the connection, as far as its buffer
/// takes it; the rest stays with the client, whose queue keeps only the newest value per
/// topic once it is full.
fn pump(c: &mut Conn, client: &mut Client) -> Result<(), TcpError> {
    loop {
        let room = c.tcp.room();
        if room == 0 {
            return Ok(());
        }
        let bytes = c.transport.pending(client);
        if bytes.is_empty() {
            return Ok(());
        }
        let n = bytes.len().min(room);
        c.tcp.send(&bytes[..n])?;
        c.transport.written(n, client);
    }
}

fn excerpt(payload: &[u8]) -> String {
    let s = String::from_utf8_lossy(&payload[..payload.len().min(40)]).into_owned();
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    if payload.len() > 40 {
        format!("{s}...")
    } else {
        s
    }
}

impl Session {
    pub fn new(client: Client, target: Target, group: u16) -> Session {
        Session {
            client,
            target,
            group,
            conn: None,
            closing: None,
            generation: 0,
            attempt: 0,
            resolving: None,
            state: LinkState::Waiting,
            up: false,
            ever_connected: false,
            failures: 0,
            last_error: None,
            more_input: false,
            down_log: Throttle::default(),
            decode_log: Throttle::default(),
            encode_log: Throttle::default(),
            refused_log: Throttle::default(),
            payload: Vec::new(),
        }
    }

    /// Whether `tag` is one of this session's sockets.
    pub fn owns(&self, tag: u32) -> bool {
        self.conn.as_ref().is_some_and(|c| c.tag == tag)
            || self.closing.as_ref().is_some_and(|c| c.tag == tag)
    }

    /// The next moment `process` must run for this session.
    pub fn deadline(&self, now: Instant) -> Option<Instant> {
        let closing = match self.closing.as_ref().map(|c| c.phase) {
            Some(Phase::Closing { deadline, .. }) => Some(deadline),
            _ => None,
        };
        let more = self.more_input.then_some(now);
        [self.client.poll_timeout(), closing, more]
            .into_iter()
            .flatten()
            .min()
    }

    /// Nothing left to close.
    pub fn is_idle(&self) -> bool {
        self.conn.is_none() && self.closing.is_none()
    }

    /// A value for output topic `key`'s delivery: encoded and handed to the client.
    pub fn publish(
        &mut self,
        now: Instant,
        topics: &Topics,
        key: u64,
        value: Value,
        name: &str,
        k: &mut InstanceCounters,
    ) {
        let Some(t) = topics.by_key(key) else { return };
        let Some(out) = t.out else { return };
        self.payload.clear();
        match t.map.encode(value.normalised(), &mut self.payload) {
            Ok(()) => {
                k.messages_out += 1;
                self.client.publish(now, out, &self.payload);
            }
            Err(e) => {
                k.out_no_discrete_match += 1;
                if let Some(n) = self.encode_log.hit(now, LOG_PERIOD) {
                    tracing::warn!(target: "mqtt",
                        "instance '{name}': topic '{}': {e} ({:.6}); nothing sent ({n} value(s) since the last report)",
                        t.name, value.normalised());
                }
            }
        }
    }

    /// Readiness of one of this session's sockets.
    pub fn on_ready(&mut self, now: Instant, io: &mut Io<'_>, ready: &Ready, cx: &mut Cx<'_, '_>) {
        if self.closing.as_ref().is_some_and(|c| c.tag == ready.tag) {
            self.service_closing(now, io, Some(ready), cx.buf);
            return;
        }
        let Some(c) = self.conn.as_mut().filter(|c| c.tag == ready.tag) else {
            return;
        };
        if c.phase == Phase::Connecting {
            match c.tcp.on_writable() {
                Ok(w) if w.connected => {
                    c.phase = Phase::Up;
                    tracing::debug!(target: "mqtt", "instance '{}': TCP connected to {}", cx.name, c.tcp.peer_addr());
                    self.client.transport_connected(now);
                    self.write(now, io, cx);
                }
                Ok(_) => return,
                Err(e) => {
                    self.connect_failed(now, io, self.target.describe(&e));
                    self.drain(now, io, cx);
                    return;
                }
            }
        } else if ready.writable {
            if let Err(e) = c.tcp.on_writable() {
                self.lost(now, io, self.target.describe(&e), cx);
                return;
            }
            self.write(now, io, cx);
        }
        if ready.should_read() {
            self.read(now, io, cx);
        }
    }

    /// Reads what the connection has, within [`READ_BUDGET`], handing each piece to the client
    /// and its events to the core before reading on.
    fn read(&mut self, now: Instant, io: &mut Io<'_>, cx: &mut Cx<'_, '_>) {
        self.more_input = false;
        let mut budget = READ_BUDGET;
        loop {
            let Some(c) = self.conn.as_mut().filter(|c| c.phase == Phase::Up) else {
                return;
            };
            let tag = c.tag;
            let n = match c.tcp.read(cx.buf) {
                Ok(Read::Data(n)) => n,
                Ok(Read::WouldBlock) => return,
                Ok(Read::Closed) => {
                    self.lost(now, io, "the broker closed the connection".into(), cx);
                    return;
                }
                Err(e) => {
                    self.lost(now, io, self.target.describe(&e), cx);
                    return;
                }
            };
            if let Err(e) = c.transport.receive(now, &cx.buf[..n], &mut self.client) {
                cx.k.tls_errors += 1;
                // rustls queued an alert for the broker: try to send it.
                let _ = pump(c, &mut self.client);
                self.lost(now, io, e.to_string(), cx);
                return;
            }
            self.drain(now, io, cx);
            if self.conn.as_ref().is_none_or(|c| c.tag != tag) {
                return;
            }
            budget = budget.saturating_sub(n);
            if budget == 0 {
                self.more_input = true;
                return;
            }
        }
    }

    /// Timer work and input left over from the last turn.
    pub fn tick(&mut self, now: Instant, io: &mut Io<'_>, cx: &mut Cx<'_, '_>) {
        if self.more_input {
            self.read(now, io, cx);
        }
        if self.closing.is_some() {
            self.service_closing(now, io, None, cx.buf);
        }
        if self.client.poll_timeout().is_some_and(|t| t <= now) {
            self.client.handle_timeout(now);
        }
        self.drain(now, io, cx);
    }

    /// End of a loop turn: what the client has to send goes out.
    pub fn flush(&mut self, now: Instant, io: &mut Io<'_>, cx: &mut Cx<'_, '_>) {
        self.write(now, io, cx);
        self.drain(now, io, cx);
    }

    fn write(&mut self, now: Instant, io: &mut Io<'_>, cx: &mut Cx<'_, '_>) {
        let Some(c) = self.conn.as_mut().filter(|c| c.phase == Phase::Up) else {
            return;
        };
        if let Err(e) = pump(c, &mut self.client) {
            self.lost(now, io, self.target.describe(&e), cx);
        }
    }

    /// Says goodbye: DISCONNECT when connected, no further attempt.
    pub fn shutdown(&mut self, now: Instant, io: &mut Io<'_>, cx: &mut Cx<'_, '_>) {
        self.client.disconnect(now);
        self.drain(now, io, cx);
        self.resolving = None;
        self.state = LinkState::Stopped;
    }

    /// A look-up finished.
    pub fn on_resolved(&mut self, now: Instant, io: &mut Io<'_>, a: Answer, cx: &mut Cx<'_, '_>) {
        if self.resolving != Some(a.attempt) {
            return;
        }
        self.resolving = None;
        match a.result {
            Ok(addrs) => {
                tracing::debug!(target: "mqtt", "instance '{}': {} is {addrs:?}", cx.name, self.target.host);
                self.state = LinkState::Connecting;
                self.connect_to(now, io, addrs);
            }
            Err(e) => {
                cx.k.resolve_failures += 1;
                self.last_error = Some(e);
                self.client.transport_closed(now);
            }
        }
        self.drain(now, io, cx);
    }

    /// [`Event::Open`]: start a connection attempt.
    fn open(&mut self, now: Instant, io: &mut Io<'_>, cx: &mut Cx<'_, '_>) {
        if let Some(c) = self.conn.take() {
            discard(io, c);
        }
        self.attempt = self.attempt.wrapping_add(1);
        if let Some(ip) = self.target.literal {
            self.state = LinkState::Connecting;
            self.connect_to(now, io, vec![SocketAddr::new(ip, self.target.port)]);
            return;
        }
        let asked = cx.resolver.is_some_and(|r| {
            r.request(Request {
                instance: usize::from(self.group),
                attempt: self.attempt,
                host: self.target.host.clone(),
                port: self.target.port,
            })
        });
        if asked {
            self.state = LinkState::Resolving;
            self.resolving = Some(self.attempt);
        } else {
            self.last_error = Some("the host name resolver thread is gone".into());
            self.client.transport_closed(now);
        }
    }

    /// Connects to the first of `addrs` that takes a connect; tells the client when none does.
    fn connect_to(&mut self, now: Instant, io: &mut Io<'_>, mut addrs: Vec<SocketAddr>) {
        addrs.reverse();
        while let Some(addr) = addrs.pop() {
            match self.start_connect(io, addr) {
                Ok(mut c) => {
                    c.rest = addrs;
                    self.conn = Some(c);
                    return;
                }
                Err(e) => self.last_error = Some(e),
            }
        }
        self.client.transport_closed(now);
    }

    fn start_connect(&mut self, io: &mut Io<'_>, addr: SocketAddr) -> Result<Conn, String> {
        let transport = match &self.target.tls {
            Some(cfg) => {
                Transport::tls(Arc::clone(cfg), &self.target.host).map_err(|e| e.to_string())?
            }
            None => Transport::Plain,
        };
        let mut tcp =
            TcpConn::connect(addr, DEFAULT_WRITE_LIMIT).map_err(|e| self.target.describe(&e))?;
        self.generation = self.generation.wrapping_add(1);
        let tag = SocketTag::new(self.group, self.generation).tag();
        io.register(
            tcp.source_mut(),
            tag,
            Interest::READABLE | Interest::WRITABLE,
        )
        .map_err(|e| format!("cannot watch the connection to {addr}: {e}"))?;
        Ok(Conn {
            tcp,
            tag,
            transport,
            phase: Phase::Connecting,
            rest: Vec::new(),
        })
    }

    /// The connect to one address failed: the next one, or the attempt failed.
    fn connect_failed(&mut self, now: Instant, io: &mut Io<'_>, why: String) {
        let Some(mut c) = self.conn.take() else {
            return;
        };
        let rest = std::mem::take(&mut c.rest);
        discard(io, c);
        self.last_error = Some(why);
        self.connect_to(now, io, rest);
    }

    /// The established connection failed.
    fn lost(&mut self, now: Instant, io: &mut Io<'_>, why: String, cx: &mut Cx<'_, '_>) {
        if let Some(c) = self.conn.take() {
            discard(io, c);
        }
        self.more_input = false;
        self.last_error = Some(why);
        self.client.transport_closed(now);
        self.drain(now, io, cx);
    }

    /// [`Event::Close`]: the client is done with the connection.
    fn close(&mut self, now: Instant, io: &mut Io<'_>, buf: &mut [u8]) {
        self.resolving = None;
        self.more_input = false;
        let Some(mut c) = self.conn.take() else {
            return;
        };
        if c.phase == Phase::Connecting {
            discard(io, c);
            return;
        }
        c.transport.close();
        let _ = pump(&mut c, &mut self.client);
        c.phase = Phase::Closing {
            deadline: now + CLOSE_WAIT,
            shut: false,
        };
        if let Some(old) = self.closing.replace(c) {
            discard(io, old);
        }
        self.service_closing(now, io, None, buf);
    }

    /// Drives a closing connection: sends what waits, then ends the write side; reads (and
    /// drops) until the broker's end of stream, or gives up at the deadline.
    fn service_closing(
        &mut self,
        now: Instant,
        io: &mut Io<'_>,
        ready: Option<&Ready>,
        buf: &mut [u8],
    ) {
        let Some(c) = self.closing.as_mut() else {
            return;
        };
        let Phase::Closing { deadline, shut } = c.phase else {
            return;
        };
        let mut done = now >= deadline;
        if ready.is_some_and(|r| r.writable) && c.tcp.on_writable().is_err() {
            done = true;
        }
        if !done && !shut && c.tcp.pending() == 0 {
            let _ = c.tcp.source_mut().shutdown(std::net::Shutdown::Write);
            c.phase = Phase::Closing {
                deadline,
                shut: true,
            };
        }
        while !done {
            match c.tcp.read(buf) {
                Ok(Read::Data(_)) => {}
                Ok(Read::WouldBlock) => break,
                Ok(Read::Closed) | Err(_) => done = true,
            }
        }
        if done && let Some(c) = self.closing.take() {
            discard(io, c);
        }
    }

    /// Acts on every event the client has.
    fn drain(&mut self, now: Instant, io: &mut Io<'_>, cx: &mut Cx<'_, '_>) {
        let topics = cx.topics;
        loop {
            let Some(ev) = self.client.poll_event() else {
                return;
            };
            match ev {
                Event::Message(m) => {
                    cx.k.messages_in += 1;
                    cx.k.retained_in += u64::from(m.retain);
                    for sub in m.subscriptions {
                        let Some(t) = topics.by_subscription(*sub) else {
                            continue;
                        };
                        let Some(id) = t.id else { continue };
                        match t.map.decode(m.payload) {
                            Ok(v) => {
                                if let Some(sink) = cx.sink.as_deref_mut() {
                                    sink.push(id, Value::from_normalised(v));
                                    cx.k.events_in += 1;
                                }
                            }
                            Err(e) => {
                                match e {
                                    patchbay_mqtt::mapping::DecodeError::NotANumber => {
                                        cx.k.in_not_a_number += 1
                                    }
                                    patchbay_mqtt::mapping::DecodeError::NoDiscreteMatch => {
                                        cx.k.in_no_discrete_match += 1
                                    }
                                }
                                if let Some(n) = self.decode_log.hit(now, LOG_PERIOD) {
                                    tracing::warn!(target: "mqtt",
                                        "instance '{}': topic '{}' (input '{}'): {e}: '{}'; dropped ({n} payload(s) since the last report)",
                                        cx.name, m.topic, t.name, excerpt(m.payload));
                                }
                            }
                        }
                    }
                }
                Event::Open => self.open(now, io, cx),
                Event::Close => self.close(now, io, cx.buf),
                Event::Connected {
                    session_present,
                    protocol,
                } => {
                    self.state = LinkState::Connected;
                    self.up = true;
                    if self.ever_connected {
                        cx.k.reconnects += 1;
                    }
                    self.ever_connected = true;
                    let resumed = if session_present {
                        ", session resumed"
                    } else {
                        ""
                    };
                    let after = match self.failures {
                        0 => String::new(),
                        n => format!(" after {n} failed attempt(s)"),
                    };
                    tracing::info!(target: "mqtt", "instance '{}': connected to {} (MQTT {protocol}{resumed}){after}",
                        cx.name, self.target.label());
                    self.failures = 0;
                    self.last_error = None;
                    self.down_log = Throttle::default();
                }
                Event::Disconnected { reason, retry_at } => {
                    self.disconnected(now, reason, retry_at, cx)
                }
                Event::Subscribed { subscription, code } => {
                    let filter = topics
                        .by_subscription(subscription)
                        .map_or("?", |t| &*t.name);
                    if code >= 0x80 {
                        cx.k.subscribe_refused += 1;
                        tracing::warn!(target: "mqtt",
                            "instance '{}': the broker refused the subscription to '{filter}': {} (0x{code:02X})",
                            cx.name, reason_text(code));
                    } else {
                        tracing::debug!(target: "mqtt", "instance '{}': subscribed to '{filter}' (QoS {code})", cx.name);
                    }
                }
                Event::PublishFailed { output, code } => {
                    cx.k.out_refused += 1;
                    if let Some(n) = self.refused_log.hit(now, LOG_PERIOD) {
                        let topic = self
                            .client
                            .config()
                            .outputs
                            .get(output.0 as usize)
                            .map_or("?", |o| o.topic.as_str());
                        tracing::warn!(target: "mqtt",
                            "instance '{}': the broker refused a publication to '{topic}': {} (0x{code:02X}) ({n} since the last report)",
                            cx.name, reason_text(code));
                    }
                }
            }
        }
    }

    fn disconnected(
        &mut self,
        now: Instant,
        reason: DisconnectReason,
        retry_at: Option<Instant>,
        cx: &mut Cx<'_, '_>,
    ) {
        let broker = self.target.label();
        let name = cx.name;
        match reason {
            DisconnectReason::Requested => {
                self.state = LinkState::Stopped;
                tracing::debug!(target: "mqtt", "instance '{name}': disconnected from {broker}");
                return;
            }
            DisconnectReason::ProtocolFallback => {
                self.state = LinkState::Waiting;
                self.last_error = None;
                tracing::info!(target: "mqtt", "instance '{name}': {broker} does not accept MQTT 5: using 3.1.1");
                return;
            }
            _ => {}
        }
        self.state = LinkState::Waiting;
        let why = self.last_error.take().unwrap_or_else(|| reason.to_string());
        let wait = retry_at.map_or(0.0, |t| t.saturating_duration_since(now).as_secs_f64());
        if std::mem::take(&mut self.up) {
            cx.k.connections_lost += 1;
            self.down_log = Throttle::default();
            tracing::warn!(target: "mqtt", "instance '{name}': connection to {broker} lost: {why}; reconnecting in {wait:.1} s");
            return;
        }
        cx.k.connect_failures += 1;
        self.failures += 1;
        match self.down_log.hit(now, DOWN_LOG_PERIOD) {
            Some(1) => tracing::warn!(target: "mqtt",
                "instance '{name}': cannot connect to {broker}: {why}; retrying in {wait:.1} s (then at most every {} s)",
                self.client.config().backoff.max.as_secs()),
            Some(n) => tracing::warn!(target: "mqtt",
                "instance '{name}': still cannot connect to {broker} ({n} attempts since the last report): {why}"),
            None => tracing::debug!(target: "mqtt",
                "instance '{name}': cannot connect to {broker}: {why}; retrying in {wait:.1} s"),
        }
    }
}
