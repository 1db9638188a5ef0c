//! MIDI channel names and SysEx templates on arbitrary text: whatever parses must display back
//! to text that parses to the same thing, and templates must read back what they write.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchbay_midi::fuzz::fuzz_grammar(data);
});
