//! OSC time tags: 64-bit NTP timestamps (seconds since 1900 and a binary fraction).
//!
//! Conversion to and from Unix time is pure arithmetic (no clock is read here), so a receiver
//! that honours future bundle times passes in its own notion of "now".

use std::time::Duration;

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
const UNIX_OFFSET: u64 = 2_208_988_800;

/// An OSC time tag (`t` arguments and bundle times).
///
/// The value 1 ([`TimeTag::IMMEDIATELY`]) means "now"; every other value is an NTP timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TimeTag(pub u64);

impl TimeTag {
    /// "Process immediately" (seconds 0, fraction 1).
    pub const IMMEDIATELY: TimeTag = TimeTag(1);

    /// From NTP seconds since 1900 and a fraction in units of 2⁻³² s.
    #[inline]
    pub const fn new(seconds: u32, fraction: u32) -> TimeTag {
        TimeTag(((seconds as u64) << 32) | fraction as u64)
    }

    /// Whole NTP seconds (since 1900, modulo 2³²).
    #[inline]
    pub const fn seconds(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// Fraction of a second in units of 2⁻³² s.
    #[inline]
    pub const fn fraction(self) -> u32 {
        self.0 as u32
    }

    /// True for the special value 1.
    #[inline]
    pub const fn is_immediate(self) -> bool {
        self.0 == 1
    }

    /// The time tag of a moment given as time since the Unix epoch (nanoseconds rounded to the
    /// nearest 2⁻³² s; seconds wrap into NTP era 1 after 2036 as RFC 4330 describes).
    pub fn from_unix(since_epoch: Duration) -> TimeTag {
        let seconds = (since_epoch.as_secs() + UNIX_OFFSET) as u32;
        let fraction =
            ((u64::from(since_epoch.subsec_nanos()) << 32) + 500_000_000) / 1_000_000_000;
        // At most 999,999,999 ns, which rounds to less than 2^32: no carry into the seconds.
        TimeTag((u64::from(seconds) << 32) | fraction)
    }

    /// The moment as time since the Unix epoch, `None` for [`TimeTag::IMMEDIATELY`] and for
    /// moments before 1970. Seconds with the top bit clear are read as NTP era 1 (2036–2104),
    /// as RFC 4330 section 3 recommends, so the conversion keeps working after 2036.
    pub fn to_unix(self) -> Option<Duration> {
        if self.is_immediate() {
            return None;
        }
        let s = u64::from(self.seconds());
        let ntp = if s & 0x8000_0000 != 0 {
            s
        } else {
            s + (1 << 32)
        };
        let secs = ntp.checked_sub(UNIX_OFFSET)?;
        let nanos = (u64::from(self.fraction()) * 1_000_000_000) >> 32;
        Some(Duration::new(secs, nanos as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn unix_epoch_and_known_dates() {
        assert_eq!(
            TimeTag::from_unix(Duration::ZERO),
            TimeTag::new(2_208_988_800, 0)
        );
        assert_eq!(
            TimeTag::new(2_208_988_800, 0x8000_0000).to_unix(),
            Some(Duration::from_millis(500))
        );
        // 2040-01-01T00:00:00Z is in NTP era 1.
        let t = TimeTag::from_unix(Duration::from_secs(2_208_988_800));
        assert_eq!(t.seconds(), 123_010_304);
        assert_eq!(t.to_unix(), Some(Duration::from_secs(2_208_988_800)));
        assert_eq!(TimeTag::IMMEDIATELY.to_unix(), None);
        // 1968..1970 (era 0, before the Unix epoch).
        assert_eq!(TimeTag::new(0x8000_0000, 0).to_unix(), None);
    }

    #[test]
    fn the_largest_fraction_stays_within_its_second() {
        let t = TimeTag::from_unix(Duration::new(10, 999_999_999));
        assert_eq!(t.seconds(), 2_208_988_810);
        assert_eq!(t.fraction(), 4_294_967_292);
    }

    proptest! {
        #[test]
        fn unix_round_trip_within_a_nanosecond(secs in 0u64..4_000_000_000, nanos in 0u32..1_000_000_000) {
            let d = Duration::new(secs, nanos);
            let back = TimeTag::from_unix(d).to_unix().expect("after 1970");
            let diff = back.abs_diff(d);
            prop_assert!(diff <= Duration::from_nanos(1), "{d:?} -> {back:?}");
        }
    }
}
