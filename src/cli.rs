//! Command line. MIDIMonster's grammar (`[-v] [-h] [-i inst.opt=val]... [-b backend.opt=val]...
//! [CONFIG]`) plus patchbay's `--check`, `--dump`, and verbosity flags.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};

/// Routes and translates show-control signals between protocols (sACN, loopback, ...)
///
/// patchbay reads a MIDIMonster-compatible configuration file, opens every instance it defines
/// (sACN universes, loopbacks) and moves channel values along the mappings of its [map] section
/// until it is stopped. Configuration errors are all reported at once, each with file, line and
/// column, before anything is opened.
///
/// Without CONFIG, patchbay.cfg in the current directory is read, or MIDIMonster's monster.cfg
/// when only that one exists. The configuration language and every backend option are described
/// in the README and in each backend's README.md (crates/backends/src/NAME/README.md).
#[derive(Debug, Parser)]
#[command(
    name = "patchbay",
    version,
    disable_version_flag = true,
    after_help = "Examples, signals, environment and exit status: patchbay --help.",
    after_long_help = AFTER_LONG_HELP
)]
pub struct Args {
    /// Configuration file [default: patchbay.cfg, else monster.cfg]
    #[arg(value_name = "CONFIG")]
    pub config: Option<PathBuf>,

    /// Override an instance option, e.g. -i out.priority=120 (repeatable)
    ///
    /// Sets OPTION of the instance INSTANCE as if the line "OPTION = VALUE" were added to its
    /// section; it wins over the file. May be given any number of times.
    #[arg(short = 'i', value_name = "INSTANCE.OPTION=VALUE", action = ArgAction::Append)]
    pub instance_overrides: Vec<String>,

    /// Override a backend option, e.g. -b sacn.name=FOH (repeatable)
    ///
    /// Sets a global option of BACKEND as if the line "OPTION = VALUE" were added to its
    /// [backend BACKEND] section; it wins over the file. May be given any number of times.
    #[arg(short = 'b', value_name = "BACKEND.OPTION=VALUE", action = ArgAction::Append)]
    pub backend_overrides: Vec<String>,

    /// Validate the configuration, print the expanded mappings, open nothing
    ///
    /// Reads the configuration (with its includes and the -i/-b overrides), reports every error,
    /// warning and note, and prints each mapping after glob expansion. No socket or device is
    /// opened. Exit status 0 when the configuration is valid, 2 when it is not.
    #[arg(long)]
    pub check: bool,

    /// With --check: list what reloading CONFIG into a patchbay running RUNNING would change
    ///
    /// Reads RUNNING as the configuration in use and CONFIG as its replacement, both as --check
    /// does (the -i/-b overrides apply to both), and prints the instances added, removed and
    /// replaced (their options changed), the [backend] sections changed and the mappings
    /// added and removed, one per line, then a summary. Opens nothing; exit status 2 when
    /// either configuration has an error.
    #[arg(long, value_name = "RUNNING", requires = "check")]
    pub against: Option<PathBuf>,

    /// Print the routing graph and exit (text, or Graphviz with --dump=dot)
    ///
    /// Reads the configuration as --check does and prints the routing graph instead of the
    /// mapping list; opens nothing. Render the dot format with Graphviz, e.g.
    /// patchbay --dump=dot show.cfg | dot -Tsvg > routes.svg
    #[arg(long, value_name = "FORMAT", num_args = 0..=1, require_equals = true, default_missing_value = "text")]
    pub dump: Option<DumpFormat>,

    /// Only warnings and errors
    #[arg(
        short = 'q',
        long,
        conflicts_with = "verbose",
        global = true,
        display_order = 100
    )]
    pub quiet: bool,

    /// Debug output
    #[arg(
        long,
        short = 'd',
        visible_short_alias = 'D',
        global = true,
        display_order = 101
    )]
    pub verbose: bool,

    /// Report every instance's counters every SECONDS at info level (also on SIGUSR1)
    #[arg(long, value_name = "SECONDS")]
    pub stats: Option<u64>,

    /// Counter report format: text (log lines) or json (one object per line on stderr)
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    pub stats_format: StatsFormat,

    /// Serve the live web monitor on [ADDRESS:]PORT (default address 127.0.0.1)
    ///
    /// Turns on the monitor of [backend web] (or sets its bind): a page showing instances,
    /// sources, universes, channel values, counters, warnings and the routing graph, and a JSON
    /// API under /api/. An address other than loopback needs a token or user and password in
    /// [backend web].
    #[arg(long, value_name = "[ADDRESS:]PORT")]
    pub web: Option<String>,

    /// Print the version and exit
    #[arg(short = 'v', long = "version", action = ArgAction::Version, display_order = 102)]
    pub version: Option<bool>,

    /// Run the built-in demo: a test source on universe 1 routed to universe 2, all on
    /// 127.0.0.1, with a live view of both (Ctrl-C stops it)
    ///
    /// Runs the embedded examples/demo.cfg through the real sACN backend with an in-process
    /// test source (a ramp on universe 1, unicast to 127.0.0.1) and prints the levels going in
    /// and out. Nothing leaves the host.
    #[arg(long, conflicts_with_all = ["config", "check", "dump"])]
    pub demo: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Text after the options of `patchbay --help`, and the man page's sections of the same names.
const AFTER_LONG_HELP: &str = "\
Examples:
  patchbay --check show.cfg        validate show.cfg, list its expanded mappings
  patchbay --check new.cfg --against show.cfg
                                   what reloading new.cfg over show.cfg changes
  patchbay show.cfg                run show.cfg until Ctrl-C or SIGTERM
  patchbay -i desk.universe=2 -b sacn.name=FOH show.cfg
                                   run with two options changed
  patchbay -d show.cfg             run with debug output
  patchbay --dump=dot show.cfg | dot -Tsvg > routes.svg
                                   draw the routing graph
  patchbay --web 9090 show.cfg     run show.cfg with the web monitor on
                                   http://127.0.0.1:9090/
  patchbay --demo                  a self-contained demo on 127.0.0.1
  patchbay sacn watch 1-4          who sends universes 1-4, at which priority

Overrides:
  -i and -b win over the configuration file: each is applied when the first
  section of its target ends (MIDIMonster applies them before the section's
  own lines). An override whose instance or backend the configuration never
  defines is an error.

Signals:
  SIGINT, SIGTERM  shut down: outputs say goodbye (sACN sends 3
                   Stream_Terminated packets per universe) within a 2 s grace
                   period; a second signal exits at once.
  SIGHUP           reload the configuration file: it is checked whole first
                   (an error leaves everything running as it is and is
                   logged with its file:line:column); then instances that
                   did not change go on without a break, removed ones say
                   goodbye, new ones start, and the mappings change between
                   two turns of the loop. `systemctl reload patchbay` sends it.
  SIGUSR1          log every instance's counters now (see --stats).

Environment:
  RUST_LOG         log filter, e.g. RUST_LOG=sacn=debug,info; wins over
                   -q/--verbose. Log targets: core, config, stats, web,
                   and each backend's name (sacn, artnet, mqtt, osc, midi, jack, lua).
  NOTIFY_SOCKET    set by systemd (Type=notify): patchbay sends READY=1 once
                   every instance is open, STOPPING=1 when it shuts down, and
                   STATUS= lines.
  WATCHDOG_USEC    set by systemd (WatchdogSec=): the event loop sends
                   WATCHDOG=1 at half this interval.
  JOURNAL_STREAM   set by systemd: when stderr is the journal, log lines carry
                   a syslog priority and no timestamp.

Files:
  patchbay.cfg     default configuration (current directory)
  monster.cfg      MIDIMonster's default, read when patchbay.cfg is missing
  /etc/patchbay/patchbay.cfg
                   configuration of the systemd service
                   (contrib/patchbay.service)

Exit status:
  0  normal exit, also after SIGINT or SIGTERM
  1  runtime failure: an instance could not be opened, or a backend failed
  2  usage or configuration error; nothing was opened

See also:
  patchbay sacn send --help, patchbay sacn watch --help, patchbay osc send --help,
  patchbay artnet --help
  patchbay-sacn-send(1), patchbay-sacn-watch(1), patchbay-osc-send(1),
  patchbay-osc-watch(1), patchbay-artnet-send(1), patchbay-artnet-watch(1), systemd.service(5)";

/// Tools besides the daemon.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// sACN diagnostic tools: a test source and a live monitor
    ///
    /// patchbay sacn send is a test source; patchbay sacn watch shows every source on the
    /// network, its priority, rate, sequence errors and losses, and the merged levels of a
    /// universe. Both use patchbay's own sACN implementation and open no configuration.
    #[command(after_help = "Examples:\n  \
patchbay sacn watch 5            why does universe 5 flicker?\n  \
patchbay sacn send 5 --priority 120 --pattern static:255\n                                   \
take over universe 5 at full")]
    Sacn {
        #[command(subcommand)]
        tool: crate::tools::SacnCommand,
    },
    /// Art-Net diagnostic tools: a test controller and a live monitor
    ///
    /// patchbay artnet send sends a test pattern on one Port-Address; patchbay artnet watch
    /// shows the sources, nodes and merged levels on the network. Both use patchbay's own
    /// Art-Net implementation and open no configuration.
    #[cfg(feature = "artnet")]
    #[command(after_help = "Examples:\n  \
patchbay artnet watch --poll     who sends what, and which nodes answer\n  \
patchbay artnet send 0:0:1 --to 10.0.0.20 --pattern static:255")]
    Artnet {
        #[command(subcommand)]
        tool: crate::tools::artnet::ArtnetCommand,
    },
    /// OSC diagnostic tools: a test sender and a live monitor
    ///
    /// patchbay osc send sends one message (or a stream of them) as a TouchOSC page or a mixer
    /// would; patchbay osc watch prints every message arriving on a port. Both use patchbay's
    /// own OSC implementation and open no configuration.
    #[command(after_help = "Examples:\n  \
patchbay osc watch 9000           what does the patch send to port 9000?\n  \
patchbay osc send 127.0.0.1:8000 /1/fader1 f 0.5\n                                   \
move a fader")]
    Osc {
        #[command(subcommand)]
        tool: crate::tools::osc::OscCommand,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DumpFormat {
    /// One line per source channel with its targets
    Text,
    /// A Graphviz digraph
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
    fn sacn_subcommands_parse() {
        let args =
            Args::try_parse_from(["patchbay", "sacn", "send", "5", "--priority", "120"]).unwrap();
        let Some(Command::Sacn {
            tool: crate::tools::SacnCommand::Send(send),
        }) = args.command
        else {
            panic!("not a send command");
        };
        assert_eq!((send.universe, send.priority), (5, 120));
        assert!(Args::try_parse_from(["patchbay", "sacn", "send", "0"]).is_err());
        assert!(
            Args::try_parse_from(["patchbay", "sacn", "send", "1", "--priority", "201"]).is_err()
        );
        let args = Args::try_parse_from(["patchbay", "--demo"]).unwrap();
        assert!(args.demo && args.command.is_none());
        assert!(Args::try_parse_from(["patchbay", "--demo", "x.cfg"]).is_err());
        let args = Args::try_parse_from(["patchbay", "-q", "sacn", "watch", "1-3"]).unwrap();
        assert!(args.quiet && args.config.is_none());
        let args = Args::try_parse_from(["patchbay", "sacn", "watch", "-q"]).unwrap();
        assert!(args.quiet && args.command.is_some());
        let args = Args::try_parse_from(["patchbay", "-q", "my.cfg"]).unwrap();
        assert!(args.command.is_none() && args.config.is_some());
    }

    #[test]
    fn version_is_dash_v() {
        let err = Args::try_parse_from(["patchbay", "-v"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayVersion);
    }
}
