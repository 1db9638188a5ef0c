//! Command-line overrides `-i INSTANCE.OPTION=VALUE` and
//! `-b BACKEND.OPTION=VALUE` (doc/config.md section 6).

use crate::diag::Diagnostic;
use crate::source::{Sources, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OverrideKind {
    /// `-b BACKEND.OPTION=VALUE`
    Backend,
    /// `-i INSTANCE.OPTION=VALUE`
    Instance,
}

impl OverrideKind {
    pub fn flag(self) -> &'static str {
        match self {
            OverrideKind::Backend => "-b",
            OverrideKind::Instance => "-i",
        }
    }
}

/// Name of the virtual source an override's text is registered under.
pub const COMMAND_LINE: &str = "command line";

/// One override. Spans point into a virtual source whose text is
/// [`Override::source_text`] (`"-i out.priority=50"`); [`crate::load`]
/// registers that text again in the configuration's own [`Sources`], so the
/// `Sources` given to [`Override::parse`] need not be the one that is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub kind: OverrideKind,
    pub target: String,
    pub key: String,
    pub value: String,
    /// The whole argument (without the flag).
    pub span: Span,
    pub target_span: Span,
    pub key_span: Span,
    pub value_span: Span,
    /// Text of the virtual source the spans refer to.
    pub source_text: String,
}

fn trim_range(s: &str, start: usize, end: usize) -> (usize, usize) {
    let part = &s[start..end];
    let lead = part.len() - part.trim_start_matches(crate::parse::is_ws).len();
    let trimmed = part.trim_matches(crate::parse::is_ws);
    (start + lead, start + lead + trimmed.len())
}

impl Override {
    /// Parses the argument of `-i`/`-b`: split at the first `.` (target) and
    /// the first `=` after it (option / value); all parts trimmed.
    pub fn parse(
        kind: OverrideKind,
        text: &str,
        sources: &mut Sources,
    ) -> Result<Override, Diagnostic> {
        let flag = kind.flag();
        let source_text = format!("{flag} {text}");
        let file = sources.add_virtual(COMMAND_LINE, &source_text);
        let base = flag.len() + 1;
        let s = &source_text;
        let (ts, te) = trim_range(s, base, s.len());
        let span = Span::new(file, ts, te);
        let what = match kind {
            OverrideKind::Backend => "BACKEND.OPTION=VALUE",
            OverrideKind::Instance => "INSTANCE.OPTION=VALUE",
        };
        let Some(dot) = s[base..].find('.').map(|d| d + base) else {
            return Err(Diagnostic::error(
                span,
                format!("override '{text}' has no '.' (expected {flag} {what})"),
            ));
        };
        let Some(eq) = s[dot..].find('=').map(|e| e + dot) else {
            return Err(Diagnostic::error(
                span,
                format!("override '{text}' has no '=' after the '.' (expected {flag} {what})"),
            ));
        };
        let (t0, t1) = trim_range(s, base, dot);
        let (k0, k1) = trim_range(s, dot + 1, eq);
        let (v0, v1) = trim_range(s, eq + 1, s.len());
        let target_span = Span::new(file, t0, t1);
        let key_span = Span::new(file, k0, k1);
        if t0 == t1 {
            let thing = match kind {
                OverrideKind::Backend => "backend",
                OverrideKind::Instance => "instance",
            };
            return Err(Diagnostic::error(
                target_span,
                format!(
                    "override '{text}' names no {thing} before the '.' (expected {flag} {what})"
                ),
            ));
        }
        if k0 == k1 {
            return Err(Diagnostic::error(
                key_span,
                format!(
                    "override '{text}' names no option between '.' and '=' (expected {flag} {what})"
                ),
            ));
        }
        Ok(Override {
            kind,
            target: s[t0..t1].to_string(),
            key: s[k0..k1].to_string(),
            value: s[v0..v1].to_string(),
            span,
            target_span,
            key_span,
            value_span: Span::new(file, v0, v1),
            source_text: source_text.clone(),
        })
    }

    /// The argument as the user would write it, for messages.
    pub fn display(&self) -> String {
        format!(
            "{} {}.{}={}",
            self.kind.flag(),
            self.target,
            self.key,
            self.value
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::render;

    #[test]
    fn splits_at_first_dot_and_first_equals() {
        let mut s = Sources::new();
        let o = Override::parse(OverrideKind::Instance, " out . priority = 5=0.1 ", &mut s)
            .expect("valid");
        assert_eq!(
            (o.target.as_str(), o.key.as_str(), o.value.as_str()),
            ("out", "priority", "5=0.1")
        );
        assert_eq!(
            &s.text(o.key_span.file)[o.key_span.start..o.key_span.end],
            "priority"
        );
        assert_eq!(s.line_col(o.key_span), (1, 11));
        assert_eq!(s.line_col(o.value_span), (1, 22));
        let o = Override::parse(OverrideKind::Backend, "sacn.name=", &mut s).expect("valid");
        assert_eq!((o.kind, o.value.as_str()), (OverrideKind::Backend, ""));
    }

    #[test]
    fn malformed_overrides_point_at_the_argument() {
        let mut s = Sources::new();
        let e =
            Override::parse(OverrideKind::Instance, "out=priority", &mut s).expect_err("no dot");
        assert_eq!(
            render(&s, &e, false).lines().next(),
            Some(
                "command line:1:4: error: override 'out=priority' has no '.' (expected -i INSTANCE.OPTION=VALUE)"
            )
        );
        let e = Override::parse(OverrideKind::Backend, "sacn.name", &mut s).expect_err("no =");
        assert_eq!(
            e.message,
            "override 'sacn.name' has no '=' after the '.' (expected -b BACKEND.OPTION=VALUE)"
        );
        let e = Override::parse(OverrideKind::Backend, " .name=x", &mut s).expect_err("no target");
        assert!(e.message.contains("names no backend"), "{}", e.message);
        let e = Override::parse(OverrideKind::Instance, "out. =x", &mut s).expect_err("no key");
        assert!(e.message.contains("names no option"), "{}", e.message);
        assert_eq!(s.line_col(e.span.expect("span")), (1, 9));
    }
}
