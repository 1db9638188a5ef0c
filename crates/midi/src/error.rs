//! Why input bytes were dropped (one variant per rule, with stable counter names) and why a
//! message could not be encoded.

macro_rules! drop_reasons {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, $msg:literal; )*) => {
        /// Why the [stream parser](crate::StreamParser) or [`Message::parse`](crate::Message::parse)
        /// dropped bytes.
        ///
        /// One variant per rule so that a backend can count drops per reason
        /// ([`DropReason::index`], [`DropReason::as_str`]) without allocating. Each dropped
        /// message is counted once, under the first rule it broke.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
        #[non_exhaustive]
        pub enum DropReason {
            $( $(#[$doc])* #[error($msg)] $variant, )*
        }

        impl DropReason {
            /// Every variant, in [`index`](Self::index) order.
            pub const ALL: [DropReason; drop_reasons!(@count $($variant)*)] = [$(DropReason::$variant),*];
            /// Number of variants; size of a per-reason counter array.
            pub const COUNT: usize = Self::ALL.len();

            /// Dense index 0..COUNT, for counter arrays.
            #[inline]
            pub const fn index(self) -> usize {
                self as usize
            }

            /// Stable snake_case name, for counters and logs; never changes once released.
            pub const fn as_str(self) -> &'static str {
                match self { $(DropReason::$variant => $name,)* }
            }
        }
    };
    (@count $($v:ident)*) => { 0 $(+ drop_reasons!(@one $v))* };
    (@one $v:ident) => { 1 };
}

drop_reasons! {
    /// A data byte with no status to belong to: no running status (after a system message or
    /// at the start of the stream), or an event that starts with a data byte.
    StrayData => "stray_data", "data byte without a status byte";
    /// A status byte arrived before the previous message had all its data bytes.
    IncompleteMessage => "incomplete_message", "message cut short by the next status byte";
    /// A status byte other than a real-time byte (and other than F7) inside a SysEx: MIDI 1.0
    /// ends the SysEx there; the unfinished SysEx is dropped and the status byte starts the next
    /// message.
    SysExInterrupted => "sysex_interrupted", "SysEx ended by a status byte before F7";
    /// A SysEx longer than the parser's maximum; the rest of it up to F7 is skipped.
    SysExTooLong => "sysex_too_long", "SysEx longer than the maximum length";
    /// F7 (end of exclusive) without a SysEx to end.
    StrayEox => "stray_eox", "F7 without a SysEx";
    /// F4, F5, F9 or FD, which MIDI 1.0 leaves undefined (receivers ignore them).
    UndefinedStatus => "undefined_status", "undefined status byte (F4, F5, F9, FD)";
    /// A whole-message event with no bytes.
    Empty => "empty", "empty event";
    /// A whole-message event longer or shorter than its status byte says.
    WrongLength => "wrong_length", "event length does not match its status byte";
    /// A whole-message event with a byte of 0x80 or above where a data byte belongs.
    StatusInData => "status_in_data", "status byte where a data byte belongs";
    /// A whole-message event starting with F0 that does not end with F7.
    SysExUnterminated => "sysex_unterminated", "SysEx event does not end with F7";
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The output buffer cannot hold the message.
    #[error("buffer of {available} bytes too small for a {needed}-byte message")]
    BufferTooSmall {
        /// Bytes the message needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// MIDI channel above 15.
    #[error("MIDI channel {0} outside 0..15")]
    ChannelOutOfRange(u8),
    /// A 7-bit field (note, velocity, controller, value, program, ...) above 127.
    #[error("data value {0} outside 0..127")]
    DataOutOfRange(u8),
    /// A 14-bit field (pitch bend, song position) above 16383.
    #[error("14-bit value {0} outside 0..16383")]
    WideOutOfRange(u16),
    /// A SysEx that does not start with F0, does not end with F7, or holds a byte of 0x80 or
    /// above in between.
    #[error("SysEx must be F0, data bytes below 0x80, F7")]
    BadSysEx,
}

#[cfg(test)]
mod tests {
    use super::DropReason;

    #[test]
    fn indices_are_dense_and_names_unique() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::COUNT);
        assert!(
            names
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
    }
}
