//! Every multistream-select encoding in vectors/multistream/messages.json must encode from its
//! message and decode back to it, consuming exactly its bytes.

use p2psec::multistream::{
    codec::{self, Message},
    HEADER,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    spec_provided: Vec<Vector>,
    derived_not_in_spec: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    /// One message's text.
    message: Option<String>,
    /// Several messages' texts, concatenated on the wire.
    messages: Option<Vec<String>>,
    description: Option<String>,
    encoded_hex: String,
}

fn load() -> Vectors {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/vectors/multistream/messages.json"
    );
    let text = std::fs::read_to_string(path).expect("read messages.json");
    serde_json::from_str(&text).expect("parse messages.json")
}

fn hex(s: &str) -> Vec<u8> {
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(s.as_bytes())
        .expect("valid hex")
}

/// The message a line of text stands for.
fn message(text: &str) -> Message<'_> {
    match text {
        t if t == HEADER => Message::Header,
        "na" => Message::Na,
        "ls" => Message::Ls,
        id => Message::Protocol(id),
    }
}

fn encode_all(list: &[Message<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in list {
        codec::encode(m, &mut out);
    }
    out
}

fn decode_all(mut bytes: &[u8]) -> Vec<Message<'_>> {
    let mut list = Vec::new();
    while !bytes.is_empty() {
        let (msg, used) = codec::decode(bytes)
            .expect("valid message")
            .expect("complete message");
        list.push(msg);
        bytes = &bytes[used..];
    }
    list
}

/// Both directions for a vector that names its messages; returns false for one that does
/// not (checked separately).
fn check_both_ways(v: &Vector) -> bool {
    let texts: Vec<&str> = match (&v.message, &v.messages) {
        (Some(m), None) => vec![m.as_str()],
        (None, Some(ms)) => ms.iter().map(String::as_str).collect(),
        (None, None) => return false,
        (Some(_), Some(_)) => panic!("vector with both message and messages"),
    };
    let bytes = hex(&v.encoded_hex);
    let expected: Vec<Message<'_>> = texts.iter().map(|t| message(t)).collect();
    assert_eq!(encode_all(&expected), bytes, "encoding {texts:?}");
    assert_eq!(decode_all(&bytes), expected, "decoding {}", v.encoded_hex);
    true
}

#[test]
fn spec_provided_vectors() {
    let vectors = load();
    assert!(!vectors.spec_provided.is_empty());
    for v in &vectors.spec_provided {
        assert!(check_both_ways(v), "spec vector without a message");
    }
    // The two the spec gives: `na` and `ls`.
    let texts: Vec<&str> = vectors
        .spec_provided
        .iter()
        .filter_map(|v| v.message.as_deref())
        .collect();
    assert!(texts.contains(&"na") && texts.contains(&"ls"), "{texts:?}");
}

#[test]
fn derived_vectors() {
    let vectors = load();
    let mut ls_replies = 0;
    for v in &vectors.derived_not_in_spec {
        if check_both_ways(v) {
            continue;
        }
        // The ls reply: no message text, so decode, re-encode and check its entries.
        let bytes = hex(&v.encoded_hex);
        let (msg, used) = codec::decode(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        let Message::LsReply(ids) = &msg else {
            panic!("{} should decode to an ls reply", v.encoded_hex);
        };
        assert!(!ids.is_empty());
        let description = v.description.as_deref().unwrap_or_default();
        for id in ids {
            assert!(description.contains(id), "{id} not in {description:?}");
        }
        assert_eq!(encode_all(std::slice::from_ref(&msg)), bytes);
        ls_replies += 1;
    }
    assert_eq!(ls_replies, 1);
}

#[test]
fn every_prefix_of_a_vector_is_incomplete() {
    for v in load().derived_not_in_spec {
        let bytes = hex(&v.encoded_hex);
        let (_, first) = codec::decode(&bytes).unwrap().unwrap();
        for cut in 0..first {
            assert_eq!(
                codec::decode(&bytes[..cut]),
                Ok(None),
                "{} cut at {cut}",
                v.encoded_hex
            );
        }
    }
}
