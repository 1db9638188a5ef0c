//! The MIDI channels of one instance: names resolved once at configuration time, events from
//! received messages, messages for delivered values, and the last value of every output.
//!
//! An instance may have several MIDI ports (JACK); a channel is a (port, `ChannelKey`) pair.
//! The core key of a channel is its index in this table (dense per instance), so the same name
//! used as a source and as a target is one channel, and a delivery finds its channel without a
//! lookup. The receive path finds a channel by (port, key) in a hash map (MIDI's key space is
//! too large for an array: 16 channels × 16384 (N)RPN parameters).

use patchbay_core::{
    ChannelCtx, ChannelError, ChannelId, InstanceId, OptionError, Part, Sink, Value,
};
use patchbay_midi::{
    ChannelKey, Input, KeyTarget, MAX_TEMPLATE_LEN, Message, OutputOptions, Raw, SysExTemplates,
    UnmatchedSysEx, Width,
};
use rustc_hash::FxHashMap;

use super::options::{Detect, parse_epn_tx, parse_note_off};

/// One channel.
#[derive(Clone, Copy, Debug)]
struct Slot {
    port: u16,
    key: ChannelKey,
    id: ChannelId,
    width: Width,
    /// The last value delivered (in the channel's width), re-sent after a reconnect.
    last: Option<u16>,
}

/// The MIDI channels and output options of one instance.
#[derive(Debug, Default)]
pub struct MidiChannels {
    templates: SysExTemplates,
    output: OutputOptions,
    slots: Vec<Slot>,
    /// (port << ChannelKey::BITS | key) → index in `slots`.
    index: FxHashMap<u64, u32>,
    /// Where a SysEx template is written (allocated on the first SysEx output, then reused).
    sysex: Vec<u8>,
}

/// What [`MidiChannels::configure`] made of an option line.
#[derive(Debug, PartialEq, Eq)]
pub enum Configured {
    /// A MIDI option, applied.
    Done,
    /// Not a MIDI option: the backend's own, or unknown.
    NotMine,
}

fn index_key(port: u16, key: ChannelKey) -> u64 {
    u64::from(port) << ChannelKey::BITS | key.get()
}

impl MidiChannels {
    /// No channels, MIDIMonster's output options.
    pub fn new() -> MidiChannels {
        MidiChannels::default()
    }

    /// The output options (`epn-tx`, `note-off`).
    pub fn output(&self) -> OutputOptions {
        self.output
    }

    /// The instance's SysEx templates.
    pub fn templates(&self) -> &SysExTemplates {
        &self.templates
    }

    /// Applies `epn-tx`, `note-off` or `sysex.NAME`; other keys are left to the backend.
    pub fn configure(&mut self, key: &str, value: &str) -> Result<Configured, OptionError> {
        match key {
            "epn-tx" => self.output.epn_tx = parse_epn_tx(key, value)?,
            "note-off" => self.output.note_off = parse_note_off(key, value)?,
            _ => match key.strip_prefix("sysex.") {
                Some(name) => {
                    self.templates
                        .define(name, value)
                        .map_err(|e| OptionError::Other {
                            at: if matches!(e, patchbay_midi::TemplateError::Name(_)) {
                                Part::Key
                            } else {
                                Part::Value
                            },
                            message: e.to_string(),
                        })?;
                }
                None => return Ok(Configured::NotMine),
            },
        }
        Ok(Configured::Done)
    }

    /// Resolves MIDI channel `name` of `port` (`ch0.note60`, `sysex.NAME`) and returns its id
    /// and its core key (the slot index).
    pub fn resolve(
        &mut self,
        instance: InstanceId,
        port: u16,
        name: &str,
        ctx: &mut ChannelCtx<'_>,
    ) -> Result<(ChannelId, u64), ChannelError> {
        let key = self.templates.resolve(name).map_err(|e| ChannelError {
            message: format!("'{name}': {e}"),
        })?;
        let ik = index_key(port, key);
        if let Some(&slot) = self.index.get(&ik) {
            let s = &self.slots[slot as usize];
            return Ok((s.id, u64::from(slot)));
        }
        let slot = u32::try_from(self.slots.len()).map_err(|_| ChannelError {
            message: "too many MIDI channels in one instance".into(),
        })?;
        let id = ctx.ids.resolve(instance, u64::from(slot));
        let width = match key.target() {
            Some(KeyTarget::SysEx(n)) => self.templates.get(n).map_or(Width::Seven, |t| t.width()),
            Some(KeyTarget::Voice(v)) => v.control.width(),
            None => Width::Seven,
        };
        self.slots.push(Slot {
            port,
            key,
            id,
            width,
            last: None,
        });
        self.index.insert(ik, slot);
        Ok((id, u64::from(slot)))
    }

    /// Number of channels.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True without channels.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Reports the channels `msg` (received on `port`, decoded by that port's `input`) sets;
    /// with `detect` on, logs each as `prefix` + its channel name, and a SysEx no template
    /// matches with a template to start from. Returns how many channels it set.
    pub fn receive(
        &self,
        port: u16,
        input: &mut Input,
        msg: &Message<'_>,
        sink: &mut Sink<'_>,
        detect: Detect,
        prefix: &str,
    ) -> usize {
        let (index, slots, templates) = (&self.index, &self.slots, &self.templates);
        let mut set = 0;
        let n = input.decode(msg, templates, |key, raw: Raw| {
            if let Some(&slot) = index.get(&index_key(port, key)) {
                let (v, bits) = raw.parts();
                sink.push(slots[slot as usize].id, Value::from_raw(v, bits));
                set += 1;
            }
            if detect == Detect::On {
                tracing::info!(target: "midi",
                    "detect: {prefix}{} = {} ({}-bit)",
                    templates.channel_name(key),
                    raw.value,
                    raw.width.bits()
                );
            }
        });
        if n == 0
            && detect == Detect::On
            && let Message::SysEx(bytes) = msg
        {
            tracing::info!(target: "midi", "detect: {prefix}: {}", UnmatchedSysEx(bytes));
        }
        set
    }

    /// A value delivered to channel `slot` (a core key from [`resolve`](Self::resolve)): kept as
    /// the channel's last value and, when `send`, handed to `emit` as the messages to send on
    /// the channel's port. Returns the port, or `None` for a key that is not a channel here.
    pub fn deliver(
        &mut self,
        slot: u64,
        value: Value,
        send: bool,
        emit: impl FnMut(u16, &Message<'_>),
    ) -> Option<u16> {
        let s = self.slots.get_mut(usize::try_from(slot).ok()?)?;
        let raw = value.to_raw(s.width.bits()).min(u64::from(s.width.max())) as u16;
        s.last = Some(raw);
        let s = *s;
        if send {
            self.emit(s, raw, emit);
        }
        Some(s.port)
    }

    /// Sends the last value of every channel of `port` that has one, in the order the channels
    /// were defined: what a device or server that came back is given.
    pub fn resend(&mut self, port: u16, mut emit: impl FnMut(u16, &Message<'_>)) -> usize {
        let mut n = 0;
        for i in 0..self.slots.len() {
            let s = self.slots[i];
            if s.port == port
                && let Some(raw) = s.last
            {
                self.emit(s, raw, &mut emit);
                n += 1;
            }
        }
        n
    }

    fn emit(&mut self, s: Slot, raw: u16, mut emit: impl FnMut(u16, &Message<'_>)) {
        match s.key.target() {
            Some(KeyTarget::Voice(voice)) => {
                for m in &self.output.messages(voice, raw) {
                    emit(s.port, m);
                }
            }
            Some(KeyTarget::SysEx(n)) => {
                let Some(template) = self.templates.get(n) else {
                    return;
                };
                self.sysex.resize(MAX_TEMPLATE_LEN, 0);
                if let Ok(len) = template.write(raw, &mut self.sysex) {
                    emit(s.port, &Message::SysEx(&self.sysex[..len]));
                }
            }
            None => {}
        }
    }

    /// The channel name of `slot` without its port (`ch0.cc7`, `sysex.NAME`), for logs.
    pub fn name(&self, slot: u64) -> Option<String> {
        let s = self.slots.get(usize::try_from(slot).ok()?)?;
        Some(self.templates.channel_name(s.key).to_string())
    }

    /// The last value of `slot`, if one was delivered.
    pub fn last(&self, slot: u64) -> Option<u16> {
        self.slots.get(usize::try_from(slot).ok()?)?.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(ch: &mut MidiChannels, slot: u64, value: Value) -> Vec<(u16, Vec<u8>)> {
        let mut out = Vec::new();
        ch.deliver(slot, value, true, |port, m| {
            let mut b = [0u8; 1100];
            let n = m.encode(&mut b).expect("encodes");
            out.push((port, b[..n].to_vec()));
        });
        out
    }

    /// The core's registry stands in: the same (instance, key) gives the same id.
    #[derive(Default)]
    struct Ids(Vec<(InstanceId, u64)>);

    impl patchbay_core::ChannelIds for Ids {
        fn resolve(&mut self, instance: InstanceId, key: u64) -> ChannelId {
            let i = self.0.iter().position(|&x| x == (instance, key));
            let i = i.unwrap_or_else(|| {
                self.0.push((instance, key));
                self.0.len() - 1
            });
            ChannelId(i as u32)
        }
    }

    fn table() -> (Ids, InstanceId, MidiChannels) {
        (Ids::default(), InstanceId(0), MidiChannels::new())
    }

    fn resolve(
        ids: &mut Ids,
        ch: &mut MidiChannels,
        inst: InstanceId,
        port: u16,
        name: &str,
    ) -> Result<(ChannelId, u64), ChannelError> {
        let mut warnings = Vec::new();
        let mut ctx = ChannelCtx {
            ids,
            warnings: &mut warnings,
        };
        ch.resolve(inst, port, name, &mut ctx)
    }

    #[test]
    fn one_channel_per_port_and_name_whatever_the_spelling() {
        let (mut rig, inst, mut ch) = table();
        let a = resolve(&mut rig, &mut ch, inst, 0, "ch0.cc7").expect("valid");
        assert_eq!(resolve(&mut rig, &mut ch, inst, 0, "channel0.cc007"), Ok(a));
        let b = resolve(&mut rig, &mut ch, inst, 1, "ch0.cc7").expect("valid");
        assert_ne!(a, b);
        assert_eq!((a.1, b.1), (0, 1));
        let e = resolve(&mut rig, &mut ch, inst, 0, "ch16.cc7").unwrap_err();
        assert!(e.message.contains("0..15"), "{e}");
        let e = resolve(&mut rig, &mut ch, inst, 0, "sysex.nope").unwrap_err();
        assert!(e.message.contains("sysex.nope = F0"), "{e}");
    }

    #[test]
    fn values_become_messages_and_are_kept_for_a_resend() {
        let (mut rig, inst, mut ch) = table();
        assert_eq!(ch.configure("epn-tx", "short"), Ok(Configured::Done));
        assert_eq!(
            ch.configure("note-off", "note-off 10"),
            Ok(Configured::Done)
        );
        assert_eq!(
            ch.configure("sysex.cut", "F0 43 {hi} {lo} F7"),
            Ok(Configured::Done)
        );
        assert_eq!(ch.configure("name", "x"), Ok(Configured::NotMine));
        assert!(ch.configure("sysex.a b", "F0 {v} F7").is_err());
        let note = resolve(&mut rig, &mut ch, inst, 0, "ch1.note60")
            .expect("note")
            .1;
        let nrpn = resolve(&mut rig, &mut ch, inst, 0, "ch0.nrpn900")
            .expect("nrpn")
            .1;
        let cut = resolve(&mut rig, &mut ch, inst, 2, "sysex.cut")
            .expect("sysex")
            .1;
        assert_eq!(
            messages(&mut ch, note, Value::from_raw(255, 8)),
            [(0, vec![0x91, 60, 127])]
        );
        assert_eq!(
            messages(&mut ch, note, Value::from_raw(0, 8)),
            [(0, vec![0x81, 60, 10])]
        );
        assert_eq!(
            messages(&mut ch, nrpn, Value::from_raw(65535, 16)),
            [
                (0, vec![0xB0, 99, 7]),
                (0, vec![0xB0, 98, 4]),
                (0, vec![0xB0, 6, 127]),
                (0, vec![0xB0, 38, 127])
            ]
        );
        assert_eq!(
            messages(&mut ch, cut, Value::from_raw(130, 14)),
            [(2, vec![0xF0, 0x43, 1, 2, 0xF7])]
        );
        // Not sent while down, but kept.
        assert_eq!(
            ch.deliver(nrpn, Value::from_raw(1, 14), false, |_, _| panic!()),
            Some(0)
        );
        let mut again = Vec::new();
        assert_eq!(
            ch.resend(0, |p, m| again.push((p, m.status(), m.encoded_len()))),
            2
        );
        assert_eq!(again.len(), 1 + 4, "the note off, then the NRPN");
        assert_eq!(ch.last(nrpn), Some(1));
        assert_eq!(ch.last(cut), Some(130));
        assert_eq!(ch.resend(1, |_, _| panic!("nothing on port 1")), 0);
        assert_eq!(ch.deliver(99, Value::ZERO, true, |_, _| panic!()), None);
    }

    #[test]
    fn received_messages_reach_their_channels_exactly() {
        let (mut rig, inst, mut ch) = table();
        let cc = resolve(&mut rig, &mut ch, inst, 0, "ch0.cc7").expect("cc");
        let pitch = resolve(&mut rig, &mut ch, inst, 0, "ch0.pitch").expect("pitch");
        let other_port = resolve(&mut rig, &mut ch, inst, 1, "ch0.cc7").expect("cc");
        let mut events = Vec::new();
        let mut sink = patchbay_core::testing::sink(&mut events);
        let mut input = Input::new();
        let msgs = [
            Message::ControlChange {
                channel: 0,
                controller: 7,
                value: 127,
            },
            Message::PitchBend {
                channel: 0,
                value: 8192,
            },
            Message::ControlChange {
                channel: 1,
                controller: 7,
                value: 1,
            },
        ];
        let set: Vec<usize> = msgs
            .iter()
            .map(|m| ch.receive(0, &mut input, m, &mut sink, Detect::On, "m."))
            .collect();
        assert_eq!(set, [1, 1, 0]);
        let got: Vec<_> = events.iter().map(|e| (e.channel, e.value)).collect();
        assert_eq!(
            got,
            [
                (cc.0, Value::from_raw(127, 7)),
                (pitch.0, Value::from_raw(8192, 14))
            ]
        );
        assert_eq!(got[0].1.normalised(), 1.0);
        assert_ne!(other_port.0, cc.0);
    }
}
