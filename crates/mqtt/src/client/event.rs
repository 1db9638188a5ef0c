//! What the client tells its owner: socket requests, connection changes, messages.

use std::fmt;
use std::ops::Range;
use std::time::Instant;

use super::config::OutputId;
use crate::topic::SubscriptionId;
use crate::wire::{ParseError, Protocol, QoS, connack_v3_text, reason_text};

/// Something the owner of a [`Client`](super::Client) must act on or may report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event<'a> {
    /// Open a connection to the broker now (TCP, then TLS when configured) and call
    /// [`transport_connected`](super::Client::transport_connected) when it is up, or
    /// [`transport_closed`](super::Client::transport_closed) when it failed.
    Open,
    /// Close the connection after writing what [`output`](super::Client::output) still
    /// holds (a DISCONNECT, if any); the client has already forgotten it.
    Close,
    /// CONNACK accepted the connection.
    Connected {
        /// The broker kept this client's session (subscriptions and unacknowledged messages).
        session_present: bool,
        /// Protocol in use (3.1.1 after a fallback).
        protocol: Protocol,
    },
    /// The connection is gone; the next attempt is due at `retry_at` (`None` after
    /// [`disconnect`](super::Client::disconnect)).
    Disconnected {
        /// Why.
        reason: DisconnectReason,
        /// When [`Event::Open`] will come again.
        retry_at: Option<Instant>,
    },
    /// A message arrived on a subscribed topic.
    Message(Message<'a>),
    /// The broker answered one subscription: granted QoS (0..=2) or a failure code (>= 0x80).
    Subscribed {
        /// Which subscription.
        subscription: SubscriptionId,
        /// SUBACK code.
        code: u8,
    },
    /// The broker refused a QoS 1/2 publication (MQTT 5 reason code >= 0x80), or it was longer
    /// than the broker's Maximum Packet Size (0x95) and was not sent.
    PublishFailed {
        /// Which output.
        output: OutputId,
        /// Reason code.
        code: u8,
    },
}

/// An application message on a subscribed topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// Topic name it was published to.
    pub topic: &'a str,
    /// Payload. An MQTT 5 payload sent by MIDIMonster (which puts a two-byte length before
    /// the text when it sets Payload Format Indicator 1) arrives without that prefix.
    pub payload: &'a [u8],
    /// Delivery QoS.
    pub qos: QoS,
    /// Retained: a stored value sent because of the subscription (the topic's initial value),
    /// not a live change.
    pub retain: bool,
    /// Every subscription whose filter matches the topic (exact topic first, then wildcard
    /// filters in configuration order); never empty.
    pub subscriptions: &'a [SubscriptionId],
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The owner reported the transport closed or failed.
    TransportClosed,
    /// No CONNACK within the connect timeout.
    ConnectTimeout,
    /// CONNACK refused the connection.
    Refused {
        /// Return code (3.1.1) or reason code (5).
        code: u8,
        /// The protocol of the refused attempt.
        protocol: Protocol,
    },
    /// MQTT 5 refused as unsupported: reconnecting at once with 3.1.1.
    ProtocolFallback,
    /// No PINGRESP within the ping timeout.
    PingTimeout,
    /// The broker sent a malformed packet.
    Malformed(ParseError),
    /// The broker broke a protocol rule the parser cannot see (what is named).
    ProtocolError(&'static str),
    /// MQTT 5 DISCONNECT from the broker with this reason code.
    ServerDisconnect(u8),
    /// [`disconnect`](super::Client::disconnect) was called.
    Requested,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DisconnectReason::TransportClosed => f.write_str("connection closed"),
            DisconnectReason::ConnectTimeout => {
                f.write_str("no CONNACK within the connect timeout")
            }
            DisconnectReason::Refused { code, protocol } => {
                let text = if protocol.is_v5() {
                    reason_text(code)
                } else {
                    connack_v3_text(code)
                };
                write!(
                    f,
                    "broker refused the connection: {text} (0x{code:02X}, MQTT {protocol})"
                )
            }
            DisconnectReason::ProtocolFallback => {
                f.write_str("broker does not support MQTT 5, retrying with 3.1.1")
            }
            DisconnectReason::PingTimeout => f.write_str("no PINGRESP within the ping timeout"),
            DisconnectReason::Malformed(e) => write!(f, "malformed packet from the broker: {e}"),
            DisconnectReason::ProtocolError(what) => {
                write!(f, "protocol error by the broker: {what}")
            }
            DisconnectReason::ServerDisconnect(code) => {
                write!(
                    f,
                    "broker disconnected: {} (0x{code:02X})",
                    reason_text(code)
                )
            }
            DisconnectReason::Requested => f.write_str("disconnect requested"),
        }
    }
}

/// An event kept until [`poll_event`](super::Client::poll_event); message bytes live in the
/// client's arena.
#[derive(Debug, Clone)]
pub(crate) enum Record {
    Open,
    Close,
    Connected {
        session_present: bool,
        protocol: Protocol,
    },
    Disconnected {
        reason: DisconnectReason,
        retry_at: Option<Instant>,
    },
    Message {
        topic: Range<usize>,
        payload: Range<usize>,
        qos: QoS,
        retain: bool,
        subscriptions: Range<usize>,
    },
    Subscribed {
        subscription: SubscriptionId,
        code: u8,
    },
    PublishFailed {
        output: OutputId,
        code: u8,
    },
}
