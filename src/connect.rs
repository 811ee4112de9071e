//! `tenantry connect`: the "how do you know it worked?" check. For each tenant it signs in,
//! runs one read-only cmdlet, and shows who is signed in, to which tenant, until when, and how
//! long the call took; when something fails, one line says what to do.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::Map;

use crate::auth::AuthError;
use crate::exchange::ExchangeError;
use crate::exit;
use crate::playbook::Playbook;
use crate::session::{SessionError, SessionOptions, Sessions};

/// What `connect` checks.
#[derive(Clone, Debug)]
pub(crate) struct ConnectOptions {
    /// The read-only cmdlet to run (`Get-OrganizationConfig`).
    pub cmdlet: String,
    /// `--proxy URL`.
    pub proxy: Option<String>,
    /// `--trace FILE`, created already.
    pub trace: Option<std::sync::Arc<crate::trace::Trace>>,
}

/// One tenant's check.
struct Outcome {
    tenant: String,
    result: Result<Connected, String>,
}

/// What a successful check learned.
struct Connected {
    who: String,
    tenant_id: String,
    expires_in: Duration,
    round_trip: Duration,
    skew: Option<i64>,
    /// The regional host the service redirected the tenant to, if it did.
    redirected_to: Option<String>,
}

/// Checks each of `selected` (playbook tenant indexes) and writes a report to `out`; returns
/// the exit code (0 all connected, 3 none, 1 some).
pub(crate) async fn connect(
    playbook: &Playbook,
    selected: &[usize],
    options: &ConnectOptions,
    out: &mut dyn Write,
) -> Result<i32, SessionError> {
    let Sessions { sessions, sandbox } = Sessions::open(
        playbook,
        selected,
        &SessionOptions {
            sandbox_latency: None,
            proxy: options.proxy.clone(),
            // A check should answer in seconds: one quick retry, not a run's patience.
            retry: Some(crate::exchange::RetryPolicy {
                max_retries: 1,
                base: Duration::from_millis(500),
                max_wait: Duration::from_secs(2),
                resend_unconfirmed_writes: false,
            }),
            trace: options.trace.clone(),
        },
    )
    .await?;
    for warning in sessions.iter().flat_map(|s| &s.warnings) {
        let _ = writeln!(out, "{warning}");
    }
    let proxy = crate::exchange::proxy_in_use(options.proxy.as_deref());
    let proxy = &proxy;
    // Interactive sign-ins first, one at a time; then every tenant's call at once.
    let mut early = Vec::new();
    for s in &sessions {
        early.push(if s.interactive {
            s.tokens.token().await.err()
        } else {
            None
        });
    }
    let checks = sessions.iter().zip(early).map(|(s, failed)| async move {
        let tenant = playbook.tenants[s.tenant].name().to_string();
        if let Some(e) = failed {
            return Outcome {
                tenant,
                result: Err(explain_auth(&e, proxy.as_deref())),
            };
        }
        let started = Instant::now();
        let result = match s.client.invoke(&options.cmdlet, &Map::new()).await {
            Ok(_) => match s.tokens.token().await {
                Ok(token) => Ok(Connected {
                    redirected_to: s.client.redirected_to(),
                    ..describe(
                        &token,
                        started.elapsed(),
                        s.tokens.who(),
                        s.tokens.clock_skew(),
                    )
                }),
                Err(e) => Err(explain_auth(&e, proxy.as_deref())),
            },
            Err(e) => Err(explain(&e, &options.cmdlet, proxy.as_deref())),
        };
        Outcome { tenant, result }
    });
    let outcomes = futures_util::future::join_all(checks).await;
    if let Some(trace) = &options.trace
        && let Err(e) = trace.finish()
    {
        let _ = writeln!(out, "warning: {e}");
    }
    let ok = print(&outcomes, &options.cmdlet, out);
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    Ok(match ok {
        n if n == outcomes.len() => exit::OK,
        0 => exit::NO_TENANT_REACHED,
        _ => exit::TASKS_FAILED,
    })
}

/// A line per tenant: who is connected where, or what failed; how many connected.
fn print(outcomes: &[Outcome], cmdlet: &str, out: &mut dyn Write) -> usize {
    let width = outcomes.iter().map(|o| o.tenant.len()).max().unwrap_or(6);
    let mut ok = 0;
    for o in outcomes {
        let written = match &o.result {
            Ok(c) => {
                ok += 1;
                let mut line = format!(
                    "{:width$}  connected as {} to tenant {}; token good for {} min; {} took {} ms",
                    o.tenant,
                    c.who,
                    c.tenant_id,
                    c.expires_in.as_secs() / 60,
                    cmdlet,
                    c.round_trip.as_millis()
                );
                if let Some(host) = &c.redirected_to {
                    line.push_str(&format!("; served by {host} (redirected)"));
                }
                if let Some(skew) = c.skew.filter(|s| s.abs() > 300) {
                    line.push_str(&format!(
                        "\n{:width$}  warning: this machine's clock is {} s {} the service's: fix it before certificate sign-ins start failing",
                        "",
                        skew.abs(),
                        if skew > 0 { "ahead of" } else { "behind" }
                    ));
                }
                writeln!(out, "{line}")
            }
            Err(why) => writeln!(out, "{:width$}  FAILED: {why}", o.tenant),
        };
        let _ = written;
    }
    ok
}

/// Who the token says is signed in, to which tenant, and for how long; `skew` is the sign-in
/// service's clock against this machine's.
fn describe(
    token: &crate::auth::AccessToken,
    round_trip: Duration,
    fallback: String,
    skew: Option<i64>,
) -> Connected {
    let claims = tenantry_common::jwt::parse(token.secret.expose()).ok();
    let claim = |name: &str| {
        claims
            .as_ref()
            .and_then(|c| c.claim_str(name).map(str::to_string))
    };
    let who = match (claim("upn"), claim("app_displayname"), claim("appid")) {
        (Some(upn), _, _) => format!("user {upn}"),
        (None, Some(name), Some(id)) => format!("app {id} ({name})"),
        _ => fallback,
    };
    Connected {
        who,
        tenant_id: claim("tid").unwrap_or_else(|| "(not in the token)".into()),
        // By this machine's clock, from the lifetime the service gave: `exp` is the
        // service's time, which a wrong clock would misread.
        expires_in: token.expires_at.saturating_duration_since(Instant::now()),
        round_trip,
        // From the sign-in service's `Date`, not the token's `iat`: Entra backdates `iat`, and
        // a ready-made token may be old.
        skew,
        redirected_to: None,
    }
}

/// One line for a failed call.
fn explain(e: &ExchangeError, cmdlet: &str, proxy: Option<&str>) -> String {
    match e {
        ExchangeError::Auth(a) => explain_auth(a, proxy),
        ExchangeError::Cmdlet(c) if c.short_class() == "CommandNotFoundException" => format!(
            "{e} (the account has no Exchange role that allows {cmdlet}, or the cmdlet does not exist: assign it Exchange Administrator, or Global Reader to read)"
        ),
        other => other.to_string(),
    }
}

/// One line for a failed sign-in, with the network's usual culprit named.
fn explain_auth(e: &AuthError, proxy: Option<&str>) -> String {
    match e {
        AuthError::Unreachable { url, reason } => {
            let lower = reason.to_ascii_lowercase();
            let hint = if lower.contains("certificate") || lower.contains("tls") {
                "TLS failed: a proxy or firewall may be inspecting traffic; trust its CA, or list the host in NO_PROXY".to_string()
            } else if lower.contains("dns") || lower.contains("lookup") || lower.contains("resolve")
            {
                "the host name does not resolve: check DNS, and the tenant's cloud".to_string()
            } else if let Some(proxy) = proxy
                && lower.contains("connect")
            {
                format!(
                    "the proxy {} did not take the connection: check --proxy and HTTPS_PROXY, or list the host in NO_PROXY",
                    crate::exchange::redact_password(proxy)
                )
            } else {
                "check the network, the firewall and the proxy".to_string()
            };
            format!("cannot reach the sign-in endpoint {url}: {reason} ({hint})")
        }
        other => other.to_string(),
    }
}
