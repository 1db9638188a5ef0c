//! Packet builders writing into caller-owned buffers, so a sender needs no allocation per packet.

use std::net::Ipv4Addr;

use patchbay_dmx::bytes::{ensure_len, put_text};

use super::field;
use super::{
    MAX_SLOTS, OpCode, PORT, PROTOCOL_VERSION, dmx_packet_len, poll_flags, put16, put16_le,
};
use crate::PortAddress;

/// Why a packet could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The output buffer cannot hold the packet.
    #[error("buffer of {available} bytes too small for a {needed}-byte packet")]
    BufferTooSmall {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// ArtDmx needs 1..=512 slots.
    #[error("{0} slots given, ArtDmx carries 1..512")]
    SlotCount(usize),
    /// More than four ports in one ArtPollReply.
    #[error("{0} ports given, one ArtPollReply describes at most 4")]
    TooManyPorts(usize),
    /// The ports of one ArtPollReply must share net and sub-net.
    #[error("ports {0} and {1} differ in net or sub-net, so one ArtPollReply cannot hold both")]
    PortsNotInOneSubNet(PortAddress, PortAddress),
}

#[inline]
fn check_len(buf: &[u8], needed: usize) -> Result<(), BuildError> {
    ensure_len(buf, needed).map_err(|available| BuildError::BufferTooSmall { needed, available })
}

#[inline]
fn put_header(b: &mut [u8], opcode: OpCode) {
    b[field::ID].copy_from_slice(&field::ART_NET_ID);
    put16_le(b, field::OPCODE, opcode.0);
}

#[inline]
fn put_header_versioned(b: &mut [u8], opcode: OpCode) {
    put_header(b, opcode);
    put16(b, field::PROT_VER, PROTOCOL_VERSION);
}

/// ArtDmx header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmxHeader {
    /// 0 = not numbered, otherwise 1..=255 (see [`SequenceCounter`]).
    pub sequence: u8,
    /// The physical input port the data came from (informational; 0 for patchbay).
    pub physical: u8,
    /// Destination Port-Address.
    pub address: PortAddress,
}

/// Writes an ArtDmx packet carrying `slots` (1..=512) and returns its length.
///
/// Art-Net 4 wants an even Length of 2..=512, so an odd number of slots is padded with one
/// slot of 0 (that slot then reads 0 at the receiver; send a whole universe to avoid it).
pub fn write_dmx(buf: &mut [u8], h: &DmxHeader, slots: &[u8]) -> Result<usize, BuildError> {
    if slots.is_empty() || slots.len() > MAX_SLOTS {
        return Err(BuildError::SlotCount(slots.len()));
    }
    let length = slots.len() + slots.len() % 2;
    let total = dmx_packet_len(length);
    check_len(buf, total)?;
    let b = &mut buf[..total];
    put_header_versioned(b, OpCode::DMX);
    b[field::DMX_SEQUENCE] = h.sequence;
    b[field::DMX_PHYSICAL] = h.physical;
    b[field::DMX_SUB_UNI] = h.address.sub_uni();
    b[field::DMX_NET] = h.address.net();
    // length ≤ 512.
    put16(b, field::DMX_LENGTH, length as u16);
    b[field::DMX_DATA..field::DMX_DATA + slots.len()].copy_from_slice(slots);
    b[field::DMX_DATA + slots.len()..].fill(0);
    Ok(total)
}

/// Writes an ArtSync packet (always 14 bytes) and returns its length.
pub fn write_sync(buf: &mut [u8]) -> Result<usize, BuildError> {
    let total = field::SYNC_END;
    check_len(buf, total)?;
    let b = &mut buf[..total];
    put_header_versioned(b, OpCode::SYNC);
    b[field::SYNC_AUX1] = 0;
    b[field::SYNC_AUX2] = 0;
    Ok(total)
}

/// ArtPoll fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Poll {
    /// `Flags` (see [`poll_flags`]); [`poll_flags::TARGETED`] is set from `target`.
    pub flags: u8,
    /// Lowest priority of diagnostics wanted (0 when diagnostics are off).
    pub diag_priority: u8,
    /// Targeted mode: only nodes with a port in `bottom..=top` reply.
    pub target: Option<(PortAddress, PortAddress)>,
}

/// Writes an Art-Net 4 ArtPoll (22 bytes; earlier nodes read the first 14) and returns its
/// length. The ESTA and OEM filters are sent as 0 (no filter).
pub fn write_poll(buf: &mut [u8], p: &Poll) -> Result<usize, BuildError> {
    let total = field::POLL_END;
    check_len(buf, total)?;
    let b = &mut buf[..total];
    put_header_versioned(b, OpCode::POLL);
    let (flags, (bottom, top)) = match p.target {
        Some(range) => (p.flags | poll_flags::TARGETED, range),
        None => (
            p.flags & !poll_flags::TARGETED,
            (PortAddress::ZERO, PortAddress::ZERO),
        ),
    };
    b[field::POLL_FLAGS] = flags;
    b[field::POLL_DIAG_PRIORITY] = p.diag_priority;
    put16(b, field::POLL_TARGET_TOP, top.get());
    put16(b, field::POLL_TARGET_BOTTOM, bottom.get());
    put16(b, field::POLL_ESTA_MANUFACTURER, 0);
    put16(b, field::POLL_OEM, 0);
    Ok(total)
}

/// Bits of ArtPollReply's status fields that patchbay uses.
pub mod status {
    /// `Status1` bits 7..6 = 11: indicators normal.
    pub const STATUS1_INDICATORS_NORMAL: u8 = 0xc0;
    /// `Status1` bits 5..4 = 01: Port-Addresses set locally (patchbay: by its configuration).
    pub const STATUS1_ADDRESS_LOCAL: u8 = 0x10;
    /// `Status2` bit 3: the node supports 15-bit Port-Addresses (Art-Net 3 and 4).
    pub const STATUS2_PORT_ADDRESS_15BIT: u8 = 0x08;
    /// `GoodInput` bit 7: data is being received (for patchbay: being sent onto Art-Net).
    pub const GOOD_INPUT_DATA: u8 = 0x80;
    /// `GoodInput` bit 3: the input is disabled.
    pub const GOOD_INPUT_DISABLED: u8 = 0x08;
    /// `GoodOutputA` bit 7: ArtDmx is being output (for patchbay: being taken in).
    pub const GOOD_OUTPUT_DATA: u8 = 0x80;
    /// `GoodOutputA` bit 3: the output is merging two sources.
    pub const GOOD_OUTPUT_MERGING: u8 = 0x08;
    /// `GoodOutputA` bit 1: the merge mode is LTP (clear: HTP).
    pub const GOOD_OUTPUT_MERGE_LTP: u8 = 0x02;
    /// `GoodOutputB` bit 7: RDM is disabled.
    pub const GOOD_OUTPUT_B_RDM_DISABLED: u8 = 0x80;
    /// `Style` of a DMX node.
    pub const STYLE_NODE: u8 = 0x00;
    /// `Style` of a lighting console / controller.
    pub const STYLE_CONTROLLER: u8 = 0x01;
    /// Node report code `RcPowerOk`: booted normally.
    pub const REPORT_POWER_OK: u16 = 0x0001;
}

/// The `NodeReport` text: `#xxxx [yyyy] text`, a hexadecimal status code, a decimal count of
/// the ArtPollReplies sent, and free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeReport<'a> {
    /// Status code (e.g. [`status::REPORT_POWER_OK`]).
    pub code: u16,
    /// ArtPollReplies sent so far (written modulo 10000, four digits at least).
    pub counter: u32,
    /// Free text (cut to fit the 64-byte field).
    pub text: &'a str,
}

impl<'a> NodeReport<'a> {
    /// Reads a `#xxxx [yyyy] text` report; `None` when it has another shape.
    pub fn parse(b: &'a [u8]) -> Option<NodeReport<'a>> {
        let rest = b.strip_prefix(b"#")?;
        let code_end = rest.iter().position(|&c| c == b' ')?;
        let code = u16::from_str_radix(core::str::from_utf8(&rest[..code_end]).ok()?, 16).ok()?;
        let rest = rest[code_end..].trim_ascii_start().strip_prefix(b"[")?;
        let close = rest.iter().position(|&c| c == b']')?;
        let counter = core::str::from_utf8(&rest[..close]).ok()?.parse().ok()?;
        let text = core::str::from_utf8(rest[close + 1..].trim_ascii_start()).ok()?;
        Some(NodeReport {
            code,
            counter,
            text,
        })
    }

    /// Writes the report into the 64-byte field (NUL-terminated, no allocation).
    fn put(&self, b: &mut [u8]) {
        let mut w = FieldWriter { buf: b, len: 0 };
        // Writing to a FieldWriter never fails; it truncates.
        let _ = core::fmt::write(
            &mut w,
            format_args!("#{:04x} [{:04}] ", self.code, self.counter % 10_000),
        );
        let room = w.buf.len().saturating_sub(1 + w.len);
        let at = w.len;
        let end = w.buf.len();
        put_text(w.buf, at..end, self.text, room);
    }
}

/// A `fmt::Write` into a fixed field that keeps one byte for the NUL and drops the rest.
struct FieldWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl core::fmt::Write for FieldWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.buf.len().saturating_sub(1 + self.len);
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// One DMX port a node describes in ArtPollReply. Art-Net names directions from the network's
/// side: an *output* port takes ArtDmx off the network (patchbay receives that universe), an
/// *input* port puts ArtDmx onto it (patchbay sends it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port {
    /// The port's Port-Address.
    pub address: PortAddress,
    /// Output port: the node takes ArtDmx for `address` (`PortTypes` bit 7).
    pub output: bool,
    /// Input port: the node sends ArtDmx for `address` (`PortTypes` bit 6).
    pub input: bool,
    /// `GoodInput` (see [`status`]).
    pub good_input: u8,
    /// `GoodOutputA` (see [`status`]).
    pub good_output_a: u8,
    /// `GoodOutputB` (see [`status`]).
    pub good_output_b: u8,
}

impl Port {
    /// A DMX512 port with idle status: inputs that do not send are marked disabled, RDM off.
    pub const fn new(address: PortAddress, output: bool, input: bool) -> Port {
        Port {
            address,
            output,
            input,
            good_input: if input {
                0
            } else {
                status::GOOD_INPUT_DISABLED
            },
            good_output_a: 0,
            good_output_b: status::GOOD_OUTPUT_B_RDM_DISABLED,
        }
    }

    #[inline]
    fn port_type(&self) -> u8 {
        // Bits 5..0 = 0: DMX512.
        (if self.output { 0x80 } else { 0 }) | (if self.input { 0x40 } else { 0 })
    }
}

/// The node-wide fields of an ArtPollReply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollReply<'a> {
    /// The node's IPv4 address (MIDIMonster: the `announce=` address of the socket).
    pub ip: Ipv4Addr,
    /// Firmware version.
    pub version_info: u16,
    /// OEM code.
    pub oem: u16,
    /// `Status1` (see [`status`]).
    pub status1: u8,
    /// ESTA manufacturer code.
    pub esta_manufacturer: u16,
    /// Short name (at most 17 bytes are sent).
    pub short_name: &'a str,
    /// Long name (at most 63 bytes are sent).
    pub long_name: &'a str,
    /// Node report.
    pub report: NodeReport<'a>,
    /// `Style` (see [`status`]).
    pub style: u8,
    /// MAC address (zeros when unknown).
    pub mac: [u8; 6],
    /// `BindIp`: the root device's address (normally `ip`).
    pub bind_ip: Ipv4Addr,
    /// `BindIndex`: 1 for the first reply of a node, 2.. for the further ones.
    pub bind_index: u8,
    /// `Status2` (see [`status`]).
    pub status2: u8,
}

/// Writes an Art-Net 4 ArtPollReply (239 bytes) describing `ports` (at most four, sharing net
/// and sub-net; see [`reply_groups`] to split a node's ports) and returns its length.
pub fn write_poll_reply(
    buf: &mut [u8],
    r: &PollReply<'_>,
    ports: &[Port],
) -> Result<usize, BuildError> {
    if ports.len() > 4 {
        return Err(BuildError::TooManyPorts(ports.len()));
    }
    let first = ports.first().map_or(PortAddress::ZERO, |p| p.address);
    if let Some(p) = ports.iter().find(|p| !p.address.same_sub_net(first)) {
        return Err(BuildError::PortsNotInOneSubNet(first, p.address));
    }
    let total = field::REPLY_END;
    check_len(buf, total)?;
    let b = &mut buf[..total];
    b.fill(0);
    put_header(b, OpCode::POLL_REPLY);
    b[field::REPLY_IP].copy_from_slice(&r.ip.octets());
    put16_le(b, field::REPLY_PORT, PORT);
    put16(b, field::REPLY_VERS_INFO, r.version_info);
    b[field::REPLY_NET_SWITCH] = first.net();
    b[field::REPLY_SUB_SWITCH] = first.sub_net();
    put16(b, field::REPLY_OEM, r.oem);
    b[field::REPLY_STATUS1] = r.status1;
    put16_le(b, field::REPLY_ESTA_MANUFACTURER, r.esta_manufacturer);
    put_text(b, field::REPLY_SHORT_NAME, r.short_name, 17);
    put_text(b, field::REPLY_LONG_NAME, r.long_name, 63);
    r.report.put(&mut b[field::REPLY_NODE_REPORT]);
    // ≤ 4 ports.
    put16(b, field::REPLY_NUM_PORTS, ports.len() as u16);
    for (i, p) in ports.iter().enumerate() {
        b[field::REPLY_PORT_TYPES + i] = p.port_type();
        b[field::REPLY_GOOD_INPUT + i] = p.good_input;
        b[field::REPLY_GOOD_OUTPUT_A + i] = p.good_output_a;
        b[field::REPLY_GOOD_OUTPUT_B + i] = p.good_output_b;
        if p.input {
            b[field::REPLY_SW_IN + i] = p.address.universe();
        }
        if p.output {
            b[field::REPLY_SW_OUT + i] = p.address.universe();
        }
    }
    b[field::REPLY_STYLE] = r.style;
    b[field::REPLY_MAC].copy_from_slice(&r.mac);
    b[field::REPLY_BIND_IP].copy_from_slice(&r.bind_ip.octets());
    b[field::REPLY_BIND_INDEX] = r.bind_index;
    b[field::REPLY_STATUS2] = r.status2;
    Ok(total)
}

/// Splits a node's ports into ArtPollReplies: consecutive ports sharing net and sub-net, at
/// most `per_reply` (1..=4) in each, numbered with their `BindIndex` 1, 2, ...; no ports gives
/// one reply with none (the node still answers). Stops after 255 replies (the BindIndex
/// range); [`reply_count`] tells a configuration check whether every port fits.
///
/// Art-Net 4 prefers one port per reply (every port then has its full 15-bit address);
/// four per reply lets an Art-Net 3 controller that ignores BindIndex see up to four ports
/// of one sub-net in a single reply. Sort the ports by address to need the fewest replies.
pub fn reply_groups(ports: &[Port], per_reply: usize) -> impl Iterator<Item = (u8, &[Port])> + '_ {
    let per_reply = per_reply.clamp(1, 4);
    let mut rest = ports;
    let mut index = 0u8;
    let mut empty_done = false;
    core::iter::from_fn(move || {
        if rest.is_empty() {
            if ports.is_empty() && !empty_done {
                empty_done = true;
                return Some((1, rest));
            }
            return None;
        }
        index = index.checked_add(1)?;
        let first = rest[0].address;
        let n = rest
            .iter()
            .take(per_reply)
            .take_while(|p| p.address.same_sub_net(first))
            .count();
        let (group, tail) = rest.split_at(n);
        rest = tail;
        Some((index, group))
    })
}

/// How many ArtPollReplies [`reply_groups`] needs for `ports` (may exceed 255, the most it
/// yields).
pub fn reply_count(ports: &[Port], per_reply: usize) -> usize {
    let per_reply = per_reply.clamp(1, 4);
    let mut count = 0;
    let mut rest = ports;
    while let Some(first) = rest.first() {
        let n = rest
            .iter()
            .take(per_reply)
            .take_while(|p| p.address.same_sub_net(first.address))
            .count();
        rest = &rest[n..];
        count += 1;
    }
    count.max(1)
}

/// ArtDmx sequence numbers for one universe: 1, 2, ..., 255, 1, ... (0 means "not numbered"
/// and is never produced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceCounter {
    next: u8,
}

impl Default for SequenceCounter {
    fn default() -> Self {
        SequenceCounter::new()
    }
}

impl SequenceCounter {
    /// A counter whose first number is 1.
    pub const fn new() -> SequenceCounter {
        SequenceCounter { next: 1 }
    }

    /// The number for the next packet.
    #[inline]
    pub fn next_sequence(&mut self) -> u8 {
        let s = self.next;
        self.next = if s == 255 { 1 } else { s + 1 };
        s
    }
}
