//! One rustls connection driven in memory for the handshake ([`Engine`]): fed whole TLS
//! records by the handshake machines (`handshake.rs`), drained of what rustls sends, and
//! finally handing its traffic keys to the session (`session.rs`) as a `Traffic`.
//!
//! No SNI: the client names the server by the unspecified address 0.0.0.0, for which
//! rustls sends no server_name (spec; rust-libp2p does the same).
//!
//! ALPN: the client offers its muxers in preference order, then `libp2p`. The spec says
//! the server SHOULD pick the first entry of the *client's* list it supports, but a rustls
//! server picks by its own list's order. So the server reads the ClientHello through
//! rustls's `Acceptor` first and only then builds its `ServerConfig`, with its ALPN list
//! reordered to the client's order (go-libp2p overrides its TLS stack's choice the same
//! way). If no entry overlaps, the server keeps its full list so that rustls aborts with
//! `no_application_protocol` (the spec's MUST); a client that offers no ALPN at all is
//! accepted with none (go-libp2p and rust-libp2p do the same).

use alloc::{boxed::Box, string::ToString, sync::Arc, vec::Vec};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};

use rustls::pki_types::ServerName;
use rustls::server::{Accepted, Acceptor};
use rustls::{ClientConnection, Connection};

use super::error_map::map_error;
use super::provider::{client_config, server_config, LocalCert};
use super::secrets::{SecretLog, Traffic};
use super::verifier::Libp2pVerifier;
use crate::identity::PeerId;
use crate::tls::certificate::Verified;
use crate::tls::error::Error;
use crate::tls::record::RECORD_HEADER_LEN;
use crate::tls::verified_cache::VerifiedCache;

/// The server before the ClientHello: what it needs to build its config then.
struct Pending {
    acceptor: Box<Acceptor>,
    local: LocalCert,
    now_unix: u64,
    /// Our muxers, then `libp2p`.
    supported_alpn: Vec<Vec<u8>>,
}

enum Conn {
    /// Server: reading the ClientHello.
    Accepting(Pending),
    Established(Box<Connection>),
    /// The `Acceptor` failed; its alert (if any) waits in `Engine::out`.
    Failed,
}

/// One rustls connection in memory, for the handshake. The machines feed it whole records
/// (`record.rs`'s `next_record`) and drain its output; it never sees a partial record or
/// an empty read (rustls takes an empty read for the end of the stream). The session
/// takes its keys over with [`Engine::into_traffic`].
pub(in crate::tls) struct Engine {
    conn: Conn,
    verifier: Arc<Libp2pVerifier>,
    /// The application traffic secrets, as rustls derives them.
    secrets: Arc<SecretLog>,
    /// Bytes to send that rustls no longer holds (the `Acceptor`'s alert).
    out: Vec<u8>,
}

impl Engine {
    /// A client: queues the ClientHello offering `alpn` (non-empty, in preference order).
    pub(in crate::tls) fn client(
        local: &LocalCert,
        cache: Arc<VerifiedCache>,
        alpn: Vec<Vec<u8>>,
        expected: Option<PeerId>,
        now_unix: u64,
    ) -> Result<Self, Error> {
        let verifier = Arc::new(Libp2pVerifier::new(now_unix, expected, cache));
        let secrets = Arc::new(SecretLog::default());
        let config = client_config(local, verifier.clone(), secrets.clone(), alpn, now_unix)?;
        // 0.0.0.0: an IP address, so rustls sends no server_name (spec: no SNI)
        let name = ServerName::from(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let conn = ClientConnection::new(Arc::new(config), name).map_err(map_error)?;
        Ok(Self::new(
            Conn::Established(Box::new(Connection::Client(conn))),
            verifier,
            secrets,
        ))
    }

    /// A server supporting `supported_alpn` (non-empty); waits for the ClientHello. With
    /// `expected`, the client must prove that PeerId.
    pub(in crate::tls) fn server(
        local: &LocalCert,
        cache: Arc<VerifiedCache>,
        supported_alpn: Vec<Vec<u8>>,
        expected: Option<PeerId>,
        now_unix: u64,
    ) -> Result<Self, Error> {
        let verifier = Arc::new(Libp2pVerifier::new(now_unix, expected, cache));
        let pending = Pending {
            acceptor: Box::default(),
            local: local.clone(),
            now_unix,
            supported_alpn,
        };
        Ok(Self::new(
            Conn::Accepting(pending),
            verifier,
            Arc::new(SecretLog::default()),
        ))
    }

    fn new(conn: Conn, verifier: Arc<Libp2pVerifier>, secrets: Arc<SecretLog>) -> Self {
        Self {
            conn,
            verifier,
            secrets,
            out: Vec::new(),
        }
    }

    /// Processes one whole record (from `next_record`).
    pub(in crate::tls) fn feed_record(&mut self, record: &[u8]) -> Result<(), Error> {
        match &mut self.conn {
            Conn::Accepting(pending) => {
                read_all(record, |r| pending.acceptor.read_tls(r))?;
                match pending.acceptor.accept() {
                    Ok(None) => Ok(()),
                    Ok(Some(accepted)) => self.accepted(accepted),
                    Err((e, mut alert)) => {
                        // writing into a Vec cannot fail
                        let _ = alert.write_all(&mut self.out);
                        self.conn = Conn::Failed;
                        Err(self.map(e))
                    }
                }
            }
            Conn::Established(conn) => {
                read_all(record, |r| conn.read_tls(r))?;
                match conn.process_new_packets() {
                    Ok(_) => Ok(()),
                    Err(e) => Err(self.map(e)),
                }
            }
            Conn::Failed => Err(Error::ApiMisuse("TLS connection failed earlier")),
        }
    }

    /// The server's config, made once the ClientHello shows the client's ALPN order.
    fn accepted(&mut self, accepted: Accepted) -> Result<(), Error> {
        let Conn::Accepting(pending) = core::mem::replace(&mut self.conn, Conn::Failed) else {
            return Err(Error::ApiMisuse("ClientHello accepted twice"));
        };
        let hello = accepted.client_hello();
        // The spec: the first entry of the client's list the server supports. rustls picks
        // the first of *its* list the client offered, so hand it the overlap in the
        // client's order; without an overlap keep ours, so rustls aborts with
        // no_application_protocol if the client offered any.
        let mut alpn: Vec<Vec<u8>> = hello
            .alpn()
            .into_iter()
            .flatten()
            .filter(|offered| pending.supported_alpn.iter().any(|s| s == offered))
            .map(<[u8]>::to_vec)
            .collect();
        alpn.dedup();
        if alpn.is_empty() {
            alpn = pending.supported_alpn;
        }
        let config = server_config(
            &pending.local,
            self.verifier.clone(),
            self.secrets.clone(),
            alpn,
            pending.now_unix,
        )?;
        match accepted.into_connection(Arc::new(config)) {
            Ok(conn) => {
                self.conn = Conn::Established(Box::new(Connection::Server(conn)));
                Ok(())
            }
            Err((e, mut alert)) => {
                let _ = alert.write_all(&mut self.out);
                Err(self.map(e))
            }
        }
    }

    /// Fails the connection over a header whose length exceeds `MAX_RECORD_BODY_LEN`;
    /// the caller reports [`Error::RecordTooLarge`]. rustls's own bound is looser
    /// (2^14 + 2048, kept for TLS 1.2), so it gets the header with the length field at its
    /// maximum, which it refuses at once and answers with its alert (decode_error).
    pub(in crate::tls) fn refuse_oversized(&mut self, header: &[u8]) {
        let mut header = header.to_vec();
        if let Some(len) = header.get_mut(3..RECORD_HEADER_LEN) {
            len.copy_from_slice(&[0xff, 0xff]);
        }
        let _ = self.feed_record(&header);
    }

    /// Appends what rustls has to send; returns how many bytes.
    pub(in crate::tls) fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        if out.is_empty() {
            // hand over our buffer instead of copying it
            core::mem::swap(out, &mut self.out);
        } else {
            out.append(&mut self.out);
        }
        if let Conn::Established(conn) = &mut self.conn {
            while conn.wants_write() {
                match conn.write_tls(out) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        out.len().saturating_sub(start)
    }

    /// Moves what rustls has to send behind our queued output (the bytes, in the order,
    /// [`Engine::poll_transmit`] would append); returns how many bytes wait.
    pub(in crate::tls) fn pending_transmit(&mut self) -> usize {
        if let Conn::Established(conn) = &mut self.conn {
            while conn.wants_write() {
                match conn.write_tls(&mut self.out) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        self.out.len()
    }

    /// [`Engine::poll_transmit`] into the start of `buf`, all or nothing.
    pub(in crate::tls) fn poll_transmit_into(
        &mut self,
        buf: &mut [u8],
    ) -> Result<usize, crate::InsufficientSize> {
        let _ = self.pending_transmit();
        crate::machine::take_into(&mut self.out, buf)
    }

    /// Whether the handshake is still running (or never got past the ClientHello).
    pub(in crate::tls) fn is_handshaking(&self) -> bool {
        match &self.conn {
            Conn::Established(conn) => conn.is_handshaking(),
            Conn::Accepting(_) | Conn::Failed => true,
        }
    }

    /// The peer, once its certificate verified and it signed the handshake with its key.
    pub(in crate::tls) fn remote(&self) -> Option<Verified> {
        self.verifier.proven_peer()
    }

    /// The ALPN value agreed, if any.
    fn alpn(&self) -> Option<&[u8]> {
        match &self.conn {
            Conn::Established(conn) => conn.alpn_protocol(),
            _ => None,
        }
    }

    /// The negotiated cipher suite's IANA name.
    fn cipher_suite(&self) -> Option<&'static str> {
        match &self.conn {
            Conn::Established(conn) => conn.negotiated_cipher_suite()?.suite().as_str(),
            _ => None,
        }
    }

    /// Ends rustls's part once the handshake is complete: appends what rustls still has to
    /// send (the client's last flight) to `out`, then takes the application traffic keys
    /// and sequence numbers out of rustls for the session's own record layer.
    pub(in crate::tls) fn into_traffic(mut self, out: &mut Vec<u8>) -> Result<Traffic, Error> {
        let _ = self.poll_transmit(out);
        let alpn = self.alpn().map(<[u8]>::to_vec);
        let cipher_suite = self.cipher_suite();
        let Conn::Established(conn) = self.conn else {
            return Err(Error::ApiMisuse("session before the handshake"));
        };
        Traffic::take(*conn, &self.secrets, alpn, cipher_suite)
    }

    /// A rustls error as p2psec names it; a certificate refused by our verifier keeps the
    /// verifier's own error.
    fn map(&self, e: rustls::Error) -> Error {
        if let rustls::Error::InvalidCertificate(_) = e {
            if let Some(ours) = self.verifier.take_error() {
                return ours;
            }
        }
        map_error(e)
    }
}

/// Feeds all of `record` through `read_tls` (which may take it in several reads).
fn read_all(
    mut record: &[u8],
    mut read_tls: impl FnMut(&mut dyn Read) -> std::io::Result<usize>,
) -> Result<(), Error> {
    while !record.is_empty() {
        match read_tls(&mut record) {
            Ok(0) => {
                return Err(Error::PeerMisbehaved {
                    reason: "data after close_notify".to_string(),
                })
            }
            Ok(_) => {}
            Err(e) => {
                return Err(Error::Tls {
                    reason: e.to_string(),
                })
            }
        }
    }
    Ok(())
}
