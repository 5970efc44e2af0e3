//! The error codes that bindings (C, Python) match on, pinned from outside the crate: a
//! renumbered code, a fault moved to another group, or a wrapper that hides its root
//! cause fails here. Codes are never renumbered (`p2psec::error`), so a failure here is a
//! broken promise, not a test to update.

use p2psec::multistream::{self, Listener};
use p2psec::{fault_of_code, identity, layer_of_code, Fault, Layer, PeerId};

/// A code, its fault by the digits, and its layer by the digits, all as pinned.
fn assert_code(code: u16, pinned: u16, fault: Fault, layer: Layer) {
    assert_eq!(code, pinned);
    assert_eq!(fault_of_code(code), Some(fault), "{code}");
    assert_eq!(layer_of_code(code), Some(layer), "{code}");
}

#[test]
fn fault_is_one_type_at_both_paths() {
    let f: multistream::Fault = Fault::ApiMisuse;
    assert_eq!(f, p2psec::error::Fault::ApiMisuse);
    assert_eq!(Fault::InvalidMessage as u8, 1);
    assert_eq!(Fault::Local as u8, 5);
    assert_eq!(Layer::Identity as u8, 1);
    assert_eq!(Layer::Upgrade as u8, 7);
}

#[test]
fn identity_codes() {
    let e = identity::PublicKey::try_decode_protobuf(&[0x08]).unwrap_err();
    assert!(matches!(e, identity::Error::Truncated { .. }), "{e:?}");
    assert_code(e.code(), 1101, Fault::InvalidMessage, Layer::Identity);
    assert_eq!(e.fault(), Fault::InvalidMessage);

    let e = identity::Error::InvalidSignature {
        key_type: "Ed25519",
    };
    assert_code(e.code(), 1201, Fault::PeerMisbehaved, Layer::Identity);
    assert_code(
        identity::Error::UnsupportedCurve.code(),
        1302,
        Fault::PeerIncompatible,
        Layer::Identity,
    );
    assert_code(
        identity::Error::RandomnessUnavailable.code(),
        1502,
        Fault::Local,
        Layer::Identity,
    );

    let e = "not a peer id".parse::<PeerId>().unwrap_err();
    assert_eq!(e.fault(), Fault::InvalidMessage);
    assert_eq!(layer_of_code(e.code()), Some(Layer::Identity));
}

#[test]
fn multistream_codes() {
    let e = Listener::new(core::iter::empty::<String>()).unwrap_err();
    assert_eq!(e, multistream::Error::NoProtocols);
    assert_code(e.code(), 2401, Fault::ApiMisuse, Layer::Multistream);
    assert_code(
        multistream::Error::EmptyMessage.code(),
        2104,
        Fault::InvalidMessage,
        Layer::Multistream,
    );
    let e = multistream::Error::NoProtocolAgreed {
        tried: vec!["/noise".into()],
    };
    assert_code(e.code(), 2301, Fault::PeerIncompatible, Layer::Multistream);
}

#[cfg(feature = "noise")]
#[test]
fn noise_codes() {
    use p2psec::noise::Error;
    assert_code(
        Error::FrameTooShort { len: 3 }.code(),
        3104,
        Fault::InvalidMessage,
        Layer::Noise,
    );
    assert_code(
        Error::BadSignature.code(),
        3203,
        Fault::PeerMisbehaved,
        Layer::Noise,
    );
    assert_code(
        Error::NonceExhausted.code(),
        3501,
        Fault::Local,
        Layer::Noise,
    );
    // a wrapped identity error answers its own code: the root cause
    let e = Error::IdentityKey(identity::Error::UnknownKeyType(9));
    assert_code(e.code(), 1107, Fault::InvalidMessage, Layer::Identity);
    assert_eq!(e.fault(), Fault::InvalidMessage);
}

#[cfg(feature = "tls")]
#[test]
fn tls_codes() {
    use p2psec::tls::Error;
    assert_code(
        Error::MissingExtension.code(),
        4206,
        Fault::PeerMisbehaved,
        Layer::Tls,
    );
    assert_code(
        Error::NoApplicationProtocol.code(),
        4305,
        Fault::PeerIncompatible,
        Layer::Tls,
    );
    assert_code(
        Error::ApiMisuse("x").code(),
        4402,
        Fault::ApiMisuse,
        Layer::Tls,
    );
}

#[cfg(feature = "secio")]
#[test]
fn secio_codes() {
    use p2psec::secio::Error;
    assert_code(
        Error::MacMismatch.code(),
        5205,
        Fault::PeerMisbehaved,
        Layer::Secio,
    );
    assert_code(
        Error::Internal("x").code(),
        5501,
        Fault::Local,
        Layer::Secio,
    );
}

#[cfg(feature = "mplex")]
#[test]
fn mplex_codes() {
    use p2psec::mplex::{Error, StreamError};
    assert_code(
        Error::NonMinimalVarint.code(),
        6102,
        Fault::InvalidMessage,
        Layer::Mplex,
    );
    assert_code(
        StreamError::WouldBlock.code(),
        6403,
        Fault::ApiMisuse,
        Layer::Mplex,
    );
    let e = StreamError::Connection(Error::InvalidFlag { flag: 7 });
    assert_code(e.code(), 6103, Fault::InvalidMessage, Layer::Mplex);
}

#[cfg(any(feature = "noise", feature = "tls"))]
#[test]
fn upgrade_codes_name_the_root_cause() {
    use p2psec::upgrade::Error;
    assert_code(
        Error::UnexpectedEof.code(),
        7201,
        Fault::PeerMisbehaved,
        Layer::Upgrade,
    );
    assert_code(
        Error::ApiMisuse("x").code(),
        7402,
        Fault::ApiMisuse,
        Layer::Upgrade,
    );
    let e = "/plaintext/2.0.0"
        .parse::<p2psec::upgrade::SecurityProtocol>()
        .unwrap_err();
    assert_code(e.code(), 7401, Fault::ApiMisuse, Layer::Upgrade);
    assert_eq!(e.layer(), Layer::Upgrade);

    let e = Error::SecurityNegotiation(multistream::Error::NoProtocolAgreed { tried: Vec::new() });
    assert_code(e.code(), 2301, Fault::PeerIncompatible, Layer::Multistream);
    assert_eq!(e.layer(), Layer::Multistream);

    #[cfg(feature = "noise")]
    {
        let inner = p2psec::noise::Error::IdentityKey(identity::Error::UnknownKeyType(9));
        let e = Error::Noise(inner);
        assert_code(e.code(), 1107, Fault::InvalidMessage, Layer::Identity);
        assert_eq!(e.layer(), Layer::Noise);
    }
    #[cfg(feature = "tls")]
    {
        let e = Error::Tls(p2psec::tls::Error::RecordAuthentication);
        assert_code(e.code(), 4214, Fault::PeerMisbehaved, Layer::Tls);
        assert_eq!((e.layer(), e.fault()), (Layer::Tls, Fault::PeerMisbehaved));
    }
}
