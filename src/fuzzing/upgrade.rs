//! Fuzz bodies for the upgrade machines: fixed identities, certificates, time and
//! ephemeral seeds. Our side of a Noise upgrade then replays byte for byte, so a recorded
//! Noise conversation takes a fresh machine to completion and the fuzzer can start behind
//! it, in the channel; rustls draws its own randoms, so with TLS only the dialer's first
//! flight is a realistic prefix (for the listener). The upgrades are driven by [`Run`];
//! what must hold besides the call contract: each event at most once, only the fixture
//! peer identified before `Complete`, no peer causes a caller error, and the channel
//! takes the rest without panicking.

use super::drive::{exchange, finish, pieces, transmit, Identification, Rules, Run};
use super::TestRng;
use crate::identity::{KeyType, Keypair, PeerId};
use crate::upgrade::{
    Config, Dialer, Error, Event, Listener, SecureChannel, SecurityProtocol, Upgraded,
};
use crate::Machine;
use alloc::vec::Vec;
use std::sync::OnceLock;

/// The fixtures' clock: 2025-06-15 (Unix seconds).
const NOW: u64 = 1_750_000_000;
const DIALER_EPHEMERAL_SEED: u64 = 5;
const LISTENER_EPHEMERAL_SEED: u64 = 6;
/// No upgrade sends more before it completes: the multistream messages (a few dozen
/// bytes each), a TLS handshake (at most 8 KiB, see the TLS bodies) or a Noise one (a
/// few hundred bytes), the muxer proposal or answer.
const MAX_UPGRADE_OUTPUT: usize = 16 * 1024;
/// The muxers the configurations offer (bit 4 of the flags adds mplex first).
const YAMUX: &str = "/yamux/1.0.0";
const MPLEX: &str = "/mplex/6.7.0";

/// Both configurations, and what each side sent in a recorded upgrade.
struct Fixtures {
    dialer: Config,
    listener: Config,
    dialer_id: PeerId,
    listener_id: PeerId,
    /// The recorded Noise upgrade's configurations: `/noise` only, optimistic, early
    /// muxer.
    noise_dialer: Config,
    noise_listener: Config,
    /// What the dialer sent in it: header, proposal and message 1, then message 3.
    noise_dialer_stream: Vec<u8>,
    /// What the listener sent: header, echo and message 2.
    noise_listener_stream: Vec<u8>,
    /// A `/tls/1.0.0`-only optimistic dialer's first flight: header, proposal,
    /// ClientHello.
    tls_first_flight: Vec<u8>,
}

fn config(seed: u64) -> (Config, PeerId) {
    let mut rng = TestRng(seed);
    // secp256k1: the cheapest signature to verify in unoptimized builds
    let id = match Keypair::generate(KeyType::Secp256k1, &mut rng) {
        Ok(id) => id,
        Err(e) => panic!("fixture identity: {e:?}"),
    };
    match Config::new(&id, NOW, &mut rng) {
        Ok(c) => (c, id.peer_id()),
        Err(e) => panic!("fixture config: {e:?}"),
    }
}

/// The configuration the flag bits pick: bits 0-1 the security list, bit 2 optimistic
/// negotiation, bit 3 early muxer negotiation, bit 4 a second muxer.
fn variant(base: &Config, flags: u8) -> Config {
    let security: &[SecurityProtocol] = match flags & 3 {
        0 => &[SecurityProtocol::Noise],
        1 => &[SecurityProtocol::Tls],
        2 => &[SecurityProtocol::Noise, SecurityProtocol::Tls],
        _ => &[SecurityProtocol::Tls, SecurityProtocol::Noise],
    };
    let muxers: &[&str] = if flags & 0x10 != 0 {
        &[MPLEX, YAMUX]
    } else {
        &[YAMUX]
    };
    let config = base
        .clone()
        .with_security(security.iter().copied())
        .and_then(|c| c.with_muxers(muxers.iter().copied()));
    match config {
        Ok(c) => c
            .with_optimistic_negotiation(flags & 4 != 0)
            .with_early_muxer_negotiation(flags & 8 != 0),
        Err(e) => panic!("fixture variant: {e:?}"),
    }
}

fn new_dialer(config: &Config, expected: Option<PeerId>) -> Dialer {
    match Dialer::new(config, expected, NOW, &mut TestRng(DIALER_EPHEMERAL_SEED)) {
        Ok(d) => d,
        Err(e) => panic!("fixture dialer: {e:?}"),
    }
}

/// A dialer whose peer memory remembers `peer` (bit 0: TLS, else Noise; bit 4: mplex,
/// else yamux; agreed by multistream-select), so it proposes that alone.
fn remembering_dialer(config: &Config, peer: PeerId, flags: u8) -> Dialer {
    let mut memory = crate::upgrade::PeerMemory::new(4);
    let security = if flags & 1 != 0 {
        SecurityProtocol::Tls
    } else {
        SecurityProtocol::Noise
    };
    let muxer = if flags & 0x10 != 0 { MPLEX } else { YAMUX };
    memory.insert(
        peer,
        crate::upgrade::Remembered {
            security,
            muxer: Some(muxer.into()),
            muxer_selection: crate::upgrade::MuxerSelection::Multistream,
        },
    );
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    rand_core::Rng::fill_bytes(&mut TestRng(DIALER_EPHEMERAL_SEED), &mut seed[..]);
    match Dialer::with_memory_and_seed(config, peer, NOW, &mut memory, seed) {
        Ok(d) => d,
        Err(e) => panic!("fixture dialer: {e:?}"),
    }
}

fn new_listener(config: &Config) -> Listener {
    match Listener::new(config, NOW, &mut TestRng(LISTENER_EPHEMERAL_SEED)) {
        Ok(l) => l,
        Err(e) => panic!("fixture listener: {e:?}"),
    }
}

fn make_fixtures() -> Fixtures {
    let (dialer, dialer_id) = config(0x5001);
    let (listener, listener_id) = config(0x5002);
    let noise = |c: &Config| variant(c, 0x0c);
    let (noise_dialer, noise_listener) = (noise(&dialer), noise(&listener));
    // the recorded upgrade, flight by flight
    let mut d = new_dialer(&noise_dialer, Some(listener_id));
    let mut l = new_listener(&noise_listener);
    let flights: [Vec<u8>; 8] = exchange(&mut d, &mut l);
    assert!(d.is_complete() && l.is_complete(), "the fixture upgrade");
    let (mut noise_dialer_stream, mut noise_listener_stream) = (Vec::new(), Vec::new());
    for pair in flights.chunks(2) {
        if let [ours, theirs] = pair {
            noise_dialer_stream.extend_from_slice(ours);
            noise_listener_stream.extend_from_slice(theirs);
        }
    }
    let mut tls_first_flight = Vec::new();
    transmit(
        &mut new_dialer(&variant(&dialer, 0x05), None),
        &mut tls_first_flight,
    );
    Fixtures {
        dialer,
        listener,
        dialer_id,
        listener_id,
        noise_dialer,
        noise_listener,
        noise_dialer_stream,
        noise_listener_stream,
        tls_first_flight,
    }
}

/// Made once per process: identities, certificates and a recorded upgrade.
fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(make_fixtures)
}

/// The upgrade's rules.
struct Upgrade {
    agreed: usize,
    identification: Identification,
}

impl<M: Machine<Event = Event, Error = Error>> Rules<M> for Upgrade {
    fn max_output(&self) -> usize {
        MAX_UPGRADE_OUTPUT
    }

    fn failed(&mut self, _: &M, e: &Error) {
        // a caller's mistake, which no input from the peer may cause
        let caller = matches!(
            e,
            Error::ApiMisuse(_)
                | Error::Noise(crate::noise::Error::ApiMisuse(_))
                | Error::Tls(crate::tls::Error::ApiMisuse(_))
        );
        assert!(!caller, "a peer caused a caller error: {e:?}");
    }

    fn event(&mut self, m: &M, event: Event) {
        match event {
            Event::SecurityAgreed(_) => {
                self.agreed += 1;
                assert!(self.agreed <= 1, "security agreed twice");
            }
            Event::RemoteIdentified { peer_id } => self.identification.identified(peer_id),
            Event::Complete => self.identification.completed(m.is_complete()),
        }
    }
}

/// Feeds `prefix` and then the chunks of `data` (see [`Run::feed`]); after completion
/// the rest goes to the channel. `replay` says the prefix is a whole recorded upgrade: it
/// must complete.
fn drive<M: Machine<Event = Event, Error = Error>>(
    m: M,
    into_upgraded: fn(M) -> Result<Upgraded, Error>,
    prefix: &[u8],
    data: &[u8],
    remote: PeerId,
    replay: bool,
) {
    let mut rules = Upgrade {
        agreed: 0,
        identification: Identification::new(remote),
    };
    let mut run = Run::new(m);
    let mut pieces = pieces(prefix, data);
    if replay {
        run.feed(&mut rules, &mut pieces.by_ref().take(1));
        assert!(
            run.machine.is_complete(),
            "the recorded upgrade did not complete"
        );
    }
    run.feed(&mut rules, &mut pieces);
    let complete = run.machine.is_complete();
    assert_eq!(
        complete,
        rules.identification.completed == 1,
        "Complete and is_complete disagree"
    );
    let misuse = |e: &Error| matches!(e, Error::ApiMisuse(_));
    let Some(upgraded) = finish(into_upgraded(run.machine), run.failed, complete, misuse) else {
        return;
    };
    assert_eq!(upgraded.remote_peer_id, remote);
    assert_eq!(upgraded.channel.remote_peer_id(), remote);
    channel(upgraded.channel, run.inbox, pieces);
}

/// The rest is the channel's: frames or records, a lazy muxer answer. Nothing may panic,
/// and an error repeats.
fn channel<'a>(
    mut channel: SecureChannel,
    mut inbox: Vec<u8>,
    pieces: impl Iterator<Item = &'a [u8]>,
) {
    let mut plain = [0u8; 4096];
    let mut failed: Option<Error> = None;
    for piece in pieces {
        if let Some(e) = &failed {
            assert_eq!(channel.handle_input(piece).as_ref(), Err(e));
            assert_eq!(channel.read(&mut plain).as_ref(), Err(e));
            continue;
        }
        inbox.extend_from_slice(piece);
        loop {
            let used = match channel.handle_input(&inbox) {
                Ok(n) => n,
                Err(e) => {
                    assert_eq!(channel.handle_input(&inbox).as_ref(), Err(&e));
                    failed = Some(e);
                    break;
                }
            };
            assert!(used <= inbox.len(), "consumed {used} of {}", inbox.len());
            inbox.drain(..used);
            let mut read = 0;
            loop {
                match channel.read(&mut plain) {
                    Ok(0) => break,
                    Ok(n) => read += n,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            if failed.is_some() || (used == 0 && read == 0) {
                break;
            }
        }
        let mut out = Vec::new();
        let _ = channel.poll_transmit(&mut out);
    }
}

/// Fuzz body: an upgrade dialer fed `data` as the listener's bytes, in chunks. The
/// first byte picks the configuration (`variant`'s bits, bit 5: expect the fixture
/// listener's PeerId, bit 6 with bit 5: dial through a peer memory that remembers it);
/// bit 7 instead first feeds the listener's side of the recorded Noise upgrade, so the
/// rest arrives in the channel.
pub fn upgrade_dialer(data: &[u8]) {
    let f = fixtures();
    let flags = data.first().copied().unwrap_or(0);
    let into = Dialer::into_upgraded;
    if flags & 0x80 != 0 {
        let d = new_dialer(&f.noise_dialer, Some(f.listener_id));
        drive(d, into, &f.noise_listener_stream, data, f.listener_id, true);
    } else {
        let expected = (flags & 0x20 != 0).then_some(f.listener_id);
        let config = variant(&f.dialer, flags);
        let d = match expected {
            Some(peer) if flags & 0x40 != 0 => remembering_dialer(&config, peer, flags),
            _ => new_dialer(&config, expected),
        };
        drive(d, into, &[], data, f.listener_id, false);
    }
}

/// Fuzz body: an upgrade listener fed `data` as the dialer's bytes, in chunks. The
/// first byte picks the configuration (`variant`'s bits); bit 7 instead first feeds
/// the dialer's side of the recorded Noise upgrade (the rest arrives in the channel),
/// bit 6 a TLS dialer's first flight (the rest arrives where its Finished is due).
pub fn upgrade_listener(data: &[u8]) {
    let f = fixtures();
    let flags = data.first().copied().unwrap_or(0);
    let into = Listener::into_upgraded;
    if flags & 0x80 != 0 {
        let l = new_listener(&f.noise_listener);
        drive(l, into, &f.noise_dialer_stream, data, f.dialer_id, true);
    } else if flags & 0x40 != 0 {
        let l = new_listener(&variant(&f.listener, flags));
        drive(l, into, &f.tls_first_flight, data, f.dialer_id, false);
    } else {
        let l = new_listener(&variant(&f.listener, flags));
        drive(l, into, &[], data, f.dialer_id, false);
    }
}
