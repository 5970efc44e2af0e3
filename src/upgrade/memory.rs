//! What each peer accepted last time, so that the next dial proposes exactly that, alone
//! and lazily: one round trip, whatever lists the configuration offers.
//!
//! A [`PeerMemory`] is a plain value owned by the caller (no global state): a bounded
//! least-recently-used table from PeerId to the [`Remembered`] choice. The dialer reads
//! it when it starts ([`Dialer::with_memory`](super::Dialer::with_memory)); the caller
//! writes it from the result it already gets ([`PeerMemory::remember`]) and forgets an
//! entry the peer no longer honours ([`PeerMemory::observe`] does both from the outcome).

use alloc::collections::BTreeMap;
use alloc::string::String;

use super::{Error, MuxerSelection, SecurityProtocol, Upgraded};
use crate::identity::PeerId;

/// Peers remembered by default: a few hundred bytes each.
pub const DEFAULT_PEER_MEMORY_CAPACITY: usize = 1024;

/// What one peer agreed to last time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// The security protocol it accepted.
    pub security: SecurityProtocol,
    /// The muxer it accepted, if any was configured.
    pub muxer: Option<String>,
    /// How: inside the handshake (then the handshake carries our list again, for free)
    /// or by multistream-select (then the muxer is proposed alone, lazily).
    pub muxer_selection: MuxerSelection,
}

/// A bounded LRU table of [`Remembered`] choices, keyed by PeerId.
#[derive(Debug, Clone)]
pub struct PeerMemory {
    capacity: usize,
    /// Each peer's choice and the tick of its last use.
    entries: BTreeMap<PeerId, (u64, Remembered)>,
    /// The same entries by last use, oldest first: what eviction takes.
    by_use: BTreeMap<u64, PeerId>,
    tick: u64,
}

impl Default for PeerMemory {
    fn default() -> Self {
        Self::new(DEFAULT_PEER_MEMORY_CAPACITY)
    }
}

impl PeerMemory {
    /// An empty memory for at most `capacity` peers (0 remembers nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: BTreeMap::new(),
            by_use: BTreeMap::new(),
            tick: 0,
        }
    }

    /// The most peers it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Peers remembered now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What `peer` accepted last time, without touching its place in the LRU order.
    pub fn get(&self, peer: &PeerId) -> Option<&Remembered> {
        self.entries.get(peer).map(|(_, r)| r)
    }

    /// What `peer` accepted last time, marked as just used (a dial is about to use it).
    pub fn recall(&mut self, peer: &PeerId) -> Option<Remembered> {
        let tick = self.next_tick();
        let (used, remembered) = self.entries.get_mut(peer)?;
        self.by_use.remove(used);
        *used = tick;
        self.by_use.insert(tick, *peer);
        Some(remembered.clone())
    }

    /// Remembers what `peer` accepted, evicting the least recently used peer when full.
    pub fn insert(&mut self, peer: PeerId, remembered: Remembered) {
        if self.capacity == 0 {
            return;
        }
        self.forget(&peer);
        while self.entries.len() >= self.capacity {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        let tick = self.next_tick();
        self.by_use.insert(tick, peer);
        self.entries.insert(peer, (tick, remembered));
    }

    /// Remembers the choices of a finished upgrade.
    pub fn remember(&mut self, upgraded: &Upgraded) {
        self.insert(
            upgraded.remote_peer_id,
            Remembered {
                security: upgraded.security,
                muxer: upgraded.muxer.clone(),
                muxer_selection: upgraded.muxer_selection,
            },
        );
    }

    /// Forgets `peer`; returns whether it was remembered.
    pub fn forget(&mut self, peer: &PeerId) -> bool {
        match self.entries.remove(peer) {
            Some((used, _)) => {
                self.by_use.remove(&used);
                true
            }
            None => false,
        }
    }

    /// Updates the memory from the outcome of a dial to `peer`: a success is remembered,
    /// a refusal of the remembered choice ([`Error::RememberedProtocolRefused`]) forgets
    /// it. Other failures leave the memory alone (a network error says nothing about what
    /// the peer speaks).
    pub fn observe(&mut self, peer: &PeerId, outcome: Result<&Upgraded, &Error>) {
        match outcome {
            Ok(upgraded) => self.remember(upgraded),
            Err(e) if e.is_stale_memory() => {
                self.forget(peer);
            }
            Err(_) => {}
        }
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Keypair;

    fn peer(n: u8) -> PeerId {
        let mut seed = [n; 32];
        let key = Keypair::Ed25519(crate::identity::ed25519::Keypair::from_seed(&mut seed));
        key.peer_id()
    }

    fn noise() -> Remembered {
        Remembered {
            security: SecurityProtocol::ALL[0],
            muxer: Some("/yamux/1.0.0".into()),
            muxer_selection: MuxerSelection::Multistream,
        }
    }

    #[test]
    fn evicts_the_least_recently_used_peer() {
        let mut m = PeerMemory::new(2);
        m.insert(peer(1), noise());
        m.insert(peer(2), noise());
        // using 1 makes 2 the oldest
        assert!(m.recall(&peer(1)).is_some());
        m.insert(peer(3), noise());
        assert_eq!(m.len(), 2);
        assert!(m.get(&peer(1)).is_some());
        assert!(m.get(&peer(2)).is_none());
        assert!(m.get(&peer(3)).is_some());
        assert_eq!(m.by_use.len(), 2);
    }

    #[test]
    fn reinserting_replaces_and_forget_removes() {
        let mut m = PeerMemory::new(4);
        m.insert(peer(1), noise());
        let mut other = noise();
        other.muxer = None;
        m.insert(peer(1), other.clone());
        assert_eq!(m.len(), 1);
        assert_eq!(m.get(&peer(1)), Some(&other));
        assert!(m.forget(&peer(1)));
        assert!(!m.forget(&peer(1)));
        assert!(m.is_empty() && m.by_use.is_empty());
    }

    #[test]
    fn capacity_zero_remembers_nothing() {
        let mut m = PeerMemory::new(0);
        m.insert(peer(1), noise());
        assert!(m.is_empty());
        assert_eq!(
            PeerMemory::default().capacity(),
            DEFAULT_PEER_MEMORY_CAPACITY
        );
    }

    #[test]
    fn stays_bounded_under_many_peers() {
        let mut m = PeerMemory::new(8);
        for n in 0..=255u8 {
            m.insert(peer(n), noise());
            assert!(m.len() <= 8);
            assert_eq!(m.len(), m.by_use.len());
        }
        // the last eight are the ones kept
        for n in 248..=255u8 {
            assert!(m.get(&peer(n)).is_some());
        }
    }
}
