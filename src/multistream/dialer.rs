//! The dialer (initiator) side: proposes protocols until one is echoed.

use alloc::{collections::VecDeque, string::String, vec::Vec};

use super::{
    codec::{self, Message},
    local_protocols, Error, Event, Version,
};

/// The multistream-select dialer: proposes its protocols in order until the listener echoes
/// one.
///
/// # Call contract
/// 1. [`Dialer::new`] queues the header and the first proposal (pipelined, one flight).
/// 2. Loop until [`Dialer::is_done`]:
///    - [`Dialer::poll_transmit`], and send what it appended;
///    - [`Dialer::poll_event`] until `None`;
///    - append the peer's new bytes to the unconsumed ones and call
///      [`Dialer::handle_input`] with all of them; drop the consumed prefix.
/// 3. On [`Event::Negotiated`] every unconsumed byte belongs to the next layer.
///
/// With [`Version::V1Lazy`], [`Event::Optimistic`] comes together with the proposal of the
/// last candidate: after sending that transmit the caller may send the next layer's bytes,
/// but it must keep feeding inbound bytes to the dialer until `Negotiated`, because the
/// listener's header and echo arrive in front of the next layer's bytes and the dialer strips
/// them. A rejection then fails with [`Error::NoProtocolAgreed`].
///
/// After an error the dialer is poisoned: `handle_input` returns the same error,
/// `poll_transmit` appends nothing, `poll_event` returns `None`. The peer closing the stream
/// before agreement is the driver's to report (there is no EOF verb).
#[derive(Debug)]
pub struct Dialer {
    version: Version,
    /// The candidates, in order of preference.
    protocols: Vec<String>,
    /// Index of the proposal awaiting its answer.
    current: usize,
    /// Whether the listener's header has arrived.
    header_received: bool,
    state: State,
    /// Bytes for `poll_transmit`.
    out: Vec<u8>,
    /// At most two: `Optimistic` then `Negotiated`.
    events: VecDeque<Event>,
}

#[derive(Debug)]
enum State {
    /// Waiting for the header and the answer to `ls` ([`Dialer::listing_first`]).
    Listing,
    /// Waiting for the header and the answer to `protocols[current]`.
    Awaiting,
    /// `protocols[current]` was echoed.
    Negotiated,
    /// Poisoned.
    Failed(Error),
}

impl Dialer {
    /// A dialer that proposes `protocols` in order.
    ///
    /// Errors with [`Error::NoProtocols`] on an empty list and
    /// [`Error::InvalidLocalProtocol`] on an id that fails
    /// [`validate_protocol`](super::validate_protocol).
    pub fn new<I, S>(protocols: I, version: Version) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut dialer = Dialer {
            version,
            protocols: local_protocols(protocols)?,
            current: 0,
            header_received: false,
            state: State::Awaiting,
            out: Vec::new(),
            events: VecDeque::new(),
        };
        codec::encode(&Message::Header, &mut dialer.out);
        dialer.propose();
        Ok(dialer)
    }

    /// A dialer that first asks the listener for its protocols (`ls`), then proposes the
    /// first of `protocols` the listener listed, alone ([`Version::V1Lazy`]: optimistically,
    /// so the next layer's bytes go with it). One round trip however many candidates the
    /// listener refuses, where proposing in turn costs one per refusal: worth it for three
    /// candidates or more. A listener that answers `ls` with `na` (it does not list) gets
    /// the proposals in turn instead; one listing none of `protocols` ends the
    /// negotiation with [`Error::NoProtocolAgreed`].
    pub fn listing_first<I, S>(protocols: I, version: Version) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut dialer = Dialer {
            version,
            protocols: local_protocols(protocols)?,
            current: 0,
            header_received: false,
            state: State::Listing,
            out: Vec::new(),
            events: VecDeque::new(),
        };
        codec::encode(&Message::Header, &mut dialer.out);
        codec::encode(&Message::Ls, &mut dialer.out);
        Ok(dialer)
    }

    /// Bytes from the listener. Consumes whole messages only, never past the echo that ends
    /// the negotiation, and returns how many bytes it took; an incomplete message stays in the
    /// caller's buffer (call again with more bytes appended).
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        match &self.state {
            State::Failed(e) => return Err(e.clone()),
            State::Negotiated => return Ok(0),
            State::Awaiting | State::Listing => {}
        }
        let mut consumed = 0;
        while let State::Awaiting | State::Listing = self.state {
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

    /// Appends what must go to the listener now; returns how many bytes it appended.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.out.len();
        out.append(&mut self.out);
        n
    }

    /// The bytes [`Dialer::poll_transmit`] would append now.
    pub fn pending_transmit(&self) -> usize {
        self.out.len()
    }

    /// [`Dialer::poll_transmit`] into the start of `buf`; returns the length. If it does
    /// not fit, nothing is taken and `buf` is untouched: the error says how large it
    /// must be.
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        crate::machine::take_into(&mut self.out, buf)
    }

    /// The next [`Event`], if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The agreed protocol, once [`Event::Negotiated`] has happened.
    pub fn negotiated(&self) -> Option<&str> {
        match self.state {
            State::Negotiated => Some(self.current_protocol()),
            _ => None,
        }
    }

    /// Whether the negotiation is over, agreed or failed: the dialer will consume no more
    /// input. Output and events already queued are still returned by the polls.
    pub fn is_done(&self) -> bool {
        !matches!(self.state, State::Awaiting | State::Listing)
    }

    fn current_protocol(&self) -> &str {
        self.protocols.get(self.current).map_or("", String::as_str)
    }

    /// Queues the proposal of `protocols[current]`; in lazy mode, settles if it is the last.
    fn propose(&mut self) {
        let protocol = self.protocols.get(self.current).map_or("", String::as_str);
        codec::encode(&Message::Protocol(protocol), &mut self.out);
        let is_last = self.current + 1 >= self.protocols.len();
        if self.version == Version::V1Lazy && is_last {
            let protocol = String::from(protocol);
            self.events.push_back(Event::Optimistic { protocol });
        }
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
        if let State::Listing = self.state {
            return self.on_listing(msg);
        }
        match msg {
            Message::Protocol(p) if p == self.current_protocol() => {
                self.state = State::Negotiated;
                let protocol = String::from(p);
                self.events.push_back(Event::Negotiated { protocol });
                Ok(())
            }
            Message::Na if self.current + 1 < self.protocols.len() => {
                self.current += 1;
                self.propose();
                Ok(())
            }
            Message::Na => Err(Error::NoProtocolAgreed {
                tried: self.protocols.clone(),
            }),
            Message::Header => Err(Error::DuplicateHeader),
            other => Err(Error::UnexpectedMessage {
                expected: "the echo of the proposal or na",
                got: other.describe(),
            }),
        }
    }

    /// The answer to `ls`: propose the first listed candidate alone, or, after `na`, all
    /// of them in turn.
    fn on_listing(&mut self, msg: Message<'_>) -> Result<(), Error> {
        match msg {
            Message::LsReply(listed) => {
                let Some(pick) = self.protocols.iter().find(|p| listed.contains(&p.as_str()))
                else {
                    return Err(Error::NoProtocolAgreed {
                        tried: self.protocols.clone(),
                    });
                };
                self.protocols = alloc::vec![pick.clone()];
            }
            Message::Na => {}
            Message::Header => return Err(Error::DuplicateHeader),
            other => {
                return Err(Error::UnexpectedMessage {
                    expected: "the answer to ls",
                    got: other.describe(),
                })
            }
        }
        self.state = State::Awaiting;
        self.propose();
        Ok(())
    }

    /// Poisons the dialer: a failed dialer has nothing left to say.
    fn fail(&mut self, e: Error) -> Error {
        self.out.clear();
        self.events.clear();
        self.state = State::Failed(e.clone());
        e
    }
}

impl crate::Machine for Dialer {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        Dialer::handle_input(self, bytes)
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        Dialer::poll_transmit(self, out)
    }

    fn pending_transmit(&mut self) -> usize {
        Dialer::pending_transmit(self)
    }

    fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<usize, crate::InsufficientSize> {
        Dialer::poll_transmit_into(self, buf)
    }

    fn poll_event(&mut self) -> Option<Event> {
        Dialer::poll_event(self)
    }

    /// Agreed on a protocol (not merely done: [`Dialer::is_done`] is also true after a
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

    fn transmit(d: &mut Dialer) -> Vec<u8> {
        let mut out = Vec::new();
        let n = d.poll_transmit(&mut out);
        assert_eq!(n, out.len());
        out
    }

    /// The poisoning contract, checked after every error.
    fn assert_poisoned(d: &mut Dialer, e: &Error) {
        assert!(d.is_done());
        assert_eq!(d.negotiated(), None);
        assert_eq!(d.handle_input(b"").as_ref(), Err(e));
        assert_eq!(d.handle_input(&msgs(&[Message::Header])).as_ref(), Err(e));
        assert_eq!(transmit(d), b"");
        assert_eq!(d.poll_event(), None);
    }

    fn fails_with(input: &[u8], expected: Error) {
        let mut d = Dialer::new(["/a", "/b"], Version::V1).unwrap();
        let _ = transmit(&mut d);
        let e = d.handle_input(input).unwrap_err();
        assert_eq!(e, expected);
        assert_poisoned(&mut d, &e);
    }

    #[test]
    fn listing_first_proposes_the_first_listed_alone() {
        let mut d = Dialer::listing_first(["/a", "/b", "/c"], Version::V1Lazy).unwrap();
        assert_eq!(transmit(&mut d), msgs(&[Message::Header, Message::Ls]));
        let reply = msgs(&[Message::Header, Message::LsReply(vec!["/x", "/c", "/b"])]);
        assert_eq!(d.handle_input(&reply), Ok(reply.len()));
        // ours is the order: /b before /c; alone, so lazily
        assert_eq!(transmit(&mut d), msgs(&[Message::Protocol("/b")]));
        assert_eq!(
            d.poll_event(),
            Some(Event::Optimistic {
                protocol: "/b".to_string()
            })
        );
        let echo = msgs(&[Message::Protocol("/b")]);
        assert_eq!(d.handle_input(&echo), Ok(echo.len()));
        assert_eq!(d.negotiated(), Some("/b"));
    }

    #[test]
    fn listing_first_falls_back_to_proposals_after_na() {
        let mut d = Dialer::listing_first(["/a", "/b"], Version::V1).unwrap();
        let _ = transmit(&mut d);
        let na = msgs(&[Message::Header, Message::Na]);
        assert_eq!(d.handle_input(&na), Ok(na.len()));
        assert_eq!(transmit(&mut d), msgs(&[Message::Protocol("/a")]));
        let refused = msgs(&[Message::Na]);
        assert_eq!(d.handle_input(&refused), Ok(refused.len()));
        assert_eq!(transmit(&mut d), msgs(&[Message::Protocol("/b")]));
    }

    #[test]
    fn listing_first_with_nothing_in_common_fails() {
        let mut d = Dialer::listing_first(["/a", "/b"], Version::V1Lazy).unwrap();
        let _ = transmit(&mut d);
        let reply = msgs(&[Message::Header, Message::LsReply(vec!["/x"])]);
        let e = d.handle_input(&reply).unwrap_err();
        assert!(matches!(e, Error::NoProtocolAgreed { .. }), "{e:?}");
        assert_poisoned(&mut d, &e);
    }

    #[test]
    fn pipelines_header_and_first_proposal() {
        let mut d = Dialer::new(["/a", "/b"], Version::V1).unwrap();
        assert_eq!(
            transmit(&mut d),
            msgs(&[Message::Header, Message::Protocol("/a")])
        );
        assert_eq!(d.poll_event(), None);
        assert!(!d.is_done());
    }

    #[test]
    fn agrees_on_first_choice_and_leaves_the_rest() {
        let mut d = Dialer::new(["/a", "/b"], Version::V1).unwrap();
        let _ = transmit(&mut d);
        let mut input = msgs(&[Message::Header, Message::Protocol("/a")]);
        let used = input.len();
        input.extend_from_slice(b"next layer");
        assert_eq!(d.handle_input(&input), Ok(used));
        assert_eq!(
            d.poll_event(),
            Some(Event::Negotiated {
                protocol: "/a".to_string()
            })
        );
        assert_eq!(d.negotiated(), Some("/a"));
        assert!(d.is_done());
        assert_eq!(d.handle_input(b"next layer"), Ok(0));
    }

    #[test]
    fn proposes_next_after_na() {
        let mut d = Dialer::new(["/a", "/b"], Version::V1).unwrap();
        let _ = transmit(&mut d);
        let input = msgs(&[Message::Header, Message::Na]);
        assert_eq!(d.handle_input(&input), Ok(input.len()));
        assert_eq!(transmit(&mut d), msgs(&[Message::Protocol("/b")]));
        let echo = msgs(&[Message::Protocol("/b")]);
        assert_eq!(d.handle_input(&echo), Ok(echo.len()));
        assert_eq!(d.negotiated(), Some("/b"));
    }

    #[test]
    fn partial_message_is_left() {
        let mut d = Dialer::new(["/a"], Version::V1).unwrap();
        let input = msgs(&[Message::Header, Message::Protocol("/a")]);
        let header_len = msgs(&[Message::Header]).len();
        assert_eq!(d.handle_input(&input[..header_len + 2]), Ok(header_len));
        assert_eq!(
            d.handle_input(&input[header_len..]),
            Ok(input.len() - header_len)
        );
        assert_eq!(d.negotiated(), Some("/a"));
    }

    #[test]
    fn all_rejected() {
        fails_with(
            &msgs(&[Message::Header, Message::Na, Message::Na]),
            Error::NoProtocolAgreed {
                tried: vec!["/a".to_string(), "/b".to_string()],
            },
        );
    }

    #[test]
    fn lazy_single_protocol_is_optimistic_at_once() {
        let mut d = Dialer::new(["/a"], Version::V1Lazy).unwrap();
        assert_eq!(
            d.poll_event(),
            Some(Event::Optimistic {
                protocol: "/a".to_string()
            })
        );
        assert_eq!(
            transmit(&mut d),
            msgs(&[Message::Header, Message::Protocol("/a")])
        );
        let mut input = msgs(&[Message::Header, Message::Protocol("/a")]);
        let used = input.len();
        input.extend_from_slice(b"\x00app");
        assert_eq!(d.handle_input(&input), Ok(used));
        assert_eq!(
            d.poll_event(),
            Some(Event::Negotiated {
                protocol: "/a".to_string()
            })
        );
    }

    #[test]
    fn lazy_settles_on_the_last_candidate_only() {
        let mut d = Dialer::new(["/a", "/b"], Version::V1Lazy).unwrap();
        let _ = transmit(&mut d);
        assert_eq!(d.poll_event(), None);
        let input = msgs(&[Message::Header, Message::Na]);
        assert_eq!(d.handle_input(&input), Ok(input.len()));
        assert_eq!(
            d.poll_event(),
            Some(Event::Optimistic {
                protocol: "/b".to_string()
            })
        );
        assert_eq!(transmit(&mut d), msgs(&[Message::Protocol("/b")]));
    }

    #[test]
    fn lazy_rejection_fails() {
        let mut d = Dialer::new(["/a"], Version::V1Lazy).unwrap();
        let _ = transmit(&mut d);
        let e = d
            .handle_input(&msgs(&[Message::Header, Message::Na]))
            .unwrap_err();
        assert_eq!(
            e,
            Error::NoProtocolAgreed {
                tried: vec!["/a".to_string()]
            }
        );
        assert_poisoned(&mut d, &e);
    }

    #[test]
    fn constructor_errors() {
        assert_eq!(
            Dialer::new(Vec::<String>::new(), Version::V1).unwrap_err(),
            Error::NoProtocols
        );
        assert_eq!(
            Dialer::new(["/a", "b"], Version::V1).unwrap_err(),
            Error::InvalidLocalProtocol {
                protocol: "b".to_string(),
                reason: ProtocolIdError::NoLeadingSlash
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
            &msgs(&[Message::Na]),
            Error::MissingHeader {
                got: "na".to_string(),
            },
        );
    }

    #[test]
    fn duplicate_header() {
        fails_with(
            &msgs(&[Message::Header, Message::Header]),
            Error::DuplicateHeader,
        );
    }

    #[test]
    fn unexpected_answer() {
        fails_with(
            &msgs(&[Message::Header, Message::Protocol("/b")]),
            Error::UnexpectedMessage {
                expected: "the echo of the proposal or na",
                got: "protocol \"/b\"".to_string(),
            },
        );
        fails_with(
            &msgs(&[Message::Header, Message::Ls]),
            Error::UnexpectedMessage {
                expected: "the echo of the proposal or na",
                got: "ls".to_string(),
            },
        );
    }

    #[test]
    fn malformed_input_classes() {
        let header = msgs(&[Message::Header]);
        let with = |tail: &[u8]| {
            let mut v = header.clone();
            v.extend_from_slice(tail);
            v
        };
        fails_with(
            &with(&[0x80, 0x80]),
            Error::LengthPrefixTooLong { max_bytes: 2 },
        );
        fails_with(
            &with(&[0x81, 0x08]),
            Error::MessageTooLong {
                len: 1025,
                max: MAX_MESSAGE_LEN,
            },
        );
        fails_with(&with(&[0x00]), Error::EmptyMessage);
        fails_with(&with(b"\x02/a"), Error::MissingNewline);
        fails_with(&with(b"\x03/\xff\n"), Error::NotUtf8);
        fails_with(
            &with(b"\x02a\n"),
            Error::InvalidProtocol {
                got: "a".to_string(),
                reason: ProtocolIdError::NoLeadingSlash,
            },
        );
        fails_with(&with(&[0x83, 0x00]), Error::NonMinimalLengthPrefix);
        // Before the header, too.
        fails_with(&[0x00], Error::EmptyMessage);
    }
}
