//! The layer between the socket's bytes and the [`Client`]: nothing (`mqtt://`) or TLS
//! (`mqtts://`).
//!
//! rustls's `ClientConnection` is itself sans-IO (`read_tls`, `process_new_packets`,
//! `write_tls` over byte buffers), so TLS adds no thread and no blocking: the owner hands
//! socket bytes to [`Transport::receive`] and writes what [`Transport::pending`] returns,
//! exactly as with plain TCP.
//!
//! Certificates: [`Roots::System`] reads the operating system's store (rustls-native-certs:
//! `/etc/ssl/certs` on Debian, kept current by the distribution and holding any private CA an
//! administrator installed, which is common for brokers on a show network); [`Roots::CaFile`]
//! trusts only the PEM certificates of one file (a broker with its own CA). The compiled-in
//! Mozilla list (webpki-roots) was not chosen: it goes stale with the binary and ignores the
//! CAs an administrator added. The crypto provider is ring, which builds with the C compiler
//! alone (aws-lc-rs also builds here, but compiles a much larger C library).

use std::io::{ErrorKind, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConnection, RootCertStore};

/// rustls's client configuration, as [`client_config`] returns it: owners keep one per set of
/// roots and hand it to [`Transport::tls`] for every connection.
pub use rustls::ClientConfig;

use crate::Client;

/// Which certificate authorities a TLS connection trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// The operating system's store.
    System,
    /// The certificates of one PEM file.
    CaFile(PathBuf),
}

/// Why TLS could not be set up or failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// No usable certificate in the system store.
    #[error(
        "no usable root certificate in the system store{0}: install ca-certificates, or give the broker's CA file"
    )]
    NoSystemRoots(String),
    /// The CA file could not be read or holds no certificate.
    #[error("CA file {path}: {why}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The host is not a valid DNS name or IP address for certificate checks.
    #[error("`{0}` is not a host name or IP address a certificate can be checked against")]
    ServerName(String),
    /// rustls refused the configuration or the connection (certificate, handshake, alert).
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A TLS client configuration with the given roots, ring as provider, TLS 1.2 and 1.3.
pub fn client_config(roots: &Roots) -> Result<Arc<ClientConfig>, TlsError> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                return Err(TlsError::NoSystemRoots(why));
            }
        }
        Roots::CaFile(path) => {
            let err = |why: String| TlsError::CaFile {
                path: path.clone(),
                why,
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| err(e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(e.to_string()))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(err("no PEM certificate in it".into()));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Plain TCP or TLS between the socket and the client.
#[derive(Debug)]
pub enum Transport {
    /// `mqtt://`: bytes pass unchanged.
    Plain,
    /// `mqtts://`.
    Tls(Box<Tls>),
}

/// One TLS session and its encrypted output.
#[derive(Debug)]
pub struct Tls {
    conn: ClientConnection,
    out: Vec<u8>,
    out_start: usize,
}

impl Transport {
    /// TLS to `host` (checked against the certificate's names), for one connection.
    pub fn tls(config: Arc<ClientConfig>, host: &str) -> Result<Transport, TlsError> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| TlsError::ServerName(host.into()))?;
        let conn = ClientConnection::new(config, name)?;
        Ok(Transport::Tls(Box::new(Tls {
            conn,
            out: Vec::new(),
            out_start: 0,
        })))
    }

    /// Bytes read from the socket: decrypted (TLS) and handed to the client. An error ends
    /// the connection (close the socket and call
    /// [`Client::transport_closed`]); rustls has queued an alert in [`pending`](Self::pending).
    pub fn receive(
        &mut self,
        now: Instant,
        data: &[u8],
        client: &mut Client,
    ) -> Result<(), TlsError> {
        let Transport::Tls(t) = self else {
            client.handle_input(now, data);
            return Ok(());
        };
        let mut rest = data;
        let mut plain = [0u8; 4096];
        let mut stalled = false;
        while !rest.is_empty() {
            match t.conn.read_tls(&mut rest) {
                Ok(0) => break,
                Ok(_) => stalled = false,
                // rustls's buffer is full until process_new_packets below empties it; twice
                // in a row without progress would loop forever.
                Err(e) if e.kind() == ErrorKind::Other && !stalled => stalled = true,
                Err(_) => break,
            }
            t.conn.process_new_packets()?;
            loop {
                match t.conn.reader().read(&mut plain) {
                    Ok(0) => break,
                    Ok(n) => client.handle_input(now, &plain[..n]),
                    Err(_) => break,
                }
            }
        }
        Ok(())
    }

    /// Bytes to write to the socket next: the client's output, encrypted when TLS.
    pub fn pending<'a>(&'a mut self, client: &'a mut Client) -> &'a [u8] {
        match self {
            Transport::Plain => client.output(),
            Transport::Tls(t) => {
                let out = client.output();
                if !out.is_empty() {
                    // rustls buffers plaintext during the handshake up to its limit; what it
                    // does not take stays with the client for the next call.
                    let n = t.conn.writer().write(out).unwrap_or(0);
                    client.consume_output(n);
                }
                if t.out_start == t.out.len() {
                    t.out.clear();
                    t.out_start = 0;
                }
                while t.conn.wants_write() {
                    if t.conn.write_tls(&mut t.out).is_err() {
                        break;
                    }
                }
                &t.out[t.out_start..]
            }
        }
    }

    /// `n` bytes of [`pending`](Self::pending) were written to the socket.
    pub fn written(&mut self, n: usize, client: &mut Client) {
        match self {
            Transport::Plain => client.consume_output(n),
            Transport::Tls(t) => t.out_start = (t.out_start + n).min(t.out.len()),
        }
    }

    /// Queues TLS close_notify (call before writing the last bytes of a closing connection).
    pub fn close(&mut self) {
        if let Transport::Tls(t) = self {
            t.conn.send_close_notify();
        }
    }

    /// `true` while a TLS handshake is still going on.
    pub fn is_handshaking(&self) -> bool {
        match self {
            Transport::Plain => false,
            Transport::Tls(t) => t.conn.is_handshaking(),
        }
    }
}
