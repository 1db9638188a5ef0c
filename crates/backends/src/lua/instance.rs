//! One `[lua NAME]` instance: its interpreter, its scripts, its channels' handlers, and the
//! calls into Lua the backend makes for it (scripts at start, handlers per delivered value,
//! timers and threads per turn, the cleanup handler at shutdown).

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

use mlua::{Function, Lua, LuaOptions, StdLib, Table};
use patchbay_core::{ChannelId, Delivery, Direction, InstanceId, Sink, Value};

use super::api;
use super::errors::{Failure, describe};
use super::guard::{self, Budget};
use super::runtime;
use super::script;
use super::shared::{Chan, Shared};

/// Largest script file read (a path such as /dev/zero must not hang the configuration).
const MAX_SCRIPT: u64 = 16 << 20;

fn read_script(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let fail = |e: std::io::Error| format!("cannot read Lua script {}: {e}", path.display());
    let mut source = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SCRIPT + 1).read_to_end(&mut source))
        .map_err(fail)?;
    if source.len() as u64 > MAX_SCRIPT {
        return Err(format!(
            "Lua script {} is larger than {} MiB",
            path.display(),
            MAX_SCRIPT >> 20
        ));
    }
    Ok(source)
}

/// A compiled script, run at start.
struct Script {
    /// The path as the configuration wrote it (the chunk name in messages).
    name: String,
    chunk: Function,
}

/// See the module docs.
pub struct Instance {
    pub id: InstanceId,
    lua: Lua,
    shared: Rc<RefCell<Shared>>,
    budget: Rc<Budget>,
    /// `output`'s table of channel name → key, filled at start.
    keys: Table,
    scripts: Vec<Script>,
    pub default_handler: Option<Box<str>>,
    /// Per channel key: the function its values are handed to, found at start.
    handlers: Vec<Option<Function>>,
    started: bool,
}

impl Instance {
    /// A fresh interpreter with Lua's safe standard libraries (no `debug`, no C modules: the
    /// debug library could remove the instruction hook), the limits and the API.
    pub fn new(id: InstanceId, name: &str, now: Instant) -> Result<Self, String> {
        let fail = |e: mlua::Error| format!("cannot create a Lua interpreter: {e}");
        let lua = Lua::new_with(StdLib::ALL_SAFE, LuaOptions::default()).map_err(fail)?;
        lua.set_memory_limit(guard::DEFAULT_MEMORY).map_err(fail)?;
        let budget = Rc::new(Budget::new(guard::DEFAULT_INSTRUCTIONS));
        let shared = Rc::new(RefCell::new(Shared::new(name, now)));
        budget.arm();
        guard::install(&lua, &budget).map_err(fail)?;
        let keys = lua.create_table().map_err(fail)?;
        api::install(&lua, &shared, &budget, &keys).map_err(fail)?;
        Ok(Instance {
            id,
            lua,
            shared,
            budget,
            keys,
            scripts: Vec::new(),
            default_handler: None,
            handlers: Vec::new(),
            started: false,
        })
    }

    /// `script = PATH`: read and compiled now, run at start. `shown` is the path as written.
    pub fn add_script(&mut self, path: &Path, shown: &str) -> Result<(), String> {
        let source = read_script(path)?;
        let chunk = script::compile(&self.lua, shown, script::as_loadfile(&source))
            .map_err(|e| format!("Lua script does not compile: {e}"))?;
        self.scripts.push(Script {
            name: shown.to_string(),
            chunk,
        });
        Ok(())
    }

    pub fn set_memory_limit(&self, bytes: usize) -> Result<(), String> {
        self.lua
            .set_memory_limit(bytes)
            .map(|_| ())
            .map_err(|e| format!("cannot set the memory limit: {e}"))
    }

    pub fn set_instruction_limit(&self, n: u64) {
        self.budget.set_limit(n);
    }

    /// The key of channel `name`, created on first use.
    pub fn channel(
        &mut self,
        name: &str,
        direction: Direction,
        resolve: impl FnOnce(u64) -> ChannelId,
    ) -> ChannelId {
        let mut s = self.shared.borrow_mut();
        let key = match s.key_of(name.as_bytes()) {
            Some(key) => key,
            None => {
                let key = s.channels.len();
                let id = resolve(key as u64);
                s.channels.push(Chan {
                    name: name.into(),
                    id,
                    source: false,
                    target: false,
                    input: Value::ZERO,
                    output: Value::ZERO,
                });
                s.names.insert(name.as_bytes().into(), key as u32);
                key
            }
        };
        let chan = &mut s.channels[key];
        match direction {
            Direction::Input => chan.source = true,
            Direction::Output => chan.target = true,
        }
        chan.id
    }

    /// Runs the scripts in order (as MIDIMonster runs them while reading the configuration),
    /// then finds each channel's handler: the default handler, else the global function named
    /// like the channel (not an API function). Handlers are found once, as MIDIMonster does:
    /// a script that later assigns the name to something else keeps its handler.
    pub fn start(&mut self, now: Instant, monotonic_ms: u64) -> Result<(), String> {
        {
            let mut s = self.shared.borrow_mut();
            s.now = now;
            s.clock = (now, monotonic_ms);
        }
        self.started = true;
        api::fill_keys(&self.keys, &self.shared)
            .map_err(|e| format!("cannot set up the channel table: {}", describe(&e)))?;
        for script in &self.scripts {
            self.budget.arm();
            if let Err(e) = script.chunk.call::<()>(()) {
                let why = match Failure::of(&e, &self.budget) {
                    Failure::MemoryLimit => format!("{}: {}", script.name, describe(&e)),
                    _ => describe(&e),
                };
                return Err(format!("script {} failed: {why}", script.name));
            }
        }
        let (instance, channels): (Box<str>, Vec<(Box<str>, bool)>) = {
            let s = self.shared.borrow();
            let channels = s
                .channels
                .iter()
                .map(|c| (c.name.clone(), c.target))
                .collect();
            (s.instance.clone(), channels)
        };
        let globals = self.lua.globals();
        let function = |name: &str| -> Option<Function> {
            globals.raw_get::<Option<Function>>(name).ok().flatten()
        };
        let default = self
            .default_handler
            .as_deref()
            .map(|name| (name, function(name)));
        if let Some((name, None)) = default {
            tracing::warn!(target: "lua",
                "instance {instance}: default-handler '{name}' is not a global function: events are ignored");
        }
        let mut missing = Vec::new();
        self.handlers = channels
            .iter()
            .map(|(name, target)| {
                let handler = match &default {
                    Some((_, f)) => f.clone(),
                    None if api::NAMES.contains(&&**name) => None,
                    None => function(name),
                };
                if handler.is_none() && default.is_none() && *target {
                    missing.push(&**name);
                }
                handler
            })
            .collect();
        if !missing.is_empty() {
            tracing::warn!(target: "lua",
                "instance {instance}: no function for channel(s) {}: their values are stored, no handler runs",
                missing.join(", "));
        }
        Ok(())
    }

    /// Values delivered in one routing round: each goes to its channel's handler (skipped and
    /// counted when it fails), then becomes the channel's input value.
    pub fn deliver(&mut self, now: Instant, deliveries: &[Delivery], sink: &mut Sink<'_>) {
        self.shared.borrow_mut().now = now;
        for d in deliveries {
            let key = d.key as usize;
            let handler = self.handlers.get(key).and_then(Option::as_ref);
            {
                let mut s = self.shared.borrow_mut();
                s.counters.events_in += 1;
                match handler {
                    Some(_) => {
                        s.counters.handler_calls += 1;
                        s.current_channel = Some(key as u32);
                        s.recent.remember(d.value);
                    }
                    None => s.counters.unhandled += 1,
                }
            }
            if let Some(h) = handler {
                self.budget.arm();
                let result = h.call::<()>(d.value.normalised());
                let mut s = self.shared.borrow_mut();
                s.current_channel = None;
                if let Err(e) = result {
                    let name = s
                        .channels
                        .get(key)
                        .map(|c| c.name.clone())
                        .unwrap_or_default();
                    s.failed(
                        &format!("handler for '{name}'"),
                        Failure::of(&e, &self.budget),
                        &e,
                    );
                }
            }
            if let Some(c) = self.shared.borrow_mut().channels.get_mut(key) {
                c.input = d.value;
            }
        }
        runtime::drain(&self.shared, sink);
    }

    /// The turn's timer and thread work, and values output outside a turn (by the scripts at
    /// start).
    pub fn process(&mut self, now: Instant, sink: &mut Sink<'_>) {
        self.shared.borrow_mut().now = now;
        runtime::drain(&self.shared, sink);
        runtime::run_due(&self.shared, &self.budget, now, sink);
    }

    /// Calls the cleanup handler, if the scripts ran and registered one. What it outputs is not
    /// routed (the loop is shutting down), as in MIDIMonster.
    pub fn shutdown(&mut self, now: Instant) {
        if !self.started {
            return;
        }
        let cleanup = {
            let mut s = self.shared.borrow_mut();
            s.now = now;
            s.cleanup.take()
        };
        if let Some(f) = cleanup {
            self.budget.arm();
            if let Err(e) = f.call::<()>(()) {
                self.shared.borrow_mut().failed(
                    "cleanup handler",
                    Failure::of(&e, &self.budget),
                    &e,
                );
            }
        }
        self.shared.borrow_mut().pending.clear();
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.shared.borrow().deadline()
    }

    pub fn stats(&self, out: &mut Vec<patchbay_core::Stat>) {
        let counters = self.shared.borrow().counters;
        counters.stats(self.id, self.lua.used_memory(), out);
    }

    /// The interpreter, for tests.
    #[cfg(test)]
    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    /// The shared state, for tests.
    #[cfg(test)]
    pub fn shared(&self) -> std::cell::Ref<'_, Shared> {
        self.shared.borrow()
    }
}
