//! MQTT 5 properties (section 2.2.2): validated once when a packet is parsed, then iterated
//! without further checks; built from a caller's slice of [`Property`] values.

use super::reader::Reader;
use super::{MAX_STRING_LEN, MAX_VARINT, ParseError, put_varint, varint_len};

/// Which packet (or the will) a property list belongs to; a bit set of where each identifier
/// may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Context(u16);

impl Context {
    pub(crate) const CONNECT: Context = Context(1);
    pub(crate) const CONNACK: Context = Context(1 << 1);
    pub(crate) const PUBLISH: Context = Context(1 << 2);
    pub(crate) const WILL: Context = Context(1 << 3);
    /// PUBACK, PUBREC, PUBREL, PUBCOMP.
    pub(crate) const ACK: Context = Context(1 << 4);
    pub(crate) const SUBSCRIBE: Context = Context(1 << 5);
    pub(crate) const SUBACK: Context = Context(1 << 6);
    pub(crate) const UNSUBSCRIBE: Context = Context(1 << 7);
    pub(crate) const UNSUBACK: Context = Context(1 << 8);
    pub(crate) const DISCONNECT: Context = Context(1 << 9);
    pub(crate) const AUTH: Context = Context(1 << 10);
    const ALL: Context = Context((1 << 11) - 1);

    const fn or(self, o: Context) -> Context {
        Context(self.0 | o.0)
    }

    const fn has(self, o: Context) -> bool {
        self.0 & o.0 != 0
    }
}

/// One MQTT 5 property, borrowing strings and binary data from the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Property<'a> {
    /// 0x01: 0 unspecified bytes, 1 UTF-8 text.
    PayloadFormatIndicator(u8),
    /// 0x02: seconds.
    MessageExpiryInterval(u32),
    /// 0x03.
    ContentType(&'a str),
    /// 0x08.
    ResponseTopic(&'a str),
    /// 0x09.
    CorrelationData(&'a [u8]),
    /// 0x0B: 1..=268435455.
    SubscriptionIdentifier(u32),
    /// 0x11: seconds; 0xFFFFFFFF never expires.
    SessionExpiryInterval(u32),
    /// 0x12.
    AssignedClientIdentifier(&'a str),
    /// 0x13: seconds the client must use instead of its own keep alive.
    ServerKeepAlive(u16),
    /// 0x15.
    AuthenticationMethod(&'a str),
    /// 0x16.
    AuthenticationData(&'a [u8]),
    /// 0x17: 0 or 1.
    RequestProblemInformation(u8),
    /// 0x18: seconds.
    WillDelayInterval(u32),
    /// 0x19: 0 or 1.
    RequestResponseInformation(u8),
    /// 0x1A.
    ResponseInformation(&'a str),
    /// 0x1C.
    ServerReference(&'a str),
    /// 0x1F: human-readable diagnostics.
    ReasonString(&'a str),
    /// 0x21: unacknowledged QoS 1 and 2 PUBLISH packets the sender accepts; never 0.
    ReceiveMaximum(u16),
    /// 0x22.
    TopicAliasMaximum(u16),
    /// 0x23: never 0.
    TopicAlias(u16),
    /// 0x24: 0 or 1 (absent means 2).
    MaximumQos(u8),
    /// 0x25: 0 or 1.
    RetainAvailable(u8),
    /// 0x26: name and value.
    UserProperty(&'a str, &'a str),
    /// 0x27: never 0.
    MaximumPacketSize(u32),
    /// 0x28: 0 or 1.
    WildcardSubscriptionAvailable(u8),
    /// 0x29: 0 or 1.
    SubscriptionIdentifierAvailable(u8),
    /// 0x2A: 0 or 1.
    SharedSubscriptionAvailable(u8),
}

/// How a property's value is stored.
#[derive(Clone, Copy)]
enum Storage {
    Byte,
    U16,
    U32,
    Varint,
    Str,
    Bin,
    Pair,
}

/// Identifier → (storage, where allowed, may repeat). `None` for identifiers that do not exist.
fn spec(id: u8) -> Option<(Storage, Context, bool)> {
    use Storage::*;
    let pw = Context::PUBLISH.or(Context::WILL);
    Some(match id {
        0x01 | 0x02 | 0x03 | 0x08 | 0x09 => {
            let s = [Byte, U32, Str, Str, Bin][match id {
                0x01 => 0,
                0x02 => 1,
                0x03 => 2,
                0x08 => 3,
                _ => 4,
            }];
            (s, pw, false)
        }
        0x0B => (Varint, Context::PUBLISH.or(Context::SUBSCRIBE), true),
        0x11 => (
            U32,
            Context::CONNECT
                .or(Context::CONNACK)
                .or(Context::DISCONNECT),
            false,
        ),
        0x12 => (Str, Context::CONNACK, false),
        0x13 => (U16, Context::CONNACK, false),
        0x15 => (
            Str,
            Context::CONNECT.or(Context::CONNACK).or(Context::AUTH),
            false,
        ),
        0x16 => (
            Bin,
            Context::CONNECT.or(Context::CONNACK).or(Context::AUTH),
            false,
        ),
        0x17 | 0x19 => (Byte, Context::CONNECT, false),
        0x18 => (U32, Context::WILL, false),
        0x1A => (Str, Context::CONNACK, false),
        0x1C => (Str, Context::CONNACK.or(Context::DISCONNECT), false),
        0x1F => (
            Str,
            Context::CONNACK
                .or(Context::ACK)
                .or(Context::SUBACK)
                .or(Context::UNSUBACK)
                .or(Context::DISCONNECT)
                .or(Context::AUTH),
            false,
        ),
        0x21 | 0x22 => (U16, Context::CONNECT.or(Context::CONNACK), false),
        0x23 => (U16, Context::PUBLISH, false),
        0x24 | 0x25 | 0x28 | 0x29 | 0x2A => (Byte, Context::CONNACK, false),
        0x26 => (Pair, Context::ALL, true),
        0x27 => (U32, Context::CONNECT.or(Context::CONNACK), false),
        _ => return None,
    })
}

/// Reads one property whose identifier is known to exist.
fn read_one<'a>(r: &mut Reader<'a>) -> Result<Property<'a>, ParseError> {
    let id = r.u8()?;
    let Some((storage, _, _)) = spec(id) else {
        return Err(ParseError::UnknownProperty);
    };
    enum V<'a> {
        N(u32),
        S(&'a str),
        B(&'a [u8]),
        P(&'a str, &'a str),
    }
    let v = match storage {
        Storage::Byte => V::N(u32::from(r.u8()?)),
        Storage::U16 => V::N(u32::from(r.u16()?)),
        Storage::U32 => V::N(r.u32()?),
        Storage::Varint => V::N(r.varint()?),
        Storage::Str => V::S(r.string()?),
        Storage::Bin => V::B(r.binary()?),
        Storage::Pair => {
            let k = r.string()?;
            V::P(k, r.string()?)
        }
    };
    let flag = |n: u32| -> Result<u8, ParseError> {
        if n <= 1 {
            Ok(n as u8)
        } else {
            Err(ParseError::BadPropertyValue)
        }
    };
    let nonzero = |n: u32| -> Result<u32, ParseError> {
        if n == 0 {
            Err(ParseError::BadPropertyValue)
        } else {
            Ok(n)
        }
    };
    use Property as P;
    Ok(match (id, v) {
        (0x01, V::N(n)) => P::PayloadFormatIndicator(flag(n)?),
        (0x02, V::N(n)) => P::MessageExpiryInterval(n),
        (0x03, V::S(s)) => P::ContentType(s),
        (0x08, V::S(s)) => P::ResponseTopic(s),
        (0x09, V::B(b)) => P::CorrelationData(b),
        (0x0B, V::N(n)) => P::SubscriptionIdentifier(nonzero(n)?),
        (0x11, V::N(n)) => P::SessionExpiryInterval(n),
        (0x12, V::S(s)) => P::AssignedClientIdentifier(s),
        (0x13, V::N(n)) => P::ServerKeepAlive(n as u16),
        (0x15, V::S(s)) => P::AuthenticationMethod(s),
        (0x16, V::B(b)) => P::AuthenticationData(b),
        (0x17, V::N(n)) => P::RequestProblemInformation(flag(n)?),
        (0x18, V::N(n)) => P::WillDelayInterval(n),
        (0x19, V::N(n)) => P::RequestResponseInformation(flag(n)?),
        (0x1A, V::S(s)) => P::ResponseInformation(s),
        (0x1C, V::S(s)) => P::ServerReference(s),
        (0x1F, V::S(s)) => P::ReasonString(s),
        (0x21, V::N(n)) => P::ReceiveMaximum(nonzero(n)? as u16),
        (0x22, V::N(n)) => P::TopicAliasMaximum(n as u16),
        (0x23, V::N(n)) => P::TopicAlias(nonzero(n)? as u16),
        (0x24, V::N(n)) => P::MaximumQos(flag(n)?),
        (0x25, V::N(n)) => P::RetainAvailable(flag(n)?),
        (0x26, V::P(k, v)) => P::UserProperty(k, v),
        (0x27, V::N(n)) => P::MaximumPacketSize(nonzero(n)?),
        (0x28, V::N(n)) => P::WildcardSubscriptionAvailable(flag(n)?),
        (0x29, V::N(n)) => P::SubscriptionIdentifierAvailable(flag(n)?),
        (0x2A, V::N(n)) => P::SharedSubscriptionAvailable(flag(n)?),
        _ => return Err(ParseError::UnknownProperty),
    })
}

impl Property<'_> {
    /// The property identifier.
    pub const fn id(&self) -> u8 {
        match self {
            Property::PayloadFormatIndicator(_) => 0x01,
            Property::MessageExpiryInterval(_) => 0x02,
            Property::ContentType(_) => 0x03,
            Property::ResponseTopic(_) => 0x08,
            Property::CorrelationData(_) => 0x09,
            Property::SubscriptionIdentifier(_) => 0x0B,
            Property::SessionExpiryInterval(_) => 0x11,
            Property::AssignedClientIdentifier(_) => 0x12,
            Property::ServerKeepAlive(_) => 0x13,
            Property::AuthenticationMethod(_) => 0x15,
            Property::AuthenticationData(_) => 0x16,
            Property::RequestProblemInformation(_) => 0x17,
            Property::WillDelayInterval(_) => 0x18,
            Property::RequestResponseInformation(_) => 0x19,
            Property::ResponseInformation(_) => 0x1A,
            Property::ServerReference(_) => 0x1C,
            Property::ReasonString(_) => 0x1F,
            Property::ReceiveMaximum(_) => 0x21,
            Property::TopicAliasMaximum(_) => 0x22,
            Property::TopicAlias(_) => 0x23,
            Property::MaximumQos(_) => 0x24,
            Property::RetainAvailable(_) => 0x25,
            Property::UserProperty(..) => 0x26,
            Property::MaximumPacketSize(_) => 0x27,
            Property::WildcardSubscriptionAvailable(_) => 0x28,
            Property::SubscriptionIdentifierAvailable(_) => 0x29,
            Property::SharedSubscriptionAvailable(_) => 0x2A,
        }
    }

    /// Encoded length including the identifier byte.
    fn encoded_len(&self) -> usize {
        1 + match self {
            Property::PayloadFormatIndicator(_)
            | Property::RequestProblemInformation(_)
            | Property::RequestResponseInformation(_)
            | Property::MaximumQos(_)
            | Property::RetainAvailable(_)
            | Property::WildcardSubscriptionAvailable(_)
            | Property::SubscriptionIdentifierAvailable(_)
            | Property::SharedSubscriptionAvailable(_) => 1,
            Property::ServerKeepAlive(_)
            | Property::ReceiveMaximum(_)
            | Property::TopicAliasMaximum(_)
            | Property::TopicAlias(_) => 2,
            Property::MessageExpiryInterval(_)
            | Property::SessionExpiryInterval(_)
            | Property::WillDelayInterval(_)
            | Property::MaximumPacketSize(_) => 4,
            Property::SubscriptionIdentifier(n) => varint_len(*n),
            Property::ContentType(s)
            | Property::ResponseTopic(s)
            | Property::AssignedClientIdentifier(s)
            | Property::AuthenticationMethod(s)
            | Property::ResponseInformation(s)
            | Property::ServerReference(s)
            | Property::ReasonString(s) => 2 + s.len(),
            Property::CorrelationData(b) | Property::AuthenticationData(b) => 2 + b.len(),
            Property::UserProperty(k, v) => 4 + k.len() + v.len(),
        }
    }

    /// Longest string or binary field, for the builder's length check.
    fn longest_field(&self) -> usize {
        match self {
            Property::ContentType(s)
            | Property::ResponseTopic(s)
            | Property::AssignedClientIdentifier(s)
            | Property::AuthenticationMethod(s)
            | Property::ResponseInformation(s)
            | Property::ServerReference(s)
            | Property::ReasonString(s) => s.len(),
            Property::CorrelationData(b) | Property::AuthenticationData(b) => b.len(),
            Property::UserProperty(k, v) => k.len().max(v.len()),
            Property::SubscriptionIdentifier(n) if *n > MAX_VARINT => usize::MAX,
            _ => 0,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(self.id());
        match *self {
            Property::PayloadFormatIndicator(n)
            | Property::RequestProblemInformation(n)
            | Property::RequestResponseInformation(n)
            | Property::MaximumQos(n)
            | Property::RetainAvailable(n)
            | Property::WildcardSubscriptionAvailable(n)
            | Property::SubscriptionIdentifierAvailable(n)
            | Property::SharedSubscriptionAvailable(n) => out.push(n),
            Property::ServerKeepAlive(n)
            | Property::ReceiveMaximum(n)
            | Property::TopicAliasMaximum(n)
            | Property::TopicAlias(n) => out.extend_from_slice(&n.to_be_bytes()),
            Property::MessageExpiryInterval(n)
            | Property::SessionExpiryInterval(n)
            | Property::WillDelayInterval(n)
            | Property::MaximumPacketSize(n) => out.extend_from_slice(&n.to_be_bytes()),
            Property::SubscriptionIdentifier(n) => put_varint(out, n),
            Property::ContentType(s)
            | Property::ResponseTopic(s)
            | Property::AssignedClientIdentifier(s)
            | Property::AuthenticationMethod(s)
            | Property::ResponseInformation(s)
            | Property::ServerReference(s)
            | Property::ReasonString(s) => put_binary(out, s.as_bytes()),
            Property::CorrelationData(b) | Property::AuthenticationData(b) => put_binary(out, b),
            Property::UserProperty(k, v) => {
                put_binary(out, k.as_bytes());
                put_binary(out, v.as_bytes());
            }
        }
    }
}

/// Appends a two-byte length and the bytes (the builder checked the length first).
pub(crate) fn put_binary(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

/// The property list of one packet: validated bytes of a parsed packet, or a caller's list to
/// build from. Both iterate the same way and compare equal when they hold the same properties.
#[derive(Debug, Clone, Copy)]
pub struct Properties<'a>(Repr<'a>);

#[derive(Debug, Clone, Copy)]
enum Repr<'a> {
    Raw(&'a [u8]),
    List(&'a [Property<'a>]),
}

impl<'a> Properties<'a> {
    /// No properties.
    pub const EMPTY: Properties<'static> = Properties(Repr::List(&[]));

    /// Properties to build a packet with (written in this order).
    pub const fn new(list: &'a [Property<'a>]) -> Self {
        Properties(Repr::List(list))
    }

    /// Reads the length-prefixed property list of a packet of kind `ctx` and checks every entry.
    pub(crate) fn parse(r: &mut Reader<'a>, ctx: Context) -> Result<Self, ParseError> {
        let len = r.varint()? as usize;
        let raw = r.take(len)?;
        let mut seen = 0u64;
        let mut inner = Reader::new(raw);
        while !inner.is_empty() {
            let p = read_one(&mut inner)?;
            let id = p.id();
            let Some((_, allowed, repeats)) = spec(id) else {
                return Err(ParseError::UnknownProperty);
            };
            if !allowed.has(ctx) {
                return Err(ParseError::PropertyNotAllowed);
            }
            // Subscription Identifier repeats only in PUBLISH (one per matching subscription).
            let may_repeat = repeats && (id != 0x0B || ctx == Context::PUBLISH);
            let bit = 1u64 << id;
            if seen & bit != 0 && !may_repeat {
                return Err(ParseError::DuplicateProperty);
            }
            seen |= bit;
        }
        Ok(Properties(Repr::Raw(raw)))
    }

    /// The properties in packet order.
    pub fn iter(&self) -> PropertyIter<'a> {
        match self.0 {
            Repr::Raw(b) => PropertyIter(IterRepr::Raw(Reader::new(b))),
            Repr::List(l) => PropertyIter(IterRepr::List(l.iter())),
        }
    }

    /// `true` without properties.
    pub fn is_empty(&self) -> bool {
        match self.0 {
            Repr::Raw(b) => b.is_empty(),
            Repr::List(l) => l.is_empty(),
        }
    }

    /// Bytes of the properties without the length prefix.
    pub fn encoded_len(&self) -> usize {
        match self.0 {
            Repr::Raw(b) => b.len(),
            Repr::List(l) => l.iter().map(Property::encoded_len).sum(),
        }
    }

    /// Bytes including the length prefix.
    pub(crate) fn wire_len(&self) -> usize {
        let n = self.encoded_len();
        varint_len(n.min(MAX_VARINT as usize) as u32) + n
    }

    /// Checks a list to build from: field lengths and total size.
    pub(crate) fn check(&self) -> Result<(), super::BuildError> {
        if let Repr::List(l) = self.0
            && l.iter().any(|p| p.longest_field() > MAX_STRING_LEN)
        {
            return Err(super::BuildError::FieldTooLong);
        }
        if self.encoded_len() > MAX_VARINT as usize {
            return Err(super::BuildError::PacketTooLarge);
        }
        Ok(())
    }

    /// Appends the length prefix and the properties.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        put_varint(out, self.encoded_len() as u32);
        match self.0 {
            Repr::Raw(b) => out.extend_from_slice(b),
            Repr::List(l) => l.iter().for_each(|p| p.write(out)),
        }
    }
}

impl PartialEq for Properties<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Properties<'_> {}

/// Iterator over [`Properties`].
#[derive(Debug, Clone)]
pub struct PropertyIter<'a>(IterRepr<'a>);

#[derive(Debug, Clone)]
enum IterRepr<'a> {
    Raw(Reader<'a>),
    List(std::slice::Iter<'a, Property<'a>>),
}

impl<'a> Iterator for PropertyIter<'a> {
    type Item = Property<'a>;

    fn next(&mut self) -> Option<Property<'a>> {
        match &mut self.0 {
            // Validated by Properties::parse, so an error cannot happen; stop if it ever did.
            IterRepr::Raw(r) if !r.is_empty() => read_one(r).ok(),
            IterRepr::Raw(_) => None,
            IterRepr::List(it) => it.next().copied(),
        }
    }
}
