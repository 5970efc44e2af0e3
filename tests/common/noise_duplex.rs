//! One of our Noise peers against rust-libp2p's `libp2p-noise` over an in-memory duplex.
//! Their side is a future (the `libp2p_core` upgrade, then application reads and writes on
//! its `Output`); ours is the sync [`Peer`] loop of `noise_pair.rs`. One `poll_fn`
//! alternates the two until neither moves a byte. Each direction can flip one byte in
//! flight and logs what it carried.
//!
//! Included with `#[path = "common/noise_duplex.rs"] mod noise_duplex;` beside
//! `noise_pair` (which it uses).
#![allow(dead_code)]

use std::{
    collections::VecDeque,
    future::Future,
    io,
    pin::{pin, Pin},
    sync::{Arc, Mutex},
    task::{Context, Poll, Waker},
};

use futures::{
    executor::block_on,
    future::poll_fn,
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
};
use libp2p_core::upgrade::{InboundConnectionUpgrade, OutboundConnectionUpgrade};

use crate::noise_pair::{Peer, Summary};

// ---- the in-memory duplex ----

/// One direction: a byte queue with an end-of-stream flag.
#[derive(Default)]
pub(crate) struct Pipe {
    bytes: VecDeque<u8>,
    closed: bool,
    reader: Option<Waker>,
    /// Everything ever written (after tampering).
    log: Vec<u8>,
    /// Flip `mask` into the byte at this offset of the stream.
    tamper: Option<(usize, u8)>,
}

pub(crate) type Shared = Arc<Mutex<Pipe>>;

impl Pipe {
    pub(crate) fn shared(tamper: Option<(usize, u8)>) -> Shared {
        Arc::new(Mutex::new(Pipe {
            tamper,
            ..Pipe::default()
        }))
    }

    fn push(pipe: &Shared, data: &[u8]) {
        let mut p = pipe.lock().unwrap();
        if p.closed || data.is_empty() {
            return;
        }
        let start = p.log.len();
        let mut data = data.to_vec();
        if let Some((at, mask)) = p.tamper {
            if (start..start + data.len()).contains(&at) {
                data[at - start] ^= mask;
            }
        }
        p.log.extend_from_slice(&data);
        p.bytes.extend(data);
        if let Some(w) = p.reader.take() {
            w.wake();
        }
    }

    fn close(pipe: &Shared) {
        let mut p = pipe.lock().unwrap();
        p.closed = true;
        if let Some(w) = p.reader.take() {
            w.wake();
        }
    }

    fn drain(pipe: &Shared) -> (Vec<u8>, bool) {
        let mut p = pipe.lock().unwrap();
        (p.bytes.drain(..).collect(), p.closed)
    }

    /// (bytes written, bytes queued, closed): progress shows as a change here.
    fn state(pipe: &Shared) -> (usize, usize, bool) {
        let p = pipe.lock().unwrap();
        (p.log.len(), p.bytes.len(), p.closed)
    }

    pub(crate) fn log(pipe: &Shared) -> Vec<u8> {
        pipe.lock().unwrap().log.clone()
    }
}

/// Their end of the duplex.
pub(crate) struct Endpoint {
    rx: Shared,
    tx: Shared,
}

impl AsyncRead for Endpoint {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut p = self.rx.lock().unwrap();
        if p.bytes.is_empty() {
            if p.closed {
                return Poll::Ready(Ok(0));
            }
            p.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(p.bytes.len());
        for (dst, src) in buf.iter_mut().zip(p.bytes.drain(..n)) {
            *dst = src;
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for Endpoint {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.tx.lock().unwrap().closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        Pipe::push(&self.tx, buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pipe::close(&self.tx);
        Poll::Ready(Ok(()))
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        Pipe::close(&self.tx);
    }
}

// ---- their side ----

#[derive(Debug)]
pub(crate) enum TheirError {
    /// The upgrade (handshake) failed.
    Noise(libp2p_noise::Error),
    /// Reading or writing the established session failed.
    Io(io::Error),
}

/// What their side ended with: the PeerId their handshake proved, and the application
/// bytes they read.
pub(crate) type TheirResult = Result<(libp2p_identity::PeerId, Vec<u8>), TheirError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Initiator,
    Responder,
}

/// Their handshake in `role`, then each of `writes` written and flushed (so each write
/// becomes its own frames), then exactly `expect_len` bytes read.
pub(crate) async fn their_side(
    config: libp2p_noise::Config,
    io: Endpoint,
    role: Role,
    writes: Vec<Vec<u8>>,
    expect_len: usize,
) -> TheirResult {
    let (peer, mut out) = match role {
        Role::Initiator => config.upgrade_outbound(io, "/noise").await,
        Role::Responder => config.upgrade_inbound(io, "/noise").await,
    }
    .map_err(TheirError::Noise)?;
    for w in writes {
        out.write_all(&w).await.map_err(TheirError::Io)?;
        out.flush().await.map_err(TheirError::Io)?;
    }
    let mut got = vec![0; expect_len];
    out.read_exact(&mut got).await.map_err(TheirError::Io)?;
    Ok((peer, got))
}

/// What one run produced.
pub(crate) struct Mixed {
    pub(crate) ours: Summary,
    /// Our peer after the run (its session, if any, can still be used).
    pub(crate) peer: Peer,
    /// `None`: their future was still waiting when nothing moved any more.
    pub(crate) theirs: Option<TheirResult>,
    /// Every byte we sent (after tampering), and every byte they sent.
    pub(crate) ours_to_theirs: Vec<u8>,
    pub(crate) theirs_to_ours: Vec<u8>,
}

/// Runs our `peer` against their future until neither moves a byte. `tamper_to_theirs` and
/// `tamper_to_ours` flip one byte of a direction in flight.
pub(crate) fn run_mixed<F: Future<Output = TheirResult>>(
    mut peer: Peer,
    theirs: impl FnOnce(Endpoint) -> F,
    tamper_to_theirs: Option<(usize, u8)>,
    tamper_to_ours: Option<(usize, u8)>,
) -> Mixed {
    let to_them = Pipe::shared(tamper_to_theirs);
    let to_us = Pipe::shared(tamper_to_ours);
    let endpoint = Endpoint {
        rx: to_them.clone(),
        tx: to_us.clone(),
    };
    let mut fut = pin!(theirs(endpoint));
    let mut their_result = None;
    block_on(poll_fn(|cx| {
        for _ in 0..1_000_000 {
            let before = (
                Pipe::state(&to_them),
                Pipe::state(&to_us),
                their_result.is_some(),
            );
            if their_result.is_none() {
                if let Poll::Ready(r) = fut.as_mut().poll(cx) {
                    their_result = Some(r);
                }
            }
            // our driver's step
            let (bytes, closed) = Pipe::drain(&to_us);
            peer.input(&bytes);
            let out = peer.output();
            Pipe::push(&to_them, &out);
            // a driver closes the stream on an error, or when the peer went away first
            if peer.error().is_some() || closed {
                Pipe::close(&to_them);
            }
            let after = (
                Pipe::state(&to_them),
                Pipe::state(&to_us),
                their_result.is_some(),
            );
            if before == after {
                return Poll::Ready(());
            }
        }
        panic!("the exchange never settled");
    }));
    Mixed {
        ours: peer.summary().clone(),
        peer,
        theirs: their_result,
        ours_to_theirs: Pipe::log(&to_them),
        theirs_to_ours: Pipe::log(&to_us),
    }
}

/// Their configuration for a key given as our protobuf encoding.
pub(crate) fn their_config(
    private_key_protobuf: &[u8],
) -> (libp2p_identity::Keypair, libp2p_noise::Config) {
    let keypair = libp2p_identity::Keypair::from_protobuf_encoding(private_key_protobuf)
        .expect("libp2p-identity decodes our key encoding");
    let config = libp2p_noise::Config::new(&keypair).unwrap();
    (keypair, config)
}

/// Their PeerId as ours (the same multihash bytes).
pub(crate) fn to_our_peer_id(id: &libp2p_identity::PeerId) -> p2psec::PeerId {
    p2psec::PeerId::try_from_bytes(&id.to_bytes()).unwrap()
}
