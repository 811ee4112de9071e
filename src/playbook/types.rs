//! The typed playbook and tenant inventory, exactly as written in YAML. Unknown keys are
//! errors everywhere; the JSON Schema printed by `tenantry schema` is derived from these types.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::node::Node;
use crate::diagnostic::SourceFile;

/// A playbook file: which tenants, which variables and limits, and the steps to run.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "tenantry playbook")]
pub(crate) struct PlaybookDoc {
    /// The playbook language version; only `1` exists.
    #[schemars(with = "u32", extend("const" = 1))]
    pub(crate) version: Spanned<u32>,
    /// A human name for the playbook, shown in plans and reports.
    pub(crate) name: String,
    /// What the playbook does and why; free text.
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "free text for the playbook's readers; only parsed and checked"
    )]
    pub(crate) description: Option<String>,
    /// The tenants: an inline list, or the path of a YAML file holding that list (relative to
    /// the playbook).
    pub(crate) tenants: TenantsSource,
    /// Variables available to templates as `vars.NAME`; tenant vars and `--var` override them.
    #[serde(default)]
    pub(crate) vars: IndexMap<String, Node>,
    /// Concurrency limits.
    #[serde(default)]
    pub(crate) limits: Limits,
    /// Settings every step inherits unless it sets its own.
    #[serde(default)]
    pub(crate) defaults: StepDefaults,
    /// The steps, run in order within each tenant.
    pub(crate) steps: Vec<Step>,
    /// Roll the change out in waves of tenants, each starting only when the one before passed
    /// its gate.
    #[serde(default)]
    pub(crate) rollout: Option<Rollout>,
    /// Send up to this many calls of a step in one `$batch` request (2 to 20; 0, 1 or `false`
    /// for none, the default), for every step that does not set its own `batch`. Steps with
    /// `ensure` or `state` are never batched.
    #[serde(default)]
    #[schemars(with = "Option<BatchSize>")]
    pub(crate) batch: Option<Spanned<BatchSize>>,
    /// Webhooks to post the run's summary to when it ends, fails, or (`tenantry check`) finds
    /// new drift; their URLs come from environment variables or files, never from here.
    #[serde(default)]
    #[schemars(with = "Vec<super::notify::NotifySpec>")]
    pub(crate) notify: Vec<Spanned<super::notify::NotifySpec>>,
}

/// `rollout:`: waves of tenants, and the gate between them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rollout {
    /// The waves, in order: `{ limit: "tag:canary" }` for the tenants a selector picks, or a
    /// share such as `"10%"`, cumulative, of the tenants by a stable hash of their names (so
    /// adding a tenant moves no other). Each tenant is in the first wave that takes it; the
    /// last must take every tenant left (`"100%"`).
    pub(crate) waves: Vec<Wave>,
    /// The share of a wave's finished tasks that may fail before the next wave is held back
    /// (default 0: any failure, a write that did not take included, stops the rollout).
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub(crate) max_fail_percentage: Option<f64>,
    /// How long to wait between waves, e.g. `30m`, for a wave's effects to show.
    #[serde(default)]
    pub(crate) pause: Option<HumanDuration>,
}

/// One wave of a rollout.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum Wave {
    /// A cumulative share of the tenants, `"10%"`.
    Share(String),
    /// The tenants a selector picks, as `--limit` does (`tag:canary`, `contoso`).
    Limit {
        /// The selector.
        limit: String,
    },
}

impl Wave {
    /// As written: `10%`, or the selector.
    pub(crate) fn describe(&self) -> &str {
        match self {
            Wave::Share(share) => share,
            Wave::Limit { limit } => limit,
        }
    }
}

/// Where the tenants come from.
#[derive(Debug, JsonSchema)]
#[schemars(untagged)]
pub(crate) enum TenantsSource {
    /// The path of a YAML file holding a list of tenants, relative to the playbook.
    #[schemars(with = "String")]
    File(Spanned<String>),
    /// The tenants, inline.
    Inline(Vec<Tenant>),
}

impl<'de> Deserialize<'de> for TenantsSource {
    // Written by hand rather than `#[serde(untagged)]`: untagged enums buffer their input and
    // lose every source position inside it, and tenant errors must point at their line.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SourceVisitor;
        impl<'de> Visitor<'de> for SourceVisitor {
            type Value = Vec<Tenant>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of tenants or the path of a tenants file")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Tenant>, A::Error> {
                let mut out = Vec::new();
                while let Some(t) = seq.next_element()? {
                    out.push(t);
                }
                Ok(out)
            }
        }
        let node: Spanned<Either> = Spanned::deserialize(deserializer)?;
        return Ok(match node.value {
            Either::Path(path) => TenantsSource::File(Spanned {
                value: path,
                referenced: node.referenced,
                defined: node.defined,
            }),
            Either::List(list) => TenantsSource::Inline(list),
        });

        enum Either {
            Path(String),
            List(Vec<Tenant>),
        }
        impl<'de> Deserialize<'de> for Either {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct EitherVisitor;
                impl<'de> Visitor<'de> for EitherVisitor {
                    type Value = Either;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a list of tenants or the path of a tenants file")
                    }
                    fn visit_str<E>(self, s: &str) -> Result<Either, E> {
                        Ok(Either::Path(s.to_owned()))
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Either, A::Error> {
                        SourceVisitor.visit_seq(seq).map(Either::List)
                    }
                }
                d.deserialize_any(EitherVisitor)
            }
        }
    }
}

/// One Exchange Online organization to run the playbook against.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// A short unique name used in selectors, task ids and reports (letters, digits, `.`, `_`, `-`).
    #[schemars(with = "String")]
    pub(crate) name: Spanned<String>,
    /// The organization: its initial domain (`contoso.onmicrosoft.com`) or its tenant GUID.
    #[schemars(with = "String")]
    pub organization: Spanned<String>,
    /// The Microsoft cloud the tenant lives in.
    #[serde(default)]
    pub(crate) cloud: Cloud,
    /// Endpoints for `cloud: custom`; not allowed with any other cloud.
    #[serde(default)]
    pub(crate) endpoints: Option<CustomEndpoints>,
    /// Labels for selecting tenants with `--limit tag:NAME`.
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    /// How to sign in; secrets are named by environment variable or file, never written inline.
    /// Optional for `cloud: sandbox`.
    #[serde(default)]
    #[schemars(with = "Option<Auth>")]
    pub(crate) auth: Option<Spanned<Auth>>,
    /// A customer organization to manage with this identity (partner / GDAP access).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) delegated_organization: Option<Spanned<String>>,
    /// Variables for this tenant; they override the playbook's vars.
    #[serde(default)]
    pub(crate) vars: IndexMap<String, Node>,
    /// Limits for this tenant; they override the playbook's.
    #[serde(default)]
    pub(crate) limits: TenantLimits,
    /// The file this tenant was read from (the playbook or a tenants file).
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) source: Option<Arc<SourceFile>>,
}

impl Tenant {
    /// The tenant's name.
    pub(crate) fn name(&self) -> &str {
        &self.name.value
    }
}

/// The Microsoft cloud a tenant lives in; it decides the endpoints and the sign-in authority.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Cloud {
    /// Microsoft 365 worldwide (also GCC moderate).
    #[default]
    Worldwide,
    /// US Government Community Cloud (moderate); same endpoints as worldwide.
    Gcc,
    /// US Government GCC High.
    GccHigh,
    /// US Government DoD.
    Dod,
    /// Microsoft 365 operated by 21Vianet.
    China,
    /// The closed Microsoft Cloud Deutschland; its tenants now live in the worldwide cloud.
    Germany,
    /// tenantry's built-in emulator, started in-process; needs no credentials.
    Sandbox,
    /// Explicit endpoints given in `endpoints`.
    Custom,
}

impl Cloud {
    /// The name as written in YAML.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Cloud::Worldwide => "worldwide",
            Cloud::Gcc => "gcc",
            Cloud::GccHigh => "gcc-high",
            Cloud::Dod => "dod",
            Cloud::China => "china",
            Cloud::Germany => "germany",
            Cloud::Sandbox => "sandbox",
            Cloud::Custom => "custom",
        }
    }
}

/// Endpoints for `cloud: custom`: a proxy, a new national cloud or a test server.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomEndpoints {
    /// Base URL of the Exchange admin API host, e.g. `https://outlook.example.net`.
    pub(crate) rest: String,
    /// The sign-in authority, e.g. `https://login.example.net`.
    pub(crate) authority: String,
    /// The token scope, e.g. `https://outlook.example.net/.default`.
    pub(crate) scope: String,
    /// More hosts the admin API may redirect calls to, token and all: `host` or `*.domain`
    /// (any port). The `rest` host is always allowed.
    #[serde(default)]
    pub(crate) redirect_hosts: Vec<String>,
    /// A file holding the public key SecureString parameters are encrypted with, relative to
    /// the playbook: the `RSAKeyValue` XML the Exchange module ships, or a PEM public key.
    /// Without it, the key `TENANTRY_EXO_PUBLIC_KEY` names, else the module's built in.
    #[serde(default)]
    pub(crate) public_key: Option<PathBuf>,
}

/// How tenantry signs in to a tenant. Secrets come from environment variables or files only.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Auth {
    /// App-only sign-in with a certificate: a signed JWT client assertion.
    Certificate {
        /// The application (client) id of the app registration.
        app_id: String,
        /// PEM file holding the certificate (and the private key, unless `key_file` is given).
        certificate_file: PathBuf,
        /// PEM file holding the private key, when it is not in `certificate_file`.
        #[serde(default)]
        key_file: Option<PathBuf>,
        /// Environment variable holding the private key's passphrase, if it has one.
        #[serde(default)]
        key_password_env: Option<String>,
    },
    /// App-only sign-in with a client secret.
    ClientSecret {
        /// The application (client) id of the app registration.
        app_id: String,
        /// Environment variable holding the secret.
        #[serde(default)]
        secret_env: Option<String>,
        /// File holding the secret.
        #[serde(default)]
        secret_file: Option<PathBuf>,
    },
    /// Interactive sign-in for a user, with MFA, through the device-code flow.
    DeviceCode {
        /// The user's UPN.
        user: String,
        /// The public client id; defaults to the Exchange Online PowerShell module's.
        #[serde(default)]
        client_id: Option<String>,
    },
    /// The legacy resource-owner password flow, for accounts without MFA.
    Password {
        /// The user's UPN.
        user: String,
        /// Environment variable holding the password.
        #[serde(default)]
        password_env: Option<String>,
        /// File holding the password.
        #[serde(default)]
        password_file: Option<PathBuf>,
        /// The public client id; defaults to the Exchange Online PowerShell module's.
        #[serde(default)]
        client_id: Option<String>,
    },
    /// Workload identity federation: a client assertion read from a file.
    Federated {
        /// The application (client) id of the app registration.
        app_id: String,
        /// File holding the federated token; defaults to `$AZURE_FEDERATED_TOKEN_FILE`.
        #[serde(default)]
        token_file: Option<PathBuf>,
    },
    /// A ready access token.
    AccessToken {
        /// Environment variable holding the token.
        #[serde(default)]
        token_env: Option<String>,
        /// A command whose standard output is the token.
        #[serde(default)]
        token_command: Option<String>,
    },
}

impl Auth {
    /// The method's name as written in YAML.
    pub(crate) fn method(&self) -> &'static str {
        match self {
            Auth::Certificate { .. } => "certificate",
            Auth::ClientSecret { .. } => "client_secret",
            Auth::DeviceCode { .. } => "device_code",
            Auth::Password { .. } => "password",
            Auth::Federated { .. } => "federated",
            Auth::AccessToken { .. } => "access_token",
        }
    }
}

/// Playbook-wide concurrency limits.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Limits {
    /// Concurrent calls per tenant (default 3, Exchange Online's per-user connection limit).
    #[serde(default)]
    #[schemars(with = "Option<u32>", range(min = 1, max = 64))]
    pub(crate) connections_per_tenant: Option<Spanned<u32>>,
    /// Concurrent calls across all tenants (default 256).
    #[serde(default)]
    #[schemars(with = "Option<u32>", range(min = 1))]
    pub(crate) max_in_flight: Option<Spanned<u32>>,
    /// Stop dispatching when this percentage of finished tasks has failed: a number for
    /// each tenant and the whole run alike, or `{ tenant: N, run: M }`. Checked once 10
    /// tasks (of the tenant, or of the run) have finished.
    #[serde(default)]
    pub(crate) max_fail_percentage: Option<MaxFailPercentage>,
}

/// `limits.max_fail_percentage`.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum MaxFailPercentage {
    /// The same limit for each tenant and for the run.
    Both(#[schemars(range(min = 0, max = 100))] f64),
    /// Separate limits.
    Each(FailLimits),
}

/// `limits.max_fail_percentage: { tenant, run }`.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FailLimits {
    /// For each tenant: it stops, the others go on.
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub(crate) tenant: Option<f64>,
    /// For the whole run: every tenant stops.
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub(crate) run: Option<f64>,
}

impl MaxFailPercentage {
    /// The tenant's limit and the run's.
    pub(crate) fn limits(self) -> (Option<f64>, Option<f64>) {
        match self {
            MaxFailPercentage::Both(p) => (Some(p), Some(p)),
            MaxFailPercentage::Each(l) => (l.tenant, l.run),
        }
    }
}

/// Per-tenant limits.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantLimits {
    /// Concurrent calls for this tenant; overrides `limits.connections_per_tenant`.
    #[serde(default)]
    #[schemars(with = "Option<u32>", range(min = 1, max = 64))]
    pub(crate) connections: Option<Spanned<u32>>,
}

/// What a failing task does to the rest of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum OnError {
    /// Record the failure and go on with the tenant's next tasks.
    Continue,
    /// Stop this tenant's remaining steps; other tenants go on.
    #[default]
    StopTenant,
    /// Stop dispatching anywhere, finish what is in flight, and report.
    StopRun,
}

/// Settings every step inherits.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepDefaults {
    /// Default for `on_error` (default `stop-tenant`).
    #[serde(default)]
    pub(crate) on_error: Option<OnError>,
    /// Default for `retries` (default 0).
    #[serde(default)]
    pub(crate) retries: Option<u32>,
    /// Default for `timeout` (default 15m, the service's own cmdlet timeout).
    #[serde(default)]
    pub(crate) timeout: Option<HumanDuration>,
}

/// One cmdlet, run once per tenant or once per item of `for_each`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Step {
    /// An id other steps use to read this step's output (`steps.ID.output`); also names the
    /// step in task ids.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) id: Option<Spanned<String>>,
    /// A human name for the step.
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// The Exchange Online cmdlet, Verb-Noun (e.g. `Set-Mailbox`).
    #[schemars(with = "String")]
    pub(crate) cmdlet: Spanned<String>,
    /// The cmdlet's parameters; values may be templates.
    #[serde(default)]
    pub(crate) params: IndexMap<String, Node>,
    /// Run once per item: a list, or a template that yields a list (`{{ steps.x.output }}`,
    /// `{{ csv('users.csv') }}`).
    #[serde(default)]
    pub(crate) for_each: Option<Node>,
    /// The item's key in task ids (a template over `item`). By default: a string or number item
    /// itself; a mapping's Identity, UserPrincipalName, PrimarySmtpAddress, Email, Name or
    /// similar; else its values joined with commas; else a hash of the item.
    #[serde(default)]
    pub(crate) key: Option<Node>,
    /// Run only when this is true: a template, a bare expression, or a boolean.
    #[serde(default)]
    pub(crate) when: Option<Node>,
    /// What a failure does to the rest of the run.
    #[serde(default)]
    pub(crate) on_error: Option<OnError>,
    /// How many times to retry a failed cmdlet (transient service errors are always retried).
    #[serde(default)]
    pub(crate) retries: Option<u32>,
    /// Whether sending the call twice does no harm, so that `run --resume` may send again a
    /// call whose outcome a killed run never learned. Default: true for `Set-` cmdlets (and
    /// read-only ones), false for the rest.
    #[serde(default)]
    pub(crate) idempotent: Option<bool>,
    /// How long one call may take, e.g. `90s`, `5m`.
    #[serde(default)]
    pub(crate) timeout: Option<HumanDuration>,
    /// Labels for selecting steps with `--tags`.
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    /// `off` sends the call without checking it against the cmdlet catalog: for a cmdlet
    /// newer than the catalog, or one only some tenants have.
    #[serde(default)]
    pub(crate) catalog: Option<CatalogCheck>,
    /// Properties the object must have (desired state), with a `Set-` cmdlet: its current
    /// values are read (from the item when it carries them, else with the noun's `Get-`),
    /// compared by type, and only those that differ are sent; an object already right gets
    /// no call. Values may be templates.
    #[serde(default)]
    pub(crate) ensure: IndexMap<String, Node>,
    /// Whether the object named by `params` must exist: `present` creates it with the noun's
    /// `New-` (or `Add-`) cmdlet when it is missing, `absent` removes it with `Remove-`.
    #[serde(default)]
    #[schemars(with = "Option<EnsureState>")]
    pub(crate) state: Option<Spanned<EnsureState>>,
    /// With `ensure` or `state`: read the object again after writing, and fail the task when
    /// a value did not take. On by default.
    #[serde(default)]
    pub(crate) verify: Option<bool>,
    /// In `tenantry check`, ask the service what this write would do (sent with
    /// `Confirm: true`, as the Exchange module asks before a write, and answered with its
    /// confirmation message) instead of only showing the call.
    #[serde(default)]
    pub(crate) whatif: Option<bool>,
    /// Send up to this many of the step's calls in one `$batch` request (2 to 20; 0, 1 or
    /// `false` for none); overrides the playbook's `batch`. Not for steps with `ensure` or
    /// `state`.
    #[serde(default)]
    #[schemars(with = "Option<BatchSize>")]
    pub(crate) batch: Option<Spanned<BatchSize>>,
}

/// The most calls a playbook may put in one `$batch` request: 20, the sandbox's maximum and,
/// as far as anything public shows, a safe one (the service's own is not public); CIPP sends
/// 10. See [`crate::exchange::MAX_BATCH`].
pub(crate) const MAX_BATCH: i64 = crate::exchange::MAX_BATCH as i64;

/// `batch:` as written: how many calls go in one `$batch` request. `false` is read as 0; 0
/// and 1 mean none. The range is checked with the playbook's other values, so that a number
/// out of range is reported at its line with the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BatchSize(pub(crate) i64);

impl BatchSize {
    /// The calls per request this asks for: 1 (plain calls) for 0, 1 or `false`.
    pub(crate) fn calls(self) -> usize {
        usize::try_from(self.0.clamp(1, MAX_BATCH)).unwrap_or(1)
    }
}

impl JsonSchema for BatchSize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BatchSize".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Calls per `$batch` request: 2 to 20 (10 is what CIPP sends); 0, 1 or `false` for none.",
            "anyOf": [
                { "type": "integer", "minimum": 0, "maximum": MAX_BATCH },
                { "const": false }
            ]
        })
    }
}

impl<'de> Deserialize<'de> for BatchSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;
        impl Visitor<'_> for SizeVisitor {
            type Value = BatchSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of calls per batch (2 to 20), or `false` for none")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<BatchSize, E> {
                if b {
                    Err(E::custom(
                        "`batch: true` does not say how many calls go in one request: write a number from 2 to 20 (10 is usual), or `false` for none",
                    ))
                } else {
                    Ok(BatchSize(0))
                }
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<BatchSize, E> {
                Ok(BatchSize(n))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<BatchSize, E> {
                Ok(BatchSize(i64::try_from(n).unwrap_or(i64::MAX)))
            }
        }
        deserializer.deserialize_any(SizeVisitor)
    }
}

/// Whether an object must exist.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum EnsureState {
    /// It must exist, with the `ensure` properties: created when missing.
    Present,
    /// It must not exist: removed when found.
    Absent,
}

impl EnsureState {
    /// The name as written in YAML.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EnsureState::Present => "present",
            EnsureState::Absent => "absent",
        }
    }
}

/// Whether a step's call is checked against the cmdlet catalog.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum CatalogCheck {
    /// Checked (the default).
    On,
    /// Not checked, and its values encoded without their documented types.
    Off,
}

/// A duration written as a number with a unit: `500ms`, `90s`, `5m`, `1h30m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[schemars(with = "String")]
pub(crate) struct HumanDuration(pub(crate) Duration);

impl HumanDuration {
    /// Parses `500ms`, `90s`, `5m`, `1h30m`, `2d`.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid duration `{text}`: write a number with a unit, like 500ms, 90s, 5m or 1h30m"
            )
        };
        let mut total = Duration::ZERO;
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
            if digits == 0 {
                return Err(bad());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let part = match &rest[..unit_len] {
                "ms" => Duration::from_millis(n),
                "s" => Duration::from_secs(n),
                "m" => Duration::from_secs(n.saturating_mul(60)),
                "h" => Duration::from_secs(n.saturating_mul(3600)),
                "d" => Duration::from_secs(n.saturating_mul(86_400)),
                _ => return Err(bad()),
            };
            total = total.saturating_add(part);
            rest = &rest[unit_len..];
        }
        Ok(Self(total))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if !ms.is_multiple_of(1000) {
            return write!(f, "{ms}ms");
        }
        let mut s = self.0.as_secs();
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
            if s >= size {
                write!(f, "{}{unit}", s / size)?;
                s %= size;
            }
        }
        if s > 0 || self.0.is_zero() {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        HumanDuration::parse(&text).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        for (text, secs, shown) in [
            ("90s", 90, "1m30s"),
            ("5m", 300, "5m"),
            ("1h30m", 5400, "1h30m"),
            ("2d", 172_800, "2d"),
        ] {
            let d = HumanDuration::parse(text).unwrap();
            assert_eq!(d.0, Duration::from_secs(secs), "{text}");
            assert_eq!(d.to_string(), shown);
        }
        assert_eq!(HumanDuration::parse("250ms").unwrap().to_string(), "250ms");
        for bad in ["", "5", "m", "5x", "1.5h", "-3s"] {
            assert!(HumanDuration::parse(bad).is_err(), "{bad:?} should fail");
        }
    }
}
