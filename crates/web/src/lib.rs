//! patchbay's live web monitor (`[backend web]`, `--web`): a page and a JSON API showing
//! instances, sources, universes, channel values, counters, recent warnings and the routing
//! graph of the running daemon, served from inside its own event loop.
//!
//! Pieces: [`options`] (`[backend web]`), [`http`] (request heads with `httparse`, responses),
//! [`route`] (what a request asks for, decided without sockets: tested and fuzzed),
//! [`auth`] (token, user/password, the loopback host check), [`api`] (the JSON documents, from
//! a [`patchbay_core::monitor::CoreView`]), [`server`] (the [`Monitor`]: an
//! [`Observer`](patchbay_core::monitor::Observer) with a listener and bounded clients),
//! [`recent`] (the ring of recent warnings the page lists), [`assets`] (the page, embedded).
//!
//! Why Server-Sent Events and not WebSocket: the monitor only pushes; what a page asks for it
//! asks with a plain request (and picks what the stream carries with query parameters). An
//! event stream is one long HTTP response: no upgrade handshake (SHA-1, base64), no frame
//! parser or masking to get right and fuzz, no further crate; the browser's `EventSource`
//! reconnects by itself after the daemon restarts or dropped a client that fell behind. The
//! HTTP request head is parsed by `httparse` (no allocation, no dependencies, hyper's parser).

pub mod api;
pub mod assets;
pub mod auth;
pub mod http;
pub mod json;
pub mod options;
pub mod recent;
pub mod route;
pub mod server;

pub use options::{Auth, Options};
pub use recent::RecentLog;
pub use server::Monitor;
