//! The mio event loop (placeholder).

use std::marker::PhantomData;

/// Registration of IO sources with the loop.
pub struct Io<'a> {
    _p: PhantomData<&'a ()>,
}

/// Where backends report events.
pub struct Sink<'a> {
    _p: PhantomData<&'a ()>,
}
