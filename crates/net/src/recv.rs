//! `recvmsg` with `IP_PKTINFO` / `IPV6_PKTINFO`: one datagram plus where it was addressed, no allocation.

use std::io::IoSliceMut;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::sys::socket::{ControlMessageOwned, MsgFlags, RecvMsg, SockaddrStorage, recvmsg};

use crate::error::RecvError;

/// How a datagram was addressed, from its destination address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestKind {
    /// To one of this host's addresses. Linux hands it to exactly one matching socket.
    Unicast,
    /// To a multicast group. With `IP_MULTICAST_ALL` off only sockets that joined it on the arrival
    /// interface get it.
    Multicast,
    /// IPv4 limited or subnet broadcast. Every matching socket gets a copy.
    Broadcast,
    /// No packet info arrived: every socket here asks for it, but a batch read can lose a
    /// datagram's control messages ([`crate::RecvBatch`]). Treat it as wanted: a datagram
    /// dropped for it would be lost.
    Unknown,
}

/// One received datagram's metadata; the payload is `buf[..len]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMeta {
    /// Payload bytes stored in the buffer.
    pub len: usize,
    /// The datagram was longer than the buffer and was cut.
    pub truncated: bool,
    /// Sender; IPv4-mapped IPv6 addresses are given as IPv4.
    pub src: SocketAddr,
    /// Destination address of the IP header, when packet info arrived.
    pub dst: Option<IpAddr>,
    /// Arrival interface index (0 if unknown).
    pub ifindex: u32,
    /// Unicast, multicast or broadcast.
    pub kind: DestKind,
    /// Datagrams the kernel dropped on this socket since it was opened because its receive
    /// buffer was full, as of this datagram (`SO_RXQ_OVFL`; `None` until the first drop).
    pub kernel_drops: Option<u32>,
    /// When the kernel queued the datagram (`SO_TIMESTAMPNS`, `CLOCK_REALTIME` since the Unix
    /// epoch): with the time of the read it says how long the datagram waited, i.e. how far
    /// the reader is behind its input.
    pub received: Option<std::time::Duration>,
    /// How long it waited in the kernel ([`RecvMeta::received`] to the time of the read, set by
    /// the [`crate::UdpEndpoint`]): how far the reader is behind its input.
    pub waited: Option<std::time::Duration>,
    /// It waited longer than [`crate::rcvbuf::STALE`] in a queue that stood: the reader is far
    /// behind, and newer input is queued behind it. Set by the [`crate::UdpEndpoint`]; what to do
    /// with it is the protocol's choice (sACN keeps its source alive but skips its levels).
    pub stale: bool,
}

impl RecvMeta {
    /// Nothing known yet: what a read fills in starts from this.
    pub(crate) const EMPTY: RecvMeta = RecvMeta {
        len: 0,
        truncated: false,
        src: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
        dst: None,
        ifindex: 0,
        kind: DestKind::Unknown,
        kernel_drops: None,
        received: None,
        waited: None,
        stale: false,
    };
}

/// Control-message space, aligned for `cmsghdr`. An IPv4 datagram on a dual-stack socket brings both
/// an `IPV6_PKTINFO` (mapped address) and an `IP_PKTINFO`: 40 + 32 bytes on 64-bit Linux, plus 24
/// for `SO_RXQ_OVFL` once the socket has dropped anything, 32 for `SO_TIMESTAMPNS`.
#[repr(C, align(8))]
pub(crate) struct CmsgBuf([u8; 160]);

impl CmsgBuf {
    pub(crate) const fn new() -> Self {
        Self([0; 160])
    }
}

/// One `recvmsg`. `Ok(None)` means the queue is empty (`EAGAIN`); `EINTR` is retried.
pub(crate) fn recv_meta(
    fd: RawFd,
    buf: &mut [u8],
    cmsg: &mut CmsgBuf,
) -> Result<Option<RecvMeta>, RecvError> {
    loop {
        let mut iov = [IoSliceMut::new(buf)];
        let msg =
            match recvmsg::<SockaddrStorage>(fd, &mut iov, Some(&mut cmsg.0), MsgFlags::empty()) {
                Ok(m) => m,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Ok(None),
                Err(e) => return Err(RecvError(e.into())),
            };
        return Ok(Some(meta_of(&msg)));
    }
}

/// Metadata of one received message (from `recvmsg` or one slot of `recvmmsg`).
pub(crate) fn meta_of(msg: &RecvMsg<'_, '_, SockaddrStorage>) -> RecvMeta {
    let mut meta = RecvMeta {
        len: msg.bytes,
        truncated: msg.flags.contains(MsgFlags::MSG_TRUNC),
        src: msg
            .address
            .as_ref()
            .map_or(RecvMeta::EMPTY.src, sockaddr_to_std),
        ..RecvMeta::EMPTY
    };
    // With MSG_CTRUNC nix yields no control data: the metadata then stays unknown (see
    // `RecvBatch` for when that happens).
    if let Ok(cmsgs) = msg.cmsgs() {
        let mut have_v4 = false;
        for c in cmsgs {
            match c {
                // The IPv4 record knows broadcast from unicast; it wins over the mapped IPv6 one.
                ControlMessageOwned::Ipv4PacketInfo(pi) => {
                    have_v4 = true;
                    let dst = Ipv4Addr::from(u32::from_be(pi.ipi_addr.s_addr));
                    let spec = Ipv4Addr::from(u32::from_be(pi.ipi_spec_dst.s_addr));
                    meta.dst = Some(IpAddr::V4(dst));
                    meta.ifindex = u32::try_from(pi.ipi_ifindex).unwrap_or(0);
                    meta.kind = classify_v4(dst, spec);
                }
                ControlMessageOwned::Ipv6PacketInfo(pi) if !have_v4 => {
                    let dst = unmap(IpAddr::V6(Ipv6Addr::from(pi.ipi6_addr.s6_addr)));
                    meta.ifindex = pi.ipi6_ifindex;
                    meta.kind = if dst.is_multicast() {
                        DestKind::Multicast
                    } else {
                        DestKind::Unicast
                    };
                    meta.dst = Some(dst);
                }
                ControlMessageOwned::RxqOvfl(n) => meta.kernel_drops = Some(n),
                ControlMessageOwned::ScmTimestampns(ts) => {
                    meta.received = u64::try_from(ts.tv_sec()).ok().map(|secs| {
                        std::time::Duration::new(secs, u32::try_from(ts.tv_nsec()).unwrap_or(0))
                    });
                }
                _ => {}
            }
        }
    }
    meta
}

/// Linux fills `ipi_spec_dst` with the header destination only for plain local delivery
/// (`fib_compute_spec_dst`: route flags exactly `RTCF_LOCAL`); for broadcast it is the interface
/// address that would answer, which never equals a broadcast destination.
pub(crate) fn classify_v4(dst: Ipv4Addr, spec_dst: Ipv4Addr) -> DestKind {
    if dst.is_multicast() {
        DestKind::Multicast
    } else if dst == spec_dst {
        DestKind::Unicast
    } else {
        DestKind::Broadcast
    }
}

fn sockaddr_to_std(sa: &SockaddrStorage) -> SocketAddr {
    if let Some(v4) = sa.as_sockaddr_in() {
        SocketAddr::V4(SocketAddrV4::new(v4.ip(), v4.port()))
    } else if let Some(v6) = sa.as_sockaddr_in6() {
        let s = SocketAddrV6::new(v6.ip(), v6.port(), v6.flowinfo(), v6.scope_id());
        match s.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, s.port())),
            None => SocketAddr::V6(s),
        }
    } else {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
    }
}

/// IPv4-mapped IPv6 addresses (dual-stack sockets) as plain IPv4.
pub(crate) fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_kinds() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            classify_v4(ip("239.255.0.1"), ip("198.18.0.1")),
            DestKind::Multicast
        );
        assert_eq!(
            classify_v4(ip("198.18.0.1"), ip("198.18.0.1")),
            DestKind::Unicast
        );
        assert_eq!(
            classify_v4(ip("255.255.255.255"), ip("127.0.0.1")),
            DestKind::Broadcast
        );
        assert_eq!(
            classify_v4(ip("198.18.0.255"), ip("198.18.0.1")),
            DestKind::Broadcast
        );
    }

    #[test]
    fn mapped_addresses_become_v4() {
        let m: IpAddr = "::ffff:10.0.0.5".parse().unwrap();
        assert_eq!(unmap(m), "10.0.0.5".parse::<IpAddr>().unwrap());
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(unmap(v6), v6);
    }
}
