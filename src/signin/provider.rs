//! The identity provider, through the `openidconnect` crate: discovery and its keys (kept for
//! a few minutes, asked again when an ID token's signature does not verify, since the provider
//! may have rotated its keys), the authorization URL with PKCE, `state` and `nonce`, and the
//! code exchange with the ID token verified (signature, `iss`, `aud`, `exp` with the allowed
//! clock skew, `nonce`). The groups come from the verified ID token, else from userinfo.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreIdToken, CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};

use super::error::Error;
use super::identity::{seconds, Identity, Pending};
use super::settings::OidcSettings;
use crate::http_client::HttpClient;

/// How long discovery and keys are used before they are fetched again.
const REFRESH: Duration = Duration::from_secs(300);

/// How long a sign-in may take at the provider.
pub(super) const PENDING_FOR: Duration = Duration::from_secs(600);

type Discovered = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Claims beyond the standard ones, read from userinfo (the groups).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Extra {
    #[serde(flatten)]
    claims: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for Extra {}

/// The provider of `[oidc] issuer`.
pub(super) struct Provider {
    settings: Arc<OidcSettings>,
    http: HttpClient,
    discovered: tokio::sync::Mutex<Option<(Instant, Arc<Discovered>)>>,
}

impl Provider {
    pub(super) fn new(settings: Arc<OidcSettings>, http: HttpClient) -> Self {
        Self {
            settings,
            http,
            discovered: tokio::sync::Mutex::default(),
        }
    }

    /// The client from discovery: the one kept, unless it is older than [`REFRESH`] or
    /// `fresh` asks for another.
    async fn client(&self, fresh: bool) -> Result<Arc<Discovered>, Error> {
        let mut kept = self.discovered.lock().await;
        if let Some((at, client)) = kept.as_ref() {
            if !fresh && at.elapsed() < REFRESH {
                return Ok(client.clone());
            }
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|error| Error::Discovery(Box::new(error)))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http_fn())
            .await
            .map_err(|error| Error::Discovery(Box::new(error)))?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            self.settings
                .client_secret
                .as_ref()
                .map(|secret| ClientSecret::new(secret.expose().to_owned())),
        )
        .set_redirect_uri(RedirectUrl::from_url(self.settings.redirect_url.clone()));
        let client = Arc::new(client);
        *kept = Some((Instant::now(), client.clone()));
        Ok(client)
    }

    /// The provider's HTTP client in the form `openidconnect` calls.
    fn http_fn(
        &self,
    ) -> impl Fn(
        openidconnect::HttpRequest,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<openidconnect::HttpResponse, crate::http_client::ClientError>,
                > + Send,
        >,
    > {
        let http = self.http.clone();
        move |request| {
            let http = http.clone();
            Box::pin(async move {
                let response = http.send(request.map(Bytes::from)).await?;
                Ok(response.map(|body| body.to_vec()))
            })
        }
    }

    /// Where to send the browser, and what its login cookie must hold.
    pub(super) async fn authorize(&self, next: String) -> Result<(url::Url, Pending), Error> {
        let client = self.client(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.settings.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let pending = Pending {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            next,
            until: seconds(SystemTime::now() + PENDING_FOR),
        };
        Ok((url, pending))
    }

    /// The person the provider vouches for with `code`, checked against `pending`.
    pub(super) async fn finish(&self, code: String, pending: &Pending) -> Result<Identity, Error> {
        let client = self.client(false).await?;
        let http = self.http_fn();
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|error| Error::Exchange(Box::new(error)))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&http)
            .await
            .map_err(|error| match error {
                // The provider answered: the code or the client was refused (invalid_grant).
                openidconnect::RequestTokenError::ServerResponse(answer) => {
                    Error::Provider(answer.error().as_ref().to_owned())
                }
                other => Error::Exchange(Box::new(other)),
            })?;
        let id_token = response.id_token().ok_or(Error::NoIdToken)?;
        let nonce = Nonce::new(pending.nonce.clone());
        let claims = match self.verify(&client, id_token, &nonce) {
            // The keys may have rotated since discovery: asked again once.
            Err(Error::IdToken(_)) => self.verify(&*self.client(true).await?, id_token, &nonce),
            verified => verified,
        }?;
        let (sub, mut email, mut groups) = claims;
        if groups.is_none() || email.is_none() {
            if let Some(extra) = self
                .user_info(&client, response.access_token().clone(), &sub)
                .await?
            {
                email = email.or_else(|| extra.email().map(|e| e.as_str().to_owned()));
                groups =
                    groups.or_else(|| groups_in(&extra.additional_claims().claims, &self.settings));
            }
        }
        Ok(Identity {
            sub,
            email,
            groups: Identity::keep_groups(groups.unwrap_or_default()),
            until: seconds(SystemTime::now() + self.settings.session_lifetime),
        })
    }

    /// The verified ID token's subject, e-mail and groups.
    #[allow(clippy::type_complexity)]
    fn verify(
        &self,
        client: &Discovered,
        id_token: &CoreIdToken,
        nonce: &Nonce,
    ) -> Result<(String, Option<String>, Option<Vec<String>>), Error> {
        let skew = chrono::Duration::from_std(self.settings.clock_skew).unwrap_or_default();
        // An ID token that expired less than the allowed skew ago is still accepted.
        let verifier = client
            .id_token_verifier()
            .set_time_fn(move || chrono::Utc::now() - skew);
        let claims = id_token.claims(&verifier, nonce).map_err(Error::IdToken)?;
        let sub = claims.subject().as_str().to_owned();
        let email = claims.email().map(|e| e.as_str().to_owned());
        // The signature is verified: the same payload's other claims can be read as they are.
        let groups =
            payload(&id_token.to_string()).and_then(|payload| groups_in(&payload, &self.settings));
        Ok((sub, email, groups))
    }

    /// Userinfo for `sub`, when the provider has the endpoint.
    async fn user_info(
        &self,
        client: &Discovered,
        token: AccessToken,
        sub: &str,
    ) -> Result<Option<UserInfoClaims<Extra, CoreGenderClaim>>, Error> {
        let Ok(request) = client.user_info(
            token,
            Some(openidconnect::SubjectIdentifier::new(sub.into())),
        ) else {
            return Ok(None);
        };
        let http = self.http_fn();
        let claims = request
            .request_async(&http)
            .await
            .map_err(|error| Error::UserInfo(Box::new(error)))?;
        Ok(Some(claims))
    }
}

/// The JSON payload of a compact JWT.
fn payload(jwt: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    use base64::Engine;
    let part = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The groups claim: a list of strings, or one string.
fn groups_in(
    claims: &serde_json::Map<String, serde_json::Value>,
    settings: &OidcSettings,
) -> Option<Vec<String>> {
    match claims.get(&settings.groups_claim)? {
        serde_json::Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect(),
        ),
        serde_json::Value::String(one) => Some(vec![one.clone()]),
        _ => None,
    }
}
