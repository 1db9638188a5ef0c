//! Batch receive (`recvmmsg`): many datagrams per system call, into storage allocated once.
//!
//! sACN traffic is many small datagrams (44 Hz per universe, 638 bytes each). Measured on `lo` in a
//! namespace (`benches/recv.rs`, 64 datagrams of 638 bytes per iteration): receiving costs about
//! 1.29 µs per datagram with `recv` and 1.17 µs with `recv_batch` (32 per call), next to about 2.3 µs
//! to send one. A modest gain; it matters only far above show-traffic rates.

use std::io::IoSliceMut;
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};

use crate::error::RecvError;
use crate::recv::{CmsgBuf, RecvMeta, meta_of};

/// Storage for up to `N` datagrams of up to `SIZE` bytes each, reused for every call of
/// [`crate::UdpEndpoint::recv_batch`].
pub struct RecvBatch<const N: usize, const SIZE: usize> {
    bufs: Box<[[u8; SIZE]; N]>,
    metas: [RecvMeta; N],
    len: usize,
    headers: MultiHeaders<SockaddrStorage>,
    /// Linux writes each slot's used `msg_controllen`/`msg_namelen` back, and nix reuses them, so a
    /// slot that last held an IPv4 datagram is too small for IPv6 info: headers are remade when the
    /// socket family changes.
    v6: Option<bool>,
    /// The same write-back shrinks a slot's control space to what its last datagram carried, so
    /// when a socket starts to report `SO_RXQ_OVFL` (its first kernel drop), every slot is too
    /// small and the kernel truncates the control data (`MSG_CTRUNC`); nix then yields none of
    /// it, packet info and timestamp included (nix-rust/nix#2813). Headers are remade after such
    /// a read: one batch loses its metadata when a socket first drops, and the allocation
    /// happens once per socket family and kind of control data, not per datagram.
    truncated: bool,
}

/// `N` zeroed datagram buffers on the heap (built through a `Vec`, so a large batch never sits
/// on the stack), shared by the receive and send batches.
pub(crate) fn boxed_buffers<const N: usize, const SIZE: usize>() -> Box<[[u8; SIZE]; N]> {
    match vec![[0u8; SIZE]; N].into_boxed_slice().try_into() {
        Ok(b) => b,
        Err(_) => unreachable!("vec has N elements"),
    }
}

impl<const N: usize, const SIZE: usize> Default for RecvBatch<N, SIZE> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const SIZE: usize> RecvBatch<N, SIZE> {
    /// Allocates the buffers and headers (once).
    pub fn new() -> Self {
        Self {
            bufs: boxed_buffers(),
            metas: [RecvMeta::EMPTY; N],
            len: 0,
            headers: headers(N),
            v6: None,
            truncated: false,
        }
    }

    /// Datagrams held from the last receive.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Datagram `i` of the last receive: metadata and payload.
    pub fn get(&self, i: usize) -> Option<(&RecvMeta, &[u8])> {
        if i >= self.len {
            return None;
        }
        let meta = self.metas.get(i)?;
        let buf = self.bufs.get(i)?;
        Some((meta, buf.get(..meta.len.min(SIZE)).unwrap_or_default()))
    }

    /// All datagrams of the last receive.
    pub fn iter(&self) -> impl Iterator<Item = (&RecvMeta, &[u8])> {
        (0..self.len).filter_map(|i| self.get(i))
    }

    /// One `recvmmsg` on `fd` appending at most `want` datagrams after those held (and no more
    /// than fit). Returns how many arrived (fewer than asked: the queue ran dry).
    pub(crate) fn fill(&mut self, fd: RawFd, v6: bool, want: usize) -> Result<usize, RecvError> {
        if self.v6 != Some(v6) || self.truncated {
            self.headers = headers(N);
            self.v6 = Some(v6);
            self.truncated = false;
        }
        loop {
            return match self.attempt(fd, want) {
                Ok(n) => Ok(n),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => Ok(0),
                Err(e) => Err(RecvError(e.into())),
            };
        }
    }

    fn attempt(&mut self, fd: RawFd, want: usize) -> Result<usize, Errno> {
        let from = self.len;
        let mut iovs = self
            .bufs
            .each_mut()
            .map(|b| [IoSliceMut::new(b.as_mut_slice())]);
        // Header k receives into buffer `from + k`.
        let msgs = recvmmsg(
            fd,
            &mut self.headers,
            iovs.iter_mut().skip(from).take(want),
            MsgFlags::MSG_DONTWAIT,
            None,
        )?;
        let mut got = 0;
        for (slot, msg) in self.metas.iter_mut().skip(from).zip(msgs) {
            *slot = meta_of(&msg);
            self.truncated |= msg.flags.contains(MsgFlags::MSG_CTRUNC);
            got += 1;
        }
        self.len += got;
        Ok(got)
    }

    pub(crate) fn metas_mut(&mut self) -> &mut [RecvMeta] {
        &mut self.metas[..self.len]
    }

    /// Stores one datagram received some other way into the next slot, returning the slot's buffer.
    pub(crate) fn next_slot(&mut self) -> Option<&mut [u8; SIZE]> {
        self.bufs.get_mut(self.len)
    }

    pub(crate) fn push(&mut self, meta: RecvMeta) {
        if let Some(m) = self.metas.get_mut(self.len) {
            *m = meta;
            self.len += 1;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }
}

fn headers(n: usize) -> MultiHeaders<SockaddrStorage> {
    MultiHeaders::preallocate(n, Some(vec![0u8; std::mem::size_of::<CmsgBuf>()]))
}
