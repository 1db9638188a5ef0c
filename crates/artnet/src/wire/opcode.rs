//! OpCodes: the four this crate interprets, and classes for the rest, which a receiver
//! recognises, ignores and counts.

use patchbay_dmx::counted_enum;

/// An Art-Net OpCode (the 16-bit value; sent low byte first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpCode(pub u16);

impl OpCode {
    /// ArtPoll: discovery request.
    pub const POLL: OpCode = OpCode(0x2000);
    /// ArtPollReply: a node's description.
    pub const POLL_REPLY: OpCode = OpCode(0x2100);
    /// ArtDmx: zero start code DMX512 levels for one Port-Address.
    pub const DMX: OpCode = OpCode(0x5000);
    /// ArtSync: output the ArtDmx data received since the last ArtSync.
    pub const SYNC: OpCode = OpCode(0x5200);

    /// The class a receiver counts this OpCode under when it ignores it.
    pub const fn class(self) -> OpClass {
        match self.0 {
            0x2000 | 0x2100 => OpClass::Discovery,
            0x2200..=0x2400 => OpClass::Diagnostics,
            0x2700 | 0x2800 | 0x6000 | 0x7000 | 0xf800 | 0xf900 => OpClass::Configuration,
            0x5000 | 0x5200 => OpClass::Streaming,
            0x5100 => OpClass::NonZeroStartCode,
            0x8000..=0x8400 => OpClass::Rdm,
            0x9000..=0x9300 | 0x9a00 | 0x9b00 | 0xa010 | 0xa020 | 0xa040 => OpClass::Media,
            0x9700..=0x9900 => OpClass::Timecode,
            0xf000..=0xf600 => OpClass::Firmware,
            _ => OpClass::Unknown,
        }
    }
}

counted_enum! {
    /// Groups of OpCodes, for counting packets that are recognised as Art-Net and ignored.
    pub enum OpClass {
        /// ArtPoll, ArtPollReply (interpreted, never counted as ignored).
        Discovery => "discovery", "ArtPoll/ArtPollReply";
        /// ArtDmx, ArtSync (interpreted, never counted as ignored).
        Streaming => "streaming", "ArtDmx/ArtSync";
        /// ArtNzs and ArtVlc (0x5100): DMX512 with a non-zero start code.
        NonZeroStartCode => "non_zero_start_code", "ArtNzs/ArtVlc (non-zero start code)";
        /// ArtPollFpReply, ArtDiagData, ArtCommand.
        Diagnostics => "diagnostics", "ArtDiagData/ArtCommand";
        /// ArtAddress, ArtInput, ArtIpProg(Reply), ArtDataRequest/Reply: remote configuration.
        Configuration => "configuration", "ArtAddress/ArtInput/ArtIpProg/ArtDataRequest";
        /// ArtTodRequest, ArtTodData, ArtTodControl, ArtRdm, ArtRdmSub.
        Rdm => "rdm", "ArtTod*/ArtRdm*";
        /// ArtTimeCode, ArtTimeSync, ArtTrigger.
        Timecode => "timecode", "ArtTimeCode/ArtTimeSync/ArtTrigger";
        /// ArtMedia*, ArtDirectory*, ArtVideo* (deprecated media server packets).
        Media => "media", "ArtMedia*/ArtDirectory*/ArtVideo*";
        /// ArtMac*, ArtFirmware*, ArtFile* (firmware upload).
        Firmware => "firmware", "ArtFirmware*/ArtFile*/ArtMac*";
        /// An OpCode the Art-Net 4 specification does not define.
        Unknown => "unknown", "unknown OpCode";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        patchbay_dmx::check_names::<OpClass>();
        assert_eq!(OpCode::DMX.class(), OpClass::Streaming);
        assert_eq!(OpCode(0x5100).class(), OpClass::NonZeroStartCode);
        assert_eq!(OpCode(0x8300).class(), OpClass::Rdm);
        assert_eq!(OpCode(0x9700).class(), OpClass::Timecode);
        assert_eq!(OpCode(0xf200).class(), OpClass::Firmware);
        assert_eq!(OpCode(0x6000).class(), OpClass::Configuration);
        assert_eq!(OpCode(0x2300).class(), OpClass::Diagnostics);
        assert_eq!(OpCode(0x1234).class(), OpClass::Unknown);
    }
}
