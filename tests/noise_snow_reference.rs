//! Our Noise state (`src/noise/symmetric.rs`, `src/noise/xx.rs`) against snow 0.10's
//! `HandshakeState` with snow's own primitives (its default resolver: curve25519-dalek 4,
//! RustCrypto's ChaCha20-Poly1305 and SHA-256), built with the same static and ephemeral
//! secrets and the same prologue.
//!
//! Each side of our handshake is replayed by a snow peer writing the same payload (the one
//! the other snow peer decrypts from our message): every handshake message must come out
//! identical byte for byte, both sides must reach snow's handshake hash, and snow's
//! transport keys must produce our transport frames and open ours, in both directions.
#![cfg(feature = "noise")]

#[path = "common/noise_pair.rs"]
mod noise_pair;

use noise_pair::{identity, Identity, TestRng};
use p2psec::identity::KeyType;
use p2psec::noise::{
    Config, Event, Initiator, Responder, SendHalf, Session, MAX_FRAME_LEN, MAX_PLAINTEXT_LEN,
    PROTOCOL_NAME,
};
use zeroize::Zeroizing;

/// One handshake to compare.
struct Case {
    initiator: (KeyType, &'static [&'static str]),
    responder: (KeyType, &'static [&'static str]),
    prologue: Vec<u8>,
    certhashes: Vec<Vec<u8>>,
}

fn ephemeral(seed: u64) -> [u8; 32] {
    TestRng(seed).bytes(32).try_into().unwrap()
}

fn snow_side(
    me: &Identity,
    ephemeral_secret: &[u8; 32],
    prologue: &[u8],
    initiator: bool,
) -> snow::HandshakeState {
    let builder = snow::Builder::new(PROTOCOL_NAME.parse().unwrap())
        .local_private_key(&me.static_secret)
        .unwrap()
        .fixed_ephemeral_key_for_testing_only(ephemeral_secret)
        .prologue(prologue)
        .unwrap();
    if initiator {
        builder.build_initiator().unwrap()
    } else {
        builder.build_responder().unwrap()
    }
}

fn write(snow: &mut snow::HandshakeState, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_FRAME_LEN];
    let n = snow.write_message(payload, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn read(snow: &mut snow::HandshakeState, message: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_FRAME_LEN];
    let n = snow.read_message(message, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// The message without its 2-byte length, after checking the length.
fn body(framed: &[u8]) -> &[u8] {
    let len = usize::from(u16::from_be_bytes([framed[0], framed[1]]));
    assert_eq!(framed.len(), 2 + len);
    &framed[2..]
}

/// Our two machines against each other; returns the three framed messages and both sessions.
fn ours(ic: &Config, rc: &Config, ei: [u8; 32], er: [u8; 32]) -> ([Vec<u8>; 3], Session, Session) {
    let mut i = Initiator::with_ephemeral_secret(ic, None, Zeroizing::new(ei)).unwrap();
    let mut r = Responder::with_ephemeral_secret(rc, Zeroizing::new(er)).unwrap();
    let (mut m1, mut m2, mut m3) = (Vec::new(), Vec::new(), Vec::new());
    let _ = i.poll_transmit(&mut m1);
    assert_eq!(r.handle_input(&m1).unwrap(), m1.len());
    let _ = r.poll_transmit(&mut m2);
    assert_eq!(i.handle_input(&m2).unwrap(), m2.len());
    let _ = i.poll_transmit(&mut m3);
    assert_eq!(r.handle_input(&m3).unwrap(), m3.len());
    for events in [
        std::iter::from_fn(|| i.poll_event()).collect::<Vec<_>>(),
        std::iter::from_fn(|| r.poll_event()).collect(),
    ] {
        assert!(matches!(
            events[..],
            [Event::RemoteIdentified { .. }, Event::Complete]
        ));
    }
    let (si, sr) = (i.into_session().unwrap(), r.into_session().unwrap());
    ([m1, m2, m3], si, sr)
}

/// Frames one way: ours from `tx`, snow's from `snow_tx`, each opened by the other's peer.
fn transport(
    tx: &mut Session,
    rx: &mut Session,
    snow_tx: &mut snow::TransportState,
    snow_rx: &mut snow::TransportState,
) {
    let big: Vec<u8> = (0..MAX_PLAINTEXT_LEN).map(|n| n as u8).collect();
    for plaintext in [&b"ping"[..], b"", &big[..], b"after the big one"] {
        let mut ours = vec![0u8; SendHalf::frame_len(plaintext.len())];
        let n = tx.send().encrypt(plaintext, &mut ours).unwrap();
        assert_eq!(n, ours.len());
        let mut theirs = vec![0u8; MAX_FRAME_LEN];
        let len = snow_tx.write_message(plaintext, &mut theirs).unwrap();
        assert_eq!(body(&ours), &theirs[..len], "transport frame differs");
        // snow opens ours, we open snow's (the same bytes, each side's own nonce counter)
        let mut opened = vec![0u8; MAX_FRAME_LEN];
        let got = snow_rx.read_message(body(&ours), &mut opened).unwrap();
        assert_eq!(&opened[..got], plaintext);
        let mut frame = ours.clone();
        let o = rx.recv().decrypt_in_place(&mut frame).unwrap().unwrap();
        assert_eq!((o.consumed, o.plaintext), (ours.len(), plaintext));
    }
}

fn compare(case: &Case, seed: u64) {
    let (ti, mi) = case.initiator;
    let (tr, mr) = case.responder;
    let i = identity(ti, seed, mi);
    let r = identity(tr, seed + 1, mr);
    let ic = i.config.clone().with_prologue(&case.prologue);
    let rc = r
        .config
        .clone()
        .with_prologue(&case.prologue)
        .with_webtransport_certhashes(case.certhashes.clone());
    let (ei, er) = (ephemeral(seed + 2), ephemeral(seed + 3));
    let ([m1, m2, m3], mut si, mut sr) = ours(&ic, &rc, ei, er);

    let mut snow_i = snow_side(&i, &ei, &case.prologue, true);
    let mut snow_r = snow_side(&r, &er, &case.prologue, false);
    // message 1: e, empty payload
    assert_eq!(write(&mut snow_i, &[]), body(&m1), "message 1");
    assert_eq!(read(&mut snow_r, body(&m1)), b"");
    // message 2: snow's initiator decrypts our responder's payload; snow's responder, given
    // that payload, writes our message 2
    let payload2 = read(&mut snow_i, body(&m2));
    assert!(payload2.len() > 32, "an identity payload");
    assert_eq!(write(&mut snow_r, &payload2), body(&m2), "message 2");
    assert_eq!(
        snow_i.get_remote_static(),
        Some(&rc.static_public_key()[..])
    );
    // message 3 the same way
    let payload3 = read(&mut snow_r, body(&m3));
    assert_eq!(write(&mut snow_i, &payload3), body(&m3), "message 3");
    assert_eq!(
        snow_r.get_remote_static(),
        Some(&ic.static_public_key()[..])
    );

    assert_eq!(snow_i.get_handshake_hash(), snow_r.get_handshake_hash());
    assert_eq!(&si.handshake_hash()[..], snow_i.get_handshake_hash());
    assert_eq!(&sr.handshake_hash()[..], snow_r.get_handshake_hash());

    let mut ti = snow_i.into_transport_mode().unwrap();
    let mut tr = snow_r.into_transport_mode().unwrap();
    // c1: initiator -> responder, c2: responder -> initiator
    transport(&mut si, &mut sr, &mut ti, &mut tr);
    transport(&mut sr, &mut si, &mut tr, &mut ti);
}

#[test]
fn our_handshake_matches_snow_byte_for_byte() {
    let many: &'static [&'static str] = Box::leak(
        (0..40)
            .map(|n| &*Box::leak(format!("/muxer-with-a-longer-name/{n}").into_boxed_str()))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    let cases = [
        Case {
            initiator: (KeyType::Ed25519, &["/yamux/1.0.0", "/mplex/6.7.0"]),
            responder: (KeyType::Ed25519, &["/mplex/6.7.0", "/yamux/1.0.0"]),
            prologue: Vec::new(),
            certhashes: Vec::new(),
        },
        Case {
            initiator: (KeyType::Secp256k1, &[]),
            responder: (KeyType::Ecdsa, &["/yamux/1.0.0"]),
            prologue: b"libp2p-webrtc-noise:\x12\x20 fingerprints would follow".to_vec(),
            certhashes: vec![vec![0x12, 0x20, 7, 7, 7], vec![0x12, 0x20, 9]],
        },
        // a payload over the machine's 512-byte stack buffer, in both directions
        Case {
            initiator: (KeyType::Ecdsa, many),
            responder: (KeyType::Ed25519, many),
            prologue: vec![0; 300],
            certhashes: vec![vec![1; 64]; 8],
        },
    ];
    for (n, case) in cases.iter().enumerate() {
        for seed in 0..4 {
            compare(case, 1000 * n as u64 + 10 * seed);
        }
    }
}
