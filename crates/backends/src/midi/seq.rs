//! The ALSA sequencer as the backend uses it: a small trait, so that everything above it (events
//! ↔ channels, subscriptions, devices that come and go, detect) runs against a fake sequencer in
//! tests on machines without `/dev/snd/seq`. The real one is [`super::alsa_seq`].

use std::io;
use std::os::fd::RawFd;

/// A sequencer address: client and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Addr {
    /// Client number.
    pub client: i32,
    /// Port number.
    pub port: i32,
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.client, self.port)
    }
}

/// A port of another client, as the sequencer lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortInfo {
    /// Its address.
    pub addr: Addr,
    /// Its client's name (`Launchpad Mini`).
    pub client_name: String,
    /// Its name (`Launchpad Mini MIDI 1`).
    pub port_name: String,
    /// Others may read from it (a device's output: our `read`).
    pub readable: bool,
    /// Others may write to it (a device's input: our `write`).
    pub writable: bool,
}

/// What [`Sequencer::read`] got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqEvent {
    /// MIDI bytes for our port `port`, in the caller's buffer (`len` bytes; a long SysEx may
    /// come in several events).
    Midi {
        /// Our port it was sent to.
        port: i32,
        /// Bytes written into the buffer.
        len: usize,
    },
    /// A port appeared.
    PortStart(Addr),
    /// A port went away.
    PortExit(Addr),
    /// A client went away (with all its ports).
    ClientExit(i32),
    /// Anything else (ignored).
    Other,
}

/// The operations of an ALSA sequencer client the backend needs.
pub trait Sequencer {
    /// Our client number.
    fn client_id(&self) -> i32;
    /// Creates a port others can read from and write to (MIDIMonster's virtual port per
    /// instance); returns its number.
    fn create_port(&mut self, name: &str) -> io::Result<i32>;
    /// Every port of every other client.
    fn ports(&self) -> Vec<PortInfo>;
    /// Subscribes our port `port` to what `from` sends.
    fn connect_from(&mut self, port: i32, from: Addr) -> io::Result<()>;
    /// Subscribes `to` to what our port `port` sends.
    fn connect_to(&mut self, port: i32, to: Addr) -> io::Result<()>;
    /// The descriptor that becomes readable when events arrive.
    fn fd(&self) -> RawFd;
    /// The next event, without blocking; `None` when there is none.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<Option<SeqEvent>>;
    /// Queues one whole MIDI message from our port `port` to its subscribers.
    fn write(&mut self, port: i32, bytes: &[u8]) -> io::Result<()>;
    /// Sends what was queued.
    fn flush(&mut self) -> io::Result<()>;
}

/// Opens a sequencer client with a name.
pub type Opener = Box<dyn FnMut(&str) -> io::Result<Box<dyn Sequencer>>>;

/// Which way a device is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// `read`: we subscribe to the device's output.
    Read,
    /// `write`: the device subscribes to our output.
    Write,
}

/// The port a `read`/`write` option means, as MIDIMonster (`snd_seq_parse_address`) and
/// `aconnect` read it:
/// * `CLIENT:PORT` with numbers: exactly that port;
/// * `NAME:PORT`: port PORT of the first client whose name starts with NAME;
/// * `NAME`: the first port that can be used that way, of the first client whose name starts
///   with NAME, else the first port whose name starts with NAME.
///
/// A port that cannot be used that way (a `read` of a port nobody can read from) is not
/// matched. Ports are tried in the order the sequencer lists them (by client, then port).
pub fn resolve(spec: &str, ports: &[PortInfo], way: Way) -> Option<Addr> {
    let usable = |p: &&PortInfo| match way {
        Way::Read => p.readable,
        Way::Write => p.writable,
    };
    if let Some((c, p)) = spec.rsplit_once(':')
        && let Ok(port) = p.parse::<i32>()
    {
        if let Ok(client) = c.parse::<i32>() {
            let addr = Addr { client, port };
            return ports
                .iter()
                .filter(usable)
                .find(|p| p.addr == addr)
                .map(|p| p.addr);
        }
        return ports
            .iter()
            .filter(usable)
            .find(|i| i.addr.port == port && i.client_name.starts_with(c))
            .map(|p| p.addr);
    }
    ports
        .iter()
        .filter(usable)
        .find(|p| p.client_name.starts_with(spec))
        .or_else(|| {
            ports
                .iter()
                .filter(usable)
                .find(|p| p.port_name.starts_with(spec))
        })
        .map(|p| p.addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(client: i32, port: i32, cname: &str, pname: &str, r: bool, w: bool) -> PortInfo {
        PortInfo {
            addr: Addr { client, port },
            client_name: cname.into(),
            port_name: pname.into(),
            readable: r,
            writable: w,
        }
    }

    proptest::proptest! {
        /// Any option text resolves to a listed, usable port or to nothing; never a panic.
        #[test]
        fn any_spec(spec in "\\PC{0,24}") {
            let ports = [port(20, 0, "Dev", "Dev 1", true, false), port(20, 1, "Dev", "Dev 2", false, true)];
            for way in [Way::Read, Way::Write] {
                if let Some(a) = resolve(&spec, &ports, way) {
                    let p = ports.iter().find(|p| p.addr == a).expect("a listed port");
                    let usable = match way {
                        Way::Read => p.readable,
                        Way::Write => p.writable,
                    };
                    proptest::prop_assert!(usable);
                }
            }
        }
    }

    #[test]
    fn addresses_names_and_prefixes() {
        let ports = [
            port(14, 0, "Midi Through", "Midi Through Port-0", true, true),
            port(20, 0, "Launchpad Mini", "Launchpad Mini MIDI 1", true, true),
            port(24, 0, "nanoKONTROL2", "nanoKONTROL2 MIDI 1", true, false),
            port(24, 1, "nanoKONTROL2", "CTRL", false, true),
        ];
        let a = |c, p| Some(Addr { client: c, port: p });
        assert_eq!(resolve("20:0", &ports, Way::Read), a(20, 0));
        assert_eq!(resolve("20:1", &ports, Way::Read), None);
        assert_eq!(resolve("Launchpad", &ports, Way::Write), a(20, 0));
        assert_eq!(resolve("nanoKONTROL2", &ports, Way::Read), a(24, 0));
        assert_eq!(resolve("nanoKONTROL2", &ports, Way::Write), a(24, 1));
        assert_eq!(resolve("nano:1", &ports, Way::Write), a(24, 1));
        assert_eq!(resolve("nano:1", &ports, Way::Read), None);
        assert_eq!(resolve("CTRL", &ports, Way::Write), a(24, 1));
        assert_eq!(resolve("Nope", &ports, Way::Read), None);
        assert_eq!(resolve("24:0", &ports, Way::Write), None, "not writable");
    }
}
