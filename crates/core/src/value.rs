//! Channel values: a normalised level plus, when the sender had one, the raw integer and its
//! width.
//!
//! Why the raw integer is kept: a value that travels between two channels of the same width
//! (8-bit DMX slot to 8-bit slot, 16-bit pair to 16-bit pair) must arrive bit-exact, which a
//! round trip through `f64` cannot promise for wide values. Between different widths the
//! normalised level is rescaled with round-half-away-from-zero, which makes 8 → 16 → 8 an
//! identity and keeps both ends exact (0 ↔ 0, full ↔ full).
//!
//! The normalised level is nominally 0..=1 but is not clamped here: MIDIMonster passes values
//! outside that range through (e.g. from scripts), and backends clamp when they convert
//! (the backend contract in crates/core/src/backend.rs, "Value"). Only NaN and infinities are refused, so that no backend ever
//! sees them.

/// A channel value: normalised level plus the raw integer and its width when there is one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Value {
    normalised: f64,
    raw: u64,
    /// Width of `raw` in bits (1..=64); 0 means the value has no raw integer.
    bits: u8,
}

/// Largest integer of a given width (1..=64 bits).
#[inline]
pub fn max_raw(bits: u8) -> u64 {
    match bits {
        0 => 0,
        64.. => u64::MAX,
        b => (1u64 << b) - 1,
    }
}

impl Value {
    /// The value 0 without a raw width.
    pub const ZERO: Value = Value {
        normalised: 0.0,
        raw: 0,
        bits: 0,
    };

    /// "No value yet", for tables of last values: NaN, which no public constructor makes.
    pub(crate) const UNSET: Value = Value {
        normalised: f64::NAN,
        raw: 0,
        bits: 0,
    };

    /// Whether this is [`Value::UNSET`].
    pub(crate) fn is_unset(&self) -> bool {
        self.normalised.is_nan()
    }

    /// A value read as a `bits`-wide integer (e.g. 8 for a DMX slot, 16 for a coarse/fine pair).
    ///
    /// `bits` outside 1..=64 is clamped into that range and `raw` above the width's maximum is
    /// clamped to the maximum, so a caller's slip can never produce a level above 1.
    #[inline]
    pub fn from_raw(raw: u64, bits: u8) -> Value {
        let bits = bits.clamp(1, 64);
        let max = max_raw(bits);
        let raw = raw.min(max);
        Value {
            normalised: raw as f64 / max as f64,
            raw,
            bits,
        }
    }

    /// A value without a raw integer (e.g. OSC float, script output).
    ///
    /// Non-finite input is mapped so the core never passes it on: NaN becomes 0, +∞ becomes 1
    /// and −∞ becomes 0. Finite values outside 0..=1 are kept (backends clamp on output).
    /// Use [`Value::try_from_normalised`] to refuse non-finite input instead.
    #[inline]
    pub fn from_normalised(normalised: f64) -> Value {
        let normalised = if normalised.is_nan() {
            0.0
        } else if normalised == f64::INFINITY {
            1.0
        } else if normalised == f64::NEG_INFINITY {
            0.0
        } else {
            normalised
        };
        Value {
            normalised,
            raw: 0,
            bits: 0,
        }
    }

    /// Like [`Value::from_normalised`] but `None` for NaN and infinities.
    #[inline]
    pub fn try_from_normalised(normalised: f64) -> Option<Value> {
        normalised.is_finite().then_some(Value {
            normalised,
            raw: 0,
            bits: 0,
        })
    }

    /// The normalised level (finite; nominally 0..=1).
    #[inline]
    pub fn normalised(&self) -> f64 {
        self.normalised
    }

    /// The raw integer and its width in bits, if the value was created from one.
    #[inline]
    pub fn raw(&self) -> Option<(u64, u8)> {
        (self.bits != 0).then_some((self.raw, self.bits))
    }

    /// The value as a `bits`-wide integer: the raw integer unchanged when its width is `bits`,
    /// else round-half-away-from-zero(clamp(normalised, 0, 1) × (2^bits − 1)).
    /// `bits` is clamped into 1..=64.
    #[inline]
    pub fn to_raw(&self, bits: u8) -> u64 {
        let bits = bits.clamp(1, 64);
        if self.bits == bits {
            return self.raw;
        }
        let max = max_raw(bits);
        // Above 53 bits `max as f64` rounds up to 2^bits; `min` keeps the result in range
        // (and `as` saturates at 64 bits).
        ((self.normalised.clamp(0.0, 1.0) * max as f64).round() as u64).min(max)
    }
}

impl Default for Value {
    fn default() -> Self {
        Value::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ends_are_exact_between_8_and_16_bits() {
        assert_eq!(Value::from_raw(0, 8).to_raw(16), 0);
        assert_eq!(Value::from_raw(255, 8).to_raw(16), 65535);
        assert_eq!(Value::from_raw(0, 16).to_raw(8), 0);
        assert_eq!(Value::from_raw(65535, 16).to_raw(8), 255);
        assert_eq!(Value::from_raw(128, 8).to_raw(16), 32896);
        assert_eq!(Value::from_raw(32896, 16).to_raw(8), 128);
    }

    #[test]
    fn every_8_and_16_bit_value_passes_same_width_unchanged() {
        for v in 0..=255u64 {
            assert_eq!(Value::from_raw(v, 8).to_raw(8), v);
        }
        for v in 0..=65535u64 {
            assert_eq!(Value::from_raw(v, 16).to_raw(16), v);
        }
    }

    #[test]
    fn eight_to_sixteen_to_eight_is_identity() {
        for v in 0..=255u64 {
            let wide = Value::from_raw(v, 8).to_raw(16);
            assert_eq!(
                Value::from_raw(wide, 16).to_raw(8),
                v,
                "8-bit {v} via {wide}"
            );
        }
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        // 0.5 × 255 = 127.5 → 128; 0.5 × 1 = 0.5 → 1.
        assert_eq!(Value::from_normalised(0.5).to_raw(8), 128);
        assert_eq!(Value::from_normalised(0.5).to_raw(1), 1);
        assert_eq!(Value::from_normalised(0.4999).to_raw(1), 0);
    }

    #[test]
    fn out_of_range_and_non_finite_normalised_values() {
        assert_eq!(Value::from_normalised(f64::NAN).normalised(), 0.0);
        assert_eq!(Value::from_normalised(f64::INFINITY).normalised(), 1.0);
        assert_eq!(Value::from_normalised(f64::NEG_INFINITY).normalised(), 0.0);
        assert_eq!(Value::try_from_normalised(f64::NAN), None);
        assert_eq!(Value::try_from_normalised(f64::INFINITY), None);
        // Finite values pass unclamped; conversion clamps.
        let v = Value::from_normalised(1.5);
        assert_eq!(v.normalised(), 1.5);
        assert_eq!(v.to_raw(8), 255);
        assert_eq!(Value::from_normalised(-0.2).to_raw(16), 0);
        assert_eq!(v.raw(), None);
    }

    #[test]
    fn raw_input_is_clamped_to_its_width() {
        let v = Value::from_raw(300, 8);
        assert_eq!(v.raw(), Some((255, 8)));
        assert_eq!(v.normalised(), 1.0);
        assert_eq!(Value::from_raw(5, 0).raw(), Some((1, 1)));
        assert_eq!(Value::from_raw(u64::MAX, 64).to_raw(64), u64::MAX);
        assert_eq!(Value::from_raw(u64::MAX, 64).to_raw(8), 255);
        assert_eq!(Value::from_raw(255, 8).to_raw(64), u64::MAX);
        assert_eq!(Value::from_raw(0, 8).to_raw(64), 0);
    }

    fn width_and_raw() -> impl Strategy<Value = (u8, u64)> {
        (1u8..=64).prop_flat_map(|bits| (Just(bits), 0..=max_raw(bits)))
    }

    proptest! {
        #[test]
        fn same_width_passes_unchanged((bits, raw) in width_and_raw()) {
            prop_assert_eq!(Value::from_raw(raw, bits).to_raw(bits), raw);
        }

        #[test]
        fn conversion_stays_in_range_and_keeps_the_ends(
            (from, raw) in width_and_raw(), to in 1u8..=64,
        ) {
            let out = Value::from_raw(raw, from).to_raw(to);
            prop_assert!(out <= max_raw(to));
            prop_assert_eq!(Value::from_raw(0, from).to_raw(to), 0);
            prop_assert_eq!(Value::from_raw(max_raw(from), from).to_raw(to), max_raw(to));
        }

        #[test]
        fn conversion_is_monotonic(
            (from, a) in width_and_raw(), b in any::<u64>(), to in 1u8..=64,
        ) {
            let b = b.min(max_raw(from));
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(Value::from_raw(lo, from).to_raw(to) <= Value::from_raw(hi, from).to_raw(to));
        }

        /// Widening then narrowing back returns the original integer. Limited to widths where
        /// f64 holds every integer exactly (≤ 52 bits), which covers every real protocol.
        #[test]
        fn widen_then_narrow_is_identity(
            (from, raw) in (1u8..=52).prop_flat_map(|b| (Just(b), 0..=max_raw(b))),
            extra in 0u8..=51,
        ) {
            let to = from.saturating_add(extra).min(52);
            let wide = Value::from_raw(raw, from).to_raw(to);
            prop_assert_eq!(Value::from_raw(wide, to).to_raw(from), raw);
        }

        #[test]
        fn normalised_converts_within_range(n in any::<f64>(), to in 1u8..=64) {
            let v = Value::from_normalised(n);
            prop_assert!(v.normalised().is_finite());
            prop_assert!(v.to_raw(to) <= max_raw(to));
        }
    }
}
