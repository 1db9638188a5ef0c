//! Validated, zero-copy views of received packets.

use super::arg::{Arg, Args, read_padded_str, validate_args};
use super::{BUNDLE_HEADER_LEN, BUNDLE_TAG, DropReason, MAX_BUNDLE_DEPTH, TimeTag};

/// One OSC packet that passed validation: a message or a bundle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Packet<'a> {
    /// An address and its arguments.
    Message(Message<'a>),
    /// A time tag and elements (messages or further bundles).
    Bundle(Bundle<'a>),
}

impl<'a> Packet<'a> {
    /// Validates a whole datagram (or a frame from a stream): the only way to obtain views.
    ///
    /// A message is checked completely (address, type tags, every argument, exact length). A
    /// bundle is checked down to its element framing; each element is checked when
    /// [`Bundle::elements`] reaches it, so one bad element costs only itself.
    pub fn parse(b: &'a [u8]) -> Result<Packet<'a>, DropReason> {
        Self::parse_at(b, 1)
    }

    /// `depth` is the nesting level a bundle at `b` would have (1 = top level).
    fn parse_at(b: &'a [u8], depth: usize) -> Result<Packet<'a>, DropReason> {
        check_length(b)?;
        if b[0] == b'#' {
            Bundle::parse_at(b, depth).map(Packet::Bundle)
        } else {
            Message::parse(b).map(Packet::Message)
        }
    }

    /// The whole packet.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Packet::Message(m) => m.as_bytes(),
            Packet::Bundle(b) => b.as_bytes(),
        }
    }

    /// Calls `f` for every message in the packet, depth first in wire order, with the time
    /// tag of its innermost bundle ([`TimeTag::IMMEDIATELY`] for a bare message), and for
    /// every bundle element that was rejected (nested bundles included).
    ///
    /// Recursion is bounded by [`MAX_BUNDLE_DEPTH`].
    pub fn for_each_message(&self, mut f: impl FnMut(Result<(TimeTag, Message<'a>), DropReason>)) {
        fn walk<'a>(
            p: &Packet<'a>,
            time: TimeTag,
            f: &mut impl FnMut(Result<(TimeTag, Message<'a>), DropReason>),
        ) {
            match p {
                Packet::Message(m) => f(Ok((time, *m))),
                Packet::Bundle(b) => {
                    for e in b.elements() {
                        match e {
                            Ok(p) => walk(&p, b.time(), f),
                            Err(r) => f(Err(r)),
                        }
                    }
                }
            }
        }
        walk(self, TimeTag::IMMEDIATELY, &mut f);
    }
}

#[inline]
fn check_length(b: &[u8]) -> Result<(), DropReason> {
    if b.is_empty() {
        Err(DropReason::Empty)
    } else if !b.len().is_multiple_of(4) {
        Err(DropReason::Unaligned)
    } else {
        Ok(())
    }
}

/// A validated message: address, type tags and argument data.
#[derive(Clone, Copy, PartialEq)]
pub struct Message<'a> {
    bytes: &'a [u8],
    address: &'a str,
    /// Type tags without the leading comma; `None` when the sender omitted the string.
    tags: Option<&'a str>,
    data: &'a [u8],
}

impl<'a> Message<'a> {
    /// Validates one message (not a bundle).
    ///
    /// Rules: length a non-zero multiple of 4; address starting with `/`, UTF-8,
    /// NUL-terminated and NUL-padded; then either nothing (an OSC 1.0 message without a type
    /// tag string, accepted as a message without arguments, see [`Message::has_type_tags`])
    /// or a type tag string (`,` and known tags, NUL-padded) whose arguments fill the rest
    /// exactly. Any byte in an address after the `/` is allowed, `#` included; whether it is
    /// a pattern is decided by the matcher ([`crate::address`]).
    pub fn parse(b: &'a [u8]) -> Result<Message<'a>, DropReason> {
        check_length(b)?;
        if b[0] != b'/' {
            return Err(DropReason::BadAddress);
        }
        let (address, tags_at) = read_padded_str(b, 0)?;
        let address = std::str::from_utf8(address).map_err(|_| DropReason::AddressNotUtf8)?;
        let rest = &b[tags_at..];
        if rest.is_empty() {
            return Ok(Message {
                bytes: b,
                address,
                tags: None,
                data: rest,
            });
        }
        if rest[0] != b',' {
            return Err(DropReason::UntypedArguments);
        }
        let (tags, data_at) = read_padded_str(rest, 0)?;
        let tags = &tags[1..];
        if !tags.iter().all(|&t| super::arg::is_known_tag(t)) {
            return Err(DropReason::UnknownTypeTag);
        }
        let data = &rest[data_at..];
        validate_args(tags, data)?;
        // Known tags are ASCII, so this cannot fail; it only avoids `unsafe`.
        let tags = std::str::from_utf8(tags).map_err(|_| DropReason::UnknownTypeTag)?;
        Ok(Message {
            bytes: b,
            address,
            tags: Some(tags),
            data,
        })
    }

    /// The address (or address pattern), e.g. `/1/fader3`.
    #[inline]
    pub fn address(&self) -> &'a str {
        self.address
    }

    /// False for an OSC 1.0 message that ends after its address (no `,` string). Such a
    /// message has no arguments; receivers may count them, since OSC 1.0 made the string
    /// optional only for old implementations.
    #[inline]
    pub fn has_type_tags(&self) -> bool {
        self.tags.is_some()
    }

    /// The type tags without the leading `,` (empty for no arguments or no type tag string).
    #[inline]
    pub fn type_tags(&self) -> &'a str {
        self.tags.unwrap_or("")
    }

    /// All arguments, array markers included.
    #[inline]
    pub fn args(&self) -> Args<'a> {
        Args::new(self.type_tags().as_bytes(), self.data)
    }

    /// Number of arguments that carry a value (array markers not counted).
    #[inline]
    pub fn value_count(&self) -> usize {
        self.type_tags()
            .bytes()
            .filter(|&t| t != b'[' && t != b']')
            .count()
    }

    /// The `n`-th value argument (0-based, array markers not counted): what channel `/path:n`
    /// reads.
    #[inline]
    pub fn value(&self, n: usize) -> Option<Arg<'a>> {
        self.args().values().nth(n)
    }

    /// The argument data after the type tags (for diagnostics).
    #[inline]
    pub fn arg_data(&self) -> &'a [u8] {
        self.data
    }

    /// The whole message.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl std::fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Message");
        d.field("address", &self.address);
        match self.tags {
            Some(t) => d.field("tags", &t),
            None => d.field("tags", &"(none)"),
        };
        d.field("args", &self.args().collect::<Vec<Arg<'_>>>())
            .finish()
    }
}

/// A bundle whose header and element framing passed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bundle<'a> {
    bytes: &'a [u8],
    depth: usize,
}

impl<'a> Bundle<'a> {
    fn parse_at(b: &'a [u8], depth: usize) -> Result<Bundle<'a>, DropReason> {
        if depth > MAX_BUNDLE_DEPTH {
            return Err(DropReason::BundleTooDeep);
        }
        if b.len() < BUNDLE_HEADER_LEN {
            return Err(DropReason::TruncatedBundle);
        }
        if b[..BUNDLE_TAG.len()] != BUNDLE_TAG[..] {
            return Err(DropReason::BadBundleHeader);
        }
        let mut pos = BUNDLE_HEADER_LEN;
        while pos < b.len() {
            pos = element_end(b, pos)?;
        }
        Ok(Bundle { bytes: b, depth })
    }

    /// When the bundle's messages are to take effect.
    #[inline]
    pub fn time(&self) -> TimeTag {
        let mut t = [0u8; 8];
        t.copy_from_slice(&self.bytes[8..16]);
        TimeTag(u64::from_be_bytes(t))
    }

    /// Nesting level: 1 for a bundle that is the whole packet.
    #[inline]
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The elements in wire order, each validated as it is reached; a rejected element is an
    /// `Err` and does not stop the iteration.
    #[inline]
    pub fn elements(&self) -> Elements<'a> {
        Elements {
            bytes: self.bytes,
            pos: BUNDLE_HEADER_LEN,
            depth: self.depth + 1,
        }
    }

    /// The whole bundle.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// End of the element whose size field is at `pos`.
#[inline]
fn element_end(b: &[u8], pos: usize) -> Result<usize, DropReason> {
    let size = b
        .get(pos..pos + 4)
        .and_then(|s| s.try_into().ok())
        .map(i32::from_be_bytes)
        .ok_or(DropReason::TruncatedElement)?;
    let size = usize::try_from(size)
        .ok()
        .filter(|&s| s != 0 && s.is_multiple_of(4))
        .ok_or(DropReason::BadElementSize)?;
    let end = pos + 4 + size;
    if end > b.len() {
        return Err(DropReason::TruncatedElement);
    }
    Ok(end)
}

/// Iterator over a bundle's elements (see [`Bundle::elements`]).
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Depth of a bundle element.
    depth: usize,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Result<Packet<'a>, DropReason>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        // Cannot fail: the framing was validated when the bundle was parsed.
        let end = element_end(self.bytes, self.pos).ok()?;
        let element = &self.bytes[self.pos + 4..end];
        self.pos = end;
        Some(Packet::parse_at(element, self.depth))
    }
}

/// Parses `bytes` and reads every accessor of the result, nested bundles included; the body
/// of the `osc_packet` fuzz target.
///
/// Beyond "no panic" it checks that every accepted message re-encodes to exactly its own
/// bytes (validation is strict enough that accepted messages are canonical) and that the
/// argument iterator agrees with the type tags. Returns the number of messages reached, so a
/// replay test can tell that a seed still parses.
pub fn fuzz_parse(bytes: &[u8]) -> usize {
    let Ok(p) = Packet::parse(bytes) else {
        return 0;
    };
    assert_eq!(p.as_bytes().len(), bytes.len());
    let mut messages = 0;
    p.for_each_message(|m| {
        let Ok((_, m)) = m else { return };
        messages += 1;
        let args: Vec<Arg<'_>> = m.args().collect();
        assert_eq!(args.len(), m.type_tags().len());
        for (a, t) in args.iter().zip(m.type_tags().bytes()) {
            assert_eq!(a.tag(), t);
        }
        assert_eq!(m.args().values().count(), m.value_count());
        if m.has_type_tags() {
            let mut out = vec![0u8; bytes.len()];
            let n = super::write_message(&mut out, m.address(), args.iter().copied())
                .expect("an accepted message re-encodes");
            assert_eq!(&out[..n], m.as_bytes(), "re-encoding differs");
        }
    });
    messages
}
