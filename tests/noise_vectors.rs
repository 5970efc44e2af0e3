//! Recorded Noise transcripts (vectors/noise/, described in its README) replayed byte for
//! byte: our machine, rebuilt from the recorded identity key, static secret and ephemeral
//! RNG seed, is fed the recorded peer bytes and must produce exactly the recorded bytes of
//! its own side, reach the recorded handshake hash and remote PeerId, reproduce its
//! recorded transport frames and open the peer's.
//!
//! Also the WebRTC-direct prologue vector from the libp2p specs.
//!
//! The transcripts are written by the ignored test `record`:
//! `cargo test --test noise_vectors -- --ignored record`. Sessions with libp2p-noise come
//! out different on every recording (libp2p-noise draws its own keys); ours with ours are
//! the same every time.
#![cfg(feature = "noise")]

#[path = "common/noise_duplex.rs"]
mod noise_duplex;
#[path = "common/noise_pair.rs"]
mod noise_pair;

use noise_duplex::{run_mixed, their_config, their_side, to_our_peer_id, Role as DuplexRole};
use noise_pair::{hex, identity, split_messages, unhex, Identity, Link, Machine, Peer, TestRng};
use p2psec::identity::{KeyType, Keypair, PeerId};
use p2psec::noise::{Config, Error, Event};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

const LIBP2P_FILE: &str = "libp2p-noise-0.47.json";
const PAIRS_FILE: &str = "p2psec-pairs.json";
const WEBRTC_FILE: &str = "webrtc-prologue.json";
const THEM: &str = "libp2p-noise 0.47.0";
const US: &str = "p2psec";

// ---- the file format (vectors/noise/README.md) ----

#[derive(Serialize, Deserialize)]
struct File {
    description: String,
    sessions: Vec<Session>,
}

#[derive(Serialize, Deserialize)]
struct Session {
    name: String,
    prologue_hex: String,
    initiator: Side,
    responder: Side,
    /// The three handshake messages in order, each with its 2-byte length.
    messages: Vec<Message>,
    handshake_hash_hex: String,
    /// The muxer both sides agreed inside the handshake.
    muxer: Option<String>,
    /// The first transport frames, each direction in wire order.
    transport: Vec<Frame>,
}

#[derive(Serialize, Deserialize)]
struct Side {
    implementation: String,
    peer_id: String,
    /// What rebuilds this side exactly (p2psec sides only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p2psec: Option<Ours>,
}

#[derive(Serialize, Deserialize)]
struct Ours {
    identity_private_key_protobuf_hex: String,
    static_secret_hex: String,
    /// Seed of `TestRng` (splitmix64), the RNG the ephemeral key is drawn from.
    ephemeral_rng_seed: u64,
    stream_muxers: Vec<String>,
    webtransport_certhashes_hex: Vec<String>,
    /// The initiator's expected remote PeerId, if it dialed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expected_peer_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Message {
    number: u8,
    from: Role,
    hex: String,
}

#[derive(Serialize, Deserialize)]
struct Frame {
    from: Role,
    plaintext_hex: String,
    frame_hex: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Role {
    Initiator,
    Responder,
}

impl Role {
    fn other(self) -> Role {
        match self {
            Role::Initiator => Role::Responder,
            Role::Responder => Role::Initiator,
        }
    }
}

impl Session {
    fn side(&self, role: Role) -> &Side {
        match role {
            Role::Initiator => &self.initiator,
            Role::Responder => &self.responder,
        }
    }
}

fn path(file: &str) -> String {
    format!("{}/vectors/noise/{file}", env!("CARGO_MANIFEST_DIR"))
}

fn load(file: &str) -> File {
    let text = std::fs::read_to_string(path(file)).expect("read the vector file");
    serde_json::from_str(&text).expect("parse the vector file")
}

// ---- replay ----

/// Our side `role` of `s`, rebuilt from its record, fed the peer's recorded bytes.
fn replay(s: &Session, role: Role) {
    let name = &s.name;
    let me = s.side(role);
    let rec = me.p2psec.as_ref().expect("a p2psec side");
    let keypair = Keypair::try_decode_protobuf(&unhex(&rec.identity_private_key_protobuf_hex))
        .expect("identity key decodes");
    assert_eq!(
        keypair.peer_id().to_base58(),
        me.peer_id,
        "{name}: our PeerId"
    );
    let secret: [u8; 32] = unhex(&rec.static_secret_hex).try_into().expect("32 bytes");
    let config = Config::with_static_secret(&keypair, Zeroizing::new(secret))
        .unwrap()
        .with_prologue(&unhex(&s.prologue_hex))
        .with_stream_muxers(rec.stream_muxers.iter().cloned())
        .with_webtransport_certhashes(
            rec.webtransport_certhashes_hex
                .iter()
                .map(|h| unhex(h))
                .collect(),
        );
    let expected = rec
        .expected_peer_id
        .as_ref()
        .map(|p| p.parse::<PeerId>().expect("expected PeerId parses"));
    let mut machine = match role {
        Role::Initiator => Machine::initiator(&config, expected, rec.ephemeral_rng_seed),
        Role::Responder => Machine::responder(&config, rec.ephemeral_rng_seed),
    };
    // the peer's transport frames follow its last handshake message on the wire: the
    // machine must stop at the end of the handshake
    let peer_frames: Vec<u8> = s
        .transport
        .iter()
        .filter(|f| f.from != role)
        .flat_map(|f| unhex(&f.frame_hex))
        .collect();
    let last_peer_message = s.messages.iter().rposition(|m| m.from != role);
    assert_eq!(
        s.messages.iter().map(|m| m.number).collect::<Vec<_>>(),
        [1, 2, 3],
        "{name}"
    );
    for (k, m) in s.messages.iter().enumerate() {
        let bytes = unhex(&m.hex);
        if m.from == role {
            let mut out = Vec::new();
            let n = machine.poll_transmit(&mut out);
            assert_eq!(n, out.len());
            assert!(
                hex(&out) == m.hex,
                "{name}: our message {} differs:\n ours {}\n recorded {}",
                m.number,
                hex(&out),
                m.hex
            );
        } else {
            let mut input = bytes.clone();
            if Some(k) == last_peer_message {
                input.extend_from_slice(&peer_frames);
            }
            let n = machine
                .handle_input(&input)
                .unwrap_or_else(|e| panic!("{name}: their message {}: {e}", m.number));
            assert_eq!(n, bytes.len(), "{name}: message {} consumed", m.number);
        }
    }
    let mut out = Vec::new();
    assert_eq!(
        machine.poll_transmit(&mut out),
        0,
        "{name}: bytes after the handshake"
    );
    let remote = s.side(role.other());
    let remote_id: PeerId = remote.peer_id.parse().expect("remote PeerId parses");
    assert_eq!(
        machine.poll_event(),
        Some(Event::RemoteIdentified { peer_id: remote_id }),
        "{name}"
    );
    assert_eq!(machine.poll_event(), Some(Event::Complete), "{name}");
    assert_eq!(machine.poll_event(), None);
    let mut session = machine.into_session().unwrap();
    assert_eq!(
        hex(session.handshake_hash()),
        s.handshake_hash_hex,
        "{name}: handshake hash"
    );
    assert_eq!(session.remote_peer_id(), remote_id, "{name}");
    assert_eq!(session.muxer(), s.muxer.as_deref(), "{name}: muxer");
    let remote_hashes: Vec<Vec<u8>> = remote
        .p2psec
        .as_ref()
        .filter(|_| role == Role::Initiator)
        .map(|r| {
            r.webtransport_certhashes_hex
                .iter()
                .map(|h| unhex(h))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        session.remote_webtransport_certhashes(),
        &remote_hashes[..],
        "{name}"
    );

    let (mut ours_n, mut theirs_n) = (0, 0);
    for f in &s.transport {
        let plain = unhex(&f.plaintext_hex);
        let mut frame = unhex(&f.frame_hex);
        if f.from == role {
            let mut out = Vec::new();
            session.send().encrypt_to_vec(&plain, &mut out).unwrap();
            assert!(out == frame, "{name}: our transport frame {ours_n} differs");
            ours_n += 1;
        } else {
            let len = frame.len();
            let opened = session
                .recv()
                .decrypt_in_place(&mut frame)
                .unwrap_or_else(|e| panic!("{name}: their frame {theirs_n}: {e}"))
                .expect("a whole frame");
            assert_eq!(opened.consumed, len);
            assert_eq!(
                opened.plaintext,
                &plain[..],
                "{name}: their frame {theirs_n}"
            );
            theirs_n += 1;
        }
    }
    assert!(ours_n >= 1 && theirs_n >= 1, "{name}: frames each way");
}

fn replay_file(file: &str) -> Vec<String> {
    let f = load(file);
    for s in &f.sessions {
        let mut replayed = 0;
        for role in [Role::Initiator, Role::Responder] {
            if s.side(role).p2psec.is_some() {
                assert_eq!(s.side(role).implementation, US);
                replay(s, role);
                replayed += 1;
            }
        }
        assert!(replayed > 0, "{}: no p2psec side", s.name);
    }
    f.sessions.into_iter().map(|s| s.name).collect()
}

#[test]
fn libp2p_noise_transcripts_replay() {
    let names = replay_file(LIBP2P_FILE);
    // both roles for every key type
    for ty in ["ed25519", "secp256k1", "ecdsa"] {
        for role in ["p2psec-initiator", "p2psec-responder"] {
            let name = format!("{role}-{ty}");
            assert!(names.contains(&name), "missing session {name}");
        }
    }
}

#[test]
fn p2psec_pair_transcripts_replay() {
    let names = replay_file(PAIRS_FILE);
    assert!(names.len() >= 2);
}

#[test]
fn a_flipped_recorded_byte_is_refused() {
    // the replay would notice: our machine refuses the peer's message 2 with one bit changed
    let f = load(LIBP2P_FILE);
    let s = f
        .sessions
        .iter()
        .find(|s| s.name == "p2psec-initiator-ed25519")
        .expect("session");
    let rec = s.initiator.p2psec.as_ref().unwrap();
    let keypair =
        Keypair::try_decode_protobuf(&unhex(&rec.identity_private_key_protobuf_hex)).unwrap();
    let secret: [u8; 32] = unhex(&rec.static_secret_hex).try_into().unwrap();
    let config = Config::with_static_secret(&keypair, Zeroizing::new(secret)).unwrap();
    let mut m = Machine::initiator(&config, None, rec.ephemeral_rng_seed);
    let mut msg2 = unhex(&s.messages[1].hex);
    let last = msg2.len() - 1;
    msg2[last] ^= 1;
    assert!(matches!(
        m.handle_input(&msg2),
        Err(Error::Handshake { message: 2, .. })
    ));
}

// ---- the WebRTC-direct prologue (libp2p specs) ----

#[derive(Deserialize)]
struct PrologueVector {
    name: String,
    client_fingerprint_sha256_hex: String,
    server_fingerprint_sha256_hex: String,
    expected_prologue_hex: String,
}

/// `"libp2p-webrtc-noise:" || multihash(client) || multihash(server)`, sha2-256 multihashes.
fn webrtc_prologue(client_fp: &[u8], server_fp: &[u8]) -> Vec<u8> {
    let mut p = b"libp2p-webrtc-noise:".to_vec();
    for fp in [client_fp, server_fp] {
        p.extend_from_slice(&[0x12, 0x20]);
        p.extend_from_slice(fp);
    }
    p
}

fn webrtc_vectors() -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let text = std::fs::read_to_string(path(WEBRTC_FILE)).expect("read webrtc-prologue.json");
    let vectors: Vec<PrologueVector> = serde_json::from_str(&text).expect("parse");
    assert!(!vectors.is_empty());
    vectors
        .into_iter()
        .map(|v| {
            let client = unhex(&v.client_fingerprint_sha256_hex);
            let server = unhex(&v.server_fingerprint_sha256_hex);
            assert_eq!((client.len(), server.len()), (32, 32), "{}", v.name);
            (client, server, unhex(&v.expected_prologue_hex))
        })
        .collect()
}

#[test]
fn webrtc_prologue_is_built_as_specified() {
    for (client, server, expected) in webrtc_vectors() {
        let p = webrtc_prologue(&client, &server);
        assert_eq!(p.len(), 88);
        assert_eq!(p, expected);
    }
}

#[test]
fn webrtc_prologue_must_match() {
    for (client, server, expected) in webrtc_vectors() {
        // WebRTC-direct: the server is the Noise initiator, the client the responder
        let server_id = identity(KeyType::Ed25519, 1, &[]);
        let client_id = identity(KeyType::Ed25519, 2, &[]);
        let run = |server_prologue: &[u8], client_prologue: &[u8]| {
            let i = Peer::new(
                Machine::initiator(
                    &server_id.config.clone().with_prologue(server_prologue),
                    None,
                    3,
                ),
                vec![b"from the server".to_vec()],
            );
            let r = Peer::new(
                Machine::responder(&client_id.config.clone().with_prologue(client_prologue), 4),
                vec![b"from the client".to_vec()],
            );
            let (i, r, _, _) = noise_pair::run(i, r, Link::default(), Link::default());
            (i.summary().clone(), r.summary().clone())
        };
        let (i, r) = run(&expected, &expected);
        assert_eq!((&i.error, &r.error), (&None, &None));
        assert_eq!(i.handshake_hash, r.handshake_hash);
        assert_eq!(i.received, b"from the client");
        assert_eq!(r.received, b"from the server");
        // the fingerprints in the wrong order, or no prologue on one side
        for other in [webrtc_prologue(&server, &client), Vec::new()] {
            let (i, r) = run(&expected, &other);
            assert!(
                matches!(i.error, Some(Error::Handshake { message: 2, .. })),
                "{:?}",
                i.error
            );
            assert_eq!(r.handshake_hash, None);
            assert!(r.received.is_empty());
        }
    }
}

// ---- the recorder ----

fn ours_record(id: &Identity, seed: u64, certhashes: &[Vec<u8>], expected: Option<PeerId>) -> Ours {
    Ours {
        identity_private_key_protobuf_hex: hex(&id.keypair.encode_protobuf()),
        static_secret_hex: hex(&id.static_secret),
        ephemeral_rng_seed: seed,
        stream_muxers: id.muxers.clone(),
        webtransport_certhashes_hex: certhashes.iter().map(|h| hex(h)).collect(),
        expected_peer_id: expected.map(|p| p.to_base58()),
    }
}

/// Splits the two recorded streams into the handshake messages and the transport frames,
/// pairing each frame with the plaintext its sender wrote.
fn transcript(
    i_stream: &[u8],
    r_stream: &[u8],
    i_writes: &[Vec<u8>],
    r_writes: &[Vec<u8>],
) -> (Vec<Message>, Vec<Frame>) {
    let (i_msgs, r_msgs) = (split_messages(i_stream), split_messages(r_stream));
    assert_eq!(i_msgs.iter().map(Vec::len).sum::<usize>(), i_stream.len());
    assert_eq!(r_msgs.iter().map(Vec::len).sum::<usize>(), r_stream.len());
    let messages = vec![
        Message {
            number: 1,
            from: Role::Initiator,
            hex: hex(&i_msgs[0]),
        },
        Message {
            number: 2,
            from: Role::Responder,
            hex: hex(&r_msgs[0]),
        },
        Message {
            number: 3,
            from: Role::Initiator,
            hex: hex(&i_msgs[1]),
        },
    ];
    assert_eq!(
        i_msgs.len() - 2,
        i_writes.len(),
        "one frame per initiator write"
    );
    assert_eq!(
        r_msgs.len() - 1,
        r_writes.len(),
        "one frame per responder write"
    );
    let mut transport = Vec::new();
    for (frame, plain) in i_msgs[2..].iter().zip(i_writes) {
        transport.push(Frame {
            from: Role::Initiator,
            plaintext_hex: hex(plain),
            frame_hex: hex(frame),
        });
    }
    for (frame, plain) in r_msgs[1..].iter().zip(r_writes) {
        transport.push(Frame {
            from: Role::Responder,
            plaintext_hex: hex(plain),
            frame_hex: hex(frame),
        });
    }
    (messages, transport)
}

fn writes_for(who: &str, seed: u64) -> Vec<Vec<u8>> {
    vec![
        format!("first frame from {who}").into_bytes(),
        TestRng(seed).bytes(200),
    ]
}

fn record_libp2p() -> File {
    let mut sessions = Vec::new();
    for (k, (ty, label)) in [
        (KeyType::Ed25519, "ed25519"),
        (KeyType::Secp256k1, "secp256k1"),
        (KeyType::Ecdsa, "ecdsa"),
    ]
    .into_iter()
    .enumerate()
    {
        for role in [Role::Initiator, Role::Responder] {
            let k = k as u64;
            let ours = identity(ty, 100 + 2 * k, &[]);
            let their_keys = Keypair::generate(ty, &mut TestRng(101 + 2 * k)).unwrap();
            let (_, their_cfg) = their_config(&their_keys.encode_protobuf());
            let seed = 1000 + 10 * k + role as u64;
            let (machine, their_role, expected) = match role {
                Role::Initiator => (
                    Machine::initiator(&ours.config, Some(their_keys.peer_id()), seed),
                    DuplexRole::Responder,
                    Some(their_keys.peer_id()),
                ),
                Role::Responder => (
                    Machine::responder(&ours.config, seed),
                    DuplexRole::Initiator,
                    None,
                ),
            };
            let our_w = writes_for("p2psec", seed);
            let their_w = writes_for("libp2p-noise", seed + 1);
            let expect = our_w.iter().map(Vec::len).sum();
            let tw = their_w.clone();
            let m = run_mixed(
                Peer::new(machine, our_w.clone()),
                move |io| their_side(their_cfg, io, their_role, tw, expect),
                None,
                None,
            );
            assert_eq!(m.ours.error, None);
            let (their_view, got) = m.theirs.expect("finished").expect("their side succeeded");
            assert_eq!(to_our_peer_id(&their_view), ours.keypair.peer_id());
            assert_eq!(got, our_w.concat());
            assert_eq!(m.ours.received, their_w.concat());
            let ours_side = Side {
                implementation: US.into(),
                peer_id: ours.keypair.peer_id().to_base58(),
                p2psec: Some(ours_record(&ours, seed, &[], expected)),
            };
            let their_side_rec = Side {
                implementation: THEM.into(),
                peer_id: their_keys.peer_id().to_base58(),
                p2psec: None,
            };
            let (initiator, responder, messages, transport, name) = match role {
                Role::Initiator => {
                    let (msgs, frames) =
                        transcript(&m.ours_to_theirs, &m.theirs_to_ours, &our_w, &their_w);
                    (
                        ours_side,
                        their_side_rec,
                        msgs,
                        frames,
                        format!("p2psec-initiator-{label}"),
                    )
                }
                Role::Responder => {
                    let (msgs, frames) =
                        transcript(&m.theirs_to_ours, &m.ours_to_theirs, &their_w, &our_w);
                    (
                        their_side_rec,
                        ours_side,
                        msgs,
                        frames,
                        format!("p2psec-responder-{label}"),
                    )
                }
            };
            sessions.push(Session {
                name,
                prologue_hex: String::new(),
                initiator,
                responder,
                messages,
                handshake_hash_hex: hex(&m.ours.handshake_hash.expect("hash")),
                muxer: None,
                transport,
            });
        }
    }
    File {
        description: "p2psec against rust-libp2p's libp2p-noise 0.47.0 (in-memory duplex), both roles, three identity key types. See README.md.".into(),
        sessions,
    }
}

/// One p2psec-against-p2psec session to record: each side's key type and muxer list.
struct PairCase {
    name: &'static str,
    initiator: (KeyType, &'static [&'static str]),
    responder: (KeyType, &'static [&'static str]),
    prologue: Vec<u8>,
    /// The responder's WebTransport certificate hashes.
    certhashes: Vec<Vec<u8>>,
}

fn record_pairs() -> File {
    let (_, _, webrtc) = webrtc_vectors().remove(0);
    let cases = [
        PairCase {
            name: "p2psec-pair-muxers-ed25519",
            initiator: (KeyType::Ed25519, &["/yamux/1.0.0", "/mplex/6.7.0"]),
            responder: (KeyType::Ed25519, &["/mplex/6.7.0", "/yamux/1.0.0"]),
            prologue: Vec::new(),
            certhashes: Vec::new(),
        },
        PairCase {
            name: "p2psec-pair-secp256k1-ecdsa-webrtc-prologue-certhashes",
            initiator: (KeyType::Secp256k1, &["/mplex/6.7.0"]),
            responder: (KeyType::Ecdsa, &["/yamux/1.0.0", "/mplex/6.7.0"]),
            prologue: webrtc,
            certhashes: vec![[[0x12, 0x20].as_slice(), &[0xab; 32]].concat()],
        },
    ];
    let mut sessions = Vec::new();
    for (k, c) in cases.into_iter().enumerate() {
        let PairCase {
            name,
            initiator: (ity, imux),
            responder: (rty, rmux),
            prologue,
            certhashes,
        } = c;
        let k = k as u64;
        let (iseed, rseed) = (2000 + 2 * k, 2001 + 2 * k);
        let iid = identity(ity, 200 + 2 * k, imux);
        let rid = identity(rty, 201 + 2 * k, rmux);
        let ic = iid.config.clone().with_prologue(&prologue);
        let rc = rid
            .config
            .clone()
            .with_prologue(&prologue)
            .with_webtransport_certhashes(certhashes.clone());
        let iw = writes_for("the p2psec initiator", iseed);
        let rw = writes_for("the p2psec responder", rseed);
        let i = Peer::new(
            Machine::initiator(&ic, Some(rid.keypair.peer_id()), iseed),
            iw.clone(),
        );
        let r = Peer::new(Machine::responder(&rc, rseed), rw.clone());
        let (i, r, i_link, r_link) = noise_pair::run(i, r, Link::default(), Link::default());
        let (is, rs) = (i.summary(), r.summary());
        assert_eq!((&is.error, &rs.error), (&None, &None));
        assert_eq!(is.handshake_hash, rs.handshake_hash);
        assert_eq!(is.muxer, rs.muxer);
        assert_eq!((&is.received, &rs.received), (&rw.concat(), &iw.concat()));
        let (messages, transport) = transcript(&i_link.log, &r_link.log, &iw, &rw);
        let i_rec = ours_record(&iid, iseed, &[], Some(rid.keypair.peer_id()));
        let r_rec = ours_record(&rid, rseed, &certhashes, None);
        sessions.push(Session {
            name: name.into(),
            prologue_hex: hex(&prologue),
            initiator: Side {
                implementation: US.into(),
                peer_id: iid.keypair.peer_id().to_base58(),
                p2psec: Some(i_rec),
            },
            responder: Side {
                implementation: US.into(),
                peer_id: rid.keypair.peer_id().to_base58(),
                p2psec: Some(r_rec),
            },
            messages,
            handshake_hash_hex: hex(&is.handshake_hash.expect("hash")),
            muxer: is.muxer.clone(),
            transport,
        });
    }
    File {
        description: "p2psec against p2psec: muxer lists in different orders, mixed key types, the WebRTC-direct prologue, WebTransport certificate hashes. See README.md.".into(),
        sessions,
    }
}

fn write(file: &str, f: &File) {
    let mut text = serde_json::to_string_pretty(f).unwrap();
    text.push('\n');
    std::fs::write(path(file), text).unwrap();
}

#[test]
#[ignore = "writes vectors/noise/*.json: cargo test --test noise_vectors -- --ignored record"]
fn record() {
    write(LIBP2P_FILE, &record_libp2p());
    write(PAIRS_FILE, &record_pairs());
    // what was written replays
    replay_file(LIBP2P_FILE);
    replay_file(PAIRS_FILE);
}
