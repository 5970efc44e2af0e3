//! Recorded TLS transcripts (vectors/tls/transcripts.json, described in
//! vectors/tls/README.md), replayed as far as TLS allows.
//!
//! rustls draws its randoms and key shares itself, so a handshake cannot be replayed byte
//! for byte. What does replay:
//! - our certificate, rebuilt from the recorded identity key, RNG seed and time, is the
//!   recorded DER byte for byte;
//! - certificate verification: each recorded certificate, verified at the recorded time,
//!   proves the recorded PeerId (for libp2p-tls's: its own identity), the one the other
//!   side reported;
//! - the flights: whole TLS records; the client's first is a ClientHello offering TLS 1.3,
//!   the recorded ALPN list with `libp2p` last and no SNI; the ServerHello picks the
//!   recorded cipher suite and group;
//! - with libp2p-tls's key log (its rustls logged the handshake traffic secrets): the
//!   encrypted handshake opens, carries the recorded certificates and ALPN, both
//!   CertificateVerify signatures verify under the recorded certificates with our verifier,
//!   and both Finished MACs match;
//! - a new machine of ours fed the peer's recorded flights takes the cleartext hello and
//!   refuses the first encrypted record with `Error::RecordAuthentication` (its fresh key
//!   exchange gives other keys), never completing.
//!
//! The transcripts are written by the ignored test `record`:
//! `cargo test --features tls --test tls_vectors -- --ignored record`. Every recording
//! differs (randoms, key shares, libp2p-tls's certificates); our certificates do not.
#![cfg(feature = "tls")]

#[path = "common/tls_pair.rs"]
mod tls_pair;

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::{aead, digest, hkdf, hmac};
use p2psec::identity::{KeyType, Keypair, PeerId, PublicKey};
use p2psec::tls::{certificate, Certificate, Client, Config, Error, Server};
use serde::{Deserialize, Serialize};
use tls_pair::{keypair, Peer, TestRng};

const FILE: &str = "transcripts.json";
const US: &str = "p2psec";
const THEM: &str = "libp2p-tls 0.7";

// ---- the file format (vectors/tls/README.md) ----

#[derive(Serialize, Deserialize)]
struct File {
    description: String,
    sessions: Vec<Session>,
}

#[derive(Serialize, Deserialize)]
struct Session {
    name: String,
    /// Both p2psec sides' clock (Unix seconds): certificates checked at it.
    time_unix: u64,
    client: Side,
    server: Side,
    /// The negotiated cipher suite's IANA name.
    cipher_suite: String,
    /// The ServerHello's key exchange group (IANA NamedGroup), as libp2p-tls's rustls
    /// reported it; `null` between two p2psec sides (ours does not expose it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_exchange_group: Option<Group>,
    /// The ALPN protocol both sides agreed.
    alpn: String,
    /// Handshake traffic secrets from libp2p-tls's rustls key log; `null` between two
    /// p2psec sides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_log: Option<KeyLog>,
    /// Every flight in wire order: what one side sent in one turn.
    flights: Vec<Flight>,
}

#[derive(Serialize, Deserialize)]
struct Side {
    implementation: String,
    peer_id: String,
    /// The identity's `PublicKey` protobuf (peer-ids.md).
    public_key_protobuf_hex: String,
    /// The certificate this side sent, DER, as it went over the wire.
    certificate_der_hex: String,
    /// The ALPN protocols offered (client) or supported (server), in order.
    alpn_protocols: Vec<String>,
    /// The PeerId this side reported for its peer at the end of the handshake.
    reported_remote_peer_id: String,
    /// What rebuilds this side (p2psec sides only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p2psec: Option<Ours>,
}

#[derive(Serialize, Deserialize)]
struct Ours {
    /// The identity `PrivateKey` protobuf (peer-ids.md).
    identity_private_key_protobuf_hex: String,
    /// Seed of `TestRng` (splitmix64) given to `Config::new`.
    certificate_rng_seed: u64,
    /// The `now` given to `Config::new` (Unix seconds).
    certificate_time_unix: u64,
    /// The list given to `Config::with_stream_muxers`.
    stream_muxers: Vec<String>,
    /// The client's expected remote PeerId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expected_peer_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Group {
    name: String,
    code: u16,
}

#[derive(Serialize, Deserialize)]
struct KeyLog {
    client_random_hex: String,
    client_handshake_traffic_secret_hex: String,
    server_handshake_traffic_secret_hex: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Role {
    Client,
    Server,
}

#[derive(Serialize, Deserialize)]
struct Flight {
    from: Role,
    hex: String,
}

impl Session {
    fn side(&self, role: Role) -> &Side {
        match role {
            Role::Client => &self.client,
            Role::Server => &self.server,
        }
    }

    /// Everything `role` sent, in order.
    fn stream(&self, role: Role) -> Vec<u8> {
        self.flights
            .iter()
            .filter(|f| f.from == role)
            .flat_map(|f| unhex(&f.hex))
            .collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

fn unhex(s: &str) -> Vec<u8> {
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(s.as_bytes())
        .expect("valid hex")
}

fn path() -> String {
    format!("{}/vectors/tls/{FILE}", env!("CARGO_MANIFEST_DIR"))
}

fn load() -> File {
    let text = std::fs::read_to_string(path()).expect("read the vector file");
    serde_json::from_str(&text).expect("parse the vector file")
}

fn our_config(rec: &Ours) -> (Keypair, Config) {
    let keypair = Keypair::try_decode_protobuf(&unhex(&rec.identity_private_key_protobuf_hex))
        .expect("identity key decodes");
    let config = Config::new(
        &keypair,
        rec.certificate_time_unix,
        &mut TestRng(rec.certificate_rng_seed),
    )
    .expect("config")
    .with_stream_muxers(rec.stream_muxers.iter().cloned());
    (keypair, config)
}

// ---- TLS wire format, just enough to check the transcripts (RFC 8446) ----

const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;

const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const ENCRYPTED_EXTENSIONS: u8 = 8;
const CERTIFICATE: u8 = 11;
const CERTIFICATE_REQUEST: u8 = 13;
const CERTIFICATE_VERIFY: u8 = 15;
const FINISHED: u8 = 20;

const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const EXT_KEY_SHARE: u16 = 51;
const TLS13: u16 = 0x0304;

/// RFC 8446 §5.1: a plaintext record holds at most 2^14 bytes, §5.2: a protected one
/// 2^14 + 256.
const MAX_PLAINTEXT: usize = 1 << 14;
const MAX_CIPHERTEXT: usize = MAX_PLAINTEXT + 256;

/// The ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// A cursor over TLS's length-prefixed vectors; panics on truncation (a broken vector).
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        assert!(self.0.len() >= n, "truncated: {n} bytes wanted");
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head
    }
    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.take(2).try_into().unwrap())
    }
    fn u24(&mut self) -> usize {
        let b = self.take(3);
        usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2])
    }
    fn vec8(&mut self) -> &'a [u8] {
        let n = usize::from(self.u8());
        self.take(n)
    }
    fn vec16(&mut self) -> &'a [u8] {
        let n = usize::from(self.u16());
        self.take(n)
    }
    fn vec24(&mut self) -> &'a [u8] {
        let n = self.u24();
        self.take(n)
    }
    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

/// A record: content type, the 5-byte header, the body.
struct Record<'a> {
    ty: u8,
    header: &'a [u8],
    body: &'a [u8],
}

/// Splits a flight into records, checking every header.
fn records(flight: &[u8]) -> Vec<Record<'_>> {
    let mut r = Reader(flight);
    let mut out = Vec::new();
    while !r.done() {
        let header = r.take(5);
        let (ty, version) = (header[0], u16::from_be_bytes([header[1], header[2]]));
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        assert!(
            [CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA].contains(&ty),
            "content type {ty}"
        );
        // legacy_record_version: 0x0303, or 0x0301 on an initial ClientHello (§5.1)
        assert!(
            version == 0x0303 || (version == 0x0301 && out.is_empty() && ty == HANDSHAKE),
            "record version {version:#06x}"
        );
        let max = if ty == APPLICATION_DATA {
            MAX_CIPHERTEXT
        } else {
            MAX_PLAINTEXT
        };
        assert!(len <= max, "record of {len} bytes (type {ty})");
        assert!(
            len > 0 || ty == APPLICATION_DATA,
            "empty record of type {ty}"
        );
        out.push(Record {
            ty,
            header,
            body: r.take(len),
        });
    }
    out
}

/// Handshake messages (type, whole message with its 4-byte header) in `bytes`.
fn messages(bytes: &[u8]) -> Vec<(u8, &[u8])> {
    let mut r = Reader(bytes);
    let mut out = Vec::new();
    while !r.done() {
        let start = r.0;
        let ty = r.u8();
        let len = r.u24();
        r.take(len);
        out.push((ty, &start[..4 + len]));
    }
    out
}

/// The extensions of a hello or EncryptedExtensions, in order; no type twice.
fn extensions(bytes: &[u8]) -> Vec<(u16, &[u8])> {
    let mut r = Reader(bytes);
    let mut out: Vec<(u16, &[u8])> = Vec::new();
    while !r.done() {
        let ty = r.u16();
        assert!(out.iter().all(|(t, _)| *t != ty), "extension {ty} twice");
        out.push((ty, r.vec16()));
    }
    out
}

fn extension<'a>(exts: &[(u16, &'a [u8])], ty: u16) -> Option<&'a [u8]> {
    exts.iter().find(|(t, _)| *t == ty).map(|(_, d)| *d)
}

fn alpn_list(data: &[u8]) -> Vec<String> {
    let mut outer = Reader(data);
    let mut r = Reader(outer.vec16());
    assert!(outer.done());
    let mut out = Vec::new();
    while !r.done() {
        out.push(String::from_utf8(r.vec8().to_vec()).expect("UTF-8 ALPN id"));
    }
    out
}

struct ClientHello {
    random: Vec<u8>,
    alpn: Option<Vec<String>>,
    sni: bool,
    versions: Vec<u16>,
    /// The groups it sent key shares for.
    key_shares: Vec<u16>,
}

fn parse_client_hello(msg: &[u8]) -> ClientHello {
    let mut r = Reader(msg);
    assert_eq!(r.u8(), CLIENT_HELLO, "a ClientHello");
    let mut body = Reader(r.vec24());
    assert!(r.done());
    assert_eq!(body.u16(), 0x0303, "legacy_version");
    let random = body.take(32).to_vec();
    assert!(body.vec8().len() <= 32, "legacy_session_id");
    let suites = body.vec16();
    assert!(!suites.is_empty() && suites.len() % 2 == 0);
    assert_eq!(body.vec8(), [0], "legacy_compression_methods: null only");
    let exts = extensions(body.vec16());
    assert!(body.done());
    let versions = extension(&exts, EXT_SUPPORTED_VERSIONS)
        .map(|d| {
            let mut r = Reader(d);
            let list = r.vec8();
            assert!(r.done());
            list.chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect()
        })
        .unwrap_or_default();
    let key_shares = extension(&exts, EXT_KEY_SHARE)
        .map(|d| {
            let mut outer = Reader(d);
            let mut r = Reader(outer.vec16());
            assert!(outer.done());
            let mut groups = Vec::new();
            while !r.done() {
                groups.push(r.u16());
                r.vec16();
            }
            groups
        })
        .unwrap_or_default();
    ClientHello {
        random,
        alpn: extension(&exts, EXT_ALPN).map(alpn_list),
        sni: extension(&exts, EXT_SERVER_NAME).is_some(),
        versions,
        key_shares,
    }
}

struct ServerHello {
    cipher_suite: u16,
    version: Option<u16>,
    group: Option<u16>,
}

fn parse_server_hello(msg: &[u8]) -> ServerHello {
    let mut r = Reader(msg);
    assert_eq!(r.u8(), SERVER_HELLO, "a ServerHello");
    let mut body = Reader(r.vec24());
    assert!(r.done());
    assert_eq!(body.u16(), 0x0303, "legacy_version");
    assert_ne!(body.take(32), HRR_RANDOM, "a HelloRetryRequest");
    body.vec8();
    let cipher_suite = body.u16();
    assert_eq!(body.u8(), 0, "legacy_compression_method");
    let exts = extensions(body.vec16());
    assert!(body.done());
    ServerHello {
        cipher_suite,
        version: extension(&exts, EXT_SUPPORTED_VERSIONS).map(|d| Reader(d).u16()),
        group: extension(&exts, EXT_KEY_SHARE).map(|d| Reader(d).u16()),
    }
}

/// The first handshake message of a flight, from its leading handshake records.
fn first_message(flight: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for rec in records(flight) {
        if rec.ty != HANDSHAKE {
            break;
        }
        bytes.extend_from_slice(rec.body);
        if let Some((_, m)) = messages_prefix(&bytes) {
            return m.to_vec();
        }
    }
    panic!("no whole handshake message at the start of the flight");
}

fn messages_prefix(bytes: &[u8]) -> Option<(u8, &[u8])> {
    let len = 4
        + (usize::from(*bytes.get(1)?) << 16
            | usize::from(*bytes.get(2)?) << 8
            | usize::from(*bytes.get(3)?));
    bytes.get(..len).map(|m| (m[0], m))
}

/// A TLS 1.3 cipher suite: its IANA code and name, hash, AEAD and key length.
struct Suite {
    code: u16,
    hash: &'static digest::Algorithm,
    hkdf: hkdf::Algorithm,
    hmac: hmac::Algorithm,
    aead: &'static aead::Algorithm,
}

fn suite(name: &str) -> Suite {
    let (code, hash, hkdf, hmac, aead) = match name {
        "TLS13_AES_128_GCM_SHA256" => (
            0x1301,
            &digest::SHA256,
            hkdf::HKDF_SHA256,
            hmac::HMAC_SHA256,
            &aead::AES_128_GCM,
        ),
        "TLS13_AES_256_GCM_SHA384" => (
            0x1302,
            &digest::SHA384,
            hkdf::HKDF_SHA384,
            hmac::HMAC_SHA384,
            &aead::AES_256_GCM,
        ),
        "TLS13_CHACHA20_POLY1305_SHA256" => (
            0x1303,
            &digest::SHA256,
            hkdf::HKDF_SHA256,
            hmac::HMAC_SHA256,
            &aead::CHACHA20_POLY1305,
        ),
        other => panic!("not a TLS 1.3 cipher suite p2psec offers: {other}"),
    };
    Suite {
        code,
        hash,
        hkdf,
        hmac,
        aead,
    }
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
fn expand_label(s: &Suite, secret: &[u8], label: &str, len: usize) -> Vec<u8> {
    let full = format!("tls13 {label}");
    let mut info = (len as u16).to_be_bytes().to_vec();
    info.push(full.len() as u8);
    info.extend_from_slice(full.as_bytes());
    info.push(0);
    let prk = hkdf::Prk::new_less_safe(s.hkdf, secret);
    let mut out = vec![0u8; len];
    prk.expand(&[&info], Len(len))
        .and_then(|okm| okm.fill(&mut out))
        .expect("HKDF-Expand-Label");
    out
}

/// The handshake messages `stream` carries under `secret`: its cleartext hello, then
/// the protected records up to and including its Finished (RFC 8446 §5.2, §5.3).
fn handshake_messages(s: &Suite, stream: &[u8], secret: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let key = aead::LessSafeKey::new(
        aead::UnboundKey::new(s.aead, &expand_label(s, secret, "key", s.aead.key_len())).unwrap(),
    );
    let iv = expand_label(s, secret, "iv", 12);
    let (mut clear, mut protected) = (Vec::new(), Vec::new());
    let mut seq = 0u64;
    for rec in records(stream) {
        match rec.ty {
            HANDSHAKE => {
                assert_eq!(seq, 0, "a cleartext handshake record after protected ones");
                clear.extend_from_slice(rec.body);
            }
            CHANGE_CIPHER_SPEC => assert_eq!(rec.body, [1], "middlebox ChangeCipherSpec"),
            APPLICATION_DATA => {
                let mut nonce = iv.clone();
                for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
                    *n ^= s;
                }
                seq += 1;
                let mut buf = rec.body.to_vec();
                let plain = key
                    .open_in_place(
                        aead::Nonce::try_assume_unique_for_key(&nonce).unwrap(),
                        aead::Aad::from(rec.header),
                        &mut buf,
                    )
                    .unwrap_or_else(|_| panic!("protected record {} does not open", seq - 1));
                let end = plain.iter().rposition(|&b| b != 0).expect("a content type");
                assert_eq!(plain[end], HANDSHAKE, "a protected handshake record");
                protected.extend_from_slice(&plain[..end]);
                if messages(&protected).last().map(|(t, _)| *t) == Some(FINISHED) {
                    break;
                }
            }
            other => panic!("unexpected record type {other} in a handshake"),
        }
    }
    messages(&clear)
        .into_iter()
        .chain(messages(&protected))
        .map(|(t, m)| (t, m.to_vec()))
        .collect()
}

/// The certificates of a Certificate message (TLS 1.3 form, §4.4.2).
fn certificate_list(msg: &[u8]) -> Vec<Vec<u8>> {
    let mut r = Reader(&msg[4..]);
    r.vec8();
    let mut list = Reader(r.vec24());
    assert!(r.done());
    let mut out = Vec::new();
    while !list.done() {
        out.push(list.vec24().to_vec());
        list.vec16();
    }
    out
}

/// What the key log lets us read out of a session's encrypted handshake.
struct Opened {
    client_certs: Vec<Vec<u8>>,
    server_certs: Vec<Vec<u8>>,
    /// The ALPN list of the server's EncryptedExtensions.
    alpn: Option<Vec<String>>,
}

/// Opens a key-logged session's handshake; checks both CertificateVerify signatures with
/// our verifier and both Finished MACs on the way.
fn open_handshake(s: &Session) -> Opened {
    let log = s.key_log.as_ref().expect("a key log");
    let suite = suite(&s.cipher_suite);
    let c_secret = unhex(&log.client_handshake_traffic_secret_hex);
    let s_secret = unhex(&log.server_handshake_traffic_secret_hex);
    let client = handshake_messages(&suite, &s.stream(Role::Client), &c_secret);
    let server = handshake_messages(&suite, &s.stream(Role::Server), &s_secret);
    let types = |m: &[(u8, Vec<u8>)]| m.iter().map(|(t, _)| *t).collect::<Vec<_>>();
    assert_eq!(
        types(&client),
        [CLIENT_HELLO, CERTIFICATE, CERTIFICATE_VERIFY, FINISHED],
        "{}: client messages",
        s.name
    );
    assert_eq!(
        types(&server),
        [
            SERVER_HELLO,
            ENCRYPTED_EXTENSIONS,
            CERTIFICATE_REQUEST,
            CERTIFICATE,
            CERTIFICATE_VERIFY,
            FINISHED
        ],
        "{}: server messages",
        s.name
    );
    assert_eq!(
        hex(&parse_client_hello(&client[0].1).random),
        log.client_random_hex,
        "{}: the key log belongs to this ClientHello",
        s.name
    );
    let ee = Reader(&server[1].1[4..]).vec16();
    let alpn = extension(&extensions(ee), EXT_ALPN).map(alpn_list);

    // the transcript in order: CH SH EE CR Cert CV Fin, then the client's Cert CV Fin
    let transcript: Vec<&[u8]> = [&client[0]]
        .into_iter()
        .chain(&server)
        .chain(&client[1..])
        .map(|(_, m)| m.as_slice())
        .collect();
    let hash = |n: usize| digest::digest(suite.hash, &transcript[..n].concat());
    let server_certs = certificate_list(&server[3].1);
    let client_certs = certificate_list(&client[1].1);
    for (certs, cv_at, context) in [(&server_certs, 5, "server"), (&client_certs, 8, "client")] {
        let chain: Vec<&[u8]> = certs.iter().map(Vec::as_slice).collect();
        let verified = certificate::verify_chain(&chain, s.time_unix, None)
            .unwrap_or_else(|e| panic!("{}: {context} certificate: {e}", s.name));
        let mut message = vec![0x20; 64];
        message.extend_from_slice(format!("TLS 1.3, {context} CertificateVerify").as_bytes());
        message.push(0);
        message.extend_from_slice(hash(cv_at).as_ref());
        let mut r = Reader(&transcript[cv_at][4..]);
        let scheme = p2psec::tls::SignatureScheme::from(r.u16());
        let signature = r.vec16();
        assert!(r.done());
        certificate::verify_tls13_signature(&verified, scheme, &message, signature)
            .unwrap_or_else(|e| panic!("{}: {context} CertificateVerify: {e}", s.name));
    }
    for (secret, fin_at, context) in [(&s_secret, 6, "server"), (&c_secret, 9, "client")] {
        let finished_key = expand_label(&suite, secret, "finished", suite.hash.output_len());
        let mac = hmac::sign(
            &hmac::Key::new(suite.hmac, &finished_key),
            hash(fin_at).as_ref(),
        );
        assert_eq!(
            &transcript[fin_at][4..],
            mac.as_ref(),
            "{}: {context} Finished",
            s.name
        );
    }
    Opened {
        client_certs,
        server_certs,
        alpn,
    }
}

// ---- replay ----

fn peer_id(s: &str) -> PeerId {
    s.parse().expect("PeerId parses")
}

/// (a) our certificates rebuild byte for byte
#[test]
fn our_certificates_regenerate_exactly() {
    let f = load();
    let mut ours = 0;
    for s in &f.sessions {
        for role in [Role::Client, Role::Server] {
            let side = s.side(role);
            let Some(rec) = &side.p2psec else { continue };
            assert_eq!(side.implementation, US);
            let (keypair, config) = our_config(rec);
            assert_eq!(keypair.peer_id(), peer_id(&side.peer_id), "{}", s.name);
            assert_eq!(
                hex(&keypair.public().encode_protobuf()),
                side.public_key_protobuf_hex
            );
            assert!(
                hex(config.certificate().der()) == side.certificate_der_hex,
                "{}: our {role:?} certificate differs",
                s.name
            );
            // the same through the certificate API directly
            let cert = Certificate::generate(
                &keypair,
                rec.certificate_time_unix,
                &mut TestRng(rec.certificate_rng_seed),
            )
            .unwrap();
            assert_eq!(cert.der(), config.certificate().der());
            // another seed, another certificate: the check can fail
            let other = Certificate::generate(
                &keypair,
                rec.certificate_time_unix,
                &mut TestRng(rec.certificate_rng_seed + 1),
            )
            .unwrap();
            assert_ne!(other.der(), cert.der());
            ours += 1;
        }
    }
    assert!(ours >= 6, "{ours} p2psec sides");
}

/// (b) every recorded certificate, verified at the recorded time, proves the recorded
/// PeerId: the one its owner claims and the one the other side reported
#[test]
fn recorded_certificates_verify_to_the_recorded_peer_ids() {
    let f = load();
    let mut theirs = 0;
    for s in &f.sessions {
        for role in [Role::Client, Role::Server] {
            let side = s.side(role);
            let other = s.side(match role {
                Role::Client => Role::Server,
                Role::Server => Role::Client,
            });
            let der = unhex(&side.certificate_der_hex);
            let id = peer_id(&side.peer_id);
            let key = PublicKey::try_decode_protobuf(&unhex(&side.public_key_protobuf_hex))
                .expect("public key decodes");
            assert_eq!(key.to_peer_id(), id, "{}", s.name);
            let verified = certificate::verify_chain(&[&der], s.time_unix, Some(id))
                .unwrap_or_else(|e| panic!("{}: {role:?} certificate: {e}", s.name));
            assert_eq!(verified.peer_id, id);
            assert_eq!(verified.public_key, key);
            assert_eq!(peer_id(&other.reported_remote_peer_id), id, "{}", s.name);
            if side.implementation == THEM {
                theirs += 1;
            }
            // one flipped bit in the signature, and the certificate proves nothing
            let mut bad = der.clone();
            *bad.last_mut().unwrap() ^= 1;
            assert!(certificate::verify(&bad, s.time_unix).is_err());
        }
    }
    assert!(theirs >= 4, "{theirs} libp2p-tls certificates");
}

/// (c) the flights are TLS records; the first is a ClientHello for TLS 1.3 offering the
/// recorded ALPN list, `libp2p` last, and no SNI; the ServerHello picks the recorded
/// cipher suite and group
#[test]
fn recorded_flights_are_tls_with_a_libp2p_client_hello() {
    let f = load();
    for s in &f.sessions {
        let name = &s.name;
        assert!(s.flights.len() >= 3, "{name}: flights");
        for flight in &s.flights {
            let bytes = unhex(&flight.hex);
            let total: usize = records(&bytes).iter().map(|r| 5 + r.body.len()).sum();
            assert_eq!(total, bytes.len());
        }
        assert_eq!(s.flights[0].from, Role::Client);
        assert_eq!(s.flights[1].from, Role::Server);
        let hello = parse_client_hello(&first_message(&unhex(&s.flights[0].hex)));
        let offered = hello.alpn.expect("ALPN offered");
        assert_eq!(offered.last().map(String::as_str), Some("libp2p"), "{name}");
        assert_eq!(offered, s.client.alpn_protocols, "{name}");
        assert!(!hello.sni, "{name}: SNI sent");
        assert!(hello.versions.contains(&TLS13), "{name}");
        assert!(
            !hello.versions.iter().any(|&v| v < TLS13),
            "{name}: below TLS 1.3"
        );
        let sh = parse_server_hello(&first_message(&unhex(&s.flights[1].hex)));
        assert_eq!(sh.cipher_suite, suite(&s.cipher_suite).code, "{name}");
        assert_eq!(sh.version, Some(TLS13), "{name}");
        let group = sh.group.expect("a key share");
        assert!(hello.key_shares.contains(&group), "{name}");
        if let Some(g) = &s.key_exchange_group {
            assert_eq!(group, g.code, "{name}: {}", g.name);
        }
        // the agreed ALPN: the first of the client's list the server supports
        let expected = offered
            .iter()
            .find(|a| s.server.alpn_protocols.contains(a))
            .expect("an overlap");
        assert_eq!(&s.alpn, expected, "{name}");
    }
}

/// The key-logged sessions (ours with libp2p-tls): the encrypted handshake carries exactly
/// the recorded certificates and ALPN, its signatures verify under them, its Finished MACs
/// match
#[test]
fn key_logged_handshakes_carry_the_recorded_certificates() {
    let f = load();
    let mut opened = 0;
    for s in f.sessions.iter().filter(|s| s.key_log.is_some()) {
        let Opened {
            client_certs,
            server_certs,
            alpn,
        } = open_handshake(s);
        assert_eq!(
            client_certs,
            [unhex(&s.client.certificate_der_hex)],
            "{}",
            s.name
        );
        assert_eq!(
            server_certs,
            [unhex(&s.server.certificate_der_hex)],
            "{}",
            s.name
        );
        assert_eq!(alpn, Some(vec![s.alpn.clone()]), "{}", s.name);
        opened += 1;
    }
    assert!(opened >= 4, "{opened} key-logged sessions");
}

#[test]
fn a_flipped_byte_breaks_the_key_logged_handshake() {
    // the checks above can fail: one bit of the server's encrypted flight changed
    let mut f = load();
    let s = f
        .sessions
        .iter_mut()
        .find(|s| s.key_log.is_some())
        .expect("a key-logged session");
    let mut flight = unhex(&s.flights[1].hex);
    let last = flight.len() - 1;
    flight[last] ^= 1;
    s.flights[1].hex = hex(&flight);
    let s = &*s;
    assert!(std::panic::catch_unwind(|| open_handshake(s)).is_err());
}

/// (d) a new machine of ours fed the peer's recorded flights takes its cleartext hello,
/// then refuses the first encrypted record: its own fresh key exchange keys the session
/// differently
#[test]
fn recorded_peer_flights_fail_a_new_machine() {
    // the recorded ServerHellos chose X25519MLKEM768, which only the aws-lc-rs provider
    // offers: a client on ring refuses them before any encrypted record
    // (WrongGroupForKeyShare), so on ring only our server replays
    let (roles, min_replays): (&[Role], usize) = if cfg!(feature = "aws-lc-rs") {
        (&[Role::Client, Role::Server], 6)
    } else {
        (&[Role::Server], 3)
    };
    let f = load();
    let mut replayed = 0;
    for s in &f.sessions {
        for &role in roles {
            let Some(rec) = &s.side(role).p2psec else {
                continue;
            };
            let name = format!("{} as {role:?}", s.name);
            let (_, config) = our_config(rec);
            let peer_role = match role {
                Role::Client => Role::Server,
                Role::Server => Role::Client,
            };
            let mut machine: Box<dyn Machine> = match role {
                Role::Client => Box::new(
                    Client::new(
                        &config,
                        rec.expected_peer_id.as_deref().map(peer_id),
                        s.time_unix,
                    )
                    .unwrap(),
                ),
                Role::Server => Box::new(Server::new(&config, s.time_unix).unwrap()),
            };
            if role == Role::Client {
                // a new ClientHello: the same offer, another random (and key shares)
                let mut hello = Vec::new();
                machine.output(&mut hello);
                let ours = parse_client_hello(&first_message(&hello));
                let recorded = parse_client_hello(&first_message(&unhex(&s.flights[0].hex)));
                assert_ne!(ours.random, recorded.random, "{name}");
                assert_eq!(ours.alpn, recorded.alpn, "{name}");
            }
            let mut result = Ok(0);
            let mut inbox = Vec::new();
            for flight in s.flights.iter().filter(|f| f.from == peer_role) {
                inbox.extend(unhex(&flight.hex));
                // the cleartext head first: the hello is accepted
                let clear: usize = records(&inbox)
                    .iter()
                    .take_while(|r| r.ty != APPLICATION_DATA)
                    .map(|r| 5 + r.body.len())
                    .sum();
                if clear > 0 {
                    assert_eq!(machine.input(&inbox[..clear]), Ok(clear), "{name}");
                    inbox.drain(..clear);
                }
                machine.output(&mut Vec::new());
                result = machine.input(&inbox);
                if result.is_err() {
                    break;
                }
            }
            assert_eq!(result, Err(Error::RecordAuthentication), "{name}");
            // poisoned: the same error again, and no session
            assert_eq!(machine.input(&inbox), Err(Error::RecordAuthentication));
            assert!(!machine.complete(), "{name}");
            replayed += 1;
        }
    }
    assert!(replayed >= min_replays, "{replayed} replays");
}

trait Machine {
    fn input(&mut self, bytes: &[u8]) -> Result<usize, Error>;
    fn output(&mut self, out: &mut Vec<u8>);
    fn complete(&self) -> bool;
}

impl Machine for Client {
    fn input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        self.handle_input(bytes)
    }
    fn output(&mut self, out: &mut Vec<u8>) {
        let _ = self.poll_transmit(out);
    }
    fn complete(&self) -> bool {
        self.is_complete()
    }
}

impl Machine for Server {
    fn input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        self.handle_input(bytes)
    }
    fn output(&mut self, out: &mut Vec<u8>) {
        let _ = self.poll_transmit(out);
    }
    fn complete(&self) -> bool {
        self.is_complete()
    }
}

#[test]
fn the_recorded_sessions_cover_both_roles_and_two_key_types() {
    let f = load();
    let names: Vec<&str> = f.sessions.iter().map(|s| s.name.as_str()).collect();
    for ty in ["ed25519", "ecdsa"] {
        for role in ["p2psec-client", "p2psec-server"] {
            let name = format!("{role}-libp2p-tls-{ty}");
            assert!(names.contains(&name.as_str()), "missing {name}");
        }
    }
    assert!(
        names
            .iter()
            .filter(|n| n.starts_with("p2psec-pair"))
            .count()
            >= 2
    );
}

// ---- the recorder ----

/// One end of a recorded exchange.
trait End {
    fn output(&mut self) -> Vec<u8>;
    fn input(&mut self, bytes: &[u8]);
}

impl End for Peer {
    fn output(&mut self) -> Vec<u8> {
        Peer::output(self)
    }
    fn input(&mut self, bytes: &[u8]) {
        Peer::input(self, bytes);
    }
}

/// libp2p-tls's side: rustls with libp2p-tls's configuration, driven in memory.
struct Theirs(rustls::Connection);

impl End for Theirs {
    fn output(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while self.0.wants_write() {
            self.0.write_tls(&mut out).unwrap();
        }
        out
    }
    fn input(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            self.0.read_tls(&mut bytes).unwrap();
        }
        self.0.process_new_packets().expect("libp2p-tls accepts");
    }
}

/// Runs the exchange until no byte moves; returns the flights.
fn exchange(client: &mut dyn End, server: &mut dyn End) -> Vec<Flight> {
    fn turn(from: Role, a: &mut dyn End, b: &mut dyn End, flights: &mut Vec<Flight>) -> bool {
        let out = a.output();
        if out.is_empty() {
            return false;
        }
        b.input(&out);
        flights.push(Flight {
            from,
            hex: hex(&out),
        });
        true
    }
    let mut flights = Vec::new();
    for _ in 0..20 {
        let moved = turn(Role::Client, client, server, &mut flights);
        if !(turn(Role::Server, server, client, &mut flights) || moved) {
            return flights;
        }
    }
    panic!("the exchange never settled");
}

/// rustls's key log of libp2p-tls's side.
#[derive(Debug, Default)]
struct Secrets(Mutex<Vec<Logged>>);

/// One key log line: label, client random, secret.
#[derive(Debug)]
struct Logged(String, Vec<u8>, Vec<u8>);

impl rustls::KeyLog for Secrets {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        self.0.lock().unwrap().push(Logged(
            label.into(),
            client_random.to_vec(),
            secret.to_vec(),
        ));
    }
    fn will_log(&self, _label: &str) -> bool {
        true
    }
}

impl Secrets {
    fn key_log(&self) -> KeyLog {
        let log = self.0.lock().unwrap();
        let find = |label: &str| {
            log.iter()
                .find(|Logged(l, _, _)| l == label)
                .unwrap_or_else(|| panic!("{label} logged"))
        };
        let Logged(_, random, c) = find("CLIENT_HANDSHAKE_TRAFFIC_SECRET");
        let Logged(_, _, s) = find("SERVER_HANDSHAKE_TRAFFIC_SECRET");
        KeyLog {
            client_random_hex: hex(random),
            client_handshake_traffic_secret_hex: hex(c),
            server_handshake_traffic_secret_hex: hex(s),
        }
    }
}

fn system_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn their_peer_id(id: &libp2p_identity::PeerId) -> PeerId {
    PeerId::try_from_bytes(&id.to_bytes()).unwrap()
}

/// What libp2p-tls reports for its peer: its own parser on the certificate rustls got.
fn their_view(conn: &rustls::Connection) -> PeerId {
    let certs = conn.peer_certificates().expect("a peer certificate");
    assert_eq!(certs.len(), 1);
    their_peer_id(&libp2p_tls::certificate::parse(&certs[0]).unwrap().peer_id())
}

struct Setup {
    keypair: Keypair,
    seed: u64,
    muxers: Vec<String>,
}

impl Setup {
    fn new(ty: KeyType, seed: u64, muxers: &[&str]) -> Self {
        Self {
            keypair: keypair(ty, seed),
            seed: seed + 1,
            muxers: muxers.iter().map(|m| m.to_string()).collect(),
        }
    }

    fn config(&self, now: u64) -> Config {
        Config::new(&self.keypair, now, &mut TestRng(self.seed))
            .unwrap()
            .with_stream_muxers(self.muxers.iter().cloned())
    }

    fn alpn(&self) -> Vec<String> {
        let mut list = self.muxers.clone();
        list.push("libp2p".into());
        list
    }

    fn side(&self, now: u64, expected: Option<PeerId>, peer: &Peer) -> Side {
        let (remote, _) = peer.summary.session.clone().expect("our session");
        Side {
            implementation: US.into(),
            peer_id: self.keypair.peer_id().to_base58(),
            public_key_protobuf_hex: hex(&self.keypair.public().encode_protobuf()),
            certificate_der_hex: hex(self.config(now).certificate().der()),
            alpn_protocols: self.alpn(),
            reported_remote_peer_id: remote.to_base58(),
            p2psec: Some(Ours {
                identity_private_key_protobuf_hex: hex(&self.keypair.encode_protobuf()),
                certificate_rng_seed: self.seed,
                certificate_time_unix: now,
                stream_muxers: self.muxers.clone(),
                expected_peer_id: expected.map(|p| p.to_base58()),
            }),
        }
    }
}

fn our_session(peer: &mut Peer) -> (String, Option<String>) {
    assert_eq!(peer.summary.error, None);
    let session = peer.session().expect("our session");
    (
        session.cipher_suite().expect("a suite").to_string(),
        session.muxer().map(String::from),
    )
}

fn record_libp2p(ty: KeyType, label: &str, our_role: Role, seed: u64) -> Session {
    let now = system_now();
    let ours = Setup::new(ty, seed, &["/yamux/1.0.0"]);
    let their_keys = keypair(ty, seed + 10);
    let their_keypair =
        libp2p_identity::Keypair::from_protobuf_encoding(&their_keys.encode_protobuf())
            .expect("libp2p-identity decodes our key encoding");
    let secrets = Arc::new(Secrets::default());
    let mut peer;
    let mut theirs;
    let flights = match our_role {
        Role::Client => {
            peer = Peer::client(&ours.config(now), Some(their_keys.peer_id()), now);
            let mut cfg = libp2p_tls::make_server_config(&their_keypair).unwrap();
            cfg.key_log = secrets.clone();
            theirs = Theirs(rustls::ServerConnection::new(Arc::new(cfg)).unwrap().into());
            exchange(&mut peer, &mut theirs)
        }
        Role::Server => {
            peer = Peer::server(&ours.config(now), now);
            let expected =
                libp2p_identity::PeerId::from_bytes(&ours.keypair.peer_id().to_bytes()).unwrap();
            let mut cfg = libp2p_tls::make_client_config(&their_keypair, Some(expected)).unwrap();
            cfg.key_log = secrets.clone();
            // libp2p-tls names every server by the unspecified address: no SNI
            let name =
                rustls::pki_types::ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into());
            theirs = Theirs(
                rustls::ClientConnection::new(Arc::new(cfg), name)
                    .unwrap()
                    .into(),
            );
            exchange(&mut theirs, &mut peer)
        }
    };
    let (suite, muxer) = our_session(&mut peer);
    let conn = &theirs.0;
    assert!(!conn.is_handshaking());
    assert_eq!(muxer, None, "libp2p-tls offers only libp2p");
    assert_eq!(conn.alpn_protocol(), Some(&b"libp2p"[..]));
    assert_eq!(
        conn.negotiated_cipher_suite().unwrap().suite().as_str(),
        Some(suite.as_str())
    );
    // rustls got our certificate
    let ours_der = ours.config(now).certificate().der().to_vec();
    assert_eq!(conn.peer_certificates().unwrap()[0].as_ref(), ours_der);
    let group = conn
        .negotiated_key_exchange_group()
        .expect("a group")
        .name();
    let their_side = Side {
        implementation: THEM.into(),
        peer_id: their_keys.peer_id().to_base58(),
        public_key_protobuf_hex: hex(&their_keys.public().encode_protobuf()),
        // filled in below from the opened handshake
        certificate_der_hex: String::new(),
        alpn_protocols: vec!["libp2p".into()],
        reported_remote_peer_id: their_view(conn).to_base58(),
        p2psec: None,
    };
    let expected = (our_role == Role::Client).then(|| their_keys.peer_id());
    let our_side = ours.side(now, expected, &peer);
    let (client, server, name) = match our_role {
        Role::Client => (
            our_side,
            their_side,
            format!("p2psec-client-libp2p-tls-{label}"),
        ),
        Role::Server => (
            their_side,
            our_side,
            format!("p2psec-server-libp2p-tls-{label}"),
        ),
    };
    let mut s = Session {
        name,
        time_unix: now,
        client,
        server,
        cipher_suite: suite,
        key_exchange_group: Some(Group {
            name: format!("{group:?}"),
            code: u16::from(group),
        }),
        alpn: "libp2p".into(),
        key_log: Some(secrets.key_log()),
        flights,
    };
    // libp2p-tls's certificate, read out of the handshake it sent
    let opened = open_handshake(&s);
    let (theirs_der, ours_seen) = match our_role {
        Role::Client => (&opened.server_certs, &opened.client_certs),
        Role::Server => (&opened.client_certs, &opened.server_certs),
    };
    assert_eq!(ours_seen, &[ours_der]);
    let their_der = hex(&theirs_der[0]);
    match our_role {
        Role::Client => s.server.certificate_der_hex = their_der,
        Role::Server => s.client.certificate_der_hex = their_der,
    }
    s
}

fn record_pair(name: &str, client: Setup, server: Setup) -> Session {
    let now = tls_pair::NOW;
    let expected = server.keypair.peer_id();
    let mut c = Peer::client(&client.config(now), Some(expected), now);
    let mut s = Peer::server(&server.config(now), now);
    let flights = exchange(&mut c, &mut s);
    let (suite, muxer) = our_session(&mut c);
    assert_eq!(our_session(&mut s), (suite.clone(), muxer.clone()));
    Session {
        name: name.into(),
        time_unix: now,
        client: client.side(now, Some(expected), &c),
        server: server.side(now, None, &s),
        cipher_suite: suite,
        key_exchange_group: None,
        alpn: muxer.unwrap_or_else(|| "libp2p".into()),
        key_log: None,
        flights,
    }
}

#[test]
#[ignore = "writes vectors/tls/transcripts.json: cargo test --features tls --test tls_vectors -- --ignored record"]
fn record() {
    let mut sessions = Vec::new();
    for (k, (ty, label)) in [(KeyType::Ed25519, "ed25519"), (KeyType::Ecdsa, "ecdsa")]
        .into_iter()
        .enumerate()
    {
        for (r, role) in [Role::Client, Role::Server].into_iter().enumerate() {
            sessions.push(record_libp2p(
                ty,
                label,
                role,
                100 + 20 * (2 * k + r) as u64,
            ));
        }
    }
    sessions.push(record_pair(
        "p2psec-pair-ed25519-secp256k1-yamux",
        Setup::new(KeyType::Ed25519, 200, &["/yamux/1.0.0", "/mplex/6.7.0"]),
        Setup::new(KeyType::Secp256k1, 210, &["/mplex/6.7.0", "/yamux/1.0.0"]),
    ));
    sessions.push(record_pair(
        "p2psec-pair-ecdsa-no-common-muxer",
        Setup::new(KeyType::Ecdsa, 220, &["/mplex/6.7.0"]),
        Setup::new(KeyType::Ecdsa, 230, &["/yamux/1.0.0"]),
    ));
    let f = File {
        description: "TLS 1.3 handshakes: p2psec against rust-libp2p's libp2p-tls 0.7 (both roles, Ed25519 and ECDSA identities, with libp2p-tls's key log) and p2psec against p2psec. See README.md.".into(),
        sessions,
    };
    let mut text = serde_json::to_string_pretty(&f).unwrap();
    text.push('\n');
    std::fs::write(path(), text).unwrap();
}
