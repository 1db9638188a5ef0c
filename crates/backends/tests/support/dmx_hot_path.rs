//! The hot-path check of the DMX backends (sACN, Art-Net): a universe in, wide channels as events
//! and 8-bit slots as a frame route, a universe out; after a warm-up, whole turns of the real loop
//! must not allocate. One check for both, so their figures mean the same.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use patchbay_core::testing::Rig;
use patchbay_core::{Backend, Direction, InstanceId};

use super::counting_alloc::allocations;

/// Maps `input` to `output`: wide channels 1+2 .. 15+16 (events) and 8-bit slots 17..24 (one
/// frame route).
pub fn map_events_and_a_frame<B: Backend + 'static>(
    rig: &mut Rig<B>,
    input: InstanceId,
    output: InstanceId,
) {
    let specs = (1..=8u32)
        .map(|n| format!("{}+{}", 2 * n - 1, 2 * n))
        .chain((17..=24u32).map(|n| n.to_string()));
    for spec in specs {
        let (from, _) = rig.channel(input, &spec, Direction::Input).unwrap();
        let (to, _) = rig.channel(output, &spec, Direction::Output).unwrap();
        rig.map(from, to);
    }
}

/// Starts the rig, warms it up for `warm_up` with `send` (one datagram per turn), checks that
/// output reached `listener` (`is_output` says which datagrams count), then asserts that 100
/// more turns allocate nothing while events and frames flow.
pub fn assert_turns_do_not_allocate<B: Backend + 'static>(
    rig: &mut Rig<B>,
    warm_up: Duration,
    mut send: impl FnMut(),
    listener: &UdpSocket,
    is_output: impl Fn(&[u8]) -> bool,
) {
    rig.start().unwrap();
    assert_eq!(
        rig.frame_routes().len(),
        1,
        "slots 17..24 form one frame route"
    );
    let mut rx = [0u8; 2048];
    let mut sent_out = 0usize;
    let mut cycle = |rig: &mut Rig<B>| -> usize {
        send();
        let before = allocations();
        rig.turn(Duration::from_millis(20)).unwrap();
        allocations() - before
    };
    let end = Instant::now() + warm_up;
    while Instant::now() < end {
        cycle(rig);
        std::thread::sleep(Duration::from_millis(5));
        while let Ok(n) = listener.recv(&mut rx) {
            if is_output(&rx[..n]) {
                sent_out += 1;
            }
        }
    }
    assert!(sent_out > 10, "the path is live ({sent_out} packets out)");
    // The counter itself must see allocations, or the zeros below prove nothing.
    let before = allocations();
    drop(std::hint::black_box(vec![1u8; 10]));
    assert!(allocations() > before);
    let mut total = 0;
    let warm = rig.core().counters();
    for _ in 0..100 {
        total += cycle(rig);
    }
    let c = rig.core().counters();
    assert!(
        c.deliveries - warm.deliveries >= 100 * 8 / 2,
        "events flowed ({c:?})"
    );
    assert!(
        c.frame_copies - warm.frame_copies >= 100 / 2,
        "frames flowed ({c:?})"
    );
    assert_eq!(total, 0, "allocations on the hot path");
}
