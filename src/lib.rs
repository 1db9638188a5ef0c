//! The patchbay daemon as a library: the binary's command line, setup and reports, so
//! benchmarks and tests can drive exactly what `main` runs.

pub mod cli;
pub mod demo;
pub mod logging;
pub mod reload;
pub mod report;
pub mod service;
pub mod setup;
pub mod tools;
pub mod web;
