//! The options of an `[mqtt NAME]` instance: MIDIMonster's five (`host`, `user`, `password`,
//! `clientid`, `protocol`) and patchbay's `qos`, `retain` and `cafile`. Every other key is a
//! topic and its value a `range`/`discrete` setting ([`crate::mqtt::topics`]).

use std::path::{Path, PathBuf};

use patchbay_core::{OptionError, Part};
use patchbay_mqtt::broker::BrokerAddress;
use patchbay_mqtt::client::protocol_option;
use patchbay_mqtt::wire::{Protocol, QoS};

/// The option names, for messages. Topics take every other key.
pub const INSTANCE_OPTIONS: &[&str] = &[
    "host", "user", "password", "clientid", "protocol", "qos", "retain", "cafile",
];

/// Settings of one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceOptions {
    /// From `host`; `None` until given (required, checked by `validate`).
    pub broker: Option<BrokerAddress>,
    /// `user`, or the user part of `host` (the later line wins, as in MIDIMonster).
    pub user: Option<String>,
    /// `password`, or the password part of `host`.
    pub password: Option<String>,
    /// `clientid`; a random one at start when `None`.
    pub client_id: Option<String>,
    /// `protocol`: the first protocol tried.
    pub protocol: Protocol,
    /// `qos`: of subscriptions (the most the broker may use to deliver) and of publications.
    pub qos: QoS,
    /// `retain`: publications are retained by the broker.
    pub retain: bool,
    /// `cafile`, resolved against the configuration file's directory.
    pub ca_file: Option<PathBuf>,
}

impl Default for InstanceOptions {
    fn default() -> Self {
        InstanceOptions {
            broker: None,
            user: None,
            password: None,
            client_id: None,
            protocol: Protocol::V5,
            qos: QoS::AtMostOnce,
            retain: false,
            ca_file: None,
        }
    }
}

/// What an option line was.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// An option of the instance, applied.
    Option,
    /// Not an option: a topic setting (`TOPIC = range ...`).
    Topic,
}

/// Whether `value` is a topic setting rather than an option value: patchbay's own options
/// (`qos`, `retain`, `cafile`) yield to it, so that a MIDIMonster configuration with a topic of
/// that name still reads as it did there.
fn is_topic_setting(value: &str) -> bool {
    let v = value.trim_start();
    ["range", "discrete"].iter().any(|k| {
        v.strip_prefix(k)
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_whitespace()))
    })
}

/// Applies one option line; [`Line::Topic`] when the key is no option (the caller reads the
/// line as a topic setting). Warnings go to `warn`.
pub fn apply(
    o: &mut InstanceOptions,
    key: &str,
    value: &str,
    base_dir: &Path,
    warn: &mut dyn FnMut(Part, String),
) -> Result<Line, OptionError> {
    match key {
        "host" => {
            let b = BrokerAddress::parse(value).map_err(|e| OptionError::Other {
                at: Part::Value,
                message: format!("host = '{value}': {e}"),
            })?;
            // MIDIMonster: credentials in the URI set the same fields as the options.
            if let Some(u) = &b.user {
                o.user = Some(u.clone());
            }
            if let Some(p) = &b.password {
                o.password = Some(p.clone());
            }
            o.broker = Some(b);
        }
        "user" => o.user = Some(value.to_string()),
        "password" => o.password = Some(value.to_string()),
        "clientid" => {
            if value.is_empty() {
                return Err(OptionError::Invalid {
                    key: key.into(),
                    value: value.into(),
                    expected:
                        "a client identifier (not empty; leave the option out for a random one)"
                            .into(),
                });
            }
            if value.len() > 23 {
                warn(
                    Part::Value,
                    format!(
                        "client identifier of {} bytes: brokers must accept 23 (MQTT 3.1.1 section 3.1.3.1), longer ones may be refused",
                        value.len()
                    ),
                );
            }
            o.client_id = Some(value.to_string());
        }
        "protocol" => {
            o.protocol = protocol_option(value);
            if !matches!(value, "5" | "5.0" | "3.1.1") {
                warn(
                    Part::Value,
                    format!(
                        "protocol '{value}' is not 3.1.1, so MQTT 5 is used, as in MIDIMonster (write 5 or 3.1.1)"
                    ),
                );
            }
        }
        "qos" | "retain" | "cafile" if is_topic_setting(value) => return Ok(Line::Topic),
        "qos" => {
            o.qos = match value {
                "0" => QoS::AtMostOnce,
                "1" => QoS::AtLeastOnce,
                "2" => QoS::ExactlyOnce,
                _ => {
                    return Err(OptionError::Invalid {
                        key: key.into(),
                        value: value.into(),
                        expected: "0 (at most once), 1 (at least once) or 2 (exactly once)".into(),
                    });
                }
            }
        }
        "retain" => {
            o.retain = match value.to_ascii_lowercase().as_str() {
                "1" | "on" | "yes" | "true" => true,
                "0" | "off" | "no" | "false" => false,
                _ => {
                    return Err(OptionError::Invalid {
                        key: key.into(),
                        value: value.into(),
                        expected: "on or off (1 or 0)".into(),
                    });
                }
            }
        }
        "cafile" => {
            if value.is_empty() {
                return Err(OptionError::Invalid {
                    key: key.into(),
                    value: value.into(),
                    expected: "the path of a PEM file with the broker's CA certificate(s)".into(),
                });
            }
            o.ca_file = Some(base_dir.join(value));
        }
        _ => return Ok(Line::Topic),
    }
    Ok(Line::Option)
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_mqtt::broker::{PORT, TLS_PORT};

    fn run(lines: &[(&str, &str)]) -> (InstanceOptions, Vec<String>, Vec<Line>) {
        let mut o = InstanceOptions::default();
        let mut warnings = Vec::new();
        let mut kinds = Vec::new();
        for (k, v) in lines {
            let kind = apply(&mut o, k, v, Path::new("/etc/pb"), &mut |_, w| {
                warnings.push(w)
            })
            .expect(k);
            kinds.push(kind);
        }
        (o, warnings, kinds)
    }

    #[test]
    fn midimonster_options() {
        let (o, w, _) = run(&[
            ("host", "mqtts://alice:s3cret@broker.example:8884"),
            ("clientid", "MM-main"),
            ("protocol", "3.1.1"),
        ]);
        assert!(w.is_empty());
        let b = o.broker.expect("broker");
        assert!(b.tls);
        assert_eq!((b.host.as_str(), b.port), ("broker.example", 8884));
        assert_eq!(o.user.as_deref(), Some("alice"));
        assert_eq!(o.password.as_deref(), Some("s3cret"));
        assert_eq!(o.client_id.as_deref(), Some("MM-main"));
        assert_eq!(o.protocol, Protocol::V311);
        let (o, _, _) = run(&[("host", "10.23.23.1")]);
        assert_eq!(o.broker.expect("b").port, PORT);
        let (o, _, _) = run(&[("host", "mqtts://h")]);
        assert_eq!(o.broker.expect("b").port, TLS_PORT);
    }

    #[test]
    fn the_later_line_wins_for_credentials() {
        let (o, _, _) = run(&[("user", "a"), ("host", "mqtt://b:pw@h"), ("user", "c")]);
        assert_eq!(o.user.as_deref(), Some("c"));
        assert_eq!(o.password.as_deref(), Some("pw"));
        // A URI without credentials leaves earlier ones alone.
        let (o, _, _) = run(&[("user", "a"), ("password", "x"), ("host", "h")]);
        assert_eq!(
            (o.user.as_deref(), o.password.as_deref()),
            (Some("a"), Some("x"))
        );
    }

    #[test]
    fn protocol_other_than_the_two_is_mqtt5_with_a_warning() {
        let (o, w, _) = run(&[("protocol", "3.1")]);
        assert_eq!(o.protocol, Protocol::V5);
        assert_eq!(w.len(), 1, "{w:?}");
        let (_, w, _) = run(&[("protocol", "5")]);
        assert!(w.is_empty());
    }

    #[test]
    fn patchbay_options() {
        let (o, w, _) = run(&[("qos", "1"), ("retain", "on"), ("cafile", "ca.pem")]);
        assert!(w.is_empty());
        assert_eq!(o.qos, QoS::AtLeastOnce);
        assert!(o.retain);
        assert_eq!(o.ca_file, Some(PathBuf::from("/etc/pb/ca.pem")));
        let (o, _, _) = run(&[("cafile", "/abs/ca.pem"), ("retain", "0"), ("qos", "2")]);
        assert_eq!(o.ca_file, Some(PathBuf::from("/abs/ca.pem")));
        assert!(!o.retain);
        assert_eq!(o.qos, QoS::ExactlyOnce);
    }

    #[test]
    fn a_topic_named_like_a_patchbay_option_keeps_its_midimonster_meaning() {
        let (o, _, kinds) = run(&[("qos", "range 0 10"), ("retain", "discrete 0 1 on")]);
        assert_eq!(kinds, vec![Line::Topic, Line::Topic]);
        assert_eq!(o, InstanceOptions::default());
        let (_, _, kinds) = run(&[("/any/topic", "range 1 2")]);
        assert_eq!(kinds, vec![Line::Topic]);
    }

    #[test]
    fn invalid_values_say_what_is_allowed() {
        let mut o = InstanceOptions::default();
        let mut err = |k: &str, v: &str| {
            apply(&mut o, k, v, Path::new("."), &mut |_, _| {})
                .expect_err(k)
                .to_string()
        };
        assert!(err("host", "tcp://h").contains("mqtt://"));
        assert!(err("host", "h:x").contains("1 to 65535"));
        assert!(err("clientid", "").contains("not empty"));
        assert!(err("qos", "3").contains("exactly once"));
        assert!(err("retain", "maybe").contains("on or off"));
        assert!(err("cafile", "").contains("PEM"));
    }

    #[test]
    fn long_client_ids_are_warned_about() {
        let (_, w, _) = run(&[("clientid", "a-client-id-of-24-bytes!")]);
        assert_eq!(w.len(), 1);
    }
}
