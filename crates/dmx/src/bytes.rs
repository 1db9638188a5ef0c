//! Fixed-offset field access for the wire modules of the DMX protocols: a packet is a byte slice
//! and every field a range of it, named once in the protocol's `field` module. Callers have
//! checked the slice's length before reading, so these index directly.

/// A field's byte range within a packet.
pub type Field = core::ops::Range<usize>;

/// Big-endian u16 at the start of `f`.
#[inline]
pub fn be16(b: &[u8], f: Field) -> u16 {
    u16::from_be_bytes([b[f.start], b[f.start + 1]])
}

/// Little-endian u16 at the start of `f` (Art-Net's OpCode and a few ports).
#[inline]
pub fn le16(b: &[u8], f: Field) -> u16 {
    u16::from_le_bytes([b[f.start], b[f.start + 1]])
}

/// Big-endian u32 at the start of `f`.
#[inline]
pub fn be32(b: &[u8], f: Field) -> u32 {
    u32::from_be_bytes([b[f.start], b[f.start + 1], b[f.start + 2], b[f.start + 3]])
}

/// Writes `v` big-endian into the two-byte field `f`.
#[inline]
pub fn put_be16(b: &mut [u8], f: Field, v: u16) {
    b[f].copy_from_slice(&v.to_be_bytes());
}

/// Writes `v` little-endian into the two-byte field `f`.
#[inline]
pub fn put_le16(b: &mut [u8], f: Field, v: u16) {
    b[f].copy_from_slice(&v.to_le_bytes());
}

/// Writes `v` big-endian into the four-byte field `f`.
#[inline]
pub fn put_be32(b: &mut [u8], f: Field, v: u32) {
    b[f].copy_from_slice(&v.to_be_bytes());
}

/// A text field's bytes up to the first NUL (all of it when the sender forgot the terminator).
#[inline]
pub fn text(b: &[u8], f: Field) -> &[u8] {
    let raw = &b[f];
    let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
    &raw[..end]
}

/// Writes `s` NUL-padded into the text field `f`, keeping at most `max` bytes and at most the
/// field's length − 1 (so a terminator remains), cut at a character boundary.
#[inline]
pub fn put_text(b: &mut [u8], f: Field, s: &str, max: usize) {
    let dst = &mut b[f];
    let mut n = s.len().min(max).min(dst.len().saturating_sub(1));
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    dst[..n].copy_from_slice(&s.as_bytes()[..n]);
    dst[n..].fill(0);
}

/// `Err(buf.len())` when `buf` is shorter than `needed`: the builders' length check, which each
/// protocol turns into its own error.
#[inline]
pub fn ensure_len(buf: &[u8], needed: usize) -> Result<(), usize> {
    if buf.len() < needed {
        Err(buf.len())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_text_keeps_a_terminator() {
        let mut b = [0xAAu8; 12];
        put_be16(&mut b, 0..2, 0x1234);
        put_le16(&mut b, 2..4, 0x1234);
        put_be32(&mut b, 4..8, 0xDEAD_BEEF);
        assert_eq!(b[..4], [0x12, 0x34, 0x34, 0x12]);
        assert_eq!((be16(&b, 0..2), le16(&b, 2..4)), (0x1234, 0x1234));
        assert_eq!(be32(&b, 4..8), 0xDEAD_BEEF);
        put_text(&mut b, 8..12, "héllo", 10);
        // "h" + 2-byte "é" fits in 3 bytes; a terminator follows.
        assert_eq!(b[8..12], [b'h', 0xC3, 0xA9, 0]);
        assert_eq!(text(&b, 8..12), "hé".as_bytes());
        put_text(&mut b, 8..12, "abcd", 1);
        assert_eq!(text(&b, 8..12), b"a");
        assert_eq!(text(&[b'x'; 3], 0..3), b"xxx");
        assert_eq!((ensure_len(&b, 12), ensure_len(&b, 13)), (Ok(()), Err(12)));
    }
}
