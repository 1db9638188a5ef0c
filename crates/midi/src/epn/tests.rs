use proptest::prelude::*;

use super::*;

/// Feeds (channel, cc, value) triples; returns what completed, as (name, value).
fn feed(epn: &mut EpnInput, ccs: &[(u8, u8, u8)]) -> Vec<(String, u16)> {
    ccs.iter()
        .filter_map(|&(ch, c, v)| epn.control_change(ch, c, v))
        .map(|(voice, value)| (voice.to_string(), value))
        .collect()
}

fn got(name: &str, value: u16) -> Vec<(String, u16)> {
    vec![(name.to_owned(), value)]
}

#[test]
fn rpn_full_sequence_then_null_deselects() {
    let mut e = EpnInput::new();
    // Pitch bend sensitivity (RPN 0) = 2 semitones, 0 cents.
    assert_eq!(
        feed(&mut e, &[(0, 101, 0), (0, 100, 0), (0, 6, 2), (0, 38, 0)]),
        got("ch0.rpn0", 256)
    );
    // The null RPN deselects: later data entry changes nothing.
    assert!(
        feed(
            &mut e,
            &[(0, 101, 127), (0, 100, 127), (0, 6, 5), (0, 38, 5)]
        )
        .is_empty()
    );
}

#[test]
fn nrpn_number_and_value() {
    let mut e = EpnInput::new();
    // 900 = 7 × 128 + 4; value 1 × 128 + 2.
    assert_eq!(
        feed(&mut e, &[(3, 99, 7), (3, 98, 4), (3, 6, 1), (3, 38, 2)]),
        got("ch3.nrpn900", 130)
    );
    // A new value for the same parameter needs 6 and 38 again, not the number.
    assert_eq!(
        feed(&mut e, &[(3, 6, 127), (3, 38, 127)]),
        got("ch3.nrpn900", 16383)
    );
}

#[test]
fn value_completes_only_on_38_after_6() {
    let mut e = EpnInput::new();
    assert!(feed(&mut e, &[(0, 99, 0), (0, 98, 1), (0, 6, 10)]).is_empty());
    assert_eq!(feed(&mut e, &[(0, 38, 0)]), got("ch0.nrpn1", 1280));
    // A second 38 without a 6: MIDIMonster reports nothing (MSB-only and LSB-only updates
    // are not read).
    assert!(feed(&mut e, &[(0, 38, 1)]).is_empty());
    // 38 before any 6 on a fresh channel: nothing.
    assert!(feed(&mut e, &[(1, 101, 0), (1, 100, 0), (1, 38, 1)]).is_empty());
}

#[test]
fn data_entry_without_a_complete_number_is_ignored() {
    let mut e = EpnInput::new();
    assert!(feed(&mut e, &[(0, 6, 1), (0, 38, 1)]).is_empty());
    assert!(feed(&mut e, &[(0, 101, 0), (0, 6, 1), (0, 38, 1)]).is_empty());
}

#[test]
fn switching_kind_forgets_the_number() {
    let mut e = EpnInput::new();
    // RPN fully selected, then an NRPN MSB: only the NRPN MSB is known now.
    assert!(
        feed(
            &mut e,
            &[(0, 101, 0), (0, 100, 5), (0, 99, 1), (0, 6, 1), (0, 38, 1)]
        )
        .is_empty()
    );
    // With the LSB the NRPN is complete; its LSB is the new one, the MSB kept.
    assert_eq!(
        feed(&mut e, &[(0, 98, 2), (0, 6, 0), (0, 38, 9)]),
        got("ch0.nrpn130", 9)
    );
    // And back to RPN.
    assert!(feed(&mut e, &[(0, 101, 0), (0, 6, 0), (0, 38, 9)]).is_empty());
}

#[test]
fn a_number_cc_between_6_and_38_forgets_the_msb() {
    let mut e = EpnInput::new();
    assert!(
        feed(
            &mut e,
            &[(0, 101, 0), (0, 100, 1), (0, 6, 3), (0, 100, 1), (0, 38, 3)]
        )
        .is_empty()
    );
}

#[test]
fn only_the_pair_127_127_is_the_null_rpn() {
    let mut e = EpnInput::new();
    // MIDIMonster ignores these two (either half 127 deselects there).
    assert_eq!(
        feed(&mut e, &[(0, 101, 0), (0, 100, 127), (0, 6, 0), (0, 38, 1)]),
        got("ch0.rpn127", 1)
    );
    assert_eq!(
        feed(&mut e, &[(0, 101, 127), (0, 100, 0), (0, 6, 0), (0, 38, 2)]),
        got("ch0.rpn16256", 2)
    );
    // The pair deselects, in either order.
    assert!(
        feed(
            &mut e,
            &[(0, 100, 127), (0, 101, 127), (0, 6, 0), (0, 38, 3)]
        )
        .is_empty()
    );
}

#[test]
fn nrpn_127_127_stays_selected_as_in_midimonster() {
    let mut e = EpnInput::new();
    assert_eq!(
        feed(&mut e, &[(0, 99, 127), (0, 98, 127), (0, 6, 0), (0, 38, 1)]),
        got("ch0.nrpn16383", 1)
    );
}

#[test]
fn channels_are_independent() {
    let mut e = EpnInput::new();
    assert!(feed(&mut e, &[(0, 101, 0), (1, 100, 0), (0, 6, 1), (1, 38, 1)]).is_empty());
    assert!(feed(&mut e, &[(1, 101, 0), (0, 100, 0)]).is_empty());
    assert_eq!(feed(&mut e, &[(0, 6, 1), (0, 38, 1)]), got("ch0.rpn0", 129));
    e.reset();
    assert!(feed(&mut e, &[(0, 6, 1), (0, 38, 1)]).is_empty());
}

#[test]
fn other_ccs_pass_untouched() {
    let mut e = EpnInput::new();
    assert!(
        feed(
            &mut e,
            &[
                (0, 101, 0),
                (0, 100, 0),
                (0, 6, 1),
                (0, 7, 100),
                (0, 64, 127)
            ]
        )
        .is_empty()
    );
    // ... and do not disturb the pending value.
    assert_eq!(feed(&mut e, &[(0, 38, 1)]), got("ch0.rpn0", 129));
}

fn sent(channel: u8, nrpn: bool, parameter: u16, value: u16, tx: EpnTx) -> Vec<(u8, u8, u8)> {
    let mut v = Vec::new();
    messages(channel, nrpn, parameter, value, tx, &mut |m| match m {
        Message::ControlChange {
            channel,
            controller,
            value,
        } => v.push((channel, controller, value)),
        m => panic!("{m:?}"),
    });
    v
}

#[test]
fn output_sequences() {
    assert_eq!(
        sent(2, true, 900, 130, EpnTx::Full),
        [
            (2, 99, 7),
            (2, 98, 4),
            (2, 6, 1),
            (2, 38, 2),
            (2, 101, 127),
            (2, 100, 127)
        ]
    );
    assert_eq!(
        sent(0, false, 16383, 16383, EpnTx::Short),
        [(0, 101, 127), (0, 100, 127), (0, 6, 127), (0, 38, 127)]
    );
    assert_eq!(EpnTx::from_option("short"), Some(EpnTx::Short));
    assert_eq!(EpnTx::from_option("full"), Some(EpnTx::Full));
    assert_eq!(EpnTx::from_option("Short"), None);
    assert_eq!(EpnTx::default(), EpnTx::Full);
}

proptest! {
    /// What the output sends, the input reads back exactly once, in both modes; after a full
    /// sequence the parameter is deselected (a stray data entry changes nothing), after a
    /// short one it stays selected (the next 6 + 38 update it).
    #[test]
    fn output_then_input_round_trips(
        channel in 0u8..16, nrpn in any::<bool>(), parameter in 0u16..16384,
        value in 0u16..16384, short in any::<bool>(),
    ) {
        let tx = if short { EpnTx::Short } else { EpnTx::Full };
        let mut e = EpnInput::new();
        let ccs = sent(channel, nrpn, parameter, value, tx);
        let control = if nrpn { Control::Nrpn(parameter) } else { Control::Rpn(parameter) };
        let name = Voice { channel, control }.to_string();
        // RPN 16383 is the null RPN: it deselects by definition (the grammar refuses rpn16383).
        if !nrpn && parameter == 16383 {
            prop_assert!(feed(&mut e, &ccs).is_empty());
            return Ok(());
        }
        prop_assert_eq!(feed(&mut e, &ccs), got(&name, value));
        let stray = feed(&mut e, &[(channel, 6, 1), (channel, 38, 1)]);
        if short {
            prop_assert_eq!(stray, got(&name, 129));
        } else {
            prop_assert!(stray.is_empty());
        }
    }

    #[test]
    fn any_cc_stream_is_safe(ccs in proptest::collection::vec((0u8..16, 0u8..128, 0u8..128), 0..200)) {
        let mut e = EpnInput::new();
        for (voice, value) in ccs.iter().filter_map(|&(ch, c, v)| e.control_change(ch, c, v)) {
            prop_assert!(value <= 16383);
            prop_assert!(matches!(voice.control, Control::Rpn(p) | Control::Nrpn(p) if p <= 16383));
        }
    }
}
