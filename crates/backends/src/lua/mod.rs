//! The `lua` backend: Lua 5.4 scripts with MIDIMonster's script API (user documentation:
//! README.md beside this file; contract: `patchbay_core::Backend`).
//!
//! Each `[lua NAME]` instance is one interpreter. Its scripts are read and compiled while the
//! configuration is read (a missing file or a syntax error is a configuration error, `--check`
//! finds it) and run when the backend starts (MIDIMonster runs them while reading the
//! configuration; patchbay has no effects before start). A value delivered to a channel calls
//! the global function of the channel's name (or the `default-handler`) with the normalised
//! level; `output` reports events. Timers (`interval`) and threads (`thread`, `sleep`) run from
//! the loop: the backend's deadline is the next of them, and there is no thread of the
//! operating system.
//!
//! Layout: `instance` holds an interpreter and makes the calls into Lua, [`api`] is the script
//! API, `shared` the state the API and the backend share, `runtime` runs timers and threads,
//! [`guard`] the instruction budget and the memory limit, [`script`] loading and syntax error
//! positions, `errors` how a failure reads in the log, [`counters`] what is counted,
//! [`options`] the limit options.

pub mod api;
pub mod counters;
mod errors;
pub mod guard;
mod instance;
pub mod options;
mod runtime;
pub mod script;
mod shared;
#[cfg(test)]
mod tests;

use std::time::Instant;

use patchbay_core::{
    Backend, ChannelCtx, ChannelError, ChannelId, ConfigCtx, Delivery, Direction, FatalError,
    InstanceId, Io, OptionError, Part, Ready, Sink, StartError, Stat,
};

use instance::Instance;

/// The lua backend; one value serves all `[lua NAME]` instances.
#[derive(Default)]
pub struct LuaBackend {
    instances: Vec<Instance>,
    /// Index into `instances` by `InstanceId`.
    by_id: patchbay_kit::instances::InstanceIndex,
    deadline: Option<Instant>,
    /// `shutdown` ran the cleanup handlers: no more Lua runs.
    stopped: bool,
}

impl LuaBackend {
    /// The backend, with no instances yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn index(&self, id: InstanceId) -> Option<usize> {
        self.by_id.get(id)
    }

    fn instance(&mut self, id: InstanceId) -> Option<&mut Instance> {
        let i = self.index(id)?;
        self.instances.get_mut(i)
    }

    fn update_deadline(&mut self) {
        if self.stopped {
            self.deadline = None;
            return;
        }
        self.deadline = self.instances.iter().filter_map(Instance::deadline).min();
    }

    /// The instance with id `id`, for tests.
    #[cfg(test)]
    fn get(&self, id: InstanceId) -> Option<&Instance> {
        self.instances.get(self.index(id)?)
    }
}

/// The monotonic clock in milliseconds, MIDIMonster's `timestamp()` base.
fn monotonic_ms() -> u64 {
    use nix::time::{ClockId, clock_gettime};
    match clock_gettime(ClockId::CLOCK_MONOTONIC) {
        Ok(t) => {
            let secs = u64::try_from(t.tv_sec()).unwrap_or(0);
            let ms = u64::try_from(t.tv_nsec()).unwrap_or(0) / 1_000_000;
            secs.saturating_mul(1000).saturating_add(ms)
        }
        Err(_) => 0,
    }
}

impl Backend for LuaBackend {
    fn name(&self) -> &'static str {
        "lua"
    }

    /// A handler's `output` is reported in the same turn, so values can come back through a
    /// mapping cycle: the core warns about those at config time.
    fn reemits(&self) -> bool {
        true
    }

    /// MIDIMonster's lua backend takes no global options (any is an error).
    fn configure(
        &mut self,
        key: &str,
        _value: &str,
        _ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        Err(OptionError::Other {
            at: Part::Key,
            message: format!(
                "the lua backend has no global option '{key}': scripts are set per instance \
                 ([lua NAME] with {})",
                options::KNOWN.join(", ")
            ),
        })
    }

    fn create_instance(&mut self, id: InstanceId, name: &str) -> Result<(), OptionError> {
        // The clock value is a placeholder until start; nothing runs before it.
        let instance =
            Instance::new(id, name, Instant::now()).map_err(|message| OptionError::Other {
                at: Part::Key,
                message,
            })?;
        self.by_id.insert(id, self.instances.len());
        self.instances.push(instance);
        Ok(())
    }

    fn configure_instance(
        &mut self,
        id: InstanceId,
        key: &str,
        value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        let unknown = || OptionError::Unknown {
            key: key.into(),
            known: options::KNOWN,
        };
        let Some(inst) = self.instance(id) else {
            return Err(unknown());
        };
        let at_value = |message| OptionError::Other {
            at: Part::Value,
            message,
        };
        match key {
            "script" | "source" => {
                let shown = value.trim();
                if shown.is_empty() {
                    return Err(OptionError::Invalid {
                        key: key.into(),
                        value: value.into(),
                        expected: "the path of a Lua file, relative to this configuration file"
                            .into(),
                    });
                }
                let path = ctx.base_dir.join(shown);
                inst.add_script(&path, shown).map_err(at_value)
            }
            "default-handler" => {
                let name = value.trim();
                if name.is_empty() {
                    return Err(OptionError::Invalid {
                        key: key.into(),
                        value: value.into(),
                        expected: "the name of a global Lua function".into(),
                    });
                }
                inst.default_handler = Some(name.into());
                Ok(())
            }
            "memory-limit" => {
                let bytes = options::memory_limit(key, value)?;
                inst.set_memory_limit(bytes).map_err(at_value)
            }
            "instruction-limit" => {
                inst.set_instruction_limit(options::instruction_limit(key, value)?);
                Ok(())
            }
            _ => Err(unknown()),
        }
    }

    /// Any non-empty name is a channel (MIDIMonster's configurations use digits and dots too).
    fn channel(
        &mut self,
        id: InstanceId,
        name: &str,
        direction: Direction,
        ctx: &mut ChannelCtx<'_>,
    ) -> Result<ChannelId, ChannelError> {
        if name.is_empty() {
            return Err(ChannelError {
                message: "lua channel name is empty (any other name is a channel)".into(),
            });
        }
        let Some(inst) = self.instance(id) else {
            return Err(ChannelError {
                message: "no such lua instance".into(),
            });
        };
        Ok(inst.channel(name, direction, |key| ctx.ids.resolve(id, key)))
    }

    /// Runs every instance's scripts, in order of definition. A script that fails (an error,
    /// the instruction or memory limit) stops the start with its file and line.
    fn start(&mut self, now: Instant, _io: &mut Io<'_>) -> Result<(), StartError> {
        let clock = monotonic_ms();
        for inst in &mut self.instances {
            inst.start(now, clock)
                .map_err(|message| StartError::instance(inst.id, message))?;
        }
        self.update_deadline();
        Ok(())
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    fn process(
        &mut self,
        now: Instant,
        _ready: &[Ready],
        _io: &mut Io<'_>,
        sink: &mut Sink<'_>,
    ) -> Result<(), FatalError> {
        if self.stopped {
            return Ok(());
        }
        for inst in &mut self.instances {
            inst.process(now, sink);
        }
        self.update_deadline();
        Ok(())
    }

    fn handle(
        &mut self,
        now: Instant,
        instance: InstanceId,
        deliveries: &[Delivery],
        sink: &mut Sink<'_>,
    ) {
        if self.stopped {
            return;
        }
        if let Some(inst) = self.instance(instance) {
            inst.deliver(now, deliveries, sink);
        }
    }

    /// Handlers may have started timers or threads.
    fn flush(&mut self, _now: Instant, _io: &mut Io<'_>) {
        self.update_deadline();
    }

    fn shutdown(&mut self, now: Instant, _io: &mut Io<'_>) {
        for inst in &mut self.instances {
            inst.shutdown(now);
        }
        self.stopped = true;
        self.deadline = None;
    }

    fn stats(&self, out: &mut Vec<Stat>) {
        for inst in &self.instances {
            inst.stats(out);
        }
    }
}
