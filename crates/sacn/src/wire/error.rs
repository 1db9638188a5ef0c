//! Why a datagram was rejected: one variant per validation rule, with stable counter names.

patchbay_dmx::counted_enum! {
    /// Why [`Packet::parse`](super::Packet::parse) rejected a datagram.
    ///
    /// One variant per rule so that a receiver can count drops per reason
    /// ([`DropReason::index`], [`DropReason::as_str`]) without allocating.
    #[non_exhaustive]
    pub enum DropReason {
        /// Shorter than the 38-byte root layer.
        TruncatedRoot => "truncated_root", "datagram shorter than the root layer (38 bytes)";
        /// Root layer complete but the framing layer is cut short.
        TruncatedFraming => "truncated_framing", "framing layer truncated";
        /// Data packet shorter than 126 bytes (DMP header and start code).
        TruncatedDmp => "truncated_dmp", "DMP layer truncated (data packet < 126 bytes)";
        /// Discovery packet shorter than 120 bytes (universe-discovery layer header).
        TruncatedUniverseList => "truncated_universe_list", "universe discovery layer truncated (< 120 bytes)";
        /// Longer than any valid E1.31 packet of its kind.
        Oversize => "oversize", "datagram longer than any valid packet of its kind";
        /// Preamble size is not 0x0010.
        BadPreamble => "bad_preamble", "preamble size is not 0x0010";
        /// Postamble size is not 0.
        BadPostamble => "bad_postamble", "postamble size is not 0";
        /// ACN packet identifier is not "ASC-E1.17\0\0\0".
        BadAcnIdentifier => "bad_acn_identifier", "ACN packet identifier is wrong";
        /// Root flags nibble is not 0x7.
        BadRootFlags => "bad_root_flags", "root layer flags are not 0x7";
        /// Root PDU length disagrees with the datagram size.
        BadRootLength => "bad_root_length", "root layer length does not match the datagram";
        /// Root vector is neither 4 (data) nor 8 (extended).
        UnknownRootVector => "unknown_root_vector", "unknown root vector";
        /// Framing flags nibble is not 0x7.
        BadFramingFlags => "bad_framing_flags", "framing layer flags are not 0x7";
        /// Framing PDU length disagrees with the datagram size.
        BadFramingLength => "bad_framing_length", "framing layer length does not match the datagram";
        /// Framing vector not valid for the root vector.
        UnknownFramingVector => "unknown_framing_vector", "unknown framing vector";
        /// DMP flags nibble is not 0x7.
        BadDmpFlags => "bad_dmp_flags", "DMP layer flags are not 0x7";
        /// DMP PDU length disagrees with the datagram size.
        BadDmpLength => "bad_dmp_length", "DMP layer length does not match the datagram";
        /// DMP vector is not 0x02 (SET_PROPERTY).
        BadDmpVector => "bad_dmp_vector", "DMP vector is not SET_PROPERTY (0x02)";
        /// Address and data type is not 0xA1.
        BadAddressType => "bad_address_type", "DMP address/data type is not 0xA1";
        /// First property address is not 0.
        BadFirstAddress => "bad_first_address", "DMP first property address is not 0";
        /// Address increment is not 1.
        BadAddressIncrement => "bad_address_increment", "DMP address increment is not 1";
        /// Property value count outside 1..=513.
        PropertyCountOutOfRange => "property_count_out_of_range", "property value count outside 1..513";
        /// Property value count disagrees with the bytes present.
        PropertyCountMismatch => "property_count_mismatch", "property value count does not match the datagram";
        /// Universe outside 1..=63999.
        UniverseOutOfRange => "universe_out_of_range", "universe outside 1..63999";
        /// Sync packet whose synchronization address is outside 1..=63999 (a data packet's is
        /// tolerated: [`Irregularity::SyncAddressOutOfRange`](super::Irregularity)).
        BadSyncAddress => "bad_sync_address", "synchronization address out of range";
        /// Universe-discovery flags nibble is not 0x7.
        BadDiscoveryFlags => "bad_discovery_flags", "universe discovery layer flags are not 0x7";
        /// Universe-discovery PDU length disagrees with the datagram size.
        BadDiscoveryLength => "bad_discovery_length", "universe discovery layer length does not match the datagram";
        /// Universe-discovery vector is not 1 (UNIVERSE_LIST).
        BadDiscoveryVector => "bad_discovery_vector", "universe discovery vector is not UNIVERSE_LIST (1)";
        /// Page number greater than last page.
        DiscoveryPageAfterLast => "discovery_page_after_last", "discovery page number greater than last page";
        /// Universe list has an odd byte count or more than 512 entries.
        BadDiscoveryListLength => "bad_discovery_list_length", "universe list has odd length or more than 512 entries";
        /// Universe list not in ascending order.
        DiscoveryListNotAscending => "discovery_list_not_ascending", "universe list is not in ascending order";
    }
}

impl std::error::Error for DropReason {}

#[cfg(test)]
mod tests {
    use super::DropReason;

    #[test]
    fn indices_are_dense_and_names_unique() {
        patchbay_dmx::check_names::<DropReason>();
    }
}
