//! Fuzz bodies for the identity layer and the text forms: the protobuf key encodings,
//! PeerId text and bytes, multiaddr text. Decoding never panics, and whatever decodes
//! encodes back to exactly the same bytes (strictness).

/// A `PublicKey` protobuf from the peer: decoding never panics, and whatever decodes
/// re-encodes to exactly the same bytes (strictness), with a PeerId that parses back.
pub fn identity_public_key(data: &[u8]) {
    use crate::identity::{KeyPolicy, PeerId, PublicKey};
    let strict = PublicKey::try_decode_protobuf(data);
    let lenient = PublicKey::try_decode_protobuf_with(data, KeyPolicy::allowing_legacy_rsa_1024());
    // the lenient policy only ever adds keys
    if let Ok(key) = &strict {
        assert_eq!(
            lenient.as_ref().ok(),
            Some(key),
            "allowing legacy RSA refused a key"
        );
    }
    if let Ok(key) = lenient {
        assert_eq!(key.encode_protobuf(), data, "accepted a non-canonical key");
        let id = key.to_peer_id();
        assert_eq!(PeerId::try_from_bytes(id.as_bytes()), Ok(id));
        assert!(id.matches(&key));
        assert!(
            !key.verify(b"fuzz", data),
            "a key's own bytes verified as a signature"
        );
    }
}

/// A `PrivateKey` protobuf (a key file): decoding never panics and round-trips.
pub fn identity_private_key(data: &[u8]) {
    if let Ok(pair) = crate::identity::Keypair::try_decode_protobuf(data) {
        assert_eq!(
            &pair.encode_protobuf()[..],
            data,
            "accepted a non-canonical key"
        );
        if let Ok(sig) = pair.sign(b"fuzz") {
            assert!(pair.public().verify(b"fuzz", &sig));
        }
    }
}

/// PeerId text (base58btc or multibase CID) and binary forms.
pub fn peer_id_text(data: &[u8]) {
    use crate::identity::PeerId;
    let _ = PeerId::try_from_bytes(data);
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(id) = text.parse::<PeerId>() {
            assert_eq!(id.to_base58().parse::<PeerId>(), Ok(id));
            assert_eq!(id.to_cid_string().parse::<PeerId>(), Ok(id));
            let _ = id.public_key();
        }
    }
}

/// Multiaddr text: parses or names its error; what parses prints back the same way.
pub fn multiaddr_text(data: &[u8]) {
    use crate::multiaddr::Multiaddr;
    use alloc::string::ToString;
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(addr) = text.parse::<Multiaddr>() {
            let again: Multiaddr = match addr.to_string().parse() {
                Ok(a) => a,
                Err(e) => panic!("{addr} does not re-parse: {e}"),
            };
            assert_eq!(again, addr);
            let _ = addr.peer_id();
            let _ = addr.tcp_socket_addr();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::{mutate, Xorshift};

    #[test]
    fn identity_bodies_survive_mutated_vectors() {
        let seeds: [&[u8]; 4] = [
            &[
                0x08, 0x01, 0x12, 0x20, 0x1e, 0xd1, 0xe8, 0xfa, 0xe2, 0xc4, 0xa1, 0x44, 0xb8, 0xbe,
                0x8f, 0xd4, 0xb4, 0x7b, 0xf3, 0xd3, 0xb3, 0x4b, 0x87, 0x1c, 0x3c, 0xac, 0xf6, 0x01,
                0x0f, 0x0e, 0x42, 0xd4, 0x74, 0xfc, 0xe2, 0x7e,
            ],
            b"12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
            b"bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe",
            b"/ip4/127.0.0.1/tcp/4001/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",
        ];
        let mut rng = Xorshift(0x2545_f491_4f6c_dd1d);
        for seed in seeds {
            for _ in 0..500 {
                let mut v = seed.to_vec();
                mutate(&mut v, &mut rng);
                identity_public_key(&v);
                identity_private_key(&v);
                peer_id_text(&v);
                multiaddr_text(&v);
            }
        }
    }
}
