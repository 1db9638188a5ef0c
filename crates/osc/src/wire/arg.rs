//! Arguments: the [`Arg`] enum, its decoder (one function shared by validation and
//! iteration, so the two cannot disagree) and the zero-copy [`Args`] iterator.

use super::{DropReason, TimeTag, pad4};

/// A 4-byte MIDI message (`m`): port id, status byte, two data bytes, in wire order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Midi {
    /// Port id (byte 0).
    pub port: u8,
    /// Status byte, e.g. 0xB0 = control change on MIDI channel 1.
    pub status: u8,
    /// First data byte (note or controller number).
    pub data1: u8,
    /// Second data byte (velocity or controller value).
    pub data2: u8,
}

/// A 32-bit RGBA colour (`r`), in wire order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rgba {
    /// Red (byte 0).
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
    /// Alpha (byte 3).
    pub a: u8,
}

/// One OSC argument, borrowing strings and blobs from the datagram.
///
/// Arrays are flat: `[` and `]` in the type tags come out as [`Arg::ArrayBegin`] and
/// [`Arg::ArrayEnd`] around their members, so iteration needs no allocation and nested arrays
/// need no recursion. [`Arg::is_value`] is false for the two markers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg<'a> {
    /// `i`: 32-bit signed integer.
    Int(i32),
    /// `f`: 32-bit IEEE float.
    Float(f32),
    /// `s`: string (UTF-8, no NUL).
    Str(&'a str),
    /// `b`: blob.
    Blob(&'a [u8]),
    /// `h`: 64-bit signed integer.
    Int64(i64),
    /// `d`: 64-bit IEEE float.
    Double(f64),
    /// `t`: time tag.
    Time(TimeTag),
    /// `S`: symbol (an alternative string type).
    Symbol(&'a str),
    /// `c`: character, sent as 32 bits.
    Char(char),
    /// `r`: RGBA colour.
    Rgba(Rgba),
    /// `m`: 4-byte MIDI message.
    Midi(Midi),
    /// `T`: true (no data).
    True,
    /// `F`: false (no data).
    False,
    /// `N`: nil (no data).
    Nil,
    /// `I`: impulse, "infinitum" in OSC 1.0 (no data).
    Impulse,
    /// `[`: start of an array.
    ArrayBegin,
    /// `]`: end of an array.
    ArrayEnd,
}

impl Arg<'_> {
    /// The type tag character of this argument.
    #[inline]
    pub const fn tag(&self) -> u8 {
        match self {
            Arg::Int(_) => b'i',
            Arg::Float(_) => b'f',
            Arg::Str(_) => b's',
            Arg::Blob(_) => b'b',
            Arg::Int64(_) => b'h',
            Arg::Double(_) => b'd',
            Arg::Time(_) => b't',
            Arg::Symbol(_) => b'S',
            Arg::Char(_) => b'c',
            Arg::Rgba(_) => b'r',
            Arg::Midi(_) => b'm',
            Arg::True => b'T',
            Arg::False => b'F',
            Arg::Nil => b'N',
            Arg::Impulse => b'I',
            Arg::ArrayBegin => b'[',
            Arg::ArrayEnd => b']',
        }
    }

    /// False for the array markers, true for every argument that carries a value.
    #[inline]
    pub const fn is_value(&self) -> bool {
        !matches!(self, Arg::ArrayBegin | Arg::ArrayEnd)
    }

    /// Bytes this argument occupies in the argument data (after the type tags).
    #[inline]
    pub(crate) fn data_len(&self) -> usize {
        match self {
            Arg::Int(_) | Arg::Float(_) | Arg::Char(_) | Arg::Rgba(_) | Arg::Midi(_) => 4,
            Arg::Int64(_) | Arg::Double(_) | Arg::Time(_) => 8,
            Arg::Str(s) | Arg::Symbol(s) => pad4(s.len() + 1),
            Arg::Blob(b) => 4 + pad4(b.len()),
            Arg::True | Arg::False | Arg::Nil | Arg::Impulse | Arg::ArrayBegin | Arg::ArrayEnd => 0,
        }
    }
}

/// True if `tag` is a type tag this crate reads and writes.
#[inline]
pub const fn is_known_tag(tag: u8) -> bool {
    matches!(
        tag,
        b'i' | b'f'
            | b's'
            | b'b'
            | b'h'
            | b'd'
            | b't'
            | b'S'
            | b'c'
            | b'r'
            | b'm'
            | b'T'
            | b'F'
            | b'N'
            | b'I'
            | b'['
            | b']'
    )
}

#[inline]
fn word<const N: usize>(data: &[u8], pos: usize) -> Result<[u8; N], DropReason> {
    data.get(pos..pos + N)
        .and_then(|s| s.try_into().ok())
        .ok_or(DropReason::TruncatedArgument)
}

/// A NUL-terminated, NUL-padded string at `pos`; returns its bytes and the padded end.
#[inline]
pub(crate) fn read_padded_str(data: &[u8], pos: usize) -> Result<(&[u8], usize), DropReason> {
    let rest = data
        .get(pos..)
        .filter(|r| !r.is_empty())
        .ok_or(DropReason::TruncatedArgument)?;
    let nul = rest
        .iter()
        .position(|&c| c == 0)
        .ok_or(DropReason::UnterminatedString)?;
    let end = pos + pad4(nul + 1);
    let padding = data
        .get(pos + nul + 1..end)
        .ok_or(DropReason::UnterminatedString)?;
    if padding.iter().any(|&c| c != 0) {
        return Err(DropReason::BadPadding);
    }
    Ok((&rest[..nul], end))
}

/// Decodes the argument of type `tag` at `pos`; returns it and the position after it.
pub(crate) fn read_arg(tag: u8, data: &[u8], pos: usize) -> Result<(Arg<'_>, usize), DropReason> {
    Ok(match tag {
        b'i' => (Arg::Int(i32::from_be_bytes(word(data, pos)?)), pos + 4),
        b'f' => (Arg::Float(f32::from_be_bytes(word(data, pos)?)), pos + 4),
        b'h' => (Arg::Int64(i64::from_be_bytes(word(data, pos)?)), pos + 8),
        b'd' => (Arg::Double(f64::from_be_bytes(word(data, pos)?)), pos + 8),
        b't' => (
            Arg::Time(TimeTag(u64::from_be_bytes(word(data, pos)?))),
            pos + 8,
        ),
        b'c' => {
            let c =
                char::from_u32(u32::from_be_bytes(word(data, pos)?)).ok_or(DropReason::BadChar)?;
            (Arg::Char(c), pos + 4)
        }
        b'r' => {
            let [r, g, b, a] = word(data, pos)?;
            (Arg::Rgba(Rgba { r, g, b, a }), pos + 4)
        }
        b'm' => {
            let [port, status, data1, data2] = word(data, pos)?;
            let m = Midi {
                port,
                status,
                data1,
                data2,
            };
            (Arg::Midi(m), pos + 4)
        }
        b's' | b'S' => {
            let (bytes, end) = read_padded_str(data, pos)?;
            let s = std::str::from_utf8(bytes).map_err(|_| DropReason::StringNotUtf8)?;
            (
                if tag == b's' {
                    Arg::Str(s)
                } else {
                    Arg::Symbol(s)
                },
                end,
            )
        }
        b'b' => {
            let size = i32::from_be_bytes(word(data, pos)?);
            let size = usize::try_from(size).map_err(|_| DropReason::BadBlobSize)?;
            let start = pos + 4;
            let end = start
                .checked_add(pad4(size))
                .filter(|&e| e <= data.len())
                .ok_or(DropReason::TruncatedBlob)?;
            if data[start + size..end].iter().any(|&c| c != 0) {
                return Err(DropReason::BadPadding);
            }
            (Arg::Blob(&data[start..start + size]), end)
        }
        b'T' => (Arg::True, pos),
        b'F' => (Arg::False, pos),
        b'N' => (Arg::Nil, pos),
        b'I' => (Arg::Impulse, pos),
        b'[' => (Arg::ArrayBegin, pos),
        b']' => (Arg::ArrayEnd, pos),
        _ => return Err(DropReason::UnknownTypeTag),
    })
}

/// Checks that `tags` describe exactly `data`; the rules [`Args`] then relies on.
pub(crate) fn validate_args(tags: &[u8], data: &[u8]) -> Result<(), DropReason> {
    let mut pos = 0;
    let mut depth = 0usize;
    for &tag in tags {
        match tag {
            b'[' => depth += 1,
            b']' => depth = depth.checked_sub(1).ok_or(DropReason::UnbalancedArray)?,
            _ => {}
        }
        pos = read_arg(tag, data, pos)?.1;
    }
    if depth != 0 {
        return Err(DropReason::UnbalancedArray);
    }
    if pos != data.len() {
        return Err(DropReason::TrailingBytes);
    }
    Ok(())
}

/// Zero-copy iterator over a validated message's arguments, in type tag order (array markers
/// included; see [`Arg`]).
#[derive(Debug, Clone)]
pub struct Args<'a> {
    tags: &'a [u8],
    data: &'a [u8],
    next_tag: usize,
    pos: usize,
}

impl<'a> Args<'a> {
    #[inline]
    pub(crate) fn new(tags: &'a [u8], data: &'a [u8]) -> Self {
        Args {
            tags,
            data,
            next_tag: 0,
            pos: 0,
        }
    }

    /// Only the arguments that carry a value (array markers skipped): the numbering that
    /// channel names `/path:N` use.
    #[inline]
    pub fn values(self) -> impl Iterator<Item = Arg<'a>> + Clone {
        self.filter(Arg::is_value)
    }
}

impl<'a> Iterator for Args<'a> {
    type Item = Arg<'a>;

    #[inline]
    fn next(&mut self) -> Option<Arg<'a>> {
        let tag = *self.tags.get(self.next_tag)?;
        self.next_tag += 1;
        // Cannot fail: the message was validated with the same decoder.
        let (arg, pos) = read_arg(tag, self.data, self.pos).ok()?;
        self.pos = pos;
        Some(arg)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.tags.len() - self.next_tag;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Args<'_> {}
