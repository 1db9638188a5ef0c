//! Sending an instance's changed paths once per turn: one message per changed path, or one
//! bundle per turn (as many as it takes when they do not fit one datagram) with `bundle = on`.
//! What could not be sent because the send buffer was full stays marked and is sent when the
//! socket has room, newest values first of all (a path is sent with its latest values).

use std::net::SocketAddr;

use patchbay_net::{SendBatch, SendError};
use patchbay_osc::value::OutArg;
use patchbay_osc::wire::{BundleWriter, TimeTag, write_message};

use super::counters::InstanceCounters;
use super::link::Link;
use super::paths::Paths;

/// Largest datagram built: an Ethernet frame's UDP payload, so a bundle never fragments.
pub const MAX_DATAGRAM: usize = 1472;
/// Messages sent with one `sendmmsg` (UDP, one message per datagram).
pub const BATCH: usize = 64;

/// The batch messages are built in (allocated once, at start).
pub struct Batch(pub SendBatch<BATCH, MAX_DATAGRAM>);

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Batch({} waiting)", self.0.len())
    }
}

/// What sending stopped at.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// Everything changed went out (or was dropped).
    All,
    /// The send buffer is full; the rest waits for writability.
    Blocked,
}

/// The parts of an instance output needs.
pub struct Output<'a> {
    pub name: &'a str,
    pub paths: &'a mut Paths,
    pub dirty: &'a mut Vec<u32>,
    pub k: &'a mut InstanceCounters,
    pub link: &'a mut Link,
    pub bundle: bool,
    pub batch: &'a mut Batch,
}

fn args(out: &[OutArg]) -> impl Iterator<Item = patchbay_osc::wire::Arg<'_>> + Clone {
    out.iter().map(OutArg::arg)
}

impl Output<'_> {
    fn send(&mut self, bytes: &[u8], dst: SocketAddr) -> Result<(), Sent> {
        match self.link.send(bytes, dst) {
            Ok(()) => {
                self.k.datagrams_out += 1;
                Ok(())
            }
            Err(SendError::WouldBlock) => {
                self.k.send_would_block += 1;
                Err(Sent::Blocked)
            }
            Err(e) => {
                self.k.send_errors += 1;
                tracing::debug!(target: "osc", "instance '{}': {e}", self.name);
                Ok(())
            }
        }
    }

    /// Sends the changed paths to `dst`, with `buf` (at least [`MAX_DATAGRAM`] bytes) to build in.
    pub fn flush(&mut self, dst: SocketAddr, buf: &mut [u8]) -> Sent {
        let buf = &mut buf[..MAX_DATAGRAM];
        let mut done = 0;
        let result = if self.bundle {
            self.flush_bundles(dst, buf, &mut done)
        } else if matches!(self.link, Link::Udp(_)) {
            self.flush_batched(dst, &mut done)
        } else {
            self.flush_messages(dst, buf, &mut done)
        };
        for &p in &self.dirty[..done] {
            self.paths.entries[p as usize].dirty = false;
        }
        self.dirty.drain(..done);
        result
    }

    fn flush_messages(&mut self, dst: SocketAddr, buf: &mut [u8], done: &mut usize) -> Sent {
        while *done < self.dirty.len() {
            let p = self.dirty[*done] as usize;
            let e = &self.paths.entries[p];
            match write_message(buf, &e.address, args(&e.out)) {
                Ok(n) => {
                    if self.send(&buf[..n], dst).is_err() {
                        return Sent::Blocked;
                    }
                    self.k.messages_out += 1;
                }
                Err(_) => self.k.send_errors += 1,
            }
            *done += 1;
        }
        Sent::All
    }

    /// One message per datagram, [`BATCH`] per system call: at 50,000 messages/s one `sendto`
    /// each is most of the cost (every send wakes the receiver, see `patchbay_net::SendBatch`).
    fn flush_batched(&mut self, dst: SocketAddr, done: &mut usize) -> Sent {
        let Link::Udp(ep) = &mut *self.link else {
            return Sent::All;
        };
        let batch = &mut self.batch.0;
        batch.clear();
        while *done < self.dirty.len() {
            // Build as many as fit, from `done` on; `skipped` messages too long for a datagram.
            let mut next = *done;
            while next < self.dirty.len() && !batch.is_full() {
                let e = &self.paths.entries[self.dirty[next] as usize];
                let Some(slot) = batch.slot() else { break };
                match write_message(slot, &e.address, args(&e.out)) {
                    Ok(n) => {
                        batch.commit(n, dst, 0);
                    }
                    Err(_) if batch.is_empty() => {
                        self.k.send_errors += 1;
                        *done += 1;
                    }
                    Err(_) => break,
                }
                next += 1;
            }
            if batch.is_empty() {
                continue;
            }
            let mut from = 0;
            while from < batch.len() {
                match ep.send_batch(batch, from) {
                    Ok(n) => {
                        from += n.max(1);
                        self.k.datagrams_out += n as u64;
                        self.k.messages_out += n as u64;
                    }
                    Err(SendError::WouldBlock) => {
                        self.k.send_would_block += 1;
                        *done += from;
                        batch.clear();
                        return Sent::Blocked;
                    }
                    Err(e) => {
                        self.k.send_errors += 1;
                        tracing::debug!(target: "osc", "instance '{}': {e}", self.name);
                        from += 1;
                    }
                }
            }
            *done += batch.len();
            batch.clear();
        }
        Sent::All
    }

    fn flush_bundles(&mut self, dst: SocketAddr, buf: &mut [u8], done: &mut usize) -> Sent {
        while *done < self.dirty.len() {
            let mut end = *done;
            let n = {
                let Ok(mut w) = BundleWriter::new(buf, TimeTag::IMMEDIATELY) else {
                    return Sent::All;
                };
                while end < self.dirty.len() {
                    let e = &self.paths.entries[self.dirty[end] as usize];
                    if w.message(&e.address, args(&e.out)).is_err() {
                        break;
                    }
                    end += 1;
                }
                w.finish()
            };
            if end == *done {
                // One message larger than a datagram: it cannot be sent.
                self.k.send_errors += 1;
                *done += 1;
                continue;
            }
            if self.send(&buf[..n], dst).is_err() {
                return Sent::Blocked;
            }
            self.k.bundles_out += 1;
            self.k.messages_out += (end - *done) as u64;
            *done = end;
        }
        Sent::All
    }
}
