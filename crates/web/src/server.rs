//! The [`Monitor`]: a listener and its clients, served from the daemon's own loop as an
//! [`Observer`] (no thread, no second event loop, no async runtime).
//!
//! Each turn it handles what became ready (accepts, reads a request head, answers it, writes
//! what waits) and, every [`TICK`] while event streams are open, builds the snapshots streams
//! subscribed to and queues them. Everything it may do in a turn is bounded:
//!
//! * at most [`Options::clients`] clients; one more is answered 503 and closed;
//! * a request head of at most [`http::MAX_REQUEST`] bytes, complete within
//!   [`REQUEST_TIMEOUT`], or it is answered and closed;
//! * at most [`ACCEPT_BUDGET`] accepts per turn;
//! * per client at most [`OUTPUT_CAP`] bytes waiting to be sent (beyond a kernel send buffer
//!   of [`SEND_BUFFER`]): a client that stops reading is dropped when the next message would
//!   not fit, counted (`dropped_slow`) and logged at most once per 10 s; nothing is buffered
//!   without bound and the loop never waits for a client;
//! * snapshots are built once per tick and shared by every client that asked for the same one
//!   (the universe grid, the instance list, the counters); every list is a bounded page.
//!
//! Configuration reload (later): the monitor never keeps a view between turns; a stream
//! remembers the [`CoreView::generation`] its channel ids were resolved under and is told to
//! reconnect (`event: reload`) when the configuration changed, so it resolves them again.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use patchbay_core::monitor::{CoreView, Observer};
use patchbay_core::{ChannelId, InstanceId, Interest, Io, Ready, ReloadHandle, StartError};
use patchbay_kit::throttle::{LOG_PERIOD, Throttle};

use crate::api::{self, Api, FrameCache};
use crate::assets;
use crate::auth;
use crate::http::{self, Request, Status};
use crate::json;
use crate::options::Options;
use crate::recent::RecentLog;
use crate::route::{self, Decision, Endpoint};

/// How often streams get their snapshots (universe grid, channel values): 20 a second.
pub const TICK: Duration = Duration::from_millis(50);
/// Ticks between two instance lists on a stream (500 ms).
const INSTANCES_EVERY: u64 = 10;
/// Ticks between two counter snapshots on a stream (1 s).
const COUNTERS_EVERY: u64 = 20;
/// How often connections without a stream are checked for timeouts.
const HOUSEKEEPING: Duration = Duration::from_millis(500);
/// Bytes that may wait for one client (beyond the kernel's send buffer).
pub const OUTPUT_CAP: usize = 512 * 1024;
/// The kernel send buffer asked for per client: small, so a client that stops reading is found
/// within seconds instead of after megabytes.
pub const SEND_BUFFER: usize = 64 * 1024;
/// A request head must be complete this long after the connection opened.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing connection waits for the client's end (so the response is not cut by a
/// reset) or for the last bytes of a response to go out.
const LINGER: Duration = Duration::from_secs(5);
/// Accepts per turn; more wait for the next turn, which follows at once.
pub const ACCEPT_BUDGET: usize = 32;
/// Bytes read (and discarded) per turn from a client that has nothing more to say.
const DISCARD_BUDGET: usize = 64 * 1024;

/// The listener's tag; client `i` is tag `i + 1`.
const LISTENER: u32 = 0;

/// What the monitor counted since start (`/api/status`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub accepted: u64,
    /// Clients turned away because [`Options::clients`] were connected.
    pub refused_full: u64,
    /// Clients dropped because they stopped reading (their output reached [`OUTPUT_CAP`]).
    pub dropped_slow: u64,
    /// Malformed, oversized or unsupported requests.
    pub bad_requests: u64,
    /// Requests without valid credentials (or for a foreign host).
    pub unauthorized: u64,
    /// Connections closed for not finishing their request in time.
    pub timeouts: u64,
    /// Responses and stream messages queued.
    pub messages: u64,
}

/// What one client is doing.
#[derive(Debug)]
enum State {
    /// Reading its request head.
    Request,
    /// Its response is queued; once sent, the write side closes.
    Responding,
    /// Response sent and write side closed: waiting for its end (or [`LINGER`]).
    Lingering,
    /// An open event stream.
    Stream(Box<Sub>),
    /// Asked for a reload: answered once the loop reports a reload after number `after`.
    Reload { after: u64 },
}

/// What an event stream asked for (`/api/events?universe=NAME&channels=ID,...`).
#[derive(Debug)]
struct Sub {
    generation: u64,
    universe: Option<InstanceId>,
    channels: Vec<ChannelId>,
    /// The universe snapshot last sent (its sequence number; 0: none yet).
    universe_seq: u64,
    /// Hash of the values last sent.
    values_hash: u64,
    /// The next warning to send.
    warnings: u64,
    /// Just opened: the instance list and counters go out at the next tick.
    fresh: bool,
}

struct Client {
    stream: TcpStream,
    peer: Option<SocketAddr>,
    state: State,
    input: Vec<u8>,
    out: Vec<u8>,
    /// Bytes of `out` already sent.
    sent: usize,
    opened: Instant,
    /// When the current state began.
    since: Instant,
    watching_writable: bool,
}

/// A universe snapshot shared by the streams that watch it.
struct UniverseCache {
    instance: InstanceId,
    bytes: Vec<u8>,
    seq: u64,
    tick: u64,
}

/// The web monitor. Made (and bound) with [`Monitor::bind`], run by the core after
/// [`Core::set_observer`](patchbay_core::Core::set_observer).
pub struct Monitor {
    opts: Options,
    listener: TcpListener,
    addr: SocketAddr,
    clients: Vec<Option<Client>>,
    open: usize,
    streams: usize,
    log: RecentLog,
    api: Api,
    counters: Counters,
    accept_pending: bool,
    accept_retry: Option<Instant>,
    next_tick: Option<Instant>,
    ticks: u64,
    deadline: Option<Instant>,
    scratch: Vec<u8>,
    instances: Vec<u8>,
    instances_tick: Option<u64>,
    counters_json: Vec<u8>,
    counters_tick: Option<u64>,
    universes: Vec<UniverseCache>,
    frames: FrameCache,
    slow_log: Throttle,
    refused_log: Throttle,
    denied_log: Throttle,
    accept_log: Throttle,
    /// Asks the loop to reload (`None`: this patchbay has no file to read again).
    reload: Option<ReloadHandle>,
    /// Clients in [`State::Reload`].
    reload_waiting: usize,
}

impl Monitor {
    /// Binds the listener now, so a port in use is reported before anything starts.
    pub fn bind(opts: Options, log: RecentLog) -> io::Result<Monitor> {
        let std = std::net::TcpListener::bind(opts.bind)?;
        std.set_nonblocking(true)?;
        let addr = std.local_addr()?;
        let now = Instant::now();
        Ok(Monitor {
            opts,
            listener: TcpListener::from_std(std),
            addr,
            clients: Vec::new(),
            open: 0,
            streams: 0,
            log,
            api: Api::new(now),
            counters: Counters::default(),
            accept_pending: false,
            accept_retry: None,
            next_tick: None,
            ticks: 0,
            deadline: None,
            scratch: Vec::new(),
            instances: Vec::new(),
            instances_tick: None,
            counters_json: Vec::new(),
            counters_tick: None,
            universes: Vec::new(),
            frames: FrameCache::default(),
            slow_log: Throttle::default(),
            refused_log: Throttle::default(),
            denied_log: Throttle::default(),
            accept_log: Throttle::default(),
            reload: None,
            reload_waiting: 0,
        })
    }

    /// Where it listens (the real port when the bind said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Lets `POST /api/reload` ask the loop to read its configuration again.
    pub fn set_reload(&mut self, handle: ReloadHandle) {
        self.reload = Some(handle);
    }

    /// Answers every client waiting for a reload once the loop reports one after its request:
    /// `{"seq","ok","message"}`, 200 when the new configuration runs, 422 when it was refused
    /// (the message lists the errors with their positions) or a backend failed to start.
    fn answer_reloads(&mut self, now: Instant, io: &mut Io<'_>, view: &CoreView<'_>) {
        let Some(outcome) = view.last_reload() else {
            return;
        };
        for slot in 0..self.clients.len() {
            let Some(c) = self.clients[slot].as_mut() else {
                continue;
            };
            let State::Reload { after } = c.state else {
                continue;
            };
            if outcome.seq <= after {
                continue;
            }
            let mut body = Vec::with_capacity(outcome.message.len() + 64);
            body.push(b'{');
            json::key(&mut body, "seq");
            json::uint(&mut body, outcome.seq);
            body.push(b',');
            json::key(&mut body, "ok");
            json::bool(&mut body, outcome.ok);
            body.push(b',');
            json::key(&mut body, "message");
            json::str(&mut body, &outcome.message);
            body.extend_from_slice(b"}\n");
            let status = if outcome.ok {
                Status::Ok
            } else {
                Status::Unprocessable
            };
            http::respond(&mut c.out, status, "application/json", &[], &body);
            c.state = State::Responding;
            c.since = now;
            self.reload_waiting = self.reload_waiting.saturating_sub(1);
            self.flush(slot, now, io);
        }
    }

    /// The URL to open (a wildcard bind shown as loopback).
    pub fn url(&self) -> String {
        let mut o = self.opts.clone();
        o.bind = self.addr;
        o.url()
    }

    /// What it counted so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    fn accept(&mut self, now: Instant, io: &mut Io<'_>) {
        if self.accept_retry.is_some_and(|t| now < t) {
            return;
        }
        self.accept_retry = None;
        for _ in 0..ACCEPT_BUDGET {
            match self.listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer, now, io),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_pending = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Out of file descriptors and the like: try again a tick later rather than
                    // spinning (the pending connections stay in the backlog).
                    if let Some(n) = self.accept_log.hit(now, LOG_PERIOD) {
                        tracing::warn!(target: "web", "cannot accept a client: {e} ({n} time(s))");
                    }
                    self.accept_retry = Some(now + TICK);
                    return;
                }
            }
        }
        // Budget spent: more may wait; `poll_timeout` asks for the next turn at once.
    }

    fn admit(&mut self, mut stream: TcpStream, peer: SocketAddr, now: Instant, io: &mut Io<'_>) {
        self.counters.accepted += 1;
        if self.open >= self.opts.clients {
            self.counters.refused_full += 1;
            if let Some(n) = self.refused_log.hit(now, LOG_PERIOD) {
                tracing::warn!(target: "web",
                    "{} clients connected: turned {peer} away ({n} time(s)); raise clients in [backend web]",
                    self.open);
            }
            let mut out = Vec::new();
            http::error(
                &mut out,
                Status::Unavailable,
                &["Retry-After: 5"],
                "too many clients",
            );
            // A fresh socket has room for these few bytes; if not, the client just sees a close.
            let _ = stream.write(&out);
            let _ = stream.shutdown(Shutdown::Write);
            return;
        }
        let _ = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER);
        let _ = stream.set_nodelay(true);
        let slot = match self.clients.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.clients.push(None);
                self.clients.len() - 1
            }
        };
        if let Err(e) = io.register(&mut stream, tag(slot), Interest::READABLE) {
            tracing::warn!(target: "web", "cannot watch a client: {e}");
            return;
        }
        self.clients[slot] = Some(Client {
            stream,
            peer: Some(peer),
            state: State::Request,
            input: Vec::new(),
            out: Vec::new(),
            sent: 0,
            opened: now,
            since: now,
            watching_writable: false,
        });
        self.open += 1;
        if self.next_tick.is_none() {
            self.next_tick = Some(now + HOUSEKEEPING);
        }
    }

    fn close(&mut self, slot: usize, io: &mut Io<'_>) {
        if let Some(mut c) = self.clients.get_mut(slot).and_then(Option::take) {
            let _ = io.deregister(&mut c.stream, tag(slot));
            if matches!(c.state, State::Stream(_)) {
                self.streams -= 1;
            }
            if matches!(c.state, State::Reload { .. }) {
                self.reload_waiting = self.reload_waiting.saturating_sub(1);
            }
            self.open -= 1;
        }
    }

    /// A client's socket is ready: read what it says, write what waits.
    fn ready(
        &mut self,
        slot: usize,
        r: &Ready,
        now: Instant,
        io: &mut Io<'_>,
        view: &CoreView<'_>,
    ) {
        let Some(mut c) = self.clients.get_mut(slot).and_then(Option::take) else {
            return;
        };
        let mut alive = true;
        if r.should_read() {
            alive = match c.state {
                State::Request => self.read_request(&mut c, now, view),
                _ => discard(&mut c.stream),
            };
        }
        self.clients[slot] = Some(c);
        if !alive {
            self.close(slot, io);
            return;
        }
        self.flush(slot, now, io);
    }

    /// Reads the request head; answers it once complete. False: close the connection.
    fn read_request(&mut self, c: &mut Client, now: Instant, view: &CoreView<'_>) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            if c.input.len() >= http::MAX_REQUEST {
                break;
            }
            match c.stream.read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => {
                    let room = http::MAX_REQUEST + 1 - c.input.len();
                    c.input.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        let input = std::mem::take(&mut c.input);
        match http::parse(&input) {
            Ok(None) => c.input = input,
            Ok(Some(req)) => {
                self.answer(c, &req, now, view);
                self.counters.messages += 1;
            }
            Err(e) => {
                self.counters.bad_requests += 1;
                http::error(&mut c.out, e.status(), &[], &e.to_string());
                c.state = State::Responding;
                c.since = now;
            }
        }
        true
    }

    /// Answers a complete request: a response to send, or the head of an event stream.
    fn answer(&mut self, c: &mut Client, req: &Request<'_>, now: Instant, view: &CoreView<'_>) {
        c.state = State::Responding;
        c.since = now;
        let out = &mut c.out;
        let (endpoint, set_cookie) = match route::decide(req, &self.opts.auth) {
            Decision::Serve {
                endpoint,
                set_cookie,
            } => (endpoint, set_cookie),
            Decision::Refuse {
                status,
                header,
                message,
                denied,
            } => {
                if denied {
                    self.counters.unauthorized += 1;
                    if let Some(n) = self.denied_log.hit(now, LOG_PERIOD) {
                        let who = c.peer.map_or_else(String::new, |p| p.to_string());
                        tracing::warn!(target: "web",
                            "refused a request from {who}: {} ({n} time(s))", status.reason());
                    }
                } else {
                    self.counters.bad_requests += 1;
                }
                return http::error(out, status, header.as_slice(), &message);
            }
        };
        let cookie;
        let mut headers: Vec<&str> = Vec::new();
        if set_cookie && let Some(t) = self.opts.auth.token.as_deref() {
            cookie = format!(
                "Set-Cookie: {}={t}; HttpOnly; SameSite=Strict; Path=/",
                auth::COOKIE
            );
            headers.push(&cookie);
        }
        let body = &mut self.scratch;
        body.clear();
        let asset = |out: &mut Vec<u8>, ct: &str, text: &str| {
            http::respond(out, Status::Ok, ct, &headers, text.as_bytes());
        };
        match endpoint {
            Endpoint::Index => return asset(out, "text/html; charset=utf-8", assets::INDEX),
            Endpoint::Script => {
                return asset(out, "text/javascript; charset=utf-8", assets::SCRIPT);
            }
            Endpoint::Style => return asset(out, "text/css; charset=utf-8", assets::STYLE),
            Endpoint::Status => status(body, view, &self.counters, self.open, self.streams),
            Endpoint::Instances { offset, limit } => {
                self.api.instances(view, now, offset, limit, body);
            }
            Endpoint::Universe { instance } => {
                let found = view
                    .instance(&instance)
                    .and_then(|id| self.api.universe(view, now, id, body));
                if found.is_none() {
                    return http::error(out, Status::NotFound, &headers, "no such instance");
                }
            }
            Endpoint::Sources => self.api.sources(view, now, body),
            Endpoint::Reload => {
                let Some(handle) = self.reload.as_ref() else {
                    return http::error(
                        out,
                        Status::Unavailable,
                        &headers,
                        "this patchbay has no configuration file to reload",
                    );
                };
                tracing::info!(target: "web", "reload requested by {}",
                    c.peer.map_or_else(String::new, |p| p.to_string()));
                handle.request();
                // A reload already under way read the file before this request: answer with
                // the one after it.
                let last = view.last_reload().map_or(0, |r| r.seq);
                c.state = State::Reload {
                    after: last + u64::from(view.is_reloading()),
                };
                self.reload_waiting += 1;
                return;
            }
            Endpoint::Counters { offset, limit } => {
                self.api.counters(view, now, offset, limit, body);
            }
            Endpoint::Warnings { since } => self.api.warnings(&self.log, since, body),
            Endpoint::Graph { offset, limit } => self.api.graph(view, offset, limit, body),
            Endpoint::Channels { offset, limit } => self.api.channels(view, offset, limit, body),
            Endpoint::Values { channels } => {
                let Some(ids) = known_channels(view, &channels) else {
                    self.counters.bad_requests += 1;
                    return http::error(out, Status::NotFound, &headers, "no such channel id");
                };
                self.frames.clear();
                self.api.values(view, now, &ids, &mut self.frames, body);
            }
            Endpoint::Events { universe, channels } => {
                let universe = match universe {
                    None => None,
                    Some(name) => match view.instance(&name) {
                        Some(id) => Some(id),
                        None => {
                            return http::error(
                                out,
                                Status::NotFound,
                                &headers,
                                "no such instance",
                            );
                        }
                    },
                };
                let Some(channels) = known_channels(view, &channels) else {
                    self.counters.bad_requests += 1;
                    return http::error(out, Status::NotFound, &headers, "no such channel id");
                };
                headers.push("X-Accel-Buffering: no");
                http::head(out, Status::Ok, "text/event-stream", &headers, None);
                // Reconnect a second after a drop (the browser's default is 3 s).
                out.extend_from_slice(b"retry: 1000\n\n");
                c.state = State::Stream(Box::new(Sub {
                    generation: view.generation(),
                    universe,
                    channels,
                    universe_seq: 0,
                    values_hash: 0,
                    warnings: self
                        .log
                        .next_seq()
                        .saturating_sub(crate::recent::CAPACITY as u64),
                    fresh: true,
                }));
                self.streams += 1;
                // Its first snapshots go out at the next tick (at most one TICK away).
                if self.next_tick.is_none_or(|t| t > now + TICK) {
                    self.next_tick = Some(now + TICK);
                }
                return;
            }
        }
        if body.len() + 1024 > OUTPUT_CAP {
            return http::error(
                out,
                Status::PayloadTooLarge,
                &headers,
                "the answer is too large: ask for a smaller page (limit=...)",
            );
        }
        http::respond(out, Status::Ok, "application/json", &headers, body);
    }

    /// Writes what waits for client `slot`; closes it once a response is out and the client
    /// said goodbye, or watches for room when the socket is full.
    fn flush(&mut self, slot: usize, now: Instant, io: &mut Io<'_>) {
        let Some(c) = self.clients.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let mut failed = false;
        while c.sent < c.out.len() {
            match c.stream.write(&c.out[c.sent..]) {
                Ok(0) => {
                    failed = true;
                    break;
                }
                Ok(n) => c.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            return self.close(slot, io);
        }
        let done = c.sent == c.out.len();
        if done {
            c.out.clear();
            c.sent = 0;
            if matches!(c.state, State::Responding) {
                // Half-close, then wait for the client's end: closing with its bytes unread
                // would send a reset that can cut the response short.
                let _ = c.stream.shutdown(Shutdown::Write);
                c.state = State::Lingering;
                c.since = now;
            }
        }
        let want = !done;
        if want != c.watching_writable {
            let interest = if want {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if io.reregister(&mut c.stream, tag(slot), interest).is_ok() {
                c.watching_writable = want;
            }
        }
    }

    /// Timeouts of connections that are not streams.
    fn housekeeping(&mut self, now: Instant, io: &mut Io<'_>) {
        for slot in 0..self.clients.len() {
            let Some(c) = self.clients[slot].as_mut() else {
                continue;
            };
            match c.state {
                State::Request if now.saturating_duration_since(c.opened) > REQUEST_TIMEOUT => {
                    self.counters.timeouts += 1;
                    http::error(
                        &mut c.out,
                        Status::Timeout,
                        &[],
                        "request not complete in time",
                    );
                    c.state = State::Responding;
                    c.since = now;
                    self.flush(slot, now, io);
                }
                State::Reload { .. }
                    if now.saturating_duration_since(c.since) > REQUEST_TIMEOUT =>
                {
                    self.reload_waiting = self.reload_waiting.saturating_sub(1);
                    http::error(
                        &mut c.out,
                        Status::Unavailable,
                        &[],
                        "no reload happened (is patchbay shutting down?)",
                    );
                    c.state = State::Responding;
                    c.since = now;
                    self.flush(slot, now, io);
                }
                State::Responding | State::Lingering
                    if now.saturating_duration_since(c.since) > LINGER =>
                {
                    self.close(slot, io);
                }
                _ => {}
            }
        }
    }

    /// One tick of the streams: build each snapshot asked for once, queue it to every stream
    /// that asked, drop streams that stopped reading, and write.
    fn tick(&mut self, now: Instant, io: &mut Io<'_>, view: &CoreView<'_>) {
        self.ticks += 1;
        let tick = self.ticks;
        self.frames.clear();
        let instances_due = tick.is_multiple_of(INSTANCES_EVERY);
        let counters_due = tick.is_multiple_of(COUNTERS_EVERY);
        let warnings_next = self.log.next_seq();
        for slot in 0..self.clients.len() {
            let Some(mut c) = self.clients[slot].take() else {
                continue;
            };
            let State::Stream(sub) = &mut c.state else {
                self.clients[slot] = Some(c);
                continue;
            };
            if sub.generation != view.generation() {
                // The configuration changed: ids may name other channels now. The page
                // reconnects and resolves them again.
                let _ = c_queue(&mut c.out, &mut c.sent, "reload", b"{}");
                self.clients[slot] = Some(c);
                self.flush(slot, now, io);
                self.close(slot, io);
                continue;
            }
            let mut fits = true;
            if sub.fresh || instances_due {
                if self.instances_tick != Some(tick) {
                    self.instances.clear();
                    self.api
                        .instances(view, now, 0, api::INSTANCE_PAGE, &mut self.instances);
                    self.instances_tick = Some(tick);
                }
                fits &= c_queue(&mut c.out, &mut c.sent, "instances", &self.instances);
            }
            if sub.fresh || counters_due {
                if self.counters_tick != Some(tick) {
                    self.counters_json.clear();
                    self.api
                        .counters(view, now, 0, api::COUNTER_PAGE, &mut self.counters_json);
                    self.counters_tick = Some(tick);
                }
                fits &= c_queue(&mut c.out, &mut c.sent, "counters", &self.counters_json);
            }
            if let Some(u) = sub.universe {
                let i = self.universe_snapshot(view, now, u, tick);
                let cache = &self.universes[i];
                if cache.seq != sub.universe_seq {
                    fits &= c_queue(&mut c.out, &mut c.sent, "universe", &cache.bytes);
                    sub.universe_seq = cache.seq;
                }
            }
            if !sub.channels.is_empty() {
                self.scratch.clear();
                self.api.values(
                    view,
                    now,
                    &sub.channels,
                    &mut self.frames,
                    &mut self.scratch,
                );
                // The time stamp changes every tick: hash what follows it.
                let values = self
                    .scratch
                    .windows(9)
                    .position(|w| w == b"\"values\":")
                    .map_or(&self.scratch[..], |p| &self.scratch[p..]);
                let h = fnv(values);
                if sub.fresh || h != sub.values_hash {
                    sub.values_hash = h;
                    fits &= c_queue(&mut c.out, &mut c.sent, "values", &self.scratch);
                }
            }
            if warnings_next > sub.warnings {
                self.scratch.clear();
                self.api
                    .warnings(&self.log, sub.warnings, &mut self.scratch);
                fits &= c_queue(&mut c.out, &mut c.sent, "warnings", &self.scratch);
                sub.warnings = warnings_next;
            }
            sub.fresh = false;
            self.counters.messages += 1;
            let waiting = c.out.len() - c.sent;
            let peer = c.peer;
            self.clients[slot] = Some(c);
            if !fits {
                self.counters.dropped_slow += 1;
                if let Some(n) = self.slow_log.hit(now, LOG_PERIOD) {
                    let who = peer.map_or_else(String::new, |p| p.to_string());
                    tracing::warn!(target: "web",
                        "monitor client {who} stopped reading: dropped with {waiting} bytes waiting ({n} client(s) dropped)");
                }
                self.close(slot, io);
                continue;
            }
            self.flush(slot, now, io);
        }
        self.universes.retain(|u| u.tick == tick);
    }

    /// The index of instance `u`'s universe snapshot for this tick, built if needed; its
    /// sequence number changes only when its content does.
    fn universe_snapshot(
        &mut self,
        view: &CoreView<'_>,
        now: Instant,
        u: InstanceId,
        tick: u64,
    ) -> usize {
        let i = match self.universes.iter().position(|c| c.instance == u) {
            Some(i) => i,
            None => {
                self.universes.push(UniverseCache {
                    instance: u,
                    bytes: Vec::new(),
                    seq: 0,
                    tick: 0,
                });
                self.universes.len() - 1
            }
        };
        if self.universes[i].tick != tick {
            self.scratch.clear();
            let _ = self.api.universe(view, now, u, &mut self.scratch);
            let cache = &mut self.universes[i];
            // Compare without the time stamp, which changes every tick.
            let body = |b: &[u8]| -> u64 {
                let at = b
                    .windows(13)
                    .position(|w| w == b"\"generation\":")
                    .unwrap_or(0);
                fnv(&b[at..])
            };
            if cache.seq == 0 || body(&cache.bytes) != body(&self.scratch) {
                std::mem::swap(&mut cache.bytes, &mut self.scratch);
                cache.seq += 1;
            }
            cache.tick = tick;
        }
        i
    }

    fn schedule(&mut self, now: Instant) {
        if self.open == 0 {
            self.next_tick = None;
        } else if self.next_tick.is_none() {
            self.next_tick = Some(now + if self.streams > 0 { TICK } else { HOUSEKEEPING });
        }
        let accept = if self.accept_pending {
            Some(self.accept_retry.unwrap_or(now))
        } else {
            None
        };
        self.deadline = match (self.next_tick, accept) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Queues one stream message unless the client's output would exceed [`OUTPUT_CAP`].
fn c_queue(out: &mut Vec<u8>, sent: &mut usize, event: &str, payload: &[u8]) -> bool {
    let len = event.len() + payload.len() + 16;
    if out.len() - *sent + len > OUTPUT_CAP {
        return false;
    }
    if *sent > 0 && *sent * 2 >= out.len() {
        out.drain(..*sent);
        *sent = 0;
    }
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\n\n");
    true
}

impl Observer for Monitor {
    fn name(&self) -> &'static str {
        "web"
    }

    fn start(&mut self, now: Instant, io: &mut Io<'_>) -> Result<(), StartError> {
        self.api = Api::new(now);
        io.register(&mut self.listener, LISTENER, Interest::READABLE)
            .map_err(|e| {
                StartError::backend(format!("web monitor: cannot watch its listener: {e}"))
            })?;
        tracing::info!(target: "web", "monitor on {}", self.url());
        Ok(())
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    fn observe(&mut self, now: Instant, ready: &[Ready], io: &mut Io<'_>, view: &CoreView<'_>) {
        if self.reload_waiting > 0 {
            self.answer_reloads(now, io, view);
        }
        for r in ready {
            if r.tag == LISTENER {
                self.accept_pending = true;
            } else if let Some(slot) = (r.tag as usize).checked_sub(1) {
                self.ready(slot, r, now, io, view);
            }
        }
        if self.accept_pending {
            self.accept(now, io);
        }
        if self.next_tick.is_some_and(|t| now >= t) {
            self.next_tick = None;
            if self.streams > 0 {
                self.tick(now, io, view);
            }
            self.housekeeping(now, io);
        }
        self.schedule(now);
    }
}

/// Reads and drops what a client sends after its request. False at its end or an error.
fn discard(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    while total < DISCARD_BUDGET {
        match stream.read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

fn tag(slot: usize) -> u32 {
    u32::try_from(slot + 1).unwrap_or(u32::MAX)
}

/// The ids as channels, if every one names a channel.
fn known_channels(view: &CoreView<'_>, ids: &[u32]) -> Option<Vec<ChannelId>> {
    ids.iter()
        .map(|&id| ((id as usize) < view.channel_count()).then_some(ChannelId(id)))
        .collect()
}

/// `{"version","generation","turns","uptime","clients","streams","web":{counters}}`.
fn status(out: &mut Vec<u8>, view: &CoreView<'_>, c: &Counters, open: usize, streams: usize) {
    out.push(b'{');
    json::key(out, "version");
    json::str(out, env!("CARGO_PKG_VERSION"));
    out.push(b',');
    json::key(out, "generation");
    json::uint(out, view.generation());
    out.push(b',');
    json::key(out, "turns");
    json::uint(out, view.turns());
    out.push(b',');
    json::key(out, "shutting_down");
    json::bool(out, view.is_shutting_down());
    out.push(b',');
    json::key(out, "clients");
    json::uint(out, open as u64);
    out.push(b',');
    json::key(out, "streams");
    json::uint(out, streams as u64);
    out.extend_from_slice(b",\"web\":{");
    for (k, v) in [
        ("accepted", c.accepted),
        ("refused_full", c.refused_full),
        ("dropped_slow", c.dropped_slow),
        ("bad_requests", c.bad_requests),
        ("unauthorized", c.unauthorized),
        ("timeouts", c.timeouts),
        ("messages", c.messages),
    ] {
        json::key(out, k);
        json::uint(out, v);
        out.push(b',');
    }
    json::trim_comma(out);
    out.extend_from_slice(b"}}");
}

/// FNV-1a, to tell whether a snapshot changed.
fn fnv(b: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &x in b {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
