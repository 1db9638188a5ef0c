//! Opening and closing JACK clients, on a side thread: `jack_client_open` talks to the server
//! and `jack_client_close` may wait for it, so neither runs on the loop. The loop sends
//! [`Command`]s and gets [`Report`]s back through a channel and its waker.

use std::ffi::{CString, c_char, c_int};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;

use jack::{AsyncClient, AudioIn, AudioOut, Client, ClientOptions, MidiIn, MidiOut};
use patchbay_core::Waker;
use rtrb::{Consumer, Producer, RingBuffer};

use super::options::PortKind;
use super::rt::{Notify, Process, RING_BYTES, RtPort, Shared};

/// A running client.
pub type Active = AsyncClient<Notify, Process>;

/// What the loop asks of the side thread.
pub enum Command {
    /// Open, register the ports, activate.
    Open(OpenRequest),
    /// Deactivate and close.
    Close(Box<Active>),
    /// End the thread (after the commands before it).
    Stop,
}

/// One instance's client.
pub struct OpenRequest {
    /// The instance's index in the backend.
    pub instance: usize,
    /// JACK client name.
    pub client_name: String,
    /// JACK server name; `None` for the default server.
    pub server: Option<String>,
    /// Port names and kinds, in order.
    pub ports: Vec<(String, PortKind)>,
    /// Initial sample of each CV output (by port index): the last value, re-sent.
    pub cv_out: Vec<f32>,
}

/// The loop's end of one port.
pub enum LoopEnd {
    /// Incoming events.
    MidiIn(Consumer<u8>),
    /// Outgoing events.
    MidiOut(Producer<u8>),
    /// A CV port (its value is in [`Shared`]).
    Cv,
}

/// A client that is running.
pub struct Opened {
    /// The instance's index in the backend.
    pub instance: usize,
    /// The client; dropping it closes it, so it goes back to the thread with
    /// [`Command::Close`].
    pub client: Box<Active>,
    /// Per port, in order.
    pub ends: Vec<LoopEnd>,
    /// Shared with the callbacks.
    pub shared: Arc<Shared>,
    /// The name JACK gave the client.
    pub name: String,
    /// Frames per period.
    pub period: u32,
    /// Frames per second.
    pub sample_rate: u32,
}

/// What the side thread tells the loop.
pub enum Report {
    /// A client is running.
    Opened(Box<Opened>),
    /// A client could not be opened.
    Failed {
        /// The instance's index in the backend.
        instance: usize,
        /// Why.
        error: String,
    },
    /// The thread ended ([`Command::Stop`]).
    Stopped,
}

/// The side thread and its channels.
pub struct Worker {
    commands: Sender<Command>,
    reports: Receiver<Report>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the thread.
    pub fn spawn(waker: Arc<Waker>) -> std::io::Result<Worker> {
        let (commands, command_rx) = mpsc::channel();
        let (report_tx, reports) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("jack-clients".into())
            .spawn(move || run(&command_rx, &report_tx, &waker))?;
        Ok(Worker {
            commands,
            reports,
            thread: Some(thread),
        })
    }

    /// Queues a command (a thread that ended takes none; nothing is lost that matters then).
    pub fn send(&self, c: Command) {
        let _ = self.commands.send(c);
    }

    /// The next report, if one is waiting.
    pub fn try_recv(&self) -> Option<Report> {
        match self.reports.try_recv() {
            Ok(r) => Some(r),
            Err(TryRecvError::Empty) => None,
            // The thread is gone (it panicked): as good as stopped.
            Err(TryRecvError::Disconnected) => Some(Report::Stopped),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(commands: &Receiver<Command>, reports: &Sender<Report>, waker: &Arc<Waker>) {
    while let Ok(c) = commands.recv() {
        let report = match c {
            Command::Open(req) => {
                let instance = req.instance;
                match open(req, waker) {
                    Ok(o) => Report::Opened(Box::new(o)),
                    Err(error) => Report::Failed { instance, error },
                }
            }
            Command::Close(client) => {
                drop(client);
                continue;
            }
            Command::Stop => break,
        };
        let _ = reports.send(report);
        let _ = waker.wake();
    }
    let _ = reports.send(Report::Stopped);
    let _ = waker.wake();
}

fn open(req: OpenRequest, waker: &Arc<Waker>) -> Result<Opened, String> {
    let client = open_client(&req.client_name, req.server.as_deref())?;
    let shared = Arc::new(Shared::new(req.ports.len(), &req.cv_out));
    let mut rt_ports = Vec::with_capacity(req.ports.len());
    let mut ends = Vec::with_capacity(req.ports.len());
    let register_error = |name: &str, e: jack::Error| format!("cannot register port '{name}': {e}");
    for (i, (name, kind)) in req.ports.iter().enumerate() {
        match *kind {
            PortKind::MidiIn => {
                let port = client
                    .register_port(name, MidiIn::default())
                    .map_err(|e| register_error(name, e))?;
                let (p, c) = RingBuffer::new(RING_BYTES);
                rt_ports.push(RtPort::MidiIn(port, p));
                ends.push(LoopEnd::MidiIn(c));
            }
            PortKind::MidiOut => {
                let port = client
                    .register_port(name, MidiOut::default())
                    .map_err(|e| register_error(name, e))?;
                let (p, c) = RingBuffer::new(RING_BYTES);
                rt_ports.push(RtPort::MidiOut(port, c));
                ends.push(LoopEnd::MidiOut(p));
            }
            PortKind::CvIn { .. } => {
                let port = client
                    .register_port(name, AudioIn::default())
                    .map_err(|e| register_error(name, e))?;
                rt_ports.push(RtPort::CvIn(port, i));
                ends.push(LoopEnd::Cv);
            }
            PortKind::CvOut { .. } => {
                let port = client
                    .register_port(name, AudioOut::default())
                    .map_err(|e| register_error(name, e))?;
                rt_ports.push(RtPort::CvOut(port, i));
                ends.push(LoopEnd::Cv);
            }
        }
    }
    let name = client.name().to_owned();
    let (period, sample_rate) = (client.buffer_size(), client.sample_rate());
    let process = Process {
        ports: rt_ports,
        shared: Arc::clone(&shared),
        waker: Arc::clone(waker),
        // NaN bits: the first period always publishes its sample.
        cv_last: vec![f32::NAN.to_bits(); req.ports.len()],
    };
    let notify = Notify {
        shared: Arc::clone(&shared),
        waker: Arc::clone(waker),
        midi_out: req
            .ports
            .iter()
            .map(|(name, kind)| (*kind == PortKind::MidiOut).then(|| name.clone()))
            .collect(),
    };
    let client = client
        .activate_async(notify, process)
        .map_err(|e| format!("cannot activate the client: {e}"))?;
    Ok(Opened {
        instance: req.instance,
        client: Box::new(client),
        ends,
        shared,
        name,
        period,
        sample_rate,
    })
}

/// Whether libjack can be loaded (it is loaded at run time, so a binary built with the
/// feature runs where JACK is not installed); why not, if it cannot.
pub fn library_error() -> Option<String> {
    jack::jack_sys::library().err().map(|e| e.to_string())
}

type OpenFn = unsafe extern "C" fn(
    *const c_char,
    c_int,
    *mut c_int,
    ...
) -> *mut jack::jack_sys::jack_client_t;

/// `jack_client_open(name, JackNoStartServer | JackServerName, &status, server)`.
///
/// Why not `jack::Client::new`: it cannot name a server (`jack_client_open` takes the server
/// name as a variadic argument, which the binding leaves out), and the alternative, setting
/// `JACK_DEFAULT_SERVER` in the environment, is not thread-safe. So the symbol is taken from
/// the library the binding loaded and called with the extra argument, and the result handed to
/// the binding, which owns and closes it from then on.
#[allow(unsafe_code)]
fn open_client(name: &str, server: Option<&str>) -> Result<Client, String> {
    let cname = CString::new(name).map_err(|_| format!("client name '{name}' contains a NUL"))?;
    let mut options = ClientOptions::NO_START_SERVER;
    let cserver = match server {
        Some(s) => {
            options |= ClientOptions::SERVER_NAME;
            Some(CString::new(s).map_err(|_| format!("server name '{s}' contains a NUL"))?)
        }
        None => None,
    };
    let library = jack::jack_sys::library().map_err(|e| format!("cannot load libjack: {e}"))?;
    // SAFETY: the symbol is libjack's `jack_client_t *jack_client_open(const char
    // *client_name, jack_options_t options, jack_status_t *status, ...)`; OpenFn is that
    // signature (jack_options_t and jack_status_t are C enums, int-sized). The library stays
    // loaded for the life of the process (jack_sys keeps it in a static).
    let open: OpenFn = unsafe {
        *library
            .get::<OpenFn>(b"jack_client_open\0")
            .map_err(|e| format!("libjack has no jack_client_open: {e}"))?
    };
    let mut status: c_int = 0;
    // SAFETY: both strings are NUL-terminated and outlive the call; `status` is a valid
    // out-pointer; with JackServerName the one variadic argument is the server name.
    let raw = unsafe {
        match &cserver {
            Some(s) => open(
                cname.as_ptr(),
                options.bits() as c_int,
                &mut status,
                s.as_ptr(),
            ),
            None => open(cname.as_ptr(), options.bits() as c_int, &mut status),
        }
    };
    if raw.is_null() {
        let status = jack::ClientStatus::from_bits_truncate(status as u32 as _);
        let server = server.unwrap_or("default");
        return Err(if status.contains(jack::ClientStatus::SERVER_FAILED) {
            format!("no JACK server '{server}' is running (status {status:?})")
        } else {
            format!("JACK server '{server}' refused the client (status {status:?})")
        });
    }
    // SAFETY: `raw` is a client jack_client_open just returned; the Client owns it from here
    // and closes it when dropped.
    Ok(unsafe { Client::from_raw(raw) })
}

/// Routes JACK's own messages: errors (`errors = on`) and notices (`debug = on`) to the log,
/// the rest nowhere. MIDIMonster's default is both off.
pub fn route_jack_messages(errors: bool, debug: bool) {
    let error: unsafe extern "C" fn(*const c_char) = if errors { jack_error } else { jack_silent };
    let info: unsafe extern "C" fn(*const c_char) = if debug { jack_info } else { jack_silent };
    jack::set_logger(jack::LoggerType::Custom { info, error });
}

/// The text of a message libjack hands to its message callbacks.
#[allow(unsafe_code)]
fn message_text(msg: *const c_char) -> String {
    if msg.is_null() {
        return String::new();
    }
    // SAFETY: libjack passes a NUL-terminated string valid for the duration of the call.
    unsafe { std::ffi::CStr::from_ptr(msg) }
        .to_string_lossy()
        .into_owned()
}

extern "C" fn jack_error(msg: *const c_char) {
    tracing::warn!(target: "jack", "JACK: {}", message_text(msg));
}

extern "C" fn jack_info(msg: *const c_char) {
    tracing::info!(target: "jack", "JACK: {}", message_text(msg));
}

extern "C" fn jack_silent(_: *const c_char) {}
