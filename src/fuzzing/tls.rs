//! Fuzz bodies for TLS: the certificate check, and the handshake machines with fixed
//! identities, certificates and time, so everything p2psec decides replays. rustls draws
//! its own randoms and key shares, so the recorded flights the handshake bodies can start
//! from are realistic records, not a replayable conversation: the first encrypted record
//! after them never opens. The handshakes are driven by [`Run`]; what must hold besides
//! the call contract: whole records only are consumed, no input completes the handshake
//! or identifies the peer, and no peer causes a local error.

use super::drive::{exchange, finish, pieces, Rules, Run};
use super::TestRng;
use crate::identity::{KeyType, Keypair, PeerId};
use crate::machine::Incomplete;
use crate::tls::{
    Client, Config, Error, Event, Server, Session, MAX_RECORD_BODY_LEN, RECORD_HEADER_LEN,
};
use crate::Machine;
use alloc::vec::Vec;
use std::sync::OnceLock;

/// The fixtures' clock: 2025-06-15 (Unix seconds), inside the spec vectors' window
/// (1975..4096).
const NOW: u64 = 1_750_000_000;
/// TLS content type `application_data` (RFC 8446 §5.1): every record after the
/// ServerHello is encrypted under it.
const APPLICATION_DATA: u8 = 23;
/// No handshake sends more. Measured: a ClientHello with the hybrid X25519MLKEM768 key
/// share is 1440 bytes, the server's flight 1867 (its ServerHello alone 1215); a
/// HelloRetryRequest makes the client send a second ClientHello; then one alert.
const MAX_HANDSHAKE_OUTPUT: usize = 8 * 1024;

/// A TLS certificate: any bytes are verified at a fixed time without panicking; one that
/// passes proves the PeerId of the host key it carries, and its key checks handshake
/// signatures without panicking either.
pub fn tls_certificate(data: &[u8]) {
    use crate::tls::certificate;
    if let Ok(verified) = certificate::verify(data, NOW) {
        assert_eq!(verified.public_key.to_peer_id(), verified.peer_id);
        if let Some(scheme) = verified.signature_algorithm.tls13_scheme() {
            let _ = certificate::verify_tls13_signature(&verified, scheme, data, data);
        }
    }
    assert!(certificate::verify_chain(&[data, data], NOW, None).is_err());
}

/// Both configurations and the flights of one real handshake between them.
pub(super) struct Fixtures {
    client: Config,
    server: Config,
    server_id: PeerId,
    /// The client's first flight: its ClientHello.
    client_hello: Vec<u8>,
    /// The server's answer: ServerHello and ChangeCipherSpec in the clear, then the
    /// encrypted EncryptedExtensions .. Finished.
    server_flight: Vec<u8>,
    /// The client's second flight: ChangeCipherSpec, then its encrypted Certificate,
    /// CertificateVerify and Finished.
    client_finish: Vec<u8>,
}

fn config(seed: u64, key_type: KeyType) -> (Config, PeerId) {
    let mut rng = TestRng(seed);
    let id = match Keypair::generate(key_type, &mut rng) {
        Ok(id) => id,
        Err(e) => panic!("fixture identity: {e:?}"),
    };
    match Config::new(&id, NOW, &mut rng) {
        Ok(c) => (c.with_stream_muxers(["/yamux/1.0.0"]), id.peer_id()),
        Err(e) => panic!("fixture config: {e:?}"),
    }
}

pub(super) fn new_client(f: &Fixtures) -> Client {
    match Client::new(&f.client, Some(f.server_id), NOW) {
        Ok(c) => c,
        Err(e) => panic!("fixture client: {e:?}"),
    }
}

pub(super) fn new_server(f: &Fixtures) -> Server {
    match Server::new(&f.server, NOW) {
        Ok(s) => s,
        Err(e) => panic!("fixture server: {e:?}"),
    }
}

fn make_fixtures() -> Fixtures {
    let (client, _) = config(0x3001, KeyType::Ed25519);
    let (server, server_id) = config(0x3002, KeyType::Secp256k1);
    let mut f = Fixtures {
        client,
        server,
        server_id,
        client_hello: Vec::new(),
        server_flight: Vec::new(),
        client_finish: Vec::new(),
    };
    let (mut c, mut s) = (new_client(&f), new_server(&f));
    [f.client_hello, f.server_flight, f.client_finish] = exchange(&mut c, &mut s);
    assert!(c.is_complete() && s.is_complete());
    f
}

/// Made once per process: certificates cost signatures, the flights a handshake.
pub(super) fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(make_fixtures)
}

/// The length (header included) of the whole record at the start of `bytes`, if one is
/// there.
fn whole_record(bytes: &[u8]) -> Option<usize> {
    let &[_, _, _, hi, lo] = bytes.get(..RECORD_HEADER_LEN)? else {
        return None;
    };
    let len = RECORD_HEADER_LEN + usize::from(u16::from_be_bytes([hi, lo]));
    (len <= bytes.len()).then_some(len)
}

/// The records of `flight` before its first encrypted one (what a peer can still act
/// on in a handshake whose keys differ).
fn cleartext_head(flight: &[u8]) -> &[u8] {
    let mut at = 0;
    while let Some(rest) = flight.get(at..) {
        match (rest.first(), whole_record(rest)) {
            (Some(&ty), Some(len)) if ty != APPLICATION_DATA => at += len,
            _ => break,
        }
    }
    flight.get(..at).unwrap_or_default()
}

/// The handshake's rules, over the accessor both machines have.
///
/// No input can complete the handshake or identify the peer: both need records keyed by
/// this handshake's fresh key exchange, and a Finished and a CertificateVerify over its
/// fresh randoms, which no fixed input can know. One that did would be a forgery.
struct Handshake<M> {
    remote_peer_id: fn(&M) -> Option<PeerId>,
}

impl<M: Machine<Event = Event, Error = Error>> Rules<M> for Handshake<M> {
    fn max_output(&self) -> usize {
        MAX_HANDSHAKE_OUTPUT
    }

    fn consumed(&mut self, m: &M, consumed: &[u8], rest: &[u8]) {
        // whole records only
        let mut at = 0;
        while at < consumed.len() {
            match whole_record(consumed.get(at..).unwrap_or_default()) {
                Some(len) if len <= RECORD_HEADER_LEN + MAX_RECORD_BODY_LEN => at += len,
                other => panic!("consumed past a record boundary: {other:?}"),
            }
        }
        assert_eq!(at, consumed.len(), "consumed part of a record");
        assert!(!m.is_complete(), "completed on unkeyed bytes");
        assert_eq!(whole_record(rest), None, "a whole record left unread");
        assert_eq!(
            (self.remote_peer_id)(m),
            None,
            "identified from unkeyed bytes"
        );
    }

    fn failed(&mut self, m: &M, e: &Error) {
        // a failure of our own side, which no input from the peer may cause
        let local = matches!(
            e,
            Error::ApiMisuse(_)
                | Error::LocalCertificateOutdated { .. }
                | Error::CertificateGeneration { .. }
                | Error::Signing(_)
        );
        assert!(!local, "a peer caused a local error: {e:?}");
        assert_eq!(
            (self.remote_peer_id)(m),
            None,
            "identified from unkeyed bytes"
        );
    }

    fn event(&mut self, _: &M, event: Event) {
        panic!("an event from unkeyed bytes: {event:?}");
    }
}

/// Feeds `prefix` (recorded records) and then the chunks of `data` (see [`Run::feed`]);
/// the machine must not hand over a session.
fn drive<M: Machine<Event = Event, Error = Error>>(
    m: M,
    remote_peer_id: fn(&M) -> Option<PeerId>,
    into_session: fn(M) -> Result<Session, Incomplete<M>>,
    prefix: &[u8],
    data: &[u8],
) {
    let mut run = Run::new(m);
    run.feed(&mut Handshake { remote_peer_id }, &mut pieces(prefix, data));
    let complete = run.machine.is_complete();
    let misuse = |e: &Error| matches!(e, Error::ApiMisuse(_));
    let handed_over = into_session(run.machine).map_err(Incomplete::into_error);
    if finish(handed_over, run.failed, complete, misuse).is_some() {
        panic!("a session from unkeyed bytes");
    }
}

/// Fuzz body: our TLS client fed `data` as the server's bytes, in chunks. Bit 7 of the
/// first byte first feeds the cleartext head of a real server flight (its ServerHello
/// and ChangeCipherSpec, answering another ClientHello of the same client
/// configuration), so the rest arrives where the encrypted records are due.
pub fn tls_client(data: &[u8]) {
    let f = fixtures();
    let flags = data.first().copied().unwrap_or(0);
    let prefix: &[u8] = if flags & 0x80 != 0 {
        cleartext_head(&f.server_flight)
    } else {
        &[]
    };
    let (peer, session) = (Client::remote_peer_id, Client::into_session);
    drive(new_client(f), peer, session, prefix, data);
}

/// Fuzz body: our TLS server fed `data` as the client's bytes, in chunks. Bit 7 of the
/// first byte first feeds a real ClientHello (made by our client at the same time), so
/// the rest arrives where the client's second flight is due; bit 6 then also the
/// cleartext head of that flight (its ChangeCipherSpec).
pub fn tls_server(data: &[u8]) {
    let f = fixtures();
    let flags = data.first().copied().unwrap_or(0);
    let mut prefix = Vec::new();
    if flags & 0x80 != 0 {
        prefix.extend_from_slice(&f.client_hello);
        if flags & 0x40 != 0 {
            prefix.extend_from_slice(cleartext_head(&f.client_finish));
        }
    }
    let (peer, session) = (Server::remote_peer_id, Server::into_session);
    drive(new_server(f), peer, session, &prefix, data);
}

#[cfg(test)]
mod tests {
    use super::super::drive::holds;
    use super::*;
    use crate::fuzzing::{mutate, Xorshift};
    use crate::tls::certificate::Certificate;
    use alloc::vec;

    #[test]
    fn tls_body_survives_mutated_certificates() {
        let mut rng = TestRng(9);
        let id = Keypair::generate(KeyType::Secp256k1, &mut rng).unwrap();
        let cert = Certificate::generate(&id, NOW, &mut rng).unwrap();
        tls_certificate(cert.der());
        let mut rng = Xorshift(0x2545_f491_4f6c_dd1d);
        for _ in 0..300 {
            let mut v = cert.der().to_vec();
            mutate(&mut v, &mut rng);
            tls_certificate(&v);
        }
    }

    fn records(flight: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let mut rest = flight;
        while let Some(len) = whole_record(rest) {
            let (head, tail) = rest.split_at(len);
            out.push(head);
            rest = tail;
        }
        assert!(rest.is_empty(), "a flight of whole records");
        out
    }

    /// Deterministic inputs: the fixture flights and their records, record headers
    /// of every content type, flipped bytes and noise.
    fn inputs(count: usize, seed: u64) -> impl Iterator<Item = Vec<u8>> {
        let f = fixtures();
        let mut pool: Vec<&[u8]> = vec![&f.client_hello, &f.server_flight, &f.client_finish];
        for flight in [&f.client_hello, &f.server_flight, &f.client_finish] {
            pool.extend(records(flight));
        }
        let mut rng = Xorshift(seed | 1);
        (0..count).map(move |_| {
            let mut data = vec![rng.next() as u8];
            for _ in 0..rng.next() % 5 {
                // change_cipher_spec, alert, handshake, application data, or any type
                let ty = [20u8, 21, 22, 23, rng.next() as u8][(rng.next() % 5) as usize];
                match rng.next() % 7 {
                    0 | 1 => {
                        let i = (rng.next() as usize) % pool.len();
                        data.extend_from_slice(pool.get(i).copied().unwrap_or_default());
                    }
                    2 | 3 => {
                        // a well-framed record with a random body
                        let len = (rng.next() % 80) as u16;
                        data.extend_from_slice(&[ty, 3, 3]);
                        data.extend_from_slice(&len.to_be_bytes());
                        data.extend((0..len).map(|_| rng.next() as u8));
                    }
                    4 => {
                        // a header alone, up to just past the size limit
                        let len = (rng.next() % 0x4200) as u16;
                        data.extend_from_slice(&[ty, 3, 3]);
                        data.extend_from_slice(&len.to_be_bytes());
                    }
                    _ => data.extend((0..rng.next() % 60).map(|_| rng.next() as u8)),
                }
            }
            edit(&mut data, &mut rng, 1);
            data
        })
    }

    /// Up to three random edits (bit flips, truncations, insertions) after `keep`.
    fn edit(data: &mut Vec<u8>, rng: &mut Xorshift, keep: usize) {
        for _ in 0..rng.next() % 4 {
            if data.len() <= keep {
                data.push(rng.next() as u8);
            }
            let at = keep + (rng.next() as usize) % (data.len() - keep);
            match rng.next() % 4 {
                0 | 1 => data[at] ^= 1 << (rng.next() % 8),
                2 => data.truncate(at + 1),
                _ => data.insert(at, rng.next() as u8),
            }
        }
    }

    /// `flight` as a body's input without a prefix, after a flag byte, with edits.
    fn mutated_flights<'a>(
        flight: &'a [u8],
        count: usize,
        seed: u64,
    ) -> impl Iterator<Item = Vec<u8>> + 'a {
        let mut rng = Xorshift(seed | 1);
        (0..count).map(move |_| {
            let mut data = vec![(rng.next() as u8) & 0x3f];
            data.extend_from_slice(flight);
            edit(&mut data, &mut rng, 1);
            data
        })
    }

    #[test]
    fn client_body_holds_on_pseudo_random_inputs() {
        let head = cleartext_head(&fixtures().server_flight);
        let generated = inputs(300, 0x9e37_79b9_7f4a_7c15).chain(mutated_flights(
            head,
            150,
            0x5851_f42d_4c95_7f2d,
        ));
        holds(tls_client, &[&[], &[0x80]], generated);
    }

    #[test]
    fn server_body_holds_on_pseudo_random_inputs() {
        let hello = &fixtures().client_hello;
        let generated = inputs(300, 0x2545_f491_4f6c_dd1d).chain(mutated_flights(
            hello,
            150,
            0x1405_7b7e_f767_814f,
        ));
        holds(tls_server, &[&[], &[0x80], &[0xc0]], generated);
    }

    #[test]
    fn recorded_flights_steer_the_machines() {
        // the prefixes are what a real peer sends: the server answers the ClientHello
        // with a whole flight; a new client takes the ServerHello and then refuses the
        // first encrypted record, which another key exchange keyed
        let f = fixtures();
        let mut s = new_server(f);
        assert_eq!(s.handle_input(&f.client_hello), Ok(f.client_hello.len()));
        let mut out = Vec::new();
        assert!(s.poll_transmit(&mut out) > RECORD_HEADER_LEN);
        assert_eq!(out.first(), Some(&22), "a handshake record first");
        let head = cleartext_head(&f.server_flight);
        assert!(!head.is_empty() && head.len() < f.server_flight.len());
        let mut c = new_client(f);
        assert_eq!(c.handle_input(head), Ok(head.len()));
        assert_eq!(
            c.handle_input(&f.server_flight[head.len()..]),
            Err(Error::RecordAuthentication)
        );
        let head = cleartext_head(&f.client_finish);
        assert!(head.len() < f.client_finish.len());
        let both = [f.client_hello.as_slice(), &f.client_finish].concat();
        assert_eq!(
            new_server(f).handle_input(&both),
            Err(Error::RecordAuthentication)
        );
    }
}
