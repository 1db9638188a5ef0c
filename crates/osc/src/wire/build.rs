//! Message and bundle builders writing into caller-owned buffers, so a sender needs no
//! allocation per packet. Everything they write parses with [`Packet::parse`](super::Packet::parse).

use super::arg::Arg;
use super::{BUNDLE_HEADER_LEN, BUNDLE_TAG, MAX_BUNDLE_DEPTH, TimeTag, pad4};

/// Why a packet could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The output buffer cannot hold the packet.
    #[error("buffer of {available} bytes too small for {needed} bytes")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The address does not start with `/` or contains a NUL.
    #[error("an OSC address starts with '/' and contains no NUL")]
    BadAddress,
    /// A string or symbol argument contains a NUL, which OSC cannot carry.
    #[error("string argument contains a NUL")]
    NulInString,
    /// A blob longer than 2³¹ − 1 bytes.
    #[error("blob longer than 2^31 - 1 bytes")]
    BlobTooLong,
    /// Array markers that do not balance.
    #[error("array markers do not balance")]
    UnbalancedArray,
    /// More nested bundles than [`MAX_BUNDLE_DEPTH`].
    #[error("bundles nested deeper than {MAX_BUNDLE_DEPTH}")]
    BundleTooDeep,
    /// [`BundleWriter::end_bundle`] without an open nested bundle.
    #[error("no nested bundle is open")]
    NoOpenBundle,
    /// A pre-encoded element that is empty or not a multiple of 4 bytes.
    #[error("an element is a non-empty multiple of 4 bytes")]
    BadElement,
}

#[inline]
fn check_len(buf: &[u8], needed: usize) -> Result<(), BuildError> {
    if buf.len() < needed {
        Err(BuildError::BufferTooSmall {
            needed,
            available: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// Writes `s`, a NUL and NUL padding to the next multiple of 4; returns the end.
#[inline]
fn put_str(buf: &mut [u8], pos: usize, s: &[u8]) -> usize {
    let end = pos + pad4(s.len() + 1);
    buf[pos..pos + s.len()].copy_from_slice(s);
    buf[pos + s.len()..end].fill(0);
    end
}

/// Bytes of the message `address` + `args`, checking everything [`write_message`] checks.
pub fn message_len<'x, I>(address: &str, args: I) -> Result<usize, BuildError>
where
    I: IntoIterator<Item = Arg<'x>>,
{
    if !address.starts_with('/') || address.contains('\0') {
        return Err(BuildError::BadAddress);
    }
    let mut tags = 0usize;
    let mut data = 0usize;
    let mut depth = 0usize;
    for a in args {
        tags += 1;
        match a {
            Arg::Str(s) | Arg::Symbol(s) if s.contains('\0') => {
                return Err(BuildError::NulInString);
            }
            Arg::Blob(b) if i32::try_from(b.len()).is_err() => {
                return Err(BuildError::BlobTooLong);
            }
            Arg::ArrayBegin => depth += 1,
            Arg::ArrayEnd => {
                depth = depth.checked_sub(1).ok_or(BuildError::UnbalancedArray)?;
            }
            _ => {}
        }
        data += a.data_len();
    }
    if depth != 0 {
        return Err(BuildError::UnbalancedArray);
    }
    Ok(pad4(address.len() + 1) + pad4(tags + 2) + data)
}

/// Writes a message and returns its length. `args` is walked twice (type tags, then data),
/// hence `Clone`; a slice's `iter().copied()` or an array both work.
///
/// A message without arguments gets the type tag string `,` (as OSC 1.0 recommends and
/// python-osc and liblo do).
pub fn write_message<'x, I>(buf: &mut [u8], address: &str, args: I) -> Result<usize, BuildError>
where
    I: IntoIterator<Item = Arg<'x>>,
    I::IntoIter: Clone,
{
    let args = args.into_iter();
    let len = message_len(address, args.clone())?;
    check_len(buf, len)?;
    let mut pos = put_str(buf, 0, address.as_bytes());
    // Type tag string: ',' + one byte per argument, then NUL padding.
    let tags_at = pos;
    buf[pos] = b',';
    pos += 1;
    for a in args.clone() {
        buf[pos] = a.tag();
        pos += 1;
    }
    let tags_end = tags_at + pad4(pos - tags_at + 1);
    buf[pos..tags_end].fill(0);
    pos = tags_end;
    for a in args {
        pos = put_arg(buf, pos, &a);
    }
    debug_assert_eq!(pos, len);
    Ok(pos)
}

#[inline]
fn put_arg(buf: &mut [u8], pos: usize, a: &Arg<'_>) -> usize {
    let mut put = |bytes: &[u8]| {
        buf[pos..pos + bytes.len()].copy_from_slice(bytes);
        pos + bytes.len()
    };
    match *a {
        Arg::Int(v) => put(&v.to_be_bytes()),
        Arg::Float(v) => put(&v.to_be_bytes()),
        Arg::Int64(v) => put(&v.to_be_bytes()),
        Arg::Double(v) => put(&v.to_be_bytes()),
        Arg::Time(t) => put(&t.0.to_be_bytes()),
        Arg::Char(c) => put(&u32::from(c).to_be_bytes()),
        Arg::Rgba(c) => put(&[c.r, c.g, c.b, c.a]),
        Arg::Midi(m) => put(&[m.port, m.status, m.data1, m.data2]),
        Arg::Str(s) | Arg::Symbol(s) => put_str(buf, pos, s.as_bytes()),
        Arg::Blob(b) => {
            // Length checked by `message_len`.
            let size = b.len() as u32;
            buf[pos..pos + 4].copy_from_slice(&size.to_be_bytes());
            let start = pos + 4;
            let end = start + pad4(b.len());
            buf[start..start + b.len()].copy_from_slice(b);
            buf[start + b.len()..end].fill(0);
            end
        }
        Arg::True | Arg::False | Arg::Nil | Arg::Impulse | Arg::ArrayBegin | Arg::ArrayEnd => pos,
    }
}

/// Builds a bundle, possibly with nested bundles, in a caller buffer.
///
/// A failed call leaves the bundle as it was before the call, so a sender can fill a bundle
/// until [`BuildError::BufferTooSmall`] and then send what fits:
///
/// ```
/// use patchbay_osc::wire::{Arg, BundleWriter, Packet, TimeTag};
///
/// let mut buf = [0u8; 64];
/// let mut w = BundleWriter::new(&mut buf, TimeTag::IMMEDIATELY).unwrap();
/// let mut sent = 0;
/// for i in 0..10 {
///     if w.message("/fader", [Arg::Int(i)]).is_err() {
///         break; // full: send this bundle, start the next one with message i
///     }
///     sent += 1;
/// }
/// let n = w.finish();
/// assert_eq!(sent, 2);
/// assert!(matches!(Packet::parse(&buf[..n]), Ok(Packet::Bundle(_))));
/// ```
#[derive(Debug)]
pub struct BundleWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
    /// Offsets of the size fields of open nested bundles.
    open: [usize; MAX_BUNDLE_DEPTH],
    /// Open nested bundles (the outermost bundle is not counted).
    nested: usize,
    elements: usize,
}

impl<'b> BundleWriter<'b> {
    /// Starts a bundle with time tag `time` (16 header bytes).
    pub fn new(buf: &'b mut [u8], time: TimeTag) -> Result<Self, BuildError> {
        check_len(buf, BUNDLE_HEADER_LEN)?;
        put_header(buf, 0, time);
        Ok(BundleWriter {
            buf,
            len: BUNDLE_HEADER_LEN,
            open: [0; MAX_BUNDLE_DEPTH],
            nested: 0,
            elements: 0,
        })
    }

    /// Appends a message to the innermost open bundle.
    pub fn message<'x, I>(&mut self, address: &str, args: I) -> Result<(), BuildError>
    where
        I: IntoIterator<Item = Arg<'x>>,
        I::IntoIter: Clone,
    {
        let (start, cap) = (self.len, self.buf.len());
        let rest = self.buf.get_mut(start + 4..).unwrap_or_default();
        let n = write_message(rest, address, args).map_err(|e| match e {
            BuildError::BufferTooSmall { needed, .. } => BuildError::BufferTooSmall {
                needed: start + 4 + needed,
                available: cap,
            },
            e => e,
        })?;
        self.put_size(start, n);
        self.len = start + 4 + n;
        self.elements += 1;
        Ok(())
    }

    /// Appends an already encoded packet (message or bundle) as an element, e.g. to forward
    /// what was received. Only its length is checked.
    pub fn packet(&mut self, bytes: &[u8]) -> Result<(), BuildError> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(4) || i32::try_from(bytes.len()).is_err()
        {
            return Err(BuildError::BadElement);
        }
        let end = self.len + 4 + bytes.len();
        check_len(self.buf, end)?;
        self.put_size(self.len, bytes.len());
        self.buf[self.len + 4..end].copy_from_slice(bytes);
        self.len = end;
        self.elements += 1;
        Ok(())
    }

    /// Opens a nested bundle; following elements go into it until [`end_bundle`](Self::end_bundle).
    pub fn begin_bundle(&mut self, time: TimeTag) -> Result<(), BuildError> {
        if self.nested + 1 >= MAX_BUNDLE_DEPTH {
            return Err(BuildError::BundleTooDeep);
        }
        check_len(self.buf, self.len + 4 + BUNDLE_HEADER_LEN)?;
        self.open[self.nested] = self.len;
        self.nested += 1;
        put_header(self.buf, self.len + 4, time);
        self.len += 4 + BUNDLE_HEADER_LEN;
        self.elements += 1;
        Ok(())
    }

    /// Closes the innermost nested bundle.
    pub fn end_bundle(&mut self) -> Result<(), BuildError> {
        if self.nested == 0 {
            return Err(BuildError::NoOpenBundle);
        }
        self.nested -= 1;
        let at = self.open[self.nested];
        self.put_size(at, self.len - at - 4);
        Ok(())
    }

    /// Bytes written so far (open nested bundles included).
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True while no element (message, packet or nested bundle) has been added.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.elements == 0
    }

    /// Elements added at any depth (nested bundles count as elements too).
    #[inline]
    pub fn element_count(&self) -> usize {
        self.elements
    }

    /// Closes any nested bundles still open and returns the bundle's length.
    pub fn finish(mut self) -> usize {
        while self.end_bundle().is_ok() {}
        self.len
    }

    #[inline]
    fn put_size(&mut self, at: usize, size: usize) {
        // Sizes are bounded by the buffer, which a caller would not make 2 GiB long; the
        // element check in `packet` covers the one path where that is not obvious.
        self.buf[at..at + 4].copy_from_slice(&(size as u32).to_be_bytes());
    }
}

#[inline]
fn put_header(buf: &mut [u8], at: usize, time: TimeTag) {
    buf[at..at + BUNDLE_TAG.len()].copy_from_slice(BUNDLE_TAG);
    buf[at + 8..at + 16].copy_from_slice(&time.0.to_be_bytes());
}
