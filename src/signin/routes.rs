//! The sign-in routes: `/login` sends the browser to the provider, the callback checks what
//! comes back against the browser's login cookie and sets its session cookie, `/logout` clears
//! it. Each answer is a small response and an [`Outcome`] for the audit trail and metrics.

use std::sync::Arc;
use std::time::SystemTime;

use cookie::{Cookie, SameSite};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode, Uri};
use subtle::ConstantTimeEq;

use super::error::Error;
use super::identity::{local_path, seconds, Identity, Pending};
use super::page::{html, no_store, SIGN_OUT};
use super::provider::{Provider, PENDING_FOR};
use super::seal::Seal;
use super::settings::OidcSettings;
use crate::http_client::HttpClient;

/// The browser session. `__Host-`: only ever set by this origin, over HTTPS, for `/`.
pub(super) const SESSION_COOKIE: &str = "__Host-vncgate-session";
/// A sign-in under way.
const LOGIN_COOKIE: &str = "__Host-vncgate-login";

/// How long the provider's HTTP exchanges may take, and the most they may send.
const PROVIDER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const PROVIDER_MAX_BODY: usize = 1 << 20;

/// A sign-in route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/login`.
    Login,
    /// The path of `redirect_url`.
    Callback,
    /// `/logout`.
    Logout,
}

/// What a route did, for the audit trail and `vncgate_signins_total`.
#[derive(Debug)]
pub enum Outcome {
    /// The browser was sent to the provider.
    Started,
    /// Someone signed in.
    SignedIn(Identity),
    /// A sign-in failed.
    Failed(Error),
    /// Someone signed out.
    SignedOut(Option<Identity>),
    /// Nothing happened (a page, a refused method).
    Nothing,
}

/// Sign-in, as `[oidc]` configures it.
pub struct SignIn {
    settings: Arc<OidcSettings>,
    /// This proxy's other origins sign-in may land on (the serial port's page).
    landings: Vec<String>,
    provider: Provider,
    seal: Seal,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SignIn")
            .field("issuer", &self.settings.issuer.as_str())
            .finish_non_exhaustive()
    }
}

impl SignIn {
    /// Sign-in with `settings`, reaching the provider with `tls` (its CAs); `None` when the
    /// cookie key is too short.
    pub fn new(settings: OidcSettings, tls: Option<Arc<rustls::ClientConfig>>) -> Option<Self> {
        let seal = Seal::new(settings.cookie_key.expose())?;
        let settings = Arc::new(settings);
        let http = HttpClient {
            tls,
            timeout: PROVIDER_TIMEOUT,
            max_body: PROVIDER_MAX_BODY,
        };
        Some(Self {
            provider: Provider::new(settings.clone(), http),
            settings,
            landings: Vec::new(),
            seal,
        })
    }

    /// Where a page of another origin of this proxy (the serial port's) sends a browser to
    /// sign in and come back to `next` (its absolute URL): `/login` at `redirect_url`'s origin,
    /// where the login cookie must be set for the callback to find it.
    pub fn login_from(&self, next: &str) -> String {
        let mut login = self.settings.redirect_url.clone();
        login.set_path("/login");
        login.set_query(None);
        login.query_pairs_mut().append_pair("next", next);
        login.to_string()
    }

    /// Lets sign-in land on `origin` too (`https://host:port`, another port of this proxy).
    #[must_use]
    pub fn landing_on(mut self, origin: String) -> Self {
        self.landings.push(origin);
        self
    }

    /// The route `path` names, if it is one.
    pub fn route(&self, path: &str) -> Option<Route> {
        match path {
            "/login" => Some(Route::Login),
            "/logout" => Some(Route::Logout),
            _ if path == self.settings.redirect_url.path() => Some(Route::Callback),
            _ => None,
        }
    }

    /// Who is signed in in the browser that sent `headers`, if anyone (a valid, unexpired
    /// session cookie sealed by this proxy).
    pub fn identity(&self, headers: &HeaderMap) -> Option<Identity> {
        let sealed = cookie_value(headers, SESSION_COOKIE)?;
        let identity: Identity =
            serde_json::from_str(&self.seal.open(SESSION_COOKIE, &sealed)?).ok()?;
        identity.valid_at(SystemTime::now()).then_some(identity)
    }

    /// Answers `route`.
    pub async fn serve(
        &self,
        route: Route,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> (Response<String>, Outcome) {
        match (route, method) {
            (Route::Login, &Method::GET) => self.login(uri).await,
            (Route::Callback, &Method::GET) => match self.callback(uri, headers).await {
                Ok((identity, next)) => {
                    let sealed = self.seal.seal(
                        SESSION_COOKIE,
                        serde_json::to_string(&identity).unwrap_or_default(),
                    );
                    let lifetime = self.settings.session_lifetime.as_secs();
                    let mut response = redirect(&next);
                    set_cookie(&mut response, SESSION_COOKIE, sealed, Some(lifetime));
                    set_cookie(&mut response, LOGIN_COOKIE, String::new(), Some(0));
                    (response, Outcome::SignedIn(identity))
                }
                Err(error) => {
                    let mut response = page(StatusCode::FORBIDDEN, error.public_reason());
                    set_cookie(&mut response, LOGIN_COOKIE, String::new(), Some(0));
                    (response, Outcome::Failed(error))
                }
            },
            (Route::Logout, &Method::POST) if same_origin(headers) => {
                let who = self.identity(headers);
                let mut response = page(StatusCode::OK, "you are signed out");
                set_cookie(&mut response, SESSION_COOKIE, String::new(), Some(0));
                (response, Outcome::SignedOut(who))
            }
            (Route::Logout, &Method::POST) => (
                page(
                    StatusCode::FORBIDDEN,
                    "sign-out must come from this site's own page",
                ),
                Outcome::Nothing,
            ),
            (Route::Logout, _) => (logout_form(), Outcome::Nothing),
            _ => (
                page(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "this address takes another method",
                ),
                Outcome::Nothing,
            ),
        }
    }

    /// Sends the browser to the provider with a new login cookie.
    async fn login(&self, uri: &Uri) -> (Response<String>, Outcome) {
        let next = local_path(query(uri, "next").as_deref(), &self.landings);
        match self.provider.authorize(next).await {
            Ok((url, pending)) => {
                let sealed = self.seal.seal(
                    LOGIN_COOKIE,
                    serde_json::to_string(&pending).unwrap_or_default(),
                );
                let mut response = redirect(url.as_str());
                set_cookie(
                    &mut response,
                    LOGIN_COOKIE,
                    sealed,
                    Some(PENDING_FOR.as_secs()),
                );
                (response, Outcome::Started)
            }
            Err(error) => (
                page(StatusCode::SERVICE_UNAVAILABLE, error.public_reason()),
                Outcome::Failed(error),
            ),
        }
    }

    /// The provider's answer, checked: the person, and where to land.
    async fn callback(&self, uri: &Uri, headers: &HeaderMap) -> Result<(Identity, String), Error> {
        let pending: Pending = cookie_value(headers, LOGIN_COOKIE)
            .and_then(|sealed| self.seal.open(LOGIN_COOKIE, &sealed))
            .and_then(|text| serde_json::from_str(&text).ok())
            .filter(|pending: &Pending| seconds(SystemTime::now()) < pending.until)
            .ok_or(Error::NoPending)?;
        let state = query(uri, "state").unwrap_or_default();
        if !bool::from(state.as_bytes().ct_eq(pending.state.as_bytes())) {
            return Err(Error::State);
        }
        if let Some(error) = query(uri, "error") {
            // Only the provider's error code, never its free text, is kept.
            let code: String = error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect();
            return Err(Error::Provider(code));
        }
        let code = query(uri, "code").ok_or(Error::NoCode)?;
        let identity = self.provider.finish(code, &pending).await?;
        Ok((identity, pending.next))
    }
}

/// The value of query parameter `name`.
fn query(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
}

/// Whether a POST came from a page of this site: its `Origin` names the `Host` (browsers send
/// `Origin` with every POST).
fn same_origin(headers: &HeaderMap) -> bool {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin.and_then(|o| url::Url::parse(o).ok()), host) {
        (Some(origin), Some(host)) => origin.authority() == host,
        _ => false,
    }
}

fn set_cookie(response: &mut Response<String>, name: &str, value: String, max_age: Option<u64>) {
    let mut cookie = Cookie::build((name.to_owned(), value))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax);
    if let Some(seconds) = max_age {
        cookie = cookie.max_age(cookie::time::Duration::seconds(
            i64::try_from(seconds).unwrap_or(i64::MAX),
        ));
    }
    if let Ok(value) = HeaderValue::from_str(&cookie.build().to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// A `303 See Other` to `location`.
pub fn redirect(location: &str) -> Response<String> {
    let mut response = Response::new(String::new());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    no_store(&mut response);
    response
}

/// A small page that says `message` (one of this module's own texts, never input).
fn page(status: StatusCode, message: &'static str) -> Response<String> {
    html(
        status,
        format!("<p role=status>Sign-in: {message}.</p><p><a href=\"/login\">Sign in</a></p>"),
    )
}

fn logout_form() -> Response<String> {
    html(
        StatusCode::OK,
        format!("<p role=status>Sign out of the console proxy?</p>{SIGN_OUT}"),
    )
}
