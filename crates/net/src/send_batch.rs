//! Batch send (`sendmmsg`): the packets of one flush leave in one system call.
//!
//! Why: on `lo` (and with any local receiver) every `sendto` wakes the receiving program, which
//! then preempts the sender on the way back to user space: at 30,000 frames/s that context switch
//! was 29 % of patchbay's profile. With `sendmmsg` the wake-up still happens at the first packet,
//! but the preemption waits until the whole batch is queued.

use std::io::IoSlice;
use std::net::{SocketAddr, SocketAddrV4};

use std::os::fd::RawFd;

use crate::batch::boxed_buffers;
use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};

const UNSPECIFIED: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0));

/// Up to `N` datagrams of up to `SIZE` bytes each waiting to be sent by
/// [`crate::UdpEndpoint::send_batch`], with a caller tag each (e.g. the universe, to count per
/// instance what went out). Storage is allocated once.
pub struct SendBatch<const N: usize, const SIZE: usize> {
    bufs: Box<[[u8; SIZE]; N]>,
    lens: [usize; N],
    dsts: [SocketAddr; N],
    tags: [u32; N],
    len: usize,
    headers: MultiHeaders<SockaddrStorage>,
}

impl<const N: usize, const SIZE: usize> Default for SendBatch<N, SIZE> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const SIZE: usize> SendBatch<N, SIZE> {
    /// Allocates the buffers and headers (once).
    pub fn new() -> Self {
        Self {
            bufs: boxed_buffers(),
            lens: [0; N],
            dsts: [UNSPECIFIED; N],
            tags: [0; N],
            len: 0,
            headers: MultiHeaders::preallocate(N, None),
        }
    }

    /// Datagrams waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing waiting.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// No room for another datagram.
    pub fn is_full(&self) -> bool {
        self.len == N
    }

    /// Room for this many more datagrams.
    pub fn free(&self) -> usize {
        N - self.len
    }

    /// The buffer of the next datagram, to build it in place; `None` when full. It becomes part of
    /// the batch only with [`SendBatch::commit`].
    pub fn slot(&mut self) -> Option<&mut [u8; SIZE]> {
        self.bufs.get_mut(self.len)
    }

    /// Adds the datagram built in [`SendBatch::slot`]: its first `len` bytes, to `dst`. Returns
    /// false (and adds nothing) when full.
    pub fn commit(&mut self, len: usize, dst: SocketAddr, tag: u32) -> bool {
        if self.len == N {
            return false;
        }
        self.lens[self.len] = len.min(SIZE);
        self.dsts[self.len] = dst;
        self.tags[self.len] = tag;
        self.len += 1;
        true
    }

    /// Copies `bytes` in as the next datagram; false when full or too long.
    pub fn push(&mut self, bytes: &[u8], dst: SocketAddr, tag: u32) -> bool {
        match self.slot() {
            Some(buf) if bytes.len() <= SIZE => {
                buf[..bytes.len()].copy_from_slice(bytes);
                self.commit(bytes.len(), dst, tag)
            }
            _ => false,
        }
    }

    /// Adds a copy of the last datagram for another destination (a packet that goes to several
    /// receivers, e.g. a group of each address family). Returns false (and adds nothing) when
    /// full or empty.
    pub fn repeat_last(&mut self, dst: SocketAddr, tag: u32) -> bool {
        let Some(last) = self.len.checked_sub(1) else {
            return false;
        };
        if self.len == N {
            return false;
        }
        let len = self.lens[last];
        let (lo, hi) = self.bufs.split_at_mut(self.len);
        hi[0][..len].copy_from_slice(&lo[last][..len]);
        self.commit(len, dst, tag)
    }

    /// Datagram `i`: payload, destination and tag.
    pub fn get(&self, i: usize) -> Option<(&[u8], SocketAddr, u32)> {
        if i >= self.len {
            return None;
        }
        Some((&self.bufs[i][..self.lens[i]], self.dsts[i], self.tags[i]))
    }

    /// Drops the first `n` datagrams (sent, or given up), keeping the rest in order.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        if n == 0 {
            return;
        }
        for i in n..self.len {
            let l = self.lens[i];
            let (lo, hi) = self.bufs.split_at_mut(i);
            lo[i - n][..l].copy_from_slice(&hi[0][..l]);
            self.lens[i - n] = l;
            self.dsts[i - n] = self.dsts[i];
            self.tags[i - n] = self.tags[i];
        }
        self.len -= n;
    }

    /// Forgets everything waiting.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// One `sendmmsg` of datagrams `from..` on `fd` (IPv4 destinations mapped when `v6`), the
    /// arguments built on the stack. Returns how many the kernel took; an error concerns
    /// datagram `from`.
    pub(crate) fn send(&mut self, fd: RawFd, from: usize, v6: bool) -> Result<usize, Errno> {
        let count = self.len.saturating_sub(from);
        if count == 0 {
            return Ok(0);
        }
        let (bufs, lens, dsts) = (&self.bufs, &self.lens, &self.dsts);
        let iovs: [[IoSlice<'_>; 1]; N] = std::array::from_fn(|k| {
            let i = (from + k).min(N - 1);
            let len = if k < count { lens[i] } else { 0 };
            [IoSlice::new(&bufs[i][..len])]
        });
        let addrs: [Option<SockaddrStorage>; N] = std::array::from_fn(|k| {
            (k < count).then(|| {
                let dst = dsts[from + k];
                SockaddrStorage::from(match (v6, dst) {
                    (true, SocketAddr::V4(d)) => SocketAddr::V6(std::net::SocketAddrV6::new(
                        d.ip().to_ipv6_mapped(),
                        d.port(),
                        0,
                        0,
                    )),
                    _ => dst,
                })
            })
        });
        let no_cmsgs: [ControlMessage<'_>; 0] = [];
        let sent = sendmmsg(
            fd,
            &mut self.headers,
            iovs.iter().take(count),
            &addrs[..count],
            no_cmsgs,
            MsgFlags::MSG_DONTWAIT,
        )?;
        Ok(sent.count())
    }
}
