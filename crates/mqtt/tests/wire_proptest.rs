//! Generated packets survive write → frame → parse unchanged, in both versions, and any
//! prefix of a written packet is reported as incomplete rather than misparsed.

use patchbay_mqtt::wire::{
    Ack, ConnAck, Connect, Packet, Properties, Property, Protocol, Publish, QoS, SubAck, Subscribe,
    SubscribeEntry, SubscriptionOptions, Will, frame,
};
use proptest::prelude::*;

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![Just(Protocol::V311), Just(Protocol::V5)]
}

/// Topic names: UTF-8 without wildcards or U+0000, including `$`, `/` and non-ASCII.
fn name() -> impl Strategy<Value = String> {
    "[a-z0-9/ $é]{1,12}"
}

fn filter() -> impl Strategy<Value = String> {
    prop_oneof![
        name(),
        name().prop_map(|n| format!("{n}/#")),
        name().prop_map(|n| format!("+/{n}")),
        Just("#".to_string()),
    ]
}

/// Owned data for MQTT 5 PUBLISH properties.
#[derive(Debug, Clone)]
struct PubProps {
    pfi: Option<u8>,
    expiry: Option<u32>,
    content_type: Option<String>,
    correlation: Option<Vec<u8>>,
    sub_ids: Vec<u32>,
    user: Vec<(String, String)>,
}

fn pub_props() -> impl Strategy<Value = PubProps> {
    (
        proptest::option::of(0u8..=1),
        proptest::option::of(any::<u32>()),
        proptest::option::of("[a-z/]{0,8}"),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
        proptest::collection::vec(1u32..=268_435_455, 0..3),
        proptest::collection::vec(("[a-z]{0,4}", "[a-z]{0,4}"), 0..3),
    )
        .prop_map(
            |(pfi, expiry, content_type, correlation, sub_ids, user)| PubProps {
                pfi,
                expiry,
                content_type,
                correlation,
                sub_ids,
                user,
            },
        )
}

impl PubProps {
    fn list(&self) -> Vec<Property<'_>> {
        let mut v = Vec::new();
        if let Some(p) = self.pfi {
            v.push(Property::PayloadFormatIndicator(p));
        }
        if let Some(e) = self.expiry {
            v.push(Property::MessageExpiryInterval(e));
        }
        if let Some(c) = &self.content_type {
            v.push(Property::ContentType(c));
        }
        if let Some(c) = &self.correlation {
            v.push(Property::CorrelationData(c));
        }
        v.extend(
            self.sub_ids
                .iter()
                .map(|&i| Property::SubscriptionIdentifier(i)),
        );
        v.extend(self.user.iter().map(|(k, x)| Property::UserProperty(k, x)));
        v
    }
}

fn round_trip(protocol: Protocol, p: Packet<'_>) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    p.write(protocol, &mut out)
        .map_err(|e| TestCaseError::fail(format!("{p:?}: {e}")))?;
    let f = frame(&out)?.ok_or_else(|| TestCaseError::fail("no frame"))?;
    prop_assert_eq!(f.len(), out.len());
    prop_assert_eq!(Packet::parse(protocol, &out), Ok(p));
    for cut in 0..out.len() {
        match frame(&out[..cut]) {
            Ok(None) => {}
            Ok(Some(f)) => prop_assert!(f.len() > cut, "prefix {cut} framed as whole"),
            Err(e) => prop_assert!(false, "prefix {cut}: {e}"),
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn publish(protocol in protocol(), q in qos(), dup in any::<bool>(), retain in any::<bool>(),
               topic in name(), id in 1u16.., props in pub_props(),
               payload in proptest::collection::vec(any::<u8>(), 0..300)) {
        let list = props.list();
        let p = Packet::Publish(Publish {
            dup: dup && q != QoS::AtMostOnce,
            qos: q,
            retain,
            topic: &topic,
            packet_id: if q == QoS::AtMostOnce { 0 } else { id },
            properties: if protocol.is_v5() { Properties::new(&list) } else { Properties::EMPTY },
            payload: &payload,
        });
        round_trip(protocol, p)?;
    }

    #[test]
    fn subscribe_and_suback(protocol in protocol(), id in 1u16..,
                            entries in proptest::collection::vec((filter(), qos(), any::<bool>(), any::<bool>(), 0u8..=2), 1..5),
                            codes in proptest::collection::vec(prop_oneof![Just(0u8), Just(1), Just(2), Just(0x80)], 1..5)) {
        let v5 = protocol.is_v5();
        let e: Vec<SubscribeEntry<'_>> = entries.iter().map(|(f, q, nl, rap, rh)| SubscribeEntry {
            filter: f,
            options: SubscriptionOptions {
                qos: *q,
                no_local: *nl && v5,
                retain_as_published: *rap && v5,
                retain_handling: if v5 { *rh } else { 0 },
            },
        }).collect();
        round_trip(protocol, Packet::Subscribe(Subscribe::new(id, Properties::EMPTY, &e)))?;
        round_trip(protocol, Packet::SubAck(SubAck { packet_id: id, properties: Properties::EMPTY, codes: &codes }))?;
    }

    #[test]
    fn acknowledgements(protocol in protocol(), id in 1u16.., kind in 0..4,
                        reason in prop_oneof![Just(0u8), Just(0x10), Just(0x80), Just(0x92)],
                        why in proptest::option::of("[a-z ]{0,10}")) {
        let reason_ok = match kind {
            0 | 1 => reason != 0x92,
            _ => reason == 0 || reason == 0x92,
        };
        let props = why.as_deref().map(Property::ReasonString);
        let list: Vec<Property<'_>> = props.into_iter().collect();
        let ack = if protocol.is_v5() && reason_ok {
            Ack { packet_id: id, reason, properties: Properties::new(&list) }
        } else {
            Ack::ok(id)
        };
        let p = match kind {
            0 => Packet::PubAck(ack),
            1 => Packet::PubRec(ack),
            2 => Packet::PubRel(ack),
            _ => Packet::PubComp(ack),
        };
        round_trip(protocol, p)?;
    }

    #[test]
    fn connect_and_connack(protocol in protocol(), clean in any::<bool>(), keep_alive in any::<u16>(),
                           client_id in "[a-zA-Z0-9-]{0,23}", user in proptest::option::of("[a-z]{0,8}"),
                           password in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
                           will in proptest::option::of((qos(), any::<bool>(), name(), proptest::collection::vec(any::<u8>(), 0..8))),
                           expiry in proptest::option::of(any::<u32>()), session_present in any::<bool>(),
                           code in prop_oneof![Just(0u8), Just(0x84), Just(0x87)]) {
        let props = expiry.map(Property::SessionExpiryInterval);
        let list: Vec<Property<'_>> = props.into_iter().collect();
        let v5 = protocol.is_v5();
        // 3.1.1 needs a user name with a password.
        let user = if !v5 && password.is_some() && user.is_none() { Some(String::new()) } else { user };
        let c = Packet::Connect(Connect {
            protocol,
            clean_start: clean,
            keep_alive,
            properties: if v5 { Properties::new(&list) } else { Properties::EMPTY },
            client_id: &client_id,
            will: will.as_ref().map(|(q, r, t, p)| Will { qos: *q, retain: *r, properties: Properties::EMPTY, topic: t, payload: p }),
            username: user.as_deref(),
            password: password.as_deref(),
        });
        round_trip(protocol, c)?;
        let code = if v5 { code } else { code.min(5) };
        round_trip(protocol, Packet::ConnAck(ConnAck {
            session_present: session_present && code == 0,
            code,
            properties: if v5 { Properties::new(&list) } else { Properties::EMPTY },
        }))?;
    }
}
