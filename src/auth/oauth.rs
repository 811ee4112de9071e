//! The HTTP exchange under the `oauth2` crate, over the run's own client (no redirects, https
//! only, its own timeout), the sign-in service's clock read from its answers, and its
//! refusals read as [`AuthError`]s.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oauth2::{RequestTokenError, TokenUrl};

use super::provider::lock;
use super::{AuthError, TokenProvider};

/// Failures of the HTTP exchange under `oauth2`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

impl TokenProvider {
    /// The token endpoint, as `oauth2` takes it.
    pub(super) fn token_uri(&self) -> Result<TokenUrl, AuthError> {
        TokenUrl::new(self.token_url.clone()).map_err(|e| AuthError::Credential {
            what: format!("the token endpoint {} is not a URL: {e}", self.token_url),
        })
    }

    /// The HTTP exchange for `oauth2`, over our own client (no redirects, https only).
    pub(super) fn sender(
        &self,
    ) -> impl Fn(
        oauth2::HttpRequest,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send>,
    > + use<> {
        let http = self.http.clone();
        let skew = Arc::clone(&self.skew);
        let trace = self.trace.clone();
        move |req: oauth2::HttpRequest| {
            let http = http.clone();
            let skew = Arc::clone(&skew);
            let trace = trace.clone();
            Box::pin(async move {
                let (parts, body) = req.into_parts();
                // Its own limit: a stuck sign-in endpoint must not hold the tenant for the
                // admin API's sixteen minutes.
                let mut builder = http
                    .request(parts.method, parts.uri.to_string())
                    .timeout(Duration::from_secs(30))
                    .body(body);
                for (name, value) in &parts.headers {
                    builder = builder.header(name, value);
                }
                let response = crate::trace::send(trace.as_deref(), builder)
                    .await
                    .map_err(|e| HttpError(describe(&e)))?;
                if let Some(server) = response
                    .headers()
                    .get("date")
                    .and_then(|d| d.to_str().ok())
                    .and_then(parse_http_date)
                {
                    let local = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs() as i64);
                    *lock(&skew) = Some(local - server);
                }
                let mut out = oauth2::http::Response::builder().status(response.status());
                for (name, value) in response.headers() {
                    out = out.header(name, value);
                }
                let bytes = response
                    .bytes()
                    .await
                    .map_err(|e| HttpError(describe(&e)))?;
                out.body(bytes.to_vec())
                    .map_err(|e| HttpError(e.to_string()))
            })
        }
    }

    /// An `oauth2` failure as one of ours.
    pub(super) fn refused<T>(&self, e: RequestTokenError<HttpError, T>) -> AuthError
    where
        T: oauth2::ErrorResponse + ServerError,
    {
        match e {
            RequestTokenError::ServerResponse(r) => AuthError::Refused {
                who: self.who(),
                tenant: self.tenant.clone(),
                code: r.code(),
                description: r
                    .description()
                    .map(|d| {
                        d.split(" Trace ID:")
                            .next()
                            .unwrap_or(&d)
                            .trim()
                            .to_string()
                    })
                    .unwrap_or_default(),
            },
            RequestTokenError::Request(e) => AuthError::Unreachable {
                url: self.token_url.clone(),
                reason: e.to_string(),
            },
            RequestTokenError::Parse(e, _) => AuthError::Unexpected {
                url: self.token_url.clone(),
                reason: e.to_string(),
            },
            RequestTokenError::Other(e) => AuthError::Unexpected {
                url: self.token_url.clone(),
                reason: e,
            },
        }
    }
}

/// The error code and description of a token endpoint's refusal, whatever the flow.
pub(super) trait ServerError {
    fn code(&self) -> String;
    fn description(&self) -> Option<String>;
}

impl<T: oauth2::ErrorResponseType + AsRef<str>> ServerError for oauth2::StandardErrorResponse<T> {
    fn code(&self) -> String {
        self.error().as_ref().to_string()
    }

    fn description(&self) -> Option<String> {
        self.error_description().cloned()
    }
}

/// Seconds since the epoch of an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn parse_http_date(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    Some(
        tenantry_common::calendar::days_from_civil(year, month, day) * 86_400
            + h * 3600
            + m * 60
            + s,
    )
}

/// One line for a transport error, without the request's URL parameters.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "connection failed"
    } else if e.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}
