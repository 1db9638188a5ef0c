//! The command-line help, reviewed like code: `--help` and `-h` of every command as insta
//! snapshots of the real binary, and the man pages in doc/ generated from the same clap
//! definitions, checked to be up to date.
//!
//! After changing help text: `cargo insta review` (or `INSTA_UPDATE=always`) for the snapshots
//! and `UPDATE_MAN=1 cargo test --test help` to rewrite doc/*.1.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;
use patchbay::cli::Args;

/// The help text of the real binary at a fixed width (clap wraps to the terminal; the test's
/// stdin, stdout and stderr are no terminal, so COLUMNS decides).
fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .args(args)
        .env("COLUMNS", "100")
        .env_remove("RUST_LOG")
        .output()
        .expect("run patchbay");
    assert_eq!(out.status.code(), Some(0), "{args:?}");
    assert!(out.stderr.is_empty(), "{args:?}");
    String::from_utf8(out.stdout).expect("utf-8 help")
}

#[test]
fn help_texts() {
    for (name, args) in [
        ("help_patchbay_long", &["--help"][..]),
        ("help_patchbay_short", &["-h"]),
        ("help_sacn_long", &["sacn", "--help"]),
        ("help_sacn_send_long", &["sacn", "send", "--help"]),
        ("help_sacn_send_short", &["sacn", "send", "-h"]),
        ("help_sacn_watch_long", &["sacn", "watch", "--help"]),
        ("help_sacn_watch_short", &["sacn", "watch", "-h"]),
    ] {
        insta::assert_snapshot!(name, help(args));
    }
}

#[test]
fn every_option_is_documented() {
    fn check(cmd: &clap::Command, path: &str) {
        assert!(cmd.get_about().is_some(), "{path}: no about");
        for arg in cmd.get_arguments() {
            if arg.is_hide_set() {
                continue;
            }
            assert!(
                arg.get_help().is_some(),
                "{path}: {} has no help",
                arg.get_id()
            );
        }
        for sub in cmd.get_subcommands() {
            check(sub, &format!("{path} {}", sub.get_name()));
        }
    }
    let mut cmd = Args::command();
    cmd.build();
    check(&cmd, "patchbay");
}

/// Escapes text for roff: backslashes, a leading control character, and '-' as a real minus so
/// options copied from the page work.
fn roff_escape(line: &str) -> String {
    let mut s = line.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        s.insert_str(0, "\\&");
    }
    s
}

/// The after-help text as man sections: a block whose first line is `Heading:` becomes
/// `.SH HEADING` with its lines kept as laid out (examples and tables); any other block is a
/// paragraph.
fn roff_sections(text: &str, out: &mut String) {
    for block in text.split("\n\n") {
        let mut lines = block.lines();
        let Some(first) = lines.next() else {
            continue;
        };
        if first.ends_with(':') && !first.starts_with(' ') {
            out.push_str(&format!(
                ".SH {}\n.nf\n",
                first.trim_end_matches(':').to_uppercase()
            ));
            for l in lines {
                out.push_str(&roff_escape(l.strip_prefix("  ").unwrap_or(l)));
                out.push('\n');
            }
            out.push_str(".fi\n");
        } else {
            out.push_str(".PP\n");
            for l in block.lines() {
                out.push_str(&roff_escape(l));
                out.push('\n');
            }
        }
    }
}

/// One man page: clap_mangen's title, name, synopsis, description, options and subcommands,
/// then the after-help sections (EXAMPLES, SIGNALS, ...) and the version.
fn man_page(cmd: &clap::Command) -> String {
    let man = clap_mangen::Man::new(cmd.clone())
        .source(format!("patchbay {}", env!("CARGO_PKG_VERSION")));
    let mut roff = Vec::new();
    man.render_title(&mut roff).expect("render");
    man.render_name_section(&mut roff).expect("render");
    man.render_synopsis_section(&mut roff).expect("render");
    man.render_description_section(&mut roff).expect("render");
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut roff).expect("render");
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut roff).expect("render");
    }
    let mut page = String::from_utf8(roff).expect("utf-8 roff");
    if let Some(after) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) {
        roff_sections(&after.to_string(), &mut page);
    }
    if cmd.get_version().is_some() {
        let mut version = Vec::new();
        man.render_version_section(&mut version).expect("render");
        page.push_str(&String::from_utf8(version).expect("utf-8 roff"));
    }
    page
}

/// Every page: patchbay.1 and one per subcommand (patchbay-sacn-send.1, ...).
fn man_pages() -> Vec<(String, String)> {
    fn walk(cmd: &clap::Command, out: &mut Vec<(String, String)>) {
        let name = cmd.get_display_name().unwrap_or(cmd.get_name());
        out.push((format!("{name}.1"), man_page(cmd)));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub, out);
        }
    }
    let mut cmd = Args::command().disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, &mut out);
    out
}

fn doc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("doc")
}

#[test]
fn man_pages_are_up_to_date() {
    let pages = man_pages();
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "patchbay.1",
            "patchbay-sacn.1",
            "patchbay-sacn-send.1",
            "patchbay-sacn-watch.1",
            "patchbay-osc.1",
            "patchbay-osc-send.1",
            "patchbay-osc-watch.1"
        ]
    );
    let update = std::env::var_os("UPDATE_MAN").is_some();
    let mut stale = Vec::new();
    for (name, page) in &pages {
        let path = doc_dir().join(name);
        if update {
            std::fs::create_dir_all(doc_dir()).expect("doc dir");
            std::fs::write(&path, page).expect("write man page");
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(page.as_str()) {
            stale.push(name.as_str());
        }
    }
    assert!(
        stale.is_empty(),
        "doc/{stale:?} differ from the clap definitions: run UPDATE_MAN=1 cargo test --test help \
         and commit doc/"
    );
}

#[test]
fn man_pages_have_the_sections_a_reader_looks_for() {
    let pages = man_pages();
    let main = &pages[0].1;
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH DESCRIPTION",
        ".SH OPTIONS",
        ".SH EXAMPLES",
        ".SH SIGNALS",
        ".SH ENVIRONMENT",
        ".SH FILES",
        ".SH EXIT STATUS",
        ".SH SEE ALSO",
    ] {
        assert!(main.contains(section), "patchbay.1 lacks {section}");
    }
    let watch = &pages[3].1;
    assert!(watch.contains(".SH EXAMPLES"));
    assert!(watch.contains("patchbay sacn watch 5"));
    assert!(watch.contains("\\-\\-json"));
}
