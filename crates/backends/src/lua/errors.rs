//! Script errors as a user reads them: one line that starts with the script's file and line.

use mlua::Error;

use super::guard::Budget;
use super::script::split_position;

/// Why a call into Lua failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The script raised an error (its own or the interpreter's).
    Script,
    /// The call ran out of its instruction budget.
    InstructionLimit,
    /// The interpreter ran out of its memory limit.
    MemoryLimit,
}

impl Failure {
    /// Why `err` ended the call that `budget` was armed for.
    pub fn of(err: &Error, budget: &Budget) -> Failure {
        if budget.is_stopped() {
            Failure::InstructionLimit
        } else if is_memory(err) {
            Failure::MemoryLimit
        } else {
            Failure::Script
        }
    }
}

fn is_memory(err: &Error) -> bool {
    match err {
        Error::MemoryError(_) => true,
        Error::CallbackError { cause, .. } => is_memory(cause),
        Error::WithContext { cause, .. } => is_memory(cause),
        _ => false,
    }
}

/// `err` in one line, starting with `file:line:` of the script where it happened when the
/// error or its traceback tells it.
pub fn describe(err: &Error) -> String {
    match err {
        Error::CallbackError { traceback, cause } => {
            let inner = describe(cause);
            if split_position(&inner).is_some() {
                return inner;
            }
            match script_frame(traceback) {
                Some(place) => format!("{place}: {inner}"),
                None => inner,
            }
        }
        Error::RuntimeError(message) | Error::SyntaxError { message, .. } => {
            first_line(message).to_string()
        }
        Error::MemoryError(_) => "out of memory: the interpreter reached its memory-limit".into(),
        Error::WithContext { context, cause } => format!("{context}: {}", describe(cause)),
        other => first_line(&other.to_string()).to_string(),
    }
}

/// Lua appends a traceback to some messages; the log line keeps the message.
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or_default()
}

/// `file:line` of the innermost frame of `traceback` that is in a script (not in C, not in
/// patchbay's own Lua).
pub fn script_frame(traceback: &str) -> Option<&str> {
    traceback
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("[C]") && !l.starts_with("[patchbay]"))
        .find_map(|l| {
            let (place, _) = l.split_once(": in ")?;
            split_position(&format!("{place}: x")).map(|_| place)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceback_frames_skip_c_and_patchbay() {
        let tb = "stack traceback:\n\t[C]: in function 'output'\n\t[patchbay]:3: in function 'sleep'\n\
                  \tfader.lua:12: in function 'fader'\n\tfader.lua:20: in main chunk";
        assert_eq!(script_frame(tb), Some("fader.lua:12"));
        assert_eq!(script_frame("stack traceback:\n\t[C]: in ?"), None);
    }

    /// Errors as Lua and mlua produce them, each described from the script line at fault.
    #[test]
    fn errors_read_as_file_and_line_of_the_script() {
        let lua = mlua::Lua::new();
        let check = lua
            .create_function(|_, v: mlua::Value| match v {
                mlua::Value::Number(_) | mlua::Value::Integer(_) => Ok(()),
                other => Err(Error::RuntimeError(format!(
                    "bad argument #1 to 'check' (number expected, got {})",
                    other.type_name()
                ))),
            })
            .expect("function");
        lua.globals().set("check", check).expect("set");
        let run = |src: &str| {
            let f: mlua::Function = lua
                .load(src)
                .set_name("@fader.lua")
                .eval()
                .expect("compiles");
            describe(&f.call::<()>(()).expect_err("fails"))
        };
        assert_eq!(
            run("return function()\n  error('too high')\nend"),
            "fader.lua:2: too high"
        );
        assert_eq!(
            run("return function()\n\n  check({})\nend"),
            "fader.lua:3: bad argument #1 to 'check' (number expected, got table)"
        );
        assert_eq!(
            run("return function()\n  local t\n  return t.x\nend"),
            "fader.lua:3: attempt to index a nil value (local 't')"
        );
        let limited = mlua::Lua::new();
        limited.set_memory_limit(1 << 20).expect("limit");
        let f: mlua::Function = limited
            .load("return function() local t = {} for i = 1, 1e7 do t[i] = i end end")
            .eval()
            .expect("compiles");
        let e = f.call::<()>(()).expect_err("out of memory");
        assert!(is_memory(&e));
        assert_eq!(
            describe(&e),
            "out of memory: the interpreter reached its memory-limit"
        );
    }
}
