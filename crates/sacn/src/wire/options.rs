//! The framing-layer options byte of data packets.

/// Options byte of a data packet (E1.31-2018 section 6, offset 112).
///
/// Only the three defined bits are kept: reserved bits 4..0 must be sent as 0 and ignored on
/// receipt, so dropping them at construction makes both halves of that rule hold by type.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Options(u8);

impl Options {
    /// Bit 7: data meant for visualisers, not live output.
    pub const PREVIEW: u8 = 0x80;
    /// Bit 6: the source is stopping; receivers drop it at once.
    pub const STREAM_TERMINATED: u8 = 0x40;
    /// Bit 5: behaviour of a synchronized receiver when sync packets stop.
    pub const FORCE_SYNCHRONIZATION: u8 = 0x20;
    const DEFINED: u8 = Self::PREVIEW | Self::STREAM_TERMINATED | Self::FORCE_SYNCHRONIZATION;

    /// No option set.
    pub const NONE: Options = Options(0);

    /// From a raw options byte; reserved bits are discarded.
    #[inline]
    pub const fn from_bits(bits: u8) -> Options {
        Options(bits & Self::DEFINED)
    }

    /// The byte as it goes on the wire (reserved bits always 0).
    #[inline]
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Preview_Data (bit 7).
    #[inline]
    pub const fn preview(self) -> bool {
        self.0 & Self::PREVIEW != 0
    }

    /// Stream_Terminated (bit 6).
    #[inline]
    pub const fn stream_terminated(self) -> bool {
        self.0 & Self::STREAM_TERMINATED != 0
    }

    /// Force_Synchronization (bit 5).
    #[inline]
    pub const fn force_synchronization(self) -> bool {
        self.0 & Self::FORCE_SYNCHRONIZATION != 0
    }

    /// Copy with Preview_Data set or cleared.
    #[inline]
    #[must_use]
    pub const fn with_preview(self, on: bool) -> Options {
        self.with(Self::PREVIEW, on)
    }

    /// Copy with Stream_Terminated set or cleared.
    #[inline]
    #[must_use]
    pub const fn with_stream_terminated(self, on: bool) -> Options {
        self.with(Self::STREAM_TERMINATED, on)
    }

    /// Copy with Force_Synchronization set or cleared.
    #[inline]
    #[must_use]
    pub const fn with_force_synchronization(self, on: bool) -> Options {
        self.with(Self::FORCE_SYNCHRONIZATION, on)
    }

    #[inline]
    const fn with(self, bit: u8, on: bool) -> Options {
        if on {
            Options(self.0 | bit)
        } else {
            Options(self.0 & !bit)
        }
    }
}

impl core::fmt::Debug for Options {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Options({:#04x}", self.0)?;
        if self.preview() {
            f.write_str(" preview")?;
        }
        if self.stream_terminated() {
            f.write_str(" terminated")?;
        }
        if self.force_synchronization() {
            f.write_str(" force_sync")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::Options;

    #[test]
    fn reserved_bits_are_dropped_and_flags_read_back() {
        let o = Options::from_bits(0xff);
        assert_eq!(o.bits(), 0xe0);
        assert!(o.preview() && o.stream_terminated() && o.force_synchronization());
        let o = Options::NONE.with_stream_terminated(true);
        assert_eq!(o.bits(), 0x40);
        assert!(!o.preview() && o.stream_terminated() && !o.force_synchronization());
        assert_eq!(o.with_stream_terminated(false), Options::NONE);
        assert_eq!(Options::NONE.with_preview(true).bits(), 0x80);
        assert_eq!(Options::NONE.with_force_synchronization(true).bits(), 0x20);
    }
}
