//! CPU time, memory, wake-ups and UDP socket drops of a process, read from `/proc`.
//!
//! CPU time comes from each thread's `schedstat` (nanoseconds) rather than `stat` (10 ms ticks):
//! the idle workload measures fractions of a percent over a few seconds.

use std::fs;
use std::path::PathBuf;

/// A sample of a process's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcSample {
    /// CPU time of all live threads, ns.
    pub cpu_ns: u64,
    /// Resident set, kB.
    pub rss_kb: u64,
    /// Peak resident set, kB.
    pub hwm_kb: u64,
    /// Context switches of all live threads (voluntary + involuntary): wake-ups.
    pub switches: u64,
}

/// First field of `/proc/PID/task/TID/schedstat`: time on CPU in ns.
pub fn parse_schedstat(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// utime + stime (fields 14, 15) of `/proc/PID/stat`, in clock ticks. The command name (field 2)
/// may hold spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_stat_ticks(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut f = rest.split_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A `Key:   value kB` (or plain number) line of `/proc/PID/status`.
pub fn parse_status_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn proc_dir(pid: u32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}"))
}

/// Samples process `pid`. `None` once it is gone.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let dir = proc_dir(pid);
    let status = fs::read_to_string(dir.join("status")).ok()?;
    let mut s = ProcSample {
        rss_kb: parse_status_field(&status, "VmRSS").unwrap_or(0),
        hwm_kb: parse_status_field(&status, "VmHWM").unwrap_or(0),
        ..ProcSample::default()
    };
    let mut any = false;
    if let Ok(tasks) = fs::read_dir(dir.join("task")) {
        for t in tasks.flatten() {
            if let Some(ns) = fs::read_to_string(t.path().join("schedstat"))
                .ok()
                .as_deref()
                .and_then(parse_schedstat)
            {
                s.cpu_ns += ns;
                any = true;
            }
            if let Ok(st) = fs::read_to_string(t.path().join("status")) {
                s.switches += parse_status_field(&st, "voluntary_ctxt_switches").unwrap_or(0)
                    + parse_status_field(&st, "nonvoluntary_ctxt_switches").unwrap_or(0);
            }
        }
    }
    if !any {
        // Kernels without schedstat: clock ticks (USER_HZ is 100 on Linux).
        let stat = fs::read_to_string(dir.join("stat")).ok()?;
        s.cpu_ns = parse_stat_ticks(&stat)? * 10_000_000;
    }
    Some(s)
}

/// One socket line of `/proc/net/udp`: (local port, rx queue bytes, inode, drops).
pub fn parse_udp_line(line: &str) -> Option<(u16, u64, u64, u64)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 13 {
        return None;
    }
    let port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
    let rx_queue = u64::from_str_radix(f.get(4)?.split(':').nth(1)?, 16).ok()?;
    let inode = f.get(9)?.parse().ok()?;
    let drops = f.last()?.parse().ok()?;
    Some((port, rx_queue, inode, drops))
}

/// Socket inodes of process `pid` (from its `fd` links `socket:[N]`).
pub fn socket_inodes(pid: u32) -> Vec<u64> {
    let Ok(fds) = fs::read_dir(proc_dir(pid).join("fd")) else {
        return Vec::new();
    };
    fds.flatten()
        .filter_map(|e| {
            let link = fs::read_link(e.path()).ok()?;
            let s = link.to_str()?;
            s.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// UDP sockets of `pid`: sum of rx queue bytes and of kernel drops (receive buffer full), over the
/// IPv4 and IPv6 tables of the process's namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpState {
    /// Sockets found.
    pub sockets: u32,
    /// Bytes waiting in receive queues.
    pub rx_queue: u64,
    /// Datagrams dropped by the kernel for these sockets since they were opened.
    pub drops: u64,
}

/// [`UdpState`] of process `pid`.
pub fn udp_state(pid: u32) -> UdpState {
    let inodes = socket_inodes(pid);
    let mut st = UdpState::default();
    for table in ["net/udp", "net/udp6"] {
        let Ok(text) = fs::read_to_string(proc_dir(pid).join(table)) else {
            continue;
        };
        for (_, q, inode, drops) in text.lines().skip(1).filter_map(parse_udp_line) {
            if inodes.contains(&inode) {
                st.sockets += 1;
                st.rx_queue += q;
                st.drops += drops;
            }
        }
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat() {
        assert_eq!(parse_schedstat("123456789 2000 17\n"), Some(123_456_789));
        assert_eq!(parse_schedstat(""), None);
    }

    #[test]
    fn stat_with_odd_command_name() {
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 37 5 0 0 20 0 1 0 99 1000 50";
        assert_eq!(parse_stat_ticks(line), Some(42));
    }

    #[test]
    fn status_fields() {
        let s = "Name:\tpatchbay\nVmHWM:\t   5120 kB\nVmRSS:\t    4096 kB\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3\n";
        assert_eq!(parse_status_field(s, "VmRSS"), Some(4096));
        assert_eq!(parse_status_field(s, "VmHWM"), Some(5120));
        assert_eq!(parse_status_field(s, "voluntary_ctxt_switches"), Some(12));
        assert_eq!(parse_status_field(s, "nonvoluntary_ctxt_switches"), Some(3));
        assert_eq!(parse_status_field(s, "VmSwap"), None);
    }

    #[test]
    fn udp_line() {
        let l = "  112: 0100007F:15C0 00000000:0000 07 00000000:00000A00 00:00000000 00000000     0        0 98765 2 0000000000000000 17";
        assert_eq!(parse_udp_line(l), Some((5568, 0xa00, 98765, 17)));
        assert_eq!(parse_udp_line("  sl  local_address rem_address"), None);
    }

    #[test]
    fn own_process_is_sampled() {
        let s = sample(std::process::id()).unwrap();
        assert!(
            s.cpu_ns > 0 && s.rss_kb > 0 && s.hwm_kb >= s.rss_kb,
            "{s:?}"
        );
    }
}
