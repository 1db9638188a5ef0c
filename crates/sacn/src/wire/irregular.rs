//! Deviations from E1.31 that real sources in the field send and that the parser accepts anyway,
//! each counted under its own name: dropping these packets would cost a universe its data while
//! the packet is still unambiguous. Everything else the standard says to discard is still a
//! [`DropReason`](super::DropReason).

patchbay_dmx::counted_enum! {
    /// A deviation from E1.31 that [`Packet::parse`](super::Packet::parse) tolerates in a
    /// data packet ([`DataPacket::irregularities`](super::DataPacket::irregularities)).
    #[non_exhaustive]
    pub enum Irregularity {
        /// The DMP layer's length says 517 (0x205) in a full 638-byte data packet, 6 less than the
        /// 523 it must be: what MIDIMonster sends in every data packet until its commit 611c026
        /// ("correct sACN DMP PDU length field", June 2024), i.e. every release from v0.2 to v0.6
        /// (the latest). Its root and framing lengths are right. Only exactly this value in
        /// exactly this packet size is accepted.
        MidimonsterDmpLength => "dmp_length_midimonster",
            "DMP length 517 in a full 638-byte data packet (MIDIMonster before 2024), used as 523";
        /// The datagram goes on after the packet its PDU lengths describe (every length agrees
        /// with the others and the property count): the bytes after the last slot are ignored.
        Padded => "padded", "bytes after the last slot (the PDU lengths end earlier), ignored";
        /// Priority 201..=255 (E1.31 allows 0..=200): used as 200.
        PriorityAbove200 => "priority_above_200", "priority above 200, used as 200";
        /// Synchronization address 64000..=65535 in a data packet (not a universe): used as 0, no
        /// synchronization.
        SyncAddressOutOfRange => "sync_address_out_of_range",
            "synchronization address above 63999, used as 0 (not synchronized)";
    }
}

/// The set of [`Irregularity`]s of one packet (a bit per variant; `Copy`, no allocation).
pub type Irregularities = patchbay_dmx::CountedSet<Irregularity>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_dense_names_unique_and_sets_hold_each() {
        patchbay_dmx::check_names::<Irregularity>();
        let mut all = Irregularities::NONE;
        for i in Irregularity::ALL {
            assert!(!all.contains(i));
            all.insert(i);
            assert!(all.contains(i));
        }
        assert_eq!(all.iter().collect::<Vec<_>>(), Irregularity::ALL.to_vec());
        assert!(Irregularities::NONE.is_empty() && !all.is_empty());
    }
}
