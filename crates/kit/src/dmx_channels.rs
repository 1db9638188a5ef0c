//! The channels of a DMX universe, for every backend whose instances are universes (sACN,
//! Art-Net): names `N` (8 bit) and `N+M` (16 bit, coarse slot `N` first), slots 1..512, with
//! MIDIMonster's conflict rules; the per-instance slot table; lanes and frame routes; events
//! from a changed universe and values written into one.
//!
//! A backend keeps one [`SlotMap`] per instance and calls it at four points:
//!
//! * `Backend::channel` → [`SlotMap::lookup`]: parses the name, claims its slots, asks the core
//!   for the id (key = the 0-based coarse slot, as MIDIMonster's channel identifier) and
//!   declares 8-bit channels *lanes* (byte `N-1` of the instance's frame), so that slot-for-slot
//!   mappings between universes become frame routes;
//! * `Backend::plan` → [`SlotMap::plan`]: which inputs still need events, and whether the
//!   universe is copied as a frame;
//! * on a received universe → [`SlotMap::report`] with the changed slots: the frame (if routed)
//!   and one event per changed input channel;
//! * `Backend::handle` → [`SlotMap::spec_of_key`] and [`write_value`] per delivery, and
//!   `Backend::handle_frames` → `FrameCopy::apply` on the same 512 bytes.
//!
//! Why one table per instance indexed by slot: both directions need O(1) answers on the hot path
//! (which channel owns a changed slot; which slots a delivered key writes), and the core hands the
//! key back with every delivery, so no map is consulted at run time. A slot has one role only, so
//! the coarse slot is an unambiguous key.

use std::fmt;

use patchbay_core::{
    ChannelError, ChannelId, ChannelIds, Direction, InstanceId, RoutePlan, Sink, Value,
};
use patchbay_dmx::{MAX_SLOTS, SlotSet};

/// A parsed channel name; slots are 0-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelSpec {
    /// The 8-bit channel's slot, or the wide channel's high byte.
    pub coarse: u16,
    /// The wide channel's low byte (`M` of `N+M`).
    pub fine: Option<u16>,
}

impl fmt::Display for ChannelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.fine {
            None => write!(f, "{}", self.coarse + 1),
            Some(fine) => write!(f, "{}+{}", self.coarse + 1, fine + 1),
        }
    }
}

const SYNTAX: &str = "expected N or N+M with slot numbers 1..512 (e.g. 5 or 10+11)";

fn slot_number(text: &str) -> Result<u16, String> {
    // ^[1-9][0-9]*$ : no sign, no leading zero, no blanks, no trailing text (D20).
    let ok = text
        .as_bytes()
        .first()
        .is_some_and(|b| (b'1'..=b'9').contains(b))
        && text.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return Err(SYNTAX.to_string());
    }
    match text.parse::<u32>() {
        Ok(n) if n as usize <= MAX_SLOTS => Ok((n - 1) as u16),
        _ => Err(format!("slot {text} is outside 1..512")),
    }
}

/// Parses `N` or `N+M` strictly (no sign, blank, leading zero or trailing text; D20); the error
/// is the reason only.
pub fn parse_spec(spec: &str) -> Result<ChannelSpec, String> {
    let (coarse, fine) = match spec.split_once('+') {
        None => (slot_number(spec)?, None),
        Some((a, b)) => (slot_number(a)?, Some(slot_number(b)?)),
    };
    if fine == Some(coarse) {
        return Err(format!(
            "a wide channel needs two different slots ({spec} uses slot {} twice)",
            coarse + 1
        ));
    }
    Ok(ChannelSpec { coarse, fine })
}

/// The role of one slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum SlotUse {
    #[default]
    Free,
    Single,
    Coarse {
        fine: u16,
    },
    Fine {
        coarse: u16,
    },
}

/// Marks a slot without an input channel.
const NO_INPUT: u32 = u32::MAX;

#[cold]
#[inline(never)]
fn new_inputs() -> Box<[u32; MAX_SLOTS]> {
    Box::new([NO_INPUT; MAX_SLOTS])
}

/// Which slots an instance's channels use, and the channel ids for events.
#[derive(Clone)]
pub struct SlotMap {
    uses: [SlotUse; MAX_SLOTS],
    /// Channel id of the channel whose coarse slot is the index, once it is used as an input
    /// ([`NO_INPUT`]: none). Allocated with the first input: output instances never need it,
    /// and with a thousand of each it was 8 MB to zero at start-up.
    input: Option<Box<[u32; MAX_SLOTS]>>,
    inputs: usize,
    /// Input channels still reported as events ([`SlotMap::keep_events`]).
    evented: usize,
    outputs: usize,
    /// The universe is copied by frame routes: [`SlotMap::report`] reports it as a frame.
    frame_routed: bool,
}

impl Default for SlotMap {
    fn default() -> Self {
        SlotMap {
            uses: [SlotUse::Free; MAX_SLOTS],
            input: None,
            inputs: 0,
            evented: 0,
            outputs: 0,
            frame_routed: false,
        }
    }
}

impl fmt::Debug for SlotMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlotMap")
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish_non_exhaustive()
    }
}

fn describe(uses: &[SlotUse; MAX_SLOTS], slot: u16) -> String {
    let n = slot + 1;
    match uses[usize::from(slot)] {
        SlotUse::Free => format!("slot {n} is free"),
        SlotUse::Single => format!("slot {n} is already mapped as 8-bit channel {n}"),
        SlotUse::Coarse { fine } => format!(
            "slot {n} is already the coarse slot of wide channel {n}+{}",
            fine + 1
        ),
        SlotUse::Fine { coarse } => format!(
            "slot {n} is already the fine slot of wide channel {}+{n}",
            coarse + 1
        ),
    }
}

impl SlotMap {
    /// The instance's map, made on its first channel: an instance without channels (most of a
    /// large configuration's outputs) costs no 6 KB table.
    pub fn get_or_new(map: &mut Option<Box<SlotMap>>) -> &mut SlotMap {
        // Out of line and cold: inlined, the 6 KB default was built on the stack on every
        // channel lookup, even when the map existed (10 % of start-up with 512,000 mappings).
        #[cold]
        #[inline(never)]
        fn new() -> Box<SlotMap> {
            Box::default()
        }
        map.get_or_insert_with(new)
    }

    /// One mapping's use of channel `name` of `instance` as `direction` (`Backend::channel`):
    /// parsed, its slots claimed, its id resolved through `ids`, an 8-bit channel declared a
    /// lane at its slot, an input recorded for events. The error names the channel and says
    /// what is wrong; nothing changes then.
    pub fn lookup(
        &mut self,
        instance: InstanceId,
        name: &str,
        direction: Direction,
        ids: &mut dyn ChannelIds,
    ) -> Result<(ChannelId, ChannelSpec), ChannelError> {
        let fail = |reason: String| ChannelError {
            message: format!("channel '{name}': {reason}"),
        };
        let spec = parse_spec(name).map_err(fail)?;
        self.claim(spec).map_err(fail)?;
        let id = ids.resolve(instance, u64::from(spec.coarse));
        if spec.fine.is_none() {
            // An 8-bit channel is one byte of the universe: slot-for-slot mappings between
            // universes become frame routes (one copy per packet instead of an event per slot).
            ids.set_lane(id, spec.coarse);
        }
        match direction {
            Direction::Input => self.set_input(spec, id),
            Direction::Output => self.add_output(),
        }
        Ok((id, spec))
    }

    /// Takes in the frozen routing (`Backend::plan`): inputs whose every target is served by a
    /// frame route are no longer reported as events, and the universe is reported as a frame
    /// if a frame route copies it.
    pub fn plan(&mut self, instance: InstanceId, plan: &RoutePlan<'_>) {
        self.frame_routed = plan.routes_frame(instance);
        self.keep_events(|id| plan.routes_events(id));
    }

    /// Whether [`SlotMap::report`] reports the universe as a frame.
    pub fn frame_routed(&self) -> bool {
        self.frame_routed
    }

    /// Reports a received universe of `instance` whose slots `changes` changed: the whole
    /// universe as a frame if it is routed as one, then the events of [`SlotMap::emit`].
    /// Returns the number of events.
    #[inline]
    pub fn report(
        &self,
        instance: InstanceId,
        changes: &SlotSet,
        slots: &[u8; MAX_SLOTS],
        sink: &mut Sink<'_>,
    ) -> usize {
        if self.frame_routed {
            sink.push_frame(instance, slots);
        }
        self.emit(changes, slots, sink)
    }

    /// Records one use of `spec`: the same spec again is fine, any other use of its slots is
    /// an error (MIDIMonster's rules). Nothing changes on error.
    pub fn claim(&mut self, spec: ChannelSpec) -> Result<(), String> {
        let c = usize::from(spec.coarse);
        match spec.fine {
            None => match self.uses[c] {
                SlotUse::Free | SlotUse::Single => self.uses[c] = SlotUse::Single,
                _ => return Err(describe(&self.uses, spec.coarse)),
            },
            Some(fine) => {
                let f = usize::from(fine);
                let coarse_ok = matches!(self.uses[c], SlotUse::Free)
                    || self.uses[c] == SlotUse::Coarse { fine };
                if !coarse_ok {
                    return Err(describe(&self.uses, spec.coarse));
                }
                let fine_ok = matches!(self.uses[f], SlotUse::Free)
                    || self.uses[f]
                        == SlotUse::Fine {
                            coarse: spec.coarse,
                        };
                if !fine_ok {
                    return Err(describe(&self.uses, fine));
                }
                self.uses[c] = SlotUse::Coarse { fine };
                self.uses[f] = SlotUse::Fine {
                    coarse: spec.coarse,
                };
            }
        }
        Ok(())
    }

    /// Marks the channel of `spec` (already claimed) as a mapping source with id `id`.
    pub fn set_input(&mut self, spec: ChannelSpec, id: ChannelId) {
        let c = usize::from(spec.coarse);
        let input = self.input.get_or_insert_with(new_inputs);
        if input[c] == NO_INPUT {
            self.inputs += 1;
            self.evented += 1;
        }
        input[c] = id.0;
    }

    /// Stops reporting events for input channels `routed` says nothing receives as events
    /// (their targets are served by frame routes). They stay inputs: the universe is still
    /// received, its frame still reported.
    pub fn keep_events(&mut self, routed: impl Fn(ChannelId) -> bool) {
        let Some(input) = self.input.as_deref_mut() else {
            return;
        };
        for id in input.iter_mut() {
            if *id != NO_INPUT && !routed(ChannelId(*id)) {
                *id = NO_INPUT;
                self.evented -= 1;
            }
        }
    }

    /// Counts an output use.
    pub fn add_output(&mut self) {
        self.outputs += 1;
    }

    /// Whether a channel is used as a mapping source (the universe must be received).
    pub fn has_inputs(&self) -> bool {
        self.inputs > 0
    }

    /// Whether a channel is used as a mapping target (the universe is sent).
    pub fn has_outputs(&self) -> bool {
        self.outputs > 0
    }

    /// The channel whose key (0-based coarse slot) is `key`, as claimed.
    #[inline]
    pub fn spec_of_key(&self, key: u64) -> Option<ChannelSpec> {
        let c = usize::try_from(key).ok()?;
        match *self.uses.get(c)? {
            SlotUse::Single => Some(ChannelSpec {
                coarse: c as u16,
                fine: None,
            }),
            SlotUse::Coarse { fine } => Some(ChannelSpec {
                coarse: c as u16,
                fine: Some(fine),
            }),
            SlotUse::Free | SlotUse::Fine { .. } => None,
        }
    }

    /// Pushes one event per input channel with a changed slot, in ascending order of each
    /// channel's lowest changed slot; wide channels once, as coarse×256+fine (16 bit).
    /// Returns the number of events.
    #[inline]
    pub fn emit(&self, changes: &SlotSet, slots: &[u8; MAX_SLOTS], sink: &mut Sink<'_>) -> usize {
        let Some(input) = self.input.as_deref().filter(|_| self.evented > 0) else {
            return 0;
        };
        let mut n = 0;
        for s in changes.iter() {
            let (coarse, other) = match self.uses[s] {
                SlotUse::Free => continue,
                SlotUse::Single => {
                    let id = input[s];
                    if id != NO_INPUT {
                        sink.push(ChannelId(id), Value::from_raw(u64::from(slots[s]), 8));
                        n += 1;
                    }
                    continue;
                }
                SlotUse::Coarse { fine } => (s, usize::from(fine)),
                SlotUse::Fine { coarse } => (usize::from(coarse), usize::from(coarse)),
            };
            let id = input[coarse];
            if id == NO_INPUT {
                continue;
            }
            let id = ChannelId(id);
            // Emitted already at the partner slot if that one changed and comes first.
            if other < s && changes.contains(other) {
                continue;
            }
            let fine = match self.uses[coarse] {
                SlotUse::Coarse { fine } => usize::from(fine),
                _ => continue,
            };
            let v = u64::from(slots[coarse]) << 8 | u64::from(slots[fine]);
            sink.push(id, Value::from_raw(v, 16));
            n += 1;
        }
        n
    }
}

/// Writes `value` into `slots` for channel `spec`; returns whether a byte changed.
/// 8-bit: `to_raw(8)`; wide: `to_raw(16)` split into coarse (high) and fine (low) bytes.
#[inline]
pub fn write_value(slots: &mut [u8; MAX_SLOTS], spec: ChannelSpec, value: Value) -> bool {
    let c = usize::from(spec.coarse);
    match spec.fine {
        None => {
            let v = value.to_raw(8) as u8;
            let changed = slots[c] != v;
            slots[c] = v;
            changed
        }
        Some(fine) => {
            let v = value.to_raw(16);
            let (hi, lo) = ((v >> 8) as u8, v as u8);
            let f = usize::from(fine);
            let changed = slots[c] != hi || slots[f] != lo;
            slots[c] = hi;
            slots[f] = lo;
            changed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_core::testing::{freeze, plan, sink, sink_with_frames};
    use patchbay_core::{ChannelRegistry, Event, RoutingBuilder};
    use proptest::prelude::*;

    fn spec(s: &str) -> ChannelSpec {
        parse_spec(s).expect("valid spec")
    }

    #[test]
    fn specs_parse_strictly() {
        assert_eq!(
            parse_spec("1"),
            Ok(ChannelSpec {
                coarse: 0,
                fine: None
            })
        );
        assert_eq!(
            parse_spec("512"),
            Ok(ChannelSpec {
                coarse: 511,
                fine: None
            })
        );
        assert_eq!(
            parse_spec("10+3"),
            Ok(ChannelSpec {
                coarse: 9,
                fine: Some(2)
            })
        );
        for bad in [
            "", "0", "05", "5abc", "1+2junk", "+1", "1+", "1++2", " 1", "1 ", "-1", "1+0", "a",
            "1.5", "1+2+3",
        ] {
            assert_eq!(parse_spec(bad), Err(SYNTAX.to_string()), "{bad:?}");
        }
        assert_eq!(parse_spec("513"), Err("slot 513 is outside 1..512".into()));
        assert_eq!(
            parse_spec("1+600"),
            Err("slot 600 is outside 1..512".into())
        );
        assert_eq!(
            parse_spec("99999999999"),
            Err("slot 99999999999 is outside 1..512".into())
        );
        assert_eq!(
            parse_spec("7+7"),
            Err("a wide channel needs two different slots (7+7 uses slot 7 twice)".into())
        );
        assert_eq!(spec("10+11").to_string(), "10+11");
        assert_eq!(spec("4").to_string(), "4");
    }

    #[test]
    fn same_spec_again_is_allowed_conflicts_are_not() {
        let mut m = SlotMap::default();
        m.claim(spec("1")).unwrap();
        m.claim(spec("1")).unwrap();
        m.claim(spec("10+11")).unwrap();
        m.claim(spec("10+11")).unwrap();
        m.claim(spec("30+20")).unwrap();
        assert_eq!(
            m.claim(spec("1+2")),
            Err("slot 1 is already mapped as 8-bit channel 1".into())
        );
        assert_eq!(
            m.claim(spec("10")),
            Err("slot 10 is already the coarse slot of wide channel 10+11".into())
        );
        assert_eq!(
            m.claim(spec("11")),
            Err("slot 11 is already the fine slot of wide channel 10+11".into())
        );
        assert_eq!(
            m.claim(spec("10+12")),
            Err("slot 10 is already the coarse slot of wide channel 10+11".into())
        );
        assert_eq!(
            m.claim(spec("12+11")),
            Err("slot 11 is already the fine slot of wide channel 10+11".into())
        );
        assert_eq!(
            m.claim(spec("11+10")),
            Err("slot 11 is already the fine slot of wide channel 10+11".into())
        );
        assert_eq!(
            m.claim(spec("5+1")),
            Err("slot 1 is already mapped as 8-bit channel 1".into())
        );
        // A failed claim changes nothing: slot 5 is still free.
        m.claim(spec("5")).unwrap();
        assert_eq!(m.spec_of_key(4), Some(spec("5")));
        assert_eq!(m.spec_of_key(29), Some(spec("30+20")));
        assert_eq!(m.spec_of_key(19), None, "fine slots are not keys");
        assert_eq!(m.spec_of_key(600), None);
    }

    fn emitted(m: &SlotMap, changed: &[usize], slots: &[u8; MAX_SLOTS]) -> Vec<(u32, u64, u8)> {
        let mut set = SlotSet::EMPTY;
        for &c in changed {
            set.insert(c);
        }
        let mut out: Vec<Event> = Vec::new();
        let n = m.emit(&set, slots, &mut sink(&mut out));
        assert_eq!(n, out.len());
        out.iter()
            .map(|e| {
                let (raw, bits) = e.value.raw().expect("raw");
                (e.channel.0, raw, bits)
            })
            .collect()
    }

    #[test]
    fn events_in_order_of_lowest_changed_slot_wide_once() {
        let mut m = SlotMap::default();
        // channel ids: 1 -> 100, 10+11 -> 101, 30+5 -> 102 (fine below coarse), 40 output only.
        for (s, id) in [("1", 100), ("10+11", 101), ("30+5", 102)] {
            m.claim(spec(s)).unwrap();
            m.set_input(spec(s), ChannelId(id));
        }
        m.claim(spec("40")).unwrap();
        m.add_output();
        let mut slots = [0u8; MAX_SLOTS];
        slots[0] = 255;
        slots[9] = 0x12;
        slots[10] = 0x34;
        slots[29] = 0xAB;
        slots[4] = 0xCD;
        slots[39] = 9;
        slots[99] = 7;
        // Everything changed: 30+5 comes first (its fine slot 5 is the lowest), then 1... no:
        // slot 1 (index 0) < slot 5 (index 4) < slot 10 (index 9).
        assert_eq!(
            emitted(&m, &[0, 4, 9, 10, 29, 39, 99], &slots),
            vec![(100, 255, 8), (102, 0xABCD, 16), (101, 0x1234, 16)]
        );
        // Only the fine slot of 10+11 changed: one event with the full 16-bit value.
        assert_eq!(emitted(&m, &[10], &slots), vec![(101, 0x1234, 16)]);
        // Only the coarse slot of 30+5 changed.
        assert_eq!(emitted(&m, &[29], &slots), vec![(102, 0xABCD, 16)]);
        // Unmapped and output-only slots never produce events.
        assert_eq!(emitted(&m, &[39, 99, 200], &slots), vec![]);
    }

    #[test]
    fn lookup_claims_resolves_and_declares_8_bit_lanes() {
        let mut reg = ChannelRegistry::new();
        let mut m = SlotMap::default();
        let i = InstanceId(3);
        let (a, spec) = m.lookup(i, "5", Direction::Input, &mut reg).unwrap();
        assert_eq!(spec, parse_spec("5").unwrap());
        assert_eq!(reg.key_of(a), Some(4), "the key is the 0-based coarse slot");
        assert_eq!(reg.lane_of(a), Some(4), "8-bit: byte 4 of the frame");
        assert!(m.has_inputs() && !m.has_outputs());
        let (w, _) = m.lookup(i, "10+11", Direction::Output, &mut reg).unwrap();
        assert_eq!(reg.lane_of(w), None, "wide channels are no lanes");
        assert!(m.has_outputs());
        assert_eq!(m.lookup(i, "5", Direction::Output, &mut reg).unwrap().0, a);
        assert_eq!(
            m.lookup(i, "11", Direction::Input, &mut reg)
                .unwrap_err()
                .message,
            "channel '11': slot 11 is already the fine slot of wide channel 10+11"
        );
        assert_eq!(
            m.lookup(i, "0", Direction::Input, &mut reg)
                .unwrap_err()
                .message,
            "channel '0': expected N or N+M with slot numbers 1..512 (e.g. 5 or 10+11)"
        );
        assert_eq!(reg.len(), 2, "failed lookups allocate no id");
    }

    /// Universe `a` → `b` slot for slot on 1 (a frame route) and 10+11 (an event); the 8-bit
    /// input then reports no event, the universe is reported as a frame, the wide one as an
    /// event. Without routes (no plan) every input reports events and no frame.
    #[test]
    fn plan_and_report_split_frames_and_events() {
        let mut reg = ChannelRegistry::new();
        let (a, b) = (InstanceId(0), InstanceId(1));
        let (mut ma, mut mb) = (SlotMap::default(), SlotMap::default());
        let mut routes = RoutingBuilder::new();
        for name in ["1", "10+11"] {
            let (s, _) = ma.lookup(a, name, Direction::Input, &mut reg).unwrap();
            let (t, _) = mb.lookup(b, name, Direction::Output, &mut reg).unwrap();
            routes.add_edge(s, t);
        }
        let mut slots = [0u8; MAX_SLOTS];
        slots[0] = 7;
        slots[9] = 0x12;
        slots[10] = 0x34;
        let mut changes = SlotSet::EMPTY;
        for i in [0, 9, 10] {
            changes.insert(i);
        }
        let report = |m: &SlotMap| {
            let (mut events, mut frames) = (Vec::new(), patchbay_core::testing::FrameBuf::new());
            let n = m.report(
                a,
                &changes,
                &slots,
                &mut sink_with_frames(&mut events, &mut frames),
            );
            assert_eq!(n, events.len());
            let frames: Vec<(InstanceId, usize)> =
                frames.iter().map(|(i, f)| (i, f.len())).collect();
            let events: Vec<(u64, u8)> = events.iter().map(|e| e.value.raw().unwrap()).collect();
            (frames, events)
        };
        assert!(!ma.frame_routed());
        assert_eq!(report(&ma), (vec![], vec![(7, 8), (0x1234, 16)]));
        let (table, frames) = freeze(&routes, &reg);
        ma.plan(a, &plan(&table, &frames));
        mb.plan(b, &plan(&table, &frames));
        assert!(ma.frame_routed() && !mb.frame_routed());
        assert_eq!(report(&ma), (vec![(a, MAX_SLOTS)], vec![(0x1234, 16)]));
    }

    #[test]
    fn write_value_reports_only_byte_changes() {
        let mut slots = [0u8; MAX_SLOTS];
        assert!(!write_value(&mut slots, spec("1"), Value::from_raw(0, 8)));
        assert!(write_value(
            &mut slots,
            spec("1"),
            Value::from_normalised(1.0)
        ));
        assert_eq!(slots[0], 255);
        assert!(!write_value(&mut slots, spec("1"), Value::from_raw(255, 8)));
        // MIDI 64/127 rounds to 129 (the sACN backend README); re-sending it changes nothing (D15).
        assert!(write_value(&mut slots, spec("2"), Value::from_raw(64, 7)));
        assert_eq!(slots[1], 129);
        assert!(!write_value(&mut slots, spec("2"), Value::from_raw(64, 7)));
        assert!(write_value(
            &mut slots,
            spec("20+21"),
            Value::from_raw(4660, 16)
        ));
        assert_eq!((slots[19], slots[20]), (0x12, 0x34));
        assert!(write_value(
            &mut slots,
            spec("9+8"),
            Value::from_raw(0xFF01, 16)
        ));
        assert_eq!((slots[8], slots[7]), (0xFF, 0x01));
        // Clamped, never wrapped.
        assert!(write_value(
            &mut slots,
            spec("3"),
            Value::from_normalised(7.0)
        ));
        assert_eq!(slots[2], 255);
        assert!(!write_value(
            &mut slots,
            spec("3"),
            Value::from_normalised(1.0)
        ));
        write_value(&mut slots, spec("3"), Value::from_normalised(-1.0));
        assert_eq!(slots[2], 0);
    }

    #[test]
    fn every_8_and_16_bit_value_round_trips_through_slots() {
        let mut m = SlotMap::default();
        m.claim(spec("1")).unwrap();
        m.set_input(spec("1"), ChannelId(1));
        m.claim(spec("2+3")).unwrap();
        m.set_input(spec("2+3"), ChannelId(2));
        let mut slots = [0u8; MAX_SLOTS];
        for v in 0..=255u64 {
            // wire -> event -> wire
            slots[0] = v as u8;
            let ev = emitted(&m, &[0], &slots);
            assert_eq!(ev, vec![(1, v, 8)]);
            let mut out = [0u8; MAX_SLOTS];
            write_value(&mut out, spec("1"), Value::from_raw(ev[0].1, 8));
            assert_eq!(u64::from(out[0]), v);
        }
        for v in 0..=65535u64 {
            slots[1] = (v >> 8) as u8;
            slots[2] = v as u8;
            let ev = emitted(&m, &[1, 2], &slots);
            assert_eq!(ev, vec![(2, v, 16)]);
            let mut out = [0u8; MAX_SLOTS];
            write_value(&mut out, spec("2+3"), Value::from_raw(v, 16));
            assert_eq!(u64::from(out[1]) << 8 | u64::from(out[2]), v);
        }
    }

    proptest! {
        #[test]
        fn normalised_values_convert_like_the_spec(x in -2.0f64..3.0) {
            let mut slots = [0u8; MAX_SLOTS];
            write_value(&mut slots, spec("1"), Value::from_normalised(x));
            write_value(&mut slots, spec("2+3"), Value::from_normalised(x));
            let c = x.clamp(0.0, 1.0);
            prop_assert_eq!(u64::from(slots[0]), (c * 255.0).round() as u64);
            prop_assert_eq!(u64::from(slots[1]) << 8 | u64::from(slots[2]), (c * 65535.0).round() as u64);
        }

        #[test]
        fn parse_spec_accepts_exactly_the_grammar(s in "[0-9+a ]{0,8}") {
            let re_ok = {
                let part = |p: &str| !p.is_empty() && !p.starts_with('0') && p.bytes().all(|b| b.is_ascii_digit());
                match s.split_once('+') {
                    None => part(&s),
                    Some((a, b)) => part(a) && part(b),
                }
            };
            let r = parse_spec(&s);
            if !re_ok {
                prop_assert!(r.is_err());
            } else if let Ok(c) = r {
                prop_assert!(usize::from(c.coarse) < MAX_SLOTS);
                prop_assert_eq!(c.to_string(), s);
            }
        }
    }
}
