//! Peer certificates that passed verification, remembered across handshakes.
//!
//! A libp2p node keeps its certificate for many connections (rust-libp2p for the life of
//! its config, p2psec for up to a year), so the same peer presents the same bytes again
//! when it reconnects. Checking a certificate costs two signature verifications (the
//! self-signature and the identity's signature in the extension, about 60% of one side's
//! verification work in a handshake when measured); the result depends only on the bytes,
//! except for the rules that involve the time and the dialed PeerId. So a certificate seen
//! before, byte for byte, is answered from here: its validity window is checked at the new
//! time and the expected PeerId again, nothing else. The handshake's own proof, the
//! `CertificateVerify` signature under the certificate key, is never cached: a peer that
//! replays someone else's certificate still fails without its key.
//!
//! Entries are keyed by the SHA-256 of the DER (the self-signature already relies on
//! SHA-256's collision resistance), hold only what verification proved, and are bounded
//! by count ([`VERIFIED_CACHE_CAPACITY`], least recently used out first). Only certificates that
//! passed every check enter. Lookups and inserts take a short lock; verification itself
//! runs outside it, so concurrent handshakes never wait for each other's signatures.

use alloc::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::backend::digest;
use super::certificate::{self, Validity, Verified};
use super::error::Error;
use crate::identity::{KeyPolicy, PeerId};

/// How many verified peer certificates a [`super::Config`] remembers by default: 64. An
/// entry holds a PeerId, a host key and a certificate key (a few hundred bytes, up to
/// about 1.3 KiB with an RSA-8192 host key), so the cache stays below 100 KiB at worst.
/// A node with more peers than this reconnecting in turn gains little from it but loses
/// nothing: a miss costs one SHA-256 over the certificate.
pub const VERIFIED_CACHE_CAPACITY: usize = 64;

const DIGEST_LEN: usize = 32;

struct Entry {
    digest: [u8; DIGEST_LEN],
    verified: Verified,
    validity: Validity,
}

/// The cache; shared by every handshake of one [`super::Config`] and its clones.
pub(crate) struct VerifiedCache {
    capacity: usize,
    /// The host-key rules every certificate in it passed (one per cache: a config that
    /// changes them starts a new cache).
    policy: KeyPolicy,
    /// Most recently used last.
    entries: Mutex<VecDeque<Entry>>,
}

impl VerifiedCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self::with_policy(capacity, KeyPolicy::STRICT)
    }

    pub(crate) fn with_policy(capacity: usize, policy: KeyPolicy) -> Self {
        Self {
            capacity,
            policy,
            entries: Mutex::new(VecDeque::new()),
        }
    }

    pub(crate) fn policy(&self) -> KeyPolicy {
        self.policy
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    fn entries(&self) -> MutexGuard<'_, VecDeque<Entry>> {
        // every change is one push or one removal: consistent even after a panic elsewhere
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many certificates are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries().len()
    }

    /// [`certificate::verify_chain`], with the same result for every input: a certificate
    /// that passed before, byte for byte, is checked again only against `now_unix` and
    /// `expected`.
    pub(crate) fn verify_chain(
        &self,
        chain: &[&[u8]],
        now_unix: u64,
        expected: Option<PeerId>,
    ) -> Result<Verified, Error> {
        if self.capacity == 0 {
            return certificate::verify_chain_with(chain, now_unix, expected, self.policy);
        }
        let [der] = chain else {
            return Err(Error::ChainLength { len: chain.len() });
        };
        let mut digest = [0; DIGEST_LEN];
        digest.copy_from_slice(digest::digest(&digest::SHA256, der).as_ref());

        let hit = {
            let mut entries = self.entries();
            match entries.iter().position(|e| e.digest == digest) {
                Some(at) => entries.remove(at).map(|entry| {
                    let found = (entry.verified.clone(), entry.validity);
                    entries.push_back(entry);
                    found
                }),
                None => None,
            }
        };
        let verified = match hit {
            Some((verified, validity)) => {
                validity.check(now_unix)?;
                verified
            }
            None => {
                let (verified, validity) =
                    certificate::verify_with_validity(der, now_unix, self.policy)?;
                let mut entries = self.entries();
                // another handshake may have verified the same certificate meanwhile
                if !entries.iter().any(|e| e.digest == digest) {
                    if entries.len() >= self.capacity {
                        entries.pop_front();
                    }
                    entries.push_back(Entry {
                        digest,
                        verified: verified.clone(),
                        validity,
                    });
                }
                verified
            }
        };
        certificate::check_expected(verified, expected)
    }
}

impl core::fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("capacity", &self.capacity)
            .field("len", &self.entries().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;
    use crate::identity::{KeyType, Keypair};
    use crate::tls::certificate::Certificate;

    use crate::fuzzing::TestRng;

    const NOW: u64 = 1_750_000_000;

    fn certificate(seed: u64) -> (Keypair, Certificate) {
        let mut rng = TestRng(seed);
        let id = Keypair::generate(KeyType::Ed25519, &mut rng).unwrap();
        let cert = Certificate::generate(&id, NOW, &mut rng).unwrap();
        (id, cert)
    }

    /// The cache answers exactly as `verify_chain` does, on first sight and after.
    fn same_as_verify_chain(
        cache: &VerifiedCache,
        chain: &[&[u8]],
        now: u64,
        expected: Option<PeerId>,
    ) {
        assert_eq!(
            cache.verify_chain(chain, now, expected),
            certificate::verify_chain(chain, now, expected)
        );
    }

    #[test]
    fn answers_like_verify_chain_and_remembers_only_what_passed() {
        let (id, cert) = certificate(1);
        let (other, _) = certificate(2);
        let cache = VerifiedCache::new(4);
        let der = cert.der();
        let (nb, na) = (cert.not_before(), cert.not_after());
        for _ in 0..2 {
            same_as_verify_chain(&cache, &[der], NOW, Some(id.peer_id()));
            assert_eq!(cache.len(), 1);
            // on a hit the time and the expected PeerId are checked again
            for now in [nb - 1, nb, na, na + 1, 0, u64::MAX] {
                same_as_verify_chain(&cache, &[der], now, None);
            }
            same_as_verify_chain(&cache, &[der], NOW, Some(other.peer_id()));
            same_as_verify_chain(&cache, &[der, der], NOW, None);
            same_as_verify_chain(&cache, &[], NOW, None);
        }
        assert_eq!(cache.len(), 1);
        // refused certificates never enter
        let mut bad = der.to_vec();
        if let Some(last) = bad.last_mut() {
            *last ^= 1;
        }
        for _ in 0..2 {
            same_as_verify_chain(&cache, &[&bad], NOW, None);
            same_as_verify_chain(&cache, &[&der[..der.len() - 1]], NOW, None);
        }
        assert_eq!(cache.len(), 1);
        // a certificate first seen outside its validity is not remembered either
        let (_, late) = certificate(3);
        same_as_verify_chain(&cache, &[late.der()], late.not_after() + 1, None);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn holds_at_most_its_capacity_least_recently_used_out() {
        let certs: Vec<_> = (10..15).map(|seed| certificate(seed).1).collect();
        let cache = VerifiedCache::new(3);
        for cert in &certs[..3] {
            cache.verify_chain(&[cert.der()], NOW, None).unwrap();
        }
        // touch the oldest, then add two: the two untouched go
        cache.verify_chain(&[certs[0].der()], NOW, None).unwrap();
        for cert in &certs[3..] {
            cache.verify_chain(&[cert.der()], NOW, None).unwrap();
        }
        assert_eq!(cache.len(), 3);
        let digests: Vec<_> = cache.entries().iter().map(|e| e.digest).collect();
        let digest_of = |c: &Certificate| {
            let mut d = [0; DIGEST_LEN];
            d.copy_from_slice(digest::digest(&digest::SHA256, c.der()).as_ref());
            d
        };
        assert_eq!(
            digests,
            [
                digest_of(&certs[0]),
                digest_of(&certs[3]),
                digest_of(&certs[4])
            ]
        );

        let off = VerifiedCache::new(0);
        same_as_verify_chain(&off, &[certs[0].der()], NOW, None);
        assert_eq!(off.len(), 0);
    }

    #[test]
    fn configs_stay_send_and_sync() {
        fn shared<T: Send + Sync>() {}
        shared::<VerifiedCache>();
        shared::<crate::tls::Config>();
        shared::<Certificate>();
    }

    #[test]
    fn handshakes_of_one_config_share_the_cache() {
        use crate::tls::{Client, Config, Server};
        let mut rng = TestRng(20);
        let dialer = Keypair::generate(KeyType::Ed25519, &mut rng).unwrap();
        let listener = Keypair::generate(KeyType::Ed25519, &mut rng).unwrap();
        let cc = Config::new(&dialer, NOW, &mut rng).unwrap();
        let sc = Config::new(&listener, NOW, &mut rng).unwrap();
        let uncached = cc.clone().with_verified_certificate_cache(0);
        assert_eq!(
            cc.verified_certificate_cache_capacity(),
            VERIFIED_CACHE_CAPACITY
        );
        assert_eq!(uncached.verified_certificate_cache_capacity(), 0);
        for (round, client_config) in [&cc, &cc, &uncached, &cc].into_iter().enumerate() {
            let mut c = Client::new(client_config, Some(listener.peer_id()), NOW).unwrap();
            let mut s = Server::new(&sc, NOW).unwrap();
            let (mut to_s, mut to_c) = (Vec::new(), Vec::new());
            while !(c.is_complete() && s.is_complete()) {
                let _ = c.poll_transmit(&mut to_s);
                let n = s.handle_input(&to_s).unwrap();
                to_s.drain(..n);
                let _ = s.poll_transmit(&mut to_c);
                let n = c.handle_input(&to_c).unwrap();
                to_c.drain(..n);
            }
            assert_eq!(
                c.remote_peer_id(),
                Some(listener.peer_id()),
                "round {round}"
            );
            assert_eq!(s.remote_peer_id(), Some(dialer.peer_id()), "round {round}");
            assert_eq!(cc.verified_cache_len(), 1);
            assert_eq!(sc.verified_cache_len(), 1);
            assert_eq!(uncached.verified_cache_len(), 0);
        }
        // the dialed PeerId is checked on a hit too
        let mut c = Client::new(&cc, Some(dialer.peer_id()), NOW).unwrap();
        let mut s = Server::new(&sc, NOW).unwrap();
        let (mut to_s, mut to_c) = (Vec::new(), Vec::new());
        let mut failed = None;
        for _ in 0..4 {
            let _ = c.poll_transmit(&mut to_s);
            let n = s.handle_input(&to_s).unwrap_or(to_s.len());
            to_s.drain(..n);
            let _ = s.poll_transmit(&mut to_c);
            match c.handle_input(&to_c) {
                Ok(n) => {
                    to_c.drain(..n);
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        assert!(
            matches!(failed, Some(Error::UnexpectedPeer { .. })),
            "{failed:?}"
        );
    }
}
