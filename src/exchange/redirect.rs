//! Regional redirects: the front door (`outlook.office365.com`) may send a tenant's calls to
//! its regional host with a 301/302/307/308. They are followed here, by hand, because the
//! request carries a token: it goes again, whole, only to a host of the same cloud, and the
//! host it reached is kept for the tenant's later calls. The service's affinity cookie is kept
//! per tenant session alongside.

use std::sync::Mutex;

use reqwest::Url;
use reqwest::header::HeaderMap;

use super::ExchangeError;
use crate::cloud::require_https;

/// Hops followed at most for one request, as other clients of the service do.
pub(super) const MAX_HOPS: usize = 8;

/// The hosts a tenant's calls may be redirected to, token and all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectHosts {
    /// `host` (that host) or `*.domain` (any host under it), lowercase.
    patterns: Vec<String>,
    /// Whether any port is allowed; otherwise only https's own (443, or 446 rewritten).
    any_port: bool,
    /// Whether a custom endpoint's advice applies (`endpoints.redirect_hosts`).
    custom: bool,
}

impl RedirectHosts {
    /// Hosts of one of Microsoft's clouds: `host` or `*.domain` patterns, https on 443 only.
    pub fn cloud<S: AsRef<str>>(patterns: &[S]) -> Self {
        RedirectHosts {
            patterns: patterns
                .iter()
                .map(|p| p.as_ref().to_ascii_lowercase())
                .collect(),
            any_port: false,
            custom: false,
        }
    }

    /// Hosts of a custom endpoint (or the sandbox): its own host and `extra` patterns, on any
    /// port.
    pub fn custom<S: AsRef<str>>(url: &str, extra: &[S]) -> Self {
        let own = Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
        RedirectHosts {
            patterns: own
                .into_iter()
                .chain(extra.iter().map(|p| p.as_ref().to_ascii_lowercase()))
                .collect(),
            any_port: true,
            custom: true,
        }
    }

    /// Whether a call may follow a redirect to `url` with its token.
    pub fn allows(&self, url: &Url) -> bool {
        if require_https(url.as_str()).is_err()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return false;
        }
        if !self.any_port && url.port_or_known_default() != Some(443) {
            return false;
        }
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
            return false;
        };
        self.patterns.iter().any(|p| match p.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|head| head.ends_with('.') && head.len() > 1),
            None => host == *p,
        })
    }

    /// What to do about a refused host, for the error.
    fn advice(&self) -> &'static str {
        if self.custom {
            "if that host is yours, list it in the tenant's endpoints.redirect_hosts"
        } else {
            "it is not a host of the tenant's cloud; check the tenant's `cloud`, and any proxy rewriting answers"
        }
    }
}

/// Where a redirect answer sends a request from `from`: its `Location`, resolved against
/// `from`, with the service's backend port `:446` made `:443`; an error when it names no
/// usable place or a host outside `allowed` (the token is then not sent).
pub(super) fn target(
    from: &str,
    status: u16,
    headers: &HeaderMap,
    allowed: &RedirectHosts,
) -> Result<String, ExchangeError> {
    let here = host_of(from);
    let location = headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| ExchangeError::Unexpected {
            status,
            body: format!("a redirect from {here} without a Location"),
        })?;
    let mut to = Url::parse(from)
        .and_then(|base| base.join(location))
        .map_err(|_| ExchangeError::Unexpected {
            status,
            body: format!("a redirect from {here} to `{location}`, which is not a URL"),
        })?;
    rewrite_backend_port(&mut to);
    if !allowed.allows(&to) {
        return Err(ExchangeError::Redirect {
            from: here,
            to: host_of(to.as_str()),
            advice: allowed.advice(),
        });
    }
    Ok(to.to_string())
}

/// The service's `Location` sometimes names its backend port, 446; clients reach it on 443.
fn rewrite_backend_port(url: &mut Url) {
    if url.port() == Some(446) {
        let _ = url.set_port(if url.scheme() == "https" {
            None
        } else {
            Some(443)
        });
    }
}

/// `url` with its origin made `origin`'s (`https://emea.outlook.office365.com`): a tenant's
/// calls go straight to the host its first redirect reached.
pub(super) fn on_origin(url: &str, origin: &Url) -> String {
    let Ok(mut u) = Url::parse(url) else {
        return url.to_string();
    };
    if u.set_scheme(origin.scheme()).is_err()
        || u.set_host(origin.host_str()).is_err()
        || u.set_port(origin.port()).is_err()
    {
        return url.to_string();
    }
    u.to_string()
}

/// A next link as it is followed: with `:446` made `:443`.
pub(super) fn normalized(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            rewrite_backend_port(&mut u);
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// The origin of a URL, with `:446` made `:443` and the scheme's own port left implicit, for
/// comparing next links with where the calls go.
pub(super) fn origin_of(url: &str) -> Option<Url> {
    let mut u = Url::parse(url).ok()?;
    rewrite_backend_port(&mut u);
    u.set_path("/");
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    Some(u)
}

/// `host[:port]` of a URL, for messages.
fn host_of(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => url.to_string(),
        },
        Err(_) => url.to_string(),
    }
}

/// One cookie the service set.
#[derive(Debug)]
struct Cookie {
    /// The host it came from, or the domain it names (then any host under it matches).
    domain: String,
    host_only: bool,
    secure: bool,
    name: String,
    value: String,
}

/// A tenant session's cookies: the service's routing affinity is a cookie, and a call that
/// returns it reaches the same backend. Scoped by host as RFC 6265 says (ports do not count);
/// paths and expiry times are not kept, since a run is shorter than any of them.
#[derive(Debug, Default)]
pub(super) struct Cookies {
    jar: Mutex<Vec<Cookie>>,
}

/// Cookies kept per tenant at most: the service sets a handful.
const MAX_COOKIES: usize = 32;

impl Cookies {
    /// Keeps the cookies an answer from `url` set (`Set-Cookie`), dropping those it expires.
    pub(super) fn store(&self, url: &str, headers: &HeaderMap) {
        // Most answers set none: no URL parsed for them on the client's path.
        if !headers.contains_key("set-cookie") {
            return;
        }
        let Ok(url) = Url::parse(url) else { return };
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
            return;
        };
        for line in headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            let mut attributes = line.split(';').map(str::trim);
            let Some((name, value)) = attributes.next().and_then(|nv| nv.split_once('=')) else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.is_empty() {
                continue;
            }
            let mut cookie = Cookie {
                domain: host.clone(),
                host_only: true,
                secure: false,
                name: name.to_string(),
                value: value.to_string(),
            };
            let mut expired = false;
            for attribute in attributes {
                let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
                match key.trim().to_ascii_lowercase().as_str() {
                    "domain" => {
                        let domain = val.trim().trim_start_matches('.').to_ascii_lowercase();
                        // A cookie for another site is not this host's to set.
                        if !domain_matches(&host, &domain) {
                            expired = true;
                        }
                        cookie.domain = domain;
                        cookie.host_only = false;
                    }
                    "max-age" => expired |= val.trim().parse::<i64>().is_ok_and(|s| s <= 0),
                    "secure" => cookie.secure = true,
                    _ => {}
                }
            }
            let mut jar = self.jar.lock().unwrap_or_else(|e| e.into_inner());
            jar.retain(|c| !(c.name == cookie.name && c.domain == cookie.domain));
            if !expired && jar.len() < MAX_COOKIES {
                jar.push(cookie);
            }
        }
    }

    /// The `Cookie` header for a request to `url`, if any cookie applies.
    pub(super) fn header(&self, url: &str) -> Option<String> {
        // An empty jar (most tenants, most of the time) costs a lock, not a URL parse.
        if self
            .jar
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
        {
            return None;
        }
        let url = Url::parse(url).ok()?;
        let host = url.host_str()?.to_ascii_lowercase();
        // Secure cookies travel over TLS, or to loopback, which never leaves the machine.
        let private = url.scheme() == "https" || require_https(url.as_str()).is_ok();
        let jar = self.jar.lock().unwrap_or_else(|e| e.into_inner());
        let pairs: Vec<String> = jar
            .iter()
            .filter(|c| {
                let host_ok = if c.host_only {
                    c.domain == host
                } else {
                    domain_matches(&host, &c.domain)
                };
                host_ok && (!c.secure || private)
            })
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }
}

/// Whether `host` is `domain` or under it.
fn domain_matches(host: &str, domain: &str) -> bool {
    !domain.is_empty()
        && (host == domain
            || host
                .strip_suffix(domain)
                .is_some_and(|head| head.ends_with('.')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn location(to: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("location", HeaderValue::from_str(to).unwrap());
        h
    }

    const FRONT: &str =
        "https://outlook.office365.com/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand";

    fn worldwide() -> RedirectHosts {
        RedirectHosts::cloud(&["outlook.office365.com", "*.outlook.office365.com"])
    }

    #[test]
    fn regional_hosts_of_the_cloud_are_followed_and_the_backend_port_becomes_443() {
        let to = "https://emea.outlook.office365.com:446/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand";
        assert_eq!(
            target(FRONT, 302, &location(to), &worldwide()).unwrap(),
            "https://emea.outlook.office365.com/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand"
        );
        // Relative locations resolve against the request.
        assert_eq!(
            target(
                FRONT,
                307,
                &location("/adminapi/beta/x/InvokeCommand"),
                &worldwide()
            )
            .unwrap(),
            "https://outlook.office365.com/adminapi/beta/x/InvokeCommand"
        );
        assert!(
            target(
                FRONT,
                308,
                &location("https://APAC.Outlook.Office365.com:443/a"),
                &worldwide()
            )
            .is_ok()
        );
    }

    #[test]
    fn other_hosts_are_refused_naming_both() {
        for to in [
            "https://outlook.office365.com.evil.example/x",
            "https://evil.example/x",
            "http://emea.outlook.office365.com/x",
            "https://emea.outlook.office365.com:8443/x",
            "https://user:pw@emea.outlook.office365.com/x",
            "https://office365.com/x",
            "https://xoutlook.office365.com/x",
        ] {
            let err = target(FRONT, 302, &location(to), &worldwide()).unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(err, ExchangeError::Redirect { .. }),
                "{to}: {text}"
            );
            assert!(text.contains("outlook.office365.com"), "{text}");
        }
        let err = target(
            FRONT,
            302,
            &location("https://evil.example/x"),
            &worldwide(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("evil.example"), "{err}");
        assert!(target(FRONT, 302, &HeaderMap::new(), &worldwide()).is_err());
    }

    #[test]
    fn custom_endpoints_allow_their_host_on_any_port_and_the_listed_ones() {
        let custom = RedirectHosts::custom("https://exo.example.net", &["*.region.example.net"]);
        let from = "https://exo.example.net/adminapi/beta/t/InvokeCommand";
        assert!(
            target(
                from,
                302,
                &location("https://exo.example.net:8443/a"),
                &custom
            )
            .is_ok()
        );
        assert!(
            target(
                from,
                302,
                &location("https://eu.region.example.net/a"),
                &custom
            )
            .is_ok()
        );
        let err = target(from, 302, &location("https://other.example.net/a"), &custom).unwrap_err();
        assert!(
            err.to_string().contains("endpoints.redirect_hosts"),
            "{err}"
        );
        let sandbox = RedirectHosts::custom::<&str>("http://127.0.0.1:5800", &[]);
        assert!(sandbox.allows(&Url::parse("http://127.0.0.1:5900/x").unwrap()));
        assert!(!sandbox.allows(&Url::parse("http://localhost:5900/x").unwrap()));
    }

    #[test]
    fn calls_move_to_the_pinned_origin_and_next_links_compare_without_default_ports() {
        let pinned = origin_of("https://emea.outlook.office365.com/adminapi/x").unwrap();
        assert_eq!(
            on_origin(FRONT, &pinned),
            "https://emea.outlook.office365.com/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand"
        );
        for same in [
            "https://emea.outlook.office365.com:443/adminapi/beta/x/InvokeCommand?$skiptoken=1",
            "https://EMEA.outlook.office365.com:446/adminapi/beta/x/InvokeCommand",
        ] {
            assert_eq!(origin_of(same).unwrap(), pinned, "{same}");
        }
        assert_ne!(origin_of(FRONT).unwrap(), pinned);
    }

    #[test]
    fn cookies_return_to_their_host_and_domain_only() {
        let jar = Cookies::default();
        let mut h = HeaderMap::new();
        h.append(
            "set-cookie",
            HeaderValue::from_static("X-BackEndCookie=abc; path=/; secure; HttpOnly"),
        );
        h.append(
            "set-cookie",
            HeaderValue::from_static("wide=1; Domain=.office365.com"),
        );
        h.append(
            "set-cookie",
            HeaderValue::from_static("foreign=1; Domain=evil.example"),
        );
        jar.store("https://emea.outlook.office365.com/a", &h);
        assert_eq!(
            jar.header("https://emea.outlook.office365.com/b")
                .as_deref(),
            Some("X-BackEndCookie=abc; wide=1")
        );
        assert_eq!(
            jar.header("https://outlook.office365.com/b").as_deref(),
            Some("wide=1")
        );
        assert_eq!(jar.header("https://evil.example/b"), None);
        // Replaced, then expired.
        let mut again = HeaderMap::new();
        again.append(
            "set-cookie",
            HeaderValue::from_static("X-BackEndCookie=def"),
        );
        jar.store("https://emea.outlook.office365.com/a", &again);
        assert_eq!(
            jar.header("https://emea.outlook.office365.com/b")
                .as_deref(),
            Some("wide=1; X-BackEndCookie=def")
        );
        let mut gone = HeaderMap::new();
        gone.append(
            "set-cookie",
            HeaderValue::from_static("X-BackEndCookie=; Max-Age=0"),
        );
        jar.store("https://emea.outlook.office365.com/a", &gone);
        assert_eq!(
            jar.header("https://emea.outlook.office365.com/b")
                .as_deref(),
            Some("wide=1")
        );
    }
}
