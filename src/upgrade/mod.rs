//! The connection upgrade: a raw byte pipe (a TCP connection) taken from nothing to an
//! authenticated, encrypted channel with an agreed stream muxer. Spec: libp2p
//! `connections/README.md` (the upgrade order) and `connections/inlined-muxer-negotiation.md`.
//!
//! 1. multistream-select over the raw pipe picks the security protocol from the dialer's
//!    preference list ([`Config::with_security`]);
//! 2. its handshake runs (Noise, TLS or, when configured, SECIO) and proves the remote
//!    PeerId (checked against the expected one when the dialer has it);
//! 3. the muxer is agreed inside the handshake when both sides offered muxers (the Noise
//!    extension, TLS ALPN), otherwise by a multistream-select round over the secured
//!    channel.
//!
//! [`Dialer`] and [`Listener`] follow the crate's machine pattern and finish with an
//! [`Upgraded`]: the remote PeerId, the protocols agreed, and the [`SecureChannel`] that
//! carries the muxer's bytes: a thin dispatcher over the security protocol's own session
//! (`noise::Session`, `tls::Session`, `secio::Session`, each with the same transport
//! verbs). No byte is lost or duplicated at any boundary: the bytes a machine did not
//! consume belong to the channel, plaintext that arrived with the muxer negotiation waits
//! in the session for [`SecureChannel::read`], and a handshake's `into_session` hands the
//! machine back rather than drop it.
//!
//! # Round trips
//! With optimistic negotiation ([`Config::with_optimistic_negotiation`], multistream
//! `V1Lazy`) and one security protocol, the dialer's first flight is the multistream
//! header, the proposal and the first handshake message together. After the listener's
//! answer the dialer is done: Noise message 3 (or the TLS client's Finished) goes out
//! together with the first muxed application bytes, one round trip after the TCP
//! connection is up. Without it the classic sequence needs three (security
//! negotiation, handshake, muxer negotiation). `tests/round_trips.rs` measures each case.
//!
//! Not here: sockets and the handshake deadline (the [`adapters`](crate::adapters)), the
//! muxer itself (yamux runs on top of the [`SecureChannel`]), private networks (PSK).

use ::core::fmt;
use ::core::str::FromStr;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use rand_core::CryptoRng;

use crate::identity::{Keypair, PeerId};

mod channel;
mod core;
mod dialer;
mod error;
mod handshake;
mod listener;
mod memory;

pub use channel::SecureChannel;
pub use dialer::Dialer;
pub use error::Error;
pub use listener::Listener;
pub use memory::{PeerMemory, Remembered, DEFAULT_PEER_MEMORY_CAPACITY};

/// The yamux stream muxer's protocol id, the muxer every libp2p implementation speaks.
pub const YAMUX: &str = "/yamux/1.0.0";

/// A security protocol the upgrade can negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecurityProtocol {
    /// `/noise`: XX_25519_ChaChaPoly_SHA256 with the libp2p payload.
    #[cfg(feature = "noise")]
    Noise,
    /// `/tls/1.0.0`: TLS 1.3 with the libp2p certificate.
    #[cfg(feature = "tls")]
    Tls,
    /// `/secio/1.0.0`: the deprecated legacy channel, only for peers that speak nothing
    /// else. Never in the defaults; when listed it must come last.
    #[cfg(feature = "secio")]
    Secio,
}

impl SecurityProtocol {
    /// Every protocol compiled in, in the default preference order (Noise first: the
    /// spec's baseline that every implementation speaks, and the cheaper handshake).
    pub const ALL: &'static [SecurityProtocol] = &[
        #[cfg(feature = "noise")]
        SecurityProtocol::Noise,
        #[cfg(feature = "tls")]
        SecurityProtocol::Tls,
    ];

    /// Every protocol compiled in, SECIO included (it is never a default: see
    /// [`SecurityProtocol::ALL`]).
    pub const KNOWN: &'static [SecurityProtocol] = &[
        #[cfg(feature = "noise")]
        SecurityProtocol::Noise,
        #[cfg(feature = "tls")]
        SecurityProtocol::Tls,
        #[cfg(feature = "secio")]
        SecurityProtocol::Secio,
    ];

    /// The multistream-select protocol id.
    pub fn protocol_id(self) -> &'static str {
        match self {
            #[cfg(feature = "noise")]
            SecurityProtocol::Noise => crate::noise::PROTOCOL_ID,
            #[cfg(feature = "tls")]
            SecurityProtocol::Tls => crate::tls::PROTOCOL_ID,
            #[cfg(feature = "secio")]
            SecurityProtocol::Secio => crate::secio::PROTOCOL_ID,
        }
    }

    /// The protocol with this multistream id, if compiled in.
    pub fn from_protocol_id(id: &str) -> Option<Self> {
        Self::KNOWN.iter().copied().find(|p| p.protocol_id() == id)
    }

    /// A short name (`noise`, `tls`), as the CLI takes it.
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "noise")]
            SecurityProtocol::Noise => "noise",
            #[cfg(feature = "tls")]
            SecurityProtocol::Tls => "tls",
            #[cfg(feature = "secio")]
            SecurityProtocol::Secio => "secio",
        }
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.protocol_id())
    }
}

impl FromStr for SecurityProtocol {
    type Err = Error;

    /// A short name (`noise`, `tls`, `secio`) or a protocol id (`/noise`, `/tls/1.0.0`,
    /// `/secio/1.0.0`).
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::KNOWN
            .iter()
            .copied()
            .find(|p| p.name() == s || p.protocol_id() == s)
            .ok_or_else(|| Error::UnsupportedSecurity(s.to_string()))
    }
}

/// What every upgrade of one identity shares: the identity, the per-protocol
/// configurations (the Noise static key, the TLS certificate), and the preference lists.
/// Cheap to clone.
///
/// Defaults: every security protocol compiled in ([`SecurityProtocol::ALL`]), the muxer
/// [`YAMUX`], early muxer negotiation on, optimistic negotiation on.
#[derive(Clone)]
pub struct Config {
    identity: Keypair,
    #[cfg(feature = "noise")]
    noise: crate::noise::Config,
    #[cfg(feature = "tls")]
    tls: crate::tls::Config,
    #[cfg(feature = "secio")]
    secio: crate::secio::Config,
    security: Vec<SecurityProtocol>,
    muxers: Vec<String>,
    early_muxer: bool,
    optimistic: bool,
    #[cfg(feature = "pnet")]
    psk: Option<crate::pnet::PreSharedKey>,
}

impl Config {
    /// A configuration for `identity`: the Noise static key and the TLS certificate come
    /// from `rng`; the certificate is valid from `now_unix` (Unix seconds, the caller's
    /// clock) for a year and reused by every connection (see
    /// [`Config::refresh_if_needed`]).
    pub fn new<R: CryptoRng + ?Sized>(
        identity: &Keypair,
        now_unix: u64,
        rng: &mut R,
    ) -> Result<Self, Error> {
        let _ = (now_unix, &rng);
        let config = Self {
            identity: identity.clone(),
            #[cfg(feature = "noise")]
            noise: crate::noise::Config::new(identity, rng).map_err(Error::Noise)?,
            #[cfg(feature = "tls")]
            tls: crate::tls::Config::new(identity, now_unix, rng).map_err(Error::Tls)?,
            #[cfg(feature = "secio")]
            secio: crate::secio::Config::new(identity),
            security: SecurityProtocol::ALL.to_vec(),
            muxers: alloc::vec![YAMUX.to_string()],
            early_muxer: true,
            optimistic: true,
            #[cfg(feature = "pnet")]
            psk: None,
        };
        Ok(config.sync_muxers())
    }

    /// The security protocols, in the dialer's preference order (the listener accepts any
    /// of them). Errors on an empty list, a repeated entry, or SECIO anywhere but last (it
    /// is deprecated: a modern protocol is always preferred).
    pub fn with_security<I: IntoIterator<Item = SecurityProtocol>>(
        mut self,
        protocols: I,
    ) -> Result<Self, Error> {
        let mut list: Vec<SecurityProtocol> = Vec::new();
        for p in protocols {
            if list.contains(&p) {
                return Err(Error::ApiMisuse("a security protocol is listed twice"));
            }
            list.push(p);
        }
        if list.is_empty() {
            return Err(Error::ApiMisuse("no security protocol"));
        }
        #[cfg(feature = "secio")]
        if list
            .iter()
            .rev()
            .skip(1)
            .any(|p| *p == SecurityProtocol::Secio)
        {
            return Err(Error::ApiMisuse(
                "SECIO is deprecated and may only be the last security protocol",
            ));
        }
        self.security = list;
        Ok(self)
    }

    /// The stream muxers, in preference order (empty: no muxer, the channel carries one
    /// stream). Each must be a valid multistream protocol id.
    pub fn with_muxers<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        muxers: I,
    ) -> Result<Self, Error> {
        let muxers: Vec<String> = muxers.into_iter().map(Into::into).collect();
        for m in &muxers {
            crate::multistream::validate_protocol(m)
                .map_err(|_| Error::ApiMisuse("a muxer id is not a valid protocol id"))?;
        }
        self.muxers = muxers;
        Ok(self.sync_muxers())
    }

    /// Whether to offer the muxers inside the handshake (the Noise extension, TLS ALPN),
    /// which saves the muxer negotiation's round trip with peers that do the same.
    #[must_use]
    pub fn with_early_muxer_negotiation(mut self, on: bool) -> Self {
        self.early_muxer = on;
        self.sync_muxers()
    }

    /// Which identity keys a remote may prove itself with, in every security protocol
    /// ([`KeyPolicy::STRICT`](crate::identity::KeyPolicy::STRICT) by default).
    /// [`KeyPolicy::allowing_legacy_rsa_1024`](crate::identity::KeyPolicy::allowing_legacy_rsa_1024)
    /// lets old js-libp2p and go-libp2p nodes with 1024-bit RSA identities connect, at the
    /// risk [`KeyPolicy`](crate::identity::KeyPolicy) states; without it they fail with the named
    /// [`identity::Error::LegacyRsaKey`](crate::identity::Error::LegacyRsaKey).
    #[must_use]
    pub fn with_key_policy(mut self, policy: crate::identity::KeyPolicy) -> Self {
        let _ = policy;
        #[cfg(feature = "noise")]
        {
            self.noise = self.noise.with_key_policy(policy);
        }
        #[cfg(feature = "tls")]
        {
            self.tls = self.tls.with_key_policy(policy);
        }
        #[cfg(feature = "secio")]
        {
            self.secio = self.secio.with_key_policy(policy);
        }
        self
    }

    /// The private network's pre-shared key: the adapters run the [`crate::pnet`] layer
    /// beneath the upgrade and the channel (a nonce each way, then XSalsa20), so only
    /// peers holding the same key can connect; one with another key fails at its first
    /// byte with [`crate::pnet::Error::WrongKey`].
    #[cfg(feature = "pnet")]
    #[must_use]
    pub fn with_psk(mut self, psk: crate::pnet::PreSharedKey) -> Self {
        self.psk = Some(psk);
        self
    }

    /// The pre-shared key, if this configuration is for a private network.
    #[cfg(feature = "pnet")]
    pub fn psk(&self) -> Option<&crate::pnet::PreSharedKey> {
        self.psk.as_ref()
    }

    /// Whether the dialer negotiates optimistically (multistream `V1Lazy`): with a single
    /// candidate left it sends the next layer's bytes without waiting for the echo.
    #[must_use]
    pub fn with_optimistic_negotiation(mut self, on: bool) -> Self {
        self.optimistic = on;
        self
    }

    /// Replaces the TLS certificate when it nears expiry (see
    /// [`crate::tls::Config::refresh_if_needed`]); returns whether it did.
    #[cfg(feature = "tls")]
    pub fn refresh_if_needed<R: CryptoRng + ?Sized>(
        &mut self,
        now_unix: u64,
        rng: &mut R,
    ) -> Result<bool, Error> {
        self.tls
            .refresh_if_needed(now_unix, rng)
            .map_err(Error::Tls)
    }

    /// Our PeerId.
    pub fn local_peer_id(&self) -> PeerId {
        self.identity.peer_id()
    }

    /// The security protocols in preference order.
    pub fn security(&self) -> &[SecurityProtocol] {
        &self.security
    }

    /// The stream muxers in preference order.
    pub fn muxers(&self) -> &[String] {
        &self.muxers
    }

    /// The Noise configuration the upgrade uses.
    #[cfg(feature = "noise")]
    pub fn noise(&self) -> &crate::noise::Config {
        &self.noise
    }

    /// The TLS configuration the upgrade uses.
    #[cfg(feature = "tls")]
    pub fn tls(&self) -> &crate::tls::Config {
        &self.tls
    }

    /// The SECIO configuration the upgrade uses when SECIO is listed.
    #[cfg(feature = "secio")]
    pub fn secio(&self) -> &crate::secio::Config {
        &self.secio
    }

    /// Replaces the Noise configuration (a given static key, a prologue); the muxer list
    /// is handed to it as before. Its identity must be this configuration's.
    #[cfg(feature = "noise")]
    #[must_use]
    pub fn with_noise(mut self, noise: crate::noise::Config) -> Self {
        self.noise = noise;
        self.sync_muxers()
    }

    /// Replaces the SECIO configuration (its proposal lists, frame limit). Its identity
    /// must be this configuration's.
    #[cfg(feature = "secio")]
    pub fn with_secio(mut self, secio: crate::secio::Config) -> Self {
        self.secio = secio;
        self
    }

    /// The configuration of a dial that recalls `r`, or `None` if `r` no longer fits this
    /// configuration (its security protocol is not offered any more).
    ///
    /// Optimistic: the remembered security protocol alone (V1Lazy: the handshake starts
    /// in the first flight), and, if the muxer was agreed by multistream-select, the
    /// remembered muxer alone (proposed lazily behind the handshake's last message). A
    /// refusal then cannot be recovered on this connection. Patient (V1): the remembered
    /// choice first and the rest after it, so a refusal falls through to the next
    /// candidate on the same connection. A muxer agreed inside the handshake keeps the
    /// whole list there: the handshake carries it for free.
    pub(super) fn recalling(&self, r: &Remembered) -> Option<Config> {
        if !self.security.contains(&r.security) {
            return None;
        }
        let mut config = self.clone();
        // set directly: SECIO-last is a rule for lists a user writes; this is what the
        // peer accepted
        config.security = first_or_alone(&self.security, &r.security, self.optimistic);
        if let (MuxerSelection::Multistream, Some(m)) = (r.muxer_selection, &r.muxer) {
            if self.muxers.contains(m) {
                // the early list stays as configured: only the multistream round changes
                config.muxers = first_or_alone(&self.muxers, m, self.optimistic);
            }
        }
        Some(config)
    }

    /// Hands the muxer list to the handshakes when early negotiation is on.
    fn sync_muxers(mut self) -> Self {
        let early: &[String] = if self.early_muxer { &self.muxers } else { &[] };
        #[cfg(feature = "noise")]
        {
            self.noise = self.noise.with_stream_muxers(early.iter().cloned());
        }
        #[cfg(feature = "tls")]
        {
            self.tls = self.tls.with_stream_muxers(early.iter().cloned());
        }
        let _ = early;
        self
    }
}

/// `item` alone, or `item` followed by the rest of `list` in order.
fn first_or_alone<T: Clone + PartialEq>(list: &[T], item: &T, alone: bool) -> Vec<T> {
    let mut out = alloc::vec![item.clone()];
    if !alone {
        out.extend(list.iter().filter(|x| *x != item).cloned());
    }
    out
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("upgrade::Config")
            .field("local_peer_id", &self.local_peer_id())
            .field("security", &self.security)
            .field("muxers", &self.muxers)
            .field("early_muxer", &self.early_muxer)
            .field("optimistic", &self.optimistic)
            .finish_non_exhaustive()
    }
}

/// What an upgrade reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// multistream-select agreed on the security protocol (the dialer reports it when the
    /// listener's echo arrives, even if it started the handshake optimistically).
    SecurityAgreed(SecurityProtocol),
    /// The remote proved its identity in the handshake.
    RemoteIdentified {
        /// Who the remote proved to be.
        peer_id: PeerId,
    },
    /// The upgrade is complete: take the result with `into_upgraded`.
    Complete,
}

/// How the muxer was agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuxerSelection {
    /// Inside the security handshake (the Noise extension or TLS ALPN).
    Early,
    /// By multistream-select over the secured channel.
    Multistream,
    /// No muxer was configured.
    None,
}

/// A finished upgrade.
#[derive(Debug)]
pub struct Upgraded {
    /// The remote's proven PeerId.
    pub remote_peer_id: PeerId,
    /// The security protocol agreed.
    pub security: SecurityProtocol,
    /// The stream muxer agreed, if muxers were configured.
    pub muxer: Option<String>,
    /// How the muxer was agreed.
    pub muxer_selection: MuxerSelection,
    /// The secured channel: bytes for the muxer, in and out. Plaintext that arrived
    /// during the upgrade waits in it for [`SecureChannel::read`]; output the upgrade
    /// did not hand out yet comes first from [`SecureChannel::poll_transmit`].
    pub channel: SecureChannel,
}
