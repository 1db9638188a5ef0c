//! The matcher against a straightforward backtracking reference, and the address space
//! against a linear scan with that reference.

use super::*;
use proptest::prelude::*;

/// Reference matcher: recursive backtracking over the whole strings, written independently of
/// the automaton (wildcards stop at `/`; brace alternatives and classes as documented).
fn reference(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => {
            let mut k = 0;
            loop {
                if reference(&p[1..], &s[k..]) {
                    return true;
                }
                if k == s.len() || s[k] == b'/' {
                    return false;
                }
                k += 1;
            }
        }
        Some(b'?') => !s.is_empty() && s[0] != b'/' && reference(&p[1..], &s[1..]),
        Some(b'[') => {
            let close = p.iter().position(|&c| c == b']').expect("well-formed");
            let body = &p[1..close];
            let (neg, body) = match body.first() {
                Some(b'!') => (true, &body[1..]),
                _ => (false, body),
            };
            let mut ranges = Vec::new();
            let mut i = 0;
            while i < body.len() {
                if i + 2 < body.len() && body[i + 1] == b'-' {
                    let (a, b) = (body[i], body[i + 2]);
                    ranges.push(if a <= b { (a, b) } else { (b, a) });
                    i += 3;
                } else {
                    ranges.push((body[i], body[i]));
                    i += 1;
                }
            }
            match s.first() {
                Some(&c) if c != b'/' => {
                    let inside = ranges.iter().any(|&(a, b)| a <= c && c <= b);
                    inside != neg && reference(&p[close + 1..], &s[1..])
                }
                _ => false,
            }
        }
        Some(b'{') => {
            let close = p.iter().position(|&c| c == b'}').expect("well-formed");
            p[1..close]
                .split(|&c| c == b',')
                .any(|alt| s.starts_with(alt) && reference(&p[close + 1..], &s[alt.len()..]))
        }
        Some(&c) => s.first() == Some(&c) && reference(&p[1..], &s[1..]),
    }
}

fn space(paths: &[&str]) -> AddressSpace {
    let mut a = AddressSpace::new();
    for p in paths {
        a.insert(p).expect("valid path");
    }
    a
}

fn found(a: &AddressSpace, address: &str) -> Vec<String> {
    let mut v = Vec::new();
    a.lookup(address, |id| v.push(a.path(id).to_string()))
        .expect("well-formed");
    v
}

#[test]
fn osc_1_0_pattern_syntax() {
    let cases: &[(&str, &str, bool)] = &[
        ("/1/fader*", "/1/fader12", true),
        ("/1/fader*", "/1/fader", true),
        ("/1/fader*", "/1/fader1/x", false),
        ("/*/fader1", "/1/fader1", true),
        ("/*", "/a/b", false),
        ("/fader?", "/fader1", true),
        ("/fader?", "/fader", false),
        ("/fader[1-3]", "/fader2", true),
        ("/fader[3-1]", "/fader2", true),
        ("/fader[1-3]", "/fader4", false),
        ("/fader[!1-3]", "/fader4", true),
        ("/fader[!1-3]", "/fader1", false),
        ("/x[-a]", "/x-", true),
        ("/x[a-]", "/x-", true),
        ("/x[!]", "/xq", true),
        ("/x[]", "/xq", false),
        ("/{foo,bar}/1", "/bar/1", true),
        ("/{foo,bar}/1", "/baz/1", false),
        ("/a{,b}c", "/ac", true),
        ("/a{,b}c", "/abc", true),
        ("/{a,ab}b", "/abb", true),
        (
            "/*a*a*a*b",
            "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            false,
        ),
        (
            "/*a*a*a*b",
            "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
            true,
        ),
        ("/ch/#01/mix", "/ch/#01/mix", true),
        ("/ch/#0?/mix", "/ch/#01/mix", true),
        ("/a]", "/a]", true),
        // Malformed patterns match nothing.
        ("/fader[1", "/fader1", false),
        ("/{a,b", "/a", false),
        ("/[a/b]", "/a/b", false),
    ];
    for &(pattern, path, want) in cases {
        assert_eq!(matches(pattern, path), want, "{pattern} vs {path}");
        if validate_pattern(pattern).is_ok() {
            assert_eq!(
                reference(pattern.as_bytes(), path.as_bytes()),
                want,
                "reference: {pattern} vs {path}"
            );
        }
    }
}

#[test]
fn pattern_errors_name_the_position() {
    assert_eq!(
        validate_pattern("/a[bc"),
        Err(PatternError::UnclosedBracket(2))
    );
    assert_eq!(
        validate_pattern("/a{b/c}"),
        Err(PatternError::UnclosedBrace(2))
    );
    assert_eq!(
        validate_pattern("/a{b[c]}"),
        Err(PatternError::NestedGroup(4))
    );
    assert_eq!(validate_pattern("/a]}/b"), Ok(()));
}

#[test]
fn literal_and_pattern_lookups() {
    let a = space(&[
        "/1/fader1",
        "/1/fader2",
        "/1/toggle1",
        "/2/fader1",
        "/2/xy",
        "/4/multifader1/3",
    ]);
    assert_eq!(found(&a, "/1/fader2"), ["/1/fader2"]);
    assert_eq!(found(&a, "/1/fader3"), Vec::<String>::new());
    assert_eq!(found(&a, "/1"), Vec::<String>::new());
    assert_eq!(found(&a, "/*/fader1"), ["/1/fader1", "/2/fader1"]);
    assert_eq!(found(&a, "/1/*"), ["/1/fader1", "/1/fader2", "/1/toggle1"]);
    assert_eq!(found(&a, "/[12]/{xy,toggle1}"), ["/1/toggle1", "/2/xy"]);
    assert_eq!(found(&a, "/*/*/*"), ["/4/multifader1/3"]);
    assert_eq!(found(&a, "/*"), Vec::<String>::new());
    assert_eq!(found(&a, "//fader1"), Vec::<String>::new());
    assert_eq!(
        a.lookup("/1/fader[", |_| {}),
        Err(PatternError::UnclosedBracket(8))
    );
    assert_eq!(a.len(), 6);
    let id = a.get("/2/xy").expect("present");
    assert_eq!(a.path(id), "/2/xy");
}

#[test]
fn ids_are_dense_and_stable() {
    let mut a = AddressSpace::new();
    assert!(a.is_empty());
    let x = a.insert("/x").expect("ok");
    let y = a.insert("/y/z").expect("ok");
    assert_eq!((x.index(), y.index()), (0, 1));
    assert_eq!(a.insert("/x"), Ok(x));
    assert_eq!(
        a.insert("/x/*"),
        Err(PathError::BadChar { at: 3, found: '*' })
    );
    assert_eq!(a.len(), 2);
    // A path that is a prefix of another is its own entry.
    let y0 = a.insert("/y").expect("ok");
    assert_eq!(found(&a, "/?"), ["/x", "/y"]);
    assert_eq!(a.get("/y"), Some(y0));
}

#[test]
fn long_names_use_every_bitset_word() {
    let long = "q".repeat(MAX_SEGMENT_LEN);
    let a = space(&[&format!("/{long}")]);
    assert_eq!(found(&a, "/*").len(), 1);
    assert_eq!(
        found(&a, &format!("/{}?", "q".repeat(MAX_SEGMENT_LEN - 1))).len(),
        1
    );
    assert_eq!(
        found(&a, &format!("/*{}", "q".repeat(MAX_SEGMENT_LEN))).len(),
        1
    );
    assert_eq!(
        found(&a, &format!("/*{}", "q".repeat(MAX_SEGMENT_LEN + 1))).len(),
        0
    );
    assert!(!segment_matches(
        b"*",
        "q".repeat(MAX_SEGMENT_LEN + 1).as_bytes()
    ));
}

fn arb_class() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        proptest::collection::vec(
            prop_oneof![Just('a'), Just('b'), Just('c'), Just('-')],
            0..4,
        ),
    )
        .prop_map(|(neg, items)| {
            let mut s = String::from("[");
            if neg {
                s.push('!');
            }
            s.extend(items);
            s.push(']');
            s
        })
}

fn arb_token() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop_oneof![Just("a"), Just("b"), Just("c")].prop_map(String::from),
        2 => Just("/".to_string()),
        2 => Just("?".to_string()),
        3 => Just("*".to_string()),
        2 => arb_class(),
        2 => proptest::collection::vec("[abc]{0,2}", 1..4).prop_map(|alts| format!("{{{}}}", alts.join(","))),
    ]
}

fn arb_pattern() -> impl Strategy<Value = String> {
    proptest::collection::vec(arb_token(), 0..8).prop_map(|t| format!("/{}", t.concat()))
}

fn arb_paths() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(
        proptest::collection::vec("[abc]{1,3}", 1..4).prop_map(|s| format!("/{}", s.join("/"))),
        0..24,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn matcher_agrees_with_the_reference(pattern in arb_pattern(), paths in arb_paths()) {
        for p in &paths {
            prop_assert_eq!(
                matches(&pattern, p),
                reference(pattern.as_bytes(), p.as_bytes()),
                "{} vs {}", pattern, p
            );
        }
    }

    #[test]
    fn address_space_agrees_with_a_linear_scan(pattern in arb_pattern(), paths in arb_paths()) {
        let mut a = AddressSpace::new();
        let mut unique: Vec<&str> = Vec::new();
        for p in &paths {
            let id = a.insert(p).expect("valid");
            if id.index() == unique.len() {
                unique.push(p);
            }
        }
        let mut got: Vec<&str> = Vec::new();
        let n = a.lookup(&pattern, |id| got.push(a.path(id))).expect("well-formed");
        prop_assert_eq!(n, got.len());
        got.sort_unstable();
        let mut want: Vec<&str> = unique
            .iter()
            .copied()
            .filter(|p| reference(pattern.as_bytes(), p.as_bytes()))
            .collect();
        want.sort_unstable();
        prop_assert_eq!(got, want, "pattern {}", pattern);
    }

    #[test]
    fn every_configured_path_finds_itself(paths in arb_paths()) {
        let a = {
            let mut a = AddressSpace::new();
            for p in &paths {
                a.insert(p).expect("valid");
            }
            a
        };
        for p in &paths {
            let mut ids = Vec::new();
            a.lookup(p, |id| ids.push(id)).expect("literal");
            prop_assert_eq!(ids.len(), 1);
            prop_assert_eq!(a.path(ids[0]), p.as_str());
        }
    }

    #[test]
    fn arbitrary_text_never_panics(pattern in "[/a-c*?\\[\\]{},!\\-#]{0,24}", paths in arb_paths()) {
        let a = {
            let mut a = AddressSpace::new();
            for p in &paths {
                a.insert(p).expect("valid");
            }
            a
        };
        let r = a.lookup(&pattern, |_| {});
        prop_assert_eq!(r.is_err(), is_pattern(&pattern) && validate_pattern(&pattern).is_err());
        for p in &paths {
            let _ = matches(&pattern, p);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Names of 60..140 bytes cross from the one-word to the multi-word automaton.
    #[test]
    fn long_names_agree_with_the_reference(
        tokens in proptest::collection::vec(
            prop_oneof![
                4 => prop_oneof![Just("a"), Just("b")].prop_map(String::from),
                2 => Just("?".to_string()),
                3 => Just("*".to_string()),
                1 => Just("a".repeat(30)),
                2 => arb_class(),
                2 => proptest::collection::vec("[ab]{0,3}", 1..4).prop_map(|alts| format!("{{{}}}", alts.join(","))),
            ],
            0..12,
        ),
        name in "[ab]{60,140}",
    ) {
        // The backtracking reference is exponential in the number of stars on long names.
        prop_assume!(tokens.iter().filter(|t| *t == "*").count() <= 2);
        let pattern = tokens.concat();
        prop_assert_eq!(
            segment_matches(pattern.as_bytes(), name.as_bytes()),
            reference(pattern.as_bytes(), name.as_bytes()),
            "{} vs {}", pattern, name
        );
    }
}

#[test]
fn the_pattern_cache_answers_as_the_walk_does() {
    let mut space = AddressSpace::new();
    for p in ["/a/x1", "/a/x2", "/a/y1", "/b/x1"] {
        space.insert(p).unwrap();
    }
    let mut cache = PatternCache::new();
    for addr in [
        "/a/x*", "/*/x1", "/a/x*", "/a/y1", "/c/*", "/*/x1", "/a/[", "/a/[",
    ] {
        let mut walked = Vec::new();
        let w = space.lookup(addr, |id| walked.push(id));
        let mut cached = Vec::new();
        let c = cache.lookup(&space, addr, |id| cached.push(id));
        assert_eq!((w, walked), (c, cached), "{addr}");
    }
    // Literal and malformed addresses are not held; the three patterns are.
    assert_eq!(cache.len(), 3);
    for i in 0..PatternCache::CAPACITY + 5 {
        let _ = cache.lookup(&space, &format!("/a/x{i}*"), |_| {});
    }
    assert!(cache.len() <= PatternCache::CAPACITY);
}
