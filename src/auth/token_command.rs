//! Tokens given ready-made: from an environment variable, or printed by an external command
//! that is run again whenever a new token is needed.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tenantry_common::jwt;

use super::{AccessToken, AuthError, Secret, TokenProvider, TokenSource};

/// The program a command line runs, without its arguments, which may carry credentials.
pub(super) fn program(command: &str) -> &str {
    command.split_whitespace().next().unwrap_or("")
}

impl TokenProvider {
    /// A token given ready-made: its lifetime is read from its `exp` claim when it has one.
    pub(super) async fn ready_token(&self, source: &TokenSource) -> Result<AccessToken, AuthError> {
        let text = match source {
            TokenSource::Env(var) => std::env::var(var).map_err(|_| AuthError::Credential {
                what: format!("the environment variable {var} (token_env) is not set"),
            })?,
            TokenSource::Command(command) => run_token_command(command).await?,
        };
        let text = text.trim().trim_start_matches("Bearer ").trim().to_string();
        if text.is_empty() {
            return Err(AuthError::Credential {
                what: "the access token given is empty".into(),
            });
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let exp = jwt::parse(&text).ok().and_then(|t| t.claim_i64("exp"));
        let left = match exp {
            Some(exp) if exp <= now => {
                return Err(AuthError::Credential {
                    what: format!(
                        "the access token given expired {}s ago: get a new one",
                        now - exp
                    ),
                });
            }
            Some(exp) => Duration::from_secs((exp - now) as u64),
            // Not a JWT we can read: assume an hour, Entra's usual lifetime.
            None => Duration::from_secs(3600),
        };
        let issued = Instant::now();
        let (user, tenant_id) = super::provider::token_routing(&text);
        Ok(AccessToken {
            user,
            tenant_id,
            secret: Secret::new(text),
            expires_at: issued + left,
            issued_at: issued,
            generation: self.fetches.fetch_add(1, Ordering::Relaxed) + 1,
        })
    }
}

/// Runs `command` in the platform's shell and takes its standard output as a token.
async fn run_token_command(command: &str) -> Result<String, AuthError> {
    let mut cmd = if cfg!(windows) {
        let mut c = tokio::process::Command::new("cmd");
        c.args(["/C", command]);
        c
    } else {
        let mut c = tokio::process::Command::new("sh");
        c.args(["-c", command]);
        c
    };
    cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
    let name = program(command);
    let output = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .map_err(|_| AuthError::Credential {
            what: format!("token_command ({name} …) did not finish within 120s"),
        })?
        .map_err(|e| AuthError::Credential {
            what: format!("cannot run token_command ({name} …): {e}"),
        })?;
    if !output.status.success() {
        // Its standard error, not its output: the output may hold part of a token.
        let why = String::from_utf8_lossy(&output.stderr);
        let why = why.lines().next().unwrap_or("").trim();
        return Err(AuthError::Credential {
            what: format!("token_command ({name} …) failed ({}): {why}", output.status),
        });
    }
    String::from_utf8(output.stdout).map_err(|_| AuthError::Credential {
        what: format!("token_command ({name} …) printed something that is not text"),
    })
}
