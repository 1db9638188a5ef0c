//! The sans-IO MQTT client: bytes and `Instant`s in, bytes, deadlines and events out.
//!
//! The owner (patchbay's `mqtt` backend, or a test) owns the socket and the clock:
//!
//! * [`poll_timeout`](Client::poll_timeout) / [`handle_timeout`](Client::handle_timeout):
//!   connection attempts, the connect timeout, keep-alive PINGREQ and its timeout.
//! * [`Event::Open`]: open a TCP connection now; report it with
//!   [`transport_connected`](Client::transport_connected) or
//!   [`transport_closed`](Client::transport_closed). The client never waits for a socket.
//! * [`handle_input`](Client::handle_input): bytes read from the connection.
//! * [`output`](Client::output) / [`consume_output`](Client::consume_output): bytes to write.
//! * [`publish`](Client::publish): a new value for an output topic.
//! * [`poll_event`](Client::poll_event): connection changes and messages, borrowed from the
//!   client until the next call.
//!
//! Sessions: the first connection starts clean; MQTT 5 reconnections ask the broker to keep
//! the session for [`Config::session_expiry`] seconds, and when it did (session present),
//! unacknowledged QoS 1/2 publications are sent again with DUP set and PUBRELs repeated.
//! Without a session (3.1.1 always starts clean) the client subscribes again and the last
//! value of every output is published again, so the broker and every subscriber end up
//! with the current state after any reconnection.

mod backoff;
mod config;
mod event;
mod fuzz;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use config::{
    Backoff, Config, Output, OutputId, Subscription, default_client_id, protocol_option,
};
pub use event::{DisconnectReason, Event, Message};
pub use fuzz::fuzz_client;

use backoff::Retry;
use event::Record;

use crate::topic::{SubscriptionId, TopicTable};
use crate::wire::{
    Ack, ConnAck, Connect, Disconnect, Packet, ParseError, Properties, Property, Protocol, Publish,
    QoS, SubAck, Subscribe, SubscribeEntry, SubscriptionOptions, frame,
};

/// Counters of what was dropped or went wrong, for the backend's statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Malformed packets from the broker, by [`ParseError::index`].
    pub malformed: [u64; ParseError::COUNT],
    /// Messages on topics no subscription matches (e.g. left over from an older session).
    pub unmatched: u64,
    /// 3.1.1 packets longer than [`Config::max_packet_size`], skipped.
    pub oversize: u64,
    /// QoS 2 messages received again before their release (not delivered twice).
    pub duplicate_qos2: u64,
    /// Acknowledgements for packet identifiers not in flight.
    pub unknown_acks: u64,
    /// CONNECT packets sent.
    pub connects: u64,
    /// Connections accepted by CONNACK.
    pub sessions: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Next attempt at `at`.
    Waiting { at: Instant },
    /// [`Event::Open`] sent, transport not up yet.
    Opening { deadline: Instant },
    /// CONNECT sent.
    AwaitConnAck { deadline: Instant },
    /// Accepted.
    Connected,
    /// After [`Client::disconnect`].
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// PUBLISH sent, PUBACK (QoS 1) or PUBREC (QoS 2) awaited.
    Published,
    /// PUBREL sent, PUBCOMP awaited.
    Released,
}

#[derive(Debug)]
struct InFlight {
    packet_id: u16,
    output: u32,
    qos: QoS,
    stage: Stage,
    payload: Vec<u8>,
}

#[derive(Debug)]
struct OutputState {
    cfg: Output,
    last: Vec<u8>,
    has_value: bool,
    /// `last` has not been handed to a live connection yet (queued in `dirty`).
    dirty: bool,
}

/// Limits the broker announced in CONNACK (MQTT 5).
#[derive(Debug, Clone, Copy)]
struct ServerLimits {
    receive_maximum: u16,
    maximum_qos: QoS,
    retain_available: bool,
    maximum_packet_size: u32,
}

impl ServerLimits {
    const NONE: ServerLimits = ServerLimits {
        receive_maximum: u16::MAX,
        maximum_qos: QoS::ExactlyOnce,
        retain_available: true,
        maximum_packet_size: u32::MAX,
    };
}

/// A sans-IO MQTT 3.1.1/5 client for one broker.
#[derive(Debug)]
pub struct Client {
    cfg: Config,
    protocol: Protocol,
    state: State,
    retry: Retry,
    /// The next CONNECT asks for a clean start.
    clean_start: bool,
    connected_at: Option<Instant>,
    keep_alive: Duration,
    last_sent: Instant,
    ping_deadline: Option<Instant>,
    limits: ServerLimits,

    table: TopicTable,
    outputs: Vec<OutputState>,
    dirty: VecDeque<u32>,
    inflight: Vec<InFlight>,
    spare: Vec<Vec<u8>>,
    /// QoS 2 messages received and acknowledged with PUBREC, awaiting PUBREL.
    incoming_qos2: Vec<u16>,
    /// Packet identifier of the SUBSCRIBE awaiting SUBACK, with its first subscription index.
    pending_subscribes: Vec<(u16, u32, u32)>,
    next_packet_id: u16,

    rx: Vec<u8>,
    skip: usize,
    tx: Vec<u8>,
    tx_start: usize,

    events: VecDeque<Record>,
    arena: Vec<u8>,
    matches: Vec<SubscriptionId>,
    match_arena: Vec<SubscriptionId>,
    stats: Stats,
}

/// Why the client decided to drop a connection.
type Fail = DisconnectReason;

impl Client {
    /// A client that will ask for its first connection at `now`.
    pub fn new(cfg: Config, now: Instant) -> Client {
        let table = TopicTable::new(cfg.subscriptions.iter().map(|s| s.filter.as_str()));
        let outputs = cfg
            .outputs
            .iter()
            .map(|o| OutputState {
                cfg: o.clone(),
                last: Vec::new(),
                has_value: false,
                dirty: false,
            })
            .collect();
        Client {
            protocol: cfg.protocol,
            state: State::Waiting { at: now },
            retry: Retry::new(cfg.backoff),
            clean_start: true,
            connected_at: None,
            keep_alive: cfg.keep_alive,
            last_sent: now,
            ping_deadline: None,
            limits: ServerLimits::NONE,
            table,
            outputs,
            dirty: VecDeque::new(),
            inflight: Vec::new(),
            spare: Vec::new(),
            incoming_qos2: Vec::new(),
            pending_subscribes: Vec::new(),
            next_packet_id: 1,
            rx: Vec::new(),
            skip: 0,
            tx: Vec::new(),
            tx_start: 0,
            events: VecDeque::new(),
            arena: Vec::new(),
            matches: Vec::new(),
            match_arena: Vec::new(),
            stats: Stats::default(),
            cfg,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Protocol of the current (or next) connection.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// `true` between CONNACK and the end of the connection.
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// QoS 1/2 publications awaiting acknowledgement.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// The next deadline: a connection attempt, the connect timeout, a PINGREQ or its
    /// timeout. `None` after [`disconnect`](Self::disconnect).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Waiting { at } => Some(at),
            State::Opening { deadline } | State::AwaitConnAck { deadline } => Some(deadline),
            State::Connected => {
                let ping =
                    (!self.keep_alive.is_zero()).then(|| self.last_sent + self.keep_alive / 2);
                match (ping, self.ping_deadline) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            State::Stopped => None,
        }
    }

    /// Acts on every deadline up to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Waiting { at } if now >= at => {
                self.state = State::Opening {
                    deadline: now + self.cfg.connect_timeout,
                };
                self.events.push_back(Record::Open);
            }
            State::Opening { deadline } | State::AwaitConnAck { deadline } if now >= deadline => {
                self.events.push_back(Record::Close);
                self.lost(now, DisconnectReason::ConnectTimeout);
            }
            State::Connected => {
                if self.ping_deadline.is_some_and(|d| now >= d) {
                    self.events.push_back(Record::Close);
                    self.lost(now, DisconnectReason::PingTimeout);
                    return;
                }
                if !self.keep_alive.is_zero() && now >= self.last_sent + self.keep_alive / 2 {
                    self.send(now, Packet::PingReq);
                    if self.ping_deadline.is_none() {
                        self.ping_deadline = Some(now + self.cfg.ping_timeout);
                    }
                }
            }
            _ => {}
        }
    }

    /// The connection asked for by [`Event::Open`] is up: CONNECT is queued.
    pub fn transport_connected(&mut self, now: Instant) {
        let State::Opening { deadline } = self.state else {
            return;
        };
        self.rx.clear();
        self.skip = 0;
        self.clear_output();
        self.limits = ServerLimits::NONE;
        self.keep_alive = self.cfg.keep_alive;
        let v5 = self.protocol.is_v5();
        let expiry = [
            Property::SessionExpiryInterval(self.cfg.session_expiry),
            Property::MaximumPacketSize(self.cfg.max_packet_size.max(1)),
        ];
        let props = if v5 && !self.clean_start && self.cfg.session_expiry > 0 {
            &expiry[..]
        } else if v5 {
            &expiry[1..]
        } else {
            &[]
        };
        let connect = Packet::Connect(Connect {
            protocol: self.protocol,
            // 3.1.1 sessions never expire on the broker: always start clean there.
            clean_start: self.clean_start || !v5,
            keep_alive: self.cfg.keep_alive.as_secs().min(u64::from(u16::MAX)) as u16,
            properties: Properties::new(props),
            client_id: &self.cfg.client_id,
            will: None,
            username: self.cfg.username.as_deref(),
            password: self.cfg.password.as_deref(),
        });
        if connect.write(self.protocol, &mut self.tx).is_ok() {
            self.last_sent = now;
        }
        self.stats.connects += 1;
        self.state = State::AwaitConnAck { deadline };
    }

    /// The transport closed or could not be opened (the owner closes its socket itself).
    pub fn transport_closed(&mut self, now: Instant) {
        if matches!(
            self.state,
            State::Opening { .. } | State::AwaitConnAck { .. } | State::Connected
        ) {
            self.lost(now, DisconnectReason::TransportClosed);
        }
    }

    /// Sends DISCONNECT (when connected) and stops: [`Event::Close`] follows, and no further
    /// connection is attempted.
    pub fn disconnect(&mut self, now: Instant) {
        match self.state {
            State::Stopped => return,
            State::Connected => {
                let expiry = [Property::SessionExpiryInterval(0)];
                // Ending the session: the broker need not keep it for a client that left.
                let props = if self.protocol.is_v5() && !self.clean_start {
                    Properties::new(&expiry)
                } else {
                    Properties::EMPTY
                };
                self.send(
                    now,
                    Packet::Disconnect(Disconnect {
                        reason: 0,
                        properties: props,
                    }),
                );
                self.events.push_back(Record::Close);
            }
            State::Opening { .. } | State::AwaitConnAck { .. } => {
                self.events.push_back(Record::Close)
            }
            State::Waiting { .. } => {}
        }
        self.state = State::Stopped;
        self.events.push_back(Record::Disconnected {
            reason: DisconnectReason::Requested,
            retry_at: None,
        });
    }

    /// Bytes to write to the connection.
    pub fn output(&self) -> &[u8] {
        &self.tx[self.tx_start..]
    }

    /// `n` bytes of [`output`](Self::output) were written.
    pub fn consume_output(&mut self, n: usize) {
        self.tx_start = (self.tx_start + n).min(self.tx.len());
        if self.tx_start == self.tx.len() {
            self.clear_output();
        } else if self.tx_start > 64 * 1024 && self.tx_start * 2 > self.tx.len() {
            self.tx.drain(..self.tx_start);
            self.tx_start = 0;
        }
        if self.state == State::Connected {
            self.flush_dirty(self.last_sent);
        }
    }

    fn clear_output(&mut self) {
        self.tx.clear();
        self.tx_start = 0;
    }

    /// A new value for an output topic. Kept as the topic's last value; sent now when
    /// connected (unless the output queue or the in-flight window is full, when only the
    /// newest value per topic waits), otherwise after the next CONNACK.
    ///
    /// Unknown ids are ignored.
    pub fn publish(&mut self, now: Instant, output: OutputId, payload: &[u8]) {
        let i = output.0;
        let Some(o) = self.outputs.get_mut(i as usize) else {
            return;
        };
        o.last.clear();
        o.last.extend_from_slice(payload);
        o.has_value = true;
        if !o.dirty {
            o.dirty = true;
            self.dirty.push_back(i);
        }
        if self.state == State::Connected {
            self.flush_dirty(now);
        }
    }

    /// The last value given for an output.
    pub fn last_value(&self, output: OutputId) -> Option<&[u8]> {
        self.outputs
            .get(output.0 as usize)
            .filter(|o| o.has_value)
            .map(|o| o.last.as_slice())
    }

    /// The next event; its data is borrowed until the next call.
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        let Some(r) = self.events.pop_front() else {
            self.arena.clear();
            self.match_arena.clear();
            return None;
        };
        Some(match r {
            Record::Open => Event::Open,
            Record::Close => Event::Close,
            Record::Connected {
                session_present,
                protocol,
            } => Event::Connected {
                session_present,
                protocol,
            },
            Record::Disconnected { reason, retry_at } => Event::Disconnected { reason, retry_at },
            Record::Message {
                topic,
                payload,
                qos,
                retain,
                subscriptions,
            } => Event::Message(Message {
                // Copied from a &str, so always valid UTF-8.
                topic: std::str::from_utf8(&self.arena[topic]).unwrap_or(""),
                payload: &self.arena[payload],
                qos,
                retain,
                subscriptions: &self.match_arena[subscriptions],
            }),
            Record::Subscribed { subscription, code } => Event::Subscribed { subscription, code },
            Record::PublishFailed { output, code } => Event::PublishFailed { output, code },
        })
    }

    /// Bytes read from the connection.
    pub fn handle_input(&mut self, now: Instant, mut data: &[u8]) {
        if !matches!(self.state, State::AwaitConnAck { .. } | State::Connected) {
            return;
        }
        if self.skip > 0 {
            let n = self.skip.min(data.len());
            self.skip -= n;
            data = &data[n..];
        }
        self.rx.extend_from_slice(data);
        let rx = std::mem::take(&mut self.rx);
        let mut at = 0;
        let result = loop {
            let f = match frame(&rx[at..]) {
                Ok(Some(f)) => f,
                Ok(None) => break Ok(()),
                Err(e) => break Err(self.malformed(e)),
            };
            if f.len() > self.cfg.max_packet_size as usize {
                if self.protocol.is_v5() {
                    break Err(DisconnectReason::ProtocolError(
                        "packet longer than the Maximum Packet Size sent in CONNECT",
                    ));
                }
                // 3.1.1 has no way to tell the broker the limit: skip the packet.
                self.stats.oversize += 1;
                let have = rx.len() - at;
                if have >= f.len() {
                    at += f.len();
                    continue;
                }
                self.skip = f.len() - have;
                at = rx.len();
                break Ok(());
            }
            if rx.len() - at < f.len() {
                break Ok(());
            }
            let bytes = &rx[at..at + f.len()];
            at += f.len();
            if let Err(e) = self.handle_packet(now, bytes) {
                break Err(e);
            }
            if !matches!(self.state, State::AwaitConnAck { .. } | State::Connected) {
                break Ok(());
            }
        };
        self.rx = rx;
        match result {
            Ok(()) => {
                self.rx.drain(..at.min(self.rx.len()));
            }
            Err(reason) => {
                self.rx.clear();
                self.fail(now, reason);
            }
        }
    }

    fn malformed(&mut self, e: ParseError) -> Fail {
        self.stats.malformed[e.index()] += 1;
        DisconnectReason::Malformed(e)
    }

    /// Drops the connection because of the broker: MQTT 5 says why first.
    fn fail(&mut self, now: Instant, reason: DisconnectReason) {
        if self.protocol.is_v5() && self.state == State::Connected {
            let code = match reason {
                DisconnectReason::Malformed(_) => 0x81,
                DisconnectReason::ProtocolError(_) => 0x82,
                _ => 0x80,
            };
            self.send(
                now,
                Packet::Disconnect(Disconnect {
                    reason: code,
                    properties: Properties::EMPTY,
                }),
            );
        }
        self.events.push_back(Record::Close);
        self.lost(now, reason);
    }

    /// The connection is gone: schedule the next attempt.
    fn lost(&mut self, now: Instant, reason: DisconnectReason) {
        if let Some(since) = self.connected_at.take()
            && now.saturating_duration_since(since) >= self.cfg.backoff.max
        {
            // It lasted: a new outage starts from the short delay again.
            self.retry.reset();
        }
        let at = if reason == DisconnectReason::ProtocolFallback {
            now
        } else {
            now + self.retry.next_delay()
        };
        self.state = State::Waiting { at };
        self.ping_deadline = None;
        self.pending_subscribes.clear();
        self.events.push_back(Record::Disconnected {
            reason,
            retry_at: Some(at),
        });
    }

    /// Queues a packet built by the client itself (never invalid; a failure is a bug that
    /// drops the packet rather than the process).
    fn send(&mut self, now: Instant, p: Packet<'_>) {
        if p.write(self.protocol, &mut self.tx).is_ok() {
            self.last_sent = now;
        } else {
            debug_assert!(false, "client built an invalid packet: {p:?}");
        }
    }

    fn handle_packet(&mut self, now: Instant, bytes: &[u8]) -> Result<(), Fail> {
        if let State::AwaitConnAck { .. } = self.state {
            return self.handle_connack(now, bytes);
        }
        let p = Packet::parse(self.protocol, bytes).map_err(|e| self.malformed(e))?;
        match p {
            Packet::Publish(p) => self.handle_publish(now, &p),
            Packet::PubAck(a) => {
                match self.take_inflight(a.packet_id, Stage::Published, QoS::AtLeastOnce) {
                    Some(f) => {
                        if a.reason >= 0x80 {
                            self.events.push_back(Record::PublishFailed {
                                output: OutputId(f.output),
                                code: a.reason,
                            });
                        }
                        self.spare.push(f.payload);
                        self.flush_dirty(now);
                    }
                    None => self.stats.unknown_acks += 1,
                }
                Ok(())
            }
            Packet::PubRec(a) => {
                let pos = self
                    .inflight
                    .iter()
                    .position(|f| f.packet_id == a.packet_id && f.qos == QoS::ExactlyOnce);
                match pos {
                    Some(i) if a.reason >= 0x80 => {
                        let f = self.inflight.swap_remove(i);
                        self.events.push_back(Record::PublishFailed {
                            output: OutputId(f.output),
                            code: a.reason,
                        });
                        self.spare.push(f.payload);
                        self.flush_dirty(now);
                    }
                    Some(i) => {
                        self.inflight[i].stage = Stage::Released;
                        self.send(now, Packet::PubRel(Ack::ok(a.packet_id)));
                    }
                    None => {
                        self.stats.unknown_acks += 1;
                        let reason = if self.protocol.is_v5() { 0x92 } else { 0 };
                        self.send(
                            now,
                            Packet::PubRel(Ack {
                                packet_id: a.packet_id,
                                reason,
                                properties: Properties::EMPTY,
                            }),
                        );
                    }
                }
                Ok(())
            }
            Packet::PubComp(a) => {
                match self.take_inflight(a.packet_id, Stage::Released, QoS::ExactlyOnce) {
                    Some(f) => {
                        self.spare.push(f.payload);
                        self.flush_dirty(now);
                    }
                    None => self.stats.unknown_acks += 1,
                }
                Ok(())
            }
            Packet::PubRel(a) => {
                let known = self.incoming_qos2.iter().position(|&id| id == a.packet_id);
                let reason = match known {
                    Some(i) => {
                        self.incoming_qos2.swap_remove(i);
                        0
                    }
                    None if self.protocol.is_v5() => 0x92,
                    None => 0,
                };
                self.send(
                    now,
                    Packet::PubComp(Ack {
                        packet_id: a.packet_id,
                        reason,
                        properties: Properties::EMPTY,
                    }),
                );
                Ok(())
            }
            Packet::SubAck(s) => {
                self.handle_suback(&s);
                Ok(())
            }
            Packet::UnsubAck(_) => Ok(()),
            Packet::PingResp => {
                self.ping_deadline = None;
                Ok(())
            }
            Packet::Disconnect(d) => Err(DisconnectReason::ServerDisconnect(d.reason)),
            Packet::ConnAck(_) => Err(DisconnectReason::ProtocolError("second CONNACK")),
            Packet::Auth(_) => Err(DisconnectReason::ProtocolError(
                "AUTH without extended authentication",
            )),
            Packet::Connect(_)
            | Packet::Subscribe(_)
            | Packet::Unsubscribe(_)
            | Packet::PingReq => Err(DisconnectReason::ProtocolError(
                "packet type only a client sends",
            )),
        }
    }

    fn take_inflight(&mut self, packet_id: u16, stage: Stage, qos: QoS) -> Option<InFlight> {
        let i = self
            .inflight
            .iter()
            .position(|f| f.packet_id == packet_id && f.stage == stage && f.qos == qos)?;
        Some(self.inflight.remove(i))
    }

    fn handle_connack(&mut self, now: Instant, bytes: &[u8]) -> Result<(), Fail> {
        // A 3.1.1 broker answers an MQTT 5 CONNECT with a 3.1.1 CONNACK (return code 1,
        // unacceptable protocol version), which has no property length.
        let v3_answer = self.protocol.is_v5() && bytes.len() == 4 && bytes[..2] == [0x20, 0x02];
        let as_protocol = if v3_answer {
            Protocol::V311
        } else {
            self.protocol
        };
        let ack = match Packet::parse(as_protocol, bytes).map_err(|e| self.malformed(e))? {
            Packet::ConnAck(a) => a,
            _ => {
                return Err(DisconnectReason::ProtocolError(
                    "first packet is not CONNACK",
                ));
            }
        };
        if ack.code != 0 {
            let unsupported = (v3_answer && ack.code == 1) || (!v3_answer && ack.code == 0x84);
            if self.protocol.is_v5() && unsupported {
                self.protocol = Protocol::V311;
                return Err(DisconnectReason::ProtocolFallback);
            }
            return Err(DisconnectReason::Refused {
                code: ack.code,
                protocol: as_protocol,
            });
        }
        if v3_answer {
            return Err(DisconnectReason::ProtocolError(
                "3.1.1 CONNACK accepting an MQTT 5 CONNECT",
            ));
        }
        self.accept(now, &ack);
        Ok(())
    }

    fn accept(&mut self, now: Instant, ack: &ConnAck<'_>) {
        let mut limits = ServerLimits::NONE;
        for p in ack.properties.iter() {
            match p {
                Property::ServerKeepAlive(s) => self.keep_alive = Duration::from_secs(s.into()),
                Property::ReceiveMaximum(n) => limits.receive_maximum = n,
                Property::MaximumQos(q) => {
                    limits.maximum_qos = QoS::from_bits(q).unwrap_or(QoS::ExactlyOnce)
                }
                Property::RetainAvailable(r) => limits.retain_available = r == 1,
                Property::MaximumPacketSize(n) => limits.maximum_packet_size = n,
                _ => {}
            }
        }
        self.limits = limits;
        self.state = State::Connected;
        self.connected_at = Some(now);
        self.stats.sessions += 1;
        // A session the broker did not keep (or 3.1.1, or the first connection) is new: the
        // spec says to discard session state, so nothing is sent with DUP; the newest value
        // of every output goes out again instead.
        let session_present = ack.session_present && !self.clean_start && self.protocol.is_v5();
        self.clean_start = false;
        self.events.push_back(Record::Connected {
            session_present,
            protocol: self.protocol,
        });
        if session_present {
            self.resend_inflight(now);
        } else {
            self.incoming_qos2.clear();
            for f in self.inflight.drain(..) {
                self.spare.push(f.payload);
            }
            self.subscribe_all(now);
            for i in 0..self.outputs.len() {
                let o = &mut self.outputs[i];
                if o.has_value && !o.dirty {
                    o.dirty = true;
                    self.dirty.push_back(i as u32);
                }
            }
        }
        self.flush_dirty(now);
    }

    fn resend_inflight(&mut self, now: Instant) {
        let inflight = std::mem::take(&mut self.inflight);
        for f in &inflight {
            let o = &self.outputs[f.output as usize];
            let p = match f.stage {
                Stage::Published => Packet::Publish(Publish {
                    dup: true,
                    qos: f.qos,
                    retain: o.cfg.retain && self.limits.retain_available,
                    topic: &o.cfg.topic,
                    packet_id: f.packet_id,
                    // No Payload Format Indicator: MIDIMonster reads a payload marked UTF-8 as a
                    // length-prefixed string and would drop every value.
                    properties: Properties::EMPTY,
                    payload: &f.payload,
                }),
                Stage::Released => Packet::PubRel(Ack::ok(f.packet_id)),
            };
            if p.write(self.protocol, &mut self.tx).is_ok() {
                self.last_sent = now;
            }
        }
        self.inflight = inflight;
    }

    /// SUBSCRIBE for every subscription, several filters per packet.
    fn subscribe_all(&mut self, now: Instant) {
        let n = self.cfg.subscriptions.len();
        let mut start = 0;
        const PER_PACKET: usize = 32;
        while start < n {
            let end = (start + PER_PACKET).min(n);
            let id = self.next_id();
            let entries: Vec<SubscribeEntry<'_>> = self.cfg.subscriptions[start..end]
                .iter()
                .map(|s| SubscribeEntry {
                    filter: &s.filter,
                    options: SubscriptionOptions {
                        qos: s.qos,
                        // MIDIMonster: do not receive our own publications back (MQTT 5).
                        no_local: true,
                        retain_as_published: false,
                        // Retained messages at subscribe give each input its initial value.
                        retain_handling: 0,
                    },
                })
                .collect();
            let p = Packet::Subscribe(Subscribe::new(id, Properties::EMPTY, &entries));
            if p.write(self.protocol, &mut self.tx).is_ok() {
                self.last_sent = now;
                self.pending_subscribes.push((id, start as u32, end as u32));
            }
            start = end;
        }
    }

    fn handle_suback(&mut self, s: &SubAck<'_>) {
        let Some(i) = self
            .pending_subscribes
            .iter()
            .position(|(id, ..)| *id == s.packet_id)
        else {
            self.stats.unknown_acks += 1;
            return;
        };
        let (_, start, end) = self.pending_subscribes.swap_remove(i);
        for (k, &code) in s.codes.iter().enumerate().take((end - start) as usize) {
            self.events.push_back(Record::Subscribed {
                subscription: SubscriptionId(start + k as u32),
                code,
            });
        }
    }

    fn handle_publish(&mut self, now: Instant, p: &Publish<'_>) -> Result<(), Fail> {
        let mut utf8 = false;
        for prop in p.properties.iter() {
            match prop {
                Property::TopicAlias(_) => {
                    return Err(DisconnectReason::ProtocolError(
                        "topic alias although Topic Alias Maximum is 0",
                    ));
                }
                Property::PayloadFormatIndicator(1) => utf8 = true,
                _ => {}
            }
        }
        let deliver = match p.qos {
            QoS::AtMostOnce => true,
            QoS::AtLeastOnce => {
                self.send(now, Packet::PubAck(Ack::ok(p.packet_id)));
                true
            }
            QoS::ExactlyOnce => {
                let new = !self.incoming_qos2.contains(&p.packet_id);
                if new {
                    self.incoming_qos2.push(p.packet_id);
                } else {
                    self.stats.duplicate_qos2 += 1;
                }
                self.send(now, Packet::PubRec(Ack::ok(p.packet_id)));
                new
            }
        };
        if deliver {
            self.deliver(p, utf8);
        }
        Ok(())
    }

    fn deliver(&mut self, p: &Publish<'_>, utf8: bool) {
        self.matches.clear();
        self.table.lookup(p.topic, &mut self.matches);
        if self.matches.is_empty() {
            self.stats.unmatched += 1;
            return;
        }
        let mut payload = p.payload;
        // MIDIMonster's MQTT 5 PUBLISH puts a two-byte length before the text when it sets
        // Payload Format Indicator 1; accept what it sends.
        if utf8
            && let [hi, lo, rest @ ..] = payload
            && usize::from(u16::from_be_bytes([*hi, *lo])) == rest.len()
        {
            payload = rest;
        }
        let t0 = self.arena.len();
        self.arena.extend_from_slice(p.topic.as_bytes());
        let p0 = self.arena.len();
        self.arena.extend_from_slice(payload);
        let m0 = self.match_arena.len();
        self.match_arena.extend_from_slice(&self.matches);
        self.events.push_back(Record::Message {
            topic: t0..p0,
            payload: p0..self.arena.len(),
            qos: p.qos,
            retain: p.retain,
            subscriptions: m0..self.match_arena.len(),
        });
    }

    fn next_id(&mut self) -> u16 {
        loop {
            let id = self.next_packet_id;
            self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
            let used = self.inflight.iter().any(|f| f.packet_id == id)
                || self.pending_subscribes.iter().any(|(p, ..)| *p == id);
            if !used {
                return id;
            }
        }
    }

    /// Sends waiting output values while the queue and the in-flight window allow.
    fn flush_dirty(&mut self, now: Instant) {
        while let Some(&i) = self.dirty.front() {
            if self.tx.len() - self.tx_start >= self.cfg.max_queued_output {
                return;
            }
            let o = &self.outputs[i as usize];
            let qos = o.cfg.qos.min(self.limits.maximum_qos);
            let window = usize::from(
                self.cfg
                    .max_in_flight
                    .min(self.limits.receive_maximum)
                    .max(1),
            );
            if qos != QoS::AtMostOnce && self.inflight.len() >= window {
                return;
            }
            self.dirty.pop_front();
            self.outputs[i as usize].dirty = false;
            let packet_id = if qos == QoS::AtMostOnce {
                0
            } else {
                self.next_id()
            };
            let o = &self.outputs[i as usize];
            let p = Packet::Publish(Publish {
                dup: false,
                qos,
                retain: o.cfg.retain && self.limits.retain_available,
                topic: &o.cfg.topic,
                packet_id,
                // No Payload Format Indicator (see resend_inflight).
                properties: Properties::EMPTY,
                payload: &o.last,
            });
            let before = self.tx.len();
            if p.write(self.protocol, &mut self.tx).is_err() {
                continue;
            }
            if self.tx.len() - before > self.limits.maximum_packet_size as usize {
                self.tx.truncate(before);
                self.events.push_back(Record::PublishFailed {
                    output: OutputId(i),
                    code: 0x95,
                });
                continue;
            }
            self.last_sent = now.max(self.last_sent);
            if qos != QoS::AtMostOnce {
                let mut payload = self.spare.pop().unwrap_or_default();
                payload.clear();
                payload.extend_from_slice(&self.outputs[i as usize].last);
                self.inflight.push(InFlight {
                    packet_id,
                    output: i,
                    qos,
                    stage: Stage::Published,
                    payload,
                });
            }
        }
    }
}
