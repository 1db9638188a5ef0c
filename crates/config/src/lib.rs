//! The configuration language of patchbay: MIDIMonster's INI-like files
//! (reference: doc/config.md), read into an ordered list of
//! [`Item`]s with byte [`Span`]s, plus diagnostics in the
//! `FILE:LINE:COLUMN: error: REASON` form.
//!
//! # The language in brief
//!
//! Each line (whitespace-trimmed; CRLF works) is blank, a `;` comment (only
//! at the start of a line: there are no inline comments), a section header or
//! a line belonging to the current section:
//!
//! - `[backend NAME]`: the following `KEY = VALUE` lines are global options of
//!   backend NAME. May appear several times; options are passed every time.
//! - `[BACKEND INSTANCE]`: creates INSTANCE (unique across all backends, no
//!   space or `.`); the following `KEY = VALUE` lines are its options.
//! - `[map]`: the following lines are mappings `LEFT < RIGHT`, `LEFT > RIGHT`
//!   or `LEFT <> RIGHT`, each side `INSTANCE.CHANNEL` naming an instance
//!   defined earlier. Channels may hold globs, `{1..4}`, `{4..1}` or
//!   `{a,b}`, several of which form a product (rightmost fastest); the sides
//!   must have equal channel counts or one side exactly one channel. A patchbay extension: a
//!   transform chain after the right side, from the first `|` that follows white space
//!   (`a.1 > b.1 | invert | slew 500ms`), for `>` and `<` lines; see [`Transform`].
//! - `[include PATH]`: the file's lines stand in place of this line (parser
//!   state carries over both ways); relative paths are relative to the
//!   including file's directory.
//!
//! Command-line overrides (`-i inst.opt=val`, `-b backend.opt=val`) are
//! inserted as option items at the end of the first section of their target,
//! so they win over the file (doc/config.md section 6).
//!
//! # What is checked here and what is not
//!
//! This crate checks the *language*: header forms, backend names against
//! [`LoadOptions::known_backends`], instance names and duplicates, option
//! line syntax, mapping syntax, transform chains, instance references, globs, side sizes,
//! includes (unreadable, cycles) and unused overrides. It reports every error
//! it finds, not just the first, and never panics on any input.
//!
//! It does **not** know what a backend accepts: option keys and values,
//! channel names (e.g. sACN's `1..512`), and the direction a channel may be
//! used in are validated by the backends, which the daemon calls with the
//! items in order, using the spans here to report their errors (and
//! [`inline_comment_hint`] for values that fail and contain ` ;`). Relative
//! path values are resolved with [`Sources::dir_of`] of the option's file.
//! Duplicate edges are yielded as they are written; collapsing them is the
//! routing table's job. The crate opens no sockets; it only reads files.

mod diag;
mod glob;
mod mapping;
mod names;
mod overrides;
mod parse;
mod source;
mod transform;

use std::path::Path;

pub use diag::{
    Diagnostic, Severity, excerpt, fold_repeats, has_errors, inline_comment_hint, printable, render,
};
pub use glob::{GlobError, GlobErrorKind, Pattern, expand_channel};
pub use mapping::{Arrow, Edge, Mapping, Side};
pub use names::Names;
pub use overrides::{COMMAND_LINE, Override, OverrideKind};
pub use source::{FileId, Sources, Span, Spanned};
pub use transform::Transform;

/// Most channels one side of a mapping may expand to; keeps a typo like
/// `{0..4000000000}` from exhausting memory.
pub const MAX_CHANNELS_PER_SIDE: usize = 1 << 20;

/// Most expanded channel names all mappings together may hold.
pub const MAX_CHANNELS_TOTAL: usize = 1 << 24;

/// What the loader needs to know from outside.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Backends patchbay implements.
    pub known_backends: Vec<String>,
    /// MIDIMonster backends patchbay lacks (`jack`, `evdev`, ...), which get a
    /// clearer error than unknown names.
    pub unsupported_backends: Vec<String>,
    pub overrides: Vec<Override>,
}

/// One meaningful line of the configuration, in file order with includes
/// inserted in place, and overrides inserted where they apply.
#[derive(Debug, Clone, PartialEq, Eq)]
// Mapping lines are most items of a large configuration: boxing them would add an allocation
// each to save padding on the few option lines.
#[allow(clippy::large_enum_variant)]
pub enum Item {
    /// `[backend NAME]`; every occurrence is listed.
    BackendSection { backend: Spanned<String> },
    /// `[BACKEND INSTANCE]`.
    Instance {
        backend: Spanned<String>,
        name: Spanned<String>,
    },
    /// `KEY = VALUE` in a backend section (or a `-b` override, whose spans
    /// point into a [`COMMAND_LINE`] virtual source).
    BackendOption {
        backend: String,
        key: Spanned<String>,
        value: Spanned<String>,
    },
    /// `KEY = VALUE` in an instance section (or a `-i` override).
    InstanceOption {
        instance: String,
        key: Spanned<String>,
        value: Spanned<String>,
    },
    /// A mapping line.
    Map(Mapping),
}

impl Item {
    /// The span to point at for this item: the backend or instance name, the
    /// option key, or the whole mapping line.
    pub fn span(&self) -> Span {
        match self {
            Item::BackendSection { backend } => backend.span,
            Item::Instance { name, .. } => name.span,
            Item::BackendOption { key, .. } | Item::InstanceOption { key, .. } => key.span,
            Item::Map(m) => m.span,
        }
    }
}

/// The result of loading. Items with errors are left out, so a config with
/// errors must not be run (see [`has_errors`]).
#[derive(Debug, Clone)]
pub struct Config {
    pub sources: Sources,
    pub items: Vec<Item>,
}

impl Config {
    pub fn mappings(&self) -> impl Iterator<Item = &Mapping> {
        self.items.iter().filter_map(|i| match i {
            Item::Map(m) => Some(m),
            _ => None,
        })
    }
}

/// Reads and checks the configuration file at `path` (and its includes).
pub fn load(path: &Path, opts: &LoadOptions) -> (Config, Vec<Diagnostic>) {
    let (sources, items, diags) = parse::Loader::new(opts, parse::Limits::DEFAULT).load_path(path);
    (Config { sources, items }, diags)
}

/// Like [`load`] for text in memory; `name` is used as its path in
/// diagnostics and as the base for relative includes.
pub fn load_str(name: &str, text: &str, opts: &LoadOptions) -> (Config, Vec<Diagnostic>) {
    let (sources, items, diags) =
        parse::Loader::new(opts, parse::Limits::DEFAULT).load_text(name, text);
    (Config { sources, items }, diags)
}

/// Fuzzing entry point: loads `text` (includes disabled, smaller limits so
/// the fuzzer explores rather than allocates), walks every edge and renders
/// every diagnostic. Returns the number of edges, so the work is not
/// optimised away.
pub fn fuzz_load_str(text: &str) -> usize {
    let opts = LoadOptions {
        known_backends: vec!["sacn".into(), "loopback".into()],
        unsupported_backends: vec!["jack".into()],
        overrides: Vec::new(),
    };
    let limits = parse::Limits {
        max_side: 4096,
        max_total: 1 << 16,
        max_total_bytes: 1 << 22,
        includes: false,
        ..parse::Limits::DEFAULT
    };
    let (sources, items, diags) = parse::Loader::new(&opts, limits).load_text("fuzz.cfg", text);
    let mut n = 0;
    for item in &items {
        if let Item::Map(m) = item {
            for e in m.edges() {
                n += e.source_channel().len() + e.target_channel().len() + 1;
            }
            n += m.transforms.len();
        }
    }
    for d in &diags {
        n += render(&sources, d, false).len() + render(&sources, d, true).len();
    }
    n
}
