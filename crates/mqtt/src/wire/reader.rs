//! A cursor over one packet body; every read checks bounds and string rules.

use super::{ParseError, VarintError, read_varint};

/// Reads fields front to back; fails with [`ParseError::Truncated`] instead of running past the end.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Reader { b }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.b.is_empty()
    }

    /// The rest, consumed.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.b)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        if n > self.b.len() {
            return Err(ParseError::Truncated);
        }
        let (head, tail) = self.b.split_at(n);
        self.b = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, ParseError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, ParseError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, ParseError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn varint(&mut self) -> Result<u32, ParseError> {
        match read_varint(self.b) {
            Ok((v, n)) => {
                self.b = &self.b[n..];
                Ok(v)
            }
            Err(VarintError::Incomplete) => Err(ParseError::Truncated),
            Err(VarintError::Invalid(e)) => Err(e),
        }
    }

    /// Two-byte length, then that many bytes.
    pub(crate) fn binary(&mut self) -> Result<&'a [u8], ParseError> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    /// A UTF-8 encoded string: well-formed and without U+0000 (both versions, section 1.5.3/1.5.4).
    pub(crate) fn string(&mut self) -> Result<&'a str, ParseError> {
        utf8(self.binary()?)
    }

    /// A packet identifier, which is never 0.
    pub(crate) fn packet_id(&mut self) -> Result<u16, ParseError> {
        match self.u16()? {
            0 => Err(ParseError::ZeroPacketId),
            id => Ok(id),
        }
    }

    /// Fails unless everything was read.
    pub(crate) fn finish(&self) -> Result<(), ParseError> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(ParseError::TrailingBytes)
        }
    }
}

/// Checks the MQTT string rules on raw bytes.
pub(crate) fn utf8(b: &[u8]) -> Result<&str, ParseError> {
    let s = std::str::from_utf8(b).map_err(|_| ParseError::BadUtf8)?;
    if b.contains(&0) {
        return Err(ParseError::NullCharacter);
    }
    Ok(s)
}
