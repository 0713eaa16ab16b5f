//! The browser's side of the RFB handshake, as a state machine. No I/O.
//!
//! The proxy plays an RFB 3.8 server that offers security type None alone: the token has
//! already authenticated the user. [`Greeting::start`] gives the version to send first; each
//! [`Greeting::feed`] consumes the browser's messages and says what to send next, until
//! [`Greeted::Done`]. What is left in the buffer then is the browser's next message
//! (ClientInit, when a client sends it without waiting), to go on to the server.

use bytes::{Buf, BytesMut};

use super::error::Error;
use super::wire;

/// What to do after a step.
#[derive(Debug, PartialEq, Eq)]
pub enum Greeted {
    /// The buffer holds no whole message yet: read more, then call again.
    NeedMore,
    /// Send these bytes to the browser.
    Send(Vec<u8>),
    /// The browser chose None: the session may go on.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    ExpectVersion,
    ExpectSecurityChoice,
    Done,
}

/// The greeting of one browser.
#[derive(Debug)]
pub struct Greeting {
    state: State,
}

impl Greeting {
    /// A greeting, and the version message to send the browser first.
    pub fn start() -> (Self, Vec<u8>) {
        (
            Self {
                state: State::ExpectVersion,
            },
            wire::VERSION_3_8.to_vec(),
        )
    }

    /// Consumes whole browser messages from the front of `buffer`.
    ///
    /// # Errors
    /// A browser that speaks another version, or chooses a type other than None: then
    /// [`Greeting::refusal`] says what the browser is owed.
    pub fn feed(&mut self, buffer: &mut BytesMut) -> Result<Greeted, Error> {
        match self.state {
            State::ExpectVersion => {
                let decoded = wire::decode_version(buffer).map_err(|error| match error {
                    Error::BadVersion(text) => Error::BrowserVersion(text),
                    other => other,
                })?;
                let Some((version, used)) = decoded else {
                    return Ok(Greeted::NeedMore);
                };
                buffer.advance(used);
                if version != (wire::Version { major: 3, minor: 8 }) {
                    return Err(Error::BrowserVersion(format!(
                        "{}.{}",
                        version.major, version.minor
                    )));
                }
                self.state = State::ExpectSecurityChoice;
                Ok(Greeted::Send(vec![1, wire::security::NONE]))
            }
            State::ExpectSecurityChoice => {
                let Some((choice, used)) = wire::decode_byte(buffer)? else {
                    return Ok(Greeted::NeedMore);
                };
                buffer.advance(used);
                if choice != wire::security::NONE {
                    return Err(Error::BrowserSecurityType(choice));
                }
                self.state = State::Done;
                Ok(Greeted::Done)
            }
            State::Done => Ok(Greeted::Done),
        }
    }

    /// The bytes owed to a browser refused with `error`: RFB 3.8's SecurityResult failure with
    /// its reason, where the protocol has a place for one (nova's `_fail`).
    pub fn refusal(error: &Error) -> Option<Vec<u8>> {
        matches!(error, Error::BrowserSecurityType(_))
            .then(|| wire::encode_security_failure(error.public_reason()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn greet(input: &[u8]) -> (Vec<Result<Greeted, String>>, BytesMut) {
        let (mut greeting, first) = Greeting::start();
        assert_eq!(first, wire::VERSION_3_8);
        let mut buffer = BytesMut::from(input);
        let mut outputs = Vec::new();
        loop {
            let output = greeting.feed(&mut buffer).map_err(|e| e.to_string());
            let stop = !matches!(output, Ok(Greeted::Send(_)));
            outputs.push(output);
            if stop {
                return (outputs, buffer);
            }
        }
    }

    #[test]
    fn none_is_offered_and_taken_with_a_pipelined_client_init() {
        let (outputs, rest) = greet(b"RFB 003.008\n\x01\x01");
        assert_eq!(
            outputs,
            vec![Ok(Greeted::Send(vec![1, 1])), Ok(Greeted::Done)]
        );
        assert_eq!(&rest[..], &[1], "ClientInit stays for the server");
    }

    #[test]
    fn every_prefix_needs_more() {
        let whole = b"RFB 003.008\n\x01";
        for cut in 0..whole.len() {
            let (outputs, _) = greet(&whole[..cut]);
            assert_eq!(outputs.last(), Some(&Ok(Greeted::NeedMore)), "cut at {cut}");
        }
    }

    #[test]
    fn other_versions_and_types_are_refused() {
        let (outputs, _) = greet(b"RFB 003.003\n");
        assert!(matches!(outputs.last(), Some(Err(e)) if e.contains("3.3")));
        let (mut greeting, _) = Greeting::start();
        let mut buffer = BytesMut::from(&b"RFB 003.008\n\x02"[..]);
        assert_eq!(
            greeting.feed(&mut buffer).ok(),
            Some(Greeted::Send(vec![1, 1]))
        );
        let error = greeting.feed(&mut buffer).err();
        assert!(matches!(error, Some(Error::BrowserSecurityType(2))));
        let owed = error
            .as_ref()
            .and_then(Greeting::refusal)
            .unwrap_or_default();
        assert_eq!(&owed[..4], &[0, 0, 0, 1], "SecurityResult failed");
        assert!(Greeting::refusal(&Error::BrowserVersion("4.0".into())).is_none());
    }
}
