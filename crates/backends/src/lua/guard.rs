//! What keeps a script from stalling the loop or eating the machine: an instruction budget
//! per call into Lua (a count hook), a memory limit per interpreter (set where the interpreter
//! is made), and wrappers that keep a stopped call from being caught by the script itself.
//!
//! Why a budget of instructions rather than a wall-clock deadline: it does not depend on how
//! loaded the machine is, so a script that passes on a quiet machine passes on a busy one, and
//! tests are deterministic. 10 million instructions are some tens of milliseconds: hundreds of
//! times what a handler that computes a whole universe needs, and short enough that an endless
//! loop costs the loop one late turn.
//!
//! What the hook cannot stop: a single C function that runs long (a pathological
//! `string.find` pattern, `io.read` on a terminal). Memory-hungry C functions (`string.rep`)
//! are stopped by the memory limit instead.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use mlua::{HookTriggers, Lua, VmState};

/// Instructions between two hook calls: a budget is overrun by at most this many, and the
/// hook's own cost is spread over this many instructions (unmeasurable).
pub const HOOK_EVERY: u32 = 1000;

/// Default instruction budget of one call into Lua (`instruction-limit`).
pub const DEFAULT_INSTRUCTIONS: u64 = 10_000_000;

/// Default memory limit of one interpreter in bytes (`memory-limit`, given in MiB).
pub const DEFAULT_MEMORY: usize = 64 << 20;

/// The instruction budget of the call into Lua that is running now, shared with the hook.
#[derive(Debug)]
pub struct Budget {
    used: Cell<u64>,
    limit: Cell<u64>,
    /// Why the current call was stopped, once it was: the message every later hook call and
    /// every wrapped `pcall` raises again until the call has unwound.
    stopped: RefCell<Option<String>>,
}

impl Budget {
    /// A budget of `limit` instructions per call.
    pub fn new(limit: u64) -> Self {
        Budget {
            used: Cell::new(0),
            limit: Cell::new(limit),
            stopped: RefCell::new(None),
        }
    }

    /// Starts a new call from Rust into Lua (a handler, a timer, a thread's turn, a script).
    /// Calls nested in it (a thread started by a handler) share its budget.
    pub fn arm(&self) {
        self.used.set(0);
        self.stopped.replace(None);
    }

    /// Why the current call was stopped, if it was.
    pub fn stopped(&self) -> Option<String> {
        self.stopped.borrow().clone()
    }

    /// Whether the current call was stopped.
    pub fn is_stopped(&self) -> bool {
        self.stopped.borrow().is_some()
    }

    pub fn set_limit(&self, limit: u64) {
        self.limit.set(limit);
    }

    pub fn limit(&self) -> u64 {
        self.limit.get()
    }

    /// One hook call: `HOOK_EVERY` more instructions ran at `place` (called lazily, only when
    /// the budget runs out). The error ends the call, or the innermost `pcall` around it,
    /// which then raises it again ([`WRAPPERS`]).
    fn tick(&self, place: impl FnOnce() -> String) -> mlua::Result<VmState> {
        let used = self.used.get().saturating_add(u64::from(HOOK_EVERY));
        self.used.set(used);
        if let Some(why) = self.stopped() {
            return Err(mlua::Error::RuntimeError(why));
        }
        if used <= self.limit.get() {
            return Ok(VmState::Continue);
        }
        let why = format!(
            "stopped at {} after {} instructions without returning (an endless loop?); \
             the instance option instruction-limit allows more",
            place(),
            self.limit.get()
        );
        self.stopped.replace(Some(why.clone()));
        Err(mlua::Error::RuntimeError(why))
    }
}

/// Replaces the functions through which a script could catch the error that stops it: once a
/// call is stopped, each of them raises the stop again as soon as it returns, so the stop
/// unwinds the whole call however many `pcall`s it is wrapped in. Everything else behaves as
/// before (results, yields through `pcall`).
const WRAPPERS: &str = r#"
local stopped = ...
local error, pcall, xpcall, load, resume = error, pcall, xpcall, load, coroutine.resume
local function pass(...)
  local why = stopped()
  if why then error(why, 0) end
  return ...
end
_G.pcall = function(...) return pass(pcall(...)) end
_G.xpcall = function(...) return pass(xpcall(...)) end
_G.load = function(...) return pass(load(...)) end
coroutine.resume = function(...) return pass(resume(...)) end
"#;

/// Chunk name of patchbay's own Lua code, so error locations can skip it.
pub const INTERNAL_CHUNK: &str = "=[patchbay]";

/// Installs the budget's hook (on every thread of the interpreter, coroutines included) and the
/// wrappers.
pub fn install(lua: &Lua, budget: &Rc<Budget>) -> mlua::Result<()> {
    let b = Rc::clone(budget);
    lua.set_global_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        move |_, debug| {
            b.tick(|| {
                let line = debug.current_line().map_or(0, |l| l);
                format!("{}:{line}", debug.source().short_src.unwrap_or_default())
            })
        },
    )?;
    let b = Rc::clone(budget);
    let stopped = lua.create_function(move |_, ()| Ok(b.stopped()))?;
    lua.load(WRAPPERS)
        .set_name(INTERNAL_CHUNK)
        .call::<()>(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lua_with(limit: u64) -> (Lua, Rc<Budget>) {
        let lua = Lua::new();
        let budget = Rc::new(Budget::new(limit));
        install(&lua, &budget).expect("install");
        (lua, budget)
    }

    #[test]
    fn an_endless_loop_is_stopped_with_its_place() {
        let (lua, budget) = lua_with(100_000);
        budget.arm();
        let err = lua
            .load("local x = 0\nwhile true do\n x = x + 1\nend")
            .set_name("@loop.lua")
            .exec()
            .expect_err("stopped");
        let why = budget.stopped().expect("stopped");
        assert!(why.starts_with("stopped at loop.lua:"), "{why}");
        assert!(
            err.to_string().contains("after 100000 instructions"),
            "{err}"
        );
    }

    #[test]
    fn a_call_within_the_budget_runs_and_the_budget_is_per_call() {
        let (lua, budget) = lua_with(100_000);
        let f: mlua::Function = lua
            .load("return function() local s = 0 for i = 1, 5000 do s = s + i end return s end")
            .eval()
            .expect("function");
        // 5000 iterations are well under 100k instructions; 30 calls are not.
        for _ in 0..30 {
            budget.arm();
            assert_eq!(f.call::<i64>(()).expect("runs"), 12_502_500);
            assert!(!budget.is_stopped());
        }
    }

    #[test]
    fn pcall_xpcall_load_and_coroutines_cannot_swallow_the_stop() {
        for catcher in [
            "while true do pcall(function() while true do end end) end",
            "while true do xpcall(function() while true do end end, function(e) return e end) end",
            "while true do load(function() while true do end end) end",
            "while true do coroutine.resume(coroutine.create(function() while true do end end)) end",
            "while true do coroutine.wrap(function() pcall(function() while true do end end) end)() end",
        ] {
            // On a thread of its own, so that a catcher that escapes fails the test instead of
            // hanging it.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let (lua, budget) = lua_with(50_000);
                budget.arm();
                let r = lua.load(catcher).set_name("@catch.lua").exec();
                let _ = tx.send((r.is_err(), budget.is_stopped()));
            });
            let got = rx.recv_timeout(std::time::Duration::from_secs(20));
            assert_eq!(got, Ok((true, true)), "{catcher} escaped the stop");
        }
    }

    #[test]
    fn wrapped_functions_keep_their_results() {
        let (lua, budget) = lua_with(1_000_000);
        budget.arm();
        let (ok, msg): (bool, String) = lua
            .load("return pcall(error, 'boom', 0)")
            .eval()
            .expect("pcall");
        assert_eq!((ok, msg.as_str()), (false, "boom"));
        let n: i64 = lua
            .load("local co = coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end)\n\
                   local _, x = coroutine.resume(co, 1)\nlocal _, y = coroutine.resume(co, x)\nreturn y")
            .eval()
            .expect("coroutine");
        assert_eq!(n, 4);
        let v: i64 = lua.load("return load('return 7')()").eval().expect("load");
        assert_eq!(v, 7);
    }
}
