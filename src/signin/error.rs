//! Why a sign-in failed, and what the browser may be told.

/// A boxed error from the provider's side of `openidconnect`.
pub(super) type Boxed = Box<dyn std::error::Error + Send + Sync>;

/// Why a sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Discovery or the provider's keys could not be fetched.
    #[error("the identity provider's discovery failed")]
    Discovery(#[source] Boxed),
    /// The code could not be exchanged.
    #[error("the code exchange with the identity provider failed")]
    Exchange(#[source] Boxed),
    /// The token response had no ID token.
    #[error("the identity provider returned no ID token")]
    NoIdToken,
    /// The ID token did not verify: signature, issuer, audience, expiry or nonce.
    #[error("the ID token was refused")]
    IdToken(#[source] openidconnect::ClaimsVerificationError),
    /// Userinfo failed.
    #[error("the identity provider's userinfo failed")]
    UserInfo(#[source] Boxed),
    /// The callback came without this browser's login cookie (or with an expired one, or one
    /// this proxy did not seal): a login started elsewhere, or forged.
    #[error("no sign-in is under way in this browser")]
    NoPending,
    /// The `state` is not the one this browser's sign-in sent.
    #[error("the state does not match this browser's sign-in")]
    State,
    /// The provider answered with an error (`error=access_denied`, ...).
    #[error("the identity provider refused: {0}")]
    Provider(String),
    /// The callback had no code.
    #[error("the callback has no code")]
    NoCode,
}

impl Error {
    /// A short text for the browser.
    pub fn public_reason(&self) -> &'static str {
        match self {
            Self::Discovery(_) | Self::Exchange(_) | Self::UserInfo(_) => {
                "the identity provider cannot be reached now; try again later"
            }
            Self::NoIdToken | Self::IdToken(_) => {
                "the identity provider's answer could not be verified"
            }
            Self::NoPending | Self::State | Self::NoCode => {
                "this sign-in was not started in this browser, or took too long; sign in again"
            }
            Self::Provider(_) => "the identity provider did not sign you in",
        }
    }

    /// The label of `vncgate_signins_total{result}` and the audit event's reason.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Discovery(_) | Self::Exchange(_) | Self::UserInfo(_) => "provider_unavailable",
            Self::NoIdToken | Self::IdToken(_) => "id_token_refused",
            Self::NoPending | Self::NoCode => "no_pending_sign_in",
            Self::State => "state_mismatch",
            Self::Provider(_) => "provider_refused",
        }
    }
}
