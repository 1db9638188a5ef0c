//! Validated, zero-copy views of whole packets; the same structs describe packets to build.

use super::property::{Context, Properties};
use super::reader::Reader;
use super::{PacketType, ParseError, Protocol, QoS, frame, reason};
use crate::topic;

/// One MQTT control packet.
///
/// Parsed packets borrow strings and payloads from the input; packets to build borrow them from
/// the caller. Which fields exist on the wire depends on the [`Protocol`] given to
/// [`parse`](Packet::parse) and [`write`](Packet::write) (CONNECT carries its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// Client asks to connect.
    Connect(Connect<'a>),
    /// Server answers CONNECT.
    ConnAck(ConnAck<'a>),
    /// Application message.
    Publish(Publish<'a>),
    /// QoS 1 acknowledgement.
    PubAck(Ack<'a>),
    /// QoS 2, first answer.
    PubRec(Ack<'a>),
    /// QoS 2, release.
    PubRel(Ack<'a>),
    /// QoS 2, complete.
    PubComp(Ack<'a>),
    /// Client subscribes.
    Subscribe(Subscribe<'a>),
    /// Server answers SUBSCRIBE: one code per entry.
    SubAck(SubAck<'a>),
    /// Client unsubscribes.
    Unsubscribe(Unsubscribe<'a>),
    /// Server answers UNSUBSCRIBE (3.1.1: no codes).
    UnsubAck(SubAck<'a>),
    /// Keep-alive request.
    PingReq,
    /// Keep-alive answer.
    PingResp,
    /// Orderly close (MQTT 5: from either side, with a reason).
    Disconnect(Disconnect<'a>),
    /// MQTT 5 extended authentication.
    Auth(Auth<'a>),
}

/// CONNECT (section 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connect<'a> {
    /// From the protocol level byte.
    pub protocol: Protocol,
    /// Clean Session (3.1.1) / Clean Start (5).
    pub clean_start: bool,
    /// Seconds; 0 turns keep-alive off.
    pub keep_alive: u16,
    /// MQTT 5 only.
    pub properties: Properties<'a>,
    /// May be empty (the server then assigns one).
    pub client_id: &'a str,
    /// Last will.
    pub will: Option<Will<'a>>,
    /// User name.
    pub username: Option<&'a str>,
    /// Password (binary data).
    pub password: Option<&'a [u8]>,
}

/// The will message of a CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Will<'a> {
    /// Will QoS.
    pub qos: QoS,
    /// Will retain.
    pub retain: bool,
    /// MQTT 5 will properties.
    pub properties: Properties<'a>,
    /// Will topic.
    pub topic: &'a str,
    /// Will payload.
    pub payload: &'a [u8],
}

/// CONNACK (section 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnAck<'a> {
    /// The server kept a session for this client id.
    pub session_present: bool,
    /// 3.1.1 return code (0..=5) or MQTT 5 reason code; 0 accepts.
    pub code: u8,
    /// MQTT 5 only.
    pub properties: Properties<'a>,
}

/// PUBLISH (section 3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish<'a> {
    /// Re-delivery of an earlier attempt (QoS > 0 only).
    pub dup: bool,
    /// Delivery guarantee.
    pub qos: QoS,
    /// Retained message (on delivery: sent because of a new subscription).
    pub retain: bool,
    /// Topic name, never containing wildcards; empty only with an MQTT 5 topic alias.
    pub topic: &'a str,
    /// Packet identifier: non-zero for QoS 1 and 2, 0 for QoS 0.
    pub packet_id: u16,
    /// MQTT 5 only.
    pub properties: Properties<'a>,
    /// Application payload.
    pub payload: &'a [u8],
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack<'a> {
    /// Packet identifier of the PUBLISH.
    pub packet_id: u16,
    /// MQTT 5 reason code (0 on 3.1.1).
    pub reason: u8,
    /// MQTT 5 only.
    pub properties: Properties<'a>,
}

impl Ack<'_> {
    /// A plain acknowledgement: success, no properties.
    pub const fn ok(packet_id: u16) -> Ack<'static> {
        Ack {
            packet_id,
            reason: 0,
            properties: Properties::EMPTY,
        }
    }
}

/// Options byte of one subscription (section 3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS the server may deliver with.
    pub qos: QoS,
    /// MQTT 5: do not deliver this client's own publications back to it.
    pub no_local: bool,
    /// MQTT 5: keep the retain flag as published.
    pub retain_as_published: bool,
    /// MQTT 5: 0 send retained messages at subscribe, 1 only for a new subscription, 2 never.
    pub retain_handling: u8,
}

impl SubscriptionOptions {
    fn from_byte(b: u8, protocol: Protocol) -> Result<Self, ParseError> {
        let reserved = if protocol.is_v5() { 0xC0 } else { 0xFC };
        let qos = QoS::from_bits(b & 3);
        let retain_handling = (b >> 4) & 3;
        match qos {
            Some(qos) if b & reserved == 0 && retain_handling != 3 => Ok(SubscriptionOptions {
                qos,
                no_local: b & 0x04 != 0,
                retain_as_published: b & 0x08 != 0,
                retain_handling,
            }),
            _ => Err(ParseError::BadSubscriptionOptions),
        }
    }

    /// The options byte; 3.1.1 keeps only the QoS.
    pub fn to_byte(self, protocol: Protocol) -> u8 {
        let mut b = self.qos.bits();
        if protocol.is_v5() {
            b |= u8::from(self.no_local) << 2
                | u8::from(self.retain_as_published) << 3
                | (self.retain_handling & 3) << 4;
        }
        b
    }
}

/// One topic filter of a SUBSCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribeEntry<'a> {
    /// Topic filter (wildcards allowed).
    pub filter: &'a str,
    /// Options.
    pub options: SubscriptionOptions,
}

/// SUBSCRIBE (section 3.8).
#[derive(Debug, Clone, Copy)]
pub struct Subscribe<'a> {
    /// Packet identifier.
    pub packet_id: u16,
    /// MQTT 5 only.
    pub properties: Properties<'a>,
    entries: Seq<'a, SubscribeEntry<'a>>,
}

impl<'a> Subscribe<'a> {
    /// A SUBSCRIBE to build.
    pub const fn new(
        packet_id: u16,
        properties: Properties<'a>,
        entries: &'a [SubscribeEntry<'a>],
    ) -> Self {
        Subscribe {
            packet_id,
            properties,
            entries: Seq::List(entries),
        }
    }

    /// The entries in packet order.
    pub fn entries(&self) -> impl Iterator<Item = SubscribeEntry<'a>> + 'a {
        let (raw, list, protocol) = self.entries.parts();
        RawIter {
            r: Reader::new(raw),
            protocol,
            read: read_entry,
        }
        .chain(list.iter().copied())
    }
}

impl PartialEq for Subscribe<'_> {
    fn eq(&self, o: &Self) -> bool {
        self.packet_id == o.packet_id
            && self.properties == o.properties
            && self.entries().eq(o.entries())
    }
}
impl Eq for Subscribe<'_> {}

/// UNSUBSCRIBE (section 3.10).
#[derive(Debug, Clone, Copy)]
pub struct Unsubscribe<'a> {
    /// Packet identifier.
    pub packet_id: u16,
    /// MQTT 5 only.
    pub properties: Properties<'a>,
    filters: Seq<'a, &'a str>,
}

impl<'a> Unsubscribe<'a> {
    /// An UNSUBSCRIBE to build.
    pub const fn new(packet_id: u16, properties: Properties<'a>, filters: &'a [&'a str]) -> Self {
        Unsubscribe {
            packet_id,
            properties,
            filters: Seq::List(filters),
        }
    }

    /// The topic filters in packet order.
    pub fn filters(&self) -> impl Iterator<Item = &'a str> + 'a {
        let (raw, list, protocol) = self.filters.parts();
        RawIter {
            r: Reader::new(raw),
            protocol,
            read: read_filter,
        }
        .chain(list.iter().copied())
    }
}

impl PartialEq for Unsubscribe<'_> {
    fn eq(&self, o: &Self) -> bool {
        self.packet_id == o.packet_id
            && self.properties == o.properties
            && self.filters().eq(o.filters())
    }
}
impl Eq for Unsubscribe<'_> {}

/// SUBACK (section 3.9) or UNSUBACK (section 3.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubAck<'a> {
    /// Packet identifier of the request.
    pub packet_id: u16,
    /// MQTT 5 only.
    pub properties: Properties<'a>,
    /// One code per entry of the request: granted QoS (0..=2) or a failure (>= 0x80). Empty for a
    /// 3.1.1 UNSUBACK.
    pub codes: &'a [u8],
}

/// DISCONNECT (section 3.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disconnect<'a> {
    /// MQTT 5 reason code (0 on 3.1.1).
    pub reason: u8,
    /// MQTT 5 only.
    pub properties: Properties<'a>,
}

impl Disconnect<'_> {
    /// Normal disconnection without properties.
    pub const NORMAL: Disconnect<'static> = Disconnect {
        reason: 0,
        properties: Properties::EMPTY,
    };
}

/// AUTH (section 3.15), MQTT 5 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Auth<'a> {
    /// Reason code.
    pub reason: u8,
    /// Properties.
    pub properties: Properties<'a>,
}

/// Entries of a parsed packet (validated bytes) or of one to build (a slice).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seq<'a, T> {
    Raw(&'a [u8], Protocol),
    List(&'a [T]),
}

impl<'a, T> Seq<'a, T> {
    fn parts(&self) -> (&'a [u8], &'a [T], Protocol) {
        match *self {
            Seq::Raw(b, p) => (b, &[], p),
            Seq::List(l) => (&[], l, Protocol::V5),
        }
    }
}

/// Iterates validated raw entries.
struct RawIter<'a, T> {
    r: Reader<'a>,
    protocol: Protocol,
    read: fn(&mut Reader<'a>, Protocol) -> Result<T, ParseError>,
}

impl<'a, T> Iterator for RawIter<'a, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        if self.r.is_empty() {
            None
        } else {
            (self.read)(&mut self.r, self.protocol).ok()
        }
    }
}

fn read_entry<'a>(
    r: &mut Reader<'a>,
    protocol: Protocol,
) -> Result<SubscribeEntry<'a>, ParseError> {
    let filter = read_filter(r, protocol)?;
    let options = SubscriptionOptions::from_byte(r.u8()?, protocol)?;
    Ok(SubscribeEntry { filter, options })
}

fn read_filter<'a>(r: &mut Reader<'a>, _: Protocol) -> Result<&'a str, ParseError> {
    let f = r.string()?;
    topic::validate_filter(f).map_err(|_| ParseError::BadTopicFilter)?;
    Ok(f)
}

/// Reads all entries with `read` and returns the validated bytes.
fn read_all<'a, T>(
    r: &mut Reader<'a>,
    protocol: Protocol,
    read: fn(&mut Reader<'a>, Protocol) -> Result<T, ParseError>,
) -> Result<Seq<'a, T>, ParseError> {
    if r.is_empty() {
        return Err(ParseError::NoEntries);
    }
    let raw = r.rest();
    let mut check = Reader::new(raw);
    while !check.is_empty() {
        read(&mut check, protocol)?;
    }
    Ok(Seq::Raw(raw, protocol))
}

fn check_code(code: u8, allowed: &[u8]) -> Result<u8, ParseError> {
    if allowed.contains(&code) {
        Ok(code)
    } else {
        Err(ParseError::BadReasonCode)
    }
}

/// Properties of an MQTT 5 packet; none on 3.1.1.
fn props<'a>(
    r: &mut Reader<'a>,
    protocol: Protocol,
    ctx: Context,
) -> Result<Properties<'a>, ParseError> {
    if protocol.is_v5() {
        Properties::parse(r, ctx)
    } else {
        Ok(Properties::EMPTY)
    }
}

impl<'a> Packet<'a> {
    /// Validates one whole packet (fixed header included, nothing after it) received on a
    /// connection of `protocol`.
    ///
    /// Split a stream into packets with [`frame`](super::frame) first.
    pub fn parse(protocol: Protocol, b: &'a [u8]) -> Result<Packet<'a>, ParseError> {
        let f = frame(b)?.ok_or(ParseError::Truncated)?;
        match b.len().cmp(&f.len()) {
            std::cmp::Ordering::Less => return Err(ParseError::Truncated),
            std::cmp::Ordering::Greater => return Err(ParseError::TrailingBytes),
            std::cmp::Ordering::Equal => {}
        }
        let first = b[0];
        let flags = first & 0x0f;
        let kind = PacketType::from_first_byte(first).ok_or(ParseError::ReservedPacketType)?;
        if kind != PacketType::Publish && flags != kind.required_flags() {
            return Err(ParseError::BadFixedHeaderFlags);
        }
        let mut r = Reader::new(&b[f.header_len..]);
        let v5 = protocol.is_v5();
        let p = match kind {
            PacketType::Connect => Packet::Connect(parse_connect(&mut r)?),
            PacketType::ConnAck => {
                let ack_flags = r.u8()?;
                let code = r.u8()?;
                if ack_flags & 0xFE != 0 || (ack_flags != 0 && code != 0) {
                    return Err(ParseError::BadConnAckFlags);
                }
                if v5 {
                    check_code(code, reason::CONNACK)?;
                } else if code > 5 {
                    return Err(ParseError::BadReasonCode);
                }
                Packet::ConnAck(ConnAck {
                    session_present: ack_flags == 1,
                    code,
                    properties: props(&mut r, protocol, Context::CONNACK)?,
                })
            }
            PacketType::Publish => Packet::Publish(parse_publish(&mut r, protocol, flags)?),
            PacketType::PubAck => Packet::PubAck(parse_ack(&mut r, protocol, reason::PUBACK)?),
            PacketType::PubRec => Packet::PubRec(parse_ack(&mut r, protocol, reason::PUBACK)?),
            PacketType::PubRel => Packet::PubRel(parse_ack(&mut r, protocol, reason::PUBREL)?),
            PacketType::PubComp => Packet::PubComp(parse_ack(&mut r, protocol, reason::PUBREL)?),
            PacketType::Subscribe => {
                let packet_id = r.packet_id()?;
                let properties = props(&mut r, protocol, Context::SUBSCRIBE)?;
                let entries = read_all(&mut r, protocol, read_entry)?;
                Packet::Subscribe(Subscribe {
                    packet_id,
                    properties,
                    entries,
                })
            }
            PacketType::SubAck => {
                let packet_id = r.packet_id()?;
                let properties = props(&mut r, protocol, Context::SUBACK)?;
                let codes = r.rest();
                if codes.is_empty() {
                    return Err(ParseError::NoEntries);
                }
                let allowed = if v5 {
                    reason::SUBACK
                } else {
                    reason::SUBACK_V3
                };
                for &c in codes {
                    check_code(c, allowed)?;
                }
                Packet::SubAck(SubAck {
                    packet_id,
                    properties,
                    codes,
                })
            }
            PacketType::Unsubscribe => {
                let packet_id = r.packet_id()?;
                let properties = props(&mut r, protocol, Context::UNSUBSCRIBE)?;
                let filters = read_all(&mut r, protocol, read_filter)?;
                Packet::Unsubscribe(Unsubscribe {
                    packet_id,
                    properties,
                    filters,
                })
            }
            PacketType::UnsubAck => {
                let packet_id = r.packet_id()?;
                let properties = props(&mut r, protocol, Context::UNSUBACK)?;
                let codes = r.rest();
                if v5 {
                    if codes.is_empty() {
                        return Err(ParseError::NoEntries);
                    }
                    for &c in codes {
                        check_code(c, reason::UNSUBACK)?;
                    }
                } else if !codes.is_empty() {
                    return Err(ParseError::TrailingBytes);
                }
                Packet::UnsubAck(SubAck {
                    packet_id,
                    properties,
                    codes,
                })
            }
            PacketType::PingReq => Packet::PingReq,
            PacketType::PingResp => Packet::PingResp,
            PacketType::Disconnect => {
                let (reason, properties) =
                    parse_reason_tail(&mut r, protocol, reason::DISCONNECT, Context::DISCONNECT)?;
                Packet::Disconnect(Disconnect { reason, properties })
            }
            PacketType::Auth => {
                if !v5 {
                    return Err(ParseError::AuthInV311);
                }
                let (reason, properties) =
                    parse_reason_tail(&mut r, protocol, reason::AUTH, Context::AUTH)?;
                Packet::Auth(Auth { reason, properties })
            }
        };
        r.finish()?;
        Ok(p)
    }

    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }
}

/// Reason code and properties that MQTT 5 may leave out (DISCONNECT, AUTH): none means success.
fn parse_reason_tail<'a>(
    r: &mut Reader<'a>,
    protocol: Protocol,
    allowed: &[u8],
    ctx: Context,
) -> Result<(u8, Properties<'a>), ParseError> {
    if !protocol.is_v5() || r.is_empty() {
        return Ok((0, Properties::EMPTY));
    }
    let reason = check_code(r.u8()?, allowed)?;
    let properties = if r.is_empty() {
        Properties::EMPTY
    } else {
        Properties::parse(r, ctx)?
    };
    Ok((reason, properties))
}

fn parse_ack<'a>(
    r: &mut Reader<'a>,
    protocol: Protocol,
    allowed: &[u8],
) -> Result<Ack<'a>, ParseError> {
    let packet_id = r.packet_id()?;
    let (reason, properties) = parse_reason_tail(r, protocol, allowed, Context::ACK)?;
    Ok(Ack {
        packet_id,
        reason,
        properties,
    })
}

fn parse_publish<'a>(
    r: &mut Reader<'a>,
    protocol: Protocol,
    flags: u8,
) -> Result<Publish<'a>, ParseError> {
    let dup = flags & 0x08 != 0;
    let retain = flags & 0x01 != 0;
    let qos = QoS::from_bits((flags >> 1) & 3).ok_or(ParseError::BadQos)?;
    if dup && qos == QoS::AtMostOnce {
        return Err(ParseError::DupWithQos0);
    }
    let topic = r.string()?;
    if topic.bytes().any(|b| b == b'+' || b == b'#') {
        return Err(ParseError::WildcardInTopicName);
    }
    let packet_id = if qos == QoS::AtMostOnce {
        0
    } else {
        r.packet_id()?
    };
    let properties = props(r, protocol, Context::PUBLISH)?;
    if topic.is_empty()
        && !properties
            .iter()
            .any(|p| matches!(p, super::Property::TopicAlias(_)))
    {
        return Err(ParseError::EmptyTopicName);
    }
    Ok(Publish {
        dup,
        qos,
        retain,
        topic,
        packet_id,
        properties,
        payload: r.rest(),
    })
}

fn parse_connect<'a>(r: &mut Reader<'a>) -> Result<Connect<'a>, ParseError> {
    if r.binary()? != b"MQTT" {
        return Err(ParseError::BadProtocolName);
    }
    let protocol = match r.u8()? {
        4 => Protocol::V311,
        5 => Protocol::V5,
        _ => return Err(ParseError::UnsupportedProtocolLevel),
    };
    let flags = r.u8()?;
    let will_flag = flags & 0x04 != 0;
    let will_qos = (flags >> 3) & 3;
    let will_retain = flags & 0x20 != 0;
    let has_password = flags & 0x40 != 0;
    let has_username = flags & 0x80 != 0;
    if flags & 0x01 != 0 || will_qos == 3 || (!will_flag && (will_qos != 0 || will_retain)) {
        return Err(ParseError::BadConnectFlags);
    }
    if !protocol.is_v5() && has_password && !has_username {
        return Err(ParseError::PasswordWithoutUsername);
    }
    let keep_alive = r.u16()?;
    let properties = props(r, protocol, Context::CONNECT)?;
    let client_id = r.string()?;
    let will = if will_flag {
        let properties = props(r, protocol, Context::WILL)?;
        let topic = r.string()?;
        if topic.is_empty() {
            return Err(ParseError::EmptyTopicName);
        }
        if topic.bytes().any(|b| b == b'+' || b == b'#') {
            return Err(ParseError::WildcardInTopicName);
        }
        Some(Will {
            qos: QoS::from_bits(will_qos).ok_or(ParseError::BadConnectFlags)?,
            retain: will_retain,
            properties,
            topic,
            payload: r.binary()?,
        })
    } else {
        None
    };
    let username = if has_username {
        Some(r.string()?)
    } else {
        None
    };
    let password = if has_password {
        Some(r.binary()?)
    } else {
        None
    };
    Ok(Connect {
        protocol,
        clean_start: flags & 0x02 != 0,
        keep_alive,
        properties,
        client_id,
        will,
        username,
        password,
    })
}

/// Fuzzing entry point: frames `data` as a stream, parses every packet under both protocol
/// versions, reads every field of the accepted ones and checks that writing them back and
/// parsing the result gives the same packet. Returns the number of packets accepted (so a test can tell it did work).
///
/// # Panics
/// When an accepted packet cannot be written back, or its written bytes parse differently: a bug.
pub fn fuzz_parse(data: &[u8]) -> usize {
    let mut accepted = 0;
    let mut rest = data;
    let mut out = Vec::new();
    while let Ok(Some(f)) = frame(rest) {
        if f.len() > rest.len() {
            break;
        }
        let (one, tail) = rest.split_at(f.len());
        rest = tail;
        for protocol in [Protocol::V311, Protocol::V5] {
            let Ok(p) = Packet::parse(protocol, one) else {
                continue;
            };
            accepted += 1;
            touch(&p);
            out.clear();
            let write_as = match p {
                Packet::Connect(c) => c.protocol,
                _ => protocol,
            };
            // Writing may choose a shorter valid form (an MQTT 5 acknowledgement's omitted
            // reason code and properties), so compare what the written bytes parse to.
            if let Err(e) = p.write(write_as, &mut out) {
                panic!("{p:?} parsed but does not build: {e}");
            }
            match Packet::parse(protocol, &out) {
                Ok(again) => assert_eq!(again, p, "{p:?} changed when written and parsed again"),
                Err(e) => panic!("{p:?} written as {out:02x?} does not parse: {e}"),
            }
        }
    }
    accepted
}

/// Reads every field (the iterators re-decode validated bytes).
fn touch(p: &Packet<'_>) {
    let n = match p {
        Packet::Connect(c) => {
            c.properties.iter().count()
                + c.will
                    .map_or(0, |w| w.properties.iter().count() + w.payload.len())
        }
        Packet::ConnAck(c) => c.properties.iter().count(),
        Packet::Publish(p) => p.properties.iter().count() + p.payload.len(),
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            a.properties.iter().count()
        }
        Packet::Subscribe(s) => s.properties.iter().count() + s.entries().count(),
        Packet::SubAck(s) | Packet::UnsubAck(s) => s.properties.iter().count() + s.codes.len(),
        Packet::Unsubscribe(u) => u.properties.iter().count() + u.filters().count(),
        Packet::Disconnect(d) => d.properties.iter().count(),
        Packet::Auth(a) => a.properties.iter().count(),
        Packet::PingReq | Packet::PingResp => 0,
    };
    std::hint::black_box(n);
}
