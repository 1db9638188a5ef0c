//! Option values of `[lua NAME]` sections beyond MIDIMonster's (`script`, `default-handler`):
//! the limits.

use patchbay_core::OptionError;

/// Every option an instance takes, in the order error messages list them.
pub const KNOWN: &[&str] = &[
    "script",
    "source",
    "default-handler",
    "memory-limit",
    "instruction-limit",
];

/// Largest `memory-limit` in MiB.
pub const MAX_MEMORY_MIB: u64 = 4096;
/// `instruction-limit` bounds: at least one hook period, at most some minutes of work.
pub const MIN_INSTRUCTIONS: u64 = super::guard::HOOK_EVERY as u64;
pub const MAX_INSTRUCTIONS: u64 = 100_000_000_000;

fn invalid(key: &str, value: &str, expected: &str) -> OptionError {
    OptionError::Invalid {
        key: key.into(),
        value: value.into(),
        expected: expected.into(),
    }
}

/// `memory-limit = MIB` in bytes.
pub fn memory_limit(key: &str, value: &str) -> Result<usize, OptionError> {
    match value.trim().parse::<u64>() {
        Ok(mib @ 1..=MAX_MEMORY_MIB) => usize::try_from(mib << 20)
            .map_err(|_| invalid(key, value, "a size this machine can address")),
        _ => Err(invalid(
            key,
            value,
            &format!("a memory size in MiB, 1..{MAX_MEMORY_MIB} (default 64)"),
        )),
    }
}

/// `instruction-limit = N` (Lua VM instructions per call).
pub fn instruction_limit(key: &str, value: &str) -> Result<u64, OptionError> {
    match value.trim().parse::<u64>() {
        Ok(n @ MIN_INSTRUCTIONS..=MAX_INSTRUCTIONS) => Ok(n),
        _ => Err(invalid(
            key,
            value,
            &format!(
                "a number of Lua instructions per call, {MIN_INSTRUCTIONS}..{MAX_INSTRUCTIONS} \
                 (default 10000000)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_within_their_ranges() {
        assert_eq!(memory_limit("memory-limit", "1"), Ok(1 << 20));
        assert_eq!(memory_limit("memory-limit", " 64 "), Ok(64 << 20));
        for bad in ["0", "4097", "-1", "64M", ""] {
            assert!(memory_limit("memory-limit", bad).is_err(), "{bad}");
        }
        assert_eq!(instruction_limit("instruction-limit", "1000"), Ok(1000));
        for bad in ["999", "1e6", "100000000001"] {
            assert!(
                instruction_limit("instruction-limit", bad).is_err(),
                "{bad}"
            );
        }
    }
}
