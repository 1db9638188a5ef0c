//! Writing packets: the remaining length is computed from the fields first, then everything is
//! appended to the caller's `Vec<u8>` (which keeps its capacity, so a long-lived output queue
//! stops allocating once it has grown to its working size).

use super::packet::{Ack, Connect, Publish, SubAck, Subscribe, SubscribeEntry, Unsubscribe};
use super::property::{Properties, put_binary};
use super::{MAX_STRING_LEN, MAX_VARINT, Packet, Protocol, QoS, put_varint};

/// Why a packet could not be written. Nothing is appended then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A string or binary field longer than 65535 bytes.
    #[error("a string or binary field is longer than 65535 bytes")]
    FieldTooLong,
    /// The remaining length would exceed 268435455 bytes.
    #[error("packet longer than the 268435455 bytes MQTT can frame")]
    PacketTooLarge,
    /// QoS 1 or 2 (or SUBSCRIBE, UNSUBSCRIBE, acknowledgement) with packet identifier 0, or a
    /// QoS 0 PUBLISH with one.
    #[error("packet identifier must be non-zero exactly when the packet needs one")]
    BadPacketId,
    /// DUP flag on a QoS 0 PUBLISH.
    #[error("DUP flag on a QoS 0 PUBLISH")]
    DupWithQos0,
    /// Topic name empty, with wildcards or U+0000.
    #[error("topic name is empty or contains a wildcard or U+0000")]
    BadTopicName,
    /// Topic filter invalid.
    #[error("topic filter is invalid")]
    BadTopicFilter,
    /// A string with U+0000.
    #[error("string contains U+0000")]
    NullCharacter,
    /// SUBSCRIBE, UNSUBSCRIBE or SUBACK without entries.
    #[error("packet needs at least one entry")]
    NoEntries,
    /// AUTH or 3.1.1 with properties or reason codes it cannot carry.
    #[error("packet or field does not exist in MQTT 3.1.1")]
    NotInV311,
}

fn str_len(s: &str) -> Result<usize, BuildError> {
    if s.len() > MAX_STRING_LEN {
        Err(BuildError::FieldTooLong)
    } else if s.contains('\0') {
        Err(BuildError::NullCharacter)
    } else {
        Ok(2 + s.len())
    }
}

fn bin_len(b: &[u8]) -> Result<usize, BuildError> {
    if b.len() > MAX_STRING_LEN {
        Err(BuildError::FieldTooLong)
    } else {
        Ok(2 + b.len())
    }
}

fn props_len(p: &Properties<'_>, protocol: Protocol) -> Result<usize, BuildError> {
    if !protocol.is_v5() {
        return if p.is_empty() {
            Ok(0)
        } else {
            Err(BuildError::NotInV311)
        };
    }
    p.check()?;
    Ok(p.wire_len())
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_binary(out, s.as_bytes());
}

fn put_props(out: &mut Vec<u8>, p: &Properties<'_>, protocol: Protocol) {
    if protocol.is_v5() {
        p.write(out);
    }
}

/// Encodings of an MQTT 5 reason code and properties that may be left out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tail {
    None,
    Reason,
    ReasonProps,
}

fn tail(protocol: Protocol, reason: u8, p: &Properties<'_>) -> Result<(Tail, usize), BuildError> {
    if !protocol.is_v5() {
        return if reason == 0 && p.is_empty() {
            Ok((Tail::None, 0))
        } else {
            Err(BuildError::NotInV311)
        };
    }
    if !p.is_empty() {
        Ok((Tail::ReasonProps, 1 + props_len(p, protocol)?))
    } else if reason != 0 {
        Ok((Tail::Reason, 1))
    } else {
        Ok((Tail::None, 0))
    }
}

fn put_tail(out: &mut Vec<u8>, t: Tail, reason: u8, p: &Properties<'_>) {
    if t != Tail::None {
        out.push(reason);
    }
    if t == Tail::ReasonProps {
        p.write(out);
    }
}

impl Packet<'_> {
    /// Appends the packet as sent on a connection of `protocol` (CONNECT uses its own field).
    ///
    /// Checks what would make the packet malformed (field lengths, packet identifiers, topic
    /// names and filters, U+0000) and appends nothing when it fails. MQTT 5 acknowledgements,
    /// DISCONNECT and AUTH leave out a success reason code and empty properties, as allowed.
    pub fn write(&self, protocol: Protocol, out: &mut Vec<u8>) -> Result<(), BuildError> {
        let (first, body) = self.header(protocol)?;
        if body > MAX_VARINT as usize {
            return Err(BuildError::PacketTooLarge);
        }
        out.reserve(5 + body);
        out.push(first);
        put_varint(out, body as u32);
        let start = out.len();
        self.write_body(protocol, out);
        debug_assert_eq!(out.len() - start, body, "{self:?}");
        Ok(())
    }

    /// First byte and remaining length, after every check.
    fn header(&self, protocol: Protocol) -> Result<(u8, usize), BuildError> {
        let kind = self.packet_type();
        let mut first = (kind as u8) << 4 | kind.required_flags();
        let body = match self {
            Packet::Connect(c) => connect_len(c)?,
            Packet::ConnAck(c) => {
                if !protocol.is_v5() && c.code > 5 {
                    return Err(BuildError::NotInV311);
                }
                2 + props_len(&c.properties, protocol)?
            }
            Packet::Publish(p) => {
                first |= u8::from(p.dup) << 3 | p.qos.bits() << 1 | u8::from(p.retain);
                publish_len(p, protocol)?
            }
            Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
                if a.packet_id == 0 {
                    return Err(BuildError::BadPacketId);
                }
                2 + tail(protocol, a.reason, &a.properties)?.1
            }
            Packet::Subscribe(s) => subscribe_len(s, protocol)?,
            Packet::SubAck(s) => {
                if s.packet_id == 0 {
                    return Err(BuildError::BadPacketId);
                }
                if s.codes.is_empty() {
                    return Err(BuildError::NoEntries);
                }
                2 + props_len(&s.properties, protocol)? + s.codes.len()
            }
            Packet::Unsubscribe(u) => unsubscribe_len(u, protocol)?,
            Packet::UnsubAck(s) => {
                if s.packet_id == 0 {
                    return Err(BuildError::BadPacketId);
                }
                if protocol.is_v5() {
                    if s.codes.is_empty() {
                        return Err(BuildError::NoEntries);
                    }
                    2 + props_len(&s.properties, protocol)? + s.codes.len()
                } else if s.codes.is_empty() && s.properties.is_empty() {
                    2
                } else {
                    return Err(BuildError::NotInV311);
                }
            }
            Packet::PingReq | Packet::PingResp => 0,
            Packet::Disconnect(d) => tail(protocol, d.reason, &d.properties)?.1,
            Packet::Auth(a) => {
                if !protocol.is_v5() {
                    return Err(BuildError::NotInV311);
                }
                tail(protocol, a.reason, &a.properties)?.1
            }
        };
        Ok((first, body))
    }

    fn write_body(&self, protocol: Protocol, out: &mut Vec<u8>) {
        match self {
            Packet::Connect(c) => write_connect(c, out),
            Packet::ConnAck(c) => {
                out.push(u8::from(c.session_present));
                out.push(c.code);
                put_props(out, &c.properties, protocol);
            }
            Packet::Publish(p) => {
                put_str(out, p.topic);
                if p.qos != QoS::AtMostOnce {
                    out.extend_from_slice(&p.packet_id.to_be_bytes());
                }
                put_props(out, &p.properties, protocol);
                out.extend_from_slice(p.payload);
            }
            Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
                write_ack(a, protocol, out)
            }
            Packet::Subscribe(s) => {
                out.extend_from_slice(&s.packet_id.to_be_bytes());
                put_props(out, &s.properties, protocol);
                for SubscribeEntry { filter, options } in s.entries() {
                    put_str(out, filter);
                    out.push(options.to_byte(protocol));
                }
            }
            Packet::SubAck(s) | Packet::UnsubAck(s) => write_suback(s, protocol, out),
            Packet::Unsubscribe(u) => {
                out.extend_from_slice(&u.packet_id.to_be_bytes());
                put_props(out, &u.properties, protocol);
                for f in u.filters() {
                    put_str(out, f);
                }
            }
            Packet::PingReq | Packet::PingResp => {}
            Packet::Disconnect(d) => {
                if let Ok((t, _)) = tail(protocol, d.reason, &d.properties) {
                    put_tail(out, t, d.reason, &d.properties);
                }
            }
            Packet::Auth(a) => {
                if let Ok((t, _)) = tail(protocol, a.reason, &a.properties) {
                    put_tail(out, t, a.reason, &a.properties);
                }
            }
        }
    }
}

fn write_ack(a: &Ack<'_>, protocol: Protocol, out: &mut Vec<u8>) {
    out.extend_from_slice(&a.packet_id.to_be_bytes());
    if let Ok((t, _)) = tail(protocol, a.reason, &a.properties) {
        put_tail(out, t, a.reason, &a.properties);
    }
}

fn write_suback(s: &SubAck<'_>, protocol: Protocol, out: &mut Vec<u8>) {
    out.extend_from_slice(&s.packet_id.to_be_bytes());
    put_props(out, &s.properties, protocol);
    out.extend_from_slice(s.codes);
}

fn topic_name_len(topic: &str, protocol: Protocol, has_alias: bool) -> Result<usize, BuildError> {
    if topic.bytes().any(|b| b == b'+' || b == b'#')
        || (topic.is_empty() && !(protocol.is_v5() && has_alias))
    {
        return Err(BuildError::BadTopicName);
    }
    str_len(topic).map_err(|e| match e {
        BuildError::NullCharacter => BuildError::BadTopicName,
        e => e,
    })
}

fn publish_len(p: &Publish<'_>, protocol: Protocol) -> Result<usize, BuildError> {
    if p.dup && p.qos == QoS::AtMostOnce {
        return Err(BuildError::DupWithQos0);
    }
    if (p.qos == QoS::AtMostOnce) != (p.packet_id == 0) {
        return Err(BuildError::BadPacketId);
    }
    let has_alias = p
        .properties
        .iter()
        .any(|x| matches!(x, super::Property::TopicAlias(_)));
    let id = if p.qos == QoS::AtMostOnce { 0 } else { 2 };
    Ok(topic_name_len(p.topic, protocol, has_alias)?
        + id
        + props_len(&p.properties, protocol)?
        + p.payload.len())
}

fn filter_len(f: &str) -> Result<usize, BuildError> {
    crate::topic::validate_filter(f).map_err(|_| BuildError::BadTopicFilter)?;
    str_len(f)
}

fn subscribe_len(s: &Subscribe<'_>, protocol: Protocol) -> Result<usize, BuildError> {
    if s.packet_id == 0 {
        return Err(BuildError::BadPacketId);
    }
    let mut n = 2 + props_len(&s.properties, protocol)?;
    let mut any = false;
    for e in s.entries() {
        n += filter_len(e.filter)? + 1;
        any = true;
    }
    if !any {
        return Err(BuildError::NoEntries);
    }
    Ok(n)
}

fn unsubscribe_len(u: &Unsubscribe<'_>, protocol: Protocol) -> Result<usize, BuildError> {
    if u.packet_id == 0 {
        return Err(BuildError::BadPacketId);
    }
    let mut n = 2 + props_len(&u.properties, protocol)?;
    let mut any = false;
    for f in u.filters() {
        n += filter_len(f)?;
        any = true;
    }
    if !any {
        return Err(BuildError::NoEntries);
    }
    Ok(n)
}

fn connect_len(c: &Connect<'_>) -> Result<usize, BuildError> {
    let p = c.protocol;
    let mut n = 2 + 4 + 1 + 1 + 2 + props_len(&c.properties, p)? + str_len(c.client_id)?;
    if let Some(w) = &c.will {
        n += props_len(&w.properties, p)?
            + topic_name_len(w.topic, Protocol::V311, false)?
            + bin_len(w.payload)?;
    }
    if let Some(u) = c.username {
        n += str_len(u)?;
    }
    if let Some(pw) = c.password {
        if !p.is_v5() && c.username.is_none() {
            return Err(BuildError::NotInV311);
        }
        n += bin_len(pw)?;
    }
    Ok(n)
}

fn write_connect(c: &Connect<'_>, out: &mut Vec<u8>) {
    put_str(out, "MQTT");
    out.push(c.protocol.level());
    let mut flags = u8::from(c.clean_start) << 1;
    if let Some(w) = &c.will {
        flags |= 0x04 | w.qos.bits() << 3 | u8::from(w.retain) << 5;
    }
    flags |= u8::from(c.password.is_some()) << 6 | u8::from(c.username.is_some()) << 7;
    out.push(flags);
    out.extend_from_slice(&c.keep_alive.to_be_bytes());
    put_props(out, &c.properties, c.protocol);
    put_str(out, c.client_id);
    if let Some(w) = &c.will {
        put_props(out, &w.properties, c.protocol);
        put_str(out, w.topic);
        put_binary(out, w.payload);
    }
    if let Some(u) = c.username {
        put_str(out, u);
    }
    if let Some(pw) = c.password {
        put_binary(out, pw);
    }
}
