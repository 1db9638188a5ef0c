//! From a loaded configuration to a configured core: backend options, instances, channel
//! lookups and routing edges, with every problem turned into a positioned diagnostic.
//!
//! Nothing here has external effects (backends only validate and record while configuring),
//! so `--check` runs exactly this and stops.

use std::collections::HashSet;

use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};

use patchbay_config::{
    Config, Diagnostic, Item, LoadOptions, Mapping, Override, Side, Sources, Span, Spanned,
};
use patchbay_core::{
    Backend, Chain, ChannelId, ConfigCtx, Core, Direction, InstanceId, Level, NewEdge, OptionError,
    Part, StartError, Transform,
};

/// One unique mapping edge and the line that created it.
#[derive(Clone, Copy, Debug)]
pub struct EdgeRecord {
    pub source: ChannelId,
    pub target: ChannelId,
    /// Index into [`Setup::lines`]. Why not the span itself: 12 instead of 32 bytes per edge,
    /// 10 MB less to write at start-up with 512,000 edges.
    pub line: u32,
}

/// The configured core plus what `--check`/`--dump` and start-up errors need.
pub struct Setup {
    pub core: Core,
    pub config: Config,
    pub diagnostics: Vec<Diagnostic>,
    /// Unique edges in creation order.
    pub edges: Vec<EdgeRecord>,
    /// The mapping lines edges name ([`EdgeRecord::line`]).
    pub lines: Vec<Span>,
    /// Where each instance was defined (index = `InstanceId`).
    pub instance_spans: Vec<Span>,
    /// Every global option line in the order the backends saw them: (backend, key, value span).
    option_spans: Vec<(usize, String, Span)>,
    /// The web monitor's options when the configuration has a `[backend web]` section.
    pub web: Option<patchbay_web::Options>,
}

impl Setup {
    pub fn has_errors(&self) -> bool {
        patchbay_config::has_errors(&self.diagnostics)
    }

    /// The mapping line that created `edge`.
    pub fn edge_span(&self, edge: &EdgeRecord) -> Option<Span> {
        self.lines.get(edge.line as usize).copied()
    }

    /// The line a start-up problem of backend `backend` points at: the global option it names,
    /// else the instance's definition.
    pub fn problem_span(&self, backend: usize, e: &StartError) -> Option<Span> {
        problem_span(&self.option_spans, &self.instance_spans, backend, e)
    }
}

fn problem_span(
    options: &[(usize, String, Span)],
    instances: &[Span],
    backend: usize,
    e: &StartError,
) -> Option<Span> {
    if let Some(opt) = e.option {
        let found = options
            .iter()
            .filter(|(b, key, _)| *b == backend && key == opt.key)
            .nth(opt.index)
            .map(|(_, _, span)| *span);
        if found.is_some() {
            return found;
        }
    }
    e.instance
        .and_then(|i| instances.get(i.0 as usize).copied())
}

/// What the config loader must know of `backends` (the registry): the names it implements and
/// the MIDIMonster backends it recognises but lacks, plus the command-line overrides.
pub fn load_options(backends: &[Box<dyn Backend>], overrides: Vec<Override>) -> LoadOptions {
    LoadOptions {
        known_backends: backends
            .iter()
            .map(|b| b.name().to_string())
            .chain([WEB.to_string()])
            .collect(),
        unsupported_backends: patchbay_backends::UNSUPPORTED
            .iter()
            .map(|s| s.to_string())
            .collect(),
        overrides,
    }
}

/// Applies `config` (read from `config_path`) to `core` in file order; `diagnostics` are the
/// loader's, extended here.
pub fn build(
    core: Core,
    config_path: &Path,
    config: Config,
    diagnostics: Vec<Diagnostic>,
) -> Setup {
    let mut build = Build::new(core, config_path, config, diagnostics);
    while !build.step(None) {}
    build.finish()
}

/// [`build`] a slice at a time: a reload configures its successor core over several loop
/// turns, so routing goes on while a large file is read.
pub struct Build {
    core: Core,
    config: Config,
    builder: Builder,
    /// The next item of `config` to apply.
    next: usize,
}

impl Build {
    pub fn new(
        core: Core,
        config_path: &Path,
        config: Config,
        diagnostics: Vec<Diagnostic>,
    ) -> Build {
        let config_path =
            std::path::absolute(config_path).unwrap_or_else(|_| config_path.to_path_buf());
        let builder = Builder {
            config_path,
            line_warnings: Vec::new(),
            failed_options: HashSet::new(),
            instances: FxHashMap::default(),
            instance_spans: Vec::new(),
            option_spans: Vec::new(),
            edges: Vec::new(),
            lines: Vec::new(),
            web: None,
            web_spans: Vec::new(),
            diagnostics,
        };
        Build {
            core,
            config,
            builder,
            next: 0,
        }
    }

    /// Applies items until all are (`true`) or `budget` has passed (`None`: no limit). The
    /// clock is read after every item: one glob line of 512 mappings takes a millisecond in a
    /// debug build, and reading the clock costs tens of nanoseconds.
    pub fn step(&mut self, budget: Option<std::time::Duration>) -> bool {
        let end = budget.map(|b| std::time::Instant::now() + b);
        while let Some(item) = self.config.items.get(self.next) {
            self.builder.item(&mut self.core, &self.config, item);
            self.next += 1;
            if end.is_some_and(|end| std::time::Instant::now() >= end) {
                return self.next >= self.config.items.len();
            }
        }
        true
    }

    /// The checks that need the whole configuration, then the result.
    pub fn finish(self) -> Setup {
        let Build {
            core,
            config,
            mut builder,
            ..
        } = self;
        builder.validate(&core);
        builder.validate_web();
        builder.warn_cycles(&core);
        let Builder {
            edges,
            lines,
            instance_spans,
            option_spans,
            web,
            diagnostics,
            ..
        } = builder;
        Setup {
            core,
            config,
            diagnostics,
            edges,
            lines,
            instance_spans,
            option_spans,
            web,
        }
    }
}

/// The section name of the web monitor: `[backend web]` configures it. It is part of the daemon
/// rather than a protocol backend (it has no instances), so setup handles its lines itself.
pub const WEB: &str = "web";

/// A channel warning of the mapping line being read: one per side and message, however many of
/// the side's expansions it was given for (a 512-channel glob would otherwise repeat it 512
/// times).
struct LineWarning {
    side: *const Side,
    span: Span,
    spec: String,
    expansions: usize,
    message: String,
    /// Index of the first expansion that got it.
    first: usize,
    count: usize,
}

impl LineWarning {
    fn diagnostic(self) -> Diagnostic {
        let which = match (self.count, self.expansions) {
            (_, 1) => String::new(),
            (1, _) => format!(" (expansion {} of '{}')", self.first + 1, self.spec),
            (n, all) if n == all => format!(" (all {all} channels of '{}')", self.spec),
            (n, all) => format!(
                " ({n} of the {all} channels of '{}', the first is expansion {})",
                self.spec,
                self.first + 1
            ),
        };
        Diagnostic::warning(self.span, format!("{}{which}", self.message))
    }
}

struct Builder {
    config_path: PathBuf,
    line_warnings: Vec<LineWarning>,
    /// Option lines that had an error: (backend, instance or `None` for a global option, key).
    failed_options: HashSet<(usize, Option<InstanceId>, String)>,
    instances: FxHashMap<String, InstanceId>,
    instance_spans: Vec<Span>,
    option_spans: Vec<(usize, String, Span)>,
    edges: Vec<EdgeRecord>,
    lines: Vec<Span>,
    web: Option<patchbay_web::Options>,
    /// Key spans of the `[backend web]` lines read, for problems found once all are read.
    web_spans: Vec<(String, Span)>,
    diagnostics: Vec<Diagnostic>,
}

impl Builder {
    fn item(&mut self, core: &mut Core, config: &Config, item: &Item) {
        match item {
            Item::BackendSection { backend } if backend.value == WEB => {
                self.web.get_or_insert_with(patchbay_web::Options::default);
            }
            Item::BackendSection { .. } => {}
            Item::Instance { backend, name } if backend.value == WEB => {
                self.diagnostics.push(Diagnostic::error(
                    name.span,
                    format!(
                        "the web monitor has no instances: [web {}] is not allowed; its options \
                         go in [backend web]",
                        name.value
                    ),
                ));
            }
            Item::BackendOption {
                backend,
                key,
                value,
            } if backend == WEB => {
                let web = self.web.get_or_insert_with(patchbay_web::Options::default);
                let result = web.configure(&key.value, &value.value);
                self.web_spans.push((key.value.clone(), key.span));
                self.option_result(result, Vec::new(), "backend web", key.span, value);
            }
            Item::Instance { backend, name } => {
                let Some(b) = core.backend_index(&backend.value) else {
                    // The loader already reported unknown backends.
                    return;
                };
                match core.add_instance(b, &name.value) {
                    Ok(id) => {
                        self.instances.insert(name.value.clone(), id);
                        self.instance_spans.push(name.span);
                    }
                    Err(e) => self.diagnostics.push(Diagnostic::error(
                        name.span,
                        format!("{} instance '{}': {e}", backend.value, name.value),
                    )),
                }
            }
            Item::BackendOption {
                backend,
                key,
                value,
            } => {
                let Some(b) = core.backend_index(backend) else {
                    return;
                };
                self.option_spans.push((b, key.value.clone(), value.span));
                let mut warnings = Vec::new();
                let mut ctx = ConfigCtx {
                    base_dir: config.sources.dir_of(key.span.file),
                    config_path: &self.config_path,
                    warnings: &mut warnings,
                };
                let result = core.configure_backend(b, &key.value, &value.value, &mut ctx);
                let what = format!("backend {backend}");
                if result.is_err() {
                    self.failed_options.insert((b, None, key.value.clone()));
                }
                self.option_result(result, warnings, &what, key.span, value);
            }
            Item::InstanceOption {
                instance,
                key,
                value,
            } => {
                let Some(&id) = self.instances.get(instance) else {
                    return;
                };
                let mut warnings = Vec::new();
                let mut ctx = ConfigCtx {
                    base_dir: config.sources.dir_of(key.span.file),
                    config_path: &self.config_path,
                    warnings: &mut warnings,
                };
                let result = core.configure_instance(id, &key.value, &value.value, &mut ctx);
                let backend = core
                    .instance_backend(id)
                    .and_then(|b| core.backend(b))
                    .map_or("?", |b| b.name());
                let what = format!("{backend} instance '{instance}'");
                if result.is_err()
                    && let Some(b) = core.instance_backend(id)
                {
                    self.failed_options.insert((b, Some(id), key.value.clone()));
                }
                self.option_result(result, warnings, &what, key.span, value);
            }
            Item::Map(mapping) => self.mapping(core, &config.sources, mapping),
        }
    }

    fn option_result(
        &mut self,
        result: Result<(), OptionError>,
        warnings: Vec<(Part, String)>,
        what: &str,
        key: Span,
        value: &Spanned<String>,
    ) {
        let at = |part| if part == Part::Key { key } else { value.span };
        if let Err(e) = result {
            let d = Diagnostic::error(at(e.part()), format!("{what}: {e}"));
            self.diagnostics.push(match e.part() {
                Part::Value => d.with_inline_comment_hint(&value.value),
                Part::Key => d,
            });
        }
        for (part, message) in warnings {
            self.diagnostics
                .push(Diagnostic::warning(at(part), format!("{what}: {message}")));
        }
    }

    fn mapping(&mut self, core: &mut Core, sources: &Sources, mapping: &Mapping) {
        let chain = match chain_of(mapping) {
            Ok(chain) => chain,
            Err(d) => {
                self.diagnostics.push(d);
                return;
            }
        };
        // A failing side is reported once per line, not once per edge it takes part in.
        let mut failed: Vec<(*const Side, usize, Direction)> = Vec::new();
        let mut duplicates: Vec<(ChannelId, ChannelId)> = Vec::new();
        let mut conflicts: Vec<(ChannelId, ChannelId)> = Vec::new();
        // The instances of the two sides, looked up once per line rather than per edge.
        let left = self.instances.get(&mapping.left.instance.value).copied();
        let right = self.instances.get(&mapping.right.instance.value).copied();
        let id_of = |side: &Side| {
            if std::ptr::eq(side, &mapping.left) {
                left
            } else {
                right
            }
        };
        for edge in mapping.edges() {
            let source = self.lookup(
                core,
                id_of(edge.source),
                edge.source,
                edge.source_index,
                Direction::Input,
                &mut failed,
            );
            let target = self.lookup(
                core,
                id_of(edge.target),
                edge.target,
                edge.target_index,
                Direction::Output,
                &mut failed,
            );
            let (Some(source), Some(target)) = (source, target) else {
                continue;
            };
            match core.add_mapping_with(source, target, &chain) {
                NewEdge::Added => {
                    if self.lines.last() != Some(&mapping.span) {
                        self.lines.push(mapping.span);
                    }
                    let line = u32::try_from(self.lines.len() - 1).unwrap_or(u32::MAX);
                    self.edges.push(EdgeRecord {
                        source,
                        target,
                        line,
                    });
                }
                NewEdge::Duplicate => duplicates.push((source, target)),
                NewEdge::Conflict => conflicts.push((source, target)),
            }
        }
        if let Some(&(source, target)) = conflicts.first() {
            self.conflict(core, sources, mapping, source, target, conflicts.len());
        }
        for w in self.line_warnings.drain(..) {
            self.diagnostics.push(w.diagnostic());
        }
        // One note per line, however many of its edges existed already.
        if let Some(&(source, target)) = duplicates.first() {
            let pair = format!(
                "{} -> {}",
                core.channel_label(source),
                core.channel_label(target)
            );
            let message = match duplicates.len() {
                1 => format!("mapping {pair} already exists; the duplicate has no effect"),
                n => format!(
                    "{n} mappings of this line already exist (first: {pair}); duplicates have no effect"
                ),
            };
            let mut d = Diagnostic::note(mapping.span, message);
            if let Some(first) = self.edge_span(core, source, target)
                && first != mapping.span
            {
                let (line, _) = sources.line_col(first);
                d = d.with_note(format!(
                    "first created at {}:{line}",
                    sources.path(first.file).display()
                ));
            }
            self.diagnostics.push(d);
        }
    }

    /// One error per line for its edges that exist already with another transform chain.
    fn conflict(
        &mut self,
        core: &Core,
        sources: &Sources,
        mapping: &Mapping,
        source: ChannelId,
        target: ChannelId,
        count: usize,
    ) {
        let pair = format!(
            "{} -> {}",
            core.channel_label(source),
            core.channel_label(target)
        );
        let existing = core
            .routes()
            .edge_index(source, target)
            .and_then(|e| core.routes().chain_of(e))
            .map_or_else(
                || "without transforms".to_string(),
                |c| format!("with transforms '{c}'"),
            );
        let what = match count {
            1 => format!("mapping {pair} already exists {existing}"),
            n => format!(
                "{n} mappings of this line already exist with other transforms (first: {pair}, {existing})"
            ),
        };
        let mut d = Diagnostic::error(
            mapping.span,
            format!("{what}; an edge has one transform chain, so write each edge on one line"),
        );
        if let Some(first) = self.edge_span(core, source, target) {
            let (line, _) = sources.line_col(first);
            d = d.with_note(format!(
                "first created at {}:{line}",
                sources.path(first.file).display()
            ));
        }
        self.diagnostics.push(d);
    }

    fn lookup(
        &mut self,
        core: &mut Core,
        id: Option<InstanceId>,
        side: &Side,
        index: usize,
        direction: Direction,
        failed: &mut Vec<(*const Side, usize, Direction)>,
    ) -> Option<ChannelId> {
        let id = id?;
        let name = side.expansions.get(index)?;
        let key = (side as *const Side, index, direction);
        if failed.contains(&key) {
            return None;
        }
        let mut warnings = Vec::new();
        let result = core.channel(id, name, direction, &mut warnings);
        if warnings.is_empty() && result.is_ok() {
            return result.ok();
        }
        // Messages are built only when there is something to say: this runs once per endpoint.
        let backend = core
            .instance_backend(id)
            .and_then(|b| core.backend(b))
            .map_or("?", |b| b.name());
        let which = if side.expansions.len() > 1 {
            format!(" (expansion {} of '{}')", index + 1, side.spec())
        } else {
            String::new()
        };
        let what = format!("{backend} instance '{}'", side.instance.value);
        for w in warnings {
            let message = format!("{what}: {w}");
            match self
                .line_warnings
                .iter_mut()
                .find(|l| std::ptr::eq(l.side, side) && l.message == message)
            {
                Some(l) => l.count += 1,
                None => self.line_warnings.push(LineWarning {
                    side: side as *const Side,
                    span: side.channel.span,
                    spec: side.spec(),
                    expansions: side.expansions.len(),
                    message,
                    first: index,
                    count: 1,
                }),
            }
        }
        match result {
            Ok(channel) => Some(channel),
            Err(e) => {
                failed.push(key);
                let mut d = Diagnostic::error(side.channel.span, format!("{what}: {e}{which}"))
                    .with_inline_comment_hint(&side.channel.value);
                if side.channel.value.contains('|') {
                    d = d.with_note(
                        "a transform chain starts at a '|' with white space before it (out.1 | invert); without it the '|' is part of the channel name",
                    );
                }
                self.diagnostics.push(d);
                None
            }
        }
    }

    /// Whole-configuration checks of every backend that has instances (the ones that will
    /// start), each problem at the line it names.
    fn validate(&mut self, core: &Core) {
        for b in 0..core.backend_names().count() {
            let has_instances = (0..self.instance_spans.len())
                .any(|i| core.instance_backend(InstanceId(i as u32)) == Some(b));
            let Some(backend) = core.backend(b).filter(|_| has_instances) else {
                continue;
            };
            for e in backend.validate() {
                if self.repeats_an_option_error(b, &e) {
                    continue;
                }
                let what = match e.instance.and_then(|i| core.instance_name(i)) {
                    Some(name) => format!("{} instance '{name}'", backend.name()),
                    None => format!("backend {}", backend.name()),
                };
                let message = format!("{what}: {}", e.message);
                self.diagnostics.push(
                    match problem_span(&self.option_spans, &self.instance_spans, b, &e) {
                        Some(span) => Diagnostic::error(span, message),
                        None => Diagnostic::new(patchbay_config::Severity::Error, None, message),
                    },
                );
            }
        }
    }

    /// Problems of `[backend web]` that need all its lines, each at the last line of the
    /// option it is about (the section header's first option when that option was not given).
    fn validate_web(&mut self) {
        let Some(web) = &self.web else {
            return;
        };
        for p in web.validate() {
            let span = self
                .web_spans
                .iter()
                .rev()
                .find(|(k, _)| k == p.key)
                .or(self.web_spans.first())
                .map(|(_, s)| *s);
            let message = format!("backend web: {}", p.message);
            self.diagnostics.push(match span {
                Some(span) => Diagnostic::error(span, message),
                None => Diagnostic::new(patchbay_config::Severity::Error, None, message),
            });
        }
    }

    /// True if `e` is about an option whose line already had an error (of its instance, or a
    /// global option of the backend): reporting it too would only repeat that error.
    fn repeats_an_option_error(&self, backend: usize, e: &StartError) -> bool {
        let Some(key) = e.about else {
            return false;
        };
        let failed = |instance| {
            self.failed_options
                .contains(&(backend, instance, key.to_string()))
        };
        failed(None) || (e.instance.is_some() && failed(e.instance))
    }

    /// The line that created the edge source → target (the core's builder and `edges` list
    /// unique edges in the same order).
    fn edge_span(&self, core: &Core, source: ChannelId, target: ChannelId) -> Option<Span> {
        let index = core.routes().edge_index(source, target)?;
        let line = self.edges.get(index)?.line;
        self.lines.get(line as usize).copied()
    }

    /// One warning per cycle, at most [`MAX_CYCLE_WARNINGS`], each naming at most
    /// [`MAX_CYCLE_NAMES`] channels, so a large generated config cannot flood the terminal.
    fn warn_cycles(&mut self, core: &Core) {
        let cycles = core.cycles();
        for cycle in cycles.iter().take(MAX_CYCLE_WARNINGS) {
            let Some(&first) = cycle.first() else {
                continue;
            };
            let mut names: Vec<String> = cycle
                .iter()
                .take(MAX_CYCLE_NAMES)
                .map(|&c| core.channel_label(c))
                .collect();
            if cycle.len() > MAX_CYCLE_NAMES {
                names.push(format!("... ({} channels in all)", cycle.len()));
            }
            names.push(core.channel_label(first));
            let span = cycle
                .windows(2)
                .find_map(|w| self.edge_span(core, w[0], w[1]))
                .or_else(|| self.edge_span(core, first, first));
            let message = format!(
                "mapping cycle {}: an event on it loops until the core stops it after 20 rounds per iteration",
                names.join(" -> ")
            );
            let d = match span {
                Some(span) => Diagnostic::warning(span, message),
                None => Diagnostic::new(patchbay_config::Severity::Warning, None, message),
            };
            self.diagnostics.push(d);
        }
        if cycles.len() > MAX_CYCLE_WARNINGS {
            self.diagnostics.push(Diagnostic::new(
                patchbay_config::Severity::Warning,
                None,
                format!(
                    "{} more mapping cycles not shown",
                    cycles.len() - MAX_CYCLE_WARNINGS
                ),
            ));
        }
    }
}

/// The core's chain for a mapping line's transforms (empty for a plain mapping).
fn chain_of(mapping: &Mapping) -> Result<Chain, Diagnostic> {
    let level = |ppb: u32, span: Span| {
        Level::from_ppb(ppb)
            .ok_or_else(|| Diagnostic::error(span, "level above full scale (expected 0..1)"))
    };
    let mut ops = Vec::with_capacity(mapping.transforms.len());
    for t in &mapping.transforms {
        ops.push(match t.value {
            patchbay_config::Transform::Invert => Transform::Invert,
            patchbay_config::Transform::Toggle => Transform::Toggle,
            patchbay_config::Transform::Scale { min, max } => Transform::Scale {
                min: level(min, t.span)?,
                max: level(max, t.span)?,
            },
            patchbay_config::Transform::Deadband(d) => Transform::Deadband(level(d, t.span)?),
            patchbay_config::Transform::Slew(d) => Transform::Slew(d),
            patchbay_config::Transform::Fade(d) => Transform::Fade(d),
        });
    }
    Chain::new(ops).map_err(|e| {
        let span = mapping.transforms.first().map_or(mapping.span, |t| t.span);
        Diagnostic::error(span, e.to_string())
    })
}

/// Cycle warnings listed one by one; the rest are counted.
const MAX_CYCLE_WARNINGS: usize = 10;
/// Channels named in one cycle warning.
const MAX_CYCLE_NAMES: usize = 8;

/// Counts of a routing table, for `--dump`.
pub fn edge_stats(edges: &[EdgeRecord]) -> (usize, usize) {
    let sources: HashSet<ChannelId> = edges.iter().map(|e| e.source).collect();
    let targets: HashSet<ChannelId> = edges.iter().map(|e| e.target).collect();
    (sources.len(), targets.len())
}
