//! Values as MIDI carries them: 7-bit or 14-bit integers, and their normalised levels.

/// Width of a MIDI value.
///
/// MIDIMonster normalises every MIDI value as `raw / max` with max = 127 for 7-bit controls
/// and 16383 for 14-bit ones; its pitch formula `(v + 8192) / 16383` (ALSA's signed bend
/// −8192..8191) is the same thing, because the wire value is `v + 8192`. patchbay keeps the raw
/// integer and its width instead ([`Raw`]), so the core's `Value::from_raw(raw, bits)` gives
/// exactly MIDIMonster's level and same-width routes (MIDI → MIDI) pass the integer unchanged.
///
/// On output MIDIMonster truncates (`normalised × 127` converted to an integer): 0.999 becomes
/// 126, and 63 of the 128 7-bit values sent through an 8-bit channel come back one lower
/// (5 → 8-bit 10 → 4.98 → 4). patchbay rounds (half away from zero), like the core's
/// `Value::to_raw(bits)`, so 7-bit and 14-bit values survive any width change that can hold
/// them and both ends are exact (0 ↔ 0, 127 ↔ 255 ↔ 65535 ↔ 16383).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Width {
    /// 0..=127: notes, CCs, pressure, program.
    Seven,
    /// 0..=16383: pitch bend, (N)RPN values, SysEx `{hi}`/`{lo}` pairs.
    Fourteen,
}

impl Width {
    /// Bits of the width (7 or 14): the `bits` of the core's `Value::from_raw` / `to_raw`.
    #[inline]
    pub const fn bits(self) -> u8 {
        match self {
            Width::Seven => 7,
            Width::Fourteen => 14,
        }
    }

    /// Largest value (127 or 16383).
    #[inline]
    pub const fn max(self) -> u16 {
        match self {
            Width::Seven => 0x7F,
            Width::Fourteen => 0x3FFF,
        }
    }

    /// MIDIMonster's normalised level of `raw` (clamped to the width): `raw / max`.
    #[inline]
    pub fn normalise(self, raw: u16) -> f64 {
        f64::from(raw.min(self.max())) / f64::from(self.max())
    }

    /// The integer of a normalised level: round-half-away-from-zero of
    /// `clamp(n, 0, 1) × max`, NaN as 0 (the same rule as the core's `Value::to_raw`).
    #[inline]
    pub fn from_normalised(self, n: f64) -> u16 {
        let n = if n.is_nan() { 0.0 } else { n.clamp(0.0, 1.0) };
        // In range after the clamp; `as` saturates anyway.
        ((n * f64::from(self.max())).round() as u16).min(self.max())
    }
}

/// A MIDI value as an integer with its width; `value ≤ width.max()` for every `Raw` this
/// crate hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Raw {
    /// The integer.
    pub value: u16,
    /// Its width.
    pub width: Width,
}

impl Raw {
    /// A 7-bit value (clamped to 127).
    #[inline]
    pub const fn seven(value: u8) -> Raw {
        Raw {
            value: if value > 0x7F { 0x7F } else { value as u16 },
            width: Width::Seven,
        }
    }

    /// A 14-bit value (clamped to 16383).
    #[inline]
    pub const fn fourteen(value: u16) -> Raw {
        Raw {
            value: if value > 0x3FFF { 0x3FFF } else { value },
            width: Width::Fourteen,
        }
    }

    /// The normalised level, exactly as MIDIMonster computes it.
    #[inline]
    pub fn normalised(self) -> f64 {
        self.width.normalise(self.value)
    }

    /// `(raw, bits)` as the core's `Value::from_raw` takes them.
    #[inline]
    pub const fn parts(self) -> (u64, u8) {
        (self.value as u64, self.width.bits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// MIDIMonster's formulas, written out as backends/midi.c and jack.c compute them.
    fn mm_in(raw: u16, w: Width) -> f64 {
        match w {
            Width::Seven => f64::from(raw) / 127.0,
            // midi.c: ((double) ev->data.control.value + 8192) / 16383.0 with the signed bend.
            Width::Fourteen => (f64::from(raw) - 8192.0 + 8192.0) / 16383.0,
        }
    }

    #[test]
    fn normalisation_is_midimonsters_exactly() {
        for raw in 0..=127 {
            assert_eq!(
                Raw::seven(raw).normalised(),
                mm_in(raw.into(), Width::Seven)
            );
        }
        for raw in 0..=16383 {
            assert_eq!(Raw::fourteen(raw).normalised(), mm_in(raw, Width::Fourteen));
        }
    }

    #[test]
    fn ends_are_exact() {
        for w in [Width::Seven, Width::Fourteen] {
            assert_eq!(w.normalise(0), 0.0);
            assert_eq!(w.normalise(w.max()), 1.0);
            assert_eq!(w.from_normalised(0.0), 0);
            assert_eq!(w.from_normalised(1.0), w.max());
            assert_eq!(w.from_normalised(-3.0), 0);
            assert_eq!(w.from_normalised(7.0), w.max());
            assert_eq!(w.from_normalised(f64::NAN), 0);
        }
        // 8-bit and 16-bit full scale map to full scale (what the core hands a MIDI output).
        assert_eq!(Width::Seven.from_normalised(255.0 / 255.0), 127);
        assert_eq!(Width::Fourteen.from_normalised(65535.0 / 65535.0), 16383);
        assert_eq!(Raw::seven(200), Raw::seven(127));
        assert_eq!(Raw::fourteen(u16::MAX).value, 16383);
        assert_eq!(Raw::fourteen(16383).parts(), (16383, 14));
    }

    #[test]
    fn rounding_differs_from_midimonsters_truncation() {
        // A 7-bit value that went through 8 bits (sACN): 5/127 → 8-bit 10 → back.
        let eight = (5.0f64 / 127.0 * 255.0).round();
        assert_eq!(eight, 10.0);
        let n = eight / 255.0;
        assert_eq!(Width::Seven.from_normalised(n), 5);
        // MIDIMonster: (int)(n × 127) = (int)4.98 = 4.
        assert_eq!((n * 127.0) as u16, 4);
        // Pitch centre: MIDIMonster's (int16)(0.5 × 16383) − 8192 = −1 (8191); patchbay 8192.
        assert_eq!((0.5f64 * 16383.0) as u16, 8191);
        assert_eq!(Width::Fourteen.from_normalised(0.5), 8192);
    }

    proptest! {
        /// Every 7-bit and 14-bit value survives normalise → from_normalised.
        #[test]
        fn same_width_round_trips(raw in 0u16..=16383) {
            let w = Width::Fourteen;
            prop_assert_eq!(w.from_normalised(w.normalise(raw)), raw);
            let r7 = raw & 0x7F;
            prop_assert_eq!(Width::Seven.from_normalised(Width::Seven.normalise(r7)), r7);
        }

        /// 7 → 8 → 7, 7 → 16 → 7 and 14 → 16 → 14 are identities (the sACN routes).
        #[test]
        fn wider_and_back(raw in 0u16..=16383) {
            let r7 = raw & 0x7F;
            for bits in [8u32, 16] {
                let max = f64::from((1u32 << bits) - 1);
                let wide = (Width::Seven.normalise(r7) * max).round();
                prop_assert_eq!(Width::Seven.from_normalised(wide / max), r7);
            }
            let wide = (Width::Fourteen.normalise(raw) * 65535.0).round();
            prop_assert_eq!(Width::Fourteen.from_normalised(wide / 65535.0), raw);
        }

        #[test]
        fn from_normalised_stays_in_range(n in any::<f64>()) {
            prop_assert!(Width::Seven.from_normalised(n) <= 127);
            prop_assert!(Width::Fourteen.from_normalised(n) <= 16383);
        }
    }
}
