//! The Exchange Online environments: for each cloud, where the admin API lives, which authority
//! signs tokens for it, and the scope to ask for (`reference/exchange-admin-api.md` §5).

use crate::exchange::RedirectHosts;
use crate::playbook::{Cloud, CustomEndpoints};

/// Where a tenant's admin API, sign-in authority and token scope are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoints {
    /// The admin API host, e.g. `https://outlook.office365.com`.
    pub rest: String,
    /// The sign-in authority, e.g. `https://login.microsoftonline.com`.
    pub authority: String,
    /// The token scope, e.g. `https://outlook.office365.com/.default`.
    pub scope: String,
    /// Where the admin API may redirect a tenant's calls (its regional hosts).
    pub redirect_hosts: RedirectHosts,
}

/// The regional hosts each cloud's front door redirects to: the service domain's hosts only
/// (`reference/exchange-admin-api.md` §9.1).
const WORLDWIDE_HOSTS: &[&str] = &["outlook.office365.com", "*.outlook.office365.com"];
/// GCC High and DoD share the `office365.us` domain.
const US_GOVERNMENT_HOSTS: &[&str] = &["*.office365.us"];
/// 21Vianet's hosts: `partner.outlook.cn` and the `office365.cn` names.
const CHINA_HOSTS: &[&str] = &["*.outlook.cn", "*.office365.cn"];

/// Why a cloud's endpoints cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CloudError {
    /// `cloud: custom` without `endpoints`.
    #[error("cloud: custom needs endpoints: {{ rest, authority, scope }}")]
    MissingEndpoints,
    /// `cloud: sandbox` before a sandbox was started.
    #[error("cloud: sandbox needs the built-in sandbox running; it starts with `tenantry run`")]
    NoSandbox,
    /// An `endpoints.redirect_hosts` entry that is not a host name or `*.domain`.
    #[error(
        "endpoints.redirect_hosts: `{0}` is not a host name or `*.domain` (write `eu.exchange.example.net` or `*.exchange.example.net`, no scheme, port or path)"
    )]
    BadRedirectHost(String),
    /// A URL that is not https, outside loopback.
    #[error(
        "{0} is not https: tokens and cmdlets only travel over TLS (plain http is allowed on loopback only)"
    )]
    NotHttps(String),
}

impl Endpoints {
    /// The endpoints of `cloud`; `custom` for `cloud: custom`, `sandbox` (its base URL) for
    /// `cloud: sandbox`.
    pub(crate) fn of(
        cloud: Cloud,
        custom: Option<&CustomEndpoints>,
        sandbox: Option<&str>,
    ) -> Result<Endpoints, CloudError> {
        let fixed = |rest: &str, authority: &str, hosts: &[&str]| Endpoints {
            rest: rest.to_string(),
            authority: authority.to_string(),
            scope: format!("{rest}/.default"),
            redirect_hosts: RedirectHosts::cloud(hosts),
        };
        let endpoints = match cloud {
            // Microsoft Cloud Deutschland closed in 2021; its tenants moved to worldwide.
            Cloud::Worldwide | Cloud::Gcc | Cloud::Germany => fixed(
                "https://outlook.office365.com",
                "https://login.microsoftonline.com",
                WORLDWIDE_HOSTS,
            ),
            Cloud::GccHigh => fixed(
                "https://outlook.office365.us",
                "https://login.microsoftonline.us",
                US_GOVERNMENT_HOSTS,
            ),
            Cloud::Dod => fixed(
                "https://outlook-dod.office365.us",
                "https://login.microsoftonline.us",
                US_GOVERNMENT_HOSTS,
            ),
            Cloud::China => fixed(
                "https://outlook.office365.cn",
                "https://login.chinacloudapi.cn",
                CHINA_HOSTS,
            ),
            Cloud::Sandbox => {
                let base = sandbox.ok_or(CloudError::NoSandbox)?.trim_end_matches('/');
                Endpoints {
                    rest: base.to_string(),
                    authority: base.to_string(),
                    // The sandbox issues tokens for Exchange Online's own resource.
                    scope: "https://outlook.office365.com/.default".to_string(),
                    // Its regional listener is on the same loopback host, another port.
                    redirect_hosts: RedirectHosts::custom::<&str>(base, &[]),
                }
            }
            Cloud::Custom => {
                let c = custom.ok_or(CloudError::MissingEndpoints)?;
                if let Some(bad) = c.redirect_hosts.iter().find(|h| !is_host_pattern(h)) {
                    return Err(CloudError::BadRedirectHost(bad.clone()));
                }
                Endpoints {
                    rest: c.rest.trim_end_matches('/').to_string(),
                    authority: c.authority.trim_end_matches('/').to_string(),
                    scope: c.scope.clone(),
                    redirect_hosts: RedirectHosts::custom(&c.rest, &c.redirect_hosts),
                }
            }
        };
        require_https(&endpoints.rest)?;
        require_https(&endpoints.authority)?;
        Ok(endpoints)
    }

    /// The token endpoint for a tenant (domain or GUID).
    pub(crate) fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.authority)
    }

    /// The InvokeCommand URL for a tenant.
    pub(crate) fn invoke_url(&self, tenant: &str) -> String {
        format!("{}/adminapi/beta/{tenant}/InvokeCommand", self.rest)
    }
}

/// Whether `pattern` is a host name (`eu.example.net`) or `*.domain` with at least two labels
/// under the star, so no entry can open a whole top-level domain.
fn is_host_pattern(pattern: &str) -> bool {
    let (wild, host) = match pattern.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    labels.iter().all(label_ok) && (!wild || labels.len() >= 2)
}

/// Whether a URL's host is this machine: `localhost` or a loopback address, IPv6 with or
/// without its brackets. Plain http is allowed there only.
pub(crate) fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Refuses a URL that is not https, unless it points at a loopback address.
pub(crate) fn require_https(url: &str) -> Result<(), CloudError> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Ok(());
    }
    if let Some(rest) = lower.strip_prefix("http://") {
        let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or("");
        // Credentials before `@` are not the host: `http://127.0.0.1:80@evil.example` goes to
        // evil.example.
        let authority = authority.rsplit('@').next().unwrap_or("");
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
        };
        if is_loopback(host) {
            return Ok(());
        }
    }
    Err(CloudError::NotHttps(url.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_has_its_hosts() {
        let ww = Endpoints::of(Cloud::Worldwide, None, None).unwrap();
        assert_eq!(
            ww.invoke_url("contoso.onmicrosoft.com"),
            "https://outlook.office365.com/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand"
        );
        assert_eq!(
            ww.token_url("contoso.onmicrosoft.com"),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(Endpoints::of(Cloud::Germany, None, None).unwrap(), ww);
        let dod = Endpoints::of(Cloud::Dod, None, None).unwrap();
        assert_eq!(dod.scope, "https://outlook-dod.office365.us/.default");
        assert_eq!(
            Endpoints::of(Cloud::China, None, None).unwrap().authority,
            "https://login.chinacloudapi.cn"
        );
        assert_eq!(
            Endpoints::of(Cloud::Sandbox, None, None),
            Err(CloudError::NoSandbox)
        );
        let sbx = Endpoints::of(Cloud::Sandbox, None, Some("http://127.0.0.1:5800/")).unwrap();
        assert_eq!(sbx.rest, "http://127.0.0.1:5800");
    }

    #[test]
    fn plain_http_is_refused_outside_loopback() {
        for ok in [
            "https://proxy.example.net",
            "http://127.0.0.1:8080",
            "http://localhost/x",
            "http://[::1]:80",
        ] {
            assert_eq!(require_https(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://outlook.office365.com",
            "http://10.0.0.1",
            "http://127.0.0.1.evil.example",
            "http://127.0.0.1:80@evil.example",
            "http://127.0.0.1@evil.example/x",
            "HTTP://evil.example",
            "ftp://x",
        ] {
            assert!(require_https(bad).is_err(), "{bad}");
        }
        let custom = CustomEndpoints {
            rest: "http://exchange.example.net".into(),
            authority: "https://login.example.net".into(),
            scope: "x".into(),
            redirect_hosts: Vec::new(),
            public_key: None,
        };
        assert!(matches!(
            Endpoints::of(Cloud::Custom, Some(&custom), None),
            Err(CloudError::NotHttps(_))
        ));
    }

    #[test]
    fn redirect_hosts_are_host_names_or_a_domain_under_a_star() {
        for ok in [
            "eu.exchange.example.net",
            "*.exchange.example.net",
            "localhost",
            "*.example.net",
        ] {
            assert!(is_host_pattern(ok), "{ok}");
        }
        for bad in [
            "*",
            "*.net",
            "https://eu.example.net",
            "eu.example.net:443",
            "eu.example.net/x",
            "",
            "a..b",
            "*.*.example.net",
        ] {
            assert!(!is_host_pattern(bad), "{bad}");
        }
    }
}
