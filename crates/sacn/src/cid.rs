//! The 16-byte component identifier (CID) that names an sACN source.

use core::fmt;

/// Component identifier of an E1.31 source: an RFC 4122 UUID carried verbatim in the root layer.
///
/// Receivers key all per-source state on it, so it must be stable for one source and distinct
/// between sources.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Cid(pub [u8; 16]);

/// Why a text did not parse as a CID in UUID form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CidParseError {
    /// The canonical form is exactly 36 characters (32 hex digits and 4 hyphens).
    #[error("UUID text must be 36 characters (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), got {0}")]
    BadLength(usize),
    /// A hyphen is missing at one of the positions 8, 13, 18, 23.
    #[error("expected '-' at position {0} of the UUID text")]
    MissingHyphen(usize),
    /// A character that should be a hex digit is not.
    #[error("invalid hex digit at position {0} of the UUID text")]
    BadHexDigit(usize),
}

impl Cid {
    /// The raw bytes, in wire order.
    #[inline]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses the canonical hyphenated UUID text form (case-insensitive), as accepted by the
    /// `cid` and `from` configuration options.
    pub fn parse_uuid(text: &str) -> Result<Cid, CidParseError> {
        let b = text.as_bytes();
        if b.len() != 36 {
            return Err(CidParseError::BadLength(b.len()));
        }
        let mut out = [0u8; 16];
        let mut nibble = 0usize;
        for (pos, &c) in b.iter().enumerate() {
            if matches!(pos, 8 | 13 | 18 | 23) {
                if c != b'-' {
                    return Err(CidParseError::MissingHyphen(pos));
                }
                continue;
            }
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(CidParseError::BadHexDigit(pos)),
            };
            out[nibble / 2] |= if nibble.is_multiple_of(2) { v << 4 } else { v };
            nibble += 1;
        }
        Ok(Cid(out))
    }
}

impl From<[u8; 16]> for Cid {
    fn from(b: [u8; 16]) -> Self {
        Cid(b)
    }
}

impl fmt::Display for Cid {
    /// Lowercase hyphenated UUID text, the form logs and configuration use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cid({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        let cid = Cid([
            0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
            0x0e, 0xff,
        ]);
        let text = cid.to_string();
        assert_eq!(text, "00010203-0405-0607-0809-0a0b0c0d0eff");
        assert_eq!(Cid::parse_uuid(&text), Ok(cid));
        assert_eq!(
            Cid::parse_uuid("00010203-0405-0607-0809-0A0B0C0D0EFF"),
            Ok(cid)
        );
    }

    #[test]
    fn parse_rejects_malformed_text() {
        assert_eq!(Cid::parse_uuid("abc"), Err(CidParseError::BadLength(3)));
        assert_eq!(
            Cid::parse_uuid("00010203x0405-0607-0809-0a0b0c0d0eff"),
            Err(CidParseError::MissingHyphen(8))
        );
        assert_eq!(
            Cid::parse_uuid("0g010203-0405-0607-0809-0a0b0c0d0eff"),
            Err(CidParseError::BadHexDigit(1))
        );
        // Multi-byte characters must not be mistaken for hex digits or split.
        assert!(Cid::parse_uuid("ä0010203-0405-0607-0809-0a0b0c0d0ef").is_err());
    }
}
