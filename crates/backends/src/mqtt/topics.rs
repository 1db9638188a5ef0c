//! The topics of one instance: channel names, their `range`/`discrete` settings, and what the
//! client is told at start (subscriptions, output topics).
//!
//! A topic's index in [`Topics`] is its channel key. Inputs become subscriptions and outputs
//! output topics of the client in index order, so a received message's subscription id and a
//! delivery's key each find their topic by one array index.

use rustc_hash::FxHashMap;

use patchbay_core::{ChannelError, ChannelId, ChannelIds, Direction, InstanceId};
use patchbay_mqtt::client::{Output, Subscription};
use patchbay_mqtt::mapping::{MappingError, ValueMap};
use patchbay_mqtt::topic::{TopicError, is_wildcard, validate_filter, validate_name};
use patchbay_mqtt::wire::QoS;
use patchbay_mqtt::{OutputId, SubscriptionId};

/// One topic (or, for an input, a filter with wildcards).
#[derive(Debug)]
pub struct Topic {
    /// As written.
    pub name: Box<str>,
    /// Payload ↔ value.
    pub map: ValueMap,
    /// Set on the first mapping that uses it.
    pub id: Option<ChannelId>,
    /// A mapping reads it: subscribed.
    pub input: bool,
    /// A mapping writes it: published to.
    pub output: bool,
    /// Its output topic in the client, from start.
    pub out: Option<OutputId>,
}

/// Every topic of one instance.
#[derive(Debug, Default)]
pub struct Topics {
    pub list: Vec<Topic>,
    by_name: FxHashMap<Box<str>, u32>,
    /// Subscription id → topic index, from start.
    pub by_sub: Vec<u32>,
}

fn topic_error(name: &str, e: TopicError, direction: Option<Direction>) -> String {
    let what = match direction {
        Some(Direction::Output) => "output topic",
        Some(Direction::Input) => "input topic",
        None => "topic",
    };
    format!("{what} '{name}': {e}")
}

impl Topics {
    fn entry(&mut self, name: &str) -> usize {
        if let Some(&i) = self.by_name.get(name) {
            return i as usize;
        }
        let i = self.list.len();
        self.list.push(Topic {
            name: name.into(),
            map: ValueMap::Plain,
            id: None,
            input: false,
            output: false,
            out: None,
        });
        self.by_name.insert(name.into(), i as u32);
        i
    }

    /// A `TOPIC = range ...` / `TOPIC = discrete ...` line. Wildcard filters may be set up too
    /// (for inputs); whether the topic may be published to is checked when a mapping uses it.
    pub fn configure(&mut self, name: &str, spec: &str) -> Result<(), ConfigureError> {
        validate_filter(name).map_err(|e| ConfigureError::Topic(topic_error(name, e, None)))?;
        let mut map = self
            .by_name
            .get(name)
            .map(|&i| self.list[i as usize].map.clone())
            .unwrap_or_default();
        map.add(spec).map_err(ConfigureError::Mapping)?;
        let i = self.entry(name);
        self.list[i].map = map;
        Ok(())
    }

    /// A channel of a mapping: checked for its direction, given its id.
    pub fn channel(
        &mut self,
        instance: InstanceId,
        name: &str,
        direction: Direction,
        ids: &mut dyn ChannelIds,
    ) -> Result<ChannelId, ChannelError> {
        let checked = match direction {
            Direction::Input => validate_filter(name),
            Direction::Output => validate_name(name),
        };
        checked.map_err(|e| ChannelError {
            message: topic_error(name, e, Some(direction)),
        })?;
        let i = self.entry(name);
        let t = &mut self.list[i];
        match direction {
            Direction::Input => t.input = true,
            Direction::Output => t.output = true,
        }
        let id = *t.id.get_or_insert_with(|| ids.resolve(instance, i as u64));
        Ok(id)
    }

    /// The topic of a delivery's key.
    pub fn by_key(&self, key: u64) -> Option<&Topic> {
        usize::try_from(key).ok().and_then(|k| self.list.get(k))
    }

    /// The client's subscriptions and output topics; records which is which.
    pub fn client_lists(&mut self, qos: QoS, retain: bool) -> (Vec<Subscription>, Vec<Output>) {
        let mut subs = Vec::new();
        let mut outs = Vec::new();
        self.by_sub.clear();
        for (i, t) in self.list.iter_mut().enumerate() {
            if t.input {
                subs.push(Subscription {
                    filter: t.name.to_string(),
                    qos,
                });
                self.by_sub.push(i as u32);
            }
            t.out = None;
            if t.output {
                t.out = Some(OutputId(outs.len() as u32));
                outs.push(Output {
                    topic: t.name.to_string(),
                    qos,
                    retain,
                });
            }
        }
        (subs, outs)
    }

    /// The topic a subscription id stands for.
    pub fn by_subscription(&self, sub: SubscriptionId) -> Option<&Topic> {
        self.by_sub
            .get(sub.0 as usize)
            .and_then(|&i| self.list.get(i as usize))
    }

    /// Number of wildcard filters among the inputs (for the start-up log).
    pub fn wildcard_inputs(&self) -> usize {
        self.list
            .iter()
            .filter(|t| t.input && is_wildcard(&t.name))
            .count()
    }

    /// Drops the name index (not needed once mappings are read).
    pub fn seal(&mut self) {
        self.by_name = FxHashMap::default();
    }
}

/// Why a topic setting line was refused.
#[derive(Debug)]
pub enum ConfigureError {
    /// The key is not a valid topic (points at the key).
    Topic(String),
    /// The value is not a valid setting (points at the value).
    Mapping(MappingError),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids as the core hands them out: one per (instance, key).
    #[derive(Default)]
    struct Ids(Vec<(InstanceId, u64)>);

    impl ChannelIds for Ids {
        fn resolve(&mut self, instance: InstanceId, key: u64) -> ChannelId {
            if let Some(i) = self.0.iter().position(|&e| e == (instance, key)) {
                return ChannelId(i as u32);
            }
            self.0.push((instance, key));
            ChannelId(self.0.len() as u32 - 1)
        }
    }

    const I: InstanceId = InstanceId(0);

    #[test]
    fn a_topic_is_one_channel_in_both_directions() {
        let mut t = Topics::default();
        let mut ids = Ids::default();
        let a = t
            .channel(I, "/a/topic", Direction::Input, &mut ids)
            .unwrap();
        let b = t.channel(I, "/b", Direction::Output, &mut ids).unwrap();
        let a2 = t
            .channel(I, "/a/topic", Direction::Output, &mut ids)
            .unwrap();
        assert_eq!(a, a2);
        assert_ne!(a, b);
        let (subs, outs) = t.client_lists(QoS::AtLeastOnce, true);
        assert_eq!(subs.len(), 1);
        assert_eq!(subs[0].filter, "/a/topic");
        assert_eq!(subs[0].qos, QoS::AtLeastOnce);
        let names: Vec<&str> = outs.iter().map(|o| o.topic.as_str()).collect();
        assert_eq!(names, ["/a/topic", "/b"]);
        assert!(outs.iter().all(|o| o.retain));
        assert_eq!(t.list[0].out, Some(OutputId(0)));
        assert_eq!(t.list[1].out, Some(OutputId(1)));
        assert_eq!(
            &*t.by_subscription(SubscriptionId(0)).unwrap().name,
            "/a/topic"
        );
        assert_eq!(&*t.by_key(1).unwrap().name, "/b");
    }

    #[test]
    fn wildcards_are_inputs_only() {
        let mut t = Topics::default();
        let mut ids = Ids::default();
        t.channel(I, "lights/+/level", Direction::Input, &mut ids)
            .unwrap();
        t.channel(I, "sensors/#", Direction::Input, &mut ids)
            .unwrap();
        let e = t
            .channel(I, "lights/+/level", Direction::Output, &mut ids)
            .unwrap_err();
        assert!(e.message.contains("output topic 'lights/+/level'"), "{e}");
        assert!(
            e.message.contains("only in topics that are subscribed to"),
            "{e}"
        );
        let e = t
            .channel(I, "a/b#", Direction::Input, &mut ids)
            .unwrap_err();
        assert!(e.message.contains("last level"), "{e}");
        assert!(t.channel(I, "", Direction::Input, &mut ids).is_err());
        assert_eq!(t.wildcard_inputs(), 2);
    }

    #[test]
    fn settings_follow_midimonsters_rules() {
        let mut t = Topics::default();
        t.configure("/a/topic", "range -10 10").unwrap();
        t.configure("/t", "discrete !0.0 0.5 off").unwrap();
        t.configure("/t", "discrete 0.5 !1.0 on").unwrap();
        assert!(matches!(
            t.configure("/a/topic", "range 0 1"),
            Err(ConfigureError::Mapping(MappingError::RangeConflict))
        ));
        assert!(matches!(
            t.configure("/t", "range 0 1"),
            Err(ConfigureError::Mapping(MappingError::RangeConflict))
        ));
        assert!(matches!(
            t.configure("/x", "bogus"),
            Err(ConfigureError::Mapping(MappingError::UnknownKind))
        ));
        assert!(matches!(
            t.configure("a/#/b", "range 0 1"),
            Err(ConfigureError::Topic(_))
        ));
        // A refused line leaves the topic as it was.
        let a = &t.list[0];
        assert_eq!(
            a.map,
            ValueMap::Range {
                min: -10.0,
                max: 10.0
            }
        );
        let mut ids = Ids::default();
        let id = t.channel(I, "/t", Direction::Output, &mut ids).unwrap();
        assert_eq!(t.list[1].id, Some(id));
        assert!(matches!(&t.list[1].map, ValueMap::Discrete(d) if d.len() == 2));
        // A wildcard input may be set up.
        t.configure("dimmers/+", "range 0 100").unwrap();
    }
}
