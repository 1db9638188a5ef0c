//! The TLS transport against an in-memory rustls server: handshake, an MQTT session through
//! it, and refusal of an untrusted or misnamed certificate. No sockets.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use patchbay_mqtt::client::Backoff;
use patchbay_mqtt::transport::{Roots, TlsError, Transport, client_config};
use patchbay_mqtt::wire::Protocol;
use patchbay_mqtt::{Client, Config, Event};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};

fn certs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/certs")
}

fn server() -> ServerConnection {
    let chain = CertificateDer::pem_file_iter(certs().join("server.pem"))
        .expect("server.pem")
        .collect::<Result<Vec<_>, _>>()
        .expect("cert");
    let key = PrivateKeyDer::from_pem_file(certs().join("server.key")).expect("server.key");
    let cfg =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server config");
    ServerConnection::new(Arc::new(cfg)).expect("server")
}

fn client() -> Client {
    let mut cfg = Config::new("tls-test");
    cfg.protocol = Protocol::V311;
    cfg.backoff = Backoff {
        jitter: 0.0,
        ..Backoff::default()
    };
    let now = Instant::now();
    let mut c = Client::new(cfg, now);
    c.handle_timeout(now);
    assert!(matches!(c.poll_event(), Some(Event::Open)));
    c.transport_connected(now);
    c
}

/// Moves bytes both ways until neither side has anything to send; returns the plaintext the
/// server received.
fn pump(
    t: &mut Transport,
    c: &mut Client,
    s: &mut ServerConnection,
    reply: &[u8],
) -> Result<Vec<u8>, TlsError> {
    let now = Instant::now();
    let mut got = Vec::new();
    let mut replied = false;
    for _ in 0..20 {
        let to_server = t.pending(c).to_vec();
        let n = to_server.len();
        t.written(n, c);
        if !to_server.is_empty() {
            s.read_tls(&mut &to_server[..]).expect("server read");
            s.process_new_packets().map_err(TlsError::Rustls)?;
            let mut buf = [0u8; 1024];
            while let Ok(k) = s.reader().read(&mut buf) {
                if k == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..k]);
            }
        }
        if !got.is_empty() && !replied {
            s.writer().write_all(reply).expect("server write");
            replied = true;
        }
        let mut to_client = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut to_client).expect("server write_tls");
        }
        if to_client.is_empty() && n == 0 {
            break;
        }
        t.receive(now, &to_client, c)?;
    }
    Ok(got)
}

#[test]
fn mqtt_session_through_tls_with_a_given_ca() {
    let cfg = client_config(&Roots::CaFile(certs().join("ca.pem"))).expect("config");
    let mut t = Transport::tls(cfg, "localhost").expect("transport");
    let mut c = client();
    let mut s = server();
    assert!(t.is_handshaking());
    let got = pump(&mut t, &mut c, &mut s, &[0x20, 0x02, 0x00, 0x00]).expect("handshake");
    assert!(!t.is_handshaking());
    // The server saw the client's CONNECT in the clear, and the client its CONNACK.
    assert_eq!(&got[..2], &[0x10, 0x14]);
    assert_eq!(&got[8..9], &[0x04]);
    assert!(matches!(
        c.poll_event(),
        Some(Event::Connected {
            protocol: Protocol::V311,
            ..
        })
    ));
}

#[test]
fn ip_address_names_are_checked_too() {
    let cfg = client_config(&Roots::CaFile(certs().join("ca.pem"))).expect("config");
    let mut t = Transport::tls(cfg, "127.0.0.1").expect("transport");
    let (mut c, mut s) = (client(), server());
    pump(&mut t, &mut c, &mut s, &[0x20, 0x02, 0x00, 0x00]).expect("handshake");
    assert!(matches!(c.poll_event(), Some(Event::Connected { .. })));
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let cfg = client_config(&Roots::CaFile(certs().join("ca.pem"))).expect("config");
    let mut t = Transport::tls(cfg, "broker.example").expect("transport");
    let (mut c, mut s) = (client(), server());
    let err = pump(&mut t, &mut c, &mut s, &[]).expect_err("must fail");
    assert!(err.to_string().contains("certificate"), "{err}");
    assert!(c.poll_event().is_none(), "no CONNACK got through");
}

#[test]
fn an_untrusted_ca_is_refused() {
    // The server's own certificate as the only root: not a CA, so the chain does not verify.
    let cfg = client_config(&Roots::CaFile(certs().join("server.pem"))).expect("config");
    let mut t = Transport::tls(cfg, "localhost").expect("transport");
    let (mut c, mut s) = (client(), server());
    let err = pump(&mut t, &mut c, &mut s, &[]).expect_err("must fail");
    assert!(matches!(err, TlsError::Rustls(_)), "{err}");
}

#[test]
fn ca_file_errors_name_the_file() {
    let missing = certs().join("missing.pem");
    let err = client_config(&Roots::CaFile(missing)).expect_err("missing");
    assert!(err.to_string().contains("missing.pem"), "{err}");
    let not_pem = certs().join("make.sh");
    let err = client_config(&Roots::CaFile(not_pem)).expect_err("no cert");
    assert!(err.to_string().contains("no PEM certificate"), "{err}");
    assert!(matches!(
        Transport::tls(
            client_config(&Roots::CaFile(certs().join("ca.pem"))).expect("cfg"),
            "bad name!"
        ),
        Err(TlsError::ServerName(_))
    ));
}
