//! The recorded Noise transcripts of `vectors/noise/` (its README describes them) replayed
//! byte for byte through the C API, so a C caller gets the same determinism as
//! `tests/noise_vectors.rs` gives a Rust caller of `p2psec::noise`.
//!
//! The transcripts are at the Noise layer; the C API only has the whole upgrade
//! (multistream-select, Noise, the muxer). The p2psec side of a session is rebuilt with the
//! C functions alone: `p2psec_keypair_from_protobuf` (the recorded identity),
//! `p2psec_config_new` (its own seed: whatever it draws is replaced or unused),
//! `p2psec_config_set_security("noise")`, `p2psec_config_set_noise_static_key` (the
//! recorded static secret), `p2psec_config_set_muxers` (the recorded list, `""` when
//! empty), early muxer and optimistic negotiation on, and as the 32-byte `seed` of
//! `p2psec_dialer_new` / `p2psec_listener_new` the recorded ephemeral secret: the first 32
//! bytes of the splitmix64 stream from `ephemeral_rng_seed`, computed here as the README
//! describes. The multistream-select part around the handshake is framed here from the
//! spec (`uvarint(len) || line || '\n'`, checked against `vectors/multistream/messages.json`).
//!
//! What each replay proves, for every session whose p2psec side the C API can configure:
//! - as dialer: the first flight is exactly the multistream header, the proposal `/noise`
//!   and the recorded message 1; given the listener's header and echo, the recorded
//!   message 2 and the peer's recorded transport frames behind it, the dialer consumes
//!   exactly up to the end of message 2 and then sends exactly the recorded message 3 and
//!   nothing else (the muxer is agreed inside the handshake or none is configured, so no
//!   multistream round follows);
//! - as listener: it sends the header at once; given the dialer's header, proposal and
//!   recorded message 1 in one flight it consumes all of it and answers exactly the echo
//!   and the recorded message 2; given the recorded message 3 and the peer's frames behind
//!   it, it consumes exactly message 3 and sends nothing;
//! - both: the events are `SECURITY_AGREED(noise)`, `REMOTE_IDENTIFIED(recorded PeerId)`,
//!   `COMPLETE`; the channel reports the recorded remote PeerId, Noise, `ChaChaPoly` and the
//!   recorded muxer; writing the recorded plaintexts produces exactly the recorded
//!   `frame_hex`, and the peer's recorded frames, fed one at a time, are consumed whole
//!   and read back as their recorded plaintexts.
//!
//! Equal message 3 and transport frames mean equal handshake and transport keys, so the
//! recorded handshake hash (which the C API does not expose) is reached too. A recorded
//! prologue goes in with `p2psec_config_set_noise_prologue`, recorded certificate hashes
//! with `p2psec_config_set_noise_webtransport_certhashes`; a side that has either is
//! replayed twice, the Noise settings made before and after the static key. The channel's
//! `p2psec_channel_remote_public_key` must decode to a key whose PeerId is the recorded
//! remote's.

use std::ffi::{c_char, CStr, CString};
use std::mem::MaybeUninit;
use std::ptr;

use p2psec_ffi::p2psec_event_kind::*;
use p2psec_ffi::p2psec_security::*;
use p2psec_ffi::p2psec_status::*;
use p2psec_ffi::*;
use serde::Deserialize;

/// Any time: Noise does not look at the clock.
const NOW: u64 = 1_780_000_000;

// ---- the vector files (vectors/noise/README.md; only the fields used here) ----

#[derive(Deserialize)]
struct File {
    sessions: Vec<Session>,
}

#[derive(Deserialize)]
struct Session {
    name: String,
    prologue_hex: String,
    initiator: Side,
    responder: Side,
    messages: Vec<Message>,
    muxer: Option<String>,
    transport: Vec<Frame>,
}

#[derive(Deserialize)]
struct Side {
    peer_id: String,
    p2psec: Option<Ours>,
}

#[derive(Deserialize)]
struct Ours {
    identity_private_key_protobuf_hex: String,
    static_secret_hex: String,
    ephemeral_rng_seed: u64,
    stream_muxers: Vec<String>,
    webtransport_certhashes_hex: Vec<String>,
    expected_peer_id: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    number: u8,
    from: Role,
    hex: String,
}

#[derive(Deserialize)]
struct Frame {
    from: Role,
    plaintext_hex: String,
    frame_hex: String,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Role {
    Initiator,
    Responder,
}

impl Session {
    fn side(&self, role: Role) -> &Side {
        match role {
            Role::Initiator => &self.initiator,
            Role::Responder => &self.responder,
        }
    }

    /// Whether the p2psec side `role` needs Noise settings beyond the static key and
    /// the muxers (a prologue, certificate hashes).
    fn has_extras(&self, role: Role) -> bool {
        !self.prologue_hex.is_empty()
            || self
                .side(role)
                .p2psec
                .as_ref()
                .is_some_and(|o| !o.webtransport_certhashes_hex.is_empty())
    }
}

fn load(path: &str) -> serde_json::Value {
    let path = format!("{}/../vectors/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("valid JSON")
}

fn load_sessions(file: &str) -> Vec<Session> {
    let file: File = serde_json::from_value(load(&format!("noise/{file}"))).expect("format");
    file.sessions
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The recorded ephemeral secret: the first four splitmix64 outputs from `seed`, each
/// little-endian (vectors/noise/README.md, "The RNG seed").
fn ephemeral_secret(seed: u64) -> [u8; 32] {
    let mut x = seed;
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out
}

/// One multistream-select message: `uvarint(len) || line || '\n'` (the length counts the
/// newline; every line here is far below 128 bytes, so the varint is one byte).
fn mss(line: &str) -> Vec<u8> {
    let len = u8::try_from(line.len() + 1).expect("short line");
    assert!(len < 0x80);
    [&[len][..], line.as_bytes(), b"\n"].concat()
}

fn header() -> Vec<u8> {
    mss("/multistream/1.0.0")
}

fn proposal() -> Vec<u8> {
    mss("/noise")
}

// ---- the C API, a little less raw ----

fn last_error() -> String {
    let mut buf = [0 as c_char; 512];
    let mut n = 0;
    // SAFETY: a local buffer of the length given and a local out slot
    unsafe { p2psec_last_error(buf.as_mut_ptr(), buf.len(), &mut n) };
    text(&buf)
}

#[track_caller]
fn ok(status: p2psec_status, what: &str) {
    assert_eq!(status, P2PSEC_OK, "{what}: {}", last_error());
}

/// NUL-terminated text out of a C buffer.
fn text(buf: &[c_char]) -> String {
    // SAFETY: every buffer handed here was written NUL-terminated by the library
    let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
    s.to_str().expect("UTF-8").to_owned()
}

fn peer_id_text(id: *const p2psec_peer_id) -> String {
    let mut buf = [0 as c_char; P2PSEC_PEER_ID_TEXT_MAX];
    let mut n = 0;
    // SAFETY: a live PeerId handle, a local buffer of the length given, a local out slot
    ok(
        unsafe { p2psec_peer_id_to_string(id, buf.as_mut_ptr(), buf.len(), &mut n) },
        "peer_id_to_string",
    );
    text(&buf)
}

/// A PeerId handle from its text, freed on drop.
struct PeerId(*mut p2psec_peer_id);

impl PeerId {
    fn parse(s: &str) -> Self {
        let s = CString::new(s).unwrap();
        let mut id = ptr::null_mut();
        // SAFETY: a NUL-terminated string and a local out slot
        ok(
            unsafe { p2psec_peer_id_from_string(s.as_ptr(), &mut id) },
            "peer_id_from_string",
        );
        PeerId(id)
    }
}

impl Drop for PeerId {
    fn drop(&mut self) {
        // SAFETY: our own handle (or NULL), freed once
        unsafe { p2psec_peer_id_free(&mut self.0) }
    }
}

/// The configuration that rebuilds a recorded p2psec side, freed on drop.
struct Config(*mut p2psec_config);

/// Sets the recorded prologue and certificate hashes of a rebuilt side.
///
/// # Safety
/// `config` must be a live configuration handle.
unsafe fn set_noise_extras(config: *mut p2psec_config, prologue: &[u8], hashes: &[Vec<u8>]) {
    let ptrs: Vec<*const u8> = hashes.iter().map(|h| h.as_ptr()).collect();
    let lens: Vec<usize> = hashes.iter().map(Vec::len).collect();
    // SAFETY: a live handle (the caller's promise) and buffers of the lengths given
    unsafe {
        ok(
            p2psec_config_set_noise_prologue(config, prologue.as_ptr(), prologue.len()),
            "noise prologue",
        );
        ok(
            p2psec_config_set_noise_webtransport_certhashes(
                config,
                ptrs.as_ptr(),
                lens.as_ptr(),
                hashes.len(),
            ),
            "noise certhashes",
        );
    }
}

impl Config {
    /// `extras_first`: set the prologue and certificate hashes before the static key
    /// (else after it and the muxers).
    fn rebuild(rec: &Ours, prologue: &[u8], extras_first: bool, peer_id: &str, name: &str) -> Self {
        let key = unhex(&rec.identity_private_key_protobuf_hex);
        let secret = unhex(&rec.static_secret_hex);
        assert_eq!(secret.len(), 32, "{name}: static secret");
        let muxers = CString::new(rec.stream_muxers.join(",")).unwrap();
        let hashes: Vec<Vec<u8>> = rec
            .webtransport_certhashes_hex
            .iter()
            .map(|h| unhex(h))
            .collect();
        let mut keypair = ptr::null_mut();
        let mut config = ptr::null_mut();
        // SAFETY: buffers of the lengths given, NUL-terminated strings, local out slots;
        // the handles are live until freed here or by `Config`'s drop
        unsafe {
            ok(
                p2psec_keypair_from_protobuf(key.as_ptr(), key.len(), &mut keypair),
                "keypair_from_protobuf",
            );
            ok(
                p2psec_config_new(keypair, NOW, [0x5a; 32].as_ptr(), &mut config),
                "config_new",
            );
            p2psec_keypair_free(&mut keypair);
            ok(
                p2psec_config_set_security(config, c"noise".as_ptr()),
                "security",
            );
            if extras_first {
                set_noise_extras(config, prologue, &hashes);
            }
            ok(
                p2psec_config_set_noise_static_key(config, secret.as_ptr()),
                "noise static key",
            );
            ok(p2psec_config_set_muxers(config, muxers.as_ptr()), "muxers");
            if !extras_first {
                set_noise_extras(config, prologue, &hashes);
            }
            ok(p2psec_config_set_early_muxer(config, true), "early muxer");
            ok(p2psec_config_set_optimistic(config, true), "optimistic");
        }
        let config = Config(config);
        let mut local = ptr::null_mut();
        // SAFETY: a live configuration and a local out slot
        ok(
            unsafe { p2psec_config_local_peer_id(config.0, &mut local) },
            "local_peer_id",
        );
        let local = PeerId(local);
        assert_eq!(peer_id_text(local.0), peer_id, "{name}: our PeerId");
        config
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        // SAFETY: our own handle (or NULL), freed once
        unsafe { p2psec_config_free(&mut self.0) }
    }
}

/// An event as comparable values: kind, security, PeerId text.
type Ev = (p2psec_event_kind, p2psec_security, String);

/// Either upgrade machine, with the verbs both have; freed on drop.
enum Upgrade {
    Dialer(*mut p2psec_dialer),
    Listener(*mut p2psec_listener),
}

impl Upgrade {
    fn dialer(config: &Config, expected: Option<&PeerId>, seed: &[u8; 32]) -> Self {
        let expected = expected.map_or(ptr::null(), |id| id.0.cast_const());
        let mut h = ptr::null_mut();
        // SAFETY: live handles (or NULL for `expected`), 32 seed bytes, a local out slot
        ok(
            unsafe { p2psec_dialer_new(config.0, expected, NOW, seed.as_ptr(), &mut h) },
            "dialer_new",
        );
        Upgrade::Dialer(h)
    }

    fn listener(config: &Config, seed: &[u8; 32]) -> Self {
        let mut h = ptr::null_mut();
        // SAFETY: a live configuration, 32 seed bytes, a local out slot
        ok(
            unsafe { p2psec_listener_new(config.0, NOW, seed.as_ptr(), &mut h) },
            "listener_new",
        );
        Upgrade::Listener(h)
    }

    /// Everything the machine has to send now (its `pending_transmit`, all of it).
    fn transmit(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut n = 0;
        // SAFETY: a live handle; `out` is writable for the length given; local out slots
        let status = unsafe {
            match *self {
                Upgrade::Dialer(h) => {
                    out.resize(p2psec_dialer_pending_transmit(h), 0);
                    p2psec_dialer_poll_transmit(h, out.as_mut_ptr(), out.len(), &mut n)
                }
                Upgrade::Listener(h) => {
                    out.resize(p2psec_listener_pending_transmit(h), 0);
                    p2psec_listener_poll_transmit(h, out.as_mut_ptr(), out.len(), &mut n)
                }
            }
        };
        ok(status, "poll_transmit");
        assert_eq!(n, out.len(), "poll_transmit hands out what is pending");
        out
    }

    /// Feeds `bytes`; returns how many the machine consumed.
    fn input(&mut self, bytes: &[u8]) -> usize {
        let mut n = 0;
        // SAFETY: a live handle, a buffer of the length given, a local out slot
        let status = unsafe {
            match *self {
                Upgrade::Dialer(h) => {
                    p2psec_dialer_handle_input(h, bytes.as_ptr(), bytes.len(), &mut n)
                }
                Upgrade::Listener(h) => {
                    p2psec_listener_handle_input(h, bytes.as_ptr(), bytes.len(), &mut n)
                }
            }
        };
        ok(status, "handle_input");
        n
    }

    /// Every event waiting.
    fn events(&mut self) -> Vec<Ev> {
        let mut events = Vec::new();
        loop {
            let mut e = MaybeUninit::<p2psec_event>::uninit();
            // SAFETY: a live handle and a local out slot
            let status = unsafe {
                match *self {
                    Upgrade::Dialer(h) => p2psec_dialer_poll_event(h, e.as_mut_ptr()),
                    Upgrade::Listener(h) => p2psec_listener_poll_event(h, e.as_mut_ptr()),
                }
            };
            if status == P2PSEC_WOULD_BLOCK {
                return events;
            }
            ok(status, "poll_event");
            // SAFETY: written on P2PSEC_OK
            let e = unsafe { e.assume_init() };
            events.push((e.kind, e.security, text(&e.peer_id)));
        }
    }

    /// The secured channel of a complete upgrade (the machine's handle is gone then).
    fn into_channel(mut self) -> Channel {
        let mut c = ptr::null_mut();
        // SAFETY: the slot holds our live handle; a local out slot
        let (status, complete, slot_cleared) = unsafe {
            match &mut self {
                Upgrade::Dialer(h) => {
                    let complete = p2psec_dialer_is_complete(*h);
                    (p2psec_dialer_into_channel(h, &mut c), complete, h.is_null())
                }
                Upgrade::Listener(h) => {
                    let complete = p2psec_listener_is_complete(*h);
                    (
                        p2psec_listener_into_channel(h, &mut c),
                        complete,
                        h.is_null(),
                    )
                }
            }
        };
        assert!(complete, "the upgrade is complete");
        ok(status, "into_channel");
        assert!(slot_cleared, "into_channel frees the machine");
        Channel(c)
    }
}

impl Drop for Upgrade {
    fn drop(&mut self) {
        // SAFETY: our own handle (or NULL after into_channel), freed once
        unsafe {
            match self {
                Upgrade::Dialer(h) => p2psec_dialer_free(h),
                Upgrade::Listener(h) => p2psec_listener_free(h),
            }
        }
    }
}

/// A secured channel, freed on drop.
struct Channel(*mut p2psec_channel);

impl Channel {
    /// Encrypts `plain` (all of it); returns the ciphertext to send.
    fn seal(&mut self, plain: &[u8]) -> Vec<u8> {
        let (mut accepted, mut n) = (0, 0);
        // SAFETY: a live handle, buffers of the lengths given, local out slots
        unsafe {
            ok(
                p2psec_channel_write(self.0, plain.as_ptr(), plain.len(), &mut accepted),
                "channel_write",
            );
            assert_eq!(accepted, plain.len(), "the whole plaintext taken");
            let mut out = vec![0; p2psec_channel_pending_transmit(self.0)];
            ok(
                p2psec_channel_poll_transmit(self.0, out.as_mut_ptr(), out.len(), &mut n),
                "channel_poll_transmit",
            );
            assert_eq!(n, out.len());
            out
        }
    }

    /// Feeds ciphertext; returns how many bytes were consumed.
    fn input(&mut self, bytes: &[u8]) -> usize {
        let mut n = 0;
        // SAFETY: a live handle, a buffer of the length given, a local out slot
        ok(
            unsafe { p2psec_channel_handle_input(self.0, bytes.as_ptr(), bytes.len(), &mut n) },
            "channel_handle_input",
        );
        n
    }

    /// Every plaintext byte waiting.
    fn read_all(&mut self) -> Vec<u8> {
        let mut out = vec![0; 64 * 1024];
        let mut n = 0;
        // SAFETY: a live handle, a buffer of the length given, a local out slot
        let status = unsafe { p2psec_channel_read(self.0, out.as_mut_ptr(), out.len(), &mut n) };
        if status == P2PSEC_WOULD_BLOCK {
            return Vec::new();
        }
        ok(status, "channel_read");
        out.truncate(n);
        out
    }

    /// The remote's public key, protobuf-encoded (asked for its size first).
    fn remote_public_key(&self) -> Vec<u8> {
        let mut n = 0;
        // SAFETY: a live handle; a size query (NULL, capacity 0) and a local out slot
        let status =
            unsafe { p2psec_channel_remote_public_key(self.0, ptr::null_mut(), 0, &mut n) };
        assert_eq!(
            status,
            P2PSEC_BUFFER_TOO_SMALL,
            "size query: {}",
            last_error()
        );
        let mut out = vec![0; n];
        let mut m = 0;
        // SAFETY: a live handle, a buffer of the length given, a local out slot
        ok(
            unsafe {
                p2psec_channel_remote_public_key(self.0, out.as_mut_ptr(), out.len(), &mut m)
            },
            "remote_public_key",
        );
        assert_eq!(m, n);
        out
    }

    fn remote_peer_id(&self) -> String {
        let mut id = ptr::null_mut();
        // SAFETY: a live handle and a local out slot
        ok(
            unsafe { p2psec_channel_remote_peer_id(self.0, &mut id) },
            "remote_peer_id",
        );
        let id = PeerId(id);
        peer_id_text(id.0)
    }

    fn muxer(&self) -> String {
        let mut buf = [0 as c_char; 128];
        let mut n = 0;
        // SAFETY: a live handle, a local buffer of the length given, a local out slot
        ok(
            unsafe { p2psec_channel_muxer(self.0, buf.as_mut_ptr(), buf.len(), &mut n) },
            "channel_muxer",
        );
        text(&buf)
    }

    fn cipher(&self) -> String {
        let mut buf = [0 as c_char; 128];
        let mut n = 0;
        // SAFETY: a live handle, a local buffer of the length given, a local out slot
        ok(
            unsafe { p2psec_channel_cipher(self.0, buf.as_mut_ptr(), buf.len(), &mut n) },
            "channel_cipher",
        );
        text(&buf)
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        // SAFETY: our own handle (or NULL), freed once
        unsafe { p2psec_channel_free(&mut self.0) }
    }
}

// ---- replay ----

/// The p2psec side `role` of `s`, rebuilt through the C API and driven through the whole
/// upgrade with the peer's recorded bytes.
fn replay(s: &Session, role: Role, extras_first: bool) {
    let name = &s.name;
    let (me, remote) = match role {
        Role::Initiator => (&s.initiator, &s.responder),
        Role::Responder => (&s.responder, &s.initiator),
    };
    let rec = me.p2psec.as_ref().expect("a p2psec side");
    let prologue = unhex(&s.prologue_hex);
    let config = Config::rebuild(rec, &prologue, extras_first, &me.peer_id, name);
    let seed = ephemeral_secret(rec.ephemeral_rng_seed);

    let order: Vec<(u8, Role)> = s.messages.iter().map(|m| (m.number, m.from)).collect();
    assert_eq!(
        order,
        [
            (1, Role::Initiator),
            (2, Role::Responder),
            (3, Role::Initiator)
        ],
        "{name}: message order"
    );
    let [m1, m2, m3] = [0, 1, 2].map(|i| unhex(&s.messages[i].hex));
    // the peer's transport frames directly follow its last handshake message on the wire
    let peer_frames: Vec<u8> = s
        .transport
        .iter()
        .filter(|f| f.from != role)
        .flat_map(|f| unhex(&f.frame_hex))
        .collect();

    let mut up = match role {
        Role::Initiator => {
            let expected = rec.expected_peer_id.as_deref().map(PeerId::parse);
            let mut up = Upgrade::dialer(&config, expected.as_ref(), &seed);
            // one candidate, optimistic: header, proposal and message 1 in one flight
            expect_bytes(
                name,
                "the dialer's first flight",
                &up.transmit(),
                &[header(), proposal(), m1].concat(),
            );
            let answer = [header(), proposal(), m2].concat();
            let consumed = up.input(&[&answer[..], &peer_frames].concat());
            assert_eq!(
                consumed,
                answer.len(),
                "{name}: stops at the end of message 2"
            );
            expect_bytes(name, "the dialer's message 3", &up.transmit(), &m3);
            up
        }
        Role::Responder => {
            let mut up = Upgrade::listener(&config, &seed);
            // the listener's header goes out before it reads anything
            expect_bytes(name, "the listener's header", &up.transmit(), &header());
            let flight = [header(), proposal(), m1].concat();
            assert_eq!(up.input(&flight), flight.len(), "{name}: the first flight");
            expect_bytes(
                name,
                "the listener's echo and message 2",
                &up.transmit(),
                &[proposal(), m2].concat(),
            );
            let consumed = up.input(&[&m3[..], &peer_frames].concat());
            assert_eq!(consumed, m3.len(), "{name}: stops at the end of message 3");
            expect_bytes(name, "after message 3", &up.transmit(), &[]);
            up
        }
    };
    assert_eq!(
        up.events(),
        [
            (
                P2PSEC_EVENT_SECURITY_AGREED,
                P2PSEC_SECURITY_NOISE,
                String::new()
            ),
            (
                P2PSEC_EVENT_REMOTE_IDENTIFIED,
                P2PSEC_SECURITY_NONE,
                remote.peer_id.clone()
            ),
            (P2PSEC_EVENT_COMPLETE, P2PSEC_SECURITY_NONE, String::new()),
        ],
        "{name}: events"
    );

    let mut channel = up.into_channel();
    assert_eq!(channel.remote_peer_id(), remote.peer_id, "{name}");
    let key = p2psec::identity::PublicKey::try_decode_protobuf(&channel.remote_public_key())
        .expect("the remote public key decodes");
    assert_eq!(
        key.to_peer_id().to_string(),
        remote.peer_id,
        "{name}: remote key"
    );
    // SAFETY: a live channel
    let security = unsafe { p2psec_channel_security(channel.0) };
    assert_eq!(security, P2PSEC_SECURITY_NOISE, "{name}");
    assert_eq!(channel.cipher(), "ChaChaPoly", "{name}");
    assert_eq!(
        channel.muxer(),
        s.muxer.clone().unwrap_or_default(),
        "{name}: muxer"
    );
    // SAFETY: a live channel
    let (pending, readable) = unsafe {
        (
            p2psec_channel_pending_transmit(channel.0),
            p2psec_channel_readable(channel.0),
        )
    };
    assert_eq!((pending, readable), (0, 0), "{name}: nothing left over");

    let (mut ours, mut theirs) = (0, 0);
    for f in &s.transport {
        let plain = unhex(&f.plaintext_hex);
        let frame = unhex(&f.frame_hex);
        if f.from == role {
            let what = format!("our transport frame {ours}");
            expect_bytes(name, &what, &channel.seal(&plain), &frame);
            ours += 1;
        } else {
            assert_eq!(
                channel.input(&frame),
                frame.len(),
                "{name}: their frame {theirs}"
            );
            assert!(
                channel.read_all() == plain,
                "{name}: their frame {theirs}: plaintext differs"
            );
            theirs += 1;
        }
    }
    assert!(ours >= 1 && theirs >= 1, "{name}: frames each way");
    assert!(
        channel.read_all().is_empty(),
        "{name}: nothing more to read"
    );
}

/// Byte-for-byte equality, both in hex when not.
#[track_caller]
fn expect_bytes(name: &str, what: &str, got: &[u8], recorded: &[u8]) {
    assert!(
        got == recorded,
        "{name}: {what} differs:\n ours     {}\n expected {}",
        hex(got),
        hex(recorded)
    );
}

/// Replays every p2psec side of the sessions in `file` that the C API can configure;
/// returns the `(session, role)` pairs replayed.
fn replay_file(file: &str) -> Vec<(String, Role)> {
    let mut replayed = Vec::new();
    for s in load_sessions(file) {
        for role in [Role::Initiator, Role::Responder] {
            if s.side(role).p2psec.is_some() {
                replay(&s, role, true);
                if s.has_extras(role) {
                    replay(&s, role, false);
                }
                replayed.push((s.name.clone(), role));
            }
        }
    }
    replayed
}

#[test]
fn multistream_framing_matches_the_vectors() {
    let v = load("multistream/messages.json");
    let derived = v["derived_not_in_spec"].as_array().expect("a list");
    let encoded = |line: &str| {
        derived
            .iter()
            .find(|m| m["message"] == line)
            .and_then(|m| m["encoded_hex"].as_str())
            .map(unhex)
            .unwrap_or_else(|| panic!("{line} in messages.json"))
    };
    assert_eq!(header(), encoded("/multistream/1.0.0"));
    assert_eq!(proposal(), encoded("/noise"));
}

#[test]
fn the_splitmix64_stream_is_the_readmes() {
    // splitmix64's published first output for seed 0 is 0xe220a8397b1dcdaf
    assert_eq!(
        ephemeral_secret(0)[..8],
        0xe220_a839_7b1d_cdaf_u64.to_le_bytes()
    );
}

#[test]
fn libp2p_noise_transcripts_replay_through_the_c_api() {
    let replayed = replay_file("libp2p-noise-0.47.json");
    // every session of the file, in its recorded role
    for ty in ["ed25519", "secp256k1", "ecdsa"] {
        for (prefix, role) in [
            ("p2psec-initiator", Role::Initiator),
            ("p2psec-responder", Role::Responder),
        ] {
            let entry = (format!("{prefix}-{ty}"), role);
            assert!(replayed.contains(&entry), "{entry:?} not replayed");
        }
    }
    assert_eq!(replayed.len(), 6);
}

#[test]
fn p2psec_pair_transcripts_replay_through_the_c_api() {
    let replayed = replay_file("p2psec-pairs.json");
    // both sides of the pair with muxer lists in different orders (the muxer agreed
    // inside the handshake), and of the pair with the WebRTC prologue and certhashes
    for name in [
        "p2psec-pair-muxers-ed25519",
        "p2psec-pair-secp256k1-ecdsa-webrtc-prologue-certhashes",
    ] {
        for role in [Role::Initiator, Role::Responder] {
            let entry = (name.to_owned(), role);
            assert!(replayed.contains(&entry), "{entry:?} not replayed");
        }
    }
    assert_eq!(replayed.len(), 4);
}
