//! The line-by-line reader: section state machine, includes (textual
//! insertion), option lines, mapping lines and override application.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::{Diagnostic, excerpt, inline_comment_hint};
use crate::glob::{GlobError, GlobErrorKind, Pattern};
use crate::mapping::{Arrow, Mapping, Side};
use crate::names::Names;
use crate::overrides::{COMMAND_LINE, Override, OverrideKind};
use crate::source::{FileId, Sources, Span, Spanned};
use crate::transform::{chain_start, parse_chain};
use crate::{Item, LoadOptions};

/// ASCII whitespace as doc/config.md section 1 defines it (includes VT, unlike
/// `u8::is_ascii_whitespace`).
pub(crate) fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '\x0b' | '\x0c')
}

/// Most characters of a whole line quoted in a message (the snippet under it shows the line).
const QUOTE_CHARS: usize = 60;

/// The byte order mark some editors write at the start of a UTF-8 file.
pub(crate) const BOM: char = '\u{FEFF}';

/// Resource bounds, so hostile or mistyped input cannot exhaust memory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_side: usize,
    pub max_total: usize,
    /// Bound on the bytes of all expanded names, so long names times many
    /// channels cannot exhaust memory either.
    pub max_total_bytes: usize,
    pub includes: bool,
    pub max_include_depth: usize,
    /// Largest file (top-level or included) read, in bytes.
    pub max_file_size: u64,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_side: crate::MAX_CHANNELS_PER_SIDE,
        max_total: crate::MAX_CHANNELS_TOTAL,
        max_total_bytes: 1 << 30,
        includes: true,
        max_include_depth: 64,
        max_file_size: 256 << 20,
    };
}

enum Section {
    /// Before the first header.
    None,
    Backend(String),
    Instance(String),
    Map,
    /// After a header that failed; its lines are skipped silently so one
    /// mistake does not produce an error per following line.
    Invalid,
}

struct InstanceDef {
    backend: String,
    span: Span,
}

pub(crate) struct Loader<'o> {
    opts: &'o LoadOptions,
    limits: Limits,
    pub sources: Sources,
    pub items: Vec<Item>,
    pub diags: Vec<Diagnostic>,
    section: Section,
    instances: HashMap<String, InstanceDef>,
    instance_order: Vec<String>,
    /// Instances whose header failed for another reason (unknown backend);
    /// mappings naming them are dropped without a second error.
    poisoned: HashSet<String>,
    /// Files being read, outermost first, with their canonical paths.
    stack: Vec<(Option<PathBuf>, FileId)>,
    overrides: Vec<(Override, bool)>,
    total_channels: usize,
    total_bytes: u128,
    total_exceeded: bool,
}

fn trimmed(text: &str, start: usize, end: usize) -> (usize, usize) {
    let part = &text[start..end];
    let s = part.trim_start_matches(is_ws);
    let lead = part.len() - s.len();
    let t = s.trim_end_matches(is_ws);
    (start + lead, start + lead + t.len())
}

fn join<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.collect();
    if v.is_empty() {
        "none".to_string()
    } else {
        v.join(", ")
    }
}

/// Reads a whole file as text. Pipes (`<(...)` process substitution) are
/// allowed, so the size is capped while reading rather than from metadata.
fn read_text(path: &Path, limit: u64) -> Result<(String, bool), String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err("it is a directory".to_string());
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limit {
        return Err(format!("file is larger than {limit} bytes"));
    }
    match String::from_utf8(bytes) {
        Ok(s) => Ok((s, true)),
        Err(e) => Ok((String::from_utf8_lossy(e.as_bytes()).into_owned(), false)),
    }
}

impl<'o> Loader<'o> {
    pub fn new(opts: &'o LoadOptions, limits: Limits) -> Loader<'o> {
        Loader {
            opts,
            limits,
            sources: Sources::new(),
            items: Vec::new(),
            diags: Vec::new(),
            section: Section::None,
            instances: HashMap::new(),
            instance_order: Vec::new(),
            poisoned: HashSet::new(),
            stack: Vec::new(),
            overrides: Vec::new(),
            total_channels: 0,
            total_bytes: 0,
            total_exceeded: false,
        }
    }

    /// Reads the top-level file from disk.
    pub fn load_path(mut self, path: &Path) -> (Sources, Vec<Item>, Vec<Diagnostic>) {
        match read_text(path, self.limits.max_file_size) {
            Ok((text, utf8)) => {
                let canonical = std::fs::canonicalize(path).ok();
                self.run_top(path.to_path_buf(), text, canonical, utf8);
            }
            Err(e) => {
                self.diags.push(Diagnostic::new(
                    crate::Severity::Error,
                    None,
                    format!("cannot read configuration file '{}': {e}", path.display()),
                ));
                self.register_overrides();
                self.finish();
            }
        }
        (self.sources, self.items, self.diags)
    }

    /// Reads the top-level text given in memory.
    pub fn load_text(mut self, name: &str, text: &str) -> (Sources, Vec<Item>, Vec<Diagnostic>) {
        self.run_top(PathBuf::from(name), text.to_string(), None, true);
        (self.sources, self.items, self.diags)
    }

    fn run_top(&mut self, path: PathBuf, text: String, canonical: Option<PathBuf>, utf8: bool) {
        let file = self.sources.add(path, text, None);
        self.register_overrides();
        if !utf8 {
            self.not_utf8(file);
        }
        self.stack.push((canonical, file));
        self.run_file(file);
        self.stack.pop();
        self.finish();
    }

    fn not_utf8(&mut self, file: FileId) {
        let pos = self.sources.text(file).find('\u{FFFD}').unwrap_or(0);
        let end = pos
            + '\u{FFFD}'
                .len_utf8()
                .min(self.sources.text(file).len() - pos);
        self.diags.push(Diagnostic::warning(
            Span::new(file, pos, end),
            "file is not valid UTF-8; invalid bytes were replaced by U+FFFD",
        ));
    }

    /// Copies override texts into this configuration's sources so their
    /// spans are valid here whichever `Sources` parsed them.
    fn register_overrides(&mut self) {
        for o in &self.opts.overrides {
            let file = self.sources.add_virtual(COMMAND_LINE, &o.source_text);
            let re = |s: Span| Span::new(file, s.start, s.end);
            let mut o = o.clone();
            o.span = re(o.span);
            o.target_span = re(o.target_span);
            o.key_span = re(o.key_span);
            o.value_span = re(o.value_span);
            self.overrides.push((o, false));
        }
    }

    fn finish(&mut self) {
        self.close_section();
        self.section = Section::None;
        for (o, applied) in &self.overrides {
            if *applied {
                continue;
            }
            let msg = match o.kind {
                OverrideKind::Instance => format!(
                    "unused override '{}': no instance '{}' is defined (known instances: {})",
                    o.display(),
                    o.target,
                    join(self.instance_order.iter().map(String::as_str))
                ),
                OverrideKind::Backend if self.is_known_backend(&o.target) => format!(
                    "unused override '{}': the configuration has no [backend {}] section to apply it to",
                    o.display(),
                    o.target
                ),
                OverrideKind::Backend => format!(
                    "unused override '{}': no such backend '{}' (known backends: {})",
                    o.display(),
                    o.target,
                    join(self.opts.known_backends.iter().map(String::as_str))
                ),
            };
            self.diags.push(Diagnostic::error(o.target_span, msg));
        }
    }

    fn is_known_backend(&self, name: &str) -> bool {
        self.opts.known_backends.iter().any(|b| b == name)
    }

    /// Emits the overrides for the section that is ending (doc/config.md section 6:
    /// after the last line of the first section for the target).
    fn close_section(&mut self) {
        let (kind, target) = match &self.section {
            Section::Backend(b) => (OverrideKind::Backend, b.as_str()),
            Section::Instance(i) => (OverrideKind::Instance, i.as_str()),
            _ => return,
        };
        for (o, applied) in &mut self.overrides {
            if *applied || o.kind != kind || o.target != target {
                continue;
            }
            *applied = true;
            let key = Spanned::new(o.key.clone(), o.key_span);
            let value = Spanned::new(o.value.clone(), o.value_span);
            self.items.push(match kind {
                OverrideKind::Backend => Item::BackendOption {
                    backend: target.to_string(),
                    key,
                    value,
                },
                OverrideKind::Instance => Item::InstanceOption {
                    instance: target.to_string(),
                    key,
                    value,
                },
            });
        }
    }

    fn run_file(&mut self, file: FileId) {
        let text: Arc<str> = self.sources.text_arc(file);
        // Most lines of a large configuration are mappings; reserving up
        // front avoids copying the item list while it grows. A mapping line
        // takes at least 8 bytes ("a.b>c.d\n"), which bounds the guess for
        // files of blank lines.
        let guess = self.sources.line_count(file).min(text.len() / 8 + 1);
        self.items.reserve(guess);
        // Editors on Windows may start a UTF-8 file with a byte order mark; it is not text.
        let mut start = 0;
        if text.starts_with(BOM) {
            start = BOM.len_utf8();
            self.diags.push(Diagnostic::note(
                Span::new(file, 0, start),
                "skipped the UTF-8 byte order mark (U+FEFF) at the start of the file",
            ));
        }
        loop {
            let end = text[start..].find('\n').map_or(text.len(), |e| start + e);
            self.line(file, &text, start, end);
            if end >= text.len() {
                break;
            }
            start = end + 1;
        }
    }

    fn line(&mut self, file: FileId, text: &str, start: usize, end: usize) {
        let (ts, te) = trimmed(text, start, end);
        let t = &text[ts..te];
        if t.is_empty() || t.starts_with(';') {
            return;
        }
        if t.starts_with('[') {
            if t.ends_with(']') {
                self.header(file, ts, t);
                return;
            }
            if let Some(close) = t.find(']') {
                let (as_, ae) = trimmed(text, ts + close + 1, te);
                self.diags.push(Diagnostic::error(
                    Span::new(file, as_, ae),
                    format!(
                        "text after section header: '{}' (nothing may follow the ']'; a comment must be on its own line starting with ';')",
                        excerpt(&text[as_..ae], QUOTE_CHARS)
                    ),
                ));
                // Still open the section, so the following lines are read in
                // the section the user meant.
                self.header(file, ts, &t[..=close]);
                return;
            }
        }
        let span = Span::new(file, ts, te);
        match &self.section {
            Section::None => {
                let mut d = Diagnostic::error(
                    span,
                    format!(
                        "option outside of any section: '{}' (options must follow a [backend NAME] or [BACKEND INSTANCE] header)",
                        excerpt(t, QUOTE_CHARS)
                    ),
                );
                if t.contains(['<', '>']) {
                    d = d.with_note("mappings must follow a [map] header");
                }
                self.diags.push(d);
            }
            Section::Backend(_) | Section::Instance(_) => self.option(file, text, ts, te),
            Section::Map => self.mapping(file, text, ts, te),
            Section::Invalid => {}
        }
    }

    fn section_label(&self) -> String {
        match &self.section {
            Section::Backend(b) => format!("[backend {b}]"),
            Section::Instance(i) => {
                let b = self.instances.get(i).map_or("?", |d| d.backend.as_str());
                format!("[{b} {i}]")
            }
            Section::Map => "[map]".to_string(),
            Section::None | Section::Invalid => String::new(),
        }
    }

    fn option(&mut self, file: FileId, text: &str, ts: usize, te: usize) {
        let t = &text[ts..te];
        let Some(eq) = t.find('=') else {
            let mut d = Diagnostic::error(
                Span::new(file, ts, te),
                format!(
                    "not an assignment: '{}' (expected KEY = VALUE in section {})",
                    excerpt(t, QUOTE_CHARS),
                    self.section_label()
                ),
            );
            if t.contains(['<', '>']) {
                d = d.with_note("mappings must follow a [map] header");
            }
            self.diags.push(d.with_inline_comment_hint(t));
            return;
        };
        let (k0, k1) = trimmed(text, ts, ts + eq);
        let (v0, v1) = trimmed(text, ts + eq + 1, te);
        let key = Spanned::new(text[k0..k1].to_string(), Span::new(file, k0, k1));
        let value = Spanned::new(text[v0..v1].to_string(), Span::new(file, v0, v1));
        let item = match &self.section {
            Section::Backend(b) => Item::BackendOption {
                backend: b.clone(),
                key,
                value,
            },
            Section::Instance(i) => Item::InstanceOption {
                instance: i.clone(),
                key,
                value,
            },
            _ => return,
        };
        self.items.push(item);
    }

    /// Checks a backend name; reports and returns false if unusable.
    fn check_backend(&mut self, name: &str, span: Span) -> bool {
        if self.is_known_backend(name) {
            return true;
        }
        let known = join(self.opts.known_backends.iter().map(String::as_str));
        let d = if self.opts.unsupported_backends.iter().any(|b| b == name) {
            Diagnostic::error(
                span,
                format!("backend '{name}' is not supported by patchbay"),
            )
            .with_note(format!("patchbay's backends are: {known}"))
        } else if name.is_empty() {
            Diagnostic::error(
                span,
                format!("missing backend name (known backends: {known})"),
            )
        } else {
            Diagnostic::error(
                span,
                format!("no such backend '{name}' (known backends: {known})"),
            )
        };
        self.diags.push(d);
        false
    }

    /// `h` is the trimmed header `[...]` starting at byte `hs`.
    fn header(&mut self, file: FileId, hs: usize, h: &str) {
        let inner = &h[1..h.len() - 1];
        let is = hs + 1;
        if let Some(path) = inner.strip_prefix("include ") {
            let ps = is + "include ".len();
            self.include(file, Span::new(file, ps, ps + path.len()), path);
            return;
        }
        self.close_section();
        self.section = Section::Invalid;
        if let Some(name) = inner.strip_prefix("backend ") {
            let ns = is + "backend ".len();
            let span = Span::new(file, ns, ns + name.len());
            if self.check_backend(name, span) {
                self.items.push(Item::BackendSection {
                    backend: Spanned::new(name.to_string(), span),
                });
                self.section = Section::Backend(name.to_string());
            }
        } else if inner == "map" {
            self.section = Section::Map;
        } else if let Some(sp) = inner.find(' ') {
            self.instance_header(file, is, inner, sp);
        } else {
            self.diags.push(Diagnostic::error(
                Span::new(file, is, is + inner.len()),
                format!(
                    "unknown section header '{}' (expected [backend NAME], [include PATH], [map] or [BACKEND INSTANCE])",
                    excerpt(h, QUOTE_CHARS)
                ),
            ));
        }
    }

    fn instance_header(&mut self, file: FileId, is: usize, inner: &str, sp: usize) {
        let backend = &inner[..sp];
        let name = &inner[sp + 1..];
        let bspan = Span::new(file, is, is + sp);
        let nspan = Span::new(file, is + sp + 1, is + inner.len());
        if backend == "map" {
            self.diags.push(Diagnostic::error(
                Span::new(file, is + sp, is + inner.len()),
                format!("text after [map]: '{name}' (the [map] header takes no name)"),
            ));
            return;
        }
        let backend_ok = self.check_backend(backend, bspan);
        let mut name_ok = true;
        if name.is_empty() {
            self.diags.push(Diagnostic::error(
                nspan,
                format!(
                    "missing instance name in '[{inner}]' (expected [BACKEND INSTANCE]; instance names must be non-empty and contain neither space nor '.')"
                ),
            ));
            name_ok = false;
        } else if let Some(bad) = name.find([' ', '.']) {
            let c = &name[bad..=bad];
            let what = if c == " " { "a space" } else { "'.'" };
            self.diags.push(Diagnostic::error(
                nspan,
                format!(
                    "invalid instance name '{name}': it contains {what} (instance names must be non-empty and contain neither space nor '.')"
                ),
            ));
            name_ok = false;
        } else if let Some(first) = self.instances.get(name) {
            let (l, c) = self.sources.line_col(first.span);
            let msg = format!(
                "duplicate instance '{name}': already defined as [{} {name}] at {}:{l}:{c} (instance names are unique across all backends; a section cannot be re-opened)",
                first.backend,
                self.sources.path(first.span.file).display()
            );
            self.diags.push(Diagnostic::error(nspan, msg));
            return;
        }
        if !name_ok {
            return;
        }
        if !backend_ok {
            self.poisoned.insert(name.to_string());
            return;
        }
        self.instances.insert(
            name.to_string(),
            InstanceDef {
                backend: backend.to_string(),
                span: nspan,
            },
        );
        self.instance_order.push(name.to_string());
        self.items.push(Item::Instance {
            backend: Spanned::new(backend.to_string(), bspan),
            name: Spanned::new(name.to_string(), nspan),
        });
        self.section = Section::Instance(name.to_string());
    }

    fn include(&mut self, file: FileId, span: Span, path: &str) {
        if !self.limits.includes {
            self.diags
                .push(Diagnostic::error(span, "includes are disabled here"));
            return;
        }
        if path.is_empty() {
            self.diags.push(Diagnostic::error(
                span,
                "empty include path (expected [include PATH])",
            ));
            return;
        }
        if self.stack.len() >= self.limits.max_include_depth {
            self.diags.push(Diagnostic::error(
                span,
                format!(
                    "includes are nested more than {} levels deep",
                    self.limits.max_include_depth
                ),
            ));
            return;
        }
        let p = Path::new(path);
        let resolved = if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.sources.dir_of(file).join(p)
        };
        let canonical = std::fs::canonicalize(&resolved).ok();
        if let Some(c) = &canonical
            && let Some(pos) = self.stack.iter().position(|(cp, _)| cp.as_ref() == Some(c))
        {
            let mut chain: Vec<String> = self.stack[pos..]
                .iter()
                .map(|(_, f)| self.sources.path(*f).display().to_string())
                .collect();
            chain.push(resolved.display().to_string());
            self.diags.push(Diagnostic::error(
                span,
                format!("include cycle: {}", chain.join(" -> ")),
            ));
            return;
        }
        match read_text(&resolved, self.limits.max_file_size) {
            Ok((text, utf8)) => {
                let inc = self.sources.add(resolved, text, Some(span));
                if !utf8 {
                    self.not_utf8(inc);
                }
                self.stack.push((canonical, inc));
                self.run_file(inc);
                self.stack.pop();
            }
            Err(e) => self.diags.push(Diagnostic::error(
                span,
                format!("cannot read include file '{}': {e}", resolved.display()),
            )),
        }
    }

    fn mapping(&mut self, file: FileId, text: &str, ts: usize, te: usize) {
        let n_before = self.diags.len();
        self.mapping_inner(file, text, ts, te);
        if self.diags.len() == n_before {
            return;
        }
        if let Some(hint) = inline_comment_hint(&text[ts..te]) {
            for d in &mut self.diags[n_before..] {
                d.notes.push(hint.to_string());
            }
        }
    }

    fn mapping_inner(&mut self, file: FileId, text: &str, ts: usize, te: usize) {
        let t = &text[ts..te];
        let line_span = Span::new(file, ts, te);
        let Some(p) = t.find(['<', '>']) else {
            self.diags.push(Diagnostic::error(
                line_span,
                format!(
                    "not a channel mapping: '{}' (expected LEFT < RIGHT, LEFT > RIGHT or LEFT <> RIGHT, each side INSTANCE.CHANNEL)",
                    excerpt(t, QUOTE_CHARS)
                ),
            ));
            return;
        };
        let b = t.as_bytes();
        let (arrow, alen) = match (b[p], b.get(p + 1)) {
            (b'<', Some(b'>')) | (b'>', Some(b'<')) => (Arrow::Both, 2),
            (b'<', _) => (Arrow::RightToLeft, 1),
            _ => (Arrow::LeftToRight, 1),
        };
        let arrow_text = &t[p..p + alen];
        let arrow_span = Span::new(file, ts + p, ts + p + alen);
        // The right side ends where a transform chain starts (crate::transform says why there).
        let right_end = chain_start(&t[p + alen..]).map_or(te, |c| ts + p + alen + c);
        let transforms = self.chain(file, text, right_end, te, arrow);
        let left = self.side(file, text, ts, ts + p, arrow_text, true);
        let right = self.side(file, text, ts + p + alen, right_end, arrow_text, false);
        let (Some(left), Some(right), Some(transforms)) = (left, right, transforms) else {
            return;
        };
        let (lc, rc) = (left.2.count(), right.2.count());
        if lc != rc && lc != 1 && rc != 1 {
            let (ls, rs) = (
                &text[left.3.start..left.3.end],
                &text[right.3.start..right.3.end],
            );
            let msg = match arrow {
                Arrow::RightToLeft => format!(
                    "multi-channel size mismatch: source '{rs}' has {rc} channels, target '{ls}' has {lc} (sizes must be equal, or one side must have exactly 1)"
                ),
                Arrow::LeftToRight => format!(
                    "multi-channel size mismatch: source '{ls}' has {lc} channels, target '{rs}' has {rc} (sizes must be equal, or one side must have exactly 1)"
                ),
                Arrow::Both => format!(
                    "multi-channel size mismatch: left '{ls}' has {lc} channels, right '{rs}' has {rc} (sizes must be equal, or one side must have exactly 1)"
                ),
            };
            self.diags.push(Diagnostic::error(line_span, msg));
            return;
        }
        // Both counts are within max_side, so this cannot overflow. The
        // glob text is at least as long as any value it produces, so
        // count * text length bounds the bytes the expansion allocates.
        let add = (lc + rc) as usize;
        let bytes = lc.saturating_mul(left.1.value.len() as u128 + 1)
            + rc.saturating_mul(right.1.value.len() as u128 + 1);
        if self.total_exceeded
            || self.total_channels + add > self.limits.max_total
            || self.total_bytes.saturating_add(bytes) > self.limits.max_total_bytes as u128
        {
            if !self.total_exceeded {
                self.diags.push(Diagnostic::error(
                    line_span,
                    format!(
                        "the mappings expand to more than {} channel names or {} bytes of channel names in total; the remaining mapping lines are not expanded",
                        self.limits.max_total, self.limits.max_total_bytes
                    ),
                ));
            }
            self.total_exceeded = true;
            return;
        }
        self.total_channels += add;
        self.total_bytes += bytes;
        let mk =
            |(instance, channel, pat, _): (Spanned<String>, Spanned<String>, Pattern<'_>, Span)| {
                let mut expansions = Names::with_capacity(pat.count() as usize, 0);
                pat.expand_into(&mut expansions);
                Side {
                    instance,
                    channel,
                    expansions,
                }
            };
        self.items.push(Item::Map(Mapping {
            span: line_span,
            arrow,
            arrow_span,
            left: mk(left),
            right: mk(right),
            transforms,
        }));
    }

    /// The transform chain in `text[start..end]` (empty when `start == end`), reporting every
    /// problem; `None` if there was one.
    fn chain(
        &mut self,
        file: FileId,
        text: &str,
        start: usize,
        end: usize,
        arrow: Arrow,
    ) -> Option<Vec<Spanned<crate::Transform>>> {
        if start >= end {
            return Some(Vec::new());
        }
        let chain = &text[start..end];
        let at = |s: usize, e: usize| Span::new(file, start + s, start + e);
        if arrow == Arrow::Both {
            self.diags.push(Diagnostic::error(
                at(0, chain.len()),
                "transforms need one direction, but '<>' maps both ways (write the two directions on two lines, 'a > b | ...' and 'a < b | ...', each with its own chain)",
            ));
            return None;
        }
        match parse_chain(chain) {
            Ok(list) => Some(
                list.into_iter()
                    .map(|(t, s, e)| Spanned::new(t, at(s, e)))
                    .collect(),
            ),
            Err(errors) => {
                for e in errors {
                    self.diags
                        .push(Diagnostic::error(at(e.start, e.end), e.message));
                }
                None
            }
        }
    }

    /// Parses one side in `text[start..end]`, reporting every problem.
    fn side<'t>(
        &mut self,
        file: FileId,
        text: &'t str,
        start: usize,
        end: usize,
        arrow: &str,
        is_left: bool,
    ) -> Option<(Spanned<String>, Spanned<String>, Pattern<'t>, Span)> {
        let (s0, s1) = trimmed(text, start, end);
        let s = &text[s0..s1];
        let span = Span::new(file, s0, s1);
        if s.is_empty() {
            let (which, place) = if is_left {
                ("left", "before")
            } else {
                ("right", "after")
            };
            self.diags.push(Diagnostic::error(
                span,
                format!(
                    "missing {which} side of mapping (expected INSTANCE.CHANNEL {place} '{arrow}')"
                ),
            ));
            return None;
        }
        let Some(dot) = s.find('.') else {
            self.diags.push(Diagnostic::error(
                span,
                format!(
                    "channel specification '{s}' has no '.' (expected INSTANCE.CHANNEL, e.g. out.1)"
                ),
            ));
            return None;
        };
        let inst = &s[..dot];
        let ispan = Span::new(file, s0, s0 + dot);
        let cspan = Span::new(file, s0 + dot + 1, s1);
        let chan = &text[cspan.start..cspan.end];
        let mut ok = true;
        if !self.instances.contains_key(inst) {
            ok = false;
            if !self.poisoned.contains(inst) {
                let msg = if inst.is_empty() {
                    format!(
                        "missing instance name before '.' in '{s}' (known instances: {})",
                        join(self.instance_order.iter().map(String::as_str))
                    )
                } else if self.instance_order.is_empty() {
                    format!(
                        "no instance named '{inst}' (no instances are defined before this line; an instance must be defined before it is mapped)"
                    )
                } else {
                    format!(
                        "no instance named '{inst}' (known instances: {})",
                        join(self.instance_order.iter().map(String::as_str))
                    )
                };
                self.diags.push(Diagnostic::error(ispan, msg));
            }
        }
        let pat = match Pattern::parse(chan) {
            Ok(p) => Some(p),
            Err(errs) => {
                for e in errs {
                    self.glob_error(cspan, s, e);
                }
                None
            }
        };
        let pat = pat?;
        let count = pat.count();
        if count > self.limits.max_side as u128 {
            let e = GlobError {
                start: 0,
                end: chan.len(),
                kind: GlobErrorKind::TooManyChannels {
                    count,
                    limit: self.limits.max_side,
                },
            };
            self.glob_error(cspan, s, e);
            return None;
        }
        if !ok {
            return None;
        }
        Some((
            Spanned::new(inst.to_string(), ispan),
            Spanned::new(chan.to_string(), cspan),
            pat,
            span,
        ))
    }

    fn glob_error(&mut self, cspan: Span, spec: &str, e: GlobError) {
        let span = Span::new(cspan.file, cspan.start + e.start, cspan.start + e.end);
        self.diags.push(Diagnostic::error(span, e.message(spec)));
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
