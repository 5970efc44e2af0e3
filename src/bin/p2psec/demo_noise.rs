//! The demo's Noise part: multistream-select (optimistic) and the Noise XX handshake in
//! memory, the first Noise message riding in the same flight as the negotiation, then
//! encrypted traffic through the session.

use std::time::Instant;

use p2psec::identity::{KeyType, Keypair};
use p2psec::multistream::{Dialer, Listener, Version};
use p2psec::noise::{self, Initiator, Responder};
use serde_json::json;

use crate::output::{CliError, Output};

/// The OS random number generator as the machines' injected randomness.
struct OsRng;

impl rand_core::TryRng for OsRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        // a demo may stop on an OS RNG failure; the library never draws randomness itself
        if getrandom::fill(dst).is_err() {
            eprintln!("error: the OS random number generator failed");
            std::process::exit(1);
        }
        Ok(())
    }
}
impl rand_core::TryCryptoRng for OsRng {}

fn err(e: impl std::fmt::Display) -> CliError {
    e.to_string()
}

pub(crate) fn run(out: &Output) -> Result<(), CliError> {
    out.say("\n== Noise XX over optimistic multistream-select, in memory ==");
    let mut rng = OsRng;
    let dialer_id = Keypair::generate(KeyType::Ed25519, &mut rng).map_err(err)?;
    let listener_id = Keypair::generate(KeyType::Secp256k1, &mut rng).map_err(err)?;
    let muxers = ["/yamux/1.0.0", "/mplex/6.7.0"];
    let dialer_cfg = noise::Config::new(&dialer_id, &mut rng)
        .map_err(err)?
        .with_stream_muxers(muxers);
    let listener_cfg = noise::Config::new(&listener_id, &mut rng)
        .map_err(err)?
        .with_stream_muxers(["/yamux/1.0.0"]);

    let started = Instant::now();
    let mut ms_dialer = Dialer::new([noise::PROTOCOL_ID], Version::V1Lazy).map_err(err)?;
    let mut ms_listener = Listener::new([noise::PROTOCOL_ID, "/tls/1.0.0"]).map_err(err)?;
    // the dialer knows whom it dials (from /p2p/ in the address)
    let mut initiator =
        Initiator::new(&dialer_cfg, Some(listener_id.peer_id()), &mut rng).map_err(err)?;
    let mut responder: Option<Responder> = None;

    let (mut to_listener, mut to_dialer) = (Vec::new(), Vec::new());
    let mut flights = 0;
    let mut ms_dialer_done = false;

    // flight 1: multistream header + /noise + Noise message 1, all at once (lazy)
    let _ = ms_dialer.poll_transmit(&mut to_listener);
    let _ = initiator.poll_transmit(&mut to_listener);
    flights += 1;
    out.say(&format!(
        "flight {flights}   dialer -> {} bytes: multistream header, /noise, noise message 1",
        to_listener.len()
    ));

    while !(initiator.is_complete() && responder.as_ref().is_some_and(Responder::is_complete)) {
        if flights > 6 {
            return Err("handshake did not finish in 6 flights".into());
        }
        // listener's turn
        let mut flight = Vec::new();
        if !ms_listener.is_done() {
            let n = ms_listener.handle_input(&to_listener).map_err(err)?;
            to_listener.drain(..n);
            let _ = ms_listener.poll_transmit(&mut flight);
            if ms_listener.negotiated().is_some() {
                responder = Some(Responder::new(&listener_cfg, &mut rng).map_err(err)?);
            }
        }
        if let Some(r) = responder.as_mut() {
            let n = r.handle_input(&to_listener).map_err(err)?;
            to_listener.drain(..n);
            let _ = r.poll_transmit(&mut flight);
        }
        if !flight.is_empty() {
            flights += 1;
            out.say(&format!(
                "flight {flights} listener -> {} bytes",
                flight.len()
            ));
            to_dialer.extend_from_slice(&flight);
        }
        // dialer's turn: strip the multistream answer, then Noise
        let mut flight = Vec::new();
        if !ms_dialer_done {
            let n = ms_dialer.handle_input(&to_dialer).map_err(err)?;
            to_dialer.drain(..n);
            ms_dialer_done = ms_dialer.negotiated().is_some();
        }
        if ms_dialer_done && !initiator.is_complete() {
            let n = initiator.handle_input(&to_dialer).map_err(err)?;
            to_dialer.drain(..n);
            let _ = initiator.poll_transmit(&mut flight);
        }
        if !flight.is_empty() {
            flights += 1;
            out.say(&format!("flight {flights}   dialer -> {} bytes: noise message 3 (application data may follow at once)", flight.len()));
            to_listener.extend_from_slice(&flight);
        }
    }
    let handshake = started.elapsed();
    let mut dialer_session = initiator.into_session().map_err(err)?;
    let mut listener_session = responder
        .ok_or("no responder")?
        .into_session()
        .map_err(err)?;

    // 1 MiB each way through the sessions, sealed and opened in caller buffers
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i * 7) as u8).collect();
    let t = Instant::now();
    let mut wire = Vec::with_capacity(data.len() + 1024);
    dialer_session
        .send()
        .encrypt_to_vec(&data, &mut wire)
        .map_err(err)?;
    let received = open_all(&mut listener_session, &mut wire)?;
    wire.clear();
    listener_session
        .send()
        .encrypt_to_vec(&data, &mut wire)
        .map_err(err)?;
    let echoed = open_all(&mut dialer_session, &mut wire)?;
    let elapsed = t.elapsed().as_secs_f64();
    let intact = received == data && echoed == data;

    out.record(&[
        ("step", json!("noise")),
        ("dialer_peer_id", json!(dialer_id.peer_id().to_base58())),
        ("listener_peer_id", json!(listener_id.peer_id().to_base58())),
        (
            "dialer_verified",
            json!(dialer_session.remote_peer_id() == listener_id.peer_id()),
        ),
        (
            "listener_verified",
            json!(listener_session.remote_peer_id() == dialer_id.peer_id()),
        ),
        ("muxer", json!(dialer_session.muxer())),
        (
            "muxer_agreed_both_sides",
            json!(dialer_session.muxer() == listener_session.muxer()),
        ),
        (
            "handshake_hash_equal",
            json!(dialer_session.handshake_hash() == listener_session.handshake_hash()),
        ),
        ("flights", json!(flights)),
        ("handshake_us", json!(handshake.as_micros() as u64)),
        ("bytes_each_way", json!(data.len())),
        ("data_intact", json!(intact)),
        (
            "throughput_mb_s",
            json!(((2 * data.len()) as f64 / elapsed / 1e6).round()),
        ),
    ]);
    if !intact {
        return Err("data corrupted in transit".into());
    }
    Ok(())
}

fn open_all(session: &mut noise::Session, wire: &mut [u8]) -> Result<Vec<u8>, CliError> {
    let mut plain = Vec::with_capacity(wire.len());
    let mut at = 0;
    while let Some(opened) = session
        .recv()
        .decrypt_in_place(&mut wire[at..])
        .map_err(err)?
    {
        plain.extend_from_slice(opened.plaintext);
        at += opened.consumed;
    }
    Ok(plain)
}
