//! The `mqtt` backend: topics on an MQTT 3.1.1/5 broker as channels, configured as in
//! MIDIMonster (user documentation: README.md beside this file; contract:
//! `patchbay_core::Backend`).
//!
//! The protocol is `patchbay_mqtt`'s sans-IO client, driven by this backend inside patchbay's
//! loop (that crate's documentation says why it is not a thread): one [`Client`] per instance,
//! its socket a `patchbay_net::tcp::TcpConn` registered with the loop, TLS through the crate's
//! `Transport`. Layout: [`options`] parses the instance options, [`topics`] the topic channels
//! and their `range`/`discrete` settings, `session` runs one instance's connection and turns the
//! client's events into core events, `resolver` looks host names up on a side thread,
//! [`counters`] holds what is counted.

pub mod counters;
pub mod options;
mod resolver;
mod session;
pub mod topics;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use patchbay_core::{
    Backend, ChannelCtx, ChannelError, ChannelId, ConfigCtx, Delivery, Direction, FatalError,
    InstanceId, Io, OptionError, Part, Ready, Sink, StartError, Stat,
};
use patchbay_kit::SocketTag;
use patchbay_kit::instances::InstanceIndex;
use patchbay_mqtt::client::{Backoff, default_client_id};
use patchbay_mqtt::mapping::MappingError;
use patchbay_mqtt::transport::{ClientConfig, Roots, Transport, client_config};
use patchbay_mqtt::{Client, Config};

pub use counters::{InstanceCounters, LinkState};
use options::{INSTANCE_OPTIONS, InstanceOptions, Line};
use resolver::Resolver;
use session::{Cx, Session, Target};
use topics::{ConfigureError, Topics};

/// Tag of the resolver thread's wake-ups (no instance has group `u16::MAX`).
const WAKER_TAG: u32 = SocketTag::new(u16::MAX, 0).tag();

/// Read buffer size (one TCP read).
const READ_BUF: usize = 16 * 1024;

#[derive(Debug)]
struct Instance {
    id: InstanceId,
    name: String,
    opts: InstanceOptions,
    topics: Topics,
    counters: InstanceCounters,
    session: Option<Session>,
}

/// The MQTT backend; one value serves every `[mqtt NAME]` instance.
#[derive(Debug, Default)]
pub struct Mqtt {
    instances: Vec<Instance>,
    /// `InstanceId` → index into `instances`.
    by_id: InstanceIndex,
    resolver: Option<Resolver>,
    buf: Vec<u8>,
    /// Cached for `poll_timeout`.
    deadline: Option<Instant>,
    shutting_down: bool,
}

/// A random 64-bit value (std's per-process random hash keys, mixed with the time), for client
/// identifiers and back-off jitter; nothing here needs more.
fn random() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

impl Mqtt {
    pub fn new() -> Self {
        Self::default()
    }

    fn index_of(&self, id: InstanceId) -> Option<usize> {
        self.by_id.get(id)
    }

    /// Totals of one instance since start.
    pub fn instance_counters(&self, id: InstanceId) -> Option<&InstanceCounters> {
        self.index_of(id).map(|i| &self.instances[i].counters)
    }

    /// Where an instance's connection is.
    pub fn link_state(&self, id: InstanceId) -> Option<LinkState> {
        let i = self.index_of(id)?;
        Some(
            self.instances[i]
                .session
                .as_ref()
                .map_or(LinkState::Waiting, |s| s.state),
        )
    }

    /// The client of a started instance (its configuration, counters, last values).
    pub fn client(&self, id: InstanceId) -> Option<&Client> {
        let i = self.index_of(id)?;
        self.instances[i].session.as_ref().map(|s| &s.client)
    }

    fn refresh_deadline(&mut self, now: Instant) {
        self.deadline = self
            .instances
            .iter()
            .filter_map(|i| i.session.as_ref()?.deadline(now))
            .min();
    }

    /// The client configuration of an instance (validated: it has a host).
    fn client_config(inst: &mut Instance, random: u64) -> Config {
        let o = &inst.opts;
        let id = o
            .client_id
            .clone()
            .unwrap_or_else(|| default_client_id(&inst.name, random as u32));
        let mut cfg = Config::new(id);
        cfg.protocol = o.protocol;
        cfg.username = o.user.clone();
        cfg.password = o.password.as_ref().map(|p| p.as_bytes().to_vec());
        if cfg.password.is_some() && cfg.username.is_none() {
            // MQTT 3.1.1 (also after the fallback from 5) sends a password only with a user
            // name; an empty one is what brokers see when MIDIMonster's URI has `:pw@`.
            cfg.username = Some(String::new());
        }
        // Instances restarted together do not retry in step.
        cfg.backoff = Backoff {
            seed: random,
            ..Backoff::default()
        };
        let (subs, outs) = inst.topics.client_lists(o.qos, o.retain);
        cfg.subscriptions = subs;
        cfg.outputs = outs;
        cfg
    }

    /// Opens what every instance needs: TLS configurations (one per CA file) and the resolver.
    fn open(&mut self, now: Instant, io: &mut Io<'_>) -> Result<(), StartError> {
        if self.instances.len() >= usize::from(u16::MAX) {
            return Err(StartError::backend(format!(
                "{} mqtt instances: at most {} are supported",
                self.instances.len(),
                u16::MAX - 1
            )));
        }
        let mut tls: Vec<(Option<PathBuf>, Arc<ClientConfig>)> = Vec::new();
        let mut needs_resolver = false;
        let mut sessions = Vec::with_capacity(self.instances.len());
        for (index, inst) in self.instances.iter_mut().enumerate() {
            let Some(b) = inst.opts.broker.clone() else {
                return Err(StartError::instance(inst.id, "no host").about("host"));
            };
            let tls_config = if b.tls {
                let key = inst.opts.ca_file.clone();
                match tls.iter().find(|(k, _)| *k == key) {
                    Some((_, c)) => Some(Arc::clone(c)),
                    None => {
                        let roots = key.clone().map_or(Roots::System, Roots::CaFile);
                        let c = client_config(&roots).map_err(|e| {
                            let e = StartError::instance(inst.id, format!("TLS: {e}"));
                            if key.is_some() { e.about("cafile") } else { e }
                        })?;
                        tls.push((key, Arc::clone(&c)));
                        Some(c)
                    }
                }
            } else {
                None
            };
            if let Some(c) = &tls_config {
                // The name every connection's certificate is checked against: refused now rather
                // than at every attempt.
                Transport::tls(Arc::clone(c), &b.host).map_err(|e| {
                    StartError::instance(inst.id, format!("host = '{}': {e}", b.host)).about("host")
                })?;
            }
            let literal = b.host.parse::<IpAddr>().ok();
            needs_resolver |= literal.is_none();
            let cfg = Self::client_config(inst, random());
            tracing::info!(target: "mqtt",
                "instance '{}': broker {}{} (MQTT {}{}), client id '{}', {} input topic(s) ({} with wildcards), {} output topic(s), QoS {}{}",
                inst.name, b.host, format_args!(":{}", b.port),
                cfg.protocol, if b.tls { ", TLS" } else { "" }, cfg.client_id,
                cfg.subscriptions.len(), inst.topics.wildcard_inputs(), cfg.outputs.len(),
                inst.opts.qos.bits(), if inst.opts.retain { ", retained" } else { "" });
            let target = Target {
                host: b.host,
                port: b.port,
                literal,
                tls: tls_config,
            };
            sessions.push(Session::new(Client::new(cfg, now), target, index as u16));
        }
        if needs_resolver {
            let waker = io.waker(WAKER_TAG);
            let wake = Arc::new(move || {
                let _ = waker.wake();
            });
            self.resolver = Some(Resolver::spawn(wake).map_err(|e| {
                StartError::backend(format!("cannot start the host name resolver thread: {e}"))
            })?);
        }
        for (inst, s) in self.instances.iter_mut().zip(sessions) {
            inst.topics.seal();
            inst.session = Some(s);
        }
        Ok(())
    }
}

impl Backend for Mqtt {
    fn name(&self) -> &'static str {
        "mqtt"
    }

    fn configure(
        &mut self,
        _key: &str,
        _value: &str,
        _ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        Err(OptionError::Other {
            at: Part::Key,
            message: "the mqtt backend takes no global options (as in MIDIMonster): put host, \
                      user, ... in an [mqtt NAME] section"
                .into(),
        })
    }

    fn create_instance(&mut self, instance: InstanceId, name: &str) -> Result<(), OptionError> {
        self.by_id.insert(instance, self.instances.len());
        self.instances.push(Instance {
            id: instance,
            name: name.to_string(),
            opts: InstanceOptions::default(),
            topics: Topics::default(),
            counters: InstanceCounters::default(),
            session: None,
        });
        Ok(())
    }

    fn configure_instance(
        &mut self,
        instance: InstanceId,
        key: &str,
        value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        let Some(i) = self.index_of(instance) else {
            return Err(OptionError::Other {
                at: Part::Key,
                message: "not an mqtt instance".into(),
            });
        };
        let inst = &mut self.instances[i];
        let line = options::apply(&mut inst.opts, key, value, ctx.base_dir, &mut |at, w| {
            ctx.warnings.push((at, w))
        })?;
        if line == Line::Option {
            return Ok(());
        }
        inst.topics.configure(key, value).map_err(|e| match e {
            ConfigureError::Topic(message) => OptionError::Other {
                at: Part::Key,
                message: format!(
                    "{message} (an instance line is an option, {}, or TOPIC = range MIN MAX, or TOPIC = discrete [!]MIN [!]MAX TEXT)",
                    INSTANCE_OPTIONS.join(", ")
                ),
            },
            ConfigureError::Mapping(MappingError::UnknownKind) => OptionError::Other {
                at: Part::Key,
                message: format!(
                    "'{key}' is no option ({}) and '{value}' no topic setting: expected TOPIC = range MIN MAX or TOPIC = discrete [!]MIN [!]MAX TEXT",
                    INSTANCE_OPTIONS.join(", ")
                ),
            },
            ConfigureError::Mapping(e) => OptionError::Other {
                at: Part::Value,
                message: format!("topic '{key}' = '{value}': {e}"),
            },
        })
    }

    fn channel(
        &mut self,
        instance: InstanceId,
        name: &str,
        direction: Direction,
        ctx: &mut ChannelCtx<'_>,
    ) -> Result<ChannelId, ChannelError> {
        let Some(i) = self.index_of(instance) else {
            return Err(ChannelError {
                message: format!("channel '{name}': not an mqtt instance"),
            });
        };
        self.instances[i]
            .topics
            .channel(instance, name, direction, ctx.ids)
    }

    fn validate(&self) -> Vec<StartError> {
        let mut problems = Vec::new();
        for inst in &self.instances {
            match &inst.opts.broker {
                None => problems.push(
                    StartError::instance(
                        inst.id,
                        format!(
                            "instance '{}' has no broker: set host = mqtt://HOST[:PORT] (mqtts:// for TLS)",
                            inst.name
                        ),
                    )
                    .about("host"),
                ),
                Some(b) if !b.tls && inst.opts.ca_file.is_some() => problems.push(
                    StartError::instance(
                        inst.id,
                        format!(
                            "instance '{}': cafile is set but the host is not mqtts://, so the connection would not be encrypted: write host = mqtts://{}:{}",
                            inst.name, b.host, b.port
                        ),
                    )
                    .about("cafile"),
                ),
                Some(_) => {}
            }
        }
        problems
    }

    fn start(&mut self, now: Instant, io: &mut Io<'_>) -> Result<(), StartError> {
        self.buf = vec![0; READ_BUF];
        self.open(now, io)?;
        self.refresh_deadline(now);
        Ok(())
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    fn process(
        &mut self,
        now: Instant,
        ready: &[Ready],
        io: &mut Io<'_>,
        sink: &mut Sink<'_>,
    ) -> Result<(), FatalError> {
        let Mqtt {
            instances,
            resolver,
            buf,
            ..
        } = self;
        let resolver = resolver.as_ref();
        for r in ready {
            if r.tag == WAKER_TAG {
                while let Some(a) = resolver.and_then(Resolver::answer) {
                    let Some(inst) = instances.get_mut(a.instance) else {
                        continue;
                    };
                    let Instance {
                        name,
                        topics,
                        counters,
                        session,
                        ..
                    } = inst;
                    if let Some(s) = session.as_mut() {
                        let mut cx = Cx {
                            name,
                            topics,
                            k: counters,
                            sink: Some(&mut *sink),
                            resolver,
                            buf,
                        };
                        s.on_resolved(now, io, a, &mut cx);
                    }
                }
                continue;
            }
            let group = usize::from(SocketTag::from_tag(r.tag).group);
            let Some(inst) = instances.get_mut(group) else {
                continue;
            };
            let Instance {
                name,
                topics,
                counters,
                session,
                ..
            } = inst;
            if let Some(s) = session.as_mut().filter(|s| s.owns(r.tag)) {
                let mut cx = Cx {
                    name,
                    topics,
                    k: counters,
                    sink: Some(&mut *sink),
                    resolver,
                    buf,
                };
                s.on_ready(now, io, r, &mut cx);
            }
        }
        for inst in instances.iter_mut() {
            let Instance {
                name,
                topics,
                counters,
                session,
                ..
            } = inst;
            if let Some(s) = session.as_mut() {
                let mut cx = Cx {
                    name,
                    topics,
                    k: counters,
                    sink: Some(&mut *sink),
                    resolver,
                    buf,
                };
                s.tick(now, io, &mut cx);
            }
        }
        self.refresh_deadline(now);
        Ok(())
    }

    fn handle(
        &mut self,
        now: Instant,
        instance: InstanceId,
        deliveries: &[Delivery],
        _sink: &mut Sink<'_>,
    ) {
        let Some(i) = self.index_of(instance) else {
            return;
        };
        let Instance {
            name,
            topics,
            counters,
            session,
            ..
        } = &mut self.instances[i];
        let Some(s) = session.as_mut() else { return };
        for d in deliveries {
            s.publish(now, topics, d.key, d.value, name, counters);
        }
    }

    fn flush(&mut self, now: Instant, io: &mut Io<'_>) {
        let Mqtt {
            instances,
            resolver,
            buf,
            ..
        } = self;
        let resolver = resolver.as_ref();
        for inst in instances.iter_mut() {
            let Instance {
                name,
                topics,
                counters,
                session,
                ..
            } = inst;
            if let Some(s) = session.as_mut() {
                let mut cx = Cx {
                    name,
                    topics,
                    k: counters,
                    sink: None,
                    resolver,
                    buf,
                };
                s.flush(now, io, &mut cx);
            }
        }
        self.refresh_deadline(now);
    }

    fn shutdown(&mut self, now: Instant, io: &mut Io<'_>) {
        if std::mem::replace(&mut self.shutting_down, true) {
            return;
        }
        let Mqtt { instances, buf, .. } = self;
        for inst in instances.iter_mut() {
            let Instance {
                name,
                topics,
                counters,
                session,
                ..
            } = inst;
            if let Some(s) = session.as_mut() {
                let mut cx = Cx {
                    name,
                    topics,
                    k: counters,
                    sink: None,
                    resolver: None,
                    buf,
                };
                s.shutdown(now, io, &mut cx);
                let k = &*counters;
                tracing::debug!(target: "mqtt",
                    "instance '{name}': {} message(s) in, {} event(s), {} value(s) out, {} reconnect(s), {} dropped",
                    k.messages_in, k.events_in, k.messages_out, k.reconnects, k.dropped_total(s.client.stats()));
            }
        }
        // Ends the resolver thread once its look-up (if any) is done; it is not waited for.
        self.resolver = None;
        self.refresh_deadline(now);
    }

    fn shutdown_complete(&self) -> bool {
        self.instances
            .iter()
            .all(|i| i.session.as_ref().is_none_or(Session::is_idle))
    }

    fn stats(&self, out: &mut Vec<Stat>) {
        for inst in &self.instances {
            let client = inst
                .session
                .as_ref()
                .map(|s| (s.client.stats(), s.client.in_flight()));
            let state = inst
                .session
                .as_ref()
                .map_or(LinkState::Waiting, |s| s.state);
            inst.counters.stats(inst.id, client, state, out);
        }
    }
}

#[cfg(test)]
mod tests;
