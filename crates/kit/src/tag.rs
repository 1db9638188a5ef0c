//! Io tags for backends with groups of sockets.
//!
//! A tag is the backend's own name for a source it registers with `Io::register`; `process`
//! gets it back in `Ready::tag`. A backend with several binds or connections, each with several
//! sockets, packs which group and which socket of it into the tag, so that a ready socket is
//! found by two array indices, not a map.

/// Socket `socket` of group `group` (a bind, a connection, a device), as one `u32` tag: the
/// group in the high 16 bits, the socket in the low.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketTag {
    /// Which bind, connection or device.
    pub group: u16,
    /// Which of its sockets.
    pub socket: u16,
}

impl SocketTag {
    /// Socket `socket` of group `group`.
    pub const fn new(group: u16, socket: u16) -> Self {
        SocketTag { group, socket }
    }

    /// The tag to register with.
    pub const fn tag(self) -> u32 {
        ((self.group as u32) << 16) | self.socket as u32
    }

    /// The group and socket a tag names.
    pub const fn from_tag(tag: u32) -> Self {
        SocketTag {
            group: (tag >> 16) as u16,
            socket: tag as u16,
        }
    }
}

impl From<SocketTag> for u32 {
    fn from(t: SocketTag) -> u32 {
        t.tag()
    }
}

impl From<u32> for SocketTag {
    fn from(tag: u32) -> SocketTag {
        SocketTag::from_tag(tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn groups_and_sockets_stay_apart() {
        assert_eq!(SocketTag::new(1, 0).tag(), 0x1_0000);
        assert_ne!(SocketTag::new(1, 0).tag(), SocketTag::new(0, 1).tag());
        assert_eq!(SocketTag::from_tag(0xFFFF_0002), SocketTag::new(0xFFFF, 2));
    }

    proptest! {
        #[test]
        fn tags_round_trip(group: u16, socket: u16) {
            let t = SocketTag::new(group, socket);
            prop_assert_eq!(SocketTag::from(u32::from(t)), t);
        }
    }
}
