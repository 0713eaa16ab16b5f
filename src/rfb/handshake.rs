//! The proxy's RFB client handshake toward the VNC server, as a state machine. No I/O.
//!
//! Each [`Handshake::handle`] call consumes whole server messages from the front of the input
//! until one of them asks for something, and says what: send bytes, start TLS, done. When the
//! input holds no whole message it says [`Output::NeedMore`] and nothing else. The driver feeds
//! it bytes through [`Handshake::feed`], performs the [`Output`], and swaps the transport to
//! TLS on [`Output::StartTls`].

#![allow(
    clippy::indexing_slicing,
    reason = "offsets come from lengths this framer checked first; fuzzed under fuzz/"
)]

use bytes::{Buf, BytesMut};

use super::error::Error;
use super::password;
use super::wire::{self, security, SecurityResult, SecurityTypes, Version, VERSION_3_8, X509_NONE};
use crate::console::{AuthScheme, Secret};

/// What the driver must do after a step.
#[derive(Debug, PartialEq, Eq)]
pub enum Output {
    /// The input holds no whole message yet: read more, then call again.
    NeedMore,
    /// Send these bytes to the server.
    Send(Vec<u8>),
    /// Start TLS as a client on the connection now; the server sends nothing in the clear after.
    StartTls,
    /// Authenticated with this scheme: from here bytes flow as they are (ClientInit onwards).
    Done(AuthScheme),
}

/// Where the handshake is: the message expected next from the server.
#[derive(Debug)]
enum State {
    ExpectVersion,
    ExpectSecurityTypes,
    ExpectVncChallenge,
    ExpectVencryptVersion,
    ExpectVencryptAck,
    ExpectVencryptSubtypes,
    ExpectVencryptAccept,
    ExpectSecurityResult,
    Done,
}

/// What the handshake may do: the schemes in order of preference, and the VNC password.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `[vnc] auth_schemes`, in order.
    pub schemes: Vec<AuthScheme>,
    /// Password for the `vnc` scheme, from the token's grant.
    pub password: Option<Secret>,
}

/// The handshake toward one VNC server.
#[derive(Debug)]
pub struct Handshake {
    state: State,
    policy: Policy,
    chosen: Option<AuthScheme>,
}

impl Handshake {
    /// A handshake about to read the server's ProtocolVersion.
    pub fn new(policy: Policy) -> Self {
        Self {
            state: State::ExpectVersion,
            policy,
            chosen: None,
        }
    }

    /// The scheme chosen, once the security types were read.
    pub fn chosen(&self) -> Option<AuthScheme> {
        self.chosen
    }

    /// A name for the current state, for "closed during ..." messages.
    pub fn phase(&self) -> &'static str {
        match self.state {
            State::ExpectVersion => "the protocol version",
            State::ExpectSecurityTypes => "the security types",
            State::ExpectVncChallenge => "VNC authentication",
            State::ExpectVencryptVersion | State::ExpectVencryptAck => "the VeNCrypt version",
            State::ExpectVencryptSubtypes | State::ExpectVencryptAccept => "the VeNCrypt subtype",
            State::ExpectSecurityResult => "the security result",
            State::Done => "the end of the handshake",
        }
    }

    /// Whether the server's SecurityResult is what comes next: an EOF there after VeNCrypt is
    /// how QEMU refuses a client certificate under TLS 1.3.
    pub fn awaiting_result(&self) -> bool {
        matches!(self.state, State::ExpectSecurityResult)
    }

    /// Consumes messages from the front of `input` until one asks for an action.
    ///
    /// Returns how many bytes were used and what to do. [`Output::NeedMore`] means only that
    /// the rest of `input` is not a whole message: read more and call again with it.
    ///
    /// # Errors
    /// The server misbehaved or refused, or no allowed scheme is possible.
    pub fn handle(&mut self, input: &[u8]) -> Result<(usize, Output), Error> {
        let mut used = 0;
        loop {
            match self.step(&input[used..])? {
                (0, Some(Output::NeedMore)) | (0, None) => return Ok((used, Output::NeedMore)),
                (count, Some(output)) => return Ok((used + count, output)),
                // A message that asks nothing of the driver (VeNCrypt's version ack): go on.
                (count, None) => used += count,
            }
        }
    }

    /// [`Handshake::handle`] on a buffer, taking the bytes used off its front: the one calling
    /// rule for the driver, the tests and the fuzz target.
    ///
    /// # Errors
    /// As [`Handshake::handle`].
    pub fn feed(&mut self, buffer: &mut BytesMut) -> Result<Output, Error> {
        let (used, output) = self.handle(buffer)?;
        buffer.advance(used);
        Ok(output)
    }

    /// One message at most: `(used, None)` when it was consumed and asks for nothing.
    fn step(&mut self, input: &[u8]) -> Result<(usize, Option<Output>), Error> {
        match self.state {
            State::ExpectVersion => on_whole(wire::decode_version(input)?, |(version, used)| {
                self.on_version(version)?;
                Ok((used, Some(Output::Send(VERSION_3_8.to_vec()))))
            }),
            State::ExpectSecurityTypes => {
                on_whole(wire::decode_security_types(input)?, |(types, used)| {
                    Ok((used, Some(self.on_types(types)?)))
                })
            }
            State::ExpectVncChallenge => {
                on_whole(wire::decode_challenge(input)?, |(challenge, used)| {
                    let secret = self.policy.password.as_ref().ok_or(Error::NoPassword)?;
                    self.state = State::ExpectSecurityResult;
                    let response = password::response(secret, &challenge).to_vec();
                    Ok((used, Some(Output::Send(response))))
                })
            }
            State::ExpectVencryptVersion => on_whole(
                wire::decode_vencrypt_version(input)?,
                |((major, minor), used)| {
                    // 0.2 is the only VeNCrypt version with X509 subtypes; a server that offers a
                    // later one must also speak 0.2, and says so in its ack.
                    if (major, minor) < (0, 2) {
                        return Err(Error::VencryptVersion(major, minor));
                    }
                    self.state = State::ExpectVencryptAck;
                    Ok((used, Some(Output::Send(vec![0, 2]))))
                },
            ),
            State::ExpectVencryptAck => on_whole(wire::decode_byte(input)?, |(ack, used)| {
                if ack != 0 {
                    return Err(Error::VencryptVersionRefused);
                }
                self.state = State::ExpectVencryptSubtypes;
                Ok((used, None))
            }),
            State::ExpectVencryptSubtypes => on_whole(
                wire::decode_vencrypt_subtypes(input)?,
                |(subtypes, used)| {
                    if !subtypes.contains(&X509_NONE) {
                        return Err(Error::NoX509None(subtypes));
                    }
                    self.state = State::ExpectVencryptAccept;
                    Ok((used, Some(Output::Send(X509_NONE.to_be_bytes().to_vec()))))
                },
            ),
            State::ExpectVencryptAccept => on_whole(wire::decode_byte(input)?, |(accept, used)| {
                // Missing from the VeNCrypt description but sent by QEMU, gtk-vnc and Xvnc.
                if accept != 1 {
                    return Err(Error::SubtypeRejected);
                }
                self.state = State::ExpectSecurityResult;
                Ok((used, Some(Output::StartTls)))
            }),
            State::ExpectSecurityResult => on_whole(
                wire::decode_security_result(input)?,
                |(result, used)| match result {
                    SecurityResult::Ok => {
                        self.state = State::Done;
                        // The scheme was set with the security types, before any result.
                        let scheme = self.chosen.unwrap_or(AuthScheme::None);
                        Ok((used, Some(Output::Done(scheme))))
                    }
                    SecurityResult::Failed(reason) => Err(Error::AuthFailed(reason)),
                },
            ),
            State::Done => Ok((
                0,
                Some(Output::Done(self.chosen.unwrap_or(AuthScheme::None))),
            )),
        }
    }

    fn on_version(&mut self, version: Version) -> Result<(), Error> {
        // Only 3.8 has the security-type list and SecurityResult reasons the proxy relies on;
        // every server in use (QEMU, Xvnc, ESXi) speaks it.
        if version != (Version { major: 3, minor: 8 }) {
            return Err(Error::UnsupportedVersion(version.major, version.minor));
        }
        self.state = State::ExpectSecurityTypes;
        Ok(())
    }

    fn on_types(&mut self, types: SecurityTypes) -> Result<Output, Error> {
        let offered = match types {
            SecurityTypes::Offered(offered) => offered,
            SecurityTypes::Refused(reason) => return Err(Error::ServerRefused(reason)),
        };
        // The configured order decides, not the server's (nova uses the server's order).
        let chosen = self
            .policy
            .schemes
            .iter()
            .copied()
            .find(|scheme| offered.contains(&type_of(*scheme)))
            .ok_or_else(|| Error::NoAllowedScheme {
                offered: offered.clone(),
                allowed: self.policy.schemes.clone(),
            })?;
        if chosen == AuthScheme::Vnc && self.policy.password.is_none() {
            return Err(Error::NoPassword);
        }
        self.chosen = Some(chosen);
        self.state = match chosen {
            AuthScheme::None => State::ExpectSecurityResult,
            AuthScheme::Vnc => State::ExpectVncChallenge,
            AuthScheme::Vencrypt => State::ExpectVencryptVersion,
        };
        Ok(Output::Send(vec![type_of(chosen)]))
    }
}

/// The RFB security type of a scheme.
pub fn type_of(scheme: AuthScheme) -> u8 {
    match scheme {
        AuthScheme::None => security::NONE,
        AuthScheme::Vnc => security::VNC,
        AuthScheme::Vencrypt => security::VENCRYPT,
    }
}

/// Runs `then` on a whole message, or says "need more".
fn on_whole<T>(
    decoded: Option<T>,
    then: impl FnOnce(T) -> Result<(usize, Option<Output>), Error>,
) -> Result<(usize, Option<Output>), Error> {
    match decoded {
        Some(message) => then(message),
        None => Ok((0, Some(Output::NeedMore))),
    }
}

#[cfg(test)]
mod tests;
