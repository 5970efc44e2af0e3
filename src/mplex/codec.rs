//! Framing only: the flags, frame headers out, varints in (a byte at a time, so a frame
//! may arrive in any number of pieces).

use alloc::vec::Vec;

use super::{Error, StreamId, MAX_VARINT_LEN};

/// The low three bits of the header (spec "Flag Values"). "Receiver" and "Initiator" name
/// the sender's role on the stream: the stream's opener sends the `*Initiator` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flag {
    NewStream = 0,
    MessageReceiver = 1,
    MessageInitiator = 2,
    CloseReceiver = 3,
    CloseInitiator = 4,
    ResetReceiver = 5,
    ResetInitiator = 6,
}

/// What a frame does, whichever side sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Open,
    Data,
    Close,
    Reset,
}

impl Flag {
    pub(crate) fn from_bits(bits: u8) -> Result<Self, Error> {
        Ok(match bits {
            0 => Flag::NewStream,
            1 => Flag::MessageReceiver,
            2 => Flag::MessageInitiator,
            3 => Flag::CloseReceiver,
            4 => Flag::CloseInitiator,
            5 => Flag::ResetReceiver,
            6 => Flag::ResetInitiator,
            flag => return Err(Error::InvalidFlag { flag }),
        })
    }

    /// The flag we send for `kind` on `id`: the initiator flags on our own streams.
    pub(crate) fn outgoing(kind: Kind, id: StreamId) -> Self {
        match (kind, id.is_outbound()) {
            (Kind::Open, _) => Flag::NewStream,
            (Kind::Data, true) => Flag::MessageInitiator,
            (Kind::Data, false) => Flag::MessageReceiver,
            (Kind::Close, true) => Flag::CloseInitiator,
            (Kind::Close, false) => Flag::CloseReceiver,
            (Kind::Reset, true) => Flag::ResetInitiator,
            (Kind::Reset, false) => Flag::ResetReceiver,
        }
    }

    /// What a received frame with this flag and number does, and to which stream as we
    /// name it: the peer's `*Receiver` flags are about streams we opened.
    pub(crate) fn incoming(self, num: u64) -> (Kind, StreamId) {
        match self {
            Flag::NewStream => (Kind::Open, StreamId::inbound(num)),
            Flag::MessageReceiver => (Kind::Data, StreamId::outbound(num)),
            Flag::MessageInitiator => (Kind::Data, StreamId::inbound(num)),
            Flag::CloseReceiver => (Kind::Close, StreamId::outbound(num)),
            Flag::CloseInitiator => (Kind::Close, StreamId::inbound(num)),
            Flag::ResetReceiver => (Kind::Reset, StreamId::outbound(num)),
            Flag::ResetInitiator => (Kind::Reset, StreamId::inbound(num)),
        }
    }
}

/// Appends the header of a frame of `kind` on `id` with a payload of `len` bytes (the
/// caller appends the payload).
pub(crate) fn encode_header(kind: Kind, id: StreamId, len: usize, out: &mut Vec<u8>) {
    let header = (id.num() << 3) | Flag::outgoing(kind, id) as u64;
    let mut buf = unsigned_varint::encode::u64_buffer();
    out.extend_from_slice(unsigned_varint::encode::u64(header, &mut buf));
    let mut buf = unsigned_varint::encode::usize_buffer();
    out.extend_from_slice(unsigned_varint::encode::usize(len, &mut buf));
}

/// A varint being read a byte at a time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Varint {
    value: u64,
    len: usize,
}

impl Varint {
    /// Takes one byte; `Some(value)` once the varint is complete.
    ///
    /// Refuses a tenth byte ([`Error::VarintOverflow`]) and a final zero group after the
    /// first byte ([`Error::NonMinimalVarint`]: unsigned-varint requires the minimal
    /// encoding, and rust-libp2p's decoder refuses the others too).
    pub(crate) fn push(&mut self, byte: u8) -> Result<Option<u64>, Error> {
        if self.len >= MAX_VARINT_LEN {
            return Err(Error::VarintOverflow {
                max_bytes: MAX_VARINT_LEN,
            });
        }
        // len < 9, so the shift is at most 56 and the group fits the 63 bits
        self.value |= u64::from(byte & 0x7f) << (7 * self.len);
        self.len += 1;
        if byte & 0x80 != 0 {
            return Ok(None);
        }
        if byte == 0 && self.len > 1 {
            return Err(Error::NonMinimalVarint);
        }
        Ok(Some(self.value))
    }

    /// Whether no byte of it has arrived yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Result<Option<u64>, Error> {
        let mut v = Varint::default();
        let mut last = Ok(None);
        for &b in bytes {
            last = v.push(b);
            if !matches!(last, Ok(None)) {
                break;
            }
        }
        last
    }

    #[test]
    fn varints() {
        assert_eq!(decode(&[0]), Ok(Some(0)));
        assert_eq!(decode(&[0x7f]), Ok(Some(127)));
        assert_eq!(decode(&[0x80, 0x01]), Ok(Some(128)));
        assert_eq!(decode(&[0x80, 0x80, 0x40]), Ok(Some(1 << 20)));
        assert_eq!(decode(&[0x80]), Ok(None));
        assert_eq!(decode(&[0x80, 0x00]), Err(Error::NonMinimalVarint));
        let mut nine = [0xffu8; 9];
        nine[8] = 0x7f;
        assert_eq!(decode(&nine), Ok(Some((1 << 63) - 1)));
        assert_eq!(
            decode(&[0xff; 10]),
            Err(Error::VarintOverflow { max_bytes: 9 })
        );
    }

    #[test]
    fn flags_mirror_each_other() {
        for kind in [Kind::Open, Kind::Data, Kind::Close, Kind::Reset] {
            for ours in [StreamId::outbound(7), StreamId::inbound(7)] {
                let flag = Flag::outgoing(kind, ours);
                let (k, theirs) = flag.incoming(7);
                assert_eq!(k, kind);
                if kind != Kind::Open {
                    // the peer names our stream with the other direction
                    assert_eq!(theirs.is_outbound(), !ours.is_outbound());
                }
            }
        }
        assert_eq!(Flag::from_bits(7), Err(Error::InvalidFlag { flag: 7 }));
    }

    #[test]
    fn header_encoding_matches_the_spec_layout() {
        let mut out = Vec::new();
        encode_header(Kind::Data, StreamId::outbound(3), 5, &mut out);
        assert_eq!(out, [3 << 3 | 2, 5]);
        out.clear();
        encode_header(Kind::Reset, StreamId::inbound(17), 0, &mut out);
        // (17 << 3) | 5 = 141 = 0x8d: two varint bytes
        assert_eq!(out, [0x8d, 0x01, 0]);
        out.clear();
        encode_header(
            Kind::Close,
            StreamId::outbound(super::super::MAX_STREAM_NUM),
            0,
            &mut out,
        );
        assert!(out.len() <= 2 * MAX_VARINT_LEN);
        let mut v = Varint::default();
        let header = out.iter().find_map(|&b| v.push(b).unwrap());
        assert_eq!(header, Some((super::super::MAX_STREAM_NUM << 3) | 4));
    }
}
