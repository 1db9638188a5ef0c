//! The functions MIDIMonster's lua backend gives scripts, with its behaviour: `output`,
//! `input_value`, `output_value`, `input_channel`, `timestamp`, `interval`, `thread`, `sleep`,
//! `cleanup_handler`, `channels`.
//!
//! Where MIDIMonster ignores a call for its arguments (a missing value, a channel name that is
//! not a string) the call is ignored, counted (`api_misuse`) and logged; where it raises a Lua
//! error (`luaL_check*`: a value that is not a number, an interval that is not an integer) so
//! does patchbay. Nothing here holds a borrow of the shared state while Lua allocates: an
//! allocation can run a finalizer, which can call these functions again.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use mlua::{Function, Lua, Table, Value as LuaValue};

use super::guard::{Budget, INTERNAL_CHUNK};
use super::runtime;
use super::shared::{Shared, ThreadSlot, Timer};

/// The API's global names. A channel with one of these names gets no handler of its own (the
/// function is the API's), as in MIDIMonster; the default handler still gets its events.
pub const NAMES: [&str; 10] = [
    "output",
    "interval",
    "input_value",
    "output_value",
    "input_channel",
    "timestamp",
    "thread",
    "sleep",
    "cleanup_handler",
    "channels",
];

/// The shortest `sleep`, and the wait after a bare `coroutine.yield()` in a thread: a thread
/// that yields in a loop gets one turn per millisecond, not every turn of the loop.
pub const MIN_SLEEP: Duration = Duration::from_millis(1);

/// `interval` rounds to this, as MIDIMonster's timer does.
const INTERVAL_STEP: u64 = 10;

/// Intervals and sleeps longer than this (a year) are cut to it, so that a deadline is always an
/// instant the clock can hold.
pub const LONGEST_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// Borrows the shared state for one step that runs no Lua; a re-entrant borrow (which the rule
/// in the module docs rules out) is a Lua error rather than a panic.
fn with<R>(shared: &RefCell<Shared>, f: impl FnOnce(&mut Shared) -> R) -> mlua::Result<R> {
    match shared.try_borrow_mut() {
        Ok(mut s) => Ok(f(&mut s)),
        Err(_) => Err(mlua::Error::RuntimeError(
            "patchbay: script API called re-entrantly".into(),
        )),
    }
}

/// `file:line: ` of the script line that called the running API function (skipping
/// patchbay's own Lua wrappers).
fn place(lua: &Lua) -> String {
    let internal = &INTERNAL_CHUNK[1..];
    (1..8)
        .map_while(|level| {
            lua.inspect_stack(level, |d| {
                let line = d.current_line().unwrap_or(0);
                let src = d.source().short_src.unwrap_or_default();
                (src != internal).then(|| format!("{src}:{line}: "))
            })
        })
        .flatten()
        .next()
        .unwrap_or_default()
}

/// Fills `output`'s table of channel name → key from the instance's channels.
pub fn fill_keys(keys: &Table, shared: &RefCell<Shared>) -> mlua::Result<()> {
    let channels: Vec<Box<str>> = shared
        .borrow()
        .channels
        .iter()
        .map(|c| c.name.clone())
        .collect();
    for (key, name) in channels.iter().enumerate() {
        keys.raw_set(&**name, key)?;
    }
    Ok(())
}

fn bad_argument(n: u8, function: &str, expected: &str, got: &LuaValue) -> mlua::Error {
    mlua::Error::RuntimeError(format!(
        "bad argument #{n} to '{function}' ({expected} expected, got {})",
        got.type_name()
    ))
}

/// A channel name as `lua_tostring` takes it: a string, or a number turned into one.
fn channel_name(lua: &Lua, v: LuaValue) -> mlua::Result<Option<mlua::LuaString>> {
    match v {
        LuaValue::String(s) => Ok(Some(s)),
        LuaValue::Integer(_) | LuaValue::Number(_) => lua.coerce_string(v),
        _ => Ok(None),
    }
}

/// `luaL_checknumber`.
fn number(lua: &Lua, v: LuaValue, n: u8, function: &str) -> mlua::Result<f64> {
    match v {
        LuaValue::Integer(i) => Ok(i as f64),
        LuaValue::Number(x) => Ok(x),
        LuaValue::String(_) => lua
            .coerce_number(v.clone())?
            .ok_or_else(|| bad_argument(n, function, "number", &v)),
        other => Err(bad_argument(n, function, "number", &other)),
    }
}

/// `luaL_checkinteger`.
fn integer(lua: &Lua, v: LuaValue, n: u8, function: &str) -> mlua::Result<i64> {
    if let Some(i) = lua.coerce_integer(v.clone())? {
        return Ok(i);
    }
    match v {
        LuaValue::Number(_) => Err(mlua::Error::RuntimeError(format!(
            "bad argument #{n} to '{function}' (number has no integer representation)"
        ))),
        other => Err(bad_argument(n, function, "number", &other)),
    }
}

/// Milliseconds rounded to MIDIMonster's 10 ms steps (a remainder of 5 or more rounds up).
pub fn round_interval(ms: u64) -> Duration {
    let rest = ms % INTERVAL_STEP;
    let ms = if rest < 5 {
        ms - rest
    } else {
        ms.saturating_add(INTERVAL_STEP - rest)
    };
    Duration::from_millis(ms).min(LONGEST_WAIT)
}

/// Registers the API in `lua`'s globals. `keys` is the table of channel name → key that
/// `output` looks names up in; the caller fills it once the channels are known
/// ([`fill_keys`]).
pub fn install(
    lua: &Lua,
    shared: &Rc<RefCell<Shared>>,
    budget: &Rc<Budget>,
    keys: &Table,
) -> mlua::Result<()> {
    let g = lua.globals();

    // `output` is the script's hot call (512 per frame for a universe), so the channel name is
    // looked up in Lua, where strings are interned and hashed already: a table of name → key
    // (`keys`, filled at start) turns it into an integer before Rust sees it, and Rust gets no
    // string to copy or hash. Names not in it (unmapped, numbers, wrong types) take the slow
    // path with the name.
    let s = Rc::clone(shared);
    let raw_output = lua.create_function(
        move |lua, (key, name, value): (LuaValue, LuaValue, LuaValue)| {
            let key = match key {
                LuaValue::Integer(k) => usize::try_from(k).ok(),
                _ => None,
            };
            let name = match key {
                Some(_) => None,
                None => match channel_name(lua, name)? {
                    Some(name) => Some(name),
                    None => {
                        let at = place(lua);
                        return with(&s, |s| {
                            s.misuse(&at, "output() with an invalid channel name")
                        });
                    }
                },
            };
            if value.is_nil() {
                let at = place(lua);
                return with(&s, |s| s.misuse(&at, "output() without a value"));
            }
            let level = number(lua, value, 2, "output")?;
            match (key, name) {
                (Some(key), _) => with(&s, |s| s.output_key(key, level)),
                (None, Some(name)) => with(&s, |s| s.output(&name.as_bytes(), level)),
                (None, None) => Ok(()),
            }
        },
    )?;
    lua.load(
        "local raw_output, keys = ...\n\
         output = function(name, value) return raw_output(keys[name], name, value) end",
    )
    .set_name(INTERNAL_CHUNK)
    .call::<()>((raw_output, keys.clone()))?;

    for (function, input) in [("input_value", true), ("output_value", false)] {
        let s = Rc::clone(shared);
        let f = lua.create_function(move |lua, name: LuaValue| {
            let Some(name) = channel_name(lua, name)? else {
                let at = place(lua);
                with(&s, |s| {
                    s.misuse(&at, &format!("{function}() with an invalid channel name"))
                })?;
                return Ok(None);
            };
            with(&s, |s| match s.key_of(&name.as_bytes()) {
                Some(key) => {
                    let c = &s.channels[key];
                    let v = if input { c.input } else { c.output };
                    s.recent.remember(v);
                    Some(v.normalised())
                }
                None => {
                    s.unknown_channel(function, &name.as_bytes());
                    None
                }
            })
        })?;
        g.set(function, f)?;
    }

    let s = Rc::clone(shared);
    let input_channel = lua.create_function(move |_, ()| {
        with(&s, |s| {
            s.current_channel
                .and_then(|k| s.channels.get(k as usize))
                .map(|c| c.name.clone())
        })
        .map(|name| name.map(String::from))
    })?;
    g.set("input_channel", input_channel)?;

    let s = Rc::clone(shared);
    let timestamp = lua.create_function(move |_, ()| with(&s, |s| s.timestamp() as f64))?;
    g.set("timestamp", timestamp)?;

    let s = Rc::clone(shared);
    let interval = lua.create_function(move |lua, (f, ms): (LuaValue, LuaValue)| {
        let LuaValue::Function(f) = f else {
            return Err(bad_argument(1, "interval", "function", &f));
        };
        if ms.is_nil() {
            let at = place(lua);
            return with(&s, |s| s.misuse(&at, "interval() without an interval"));
        }
        let ms = integer(lua, ms, 2, "interval")?;
        let Ok(ms) = u64::try_from(ms) else {
            let at = place(lua);
            return with(&s, |s| s.misuse(&at, "interval() with a negative interval"));
        };
        let every = round_interval(ms);
        with(&s, |s| set_interval(s, f, every))
    })?;
    g.set("interval", interval)?;

    let (s, b) = (Rc::clone(shared), Rc::clone(budget));
    let thread = lua.create_function(move |lua, f: LuaValue| {
        let LuaValue::Function(f) = f else {
            return Err(bad_argument(1, "thread", "function", &f));
        };
        let thread = lua.create_thread(f)?;
        let index = with(&s, |s| {
            s.threads.push(ThreadSlot {
                thread,
                wake: None,
                done: false,
            });
            s.threads.len() - 1
        })?;
        // MIDIMonster runs the thread at once, up to its first sleep.
        runtime::resume(&s, &b, index);
        // A stop inside the thread stops the caller too (its budget is the same).
        match b.stopped() {
            Some(why) => Err(mlua::Error::RuntimeError(why)),
            None => Ok(()),
        }
    })?;
    g.set("thread", thread)?;

    let s = Rc::clone(shared);
    let mark_sleep = lua.create_function(move |lua, ms: LuaValue| {
        let ms = integer(lua, ms, 1, "sleep")?;
        let me = lua.current_thread();
        with(&s, |s| {
            let now = s.now;
            let slot = s
                .current_thread
                .and_then(|i| s.threads.get_mut(i))
                .filter(|slot| slot.thread == me);
            match slot {
                Some(slot) => {
                    let ms = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
                    slot.wake = Some(now + ms.clamp(MIN_SLEEP, LONGEST_WAIT));
                    Ok(())
                }
                None => Err(mlua::Error::RuntimeError(
                    "sleep() works only in a function started with thread()".into(),
                )),
            }
        })?
    })?;
    // The yield itself must happen in Lua: a Rust function cannot yield its caller.
    lua.load("local mark, yield = ...\nsleep = function(ms) mark(ms) return yield() end")
        .set_name(INTERNAL_CHUNK)
        .call::<()>((
            mark_sleep,
            g.get::<mlua::Table>("coroutine")?
                .get::<Function>("yield")?,
        ))?;

    let s = Rc::clone(shared);
    let cleanup = lua.create_function(move |lua, f: LuaValue| match f {
        LuaValue::Function(f) => with(&s, |s| s.cleanup.replace(f)),
        LuaValue::Nil => with(&s, |s| s.cleanup.take()),
        _ => {
            let at = place(lua);
            with(&s, |s| {
                s.misuse(&at, "cleanup_handler() with neither a function nor nil")
            })?;
            Ok(None)
        }
    })?;
    g.set("cleanup_handler", cleanup)?;

    let s = Rc::clone(shared);
    let channels = lua.create_function(move |lua, ()| {
        let names: Vec<Box<str>> =
            with(&s, |s| s.channels.iter().map(|c| c.name.clone()).collect())?;
        lua.create_sequence_from(names.iter().map(|n| &**n))
    })?;
    g.set("channels", channels)?;
    Ok(())
}

/// `interval(f, every)`: a function already registered gets the new interval, counted from now
/// (as MIDIMonster restarts it); zero stops it.
fn set_interval(s: &mut Shared, f: Function, every: Duration) {
    let next = s.now + every;
    if let Some(t) = s.timers.iter_mut().find(|t| t.func == f) {
        t.every = every;
        t.next = next;
    } else if !every.is_zero() {
        s.timers.push(Timer {
            func: f,
            every,
            next,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_round_to_ten_milliseconds_as_midimonster() {
        let ms = |n| round_interval(n).as_millis();
        assert_eq!(
            [
                ms(0),
                ms(4),
                ms(5),
                ms(14),
                ms(15),
                ms(100),
                ms(1004),
                ms(1005)
            ],
            [0, 0, 10, 10, 20, 100, 1000, 1010]
        );
        assert_eq!(round_interval(u64::MAX), LONGEST_WAIT);
    }
}
