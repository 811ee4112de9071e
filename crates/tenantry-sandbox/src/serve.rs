//! `tenantry sandbox`: start the sandbox in the foreground, print how to reach it, and serve
//! until Ctrl-C or SIGTERM.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::identity::{
    APP_CERTIFICATE, APP_PRIVATE_KEY, APPS, EXCHANGE_RESOURCE, EXO_PUBLIC_CLIENT, USERS,
    WORKLOAD_AUDIENCE, WORKLOAD_SUBJECT,
};
use super::{Behaviour, Sandbox, SandboxConfig, SandboxError, TenantInfo};
use crate::config::parse_duration;
use tenantry_common::signal::Signals;

/// Runs `tenantry sandbox` until Ctrl-C or SIGTERM (or, with `--write-certificate`, writes the
/// sample app's certificate and key and returns).
pub fn run(args: &ServeArgs) -> Result<(), SandboxError> {
    if let Some(dir) = &args.write_certificate {
        write_certificate(dir)?;
        return Ok(());
    }
    if args.tenants == 0 {
        return Err(SandboxError::Config("--tenants must be at least 1".into()));
    }
    let behaviour = Behaviour {
        limit: args.limit,
        rate: args.rate,
        retry_after: args.retry_after,
        latency: args.latency,
        faults: args.faults.clone(),
        error_details: args.error_details,
        concurrency_refusal: args.concurrency_refusal,
        compression: args.compression,
        redirect: args.redirect.map(|to| crate::config::Redirect {
            to,
            status: args.redirect_status,
        }),
        unapplied: args.unapplied.clone(),
        batch_connections: args.batch_connections,
        ..Behaviour::default()
    };
    behaviour.validate().map_err(|e| {
        SandboxError::Config(format!(
            "{}: check --limit, --rate, --retry-after and --unapplied",
            e.replace('_', "-")
        ))
    })?;
    let mut config = SandboxConfig::with_tenants(args.tenants, args.mailboxes)
        .each_tenant(|t| t.behaviour = behaviour.clone());
    config.port = args.port;
    config.seed = args.seed;
    config.token_ttl = args.token_ttl;
    config.clock_skew = args.clock_skew;
    config.device_code_interval = args.device_code_interval;
    config.require_anchor = args.require_anchor;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| SandboxError::Io(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let sandbox = Sandbox::start(config).await?;
        // Handlers go in before the banner: whoever reads it may signal at once.
        let mut stop = Signals::install();
        let banner = banner(&sandbox, args);
        let mut out = io::stdout().lock();
        // A closed stdout must not stop the server: it may run detached.
        let _ = out.write_all(banner.as_bytes());
        let _ = out.flush();
        drop(out);
        stop.next().await;
        let stats = sandbox.stats();
        let requests = stats.http_requests();
        let items = match stats.batch_items() {
            0 => String::new(),
            n => format!(" ({n} batch item{})", tenantry_common::plural(n as usize)),
        };
        let tokens: u64 = stats.tenants.values().map(|t| t.tokens()).sum();
        eprintln!(
            "sandbox stopped: {requests} admin API request{}{items}, {tokens} token{} issued, {} write{}",
            tenantry_common::plural(requests as usize),
            tenantry_common::plural(tokens as usize),
            stats.writes.len(),
            tenantry_common::plural(stats.writes.len()),
        );
        sandbox.shutdown().await;
        Ok(())
    })
}

/// The options of `tenantry sandbox`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The loopback port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 5800)]
    pub port: u16,
    /// How many tenants: contoso, fabrikam, northwind, … then tenant011 and on.
    #[arg(long, default_value_t = 3)]
    pub tenants: usize,
    /// User mailboxes per tenant.
    #[arg(long, default_value_t = 100)]
    pub mailboxes: usize,
    /// The seed of every directory (same seed, same directory) and of the fault draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Time each admin API call takes: `50ms`, a range `20ms..80ms`, or `exp:50ms`.
    #[arg(long, default_value = "0ms", value_parser = parse_latency)]
    pub latency: crate::Latency,
    /// Concurrent admin API requests per tenant; one more is answered with 429.
    #[arg(long, default_value_t = 3)]
    pub limit: usize,
    /// Sustained admin API requests per second per tenant (a token bucket); none by default.
    #[arg(long, value_name = "PER_SECOND")]
    pub rate: Option<f64>,
    /// The Retry-After sent with 429, in seconds (fractions allowed).
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub retry_after: f64,
    /// How long access tokens live (`60m`, `30s`).
    #[arg(long, default_value = "60m", value_parser = parse_duration)]
    pub token_ttl: std::time::Duration,
    /// Run the sign-in service's clock ahead (`10m`) or behind (`-10m`) this machine's, to
    /// rehearse a client with a wrong clock.
    #[arg(long, default_value = "0s", value_parser = parse_skew, allow_hyphen_values = true)]
    pub clock_skew: i64,
    /// Inject a fault into a fraction of admin API calls: 429, 503, 504, 401, drop (the
    /// connection closes unanswered), or applied-504 / applied-drop (the cmdlet runs, then the
    /// answer is lost), e.g. `--fault 503:0.01` (repeatable).
    #[arg(long = "fault", value_name = "KIND:RATE", value_parser = parse_fault)]
    pub faults: Vec<crate::Fault>,
    /// The polling interval device-code sign-ins ask for.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub device_code_interval: std::time::Duration,
    /// Require X-AnchorMailbox on beta InvokeCommand too (v2.0 always requires it).
    #[arg(long)]
    pub require_anchor: bool,
    /// How cmdlet errors write `details[0].message`: `pipe` (`Id|Class|Message`) or `json`
    /// (a JSON text with `Message` and `TypeName`), both forms the service is seen to use.
    #[arg(long, value_enum, default_value = "pipe")]
    pub error_details: crate::config::ErrorDetails,
    /// Refuse requests over `--limit` with this status and the service's plain-text message,
    /// without `Retry-After` (as its front end is seen to), instead of a JSON 429.
    #[arg(long, value_name = "STATUS")]
    pub concurrency_refusal: Option<u16>,
    /// Gzip answers for clients that accept it: `off`, `gzip`, or `mislabelled-errors`
    /// (successes compressed, errors labelled gzip and sent plain, as some of the service's are).
    #[arg(long, value_enum, default_value = "off")]
    pub compression: crate::config::Compression,
    /// Redirect every tenant's admin API calls from the front door: to the regional listener
    /// (which sets an affinity cookie), to a `foreign` host name no client should follow, or
    /// back to the front door (`loop`).
    #[arg(long, value_enum, value_name = "TO")]
    pub redirect: Option<crate::config::RedirectTo>,
    /// The status of `--redirect`: 301, 302, 307 or 308.
    #[arg(long, default_value_t = 302, value_name = "STATUS")]
    pub redirect_status: u16,
    /// Accept these properties in Set- and New- calls without keeping them: the call succeeds
    /// and is logged, the value stays what it was, as the service sometimes keeps another
    /// value than the one it accepted; to rehearse a client that reads back what it wrote, e.g.
    /// `--unapplied RetainDeletedItemsFor` (repeatable, or comma-separated).
    #[arg(long, value_name = "PROPERTY", value_delimiter = ',')]
    pub unapplied: Vec<String>,
    /// How a `$batch` counts against `--limit` (the service does not say): `one` slot per
    /// batch, or as many as it has `items` (a batch that finds too few free is refused whole,
    /// as any request over the limit is).
    #[arg(long, value_enum, default_value = "one", value_name = "HOW")]
    pub batch_connections: crate::config::BatchConnections,
    /// Write the sample app's certificate and private key into this folder and exit.
    #[arg(long, value_name = "DIR")]
    pub write_certificate: Option<PathBuf>,
}

fn parse_latency(s: &str) -> Result<crate::Latency, String> {
    s.parse()
}

fn parse_fault(s: &str) -> Result<crate::Fault, String> {
    s.parse()
}

/// A signed duration in whole seconds: `10m`, `-90s`.
fn parse_skew(s: &str) -> Result<i64, String> {
    let (sign, rest) = match s.trim().strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, s.trim()),
    };
    let d = parse_duration(rest)?;
    i64::try_from(d.as_secs())
        .map(|n| sign * n)
        .map_err(|_| format!("`{s}` is too long"))
}

fn write_certificate(dir: &Path) -> Result<(), SandboxError> {
    let io = |e: io::Error, what: &Path| {
        SandboxError::Io(format!("cannot write {}: {e}", what.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| io(e, dir))?;
    let cert = dir.join("sandbox-app.crt");
    let key = dir.join("sandbox-app.key");
    std::fs::write(&cert, APP_CERTIFICATE).map_err(|e| io(e, &cert))?;
    write_private(&key, APP_PRIVATE_KEY).map_err(|e| io(e, &key))?;
    println!("wrote {} and {}", cert.display(), key.display());
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> io::Result<()> {
    std::fs::write(path, text)
}

fn banner(sandbox: &Sandbox, args: &ServeArgs) -> String {
    use std::fmt::Write as _;
    let url = sandbox.url();
    let tenants = sandbox.tenants();
    let issuer = sandbox.workload_issuer();
    let mut s = String::new();
    let _ = writeln!(s, "tenantry sandbox listening on {url}  (Ctrl-C to stop)");
    let _ = writeln!(
        s,
        "regional host (where --redirect sends calls): {}",
        sandbox.regional_url()
    );
    let _ = writeln!(s);
    write_tenants(&mut s, args, &tenants, &url);
    let first = tenants
        .first()
        .map(|t| t.domain.as_str())
        .unwrap_or("contoso.onmicrosoft.com");
    let _ = writeln!(s);
    write_endpoints(&mut s, &url, &issuer);
    let _ = writeln!(s);
    write_samples(&mut s, &issuer, first);
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "These credentials are public test values: they open nothing but this sandbox."
    );
    s
}

/// The banner's tenants: how they are shaped, and the first twenty by domain and id.
fn write_tenants(s: &mut String, args: &ServeArgs, tenants: &[TenantInfo], url: &str) {
    use std::fmt::Write as _;
    let faults = if args.faults.is_empty() {
        "none".to_string()
    } else {
        args.faults
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut extra = if args.unapplied.is_empty() {
        String::new()
    } else {
        format!(", unapplied {}", args.unapplied.join(", "))
    };
    if args.batch_connections == crate::config::BatchConnections::Items {
        extra.push_str(", a $batch takes a slot per item");
    }
    let _ = writeln!(
        s,
        "{} tenant{}, {} mailboxes each, seed {}; per tenant: limit {}, latency {}, token lifetime {}, faults {}{}",
        tenants.len(),
        tenantry_common::plural(tenants.len()),
        args.mailboxes,
        args.seed,
        args.limit,
        args.latency,
        super::config::fmt_duration(args.token_ttl),
        faults,
        extra
    );
    let width = tenants.iter().map(|t| t.domain.len()).max().unwrap_or(0);
    for t in tenants.iter().take(20) {
        let _ = writeln!(s, "  {:width$}  {}", t.domain, t.id);
    }
    if tenants.len() > 20 {
        let _ = writeln!(
            s,
            "  … and {} more ({url}/sandbox/tenants)",
            tenants.len() - 20
        );
    }
}

/// The banner's endpoints: the admin API, tokens, device codes, workload identity, statistics.
fn write_endpoints(s: &mut String, url: &str, issuer: &str) {
    use std::fmt::Write as _;
    let _ = writeln!(
        s,
        "Admin API      POST {url}/adminapi/beta/{{tenant}}/InvokeCommand  (and $batch, v2.0)"
    );
    let _ = writeln!(
        s,
        "Token          POST {url}/{{tenant}}/oauth2/v2.0/token  scope {EXCHANGE_RESOURCE}/.default"
    );
    let _ = writeln!(
        s,
        "Device code    POST {url}/{{tenant}}/oauth2/v2.0/devicecode, then approve at {url}/sandbox/devicelogin"
    );
    let _ = writeln!(
        s,
        "Workload OIDC  issuer {issuer}  (discovery {issuer}/.well-known/openid-configuration)"
    );
    let _ = writeln!(
        s,
        "Workload token curl -s {url}/sandbox/workload/token -d subject={WORKLOAD_SUBJECT}  (optional: audience, lifetime_seconds)"
    );
    let _ = writeln!(
        s,
        "               then client_credentials with client_assertion=<token>, client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer, no secret"
    );
    let _ = writeln!(s, "Statistics     GET  {url}/sandbox/stats");
    let _ = writeln!(
        s,
        "Public key     GET  {url}/sandbox/public-key  (SecureString parameters; a cloud: custom tenant names its file in endpoints.public_key)"
    );
}

/// The banner's sample apps and users, with their public test credentials.
fn write_samples(s: &mut String, issuer: &str, first: &str) {
    use std::fmt::Write as _;
    let _ = writeln!(
        s,
        "Sample apps (consented in every tenant; certificate: tenantry sandbox --write-certificate DIR)"
    );
    for app in APPS {
        let _ = writeln!(s, "  {}", app.name);
        let _ = writeln!(
            s,
            "    client_id {}   client_secret {}{}",
            app.client_id,
            app.client_secret,
            if app.certificate {
                "   certificate sandbox-app.crt"
            } else {
                ""
            }
        );
        if let Some(subject) = app.federated_subject {
            let _ = writeln!(
                s,
                "    federated credential: issuer {issuer}  subject {subject}  audience {WORKLOAD_AUDIENCE}"
            );
        }
    }
    let _ = writeln!(
        s,
        "Sample users (in every tenant; public client {EXO_PUBLIC_CLIENT})"
    );
    for user in USERS {
        let _ = writeln!(
            s,
            "  {}@{first:<w$} password {}{}",
            user.name,
            user.password,
            if user.mfa {
                "   MFA: sign in with device code"
            } else {
                ""
            },
            w = 0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::ServeArgs;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServeArgs,
    }

    #[test]
    fn a_batch_takes_one_connection_unless_told_items() {
        use crate::config::BatchConnections;
        let cli = Cli::try_parse_from(["sandbox"]).unwrap();
        assert_eq!(cli.args.batch_connections, BatchConnections::One);
        let cli = Cli::try_parse_from(["sandbox", "--batch-connections", "items"]).unwrap();
        assert_eq!(cli.args.batch_connections, BatchConnections::Items);
        assert!(Cli::try_parse_from(["sandbox", "--batch-connections", "all"]).is_err());
    }

    #[test]
    fn unapplied_properties_are_repeated_or_comma_separated() {
        let cli = Cli::try_parse_from([
            "sandbox",
            "--unapplied",
            "RetainDeletedItemsFor,Comments",
            "--unapplied",
            "DomainType",
        ])
        .unwrap();
        assert_eq!(
            cli.args.unapplied,
            ["RetainDeletedItemsFor", "Comments", "DomainType"]
        );
    }
}
