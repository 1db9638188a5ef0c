//! patchbay's protocol backends, one module each, registered in [`registry`].

pub mod loopback;
pub mod sacn;

use patchbay_core::Backend;

/// Every backend patchbay has, in the order the core calls them each iteration. This is the
/// one place a backend is registered; names must be unique.
pub fn registry() -> Vec<Box<dyn Backend>> {
    vec![
        Box::new(loopback::Loopback::new()),
        Box::new(sacn::Sacn::new()),
    ]
}

/// MIDIMonster backends patchbay does not have yet, so that a configuration using one gets
/// "not supported yet" instead of "unknown backend". Remove a name when its backend lands in
/// [`registry`].
pub const UNSUPPORTED: &[&str] = &[
    "artnet",
    "atem",
    "evdev",
    "jack",
    "lua",
    "maweb",
    "midi",
    "mqtt",
    "ola",
    "openpixelcontrol",
    "osc",
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
        assert!(names.contains(&"sacn"));
        for n in &names {
            assert!(
                !UNSUPPORTED.contains(n),
                "{n} is registered and listed as unsupported"
            );
        }
        let unsupported: HashSet<&str> = UNSUPPORTED.iter().copied().collect();
        assert_eq!(unsupported.len(), UNSUPPORTED.len());
    }
}
