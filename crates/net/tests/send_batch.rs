//! `UdpEndpoint::send_batch` (sendmmsg): order, destinations, partial failure.
#![allow(clippy::unwrap_used)]

mod util;

use std::time::Duration;

use patchbay_net::{RecvBatch, SendBatch, SendError, SocketId};
use util::*;

fn drain(ep: &mut patchbay_net::UdpEndpoint) -> Vec<Vec<u8>> {
    std::thread::sleep(Duration::from_millis(20));
    let mut batch: RecvBatch<16, 64> = RecvBatch::new();
    let mut out = Vec::new();
    while ep.recv_batch(SocketId::Main, &mut batch).unwrap() > 0 {
        out.extend(batch.iter().map(|(_, p)| p.to_vec()));
    }
    out
}

#[test]
fn a_batch_leaves_in_order_to_each_destination() {
    guard();
    let mut a = open("127.0.0.1:0", false);
    let mut b = open("127.0.0.1:0", false);
    let tx = open("127.0.0.1:0", false);
    let mut batch: SendBatch<8, 64> = SendBatch::new();
    for i in 0..6u8 {
        let dst = if i % 2 == 0 {
            a.local_addr()
        } else {
            b.local_addr()
        };
        let slot = batch.slot().unwrap();
        slot[..3].copy_from_slice(&[i, i, i]);
        assert!(batch.commit(3, dst, u32::from(i) + 100));
    }
    assert_eq!(batch.len(), 6);
    assert_eq!(tx.send_batch(&mut batch, 0).unwrap(), 6);
    assert_eq!(batch.get(5).unwrap().2, 105);
    batch.consume(6);
    assert!(batch.is_empty());
    assert_eq!(drain(&mut a), vec![vec![0; 3], vec![2; 3], vec![4; 3]]);
    assert_eq!(drain(&mut b), vec![vec![1; 3], vec![3; 3], vec![5; 3]]);
    assert_eq!(tx.send_batch(&mut batch, 0).unwrap(), 0);
}

#[test]
fn a_refused_datagram_stops_the_call_and_the_rest_can_follow() {
    guard();
    let mut a = open("127.0.0.1:0", false);
    let tx = open("127.0.0.1:0", false);
    let mut batch: SendBatch<8, 64> = SendBatch::new();
    assert!(batch.push(&[1], a.local_addr(), 1));
    // An IPv4 socket cannot send to an IPv6 address.
    assert!(batch.push(&[2], sa("[2001:db8::1]:5568"), 2));
    assert!(batch.push(&[3], a.local_addr(), 3));
    assert_eq!(tx.send_batch(&mut batch, 0).unwrap(), 1);
    match tx.send_batch(&mut batch, 1) {
        Err(SendError::Io { dst, .. }) => assert_eq!(dst, sa("[2001:db8::1]:5568")),
        other => panic!("expected an error for datagram 1, got {other:?}"),
    }
    assert_eq!(tx.send_batch(&mut batch, 2).unwrap(), 1);
    batch.consume(1);
    assert_eq!(batch.get(0).unwrap().0, &[2]);
    assert_eq!(batch.len(), 2);
    assert_eq!(drain(&mut a), vec![vec![1], vec![3]]);
}

#[test]
fn repeat_last_copies_a_datagram_for_another_destination() {
    let mut batch: SendBatch<3, 4> = SendBatch::new();
    let (d1, d2) = (sa("127.0.0.1:1"), sa("127.0.0.1:2"));
    assert!(!batch.repeat_last(d1, 0), "nothing to repeat");
    assert!(batch.push(&[1, 2, 3], d1, 7));
    assert_eq!(batch.free(), 2);
    assert!(batch.repeat_last(d2, 8));
    assert_eq!(batch.get(1).unwrap(), (&[1u8, 2, 3][..], d2, 8));
    assert!(batch.push(&[4], d1, 9));
    assert!(!batch.repeat_last(d2, 9), "full");
    assert_eq!(batch.len(), 3);
}

#[test]
fn full_batch_refuses_more() {
    let mut batch: SendBatch<2, 4> = SendBatch::new();
    let d = sa("127.0.0.1:1");
    assert!(batch.push(&[1], d, 0));
    assert!(batch.push(&[2], d, 0));
    assert!(batch.is_full());
    assert!(!batch.push(&[3], d, 0));
    assert!(batch.slot().is_none());
    assert!(!SendBatch::<2, 4>::new().push(&[0; 5], d, 0));
}
