//! Fuzz body for the private-network layer: key files and the peer's byte stream.

use crate::pnet::{Pnet, PreSharedKey};

/// A key file, then a stream from the peer in the pieces the input's own bytes choose:
/// parsing never panics and round-trips what it accepts; `open` never panics, says where
/// each piece's plaintext begins within it, and once it failed it fails alike.
pub fn pnet_layer(data: &[u8]) {
    if let Ok(key) = PreSharedKey::from_key_file(data) {
        let again = PreSharedKey::from_key_file(key.to_key_file().as_bytes());
        assert_eq!(again.as_ref(), Ok(&key), "a key file did not round-trip");
    }
    let key = PreSharedKey::new([0x42; 32]);
    let mut layer = Pnet::new(&key, [7; 24]);
    let mut failed = None;
    for piece in super::chunks(data) {
        let mut piece = piece.to_vec();
        match layer.open(&mut piece) {
            Ok(start) => {
                assert!(failed.is_none(), "a failed layer took more bytes");
                assert!(start <= piece.len(), "plaintext starts past its piece");
            }
            Err(e) => {
                if let Some(before) = &failed {
                    assert_eq!(before, &e, "a failed layer changed its error");
                }
                failed = Some(e);
            }
        }
    }
    if failed.is_none() {
        // a whole stream that passed carried the multistream header, or was too short
        assert!(!layer.peer_proved_key() || data.len() >= 24 + 20);
    }
}
