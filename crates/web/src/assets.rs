//! The page: one HTML file, a script and a style sheet, embedded in the binary (no build step,
//! nothing fetched from elsewhere, so it works on a show network without internet).

/// `/`: the page.
pub const INDEX: &str = include_str!("../assets/index.html");
/// `/app.js`: everything the page does (fetches, the event stream, rendering).
pub const SCRIPT: &str = include_str!("../assets/app.js");
/// `/app.css`.
pub const STYLE: &str = include_str!("../assets/app.css");
