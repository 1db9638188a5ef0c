//! Validated, zero-copy views of received datagrams.

use std::borrow::Cow;
use std::net::Ipv4Addr;

use patchbay_dmx::bytes::text;

use super::field::{self, Field};
use super::{DropReason, MAX_SLOTS, OpClass, OpCode, PROTOCOL_VERSION, Quirk, Quirks};
use super::{be16, le16};
use crate::PortAddress;

/// One Art-Net datagram that passed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// ArtDmx: levels for one Port-Address.
    Dmx(DmxPacket<'a>),
    /// ArtPoll: a controller asks nodes to describe themselves.
    Poll(PollPacket<'a>),
    /// ArtPollReply: a node describes itself.
    PollReply(PollReplyPacket<'a>),
    /// ArtSync: output the ArtDmx data held since the last ArtSync.
    Sync(SyncPacket<'a>),
    /// Any other OpCode: recognised as Art-Net, not interpreted.
    Other(OtherPacket<'a>),
}

impl<'a> Packet<'a> {
    /// Validates a whole datagram; the only way to obtain packet views.
    ///
    /// Checks run in [`DropReason`] order, so the reason names the first rule broken. Where
    /// real senders deviate and the data is still unambiguous, the packet is accepted and the
    /// deviation reported by [`quirks`](Self::quirks).
    pub fn parse(b: &'a [u8]) -> Result<Packet<'a>, DropReason> {
        if b.len() < field::HEADER_END {
            return Err(DropReason::TruncatedHeader);
        }
        if b[field::ID] != field::ART_NET_ID {
            return Err(DropReason::BadId);
        }
        match OpCode(le16(b, field::OPCODE)) {
            OpCode::DMX => DmxPacket::validate(b).map(Packet::Dmx),
            OpCode::POLL => PollPacket::validate(b).map(Packet::Poll),
            OpCode::POLL_REPLY => PollReplyPacket::validate(b).map(Packet::PollReply),
            OpCode::SYNC => SyncPacket::validate(b).map(Packet::Sync),
            _ => Ok(Packet::Other(OtherPacket { bytes: b })),
        }
    }

    /// The OpCode.
    #[inline]
    pub fn opcode(&self) -> OpCode {
        OpCode(le16(self.as_bytes(), field::OPCODE))
    }

    /// The deviations from Art-Net 4 that were tolerated.
    pub fn quirks(&self) -> Quirks {
        match self {
            Packet::Dmx(p) => p.quirks(),
            Packet::Poll(p) if p.bytes.len() < field::POLL_END => {
                Quirks::NONE.with(Quirk::LegacyPoll)
            }
            Packet::PollReply(p) if p.bytes.len() < field::REPLY_END => {
                Quirks::NONE.with(Quirk::LegacyPollReply)
            }
            _ => Quirks::NONE,
        }
    }

    /// The whole datagram.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Packet::Dmx(p) => p.bytes,
            Packet::Poll(p) => p.bytes,
            Packet::PollReply(p) => p.bytes,
            Packet::Sync(p) => p.bytes,
            Packet::Other(p) => p.bytes,
        }
    }
}

#[inline]
fn check_version(b: &[u8]) -> Result<(), DropReason> {
    if be16(b, field::PROT_VER) < PROTOCOL_VERSION {
        return Err(DropReason::OldProtocolVersion);
    }
    Ok(())
}

/// A validated ArtDmx packet.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DmxPacket<'a> {
    bytes: &'a [u8],
}

impl<'a> DmxPacket<'a> {
    fn validate(b: &'a [u8]) -> Result<Self, DropReason> {
        if b.len() < field::DMX_DATA {
            return Err(DropReason::TruncatedDmx);
        }
        check_version(b)?;
        if b[field::DMX_NET] > 0x7f {
            return Err(DropReason::NetOutOfRange);
        }
        let len = usize::from(be16(b, field::DMX_LENGTH));
        if len == 0 || len > MAX_SLOTS {
            return Err(DropReason::DmxLengthOutOfRange);
        }
        if b.len() < field::DMX_DATA + len {
            return Err(DropReason::TruncatedDmxData);
        }
        Ok(DmxPacket { bytes: b })
    }

    /// Protocol version (14 or higher).
    #[inline]
    pub fn protocol_version(&self) -> u16 {
        be16(self.bytes, field::PROT_VER)
    }

    /// Sequence number: 0 = the sender does not number its packets, otherwise 1..=255.
    #[inline]
    pub fn sequence(&self) -> u8 {
        self.bytes[field::DMX_SEQUENCE]
    }

    /// The sender's physical input port (informational).
    #[inline]
    pub fn physical(&self) -> u8 {
        self.bytes[field::DMX_PHYSICAL]
    }

    /// The Port-Address (`Net` and `SubUni`; the net was checked to be ≤ 127).
    #[inline]
    pub fn port_address(&self) -> PortAddress {
        let raw =
            u16::from(self.bytes[field::DMX_NET]) << 8 | u16::from(self.bytes[field::DMX_SUB_UNI]);
        // The net byte was checked to be ≤ 127, so `raw` has 15 bits.
        PortAddress::new(raw).unwrap_or(PortAddress::MAX)
    }

    /// The Length field, 1..=512 (even unless [`Quirk::OddLength`]).
    #[inline]
    pub fn length(&self) -> usize {
        usize::from(be16(self.bytes, field::DMX_LENGTH))
    }

    /// The DMX512 slots (index 0 = slot 1), exactly [`length`](Self::length) of them.
    #[inline]
    pub fn slots(&self) -> &'a [u8] {
        &self.bytes[field::DMX_DATA..field::DMX_DATA + self.length()]
    }

    /// Tolerated deviations: [`Quirk::OddLength`], [`Quirk::TrailingBytes`].
    pub fn quirks(&self) -> Quirks {
        let len = self.length();
        let mut q = Quirks::NONE;
        if len % 2 == 1 {
            q = q.with(Quirk::OddLength);
        }
        if self.bytes.len() > field::DMX_DATA + len {
            q = q.with(Quirk::TrailingBytes);
        }
        q
    }

    /// The whole datagram.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl core::fmt::Debug for DmxPacket<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DmxPacket")
            .field("port_address", &self.port_address())
            .field("sequence", &self.sequence())
            .field("physical", &self.physical())
            .field("length", &self.length())
            .finish()
    }
}

/// ArtPoll `Flags` bits.
pub mod poll_flags {
    /// Send ArtPollReply whenever the node's conditions change (not only when polled).
    pub const REPLY_ON_CHANGE: u8 = 0x02;
    /// Send diagnostics messages.
    pub const DIAGNOSTICS: u8 = 0x04;
    /// Diagnostics unicast (set) or broadcast (clear).
    pub const DIAGNOSTICS_UNICAST: u8 = 0x08;
    /// Disable VLC transmission.
    pub const DISABLE_VLC: u8 = 0x10;
    /// Targeted mode: only nodes with a port in TargetPortAddressBottom..=Top reply.
    pub const TARGETED: u8 = 0x20;
}

/// A validated ArtPoll packet. Fields an earlier protocol revision did not send read as 0.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PollPacket<'a> {
    bytes: &'a [u8],
}

impl<'a> PollPacket<'a> {
    fn validate(b: &'a [u8]) -> Result<Self, DropReason> {
        if b.len() < field::PROT_VER_END {
            return Err(DropReason::TruncatedPoll);
        }
        check_version(b)?;
        Ok(PollPacket { bytes: b })
    }

    #[inline]
    fn byte(&self, i: usize) -> u8 {
        self.bytes.get(i).copied().unwrap_or(0)
    }

    #[inline]
    fn word(&self, f: Field) -> u16 {
        u16::from_be_bytes([self.byte(f.start), self.byte(f.start + 1)])
    }

    /// Protocol version (14 or higher).
    #[inline]
    pub fn protocol_version(&self) -> u16 {
        be16(self.bytes, field::PROT_VER)
    }

    /// `Flags` (see [`poll_flags`]).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.byte(field::POLL_FLAGS)
    }

    /// Lowest priority of diagnostics messages the controller wants.
    #[inline]
    pub fn diag_priority(&self) -> u8 {
        self.byte(field::POLL_DIAG_PRIORITY)
    }

    /// Whether targeted mode is on ([`poll_flags::TARGETED`]).
    #[inline]
    pub fn is_targeted(&self) -> bool {
        self.flags() & poll_flags::TARGETED != 0
    }

    /// Top of the targeted Port-Address range (raw 16 bits).
    #[inline]
    pub fn target_top(&self) -> u16 {
        self.word(field::POLL_TARGET_TOP)
    }

    /// Bottom of the targeted Port-Address range (raw 16 bits).
    #[inline]
    pub fn target_bottom(&self) -> u16 {
        self.word(field::POLL_TARGET_BOTTOM)
    }

    /// ESTA manufacturer code filter (0 = none).
    #[inline]
    pub fn esta_manufacturer(&self) -> u16 {
        self.word(field::POLL_ESTA_MANUFACTURER)
    }

    /// OEM code filter (0 = none).
    #[inline]
    pub fn oem(&self) -> u16 {
        self.word(field::POLL_OEM)
    }

    /// Whether a node with a port at `address` should reply: always, unless targeted mode
    /// restricts replies to TargetPortAddressBottom..=Top.
    #[inline]
    pub fn wants(&self, address: PortAddress) -> bool {
        !self.is_targeted() || (self.target_bottom()..=self.target_top()).contains(&address.get())
    }

    /// The whole datagram.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl core::fmt::Debug for PollPacket<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PollPacket")
            .field("flags", &self.flags())
            .field("diag_priority", &self.diag_priority())
            .field("target_bottom", &self.target_bottom())
            .field("target_top", &self.target_top())
            .finish()
    }
}

/// A validated ArtSync packet.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SyncPacket<'a> {
    bytes: &'a [u8],
}

impl<'a> SyncPacket<'a> {
    fn validate(b: &'a [u8]) -> Result<Self, DropReason> {
        if b.len() < field::SYNC_END {
            return Err(DropReason::TruncatedSync);
        }
        check_version(b)?;
        Ok(SyncPacket { bytes: b })
    }

    /// Protocol version (14 or higher).
    #[inline]
    pub fn protocol_version(&self) -> u16 {
        be16(self.bytes, field::PROT_VER)
    }

    /// `Aux1` and `Aux2` (sent as 0, ignored).
    #[inline]
    pub fn aux(&self) -> [u8; 2] {
        [self.bytes[field::SYNC_AUX1], self.bytes[field::SYNC_AUX2]]
    }

    /// The whole datagram.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl core::fmt::Debug for SyncPacket<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SyncPacket")
            .field("aux", &self.aux())
            .finish()
    }
}

/// A port as one ArtPollReply describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyPort {
    /// `PortTypes[i]`: bit 7 output (takes ArtDmx), bit 6 input (sends ArtDmx), bits 5..0
    /// protocol (0 = DMX512).
    pub port_type: u8,
    /// `GoodInput[i]`.
    pub good_input: u8,
    /// `GoodOutputA[i]`.
    pub good_output_a: u8,
    /// `GoodOutputB[i]` (0 from revisions before Art-Net 4).
    pub good_output_b: u8,
    /// Port-Address the node sends ArtDmx for (NetSwitch, SubSwitch and `SwIn[i]`).
    pub input_address: PortAddress,
    /// Port-Address the node takes ArtDmx for (NetSwitch, SubSwitch and `SwOut[i]`).
    pub output_address: PortAddress,
}

impl ReplyPort {
    /// The port takes ArtDmx (an Art-Net "output" port, `PortTypes` bit 7).
    pub fn is_output(&self) -> bool {
        self.port_type & 0x80 != 0
    }

    /// The port sends ArtDmx (an Art-Net "input" port, `PortTypes` bit 6).
    pub fn is_input(&self) -> bool {
        self.port_type & 0x40 != 0
    }
}

/// A validated ArtPollReply packet. Fields beyond the end of a shorter reply from an earlier
/// protocol revision read as 0; the three name fields are read up to their first NUL.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PollReplyPacket<'a> {
    bytes: &'a [u8],
}

impl<'a> PollReplyPacket<'a> {
    fn validate(b: &'a [u8]) -> Result<Self, DropReason> {
        if b.len() < field::REPLY_MIN_END {
            return Err(DropReason::TruncatedPollReply);
        }
        Ok(PollReplyPacket { bytes: b })
    }

    #[inline]
    fn byte(&self, i: usize) -> u8 {
        self.bytes.get(i).copied().unwrap_or(0)
    }

    #[inline]
    fn quad(&self, f: Field) -> [u8; 4] {
        let s = f.start;
        [
            self.byte(s),
            self.byte(s + 1),
            self.byte(s + 2),
            self.byte(s + 3),
        ]
    }

    /// The node's IPv4 address.
    #[inline]
    pub fn ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.quad(field::REPLY_IP))
    }

    /// UDP port (always 6454 from conforming nodes).
    #[inline]
    pub fn port(&self) -> u16 {
        le16(self.bytes, field::REPLY_PORT)
    }

    /// Firmware version.
    #[inline]
    pub fn version_info(&self) -> u16 {
        be16(self.bytes, field::REPLY_VERS_INFO)
    }

    /// `NetSwitch`: bits 14..8 of every port's Port-Address (bit 7 masked off).
    #[inline]
    pub fn net_switch(&self) -> u8 {
        self.bytes[field::REPLY_NET_SWITCH] & 0x7f
    }

    /// `SubSwitch`: bits 7..4 of every port's Port-Address (the high nibble masked off).
    #[inline]
    pub fn sub_switch(&self) -> u8 {
        self.bytes[field::REPLY_SUB_SWITCH] & 0x0f
    }

    /// OEM code.
    #[inline]
    pub fn oem(&self) -> u16 {
        be16(self.bytes, field::REPLY_OEM)
    }

    /// UBEA version (0 = none).
    #[inline]
    pub fn ubea_version(&self) -> u8 {
        self.bytes[field::REPLY_UBEA_VERSION]
    }

    /// `Status1` (indicators, port-address programming authority, boot, RDM, UBEA).
    #[inline]
    pub fn status1(&self) -> u8 {
        self.bytes[field::REPLY_STATUS1]
    }

    /// ESTA manufacturer code.
    #[inline]
    pub fn esta_manufacturer(&self) -> u16 {
        le16(self.bytes, field::REPLY_ESTA_MANUFACTURER)
    }

    /// Short name bytes (up to 17 and a NUL).
    #[inline]
    pub fn short_name_bytes(&self) -> &'a [u8] {
        let b: &'a [u8] = self.bytes;
        text(b, field::REPLY_SHORT_NAME)
    }

    /// Short name, invalid UTF-8 replaced.
    #[inline]
    pub fn short_name(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.short_name_bytes())
    }

    /// Long name bytes (up to 63 and a NUL).
    #[inline]
    pub fn long_name_bytes(&self) -> &'a [u8] {
        let b: &'a [u8] = self.bytes;
        text(b, field::REPLY_LONG_NAME)
    }

    /// Long name, invalid UTF-8 replaced.
    #[inline]
    pub fn long_name(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.long_name_bytes())
    }

    /// Node report bytes (`#xxxx [yyyy] text`, see [`NodeReport::parse`](super::NodeReport::parse)).
    #[inline]
    pub fn node_report_bytes(&self) -> &'a [u8] {
        let b: &'a [u8] = self.bytes;
        text(b, field::REPLY_NODE_REPORT)
    }

    /// `NumPorts` (0..=4 from conforming nodes).
    #[inline]
    pub fn num_ports(&self) -> u16 {
        be16(self.bytes, field::REPLY_NUM_PORTS)
    }

    /// The described ports: the first `min(NumPorts, 4)` entries of the per-port arrays.
    pub fn ports(&self) -> impl Iterator<Item = ReplyPort> + '_ {
        let n = usize::from(self.num_ports().min(4));
        let base = u16::from(self.net_switch()) << 8 | u16::from(self.sub_switch()) << 4;
        (0..n).map(move |i| {
            let addr = |sw: usize| {
                // 7 + 4 + 4 bits: always a valid Port-Address.
                PortAddress::new(base | u16::from(self.byte(sw + i) & 0x0f))
                    .unwrap_or(PortAddress::MAX)
            };
            ReplyPort {
                port_type: self.byte(field::REPLY_PORT_TYPES + i),
                good_input: self.byte(field::REPLY_GOOD_INPUT + i),
                good_output_a: self.byte(field::REPLY_GOOD_OUTPUT_A + i),
                good_output_b: self.byte(field::REPLY_GOOD_OUTPUT_B + i),
                input_address: addr(field::REPLY_SW_IN),
                output_address: addr(field::REPLY_SW_OUT),
            }
        })
    }

    /// sACN priority the node uses when it converts to sACN (formerly `SwVideo`).
    #[inline]
    pub fn acn_priority(&self) -> u8 {
        self.bytes[field::REPLY_ACN_PRIORITY]
    }

    /// `SwMacro`.
    #[inline]
    pub fn sw_macro(&self) -> u8 {
        self.bytes[field::REPLY_SW_MACRO]
    }

    /// `SwRemote`.
    #[inline]
    pub fn sw_remote(&self) -> u8 {
        self.bytes[field::REPLY_SW_REMOTE]
    }

    /// `Style` (0 = node, 1 = controller, ...).
    #[inline]
    pub fn style(&self) -> u8 {
        self.bytes[field::REPLY_STYLE]
    }

    /// MAC address (may be all zeros).
    #[inline]
    pub fn mac(&self) -> [u8; 6] {
        let mut m = [0u8; 6];
        m.copy_from_slice(&self.bytes[field::REPLY_MAC]);
        m
    }

    /// `BindIp`: the root device's IP address (0 from earlier revisions).
    #[inline]
    pub fn bind_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.quad(field::REPLY_BIND_IP))
    }

    /// `BindIndex`: which of a node's replies this is (0 and 1 = root; 0 from earlier
    /// revisions).
    #[inline]
    pub fn bind_index(&self) -> u8 {
        self.byte(field::REPLY_BIND_INDEX)
    }

    /// `Status2` (bit 3: 15-bit Port-Addresses supported).
    #[inline]
    pub fn status2(&self) -> u8 {
        self.byte(field::REPLY_STATUS2)
    }

    /// `Status3`.
    #[inline]
    pub fn status3(&self) -> u8 {
        self.byte(field::REPLY_STATUS3)
    }

    /// The whole datagram.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl core::fmt::Debug for PollReplyPacket<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PollReplyPacket")
            .field("ip", &self.ip())
            .field("short_name", &self.short_name())
            .field("num_ports", &self.num_ports())
            .field("bind_index", &self.bind_index())
            .finish()
    }
}

/// An Art-Net packet with an OpCode this crate does not interpret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OtherPacket<'a> {
    bytes: &'a [u8],
}

impl<'a> OtherPacket<'a> {
    /// The OpCode.
    #[inline]
    pub fn opcode(&self) -> OpCode {
        OpCode(le16(self.bytes, field::OPCODE))
    }

    /// The class it is counted under.
    #[inline]
    pub fn class(&self) -> OpClass {
        self.opcode().class()
    }

    /// The whole datagram.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl core::fmt::Debug for OtherPacket<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OtherPacket")
            .field("opcode", &format_args!("{:#06x}", self.opcode().0))
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Parses `bytes` and reads every accessor of the result; the body of the fuzz target.
///
/// Returns nothing on purpose: its job is to prove that no input makes parsing or any
/// accessor panic, and that accepted packets keep their promises.
pub fn fuzz_parse(bytes: &[u8]) {
    let Ok(p) = Packet::parse(bytes) else {
        return;
    };
    let _ = (p.opcode(), p.quirks());
    assert_eq!(p.as_bytes().len(), bytes.len());
    match p {
        Packet::Dmx(d) => {
            let _ = (d.sequence(), d.physical(), d.protocol_version(), d.quirks());
            assert!(d.port_address() <= PortAddress::MAX);
            assert!((1..=MAX_SLOTS).contains(&d.slots().len()));
            assert_eq!(d.slots().len(), d.length());
        }
        Packet::Poll(q) => {
            let _ = (
                q.flags(),
                q.diag_priority(),
                q.target_top(),
                q.target_bottom(),
            );
            let _ = (q.esta_manufacturer(), q.oem(), q.wants(PortAddress::ZERO));
        }
        Packet::PollReply(r) => {
            let _ = (
                r.ip(),
                r.port(),
                r.version_info(),
                r.oem(),
                r.ubea_version(),
            );
            let _ = (
                r.status1(),
                r.esta_manufacturer(),
                r.short_name(),
                r.long_name(),
            );
            let _ = (
                r.node_report_bytes(),
                r.acn_priority(),
                r.sw_macro(),
                r.sw_remote(),
            );
            let _ = (r.style(), r.mac(), r.bind_ip(), r.bind_index(), r.status2());
            let _ = r.status3();
            let _ = super::NodeReport::parse(r.node_report_bytes());
            assert!(r.ports().count() <= 4);
            assert!(r.short_name_bytes().len() <= 18 && r.long_name_bytes().len() <= 64);
        }
        Packet::Sync(s) => {
            let _ = (s.aux(), s.protocol_version());
        }
        Packet::Other(o) => {
            assert!(!matches!(
                o.class(),
                OpClass::Discovery | OpClass::Streaming
            ));
        }
    }
}
