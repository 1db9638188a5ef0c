//! One MIDI 1.0 message as a value, the whole-message parser for transports that deliver one
//! message per event (JACK, ALSA), and the encoder into caller buffers.
//!
//! Data fields are plain `u8`/`u16`: every message a parser returns keeps them in range
//! (7-bit fields ≤ 127, 14-bit fields ≤ 16383, channels ≤ 15), and the encoder checks them, so a
//! message built by hand with a field out of range is refused rather than sent mangled.

use crate::{DropReason, EncodeError};

/// Status nibbles of the channel voice messages (high nibble; the low nibble is the channel).
pub mod status {
    /// Note off.
    pub const NOTE_OFF: u8 = 0x80;
    /// Note on (velocity 0 means note off).
    pub const NOTE_ON: u8 = 0x90;
    /// Polyphonic key pressure (MIDIMonster's `pressure`).
    pub const POLY_PRESSURE: u8 = 0xA0;
    /// Control change.
    pub const CONTROL_CHANGE: u8 = 0xB0;
    /// Program change.
    pub const PROGRAM_CHANGE: u8 = 0xC0;
    /// Channel pressure (MIDIMonster's `aftertouch`).
    pub const CHANNEL_PRESSURE: u8 = 0xD0;
    /// Pitch bend.
    pub const PITCH_BEND: u8 = 0xE0;
    /// Start of a system exclusive message.
    pub const SYSEX: u8 = 0xF0;
    /// MIDI time code quarter frame.
    pub const TIME_CODE: u8 = 0xF1;
    /// Song position pointer.
    pub const SONG_POSITION: u8 = 0xF2;
    /// Song select.
    pub const SONG_SELECT: u8 = 0xF3;
    /// Tune request.
    pub const TUNE_REQUEST: u8 = 0xF6;
    /// End of exclusive.
    pub const EOX: u8 = 0xF7;
}

/// A system real-time message: one byte, allowed anywhere in a stream, even inside another
/// message or a SysEx, without disturbing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RealTime {
    /// F8.
    TimingClock,
    /// FA.
    Start,
    /// FB.
    Continue,
    /// FC.
    Stop,
    /// FE.
    ActiveSensing,
    /// FF.
    SystemReset,
}

impl RealTime {
    /// The message's byte.
    pub const fn byte(self) -> u8 {
        match self {
            RealTime::TimingClock => 0xF8,
            RealTime::Start => 0xFA,
            RealTime::Continue => 0xFB,
            RealTime::Stop => 0xFC,
            RealTime::ActiveSensing => 0xFE,
            RealTime::SystemReset => 0xFF,
        }
    }

    /// The message of a real-time byte; `None` for F9 and FD (undefined) and for every byte
    /// below F8.
    pub const fn from_byte(b: u8) -> Option<RealTime> {
        Some(match b {
            0xF8 => RealTime::TimingClock,
            0xFA => RealTime::Start,
            0xFB => RealTime::Continue,
            0xFC => RealTime::Stop,
            0xFE => RealTime::ActiveSensing,
            0xFF => RealTime::SystemReset,
            _ => return None,
        })
    }
}

/// One complete MIDI 1.0 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Message<'a> {
    /// 8n: note off with release velocity.
    NoteOff {
        /// 0..=15.
        channel: u8,
        /// 0..=127.
        note: u8,
        /// 0..=127.
        velocity: u8,
    },
    /// 9n: note on; velocity 0 is a note off (MIDI 1.0), kept as sent so that re-encoding gives
    /// the same bytes.
    NoteOn {
        /// 0..=15.
        channel: u8,
        /// 0..=127.
        note: u8,
        /// 0..=127.
        velocity: u8,
    },
    /// An: polyphonic key pressure.
    PolyPressure {
        /// 0..=15.
        channel: u8,
        /// 0..=127.
        note: u8,
        /// 0..=127.
        pressure: u8,
    },
    /// Bn: control change (including channel mode messages, CC 120..127).
    ControlChange {
        /// 0..=15.
        channel: u8,
        /// 0..=127.
        controller: u8,
        /// 0..=127.
        value: u8,
    },
    /// Cn: program change.
    ProgramChange {
        /// 0..=15.
        channel: u8,
        /// 0..=127.
        program: u8,
    },
    /// Dn: channel pressure.
    ChannelPressure {
        /// 0..=15.
        channel: u8,
        /// 0..=127.
        pressure: u8,
    },
    /// En: pitch bend, 14 bits, 8192 is the centre (sent LSB first on the wire).
    PitchBend {
        /// 0..=15.
        channel: u8,
        /// 0..=16383.
        value: u16,
    },
    /// F0 … F7: a whole system exclusive message, both framing bytes included.
    SysEx(&'a [u8]),
    /// F1: MIDI time code quarter frame.
    TimeCode(u8),
    /// F2: song position pointer, 14 bits.
    SongPosition(u16),
    /// F3: song select.
    SongSelect(u8),
    /// F6: tune request.
    TuneRequest,
    /// F8..FF except F9 and FD.
    RealTime(RealTime),
}

/// Data bytes that follow a status byte, for every status that has a fixed length; `None` for
/// F0 (variable), F4, F5, F7, F9, FD (undefined or not a message start).
#[inline]
pub(crate) const fn data_len(status: u8) -> Option<usize> {
    match status {
        0x80..=0xBF | 0xE0..=0xEF => Some(2),
        0xC0..=0xDF => Some(1),
        status::TIME_CODE | status::SONG_SELECT => Some(1),
        status::SONG_POSITION => Some(2),
        status::TUNE_REQUEST | 0xF8 | 0xFA..=0xFC | 0xFE | 0xFF => Some(0),
        _ => None,
    }
}

/// Builds the message of a fixed-length status byte and its data bytes (all below 0x80).
/// `None` only for statuses without a fixed length, which callers rule out first.
#[inline]
pub(crate) fn from_parts<'a>(status: u8, d0: u8, d1: u8) -> Option<Message<'a>> {
    let channel = status & 0x0F;
    Some(match status & 0xF0 {
        status::NOTE_OFF => Message::NoteOff {
            channel,
            note: d0,
            velocity: d1,
        },
        status::NOTE_ON => Message::NoteOn {
            channel,
            note: d0,
            velocity: d1,
        },
        status::POLY_PRESSURE => Message::PolyPressure {
            channel,
            note: d0,
            pressure: d1,
        },
        status::CONTROL_CHANGE => Message::ControlChange {
            channel,
            controller: d0,
            value: d1,
        },
        status::PROGRAM_CHANGE => Message::ProgramChange {
            channel,
            program: d0,
        },
        status::CHANNEL_PRESSURE => Message::ChannelPressure {
            channel,
            pressure: d0,
        },
        status::PITCH_BEND => Message::PitchBend {
            channel,
            value: u16::from(d0) | u16::from(d1) << 7,
        },
        _ => match status {
            status::TIME_CODE => Message::TimeCode(d0),
            status::SONG_POSITION => Message::SongPosition(u16::from(d0) | u16::from(d1) << 7),
            status::SONG_SELECT => Message::SongSelect(d0),
            status::TUNE_REQUEST => Message::TuneRequest,
            _ => Message::RealTime(RealTime::from_byte(status)?),
        },
    })
}

/// Checks a SysEx frame: F0, data bytes, F7.
#[inline]
fn valid_sysex(b: &[u8]) -> bool {
    matches!(b, [status::SYSEX, inner @ .., status::EOX] if inner.iter().all(|&x| x < 0x80))
}

impl<'a> Message<'a> {
    /// Parses exactly one complete message, as JACK MIDI events and ALSA's byte-carrying events
    /// deliver them: a status byte first (no running status), the length its status implies,
    /// data bytes below 0x80, and a SysEx as one frame `F0 … F7`.
    pub fn parse(b: &'a [u8]) -> Result<Message<'a>, DropReason> {
        let (&first, rest) = b.split_first().ok_or(DropReason::Empty)?;
        if first < 0x80 {
            return Err(DropReason::StrayData);
        }
        match first {
            status::SYSEX => {
                if b.len() < 2 || b[b.len() - 1] != status::EOX {
                    return Err(DropReason::SysExUnterminated);
                }
                if !valid_sysex(b) {
                    return Err(DropReason::StatusInData);
                }
                Ok(Message::SysEx(b))
            }
            status::EOX => Err(DropReason::StrayEox),
            _ => {
                let n = data_len(first).ok_or(DropReason::UndefinedStatus)?;
                if rest.len() != n {
                    return Err(DropReason::WrongLength);
                }
                if rest.iter().any(|&x| x >= 0x80) {
                    return Err(DropReason::StatusInData);
                }
                let d0 = rest.first().copied().unwrap_or(0);
                let d1 = rest.get(1).copied().unwrap_or(0);
                from_parts(first, d0, d1).ok_or(DropReason::UndefinedStatus)
            }
        }
    }

    /// The status byte (for channel messages including the channel).
    pub fn status(&self) -> u8 {
        match *self {
            Message::NoteOff { channel, .. } => status::NOTE_OFF | channel,
            Message::NoteOn { channel, .. } => status::NOTE_ON | channel,
            Message::PolyPressure { channel, .. } => status::POLY_PRESSURE | channel,
            Message::ControlChange { channel, .. } => status::CONTROL_CHANGE | channel,
            Message::ProgramChange { channel, .. } => status::PROGRAM_CHANGE | channel,
            Message::ChannelPressure { channel, .. } => status::CHANNEL_PRESSURE | channel,
            Message::PitchBend { channel, .. } => status::PITCH_BEND | channel,
            Message::SysEx(_) => status::SYSEX,
            Message::TimeCode(_) => status::TIME_CODE,
            Message::SongPosition(_) => status::SONG_POSITION,
            Message::SongSelect(_) => status::SONG_SELECT,
            Message::TuneRequest => status::TUNE_REQUEST,
            Message::RealTime(rt) => rt.byte(),
        }
    }

    /// The MIDI channel of a channel voice message.
    pub fn channel(&self) -> Option<u8> {
        match *self {
            Message::NoteOff { channel, .. }
            | Message::NoteOn { channel, .. }
            | Message::PolyPressure { channel, .. }
            | Message::ControlChange { channel, .. }
            | Message::ProgramChange { channel, .. }
            | Message::ChannelPressure { channel, .. }
            | Message::PitchBend { channel, .. } => Some(channel),
            _ => None,
        }
    }

    /// The message detached from the buffer it was parsed from, so it can be kept (queued,
    /// stored as last state); `None` for SysEx, the only variant that borrows.
    pub fn detach(&self) -> Option<Message<'static>> {
        Some(match *self {
            Message::NoteOff {
                channel,
                note,
                velocity,
            } => Message::NoteOff {
                channel,
                note,
                velocity,
            },
            Message::NoteOn {
                channel,
                note,
                velocity,
            } => Message::NoteOn {
                channel,
                note,
                velocity,
            },
            Message::PolyPressure {
                channel,
                note,
                pressure,
            } => Message::PolyPressure {
                channel,
                note,
                pressure,
            },
            Message::ControlChange {
                channel,
                controller,
                value,
            } => Message::ControlChange {
                channel,
                controller,
                value,
            },
            Message::ProgramChange { channel, program } => {
                Message::ProgramChange { channel, program }
            }
            Message::ChannelPressure { channel, pressure } => {
                Message::ChannelPressure { channel, pressure }
            }
            Message::PitchBend { channel, value } => Message::PitchBend { channel, value },
            Message::SysEx(_) => return None,
            Message::TimeCode(v) => Message::TimeCode(v),
            Message::SongPosition(v) => Message::SongPosition(v),
            Message::SongSelect(v) => Message::SongSelect(v),
            Message::TuneRequest => Message::TuneRequest,
            Message::RealTime(rt) => Message::RealTime(rt),
        })
    }

    /// Bytes [`encode`](Self::encode) writes (with the status byte).
    pub fn encoded_len(&self) -> usize {
        match self {
            Message::SysEx(b) => b.len(),
            m => 1 + data_len(m.status()).unwrap_or(0),
        }
    }

    /// The status byte and up to two data bytes of a message, with every field range-checked
    /// (a SysEx has its frame checked and no data bytes here).
    fn parts(&self) -> Result<(u8, [u8; 2]), EncodeError> {
        fn d7(v: u8) -> Result<u8, EncodeError> {
            if v < 0x80 {
                Ok(v)
            } else {
                Err(EncodeError::DataOutOfRange(v))
            }
        }
        fn d14(v: u16) -> Result<[u8; 2], EncodeError> {
            if v < 0x4000 {
                Ok([(v & 0x7F) as u8, (v >> 7) as u8])
            } else {
                Err(EncodeError::WideOutOfRange(v))
            }
        }
        if let Some(c) = self.channel()
            && c > 0x0F
        {
            return Err(EncodeError::ChannelOutOfRange(c));
        }
        let data = match *self {
            Message::NoteOff { note, velocity, .. } | Message::NoteOn { note, velocity, .. } => {
                [d7(note)?, d7(velocity)?]
            }
            Message::PolyPressure { note, pressure, .. } => [d7(note)?, d7(pressure)?],
            Message::ControlChange {
                controller, value, ..
            } => [d7(controller)?, d7(value)?],
            Message::ProgramChange { program: v, .. }
            | Message::ChannelPressure { pressure: v, .. }
            | Message::TimeCode(v)
            | Message::SongSelect(v) => [d7(v)?, 0],
            Message::PitchBend { value, .. } | Message::SongPosition(value) => d14(value)?,
            Message::TuneRequest | Message::RealTime(_) => [0, 0],
            Message::SysEx(b) => {
                return if valid_sysex(b) {
                    Ok((status::SYSEX, [0, 0]))
                } else {
                    Err(EncodeError::BadSysEx)
                };
            }
        };
        Ok((self.status(), data))
    }

    /// Writes the message with its status byte into `buf` and returns its length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        encode_into(self, buf, false)
    }
}

/// Writes `m` into `buf`, leaving out the status byte when `skip_status` (running status).
pub(crate) fn encode_into(
    m: &Message<'_>,
    buf: &mut [u8],
    skip_status: bool,
) -> Result<usize, EncodeError> {
    let (status, data) = m.parts()?;
    let available = buf.len();
    if let Message::SysEx(b) = m {
        let dst = buf.get_mut(..b.len()).ok_or(EncodeError::BufferTooSmall {
            needed: b.len(),
            available,
        })?;
        dst.copy_from_slice(b);
        return Ok(b.len());
    }
    let n = data_len(status).unwrap_or(0);
    let head = usize::from(!skip_status);
    let needed = head + n;
    let dst = buf
        .get_mut(..needed)
        .ok_or(EncodeError::BufferTooSmall { needed, available })?;
    if head == 1 {
        dst[0] = status;
    }
    dst[head..].copy_from_slice(&data[..n]);
    Ok(needed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_from_the_spec_bytes() {
        let cases: &[(&[u8], Message<'_>)] = &[
            (
                &[0x80, 60, 64],
                Message::NoteOff {
                    channel: 0,
                    note: 60,
                    velocity: 64,
                },
            ),
            (
                &[0x9F, 60, 0],
                Message::NoteOn {
                    channel: 15,
                    note: 60,
                    velocity: 0,
                },
            ),
            (
                &[0xA3, 1, 2],
                Message::PolyPressure {
                    channel: 3,
                    note: 1,
                    pressure: 2,
                },
            ),
            (
                &[0xB1, 7, 127],
                Message::ControlChange {
                    channel: 1,
                    controller: 7,
                    value: 127,
                },
            ),
            (
                &[0xC2, 5],
                Message::ProgramChange {
                    channel: 2,
                    program: 5,
                },
            ),
            (
                &[0xD4, 99],
                Message::ChannelPressure {
                    channel: 4,
                    pressure: 99,
                },
            ),
            // Centre: LSB 0x00, MSB 0x40.
            (
                &[0xE0, 0x00, 0x40],
                Message::PitchBend {
                    channel: 0,
                    value: 8192,
                },
            ),
            (
                &[0xE5, 0x7F, 0x7F],
                Message::PitchBend {
                    channel: 5,
                    value: 16383,
                },
            ),
            (&[0xF1, 0x35], Message::TimeCode(0x35)),
            (&[0xF2, 0x01, 0x02], Message::SongPosition(0x101)),
            (&[0xF3, 9], Message::SongSelect(9)),
            (&[0xF6], Message::TuneRequest),
            (&[0xF8], Message::RealTime(RealTime::TimingClock)),
            (&[0xFF], Message::RealTime(RealTime::SystemReset)),
            (&[0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7], {
                Message::SysEx(&[0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7])
            }),
            (&[0xF0, 0xF7], Message::SysEx(&[0xF0, 0xF7])),
        ];
        for (bytes, want) in cases {
            assert_eq!(Message::parse(bytes), Ok(*want), "{bytes:02X?}");
            let mut buf = [0u8; 8];
            let n = want.encode(&mut buf).expect("encode");
            assert_eq!(&buf[..n], *bytes);
            assert_eq!(want.encoded_len(), n);
        }
    }

    #[test]
    fn whole_message_rejections() {
        use DropReason::*;
        let cases: &[(&[u8], DropReason)] = &[
            (&[], Empty),
            (&[0x3C, 0x40], StrayData),
            (&[0x90, 60], WrongLength),
            (&[0x90, 60, 64, 1], WrongLength),
            (&[0xC0], WrongLength),
            (&[0xF8, 0], WrongLength),
            (&[0x90, 60, 0x80], StatusInData),
            (&[0xF4], UndefinedStatus),
            (&[0xF5, 1], UndefinedStatus),
            (&[0xF9], UndefinedStatus),
            (&[0xFD], UndefinedStatus),
            (&[0xF7], StrayEox),
            (&[0xF0], SysExUnterminated),
            (&[0xF0, 1, 2], SysExUnterminated),
            (&[0xF0, 1, 0xF8, 2, 0xF7], StatusInData),
            (&[0xF0, 0x90, 0xF7], StatusInData),
        ];
        for (bytes, want) in cases {
            assert_eq!(Message::parse(bytes), Err(*want), "{bytes:02X?}");
        }
    }

    #[test]
    fn encoder_refuses_out_of_range_fields_and_small_buffers() {
        let mut buf = [0u8; 3];
        let bad = [
            (
                Message::NoteOn {
                    channel: 16,
                    note: 0,
                    velocity: 0,
                },
                EncodeError::ChannelOutOfRange(16),
            ),
            (
                Message::ControlChange {
                    channel: 0,
                    controller: 128,
                    value: 0,
                },
                EncodeError::DataOutOfRange(128),
            ),
            (
                Message::PitchBend {
                    channel: 0,
                    value: 16384,
                },
                EncodeError::WideOutOfRange(16384),
            ),
            (Message::SysEx(&[0xF0, 0x80, 0xF7]), EncodeError::BadSysEx),
            (Message::SysEx(&[0xF0, 1]), EncodeError::BadSysEx),
        ];
        for (m, e) in bad {
            assert_eq!(m.encode(&mut buf), Err(e), "{m:?}");
        }
        assert_eq!(
            Message::SysEx(&[0xF0, 1, 2, 0xF7]).encode(&mut buf),
            Err(EncodeError::BufferTooSmall {
                needed: 4,
                available: 3
            })
        );
        assert_eq!(
            Message::ProgramChange {
                channel: 0,
                program: 1
            }
            .encode(&mut buf[..1]),
            Err(EncodeError::BufferTooSmall {
                needed: 2,
                available: 1
            })
        );
    }
}
