//! The incremental byte-stream parser (a serial MIDI port, rawmidi, SysEx chunks of ALSA events)
//! and the stream encoder with optional running status.

use crate::message::{data_len, encode_into, from_parts, status};
use crate::{DropReason, EncodeError, Message, RealTime};

/// SysEx length (F0 and F7 included) a [`StreamParser`] accepts unless told otherwise.
pub const DEFAULT_MAX_SYSEX_LEN: usize = 1024;

/// What the parser is in the middle of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between messages.
    Idle,
    /// A fixed-length message: its status and the data bytes so far.
    Message { status: u8, have: u8 },
    /// Inside a SysEx (the buffer holds F0 and the data so far).
    SysEx,
    /// Inside a SysEx that outgrew the maximum: skipping to its end.
    SkipSysEx,
}

/// Incremental MIDI 1.0 byte-stream parser: feed bytes as they arrive, get complete messages.
///
/// The parser follows MIDI 1.0's receiver rules:
/// * running status: a channel voice status byte stays in force for following data bytes until
///   a system common or SysEx status byte cancels it (real-time bytes do not);
/// * real-time bytes (F8..FF) may come anywhere, also between the data bytes of another message
///   and inside a SysEx, and are returned at once without disturbing what they interrupt;
/// * a SysEx runs from F0 to F7; any other status byte (except real-time) ends it early: the
///   unfinished SysEx is dropped and counted, and the status byte starts the next message;
/// * undefined status bytes (F4, F5, F9, FD) are ignored (F4/F5 still cancel running status),
///   data bytes with no status to belong to are dropped; both are counted.
///
/// It allocates once, in [`StreamParser::new`] (the SysEx buffer); feeding bytes never does.
#[derive(Debug, Clone)]
pub struct StreamParser {
    state: State,
    /// Running status (a channel voice status byte), 0 when none.
    running: u8,
    data: [u8; 2],
    sysex: Vec<u8>,
    max_sysex: usize,
    drops: [u64; DropReason::COUNT],
}

impl Default for StreamParser {
    fn default() -> Self {
        StreamParser::new(DEFAULT_MAX_SYSEX_LEN)
    }
}

impl StreamParser {
    /// A parser that accepts SysEx messages up to `max_sysex_len` bytes, F0 and F7 included
    /// (at least 2). Longer ones are dropped and counted as [`DropReason::SysExTooLong`].
    pub fn new(max_sysex_len: usize) -> StreamParser {
        let max_sysex = max_sysex_len.max(2);
        StreamParser {
            state: State::Idle,
            running: 0,
            data: [0; 2],
            sysex: Vec::with_capacity(max_sysex),
            max_sysex,
            drops: [0; DropReason::COUNT],
        }
    }

    /// Forgets any message in progress and the running status (e.g. after the device was
    /// reconnected), keeping the counters.
    pub fn reset(&mut self) {
        self.state = State::Idle;
        self.running = 0;
    }

    /// Dropped messages and bytes so far, indexed by [`DropReason::index`].
    pub fn drops(&self) -> &[u64; DropReason::COUNT] {
        &self.drops
    }

    /// Dropped messages or bytes for one reason.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()]
    }

    /// Total drops over all reasons.
    pub fn dropped_total(&self) -> u64 {
        self.drops.iter().sum()
    }

    #[inline]
    fn count(&mut self, reason: DropReason) {
        self.drops[reason.index()] += 1;
    }

    /// Takes one byte; returns the message it completes, if any.
    #[inline]
    pub fn push(&mut self, b: u8) -> Option<Message<'_>> {
        if b >= 0xF8 {
            return match RealTime::from_byte(b) {
                Some(rt) => Some(Message::RealTime(rt)),
                None => {
                    self.count(DropReason::UndefinedStatus);
                    None
                }
            };
        }
        if b < 0x80 {
            return self.data_byte(b);
        }
        self.status_byte(b)
    }

    /// Feeds a run of bytes, handing every complete message to `f`.
    pub fn feed(&mut self, bytes: &[u8], mut f: impl FnMut(Message<'_>)) {
        for &b in bytes {
            if let Some(m) = self.push(b) {
                f(m);
            }
        }
    }

    #[inline]
    fn data_byte(&mut self, b: u8) -> Option<Message<'_>> {
        match self.state {
            State::Message { status, have } => {
                self.data[usize::from(have)] = b;
                self.complete(status, have + 1)
            }
            State::Idle if self.running != 0 => {
                self.data[0] = b;
                self.complete(self.running, 1)
            }
            State::Idle => {
                self.count(DropReason::StrayData);
                None
            }
            State::SysEx => {
                // Keep room for the F7.
                if self.sysex.len() + 1 < self.max_sysex {
                    self.sysex.push(b);
                } else {
                    self.count(DropReason::SysExTooLong);
                    self.state = State::SkipSysEx;
                }
                None
            }
            State::SkipSysEx => None,
        }
    }

    /// Records that `have` data bytes of `status` are in; returns the message once complete.
    #[inline]
    fn complete(&mut self, status: u8, have: u8) -> Option<Message<'_>> {
        // Only fixed-length statuses ever reach State::Message or running status.
        let need = data_len(status).unwrap_or(0);
        if usize::from(have) < need {
            self.state = State::Message { status, have };
            return None;
        }
        self.state = State::Idle;
        from_parts(status, self.data[0], self.data[1])
    }

    fn status_byte(&mut self, b: u8) -> Option<Message<'_>> {
        match self.state {
            State::Message { .. } => self.count(DropReason::IncompleteMessage),
            State::SysEx if b == status::EOX => {
                self.state = State::Idle;
                self.sysex.push(status::EOX);
                return Some(Message::SysEx(&self.sysex));
            }
            State::SysEx => self.count(DropReason::SysExInterrupted),
            State::SkipSysEx | State::Idle => {}
        }
        let was_skipping = self.state == State::SkipSysEx;
        self.state = State::Idle;
        if b < 0xF0 {
            self.running = b;
            self.state = State::Message { status: b, have: 0 };
            return None;
        }
        // System common (and SysEx) cancel running status.
        self.running = 0;
        match b {
            status::SYSEX => {
                self.sysex.clear();
                self.sysex.push(status::SYSEX);
                self.state = State::SysEx;
                None
            }
            status::EOX => {
                // The end of an over-long SysEx (already counted) is no stray.
                if !was_skipping {
                    self.count(DropReason::StrayEox);
                }
                None
            }
            status::TUNE_REQUEST => Some(Message::TuneRequest),
            status::TIME_CODE | status::SONG_POSITION | status::SONG_SELECT => {
                self.state = State::Message { status: b, have: 0 };
                None
            }
            _ => {
                self.count(DropReason::UndefinedStatus);
                None
            }
        }
    }
}

/// Writes messages into a byte stream, leaving out repeated channel voice status bytes when
/// running status is on (as MIDI 1.0 allows; it saves a third of the bytes of a fader move).
#[derive(Debug, Clone, Default)]
pub struct StreamEncoder {
    running_status: bool,
    /// Status of the last channel voice message written, 0 when a system message cancelled it.
    last: u8,
}

impl StreamEncoder {
    /// An encoder that uses running status when `running_status` is true.
    pub fn new(running_status: bool) -> StreamEncoder {
        StreamEncoder {
            running_status,
            last: 0,
        }
    }

    /// Makes the next channel message carry its status byte (call it when the receiver may
    /// have lost track: a reconnect, a dropped write).
    pub fn reset(&mut self) {
        self.last = 0;
    }

    /// Writes `m` into `buf` and returns the bytes written.
    pub fn encode(&mut self, m: &Message<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let st = m.status();
        let skip = self.running_status && m.channel().is_some() && st == self.last;
        let n = encode_into(m, buf, skip)?;
        if m.channel().is_some() {
            self.last = st;
        } else if st < 0xF8 {
            self.last = 0;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
