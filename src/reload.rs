//! Reading the configuration again while running (SIGHUP, the web monitor) and `--check NEW
//! --against RUNNING`: the file goes through exactly what start-up runs ([`setup::build`]) into
//! a successor of the running core ([`Core::successor`]), and only a configuration without
//! errors is handed to [`Core::reload`], which applies the difference.

use std::path::{Path, PathBuf};

use patchbay_config::{Diagnostic, Override, Severity, Sources};
use std::time::Duration;

use patchbay_core::{Core, ReloadDiff, ReloadTask};
use tracing::warn;

use crate::setup::{self, Setup};

/// Reads `path` with `overrides` into a configured successor of `running`; `Err` lists every
/// error (file:line:column, as `--check` prints them) and that nothing changed.
pub fn successor(running: &Core, path: &Path, overrides: &[Override]) -> Result<Setup, String> {
    let mut build = begin(running, path, overrides)?;
    while !build.step(None) {}
    checked(build.finish(), path)
}

/// The successor's build, its items not applied yet.
fn begin(running: &Core, path: &Path, overrides: &[Override]) -> Result<setup::Build, String> {
    let (config, diagnostics) = read(path, overrides);
    prepare(running, path, config, diagnostics)
}

/// Reads and parses `path` with the options of every backend.
fn read(path: &Path, overrides: &[Override]) -> (patchbay_config::Config, Vec<Diagnostic>) {
    patchbay_config::load(path, &load_options(overrides))
}

/// What the parser needs to know of the backends (their names).
fn load_options(overrides: &[Override]) -> patchbay_config::LoadOptions {
    setup::load_options(&patchbay_backends::registry(), overrides.to_vec())
}

/// The build of a successor of `running` (it starts from a copy of its channel registry) from
/// `config`.
fn prepare(
    running: &Core,
    path: &Path,
    config: patchbay_config::Config,
    diagnostics: Vec<Diagnostic>,
) -> Result<setup::Build, String> {
    let core = running
        .successor(patchbay_backends::registry())
        .map_err(|e| format!("cannot prepare the new configuration: {e}"))?;
    Ok(setup::Build::new(core, path, config, diagnostics))
}

/// `next` if it has no error, else every error and that the running configuration stays.
fn checked(next: Setup, path: &Path) -> Result<Setup, String> {
    if !next.has_errors() {
        return Ok(next);
    }
    let n = next.diagnostics.iter().filter(|d| d.is_error()).count();
    let mut text = render(&next.config.sources, &next.diagnostics, false);
    let errors = if n == 1 {
        "1 error".to_string()
    } else {
        format!("{n} errors")
    };
    text.push_str(&format!(
        "{errors} in {}; the running configuration stays\n",
        path.display()
    ));
    Err(text)
}

/// The reload the daemon installs with [`Core::on_reload_steps`]: reads `path` again and
/// configures the successor a slice per turn ([`ReloadTask`]); warnings go to the log; a change
/// to `[backend web]` waits for a restart (the monitor keeps its socket).
pub fn hook(
    path: PathBuf,
    overrides: Vec<Override>,
    web: Option<patchbay_web::Options>,
) -> impl FnMut(&Core) -> Result<Box<dyn ReloadTask>, String> + 'static {
    move |running| {
        crate::service::reloading();
        // Reading and parsing the file is pure and takes milliseconds (tens in a debug
        // build): a thread does it while the loop routes.
        let (tx, rx) = std::sync::mpsc::channel();
        let waker = running.reload_waker();
        // The backend objects stay on this thread; the parser gets their names.
        let (p, opts) = (path.clone(), load_options(&overrides));
        std::thread::Builder::new()
            .name("patchbay-reload".into())
            .spawn(move || {
                let _ = tx.send(patchbay_config::load(&p, &opts));
                waker.wake();
            })
            .map_err(|e| format!("cannot read the new configuration: {e}"))?;
        Ok(Box::new(Task {
            stage: Stage::Reading(rx),
            path: path.clone(),
            web: web.clone(),
        }))
    }
}

/// A successor being configured for [`hook`], a turn per stage.
struct Task {
    stage: Stage,
    path: PathBuf,
    web: Option<patchbay_web::Options>,
}

enum Stage {
    /// A thread reads and parses the file; then the successor core is made (copying the
    /// running registry).
    Reading(std::sync::mpsc::Receiver<(patchbay_config::Config, Vec<Diagnostic>)>),
    /// Items applied a slice per turn.
    Configuring(setup::Build),
    /// Every item is applied; what is left is [`setup::Build::finish`], a turn of its own.
    Configured(Option<setup::Build>),
}

impl ReloadTask for Task {
    fn waiting(&self) -> bool {
        matches!(self.stage, Stage::Reading(_))
    }

    fn step(&mut self, running: &Core, budget: Duration) -> Option<Result<Core, String>> {
        match &mut self.stage {
            Stage::Reading(rx) => {
                let (config, diagnostics) = match rx.try_recv() {
                    Ok(read) => read,
                    Err(std::sync::mpsc::TryRecvError::Empty) => return None,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                        return Some(Err("reading the new configuration failed".into()));
                    }
                };
                match prepare(running, &self.path, config, diagnostics) {
                    Ok(build) => self.stage = Stage::Configuring(build),
                    Err(e) => return Some(Err(e)),
                }
                None
            }
            Stage::Configuring(build) => {
                if build.step(Some(budget)) {
                    let Stage::Configuring(build) =
                        std::mem::replace(&mut self.stage, Stage::Configured(None))
                    else {
                        return None;
                    };
                    self.stage = Stage::Configured(Some(build));
                }
                None
            }
            Stage::Configured(build) => {
                let build = build.take()?;
                Some(self.finish(build))
            }
        }
    }
}

impl Task {
    fn finish(&self, build: setup::Build) -> Result<Core, String> {
        let next = checked(build.finish(), &self.path)?;
        let warnings = render(&next.config.sources, &next.diagnostics, false);
        if !warnings.is_empty() {
            warn!(target: "config", "{}", warnings.trim_end());
        }
        if next.web != self.web {
            warn!(target: "web", "[backend web] changed: the web monitor keeps its settings until patchbay restarts");
        }
        Ok(next.core)
    }
}

/// What `--check NEW --against RUNNING` prints: the changes, one per line, then a summary.
pub fn describe(running: &Setup, next: &Setup) -> String {
    let diff = ReloadDiff::between(&running.core, &next.core);
    let mut out = diff.render(&running.core, &next.core, usize::MAX);
    if diff.is_empty() {
        out.push_str("no changes\n");
    } else {
        out.push_str(&diff.summary());
        out.push('\n');
    }
    out
}

/// Errors and warnings as `--check` prints them (no notes), without colour.
pub fn render(sources: &Sources, diagnostics: &[Diagnostic], color: bool) -> String {
    let mut out = String::new();
    for d in patchbay_config::fold_repeats(sources, diagnostics) {
        if d.severity != Severity::Note {
            out.push_str(&patchbay_config::render(sources, &d, color));
        }
    }
    out
}
