//! The configured paths of one instance: channel names resolved to dense path ids at
//! configuration time, and per path what input and output need (argument types and ranges, the
//! channel id of each argument, the last values sent).
//!
//! A channel key is `path id << 32 | argument index`, so a delivery finds its path and argument
//! by two array indices, and an incoming address finds its paths through
//! [`AddressSpace::lookup`] (one hash lookup for a literal address, a trie walk bounded by what a
//! pattern can reach), never by a scan over the paths.

use patchbay_core::Value;
use patchbay_core::{ChannelId, ChannelIds, Direction, InstanceId};
use patchbay_osc::address::{AddressSpace, PathId};
use patchbay_osc::channel::{ChannelName, Root};
use patchbay_osc::preconfig::Preconfig;
use patchbay_osc::value::{Level, OutArg, Param, denormalise};

/// Highest argument index a channel may name (`/path:N`): a message has at most a few dozen.
pub const MAX_ARG_INDEX: u32 = 255;

/// One configured path.
#[derive(Debug)]
pub struct PathEntry {
    /// The path as written in mappings (without the root), for logs.
    pub local: Box<str>,
    /// The address on the wire (root and path).
    pub address: Box<str>,
    /// The preconfigured argument types and ranges; empty when no `/PATTERN` line matched
    /// (input then maps each argument with its type's default range).
    pub params: Vec<Param>,
    /// The pattern that matched, for the log.
    pub pattern: Option<Box<str>>,
    /// Channel of argument `i` as an input, if mapped.
    pub inputs: Vec<Option<ChannelId>>,
    /// Types of the arguments sent: `params`, or 32-bit floats 0..1 when not preconfigured.
    pub out_types: Vec<Param>,
    /// The last value of each argument sent.
    pub out: Vec<OutArg>,
    /// A changed value waits to be sent.
    pub dirty: bool,
    /// Has output channels.
    pub output: bool,
}

/// The paths of one instance.
#[derive(Debug, Default)]
pub struct Paths {
    pub space: AddressSpace,
    pub entries: Vec<PathEntry>,
}

/// What `Paths::channel` resolved.
#[derive(Debug)]
pub struct Resolved {
    pub id: ChannelId,
    /// A warning for the mapping.
    pub warning: Option<String>,
}

/// The key of argument `index` of path `path`.
#[inline]
pub fn key(path: PathId, index: u32) -> u64 {
    (path.index() as u64) << 32 | u64::from(index)
}

/// Path index and argument index of a key.
#[inline]
pub fn split_key(key: u64) -> (usize, usize) {
    ((key >> 32) as usize, (key & 0xffff_ffff) as usize)
}

impl PathEntry {
    /// Sets output argument `arg` to `value`; true when the message must be sent (the value
    /// changed, or the argument is a trigger: `N`, `I`, `t` carry no value, every delivery
    /// sends). False for an argument the path does not send.
    #[inline]
    pub fn set(&mut self, arg: usize, value: Value) -> bool {
        let Some(param) = self.out_types.get(arg) else {
            return false;
        };
        let level = Level {
            normalised: value.normalised(),
            raw: value.raw(),
        };
        let new = denormalise(param, level);
        let trigger = matches!(param, Param::Nil | Param::Impulse | Param::Time);
        if self.out[arg] == new && !trigger {
            return false;
        }
        self.out[arg] = new;
        true
    }
}

impl Paths {
    /// Delivers `value` to channel `key`; marks its path for sending (once) in `dirty`.
    #[inline]
    pub fn set(&mut self, key: u64, value: Value, dirty: &mut Vec<u32>) {
        let (p, a) = split_key(key);
        if let Some(e) = self.entries.get_mut(p)
            && e.set(a, value)
            && !e.dirty
        {
            e.dirty = true;
            dirty.push(p as u32);
        }
    }

    /// Resolves channel `name` of `instance` (whose root and preconfiguration are given).
    #[allow(clippy::too_many_arguments)]
    pub fn channel(
        &mut self,
        instance: InstanceId,
        name: &str,
        direction: Direction,
        root: &Root,
        preconfig: &[Preconfig],
        has_destination: bool,
        ids: &mut dyn ChannelIds,
    ) -> Result<Resolved, String> {
        let ch = ChannelName::parse(name).map_err(|e| {
            format!(
                "channel '{name}': {e}; expected an OSC path such as /1/fader1, or /PATH:N for argument N (0 = first)"
            )
        })?;
        if ch.index > MAX_ARG_INDEX {
            return Err(format!(
                "channel '{name}': argument {} is more than a message carries (at most {MAX_ARG_INDEX})",
                ch.index
            ));
        }
        let address = root.join(ch.path);
        let pid = self
            .space
            .insert(&address)
            .map_err(|e| format!("channel '{name}': {e}"))?;
        if pid.index() == self.entries.len() {
            let found = preconfig.iter().find(|p| p.matches(ch.path));
            let params = found.map(|p| p.params().to_vec()).unwrap_or_default();
            self.entries.push(PathEntry {
                local: ch.path.into(),
                address: address.as_str().into(),
                out_types: params.clone(),
                out: params.iter().map(Param::initial).collect(),
                params,
                pattern: found.map(|p| p.pattern().into()),
                inputs: Vec::new(),
                dirty: false,
                output: false,
            });
        }
        let e = &mut self.entries[pid.index()];
        let index = ch.index as usize;
        let mut warning = None;
        if !e.params.is_empty() && index >= e.params.len() {
            return Err(format!(
                "channel '{name}': argument {index} does not exist, the preconfiguration {} of {} gives the message {} argument(s) (0..{})",
                e.pattern.as_deref().unwrap_or(""),
                ch.path,
                e.params.len(),
                e.params.len() - 1
            ));
        }
        match direction {
            Direction::Input => {
                if e.inputs.len() <= index {
                    e.inputs.resize(index + 1, None);
                }
            }
            Direction::Output => {
                if e.params.is_empty() {
                    if e.out_types.len() <= index {
                        e.out_types.resize(index + 1, Param::FLOAT32_DEFAULT);
                        e.out.resize(index + 1, Param::FLOAT32_DEFAULT.initial());
                    }
                    if !e.output {
                        warning = Some(format!(
                            "no /PATTERN = TYPES ... line of this instance matches {}: it is sent as float 0.0..1.0 (MIDIMonster sends nothing)",
                            ch.path
                        ));
                    }
                }
                if !has_destination {
                    warning = Some(
                        "the instance has no destination, so nothing is sent: set destination = HOST PORT or learn"
                            .to_string(),
                    );
                }
                e.output = true;
            }
        }
        let id = ids.resolve(instance, key(pid, ch.index));
        if direction == Direction::Input {
            e.inputs[index] = Some(id);
        }
        Ok(Resolved { id, warning })
    }

    /// Number of paths with output channels.
    pub fn outputs(&self) -> usize {
        self.entries.iter().filter(|e| e.output).count()
    }
}
