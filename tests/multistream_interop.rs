//! Our machines against rust-libp2p's `multistream-select` over an in-memory duplex: our
//! `Dialer` against `listener_select_proto`, our `Listener` against `dialer_select_proto`
//! (V1 and V1Lazy). Their side is a future; ours is the sync loop a driver would run. One
//! `poll_fn` alternates the two until neither moves a byte.

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
use multistream_select::{
    dialer_select_proto, listener_select_proto, NegotiationError, Version as TheirVersion,
};
use p2psec::multistream::{Dialer, Error, Event, Listener, Version};

// ---- the in-memory duplex ----

/// One direction: a byte queue with an end-of-stream flag.
#[derive(Default)]
struct Pipe {
    bytes: VecDeque<u8>,
    closed: bool,
    reader: Option<Waker>,
    /// Bytes ever written, so the driver can tell when nothing moves any more.
    written: usize,
}

type Shared = Arc<Mutex<Pipe>>;

impl Pipe {
    fn push(pipe: &Shared, data: &[u8]) {
        let mut p = pipe.lock().unwrap();
        assert!(!p.closed, "write after close");
        p.bytes.extend(data);
        p.written += data.len();
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

    /// Everything queued, and whether the writer has closed.
    fn drain(pipe: &Shared) -> (Vec<u8>, bool) {
        let mut p = pipe.lock().unwrap();
        (p.bytes.drain(..).collect(), p.closed)
    }

    fn state(pipe: &Shared) -> (usize, usize, bool) {
        let p = pipe.lock().unwrap();
        (p.written, p.bytes.len(), p.closed)
    }
}

/// Their end of the duplex.
struct Endpoint {
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
enum TheirError {
    Negotiation(NegotiationError),
    Io(io::Error),
}

impl TheirError {
    /// rust-libp2p's "no agreement", whether from the select future or, for a lazy dialer,
    /// from the first read.
    fn is_failed(&self) -> bool {
        match self {
            TheirError::Negotiation(NegotiationError::Failed) => true,
            TheirError::Negotiation(_) => false,
            TheirError::Io(e) => e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<NegotiationError>())
                .is_some_and(|n| matches!(n, NegotiationError::Failed)),
        }
    }
}

type TheirResult = Result<(String, Vec<u8>), TheirError>;

/// After agreement: send `app`, then read exactly `expect_len` bytes of ours.
async fn their_app<S: AsyncRead + AsyncWrite + Unpin>(
    protocol: String,
    mut io: S,
    app: Vec<u8>,
    expect_len: usize,
) -> TheirResult {
    io.write_all(&app).await.map_err(TheirError::Io)?;
    io.flush().await.map_err(TheirError::Io)?;
    let mut got = vec![0; expect_len];
    io.read_exact(&mut got).await.map_err(TheirError::Io)?;
    Ok((protocol, got))
}

async fn their_listener(
    io: Endpoint,
    protocols: Vec<&'static str>,
    app: Vec<u8>,
    expect_len: usize,
) -> TheirResult {
    let (p, io) = listener_select_proto(io, protocols)
        .await
        .map_err(TheirError::Negotiation)?;
    their_app(p.to_string(), io, app, expect_len).await
}

async fn their_dialer(
    io: Endpoint,
    protocols: Vec<&'static str>,
    version: TheirVersion,
    app: Vec<u8>,
    expect_len: usize,
) -> TheirResult {
    let (p, io) = dialer_select_proto(io, protocols, version)
        .await
        .map_err(TheirError::Negotiation)?;
    their_app(p.to_string(), io, app, expect_len).await
}

// ---- our side ----

trait Machine {
    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error>;
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize;
    fn poll_event(&mut self) -> Option<Event>;
    fn negotiated(&self) -> Option<&str>;
}

macro_rules! machine {
    ($t:ty) => {
        impl Machine for $t {
            fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
                <$t>::handle_input(self, bytes)
            }
            fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
                <$t>::poll_transmit(self, out)
            }
            fn poll_event(&mut self) -> Option<Event> {
                <$t>::poll_event(self)
            }
            fn negotiated(&self) -> Option<&str> {
                <$t>::negotiated(self)
            }
        }
    };
}
machine!(Dialer);
machine!(Listener);

/// What our side ended with.
#[derive(Debug, Default)]
struct Ours {
    negotiated: Option<String>,
    error: Option<Error>,
    events: Vec<Event>,
    /// Bytes after agreement.
    app: Vec<u8>,
    /// The peer closed before agreement.
    eof_before_agreement: bool,
}

/// Our sync loop, one step at a time, as a real driver over a socket would run it.
struct OurSide<M> {
    machine: M,
    inbox: Vec<u8>,
    app_to_send: Vec<u8>,
    app_sent: bool,
    rx: Shared,
    tx: Shared,
    out: Ours,
}

impl<M: Machine> OurSide<M> {
    fn step(&mut self) {
        let (bytes, closed) = Pipe::drain(&self.rx);
        if self.out.negotiated.is_some() {
            self.out.app.extend_from_slice(&bytes);
        } else if self.out.error.is_none() {
            self.inbox.extend_from_slice(&bytes);
            match self.machine.handle_input(&self.inbox) {
                Ok(n) => {
                    self.inbox.drain(..n);
                    if let Some(p) = self.machine.negotiated() {
                        self.out.negotiated = Some(p.to_owned());
                        self.out.app.append(&mut self.inbox);
                    } else if closed {
                        self.out.eof_before_agreement = true;
                    }
                }
                Err(e) => self.out.error = Some(e),
            }
        }
        let mut buf = Vec::new();
        let _ = self.machine.poll_transmit(&mut buf);
        if !buf.is_empty() && !Pipe::state(&self.tx).2 {
            Pipe::push(&self.tx, &buf);
        }
        while let Some(ev) = self.machine.poll_event() {
            if matches!(ev, Event::Optimistic { .. } | Event::Negotiated { .. }) && !self.app_sent {
                self.app_sent = true;
                Pipe::push(&self.tx, &self.app_to_send);
            }
            self.out.events.push(ev);
        }
        // A driver closes the stream once negotiation failed (what rust-libp2p expects).
        if self.out.error.is_some() || self.out.eof_before_agreement {
            Pipe::close(&self.tx);
        }
    }
}

/// Runs their future and our loop together until neither moves a byte; returns both results
/// (theirs `None` if it is still waiting).
fn run<M: Machine, F: Future<Output = TheirResult>>(
    machine: M,
    our_app: Vec<u8>,
    theirs: impl FnOnce(Endpoint) -> F,
) -> (Ours, Option<TheirResult>) {
    let to_them: Shared = Arc::default();
    let to_us: Shared = Arc::default();
    let endpoint = Endpoint {
        rx: to_them.clone(),
        tx: to_us.clone(),
    };
    let mut fut = pin!(theirs(endpoint));
    let mut ours = OurSide {
        machine,
        inbox: Vec::new(),
        app_to_send: our_app,
        app_sent: false,
        rx: to_us.clone(),
        tx: to_them.clone(),
        out: Ours::default(),
    };
    let mut their_result = None;
    block_on(poll_fn(|cx| {
        for _ in 0..10_000 {
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
            ours.step();
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
    (ours.out, their_result)
}

const OUR_APP: &[u8] = b"\x00\x20our next-layer bytes, e.g. a Noise message";
const THEIR_APP: &[u8] = b"their next-layer bytes";

fn negotiated(p: &str) -> Event {
    Event::Negotiated { protocol: p.into() }
}

fn optimistic(p: &str) -> Event {
    Event::Optimistic { protocol: p.into() }
}

/// Agreement on `p`, next-layer bytes intact both ways.
fn assert_agreed(ours: &Ours, theirs: Option<TheirResult>, p: &str) {
    assert_eq!(ours.error, None);
    assert_eq!(ours.negotiated.as_deref(), Some(p));
    assert_eq!(ours.app, THEIR_APP, "their bytes, once, intact");
    let (their_p, their_got) = theirs
        .expect("their side finished")
        .expect("their side agreed");
    assert_eq!(their_p, p);
    assert_eq!(their_got, OUR_APP, "our bytes, once, intact");
}

// ---- our Dialer against their listener ----

fn against_their_listener(ours: &[&str], version: Version) -> (Ours, Option<TheirResult>) {
    let dialer = Dialer::new(ours.iter().copied(), version).unwrap();
    run(dialer, OUR_APP.to_vec(), |io| {
        their_listener(io, vec!["/a", "/b"], THEIR_APP.to_vec(), OUR_APP.len())
    })
}

#[test]
fn dialer_v1_first_choice() {
    let (ours, theirs) = against_their_listener(&["/a", "/c"], Version::V1);
    assert_agreed(&ours, theirs, "/a");
    assert_eq!(ours.events, vec![negotiated("/a")]);
}

#[test]
fn dialer_v1_after_na() {
    let (ours, theirs) = against_their_listener(&["/x", "/b"], Version::V1);
    assert_agreed(&ours, theirs, "/b");
}

#[test]
fn dialer_v1_no_agreement() {
    let (ours, theirs) = against_their_listener(&["/x", "/y"], Version::V1);
    assert_eq!(
        ours.error,
        Some(Error::NoProtocolAgreed {
            tried: vec!["/x".into(), "/y".into()]
        })
    );
    let err = theirs.expect("their side finished").unwrap_err();
    assert!(err.is_failed(), "{err:?}");
}

#[test]
fn dialer_lazy_single_protocol() {
    let (ours, theirs) = against_their_listener(&["/b"], Version::V1Lazy);
    assert_agreed(&ours, theirs, "/b");
    assert_eq!(ours.events, vec![optimistic("/b"), negotiated("/b")]);
}

#[test]
fn dialer_lazy_after_na() {
    let (ours, theirs) = against_their_listener(&["/x", "/a"], Version::V1Lazy);
    assert_agreed(&ours, theirs, "/a");
    assert_eq!(ours.events, vec![optimistic("/a"), negotiated("/a")]);
}

#[test]
fn dialer_lazy_rejected() {
    let (ours, theirs) = against_their_listener(&["/x"], Version::V1Lazy);
    assert_eq!(
        ours.error,
        Some(Error::NoProtocolAgreed {
            tried: vec!["/x".into()]
        })
    );
    assert_eq!(ours.events, vec![optimistic("/x")]);
    // rust-libp2p's listener reads our next-layer bytes after its `na`: an empty frame
    // (0x00) is a protocol error there, not `Failed`; either way it must not agree.
    let err = theirs.expect("their side finished").unwrap_err();
    assert!(matches!(err, TheirError::Negotiation(_)), "{err:?}");
}

#[test]
fn dialer_lazy_rejected_reads_as_failed_there() {
    // Next-layer bytes that rust-libp2p's decoder calls an invalid message: its listener then
    // reports the lazy rejection as `Failed`, as ours reports `DataAfterRejection`.
    let dialer = Dialer::new(["/x"], Version::V1Lazy).unwrap();
    let (ours, theirs) = run(dialer, b"\x03ab\n".to_vec(), |io| {
        their_listener(io, vec!["/a", "/b"], Vec::new(), 1)
    });
    assert!(matches!(ours.error, Some(Error::NoProtocolAgreed { .. })));
    let err = theirs.expect("their side finished").unwrap_err();
    assert!(err.is_failed(), "{err:?}");
}

// ---- our Listener against their dialer ----

fn against_their_dialer(
    theirs: Vec<&'static str>,
    version: TheirVersion,
) -> (Ours, Option<TheirResult>) {
    let listener = Listener::new(["/a", "/b"]).unwrap();
    run(listener, OUR_APP.to_vec(), move |io| {
        their_dialer(io, theirs, version, THEIR_APP.to_vec(), OUR_APP.len())
    })
}

#[test]
fn listener_first_choice() {
    for version in [TheirVersion::V1, TheirVersion::V1Lazy] {
        let (ours, theirs) = against_their_dialer(vec!["/b", "/a"], version);
        assert_agreed(&ours, theirs, "/b");
        assert_eq!(ours.events, vec![negotiated("/b")]);
    }
}

#[test]
fn listener_lazy_single_protocol() {
    let (ours, theirs) = against_their_dialer(vec!["/a"], TheirVersion::V1Lazy);
    assert_agreed(&ours, theirs, "/a");
}

#[test]
fn listener_after_na() {
    for version in [TheirVersion::V1, TheirVersion::V1Lazy] {
        let (ours, theirs) = against_their_dialer(vec!["/x", "/a"], version);
        assert_agreed(&ours, theirs, "/a");
    }
}

#[test]
fn listener_no_agreement() {
    let (ours, theirs) = against_their_dialer(vec!["/x", "/y"], TheirVersion::V1);
    let err = theirs.expect("their side finished").unwrap_err();
    assert!(err.is_failed(), "{err:?}");
    // Their dialer gives up by dropping the stream: our driver sees EOF before agreement.
    assert_eq!(ours.error, None);
    assert_eq!(ours.negotiated, None);
    assert!(ours.eof_before_agreement);
}

#[test]
fn listener_lazy_rejected() {
    // Their lazy dialer sends header, "/x" and its next-layer bytes in one flight.
    let listener = Listener::new(["/a", "/b"]).unwrap();
    let (ours, theirs) = run(listener, Vec::new(), |io| {
        their_dialer(io, vec!["/x"], TheirVersion::V1Lazy, OUR_APP.to_vec(), 1)
    });
    assert_eq!(
        ours.error,
        Some(Error::DataAfterRejection {
            rejected: "/x".into(),
            cause: Box::new(Error::EmptyMessage),
        })
    );
    assert_eq!(ours.negotiated, None);
    // The `na` queued before the garbage still reached them: their first read fails cleanly.
    let err = theirs.expect("their side finished").unwrap_err();
    assert!(err.is_failed(), "{err:?}");
}
