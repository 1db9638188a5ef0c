//! Command line. MIDIMonster's grammar (`[-v] [-h] [-i inst.opt=val]... [-b backend.opt=val]...
//! [CONFIG]`) plus patchbay's `--check`, `--dump`, and verbosity flags.

use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};

/// Routes and translates show-control signals between protocols (sACN, loopback, ...).
///
/// patchbay reads a MIDIMonster-compatible configuration file, opens every instance it
/// defines and moves channel values along the mappings of its [map] section.
#[derive(Debug, Parser)]
#[command(
    name = "patchbay",
    version,
    disable_version_flag = true,
    after_help = "Overrides (-i, -b) win over the configuration file: each is applied when the \
first section of its target ends (MIDIMonster applies them before the section's own lines). An \
override whose instance or backend the configuration never defines is an error.\n\n\
Exit status: 0 normal exit, 1 runtime failure, 2 usage or configuration error.\n\
Signals: SIGINT/SIGTERM shut down cleanly (sACN sends stream terminations; a second one exits at \
once); SIGUSR1 reports all counters (see --stats); SIGHUP is logged and ignored: configuration \
reload is not supported, restart to apply changes.\n\
Logging: RUST_LOG (e.g. RUST_LOG=sacn=debug,core=info) overrides -q/--verbose."
)]
pub struct Args {
    /// Configuration file [default: patchbay.cfg, else monster.cfg]
    #[arg(value_name = "CONFIG")]
    pub config: Option<PathBuf>,

    /// Override an instance option, e.g. -i out.priority=120 (repeatable)
    #[arg(short = 'i', value_name = "INSTANCE.OPTION=VALUE", action = ArgAction::Append)]
    pub instance_overrides: Vec<String>,

    /// Override a backend option, e.g. -b sacn.name=FOH (repeatable)
    #[arg(short = 'b', value_name = "BACKEND.OPTION=VALUE", action = ArgAction::Append)]
    pub backend_overrides: Vec<String>,

    /// Validate the configuration, print the expanded mappings, open nothing
    #[arg(long)]
    pub check: bool,

    /// Print the routing graph and exit (text, or Graphviz with --dump=dot)
    #[arg(long, value_name = "FORMAT", num_args = 0..=1, require_equals = true, default_missing_value = "text")]
    pub dump: Option<DumpFormat>,

    /// Only warnings and errors
    #[arg(short = 'q', long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Debug output (also -d)
    #[arg(long, short = 'd', visible_short_alias = 'D')]
    pub verbose: bool,

    /// Report every instance's counters every SECONDS at info level (also on SIGUSR1)
    #[arg(long, value_name = "SECONDS")]
    pub stats: Option<u64>,

    /// Counter report format: text (log lines) or json (one object per line on stderr)
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    pub stats_format: StatsFormat,

    /// Print the version and exit
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DumpFormat {
    Text,
    Dot,
}

impl Args {
    /// The configuration path: as given, else `patchbay.cfg`, else MIDIMonster's `monster.cfg`
    /// when only that one exists.
    pub fn config_path(&self) -> PathBuf {
        if let Some(path) = &self.config {
            return path.clone();
        }
        let ours = PathBuf::from("patchbay.cfg");
        let theirs = PathBuf::from("monster.cfg");
        if !ours.exists() && theirs.exists() {
            theirs
        } else {
            ours
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn overrides_repeat_and_keep_order() {
        let args = Args::try_parse_from([
            "patchbay",
            "-i",
            "a.x=1",
            "-b",
            "sacn.name=FOH",
            "-i",
            "b.y=2",
            "my.cfg",
        ])
        .unwrap();
        assert_eq!(args.instance_overrides, ["a.x=1", "b.y=2"]);
        assert_eq!(args.backend_overrides, ["sacn.name=FOH"]);
        assert_eq!(args.config_path(), PathBuf::from("my.cfg"));
    }

    #[test]
    fn dump_defaults_to_text() {
        let args = Args::try_parse_from(["patchbay", "--dump"]).unwrap();
        assert_eq!(args.dump, Some(DumpFormat::Text));
        let args = Args::try_parse_from(["patchbay", "--dump=dot", "x.cfg"]).unwrap();
        assert_eq!(args.dump, Some(DumpFormat::Dot));
        assert_eq!(args.config, Some(PathBuf::from("x.cfg")));
    }

    #[test]
    fn stats_interval_and_format() {
        let args = Args::try_parse_from(["patchbay", "x.cfg"]).unwrap();
        assert_eq!((args.stats, args.stats_format), (None, StatsFormat::Text));
        let args = Args::try_parse_from([
            "patchbay",
            "--stats",
            "5",
            "--stats-format",
            "json",
            "x.cfg",
        ])
        .unwrap();
        assert_eq!(
            (args.stats, args.stats_format),
            (Some(5), StatsFormat::Json)
        );
        assert!(Args::try_parse_from(["patchbay", "--stats", "-1"]).is_err());
        assert!(Args::try_parse_from(["patchbay", "--stats-format", "xml"]).is_err());
    }

    #[test]
    fn help_documents_signals_and_the_sighup_refusal() {
        let help = Args::command().render_long_help().to_string();
        assert!(help.contains("SIGUSR1"), "{help}");
        assert!(help.contains("SIGHUP is logged and ignored"), "{help}");
        assert!(help.contains("reload is not supported"), "{help}");
    }

    #[test]
    fn version_is_dash_v() {
        let err = Args::try_parse_from(["patchbay", "-v"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayVersion);
    }
}
