//! Every key and PeerId vector from the libp2p spec (vectors/identity/, copied from the
//! specs' own test vectors) must decode, re-encode byte for byte and give the stated PeerId.

use p2psec::identity::{Keypair, PeerId, PublicKey};
use serde::Deserialize;

#[derive(Deserialize)]
struct KeyVector {
    name: String,
    key_type: u64,
    private_key_protobuf_hex: String,
    public_key_protobuf_hex: String,
    derived_not_in_spec: Derived,
}

#[derive(Deserialize)]
struct Derived {
    peer_id_multihash_hex: String,
    peer_id_base58btc: String,
    peer_id_cidv1_base32: String,
}

#[derive(Deserialize)]
struct TextVector {
    string: String,
    derived_not_in_spec: TextDerived,
}

#[derive(Deserialize)]
struct TextDerived {
    multihash_hex: String,
    base58btc: String,
    cidv1_base32: String,
    embedded_public_key_protobuf_hex: Option<String>,
}

fn read(name: &str) -> String {
    let path = format!("{}/vectors/identity/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn hex(s: &str) -> Vec<u8> {
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(s.trim().as_bytes())
        .expect("vector hex")
}

fn key_vectors() -> Vec<KeyVector> {
    serde_json::from_str(&read("keys.json")).expect("keys.json")
}

fn supported(v: &KeyVector) -> bool {
    cfg!(feature = "rsa") || v.key_type != 0
}

#[test]
fn public_keys_round_trip_and_give_the_stated_peer_id() {
    let vectors = key_vectors();
    assert_eq!(vectors.len(), 4);
    for v in vectors.iter().filter(|v| supported(v)) {
        let bytes = hex(&v.public_key_protobuf_hex);
        let key =
            PublicKey::try_decode_protobuf(&bytes).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(key.key_type().to_u64(), v.key_type, "{}", v.name);
        assert_eq!(key.encode_protobuf(), bytes, "{}: re-encoding", v.name);
        let id = key.to_peer_id();
        assert_eq!(
            id.as_bytes(),
            hex(&v.derived_not_in_spec.peer_id_multihash_hex),
            "{}",
            v.name
        );
        assert_eq!(
            id.to_base58(),
            v.derived_not_in_spec.peer_id_base58btc,
            "{}",
            v.name
        );
        assert_eq!(
            id.to_cid_string(),
            v.derived_not_in_spec.peer_id_cidv1_base32,
            "{}",
            v.name
        );
        let from_b58: PeerId = v.derived_not_in_spec.peer_id_base58btc.parse().unwrap();
        let from_cid: PeerId = v.derived_not_in_spec.peer_id_cidv1_base32.parse().unwrap();
        assert_eq!(from_b58, id);
        assert_eq!(from_cid, id);
        assert!(id.matches(&key));
    }
}

#[test]
fn the_per_type_hex_files_match_keys_json() {
    for v in key_vectors() {
        assert_eq!(
            hex(&read(&format!("{}-private.pb.hex.txt", v.name))),
            hex(&v.private_key_protobuf_hex)
        );
        assert_eq!(
            hex(&read(&format!("{}-public.pb.hex.txt", v.name))),
            hex(&v.public_key_protobuf_hex)
        );
    }
}

#[test]
fn private_keys_round_trip_and_derive_their_public_key() {
    for v in key_vectors().iter().filter(|v| supported(v)) {
        let bytes = hex(&v.private_key_protobuf_hex);
        let pair =
            Keypair::try_decode_protobuf(&bytes).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(*pair.encode_protobuf(), bytes, "{}: re-encoding", v.name);
        assert_eq!(
            pair.public().encode_protobuf(),
            hex(&v.public_key_protobuf_hex),
            "{}",
            v.name
        );
        // and the key signs something its public half accepts
        let sig = pair.sign(b"libp2p vector").unwrap();
        assert!(pair.public().verify(b"libp2p vector", &sig), "{}", v.name);
    }
}

#[cfg(not(feature = "rsa"))]
#[test]
fn rsa_without_the_feature_is_a_named_error() {
    let v = key_vectors().into_iter().find(|v| v.key_type == 0).unwrap();
    assert_eq!(
        PublicKey::try_decode_protobuf(&hex(&v.public_key_protobuf_hex)),
        Err(p2psec::identity::Error::UnsupportedKeyType("RSA"))
    );
}

#[test]
fn spec_peer_id_strings_parse_in_both_forms() {
    let vectors: Vec<TextVector> = serde_json::from_str(&read("peer-id-strings.json")).unwrap();
    assert_eq!(vectors.len(), 3);
    for v in vectors {
        let id: PeerId = v
            .string
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", v.string));
        let d = v.derived_not_in_spec;
        assert_eq!(id.as_bytes(), hex(&d.multihash_hex));
        assert_eq!(id.to_base58(), d.base58btc);
        assert_eq!(id.to_cid_string(), d.cidv1_base32);
        match d.embedded_public_key_protobuf_hex {
            Some(pk) => {
                let key = id.public_key().unwrap();
                assert_eq!(key.encode_protobuf(), hex(&pk));
                assert!(id.matches(&key));
            }
            None => assert_eq!(id.public_key(), Err(p2psec::identity::Error::NoEmbeddedKey)),
        }
    }
}
