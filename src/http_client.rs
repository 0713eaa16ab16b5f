//! The HTTP requests the proxy makes itself: to the token API and to the identity provider. One
//! request per connection (HTTP/1.1), HTTPS verified against the configured CAs, the whole
//! exchange within a deadline, the answer's body read up to a limit.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not an absolute `http://` or `https://` URL.
    #[error("not an http:// or https:// URL")]
    Url,
    /// `https://` without a TLS configuration.
    #[error("no CAs configured for HTTPS")]
    NoTls,
    /// No connection (refused, unresolvable).
    #[error("cannot connect")]
    Connect(#[source] std::io::Error),
    /// TLS failed (an untrusted certificate).
    #[error("TLS failed")]
    Tls(#[source] std::io::Error),
    /// HTTP failed.
    #[error("HTTP failed")]
    Http(#[source] hyper::Error),
    /// The body is longer than the limit.
    #[error("the answer is longer than {0} bytes")]
    TooLong(usize),
    /// The body could not be read.
    #[error("the answer could not be read")]
    Body(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// No answer within the deadline.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// A client with its TLS, deadline and body limit.
#[derive(Debug, Clone)]
pub struct HttpClient {
    /// Verifies `https://` servers; `None`: plain HTTP only.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The whole exchange's deadline, connection included.
    pub timeout: Duration,
    /// The longest body read.
    pub max_body: usize,
}

impl HttpClient {
    /// Sends `request` (its URI absolute) and reads the answer.
    ///
    /// # Errors
    /// Anything in [`ClientError`].
    pub async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, ClientError> {
        match tokio::time::timeout(self.timeout, self.exchange(request)).await {
            Ok(answer) => answer,
            Err(_) => Err(ClientError::Timeout(self.timeout)),
        }
    }

    async fn exchange(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, ClientError> {
        let (mut parts, body) = request.into_parts();
        let url = url::Url::parse(&parts.uri.to_string()).map_err(|_| ClientError::Url)?;
        let host = url.host_str().ok_or(ClientError::Url)?.to_owned();
        let host = host.trim_matches(['[', ']']).to_owned();
        let port = url.port_or_known_default().ok_or(ClientError::Url)?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(ClientError::Url),
        };
        // The request line carries the path; the authority goes in Host.
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        parts.uri = path.parse().map_err(|_| ClientError::Url)?;
        let authority =
            http::HeaderValue::from_str(url.authority()).map_err(|_| ClientError::Url)?;
        parts.headers.insert(http::header::HOST, authority);
        let request = http::Request::from_parts(parts, Full::new(body));
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(ClientError::Connect)?;
        let _ = tcp.set_nodelay(true);
        let response = if https {
            let config = self.tls.clone().ok_or(ClientError::NoTls)?;
            let name =
                rustls::pki_types::ServerName::try_from(host).map_err(|_| ClientError::Url)?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(ClientError::Tls)?;
            send(tls, request).await?
        } else {
            send(tcp, request).await?
        };
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, self.max_body)
            .collect()
            .await
            .map_err(|error| {
                if error.is::<http_body_util::LengthLimitError>() {
                    ClientError::TooLong(self.max_body)
                } else {
                    ClientError::Body(error)
                }
            })?
            .to_bytes();
        Ok(http::Response::from_parts(parts, body))
    }
}

async fn send<S>(
    stream: S,
    request: http::Request<Full<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, ClientError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(ClientError::Http)?;
    tokio::spawn(connection);
    sender
        .send_request(request)
        .await
        .map_err(ClientError::Http)
}
