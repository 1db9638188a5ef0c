//! Channel values (placeholder; see the core issue).

/// A channel value: normalised 0..1 plus the raw integer and its width when there is one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Value {
    normalised: f64,
}
