//! MIDIMonster's MIDI channel names (`ch0.note60`, `channel15.cc7`, `ch1.pitch`, `ch0.nrpn900`)
//! plus patchbay's `sysex.NAME`, and the compact [`ChannelKey`] a backend resolves them to once,
//! at configuration time.

use core::fmt;

/// One control on a MIDI channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Control {
    /// `noteN`: note on velocity (note off = 0).
    Note(u8),
    /// `ccN`: control change.
    Cc(u8),
    /// `pressureN`: polyphonic key pressure of note N.
    Pressure(u8),
    /// `aftertouch`: channel pressure.
    Aftertouch,
    /// `pitch`: pitch bend, 14-bit.
    Pitch,
    /// `program`: program change.
    Program,
    /// `rpnN`: registered parameter N (0..=16382; 16383 is the null RPN), 14-bit value.
    Rpn(u16),
    /// `nrpnN`: non-registered parameter N (0..=16383), 14-bit value.
    Nrpn(u16),
}

/// A control on one of the 16 MIDI channels: what a voice channel name means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Voice {
    /// MIDI channel 0..=15.
    pub channel: u8,
    /// The control.
    pub control: Control,
}

/// A parsed channel name: a voice control, or a SysEx template named in the instance's
/// options.
///
/// Grammar (case-sensitive, as MIDIMonster's `strncmp`):
///
/// ```text
/// name    = ("ch" | "channel") channel "." control | "sysex." template
/// channel = digits, 0..=15
/// control = ("note" | "cc" | "pressure") digits      index 0..=127
///         | "rpn" digits                             parameter 0..=16382
///         | "nrpn" digits                            parameter 0..=16383
///         | "aftertouch" | "pitch" | "program"       no index
/// template = one or more of A-Z a-z 0-9 _ -
/// ```
///
/// Where patchbay is stricter than MIDIMonster (which reads numbers with `strtoul` and ignores
/// whatever follows): numbers are ASCII digits only (leading zeros allowed, no sign, no
/// spaces), indices are range-checked, an indexed control needs its index (MIDIMonster reads
/// `ch0.cc` as `cc0`), nothing may follow the name (MIDIMonster reads `ch0.pitch5` and
/// `ch0.cc7junk` as `ch0.pitch` and `ch0.cc7`), and `rpn16383` is refused: RPN 127/127 is
/// MIDI's null RPN, which deselects instead of carrying a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Spec<'a> {
    /// `chN.…` / `channelN.…`.
    Voice(Voice),
    /// `sysex.NAME`.
    SysEx(&'a str),
}

/// Kinds of control, as stored in a [`ChannelKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
enum Kind {
    Note = 1,
    Cc,
    Pressure,
    Aftertouch,
    Pitch,
    Program,
    Rpn,
    Nrpn,
    SysEx,
}

impl Kind {
    const fn word(self) -> &'static str {
        match self {
            Kind::Note => "note",
            Kind::Cc => "cc",
            Kind::Pressure => "pressure",
            Kind::Aftertouch => "aftertouch",
            Kind::Pitch => "pitch",
            Kind::Program => "program",
            Kind::Rpn => "rpn",
            Kind::Nrpn => "nrpn",
            Kind::SysEx => "sysex",
        }
    }

    /// Largest index, `None` for controls without one.
    const fn max_index(self) -> Option<u16> {
        match self {
            Kind::Note | Kind::Cc | Kind::Pressure => Some(127),
            // RPN 16383 (127/127) is the null RPN, "no parameter": it cannot carry a value.
            Kind::Rpn => Some(MAX_PARAMETER - 1),
            Kind::Nrpn | Kind::SysEx => Some(MAX_PARAMETER),
            Kind::Aftertouch | Kind::Pitch | Kind::Program => None,
        }
    }

    fn from_code(code: u64) -> Option<Kind> {
        Some(match code {
            1 => Kind::Note,
            2 => Kind::Cc,
            3 => Kind::Pressure,
            4 => Kind::Aftertouch,
            5 => Kind::Pitch,
            6 => Kind::Program,
            7 => Kind::Rpn,
            8 => Kind::Nrpn,
            9 => Kind::SysEx,
            _ => return None,
        })
    }
}

/// Largest (N)RPN parameter number and SysEx template number.
pub const MAX_PARAMETER: u16 = 0x3FFF;

/// The control words in the order they are tried (longest first where one is a prefix of
/// another; none is here, but the order is MIDIMonster's).
const WORDS: [Kind; 8] = [
    Kind::Cc,
    Kind::Note,
    Kind::Pressure,
    Kind::Rpn,
    Kind::Nrpn,
    Kind::Pitch,
    Kind::Program,
    Kind::Aftertouch,
];

impl Control {
    fn kind_index(self) -> (Kind, u16) {
        match self {
            Control::Note(n) => (Kind::Note, n.into()),
            Control::Cc(n) => (Kind::Cc, n.into()),
            Control::Pressure(n) => (Kind::Pressure, n.into()),
            Control::Aftertouch => (Kind::Aftertouch, 0),
            Control::Pitch => (Kind::Pitch, 0),
            Control::Program => (Kind::Program, 0),
            Control::Rpn(n) => (Kind::Rpn, n),
            Control::Nrpn(n) => (Kind::Nrpn, n),
        }
    }

    /// The control of a kind and index already checked against `max_index`.
    fn from_kind(kind: Kind, index: u16) -> Option<Control> {
        let i7 = u8::try_from(index).ok().filter(|&i| i <= 127);
        Some(match kind {
            Kind::Note => Control::Note(i7?),
            Kind::Cc => Control::Cc(i7?),
            Kind::Pressure => Control::Pressure(i7?),
            Kind::Aftertouch => Control::Aftertouch,
            Kind::Pitch => Control::Pitch,
            Kind::Program => Control::Program,
            Kind::Rpn if index < MAX_PARAMETER => Control::Rpn(index),
            Kind::Nrpn if index <= MAX_PARAMETER => Control::Nrpn(index),
            Kind::Rpn | Kind::Nrpn | Kind::SysEx => return None,
        })
    }

    /// Width of the control's values.
    pub const fn width(self) -> crate::Width {
        match self {
            Control::Pitch | Control::Rpn(_) | Control::Nrpn(_) => crate::Width::Fourteen,
            _ => crate::Width::Seven,
        }
    }
}

/// Why a channel name is not a MIDI channel; every message says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrammarError {
    /// Neither `ch`/`channel` nor `sysex.`.
    #[error(
        "expected ch<0-15>.<control> or channel<0-15>.<control> (e.g. ch0.note60), or sysex.<name>"
    )]
    Prefix,
    /// No digits after `ch`/`channel`.
    #[error("expected a MIDI channel number 0..15 after 'ch' / 'channel' (e.g. ch0.cc7)")]
    MissingChannel,
    /// MIDI channel above 15.
    #[error("MIDI channel {0} out of range; channels are 0..15")]
    ChannelOutOfRange(u64),
    /// No `.` after the channel number.
    #[error("expected '.' and a control after the MIDI channel (e.g. ch{0}.note60)")]
    MissingDot(u8),
    /// Unknown control word.
    #[error(
        "unknown control '{0}'; controls are note<0-127>, cc<0-127>, pressure<0-127>, aftertouch, pitch, program, rpn<0-16382>, nrpn<0-16383>"
    )]
    UnknownControl(String),
    /// An indexed control without its index.
    #[error("'{word}' needs a number 0..{max} (e.g. {word}{example})")]
    MissingIndex {
        /// The control word.
        word: &'static str,
        /// Largest index.
        max: u16,
        /// An index to show.
        example: u16,
    },
    /// Index above the control's range.
    #[error("{word}{index} out of range; {word} takes 0..{max}")]
    IndexOutOfRange {
        /// The control word.
        word: &'static str,
        /// The index given.
        index: u64,
        /// Largest index.
        max: u16,
    },
    /// Text after a complete name.
    #[error("unexpected '{rest}' after '{name}'{hint}")]
    TrailingText {
        /// What was understood.
        name: String,
        /// What follows it.
        rest: String,
        /// Why, for controls without an index.
        hint: &'static str,
    },
    /// `sysex.` followed by an empty or invalid template name.
    #[error(
        "'sysex.{0}': template names are letters, digits, '_' and '-' (define one with the instance option sysex.NAME = F0 … F7)"
    )]
    SysExName(String),
    /// `sysex.NAME` with no template of that name in the instance.
    #[error(
        "no SysEx template '{0}' in this instance (define it with the option sysex.{0} = F0 … F7)"
    )]
    UnknownSysEx(String),
}

/// Leading ASCII digits of `s` as a number (saturating) and the rest; `None` without digits.
fn digits(s: &str) -> Option<(u64, &str)> {
    let end = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    let n = s.as_bytes()[..end].iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some((n, &s[end..]))
}

/// True for the characters of a SysEx template name.
pub(crate) fn valid_template_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl<'a> Spec<'a> {
    /// Parses a channel name (the part after `instance.`).
    pub fn parse(name: &'a str) -> Result<Spec<'a>, GrammarError> {
        if let Some(template) = name.strip_prefix("sysex.") {
            return if valid_template_name(template) {
                Ok(Spec::SysEx(template))
            } else {
                Err(GrammarError::SysExName(template.to_owned()))
            };
        }
        Voice::parse(name).map(Spec::Voice)
    }
}

impl Voice {
    /// Parses a voice channel name (`ch0.note60`); `sysex.` names are refused.
    pub fn parse(name: &str) -> Result<Voice, GrammarError> {
        let rest = name
            .strip_prefix("channel")
            .or_else(|| name.strip_prefix("ch"))
            .ok_or(GrammarError::Prefix)?;
        let (channel, rest) = digits(rest).ok_or(GrammarError::MissingChannel)?;
        let channel = u8::try_from(channel)
            .ok()
            .filter(|&c| c <= 15)
            .ok_or(GrammarError::ChannelOutOfRange(channel))?;
        let rest = rest
            .strip_prefix('.')
            .ok_or(GrammarError::MissingDot(channel))?;
        let (kind, rest) = WORDS
            .iter()
            .find_map(|&k| rest.strip_prefix(k.word()).map(|r| (k, r)))
            .ok_or_else(|| {
                let word = rest
                    .split(|c: char| c.is_ascii_digit())
                    .next()
                    .unwrap_or(rest);
                GrammarError::UnknownControl(word.to_owned())
            })?;
        let (index, rest) = match kind.max_index() {
            Some(max) => {
                let (index, rest) = digits(rest).ok_or(GrammarError::MissingIndex {
                    word: kind.word(),
                    max,
                    example: if max > 127 { 900 } else { 60 },
                })?;
                let index = u16::try_from(index).ok().filter(|&i| i <= max).ok_or(
                    GrammarError::IndexOutOfRange {
                        word: kind.word(),
                        index,
                        max,
                    },
                )?;
                (index, rest)
            }
            None => (0, rest),
        };
        // Every index was checked against its kind's maximum above.
        let control = Control::from_kind(kind, index).ok_or(GrammarError::Prefix)?;
        let voice = Voice { channel, control };
        if !rest.is_empty() {
            return Err(GrammarError::TrailingText {
                name: voice.to_string(),
                rest: rest.to_owned(),
                hint: if kind.max_index().is_none() {
                    " (aftertouch, pitch and program are channel-wide and take no number)"
                } else {
                    ""
                },
            });
        }
        Ok(voice)
    }

    /// The channel key of this control.
    #[inline]
    pub const fn key(self) -> ChannelKey {
        let (kind, index) = match self.control {
            Control::Note(n) => (Kind::Note, n as u16),
            Control::Cc(n) => (Kind::Cc, n as u16),
            Control::Pressure(n) => (Kind::Pressure, n as u16),
            Control::Aftertouch => (Kind::Aftertouch, 0),
            Control::Pitch => (Kind::Pitch, 0),
            Control::Program => (Kind::Program, 0),
            Control::Rpn(n) => (Kind::Rpn, n),
            Control::Nrpn(n) => (Kind::Nrpn, n),
        };
        ChannelKey::pack(kind, self.channel, index)
    }
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, index) = self.kind_index();
        f.write_str(kind.word())?;
        if kind.max_index().is_some() {
            write!(f, "{index}")?;
        }
        Ok(())
    }
}

/// The canonical name (`ch0.note60`), which [`Voice::parse`] reads back to the same voice.
impl fmt::Display for Voice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ch{}.{}", self.channel, self.control)
    }
}

impl fmt::Display for Spec<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spec::Voice(v) => v.fmt(f),
            Spec::SysEx(name) => write!(f, "sysex.{name}"),
        }
    }
}

/// A MIDI channel as one integer, for the core's channel registry and for matching incoming
/// messages without looking at names.
///
/// Layout (bits): 0..14 index (note, CC, parameter or template number), 14..18 MIDI channel,
/// 18..22 kind (never 0, so no key is 0). Bits 22..64 are always zero: a backend may put its
/// own numbers there (JACK: the port index, `key.get() | port << ChannelKey::BITS`) and mask
/// them off with [`ChannelKey::from_u64`]`(k & ChannelKey::MASK)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelKey(u64);

/// What a [`ChannelKey`] stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyTarget {
    /// A voice control.
    Voice(Voice),
    /// A SysEx template, by its number in the instance's [`SysExTemplates`](crate::SysExTemplates).
    SysEx(u16),
}

impl ChannelKey {
    /// Bits a key uses; everything above is free for the backend.
    pub const BITS: u32 = 22;
    /// Mask of the bits a key uses.
    pub const MASK: u64 = (1 << Self::BITS) - 1;

    #[inline]
    const fn pack(kind: Kind, channel: u8, index: u16) -> ChannelKey {
        ChannelKey(
            (kind as u64) << 18 | ((channel & 0x0F) as u64) << 14 | (index & MAX_PARAMETER) as u64,
        )
    }

    /// The key of a SysEx template number (0..=16383; higher numbers are masked).
    #[inline]
    pub const fn sysex(template: u16) -> ChannelKey {
        ChannelKey::pack(Kind::SysEx, 0, template)
    }

    /// The integer.
    #[inline]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The key of an integer that [`get`](Self::get) produced; `None` for anything else.
    pub fn from_u64(k: u64) -> Option<ChannelKey> {
        let key = ChannelKey(k);
        (key.target()?.key() == key).then_some(key)
    }

    /// What the key stands for.
    pub fn target(self) -> Option<KeyTarget> {
        if self.0 & !Self::MASK != 0 {
            return None;
        }
        let kind = Kind::from_code(self.0 >> 18)?;
        let channel = ((self.0 >> 14) & 0x0F) as u8;
        let index = (self.0 & u64::from(MAX_PARAMETER)) as u16;
        if kind == Kind::SysEx {
            return Some(KeyTarget::SysEx(index));
        }
        Some(KeyTarget::Voice(Voice {
            channel,
            control: Control::from_kind(kind, index)?,
        }))
    }

    /// The voice control of the key, if it is one.
    pub fn voice(self) -> Option<Voice> {
        match self.target()? {
            KeyTarget::Voice(v) => Some(v),
            KeyTarget::SysEx(_) => None,
        }
    }
}

impl KeyTarget {
    /// The key again.
    pub const fn key(self) -> ChannelKey {
        match self {
            KeyTarget::Voice(v) => v.key(),
            KeyTarget::SysEx(t) => ChannelKey::sysex(t),
        }
    }
}

impl From<Voice> for ChannelKey {
    fn from(v: Voice) -> ChannelKey {
        v.key()
    }
}

#[cfg(test)]
mod tests;
