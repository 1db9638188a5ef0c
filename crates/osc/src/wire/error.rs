//! Why a datagram (or one bundle element) was rejected: one variant per rule, with stable
//! counter names.

macro_rules! drop_reasons {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, $msg:literal; )*) => {
        /// Why [`Packet::parse`](super::Packet::parse) rejected a datagram, or why one element
        /// of a bundle was skipped.
        ///
        /// One variant per rule so that a receiver can count drops per reason
        /// ([`DropReason::index`], [`DropReason::as_str`]) without allocating.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
        #[non_exhaustive]
        pub enum DropReason {
            $( $(#[$doc])* #[error($msg)] $variant, )*
        }

        impl DropReason {
            /// Every variant, in [`index`](Self::index) order.
            pub const ALL: [DropReason; drop_reasons!(@count $($variant)*)] = [$(DropReason::$variant),*];
            /// Number of variants; size of a per-reason counter array.
            pub const COUNT: usize = Self::ALL.len();

            /// Dense index 0..COUNT, for counter arrays.
            #[inline]
            pub const fn index(self) -> usize {
                self as usize
            }

            /// Stable snake_case name, for counters and logs; never changes once released.
            pub const fn as_str(self) -> &'static str {
                match self { $(DropReason::$variant => $name,)* }
            }
        }
    };
    (@count $($v:ident)*) => { 0 $(+ drop_reasons!(@one $v))* };
    (@one $v:ident) => { 1 };
}

drop_reasons! {
    /// Zero bytes.
    Empty => "empty", "empty datagram";
    /// Length not a multiple of 4 (every OSC packet is).
    Unaligned => "unaligned", "length is not a multiple of 4";
    /// A message whose address does not start with `/`.
    BadAddress => "bad_address", "address does not start with '/'";
    /// Address, type tag string or string argument without its terminating NUL.
    UnterminatedString => "unterminated_string", "string without a terminating NUL";
    /// Non-NUL bytes where a string or blob is padded to 4 bytes.
    BadPadding => "bad_padding", "padding bytes are not NUL";
    /// Address is not UTF-8.
    AddressNotUtf8 => "address_not_utf8", "address is not UTF-8";
    /// A string or symbol argument is not UTF-8.
    StringNotUtf8 => "string_not_utf8", "string argument is not UTF-8";
    /// Argument bytes follow the address but no type tag string (`,...`) says what they are.
    UntypedArguments => "untyped_arguments", "argument data without a type tag string";
    /// A type tag this parser does not know, so the arguments cannot be delimited.
    UnknownTypeTag => "unknown_type_tag", "unknown type tag";
    /// Fewer argument bytes than the type tags need.
    TruncatedArgument => "truncated_argument", "argument data shorter than the type tags need";
    /// A blob with a negative size.
    BadBlobSize => "bad_blob_size", "blob size is negative";
    /// A blob longer than the rest of the message.
    TruncatedBlob => "truncated_blob", "blob runs past the end of the message";
    /// A `c` argument that is not a Unicode scalar value.
    BadChar => "bad_char", "char argument is not a Unicode scalar value";
    /// `]` without `[`, or `[` never closed.
    UnbalancedArray => "unbalanced_array", "array brackets in the type tags do not balance";
    /// More argument bytes than the type tags account for.
    TrailingBytes => "trailing_bytes", "argument data longer than the type tags need";
    /// A bundle shorter than its 16-byte header (`#bundle\0` and time tag).
    TruncatedBundle => "truncated_bundle", "bundle shorter than its 16-byte header";
    /// Starts with `#` but not with `#bundle\0`.
    BadBundleHeader => "bad_bundle_header", "starts with '#' but is not '#bundle'";
    /// A bundle element size that is zero, negative or not a multiple of 4.
    BadElementSize => "bad_element_size", "bundle element size is zero, negative or not a multiple of 4";
    /// A bundle element size larger than the rest of the bundle.
    TruncatedElement => "truncated_element", "bundle element runs past the end of the bundle";
    /// Bundles nested deeper than [`MAX_BUNDLE_DEPTH`](super::MAX_BUNDLE_DEPTH).
    BundleTooDeep => "bundle_too_deep", "bundles nested too deeply";
}

#[cfg(test)]
mod tests {
    use super::DropReason;

    #[test]
    fn indices_are_dense_and_names_unique() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::COUNT);
        assert!(names.iter().all(|n| {
            n.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
        }));
    }
}
