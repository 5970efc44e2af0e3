//! The C API driven from Rust exactly as a C program drives it: raw pointers, caller
//! buffers, out parameters, `_free(&h)`. Nothing here touches `p2psec` itself; every
//! byte moves through `poll_transmit` / `handle_input` (honouring `consumed`), every text
//! through a size query and a buffer of exactly the reported size.
//!
//! What it shows:
//! - every `p2psec_status` value is reached by a real call (P2PSEC_PANIC through the
//!   hidden `panic_probe`), and `p2psec_status_name` names each value and refuses others;
//! - complete Noise and TLS upgrades between a C-API dialer and listener in memory, their
//!   events, `_into_channel` on both sides, and data both ways through the channels;
//! - seeded upgrades replay byte for byte, and each seed changes the bytes;
//! - a failed handle is poisoned: the same status, text and code on every later call, and
//!   the thread's `p2psec_last_error` holds that text;
//! - bad pointers and lengths are refused without writing any output;
//! - `_free` sets the caller's pointer to NULL, so freeing twice or freeing NULL is a no-op;
//! - key pairs and PeerIds against `vectors/identity/`.
//!
//! Everything is in memory and deterministic except where a test says it uses the OS RNG.
//! Every handle is freed (the suite runs under valgrind's leak check in CI).
#![cfg(all(feature = "noise", feature = "tls"))]

use std::ffi::{c_char, CString};
use std::ptr;

use p2psec_ffi::p2psec_event_kind::*;
use p2psec_ffi::p2psec_key_type::*;
use p2psec_ffi::p2psec_security::*;
use p2psec_ffi::p2psec_status::*;
use p2psec_ffi::*;
use serde::Deserialize;

/// The time every configuration and upgrade is made at (Unix seconds).
const NOW: u64 = 1_780_000_000;

/// What an out parameter holds before a call that must not write it.
const SENTINEL: usize = 0x5EED_5EED;

/// A non-NULL pointer value for out parameters that must stay untouched: never
/// dereferenced, never freed.
fn sentinel<T>() -> *mut T {
    ptr::NonNull::dangling().as_ptr()
}

/// Asserts success, showing the thread's last error otherwise.
fn ok(status: p2psec_status, what: &str) {
    assert_eq!(status, P2PSEC_OK, "{what}: {}", last_error());
}

/// The name `p2psec_status_name` gives `value`.
fn status_name(value: i32) -> String {
    let name = p2psec_status_name(value);
    assert!(!name.is_null());
    // SAFETY: the function returns a static NUL-terminated string, never NULL
    unsafe { std::ffi::CStr::from_ptr(name) }
        .to_str()
        .expect("names are ASCII")
        .to_owned()
}

/// Text out of a `(buf, cap, written)` function, the way the header says to get it: a
/// size query (NULL, 0: BUFFER_TOO_SMALL and the size needed, NUL included), a buffer one
/// byte short (BUFFER_TOO_SMALL again, the buffer untouched), then a buffer of exactly the
/// size needed (OK, `written` the length without the NUL, the NUL written).
fn text(mut f: impl FnMut(*mut c_char, usize, *mut usize) -> p2psec_status) -> String {
    let mut needed = SENTINEL;
    assert_eq!(f(ptr::null_mut(), 0, &mut needed), P2PSEC_BUFFER_TOO_SMALL);
    assert!(needed >= 1 && needed != SENTINEL, "size needed {needed}");

    let mut short: Vec<c_char> = vec![0x55; needed - 1];
    let mut written = SENTINEL;
    assert_eq!(
        f(short.as_mut_ptr(), short.len(), &mut written),
        P2PSEC_BUFFER_TOO_SMALL
    );
    assert_eq!(written, needed, "the size needed is stable");
    assert!(
        short.iter().all(|&c| c == 0x55),
        "a short buffer is untouched"
    );

    let mut buf: Vec<c_char> = vec![0x55; needed];
    let mut written = SENTINEL;
    assert_eq!(f(buf.as_mut_ptr(), buf.len(), &mut written), P2PSEC_OK);
    assert_eq!(written + 1, needed, "written excludes the NUL");
    assert_eq!(buf[written], 0, "NUL-terminated");
    let bytes: Vec<u8> = buf[..written].iter().map(|&c| c as u8).collect();
    String::from_utf8(bytes).expect("text out is UTF-8")
}

/// Bytes out of a `(out, cap, written)` function (poll_transmit, keypair_to_protobuf) the
/// same way: NULL/0 answers OK with 0 (nothing) or BUFFER_TOO_SMALL with the size; one
/// byte short is refused untouched; exactly the size succeeds with `written` = that size.
fn bytes(mut f: impl FnMut(*mut u8, usize, *mut usize) -> p2psec_status) -> Vec<u8> {
    let mut needed = SENTINEL;
    match f(ptr::null_mut(), 0, &mut needed) {
        P2PSEC_OK => {
            assert_eq!(needed, 0, "OK with an empty buffer means nothing to give");
            return Vec::new();
        }
        P2PSEC_BUFFER_TOO_SMALL => assert!(needed > 0 && needed != SENTINEL),
        other => panic!("size query: {other:?}"),
    }

    let mut short = vec![0xA5u8; needed - 1];
    let mut written = SENTINEL;
    assert_eq!(
        f(short.as_mut_ptr(), short.len(), &mut written),
        P2PSEC_BUFFER_TOO_SMALL
    );
    assert_eq!(written, needed, "the size needed is stable");
    assert!(
        short.iter().all(|&b| b == 0xA5),
        "a short buffer is untouched"
    );

    let mut out = vec![0u8; needed];
    let mut written = SENTINEL;
    assert_eq!(f(out.as_mut_ptr(), out.len(), &mut written), P2PSEC_OK);
    assert_eq!(written, needed, "a buffer of the size needed takes it all");
    out
}

/// The calling thread's last failure text (p2psec_last_error, read without replacing it).
fn last_error() -> String {
    // SAFETY: `text` passes NULL with 0 or a buffer of `cap` bytes, and a live `written`
    text(|b, c, w| unsafe { p2psec_last_error(b, c, w) })
}

/// Makes a library failure the thread's last one (a zero secp256k1 scalar: code 1110),
/// so that the next call shows whether it replaces it.
fn mark_library_failure() {
    let mut key = sentinel();
    // SAFETY: 32 readable bytes, a local out slot
    let status = unsafe {
        p2psec_keypair_from_seed(P2PSEC_KEY_SECP256K1 as u32, [0u8; 32].as_ptr(), &mut key)
    };
    assert_eq!(status, P2PSEC_INVALID_ARGUMENT);
    assert_eq!(p2psec_last_error_code(), 1110);
    assert_eq!(key, sentinel());
}

/// Asserts that `call` is refused by the boundary itself: INVALID_ARGUMENT, remembered as
/// the thread's last failure (replacing a library failure made just before) with a text
/// saying what was wrong and no library code.
fn refused(what: &str, call: impl FnOnce() -> p2psec_status) {
    mark_library_failure();
    assert_eq!(call(), P2PSEC_INVALID_ARGUMENT, "{what}");
    assert_eq!(p2psec_last_error_code(), 0, "{what}: the boundary's own");
    let text = last_error();
    assert!(
        !text.is_empty() && !text.contains("scalar"),
        "{what}: {text}"
    );
}

/// As [`refused`], for the functions that report errors: they refuse a bad argument
/// without replacing the thread's last failure.
fn refused_quietly(what: &str, call: impl FnOnce() -> p2psec_status) {
    mark_library_failure();
    let before = last_error();
    assert_eq!(call(), P2PSEC_INVALID_ARGUMENT, "{what}");
    assert_eq!(p2psec_last_error_code(), 1110, "{what}: not replaced");
    assert_eq!(last_error(), before, "{what}: not replaced");
}

/// Makes a known failure the thread's last one (NULL PeerId text, refused) and returns
/// its text: the mark that calls answering WOULD_BLOCK or NOT_COMPLETE must not replace.
fn known_failure() -> String {
    let mut id = sentinel();
    // SAFETY: NULL text is refused before anything is read; `id` is a local out slot
    refused("NULL text", || unsafe {
        p2psec_peer_id_from_string(ptr::null(), &mut id)
    });
    assert_eq!(id, sentinel());
    last_error()
}

// ---- keys and PeerIds ----

/// A key pair of `kind` from 32 bytes of `seed`.
fn keypair(kind: p2psec_key_type, seed: [u8; 32]) -> *mut p2psec_keypair {
    let mut key = ptr::null_mut();
    // SAFETY: `seed` is 32 readable bytes, `key` a local out slot
    ok(
        unsafe { p2psec_keypair_from_seed(kind as u32, seed.as_ptr(), &mut key) },
        "keypair_from_seed",
    );
    assert!(!key.is_null());
    key
}

/// The PeerId of a key pair (a new handle: the caller frees it).
fn keypair_peer(key: *const p2psec_keypair) -> *mut p2psec_peer_id {
    let mut id = ptr::null_mut();
    // SAFETY: `key` is live, `id` a local out slot
    ok(
        unsafe { p2psec_keypair_peer_id(key, &mut id) },
        "keypair_peer_id",
    );
    id
}

/// A PeerId's base58 text.
fn peer_text(id: *const p2psec_peer_id) -> String {
    // SAFETY: `id` is live; `text` passes valid buffers
    text(|b, c, w| unsafe { p2psec_peer_id_to_string(id, b, c, w) })
}

/// Parses PeerId text (a new handle: the caller frees it).
fn parse_peer(s: &str) -> *mut p2psec_peer_id {
    let s = CString::new(s).unwrap();
    let mut id = ptr::null_mut();
    // SAFETY: `s` is NUL-terminated, `id` a local out slot
    ok(
        unsafe { p2psec_peer_id_from_string(s.as_ptr(), &mut id) },
        "peer_id_from_string",
    );
    id
}

/// The text of the PeerId a configuration has.
fn config_peer_text(config: *const p2psec_config) -> String {
    let mut id = ptr::null_mut();
    // SAFETY: `config` is live, `id` a local out slot, freed below
    unsafe {
        ok(
            p2psec_config_local_peer_id(config, &mut id),
            "local_peer_id",
        );
        let s = peer_text(id);
        p2psec_peer_id_free(&mut id);
        s
    }
}

/// The Ed25519 identity from `[key_seed; 32]`, a configuration for it whose keys come from
/// `[seed; 32]` (None: the OS RNG), speaking `security`.
fn config(key_seed: u8, seed: Option<u8>, security: &str) -> *mut p2psec_config {
    let mut key = keypair(P2PSEC_KEY_ED25519, [key_seed; 32]);
    let seed = seed.map(|s| [s; 32]);
    let list = CString::new(security).unwrap();
    let mut config = ptr::null_mut();
    // SAFETY: live key, 32-byte seed or NULL, NUL-terminated list, local out slots
    unsafe {
        let seed_ptr = seed.as_ref().map_or(ptr::null(), |s| s.as_ptr());
        ok(
            p2psec_config_new(key, NOW, seed_ptr, &mut config),
            "config_new",
        );
        ok(
            p2psec_config_set_security(config, list.as_ptr()),
            "set_security",
        );
        p2psec_keypair_free(&mut key);
    }
    config
}

// ---- moving bytes ----

/// Which role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Dialer,
    Listener,
}

impl Side {
    fn idx(self) -> usize {
        self as usize
    }

    fn other(self) -> Side {
        match self {
            Side::Dialer => Side::Listener,
            Side::Listener => Side::Dialer,
        }
    }
}

/// One end of the connection: an upgrade in progress or the channel it became. The
/// pointers are live handles owned by a [`Session`].
#[derive(Clone, Copy)]
enum End {
    Dialer(*mut p2psec_dialer),
    Listener(*mut p2psec_listener),
    Channel(*mut p2psec_channel),
}

impl End {
    fn pending(self) -> usize {
        // SAFETY: a live handle
        unsafe {
            match self {
                End::Dialer(h) => p2psec_dialer_pending_transmit(h),
                End::Listener(h) => p2psec_listener_pending_transmit(h),
                End::Channel(h) => p2psec_channel_pending_transmit(h),
            }
        }
    }

    fn poll_transmit(self, out: *mut u8, cap: usize, written: *mut usize) -> p2psec_status {
        // SAFETY: a live handle; callers pass NULL/0 or a buffer of `cap` bytes
        unsafe {
            match self {
                End::Dialer(h) => p2psec_dialer_poll_transmit(h, out, cap, written),
                End::Listener(h) => p2psec_listener_poll_transmit(h, out, cap, written),
                End::Channel(h) => p2psec_channel_poll_transmit(h, out, cap, written),
            }
        }
    }

    fn handle_input(self, input: &[u8], consumed: &mut usize) -> p2psec_status {
        let (p, len) = (input.as_ptr(), input.len());
        // SAFETY: a live handle; `input` is readable for `len` bytes
        unsafe {
            match self {
                End::Dialer(h) => p2psec_dialer_handle_input(h, p, len, consumed),
                End::Listener(h) => p2psec_listener_handle_input(h, p, len, consumed),
                End::Channel(h) => p2psec_channel_handle_input(h, p, len, consumed),
            }
        }
    }

    /// Everything the end has to send now, taken with [`bytes`] (size query, exact
    /// buffer); the size needed equals `pending_transmit`, which is 0 afterwards.
    fn take_output(self) -> Vec<u8> {
        let pending = self.pending();
        let out = bytes(|b, c, w| self.poll_transmit(b, c, w));
        assert_eq!(out.len(), pending, "pending_transmit announced the size");
        assert_eq!(self.pending(), 0, "all of it was taken");
        out
    }

    /// Offers `queue` to the end, honouring `consumed`: what it takes leaves the queue,
    /// the rest stays for later. Whether it took anything, or the status it failed with
    /// (then `consumed` was not written).
    fn feed(self, queue: &mut Vec<u8>) -> Result<bool, p2psec_status> {
        let mut took = false;
        while !queue.is_empty() {
            let mut consumed = SENTINEL;
            let status = self.handle_input(queue, &mut consumed);
            if status != P2PSEC_OK {
                assert_eq!(consumed, SENTINEL, "a failed call writes no output");
                return Err(status);
            }
            assert!(consumed <= queue.len(), "consumed {consumed}");
            if consumed == 0 {
                break;
            }
            queue.drain(..consumed);
            took = true;
        }
        Ok(took)
    }
}

/// The side whose `handle_input` failed, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Failed {
    side: Side,
    status: p2psec_status,
}

/// What to do to the bytes in flight: called with every chunk one side sends.
type Tamper<'a> = &'a mut dyn FnMut(Side, &mut Vec<u8>);

/// Leaves the bytes alone.
fn untouched(_: Side, _: &mut Vec<u8>) {}

/// How to build a [`Session`].
#[derive(Clone, Copy)]
struct Opts {
    dialer_security: &'static str,
    listener_security: &'static str,
    /// The Ed25519 identities' seed bytes (dialer, listener).
    key_seeds: (u8, u8),
    /// The configurations' seed bytes (None: the OS RNG).
    config_seeds: Option<(u8, u8)>,
    /// The upgrades' seed bytes (None: the OS RNG).
    machine_seeds: Option<(u8, u8)>,
    expect: Expect,
    optimistic: bool,
    /// The Noise prologues (dialer, listener), set before the machines are made.
    prologues: Option<(&'static [u8], &'static [u8])>,
}

/// Whom the dialer expects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The listener's PeerId.
    Listener,
    /// Another identity's PeerId.
    Other,
}

fn opts(security: &'static str) -> Opts {
    Opts {
        dialer_security: security,
        listener_security: security,
        key_seeds: (1, 2),
        config_seeds: None,
        machine_seeds: None,
        expect: Expect::Listener,
        optimistic: true,
        prologues: None,
    }
}

/// A dialer and a listener with their configurations, the channels they become, and the
/// wire between them. Everything is freed on drop through the `_free` functions.
struct Session {
    dialer_config: *mut p2psec_config,
    listener_config: *mut p2psec_config,
    dialer: *mut p2psec_dialer,
    listener: *mut p2psec_listener,
    dialer_channel: *mut p2psec_channel,
    listener_channel: *mut p2psec_channel,
    /// The bytes in flight to each side, by [`Side::idx`].
    inbox: [Vec<u8>; 2],
    /// Every byte each side sent, in order, by [`Side::idx`].
    sent: [Vec<u8>; 2],
}

impl Session {
    fn new(o: Opts) -> Session {
        let config_seed = |pick: fn((u8, u8)) -> u8| o.config_seeds.map(pick);
        let dialer_config = config(o.key_seeds.0, config_seed(|s| s.0), o.dialer_security);
        let listener_config = config(o.key_seeds.1, config_seed(|s| s.1), o.listener_security);
        let seeds = o.machine_seeds.map(|(d, l)| ([d; 32], [l; 32]));
        let mut s = Session {
            dialer_config,
            listener_config,
            dialer: ptr::null_mut(),
            listener: ptr::null_mut(),
            dialer_channel: ptr::null_mut(),
            listener_channel: ptr::null_mut(),
            inbox: [Vec::new(), Vec::new()],
            sent: [Vec::new(), Vec::new()],
        };
        // SAFETY: live configurations, 32-byte seeds or NULL, local out slots
        unsafe {
            if !o.optimistic {
                ok(
                    p2psec_config_set_optimistic(s.dialer_config, false),
                    "set_optimistic",
                );
            }
            if let Some((d, l)) = o.prologues {
                for (config, prologue) in [(s.dialer_config, d), (s.listener_config, l)] {
                    ok(
                        p2psec_config_set_noise_prologue(config, prologue.as_ptr(), prologue.len()),
                        "set_noise_prologue",
                    );
                }
            }
            let mut expected = match o.expect {
                Expect::Listener => {
                    let mut id = ptr::null_mut();
                    ok(
                        p2psec_config_local_peer_id(s.listener_config, &mut id),
                        "local_peer_id",
                    );
                    id
                }
                Expect::Other => {
                    let mut key = keypair(P2PSEC_KEY_ED25519, [0xEE; 32]);
                    let id = keypair_peer(key);
                    p2psec_keypair_free(&mut key);
                    id
                }
            };
            let d_seed = seeds.as_ref().map_or(ptr::null(), |s| s.0.as_ptr());
            let l_seed = seeds.as_ref().map_or(ptr::null(), |s| s.1.as_ptr());
            ok(
                p2psec_dialer_new(s.dialer_config, expected, NOW, d_seed, &mut s.dialer),
                "dialer_new",
            );
            ok(
                p2psec_listener_new(s.listener_config, NOW, l_seed, &mut s.listener),
                "listener_new",
            );
            p2psec_peer_id_free(&mut expected);
        }
        s
    }

    /// The side's channel once there is one, its upgrade before.
    fn end(&self, side: Side) -> End {
        match side {
            Side::Dialer if !self.dialer_channel.is_null() => End::Channel(self.dialer_channel),
            Side::Dialer => End::Dialer(self.dialer),
            Side::Listener if !self.listener_channel.is_null() => {
                End::Channel(self.listener_channel)
            }
            Side::Listener => End::Listener(self.listener),
        }
    }

    fn channel(&self, side: Side) -> *mut p2psec_channel {
        let c = match side {
            Side::Dialer => self.dialer_channel,
            Side::Listener => self.listener_channel,
        };
        assert!(!c.is_null(), "{side:?} has no channel yet");
        c
    }

    fn config(&self, side: Side) -> *mut p2psec_config {
        match side {
            Side::Dialer => self.dialer_config,
            Side::Listener => self.listener_config,
        }
    }

    /// Sends what `from` has to send (through `tamper`) and offers the other side its
    /// inbox. Whether anything moved, or the receiver's failure.
    fn deliver(&mut self, from: Side, tamper: Tamper<'_>) -> Result<bool, p2psec_status> {
        let to = from.other();
        let mut out = self.end(from).take_output();
        let sent = !out.is_empty();
        if sent {
            tamper(from, &mut out);
            self.sent[from.idx()].extend_from_slice(&out);
            self.inbox[to.idx()].extend_from_slice(&out);
        }
        let receiver = self.end(to);
        let took = receiver.feed(&mut self.inbox[to.idx()])?;
        Ok(sent || took)
    }

    /// Moves bytes both ways until nothing moves; the first failure stops it.
    fn exchange_with(&mut self, tamper: Tamper<'_>) -> Result<(), Failed> {
        for _ in 0..100 {
            let mut moved = false;
            for from in [Side::Dialer, Side::Listener] {
                moved |= self.deliver(from, tamper).map_err(|status| Failed {
                    side: from.other(),
                    status,
                })?;
            }
            if !moved {
                return Ok(());
            }
        }
        panic!("the exchange does not settle");
    }

    fn exchange(&mut self) -> Result<(), Failed> {
        self.exchange_with(&mut untouched)
    }

    /// Runs the upgrade to its end and takes both channels.
    fn complete(&mut self) {
        self.exchange().expect("the upgrade succeeds");
        self.take_channels();
        self.exchange().expect("the channels settle");
    }

    /// `_into_channel` on both complete upgrades: each handle pointer becomes NULL.
    fn take_channels(&mut self) {
        // SAFETY: live handles (or NULL), local out slots
        unsafe {
            assert!(p2psec_dialer_is_complete(self.dialer));
            assert!(p2psec_listener_is_complete(self.listener));
            ok(
                p2psec_dialer_into_channel(&mut self.dialer, &mut self.dialer_channel),
                "dialer_into_channel",
            );
            ok(
                p2psec_listener_into_channel(&mut self.listener, &mut self.listener_channel),
                "listener_into_channel",
            );
        }
        assert!(self.dialer.is_null() && self.listener.is_null());
        assert!(!self.dialer_channel.is_null() && !self.listener_channel.is_null());
    }

    /// The side's events until P2PSEC_WOULD_BLOCK (which leaves the event untouched).
    fn events(&self, side: Side) -> Vec<Ev> {
        let mut events = Vec::new();
        loop {
            let mut e = sentinel_event();
            // SAFETY: a live handle, a local event
            let status = unsafe {
                match side {
                    Side::Dialer => p2psec_dialer_poll_event(self.dialer, &mut e),
                    Side::Listener => p2psec_listener_poll_event(self.listener, &mut e),
                }
            };
            match status {
                P2PSEC_OK => events.push(Ev::of(&e)),
                P2PSEC_WOULD_BLOCK => {
                    assert!(is_sentinel_event(&e), "WOULD_BLOCK writes no event");
                    return events;
                }
                other => panic!("poll_event: {other:?}"),
            }
        }
    }

    /// Writes all of `data` on `from`'s channel (offering the rest again while output
    /// waits), moves the ciphertext and reads on the other side until every byte was
    /// accepted and the receiver's inbox is empty (a receiver whose plaintext buffer is
    /// full consumes nothing more until it is read). Returns what the receiver read.
    fn send(&mut self, from: Side, data: &[u8]) -> Vec<u8> {
        let (writer, reader) = (self.channel(from), self.channel(from.other()));
        let mut received = Vec::new();
        let mut at = 0;
        for _ in 0..1000 {
            if at < data.len() {
                let rest = &data[at..];
                let mut accepted = SENTINEL;
                // SAFETY: a live channel, `rest` readable for its length, a local out slot
                let status = unsafe {
                    p2psec_channel_write(writer, rest.as_ptr(), rest.len(), &mut accepted)
                };
                ok(status, "channel_write");
                assert!(accepted <= rest.len());
                at += accepted;
            }
            self.exchange().expect("the data moves");
            received.extend(read_all(reader));
            if at == data.len() && self.inbox[from.other().idx()].is_empty() {
                return received;
            }
        }
        panic!("sent {at} of {} bytes", data.len());
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: each slot holds NULL or a live handle of its type
        unsafe {
            p2psec_channel_free(&mut self.dialer_channel);
            p2psec_channel_free(&mut self.listener_channel);
            p2psec_dialer_free(&mut self.dialer);
            p2psec_listener_free(&mut self.listener);
            p2psec_config_free(&mut self.dialer_config);
            p2psec_config_free(&mut self.listener_config);
        }
    }
}

/// A completed pair of channels speaking `security`, with the default settings.
fn pair(security: &'static str) -> Session {
    let mut s = Session::new(opts(security));
    s.complete();
    s
}

/// All plaintext waiting on `c` (`readable` says whether any is), until WOULD_BLOCK.
fn read_all(c: *mut p2psec_channel) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut n = SENTINEL;
        // SAFETY: a live channel, `buf` writable for its length, a local out slot
        let (readable, status) = unsafe {
            (
                p2psec_channel_readable(c),
                p2psec_channel_read(c, buf.as_mut_ptr(), buf.len(), &mut n),
            )
        };
        match status {
            P2PSEC_OK => {
                assert!(n > 0 && n <= buf.len() && readable > 0, "read {n}");
                got.extend_from_slice(&buf[..n]);
            }
            P2PSEC_WOULD_BLOCK => {
                assert_eq!(n, SENTINEL, "WOULD_BLOCK writes no count");
                assert_eq!(readable, 0);
                return got;
            }
            other => panic!("channel_read: {other:?}"),
        }
    }
}

/// A channel's error text and code.
fn channel_error(c: *const p2psec_channel) -> (String, u16) {
    // SAFETY: a live channel; `text` passes valid buffers
    unsafe {
        (
            text(|b, n, w| p2psec_channel_last_error(c, b, n, w)),
            p2psec_channel_error_code(c),
        )
    }
}

fn dialer_error(d: *const p2psec_dialer) -> (String, u16) {
    // SAFETY: a live dialer; `text` passes valid buffers
    unsafe {
        (
            text(|b, n, w| p2psec_dialer_last_error(d, b, n, w)),
            p2psec_dialer_error_code(d),
        )
    }
}

fn listener_error(l: *const p2psec_listener) -> (String, u16) {
    // SAFETY: a live listener; `text` passes valid buffers
    unsafe {
        (
            text(|b, n, w| p2psec_listener_last_error(l, b, n, w)),
            p2psec_listener_error_code(l),
        )
    }
}

// ---- events ----

/// An event, read out of the C struct.
#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Agreed(p2psec_security),
    Identified(String),
    Complete,
}

impl Ev {
    fn of(e: &p2psec_event) -> Ev {
        let id: Vec<u8> = e.peer_id.iter().map(|&c| c as u8).collect();
        let id = std::ffi::CStr::from_bytes_until_nul(&id)
            .expect("peer_id is NUL-terminated")
            .to_str()
            .expect("UTF-8")
            .to_owned();
        match e.kind {
            P2PSEC_EVENT_SECURITY_AGREED => {
                assert!(id.is_empty());
                Ev::Agreed(e.security)
            }
            P2PSEC_EVENT_REMOTE_IDENTIFIED => {
                assert_eq!(e.security, P2PSEC_SECURITY_NONE);
                Ev::Identified(id)
            }
            P2PSEC_EVENT_COMPLETE => {
                assert_eq!(e.security, P2PSEC_SECURITY_NONE);
                assert!(id.is_empty());
                Ev::Complete
            }
        }
    }
}

fn sentinel_event() -> p2psec_event {
    p2psec_event {
        kind: P2PSEC_EVENT_REMOTE_IDENTIFIED,
        security: P2PSEC_SECURITY_SECIO,
        peer_id: [0x55; P2PSEC_PEER_ID_TEXT_MAX],
    }
}

fn is_sentinel_event(e: &p2psec_event) -> bool {
    e.kind == P2PSEC_EVENT_REMOTE_IDENTIFIED
        && e.security == P2PSEC_SECURITY_SECIO
        && e.peer_id.iter().all(|&c| c == 0x55)
}

// ---- vectors ----

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0);
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn vector(name: &str) -> String {
    let path = format!("{}/../vectors/identity/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An entry of `vectors/identity/keys.json` (the fields used here).
#[derive(Deserialize)]
struct KeyVector {
    name: String,
    key_type: u32,
    private_key_protobuf_hex: String,
    derived_not_in_spec: KeyDerived,
}

#[derive(Deserialize)]
struct KeyDerived {
    peer_id_base58btc: String,
}

/// An entry of `vectors/identity/peer-id-strings.json` (the fields used here).
#[derive(Deserialize)]
struct PeerIdVector {
    string: String,
    derived_not_in_spec: PeerIdDerived,
}

#[derive(Deserialize)]
struct PeerIdDerived {
    base58btc: String,
}

// ==== the tests ====

/// `p2psec_status_name` names every status value with its constant's name (P2PSEC_LOCAL
/// included) and answers `P2PSEC_UNKNOWN` for any other value; the values are the
/// header's.
#[test]
fn every_status_has_its_name_and_others_are_unknown() {
    let all = [
        (P2PSEC_OK, "P2PSEC_OK"),
        (P2PSEC_WOULD_BLOCK, "P2PSEC_WOULD_BLOCK"),
        (P2PSEC_BUFFER_TOO_SMALL, "P2PSEC_BUFFER_TOO_SMALL"),
        (P2PSEC_PEER_ID_MISMATCH, "P2PSEC_PEER_ID_MISMATCH"),
        (P2PSEC_NO_COMMON_PROTOCOL, "P2PSEC_NO_COMMON_PROTOCOL"),
        (P2PSEC_PROTOCOL_VIOLATION, "P2PSEC_PROTOCOL_VIOLATION"),
        (P2PSEC_CRYPTO, "P2PSEC_CRYPTO"),
        (P2PSEC_CLOSED, "P2PSEC_CLOSED"),
        (P2PSEC_INVALID_ARGUMENT, "P2PSEC_INVALID_ARGUMENT"),
        (P2PSEC_PANIC, "P2PSEC_PANIC"),
        (P2PSEC_INCOMPATIBLE, "P2PSEC_INCOMPATIBLE"),
        (P2PSEC_NOT_COMPLETE, "P2PSEC_NOT_COMPLETE"),
        (P2PSEC_API_MISUSE, "P2PSEC_API_MISUSE"),
        (P2PSEC_LOCAL, "P2PSEC_LOCAL"),
    ];
    for (value, (status, name)) in all.into_iter().enumerate() {
        assert_eq!(status as i32, value as i32, "{name} keeps its number");
        assert_eq!(status_name(status as i32), name);
    }
    for unknown in [14, 15, 100, -1, i32::MIN, i32::MAX] {
        assert_eq!(status_name(unknown), "P2PSEC_UNKNOWN", "{unknown}");
    }
}

/// The whole handshake through the C API, as `check_full_upgrade` describes, over Noise.
#[test]
fn noise_upgrade_events_channels_and_data() {
    check_full_upgrade("noise", P2PSEC_SECURITY_NOISE);
}

/// The whole handshake through the C API, as `check_full_upgrade` describes, over TLS.
#[test]
fn tls_upgrade_events_channels_and_data() {
    check_full_upgrade("tls", P2PSEC_SECURITY_TLS);
}

/// A C-API dialer and listener (keys from seeds, the OS RNG for the rest) upgrade in
/// memory: each reports SECURITY_AGREED(`agreed`), REMOTE_IDENTIFIED with the other's
/// PeerId text, COMPLETE, in that order; `_into_channel` on both succeeds and NULLs the
/// handle pointers; each channel reports the protocol, the default muxer `/yamux/1.0.0`,
/// a non-empty cipher name, no error, and the other side's PeerId; data crosses both ways
/// (one short message, one of 100 000 bytes: several frames or records, `accepted` and
/// `consumed` honoured).
fn check_full_upgrade(security: &'static str, agreed: p2psec_security) {
    let mut s = Session::new(opts(security));
    let ids = [
        config_peer_text(s.dialer_config),
        config_peer_text(s.listener_config),
    ];
    assert_ne!(ids[0], ids[1]);

    s.exchange().expect("the upgrade succeeds");
    for side in [Side::Dialer, Side::Listener] {
        assert_eq!(
            s.events(side),
            [
                Ev::Agreed(agreed),
                Ev::Identified(ids[side.other().idx()].clone()),
                Ev::Complete
            ],
            "{side:?}'s events"
        );
        assert!(s.events(side).is_empty(), "no event twice");
    }
    s.take_channels();
    s.exchange().expect("the channels settle");

    for side in [Side::Dialer, Side::Listener] {
        let c = s.channel(side);
        // SAFETY: live channels and configurations; `text` passes valid buffers; the
        // PeerId handles are freed here
        unsafe {
            assert_eq!(p2psec_channel_security(c), agreed);
            assert_eq!(
                text(|b, n, w| p2psec_channel_muxer(c, b, n, w)),
                "/yamux/1.0.0"
            );
            let cipher = text(|b, n, w| p2psec_channel_cipher(c, b, n, w));
            assert!(!cipher.is_empty());
            if agreed == P2PSEC_SECURITY_NOISE {
                assert_eq!(cipher, "ChaChaPoly");
            } else {
                assert!(cipher.starts_with("TLS13_"), "{cipher}");
            }
            assert_eq!(channel_error(c), (String::new(), 0));
            assert!(!p2psec_channel_is_peer_closed(c));

            let mut remote = ptr::null_mut();
            ok(
                p2psec_channel_remote_peer_id(c, &mut remote),
                "remote_peer_id",
            );
            let mut theirs = ptr::null_mut();
            ok(
                p2psec_config_local_peer_id(s.config(side.other()), &mut theirs),
                "local_peer_id",
            );
            assert!(p2psec_peer_id_equal(remote, theirs));
            assert_eq!(peer_text(remote), ids[side.other().idx()]);
            // the proven key, protobuf-encoded: its PeerId is the remote's
            let key = bytes(|out, cap, n| p2psec_channel_remote_public_key(c, out, cap, n));
            let key = p2psec::identity::PublicKey::try_decode_protobuf(&key)
                .expect("the remote public key decodes");
            assert_eq!(key.to_peer_id().to_string(), ids[side.other().idx()]);
            p2psec_peer_id_free(&mut remote);
            p2psec_peer_id_free(&mut theirs);
        }
    }

    assert_eq!(s.send(Side::Dialer, b"hello, listener"), b"hello, listener");
    let big: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    assert_eq!(s.send(Side::Listener, &big), big);
    assert_eq!(s.send(Side::Dialer, &big), big);
}

/// Two Noise upgrades with the same identity seeds, configuration seeds and dialer /
/// listener seeds produce identical byte streams both ways (the handshake and the
/// transport frames after it); changing any one seed changes them.
#[test]
fn seeded_noise_upgrades_replay_byte_for_byte() {
    let run = |key_seeds, config_seeds, machine_seeds| {
        let mut s = Session::new(Opts {
            key_seeds,
            config_seeds: Some(config_seeds),
            machine_seeds: Some(machine_seeds),
            ..opts("noise")
        });
        s.complete();
        assert_eq!(s.send(Side::Dialer, b"ping"), b"ping");
        assert_eq!(s.send(Side::Listener, b"pong"), b"pong");
        s.sent.clone()
    };
    let first = run((1, 2), (3, 4), (5, 6));
    assert!(first.iter().all(|bytes| bytes.len() > 100));
    assert_eq!(run((1, 2), (3, 4), (5, 6)), first, "the same seeds replay");

    // the dialer's ephemeral key changes message 1 and everything after it
    let other = run((1, 2), (3, 4), (7, 6));
    assert_ne!(other[0], first[0]);
    assert_ne!(other[1], first[1]);
    // the listener's ephemeral key
    assert_ne!(run((1, 2), (3, 4), (5, 7))[1], first[1]);
    // the listener's Noise static key comes from its configuration's seed
    assert_ne!(run((1, 2), (3, 7), (5, 6))[1], first[1]);
    // the dialer's identity
    assert_ne!(run((7, 2), (3, 4), (5, 6))[0], first[0]);
}

/// P2PSEC_WOULD_BLOCK: `poll_event` with no event waiting (a fresh dialer and listener,
/// and after draining them) and `channel_read` with no plaintext leave their outputs
/// untouched, and are answers, not failures: the thread's last error stays what it was.
#[test]
fn nothing_waiting_is_would_block() {
    let mut s = Session::new(opts("noise"));
    for side in [Side::Dialer, Side::Listener] {
        let mark = known_failure();
        assert!(s.events(side).is_empty(), "{side:?}: nothing yet");
        assert_eq!(last_error(), mark, "WOULD_BLOCK is not remembered");
    }
    s.exchange().expect("the upgrade succeeds");
    assert_eq!(s.events(Side::Dialer).len(), 3);
    let mark = known_failure();
    assert!(s.events(Side::Dialer).is_empty(), "drained");
    assert_eq!(last_error(), mark);
    s.take_channels();
    s.exchange().unwrap();

    for side in [Side::Dialer, Side::Listener] {
        let c = s.channel(side);
        let mut buf = [0xA5u8; 64];
        let mut n = SENTINEL;
        let mark = known_failure();
        // SAFETY: a live channel, `buf` writable for its length, a local out slot
        unsafe {
            assert_eq!(p2psec_channel_readable(c), 0);
            assert_eq!(
                p2psec_channel_read(c, buf.as_mut_ptr(), buf.len(), &mut n),
                P2PSEC_WOULD_BLOCK
            );
        }
        assert_eq!(n, SENTINEL);
        assert!(buf.iter().all(|&b| b == 0xA5));
        assert_eq!(last_error(), mark, "WOULD_BLOCK is not remembered");
    }
}

/// P2PSEC_BUFFER_TOO_SMALL, then success with exactly the size reported, for every
/// caller-buffer function: the dialer's, listener's and channel's poll_transmit, the key
/// protobuf, PeerId text, the channel's muxer and cipher, the handles' error texts and
/// p2psec_last_error (each through `bytes` / `text`, which also check that a buffer one
/// byte short is refused and left untouched).
#[test]
fn too_small_buffers_report_the_exact_size() {
    let mut s = Session::new(opts("noise"));
    // the dialer's first flight and the listener's answer, taken by hand
    let flight = End::Dialer(s.dialer).take_output();
    assert!(flight.starts_with(b"\x13/multistream/1.0.0\n"));
    s.inbox[Side::Listener.idx()] = flight;
    assert_eq!(End::Listener(s.listener).feed(&mut s.inbox[1]), Ok(true));
    assert!(!End::Listener(s.listener).take_output().is_empty());
    // and nothing more: OK with written 0 on a NULL buffer
    let mut n = SENTINEL;
    assert_eq!(
        End::Listener(s.listener).poll_transmit(ptr::null_mut(), 0, &mut n),
        P2PSEC_OK
    );
    assert_eq!(n, 0);

    let mut s = pair("noise");
    let c = s.channel(Side::Dialer);
    let mut accepted = 0;
    // SAFETY: a live channel, 5 readable bytes, a local out slot
    ok(
        unsafe { p2psec_channel_write(c, b"hello".as_ptr(), 5, &mut accepted) },
        "write",
    );
    assert_eq!(accepted, 5);
    let frame = End::Channel(c).take_output();
    assert_eq!(frame.len(), 2 + 5 + 16, "length, ciphertext, tag");
    s.inbox[Side::Listener.idx()] = frame;
    assert_eq!(s.end(Side::Listener).feed(&mut s.inbox[1]), Ok(true));
    assert_eq!(read_all(s.channel(Side::Listener)), b"hello");
    // SAFETY: a live channel; `text` passes valid buffers
    unsafe {
        assert_eq!(
            text(|b, n, w| p2psec_channel_muxer(c, b, n, w)),
            "/yamux/1.0.0"
        );
        assert_eq!(
            text(|b, n, w| p2psec_channel_cipher(c, b, n, w)),
            "ChaChaPoly"
        );
    }

    let mut key = keypair(P2PSEC_KEY_ED25519, [9; 32]);
    // SAFETY: a live key; `bytes` passes valid buffers
    let pb = bytes(|b, n, w| unsafe { p2psec_keypair_to_protobuf(key, b, n, w) });
    assert_eq!(pb.len(), 4 + 64, "08 01 12 40, seed and public key");
    let mut id = keypair_peer(key);
    assert!(peer_text(id).starts_with("12D3KooW"));

    // error texts: a failure, then its text through both the handle and the thread
    let mut d_cfg = config(3, None, "noise");
    let mut d = ptr::null_mut();
    // SAFETY: live configuration, local out slot; every handle is freed below
    unsafe {
        ok(
            p2psec_dialer_new(d_cfg, ptr::null(), NOW, ptr::null(), &mut d),
            "dialer_new",
        );
        let mut consumed = SENTINEL;
        assert_eq!(
            End::Dialer(d).handle_input(b"\x00", &mut consumed),
            P2PSEC_PROTOCOL_VIOLATION
        );
        let (message, code) = dialer_error(d);
        assert!(!message.is_empty() && code != 0);
        assert_eq!(last_error(), message);

        p2psec_dialer_free(&mut d);
        p2psec_config_free(&mut d_cfg);
        p2psec_peer_id_free(&mut id);
        p2psec_keypair_free(&mut key);
    }
}

/// P2PSEC_PEER_ID_MISMATCH: a dialer expecting another PeerId fails when the listener
/// proves its own (Noise code 3204, TLS 4212), is not complete, and says so in its text.
#[test]
fn a_dialer_expecting_another_peer_fails_with_peer_id_mismatch() {
    for (security, code) in [("noise", 3204), ("tls", 4212)] {
        let mut s = Session::new(Opts {
            expect: Expect::Other,
            ..opts(security)
        });
        let failed = s.exchange().expect_err("the upgrade fails");
        assert_eq!(
            failed,
            Failed {
                side: Side::Dialer,
                status: P2PSEC_PEER_ID_MISMATCH
            },
            "{security}"
        );
        let (message, got) = dialer_error(s.dialer);
        assert_eq!(got, code, "{security}: {message}");
        assert_eq!(p2psec_last_error_code(), code);
        // SAFETY: a live dialer
        assert!(!unsafe { p2psec_dialer_is_complete(s.dialer) });
    }
}

/// P2PSEC_NO_COMMON_PROTOCOL: a dialer offering only Noise to a listener speaking only
/// TLS is refused (code 2301), negotiating optimistically or not. The optimistic dialer
/// sent Noise's first message behind its proposal, so the listener, which answered `na`,
/// fails too (code 2302: the listener's side of the refusal, P2PSEC_NO_COMMON_PROTOCOL as well);
/// the patient one's listener just waits.
#[test]
fn noise_against_tls_is_no_common_protocol() {
    for optimistic in [false, true] {
        let mut s = Session::new(Opts {
            listener_security: "tls",
            optimistic,
            ..opts("noise")
        });
        let failed = s.exchange();
        if optimistic {
            assert_eq!(
                failed,
                Err(Failed {
                    side: Side::Listener,
                    status: P2PSEC_NO_COMMON_PROTOCOL
                })
            );
            assert_eq!(listener_error(s.listener).1, 2302);
            // the failed listener still hands out its refusal, which ends the dialer
            assert_eq!(
                s.deliver(Side::Listener, &mut untouched),
                Err(P2PSEC_NO_COMMON_PROTOCOL)
            );
        } else {
            assert_eq!(
                failed,
                Err(Failed {
                    side: Side::Dialer,
                    status: P2PSEC_NO_COMMON_PROTOCOL
                })
            );
            assert_eq!(listener_error(s.listener), (String::new(), 0));
        }
        let (message, code) = dialer_error(s.dialer);
        assert_eq!(code, 2301, "{message}");
        assert!(message.contains("rejected"), "{message}");
    }
}

/// P2PSEC_PROTOCOL_VIOLATION and poisoning: garbage to a listener fails it (a
/// multistream length prefix too long, code 2101); then every later call returns the
/// same status (handle_input with the genuine first flight, poll_event, into_channel),
/// consumes nothing, and the handle's text (non-empty, the library's own words) and code
/// stay the same; p2psec_last_error holds that text and p2psec_last_error_code that code;
/// a too-small buffer for either error text replaces neither; another thread has its own.
#[test]
fn garbage_poisons_the_listener_with_protocol_violation() {
    let mut s = Session::new(opts("noise"));
    let flight = End::Dialer(s.dialer).take_output();
    let l = End::Listener(s.listener);

    let mut consumed = SENTINEL;
    assert_eq!(
        l.handle_input(&[0xFF; 16], &mut consumed),
        P2PSEC_PROTOCOL_VIOLATION
    );
    assert_eq!(consumed, SENTINEL);
    let (message, code) = listener_error(s.listener);
    assert!(message.contains("length prefix"), "{message}");
    assert_eq!(code, 2101);
    assert_eq!(last_error(), message);
    assert_eq!(p2psec_last_error_code(), code);

    for _ in 0..2 {
        assert_eq!(
            l.handle_input(&flight, &mut consumed),
            P2PSEC_PROTOCOL_VIOLATION
        );
        assert_eq!(consumed, SENTINEL);
        assert_eq!(listener_error(s.listener), (message.clone(), code));
    }
    let mut e = sentinel_event();
    let mut c = sentinel();
    // SAFETY: a live listener, local out slots
    unsafe {
        assert_eq!(
            p2psec_listener_poll_event(s.listener, &mut e),
            P2PSEC_PROTOCOL_VIOLATION
        );
        assert!(!p2psec_listener_is_complete(s.listener));
        assert_eq!(
            p2psec_listener_into_channel(&mut s.listener, &mut c),
            P2PSEC_PROTOCOL_VIOLATION
        );
    }
    assert!(is_sentinel_event(&e));
    assert_eq!(c, sentinel());
    assert!(
        !s.listener.is_null(),
        "the failed handle stays the caller's"
    );

    // too-small buffers for the error texts: BUFFER_TOO_SMALL, nothing replaced
    let mut small = [0 as c_char; 4];
    let mut n = SENTINEL;
    // SAFETY: `small` is writable for 4 bytes, a live listener, a local out slot
    unsafe {
        assert_eq!(
            p2psec_last_error(small.as_mut_ptr(), small.len(), &mut n),
            P2PSEC_BUFFER_TOO_SMALL
        );
        assert_eq!(n, message.len() + 1);
        assert_eq!(
            p2psec_listener_last_error(s.listener, small.as_mut_ptr(), small.len(), &mut n),
            P2PSEC_BUFFER_TOO_SMALL
        );
    }
    assert_eq!(last_error(), message);
    assert_eq!(p2psec_last_error_code(), code);
    assert_eq!(listener_error(s.listener), (message.clone(), code));

    // thread-local: a new thread has no failure, and its failures are not this thread's
    std::thread::spawn(|| {
        assert_eq!(last_error(), "");
        assert_eq!(p2psec_last_error_code(), 0);
        mark_library_failure();
    })
    .join()
    .unwrap();
    assert_eq!(last_error(), message);
    assert_eq!(p2psec_last_error_code(), code);
}

/// P2PSEC_CRYPTO on the channel: one flipped ciphertext bit of a Noise transport frame
/// fails its authentication (code 3205) and poisons the receiving channel: handle_input,
/// read and write all return CRYPTO again, with the same text and code.
#[test]
fn a_flipped_noise_transport_frame_is_crypto() {
    let s = pair("noise");
    let (cd, cl) = (s.channel(Side::Dialer), s.channel(Side::Listener));
    let mut accepted = 0;
    // SAFETY: a live channel, 6 readable bytes, a local out slot
    ok(
        unsafe { p2psec_channel_write(cd, b"secret".as_ptr(), 6, &mut accepted) },
        "write",
    );
    let mut frame = End::Channel(cd).take_output();
    frame[2] ^= 0x01;

    let mut consumed = SENTINEL;
    assert_eq!(
        End::Channel(cl).handle_input(&frame, &mut consumed),
        P2PSEC_CRYPTO
    );
    assert_eq!(consumed, SENTINEL);
    let (message, code) = channel_error(cl);
    assert_eq!(code, 3205, "{message}");
    assert!(message.contains("authentication"), "{message}");
    assert_eq!(last_error(), message);

    let mut buf = [0u8; 16];
    let mut n = SENTINEL;
    // SAFETY: a live channel, `buf` writable, local out slots
    unsafe {
        assert_eq!(
            p2psec_channel_read(cl, buf.as_mut_ptr(), buf.len(), &mut n),
            P2PSEC_CRYPTO
        );
        assert_eq!(
            p2psec_channel_write(cl, b"x".as_ptr(), 1, &mut n),
            P2PSEC_CRYPTO
        );
    }
    assert_eq!(n, SENTINEL);
    assert_eq!(
        End::Channel(cl).handle_input(&frame, &mut consumed),
        P2PSEC_CRYPTO
    );
    assert_eq!(channel_error(cl), (message, code));
}

/// P2PSEC_CRYPTO during the upgrade: the last byte of the listener's flight (the tag of
/// Noise message 2, behind the multistream answer) flipped makes the dialer refuse the
/// message (code 3102).
/// The same Noise prologue on both sides completes; different ones fail message 2 at
/// the dialer (the handshake hashes differ, so its encrypted static key does not open).
#[test]
fn noise_prologues_must_match() {
    let mut same = Session::new(Opts {
        prologues: Some((b"webrtc", b"webrtc")),
        ..opts("noise")
    });
    same.complete();

    let mut differ = Session::new(Opts {
        prologues: Some((b"webrtc", b"webrtx")),
        ..opts("noise")
    });
    assert_eq!(
        differ.exchange_with(&mut untouched),
        Err(Failed {
            side: Side::Dialer,
            status: P2PSEC_CRYPTO
        })
    );
    let (message, code) = dialer_error(differ.dialer);
    assert_eq!(code, 3102, "{message}");
}

/// The Noise setters refuse what the payload could not carry, or NULL where bytes are
/// due, with a text naming the fault; NULL with nothing to read clears a setting.
#[test]
fn noise_setters_refuse_bad_arguments() {
    let config = config(1, Some(3), "noise");
    let hash = [0x12u8, 0x20, 0xAB];
    let long = vec![0u8; P2PSEC_MAX_CERTHASH_LEN + 1];
    let many: Vec<*const u8> = vec![hash.as_ptr(); P2PSEC_MAX_CERTHASHES + 1];
    let many_lens = vec![hash.len(); many.len()];
    // SAFETY: a live configuration; every pointer is NULL or valid for the length given
    unsafe {
        refused("too many certhashes", || {
            p2psec_config_set_noise_webtransport_certhashes(
                config,
                many.as_ptr(),
                many_lens.as_ptr(),
                many.len(),
            )
        });
        assert!(last_error().contains("at most 32"), "{}", last_error());
        refused("an empty certhash", || {
            p2psec_config_set_noise_webtransport_certhashes(
                config,
                [hash.as_ptr()].as_ptr(),
                [0].as_ptr(),
                1,
            )
        });
        assert!(
            last_error().contains("certificate hash 0"),
            "{}",
            last_error()
        );
        refused("a certhash too long", || {
            p2psec_config_set_noise_webtransport_certhashes(
                config,
                [hash.as_ptr(), long.as_ptr()].as_ptr(),
                [hash.len(), long.len()].as_ptr(),
                2,
            )
        });
        assert!(
            last_error().contains("certificate hash 1 has 1025 bytes"),
            "{}",
            last_error()
        );
        refused("a NULL certhash", || {
            p2psec_config_set_noise_webtransport_certhashes(
                config,
                [ptr::null()].as_ptr(),
                [3].as_ptr(),
                1,
            )
        });
        refused("NULL arrays with a count", || {
            p2psec_config_set_noise_webtransport_certhashes(config, ptr::null(), ptr::null(), 1)
        });
        refused("NULL config", || {
            p2psec_config_set_noise_webtransport_certhashes(
                ptr::null_mut(),
                ptr::null(),
                ptr::null(),
                0,
            )
        });
        refused("NULL prologue with a length", || {
            p2psec_config_set_noise_prologue(config, ptr::null(), 5)
        });
        refused("NULL config (prologue)", || {
            p2psec_config_set_noise_prologue(ptr::null_mut(), ptr::null(), 0)
        });
        // clearing takes NULL
        ok(
            p2psec_config_set_noise_webtransport_certhashes(config, ptr::null(), ptr::null(), 0),
            "clear certhashes",
        );
        ok(
            p2psec_config_set_noise_prologue(config, ptr::null(), 0),
            "clear prologue",
        );
    }
    let mut config = config;
    // SAFETY: our own handle, freed once
    unsafe { p2psec_config_free(&mut config) };
}

#[test]
fn a_flipped_byte_of_noise_message_2_is_crypto() {
    let mut s = Session::new(opts("noise"));
    let mut flipped = false;
    let failed = s.exchange_with(&mut |from, bytes| {
        if from == Side::Listener && !flipped && bytes.len() > 100 {
            *bytes.last_mut().unwrap() ^= 0x80;
            flipped = true;
        }
    });
    assert!(flipped);
    assert_eq!(
        failed,
        Err(Failed {
            side: Side::Dialer,
            status: P2PSEC_CRYPTO
        })
    );
    let (message, code) = dialer_error(s.dialer);
    assert_eq!(code, 3102, "{message}");
}

/// P2PSEC_CRYPTO then P2PSEC_INCOMPATIBLE over TLS: the last byte of the listener's
/// flight (the tag of its encrypted Finished) flipped fails the record's authentication
/// at the dialer (code 4214); the failed dialer still hands out its alert, and the
/// listener receiving it fails with the peer's alert (code 4303, PeerIncompatible).
#[test]
fn a_tampered_tls_flight_is_crypto_and_the_alert_incompatible() {
    let mut s = Session::new(opts("tls"));
    let mut flipped = false;
    let failed = s.exchange_with(&mut |from, bytes| {
        if from == Side::Listener && !flipped && bytes.len() > 500 {
            *bytes.last_mut().unwrap() ^= 0x80;
            flipped = true;
        }
    });
    assert!(flipped);
    assert_eq!(
        failed,
        Err(Failed {
            side: Side::Dialer,
            status: P2PSEC_CRYPTO
        })
    );
    assert_eq!(dialer_error(s.dialer).1, 4214);

    assert_eq!(
        s.deliver(Side::Dialer, &mut untouched),
        Err(P2PSEC_INCOMPATIBLE)
    );
    let (message, code) = listener_error(s.listener);
    assert_eq!(code, 4303, "{message}");
    assert!(message.contains("alert"), "{message}");
}

/// P2PSEC_INCOMPATIBLE from a key: an RSA `PrivateKey` protobuf (the spec's vector) is a
/// key type this build may not support (code 1301, PeerIncompatible); builds with RSA
/// (feature `secio`, through `rsa`) load it and derive the vector's PeerId instead.
#[test]
fn an_unsupported_key_type_is_incompatible() {
    let keys: Vec<KeyVector> = serde_json::from_str(&vector("keys.json")).unwrap();
    let rsa = keys.iter().find(|k| k.name == "rsa").unwrap();
    let pb = hex(&rsa.private_key_protobuf_hex);
    let mut key = sentinel();
    // SAFETY: `pb` is readable for its length, `key` a local out slot
    let status = unsafe { p2psec_keypair_from_protobuf(pb.as_ptr(), pb.len(), &mut key) };
    if status == P2PSEC_OK {
        let mut id = keypair_peer(key);
        assert_eq!(peer_text(id), rsa.derived_not_in_spec.peer_id_base58btc);
        // SAFETY: live handles, freed once
        unsafe {
            p2psec_peer_id_free(&mut id);
            p2psec_keypair_free(&mut key);
        }
    } else {
        assert_eq!(status, P2PSEC_INCOMPATIBLE);
        assert_eq!(p2psec_last_error_code(), 1301);
        assert!(last_error().contains("not supported"), "{}", last_error());
        assert_eq!(key, sentinel());
    }
}

/// P2PSEC_CLOSED over TLS: the dialer closes its channel after a last message; its
/// close_notify, shipped with poll_transmit, reaches the listener, which reads the last
/// message, then P2PSEC_CLOSED (again on the next read), and reports the peer closed.
/// The listener can still send (half-close). P2PSEC_API_MISUSE: writing after close.
#[test]
fn a_tls_close_notify_is_closed_and_writing_after_close_is_misuse() {
    let mut s = pair("tls");
    let (cd, cl) = (s.channel(Side::Dialer), s.channel(Side::Listener));
    let mut accepted = 0;
    // SAFETY: live channels, readable input, local out slots
    unsafe {
        ok(
            p2psec_channel_write(cd, b"bye".as_ptr(), 3, &mut accepted),
            "write",
        );
        ok(p2psec_channel_close(cd), "close");
        assert!(p2psec_channel_pending_transmit(cd) > 0);
    }
    s.exchange().expect("close_notify is delivered");
    let mut buf = [0u8; 16];
    let mut n = SENTINEL;
    // SAFETY: a live channel, `buf` writable, a local out slot
    unsafe {
        assert!(p2psec_channel_is_peer_closed(cl));
        ok(
            p2psec_channel_read(cl, buf.as_mut_ptr(), buf.len(), &mut n),
            "read",
        );
        assert_eq!(&buf[..n], b"bye");
        for _ in 0..2 {
            let mut n = SENTINEL;
            assert_eq!(
                p2psec_channel_read(cl, buf.as_mut_ptr(), buf.len(), &mut n),
                P2PSEC_CLOSED
            );
            assert_eq!(n, SENTINEL);
        }
        assert!(!p2psec_channel_is_peer_closed(cd));
    }
    assert!(last_error().contains("closed"), "{}", last_error());
    assert_eq!(s.send(Side::Listener, b"reply"), b"reply");

    let mut accepted = SENTINEL;
    // SAFETY: a live channel, 1 readable byte, a local out slot
    assert_eq!(
        unsafe { p2psec_channel_write(cd, b"x".as_ptr(), 1, &mut accepted) },
        P2PSEC_API_MISUSE
    );
    assert_eq!(accepted, SENTINEL);
    assert_eq!(p2psec_last_error_code(), 7402);
    assert!(
        last_error().contains("write after close"),
        "{}",
        last_error()
    );
}

/// Noise has no closing message: close queues nothing, and writing after it is
/// P2PSEC_API_MISUSE too.
#[test]
fn a_noise_close_sends_nothing_and_writing_after_it_is_misuse() {
    let s = pair("noise");
    let cd = s.channel(Side::Dialer);
    let mut accepted = SENTINEL;
    // SAFETY: a live channel, 1 readable byte, a local out slot
    unsafe {
        ok(p2psec_channel_close(cd), "close");
        assert_eq!(p2psec_channel_pending_transmit(cd), 0);
        assert_eq!(
            p2psec_channel_write(cd, b"x".as_ptr(), 1, &mut accepted),
            P2PSEC_API_MISUSE
        );
    }
    assert_eq!(accepted, SENTINEL);
}

/// P2PSEC_API_MISUSE from the configuration: a security list naming a protocol twice
/// ("noise,noise"), an empty one, or an unknown name is refused (library codes 7402,
/// 7402, 7401) and leaves the configuration as it was.
#[test]
fn contradictory_security_lists_are_api_misuse() {
    let mut c = config(1, None, "tls");
    for (list, code) in [("noise,noise", 7402), ("", 7402), ("quic", 7401)] {
        let list = CString::new(list).unwrap();
        // SAFETY: a live configuration, a NUL-terminated list
        let status = unsafe { p2psec_config_set_security(c, list.as_ptr()) };
        assert_eq!(status, P2PSEC_API_MISUSE, "{list:?}");
        assert_eq!(p2psec_last_error_code(), code, "{list:?}: {}", last_error());
    }
    // still "tls" only: a Noise-only listener shares nothing with it
    let mut l_cfg = config(2, None, "noise");
    let (mut d, mut l) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: live configurations, local out slots; everything is freed below
    unsafe {
        ok(p2psec_config_set_optimistic(c, false), "set_optimistic");
        ok(
            p2psec_dialer_new(c, ptr::null(), NOW, ptr::null(), &mut d),
            "dialer_new",
        );
        ok(
            p2psec_listener_new(l_cfg, NOW, ptr::null(), &mut l),
            "listener_new",
        );
        let mut wire = End::Dialer(d).take_output();
        assert!(
            wire.windows(11).any(|w| w == b"/tls/1.0.0\n"),
            "the dialer proposes TLS"
        );
        End::Listener(l).feed(&mut wire).unwrap();
        let mut answer = End::Listener(l).take_output();
        assert_eq!(
            End::Dialer(d).feed(&mut answer),
            Err(P2PSEC_NO_COMMON_PROTOCOL)
        );
        p2psec_dialer_free(&mut d);
        p2psec_listener_free(&mut l);
        p2psec_config_free(&mut l_cfg);
        p2psec_config_free(&mut c);
    }
}

/// P2PSEC_NOT_COMPLETE: `_into_channel` before the upgrade completed (fresh, and half
/// way) leaves the handle the caller's and `*out` untouched, is not remembered as a
/// failure, and the same handles then complete the upgrade and carry data.
#[test]
fn into_channel_before_completion_is_not_complete_and_keeps_the_handle() {
    let mut s = Session::new(opts("tls"));
    let (d, l) = (s.dialer, s.listener);
    for round in 0..2 {
        let mut c = sentinel();
        let mark = known_failure();
        // SAFETY: live handles in their slots, a local out slot
        unsafe {
            assert_eq!(
                p2psec_dialer_into_channel(&mut s.dialer, &mut c),
                P2PSEC_NOT_COMPLETE
            );
            assert_eq!(
                p2psec_listener_into_channel(&mut s.listener, &mut c),
                P2PSEC_NOT_COMPLETE
            );
            assert!(!p2psec_dialer_is_complete(s.dialer));
            assert!(!p2psec_listener_is_complete(s.listener));
        }
        assert_eq!((s.dialer, s.listener), (d, l), "the handles stay");
        assert_eq!(c, sentinel());
        assert_eq!(last_error(), mark, "NOT_COMPLETE is an answer");
        if round == 0 {
            // half way: the dialer's flight reaches the listener
            assert_eq!(s.deliver(Side::Dialer, &mut untouched), Ok(true));
        }
    }
    s.complete();
    assert_eq!(s.send(Side::Dialer, b"after all"), b"after all");
}

/// P2PSEC_PANIC: a panic at the boundary is caught and reported, with a text, not
/// unwound into the caller.
#[test]
fn a_caught_panic_is_panic() {
    assert_eq!(panic_probe(), P2PSEC_PANIC);
    assert!(last_error().contains("panic"), "{}", last_error());
    assert_eq!(p2psec_last_error_code(), 0);
}

/// P2PSEC_LOCAL: a configuration at a time whose certificate cannot be built (u64::MAX
/// seconds: notAfter overflows) fails locally (code 4501) and writes no handle.
#[test]
fn a_certificate_out_of_range_is_local() {
    let mut key = keypair(P2PSEC_KEY_ED25519, [1; 32]);
    let mut c = sentinel();
    // SAFETY: a live key, a 32-byte seed, a local out slot; the key is freed
    unsafe {
        assert_eq!(
            p2psec_config_new(key, u64::MAX, [3u8; 32].as_ptr(), &mut c),
            P2PSEC_LOCAL
        );
        p2psec_keypair_free(&mut key);
    }
    assert_eq!(c, sentinel());
    assert_eq!(p2psec_last_error_code(), 4501, "{}", last_error());
}

/// P2PSEC_INVALID_ARGUMENT for keys and PeerIds: NULL out pointers, NULL input with a
/// length, zero lengths, key types 0 and 99, NULL seeds, out-of-range secp256k1 and P-256
/// scalars (0 and all 0xff: the library's code 1110 comes along), NULL / non-UTF-8 /
/// over-long text; no out value is written. Value functions answer their neutral value
/// for NULL.
#[test]
fn bad_key_and_peer_id_arguments_are_invalid_argument() {
    let mut key = keypair(P2PSEC_KEY_ED25519, [4; 32]);
    let mut id = keypair_peer(key);
    let seed = [7u8; 32];
    let mut out_key = sentinel();
    let mut out_id = sentinel();
    let mut n = SENTINEL;
    let mut buf = [0x55 as c_char; 8];
    let pb = [8u8, 1, 18, 0];
    // SAFETY: every non-NULL pointer is live or readable/writable for its length; the
    // NULL ones are what the functions must refuse
    unsafe {
        refused("generate NULL out", || {
            p2psec_keypair_generate(1, ptr::null_mut())
        });
        for kind in [0, 4, 99, u32::MAX] {
            refused("generate kind", || {
                p2psec_keypair_generate(kind, &mut out_key)
            });
            refused("from_seed kind", || {
                p2psec_keypair_from_seed(kind, seed.as_ptr(), &mut out_key)
            });
        }
        refused("NULL seed", || {
            p2psec_keypair_from_seed(1, ptr::null(), &mut out_key)
        });
        refused("from_seed NULL out", || {
            p2psec_keypair_from_seed(1, seed.as_ptr(), ptr::null_mut())
        });
        for kind in [P2PSEC_KEY_SECP256K1, P2PSEC_KEY_ECDSA_P256] {
            for scalar in [[0u8; 32], [0xFF; 32]] {
                assert_eq!(
                    p2psec_keypair_from_seed(kind as u32, scalar.as_ptr(), &mut out_key),
                    P2PSEC_INVALID_ARGUMENT
                );
                assert_eq!(p2psec_last_error_code(), 1110, "{}", last_error());
                assert!(last_error().contains("scalar"), "{}", last_error());
            }
        }
        refused("NULL protobuf", || {
            p2psec_keypair_from_protobuf(ptr::null(), 4, &mut out_key)
        });
        refused("empty protobuf", || {
            p2psec_keypair_from_protobuf(pb.as_ptr(), 0, &mut out_key)
        });
        refused("from_protobuf NULL out", || {
            p2psec_keypair_from_protobuf(pb.as_ptr(), pb.len(), ptr::null_mut())
        });
        refused("to_protobuf NULL key", || {
            p2psec_keypair_to_protobuf(ptr::null(), buf.as_mut_ptr().cast(), 8, &mut n)
        });
        refused("to_protobuf NULL buffer with a capacity", || {
            p2psec_keypair_to_protobuf(key, ptr::null_mut(), 8, &mut n)
        });
        refused("to_protobuf NULL written", || {
            p2psec_keypair_to_protobuf(key, buf.as_mut_ptr().cast(), 8, ptr::null_mut())
        });
        refused("peer_id NULL key", || {
            p2psec_keypair_peer_id(ptr::null(), &mut out_id)
        });
        refused("peer_id NULL out", || {
            p2psec_keypair_peer_id(key, ptr::null_mut())
        });

        refused("NULL text", || {
            p2psec_peer_id_from_string(ptr::null(), &mut out_id)
        });
        let good = CString::new(peer_text(id)).unwrap();
        refused("from_string NULL out", || {
            p2psec_peer_id_from_string(good.as_ptr(), ptr::null_mut())
        });
        let not_utf8 = b"12D3\xFF\xFE\0";
        refused("non-UTF-8 text", || {
            p2psec_peer_id_from_string(not_utf8.as_ptr().cast(), &mut out_id)
        });
        let long = CString::new("1".repeat(5000)).unwrap();
        refused("over-long text", || {
            p2psec_peer_id_from_string(long.as_ptr(), &mut out_id)
        });
        refused("to_string NULL id", || {
            p2psec_peer_id_to_string(ptr::null(), buf.as_mut_ptr(), 8, &mut n)
        });
        refused("to_string NULL buffer with a capacity", || {
            p2psec_peer_id_to_string(id, ptr::null_mut(), 8, &mut n)
        });
        refused("to_string NULL written", || {
            p2psec_peer_id_to_string(id, buf.as_mut_ptr(), 8, ptr::null_mut())
        });
        assert!(!p2psec_peer_id_equal(id, ptr::null()));
        assert!(!p2psec_peer_id_equal(ptr::null(), id));
        assert!(!p2psec_peer_id_equal(ptr::null(), ptr::null()));
        assert!(p2psec_peer_id_equal(id, id));

        p2psec_peer_id_free(&mut id);
        p2psec_keypair_free(&mut key);
    }
    assert_eq!(out_key, sentinel());
    assert_eq!(out_id, sentinel());
    assert_eq!(n, SENTINEL);
    assert!(buf.iter().all(|&c| c == 0x55));
}

/// PeerId text that is UTF-8 but not a PeerId is refused, and writes no handle. The
/// header puts text that is "not parseable" under P2PSEC_INVALID_ARGUMENT.
#[test]
fn unparseable_peer_id_text_is_invalid_argument() {
    for bad in [
        "",
        "not a peer id",
        "12D3KooW",
        "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5",
    ] {
        let text = CString::new(bad).unwrap();
        let mut out = sentinel();
        // SAFETY: NUL-terminated text, a local out slot
        let status = unsafe { p2psec_peer_id_from_string(text.as_ptr(), &mut out) };
        assert_eq!(status, P2PSEC_INVALID_ARGUMENT, "{bad:?}: {}", last_error());
        assert_eq!(out, sentinel());
        assert!(!last_error().is_empty());
    }
}

/// P2PSEC_INVALID_ARGUMENT for configurations, upgrades and channels: NULL handles, NULL
/// out pointers, NULL input with a length, zero lengths for handle_input / write / read,
/// NULL buffers with a capacity, NULL or non-UTF-8 lists, a NULL static key. No output
/// is written, and a refused call does not poison the handle: the upgrade then completes.
/// Value functions answer their neutral value for NULL.
#[test]
fn bad_upgrade_and_channel_arguments_are_invalid_argument() {
    let mut s = Session::new(opts("noise"));
    let (d, l) = (s.dialer, s.listener);
    let mut key = keypair(P2PSEC_KEY_ED25519, [5; 32]);
    let seed = [9u8; 32];
    let mut out_cfg = sentinel();
    let mut out_id = sentinel();
    let mut out_d = sentinel();
    let mut out_l = sentinel();
    let mut out_c = sentinel();
    let mut n = SENTINEL;
    let mut e = sentinel_event();
    let mut buf = [0xA5u8; 8];
    let mut text_buf = [0x55 as c_char; 8];
    let not_utf8 = b"noi\xFFse\0";
    let data = b"data";
    // SAFETY: every non-NULL pointer is live or readable/writable for its length; the
    // NULL ones are what the functions must refuse
    unsafe {
        // configurations
        refused("config_new NULL key", || {
            p2psec_config_new(ptr::null(), NOW, seed.as_ptr(), &mut out_cfg)
        });
        refused("config_new NULL out", || {
            p2psec_config_new(key, NOW, seed.as_ptr(), ptr::null_mut())
        });
        let noise = CString::new("noise").unwrap();
        refused("set_security NULL config", || {
            p2psec_config_set_security(ptr::null_mut(), noise.as_ptr())
        });
        refused("set_security NULL list", || {
            p2psec_config_set_security(s.dialer_config, ptr::null())
        });
        refused("set_security non-UTF-8", || {
            p2psec_config_set_security(s.dialer_config, not_utf8.as_ptr().cast())
        });
        refused("set_muxers NULL config", || {
            p2psec_config_set_muxers(ptr::null_mut(), noise.as_ptr())
        });
        refused("set_muxers NULL list", || {
            p2psec_config_set_muxers(s.dialer_config, ptr::null())
        });
        refused("set_muxers non-UTF-8", || {
            p2psec_config_set_muxers(s.dialer_config, not_utf8.as_ptr().cast())
        });
        refused("set_early_muxer NULL", || {
            p2psec_config_set_early_muxer(ptr::null_mut(), true)
        });
        refused("set_optimistic NULL", || {
            p2psec_config_set_optimistic(ptr::null_mut(), true)
        });
        refused("set_noise_static_key NULL config", || {
            p2psec_config_set_noise_static_key(ptr::null_mut(), seed.as_ptr())
        });
        refused("set_noise_static_key NULL secret", || {
            p2psec_config_set_noise_static_key(s.dialer_config, ptr::null())
        });
        refused("local_peer_id NULL config", || {
            p2psec_config_local_peer_id(ptr::null(), &mut out_id)
        });
        refused("local_peer_id NULL out", || {
            p2psec_config_local_peer_id(s.dialer_config, ptr::null_mut())
        });

        // upgrades
        refused("dialer_new NULL config", || {
            p2psec_dialer_new(ptr::null(), ptr::null(), NOW, ptr::null(), &mut out_d)
        });
        refused("dialer_new NULL out", || {
            p2psec_dialer_new(
                s.dialer_config,
                ptr::null(),
                NOW,
                ptr::null(),
                ptr::null_mut(),
            )
        });
        refused("listener_new NULL config", || {
            p2psec_listener_new(ptr::null(), NOW, ptr::null(), &mut out_l)
        });
        refused("listener_new NULL out", || {
            p2psec_listener_new(s.listener_config, NOW, ptr::null(), ptr::null_mut())
        });
        refused("dialer handle_input NULL handle", || {
            p2psec_dialer_handle_input(ptr::null_mut(), data.as_ptr(), 4, &mut n)
        });
        refused("dialer handle_input NULL data", || {
            p2psec_dialer_handle_input(d, ptr::null(), 4, &mut n)
        });
        refused("dialer handle_input zero length", || {
            p2psec_dialer_handle_input(d, data.as_ptr(), 0, &mut n)
        });
        refused("dialer handle_input NULL consumed", || {
            p2psec_dialer_handle_input(d, data.as_ptr(), 4, ptr::null_mut())
        });
        refused("listener handle_input NULL handle", || {
            p2psec_listener_handle_input(ptr::null_mut(), data.as_ptr(), 4, &mut n)
        });
        refused("listener handle_input NULL data", || {
            p2psec_listener_handle_input(l, ptr::null(), 4, &mut n)
        });
        refused("listener handle_input zero length", || {
            p2psec_listener_handle_input(l, data.as_ptr(), 0, &mut n)
        });
        refused("listener handle_input NULL consumed", || {
            p2psec_listener_handle_input(l, data.as_ptr(), 4, ptr::null_mut())
        });
        refused("dialer poll_transmit NULL handle", || {
            p2psec_dialer_poll_transmit(ptr::null_mut(), buf.as_mut_ptr(), 8, &mut n)
        });
        refused("dialer poll_transmit NULL buffer with a capacity", || {
            p2psec_dialer_poll_transmit(d, ptr::null_mut(), 8, &mut n)
        });
        refused("dialer poll_transmit NULL written", || {
            p2psec_dialer_poll_transmit(d, buf.as_mut_ptr(), 8, ptr::null_mut())
        });
        refused("listener poll_transmit NULL handle", || {
            p2psec_listener_poll_transmit(ptr::null_mut(), buf.as_mut_ptr(), 8, &mut n)
        });
        refused("listener poll_transmit NULL buffer with a capacity", || {
            p2psec_listener_poll_transmit(l, ptr::null_mut(), 8, &mut n)
        });
        refused("dialer poll_event NULL handle", || {
            p2psec_dialer_poll_event(ptr::null_mut(), &mut e)
        });
        refused("dialer poll_event NULL event", || {
            p2psec_dialer_poll_event(d, ptr::null_mut())
        });
        refused("listener poll_event NULL handle", || {
            p2psec_listener_poll_event(ptr::null_mut(), &mut e)
        });
        refused("listener poll_event NULL event", || {
            p2psec_listener_poll_event(l, ptr::null_mut())
        });
        refused("dialer into_channel NULL slot", || {
            p2psec_dialer_into_channel(ptr::null_mut(), &mut out_c)
        });
        let mut no_dialer: *mut p2psec_dialer = ptr::null_mut();
        refused("dialer into_channel NULL handle", || {
            p2psec_dialer_into_channel(&mut no_dialer, &mut out_c)
        });
        refused("dialer into_channel NULL out", || {
            p2psec_dialer_into_channel(&mut s.dialer, ptr::null_mut())
        });
        refused("listener into_channel NULL slot", || {
            p2psec_listener_into_channel(ptr::null_mut(), &mut out_c)
        });
        let mut no_listener: *mut p2psec_listener = ptr::null_mut();
        refused("listener into_channel NULL handle", || {
            p2psec_listener_into_channel(&mut no_listener, &mut out_c)
        });
        refused("listener into_channel NULL out", || {
            p2psec_listener_into_channel(&mut s.listener, ptr::null_mut())
        });
        refused_quietly("dialer last_error NULL handle", || {
            p2psec_dialer_last_error(ptr::null(), text_buf.as_mut_ptr(), 8, &mut n)
        });
        refused_quietly("dialer last_error NULL buffer with a capacity", || {
            p2psec_dialer_last_error(d, ptr::null_mut(), 8, &mut n)
        });
        refused_quietly("dialer last_error NULL written", || {
            p2psec_dialer_last_error(d, text_buf.as_mut_ptr(), 8, ptr::null_mut())
        });
        refused_quietly("listener last_error NULL handle", || {
            p2psec_listener_last_error(ptr::null(), text_buf.as_mut_ptr(), 8, &mut n)
        });
        refused_quietly("last_error NULL buffer with a capacity", || {
            p2psec_last_error(ptr::null_mut(), 8, &mut n)
        });
        refused_quietly("last_error NULL written", || {
            p2psec_last_error(text_buf.as_mut_ptr(), 8, ptr::null_mut())
        });
        assert_eq!(p2psec_dialer_pending_transmit(ptr::null_mut()), 0);
        assert_eq!(p2psec_listener_pending_transmit(ptr::null_mut()), 0);
        assert!(!p2psec_dialer_is_complete(ptr::null()));
        assert!(!p2psec_listener_is_complete(ptr::null()));
        assert_eq!(p2psec_dialer_error_code(ptr::null()), 0);
        assert_eq!(p2psec_listener_error_code(ptr::null()), 0);
        assert_eq!((s.dialer, s.listener), (d, l), "refusals take no handle");
        assert_eq!(p2psec_dialer_error_code(d), 0, "refusals poison nothing");
        assert_eq!(p2psec_listener_error_code(l), 0);
    }
    s.complete();
    let (cd, cl) = (s.channel(Side::Dialer), s.channel(Side::Listener));
    // SAFETY: as above, on live channels
    unsafe {
        refused("channel handle_input NULL handle", || {
            p2psec_channel_handle_input(ptr::null_mut(), data.as_ptr(), 4, &mut n)
        });
        refused("channel handle_input NULL data", || {
            p2psec_channel_handle_input(cl, ptr::null(), 4, &mut n)
        });
        refused("channel handle_input zero length", || {
            p2psec_channel_handle_input(cl, data.as_ptr(), 0, &mut n)
        });
        refused("channel handle_input NULL consumed", || {
            p2psec_channel_handle_input(cl, data.as_ptr(), 4, ptr::null_mut())
        });
        refused("write NULL handle", || {
            p2psec_channel_write(ptr::null_mut(), data.as_ptr(), 4, &mut n)
        });
        refused("write NULL data", || {
            p2psec_channel_write(cd, ptr::null(), 4, &mut n)
        });
        refused("write zero length", || {
            p2psec_channel_write(cd, data.as_ptr(), 0, &mut n)
        });
        refused("write NULL accepted", || {
            p2psec_channel_write(cd, data.as_ptr(), 4, ptr::null_mut())
        });
        refused("read NULL handle", || {
            p2psec_channel_read(ptr::null_mut(), buf.as_mut_ptr(), 8, &mut n)
        });
        refused("read NULL buffer with a capacity", || {
            p2psec_channel_read(cl, ptr::null_mut(), 8, &mut n)
        });
        refused("read NULL buffer, zero capacity", || {
            p2psec_channel_read(cl, ptr::null_mut(), 0, &mut n)
        });
        refused("read zero capacity", || {
            p2psec_channel_read(cl, buf.as_mut_ptr(), 0, &mut n)
        });
        refused("read NULL count", || {
            p2psec_channel_read(cl, buf.as_mut_ptr(), 8, ptr::null_mut())
        });
        refused("channel poll_transmit NULL handle", || {
            p2psec_channel_poll_transmit(ptr::null_mut(), buf.as_mut_ptr(), 8, &mut n)
        });
        refused("channel poll_transmit NULL buffer with a capacity", || {
            p2psec_channel_poll_transmit(cd, ptr::null_mut(), 8, &mut n)
        });
        refused("channel poll_transmit NULL written", || {
            p2psec_channel_poll_transmit(cd, buf.as_mut_ptr(), 8, ptr::null_mut())
        });
        refused("close NULL", || p2psec_channel_close(ptr::null_mut()));
        refused("remote_peer_id NULL handle", || {
            p2psec_channel_remote_peer_id(ptr::null(), &mut out_id)
        });
        refused("remote_peer_id NULL out", || {
            p2psec_channel_remote_peer_id(cd, ptr::null_mut())
        });
        refused("remote_public_key NULL handle", || {
            p2psec_channel_remote_public_key(ptr::null(), buf.as_mut_ptr(), 8, &mut n)
        });
        refused("remote_public_key NULL buffer with a capacity", || {
            p2psec_channel_remote_public_key(cd, ptr::null_mut(), 8, &mut n)
        });
        refused("remote_public_key NULL written", || {
            p2psec_channel_remote_public_key(cd, buf.as_mut_ptr(), 8, ptr::null_mut())
        });
        for f in [p2psec_channel_muxer, p2psec_channel_cipher] {
            refused("channel text NULL handle", || {
                f(ptr::null(), text_buf.as_mut_ptr(), 8, &mut n)
            });
            refused("channel text NULL buffer with a capacity", || {
                f(cd, ptr::null_mut(), 8, &mut n)
            });
            refused("channel text NULL written", || {
                f(cd, text_buf.as_mut_ptr(), 8, ptr::null_mut())
            });
        }
        refused_quietly("channel last_error NULL handle", || {
            p2psec_channel_last_error(ptr::null(), text_buf.as_mut_ptr(), 8, &mut n)
        });
        refused_quietly("channel last_error NULL buffer with a capacity", || {
            p2psec_channel_last_error(cd, ptr::null_mut(), 8, &mut n)
        });
        refused_quietly("channel last_error NULL written", || {
            p2psec_channel_last_error(cd, text_buf.as_mut_ptr(), 8, ptr::null_mut())
        });
        assert_eq!(p2psec_channel_readable(ptr::null()), 0);
        assert_eq!(p2psec_channel_pending_transmit(ptr::null()), 0);
        assert!(!p2psec_channel_is_peer_closed(ptr::null()));
        assert_eq!(p2psec_channel_security(ptr::null()), P2PSEC_SECURITY_NONE);
        assert_eq!(p2psec_channel_error_code(ptr::null()), 0);
        assert_eq!(p2psec_channel_error_code(cl), 0, "refusals poison nothing");
        p2psec_keypair_free(&mut key);
    }
    assert_eq!(s.send(Side::Dialer, b"still fine"), b"still fine");
    assert_eq!(
        (out_cfg, out_id, out_d, out_l, out_c),
        (sentinel(), sentinel(), sentinel(), sentinel(), sentinel())
    );
    assert_eq!(n, SENTINEL);
    assert!(is_sentinel_event(&e));
    assert!(buf.iter().all(|&b| b == 0xA5));
    assert!(text_buf.iter().all(|&c| c == 0x55));
}

/// Every `_free` takes the address of the caller's pointer and sets it to NULL, so a
/// second `_free(&h)` is a no-op, and so is `_free(NULL)`; for every handle type.
/// (`_into_channel` NULLing the upgrade's pointer is checked by `Session::take_channels`.)
#[test]
fn every_free_nulls_the_pointer_and_tolerates_null() {
    let mut s = pair("noise");
    let mut key = keypair(P2PSEC_KEY_SECP256K1, [3; 32]);
    let mut id = keypair_peer(key);
    let mut cfg = config(1, Some(2), "noise,tls");
    let (mut d, mut l) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: live handles freed once through their slots; NULL slots and NULL contents
    // are what must be tolerated
    unsafe {
        ok(
            p2psec_dialer_new(cfg, ptr::null(), NOW, ptr::null(), &mut d),
            "dialer_new",
        );
        ok(
            p2psec_listener_new(cfg, NOW, ptr::null(), &mut l),
            "listener_new",
        );
        assert!(!(key.is_null() || id.is_null() || cfg.is_null() || d.is_null() || l.is_null()));
        for _ in 0..2 {
            p2psec_keypair_free(&mut key);
            p2psec_peer_id_free(&mut id);
            p2psec_config_free(&mut cfg);
            p2psec_dialer_free(&mut d);
            p2psec_listener_free(&mut l);
            p2psec_channel_free(&mut s.dialer_channel);
            p2psec_channel_free(&mut s.listener_channel);
            assert!(key.is_null() && id.is_null() && cfg.is_null());
            assert!(d.is_null() && l.is_null());
            assert!(s.dialer_channel.is_null() && s.listener_channel.is_null());
        }
        p2psec_keypair_free(ptr::null_mut());
        p2psec_peer_id_free(ptr::null_mut());
        p2psec_config_free(ptr::null_mut());
        p2psec_dialer_free(ptr::null_mut());
        p2psec_listener_free(ptr::null_mut());
        p2psec_channel_free(ptr::null_mut());
    }
}

/// Key pairs: generating each type (OS RNG) gives distinct identities; each one's
/// protobuf (exact size) loads back to the same PeerId and the same bytes; the spec's
/// vectors load to their PeerIds and encode back to the same bytes; Ed25519 and
/// secp256k1 from their 32 secret bytes (`from_seed`) give the vectors' PeerIds too,
/// deterministically.
#[test]
fn keypairs_generate_load_and_round_trip() {
    for kind in [
        P2PSEC_KEY_ED25519,
        P2PSEC_KEY_SECP256K1,
        P2PSEC_KEY_ECDSA_P256,
    ] {
        let (mut a, mut b) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: local out slots; the handles are freed below
        unsafe {
            ok(p2psec_keypair_generate(kind as u32, &mut a), "generate");
            ok(p2psec_keypair_generate(kind as u32, &mut b), "generate");
        }
        let (mut ia, mut ib) = (keypair_peer(a), keypair_peer(b));
        // SAFETY: live handles; `bytes` passes valid buffers
        unsafe {
            assert!(!p2psec_peer_id_equal(ia, ib), "{kind:?}: fresh keys differ");
            let pb = bytes(|o, n, w| p2psec_keypair_to_protobuf(a, o, n, w));
            let mut back = ptr::null_mut();
            ok(
                p2psec_keypair_from_protobuf(pb.as_ptr(), pb.len(), &mut back),
                "from_protobuf",
            );
            let mut ib2 = keypair_peer(back);
            assert!(p2psec_peer_id_equal(ia, ib2), "{kind:?}");
            assert_eq!(
                bytes(|o, n, w| p2psec_keypair_to_protobuf(back, o, n, w)),
                pb
            );
            for h in [&mut ia, &mut ib, &mut ib2] {
                p2psec_peer_id_free(h);
            }
            for h in [&mut a, &mut b, &mut back] {
                p2psec_keypair_free(h);
            }
        }
    }

    let keys: Vec<KeyVector> = serde_json::from_str(&vector("keys.json")).unwrap();
    for v in keys.iter().filter(|k| k.name != "rsa") {
        let pb = hex(&v.private_key_protobuf_hex);
        assert_eq!(u32::from(pb[1]), v.key_type);
        let mut key = ptr::null_mut();
        // SAFETY: `pb` readable for its length, a local out slot; freed below
        unsafe {
            ok(
                p2psec_keypair_from_protobuf(pb.as_ptr(), pb.len(), &mut key),
                &v.name,
            );
            let mut id = keypair_peer(key);
            assert_eq!(peer_text(id), v.derived_not_in_spec.peer_id_base58btc);
            assert_eq!(
                bytes(|o, n, w| p2psec_keypair_to_protobuf(key, o, n, w)),
                pb,
                "{}",
                v.name
            );
            if v.key_type != P2PSEC_KEY_ECDSA_P256 as u32 {
                // Data starts with the 32 secret bytes (08 <type> 12 <len> <Data>)
                let secret: [u8; 32] = pb[4..36].try_into().unwrap();
                let kind = if v.key_type == 1 {
                    P2PSEC_KEY_ED25519
                } else {
                    P2PSEC_KEY_SECP256K1
                };
                for _ in 0..2 {
                    let mut seeded = keypair(kind, secret);
                    let mut seeded_id = keypair_peer(seeded);
                    assert!(p2psec_peer_id_equal(seeded_id, id), "{}", v.name);
                    p2psec_peer_id_free(&mut seeded_id);
                    p2psec_keypair_free(&mut seeded);
                }
            }
            p2psec_peer_id_free(&mut id);
            p2psec_keypair_free(&mut key);
        }
    }

    // another seed, another identity
    let (mut a, mut b) = (
        keypair(P2PSEC_KEY_ED25519, [1; 32]),
        keypair(P2PSEC_KEY_ED25519, [2; 32]),
    );
    let (mut ia, mut ib) = (keypair_peer(a), keypair_peer(b));
    // SAFETY: live handles, freed once
    unsafe {
        assert!(!p2psec_peer_id_equal(ia, ib));
        p2psec_peer_id_free(&mut ia);
        p2psec_peer_id_free(&mut ib);
        p2psec_keypair_free(&mut a);
        p2psec_keypair_free(&mut b);
    }
}

/// PeerId text: the spec's example strings (`vectors/identity/peer-id-strings.json`:
/// a CIDv1, a sha2-256 base58btc, an identity base58btc) parse; each writes back as its
/// base58btc form (exact-size buffers), which parses to an equal PeerId; the CID and the
/// `Qm...` form are equal to each other and different from the Ed25519 one.
#[test]
fn peer_id_text_round_trips_with_the_spec_vectors() {
    let vectors: Vec<PeerIdVector> = serde_json::from_str(&vector("peer-id-strings.json")).unwrap();
    let mut ids = Vec::new();
    for v in &vectors {
        let id = parse_peer(&v.string);
        let text = peer_text(id);
        assert_eq!(text, v.derived_not_in_spec.base58btc);
        assert!(text.len() < P2PSEC_PEER_ID_TEXT_MAX);
        let mut again = parse_peer(&text);
        // SAFETY: live handles; `again` freed here, `id` kept in `ids` and freed below
        unsafe {
            assert!(p2psec_peer_id_equal(id, again));
            p2psec_peer_id_free(&mut again);
        }
        ids.push(id);
    }
    // SAFETY: live handles, freed once
    unsafe {
        assert!(p2psec_peer_id_equal(ids[0], ids[1]), "CID and Qm... agree");
        assert!(!p2psec_peer_id_equal(ids[0], ids[2]));
        for id in &mut ids {
            p2psec_peer_id_free(id);
        }
    }
}
