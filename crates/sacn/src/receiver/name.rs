//! Source names stored inline, so tracking a source never allocates.

/// A source name (at most 63 bytes of UTF-8, as E1.31 allows), stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceName {
    bytes: [u8; 63],
    len: u8,
}

impl SourceName {
    /// The empty name.
    pub const EMPTY: SourceName = SourceName {
        bytes: [0; 63],
        len: 0,
    };

    /// Takes the wire bytes (up to the first NUL); invalid UTF-8 is cut at the first bad byte
    /// rather than replaced, which would need an allocation.
    pub fn from_wire(raw: &[u8]) -> SourceName {
        let raw = &raw[..raw.len().min(63)];
        let valid = match core::str::from_utf8(raw) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        let mut bytes = [0u8; 63];
        bytes[..valid].copy_from_slice(&raw[..valid]);
        SourceName {
            bytes,
            // valid ≤ 63, so it fits.
            len: valid as u8,
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        // from_wire only stores a valid UTF-8 prefix; the fallback is unreachable.
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl Default for SourceName {
    fn default() -> Self {
        SourceName::EMPTY
    }
}

impl core::fmt::Debug for SourceName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl core::fmt::Display for SourceName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_valid_prefix() {
        assert_eq!(SourceName::from_wire(b"console").as_str(), "console");
        assert_eq!(SourceName::from_wire(b"ab\xffcd").as_str(), "ab");
        assert_eq!(SourceName::from_wire(&[b'x'; 80]).as_str().len(), 63);
        // A multi-byte character cut by the 63-byte limit is dropped whole.
        let mut long = vec![b'a'; 62];
        long.extend_from_slice("é".as_bytes());
        assert_eq!(SourceName::from_wire(&long).as_str().len(), 62);
    }
}
