//! The pre-shared key: its file format and its fingerprint.

use alloc::string::String;
use core::fmt;
use rand_core::CryptoRng;
use salsa20::cipher::{KeyIvInit, StreamCipher};
use sha3::digest::{ExtendableOutput, Update, XofReader};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::Error;

/// The key's length: 256 bits.
pub const KEY_LEN: usize = 32;

const CODEC: &str = "/key/swarm/psk/1.0.0/";
/// The fingerprint's Salsa20 nonce (go-libp2p's choice; the spec defines no fingerprint).
const FINGERPRINT_NONCE: [u8; 8] = *b"finprint";
const FINGERPRINT_LEN: usize = 16;

/// A private network's 256-bit key. Wiped when dropped; `Debug` shows the fingerprint,
/// never the key.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct PreSharedKey([u8; KEY_LEN]);

impl PreSharedKey {
    /// The key from its 32 bytes.
    pub fn new(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// A new key from `rng`.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rng.fill_bytes(&mut bytes);
        let key = Self(bytes);
        bytes.zeroize();
        key
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Parses a key file: `/key/swarm/psk/1.0.0/`, a line naming the encoding (`/base16/`,
    /// `/base64/` or `/bin/`), then the key (for `/bin/`, the rest of the file is its 32
    /// bytes). Lines end in `\n` (or `\r\n`); whitespace after a text key is ignored.
    pub fn from_key_file(file: &[u8]) -> Result<Self, Error> {
        let bad = |reason| Error::InvalidKeyFile { reason };
        let (codec, rest) = split_line(file).ok_or(bad("no codec line"))?;
        if codec != CODEC.as_bytes() {
            return Err(bad("the first line is not /key/swarm/psk/1.0.0/"));
        }
        let (encoding, body) = split_line(rest).ok_or(bad("no encoding line"))?;
        let decoded = match encoding {
            b"/bin/" => zeroize::Zeroizing::new(body.to_vec()),
            b"/base16/" => {
                let text = trim(body);
                let mut hex = zeroize::Zeroizing::new(text.to_vec());
                hex.make_ascii_lowercase();
                zeroize::Zeroizing::new(
                    data_encoding::HEXLOWER
                        .decode(&hex)
                        .map_err(|_| bad("the key is not hexadecimal"))?,
                )
            }
            b"/base64/" => zeroize::Zeroizing::new(
                data_encoding::BASE64
                    .decode(trim(body))
                    .map_err(|_| bad("the key is not base64"))?,
            ),
            _ => return Err(bad("the encoding is not /base16/, /base64/ or /bin/")),
        };
        let bytes: [u8; KEY_LEN] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| Error::KeyLength { len: decoded.len() })?;
        Ok(Self(bytes))
    }

    /// The key file as go-libp2p and rust-libp2p write it (`/base16/`, lowercase hex).
    /// It holds the secret: write it where only its owner can read it.
    pub fn to_key_file(&self) -> zeroize::Zeroizing<String> {
        let hex = zeroize::Zeroizing::new(data_encoding::HEXLOWER.encode(&self.0));
        let mut file = zeroize::Zeroizing::new(String::with_capacity(96));
        file.push_str(CODEC);
        file.push('\n');
        file.push_str("/base16/\n");
        file.push_str(&hex);
        file.push('\n');
        file
    }

    /// The fingerprint go-libp2p and rust-libp2p print for a key (the spec defines none):
    /// 64 bytes of Salsa20 keystream under the key with the nonce `finprint`, hashed with
    /// SHAKE128 to 16 bytes. Shows whether two nodes hold the same key without showing it.
    pub fn fingerprint(&self) -> Fingerprint {
        let mut stream = zeroize::Zeroizing::new([0u8; 64]);
        let mut cipher = salsa20::Salsa20::new(&self.0.into(), &FINGERPRINT_NONCE.into());
        cipher.apply_keystream(&mut stream[..]);
        let mut shake = sha3::Shake128::default();
        shake.update(&stream[..]);
        let mut out = [0u8; FINGERPRINT_LEN];
        shake.finalize_xof().read(&mut out);
        Fingerprint(out)
    }
}

impl fmt::Debug for PreSharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreSharedKey")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

/// A key's fingerprint ([`PreSharedKey::fingerprint`]); `Display` is lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; FINGERPRINT_LEN]);

impl Fingerprint {
    /// The 16 bytes.
    pub fn as_bytes(&self) -> &[u8; FINGERPRINT_LEN] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// The first line (without its `\n` or `\r\n`) and what follows it.
fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    let line = bytes.get(..end)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, bytes.get(end + 1..).unwrap_or_default()))
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "a3f09c11e24b57d6083ac95e2d71b04f96e85cc30127fa9db4633e08c15f72ae";

    fn key() -> PreSharedKey {
        let file = alloc::format!("/key/swarm/psk/1.0.0/\n/base16/\n{HEX}\n");
        PreSharedKey::from_key_file(file.as_bytes()).unwrap()
    }

    #[test]
    fn the_key_file_round_trips_in_every_encoding() {
        let k = key();
        assert_eq!(
            PreSharedKey::from_key_file(k.to_key_file().as_bytes()),
            Ok(k.clone())
        );
        let upper = alloc::format!(
            "/key/swarm/psk/1.0.0/\r\n/base16/\r\n{}",
            HEX.to_uppercase()
        );
        assert_eq!(PreSharedKey::from_key_file(upper.as_bytes()), Ok(k.clone()));
        let b64 = data_encoding::BASE64.encode(k.as_bytes());
        let file = alloc::format!("/key/swarm/psk/1.0.0/\n/base64/\n{b64}\n");
        assert_eq!(PreSharedKey::from_key_file(file.as_bytes()), Ok(k.clone()));
        let mut bin = b"/key/swarm/psk/1.0.0/\n/bin/\n".to_vec();
        bin.extend_from_slice(k.as_bytes());
        assert_eq!(PreSharedKey::from_key_file(&bin), Ok(k));
    }

    #[test]
    fn bad_key_files_are_named() {
        let cases: [(&[u8], Error); 6] = [
            (
                b"",
                Error::InvalidKeyFile {
                    reason: "no codec line",
                },
            ),
            (
                b"/key/swarm/psk/2.0.0/\n/base16/\n00\n",
                Error::InvalidKeyFile {
                    reason: "the first line is not /key/swarm/psk/1.0.0/",
                },
            ),
            (
                b"/key/swarm/psk/1.0.0/\n",
                Error::InvalidKeyFile {
                    reason: "no encoding line",
                },
            ),
            (
                b"/key/swarm/psk/1.0.0/\n/base32/\nAA\n",
                Error::InvalidKeyFile {
                    reason: "the encoding is not /base16/, /base64/ or /bin/",
                },
            ),
            (
                b"/key/swarm/psk/1.0.0/\n/base16/\nzz\n",
                Error::InvalidKeyFile {
                    reason: "the key is not hexadecimal",
                },
            ),
            (
                b"/key/swarm/psk/1.0.0/\n/base16/\n0011\n",
                Error::KeyLength { len: 2 },
            ),
        ];
        for (file, want) in cases {
            assert_eq!(PreSharedKey::from_key_file(file), Err(want));
        }
    }

    #[test]
    fn debug_shows_the_fingerprint_not_the_key() {
        let shown = alloc::format!("{:?}", key());
        assert!(
            !shown.contains(HEX) && !shown.contains("a3f09c11"),
            "{shown}"
        );
        assert!(shown.contains(&alloc::format!("{}", key().fingerprint())));
    }
}
