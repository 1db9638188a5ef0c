//! SysEx as a channel: named templates of fixed bytes with a value placeholder.

use core::fmt;

use crate::grammar::valid_template_name;
use crate::{ChannelKey, DEFAULT_MAX_SYSEX_LEN, EncodeError, GrammarError, Raw, Spec, Width};

/// Longest template, in bytes (F0 and F7 included): what the stream parser keeps by default.
pub const MAX_TEMPLATE_LEN: usize = DEFAULT_MAX_SYSEX_LEN;

/// Why a template (or its name) was refused; every message says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The option key after `sysex.` is not a valid name.
    #[error("'{0}' is not a SysEx template name: use letters, digits, '_' and '-'")]
    Name(String),
    /// A second definition of one name.
    #[error("SysEx template '{0}' is defined twice in this instance")]
    Duplicate(String),
    /// More templates than channel keys can number.
    #[error("more than 16384 SysEx templates in one instance")]
    TooMany,
    /// An item that is neither a hex byte nor a placeholder.
    #[error(
        "'{item}' (item {position}) is neither a hex byte 00..FF nor a placeholder {{v}}, {{hi}}, {{lo}}"
    )]
    BadItem {
        /// The item.
        item: String,
        /// Its position, from 1.
        position: usize,
    },
    /// Not framed by F0 … F7.
    #[error(
        "a SysEx template starts with F0 and ends with F7 (e.g. F0 43 10 4C 02 01 00 {{v}} F7)"
    )]
    Frame,
    /// A byte of 0x80 or above between F0 and F7.
    #[error(
        "{byte:02X} (item {position}) is a status byte; between F0 and F7 only 00..7F may appear"
    )]
    StatusByte {
        /// The byte.
        byte: u8,
        /// Its position, from 1.
        position: usize,
    },
    /// No value placeholder, or a wrong combination of them.
    #[error(
        "a SysEx template needs exactly one value: one {{v}} (7-bit), or one {{hi}} and one {{lo}} (14-bit)"
    )]
    Placeholders,
    /// Longer than [`MAX_TEMPLATE_LEN`].
    #[error("SysEx template of {0} bytes; at most {MAX_TEMPLATE_LEN} are allowed")]
    TooLong(usize),
}

/// Where the value goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Seven(usize),
    Fourteen { hi: usize, lo: usize },
}

/// One parsed SysEx template.
///
/// A channel name cannot hold spaces, so the bytes live in an instance option and the channel
/// names the option:
///
/// ```text
/// [midi synth]
/// sysex.cutoff = F0 43 10 4C 02 01 00 {v} F7        ; 7-bit value
/// sysex.fine   = F0 7D 01 {hi} {lo} F7               ; 14-bit value, MSB and LSB bytes
///
/// [map]
/// desk.1 > synth.sysex.cutoff
/// ```
///
/// A template is a whitespace-separated list of items: two hex digits (either case) for a fixed
/// byte, `{v}` for a 7-bit value byte, or `{hi}` and `{lo}` for the upper and lower 7 bits of a
/// 14-bit value (in either order, not necessarily adjacent). It starts with F0 and ends with F7;
/// the bytes in between are below 0x80. It has exactly one value: one `{v}`, or one `{hi}` and
/// one `{lo}`.
///
/// Output fills the value into the template. Input reports a SysEx under every template it
/// matches: same length, same fixed bytes; the placeholder bytes give the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysExTemplate {
    /// The message with 0 at the placeholder positions.
    bytes: Box<[u8]>,
    slot: Slot,
}

impl SysExTemplate {
    /// Parses a template (the option value).
    pub fn parse(text: &str) -> Result<SysExTemplate, TemplateError> {
        let mut bytes = Vec::new();
        let (mut v, mut hi, mut lo) = (Vec::new(), Vec::new(), Vec::new());
        for (i, item) in text.split_ascii_whitespace().enumerate() {
            let at = bytes.len();
            match item {
                "{v}" => v.push(at),
                "{hi}" => hi.push(at),
                "{lo}" => lo.push(at),
                _ => {
                    let byte = (item.len() == 2)
                        .then(|| u8::from_str_radix(item, 16).ok())
                        .flatten()
                        // from_str_radix accepts a sign; "+F" is no byte.
                        .filter(|_| item.bytes().all(|b| b.is_ascii_hexdigit()))
                        .ok_or_else(|| TemplateError::BadItem {
                            item: item.to_owned(),
                            position: i + 1,
                        })?;
                    bytes.push(byte);
                    continue;
                }
            }
            bytes.push(0);
        }
        if bytes.len() > MAX_TEMPLATE_LEN {
            return Err(TemplateError::TooLong(bytes.len()));
        }
        if bytes.len() < 2 || bytes[0] != 0xF0 || bytes[bytes.len() - 1] != 0xF7 {
            return Err(TemplateError::Frame);
        }
        let inner = &bytes[1..bytes.len() - 1];
        if let Some(i) = inner.iter().position(|&b| b >= 0x80) {
            return Err(TemplateError::StatusByte {
                byte: inner[i],
                position: i + 2,
            });
        }
        // Placeholders sit inside the frame: the frame check above saw F0/F7 at the ends.
        let slot = match (v.as_slice(), hi.as_slice(), lo.as_slice()) {
            (&[at], [], []) => Slot::Seven(at),
            ([], &[hi], &[lo]) => Slot::Fourteen { hi, lo },
            _ => return Err(TemplateError::Placeholders),
        };
        Ok(SysExTemplate {
            bytes: bytes.into_boxed_slice(),
            slot,
        })
    }

    /// Width of the value.
    pub fn width(&self) -> Width {
        match self.slot {
            Slot::Seven(_) => Width::Seven,
            Slot::Fourteen { .. } => Width::Fourteen,
        }
    }

    /// Length of the messages it matches and writes.
    #[allow(clippy::len_without_is_empty)] // never empty: F0 and F7 at least
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    fn is_slot(&self, i: usize) -> bool {
        match self.slot {
            Slot::Seven(at) => i == at,
            Slot::Fourteen { hi, lo } => i == hi || i == lo,
        }
    }

    /// The value of `msg` (a whole SysEx, F0 … F7) if it fits this template.
    pub fn extract(&self, msg: &[u8]) -> Option<Raw> {
        if msg.len() != self.bytes.len() {
            return None;
        }
        let fixed_match = self
            .bytes
            .iter()
            .zip(msg)
            .enumerate()
            .all(|(i, (t, m))| t == m || self.is_slot(i));
        if !fixed_match {
            return None;
        }
        // A SysEx's data bytes are below 0x80; masking keeps a caller's unchecked slice from
        // producing an out-of-range value.
        Some(match self.slot {
            Slot::Seven(at) => Raw::seven(msg[at] & 0x7F),
            Slot::Fourteen { hi, lo } => {
                Raw::fourteen(u16::from(msg[hi] & 0x7F) << 7 | u16::from(msg[lo] & 0x7F))
            }
        })
    }

    /// Writes the message for `value` (clamped to the width) into `buf`; returns its length.
    pub fn write(&self, value: u16, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let n = self.bytes.len();
        let available = buf.len();
        let dst = buf.get_mut(..n).ok_or(EncodeError::BufferTooSmall {
            needed: n,
            available,
        })?;
        dst.copy_from_slice(&self.bytes);
        let value = value.min(self.width().max());
        match self.slot {
            Slot::Seven(at) => dst[at] = value as u8,
            Slot::Fourteen { hi, lo } => {
                dst[hi] = (value >> 7) as u8;
                dst[lo] = (value & 0x7F) as u8;
            }
        }
        Ok(n)
    }
}

/// The canonical text: upper-case hex bytes and placeholders, one space apart.
impl fmt::Display for SysExTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.bytes.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match self.slot {
                Slot::Seven(at) if at == i => f.write_str("{v}")?,
                Slot::Fourteen { hi, .. } if hi == i => f.write_str("{hi}")?,
                Slot::Fourteen { lo, .. } if lo == i => f.write_str("{lo}")?,
                _ => write!(f, "{b:02X}")?,
            }
        }
        Ok(())
    }
}

/// The SysEx templates of one instance, numbered in definition order; the number is what a
/// [`ChannelKey::sysex`] key holds.
#[derive(Debug, Clone, Default)]
pub struct SysExTemplates {
    names: Vec<Box<str>>,
    templates: Vec<SysExTemplate>,
}

impl SysExTemplates {
    /// No templates.
    pub fn new() -> SysExTemplates {
        SysExTemplates::default()
    }

    /// Defines template `name` (the option key after `sysex.`) from `text` (the option value);
    /// returns its number.
    pub fn define(&mut self, name: &str, text: &str) -> Result<u16, TemplateError> {
        if !valid_template_name(name) {
            return Err(TemplateError::Name(name.to_owned()));
        }
        if self.find(name).is_some() {
            return Err(TemplateError::Duplicate(name.to_owned()));
        }
        let number = u16::try_from(self.templates.len())
            .ok()
            .filter(|&n| n <= crate::MAX_PARAMETER)
            .ok_or(TemplateError::TooMany)?;
        let template = SysExTemplate::parse(text)?;
        self.names.push(name.into());
        self.templates.push(template);
        Ok(number)
    }

    /// Number of templates.
    pub fn len(&self) -> usize {
        self.templates.len()
    }

    /// True without templates.
    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    /// The number of template `name`.
    pub fn find(&self, name: &str) -> Option<u16> {
        let i = self.names.iter().position(|n| **n == *name)?;
        u16::try_from(i).ok()
    }

    /// Template number `n`.
    pub fn get(&self, n: u16) -> Option<&SysExTemplate> {
        self.templates.get(usize::from(n))
    }

    /// The name of template number `n`.
    pub fn name(&self, n: u16) -> Option<&str> {
        self.names.get(usize::from(n)).map(|s| &**s)
    }

    /// Resolves a channel name of this instance to its key: a voice name, or `sysex.NAME` of a
    /// defined template. What a backend calls once per channel at configuration time.
    pub fn resolve(&self, channel_name: &str) -> Result<ChannelKey, GrammarError> {
        match Spec::parse(channel_name)? {
            Spec::Voice(v) => Ok(v.key()),
            Spec::SysEx(name) => self
                .find(name)
                .map(ChannelKey::sysex)
                .ok_or_else(|| GrammarError::UnknownSysEx(name.to_owned())),
        }
    }

    /// Every template `msg` (a whole SysEx) matches, with the value it carries.
    pub fn matches<'s>(&'s self, msg: &'s [u8]) -> impl Iterator<Item = (ChannelKey, Raw)> + 's {
        self.templates
            .iter()
            .enumerate()
            .filter_map(move |(i, t)| Some((ChannelKey::sysex(i as u16), t.extract(msg)?)))
    }

    /// The channel name of `key` (`ch0.note60`, `sysex.NAME`), ready to paste into a
    /// configuration; what `detect` prints.
    pub fn channel_name(&self, key: ChannelKey) -> ChannelName<'_> {
        ChannelName {
            key,
            templates: self,
        }
    }
}

/// Display of a [`ChannelKey`] as its channel name; see [`SysExTemplates::channel_name`].
#[derive(Debug, Clone, Copy)]
pub struct ChannelName<'a> {
    key: ChannelKey,
    templates: &'a SysExTemplates,
}

impl fmt::Display for ChannelName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key.target() {
            Some(crate::KeyTarget::Voice(v)) => v.fmt(f),
            Some(crate::KeyTarget::SysEx(n)) => match self.templates.name(n) {
                Some(name) => write!(f, "sysex.{name}"),
                None => write!(f, "sysex.#{n}"),
            },
            None => write!(f, "<not a MIDI key {:#x}>", self.key.get()),
        }
    }
}

/// A SysEx message as hex bytes (`F0 43 10 F7`), for logs.
#[derive(Debug, Clone, Copy)]
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// What `detect` prints for a SysEx no template matches: the bytes, and a template to paste
/// with the last data byte as the value (the most common layout, e.g. Yamaha and Roland
/// parameter changes without checksum; move `{v}` if the device puts it elsewhere).
#[derive(Debug, Clone, Copy)]
pub struct UnmatchedSysEx<'a>(pub &'a [u8]);

impl fmt::Display for UnmatchedSysEx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "SysEx {} matches no template", Hex(b))?;
        if b.len() >= 3 {
            let head = &b[..b.len() - 2];
            write!(f, "; to map it, define sysex.NAME = {} {{v}} F7", Hex(head))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
