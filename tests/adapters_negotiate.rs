//! multistream-select on an async stream (`negotiate_dialer` / `negotiate_listener` of the
//! tokio and futures-io adapters): a rejection then agreement, the bytes after the
//! negotiation kept for the caller (on both sides, in one read with the last message), the
//! exact bytes on the wire against a raw peer, and each failure with its `io::ErrorKind`
//! and the typed `multistream::Error` inside.
//!
//! tokio runs over an in-memory duplex, futures-io over async-std's loopback TCP
//! (127.0.0.1 only). Every test body is bounded by [`LIMIT`].
#![cfg(all(feature = "tokio", any(feature = "noise", feature = "tls")))]

use std::io;
use std::time::Duration;

use p2psec::adapters::tokio::{negotiate_dialer, negotiate_listener};
use p2psec::multistream;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// Bounds every test body.
const LIMIT: Duration = Duration::from_secs(10);

async fn bounded<F: std::future::Future>(body: F) -> F::Output {
    tokio::time::timeout(LIMIT, body)
        .await
        .expect("within the limit")
}

/// One multistream message: `uvarint(len) || text || '\n'` (short texts only).
fn msg(text: &str) -> Vec<u8> {
    let mut out = vec![u8::try_from(text.len() + 1).unwrap()];
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
    out
}

fn typed(e: &io::Error) -> Option<&multistream::Error> {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<multistream::Error>())
}

/// Reads until `want` bytes came after `first` (what the negotiation already returned).
async fn rest_of(stream: &mut DuplexStream, first: Vec<u8>, want: usize) -> Vec<u8> {
    let mut all = first;
    while all.len() < want {
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the stream ended early");
        all.extend_from_slice(&buf[..n]);
    }
    all
}

#[tokio::test]
async fn a_rejection_then_agreement() {
    bounded(async {
        let (mut d, mut l) = tokio::io::duplex(4096);
        let listener = tokio::spawn(async move {
            let agreed = negotiate_listener(&mut l, ["/echo/1.0.0", "/ipfs/ping/1.0.0"]).await;
            (agreed, l)
        });
        let agreed = negotiate_dialer(&mut d, ["/unknown/1.0.0", "/ipfs/ping/1.0.0"])
            .await
            .unwrap();
        assert_eq!(agreed.protocol, "/ipfs/ping/1.0.0");
        assert!(agreed.remaining.is_empty());
        let (theirs, mut l) = listener.await.unwrap();
        let theirs = theirs.unwrap();
        assert_eq!(theirs.protocol, "/ipfs/ping/1.0.0");
        assert!(theirs.remaining.is_empty());
        // the stream now carries the protocol, both ways
        d.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        l.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
    })
    .await;
}

#[tokio::test]
async fn the_dialers_bytes_on_the_wire_and_what_follows_the_echo() {
    bounded(async {
        let (mut d, mut raw) = tokio::io::duplex(4096);
        let dialer = tokio::spawn(async move { (negotiate_dialer(&mut d, ["/a", "/b"]).await, d) });
        // header and first proposal in one flight (V1 pipelining)
        let expected = [msg("/multistream/1.0.0"), msg("/a")].concat();
        let mut first = vec![0u8; expected.len()];
        raw.read_exact(&mut first).await.unwrap();
        assert_eq!(first, expected);
        raw.write_all(&[msg("/multistream/1.0.0"), msg("na")].concat())
            .await
            .unwrap();
        let mut second = vec![0u8; msg("/b").len()];
        raw.read_exact(&mut second).await.unwrap();
        assert_eq!(second, msg("/b"));
        // the echo and the protocol's first bytes in one write: one read for the dialer
        raw.write_all(&[msg("/b"), b"hello world".to_vec()].concat())
            .await
            .unwrap();
        let (agreed, mut d) = dialer.await.unwrap();
        let agreed = agreed.unwrap();
        assert_eq!(agreed.protocol, "/b");
        assert_eq!(rest_of(&mut d, agreed.remaining, 11).await, b"hello world");
    })
    .await;
}

#[tokio::test]
async fn the_listener_keeps_what_follows_the_proposal() {
    bounded(async {
        let (mut raw, mut l) = tokio::io::duplex(4096);
        // a lazy dialer: header, proposal and data in one flight
        raw.write_all(
            &[
                msg("/multistream/1.0.0"),
                msg("/echo/1.0.0"),
                b"early data".to_vec(),
            ]
            .concat(),
        )
        .await
        .unwrap();
        let agreed = negotiate_listener(&mut l, ["/echo/1.0.0"]).await.unwrap();
        assert_eq!(agreed.protocol, "/echo/1.0.0");
        assert_eq!(rest_of(&mut l, agreed.remaining, 10).await, b"early data");
        // the listener sent its header, then the echo
        let expected = [msg("/multistream/1.0.0"), msg("/echo/1.0.0")].concat();
        let mut answer = vec![0u8; expected.len()];
        raw.read_exact(&mut answer).await.unwrap();
        assert_eq!(answer, expected);
    })
    .await;
}

#[tokio::test]
async fn no_common_protocol_is_unsupported() {
    bounded(async {
        let (mut d, mut l) = tokio::io::duplex(4096);
        let listener = tokio::spawn(async move { negotiate_listener(&mut l, ["/b"]).await });
        let e = negotiate_dialer(&mut d, ["/a"]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported, "{e}");
        assert!(matches!(
            typed(&e),
            Some(multistream::Error::NoProtocolAgreed { .. })
        ));
        // the dialer gives up and goes: the listener sees the stream end while negotiating
        drop(d);
        let e = listener.await.unwrap().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
        assert!(typed(&e).is_none());
    })
    .await;
}

#[tokio::test]
async fn malformed_bytes_and_caller_bugs() {
    bounded(async {
        let (mut raw, mut l) = tokio::io::duplex(4096);
        raw.write_all(b"\x05hello").await.unwrap();
        let e = negotiate_listener(&mut l, ["/echo/1.0.0"])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        assert!(typed(&e).is_some());

        let (mut d, _keep) = tokio::io::duplex(4096);
        let none: [&str; 0] = [];
        let e = negotiate_dialer(&mut d, none).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        assert_eq!(typed(&e), Some(&multistream::Error::NoProtocols));
        let e = negotiate_listener(&mut d, ["no-slash"]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    })
    .await;
}

/// The futures-io entry points share the loop; one scenario shows they drive it.
#[cfg(feature = "async-std")]
#[test]
fn futures_io_agrees_over_loopback_tcp() {
    use async_std::net::{TcpListener, TcpStream};
    use futures::{AsyncReadExt, AsyncWriteExt};
    use p2psec::adapters::futures as fio;

    async_std::task::block_on(async_std::future::timeout(LIMIT, async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = async_std::task::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let agreed = fio::negotiate_listener(&mut tcp, ["/echo/1.0.0"])
                .await
                .unwrap();
            let mut data = agreed.remaining;
            while data.len() < 5 {
                let mut buf = [0u8; 16];
                let n = tcp.read(&mut buf).await.unwrap();
                assert!(n > 0);
                data.extend_from_slice(&buf[..n]);
            }
            tcp.write_all(&data).await.unwrap();
            agreed.protocol
        });
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let agreed = fio::negotiate_dialer(&mut tcp, ["/ping/0.0.0", "/echo/1.0.0"])
            .await
            .unwrap();
        assert_eq!(agreed.protocol, "/echo/1.0.0");
        tcp.write_all(b"hello").await.unwrap();
        let mut back = [0u8; 5];
        tcp.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"hello");
        assert_eq!(server.await, "/echo/1.0.0");
    }))
    .expect("within the limit");
}
