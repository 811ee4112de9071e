//! The HTTP side of the client: the reqwest client with TLS through rustls and the proxy the
//! environment names, the InvokeCommand request with the module's headers, and ids for it.

use std::time::Duration;

use serde_json::Value;

use super::redirect;
use super::retry::{Attempt, Sending, classify, next_random, retry_after, with_exception_type};
use super::{Client, ExchangeError};
use crate::auth::{AccessToken, describe};

/// Makes rustls use the ring provider for this process; reqwest needs one installed before a
/// client is built. Idempotent.
pub fn install_tls_provider() {
    // An error only means a provider is already installed, which is all this needs.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client for tokens and the admin API: TLS through rustls (platform trust store),
/// no redirects (a redirected token request would carry its secret elsewhere), and a total
/// timeout a minute above the service's own 15 minutes per cmdlet. Proxies as
/// [`http_client_via`] finds them in the environment.
pub fn http_client() -> Result<reqwest::Client, ExchangeError> {
    http_client_via(None)
}

/// [`http_client`] through `proxy`, else through `HTTPS_PROXY` (or `https_proxy`,
/// `ALL_PROXY`) when set. Only https traffic goes through a proxy, so loopback (the sandbox) is
/// always reached directly; `NO_PROXY` lists more hosts to reach directly.
pub fn http_client_via(proxy: Option<&str>) -> Result<reqwest::Client, ExchangeError> {
    install_tls_provider();
    let failed = ExchangeError::Setup;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    // The environment is read here, once, rather than by reqwest on its own, so that plain
    // http (loopback only) never goes to a proxy named by HTTP_PROXY.
    let mut builder = reqwest::Client::builder().no_proxy();
    if let Some(url) = proxy_in_use(proxy) {
        let mut bypass = env("NO_PROXY")
            .or_else(|| env("no_proxy"))
            .unwrap_or_default();
        bypass.push_str(",localhost,127.0.0.1,::1");
        let proxy = reqwest::Proxy::https(url.as_str())
            .map_err(|_| {
                failed(format!(
                    "the proxy `{}` is not a usable URL",
                    redact_password(&url)
                ))
            })?
            .no_proxy(reqwest::NoProxy::from_string(&bypass));
        builder = builder.proxy(proxy);
    }
    builder
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(16 * 60))
        .pool_idle_timeout(Duration::from_secs(90))
        .user_agent(concat!("tenantry/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ExchangeError::Setup(format!("cannot build the HTTP client: {e}")))
}

/// The proxy https traffic goes through: `flag` (`--proxy`), else `HTTPS_PROXY`,
/// `https_proxy`, `ALL_PROXY` or `all_proxy`.
pub fn proxy_in_use(flag: Option<&str>) -> Option<String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    flag.map(str::to_string)
        .or_else(|| env("HTTPS_PROXY"))
        .or_else(|| env("https_proxy"))
        .or_else(|| env("ALL_PROXY"))
        .or_else(|| env("all_proxy"))
}

/// `url` with its user info hidden, password and user alike: `http://***@proxy:3128`. Anything
/// before the last `@` goes, so no spelling of a URL (a `/` in the password, no scheme) can
/// show a password.
pub fn redact_password(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    match url.rfind('@') {
        Some(at) if at >= start => format!("{}***@{}", &url[..start], &url[at + 1..]),
        _ => url.to_string(),
    }
}

impl Client {
    /// One request for one page, its answer judged by [`classify`]. Redirects are followed
    /// here, hop by hop, to the hosts the tenant's calls may go to; the host reached is kept
    /// for the tenant's later calls.
    /// `paced` is set when the answer said the tenant's rate budget is spent and the tenant is
    /// now held until it is renewed.
    pub(super) async fn attempt(
        &self,
        url: &str,
        sending: Sending<'_>,
        body: &Value,
        token: &AccessToken,
        paced: &mut bool,
    ) -> Attempt {
        let mut url = std::borrow::Cow::Borrowed(url);
        let mut body = std::borrow::Cow::Borrowed(body);
        let mut hops = 0;
        let response = loop {
            let request = self.request(&url, sending, &body, token);
            // Through the `--trace` writer when there is one: an entry per request and answer,
            // each hop of a redirect its own.
            let response = match crate::trace::send(self.trace.as_deref(), request).await {
                Ok(r) => r,
                Err(e) if e.is_builder() => {
                    return Attempt::Failed(ExchangeError::Unexpected {
                        status: 0,
                        body: format!("the request cannot be built: {}", describe(&e)),
                    });
                }
                // Not connected: the service never saw the request.
                Err(e) if e.is_connect() => {
                    return Attempt::Transient {
                        reason: format!("connection: {}", describe(&e)),
                        retry_after: None,
                        throttled: false,
                    };
                }
                // Sent, then lost: the service may have run it.
                Err(e) => {
                    return Attempt::Unconfirmed(format!("connection: {}", describe(&e)));
                }
            };
            self.cookies.store(&url, response.headers());
            let status = response.status().as_u16();
            if !matches!(status, 301 | 302 | 307 | 308) {
                break response;
            }
            // A redirect answers before running anything: the same request goes again,
            // whole, to the place it names, if the token may go there.
            let next = match redirect::target(&url, status, response.headers(), &self.redirects) {
                Ok(next) => next,
                Err(e) => return Attempt::Failed(e),
            };
            hops += 1;
            if hops > redirect::MAX_HOPS {
                return Attempt::Failed(ExchangeError::Unexpected {
                    status,
                    body: format!(
                        "the admin API redirected the call more than {} times (last to {next}); not following",
                        redirect::MAX_HOPS
                    ),
                });
            }
            // A batch names each call's own URL: they go where the batch went.
            if let (Sending::Batch, Some(origin)) = (sending, redirect::origin_of(&next)) {
                body = std::borrow::Cow::Owned(super::batch::on_origin(&body, &origin));
            }
            url = std::borrow::Cow::Owned(next);
        };
        if hops > 0 {
            self.pin(&url);
        }
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        // The budget is spent: the tenant's next calls wait until it is renewed, rather than
        // be refused.
        if let Some(wait) = rate_limit_pause(response.headers()) {
            self.throttle.pause(wait);
            *paced = true;
        }
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let exception_type = response
            .headers()
            .get("x-exceptiontype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let encoding = response
            .headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        let bytes = match response.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Attempt::Unconfirmed(format!("connection: {}", describe(&e)));
            }
        };
        let bytes = decode(encoding.as_deref(), &bytes);
        with_exception_type(
            classify(status, retry_after, challenge, &bytes),
            exception_type.as_deref(),
        )
    }

    /// The InvokeCommand (or `$batch`) request, with the headers the module sends.
    ///
    /// What does not change from call to call (the URL parsed, the fixed headers, the
    /// `Authorization` value of the token in use) is made once and cloned: built afresh, it
    /// cost about as much CPU as the rest of sending a call.
    fn request(
        &self,
        url: &str,
        sending: Sending<'_>,
        body: &Value,
        token: &AccessToken,
    ) -> reqwest::RequestBuilder {
        use reqwest::header::{HeaderName, HeaderValue};
        let prepared = self.prepared.get_or_init(|| Prepared::new(self));
        let target = {
            let mut last = self.last_url.lock().unwrap_or_else(|e| e.into_inner());
            match &*last {
                Some(parsed) if parsed.as_str() == url => Some(parsed.clone()),
                _ => {
                    *last = reqwest::Url::parse(url).ok();
                    last.clone()
                }
            }
        };
        let request = match target {
            Some(parsed) => self.http.post(parsed),
            // reqwest says what is wrong with it.
            None => self.http.post(url),
        };
        let mut headers = match sending {
            Sending::Cmdlet(_) => prepared.cmdlet.clone(),
            // Each call of a batch is answered on its own, failed or not, as the module asks
            // (reference section 2.6); the cmdlet names travel in each call's own headers.
            Sending::Batch => prepared.batch.clone(),
        };
        headers.insert(reqwest::header::AUTHORIZATION, self.authorization(token));
        // The routing hint follows the sign-in: a person's calls are routed by their own
        // mailbox, an app's by the tenant's system mailbox.
        let anchor = match &token.user {
            Some(upn) => HeaderValue::from_str(&format!("UPN:{upn}")),
            None => HeaderValue::from_str(self.app_anchor()),
        };
        if let Ok(anchor) = anchor {
            headers.insert(HeaderName::from_static("x-anchormailbox"), anchor);
        }
        if let Ok(id) = HeaderValue::from_str(&uuid_like()) {
            headers.insert(HeaderName::from_static("client-request-id"), id);
        }
        if let Sending::Cmdlet(cmdlet) = sending
            && let Ok(cmdlet) = HeaderValue::from_str(cmdlet)
        {
            headers.insert(HeaderName::from_static("x-cmdletname"), cmdlet);
        }
        if let Some(cookies) = self.cookies.header(url)
            && let Ok(cookies) = HeaderValue::from_str(&cookies)
        {
            headers.insert(reqwest::header::COOKIE, cookies);
        }
        request.headers(headers).json(body)
    }

    /// `Authorization: Bearer …` for `token`, made once per token.
    fn authorization(&self, token: &AccessToken) -> reqwest::header::HeaderValue {
        let mut cached = self.bearer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((generation, value)) = &*cached
            && *generation == token.generation
        {
            return value.clone();
        }
        let mut value =
            reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.secret.expose()))
                .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static("Bearer"));
        value.set_sensitive(true);
        *cached = Some((token.generation, value.clone()));
        value
    }
}

/// The headers every call of a client sends, made once.
pub(super) struct Prepared {
    cmdlet: reqwest::header::HeaderMap,
    batch: reqwest::header::HeaderMap,
}

impl Prepared {
    fn new(client: &Client) -> Prepared {
        use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
        let mut common = HeaderMap::new();
        let set = |map: &mut HeaderMap, name: &'static str, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                map.insert(HeaderName::from_static(name), value);
            }
        };
        set(&mut common, "accept", "application/json");
        set(&mut common, "accept-encoding", "gzip, deflate");
        set(&mut common, "x-clientapplication", "tenantry");
        set(&mut common, "x-responseformat", "json");
        set(&mut common, "connection-id", &client.connection_id);
        let (mut cmdlet, mut batch) = (common.clone(), common);
        set(
            &mut cmdlet,
            "prefer",
            &format!("odata.maxpagesize={}", client.page_size),
        );
        set(
            &mut batch,
            "prefer",
            &format!(
                "odata.maxpagesize={};odata.continue-on-error",
                client.page_size
            ),
        );
        Prepared { cmdlet, batch }
    }
}

/// The longest a tenant is held for its rate-limit budget: a reset further away than this is
/// taken as a clock disagreement, not a plan.
const MAX_RATE_PAUSE: Duration = Duration::from_secs(60);

/// How long to hold a tenant whose `Rate-Limit-Remaining` is 0: until `Rate-Limit-Reset` (an
/// RFC 3339 time, or seconds), at most [`MAX_RATE_PAUSE`].
pub(super) fn rate_limit_pause(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if text("rate-limit-remaining")?.parse::<f64>().ok()? > 0.0 {
        return None;
    }
    let reset = text("rate-limit-reset")?;
    let wait = match reset.parse::<f64>() {
        Ok(seconds) => seconds,
        Err(_) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs_f64();
            rfc3339_seconds(reset)? - now
        }
    };
    (wait.is_finite() && wait > 0.0).then(|| Duration::from_secs_f64(wait).min(MAX_RATE_PAUSE))
}

/// Seconds since the epoch of an RFC 3339 time (`2026-11-30T10:07:29.250Z`, `…+01:00`).
fn rfc3339_seconds(text: &str) -> Option<f64> {
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, mo, day) = (d.next()??, d.next()??, d.next()??);
    let (clock, offset) = match time.find(['Z', 'z', '+', '-']) {
        Some(i) => time.split_at(i),
        None => return None,
    };
    let mut t = clock.splitn(3, ':');
    let (h, mi) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let sec: f64 = t.next()?.parse().ok()?;
    let offset = match offset {
        "Z" | "z" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (oh, om) = o[1..].split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    let days = tenantry_common::calendar::days_from_civil(y, mo, day);
    Some((days * 86_400 + h * 3600 + mi * 60 - offset) as f64 + sec)
}

/// The largest body a compressed answer may expand to: a page of 5,000 objects is a few
/// megabytes; this bounds a hostile or broken stream.
const MAX_DECODED: u64 = 512 * 1024 * 1024;

/// A body as sent, decoded when it says it is gzip- or deflate-compressed and is: some of the
/// service's error answers claim gzip and are plain, so the bytes decide, not the label.
pub(crate) fn decode<'a>(encoding: Option<&str>, bytes: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
    use std::io::Read;
    let mut out = Vec::new();
    let decoded = match encoding.map(str::trim) {
        Some("gzip" | "x-gzip") if bytes.starts_with(&[0x1f, 0x8b]) => {
            flate2::read::GzDecoder::new(bytes)
                .take(MAX_DECODED)
                .read_to_end(&mut out)
        }
        // HTTP's deflate is zlib-wrapped (a first byte of 0x78 for the usual window).
        Some("deflate") if bytes.first() == Some(&0x78) => flate2::read::ZlibDecoder::new(bytes)
            .take(MAX_DECODED)
            .read_to_end(&mut out),
        _ => return std::borrow::Cow::Borrowed(bytes),
    };
    match decoded {
        Ok(_) => std::borrow::Cow::Owned(out),
        Err(_) => std::borrow::Cow::Borrowed(bytes),
    }
}

/// A GUID-shaped random id for `client-request-id` and `connection-id`.
pub(super) fn uuid_like() -> String {
    let (a, b) = (next_random(), next_random());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_passwords_never_show() {
        assert_eq!(
            redact_password("http://me:s3cret@proxy:3128/x"),
            "http://***@proxy:3128/x"
        );
        assert_eq!(
            redact_password("http://me:pa/ss@proxy:3128"),
            "http://***@proxy:3128"
        );
        assert_eq!(redact_password("me:s3cret@proxy:3128"), "***@proxy:3128");
        assert_eq!(redact_password("http://proxy:3128"), "http://proxy:3128");
        assert_eq!(redact_password("not a url"), "not a url");
        let err = http_client_via(Some("http://me:s3cret@[bad")).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn compressed_answers_decode_and_mislabelled_ones_pass_through() {
        use std::io::Write;
        let text = br#"{"value":[{"Name":"a"}]}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(&*decode(Some("gzip"), &gz), text);
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(text).unwrap();
        assert_eq!(&*decode(Some("deflate"), &zlib.finish().unwrap()), text);
        // Labelled gzip, sent plain: taken as it is.
        assert_eq!(&*decode(Some("gzip"), text), text);
        // Gzip's magic, then garbage: taken as it is, for the error to be read from.
        assert_eq!(
            &*decode(Some("gzip"), &[0x1f, 0x8b, 1, 2, 3]),
            &[0x1f, 0x8b, 1, 2, 3]
        );
        assert_eq!(&*decode(None, &gz), &gz[..]);
    }

    #[test]
    fn a_spent_rate_budget_holds_the_tenant_until_its_reset() {
        use reqwest::header::{HeaderMap, HeaderValue};
        let headers = |remaining: &str, reset: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                "rate-limit-remaining",
                HeaderValue::from_str(remaining).unwrap(),
            );
            h.insert("rate-limit-reset", HeaderValue::from_str(reset).unwrap());
            h
        };
        assert_eq!(rfc3339_seconds("1970-01-02T00:00:01.5Z"), Some(86_401.5));
        assert_eq!(rfc3339_seconds("1970-01-01T01:00:00+01:00"), Some(0.0));
        assert_eq!(rfc3339_seconds("yesterday"), None);
        assert_eq!(
            rate_limit_pause(&headers("0", "0.25")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(rate_limit_pause(&headers("3", "0.25")), None, "budget left");
        // An RFC 3339 reset two seconds ahead.
        let at = std::time::SystemTime::now() + Duration::from_secs(2);
        let secs = at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let (y, m, d) = tenantry_common::calendar::civil_from_days(secs.div_euclid(86_400));
        let rem = secs.rem_euclid(86_400);
        let reset = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        );
        let wait = rate_limit_pause(&headers("0", &reset)).unwrap();
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(2),
            "{wait:?}"
        );
        // A reset past, or absurdly far: no hold, or a bounded one.
        assert_eq!(
            rate_limit_pause(&headers("0", "1970-01-01T00:00:00Z")),
            None
        );
        assert_eq!(
            rate_limit_pause(&headers("0", "99999")),
            Some(MAX_RATE_PAUSE)
        );
    }
}
