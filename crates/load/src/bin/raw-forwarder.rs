//! `raw-forwarder`: the practical limit of this machine for sACN translation. recvmmsg, add an
//! offset to the universe field (bytes 113..115), sendmmsg; no parsing beyond that. Run it only
//! inside a private network namespace.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::ExitCode;

use clap::Parser;
use patchbay_load::net::{self, BATCH, RxBatch, TxBatch};
use patchbay_load::packet;

/// Minimal sACN universe-shifting forwarder (the reference patchbay is measured against).
#[derive(Parser)]
#[command(name = "raw-forwarder", version)]
struct Cli {
    /// Receive address (unicast mode); multicast mode binds 0.0.0.0:5568
    #[arg(long, default_value = "127.0.0.1:5568")]
    listen: SocketAddrV4,
    /// Added to every universe
    #[arg(long, default_value_t = 1000)]
    offset: u16,
    /// Unicast destination of the output
    #[arg(long, default_value = "127.0.0.1:6000")]
    to: SocketAddrV4,
    /// Join the groups of universes first..first+universes and send to the shifted universe's group
    #[arg(long)]
    multicast: bool,
    /// First input universe (multicast)
    #[arg(long, default_value_t = 1)]
    first: u16,
    /// Number of universes (multicast)
    #[arg(short, long, default_value_t = 1)]
    universes: u16,
    /// Socket buffer bytes (0: kernel default, 208 KiB, which a burst of 1,000 universes
    /// overflows). The default is what an unprivileged daemon may set here (net.core.rmem_max).
    #[arg(long, default_value_t = 4 << 20)]
    buffer: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    patchbay_net::netns::require_private_netns();
    match forward(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("raw-forwarder: {e}");
            ExitCode::FAILURE
        }
    }
}

fn forward(cli: &Cli) -> std::io::Result<()> {
    let sock = if cli.multicast {
        let s = net::udp(
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, patchbay_sacn::PORT),
            true,
            cli.buffer,
        )?;
        net::join_all(&s, (0..cli.universes).map(|i| cli.first.wrapping_add(i)))?;
        s
    } else {
        net::udp(cli.listen, true, cli.buffer)?
    };
    let mut rx = RxBatch::new();
    let mut tx = TxBatch::new();
    let unicast = Some(net::sockaddr(cli.to));
    let mut addrs = [unicast; BATCH];
    loop {
        let n = rx.recv(&sock)?;
        for (i, a) in addrs.iter_mut().enumerate().take(n) {
            let u = packet::shift_universe(rx.get_mut(i), cli.offset);
            if cli.multicast
                && let Some(u) = u
            {
                *a = Some(net::sockaddr(SocketAddrV4::new(
                    net::group(u),
                    patchbay_sacn::PORT,
                )));
            }
        }
        let rx = &rx;
        tx.send(&sock, n, |k| rx.get(k), &addrs[..n]);
    }
}
