//! An instance's socket: a UDP endpoint (datagrams, OSC 1.0).

use std::net::SocketAddr;

use patchbay_net::{SendError, SocketId, UdpEndpoint};

/// Where an instance's packets come and go.
pub enum Link {
    /// A UDP socket: bound as configured, or to a free port when only sending.
    Udp(UdpEndpoint),
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Link::Udp(ep) => write!(f, "udp {ep}"),
        }
    }
}

impl Link {
    /// Sends one packet to `dst`.
    pub fn send(&mut self, bytes: &[u8], dst: SocketAddr) -> Result<(), SendError> {
        match self {
            Link::Udp(ep) => ep.send_to(bytes, dst).map(|_| ()),
        }
    }

    /// The UDP socket to register.
    pub fn udp_socket(&mut self) -> Option<&mut mio::net::UdpSocket> {
        match self {
            Link::Udp(ep) => ep.socket_mut(SocketId::Main),
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        match self {
            Link::Udp(ep) => ep.local_addr(),
        }
    }
}
