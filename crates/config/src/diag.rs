//! Diagnostics in the `FILE:LINE:COLUMN: error: REASON` form config.md
//! section 4 requires, with a rustc-like snippet under them.
//!
//! The renderer is hand-written rather than annotate-snippets because the
//! first line's exact shape is a spec requirement and must stay stable for
//! snapshot tests, and every span here lies on a single line.

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

/// The note config.md 1.1 asks for when a failing value or mapping contains
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
        let _ = writeln!(out, "{sev_on}{}{off}{bold}: {}{off}", d.severity, d.message);
        render_notes(&mut out, &d.notes, "", blue, off);
        return out;
    };
    let (line, col) = sources.line_col(span);
    let _ = writeln!(
        out,
        "{}:{line}:{col}: {sev_on}{}{off}{bold}: {}{off}",
        sources.path(span.file).display(),
        d.severity,
        d.message
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
    let shown = sanitize(text);
    let gutter = " ".repeat(line.to_string().len());
    let rel_start = span.start.saturating_sub(line_start).min(text.len());
    let rel_end = span
        .end
        .saturating_sub(line_start)
        .clamp(rel_start, text.len());
    let mut pad = String::new();
    let mut carets = 0usize;
    for (i, c) in text.char_indices() {
        if i < rel_start {
            pad.push(if c == '\t' { '\t' } else { ' ' });
        } else if i < rel_end {
            carets += 1;
        }
    }
    let carets = "^".repeat(carets.max(1));
    let _ = writeln!(out, "{gutter} {blue}|{off}");
    let _ = writeln!(out, "{blue}{line} |{off} {shown}");
    let _ = writeln!(out, "{gutter} {blue}|{off} {pad}{sev_on}{carets}{off}");
    render_notes(&mut out, &d.notes, &gutter, blue, off);
    out
}

fn render_notes(out: &mut String, notes: &[String], gutter: &str, blue: &str, off: &str) {
    for n in notes {
        let _ = writeln!(out, "{gutter} {blue}={off} note: {n}");
    }
}

/// Keeps control characters (other than tab) out of the terminal while
/// keeping one character per input character, so carets stay aligned.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if (c.is_control() && c != '\t') || c == '\u{7f}' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
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
}
