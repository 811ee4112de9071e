//! How a sandbox is shaped: its tenants, their limits, latency and injected faults.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::rng::Rng;
pub use tenantry_common::duration::{fmt_duration, parse_duration};

/// Tenant names the sandbox uses first, before `tenant011` and on.
const NAMES: &[&str] = &[
    "contoso",
    "fabrikam",
    "northwind",
    "adatum",
    "litware",
    "tailspin",
    "wingtip",
    "woodgrove",
    "proseware",
    "fourthcoffee",
];

/// Everything a sandbox needs to start.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// The address to listen on; loopback unless the caller insists.
    pub host: IpAddr,
    /// The port; 0 picks a free one.
    pub port: u16,
    /// The seed of every directory and of the fault draws.
    pub seed: u64,
    /// The tenants served.
    pub tenants: Vec<TenantConfig>,
    /// How long issued access tokens live.
    pub token_ttl: Duration,
    /// The polling interval a device code asks for.
    pub device_code_interval: Duration,
    /// Whether beta/v1.0 InvokeCommand requires `X-AnchorMailbox` (v2.0 always does).
    pub require_anchor: bool,
    /// The server-side cmdlet timeout: a call whose latency would exceed it gets 504.
    pub call_timeout: Duration,
    /// The certificate (PEM) registered for the sample apps; the built-in one when `None`.
    pub app_certificate: Option<String>,
    /// Seconds the sign-in service's clock runs ahead of this machine's (negative: behind),
    /// to rehearse a client whose clock is off.
    pub clock_skew: i64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            seed: 1,
            tenants: Vec::new(),
            token_ttl: Duration::from_secs(3600),
            device_code_interval: Duration::from_secs(5),
            require_anchor: false,
            call_timeout: Duration::from_secs(15 * 60),
            app_certificate: None,
            clock_skew: 0,
        }
    }
}

impl SandboxConfig {
    /// A sandbox of `count` tenants (contoso, fabrikam, northwind, … then tenant011, …), each
    /// with `mailboxes` user mailboxes.
    pub fn with_tenants(count: usize, mailboxes: usize) -> Self {
        let tenants = (0..count)
            .map(|i| {
                let name = match NAMES.get(i) {
                    Some(name) => (*name).to_string(),
                    None => format!("tenant{:03}", i + 1),
                };
                TenantConfig::new(&format!("{name}.onmicrosoft.com"), mailboxes)
            })
            .collect();
        SandboxConfig {
            tenants,
            ..SandboxConfig::default()
        }
    }

    /// A sandbox serving exactly these tenant domains (`contoso.onmicrosoft.com`, …).
    pub fn with_domains<S: AsRef<str>>(domains: &[S], mailboxes: usize) -> Self {
        SandboxConfig {
            tenants: domains
                .iter()
                .map(|d| TenantConfig::new(d.as_ref(), mailboxes))
                .collect(),
            ..SandboxConfig::default()
        }
    }

    /// Applies `f` to every tenant: the way to set one limit, latency or fault for all.
    pub fn each_tenant(mut self, f: impl Fn(&mut TenantConfig)) -> Self {
        self.tenants.iter_mut().for_each(f);
        self
    }
}

/// One sandbox tenant.
#[derive(Clone, Debug)]
pub struct TenantConfig {
    /// The initial domain, `<name>.onmicrosoft.com`.
    pub domain: String,
    /// The tenant GUID; derived from the seed and domain when `None`.
    pub id: Option<String>,
    /// How many user mailboxes the directory holds.
    pub mailboxes: usize,
    /// The service side of the tenant: limits, latency and faults, changeable while running.
    pub behaviour: Behaviour,
}

impl TenantConfig {
    /// A tenant with default behaviour.
    pub fn new(domain: &str, mailboxes: usize) -> Self {
        TenantConfig {
            domain: domain.to_ascii_lowercase(),
            id: None,
            mailboxes,
            behaviour: Behaviour::default(),
        }
    }

    /// The tenant GUID this configuration gives under `seed`.
    pub fn tenant_id(&self, seed: u64) -> String {
        match &self.id {
            Some(id) => id.to_ascii_lowercase(),
            None => Rng::derive(seed, &format!("tenant-id/{}", self.domain)).guid(),
        }
    }
}

/// How a tenant's admin API behaves: limits, latency, faults, and the properties it does not
/// keep.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Behaviour {
    /// Concurrent admin API requests allowed; one more is answered with 429.
    pub limit: usize,
    /// Sustained requests per second allowed (a token bucket); `None` for no rate limit.
    pub rate: Option<f64>,
    /// The bucket's size: requests allowed in a burst.
    pub burst: f64,
    /// The `Retry-After` sent with 429, in seconds (fractions allowed).
    pub retry_after: f64,
    /// Time each admin API call takes, from the request's arrival to its answer.
    pub latency: Latency,
    /// Faults injected at random, each with its rate.
    pub faults: Vec<Fault>,
    /// The `Retry-After` sent with injected 503 and 504, in seconds; none when `None`.
    pub fault_retry_after: Option<f64>,
    /// The status of cmdlet errors by exception (`ManagementObjectNotFoundException` → 404);
    /// 400 for any not listed, as the service answers nearly every cmdlet error.
    pub error_status: std::collections::BTreeMap<String, u16>,
    /// The form of `details[0].message` in cmdlet error bodies.
    pub error_details: ErrorDetails,
    /// The concurrency refusal as the plain text the service is seen to send with another
    /// status (this one), and no `Retry-After`; `None` for a JSON 429 with `Retry-After`.
    pub concurrency_refusal: Option<u16>,
    /// Refuse a person's token routed by the system mailbox (`X-AnchorMailbox: APP:…`), since
    /// no public client shows the service accepting it; `UPN:` is the hint for users. A guess,
    /// on by default.
    pub refuse_app_anchor_for_users: bool,
    /// Whether answers are gzip-compressed for clients that accept it.
    pub compression: Compression,
    /// Whether admin API URLs may name the tenant by its vanity domain (`contoso.com`); the
    /// documented forms are the GUID and the initial domain. On by default.
    pub vanity_urls: bool,
    /// Whether the front door redirects the tenant's admin API calls, and where to; `None`
    /// serves them where they arrive.
    pub redirect: Option<Redirect>,
    /// Properties that Set- and New- cmdlets accept but do not keep, named as the parameters
    /// that set them (`RetainDeletedItemsFor`; case-insensitive; never `Identity`). Such a call
    /// answers as if it had applied them and is in the write log, but the stored value stays
    /// what it was (for a New-, the default), as the service sometimes accepts a value and keeps
    /// another: for testing that a client reads back what it wrote.
    pub unapplied: Vec<String>,
    /// How a `$batch` counts against `limit`: one slot for the request, or one per item.
    pub batch_connections: BatchConnections,
}

/// How a `$batch` request counts against a tenant's concurrency limit, which the service does
/// not document: both ways can be rehearsed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum BatchConnections {
    /// A batch takes one slot, as any request does, however many items it holds.
    #[default]
    One,
    /// A batch takes one slot per item; when that many are not free the whole batch is refused
    /// as any request over the limit is (so one with more items than the limit never runs).
    Items,
}

impl BatchConnections {
    /// The slots of the limit a `$batch` of `items` requests takes.
    pub fn slots(self, items: usize) -> usize {
        match self {
            BatchConnections::One => 1,
            BatchConnections::Items => items.max(1),
        }
    }
}

/// A front-door redirect of a tenant's admin API calls, as the service sends a tenant to its
/// regional host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    /// Where the `Location` points.
    pub to: RedirectTo,
    /// The status: 301, 302, 307 or 308.
    #[serde(default = "Redirect::default_status")]
    pub status: u16,
}

impl Redirect {
    fn default_status() -> u16 {
        302
    }
}

/// Where a front-door redirect sends a tenant's calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum RedirectTo {
    /// The sandbox's second listener, its regional host, which keeps an affinity cookie.
    Regional,
    /// The regional listener under another host name (`localhost`), as a redirect off the
    /// service's domain would be: a client must not follow it, and must not send its token
    /// there; the listener counts what reaches it under that name.
    Foreign,
    /// The front door again, for ever.
    Loop,
}

/// How the admin API compresses its answers, for a request that accepts gzip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Never.
    #[default]
    Off,
    /// Every answer, `Content-Encoding: gzip`.
    Gzip,
    /// Successes gzip-compressed; errors labelled gzip with a plain body, as some of the
    /// service's error responses are seen to be.
    MislabelledErrors,
}

/// The two forms the service writes a cmdlet error's `details[0].message` in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ErrorDetails {
    /// `Id|Class|Message`, with the exception also under `innererror.internalexception`.
    #[default]
    Pipe,
    /// A JSON text, `{"Message": …, "TypeName": …, "InnerError": …}`, and no
    /// `internalexception`: the form some public clients read as the only one (observed, not
    /// documented), so that a client must parse it to learn the class.
    Json,
}

impl Behaviour {
    /// Checks that every value makes sense, naming the first that does not.
    pub fn validate(&self) -> Result<(), String> {
        if self.limit == 0 {
            return Err("limit must be at least 1".into());
        }
        if let Some(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err(format!(
                "rate {rate} is not a positive number of requests per second"
            ));
        }
        if !(self.burst.is_finite() && self.burst >= 1.0) {
            return Err(format!("burst {} must be at least 1", self.burst));
        }
        for (name, value) in [
            ("retry_after", Some(self.retry_after)),
            ("fault_retry_after", self.fault_retry_after),
        ] {
            if let Some(v) = value
                && !(v.is_finite() && (0.0..=86_400.0).contains(&v))
            {
                return Err(format!(
                    "{name} {v} is not a number of seconds between 0 and 86400"
                ));
            }
        }
        if let Some(status) = self.concurrency_refusal
            && !(400..=599).contains(&status)
        {
            return Err(format!(
                "concurrency_refusal {status} must be an error status, 400 to 599"
            ));
        }
        if let Some(r) = self.redirect
            && !matches!(r.status, 301 | 302 | 307 | 308)
        {
            return Err(format!(
                "redirect status {} must be 301, 302, 307 or 308",
                r.status
            ));
        }
        for name in &self.unapplied {
            let name = name.trim();
            if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == ',') {
                return Err(format!(
                    "unapplied '{name}' is not a property name such as RetainDeletedItemsFor"
                ));
            }
            // The call must still find its object.
            if name.eq_ignore_ascii_case("Identity") {
                return Err("unapplied cannot name Identity, which every Set- call needs".into());
            }
        }
        for (exception, status) in &self.error_status {
            if !matches!(status, 400 | 403 | 404 | 409 | 500 | 503) {
                return Err(format!(
                    "error_status for {exception} must be 400, 403, 404, 409, 500 or 503, not {status}"
                ));
            }
        }
        Ok(())
    }
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            limit: 3,
            rate: None,
            burst: 10.0,
            retry_after: 1.0,
            latency: Latency::Fixed(Duration::ZERO),
            faults: Vec::new(),
            fault_retry_after: None,
            error_status: std::collections::BTreeMap::new(),
            error_details: ErrorDetails::Pipe,
            concurrency_refusal: None,
            refuse_app_anchor_for_users: true,
            compression: Compression::Off,
            vanity_urls: true,
            redirect: None,
            unapplied: Vec::new(),
            batch_connections: BatchConnections::One,
        }
    }
}

/// The time an admin API call takes: fixed, or drawn from a distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    /// Always this long (`50ms`).
    Fixed(Duration),
    /// Uniform between two bounds (`20ms..80ms`).
    Uniform(Duration, Duration),
    /// Exponential with this mean (`exp:50ms`): mostly short, with a long tail.
    Exponential(Duration),
}

impl Latency {
    /// Draws one latency.
    pub fn draw(&self, rng: &mut Rng) -> Duration {
        match *self {
            Latency::Fixed(d) => d,
            Latency::Uniform(lo, hi) => lo + (hi.saturating_sub(lo)).mul_f64(rng.next_f64()),
            Latency::Exponential(mean) => {
                // Inverse transform; 1 - u is in (0, 1], so ln never sees zero. Capped at 20
                // means so one draw cannot stall a test.
                let x = -(1.0 - rng.next_f64()).ln();
                mean.mul_f64(x.min(20.0))
            }
        }
    }

    /// The mean latency, for computing ideal throughput.
    pub fn mean(&self) -> Duration {
        match *self {
            Latency::Fixed(d) | Latency::Exponential(d) => d,
            Latency::Uniform(lo, hi) => (lo + hi) / 2,
        }
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Latency::Fixed(d) => write!(f, "{}", fmt_duration(*d)),
            Latency::Uniform(a, b) => write!(f, "{}..{}", fmt_duration(*a), fmt_duration(*b)),
            Latency::Exponential(d) => write!(f, "exp:{}", fmt_duration(*d)),
        }
    }
}

impl FromStr for Latency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some(mean) = s.strip_prefix("exp:") {
            return Ok(Latency::Exponential(parse_duration(mean)?));
        }
        if let Some((lo, hi)) = s.split_once("..") {
            let (lo, hi) = (parse_duration(lo)?, parse_duration(hi)?);
            if hi < lo {
                return Err(format!("latency range '{s}' ends before it starts"));
            }
            return Ok(Latency::Uniform(lo, hi));
        }
        parse_duration(s).map(Latency::Fixed).map_err(|e| {
            format!("{e}; latency is a duration (50ms), a range (20ms..80ms) or exp:MEAN")
        })
    }
}

impl Serialize for Latency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Latency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What an injected fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// 429 Too Many Requests with `Retry-After`.
    TooManyRequests,
    /// 503 Service Unavailable.
    Unavailable,
    /// 504 Gateway Timeout.
    GatewayTimeout,
    /// 401 as if the token had been revoked.
    Unauthorized,
    /// The connection is closed without an answer.
    Drop,
    /// The cmdlet runs (a write is made), then 504 is answered: the client cannot know.
    AppliedTimeout,
    /// The cmdlet runs, then the connection is closed without an answer.
    AppliedDrop,
}

impl FaultKind {
    /// The name used in `--fault` and in statistics.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::TooManyRequests => "429",
            FaultKind::Unavailable => "503",
            FaultKind::GatewayTimeout => "504",
            FaultKind::Unauthorized => "401",
            FaultKind::Drop => "drop",
            FaultKind::AppliedTimeout => "applied-504",
            FaultKind::AppliedDrop => "applied-drop",
        }
    }

    /// Whether the fault can strike one item of a `$batch` alone, answered with its own status
    /// inside the batch's 200 (429, 503, 504, applied-504); a refused token or a lost
    /// connection strikes the whole request.
    pub fn strikes_items(self) -> bool {
        matches!(
            self,
            FaultKind::TooManyRequests
                | FaultKind::Unavailable
                | FaultKind::GatewayTimeout
                | FaultKind::AppliedTimeout
        )
    }
}

/// A fault injected into a fraction of admin API requests (`503:0.01`), and of the items of a
/// `$batch` for the kinds that can strike an item alone ([`FaultKind::strikes_items`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fault {
    /// What happens.
    pub kind: FaultKind,
    /// The fraction of requests it happens to, 0 to 1.
    pub rate: f64,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.name(), self.rate)
    }
}

impl FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, rate) = s
            .split_once(':')
            .ok_or_else(|| format!("fault '{s}' is not KIND:RATE, e.g. 503:0.01"))?;
        let kind = match kind.trim() {
            "429" => FaultKind::TooManyRequests,
            "503" => FaultKind::Unavailable,
            "504" => FaultKind::GatewayTimeout,
            "401" => FaultKind::Unauthorized,
            "drop" | "reset" => FaultKind::Drop,
            "applied-504" => FaultKind::AppliedTimeout,
            "applied-drop" => FaultKind::AppliedDrop,
            other => {
                return Err(format!(
                    "fault kind '{other}' is not one of 429, 503, 504, 401, drop, applied-504, applied-drop"
                ));
            }
        };
        let rate: f64 = rate
            .trim()
            .parse()
            .map_err(|_| format!("fault rate '{rate}' is not a number between 0 and 1"))?;
        if !(0.0..=1.0).contains(&rate) {
            return Err(format!("fault rate {rate} is not between 0 and 1"));
        }
        Ok(Fault { kind, rate })
    }
}

impl Serialize for Fault {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fault {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_and_fault_specs_parse_and_print_back() {
        for text in [
            "50ms",
            "20ms..80ms",
            "exp:50ms",
            "2s",
            "0s",
            "0.5ms",
            "1.25ms",
        ] {
            let latency: Latency = text.parse().unwrap();
            assert_eq!(latency.to_string(), text);
        }
        assert!("80ms..20ms".parse::<Latency>().is_err());
        assert!("fast".parse::<Latency>().is_err());
        let fault: Fault = "503:0.01".parse().unwrap();
        assert_eq!(fault.kind, FaultKind::Unavailable);
        assert_eq!(fault.to_string(), "503:0.01");
        assert!("500:0.1".parse::<Fault>().is_err());
        assert!("429:1.5".parse::<Fault>().is_err());
        assert!("429".parse::<Fault>().is_err());
        assert_eq!(
            "applied-504:0.1".parse::<Fault>().unwrap().kind,
            FaultKind::AppliedTimeout
        );
    }

    #[test]
    fn drawn_latencies_stay_in_range_and_average_near_the_mean() {
        let mut rng = Rng::new(3);
        let uniform: Latency = "20ms..80ms".parse().unwrap();
        let exp: Latency = "exp:50ms".parse().unwrap();
        let mut total = Duration::ZERO;
        for _ in 0..10_000 {
            let d = uniform.draw(&mut rng);
            assert!(d >= Duration::from_millis(20) && d <= Duration::from_millis(80));
            total += exp.draw(&mut rng);
        }
        let mean = total.as_secs_f64() / 10_000.0;
        assert!((0.045..0.055).contains(&mean), "exponential mean {mean}");
    }

    #[test]
    fn unapplied_properties_come_from_a_patch_and_are_checked() {
        let behaviour: Behaviour =
            serde_json::from_value(serde_json::json!({"unapplied": ["RetainDeletedItemsFor"]}))
                .unwrap();
        assert_eq!(behaviour.unapplied, ["RetainDeletedItemsFor"]);
        assert!(behaviour.validate().is_ok());
        for bad in ["", "two words", "a,b", "identity"] {
            let behaviour = Behaviour {
                unapplied: vec![bad.to_string()],
                ..Behaviour::default()
            };
            assert!(behaviour.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_batch_takes_one_slot_or_one_per_item_as_the_behaviour_says() {
        assert_eq!(
            Behaviour::default().batch_connections,
            BatchConnections::One
        );
        assert_eq!(BatchConnections::One.slots(20), 1);
        assert_eq!(BatchConnections::Items.slots(20), 20);
        assert_eq!(
            BatchConnections::Items.slots(0),
            1,
            "an empty batch is a request"
        );
        let behaviour: Behaviour =
            serde_json::from_value(serde_json::json!({"batch_connections": "items"})).unwrap();
        assert_eq!(behaviour.batch_connections, BatchConnections::Items);
        assert_eq!(
            serde_json::to_value(&behaviour).unwrap()["batch_connections"],
            "items"
        );
    }

    #[test]
    fn only_answer_faults_strike_a_batch_item_alone() {
        let striking: Vec<&str> = [
            FaultKind::TooManyRequests,
            FaultKind::Unavailable,
            FaultKind::GatewayTimeout,
            FaultKind::Unauthorized,
            FaultKind::Drop,
            FaultKind::AppliedTimeout,
            FaultKind::AppliedDrop,
        ]
        .into_iter()
        .filter(|k| k.strikes_items())
        .map(FaultKind::name)
        .collect();
        assert_eq!(striking, ["429", "503", "504", "applied-504"]);
    }

    #[test]
    fn tenant_names_and_ids_are_stable() {
        let config = SandboxConfig::with_tenants(12, 5);
        assert_eq!(config.tenants[0].domain, "contoso.onmicrosoft.com");
        assert_eq!(config.tenants[11].domain, "tenant012.onmicrosoft.com");
        let a = config.tenants[0].tenant_id(1);
        assert_eq!(a, config.tenants[0].tenant_id(1));
        assert_ne!(a, config.tenants[0].tenant_id(2));
        assert_ne!(a, config.tenants[1].tenant_id(1));
    }
}
