//! Why a packet was rejected: one variant per rule, with stable counter names.

macro_rules! parse_errors {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, $msg:literal; )*) => {
        /// Why [`frame`](super::frame) or [`Packet::parse`](super::Packet::parse) rejected bytes.
        ///
        /// One variant per rule so that a client can count rejections per reason
        /// ([`ParseError::index`], [`ParseError::as_str`]) without allocating.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
        #[non_exhaustive]
        pub enum ParseError {
            $( $(#[$doc])* #[error($msg)] $variant, )*
        }

        impl ParseError {
            /// Every variant, in [`index`](Self::index) order.
            pub const ALL: [ParseError; parse_errors!(@count $($variant)*)] = [$(ParseError::$variant),*];
            /// Number of variants; size of a per-reason counter array.
            pub const COUNT: usize = Self::ALL.len();

            /// Dense index 0..COUNT, for counter arrays.
            #[inline]
            pub const fn index(self) -> usize {
                self as usize
            }

            /// Stable snake_case name, for counters and logs; never changes once released.
            pub const fn as_str(self) -> &'static str {
                match self { $(ParseError::$variant => $name,)* }
            }
        }
    };
    (@count $($v:ident)*) => { 0 $(+ parse_errors!(@one $v))* };
    (@one $v:ident) => { 1 };
}

parse_errors! {
    /// Packet type 0 is reserved.
    ReservedPacketType => "reserved_packet_type", "packet type 0 is reserved";
    /// AUTH (type 15) on an MQTT 3.1.1 connection, where the type is reserved.
    AuthInV311 => "auth_in_v311", "AUTH packet on an MQTT 3.1.1 connection";
    /// Remaining length or other variable byte integer longer than four bytes.
    VarintTooLong => "varint_too_long", "variable byte integer longer than four bytes";
    /// Variable byte integer not encoded in the fewest bytes.
    NonMinimalVarint => "non_minimal_varint", "variable byte integer not in its shortest form";
    /// Fixed-header flag bits other than those the packet type requires.
    BadFixedHeaderFlags => "bad_fixed_header_flags", "reserved fixed-header flag bits are wrong";
    /// A field runs past the end of the packet.
    Truncated => "truncated", "packet ends inside a field";
    /// Bytes left over after the last field.
    TrailingBytes => "trailing_bytes", "bytes after the last field of the packet";
    /// A string is not well-formed UTF-8.
    BadUtf8 => "bad_utf8", "string is not well-formed UTF-8";
    /// A string contains U+0000.
    NullCharacter => "null_character", "string contains U+0000";
    /// CONNECT protocol name is not "MQTT".
    BadProtocolName => "bad_protocol_name", "protocol name is not MQTT";
    /// CONNECT protocol level is neither 4 (3.1.1) nor 5.
    UnsupportedProtocolLevel => "unsupported_protocol_level", "protocol level is neither 4 (3.1.1) nor 5";
    /// CONNECT flags: reserved bit set, or will QoS/retain without a will, or will QoS 3.
    BadConnectFlags => "bad_connect_flags", "CONNECT flags are invalid";
    /// MQTT 3.1.1 CONNECT with a password but no user name.
    PasswordWithoutUsername => "password_without_username", "password flag without user name flag (3.1.1)";
    /// PUBLISH QoS bits are 3.
    BadQos => "bad_qos", "QoS 3 is not a QoS";
    /// PUBLISH with QoS 0 and the DUP flag set.
    DupWithQos0 => "dup_with_qos0", "DUP flag set on a QoS 0 PUBLISH";
    /// Packet identifier 0.
    ZeroPacketId => "zero_packet_id", "packet identifier 0";
    /// Topic name contains `+` or `#`.
    WildcardInTopicName => "wildcard_in_topic_name", "topic name contains a wildcard";
    /// Empty topic name (3.1.1, or MQTT 5 without a topic alias).
    EmptyTopicName => "empty_topic_name", "empty topic name without a topic alias";
    /// Topic filter empty or with misplaced wildcards.
    BadTopicFilter => "bad_topic_filter", "topic filter is empty or has misplaced wildcards";
    /// SUBSCRIBE, UNSUBSCRIBE, SUBACK or UNSUBACK without entries.
    NoEntries => "no_entries", "packet lists no topic filters or reason codes";
    /// Subscription options with reserved bits, QoS 3 or retain handling 3.
    BadSubscriptionOptions => "bad_subscription_options", "subscription options are invalid";
    /// CONNACK acknowledge flags with reserved bits set, or session present on a refusal.
    BadConnAckFlags => "bad_connack_flags", "CONNACK flags are invalid";
    /// A return or reason code the packet type may not carry.
    BadReasonCode => "bad_reason_code", "reason code not allowed in this packet";
    /// An MQTT 5 property identifier that does not exist.
    UnknownProperty => "unknown_property", "unknown property identifier";
    /// A property the packet type may not carry.
    PropertyNotAllowed => "property_not_allowed", "property not allowed in this packet";
    /// A property that may appear once appears twice.
    DuplicateProperty => "duplicate_property", "property appears more than once";
    /// A property value out of its range (0 where forbidden, a flag other than 0/1, ...).
    BadPropertyValue => "bad_property_value", "property value out of range";
}

#[cfg(test)]
mod tests {
    use super::ParseError;

    #[test]
    fn indices_are_dense_and_names_unique() {
        for (i, r) in ParseError::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let mut names: Vec<_> = ParseError::ALL.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ParseError::COUNT);
        assert!(names.iter().all(|n| {
            n.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
        }));
    }
}
