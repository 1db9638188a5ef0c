//! OSC over byte streams (TCP, serial lines): where one packet ends and the next begins.
//!
//! * [`Framing::Slip`]: OSC 1.1's framing, SLIP (RFC 1055) with an END byte before and after
//!   every packet ("double-END"), so a receiver that joins mid-stream resynchronises at the
//!   next END. Empty frames (two ENDs in a row) are ignored.
//! * [`Framing::LengthPrefix`]: OSC 1.0's stream framing, a big-endian 32-bit byte count
//!   before every packet. A frame that is too long is skipped by its declared length, so the
//!   stream stays in step; zero-length frames are ignored.
//!
//! [`Decoder`] is incremental: feed it whatever `read` returned, in any pieces; it copies at
//! most `max_frame` bytes into a buffer allocated once and hands back each complete frame as
//! a slice, ready for [`Packet::parse`](crate::wire::Packet::parse).

use crate::wire::BuildError;

/// SLIP frame delimiter.
pub const END: u8 = 0xC0;
/// SLIP escape.
pub const ESC: u8 = 0xDB;
/// Escaped END (after [`ESC`]).
pub const ESC_END: u8 = 0xDC;
/// Escaped ESC (after [`ESC`]).
pub const ESC_ESC: u8 = 0xDD;

/// How packets are delimited on a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Framing {
    /// OSC 1.1: SLIP with END before and after each packet.
    #[default]
    Slip,
    /// OSC 1.0: a 32-bit big-endian length before each packet.
    LengthPrefix,
}

impl Framing {
    /// Bytes `packet` occupies on the stream.
    pub fn encoded_len(self, packet: &[u8]) -> usize {
        match self {
            Framing::Slip => {
                2 + packet.len() + packet.iter().filter(|&&b| b == END || b == ESC).count()
            }
            Framing::LengthPrefix => 4 + packet.len(),
        }
    }

    /// Writes `packet` framed into `out`; returns the bytes written.
    pub fn write(self, packet: &[u8], out: &mut [u8]) -> Result<usize, BuildError> {
        let needed = self.encoded_len(packet);
        if out.len() < needed {
            return Err(BuildError::BufferTooSmall {
                needed,
                available: out.len(),
            });
        }
        match self {
            Framing::Slip => {
                let mut i = 0;
                out[i] = END;
                i += 1;
                for &b in packet {
                    let escaped = match b {
                        END => Some(ESC_END),
                        ESC => Some(ESC_ESC),
                        _ => None,
                    };
                    if let Some(e) = escaped {
                        out[i] = ESC;
                        out[i + 1] = e;
                        i += 2;
                    } else {
                        out[i] = b;
                        i += 1;
                    }
                }
                out[i] = END;
                Ok(i + 1)
            }
            Framing::LengthPrefix => {
                let len = u32::try_from(packet.len()).map_err(|_| BuildError::BadElement)?;
                out[..4].copy_from_slice(&len.to_be_bytes());
                out[4..needed].copy_from_slice(packet);
                Ok(needed)
            }
        }
    }
}

/// Why a frame was discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Longer than the decoder's `max_frame`; the frame is skipped.
    #[error("frame longer than the limit")]
    TooLong,
    /// SLIP: ESC followed by something other than ESC_END or ESC_ESC; the frame is skipped.
    #[error("SLIP escape followed by a byte other than 0xDC or 0xDD")]
    BadEscape,
}

impl FrameError {
    /// Every variant, in [`index`](Self::index) order.
    pub const ALL: [FrameError; 2] = [FrameError::TooLong, FrameError::BadEscape];
    /// Number of variants.
    pub const COUNT: usize = Self::ALL.len();

    /// Dense index 0..COUNT, for counter arrays.
    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Stable snake_case name, for counters and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            FrameError::TooLong => "frame_too_long",
            FrameError::BadEscape => "bad_escape",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// SLIP: `escaped` after an ESC; `discarding` until the next END after an error.
    Slip { escaped: bool, discarding: bool },
    /// Length prefix: `header` bytes of the prefix seen so far, then `remaining` body bytes;
    /// `skipping` a body that was too long.
    Prefix {
        header: [u8; 4],
        have: usize,
        remaining: usize,
        skipping: bool,
    },
}

/// Incremental stream decoder for one connection.
///
/// ```
/// use patchbay_osc::framing::{Decoder, Framing};
///
/// let mut dec = Decoder::new(Framing::Slip, 1024);
/// let mut frames = Vec::new();
/// for chunk in [&[0xC0, b'/', b'a'][..], &[0, 0, 0xC0, 0xC0]] {
///     let mut input = chunk;
///     while !input.is_empty() {
///         let (used, frame) = dec.feed(input);
///         input = &input[used..];
///         if let Some(Ok(f)) = frame {
///             frames.push(f.to_vec());
///         }
///     }
/// }
/// assert_eq!(frames, vec![b"/a\0\0".to_vec()]);
/// ```
#[derive(Debug, Clone)]
pub struct Decoder {
    framing: Framing,
    max: usize,
    buf: Vec<u8>,
    state: State,
    /// The buffer holds a frame handed out by the previous call.
    ready: bool,
}

impl Decoder {
    /// A decoder that accepts frames of at most `max_frame` bytes (after unescaping); the
    /// buffer for them is allocated here, once.
    pub fn new(framing: Framing, max_frame: usize) -> Decoder {
        let mut d = Decoder {
            framing,
            max: max_frame,
            buf: Vec::with_capacity(max_frame),
            state: State::Slip {
                escaped: false,
                discarding: false,
            },
            ready: false,
        };
        d.reset();
        d
    }

    /// The framing this decoder reads.
    #[inline]
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Forgets any partial frame (e.g. after a reconnect).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.ready = false;
        self.state = match self.framing {
            Framing::Slip => State::Slip {
                escaped: false,
                discarding: false,
            },
            Framing::LengthPrefix => State::Prefix {
                header: [0; 4],
                have: 0,
                remaining: 0,
                skipping: false,
            },
        };
    }

    /// True when the decoder is between frames (no partial frame buffered); a stream that
    /// ends while this is false ended mid-frame.
    pub fn is_idle(&self) -> bool {
        match self.state {
            State::Slip {
                escaped,
                discarding,
            } => !escaped && !discarding && (self.ready || self.buf.is_empty()),
            State::Prefix { have, .. } => have == 0,
        }
    }

    /// Consumes bytes from `input` up to the end of the next complete frame (or all of it)
    /// and returns how many were consumed and the frame or error found, if any. Call again
    /// with the rest until everything is consumed; a returned frame is valid until then.
    pub fn feed(&mut self, input: &[u8]) -> (usize, Option<Result<&[u8], FrameError>>) {
        if self.ready {
            self.ready = false;
            self.buf.clear();
        }
        let (used, event) = match self.state {
            State::Slip { .. } => self.feed_slip(input),
            State::Prefix { .. } => self.feed_prefix(input),
        };
        let event = event.map(|e| {
            e.map(|()| {
                self.ready = true;
                &self.buf[..]
            })
        });
        (used, event)
    }

    fn feed_slip(&mut self, input: &[u8]) -> (usize, Option<Result<(), FrameError>>) {
        let State::Slip {
            mut escaped,
            mut discarding,
        } = self.state
        else {
            return (input.len(), None);
        };
        let mut result = None;
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            i += 1;
            if b == END {
                let was_escaped = escaped;
                escaped = false;
                if discarding {
                    discarding = false;
                    self.buf.clear();
                } else if was_escaped {
                    self.buf.clear();
                    result = Some(Err(FrameError::BadEscape));
                    break;
                } else if !self.buf.is_empty() {
                    result = Some(Ok(()));
                    break;
                }
                continue;
            }
            if discarding {
                continue;
            }
            let byte = if escaped {
                escaped = false;
                match b {
                    ESC_END => END,
                    ESC_ESC => ESC,
                    _ => {
                        discarding = true;
                        result = Some(Err(FrameError::BadEscape));
                        break;
                    }
                }
            } else if b == ESC {
                escaped = true;
                continue;
            } else {
                b
            };
            if self.buf.len() >= self.max {
                discarding = true;
                result = Some(Err(FrameError::TooLong));
                break;
            }
            self.buf.push(byte);
        }
        self.state = State::Slip {
            escaped,
            discarding,
        };
        (i, result)
    }

    fn feed_prefix(&mut self, input: &[u8]) -> (usize, Option<Result<(), FrameError>>) {
        let State::Prefix {
            mut header,
            mut have,
            mut remaining,
            mut skipping,
        } = self.state
        else {
            return (input.len(), None);
        };
        let mut result = None;
        let mut i = 0;
        while i < input.len() {
            if have < 4 {
                let n = (4 - have).min(input.len() - i);
                header[have..have + n].copy_from_slice(&input[i..i + n]);
                have += n;
                i += n;
                if have == 4 {
                    // u32 always fits usize on the targets patchbay builds for (64-bit).
                    let len = u32::from_be_bytes(header) as usize;
                    remaining = len;
                    self.buf.clear();
                    if len == 0 {
                        have = 0;
                    } else if len > self.max {
                        skipping = true;
                        result = Some(Err(FrameError::TooLong));
                        break;
                    }
                }
                continue;
            }
            let n = remaining.min(input.len() - i);
            if !skipping {
                self.buf.extend_from_slice(&input[i..i + n]);
            }
            remaining -= n;
            i += n;
            if remaining == 0 {
                have = 0;
                if skipping {
                    skipping = false;
                } else {
                    result = Some(Ok(()));
                    break;
                }
            }
        }
        self.state = State::Prefix {
            header,
            have,
            remaining,
            skipping,
        };
        (i, result)
    }
}

/// Feeds `bytes` to a SLIP and a length-prefix decoder in pieces whose sizes come from the
/// input itself and checks their invariants; the body of the `osc_slip` fuzz target.
///
/// Checked: no frame exceeds the limit; every frame re-encoded and decoded again comes back
/// unchanged; every frame is handed to [`fuzz_parse`](crate::wire::fuzz_parse). Returns the
/// number of frames.
pub fn fuzz_framing(bytes: &[u8]) -> usize {
    let Some((&control, data)) = bytes.split_first() else {
        return 0;
    };
    let max = 1 + usize::from(control & 0x3f) * 4;
    let chunk = 1 + usize::from(control >> 6) * 5;
    let mut frames = 0;
    for framing in [Framing::Slip, Framing::LengthPrefix] {
        let mut dec = Decoder::new(framing, max);
        for piece in data.chunks(chunk) {
            let mut input = piece;
            while !input.is_empty() {
                let (used, ev) = dec.feed(input);
                assert!(used > 0 && used <= input.len());
                input = &input[used..];
                if let Some(Ok(frame)) = ev {
                    assert!(!frame.is_empty() && frame.len() <= max);
                    frames += 1;
                    let frame = frame.to_vec();
                    crate::wire::fuzz_parse(&frame);
                    let mut enc = vec![0u8; framing.encoded_len(&frame)];
                    let n = framing.write(&frame, &mut enc).expect("sized");
                    let mut again = Decoder::new(framing, max);
                    let (used, ev) = again.feed(&enc[..n]);
                    assert_eq!(used, n);
                    assert_eq!(ev, Some(Ok(&frame[..])));
                }
            }
        }
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(dec: &mut Decoder, input: &[u8]) -> Vec<Result<Vec<u8>, FrameError>> {
        let mut out = Vec::new();
        let mut input = input;
        while !input.is_empty() {
            let (used, ev) = dec.feed(input);
            input = &input[used..];
            if let Some(ev) = ev {
                out.push(ev.map(<[u8]>::to_vec));
            }
        }
        out
    }

    #[test]
    fn slip_escapes_and_double_end() {
        let packet = [b'/', END, ESC, 0];
        let mut out = [0u8; 16];
        let n = Framing::Slip.write(&packet, &mut out).expect("fits");
        assert_eq!(&out[..n], &[END, b'/', ESC, ESC_END, ESC, ESC_ESC, 0, END]);
        assert_eq!(n, Framing::Slip.encoded_len(&packet));
        let mut dec = Decoder::new(Framing::Slip, 64);
        assert_eq!(decode_all(&mut dec, &out[..n]), vec![Ok(packet.to_vec())]);
        assert!(dec.is_idle());
        assert_eq!(
            Framing::Slip.write(&packet, &mut out[..7]),
            Err(BuildError::BufferTooSmall {
                needed: 8,
                available: 7
            })
        );
    }

    #[test]
    fn slip_without_leading_end_and_split_anywhere() {
        // RFC 1055 senders send only a trailing END; OSC 1.1 senders both. Both decode.
        let stream = [b'a', b'b', END, END, ESC, ESC_END, END, END, END];
        for split in 0..=stream.len() {
            let mut dec = Decoder::new(Framing::Slip, 64);
            let mut got = decode_all(&mut dec, &stream[..split]);
            got.extend(decode_all(&mut dec, &stream[split..]));
            assert_eq!(
                got,
                vec![Ok(b"ab".to_vec()), Ok(vec![END])],
                "split {split}"
            );
        }
    }

    #[test]
    fn slip_errors_skip_to_the_next_end() {
        let mut dec = Decoder::new(Framing::Slip, 4);
        let stream = [
            END, 1, 2, 3, 4, 5, 6, END, // too long
            7, ESC, 9, 9, END, // bad escape
            8, ESC, END, // ESC then END
            10, END,
        ];
        assert_eq!(
            decode_all(&mut dec, &stream),
            vec![
                Err(FrameError::TooLong),
                Err(FrameError::BadEscape),
                Err(FrameError::BadEscape),
                Ok(vec![10])
            ]
        );
        // A frame of exactly the limit is fine.
        let mut dec = Decoder::new(Framing::Slip, 4);
        assert_eq!(
            decode_all(&mut dec, &[END, 1, 2, 3, 4, END]),
            vec![Ok(vec![1, 2, 3, 4])]
        );
    }

    #[test]
    fn length_prefix_frames_and_skips() {
        let mut dec = Decoder::new(Framing::LengthPrefix, 8);
        let mut stream = Vec::new();
        stream.extend_from_slice(&4u32.to_be_bytes());
        stream.extend_from_slice(b"/a\0\0");
        stream.extend_from_slice(&0u32.to_be_bytes());
        stream.extend_from_slice(&12u32.to_be_bytes());
        stream.extend_from_slice(&[0xAA; 12]);
        stream.extend_from_slice(&8u32.to_be_bytes());
        stream.extend_from_slice(b"/bb\0,\0\0\0");
        for split in 0..=stream.len() {
            let mut got = decode_all(&mut dec, &stream[..split]);
            got.extend(decode_all(&mut dec, &stream[split..]));
            assert_eq!(
                got,
                vec![
                    Ok(b"/a\0\0".to_vec()),
                    Err(FrameError::TooLong),
                    Ok(b"/bb\0,\0\0\0".to_vec())
                ],
                "split {split}"
            );
            assert!(dec.is_idle());
        }
        let mut out = [0u8; 8];
        assert_eq!(Framing::LengthPrefix.write(b"/a\0\0", &mut out), Ok(8));
        assert_eq!(out, [0, 0, 0, 4, b'/', b'a', 0, 0]);
    }

    #[test]
    fn error_names_are_stable() {
        for (i, e) in FrameError::ALL.iter().enumerate() {
            assert_eq!(e.index(), i);
        }
        assert_eq!(FrameError::TooLong.as_str(), "frame_too_long");
        assert_eq!(FrameError::BadEscape.as_str(), "bad_escape");
    }

    proptest! {
        #[test]
        fn any_packets_survive_any_chunking(
            packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..40), 0..6),
            chunk in 1usize..17,
            prefix in any::<bool>(),
        ) {
            let framing = if prefix { Framing::LengthPrefix } else { Framing::Slip };
            let mut stream = Vec::new();
            for p in &packets {
                let mut out = vec![0u8; framing.encoded_len(p)];
                let n = framing.write(p, &mut out).expect("sized");
                stream.extend_from_slice(&out[..n]);
            }
            let mut dec = Decoder::new(framing, 40);
            let mut got = Vec::new();
            for piece in stream.chunks(chunk) {
                got.extend(decode_all(&mut dec, piece));
            }
            let want: Vec<_> = packets.into_iter().map(Ok).collect();
            prop_assert_eq!(got, want);
            prop_assert!(dec.is_idle());
        }

        #[test]
        fn fuzz_body_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            fuzz_framing(&bytes);
        }
    }
}
