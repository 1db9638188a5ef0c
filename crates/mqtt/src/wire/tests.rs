//! Golden bytes for every packet type in both versions, written by hand from the examples and
//! field tables of MQTT 3.1.1 (OASIS, 2014) and MQTT 5.0 (OASIS, 2019), and one rejection per
//! parse rule.

use super::*;

const V3: Protocol = Protocol::V311;
const V5: Protocol = Protocol::V5;

/// Parses `bytes` to `expect` and writes `expect` back to exactly `bytes`.
fn golden(protocol: Protocol, bytes: &[u8], expect: Packet<'_>) {
    assert_eq!(
        Packet::parse(protocol, bytes),
        Ok(expect),
        "parse {bytes:02x?}"
    );
    let mut out = Vec::new();
    expect.write(protocol, &mut out).expect("write");
    assert_eq!(out, bytes, "write {expect:?}");
    assert_eq!(
        frame(bytes),
        Ok(Some(Frame {
            header_len: bytes.len() - (bytes[1] as usize),
            remaining_len: bytes[1] as usize,
        }))
    );
}

fn rejects(protocol: Protocol, bytes: &[u8], why: ParseError) {
    assert_eq!(
        Packet::parse(protocol, bytes).map(|_| ()),
        Err(why),
        "{bytes:02x?}"
    );
}

#[test]
fn varints_follow_the_spec_table() {
    // Section 1.5.5 (5.0) / 2.2.3 (3.1.1): the boundaries of one to four bytes.
    let table: [(u32, &[u8]); 8] = [
        (0, &[0x00]),
        (127, &[0x7F]),
        (128, &[0x80, 0x01]),
        (16_383, &[0xFF, 0x7F]),
        (16_384, &[0x80, 0x80, 0x01]),
        (2_097_151, &[0xFF, 0xFF, 0x7F]),
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
        (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
    ];
    for (v, b) in table {
        let mut out = Vec::new();
        put_varint(&mut out, v);
        assert_eq!(out, b);
        assert_eq!(varint_len(v), b.len());
        assert_eq!(read_varint(b), Ok((v, b.len())));
    }
    assert_eq!(
        read_varint(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
        Err(VarintError::Invalid(ParseError::VarintTooLong))
    );
    assert_eq!(
        read_varint(&[0x80, 0x00]),
        Err(VarintError::Invalid(ParseError::NonMinimalVarint))
    );
    assert_eq!(read_varint(&[0x80, 0x80]), Err(VarintError::Incomplete));
}

#[test]
fn framing_waits_for_the_header_and_rejects_type_0() {
    assert_eq!(frame(&[]), Ok(None));
    assert_eq!(frame(&[0x30]), Ok(None));
    assert_eq!(frame(&[0x30, 0x80]), Ok(None));
    assert_eq!(
        frame(&[0x30, 0x80, 0x01]),
        Ok(Some(Frame {
            header_len: 3,
            remaining_len: 128
        }))
    );
    assert_eq!(frame(&[0x00, 0x00]), Err(ParseError::ReservedPacketType));
    assert_eq!(
        frame(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
        Err(ParseError::VarintTooLong)
    );
}

// ---- MQTT 3.1.1 ----

#[test]
fn v3_connect_with_will_user_and_password() {
    // Section 3.1.2.10 example: flags 0xCE (user name, password, will QoS 1, will, clean
    // session), keep alive 10.
    let bytes = [
        0x10, 0x19, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xCE, 0x00, 0x0A, 0x00, 0x01, b'c',
        0x00, 0x01, b'w', 0x00, 0x01, b'x', 0x00, 0x01, b'u', 0x00, 0x01, b'p',
    ];
    golden(
        V3,
        &bytes,
        Packet::Connect(Connect {
            protocol: V3,
            clean_start: true,
            keep_alive: 10,
            properties: Properties::EMPTY,
            client_id: "c",
            will: Some(Will {
                qos: QoS::AtLeastOnce,
                retain: false,
                properties: Properties::EMPTY,
                topic: "w",
                payload: b"x",
            }),
            username: Some("u"),
            password: Some(b"p"),
        }),
    );
}

#[test]
fn v3_connect_minimal_as_midimonster_sends_it() {
    // MIDIMonster's 3.1.1 CONNECT: clean session, keep alive 20, client id only.
    let bytes = [
        0x10, 0x0F, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x14, 0x00, 0x03, b'M',
        b'M', b'1',
    ];
    golden(
        V3,
        &bytes,
        Packet::Connect(Connect {
            protocol: V3,
            clean_start: true,
            keep_alive: 20,
            properties: Properties::EMPTY,
            client_id: "MM1",
            will: None,
            username: None,
            password: None,
        }),
    );
}

#[test]
fn v3_connack() {
    let ack = |session_present, code| {
        Packet::ConnAck(ConnAck {
            session_present,
            code,
            properties: Properties::EMPTY,
        })
    };
    golden(V3, &[0x20, 0x02, 0x00, 0x00], ack(false, 0));
    golden(V3, &[0x20, 0x02, 0x01, 0x00], ack(true, 0));
    // Return code 1: unacceptable protocol version (what a 3.1.1 broker answers a v5 CONNECT).
    golden(V3, &[0x20, 0x02, 0x00, 0x01], ack(false, 1));
    golden(V3, &[0x20, 0x02, 0x00, 0x05], ack(false, 5));
    rejects(V3, &[0x20, 0x02, 0x00, 0x06], ParseError::BadReasonCode);
    rejects(V3, &[0x20, 0x02, 0x02, 0x00], ParseError::BadConnAckFlags);
    // Section 3.2.2.2: session present must be 0 with a non-zero return code.
    rejects(V3, &[0x20, 0x02, 0x01, 0x04], ParseError::BadConnAckFlags);
    rejects(
        V3,
        &[0x20, 0x03, 0x00, 0x00, 0x00],
        ParseError::TrailingBytes,
    );
}

#[test]
fn v3_publish_at_each_qos() {
    // Section 3.3.2.3 example: topic "a/b", packet identifier 10.
    golden(
        V3,
        &[0x30, 0x08, 0x00, 0x03, b'a', b'/', b'b', b'0', b'.', b'5'],
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "a/b",
            packet_id: 0,
            properties: Properties::EMPTY,
            payload: b"0.5",
        }),
    );
    golden(
        V3,
        &[0x33, 0x08, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, b'1'],
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: "a/b",
            packet_id: 10,
            properties: Properties::EMPTY,
            payload: b"1",
        }),
    );
    golden(
        V3,
        &[0x3C, 0x07, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A],
        Packet::Publish(Publish {
            dup: true,
            qos: QoS::ExactlyOnce,
            retain: false,
            topic: "a/b",
            packet_id: 10,
            properties: Properties::EMPTY,
            payload: b"",
        }),
    );
}

#[test]
fn v3_publish_rules() {
    rejects(
        V3,
        &[0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01],
        ParseError::BadQos,
    );
    rejects(V3, &[0x38, 0x03, 0x00, 0x01, b'a'], ParseError::DupWithQos0);
    rejects(
        V3,
        &[0x32, 0x05, 0x00, 0x01, b'a', 0x00, 0x00],
        ParseError::ZeroPacketId,
    );
    rejects(
        V3,
        &[0x30, 0x03, 0x00, 0x01, b'+'],
        ParseError::WildcardInTopicName,
    );
    rejects(
        V3,
        &[0x30, 0x03, 0x00, 0x01, b'#'],
        ParseError::WildcardInTopicName,
    );
    rejects(V3, &[0x30, 0x02, 0x00, 0x00], ParseError::EmptyTopicName);
    rejects(
        V3,
        &[0x30, 0x03, 0x00, 0x01, 0x00],
        ParseError::NullCharacter,
    );
    rejects(V3, &[0x30, 0x03, 0x00, 0x01, 0xFF], ParseError::BadUtf8);
    rejects(V3, &[0x30, 0x03, 0x00, 0x05, b'a'], ParseError::Truncated);
    rejects(
        V3,
        &[0x32, 0x04, 0x00, 0x01, b'a', 0x00],
        ParseError::Truncated,
    );
}

#[test]
fn v3_acknowledgements() {
    golden(V3, &[0x40, 0x02, 0x00, 0x0A], Packet::PubAck(Ack::ok(10)));
    golden(V3, &[0x50, 0x02, 0x00, 0x0A], Packet::PubRec(Ack::ok(10)));
    golden(V3, &[0x62, 0x02, 0x00, 0x0A], Packet::PubRel(Ack::ok(10)));
    golden(V3, &[0x70, 0x02, 0x00, 0x0A], Packet::PubComp(Ack::ok(10)));
    rejects(
        V3,
        &[0x60, 0x02, 0x00, 0x0A],
        ParseError::BadFixedHeaderFlags,
    );
    rejects(
        V3,
        &[0x41, 0x02, 0x00, 0x0A],
        ParseError::BadFixedHeaderFlags,
    );
    rejects(
        V3,
        &[0x40, 0x03, 0x00, 0x0A, 0x00],
        ParseError::TrailingBytes,
    );
    rejects(V3, &[0x40, 0x02, 0x00, 0x00], ParseError::ZeroPacketId);
    let mut out = Vec::new();
    let with_reason = Packet::PubAck(Ack {
        packet_id: 1,
        reason: 0x10,
        properties: Properties::EMPTY,
    });
    assert_eq!(with_reason.write(V3, &mut out), Err(BuildError::NotInV311));
    assert!(out.is_empty());
}

#[test]
fn v3_subscribe_suback_unsubscribe_unsuback() {
    // Section 3.8.3.4 example: "a/b" QoS 1, "c/d" QoS 2; section 3.9.3 example return codes.
    let entries = [
        SubscribeEntry {
            filter: "a/b",
            options: SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                ..Default::default()
            },
        },
        SubscribeEntry {
            filter: "c/d",
            options: SubscriptionOptions {
                qos: QoS::ExactlyOnce,
                ..Default::default()
            },
        },
    ];
    golden(
        V3,
        &[
            0x82, 0x0E, 0x00, 0x0A, 0x00, 0x03, b'a', b'/', b'b', 0x01, 0x00, 0x03, b'c', b'/',
            b'd', 0x02,
        ],
        Packet::Subscribe(Subscribe::new(10, Properties::EMPTY, &entries)),
    );
    golden(
        V3,
        &[0x90, 0x05, 0x00, 0x0A, 0x00, 0x02, 0x80],
        Packet::SubAck(SubAck {
            packet_id: 10,
            properties: Properties::EMPTY,
            codes: &[0x00, 0x02, 0x80],
        }),
    );
    golden(
        V3,
        &[
            0xA2, 0x0C, 0x00, 0x0A, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x03, b'c', b'/', b'd',
        ],
        Packet::Unsubscribe(Unsubscribe::new(10, Properties::EMPTY, &["a/b", "c/d"])),
    );
    golden(
        V3,
        &[0xB0, 0x02, 0x00, 0x0A],
        Packet::UnsubAck(SubAck {
            packet_id: 10,
            properties: Properties::EMPTY,
            codes: &[],
        }),
    );
    // No-local is an MQTT 5 option: its bit is reserved in 3.1.1.
    rejects(
        V3,
        &[0x82, 0x06, 0x00, 0x0A, 0x00, 0x01, b'a', 0x04],
        ParseError::BadSubscriptionOptions,
    );
    rejects(V3, &[0x82, 0x02, 0x00, 0x0A], ParseError::NoEntries);
    rejects(
        V3,
        &[0x82, 0x06, 0x00, 0x0A, 0x00, 0x01, b'a', 0x03],
        ParseError::BadSubscriptionOptions,
    );
    rejects(
        V3,
        &[0x82, 0x07, 0x00, 0x0A, 0x00, 0x02, b'a', b'#', 0x00],
        ParseError::BadTopicFilter,
    );
    rejects(
        V3,
        &[0x80, 0x06, 0x00, 0x0A, 0x00, 0x01, b'a', 0x00],
        ParseError::BadFixedHeaderFlags,
    );
    rejects(
        V3,
        &[0x90, 0x03, 0x00, 0x0A, 0x03],
        ParseError::BadReasonCode,
    );
    rejects(V3, &[0x90, 0x02, 0x00, 0x0A], ParseError::NoEntries);
    rejects(
        V3,
        &[0xB0, 0x03, 0x00, 0x0A, 0x00],
        ParseError::TrailingBytes,
    );
}

#[test]
fn v3_ping_and_disconnect() {
    golden(V3, &[0xC0, 0x00], Packet::PingReq);
    golden(V3, &[0xD0, 0x00], Packet::PingResp);
    golden(V3, &[0xE0, 0x00], Packet::Disconnect(Disconnect::NORMAL));
    rejects(V3, &[0xD0, 0x01, 0x00], ParseError::TrailingBytes);
    rejects(V3, &[0xE0, 0x01, 0x8E], ParseError::TrailingBytes);
    rejects(V3, &[0xF0, 0x00], ParseError::AuthInV311);
    rejects(V3, &[0xD0, 0x00, 0x00], ParseError::TrailingBytes);
    rejects(V3, &[0xD0, 0x02, 0x00], ParseError::Truncated);
}

#[test]
fn v3_connect_rules() {
    let base = |level: u8, flags: u8| {
        vec![
            0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', level, flags, 0x00, 0x00, 0x00, 0x01,
            b'c',
        ]
    };
    rejects(V3, &base(3, 0x02), ParseError::UnsupportedProtocolLevel);
    rejects(V3, &base(4, 0x03), ParseError::BadConnectFlags);
    rejects(V3, &base(4, 0x08), ParseError::BadConnectFlags); // will QoS without a will
    rejects(V3, &base(4, 0x20), ParseError::BadConnectFlags); // will retain without a will
    rejects(V3, &base(4, 0x1C), ParseError::BadConnectFlags); // will QoS 3
    rejects(V3, &base(4, 0x40), ParseError::PasswordWithoutUsername);
    let mut name = base(4, 0x02);
    name[7] = b'X';
    rejects(V3, &name, ParseError::BadProtocolName);
    assert!(Packet::parse(V3, &base(4, 0x00)).is_ok());
}

// ---- MQTT 5.0 ----

#[test]
fn v5_connect_with_session_expiry_and_will() {
    // Section 3.1.2.11 example: flags 0xCE, keep alive 10, Session Expiry Interval 10.
    let props = [Property::SessionExpiryInterval(10)];
    let bytes = [
        0x10, 0x20, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0xCE, 0x00, 0x0A, 0x05, 0x11, 0x00,
        0x00, 0x00, 0x0A, 0x00, 0x01, b'c', 0x00, 0x00, 0x01, b'w', 0x00, 0x01, b'x', 0x00, 0x01,
        b'u', 0x00, 0x01, b'p',
    ];
    golden(
        V5,
        &bytes,
        Packet::Connect(Connect {
            protocol: V5,
            clean_start: true,
            keep_alive: 10,
            properties: Properties::new(&props),
            client_id: "c",
            will: Some(Will {
                qos: QoS::AtLeastOnce,
                retain: false,
                properties: Properties::EMPTY,
                topic: "w",
                payload: b"x",
            }),
            username: Some("u"),
            password: Some(b"p"),
        }),
    );
    // The protocol given to parse does not matter for CONNECT: it carries its own level.
    assert!(matches!(Packet::parse(V3, &bytes), Ok(Packet::Connect(c)) if c.protocol == V5));
}

#[test]
fn v5_connect_as_midimonster_sends_it() {
    // MIDIMonster: clean start, keep alive 20, Maximum Packet Size 8192, Topic Alias Maximum
    // 65535. A password without a user name is allowed in MQTT 5.
    let props = [
        Property::MaximumPacketSize(8192),
        Property::TopicAliasMaximum(0xFFFF),
    ];
    let bytes = [
        0x10, 0x1A, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x42, 0x00, 0x14, 0x08, 0x27, 0x00,
        0x00, 0x20, 0x00, 0x22, 0xFF, 0xFF, 0x00, 0x02, b'M', b'M', 0x00, 0x01, b'p',
    ];
    golden(
        V5,
        &bytes,
        Packet::Connect(Connect {
            protocol: V5,
            clean_start: true,
            keep_alive: 20,
            properties: Properties::new(&props),
            client_id: "MM",
            will: None,
            username: None,
            password: Some(b"p"),
        }),
    );
}

#[test]
fn v5_connack_with_and_without_properties() {
    golden(
        V5,
        &[0x20, 0x03, 0x00, 0x00, 0x00],
        Packet::ConnAck(ConnAck {
            session_present: false,
            code: 0,
            properties: Properties::EMPTY,
        }),
    );
    let props = [
        Property::ReceiveMaximum(20),
        Property::ServerKeepAlive(5),
        Property::AssignedClientIdentifier("id"),
        Property::MaximumQos(1),
    ];
    golden(
        V5,
        &[
            0x20, 0x10, 0x01, 0x00, 0x0D, 0x21, 0x00, 0x14, 0x13, 0x00, 0x05, 0x12, 0x00, 0x02,
            b'i', b'd', 0x24, 0x01,
        ],
        Packet::ConnAck(ConnAck {
            session_present: true,
            code: 0,
            properties: Properties::new(&props),
        }),
    );
    golden(
        V5,
        &[0x20, 0x03, 0x00, 0x84, 0x00],
        Packet::ConnAck(ConnAck {
            session_present: false,
            code: 0x84,
            properties: Properties::EMPTY,
        }),
    );
    // 0x01 is a 3.1.1 return code, not an MQTT 5 CONNACK reason code.
    rejects(
        V5,
        &[0x20, 0x03, 0x00, 0x01, 0x00],
        ParseError::BadReasonCode,
    );
    // A 3.1.1 CONNACK lacks the property length.
    rejects(V5, &[0x20, 0x02, 0x00, 0x00], ParseError::Truncated);
}

#[test]
fn v5_property_rules() {
    let connack = |props: &[u8]| {
        let mut b = vec![0x20, (3 + props.len()) as u8, 0x00, 0x00, props.len() as u8];
        b.extend_from_slice(props);
        b
    };
    rejects(V5, &connack(&[0x05, 0x00]), ParseError::UnknownProperty);
    // Topic Alias belongs to PUBLISH.
    rejects(
        V5,
        &connack(&[0x23, 0x00, 0x01]),
        ParseError::PropertyNotAllowed,
    );
    rejects(
        V5,
        &connack(&[0x21, 0x00, 0x01, 0x21, 0x00, 0x02]),
        ParseError::DuplicateProperty,
    );
    rejects(
        V5,
        &connack(&[0x21, 0x00, 0x00]),
        ParseError::BadPropertyValue,
    );
    rejects(V5, &connack(&[0x24, 0x02]), ParseError::BadPropertyValue);
    rejects(
        V5,
        &connack(&[0x27, 0x00, 0x00, 0x00, 0x00]),
        ParseError::BadPropertyValue,
    );
    rejects(V5, &connack(&[0x21, 0x00]), ParseError::Truncated);
    rejects(
        V5,
        &connack(&[0x1F, 0x00, 0x01, 0x00]),
        ParseError::NullCharacter,
    );
    // User properties may repeat.
    let two_users = connack(&[
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', 0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'w',
    ]);
    match Packet::parse(V5, &two_users) {
        Ok(Packet::ConnAck(c)) => assert_eq!(
            c.properties.iter().collect::<Vec<_>>(),
            [
                Property::UserProperty("k", "v"),
                Property::UserProperty("k", "w")
            ]
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn v5_publish_with_properties_at_each_qos() {
    // Section 3.3.2.3 example ("a/b", packet identifier 10) with a property length.
    golden(
        V5,
        &[
            0x30, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, b'0', b'.', b'5',
        ],
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "a/b",
            packet_id: 0,
            properties: Properties::EMPTY,
            payload: b"0.5",
        }),
    );
    let pfi = [Property::PayloadFormatIndicator(1)];
    golden(
        V5,
        &[
            0x32, 0x0B, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, 0x02, 0x01, 0x01, b'1',
        ],
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "a/b",
            packet_id: 10,
            properties: Properties::new(&pfi),
            payload: b"1",
        }),
    );
    // Two subscription identifiers: a PUBLISH may carry one per matching subscription.
    let subs = [
        Property::SubscriptionIdentifier(1),
        Property::SubscriptionIdentifier(200),
    ];
    golden(
        V5,
        &[
            0x3D, 0x0D, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, 0x05, 0x0B, 0x01, 0x0B, 0xC8,
            0x01,
        ],
        Packet::Publish(Publish {
            dup: true,
            qos: QoS::ExactlyOnce,
            retain: true,
            topic: "a/b",
            packet_id: 10,
            properties: Properties::new(&subs),
            payload: b"",
        }),
    );
    // Empty topic with a topic alias is allowed; without one it is not.
    let alias = [Property::TopicAlias(3)];
    golden(
        V5,
        &[0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x03],
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "",
            packet_id: 0,
            properties: Properties::new(&alias),
            payload: b"",
        }),
    );
    rejects(
        V5,
        &[0x30, 0x03, 0x00, 0x00, 0x00],
        ParseError::EmptyTopicName,
    );
    rejects(
        V5,
        &[0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x00],
        ParseError::BadPropertyValue,
    );
    rejects(
        V5,
        &[0x30, 0x06, 0x00, 0x01, b'a', 0x02, 0x0B, 0x00],
        ParseError::BadPropertyValue,
    );
    rejects(
        V5,
        &[
            0x30, 0x09, 0x00, 0x01, b'a', 0x05, 0x11, 0x00, 0x00, 0x00, 0x00,
        ],
        ParseError::PropertyNotAllowed,
    );
}

#[test]
fn v5_acknowledgements_short_and_long_forms() {
    golden(V5, &[0x40, 0x02, 0x00, 0x0A], Packet::PubAck(Ack::ok(10)));
    let no_subscribers = Ack {
        packet_id: 10,
        reason: 0x10,
        properties: Properties::EMPTY,
    };
    golden(
        V5,
        &[0x40, 0x03, 0x00, 0x0A, 0x10],
        Packet::PubAck(no_subscribers),
    );
    golden(
        V5,
        &[0x50, 0x03, 0x00, 0x0A, 0x10],
        Packet::PubRec(no_subscribers),
    );
    let why = [Property::ReasonString("no")];
    let refused = Ack {
        packet_id: 10,
        reason: 0x87,
        properties: Properties::new(&why),
    };
    golden(
        V5,
        &[
            0x40, 0x09, 0x00, 0x0A, 0x87, 0x05, 0x1F, 0x00, 0x02, b'n', b'o',
        ],
        Packet::PubAck(refused),
    );
    let not_found = Ack {
        packet_id: 10,
        reason: 0x92,
        properties: Properties::EMPTY,
    };
    golden(
        V5,
        &[0x62, 0x03, 0x00, 0x0A, 0x92],
        Packet::PubRel(not_found),
    );
    golden(
        V5,
        &[0x70, 0x03, 0x00, 0x0A, 0x92],
        Packet::PubComp(not_found),
    );
    // The long forms of success parse to the same packet as the short one.
    assert_eq!(
        Packet::parse(V5, &[0x40, 0x04, 0x00, 0x0A, 0x00, 0x00]),
        Ok(Packet::PubAck(Ack::ok(10)))
    );
    assert_eq!(
        Packet::parse(V5, &[0x40, 0x03, 0x00, 0x0A, 0x00]),
        Ok(Packet::PubAck(Ack::ok(10)))
    );
    rejects(
        V5,
        &[0x40, 0x03, 0x00, 0x0A, 0x92],
        ParseError::BadReasonCode,
    );
    rejects(
        V5,
        &[0x62, 0x03, 0x00, 0x0A, 0x10],
        ParseError::BadReasonCode,
    );
}

#[test]
fn v5_subscribe_with_no_local_and_retain_handling() {
    let entries = [
        SubscribeEntry {
            filter: "a/b",
            options: SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                no_local: true,
                retain_as_published: false,
                retain_handling: 0,
            },
        },
        SubscribeEntry {
            filter: "c/+",
            options: SubscriptionOptions {
                qos: QoS::AtMostOnce,
                no_local: false,
                retain_as_published: true,
                retain_handling: 2,
            },
        },
    ];
    let props = [Property::SubscriptionIdentifier(7)];
    golden(
        V5,
        &[
            0x82, 0x11, 0x00, 0x0A, 0x02, 0x0B, 0x07, 0x00, 0x03, b'a', b'/', b'b', 0x05, 0x00,
            0x03, b'c', b'/', b'+', 0x28,
        ],
        Packet::Subscribe(Subscribe::new(10, Properties::new(&props), &entries)),
    );
    // MIDIMonster's own SUBSCRIBE: one filter, QoS 0 with no-local.
    let mm = [SubscribeEntry {
        filter: "/in",
        options: SubscriptionOptions {
            no_local: true,
            ..Default::default()
        },
    }];
    golden(
        V5,
        &[
            0x82, 0x09, 0x00, 0x01, 0x00, 0x00, 0x03, b'/', b'i', b'n', 0x04,
        ],
        Packet::Subscribe(Subscribe::new(1, Properties::EMPTY, &mm)),
    );
    rejects(
        V5,
        &[0x82, 0x07, 0x00, 0x0A, 0x00, 0x00, 0x01, b'a', 0x30],
        ParseError::BadSubscriptionOptions,
    );
    rejects(
        V5,
        &[0x82, 0x07, 0x00, 0x0A, 0x00, 0x00, 0x01, b'a', 0x40],
        ParseError::BadSubscriptionOptions,
    );
    // One subscription identifier at most in SUBSCRIBE.
    rejects(
        V5,
        &[
            0x82, 0x0B, 0x00, 0x0A, 0x04, 0x0B, 0x01, 0x0B, 0x02, 0x00, 0x01, b'a', 0x00,
        ],
        ParseError::DuplicateProperty,
    );
}

#[test]
fn v5_suback_unsubscribe_unsuback() {
    golden(
        V5,
        &[0x90, 0x06, 0x00, 0x0A, 0x00, 0x00, 0x01, 0xA2],
        Packet::SubAck(SubAck {
            packet_id: 10,
            properties: Properties::EMPTY,
            codes: &[0x00, 0x01, 0xA2],
        }),
    );
    golden(
        V5,
        &[0xA2, 0x08, 0x00, 0x0A, 0x00, 0x00, 0x03, b'a', b'/', b'b'],
        Packet::Unsubscribe(Unsubscribe::new(10, Properties::EMPTY, &["a/b"])),
    );
    golden(
        V5,
        &[0xB0, 0x05, 0x00, 0x0A, 0x00, 0x00, 0x11],
        Packet::UnsubAck(SubAck {
            packet_id: 10,
            properties: Properties::EMPTY,
            codes: &[0x00, 0x11],
        }),
    );
    rejects(
        V5,
        &[0x90, 0x04, 0x00, 0x0A, 0x00, 0x03],
        ParseError::BadReasonCode,
    );
    rejects(V5, &[0xB0, 0x03, 0x00, 0x0A, 0x00], ParseError::NoEntries);
    rejects(V5, &[0xA2, 0x03, 0x00, 0x0A, 0x00], ParseError::NoEntries);
}

#[test]
fn v5_ping_disconnect_auth() {
    golden(V5, &[0xC0, 0x00], Packet::PingReq);
    golden(V5, &[0xD0, 0x00], Packet::PingResp);
    golden(V5, &[0xE0, 0x00], Packet::Disconnect(Disconnect::NORMAL));
    golden(
        V5,
        &[0xE0, 0x01, 0x8E],
        Packet::Disconnect(Disconnect {
            reason: 0x8E,
            properties: Properties::EMPTY,
        }),
    );
    let expiry = [Property::SessionExpiryInterval(0)];
    golden(
        V5,
        &[0xE0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x00],
        Packet::Disconnect(Disconnect {
            reason: 0,
            properties: Properties::new(&expiry),
        }),
    );
    golden(
        V5,
        &[0xF0, 0x00],
        Packet::Auth(Auth {
            reason: 0,
            properties: Properties::EMPTY,
        }),
    );
    let method = [Property::AuthenticationMethod("SCRAM")];
    golden(
        V5,
        &[
            0xF0, 0x0A, 0x18, 0x08, 0x15, 0x00, 0x05, b'S', b'C', b'R', b'A', b'M',
        ],
        Packet::Auth(Auth {
            reason: 0x18,
            properties: Properties::new(&method),
        }),
    );
    rejects(V5, &[0xE0, 0x01, 0x01], ParseError::BadReasonCode);
    rejects(V5, &[0xF0, 0x01, 0x80], ParseError::BadReasonCode);
    rejects(V5, &[0xE0, 0x03, 0x00, 0x01, 0x24], ParseError::Truncated);
}

#[test]
fn builders_refuse_malformed_packets() {
    let mut out = Vec::new();
    let publish = |qos, packet_id, topic| {
        Packet::Publish(Publish {
            dup: false,
            qos,
            retain: false,
            topic,
            packet_id,
            properties: Properties::EMPTY,
            payload: b"",
        })
    };
    assert_eq!(
        publish(QoS::AtLeastOnce, 0, "a").write(V5, &mut out),
        Err(BuildError::BadPacketId)
    );
    assert_eq!(
        publish(QoS::AtMostOnce, 3, "a").write(V5, &mut out),
        Err(BuildError::BadPacketId)
    );
    assert_eq!(
        publish(QoS::AtMostOnce, 0, "a/+").write(V5, &mut out),
        Err(BuildError::BadTopicName)
    );
    assert_eq!(
        publish(QoS::AtMostOnce, 0, "").write(V3, &mut out),
        Err(BuildError::BadTopicName)
    );
    let long = "x".repeat(65536);
    assert_eq!(
        publish(QoS::AtMostOnce, 0, &long).write(V3, &mut out),
        Err(BuildError::FieldTooLong)
    );
    assert_eq!(
        Packet::Subscribe(Subscribe::new(1, Properties::EMPTY, &[])).write(V3, &mut out),
        Err(BuildError::NoEntries)
    );
    let bad_filter = [SubscribeEntry {
        filter: "a#",
        options: SubscriptionOptions::default(),
    }];
    assert_eq!(
        Packet::Subscribe(Subscribe::new(1, Properties::EMPTY, &bad_filter)).write(V3, &mut out),
        Err(BuildError::BadTopicFilter)
    );
    let p = [Property::ReceiveMaximum(1)];
    let connack = Packet::ConnAck(ConnAck {
        session_present: false,
        code: 0,
        properties: Properties::new(&p),
    });
    assert_eq!(connack.write(V3, &mut out), Err(BuildError::NotInV311));
    assert_eq!(
        Packet::Auth(Auth {
            reason: 0,
            properties: Properties::EMPTY
        })
        .write(V3, &mut out),
        Err(BuildError::NotInV311)
    );
    assert!(out.is_empty(), "a refused packet appended {out:02x?}");
}

#[test]
fn large_payload_uses_a_multi_byte_remaining_length() {
    let payload = vec![b'7'; 20_000];
    let p = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "t",
        packet_id: 0,
        properties: Properties::EMPTY,
        payload: &payload,
    });
    let mut out = Vec::new();
    p.write(V3, &mut out).expect("write");
    // 20_003 = 0x4E23 → 0xA3 0x9C 0x01.
    assert_eq!(&out[..4], &[0x30, 0xA3, 0x9C, 0x01]);
    assert_eq!(
        frame(&out),
        Ok(Some(Frame {
            header_len: 4,
            remaining_len: 20_003
        }))
    );
    assert_eq!(Packet::parse(V3, &out), Ok(p));
}

#[test]
fn fuzz_entry_counts_what_it_accepts() {
    // PINGRESP parses in both versions; the truncated PUBLISH after it in neither.
    assert_eq!(fuzz_parse(&[0xD0, 0x00, 0x30, 0x05, 0x00]), 2);
    assert_eq!(fuzz_parse(&[0x00]), 0);
}
