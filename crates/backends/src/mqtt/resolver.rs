//! Host name look-ups on a side thread, so that a slow or dead DNS server never blocks the loop.
//!
//! Why a thread: `getaddrinfo` is the only resolver that reads `/etc/hosts`, `nsswitch.conf`
//! and mDNS the way every other program on the machine does, and it blocks (up to the resolver's
//! timeout times its attempts, 10 s and more when the DNS server is gone). A broker's address is
//! looked up before every connection attempt, not once at start: a broker that moved (DHCP, a
//! cloud broker behind a changing address) is found again, and a name that does not resolve at
//! start (DNS not up yet at boot) is retried with the connection back-off instead of failing
//! the start. Host names that are IP addresses never reach the thread.
//!
//! One thread serves every instance, one request at a time (attempts are seconds apart).
//! Answers come back through a channel and the loop's waker. The thread ends when the backend
//! drops its request channel; it is not joined, because a look-up under way cannot be cancelled
//! and shutting down must not wait for a DNS timeout. It holds nothing but its channels.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

/// A look-up for one connection attempt.
#[derive(Debug)]
pub struct Request {
    /// Index of the instance asking.
    pub instance: usize,
    /// Its attempt number, so a late answer for an abandoned attempt is recognised.
    pub attempt: u32,
    pub host: String,
    pub port: u16,
}

/// What a look-up found: every address in the resolver's order, or why none.
#[derive(Debug)]
pub struct Answer {
    pub instance: usize,
    pub attempt: u32,
    pub result: Result<Vec<SocketAddr>, String>,
}

/// The backend's end of the resolver thread.
#[derive(Debug)]
pub struct Resolver {
    requests: Sender<Request>,
    answers: Receiver<Answer>,
}

impl Resolver {
    /// Starts the thread; `wake` is called after every answer (the loop's waker).
    pub fn spawn(wake: Arc<dyn Fn() + Send + Sync>) -> std::io::Result<Resolver> {
        let (requests, rx) = channel::<Request>();
        let (tx, answers) = channel::<Answer>();
        std::thread::Builder::new()
            .name("mqtt-resolver".into())
            .spawn(move || {
                for r in rx {
                    let result = lookup(&r.host, r.port);
                    let answer = Answer {
                        instance: r.instance,
                        attempt: r.attempt,
                        result,
                    };
                    if tx.send(answer).is_err() {
                        return;
                    }
                    wake();
                }
            })?;
        Ok(Resolver { requests, answers })
    }

    /// Asks for a look-up; `false` if the thread is gone.
    pub fn request(&self, r: Request) -> bool {
        self.requests.send(r).is_ok()
    }

    /// The next answer, if one is in.
    pub fn answer(&self) -> Option<Answer> {
        self.answers.try_recv().ok()
    }
}

/// `getaddrinfo` for a TCP connection to `host:port`.
pub fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    match (host, port).to_socket_addrs() {
        Ok(addrs) => {
            let v: Vec<SocketAddr> = addrs.collect();
            if v.is_empty() {
                Err(format!("host '{host}' has no address"))
            } else {
                Ok(v)
            }
        }
        Err(e) => Err(format!("cannot resolve host '{host}': {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    #[test]
    fn answers_come_back_with_their_attempt_and_a_wake_up() {
        let woken = Arc::new(AtomicUsize::new(0));
        let w = Arc::clone(&woken);
        let r = Resolver::spawn(Arc::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }))
        .expect("thread");
        // IP literals resolve without DNS (no sockets, no network).
        assert!(r.request(Request {
            instance: 2,
            attempt: 7,
            host: "127.0.0.1".into(),
            port: 1883,
        }));
        let end = Instant::now() + Duration::from_secs(10);
        let a = loop {
            if let Some(a) = r.answer() {
                break a;
            }
            assert!(Instant::now() < end, "no answer");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!((a.instance, a.attempt), (2, 7));
        assert_eq!(a.result, Ok(vec![SocketAddr::from(([127, 0, 0, 1], 1883))]));
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        assert!(r.answer().is_none());
    }
}
