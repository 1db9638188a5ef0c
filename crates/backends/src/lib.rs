//! patchbay's protocol backends, one module each, registered in [`registry`].
//!
//! Each backend but loopback is a cargo feature (see this crate's `Cargo.toml`): pure-Rust ones
//! are on by default, ones that link a C library are opt-in. A backend compiled out stays known
//! by name, so a configuration that uses it fails with "not compiled in: rebuild with
//! --features NAME" instead of "no such backend".
//!
//! New backends start from [`loopback`], the template (`doc/backends.md` in the repository is
//! the guide).

mod compiled_out;
#[cfg(feature = "jack")]
pub mod jack;
pub mod loopback;
#[cfg(feature = "lua")]
pub mod lua;
#[cfg(feature = "midi-alsa")]
pub mod midi;
#[cfg(any(feature = "jack", feature = "midi-alsa"))]
pub mod midi_common;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "osc")]
pub mod osc;
#[cfg(feature = "sacn")]
pub mod sacn;

use patchbay_core::Backend;

pub use compiled_out::NotCompiled;

/// Every backend patchbay has, in the order the core calls them each iteration, then a
/// [`NotCompiled`] stand-in for each one this build leaves out ([`COMPILED_OUT`]). This is the
/// one place a backend is registered; names must be unique.
pub fn registry() -> Vec<Box<dyn Backend>> {
    let mut backends: Vec<Box<dyn Backend>> = vec![Box::new(loopback::Loopback::new())];
    #[cfg(feature = "sacn")]
    backends.push(Box::new(sacn::Sacn::new()));
    #[cfg(feature = "jack")]
    backends.push(Box::new(jack::Jack::new()));
    #[cfg(feature = "midi-alsa")]
    backends.push(Box::new(midi::Midi::new()));
    #[cfg(feature = "lua")]
    backends.push(Box::new(lua::LuaBackend::new()));
    #[cfg(feature = "mqtt")]
    backends.push(Box::new(mqtt::Mqtt::new()));
    #[cfg(feature = "osc")]
    backends.push(Box::new(osc::Osc::new()));
    for &(name, feature) in COMPILED_OUT {
        backends.push(Box::new(NotCompiled::new(name, feature)));
    }
    backends
}

/// patchbay's backends that this build leaves out: (name, cargo feature that compiles it in).
pub const COMPILED_OUT: &[(&str, &str)] = &[
    #[cfg(not(feature = "sacn"))]
    ("sacn", "sacn"),
    #[cfg(not(feature = "jack"))]
    ("jack", "jack"),
    #[cfg(not(feature = "midi-alsa"))]
    ("midi", "midi-alsa"),
    #[cfg(not(feature = "lua"))]
    ("lua", "lua"),
    #[cfg(not(feature = "mqtt"))]
    ("mqtt", "mqtt"),
    #[cfg(not(feature = "osc"))]
    ("osc", "osc"),
];

/// MIDIMonster backends patchbay does not have yet, so that a configuration using one gets
/// "not supported yet" instead of "unknown backend". Remove a name when its backend lands in
/// [`registry`].
pub const UNSUPPORTED: &[&str] = &[
    "artnet",
    "atem",
    "evdev",
    "maweb",
    "ola",
    "openpixelcontrol",
    "python",
    "rtpmidi",
    "visca",
    "wininput",
    "winmidi",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn backend_names_are_unique_and_not_listed_as_unsupported() {
        let names: Vec<&str> = registry().iter().map(|b| b.name()).collect();
        let unique: HashSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len());
        assert!(names.contains(&"loopback"));
        assert!(names.contains(&"sacn"), "compiled in or a stand-in");
        assert!(names.contains(&"lua"), "compiled in or a stand-in");
        for n in &names {
            assert!(
                !UNSUPPORTED.contains(n),
                "{n} is registered and listed as unsupported"
            );
        }
        let unsupported: HashSet<&str> = UNSUPPORTED.iter().copied().collect();
        assert_eq!(unsupported.len(), UNSUPPORTED.len());
    }

    /// The stand-ins are exactly the backends whose feature is off.
    #[test]
    fn compiled_out_backends_follow_the_features() {
        let stand_ins: Vec<&str> = COMPILED_OUT.iter().map(|&(n, _)| n).collect();
        assert_eq!(stand_ins.contains(&"sacn"), !cfg!(feature = "sacn"));
        assert_eq!(stand_ins.contains(&"jack"), !cfg!(feature = "jack"));
        assert_eq!(stand_ins.contains(&"midi"), !cfg!(feature = "midi-alsa"));
        assert_eq!(stand_ins.contains(&"lua"), !cfg!(feature = "lua"));
        assert_eq!(stand_ins.contains(&"mqtt"), !cfg!(feature = "mqtt"));
        assert_eq!(stand_ins.contains(&"osc"), !cfg!(feature = "osc"));
    }
}
