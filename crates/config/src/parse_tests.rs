use std::path::PathBuf;

use proptest::prelude::*;

use crate::*;

fn opts() -> LoadOptions {
    LoadOptions {
        known_backends: ["sacn", "loopback", "artnet"].map(String::from).to_vec(),
        unsupported_backends: ["jack", "evdev"].map(String::from).to_vec(),
        overrides: Vec::new(),
    }
}

fn run(text: &str) -> (Config, Vec<Diagnostic>) {
    load_str("t.cfg", text, &opts())
}

/// Each diagnostic as "LINE:COL: severity: message".
fn diags_of(cfg: &Config, diags: &[Diagnostic]) -> Vec<String> {
    diags
        .iter()
        .map(|d| {
            let (l, c) = d.span.map_or((0, 0), |s| cfg.sources.line_col(s));
            format!("{l}:{c}: {}: {}", d.severity, d.message)
        })
        .collect()
}

fn errs(text: &str) -> Vec<String> {
    let (cfg, d) = run(text);
    diags_of(&cfg, &d)
}

fn one_err(text: &str) -> String {
    let e = errs(text);
    assert_eq!(e.len(), 1, "{e:#?}");
    e.into_iter().next().unwrap_or_default()
}

fn edges(cfg: &Config) -> Vec<String> {
    let mut v = Vec::new();
    for m in cfg.mappings() {
        let (line, _) = cfg.sources.line_col(m.span);
        for e in m.edges() {
            v.push(format!(
                "{}.{} -> {}.{} ({line})",
                e.source.instance.value,
                e.source_channel(),
                e.target.instance.value,
                e.target_channel()
            ));
        }
    }
    v
}

const STAGE: &str = "; stage.cfg
[backend sacn]
name = Patchbay FOH
bind = 0.0.0.0 5568

[sacn desk]
universe = 1

[sacn out]
universe = 2
priority = 100

[loopback fx]

[map]
out.{1..4} < desk.{10..13}
fx.level{1..2}.{r,g} > out.{20..23}
out.100+101 < desk.1+2
fx.master > out.{30,31,32}
out.1 < fx.master
out.50 <> fx.mirror
out.{1..4} < desk.{10..13}
";

#[test]
fn worked_example_edges_in_creation_order() {
    let (cfg, d) = load_str("stage.cfg", STAGE, &opts());
    assert!(d.is_empty(), "{d:#?}");
    assert_eq!(
        edges(&cfg),
        [
            "desk.10 -> out.1 (16)",
            "desk.11 -> out.2 (16)",
            "desk.12 -> out.3 (16)",
            "desk.13 -> out.4 (16)",
            "fx.level1.r -> out.20 (17)",
            "fx.level1.g -> out.21 (17)",
            "fx.level2.r -> out.22 (17)",
            "fx.level2.g -> out.23 (17)",
            "desk.1+2 -> out.100+101 (18)",
            "fx.master -> out.30 (19)",
            "fx.master -> out.31 (19)",
            "fx.master -> out.32 (19)",
            "fx.master -> out.1 (20)",
            "out.50 -> fx.mirror (21)",
            "fx.mirror -> out.50 (21)",
            "desk.10 -> out.1 (22)",
            "desk.11 -> out.2 (22)",
            "desk.12 -> out.3 (22)",
            "desk.13 -> out.4 (22)",
        ]
    );
    let kinds: Vec<String> = cfg
        .items
        .iter()
        .take(11)
        .map(|i| match i {
            Item::BackendSection { backend } => format!("backend {}", backend.value),
            Item::Instance { backend, name } => format!("[{} {}]", backend.value, name.value),
            Item::BackendOption {
                backend,
                key,
                value,
            } => {
                format!("{backend}: {}={}", key.value, value.value)
            }
            Item::InstanceOption {
                instance,
                key,
                value,
            } => format!("{instance}: {}={}", key.value, value.value),
            Item::Map(m) => format!("map {:?}", m.arrow),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "backend sacn",
            "sacn: name=Patchbay FOH",
            "sacn: bind=0.0.0.0 5568",
            "[sacn desk]",
            "desk: universe=1",
            "[sacn out]",
            "out: universe=2",
            "out: priority=100",
            "[loopback fx]",
            "map RightToLeft",
            "map LeftToRight",
        ]
    );
    let m: Vec<&Mapping> = cfg.mappings().collect();
    assert_eq!(m.len(), 7);
    assert_eq!(m[5].arrow, Arrow::Both);
    assert_eq!(cfg.sources.line_col(m[5].arrow_span), (21, 8));
    assert_eq!(m[1].left.channel.value, "level{1..2}.{r,g}");
    assert_eq!(
        m[1].left.expansions,
        ["level1.r", "level1.g", "level2.r", "level2.g"]
    );
    assert_eq!(cfg.sources.line_col(m[1].right.channel.span), (17, 28));
    assert_eq!(m[0].source().spec(), "desk.{10..13}");
    assert_eq!(m[0].target().spec(), "out.{1..4}");
}

#[test]
fn worked_example_errors() {
    let text = format!(
        "{STAGE}out.{{1..2}} < desk.{{1..3}}\nout.{{1..4 < desk.1\nout.1 < dsk.1\nout.513 < desk.1\n"
    );
    let (cfg, d) = load_str("stage.cfg", &text, &opts());
    let first: Vec<String> = d
        .iter()
        .map(|d| {
            render(&cfg.sources, d, false)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        first,
        [
            "stage.cfg:23:1: error: multi-channel size mismatch: source 'desk.{1..3}' has 3 channels, target 'out.{1..2}' has 2 (sizes must be equal, or one side must have exactly 1)",
            "stage.cfg:24:5: error: unterminated '{' in channel 'out.{1..4' (a glob ends at the next '}')",
            "stage.cfg:25:9: error: no instance named 'dsk' (known instances: desk, out, fx)",
        ]
    );
    // Line 26 is fine here; its range check belongs to the sACN backend.
    assert_eq!(
        edges(&cfg).last().map(String::as_str),
        Some("desk.1 -> out.513 (26)")
    );
    assert_eq!(
        render(&cfg.sources, &d[1], false),
        "stage.cfg:24:5: error: unterminated '{' in channel 'out.{1..4' (a glob ends at the next '}')\n   |\n24 | out.{1..4 < desk.1\n   |     ^^^^^\n"
    );
}

#[test]
fn whitespace_crlf_comments_and_utf8() {
    let (cfg, d) = run(
        "\u{b}\t; comment\r\n[sacn out]\r\n  name = Café Ünïcode  \r\n\r\n# not a comment = x\r\n\u{c}[map]\r\nout.1>out.2\r\n;out.3 > out.4",
    );
    assert!(d.is_empty(), "{d:#?}");
    let opts: Vec<(String, String, (u32, u32))> = cfg
        .items
        .iter()
        .filter_map(|i| match i {
            Item::InstanceOption { key, value, .. } => Some((
                key.value.clone(),
                value.value.clone(),
                cfg.sources.line_col(value.span),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        opts,
        [
            ("name".into(), "Café Ünïcode".into(), (3, 10)),
            ("# not a comment".into(), "x".into(), (5, 19)),
        ]
    );
    assert_eq!(edges(&cfg), ["out.1 -> out.2 (7)"]);
}

#[test]
fn option_lines_split_at_first_equals() {
    let (cfg, d) = run("[artnet a]\nnet = 1 = 2 ; not a comment\nempty =\n/osc/path = x\n");
    assert!(d.is_empty(), "{d:#?}");
    let kv: Vec<(String, String)> = cfg
        .items
        .iter()
        .filter_map(|i| match i {
            Item::InstanceOption {
                instance,
                key,
                value,
            } => {
                assert_eq!(instance, "a");
                Some((key.value.clone(), value.value.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        kv,
        [
            ("net".into(), "1 = 2 ; not a comment".into()),
            ("empty".into(), String::new()),
            ("/osc/path".into(), "x".into())
        ]
    );
}

#[test]
fn backend_sections_repeat_and_accumulate() {
    let (cfg, d) = run("[backend sacn]\nbind = a\n[backend artnet]\n[backend sacn]\nbind = b\n");
    assert!(d.is_empty(), "{d:#?}");
    let s: Vec<String> = cfg
        .items
        .iter()
        .map(|i| match i {
            Item::BackendSection { backend } => format!("[{}]", backend.value),
            Item::BackendOption { backend, value, .. } => format!("{backend}={}", value.value),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(s, ["[sacn]", "sacn=a", "[artnet]", "[sacn]", "sacn=b"]);
}

#[test]
fn arrows() {
    let (cfg, d) = run("[loopback a]\n[map]\na.1><a.2\na.3<a.4\na.5 > a.6 < a.7\n");
    assert!(d.is_empty(), "{d:#?}");
    assert_eq!(
        edges(&cfg),
        [
            "a.1 -> a.2 (3)",
            "a.2 -> a.1 (3)",
            "a.4 -> a.3 (4)",
            "a.5 -> a.6 < a.7 (5)"
        ]
    );
    assert_eq!(
        one_err("[loopback a]\n[map]\na.1 < > a.2\n"),
        "3:7: error: no instance named '> a' (known instances: a)"
    );
}

/// Each mapping's chain as (line, transforms).
fn chains(cfg: &Config) -> Vec<(u32, Vec<Transform>)> {
    cfg.mappings()
        .map(|m| {
            let (line, _) = cfg.sources.line_col(m.span);
            (line, m.transforms.iter().map(|t| t.value).collect())
        })
        .collect()
}

#[test]
fn transform_chains_follow_the_right_side() {
    use std::time::Duration;
    let (cfg, d) = run("[loopback a]\n[map]\n\
        a.1 > a.2 | invert\n\
        a.{1..8} > a.{11..18} | scale 0.2 0.8 | slew 500ms\n\
        a.btn > a.light\t|toggle\n\
        a.f < a.x | deadband 2% | fade 1.5s\n\
        a.p|q > a.r|s\n\
        a.g > a.h | scale 12.5% 1 | fade 2s\n");
    assert!(d.is_empty(), "{d:#?}");
    let ppb = |v: f64| (v * 1e9).round() as u32;
    assert_eq!(
        chains(&cfg),
        vec![
            (3, vec![Transform::Invert]),
            (
                4,
                vec![
                    Transform::Scale {
                        min: ppb(0.2),
                        max: ppb(0.8)
                    },
                    Transform::Slew(Duration::from_millis(500))
                ]
            ),
            (5, vec![Transform::Toggle]),
            (
                6,
                vec![
                    Transform::Deadband(ppb(0.02)),
                    Transform::Fade(Duration::from_millis(1500))
                ]
            ),
            // No white space before '|': part of the channel names, as in MIDIMonster.
            (7, vec![]),
            (
                8,
                vec![
                    Transform::Scale {
                        min: 125_000_000,
                        max: 1_000_000_000
                    },
                    Transform::Fade(Duration::from_secs(2))
                ]
            ),
        ]
    );
    // The right side ends before the chain; `<` chains run from the right side to the left.
    let e = edges(&cfg);
    assert_eq!(e[0], "a.1 -> a.2 (3)");
    assert_eq!(e[1], "a.1 -> a.11 (4)");
    assert!(e.contains(&"a.x -> a.f (6)".to_string()));
    assert!(e.contains(&"a.p|q -> a.r|s (7)".to_string()));
    // Spans point at each transform, arguments included.
    let m = cfg.mappings().nth(1).expect("line 4");
    let spans: Vec<(u32, u32)> = m
        .transforms
        .iter()
        .map(|t| cfg.sources.line_col(t.span))
        .collect();
    assert_eq!(spans, [(4, 25), (4, 41)]);
    let span = m.transforms[0].span;
    assert_eq!(
        &cfg.sources.text(span.file)[span.start..span.end],
        "scale 0.2 0.8"
    );
}

#[test]
fn transform_chain_errors() {
    let e = |line: &str| one_err(&format!("[loopback a]\n[map]\n{line}\n"));
    assert_eq!(
        e("a.1 > a.2 | inverse"),
        "3:13: error: unknown transform 'inverse' (transforms: invert, scale MIN MAX, toggle, deadband D, slew TIME, fade TIME)"
    );
    assert_eq!(
        e("a.1 > a.2 |"),
        "3:11: error: empty transform after '|' (transforms: invert, scale MIN MAX, toggle, deadband D, slew TIME, fade TIME)"
    );
    assert_eq!(
        e("a.1 > a.2 | invert 1"),
        "3:20: error: 'invert' takes no argument"
    );
    assert_eq!(
        e("a.1 > a.2 | scale 0.2"),
        "3:13: error: 'scale' takes two levels, MIN and MAX (e.g. scale 0.2 0.8 or scale 20% 80%)"
    );
    assert_eq!(
        e("a.1 > a.2 | scale 0.2 1.5"),
        "3:23: error: level '1.5' in 'scale' is above full scale: expected a number in 0..1 or a percentage in 0%..100% (e.g. 0.25 or 25%)"
    );
    assert_eq!(
        e("a.1 > a.2 | scale 255 0"),
        "3:19: error: level '255' in 'scale' is above full scale: expected a number in 0..1 or a percentage in 0%..100% (e.g. 0.25 or 25%)"
    );
    assert_eq!(
        e("a.1 > a.2 | scale -0.1 1"),
        "3:19: error: invalid level '-0.1' in 'scale': expected a number in 0..1 or a percentage in 0%..100% (e.g. 0.25 or 25%)"
    );
    assert_eq!(
        e("a.1 > a.2 | deadband 0.0000000001"),
        "3:22: error: level '0.0000000001' in 'deadband' has more than 9 digits after the point (levels are held to a billionth of full scale)"
    );
    assert_eq!(
        e("a.1 > a.2 | deadband 0%"),
        "3:22: error: a dead band of 0 passes every value: expected a level above 0 (e.g. 0.02 or 2%)"
    );
    assert_eq!(
        e("a.1 > a.2 | slew 500"),
        "3:18: error: invalid time '500' in 'slew': expected a number and a unit, ms or s, from 1ms to 3600s (e.g. 500ms or 1.5s)"
    );
    assert_eq!(
        e("a.1 > a.2 | fade 0.5ms"),
        "3:18: error: time '0.5ms' in 'fade' is not a whole number of milliseconds: expected a number and a unit, ms or s, from 1ms to 3600s (e.g. 500ms or 1.5s)"
    );
    assert_eq!(
        e("a.1 > a.2 | fade 2h"),
        "3:18: error: invalid time '2h' in 'fade': expected a number and a unit, ms or s, from 1ms to 3600s (e.g. 500ms or 1.5s)"
    );
    assert_eq!(
        e("a.1 > a.2 | fade 3601s"),
        "3:18: error: time '3601s' in 'fade' is out of range: expected a number and a unit, ms or s, from 1ms to 3600s (e.g. 500ms or 1.5s)"
    );
    assert_eq!(
        e("a.1 > a.2 | slew 0ms"),
        "3:18: error: time '0ms' in 'slew' is out of range: expected a number and a unit, ms or s, from 1ms to 3600s (e.g. 500ms or 1.5s)"
    );
    assert_eq!(
        e("a.1 > a.2 | slew 1s | invert"),
        "3:13: error: 'slew' must be the last transform of a chain (it produces values over time; put the other transforms before it)"
    );
    assert_eq!(
        e("a.1 <> a.2 | invert"),
        "3:12: error: transforms need one direction, but '<>' maps both ways (write the two directions on two lines, 'a > b | ...' and 'a < b | ...', each with its own chain)"
    );
    // Every problem of a line is reported, the sides' too.
    let all = errs("[loopback a]\n[map]\nb.1 > a.2 | flip | scale 2 0\n");
    assert_eq!(all.len(), 3, "{all:#?}");
    assert!(
        all[0].starts_with("3:13: error: unknown transform 'flip'"),
        "{all:#?}"
    );
    assert!(
        all[1].starts_with("3:26: error: level '2' in 'scale'"),
        "{all:#?}"
    );
    assert!(
        all[2].starts_with("3:1: error: no instance named 'b'"),
        "{all:#?}"
    );
    // An inline comment after a chain gets the usual note.
    let (cfg, d) = run("[loopback a]\n[map]\na.1 > a.2 | invert ; flip it\n");
    assert_eq!(
        diags_of(&cfg, &d),
        ["3:20: error: 'invert' takes no argument"]
    );
    assert!(d[0].notes[0].starts_with("inline comments are not supported"));
}

#[test]
fn fan_in_and_fan_out_sizes() {
    let (cfg, d) = run("[loopback a]\n[map]\na.{1..3} < a.x\na.y > a.{c,d}\n");
    assert!(d.is_empty(), "{d:#?}");
    assert_eq!(
        edges(&cfg),
        [
            "a.x -> a.1 (3)",
            "a.x -> a.2 (3)",
            "a.x -> a.3 (3)",
            "a.y -> a.c (4)",
            "a.y -> a.d (4)"
        ]
    );
    let e: Vec<_> = cfg
        .mappings()
        .next()
        .into_iter()
        .flat_map(Mapping::edges)
        .collect();
    assert_eq!((e[2].source_index, e[2].target_index), (0, 2));
    assert_eq!(
        one_err("[loopback a]\n[map]\na.{1..2} <> a.{1..3}\n"),
        "3:1: error: multi-channel size mismatch: left 'a.{1..2}' has 2 channels, right 'a.{1..3}' has 3 (sizes must be equal, or one side must have exactly 1)"
    );
    assert_eq!(
        one_err("[loopback a]\n[map]\n  a.{1..2} > a.{1..3}\n"),
        "3:3: error: multi-channel size mismatch: source 'a.{1..2}' has 2 channels, target 'a.{1..3}' has 3 (sizes must be equal, or one side must have exactly 1)"
    );
}

#[test]
fn section_header_errors() {
    assert_eq!(
        one_err("[sacn]\nx = 1\n"),
        "1:2: error: unknown section header '[sacn]' (expected [backend NAME], [include PATH], [map] or [BACKEND INSTANCE])"
    );
    assert_eq!(
        one_err("[Map]\na.1 > b.1\n"),
        "1:2: error: unknown section header '[Map]' (expected [backend NAME], [include PATH], [map] or [BACKEND INSTANCE])"
    );
    assert_eq!(
        one_err("[map extra]\n"),
        "1:5: error: text after [map]: 'extra' (the [map] header takes no name)"
    );
    assert_eq!(
        one_err("[sacn out] ; output\npriority = 1\n"),
        "1:12: error: text after section header: '; output' (nothing may follow the ']'; a comment must be on its own line starting with ';')"
    );
    // The header still opens its section, so the option is not an error.
    let (cfg, _) = run("[sacn out] ; output\npriority = 1\n");
    assert_eq!(cfg.items.len(), 2);
    assert_eq!(
        one_err("[backend midi]\n"),
        "1:10: error: no such backend 'midi' (known backends: sacn, loopback, artnet)"
    );
    assert_eq!(
        one_err("[backend  sacn]\n"),
        "1:10: error: no such backend ' sacn' (known backends: sacn, loopback, artnet)"
    );
    assert_eq!(
        one_err("[midi in]\nx=1\n"),
        "1:2: error: no such backend 'midi' (known backends: sacn, loopback, artnet)"
    );
    let (cfg, d) = run("\n[jack j]\n[map]\nj.1 > j.2\n");
    assert_eq!(
        diags_of(&cfg, &d),
        ["2:2: error: backend 'jack' is not supported by patchbay"]
    );
    assert_eq!(
        d[0].notes,
        ["patchbay's backends are: sacn, loopback, artnet"]
    );
    assert_eq!(
        one_err("[sacn ]\n"),
        "1:7: error: missing instance name in '[sacn ]' (expected [BACKEND INSTANCE]; instance names must be non-empty and contain neither space nor '.')"
    );
    assert_eq!(
        one_err("[sacn a.b]\n"),
        "1:7: error: invalid instance name 'a.b': it contains '.' (instance names must be non-empty and contain neither space nor '.')"
    );
    assert_eq!(
        one_err("[sacn my out]\n"),
        "1:7: error: invalid instance name 'my out': it contains a space (instance names must be non-empty and contain neither space nor '.')"
    );
    assert_eq!(
        one_err("[sacn out]\n[artnet  out]\n"),
        "2:9: error: invalid instance name ' out': it contains a space (instance names must be non-empty and contain neither space nor '.')"
    );
}

#[test]
fn duplicate_instances_across_backends() {
    let (cfg, d) = run("[sacn out]\nuniverse = 1\n[artnet out]\nnet = 2\n[map]\nout.1 > out.2\n");
    assert_eq!(
        diags_of(&cfg, &d),
        [
            "3:9: error: duplicate instance 'out': already defined as [sacn out] at t.cfg:1:7 (instance names are unique across all backends; a section cannot be re-opened)"
        ]
    );
    // The duplicate's options are not attributed to the first instance.
    let n_opts = cfg
        .items
        .iter()
        .filter(|i| matches!(i, Item::InstanceOption { .. }))
        .count();
    assert_eq!(n_opts, 1);
    assert_eq!(edges(&cfg), ["out.1 -> out.2 (6)"]);
}

#[test]
fn line_errors() {
    assert_eq!(
        one_err("\n  name = x\n"),
        "2:3: error: option outside of any section: 'name = x' (options must follow a [backend NAME] or [BACKEND INSTANCE] header)"
    );
    assert_eq!(
        one_err("[sacn a]\nuniverse 1\n"),
        "2:1: error: not an assignment: 'universe 1' (expected KEY = VALUE in section [sacn a])"
    );
    assert_eq!(
        one_err("[backend sacn]\nbind\n"),
        "2:1: error: not an assignment: 'bind' (expected KEY = VALUE in section [backend sacn])"
    );
    let (_, d) = run("[sacn a]\na.1 > a.2 ; x\n");
    assert_eq!(
        d[0].notes,
        [
            "mappings must follow a [map] header",
            inline_comment_hint(" ;").unwrap_or_default()
        ]
    );
    assert_eq!(
        one_err("[sacn a]\n[map]\na.1 = a.2\n"),
        "3:1: error: not a channel mapping: 'a.1 = a.2' (expected LEFT < RIGHT, LEFT > RIGHT or LEFT <> RIGHT, each side INSTANCE.CHANNEL)"
    );
    assert_eq!(
        one_err("[sacn a]\n[map]\na.1 > a\n"),
        "3:7: error: channel specification 'a' has no '.' (expected INSTANCE.CHANNEL, e.g. out.1)"
    );
    assert_eq!(
        one_err("[sacn a]\n[map]\n > a.1\n"),
        "3:2: error: missing left side of mapping (expected INSTANCE.CHANNEL before '>')"
    );
    assert_eq!(
        one_err("[sacn a]\n[map]\na.1 <>\n"),
        "3:7: error: missing right side of mapping (expected INSTANCE.CHANNEL after '<>')"
    );
    assert_eq!(
        one_err("[sacn a]\n[map]\n.1 > a.1\n"),
        "3:1: error: missing instance name before '.' in '.1' (known instances: a)"
    );
    assert_eq!(
        errs("[map]\na.1 > b.1\n[sacn a]\n"),
        [
            "2:1: error: no instance named 'a' (no instances are defined before this line; an instance must be defined before it is mapped)",
            "2:7: error: no instance named 'b' (no instances are defined before this line; an instance must be defined before it is mapped)",
        ]
    );
}

#[test]
fn inline_comment_note_on_failing_mapping() {
    let (cfg, d) = run("[sacn a]\n[map]\na.1 > b.1 ; to b\n");
    assert_eq!(
        diags_of(&cfg, &d),
        ["3:7: error: no instance named 'b' (known instances: a)"]
    );
    assert_eq!(d[0].notes.len(), 1);
    assert!(
        render(&cfg.sources, &d[0], false).contains("= note: inline comments are not supported")
    );
}

#[test]
fn glob_errors_point_at_the_glob() {
    let m = |s: &str| one_err(&format!("[sacn a]\n[map]\n{s}\n"));
    assert_eq!(
        m("a.x{5} > a.1"),
        "3:4: error: failed to detect glob type of '{5}' in channel 'a.x{5}' (expected a range {A..B} or a list {x,y,...})"
    );
    assert_eq!(
        m("a.1 > a.{a,,b}"),
        "3:9: error: empty item in list glob '{a,,b}' of channel 'a.{a,,b}' (list items must not be empty, e.g. {a,b,c})"
    );
    assert_eq!(
        m("a.{1..5x} > a.1"),
        "3:3: error: invalid range '{1..5x}' in channel 'a.{1..5x}': '5x' is not a non-negative decimal number (expected {A..B} with digits only, e.g. {1..16})"
    );
    assert_eq!(
        m("a.{a..c} > a.1"),
        "3:3: error: invalid range '{a..c}' in channel 'a.{a..c}': 'a' is not a non-negative decimal number (expected {A..B} with digits only, e.g. {1..16}; ranges take numbers only, use a list such as {a,b,c} for names)"
    );
    assert_eq!(
        m("a.{1..} > a.1"),
        "3:3: error: invalid range '{1..}' in channel 'a.{1..}': a number is missing (expected {A..B}, e.g. {1..16})"
    );
    assert_eq!(
        m("a.{a,{b}} > a.1"),
        "3:3: error: nested '{' in glob '{a,{b}' of channel 'a.{a,{b}}' (globs cannot be nested, and channel names cannot contain '{')"
    );
    assert_eq!(
        m("a.{0..4000000000} > a.1"),
        "3:3: error: channel 'a.{0..4000000000}' expands to 4000000001 channels, more than the limit of 1048576 per side"
    );
}

#[test]
fn every_error_is_reported() {
    let e = errs("x = 1\n[sacn a]\nbad line\n[map]\nb.1 > a.{5}\na.1\n[nope]\n");
    assert_eq!(e.len(), 6, "{e:#?}");
    let pos: Vec<&str> = e
        .iter()
        .map(|s| s.split(": ").next().unwrap_or(""))
        .collect();
    assert_eq!(pos, ["1:1", "3:1", "5:1", "5:9", "6:1", "7:2"]);
}

#[test]
fn failed_instance_does_not_cascade() {
    let (cfg, d) = run("[jack j]\nport = 1\n[sacn s]\n[map]\nj.1 > s.1\ns.2 > j.2\n");
    assert_eq!(d.len(), 1, "{:#?}", diags_of(&cfg, &d));
    assert_eq!(edges(&cfg), Vec::<String>::new());
}

#[test]
fn total_channel_budget() {
    let limits = parse::Limits {
        max_total: 10,
        ..parse::Limits::DEFAULT
    };
    let o = opts();
    let (sources, items, d) = parse::Loader::new(&o, limits).load_text(
        "t.cfg",
        "[sacn a]\n[map]\na.{1..4} > a.{1..4}\na.{1..2} > a.{1..2}\na.1 > a.2\n",
    );
    let cfg = Config { sources, items };
    assert_eq!(
        diags_of(&cfg, &d),
        [
            "4:1: error: the mappings expand to more than 10 channel names or 1073741824 bytes of channel names in total; the remaining mapping lines are not expanded"
        ]
    );
    assert_eq!(cfg.mappings().count(), 1);
    let long = "x".repeat(100_000);
    let (_, _, d) = parse::Loader::new(&o, parse::Limits::DEFAULT).load_text(
        "t.cfg",
        &format!("[sacn a]\n[map]\na.{{1..16384}}{long} > a.1\n"),
    );
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].message.contains("bytes of channel names"));
}

#[test]
fn missing_top_level_file() {
    let (cfg, d) = load(std::path::Path::new("/nonexistent/patchbay/x.cfg"), &opts());
    assert!(cfg.items.is_empty());
    assert_eq!(d.len(), 1);
    assert!(d[0].span.is_none());
    assert!(
        render(&cfg.sources, &d[0], false)
            .starts_with("error: cannot read configuration file '/nonexistent/patchbay/x.cfg': "),
        "{d:?}"
    );
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("patchbay-config-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn includes_are_textual_and_relative_to_the_including_file() {
    let dir = TempDir::new("inc");
    let main = dir.write(
        "main.cfg",
        "[sacn out]\n[include sub/a.cfg]\nout.1 > in.1\n",
    );
    // a.cfg adds an option to `out` (still open), then includes b.cfg
    // relative to sub/.
    dir.write("sub/a.cfg", "priority = 50\n[include b.cfg]\n");
    dir.write("sub/b.cfg", "[loopback in]\n[map]\n");
    let (cfg, d) = load(&main, &opts());
    assert!(d.is_empty(), "{:#?}", diags_of(&cfg, &d));
    assert_eq!(edges(&cfg), ["out.1 -> in.1 (3)"]);
    assert!(matches!(&cfg.items[1], Item::InstanceOption { instance, .. } if instance == "out"));
    let Item::Instance { name, .. } = &cfg.items[2] else {
        panic!("{:?}", cfg.items[2]);
    };
    let b = name.span.file;
    assert_eq!(cfg.sources.path(b), dir.0.join("sub").join("b.cfg"));
    assert_eq!(cfg.sources.dir_of(b), dir.0.join("sub"));
    let from = cfg.sources.included_from(b).expect("included");
    assert_eq!(cfg.sources.line_col(from), (2, 10));
    assert_eq!(cfg.sources.path(from.file), dir.0.join("sub").join("a.cfg"));
    let d = Diagnostic::error(name.span, "x");
    let r = render(&cfg.sources, &d, false);
    let lines: Vec<&str> = r.lines().take(3).collect();
    assert_eq!(
        lines,
        [
            format!("{}:1:11: error: x", dir.0.join("sub/b.cfg").display()),
            format!("included from {}:2", dir.0.join("sub/a.cfg").display()),
            format!("included from {}:2", main.display()),
        ]
    );
}

#[test]
fn include_errors() {
    let dir = TempDir::new("incerr");
    let main = dir.write(
        "main.cfg",
        "[include a.cfg]\n[include missing.cfg]\n[include ]\n",
    );
    dir.write("a.cfg", "[include b.cfg]\n");
    dir.write("b.cfg", "\n[include a.cfg]\n");
    let (cfg, d) = load(&main, &opts());
    let e = diags_of(&cfg, &d);
    assert_eq!(e.len(), 3, "{e:#?}");
    let a = dir.0.join("a.cfg");
    let b = dir.0.join("b.cfg");
    assert_eq!(
        e[0],
        format!(
            "2:10: error: include cycle: {} -> {} -> {}",
            a.display(),
            b.display(),
            a.display()
        )
    );
    assert!(
        e[1].starts_with(&format!(
            "2:10: error: cannot read include file '{}': ",
            dir.0.join("missing.cfg").display()
        )),
        "{}",
        e[1]
    );
    assert_eq!(
        e[2],
        "3:10: error: empty include path (expected [include PATH])"
    );
    let self_inc = dir.write("self.cfg", "[include self.cfg]\n");
    let (cfg, d) = load(&self_inc, &opts());
    assert_eq!(
        diags_of(&cfg, &d),
        [format!(
            "1:10: error: include cycle: {} -> {}",
            self_inc.display(),
            self_inc.display()
        )]
    );
}

fn with_overrides(list: &[(OverrideKind, &str)]) -> LoadOptions {
    let mut s = Sources::new();
    let mut o = opts();
    o.overrides = list
        .iter()
        .map(|(k, t)| Override::parse(*k, t, &mut s).expect("valid override"))
        .collect();
    o
}

fn option_items(cfg: &Config) -> Vec<String> {
    cfg.items
        .iter()
        .filter_map(|i| match i {
            Item::BackendOption {
                backend,
                key,
                value,
            } => Some(format!("{backend}.{}={}", key.value, value.value)),
            Item::InstanceOption {
                instance,
                key,
                value,
            } => Some(format!("{instance}.{}={}", key.value, value.value)),
            _ => None,
        })
        .collect()
}

#[test]
fn overrides_apply_when_the_first_section_ends() {
    let o = with_overrides(&[
        (OverrideKind::Instance, "out.priority=50"),
        (OverrideKind::Backend, "sacn.bind = 10.0.0.1"),
        (OverrideKind::Instance, "last.x=1"),
    ]);
    let (cfg, d) = load_str(
        "t.cfg",
        "[backend sacn]\nbind = a\n[sacn out]\npriority = 100\n[backend sacn]\nbind = b\n[sacn last]\n",
        &o,
    );
    assert!(d.is_empty(), "{:#?}", diags_of(&cfg, &d));
    assert_eq!(
        option_items(&cfg),
        [
            "sacn.bind=a",
            "sacn.bind=10.0.0.1",
            "out.priority=100",
            "out.priority=50",
            "sacn.bind=b",
            "last.x=1"
        ]
    );
    // The override's spans point at the command line, in this config's sources.
    let Some(Item::InstanceOption { value, .. }) = cfg
        .items
        .iter()
        .find(|i| matches!(i, Item::InstanceOption { value, .. } if value.value == "50"))
    else {
        panic!("no override item");
    };
    assert_eq!(
        cfg.sources.path(value.span.file),
        std::path::Path::new(COMMAND_LINE)
    );
    assert_eq!(cfg.sources.line_col(value.span), (1, 17));
    assert_eq!(cfg.sources.text(value.span.file), "-i out.priority=50");
}

#[test]
fn overrides_inside_included_section_wait_for_the_section_end() {
    let dir = TempDir::new("ovinc");
    let main = dir.write("main.cfg", "[sacn out]\n[include more.cfg]\nb = 2\n[map]\n");
    dir.write("more.cfg", "a = 1\n");
    let o = with_overrides(&[(OverrideKind::Instance, "out.a=9")]);
    let (cfg, d) = load(&main, &o);
    assert!(d.is_empty(), "{:#?}", diags_of(&cfg, &d));
    assert_eq!(option_items(&cfg), ["out.a=1", "out.b=2", "out.a=9"]);
}

#[test]
fn unused_overrides_are_errors() {
    let o = with_overrides(&[
        (OverrideKind::Instance, "nope.x=1"),
        (OverrideKind::Backend, "artnet.net=1"),
        (OverrideKind::Backend, "midi.x=1"),
    ]);
    let (cfg, d) = load_str("t.cfg", "[sacn out]\n", &o);
    let rendered: Vec<String> = d
        .iter()
        .map(|d| {
            render(&cfg.sources, d, false)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        rendered,
        [
            "command line:1:4: error: unused override '-i nope.x=1': no instance 'nope' is defined (known instances: out)",
            "command line:1:4: error: unused override '-b artnet.net=1': the configuration has no [backend artnet] section to apply it to",
            "command line:1:4: error: unused override '-b midi.x=1': no such backend 'midi' (known backends: sacn, loopback, artnet)",
        ]
    );
}

#[test]
fn fuzz_entry_counts_work() {
    assert!(fuzz_load_str(STAGE) > 0);
    assert!(
        fuzz_load_str("[include /dev/zero]\n") > 0,
        "includes disabled, error rendered"
    );
    assert_eq!(fuzz_load_str(""), 0);
}

fn line_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("[map]".to_string()),
        Just("[sacn a]".to_string()),
        Just("[loopback b]".to_string()),
        Just("[backend sacn]".to_string()),
        Just("[jack j]".to_string()),
        "[a-z =.{}<>,;\\[\\]0-9é\t\r]{0,24}",
        "(a|b|j|c)\\.[a-z0-9{}.,]{0,10} ?(<|>|<>|><) ?(a|b|c)\\.[a-z0-9{}.,]{0,10}",
        "(a|b)\\.[a-z0-9{}.,]{0,6} ?(<|>|<>) ?(a|b)\\.[a-z0-9{}]{0,6}( ?\\| ?(invert|toggle|scale|deadband|slew|fade)( [0-9.%ms]{0,6}){0,3}){0,3}",
    ]
}

proptest! {
    #[test]
    fn random_lines_never_panic(lines in prop::collection::vec(line_strategy(), 0..20)) {
        let text = lines.join("\n");
        fuzz_load_str(&text);
        let (cfg, d) = run(&text);
        for m in cfg.mappings() {
            let n = m.edges().count();
            let (l, r) = (m.left.len(), m.right.len());
            let per_dir = if l == 1 || r == 1 { l.max(r) } else { l };
            let dirs = if m.arrow == Arrow::Both { 2 } else { 1 };
            prop_assert_eq!(n, per_dir * dirs);
        }
        for x in &d {
            let r = render(&cfg.sources, x, false);
            prop_assert!(r.contains(crate::printable(&x.message).as_str()));
        }
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        fuzz_load_str(&text);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        fuzz_load_str(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn directories_and_non_utf8_files() {
    let dir = TempDir::new("odd");
    let main = dir.write("main.cfg", "[include sub]\n[include latin1.cfg]\n");
    std::fs::create_dir_all(dir.0.join("sub")).expect("mkdir");
    std::fs::write(dir.0.join("latin1.cfg"), b"[sacn out]\nname = Caf\xe9\n").expect("write");
    let (cfg, d) = load(&main, &opts());
    let e = diags_of(&cfg, &d);
    assert_eq!(
        e,
        [
            format!(
                "1:10: error: cannot read include file '{}': it is a directory",
                dir.0.join("sub").display()
            ),
            "2:11: warning: file is not valid UTF-8; invalid bytes were replaced by U+FFFD"
                .to_string(),
        ]
    );
    assert_eq!(option_items(&cfg), ["out.name=Caf\u{FFFD}"]);
}

proptest! {
    /// Mutations of a valid configuration: every diagnostic points inside
    /// the text and renders, and nothing panics.
    #[test]
    fn mutated_example_never_panics(
        edits in prop::collection::vec((any::<prop::sample::Index>(), "[{}.,<>\\[\\]=; \n0-9a-z]{0,3}", 0usize..4), 1..8)
    ) {
        let mut text = STAGE.to_string();
        for (at, insert, delete) in edits {
            let mut pos = at.index(text.len() + 1);
            while !text.is_char_boundary(pos) {
                pos -= 1;
            }
            let mut end = (pos + delete).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            text.replace_range(pos..end, &insert);
        }
        let (cfg, d) = load_str("stage.cfg", &text, &opts());
        for x in &d {
            let s = x.span.expect("every error here has a position");
            prop_assert!(s.start <= s.end && s.end <= cfg.sources.text(s.file).len());
            prop_assert!(render(&cfg.sources, x, false).starts_with("stage.cfg:"));
        }
        fuzz_load_str(&text);
    }
}

#[test]
fn a_byte_order_mark_is_skipped_with_a_note() {
    let (cfg, d) = run("\u{FEFF}[sacn in]\nuniverse = 1\n");
    assert_eq!(
        diags_of(&cfg, &d),
        ["1:1: note: skipped the UTF-8 byte order mark (U+FEFF) at the start of the file"]
    );
    assert_eq!(cfg.items.len(), 2, "{:?}", cfg.items);
    // Positions on the first line count from after the mark, as an editor shows them.
    let (cfg, d) = run("\u{FEFF}[sacn in]\nuniverse = 1\n[map]\n in.1 > nowhere.1\n");
    let e = diags_of(&cfg, &d);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[1].starts_with("4:9: error: no instance named 'nowhere'"),
        "{e:?}"
    );
    let (cfg, d) = run("\u{FEFF}bad line\n");
    assert!(
        diags_of(&cfg, &d)[1].starts_with("1:1: error: option outside of any section: 'bad line'"),
        "{d:?}"
    );
    // Only at the very start of a file.
    let e = errs("[sacn in]\n\u{FEFF}universe = 1\n");
    assert_eq!(e, Vec::<String>::new());
}

#[test]
fn whole_lines_quoted_in_messages_are_cut() {
    let long = format!("x{}", "y".repeat(500));
    let e = one_err(&long);
    assert!(
        e.starts_with(&format!(
            "1:1: error: option outside of any section: 'x{}…' (options must follow",
            "y".repeat(58)
        )),
        "{e}"
    );
}
