//! `tenantry sandbox`: start the sandbox in the foreground, print how to reach it, and serve
//! until Ctrl-C or SIGTERM.

use std::io::{self, Write};
use std::path::Path;

use super::identity::{
    APP_CERTIFICATE, APP_PRIVATE_KEY, APPS, EXCHANGE_RESOURCE, EXO_PUBLIC_CLIENT, USERS,
    WORKLOAD_AUDIENCE, WORKLOAD_SUBJECT,
};
use super::{Behaviour, Sandbox, SandboxConfig, SandboxError};
use crate::cli::SandboxArgs;
use crate::exit;

/// Runs `tenantry sandbox` and returns the exit code.
pub fn run(args: &SandboxArgs) -> Result<i32, SandboxError> {
    if let Some(dir) = &args.write_certificate {
        write_certificate(dir)?;
        return Ok(exit::OK);
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
        ..Behaviour::default()
    };
    behaviour.validate().map_err(|e| {
        SandboxError::Config(format!(
            "{}: check --limit, --rate and --retry-after",
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
        let stop = Stop::install();
        let banner = banner(&sandbox, args);
        let mut out = io::stdout().lock();
        // A closed stdout must not stop the server: it may run detached.
        let _ = out.write_all(banner.as_bytes());
        let _ = out.flush();
        drop(out);
        stop.wait().await;
        let stats = sandbox.stats();
        let requests: u64 = stats
            .tenants
            .values()
            .map(|t| t.statuses.values().sum::<u64>())
            .sum();
        let tokens: u64 = stats.tenants.values().map(|t| t.tokens()).sum();
        eprintln!(
            "sandbox stopped: {requests} admin API request{}, {tokens} token{} issued, {} write{}",
            crate::diagnostic::plural(requests as usize),
            crate::diagnostic::plural(tokens as usize),
            stats.writes.len(),
            crate::diagnostic::plural(stats.writes.len()),
        );
        sandbox.shutdown().await;
        Ok(exit::OK)
    })
}

/// Ctrl-C and SIGTERM, registered when created so no signal is missed after it.
struct Stop {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Stop {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            Stop { signals }
        }
        #[cfg(not(unix))]
        Stop {}
    }

    async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut int, mut term)) = self.signals {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
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

fn banner(sandbox: &Sandbox, args: &SandboxArgs) -> String {
    use std::fmt::Write as _;
    let url = sandbox.url();
    let tenants = sandbox.tenants();
    let mut s = String::new();
    let _ = writeln!(s, "tenantry sandbox listening on {url}  (Ctrl-C to stop)");
    let _ = writeln!(s);
    let faults = if args.faults.is_empty() {
        "none".to_string()
    } else {
        args.faults
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        s,
        "{} tenant{}, {} mailboxes each, seed {}; per tenant: limit {}, latency {}, token lifetime {}, faults {}",
        tenants.len(),
        crate::diagnostic::plural(tenants.len()),
        args.mailboxes,
        args.seed,
        args.limit,
        args.latency,
        super::config::fmt_duration(args.token_ttl),
        faults
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
    let first = tenants
        .first()
        .map(|t| t.domain.as_str())
        .unwrap_or("contoso.onmicrosoft.com");
    let _ = writeln!(s);
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
    let issuer = sandbox.workload_issuer();
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
    let _ = writeln!(s);
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
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "These credentials are public test values: they open nothing but this sandbox."
    );
    s
}
