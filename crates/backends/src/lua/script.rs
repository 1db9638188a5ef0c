//! Script files: read and compiled while the configuration is read (so `--check` reports a
//! missing file or a syntax error at the `script` line), run when the backend starts.
//!
//! Lua's syntax errors name the line but not the column (`faders.lua:3: unexpected symbol
//! near '='`). The column is found by asking Lua itself: the parser stops at the first token it
//! cannot use, so compiling the source cut just after that token fails with the same message,
//! and compiling it cut anywhere earlier does not. Of the places on the error line where the
//! token's text ends, the first whose prefix reproduces the message is the token.

use mlua::chunk::ChunkMode;
use mlua::{Function, Lua};

/// The source as `luaL_loadfile` (MIDIMonster's `luaL_dofile`) reads it: a UTF-8 byte order
/// mark is skipped, and so is a first line starting with `#` (a shebang), keeping its newline
/// so line numbers stay those of the file.
pub fn as_loadfile(source: &[u8]) -> &[u8] {
    let s = source.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(source);
    if s.first() == Some(&b'#') {
        return match s.iter().position(|&b| b == b'\n') {
            Some(nl) => &s[nl..],
            None => &[],
        };
    }
    s
}

/// Compiles `source` (already [`as_loadfile`]) as the chunk `name` (the path as the
/// configuration wrote it), in text mode only (precompiled chunks can crash the interpreter).
/// A syntax error comes back as `name:line:column: what` (the column when it can be found).
pub fn compile(lua: &Lua, name: &str, source: &[u8]) -> Result<Function, String> {
    // Lua's own refusal names no file: "attempt to load a binary chunk (mode is 't')".
    if source.first() == Some(&BINARY_CHUNK) {
        return Err(format!(
            "{name}: a precompiled (binary) Lua chunk; patchbay loads Lua source files only"
        ));
    }
    match load(lua, name, source) {
        Ok(f) => Ok(f),
        Err(mlua::Error::SyntaxError { message, .. }) => Err(locate(lua, name, source, &message)),
        Err(mlua::Error::MemoryError(_)) => Err(format!(
            "{name}: the script does not fit in the memory-limit"
        )),
        Err(e) => Err(format!("{name}: {e}")),
    }
}

/// The first byte of a precompiled chunk (`LUA_SIGNATURE`, ESC).
const BINARY_CHUNK: u8 = 0x1b;

fn load(lua: &Lua, name: &str, source: &[u8]) -> mlua::Result<Function> {
    lua.load(source)
        .set_name(format!("@{name}"))
        .set_mode(ChunkMode::Text)
        .into_function()
}

/// Most places on one line tried for the column (each is one compile of the source up to it).
const MAX_TRIES: usize = 64;

/// Lua's syntax error `message` about `source`, with the column of the offending token added
/// after the line number when it can be found. The message is returned unchanged when it does
/// not have Lua's `chunk:line: ` shape.
pub fn locate(lua: &Lua, name: &str, source: &[u8], message: &str) -> String {
    let Some((prefix, line, rest)) = split_position(message) else {
        return message.to_string();
    };
    match column(lua, name, source, message, line, rest) {
        Some(col) => format!("{prefix}:{line}:{col}: {rest}"),
        None => format!("{prefix}:{line}: {rest}"),
    }
}

/// `chunk:line: rest` → (chunk, line, rest), at the first `:digits: ` in the message.
pub fn split_position(message: &str) -> Option<(&str, usize, &str)> {
    let bytes = message.as_bytes();
    let mut from = 0;
    while let Some(i) = message[from..].find(':').map(|i| i + from) {
        let digits = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let after = i + 1 + digits;
        if digits > 0 && bytes.get(after) == Some(&b':') && bytes.get(after + 1) == Some(&b' ') {
            let line = message[i + 1..after].parse().ok()?;
            return Some((&message[..i], line, &message[after + 2..]));
        }
        from = i + 1;
    }
    None
}

/// The token a syntax error names: `Some(None)` for `near <eof>`, `Some(Some(text))` for
/// `near 'text'`, `None` when the message names none (semantic errors such as a `goto`
/// without a label).
fn near(rest: &str) -> Option<Option<&str>> {
    if rest.ends_with(" near <eof>") {
        return Some(None);
    }
    let start = rest.rfind(" near '")? + " near '".len();
    let text = rest[start..].strip_suffix('\'')?;
    Some(Some(text))
}

/// Byte ranges of the lines of `source` as Lua's lexer counts them: `\n`, `\r`, `\r\n` and
/// `\n\r` each end one line.
fn line_range(source: &[u8], line: usize) -> Option<(usize, usize)> {
    let mut start = 0;
    let mut current = 1;
    let mut i = 0;
    while i < source.len() {
        let b = source[i];
        if b == b'\n' || b == b'\r' {
            if current == line {
                return Some((start, i));
            }
            let pair = source
                .get(i + 1)
                .is_some_and(|&n| (n == b'\n' || n == b'\r') && n != b);
            i += if pair { 2 } else { 1 };
            start = i;
            current += 1;
        } else {
            i += 1;
        }
    }
    (current == line).then_some((start, source.len()))
}

/// 1-based column in characters of byte `offset` of `line`.
fn chars_before(line: &[u8], offset: usize) -> usize {
    String::from_utf8_lossy(&line[..offset]).chars().count() + 1
}

fn column(
    lua: &Lua,
    name: &str,
    source: &[u8],
    message: &str,
    line: usize,
    rest: &str,
) -> Option<usize> {
    let (start, end) = line_range(source, line)?;
    let text = &source[start..end];
    let Some(token) = near(rest)? else {
        // At the end of the input: just after the last character of the line.
        return Some(chars_before(text, text.len()));
    };
    let token = token.as_bytes();
    if token.is_empty() || token.len() > text.len() {
        return None;
    }
    let ends: Vec<usize> = (token.len()..=text.len())
        .filter(|&e| &text[e - token.len()..e] == token)
        .take(MAX_TRIES)
        .collect();
    let reproduces = |&&e: &&usize| {
        matches!(load(lua, name, &source[..start + e]),
            Err(mlua::Error::SyntaxError { message: m, .. }) if m == message)
    };
    // Lexer errors (an unfinished string) read differently when cut: then the first place
    // the text occurs is the best guess.
    let end = ends.iter().find(reproduces).or(ends.first())?;
    Some(chars_before(text, end - token.len()))
}

/// The entry point of the `lua_script` fuzz target (and of the property test): compiles
/// `source` as a script file is compiled and checks that an error names a line of the source,
/// and a column within that line or just past its end. `Ok` says whether it compiled, `Err`
/// which promise broke.
#[doc(hidden)]
pub fn fuzz_compile(source: &[u8]) -> Result<bool, String> {
    thread_local! {
        static LUA: Lua = Lua::new();
    }
    let source = as_loadfile(source);
    let Err(e) = LUA.with(|lua| compile(lua, "f.lua", source)) else {
        return Ok(true);
    };
    let fail = |why: &str| Err(format!("{why}: {e:?}"));
    let Some(rest) = e.strip_prefix("f.lua:") else {
        return fail("no chunk name");
    };
    if rest.starts_with(' ') {
        // Only a binary chunk is refused without a position.
        return match source.first() {
            Some(&BINARY_CHUNK) => Ok(false),
            _ => fail("no line"),
        };
    }
    let Some((line, rest)) = rest.split_once(':') else {
        return fail("no line");
    };
    let Ok(line) = line.parse::<usize>() else {
        return fail("line is not a number");
    };
    let Some((start, end)) = line_range(source, line) else {
        return fail("line outside the source");
    };
    let chars = String::from_utf8_lossy(&source[start..end]).chars().count();
    let (column, what) = match rest.strip_prefix(' ') {
        Some(what) => (None, what),
        None => match rest.split_once(": ") {
            Some((c, what)) => (Some(c), what),
            None => return fail("no message"),
        },
    };
    if let Some(c) = column {
        match c.parse::<usize>() {
            Ok(c) if (1..=chars + 1).contains(&c) => {}
            _ => return fail("column outside the line"),
        }
    }
    if what.is_empty() {
        return fail("empty message");
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn error_of(source: &str) -> String {
        let lua = Lua::new();
        compile(&lua, "s.lua", as_loadfile(source.as_bytes())).expect_err("syntax error")
    }

    #[test]
    fn the_column_is_the_offending_token() {
        assert_eq!(
            error_of("x = 1\ny = = 2\n"),
            "s.lua:2:5: unexpected symbol near '='"
        );
        // The same token earlier on the line is not the culprit.
        assert_eq!(
            error_of("x = f(1) f 1\n"),
            "s.lua:1:12: syntax error near '1'"
        );
        assert_eq!(
            error_of("function f()\n  return 1 +\nend\n"),
            "s.lua:3:1: unexpected symbol near 'end'"
        );
        assert_eq!(
            error_of("if x then\n  y()\n"),
            "s.lua:3:1: 'end' expected (to close 'if' at line 1) near <eof>"
        );
        // Columns count characters, not bytes.
        assert_eq!(
            error_of("s = 'äö' x 1\n"),
            "s.lua:1:12: syntax error near '1'"
        );
    }

    #[test]
    fn lexer_errors_get_the_first_place_of_their_text() {
        assert_eq!(
            error_of("x = 1\ny = 3x\n"),
            "s.lua:2:5: malformed number near '3x'"
        );
        let unfinished = error_of("a = 1\nb = 'abc\nc = 2\n");
        assert_eq!(unfinished, "s.lua:2:5: unfinished string near ''abc'");
    }

    #[test]
    fn errors_without_a_token_keep_just_the_line() {
        // Lua finds the missing label at the end of the block, on the last line.
        let e = error_of("goto nowhere\n");
        assert!(e.starts_with("s.lua:2: "), "{e}");
        assert!(e.contains("no visible label 'nowhere'"), "{e}");
        assert_eq!(
            error_of("\x1bLua"),
            "s.lua: a precompiled (binary) Lua chunk; patchbay loads Lua source files only"
        );
    }

    #[test]
    fn shebang_and_bom_are_skipped_as_loadfile_does() {
        assert_eq!(as_loadfile(b"#!/usr/bin/lua\nx = 1\n"), b"\nx = 1\n");
        assert_eq!(as_loadfile(b"\xEF\xBB\xBFx = 1"), b"x = 1");
        assert_eq!(as_loadfile(b"# only a comment"), b"");
        assert_eq!(
            error_of("#!/usr/bin/lua\nx = = 1\n"),
            "s.lua:2:5: unexpected symbol near '='"
        );
    }

    #[test]
    fn line_endings_count_as_luas_lexer_counts_them() {
        assert_eq!(
            error_of("a = 1\r\nb = 2\rc = = 3\n"),
            "s.lua:3:5: unexpected symbol near '='"
        );
        assert_eq!(line_range(b"a\n\rb", 2), Some((3, 4)));
        assert_eq!(line_range(b"a\n\nb", 3), Some((3, 4)));
        assert_eq!(line_range(b"a\n", 2), Some((2, 2)));
        assert_eq!(line_range(b"a\n", 3), None);
    }

    #[test]
    fn positions_are_split_at_the_first_line_number() {
        assert_eq!(
            split_position("dir:x/s.lua:12: oops: 3: x"),
            Some(("dir:x/s.lua", 12, "oops: 3: x"))
        );
        assert_eq!(split_position("no position"), None);
        assert_eq!(split_position("a:b: c"), None);
    }

    proptest! {
        /// Whatever the bytes, compiling either succeeds or names a line of the source and a
        /// column within it (or just past its end).
        #[test]
        fn any_source_compiles_or_gets_a_position_inside_it(
            source in prop::collection::vec(
                prop::sample::select(b"ab1=(){}'\"\n\r.,;+- #[]endifthnlocal".to_vec()), 0..60)
        ) {
            if let Err(e) = fuzz_compile(&source) {
                prop_assert!(false, "{}", e);
            }
        }
    }
}
