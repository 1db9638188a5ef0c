//! The command line of `patchbay osc`, and the `TYPES VALUES...` words of `osc send` turned into
//! arguments (the same notation as liblo's `oscsend`).

use clap::{Args, Subcommand};
use patchbay_osc::wire::{Arg, Midi, TimeTag};

/// OSC diagnostic tools.
#[derive(Debug, Subcommand)]
pub enum OscCommand {
    /// Send an OSC message (a test sender)
    ///
    /// Sends the message PATH with the arguments TYPES VALUES... to HOST:PORT over UDP (or TCP
    /// with SLIP framing, OSC 1.1, with --tcp), once or --count times at --rate per second.
    /// TYPES has one letter per argument: i (int32), h (int64), f (float32), d (double), s
    /// (string), S (symbol), c (char), b (blob, hex), m (MIDI, 4 bytes hex: port status data1
    /// data2), t (time tag: "now", "immediately" or seconds from now), T F N I (no value).
    /// Without TYPES the message has no arguments (a trigger for patchbay).
    #[command(after_help = "Examples:\n  \
patchbay osc send 127.0.0.1:8000 /1/fader1 f 0.5\n                   a TouchOSC fader at half\n  \
patchbay osc send 10.0.0.50:10023 /xremote\n                   an X32's keep-alive, no arguments\n  \
patchbay osc send 127.0.0.1:8000 /ch/01/mix/fader fs 0.75 text --count 100 --rate 50\n                   \
two arguments, 100 times at 50 per second\n  \
patchbay osc send 127.0.0.1:8000 /go --at 2\n                   in a bundle time-tagged 2 s ahead\n\n\
Exit status:\n  \
0  sent\n  \
1  the socket could not be opened or sending failed\n  \
2  usage error")]
    Send(OscSendArgs),
    /// Print every OSC message received on a UDP port
    ///
    /// Listens on PORT (all addresses) or HOST:PORT and prints one line per message: seconds
    /// since start, sender, address, type tags and arguments. Bundles are shown with their
    /// time tag, their messages indented below. Datagrams that are not valid OSC are shown with
    /// the reason they were rejected (the counter name the osc backend uses). --json prints one
    /// JSON object per message instead.
    #[command(after_help = "Examples:\n  \
patchbay osc watch 9000\n                   what does the patch send to port 9000?\n  \
patchbay osc watch 127.0.0.1:9000 --json --count 10\n                   ten datagrams as JSON lines, for a script\n\n\
Exit status:\n  \
0  after --duration, --count, or when the output was closed\n  \
1  the socket could not be opened\n  \
2  usage error")]
    Watch(OscWatchArgs),
}

/// Arguments of `osc send`.
#[derive(Debug, Args)]
pub struct OscSendArgs {
    /// Where to send: HOST:PORT
    pub target: String,
    /// The OSC address (a pattern is sent as it is)
    pub path: String,
    /// TYPES, then one VALUE per type letter that carries one
    #[arg(allow_negative_numbers = true)]
    pub args: Vec<String>,
    /// How many times to send
    #[arg(long, default_value_t = 1)]
    pub count: u64,
    /// Sends per second with --count
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Wrap the message in a bundle (time tag "immediately")
    #[arg(long)]
    pub bundle: bool,
    /// Wrap the message in a bundle time-tagged this many seconds ahead
    #[arg(long, value_name = "SECONDS")]
    pub at: Option<f64>,
    /// Send over TCP with SLIP framing (OSC 1.1) instead of UDP
    #[arg(long)]
    pub tcp: bool,
    /// Send from this local address (HOST or HOST:PORT)
    #[arg(long)]
    pub bind: Option<String>,
}

/// Arguments of `osc watch`.
#[derive(Debug, Args)]
pub struct OscWatchArgs {
    /// Where to listen: PORT, or HOST:PORT
    pub listen: String,
    /// One JSON object per message
    #[arg(long)]
    pub json: bool,
    /// Stop after this many seconds
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Stop after this many datagrams
    #[arg(long)]
    pub count: Option<u64>,
}

/// One argument to send, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i32),
    Int64(i64),
    Float(f32),
    Double(f64),
    Str(String),
    Symbol(String),
    Char(char),
    Blob(Vec<u8>),
    Midi(Midi),
    Time(TimeTag),
    True,
    False,
    Nil,
    Impulse,
}

impl Value {
    /// The argument for the packet builder.
    pub fn arg(&self) -> Arg<'_> {
        match self {
            Value::Int(v) => Arg::Int(*v),
            Value::Int64(v) => Arg::Int64(*v),
            Value::Float(v) => Arg::Float(*v),
            Value::Double(v) => Arg::Double(*v),
            Value::Str(s) => Arg::Str(s),
            Value::Symbol(s) => Arg::Symbol(s),
            Value::Char(c) => Arg::Char(*c),
            Value::Blob(b) => Arg::Blob(b),
            Value::Midi(m) => Arg::Midi(*m),
            Value::Time(t) => Arg::Time(*t),
            Value::True => Arg::True,
            Value::False => Arg::False,
            Value::Nil => Arg::Nil,
            Value::Impulse => Arg::Impulse,
        }
    }
}

fn hex(word: &str) -> Option<Vec<u8>> {
    let w = word.strip_prefix("0x").unwrap_or(word);
    if !w.len().is_multiple_of(2) || !w.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..w.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&w[i..i + 2], 16).ok())
        .collect()
}

fn time(word: &str) -> Option<TimeTag> {
    if word == "now" || word == "immediately" {
        return Some(TimeTag::IMMEDIATELY);
    }
    let secs: f64 = word
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s >= 0.0)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(TimeTag::from_unix(
        now + std::time::Duration::from_secs_f64(secs),
    ))
}

/// `TYPES VALUES...` (nothing: no arguments).
pub fn parse_values(words: &[String]) -> Result<Vec<Value>, String> {
    let Some((types, mut rest)) = words.split_first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(types.len());
    for (i, t) in types.chars().enumerate() {
        let simple = match t {
            'T' => Some(Value::True),
            'F' => Some(Value::False),
            'N' => Some(Value::Nil),
            'I' => Some(Value::Impulse),
            _ => None,
        };
        if let Some(v) = simple {
            out.push(v);
            continue;
        }
        let Some((word, tail)) = rest.split_first() else {
            return Err(format!(
                "type '{t}' (argument {}) needs a value after the types '{types}'",
                i + 1
            ));
        };
        rest = tail;
        let bad = |what: &str| format!("'{word}' is not {what} (type '{t}', argument {})", i + 1);
        out.push(match t {
            'i' => Value::Int(word.parse().map_err(|_| bad("a 32-bit integer"))?),
            'h' => Value::Int64(word.parse().map_err(|_| bad("a 64-bit integer"))?),
            'f' => Value::Float(word.parse().map_err(|_| bad("a number"))?),
            'd' => Value::Double(word.parse().map_err(|_| bad("a number"))?),
            's' => Value::Str(word.clone()),
            'S' => Value::Symbol(word.clone()),
            'c' => {
                let mut cs = word.chars();
                match (cs.next(), cs.next()) {
                    (Some(c), None) => Value::Char(c),
                    _ => return Err(bad("one character")),
                }
            }
            'b' => Value::Blob(hex(word).ok_or_else(|| bad("hex bytes"))?),
            'm' => match hex(word).as_deref() {
                Some(&[port, status, data1, data2]) => Value::Midi(Midi {
                    port,
                    status,
                    data1,
                    data2,
                }),
                _ => return Err(bad("4 hex bytes (port status data1 data2, e.g. 00b00764)")),
            },
            't' => Value::Time(time(word).ok_or_else(|| bad("now or seconds from now"))?),
            _ => {
                return Err(format!(
                    "'{t}' in '{types}' is not a type: i h f d s S c b m t T F N I"
                ));
            }
        });
    }
    if let Some(extra) = rest.first() {
        return Err(format!(
            "'{extra}' is one value too many for the types '{types}'"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn values_like_oscsend() {
        assert_eq!(parse_values(&[]), Ok(vec![]));
        assert_eq!(
            parse_values(&words("ifTs 3 0.5 hi")),
            Ok(vec![
                Value::Int(3),
                Value::Float(0.5),
                Value::True,
                Value::Str("hi".into())
            ])
        );
        assert_eq!(
            parse_values(&words("m 00b00764")),
            Ok(vec![Value::Midi(Midi {
                port: 0,
                status: 0xb0,
                data1: 7,
                data2: 100
            })])
        );
        assert_eq!(
            parse_values(&words("t now")),
            Ok(vec![Value::Time(TimeTag::IMMEDIATELY)])
        );
        for bad in ["i", "i x", "f 1 2", "q 1", "m 00b007", "c ab", "b 0"] {
            assert!(parse_values(&words(bad)).is_err(), "{bad}");
        }
    }
}
