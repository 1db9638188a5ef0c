//! Topic names and filters (MQTT section 4.7): validation for channel names, filter matching,
//! and the table that resolves an incoming topic to subscription ids without allocating.

use rustc_hash::FxHashMap;

use crate::wire::MAX_STRING_LEN;

/// Why a string is not a valid topic name or filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// Empty string.
    #[error("a topic must not be empty")]
    Empty,
    /// Longer than 65535 bytes.
    #[error("a topic is at most 65535 bytes long")]
    TooLong,
    /// Contains U+0000.
    #[error("a topic must not contain U+0000")]
    NullCharacter,
    /// A topic name (something published to) with `+` or `#`.
    #[error("`+` and `#` are wildcards, allowed only in topics that are subscribed to (input)")]
    WildcardInName,
    /// `#` not alone in the last level.
    #[error("`#` must be the whole last level of a filter (`a/#`, `#`)")]
    MisplacedHash,
    /// `+` not alone in its level.
    #[error("`+` must be a whole level of a filter (`a/+/b`, `+`)")]
    MisplacedPlus,
}

fn common(s: &str) -> Result<(), TopicError> {
    if s.is_empty() {
        Err(TopicError::Empty)
    } else if s.len() > MAX_STRING_LEN {
        Err(TopicError::TooLong)
    } else if s.contains('\0') {
        Err(TopicError::NullCharacter)
    } else {
        Ok(())
    }
}

/// Checks a topic name: what is published to (an output channel). MIDIMonster's rule, "any topic
/// without `+` and `#`", plus what MQTT itself forbids (empty, U+0000, over 65535 bytes).
pub fn validate_name(s: &str) -> Result<(), TopicError> {
    common(s)?;
    if s.contains(['+', '#']) {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// Checks a topic filter: what is subscribed to (an input channel), wildcards allowed where MQTT
/// allows them.
pub fn validate_filter(s: &str) -> Result<(), TopicError> {
    common(s)?;
    let mut levels = s.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err(TopicError::MisplacedHash);
        }
        if level.contains('+') && level != "+" {
            return Err(TopicError::MisplacedPlus);
        }
    }
    Ok(())
}

/// `true` when the filter has wildcards.
pub fn is_wildcard(filter: &str) -> bool {
    filter.contains(['+', '#'])
}

/// Whether a valid `filter` matches a topic name (section 4.7): `+` matches one level (which may
/// be empty), `#` the parent level and any number of levels below it, and topics starting with
/// `$` are not matched by a filter starting with a wildcard.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Identifies one subscription (an input topic or filter) of a [`Client`](crate::Client): its
/// index in the configuration's subscription list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(pub u32);

/// Resolves incoming topic names to the subscriptions they match: one hash lookup for exact
/// topics (MIDIMonster's only kind) plus a scan of the wildcard filters, which configurations
/// have few of.
#[derive(Debug, Default, Clone)]
pub struct TopicTable {
    exact: FxHashMap<Box<str>, SubscriptionId>,
    wildcard: Vec<Wildcard>,
}

/// A wildcard filter and the literal text every topic it matches starts with (the levels
/// before the first wildcard, without their last `/`, so that `a/#` still matches `a`), which
/// rejects most topics with one comparison.
#[derive(Debug, Clone)]
struct Wildcard {
    filter: Box<str>,
    prefix_len: usize,
    id: SubscriptionId,
}

impl Wildcard {
    fn new(filter: &str, id: SubscriptionId) -> Self {
        let first = filter.find(['+', '#']).unwrap_or(filter.len());
        let prefix = filter[..first]
            .strip_suffix('/')
            .unwrap_or(&filter[..first]);
        Wildcard {
            prefix_len: prefix.len(),
            filter: filter.into(),
            id,
        }
    }
}

impl TopicTable {
    /// Builds the table for filters given in subscription order (`filters[i]` is
    /// `SubscriptionId(i)`); a repeated filter keeps its first id.
    pub fn new<'a>(filters: impl IntoIterator<Item = &'a str>) -> Self {
        let mut t = TopicTable::default();
        for (i, f) in filters.into_iter().enumerate() {
            let id = SubscriptionId(i as u32);
            if is_wildcard(f) {
                if !t.wildcard.iter().any(|w| &*w.filter == f) {
                    t.wildcard.push(Wildcard::new(f, id));
                }
            } else {
                t.exact.entry(f.into()).or_insert(id);
            }
        }
        t
    }

    /// Appends the ids of every subscription matching `topic` (exact first, then wildcards in
    /// configuration order). `out` keeps its capacity between calls.
    pub fn lookup(&self, topic: &str, out: &mut Vec<SubscriptionId>) {
        if let Some(&id) = self.exact.get(topic) {
            out.push(id);
        }
        for w in &self.wildcard {
            if topic
                .as_bytes()
                .starts_with(&w.filter.as_bytes()[..w.prefix_len])
                && matches(&w.filter, topic)
            {
                out.push(w.id);
            }
        }
    }

    /// Number of distinct filters.
    pub fn len(&self) -> usize {
        self.exact.len() + self.wildcard.len()
    }

    /// `true` without filters.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spec_examples_of_multi_level_wildcard() {
        // MQTT 5 section 4.7.1.2 and 3.1.1 section 4.7.1.2.
        for t in [
            "sport/tennis/player1",
            "sport/tennis/player1/ranking",
            "sport/tennis/player1/score/wimbledon",
        ] {
            assert!(matches("sport/tennis/player1/#", t), "{t}");
        }
        assert!(matches("sport/#", "sport"));
        assert!(matches("#", "a/b/c"));
        assert!(matches("#", "/"));
        assert_eq!(
            validate_filter("sport/tennis#"),
            Err(TopicError::MisplacedHash)
        );
        assert_eq!(
            validate_filter("sport/tennis/#/ranking"),
            Err(TopicError::MisplacedHash)
        );
    }

    #[test]
    fn spec_examples_of_single_level_wildcard() {
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(matches("sport/tennis/+", "sport/tennis/player2"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("sport/+", "sport/"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(validate_filter("+").is_ok());
        assert!(validate_filter("+/tennis/#").is_ok());
        assert_eq!(validate_filter("sport+"), Err(TopicError::MisplacedPlus));
    }

    #[test]
    fn dollar_topics_are_not_matched_by_leading_wildcards() {
        assert!(!matches("#", "$SYS/broker/uptime"));
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/#", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
    }

    #[test]
    fn names_and_filters_are_distinct_and_case_sensitive() {
        assert!(!matches("ACCOUNTS", "Accounts"));
        assert!(!matches("a/b", "a/b/"));
        assert!(matches("a//b", "a//b"));
        assert!(matches("a/+/b", "a//b"));
        assert_eq!(validate_name("a/+"), Err(TopicError::WildcardInName));
        assert_eq!(validate_name("a/#"), Err(TopicError::WildcardInName));
        assert_eq!(validate_name(""), Err(TopicError::Empty));
        assert_eq!(validate_name("a\0b"), Err(TopicError::NullCharacter));
        assert!(validate_name("/midimonster/in").is_ok());
        assert!(validate_name(" spaced / topic ").is_ok());
        assert_eq!(validate_name(&"x".repeat(65536)), Err(TopicError::TooLong));
    }

    #[test]
    fn table_resolves_exact_and_wildcard_matches_in_order() {
        let t = TopicTable::new(["a/b", "a/+", "#", "a/b", "$SYS/x"]);
        assert_eq!(t.len(), 4);
        let mut out = Vec::new();
        t.lookup("a/b", &mut out);
        assert_eq!(
            out,
            [SubscriptionId(0), SubscriptionId(1), SubscriptionId(2)]
        );
        out.clear();
        t.lookup("$SYS/x", &mut out);
        assert_eq!(out, [SubscriptionId(4)]);
        out.clear();
        t.lookup("c", &mut out);
        assert_eq!(out, [SubscriptionId(2)]);
        // The literal prefix of `x/y/#` is `x/y`, so the parent level still matches.
        let t = TopicTable::new(["x/y/#", "x/+/z", "+/y"]);
        for (topic, want) in [
            ("x/y", &[0, 2][..]),
            ("x/y/z", &[0, 1]),
            ("x/q/z", &[1]),
            ("x", &[]),
        ] {
            out.clear();
            t.lookup(topic, &mut out);
            let got: Vec<u32> = out.iter().map(|s| s.0).collect();
            assert_eq!(got, want, "{topic}");
        }
    }

    fn level() -> impl Strategy<Value = String> {
        prop_oneof!["[ab$]{0,2}", Just("+".to_string())]
    }

    proptest! {
        /// A filter without wildcards matches exactly itself; `+` in place of any one level
        /// still matches (unless it hides a leading `$`), and `#` matches everything below.
        #[test]
        fn matching_agrees_with_level_substitution(levels in proptest::collection::vec("[ab$]{0,2}", 1..5), at in 0usize..5) {
            let topic = levels.join("/");
            prop_assert!(matches(&topic, &topic));
            let at = at % levels.len();
            let mut f = levels.clone();
            f[at] = "+".into();
            let filter = f.join("/");
            let hides_dollar = at == 0 && topic.starts_with('$');
            prop_assert_eq!(matches(&filter, &topic), !hides_dollar);
            let hash = if at == 0 { "#".to_string() } else { format!("{}/#", levels[..at].join("/")) };
            prop_assert_eq!(matches(&hash, &topic), !hides_dollar);
        }

        /// The table with its prefix shortcut finds exactly what the matcher alone finds.
        #[test]
        fn table_agrees_with_the_matcher(filters in proptest::collection::vec(proptest::collection::vec(level(), 1..4), 1..6), hash in any::<bool>(), topic in "[ab$/]{0,6}") {
            let mut fs: Vec<String> = filters.iter().map(|l| l.join("/")).collect();
            if hash { fs.push(format!("{}/#", fs[0])); }
            fs.retain(|f| validate_filter(f).is_ok());
            fs.dedup();
            let t = TopicTable::new(fs.iter().map(String::as_str));
            let mut out = Vec::new();
            t.lookup(&topic, &mut out);
            let mut got: Vec<u32> = out.iter().map(|s| s.0).collect();
            got.sort_unstable();
            let mut want: Vec<u32> = Vec::new();
            for (i, f) in fs.iter().enumerate() {
                if matches(f, &topic) && !fs[..i].contains(f) { want.push(i as u32); }
            }
            prop_assert_eq!(got, want, "{:?} {}", fs, topic);
        }

        /// Valid filters never panic the matcher, and validation accepts what it builds.
        #[test]
        fn generated_filters_validate(levels in proptest::collection::vec(level(), 1..5), hash in any::<bool>(), topic in "[ab$/]{0,6}") {
            let mut f = levels.join("/");
            if hash { f.push_str("/#"); }
            prop_assume!(!f.is_empty());
            prop_assert!(validate_filter(&f).is_ok(), "{}", f);
            let _ = matches(&f, &topic);
        }
    }
}
