//! The mio side of the loop: who registered which source, and what became ready.
//!
//! Backends register any [`mio::event::Source`] with a `u32` tag of their choosing; the
//! reactor hands out mio [`Token`]s from a slab and maps them back to (backend, tag), so
//! `process` receives its own tags. mio is edge-triggered: a backend must drain a ready
//! source until `WouldBlock`, or it will not be told again.
//!
//! Side threads wake the loop through the single [`Waker`] mio allows per `Poll`; every
//! backend that asked for it via [`Io::waker`] then sees its wake tag as ready (spurious
//! wake-ups are possible and harmless: the backend drains a queue that may be empty).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use mio::event::Source;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

/// Token of the shared waker.
const WAKER: Token = Token(0);
/// Token of the signal pipe.
const SIGNALS: Token = Token(1);
/// First token handed to backends.
const FIRST: usize = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Owner {
    backend: usize,
    tag: u32,
}

/// Token bookkeeping shared by all [`Io`] handles.
struct Registrations {
    registry: Registry,
    slots: Vec<Option<Owner>>,
    free: Vec<usize>,
    waker: Arc<Waker>,
    waker_subscribers: Vec<Owner>,
}

/// What a wait returned besides backend readiness.
#[derive(Debug, Default)]
pub struct Wakeup {
    /// The shared waker fired (shutdown requests use it too).
    pub woken: bool,
    /// The signal pipe is readable.
    pub signals: bool,
}

/// Owns the mio `Poll` and the per-backend ready lists.
pub struct Reactor {
    poll: Poll,
    events: Events,
    regs: Registrations,
    /// Ready tags per backend of the last wait.
    ready: Vec<Vec<u32>>,
}

impl Reactor {
    /// A reactor for `backends` backends (indices `0..backends`).
    pub fn new(backends: usize) -> io::Result<Self> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Reactor {
            poll,
            events: Events::with_capacity(256),
            regs: Registrations {
                registry,
                slots: Vec::new(),
                free: Vec::new(),
                waker,
                waker_subscribers: Vec::new(),
            },
            ready: (0..backends).map(|_| Vec::new()).collect(),
        })
    }

    /// The registration handle for one backend.
    pub fn io(&mut self, backend: usize) -> Io<'_> {
        Io {
            regs: &mut self.regs,
            backend,
        }
    }

    /// The loop's waker (also used for shutdown requests from other threads).
    pub fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.regs.waker)
    }

    /// Tags of `backend`'s sources that were ready at the last wait.
    pub fn ready(&self, backend: usize) -> &[u32] {
        self.ready.get(backend).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Split borrow for the loop: one backend's ready tags and an `Io` for it.
    pub(crate) fn ready_and_io(&mut self, backend: usize) -> (&[u32], Io<'_>) {
        let ready = self.ready.get(backend).map(Vec::as_slice).unwrap_or(&[]);
        (
            ready,
            Io {
                regs: &mut self.regs,
                backend,
            },
        )
    }

    pub(crate) fn register_signals<S: Source + ?Sized>(
        &mut self,
        signals: &mut S,
    ) -> io::Result<()> {
        self.regs
            .registry
            .register(signals, SIGNALS, Interest::READABLE)
    }

    /// Waits for readiness or `timeout` (`None` = forever) and fills the ready lists.
    /// An interrupted wait (a signal arrived) counts as an empty wake-up. Public so that a
    /// backend's tests can drive it with real sources without a whole [`crate::Core`].
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<Wakeup> {
        for r in &mut self.ready {
            r.clear();
        }
        let mut wake = Wakeup::default();
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(wake),
            Err(e) => return Err(e),
        }
        for event in self.events.iter() {
            match event.token() {
                WAKER => {
                    wake.woken = true;
                    for sub in &self.regs.waker_subscribers {
                        if let Some(r) = self.ready.get_mut(sub.backend) {
                            r.push(sub.tag);
                        }
                    }
                }
                SIGNALS => wake.signals = true,
                Token(t) => {
                    let owner = t
                        .checked_sub(FIRST)
                        .and_then(|i| self.regs.slots.get(i))
                        .copied()
                        .flatten();
                    if let Some(owner) = owner
                        && let Some(r) = self.ready.get_mut(owner.backend)
                    {
                        r.push(owner.tag);
                    }
                }
            }
        }
        Ok(wake)
    }

    /// Number of sources currently registered by backends.
    pub fn registered(&self) -> usize {
        self.regs.slots.iter().filter(|s| s.is_some()).count()
    }
}

/// A backend's handle to the loop's IO registration, valid for the duration of one call.
pub struct Io<'a> {
    regs: &'a mut Registrations,
    backend: usize,
}

impl Io<'_> {
    /// Wakes the backend (its `tag` in `process`'s ready list) when `source` becomes readable.
    /// A tag may be used for one source at a time.
    pub fn register<S: Source + ?Sized>(&mut self, source: &mut S, tag: u32) -> io::Result<()> {
        let owner = Owner {
            backend: self.backend,
            tag,
        };
        if self.regs.slots.contains(&Some(owner)) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("tag {tag} is already registered"),
            ));
        }
        let slot = match self.regs.free.pop() {
            Some(i) => i,
            None => {
                self.regs.slots.push(None);
                self.regs.slots.len() - 1
            }
        };
        match self
            .regs
            .registry
            .register(source, Token(FIRST + slot), Interest::READABLE)
        {
            Ok(()) => {
                self.regs.slots[slot] = Some(owner);
                Ok(())
            }
            Err(e) => {
                self.regs.free.push(slot);
                Err(e)
            }
        }
    }

    /// Stops watching `source`, registered before under `tag`.
    pub fn deregister<S: Source + ?Sized>(&mut self, source: &mut S, tag: u32) -> io::Result<()> {
        let owner = Some(Owner {
            backend: self.backend,
            tag,
        });
        if let Some(i) = self.regs.slots.iter().position(|s| *s == owner) {
            self.regs.slots[i] = None;
            self.regs.free.push(i);
        }
        self.regs.registry.deregister(source)
    }

    /// The loop's waker for a side thread; when it is woken, `tag` shows up in this backend's
    /// ready list (for every backend that asked, since mio has one waker per poll).
    pub fn waker(&mut self, tag: u32) -> Arc<Waker> {
        let owner = Owner {
            backend: self.backend,
            tag,
        };
        if !self.regs.waker_subscribers.contains(&owner) {
            self.regs.waker_subscribers.push(owner);
        }
        Arc::clone(&self.regs.waker)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn pipe_readiness_reaches_the_owning_backend_with_its_tag() {
        let mut reactor = Reactor::new(2).expect("poll");
        let (mut tx, mut rx) = mio::unix::pipe::new().expect("pipe");
        reactor.io(1).register(&mut rx, 42).expect("register");
        assert_eq!(reactor.registered(), 1);
        // Same tag twice is refused.
        let (_tx2, mut rx2) = mio::unix::pipe::new().expect("pipe");
        assert!(reactor.io(1).register(&mut rx2, 42).is_err());
        tx.write_all(b"x").expect("write");
        reactor.wait(Some(Duration::from_secs(5))).expect("wait");
        assert_eq!(reactor.ready(1), &[42]);
        assert!(reactor.ready(0).is_empty());
        reactor.io(1).deregister(&mut rx, 42).expect("deregister");
        assert_eq!(reactor.registered(), 0);
        tx.write_all(b"y").expect("write");
        reactor.wait(Some(Duration::from_millis(1))).expect("wait");
        assert!(reactor.ready(1).is_empty());
    }

    #[test]
    fn waker_reaches_every_subscriber() {
        let mut reactor = Reactor::new(3).expect("poll");
        let w = reactor.io(0).waker(7);
        let _ = reactor.io(2).waker(9);
        std::thread::spawn(move || w.wake())
            .join()
            .expect("thread")
            .expect("wake");
        let wake = reactor.wait(Some(Duration::from_secs(5))).expect("wait");
        assert!(wake.woken);
        assert_eq!(reactor.ready(0), &[7]);
        assert!(reactor.ready(1).is_empty());
        assert_eq!(reactor.ready(2), &[9]);
    }
}
