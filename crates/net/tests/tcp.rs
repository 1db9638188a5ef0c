//! TCP through a real mio poll, as a backend would drive it: connect completed by write
//! readiness, both directions, a peer that stops reading against the bounded write buffer,
//! hang-up and refusal reported, a listen conflict naming the holder.
#![allow(clippy::unwrap_used)]

mod util;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use patchbay_net::tcp::{Read, State};
use patchbay_net::{TcpConn, TcpError, TcpListener};
use util::*;

const BOTH: Interest = Interest::READABLE.add(Interest::WRITABLE);

/// Polls until `done` says so (2 s at most); `done` sees each event's token and flags.
fn poll_until(poll: &mut Poll, mut done: impl FnMut(Token, bool, bool) -> bool) -> bool {
    let mut events = Events::with_capacity(16);
    let end = Instant::now() + Duration::from_secs(2);
    while Instant::now() < end {
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .unwrap();
        for e in &events {
            if done(e.token(), e.is_readable(), e.is_writable()) {
                return true;
            }
        }
    }
    false
}

/// Reads what `conn` has until it would block.
fn read_all(conn: &mut TcpConn) -> (Vec<u8>, Read) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf).unwrap() {
            Read::Data(n) => out.extend_from_slice(&buf[..n]),
            other => return (out, other),
        }
    }
}

#[test]
fn connect_by_write_readiness_then_both_directions_then_hang_up() {
    guard();
    let mut poll = Poll::new().unwrap();
    let mut listener = TcpListener::bind(sa("127.0.0.1:0")).unwrap();
    poll.registry()
        .register(listener.source_mut(), Token(0), Interest::READABLE)
        .unwrap();
    let mut client = TcpConn::connect(listener.local_addr(), 1024).unwrap();
    assert_eq!(client.state(), State::Connecting);
    // Sent before the connection is open: kept, and sent once it is.
    client.send(b"hello ").unwrap();
    assert_eq!(client.pending(), 6);
    poll.registry()
        .register(client.source_mut(), Token(1), BOTH)
        .unwrap();
    let mut server = None;
    let mut connected = false;
    assert!(poll_until(&mut poll, |t, _, w| {
        if t == Token(0) {
            server = listener.accept(1024).unwrap();
        }
        if t == Token(1) && w {
            let r = client.on_writable().unwrap();
            connected |= r.connected;
        }
        connected && server.is_some()
    }));
    assert_eq!(client.state(), State::Open);
    assert_eq!(client.pending(), 0);
    let mut server = server.unwrap();
    assert_eq!(server.peer_addr(), client.local_addr().unwrap());
    poll.registry()
        .register(server.source_mut(), Token(2), BOTH)
        .unwrap();
    client.send(b"world").unwrap();
    let mut got = Vec::new();
    assert!(poll_until(&mut poll, |t, r, _| {
        if t == Token(2) && r {
            got.extend(read_all(&mut server).0);
        }
        got.len() == 11
    }));
    assert_eq!(got, b"hello world");
    server.send(b"back").unwrap();
    let mut back = Vec::new();
    assert!(poll_until(&mut poll, |t, r, _| {
        if t == Token(1) && r {
            back.extend(read_all(&mut client).0);
        }
        back.len() == 4
    }));
    assert_eq!(back, b"back");

    // The client hangs up: the server reads the end of the stream, then refuses to send.
    poll.registry().deregister(client.source_mut()).unwrap();
    client.close();
    assert!(matches!(client.send(b"x"), Err(TcpError::Closed { .. })));
    let mut end = None;
    assert!(poll_until(&mut poll, |t, r, _| {
        if t == Token(2) && r {
            end = Some(read_all(&mut server).1);
        }
        end.is_some()
    }));
    assert_eq!(end, Some(Read::Closed));
    assert_eq!(server.state(), State::Closed);
    assert!(matches!(server.send(b"x"), Err(TcpError::Closed { .. })));
}

#[test]
fn refused_connect_is_reported_on_write_readiness() {
    guard();
    // A port nobody listens on: bind and close a listener to find one.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut poll = Poll::new().unwrap();
    let mut c = TcpConn::connect(sa(&format!("127.0.0.1:{port}")), 64).unwrap();
    poll.registry()
        .register(c.source_mut(), Token(1), BOTH)
        .unwrap();
    let mut err = None;
    assert!(poll_until(&mut poll, |_, _, w| {
        if w && let Err(e) = c.on_writable() {
            err = Some(e);
        }
        err.is_some()
    }));
    let err = err.unwrap();
    assert!(matches!(err, TcpError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("refused"), "{err}");
    assert_eq!(c.state(), State::Closed);
}

/// A peer that stops reading fills the socket buffers, then the write buffer, which refuses
/// whole messages instead of cutting one; once the peer reads, write readiness drains it.
#[test]
fn a_peer_that_stops_reading_meets_the_bounded_buffer() {
    guard();
    let mut poll = Poll::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut c = TcpConn::connect(listener.local_addr().unwrap(), 64 << 10).unwrap();
    poll.registry()
        .register(c.source_mut(), Token(1), BOTH)
        .unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    assert!(poll_until(&mut poll, |_, _, w| w && c.on_writable().unwrap().connected));
    let msg = [0x5au8; 1000];
    let mut sent = 0usize;
    let refused = loop {
        match c.send(&msg) {
            Ok(()) => sent += msg.len(),
            Err(e) => break e,
        }
        assert!(sent < 64 << 20, "nothing ever refused");
    };
    let TcpError::BufferFull {
        len,
        pending,
        limit,
        ..
    } = refused
    else {
        panic!("{refused:?}")
    };
    assert_eq!((len, limit), (1000, 64 << 10));
    assert!(pending + len > limit && pending <= limit, "{pending}");
    assert_eq!(
        c.pending(),
        pending,
        "nothing of the refused message was queued"
    );
    assert_eq!(c.state(), State::Open, "a full buffer is no failure");

    // The peer reads everything; write readiness drains the buffer.
    peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut received = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let end = Instant::now() + Duration::from_secs(5);
    let mut events = Events::with_capacity(16);
    while received < sent && Instant::now() < end {
        if let Ok(n) = peer.read(&mut buf) {
            assert!(buf[..n].iter().all(|&b| b == 0x5a));
            received += n;
        }
        poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
        if events.iter().any(|e| e.is_writable()) {
            c.on_writable().unwrap();
        }
    }
    assert_eq!(received, sent, "every accepted byte arrived, in order");
    assert_eq!(c.pending(), 0);
}

/// A reset by the peer (it closes with unread data) is an error value, not a panic, and closes
/// the connection.
#[test]
fn a_reset_is_reported_as_an_error() {
    guard();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut poll = Poll::new().unwrap();
    let mut c = TcpConn::connect(listener.local_addr().unwrap(), 1024).unwrap();
    poll.registry()
        .register(c.source_mut(), Token(1), BOTH)
        .unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    assert!(poll_until(&mut poll, |_, _, w| w && c.on_writable().unwrap().connected));
    c.send(b"unread").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    peer.write_all(b"x").unwrap();
    drop(peer); // unread data: the kernel answers with RST
    let mut outcome = None;
    assert!(poll_until(&mut poll, |_, r, _| {
        if r {
            let mut buf = [0u8; 16];
            loop {
                match c.read(&mut buf) {
                    Ok(Read::Data(_)) => continue,
                    Ok(Read::WouldBlock) => break,
                    other => {
                        outcome = Some(other);
                        break;
                    }
                }
            }
        }
        outcome.is_some()
    }));
    let outcome = outcome.unwrap();
    assert!(matches!(outcome, Err(TcpError::Io { .. })), "{outcome:?}");
    assert!(outcome.unwrap_err().to_string().contains("reset"));
    assert_eq!(c.state(), State::Closed);
}

#[test]
fn a_listen_conflict_names_the_holder() {
    guard();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    // std's listener sets SO_REUSEADDR too; Linux still refuses a second listener.
    let err = TcpListener::bind(addr).err().unwrap();
    assert!(matches!(err, TcpError::Listen { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&format!("cannot listen on {addr}")), "{text}");
    // This process holds it, and the holder lookup leaves out the caller's own sockets.
    assert!(text.contains("no other socket on tcp port"), "{text}");
    drop(TcpStream::connect(addr).unwrap());
}
