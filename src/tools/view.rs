//! The text view of `patchbay sacn watch`: a table of sources, the diagnosis, discovery results
//! and the merged levels of one universe as a grid. Pure: it renders a [`Monitor`] into a string
//! that the caller either redraws in place (terminal) or prints as one block per second (pipe).

use std::fmt::Write;
use std::time::Instant;

use clap::ValueEnum;
use patchbay_sacn::MAX_SLOTS;

use super::monitor::Monitor;

/// How the level grid shows a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum SlotFormat {
    /// 0..255
    #[default]
    Decimal,
    /// 00..FF
    Hex,
    /// 0..100 (FL at full)
    Percent,
}

/// Slots per grid row: fits 80 columns in every format.
const ROW: usize = 16;

/// Formats one slot value in a 3-character cell.
pub fn cell(v: u8, f: SlotFormat) -> String {
    match f {
        SlotFormat::Decimal => format!("{v:>3}"),
        SlotFormat::Hex => format!("{v:02X}"),
        SlotFormat::Percent => {
            if v == 255 {
                " FL".to_string()
            } else {
                format!("{:>3}", (u32::from(v) * 100 + 127) / 255)
            }
        }
    }
}

/// The whole view. `grid`: universe whose levels are shown (default: the first with sources).
pub fn render(
    m: &Monitor,
    now: Instant,
    header: &str,
    grid: Option<u16>,
    format: SlotFormat,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{header}  t={:.1}s", m.elapsed(now));
    let _ = writeln!(
        out,
        "{:>5}  {:<20} {:<36} {:>4} {:>3} {:>5} {:>6} {:>6} {:>4} {:<10} {:>6}",
        "UNIV", "SOURCE", "CID", "PRIO", "PAP", "FPS", "SEQERR", "MISSED", "LOST", "STATE", "LAST"
    );
    if m.sources().is_empty() {
        let _ = writeln!(out, "  (no source seen yet)");
    }
    let mut sources: Vec<_> = m.sources().iter().collect();
    sources.sort_by_key(|s| s.universe);
    for s in sources {
        let name: String = s.name.chars().take(20).collect();
        let _ = writeln!(
            out,
            "{:>5}  {:<20} {:<36} {:>4} {:>3} {:>5.1} {:>6} {:>6} {:>4} {:<10} {:>5.1}s",
            s.universe,
            name,
            s.cid.to_string(),
            s.priority,
            if s.per_address_priority { "yes" } else { "-" },
            s.fps,
            s.sequence_errors,
            s.missed,
            s.losses,
            s.state.as_str(),
            now.saturating_duration_since(s.last_seen).as_secs_f64()
        );
    }
    for u in m.universes() {
        for w in m.universe_report(now, u).warnings {
            let _ = writeln!(out, "! universe {u}: {w}");
        }
    }
    let discovered: Vec<_> = m.receiver().discovery().sources().collect();
    if !discovered.is_empty() {
        let _ = writeln!(out, "Discovery:");
        for d in discovered {
            let list: Vec<String> = d.universes.iter().map(u16::to_string).collect();
            let _ = writeln!(
                out,
                "  {:<20} {}  universes {}",
                d.name,
                d.cid,
                if list.is_empty() {
                    "(none)".to_string()
                } else {
                    list.join(", ")
                }
            );
        }
    }
    let grid = grid.or_else(|| m.sources().first().map(|s| s.universe));
    if let Some(u) = grid
        && let Some(levels) = m.levels(u)
    {
        let _ = writeln!(out, "Universe {u} merged levels ({format:?}):");
        out.push_str(&grid_text(levels, format));
    }
    out
}

/// The levels as rows of [`ROW`] slots, each row labelled with its first slot number (1-based).
/// Rows after the last non-zero one are summarised in one line, so an idle universe stays short.
pub fn grid_text(levels: &[u8; MAX_SLOTS], format: SlotFormat) -> String {
    let mut out = String::new();
    let used = levels
        .iter()
        .rposition(|&v| v != 0)
        .map_or(1, |i| i / ROW + 1);
    for (r, row) in levels.chunks(ROW).take(used).enumerate() {
        let _ = write!(out, "{:>4}:", r * ROW + 1);
        for &v in row {
            out.push(' ');
            out.push_str(&cell(v, format));
        }
        out.push('\n');
    }
    if used * ROW < MAX_SLOTS {
        let _ = writeln!(out, "      (slots {}-{MAX_SLOTS}: 0)", used * ROW + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells() {
        assert_eq!(cell(7, SlotFormat::Decimal), "  7");
        assert_eq!(cell(255, SlotFormat::Hex), "FF");
        assert_eq!(cell(255, SlotFormat::Percent), " FL");
        assert_eq!(cell(128, SlotFormat::Percent), " 50");
        assert_eq!(cell(0, SlotFormat::Percent), "  0");
    }

    #[test]
    fn grid_rows_are_labelled() {
        let mut levels = [0u8; MAX_SLOTS];
        levels[16] = 200;
        let g = grid_text(&levels, SlotFormat::Decimal);
        let lines: Vec<&str> = g.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("  17: 200   0"));
        assert_eq!(lines[2], "      (slots 33-512: 0)");
        levels[511] = 1;
        let g = grid_text(&levels, SlotFormat::Hex);
        assert_eq!(g.lines().count(), 32);
        assert!(g.ends_with(" 497: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01\n"));
    }

    #[test]
    fn view_lists_sources_and_warnings() {
        use patchbay_sacn::{Cid, DataHeader, Options, write_data};
        let t0 = Instant::now();
        let mut m = Monitor::new(t0, &[5]);
        for cid in [1u8, 2] {
            let mut b = [0u8; 1144];
            let h = DataHeader {
                cid: Cid([cid; 16]),
                source_name: "desk",
                priority: 100,
                sync_address: 0,
                sequence: 0,
                options: Options::NONE,
                universe: 5,
                start_code: 0,
            };
            let n = write_data(&mut b, &h, &[42]).unwrap();
            m.handle_datagram(t0, &b[..n]);
        }
        let t1 = t0 + std::time::Duration::from_secs(2);
        m.handle_timeout(t1);
        let text = render(&m, t1, "watch", None, SlotFormat::Decimal);
        assert!(
            text.contains("    5  desk                 01010101-0101-0101-0101-010101010101  100")
        );
        assert!(text.contains("! universe 5: 2 sources at equal priority 100"));
        assert!(text.contains("Universe 5 merged levels (Decimal):\n   1:  42   0"));
    }
}
