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
    let backends = patchbay_backends::registry();
    let opts = setup::load_options(&backends, overrides.to_vec());
    let (config, diagnostics) = patchbay_config::load(path, &opts);
    let core = running
        .successor(backends)
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
        let build = begin(running, &path, &overrides)?;
        Ok(Box::new(Task {
            build: Some(build),
            configured: false,
            path: path.clone(),
            web: web.clone(),
        }))
    }
}

/// A successor being configured for [`hook`].
struct Task {
    build: Option<setup::Build>,
    /// Every item of the file is applied; what is left is [`setup::Build::finish`].
    configured: bool,
    path: PathBuf,
    web: Option<patchbay_web::Options>,
}

impl ReloadTask for Task {
    fn step(&mut self, budget: Duration) -> Option<Result<Core, String>> {
        if !self.configured {
            // The checks that need the whole file take a turn of their own.
            self.configured = self.build.as_mut()?.step(Some(budget));
            return None;
        }
        let next = match checked(self.build.take()?.finish(), &self.path) {
            Ok(next) => next,
            Err(text) => return Some(Err(text)),
        };
        let warnings = render(&next.config.sources, &next.diagnostics, false);
        if !warnings.is_empty() {
            warn!(target: "config", "{}", warnings.trim_end());
        }
        if next.web != self.web {
            warn!(target: "web", "[backend web] changed: the web monitor keeps its settings until patchbay restarts");
        }
        Some(Ok(next.core))
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
