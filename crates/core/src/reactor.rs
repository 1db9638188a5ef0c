//! The mio side of the loop: who registered which source, and what became ready.
//!
//! Backends register any [`mio::event::Source`] with a `u32` tag of their choosing and an
//! [`Interest`] (readable, writable or both); the reactor hands out mio [`Token`]s from a slab
//! and maps them back to (backend, tag), so `process` receives its own tags, each with what
//! happened to the source ([`Ready`]: readable, writable, hung up, errored). mio is
//! edge-triggered: a backend must read a readable source until `WouldBlock` (or write to a
//! writable one until it blocks again), or it will not be told again.
//!
//! Why writable interest is something a backend switches on and off ([`Io::reregister`]): an
//! edge-triggered socket that is watched for writability reports it again after every datagram
//! the kernel frees, i.e. a wake-up per packet sent. A backend watches it only while something
//! waits for room (a full send buffer, a TCP connect in progress) and goes back to readable once
//! it is sent; `EPOLL_CTL_MOD` re-arms the watch and reports a socket that is writable by then
//! at once, so no wake-up is lost in between.
//!
//! Side threads wake the loop through the single [`Waker`] mio allows per `Poll`; every
//! backend that asked for it via [`Io::waker`] then sees its wake tag as readable (spurious
//! wake-ups are possible and harmless: the backend drains a queue that may be empty).
//!
//! Timeouts: mio's epoll wait takes whole milliseconds and rounds up, so a deadline 250 µs
//! away would be met up to 1 ms late (and a rate-limited packet with it). A wait shorter than
//! [`PRECISE_BELOW`] that is not a whole number of milliseconds also arms a one-shot timerfd
//! registered with the same poll, which wakes it at the exact deadline; longer waits keep
//! mio's rounding (1 ms on 100 ms does not matter, and it saves two system calls per wait).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use mio::event::Event;
use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::os::fd::{AsFd, AsRawFd};

/// Token of the shared waker.
const WAKER: Token = Token(0);
/// Token of the signal pipe.
const SIGNALS: Token = Token(1);
/// Token of the sub-millisecond timer.
const TIMER: Token = Token(2);
/// First token handed to backends.
const FIRST: usize = 3;

/// Waits shorter than this with a sub-millisecond remainder are timed by the timerfd.
pub const PRECISE_BELOW: Duration = Duration::from_millis(100);

/// A one-shot timerfd on the monotonic clock (the clock `Instant` reads).
struct Timer {
    fd: TimerFd,
    /// Set and not yet seen to expire, so a wait that does not need it must disarm it.
    armed: bool,
}

impl Timer {
    fn new(registry: &Registry) -> io::Result<Timer> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        registry.register(
            &mut SourceFd(&fd.as_fd().as_raw_fd()),
            TIMER,
            Interest::READABLE,
        )?;
        Ok(Timer { fd, armed: false })
    }

    /// Arms the timer for `timeout` from now, or disarms it. Re-arming resets the expiration
    /// count, and every expiration wakes the (edge-triggered) poll anew, so it is never read.
    fn set(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        match timeout {
            Some(t) => {
                self.fd.set(
                    Expiration::OneShot(TimeSpec::from_duration(t)),
                    TimerSetTimeFlags::empty(),
                )?;
                self.armed = true;
            }
            None if self.armed => {
                self.fd.unset()?;
                self.armed = false;
            }
            None => {}
        }
        Ok(())
    }
}

/// Whether mio's millisecond rounding would make a wait of `t` noticeably late.
fn needs_timer(t: Duration) -> bool {
    !t.is_zero() && t < PRECISE_BELOW && !t.subsec_nanos().is_multiple_of(1_000_000)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Owner {
    backend: usize,
    tag: u32,
}

/// What happened to one of a backend's sources (or its waker) since the last wait, as handed to
/// [`Backend::process`](crate::Backend::process). Several flags can be set at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// The tag the source was registered with ([`Io::register`], [`Io::waker`]).
    pub tag: u32,
    /// Data (or a connection to accept) can be read. Also set when a side thread woke the
    /// loop through [`Io::waker`].
    pub readable: bool,
    /// Room to write: a full send buffer drained, or a non-blocking connect finished (check
    /// its result, e.g. with `take_error`). Only reported while watched for
    /// [`Interest::WRITABLE`].
    pub writable: bool,
    /// The peer hung up: a stream's read side reached its end (reads return 0 once the data
    /// queued before is read) or both directions are closed (`EPOLLHUP`, `EPOLLRDHUP`).
    pub hangup: bool,
    /// The source has a pending error (`EPOLLERR`): the next read or write returns it, or
    /// `take_error` does.
    pub error: bool,
}

impl Ready {
    /// Whether a read makes progress now: data, end of stream, or an error the read returns.
    /// What a backend that only reads checks before draining a source.
    pub fn should_read(&self) -> bool {
        self.readable || self.hangup || self.error
    }

    fn of(tag: u32, event: &Event) -> Ready {
        Ready {
            tag,
            readable: event.is_readable(),
            writable: event.is_writable(),
            hangup: event.is_read_closed() || event.is_write_closed(),
            error: event.is_error(),
        }
    }
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
pub(crate) struct Wakeup {
    /// The shared waker fired (shutdown requests use it too).
    pub woken: bool,
    /// The signal pipe is readable.
    pub signals: bool,
}

/// Owns the mio `Poll` and the per-backend ready lists.
pub(crate) struct Reactor {
    poll: Poll,
    events: Events,
    regs: Registrations,
    /// What became ready per backend at the last wait.
    ready: Vec<Vec<Ready>>,
    /// `None` where timerfd is unavailable: waits are then rounded up to milliseconds.
    timer: Option<Timer>,
}

impl Reactor {
    /// A reactor for `backends` backends (indices `0..backends`).
    pub fn new(backends: usize) -> io::Result<Self> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let timer = Timer::new(poll.registry())
            .inspect_err(|e| {
                tracing::warn!(target: "core", "no timerfd ({e}): timers wake up to 1 ms late");
            })
            .ok();
        Ok(Reactor {
            timer,
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

    /// Forgets every registration of `backend`, whose sources were closed (a reload dropped
    /// the object that held them), so that its successor can register the same tags; stale
    /// readiness of the last wait goes too.
    pub(crate) fn forget(&mut self, backend: usize) {
        for (i, slot) in self.regs.slots.iter_mut().enumerate() {
            if slot.is_some_and(|o| o.backend == backend) {
                *slot = None;
                self.regs.free.push(i);
            }
        }
        self.regs.waker_subscribers.retain(|o| o.backend != backend);
        if let Some(r) = self.ready.get_mut(backend) {
            r.clear();
        }
    }

    /// The loop's waker (also used for shutdown requests from other threads).
    pub fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.regs.waker)
    }

    /// What of `backend`'s sources was ready at the last wait.
    #[cfg(test)]
    pub fn ready(&self, backend: usize) -> &[Ready] {
        self.ready.get(backend).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Split borrow for the loop: one backend's readiness and an `Io` for it.
    pub(crate) fn ready_and_io(&mut self, backend: usize) -> (&[Ready], Io<'_>) {
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
    /// An interrupted wait (a signal arrived) counts as an empty wake-up.
    pub fn wait(&mut self, timeout: Option<Duration>) -> io::Result<Wakeup> {
        for r in &mut self.ready {
            r.clear();
        }
        let mut wake = Wakeup::default();
        if let Some(timer) = self.timer.as_mut() {
            // mio's own (rounded-up) timeout stays as a backstop should the timer fail.
            if let Err(e) = timer.set(timeout.filter(|&t| needs_timer(t))) {
                tracing::debug!(target: "core", "timerfd: {e}");
            }
        }
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
                            r.push(Ready {
                                tag: sub.tag,
                                readable: true,
                                ..Ready::default()
                            });
                        }
                    }
                }
                SIGNALS => wake.signals = true,
                TIMER => {
                    if let Some(timer) = self.timer.as_mut() {
                        timer.armed = false;
                    }
                }
                Token(t) => {
                    let owner = t
                        .checked_sub(FIRST)
                        .and_then(|i| self.regs.slots.get(i))
                        .copied()
                        .flatten();
                    if let Some(owner) = owner
                        && let Some(r) = self.ready.get_mut(owner.backend)
                    {
                        r.push(Ready::of(owner.tag, event));
                    }
                }
            }
        }
        Ok(wake)
    }

    /// Number of sources currently registered by backends.
    #[cfg(any(test, feature = "testing"))]
    pub fn registered(&self) -> usize {
        self.regs.slots.iter().filter(|s| s.is_some()).count()
    }
}

/// A backend's handle to the loop's IO registration, valid for the duration of one call.
///
/// Sources are mio [`Source`]s (mio's sockets, pipes, or any file descriptor through
/// [`mio::unix::SourceFd`]); `tag` is the backend's own name for one, handed back in
/// [`Ready::tag`]. A backend keeps its sources and deregisters (or drops) them itself.
pub struct Io<'a> {
    regs: &'a mut Registrations,
    backend: usize,
}

impl Io<'_> {
    /// Wakes the backend (a [`Ready`] with `tag` in `process`'s list) when `source` becomes
    /// ready for `interest` ([`Interest::READABLE`], [`Interest::WRITABLE`] or both, joined
    /// with `|`). Hang-ups and errors are reported whatever the interest. A tag may be used
    /// for one source at a time.
    ///
    /// # Errors
    /// `AlreadyExists` if the backend registered `tag` before, else what `epoll_ctl` says.
    pub fn register<S: Source + ?Sized>(
        &mut self,
        source: &mut S,
        tag: u32,
        interest: Interest,
    ) -> io::Result<()> {
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
            .register(source, Token(FIRST + slot), interest)
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

    /// Changes what `source`, registered before under `tag`, is watched for. Readiness the
    /// source has at this moment is reported at the next wait (the watch is re-armed), so a
    /// backend that switches to [`Interest::WRITABLE`] after a write blocked cannot miss the
    /// buffer draining in between.
    ///
    /// # Errors
    /// `NotFound` if `tag` is not registered by this backend, else what `epoll_ctl` says.
    pub fn reregister<S: Source + ?Sized>(
        &mut self,
        source: &mut S,
        tag: u32,
        interest: Interest,
    ) -> io::Result<()> {
        let owner = Some(Owner {
            backend: self.backend,
            tag,
        });
        let Some(slot) = self.regs.slots.iter().position(|s| *s == owner) else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("tag {tag} is not registered"),
            ));
        };
        self.regs
            .registry
            .reregister(source, Token(FIRST + slot), interest)
    }

    /// Watches a socket that input reads (registered [`Interest::READABLE`] under `tag`) also
    /// for room to write while `waiting`, and for input alone once nothing waits: how a UDP
    /// output that shares its socket with input waits for a full send buffer instead of
    /// polling it.
    ///
    /// # Errors
    /// As [`reregister`](Self::reregister).
    pub fn watch_for_room<S: Source + ?Sized>(
        &mut self,
        source: &mut S,
        tag: u32,
        waiting: bool,
    ) -> io::Result<()> {
        let interest = if waiting {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        self.reregister(source, tag, interest)
    }

    /// Stops watching `source`, registered before under `tag`.
    ///
    /// # Errors
    /// What `epoll_ctl` says (the tag is free again either way).
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

    /// The loop's waker for a side thread; when it is woken, `tag` shows up as readable in this
    /// backend's ready list (for every backend that asked, since mio has one waker per poll, so
    /// a wake-up may be another backend's: drain a queue that may be empty).
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

    fn readable(tag: u32) -> Ready {
        Ready {
            tag,
            readable: true,
            ..Ready::default()
        }
    }

    #[test]
    fn pipe_readiness_reaches_the_owning_backend_with_its_tag() {
        let mut reactor = Reactor::new(2).expect("poll");
        let (mut tx, mut rx) = mio::unix::pipe::new().expect("pipe");
        reactor
            .io(1)
            .register(&mut rx, 42, Interest::READABLE)
            .expect("register");
        assert_eq!(reactor.registered(), 1);
        // Same tag twice is refused.
        let (_tx2, mut rx2) = mio::unix::pipe::new().expect("pipe");
        assert!(
            reactor
                .io(1)
                .register(&mut rx2, 42, Interest::READABLE)
                .is_err()
        );
        tx.write_all(b"x").expect("write");
        reactor.wait(Some(Duration::from_secs(5))).expect("wait");
        assert_eq!(reactor.ready(1), &[readable(42)]);
        assert!(reactor.ready(0).is_empty());
        reactor.io(1).deregister(&mut rx, 42).expect("deregister");
        assert_eq!(reactor.registered(), 0);
        tx.write_all(b"y").expect("write");
        reactor.wait(Some(Duration::from_millis(1))).expect("wait");
        assert!(reactor.ready(1).is_empty());
    }

    /// Fills a pipe until a write would block.
    fn fill(tx: &mut mio::unix::pipe::Sender) -> usize {
        let chunk = [0u8; 4096];
        let mut n = 0;
        loop {
            match tx.write(&chunk) {
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return n,
                Err(e) => panic!("write: {e}"),
            }
        }
    }

    /// A full pipe wakes its writer once the reader made room, and only while the writer
    /// watches for it; switching back to readable-only stops the wake-ups.
    #[test]
    fn writable_interest_reports_room_after_a_full_buffer() {
        use std::io::Read;
        let mut reactor = Reactor::new(1).expect("poll");
        let (mut tx, mut rx) = mio::unix::pipe::new().expect("pipe");
        reactor
            .io(0)
            .register(&mut tx, 7, Interest::READABLE)
            .expect("register");
        assert!(
            reactor
                .io(0)
                .reregister(&mut tx, 8, Interest::WRITABLE)
                .is_err_and(|e| e.kind() == io::ErrorKind::NotFound),
            "tag 8 was never registered"
        );
        let filled = fill(&mut tx);
        assert!(filled > 0);
        reactor
            .io(0)
            .reregister(&mut tx, 7, Interest::WRITABLE)
            .expect("reregister");
        reactor.wait(Some(Duration::from_millis(20))).expect("wait");
        assert!(reactor.ready(0).is_empty(), "still full: not writable");
        // The reader empties the pipe: the writer is told, with its tag.
        let mut buf = vec![0u8; filled];
        let mut read = 0;
        while read < filled {
            read += rx.read(&mut buf[read..]).expect("read");
        }
        reactor.wait(Some(Duration::from_secs(5))).expect("wait");
        assert_eq!(
            reactor.ready(0),
            &[Ready {
                tag: 7,
                writable: true,
                ..Ready::default()
            }]
        );
        // Re-arming with room already there reports it at the next wait.
        reactor
            .io(0)
            .reregister(&mut tx, 7, Interest::WRITABLE | Interest::READABLE)
            .expect("reregister");
        reactor.wait(Some(Duration::from_secs(5))).expect("wait");
        assert!(reactor.ready(0).iter().any(|r| r.tag == 7 && r.writable));
        // Back to readable only: writes no longer wake the writer.
        reactor
            .io(0)
            .reregister(&mut tx, 7, Interest::READABLE)
            .expect("reregister");
        tx.write_all(b"z").expect("write");
        assert_eq!(rx.read(&mut buf).expect("read"), 1);
        reactor.wait(Some(Duration::from_millis(20))).expect("wait");
        assert!(reactor.ready(0).is_empty(), "{:?}", reactor.ready(0));
    }

    /// A writer that goes away is a hang-up for the reader (after its data); a reader that goes
    /// away is an error for the writer.
    #[test]
    fn hangup_and_error_are_reported_whatever_the_interest() {
        let mut reactor = Reactor::new(2).expect("poll");
        let (tx, mut rx) = mio::unix::pipe::new().expect("pipe");
        reactor
            .io(0)
            .register(&mut rx, 1, Interest::READABLE)
            .expect("register");
        drop(tx);
        reactor.wait(Some(Duration::from_secs(5))).expect("wait");
        let r = reactor.ready(0);
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].hangup && r[0].should_read() && !r[0].writable, "{r:?}");

        let (mut tx, rx) = mio::unix::pipe::new().expect("pipe");
        reactor
            .io(1)
            .register(&mut tx, 2, Interest::READABLE)
            .expect("register");
        drop(rx);
        reactor.wait(Some(Duration::from_secs(5))).expect("wait");
        let r = reactor.ready(1);
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].error && r[0].should_read(), "{r:?}");
        assert!(!Ready::default().should_read());
        assert!(
            !Ready {
                writable: true,
                ..Ready::default()
            }
            .should_read()
        );
    }

    /// mio alone would sleep 1 ms for each of these waits; the timerfd ends them on time.
    #[test]
    fn sub_millisecond_waits_end_at_their_deadline() {
        let mut reactor = Reactor::new(1).expect("poll");
        assert!(reactor.timer.is_some(), "timerfd available on Linux");
        let mut waits = Vec::new();
        for _ in 0..20 {
            let start = std::time::Instant::now();
            reactor
                .wait(Some(Duration::from_micros(200)))
                .expect("wait");
            waits.push(start.elapsed());
        }
        waits.sort();
        let median = waits[waits.len() / 2];
        assert!(median >= Duration::from_micros(200), "{median:?}");
        assert!(
            median < Duration::from_micros(900),
            "median wait {median:?}"
        );
        // A timer left armed by an early wake-up is disarmed by the next wait that needs none.
        reactor.timer.as_mut().expect("timer").armed = true;
        reactor.wait(Some(Duration::ZERO)).expect("wait");
        assert!(!reactor.timer.as_ref().expect("timer").armed);
    }

    #[test]
    fn only_short_waits_with_a_sub_millisecond_part_use_the_timer() {
        assert!(needs_timer(Duration::from_micros(250)));
        assert!(needs_timer(Duration::from_micros(22_727)));
        assert!(!needs_timer(Duration::from_millis(5)));
        assert!(!needs_timer(Duration::ZERO));
        assert!(!needs_timer(Duration::from_micros(900_001)));
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
        assert_eq!(reactor.ready(0), &[readable(7)]);
        assert!(reactor.ready(1).is_empty());
        assert_eq!(reactor.ready(2), &[readable(9)]);
    }
}
