//! The listener (responder) side: answers proposals until it can echo one.

use alloc::{boxed::Box, string::String, vec::Vec};

use super::{
    codec::{self, Message},
    error::truncated,
    local_protocols, Error, Event, Fault, MAX_REJECTED_PROPOSALS,
};

/// The multistream-select listener: answers each proposal with its echo (and stops) or `na`.
///
/// # Call contract
/// 1. [`Listener::new`] queues the header at once (as go-multistream does, rather than after
///    the dialer's header as rust-libp2p does), so a driver can send it before reading.
/// 2. Loop until [`Listener::is_done`]:
///    - [`Listener::poll_transmit`], and send what it appended;
///    - [`Listener::poll_event`] until `None`;
///    - append the peer's new bytes to the unconsumed ones and call
///      [`Listener::handle_input`] with all of them; drop the consumed prefix.
/// 3. On [`Event::Negotiated`] send the final transmit (the echo); every unconsumed byte
///    belongs to the next layer. A [`Version::V1Lazy`](super::Version::V1Lazy) dialer's first
///    application bytes often arrive in the same read as its proposal: they are left
///    untouched.
///
/// Answers `ls` with its protocol list (as rust-libp2p does; go-multistream answers `na`).
/// Gives up after [`MAX_REJECTED_PROPOSALS`] answers without agreement.
///
/// After an error the listener is poisoned: `handle_input` returns the same error and
/// `poll_event` returns `None`. `poll_transmit` still hands out what was queued *before* the
/// failing message (the answers to the messages that preceded it: a V1Lazy dialer learns of
/// its rejection only from that `na`), plus, for [`Error::TooManyProposals`], one final
/// `na`; then nothing. The dialer closing the stream is the driver's to report (rust-libp2p
/// counts it as a failed negotiation).
#[derive(Debug)]
pub struct Listener {
    /// The supported protocols.
    protocols: Vec<String>,
    /// The encoded `ls` reply, computed once.
    ls_reply: Vec<u8>,
    /// Whether the dialer's header has arrived.
    header_received: bool,
    /// Answers sent without agreement (`na` and `ls` replies).
    unaccepted: usize,
    /// The proposal just answered with `na`, until the next message is understood: garbage
    /// in that spot is a V1Lazy dialer's data.
    just_rejected: Option<String>,
    state: State,
    /// Bytes for `poll_transmit`.
    out: Vec<u8>,
    event: Option<Event>,
}

#[derive(Debug)]
enum State {
    Negotiating,
    /// `protocols[index]` was echoed.
    Negotiated(usize),
    Failed(Error),
}

impl Listener {
    /// A listener that accepts any of `protocols`.
    ///
    /// Errors with [`Error::NoProtocols`] on an empty list and
    /// [`Error::InvalidLocalProtocol`] on an id that fails
    /// [`validate_protocol`](super::validate_protocol).
    pub fn new<I, S>(protocols: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let protocols = local_protocols(protocols)?;
        let mut ls_reply = Vec::new();
        codec::encode(&codec::ls_reply_fitting(&protocols), &mut ls_reply);
        let mut out = Vec::new();
        codec::encode(&Message::Header, &mut out);
        Ok(Listener {
            protocols,
            ls_reply,
            header_received: false,
            unaccepted: 0,
            just_rejected: None,
            state: State::Negotiating,
            out,
            event: None,
        })
    }

    /// Bytes from the dialer. Consumes whole messages only, never past the proposal it
    /// accepts, and returns how many bytes it took; an incomplete message stays in the
    /// caller's buffer (call again with more bytes appended).
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        match &self.state {
            State::Failed(e) => return Err(e.clone()),
            State::Negotiated(_) => return Ok(0),
            State::Negotiating => {}
        }
        let mut consumed = 0;
        while let State::Negotiating = self.state {
            let rest = bytes.get(consumed..).unwrap_or_default();
            let step = match codec::decode(rest) {
                Ok(None) => break,
                Ok(Some((msg, used))) => self.on_message(msg).map(|()| used),
                Err(e) => Err(e),
            };
            match step {
                Ok(used) => consumed += used,
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(consumed)
    }

    /// Appends what must go to the dialer now; returns how many bytes it appended.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.out.len();
        out.append(&mut self.out);
        n
    }

    /// The bytes [`Listener::poll_transmit`] would append now.
    pub fn pending_transmit(&self) -> usize {
        self.out.len()
    }

    /// [`Listener::poll_transmit`] into the start of `buf`; returns the length. If it does
    /// not fit, nothing is taken and `buf` is untouched: the error says how large it
    /// must be.
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        crate::machine::take_into(&mut self.out, buf)
    }

    /// The next [`Event`], if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.event.take()
    }

    /// The agreed protocol, once [`Event::Negotiated`] has happened.
    pub fn negotiated(&self) -> Option<&str> {
        match self.state {
            State::Negotiated(i) => self.protocols.get(i).map(String::as_str),
            _ => None,
        }
    }

    /// Whether the negotiation is over, agreed or failed: the listener will consume no more
    /// input. Output and events already queued are still returned by the polls.
    pub fn is_done(&self) -> bool {
        !matches!(self.state, State::Negotiating)
    }

    fn on_message(&mut self, msg: Message<'_>) -> Result<(), Error> {
        if !self.header_received {
            // The spec: if the first message is not the header, abort.
            return match msg {
                Message::Header => {
                    self.header_received = true;
                    Ok(())
                }
                other => Err(Error::MissingHeader {
                    got: other.describe(),
                }),
            };
        }
        match msg {
            Message::Protocol(p) => {
                if let Some(i) = self.protocols.iter().position(|ours| ours == p) {
                    codec::encode(&Message::Protocol(p), &mut self.out);
                    self.state = State::Negotiated(i);
                    let protocol = String::from(p);
                    self.event = Some(Event::Negotiated { protocol });
                    return Ok(());
                }
                self.count_unaccepted()?;
                codec::encode(&Message::Na, &mut self.out);
                self.just_rejected = Some(truncated(p));
                Ok(())
            }
            Message::Ls => {
                self.count_unaccepted()?;
                self.out.extend_from_slice(&self.ls_reply);
                self.just_rejected = None;
                Ok(())
            }
            // rust-libp2p also refuses a second header; go would take it as a proposal and
            // answer `na`, which is how nested lazy negotiations get misread (go-multistream
            // issue #20).
            Message::Header => Err(Error::DuplicateHeader),
            other => Err(Error::UnexpectedMessage {
                expected: "a protocol proposal or ls",
                got: other.describe(),
            }),
        }
    }

    /// Counts one more answer without agreement; past the limit, queues the final `na` and
    /// fails.
    fn count_unaccepted(&mut self) -> Result<(), Error> {
        if self.unaccepted >= MAX_REJECTED_PROPOSALS {
            codec::encode(&Message::Na, &mut self.out);
            return Err(Error::TooManyProposals {
                max: MAX_REJECTED_PROPOSALS,
            });
        }
        self.unaccepted += 1;
        Ok(())
    }

    /// Poisons the listener. Right after an `na`, bytes that are not a (fitting) multistream
    /// message are most likely a V1Lazy dialer's application data: report the failed
    /// negotiation, as rust-libp2p does, instead of a protocol violation.
    fn fail(&mut self, e: Error) -> Error {
        let e = match self.just_rejected.take() {
            Some(rejected)
                if matches!(e.fault(), Fault::InvalidMessage | Fault::PeerMisbehaved)
                    && !matches!(e, Error::TooManyProposals { .. }) =>
            {
                Error::DataAfterRejection {
                    rejected,
                    cause: Box::new(e),
                }
            }
            _ => e,
        };
        self.event = None;
        self.state = State::Failed(e.clone());
        e
    }
}

impl crate::Machine for Listener {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        Listener::handle_input(self, bytes)
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        Listener::poll_transmit(self, out)
    }

    fn pending_transmit(&mut self) -> usize {
        Listener::pending_transmit(self)
    }

    fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        Listener::poll_transmit_into(self, buf)
    }

    fn poll_event(&mut self) -> Option<Event> {
        Listener::poll_event(self)
    }

    /// Agreed on a protocol (not merely done: [`Listener::is_done`] is also true after a
    /// failure).
    fn is_complete(&self) -> bool {
        self.negotiated().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::multistream::{ProtocolIdError, MAX_MESSAGE_LEN};
    use alloc::{string::ToString, vec};

    fn msgs(list: &[Message<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in list {
            codec::encode(m, &mut out);
        }
        out
    }

    fn transmit(l: &mut Listener) -> Vec<u8> {
        let mut out = Vec::new();
        let n = l.poll_transmit(&mut out);
        assert_eq!(n, out.len());
        out
    }

    fn listener() -> Listener {
        let mut l = Listener::new(["/a", "/b"]).unwrap();
        assert_eq!(transmit(&mut l), msgs(&[Message::Header]));
        l
    }

    fn assert_poisoned(l: &mut Listener, e: &Error) {
        assert!(l.is_done());
        assert_eq!(l.negotiated(), None);
        assert_eq!(l.handle_input(b"").as_ref(), Err(e));
        assert_eq!(
            l.handle_input(&msgs(&[Message::Protocol("/a")])).as_ref(),
            Err(e)
        );
        let _ = transmit(l); // what was queued before the error
        assert_eq!(transmit(l), b"");
        assert_eq!(l.poll_event(), None);
    }

    fn fails_with(input: &[u8], expected: Error) {
        let mut l = listener();
        let e = l.handle_input(input).unwrap_err();
        assert_eq!(e, expected);
        assert_poisoned(&mut l, &e);
    }

    fn with_header(tail: &[u8]) -> Vec<u8> {
        let mut v = msgs(&[Message::Header]);
        v.extend_from_slice(tail);
        v
    }

    #[test]
    fn header_is_queued_at_construction() {
        let mut l = Listener::new(["/a"]).unwrap();
        assert_eq!(transmit(&mut l), msgs(&[Message::Header]));
        assert_eq!(transmit(&mut l), b"");
    }

    #[test]
    fn accepts_and_stops_consuming() {
        let mut l = listener();
        let mut input = msgs(&[Message::Header, Message::Protocol("/b")]);
        let used = input.len();
        input.extend_from_slice(&msgs(&[Message::Protocol("/a")])); // the next layer's
        assert_eq!(l.handle_input(&input), Ok(used));
        assert_eq!(transmit(&mut l), msgs(&[Message::Protocol("/b")]));
        assert_eq!(
            l.poll_event(),
            Some(Event::Negotiated {
                protocol: "/b".to_string()
            })
        );
        assert_eq!(l.negotiated(), Some("/b"));
        assert!(l.is_done());
        assert_eq!(l.handle_input(&input[used..]), Ok(0));
    }

    #[test]
    fn rejects_then_accepts() {
        let mut l = listener();
        let input = msgs(&[
            Message::Header,
            Message::Protocol("/x"),
            Message::Protocol("/libp2p/simultaneous-connect"),
            Message::Protocol("/a"),
        ]);
        assert_eq!(l.handle_input(&input), Ok(input.len()));
        assert_eq!(
            transmit(&mut l),
            msgs(&[Message::Na, Message::Na, Message::Protocol("/a")])
        );
    }

    #[test]
    fn answers_ls() {
        let mut l = listener();
        let input = msgs(&[Message::Header, Message::Ls]);
        assert_eq!(l.handle_input(&input), Ok(input.len()));
        assert_eq!(
            transmit(&mut l),
            msgs(&[Message::LsReply(vec!["/a", "/b"])])
        );
        assert!(!l.is_done());
    }

    #[test]
    fn partial_message_is_left() {
        let mut l = listener();
        let input = msgs(&[Message::Header, Message::Protocol("/a")]);
        assert_eq!(l.handle_input(&input[..1]), Ok(0));
        assert_eq!(l.handle_input(&input[..input.len() - 1]), Ok(20));
        assert_eq!(l.handle_input(&input[20..]), Ok(input.len() - 20));
        assert_eq!(l.negotiated(), Some("/a"));
    }

    #[test]
    fn too_many_proposals() {
        let mut l = listener();
        let mut input = msgs(&[Message::Header]);
        for i in 0..MAX_REJECTED_PROPOSALS {
            let id = alloc::format!("/x/{i}");
            codec::encode(&Message::Protocol(&id), &mut input);
        }
        assert_eq!(l.handle_input(&input), Ok(input.len()));
        let e = l.handle_input(&msgs(&[Message::Ls])).unwrap_err();
        assert_eq!(
            e,
            Error::TooManyProposals {
                max: MAX_REJECTED_PROPOSALS
            }
        );
        // Every answer, then one final na.
        let mut expected = Vec::new();
        for _ in 0..=MAX_REJECTED_PROPOSALS {
            codec::encode(&Message::Na, &mut expected);
        }
        assert_eq!(transmit(&mut l), expected);
        assert_poisoned(&mut l, &e);
    }

    #[test]
    fn a_supported_proposal_is_accepted_at_the_limit() {
        let mut l = listener();
        let mut input = msgs(&[Message::Header]);
        for _ in 0..MAX_REJECTED_PROPOSALS {
            codec::encode(&Message::Protocol("/x"), &mut input);
        }
        codec::encode(&Message::Protocol("/a"), &mut input);
        assert_eq!(l.handle_input(&input), Ok(input.len()));
        assert_eq!(l.negotiated(), Some("/a"));
    }

    #[test]
    fn lazy_dialer_data_after_na_is_a_failed_negotiation() {
        // Header, a rejected proposal, then a Noise XX first message (2-byte big-endian length,
        // so it starts with 0x00) in the same flight.
        let mut input = msgs(&[Message::Header, Message::Protocol("/x")]);
        input.extend_from_slice(&[0x00, 0x20, 1, 2, 3]);
        let mut l = listener();
        let e = l.handle_input(&input).unwrap_err();
        assert_eq!(
            e,
            Error::DataAfterRejection {
                rejected: "/x".to_string(),
                cause: Box::new(Error::EmptyMessage),
            }
        );
        assert_eq!(e.fault(), Fault::PeerIncompatible);
        // The na that tells the dialer is still sent.
        assert_eq!(transmit(&mut l), msgs(&[Message::Na]));
        assert_poisoned(&mut l, &e);

        // Nested lazy negotiation: the inner header right after the na.
        let mut l = listener();
        let input = msgs(&[
            Message::Header,
            Message::Protocol("/x"),
            Message::Header,
            Message::Protocol("/a"),
        ]);
        assert_eq!(
            l.handle_input(&input),
            Err(Error::DataAfterRejection {
                rejected: "/x".to_string(),
                cause: Box::new(Error::DuplicateHeader),
            })
        );
        assert_eq!(l.negotiated(), None);
    }

    #[test]
    fn constructor_errors() {
        assert_eq!(
            Listener::new(Vec::<String>::new()).unwrap_err(),
            Error::NoProtocols
        );
        assert_eq!(
            Listener::new(["/a", "/multistream/1.0.0"]).unwrap_err(),
            Error::InvalidLocalProtocol {
                protocol: "/multistream/1.0.0".to_string(),
                reason: ProtocolIdError::Reserved
            }
        );
    }

    #[test]
    fn wrong_header() {
        fails_with(
            &msgs(&[Message::Protocol("/a")]),
            Error::MissingHeader {
                got: "protocol \"/a\"".to_string(),
            },
        );
        fails_with(
            &msgs(&[Message::Ls]),
            Error::MissingHeader {
                got: "ls".to_string(),
            },
        );
    }

    #[test]
    fn second_header() {
        fails_with(
            &msgs(&[Message::Header, Message::Header]),
            Error::DuplicateHeader,
        );
    }

    #[test]
    fn unexpected_message() {
        fails_with(
            &msgs(&[Message::Header, Message::Na]),
            Error::UnexpectedMessage {
                expected: "a protocol proposal or ls",
                got: "na".to_string(),
            },
        );
        fails_with(
            &msgs(&[Message::Header, Message::LsReply(vec!["/a"])]),
            Error::UnexpectedMessage {
                expected: "a protocol proposal or ls",
                got: "an ls reply of 1 ids".to_string(),
            },
        );
    }

    #[test]
    fn malformed_input_classes() {
        fails_with(
            &with_header(&[0xff, 0xff]),
            Error::LengthPrefixTooLong { max_bytes: 2 },
        );
        fails_with(
            &with_header(&[0x81, 0x08]),
            Error::MessageTooLong {
                len: 1025,
                max: MAX_MESSAGE_LEN,
            },
        );
        fails_with(&with_header(&[0x00]), Error::EmptyMessage);
        fails_with(&with_header(b"\x02/a"), Error::MissingNewline);
        fails_with(&with_header(b"\x03/\xff\n"), Error::NotUtf8);
        fails_with(
            &with_header(b"\x02a\n"),
            Error::InvalidProtocol {
                got: "a".to_string(),
                reason: ProtocolIdError::NoLeadingSlash,
            },
        );
        fails_with(&with_header(&[0x83, 0x00]), Error::NonMinimalLengthPrefix);
        fails_with(&with_header(b"\x04ab\n\n"), Error::InvalidLsReply);
        fails_with(&[0x80, 0x80], Error::LengthPrefixTooLong { max_bytes: 2 });
    }
}
