//! Extended parameter numbers (RPN and NRPN, MIDIMonster's "EPN"): 14-bit parameters carried on
//! control changes 101/100 (RPN number MSB/LSB) or 99/98 (NRPN number MSB/LSB), then 6 (value
//! MSB) and 38 (value LSB).

use crate::{Control, Message, Voice};

const NRPN: u8 = 8;
const PARAMETER_HI: u8 = 4;
const PARAMETER_LO: u8 = 2;
const VALUE_HI: u8 = 1;
/// RPN 127/127: no parameter selected.
const NULL_RPN: u16 = 0x3FFF;

/// CC numbers of the (N)RPN transport.
pub mod cc {
    /// RPN number MSB.
    pub const RPN_MSB: u8 = 101;
    /// RPN number LSB.
    pub const RPN_LSB: u8 = 100;
    /// NRPN number MSB.
    pub const NRPN_MSB: u8 = 99;
    /// NRPN number LSB.
    pub const NRPN_LSB: u8 = 98;
    /// Data entry MSB.
    pub const DATA_MSB: u8 = 6;
    /// Data entry LSB.
    pub const DATA_LSB: u8 = 38;
    /// The value that, sent as both 101 and 100, selects the null RPN (no parameter).
    pub const NULL: u8 = 127;
}

/// (N)RPN receive state of the 16 channels of one input.
///
/// Input follows MIDIMonster's state machine (backends/midi.c `midi_handle_epn`, the same in
/// jack.c) with one difference, below; per MIDI channel:
/// * a number CC of the other kind (99/98 while an RPN is selected, 101/100 while an NRPN is)
///   forgets the selected parameter;
/// * any number CC (98..=101) forgets a pending value MSB;
/// * 101/99 set the number's MSB, 100/98 its LSB;
/// * CC 6 with both number halves known stores the value MSB;
/// * CC 38 after CC 6 completes the value, which is reported once; a further 38 without a
///   new 6 is not (so devices that send only the MSB, or only LSB updates, are not read, as
///   in MIDIMonster; its docs list this as a known limitation).
///
/// One deliberate difference: the null RPN (nothing selected) is the pair 101 = 127 and
/// 100 = 127, as MIDI 1.0 defines it. MIDIMonster deselects when either half is 127, which
/// makes the 254 RPNs with a 127 in just one half (rpn127, rpn255, …, rpn16256..16382)
/// unreachable. An NRPN of 127/127 is an ordinary parameter in both.
///
/// The CCs themselves are still reported as `cc` channels too, as MIDIMonster does.
#[derive(Debug, Clone, Default)]
pub struct EpnInput {
    status: [u8; 16],
    parameter: [u16; 16],
    value: [u16; 16],
}

impl EpnInput {
    /// Nothing selected on any channel.
    pub fn new() -> EpnInput {
        EpnInput::default()
    }

    /// Forgets every selection and pending value (a reconnected device).
    pub fn reset(&mut self) {
        *self = EpnInput::default();
    }

    /// Feeds one control change; returns the (N)RPN control and its 14-bit value when this
    /// CC completes one.
    #[inline]
    pub fn control_change(
        &mut self,
        channel: u8,
        controller: u8,
        value: u8,
    ) -> Option<(Voice, u16)> {
        if !matches!(controller, 98..=101 | cc::DATA_MSB | cc::DATA_LSB) {
            return None;
        }
        let c = usize::from(channel & 0x0F);
        let value = u16::from(value & 0x7F);
        let st = &mut self.status[c];
        let nrpn = *st & NRPN != 0;
        if (nrpn && matches!(controller, cc::RPN_MSB | cc::RPN_LSB))
            || (!nrpn && matches!(controller, cc::NRPN_MSB | cc::NRPN_LSB))
        {
            *st &= !(NRPN | PARAMETER_LO | PARAMETER_HI);
        }
        match controller {
            cc::RPN_MSB | cc::NRPN_MSB => {
                *st &= !VALUE_HI;
                self.parameter[c] = (self.parameter[c] & 0x7F) | value << 7;
                *st |= PARAMETER_HI;
                if controller == cc::NRPN_MSB {
                    *st |= NRPN;
                }
                None
            }
            cc::RPN_LSB | cc::NRPN_LSB => {
                *st &= !VALUE_HI;
                self.parameter[c] = (self.parameter[c] & !0x7F) | value;
                *st |= PARAMETER_LO;
                if controller == cc::NRPN_LSB {
                    *st |= NRPN;
                }
                None
            }
            cc::DATA_MSB => {
                let selected = *st & (PARAMETER_HI | PARAMETER_LO) == PARAMETER_HI | PARAMETER_LO;
                let null_rpn = *st & NRPN == 0 && self.parameter[c] == NULL_RPN;
                if selected && !null_rpn {
                    self.value[c] = value << 7;
                    *st |= VALUE_HI;
                }
                None
            }
            _ => {
                // cc::DATA_LSB
                if *st & VALUE_HI == 0 {
                    return None;
                }
                *st &= !VALUE_HI;
                self.value[c] = (self.value[c] & !0x7F) | value;
                let parameter = self.parameter[c];
                let control = if *st & NRPN != 0 {
                    Control::Nrpn(parameter)
                } else {
                    Control::Rpn(parameter)
                };
                Some((
                    Voice {
                        channel: channel & 0x0F,
                        control,
                    },
                    self.value[c],
                ))
            }
        }
    }
}

/// How an (N)RPN value is sent: MIDIMonster's `epn-tx` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EpnTx {
    /// Number, value, then the null RPN (101 = 127, 100 = 127) so that a stray data entry
    /// from elsewhere cannot change the parameter: 6 CCs. MIDIMonster's default.
    #[default]
    Full,
    /// Number and value only: 4 CCs.
    Short,
}

impl EpnTx {
    /// The option value: `full` or `short`. (MIDIMonster treats every value other than
    /// `short` as full; patchbay refuses anything else so a typo is not silently ignored.)
    pub fn from_option(value: &str) -> Option<EpnTx> {
        match value {
            "full" => Some(EpnTx::Full),
            "short" => Some(EpnTx::Short),
            _ => None,
        }
    }
}

/// The control changes that send `value` (14-bit, clamped) to RPN or NRPN `parameter` on
/// `channel`, in order; `nrpn` picks 99/98 instead of 101/100.
pub(crate) fn messages(
    channel: u8,
    nrpn: bool,
    parameter: u16,
    value: u16,
    tx: EpnTx,
    out: &mut impl FnMut(Message<'static>),
) {
    let value = value.min(0x3FFF);
    let (msb, lsb) = if nrpn {
        (cc::NRPN_MSB, cc::NRPN_LSB)
    } else {
        (cc::RPN_MSB, cc::RPN_LSB)
    };
    let mut send = |controller: u8, value: u16| {
        out(Message::ControlChange {
            channel,
            controller,
            value: (value & 0x7F) as u8,
        });
    };
    send(msb, parameter >> 7);
    send(lsb, parameter);
    send(cc::DATA_MSB, value >> 7);
    send(cc::DATA_LSB, value);
    if tx == EpnTx::Full {
        send(cc::RPN_MSB, cc::NULL.into());
        send(cc::RPN_LSB, cc::NULL.into());
    }
}

#[cfg(test)]
mod tests;
