//! Diagnostics in the `FILE:LINE:COLUMN: error: REASON` form
//! doc/config.md section 5 describes, with a rustc-like snippet under them.
//!
//! The renderer is hand-written rather than annotate-snippets because the
//! first line's exact shape is a spec requirement and must stay stable for
//! snapshot tests, and every span here lies on a single line.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::source::{Sources, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in the configuration. `span` is `None` for problems
/// without a position (e.g. the top-level file cannot be read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{severity}: {message}")]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Option<Span>,
    pub message: String,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(severity: Severity, span: Option<Span>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity,
            span,
            message: message.into(),
            notes: Vec::new(),
        }
    }

    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, Some(span), message)
    }

    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, Some(span), message)
    }

    pub fn note(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Note, Some(span), message)
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Adds the "no inline comments" hint if `text` looks like it has one.
    pub fn with_inline_comment_hint(mut self, text: &str) -> Diagnostic {
        if let Some(n) = inline_comment_hint(text) {
            self.notes.push(n.to_string());
        }
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// True if any diagnostic is an error (warnings and notes never stop the
/// program).
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_error)
}

/// The note doc/config.md section 1 promises when a failing value or mapping contains
/// ` ;`: people expect INI-style trailing comments, which MIDIMonster lacks.
/// Public so backends' value errors can carry it too.
pub fn inline_comment_hint(text: &str) -> Option<&'static str> {
    let b = text.as_bytes();
    let found = b
        .windows(2)
        .any(|w| w[1] == b';' && (w[0] == b' ' || w[0] == b'\t'));
    found.then_some(
        "inline comments are not supported: ';' starts a comment only at the beginning of a line, so it is part of this text",
    )
}

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const BLUE: &str = "\x1b[1;34m";

fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Error => "\x1b[1;31m",
        Severity::Warning => "\x1b[1;33m",
        Severity::Note => "\x1b[1;32m",
    }
}

/// Renders `d` as text: first line `FILE:LINE:COLUMN: error: MESSAGE`, then one
/// `included from FILE:LINE` line per include level (innermost first), then
/// the source line with carets under the span, then `= note:` lines. The
/// output ends with a newline. `color` adds ANSI escapes for a terminal.
pub fn render(sources: &Sources, d: &Diagnostic, color: bool) -> String {
    let mut out = String::new();
    let (sev_on, bold, blue, off) = if color {
        (severity_color(d.severity), BOLD, BLUE, RESET)
    } else {
        ("", "", "", "")
    };
    let Some(span) = d.span else {
        let _ = writeln!(
            out,
            "{sev_on}{}{off}{bold}: {}{off}",
            d.severity,
            printable(&d.message)
        );
        render_notes(&mut out, &d.notes, "", blue, off);
        return out;
    };
    let (line, col) = sources.line_col(span);
    let _ = writeln!(
        out,
        "{}:{line}:{col}: {sev_on}{}{off}{bold}: {}{off}",
        printable(&sources.path(span.file).display().to_string()),
        d.severity,
        printable(&d.message)
    );
    let mut parent = sources.included_from(span.file);
    let mut depth = 0;
    while let Some(p) = parent {
        let (pl, _) = sources.line_col(p);
        let _ = writeln!(out, "included from {}:{pl}", sources.path(p.file).display());
        parent = sources.included_from(p.file);
        depth += 1;
        if depth > sources.len() {
            break; // a malformed Sources must not loop forever
        }
    }

    let (text, line_start) = sources.line_text(span.file, span.start);
    let gutter = " ".repeat(line.to_string().len());
    let rel_start = span.start.saturating_sub(line_start).min(text.len());
    let rel_end = span
        .end
        .saturating_sub(line_start)
        .clamp(rel_start, text.len());
    let snippet = Snippet::new(text, rel_start, rel_end);
    let _ = writeln!(out, "{gutter} {blue}|{off}");
    let _ = writeln!(out, "{blue}{line} |{off} {}", snippet.shown);
    let _ = writeln!(
        out,
        "{gutter} {blue}|{off} {}{sev_on}{}{off}",
        snippet.pad,
        "^".repeat(snippet.carets.max(1))
    );
    render_notes(&mut out, &d.notes, &gutter, blue, off);
    out
}

/// Widest source line shown under a diagnostic, in characters; a longer line is shown as a
/// window around the span, with `…` where it was cut.
const MAX_SNIPPET_CHARS: usize = 120;
/// Characters shown before the span when a long line is cut.
const SNIPPET_CONTEXT: usize = 30;
/// Longest message or note printed whole, in characters; a longer one keeps its beginning and
/// its end (where the explanation is) and says how much was cut. Room for patchbay's own longest
/// explanations (a start error naming the process that holds a port is about 450 characters),
/// so only quoted configuration text makes a message this long.
const MAX_MESSAGE_CHARS: usize = 600;

/// The source line as shown: control characters replaced one for one (so carets stay aligned)
/// and a long line cut to a window around the span.
struct Snippet {
    shown: String,
    pad: String,
    carets: usize,
}

impl Snippet {
    fn new(text: &str, rel_start: usize, rel_end: usize) -> Snippet {
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let first = chars.partition_point(|&(i, _)| i < rel_start);
        let end = chars.partition_point(|&(i, _)| i < rel_end);
        let (from, to) = if chars.len() <= MAX_SNIPPET_CHARS {
            (0, chars.len())
        } else {
            let from = first
                .saturating_sub(SNIPPET_CONTEXT)
                .min(chars.len() - MAX_SNIPPET_CHARS);
            (from, from + MAX_SNIPPET_CHARS)
        };
        let mut snippet = Snippet {
            shown: String::new(),
            pad: String::new(),
            carets: 0,
        };
        if from > 0 {
            snippet.shown.push('…');
            snippet.pad.push(' ');
        }
        for (k, &(_, c)) in chars[from..to].iter().enumerate() {
            let index = from + k;
            snippet.shown.push(visible(c));
            if index < first {
                snippet.pad.push(if c == '\t' { '\t' } else { ' ' });
            } else if index < end {
                snippet.carets += 1;
            }
        }
        if to < chars.len() {
            snippet.shown.push('…');
        }
        snippet
    }
}

/// A character of the configuration as the snippet shows it: control and invisible format
/// characters (other than tab) become U+FFFD, one character for one.
fn visible(c: char) -> char {
    if (c.is_control() && c != '\t') || c == '\u{FEFF}' || c == '\u{200B}' {
        '\u{FFFD}'
    } else {
        c
    }
}

/// `text` (a message, which may quote the configuration) fit for a terminal: control characters
/// escaped (`\x1b`, `\0`, `\t`), and cut in the middle when it is longer than
/// [`MAX_MESSAGE_CHARS`].
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\0' => out.push_str("\\0"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() || c == '\u{FEFF}' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    let count = out.chars().count();
    if count <= MAX_MESSAGE_CHARS {
        return out;
    }
    let keep = MAX_MESSAGE_CHARS / 2;
    let head: String = out.chars().take(keep).collect();
    let tail: String = out.chars().skip(count - keep).collect();
    format!("{head} …({} characters cut)… {tail}", count - 2 * keep)
}

/// A piece of configuration text to quote in a message: at most `max` characters, with `…`
/// where it was cut ([`render`] escapes control characters).
pub fn excerpt(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Diagnostics with repeats folded: every diagnostic with the same severity, message and notes
/// as an earlier one is left out, and the first says how often and where else it occurred
/// (up to [`MAX_REPEAT_PLACES`] places). Order is kept.
pub fn fold_repeats(sources: &Sources, diagnostics: &[Diagnostic]) -> Vec<Diagnostic> {
    let mut first: HashMap<(Severity, &str, &[String]), usize> = HashMap::new();
    let mut out: Vec<(Diagnostic, Vec<Option<Span>>)> = Vec::new();
    for d in diagnostics {
        let key = (d.severity, d.message.as_str(), d.notes.as_slice());
        match first.get(&key) {
            Some(&i) => out[i].1.push(d.span),
            None => {
                first.insert(key, out.len());
                out.push((d.clone(), Vec::new()));
            }
        }
    }
    out.into_iter()
        .map(|(mut d, repeats)| {
            if !repeats.is_empty() {
                d.notes
                    .push(repeat_note(sources, d.severity, d.span, &repeats));
            }
            d
        })
        .collect()
}

/// Places listed in the note of a folded diagnostic.
const MAX_REPEAT_PLACES: usize = 5;

fn repeat_note(
    sources: &Sources,
    severity: Severity,
    at: Option<Span>,
    repeats: &[Option<Span>],
) -> String {
    let place = |s: Span| {
        let (line, _) = sources.line_col(s);
        format!("{}:{line}", sources.path(s.file).display())
    };
    let here = at.map(place);
    let mut places: Vec<String> = Vec::new();
    for p in repeats.iter().flatten().map(|&s| place(s)) {
        if Some(&p) != here.as_ref() && !places.contains(&p) {
            places.push(p);
        }
    }
    let n = repeats.len();
    let times = if n == 1 { "time" } else { "times" };
    let mut note = format!("the same {severity} {n} more {times}");
    if !places.is_empty() {
        let shown = places.len().min(MAX_REPEAT_PLACES);
        let _ = write!(note, ", at {}", places[..shown].join(", "));
        if places.len() > shown {
            let _ = write!(note, " and {} more places", places.len() - shown);
        }
    }
    note
}

fn render_notes(out: &mut String, notes: &[String], gutter: &str, blue: &str, off: &str) {
    for n in notes {
        let _ = writeln!(out, "{gutter} {blue}={off} note: {}", printable(n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_position_snippet_and_notes() {
        let mut s = Sources::new();
        let f = s.add("stage.cfg", "[map]\nout.1 < dsk.1\n", None);
        let d = Diagnostic::error(Span::new(f, 14, 17), "no instance named 'dsk'")
            .with_note("known instances: out");
        assert_eq!(
            render(&s, &d, false),
            "stage.cfg:2:9: error: no instance named 'dsk'\n  |\n2 | out.1 < dsk.1\n  |         ^^^\n  = note: known instances: out\n"
        );
    }

    #[test]
    fn renders_include_chain_innermost_first() {
        let mut s = Sources::new();
        let a = s.add("a.cfg", "x\n[include b.cfg]\n", None);
        let b = s.add("b.cfg", "[include c.cfg]\n", Some(Span::new(a, 11, 16)));
        let c = s.add("c.cfg", "bad\n", Some(Span::new(b, 9, 14)));
        let d = Diagnostic::warning(Span::new(c, 0, 3), "w");
        assert_eq!(
            render(&s, &d, false),
            "c.cfg:1:1: warning: w\nincluded from b.cfg:1\nincluded from a.cfg:2\n  |\n1 | bad\n  | ^^^\n"
        );
    }

    #[test]
    fn renders_without_span_and_with_color() {
        let s = Sources::new();
        let d = Diagnostic::new(Severity::Error, None, "cannot read 'x'");
        assert_eq!(render(&s, &d, false), "error: cannot read 'x'\n");
        assert!(render(&s, &d, true).contains("\x1b[1;31merror"));
    }

    #[test]
    fn carets_follow_characters_and_tabs() {
        let mut s = Sources::new();
        let f = s.add("t.cfg", "\tné = \u{1}x", None);
        let d = Diagnostic::note(Span::new(f, 6, 9), "n");
        let r = render(&s, &d, false);
        assert!(r.starts_with("t.cfg:1:6: note: n\n"), "{r}");
        assert!(r.contains("1 | \tné = \u{FFFD}x\n"), "{r}");
        assert!(r.contains("  | \t    ^^^\n"), "{r}");
    }

    #[test]
    fn inline_comment_hint_needs_space_before_semicolon() {
        assert!(inline_comment_hint("100 ; main").is_some());
        assert!(inline_comment_hint("100\t;main").is_some());
        assert!(inline_comment_hint("a;b").is_none());
    }

    #[test]
    fn control_bytes_in_messages_are_escaped() {
        let mut s = Sources::new();
        let f = s.add("t.cfg", "x\n", None);
        let d = Diagnostic::error(Span::new(f, 0, 1), "bad '\x1b[2J\x07\0\t'").with_note("n\x1b");
        let r = render(&s, &d, false);
        assert!(
            r.starts_with("t.cfg:1:1: error: bad '\\u{1b}[2J\\u{7}\\0\\t'\n"),
            "{r}"
        );
        assert!(r.ends_with("= note: n\\u{1b}\n"), "{r}");
        assert!(!r.chars().any(|c| c.is_control() && c != '\n'), "{r:?}");
    }

    #[test]
    fn long_messages_keep_their_beginning_and_end() {
        let m = format!("value '{}' is wrong (expected 1..512)", "v".repeat(1000));
        let p = printable(&m);
        assert!(p.chars().count() < MAX_MESSAGE_CHARS + 40, "{p}");
        assert!(p.starts_with("value 'vvv"), "{p}");
        assert!(p.ends_with("' is wrong (expected 1..512)"), "{p}");
        assert!(p.contains("…(435 characters cut)…"), "{p}");
        assert_eq!(printable("short"), "short");
    }

    #[test]
    fn long_lines_are_shown_as_a_window_around_the_span() {
        let mut s = Sources::new();
        let line = format!("{}BAD{}", "a".repeat(500), "z".repeat(500));
        let f = s.add("t.cfg", format!("{line}\n"), None);
        let d = Diagnostic::error(Span::new(f, 500, 503), "e");
        let r = render(&s, &d, false);
        let lines: Vec<&str> = r.lines().collect();
        let shown = lines[2].strip_prefix("1 | ").expect("snippet line");
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        assert_eq!(shown.chars().count(), MAX_SNIPPET_CHARS + 2);
        let carets = lines[3].strip_prefix("  | ").expect("caret line");
        // The carets stand under BAD in the window.
        let at = carets.find('^').expect("carets");
        assert_eq!(&shown.chars().skip(at).take(3).collect::<String>(), "BAD");
        assert_eq!(carets.trim(), "^^^");
    }

    #[test]
    fn excerpt_cuts_with_an_ellipsis() {
        assert_eq!(excerpt("abc", 5), "abc");
        assert_eq!(excerpt("abcdefgh", 5), "abcd…");
        assert_eq!(excerpt("ééééééé", 3), "éé…");
    }

    #[test]
    fn identical_diagnostics_fold_into_the_first_with_a_count() {
        let mut s = Sources::new();
        let text: String = (0..20).map(|i| format!("line {i}\n")).collect();
        let f = s.add("t.cfg", text, None);
        let at = |line: usize| Span::new(f, line * 7, line * 7 + 4);
        let mut ds = vec![Diagnostic::error(at(0), "other")];
        for line in 1..10 {
            ds.push(Diagnostic::warning(at(line), "no priority"));
        }
        ds.push(Diagnostic::warning(at(9), "no priority"));
        ds.push(Diagnostic::warning(at(3), "no priority").with_note("different"));
        let folded = fold_repeats(&s, &ds);
        assert_eq!(folded.len(), 3);
        assert_eq!(folded[0], ds[0]);
        assert_eq!(folded[1].span, Some(at(1)));
        assert_eq!(
            folded[1].notes,
            [
                "the same warning 9 more times, at t.cfg:3, t.cfg:4, t.cfg:5, t.cfg:6, t.cfg:7 and 3 more places"
            ]
        );
        assert_eq!(folded[2].notes, ["different"]);
        // A repeat at the same place only counts.
        let twice = [ds[1].clone(), ds[1].clone()];
        assert_eq!(
            fold_repeats(&s, &twice)[0].notes,
            ["the same warning 1 more time"]
        );
    }
}
