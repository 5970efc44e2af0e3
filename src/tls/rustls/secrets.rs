//! The traffic secrets of one handshake, as rustls hands them over: its key log, kept in
//! memory ([`SecretLog`]), catches the two application traffic secrets (RFC 8446 §7.1),
//! and `dangerous_extract_secrets` gives the keys, IVs and sequence numbers derived from
//! them. Together they become the [`Traffic`] the session's record
//! layer (`record.rs`) takes over: extracted keys alone cannot follow a KeyUpdate, the
//! secrets can.

use alloc::{string::ToString, vec::Vec};
use std::sync::{Mutex, PoisonError};

use rustls::{Connection, KeyLog};
use zeroize::Zeroizing;

use super::error_map::map_error;
use crate::tls::error::Error;
use crate::tls::record::{Aead, Direction, Secret};

/// The two application traffic secrets of one handshake (RFC 8446 §7.1), as rustls hands
/// them to its key log. The session's record layer derives its keys from them, and the
/// next secrets on a key update (rustls's extracted key and IV alone cannot be updated).
#[derive(Default)]
pub(super) struct SecretLog {
    /// `client_application_traffic_secret_0`, `server_application_traffic_secret_0`.
    secrets: Mutex<(Secret, Secret)>,
}

impl SecretLog {
    /// The secrets logged, client's first; empty where none was.
    pub(super) fn take(&self) -> (Secret, Secret) {
        core::mem::take(&mut *self.secrets.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl core::fmt::Debug for SecretLog {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SecretLog").finish_non_exhaustive()
    }
}

impl KeyLog for SecretLog {
    fn will_log(&self, label: &str) -> bool {
        matches!(label, CLIENT_TRAFFIC_SECRET | SERVER_TRAFFIC_SECRET)
    }

    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        let mut secrets = self.secrets.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = match label {
            CLIENT_TRAFFIC_SECRET => &mut secrets.0,
            SERVER_TRAFFIC_SECRET => &mut secrets.1,
            _ => return,
        };
        *slot = Zeroizing::new(secret.to_vec());
    }
}

/// rustls's key log label of `client_application_traffic_secret_0` (NSS key log format).
const CLIENT_TRAFFIC_SECRET: &str = "CLIENT_TRAFFIC_SECRET_0";
/// rustls's key log label of `server_application_traffic_secret_0`.
const SERVER_TRAFFIC_SECRET: &str = "SERVER_TRAFFIC_SECRET_0";

/// What the session's record layer takes over from rustls.
pub(in crate::tls) struct Traffic {
    pub(in crate::tls) is_client: bool,
    pub(in crate::tls) aead: Aead,
    pub(in crate::tls) tx: Direction,
    pub(in crate::tls) rx: Direction,
    pub(in crate::tls) alpn: Option<Vec<u8>>,
    pub(in crate::tls) cipher_suite: Option<&'static str>,
}

impl Traffic {
    /// Takes the application traffic keys and sequence numbers out of `conn`, whose
    /// handshake is complete, and the secrets out of its `log`.
    pub(super) fn take(
        conn: Connection,
        log: &SecretLog,
        alpn: Option<Vec<u8>>,
        cipher_suite: Option<&'static str>,
    ) -> Result<Self, Error> {
        let is_client = matches!(conn, Connection::Client(_));
        let extracted = conn.dangerous_extract_secrets().map_err(map_error)?;
        let (client, server) = log.take();
        let (tx_secret, rx_secret) = if is_client {
            (client, server)
        } else {
            (server, client)
        };
        let (aead, tx_key, tx_iv) = traffic_keys(extracted.tx.1)?;
        let (rx_aead, rx_key, rx_iv) = traffic_keys(extracted.rx.1)?;
        if aead != rx_aead || tx_secret.is_empty() || rx_secret.is_empty() {
            return Err(Error::Tls {
                reason: "no application traffic secrets".to_string(),
            });
        }
        Ok(Self {
            is_client,
            aead,
            tx: Direction {
                secret: tx_secret,
                key: tx_key,
                iv: tx_iv,
                seq: extracted.tx.0,
            },
            rx: Direction {
                secret: rx_secret,
                key: rx_key,
                iv: rx_iv,
                seq: extracted.rx.0,
            },
            alpn,
            cipher_suite,
        })
    }
}

/// The AEAD, key and IV of one direction's extracted secrets.
fn traffic_keys(
    secrets: rustls::ConnectionTrafficSecrets,
) -> Result<(Aead, Secret, Zeroizing<[u8; 12]>), Error> {
    use rustls::ConnectionTrafficSecrets as S;
    let (aead, key, iv) = match secrets {
        S::Aes128Gcm { key, iv } => (Aead::Aes128Gcm, key, iv),
        S::Aes256Gcm { key, iv } => (Aead::Aes256Gcm, key, iv),
        S::Chacha20Poly1305 { key, iv } => (Aead::Chacha20Poly1305, key, iv),
        _ => {
            return Err(Error::Tls {
                reason: "unexpected cipher suite".to_string(),
            })
        }
    };
    let iv: [u8; 12] = iv.as_ref().try_into().map_err(|_| Error::Tls {
        reason: "unexpected IV length".to_string(),
    })?;
    Ok((
        aead,
        Zeroizing::new(key.as_ref().to_vec()),
        Zeroizing::new(iv),
    ))
}
