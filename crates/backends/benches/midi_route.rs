//! Per-message cost of MIDI input through the core, as the MIDI backends do it on the loop
//! thread: one event's bytes (as a JACK port or the ALSA coder delivers them) → `Message::parse`
//! → the instance's channel table (`MidiChannels::receive`: (N)RPN state, channel lookup, the
//! value) → `Sink` → the core's router → the target's `handle`, which stores the value (as a
//! DMX output does). 128 CCs of MIDI channel 0 are mapped, one target each; messages cycle
//! through them. Run with `cargo bench -p patchbay-backends --features jack --bench midi_route`.

use divan::counter::ItemsCount;
use divan::{Bencher, black_box};
use patchbay_backends::midi_common::{Detect, MidiChannels};
use patchbay_core::testing::{Router, RoutingTable, routing_table, sink};
use patchbay_core::{ChannelCtx, ChannelIds, ChannelRegistry, Event, InstanceId, RoutingBuilder};
use patchbay_midi::{Input, Message};

/// Shows allocations per benched call: the path must show none after warm-up.
#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    divan::main();
}

const BATCH: usize = 64;

fn setup() -> (MidiChannels, RoutingTable) {
    let mut reg = ChannelRegistry::new();
    let mut channels = MidiChannels::new();
    let mut rb = RoutingBuilder::new();
    let mut warnings = Vec::new();
    for cc in 0..128u64 {
        let mut ctx = ChannelCtx {
            ids: &mut reg,
            warnings: &mut warnings,
        };
        let (source, _) = channels
            .resolve(InstanceId(0), 0, &format!("ch0.cc{cc}"), &mut ctx)
            .expect("valid name");
        let target = reg.resolve(InstanceId(1), cc);
        rb.add_edge(source, target);
    }
    (channels, routing_table(&rb, &reg))
}

fn messages() -> Vec<[u8; 3]> {
    (0..BATCH)
        .map(|i| [0xB0, (i * 37 % 128) as u8, (i % 128) as u8])
        .collect()
}

/// One message per call: parse, table, route, store.
#[divan::bench]
fn parse_route_one(bencher: Bencher) {
    let (channels, table) = setup();
    let mut router = Router::new(2);
    let mut input = Input::new();
    let mut events: Vec<Event> = Vec::with_capacity(16);
    let mut out = [0u16; 128];
    let msgs = messages();
    let mut i = 0;
    bencher.bench_local(|| {
        let bytes = black_box(&msgs[i % BATCH]);
        i += 1;
        if let Ok(m) = Message::parse(bytes) {
            let mut s = sink(&mut events);
            channels.receive(0, &mut input, &m, &mut s, Detect::Off, "");
        }
        router.route(&table, &mut events, |_, deliveries, _| {
            for d in deliveries {
                out[(d.key & 127) as usize] = d.value.to_raw(8) as u16;
            }
        });
        black_box(&out);
    });
}

/// 64 messages per call (what one JACK period or one sequencer read brings under load), one
/// routing pass; the counter gives the time per message.
#[divan::bench]
fn parse_route_batch(bencher: Bencher) {
    let (channels, table) = setup();
    let mut router = Router::new(2);
    let mut input = Input::new();
    let mut events: Vec<Event> = Vec::with_capacity(BATCH);
    let mut out = [0u16; 128];
    let msgs = messages();
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        {
            let mut s = sink(&mut events);
            for bytes in black_box(&msgs) {
                if let Ok(m) = Message::parse(bytes) {
                    channels.receive(0, &mut input, &m, &mut s, Detect::Off, "");
                }
            }
        }
        router.route(&table, &mut events, |_, deliveries, _| {
            for d in deliveries {
                out[(d.key & 127) as usize] = d.value.to_raw(8) as u16;
            }
        });
        black_box(&out);
    });
}
