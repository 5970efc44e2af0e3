//! The little DER the TLS layer reads and writes itself (X.690 §10, distinguished
//! encoding): a strict reader for the structures whose exact bytes a signature check needs
//! (the certificate's `tbsCertificate`, algorithm identifiers and signature, the
//! SubjectPublicKeyInfo, the libp2p `SignedKey`), the matching writer, and the PKCS#8
//! wrapping of the certificate key (RFC 5208, RFC 5915).
//!
//! The reader takes definite, minimal lengths of at most three octets (certificates are
//! capped at 64 KiB) and single-octet tags; anything else is an error naming the rule.
//! Everything else of X.509 is x509-parser's (`certificate.rs`).
//!
//! This file uses no other file of the TLS layer, so every room above it (the crypto
//! backend's callers, the certificate, its key) may use it.

use alloc::vec::Vec;

use zeroize::Zeroizing;

pub(super) const INTEGER: u8 = 0x02;
pub(super) const BIT_STRING: u8 = 0x03;
pub(super) const OCTET_STRING: u8 = 0x04;
pub(super) const SEQUENCE: u8 = 0x30;
/// `[0]` constructed: the certificate's version.
pub(super) const CONTEXT_0: u8 = 0xa0;
/// `[1]` constructed: an `ECPrivateKey`'s public key.
pub(super) const CONTEXT_1: u8 = 0xa1;

/// Reads DER elements one after another from a byte slice.
pub(super) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(super) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The contents of the next element, which must have tag `tag`.
    pub(super) fn read(&mut self, tag: u8) -> Result<&'a [u8], &'static str> {
        self.read_with_header(tag).map(|(content, _)| content)
    }

    /// The contents of the next element and its whole encoding (tag, length, contents).
    pub(super) fn read_with_header(
        &mut self,
        tag: u8,
    ) -> Result<(&'a [u8], &'a [u8]), &'static str> {
        let whole = self.rest;
        let (&found, rest) = whole.split_first().ok_or("truncated: tag")?;
        if found != tag {
            return Err("unexpected tag");
        }
        let (&first, mut rest) = rest.split_first().ok_or("truncated: length")?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 {
                return Err("indefinite length");
            }
            if n > 3 {
                return Err("length too large");
            }
            let (octets, after) = rest.split_at_checked(n).ok_or("truncated: length")?;
            rest = after;
            if octets.first() == Some(&0) {
                return Err("non-minimal length");
            }
            let len = octets
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if len < 0x80 {
                return Err("non-minimal length");
            }
            len
        };
        let (content, after) = rest.split_at_checked(len).ok_or("truncated: contents")?;
        let header_and_content = whole.len() - after.len();
        self.rest = after;
        Ok((content, whole.get(..header_and_content).unwrap_or(whole)))
    }
}

/// The bytes of a BIT STRING's contents, which must have no unused bits.
pub(super) fn bit_string_bytes(content: &[u8]) -> Result<&[u8], &'static str> {
    match content.split_first() {
        Some((0, bytes)) => Ok(bytes),
        Some(_) => Err("bit string with unused bits"),
        None => Err("empty bit string"),
    }
}

/// Appends `tag`, the minimal DER length and `content`.
pub(super) fn write(tag: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let octets = len.to_be_bytes();
        let skip = octets.iter().take_while(|&&b| b == 0).count();
        let significant = octets.get(skip..).unwrap_or(&[]);
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
}

/// PKCS#8 v1 (RFC 5208) around an RFC 5915 `ECPrivateKey` for P-256 (curve in the
/// PKCS#8 algorithm, not repeated in the `ECPrivateKey`), with the public key (an
/// uncompressed SEC1 point) if given. Every buffer holding the scalar is allocated at its
/// final size and wiped on drop.
pub(super) fn pkcs8_p256(secret: &[u8; 32], point: Option<&[u8]>) -> Zeroizing<Vec<u8>> {
    let mut public_key = Vec::new();
    if let Some(point) = point {
        let mut bits = Vec::with_capacity(point.len() + 4);
        write(BIT_STRING, &[&[0][..], point].concat(), &mut bits);
        write(CONTEXT_1, &bits, &mut public_key);
    }
    let mut fields = Zeroizing::new(Vec::with_capacity(public_key.len() + 40));
    write(INTEGER, &[1], &mut fields);
    write(OCTET_STRING, &secret[..], &mut fields);
    fields.extend_from_slice(&public_key);
    let mut ec_private_key = Zeroizing::new(Vec::with_capacity(fields.len() + 4));
    write(SEQUENCE, &fields, &mut ec_private_key);

    let mut info = Zeroizing::new(Vec::with_capacity(ec_private_key.len() + 40));
    write(INTEGER, &[0], &mut info);
    info.extend_from_slice(PKCS8_P256_ALGORITHM);
    write(OCTET_STRING, &ec_private_key, &mut info);
    let mut out = Zeroizing::new(Vec::with_capacity(info.len() + 4));
    write(SEQUENCE, &info, &mut out);
    out
}

/// `AlgorithmIdentifier { id-ecPublicKey, prime256v1 }`, DER (RFC 5480 §2.1.1).
const PKCS8_P256_ALGORITHM: &[u8] = &[
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x03, 0x01, 0x07,
];

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;

    #[test]
    fn der_reader_rejects_non_der_lengths() {
        let cases: [(&[u8], &str); 6] = [
            (&[0x04, 0x80, 0x00, 0x00], "indefinite length"),
            (&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5], "non-minimal length"),
            (&[0x04, 0x82, 0x00, 0x80], "non-minimal length"),
            (&[0x04, 0x84, 0x01, 0x00, 0x00, 0x00], "length too large"),
            (&[0x04, 0x03, 0x01], "truncated: contents"),
            (&[0x04], "truncated: length"),
        ];
        for (bytes, reason) in cases {
            assert_eq!(Reader::new(bytes).read(OCTET_STRING), Err(reason));
        }
        assert_eq!(Reader::new(&[]).read(0x04), Err("truncated: tag"));
        assert_eq!(Reader::new(&[0x02, 0x00]).read(0x04), Err("unexpected tag"));
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend_from_slice(&[1; 0x80]);
        let mut r = Reader::new(&long);
        let (content, whole) = r.read_with_header(0x04).unwrap();
        assert_eq!((content.len(), whole.len()), (0x80, 0x83));
        assert!(r.is_empty());
        let mut written = Vec::new();
        write(0x04, &[1; 0x80], &mut written);
        assert_eq!(written, long);
        assert_eq!(
            bit_string_bytes(&[1, 0xff]),
            Err("bit string with unused bits")
        );
    }
}
