//! A script file as the lua backend reads it at configuration time (byte order mark, `#` line,
//! compile): a syntax error names a line of the file and a column within that line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = patchbay_backends::lua::script::fuzz_compile(data) {
        panic!("{broken}");
    }
});
