//! Retries and throttling: the retry policy, backoff with jitter, `Retry-After` obeyed
//! tenant-wide, and each attempt's answer judged final, retryable, or of unknown outcome.

use std::time::Duration;

use serde_json::{Value, json};

use super::error::{error_message, parse_cmdlet_error};
use super::{Client, CmdletResult, ExchangeError};
use crate::auth::{AccessToken, AuthError};

/// The longest `Retry-After` honoured; anything longer is taken as a mistake.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);
/// The most one call waits in all for the service's named waits (`Retry-After`) before it
/// gives up: throttling that lasts longer than this is an outage, for `--deadline` and the
/// operator to judge.
const MAX_THROTTLED: Duration = Duration::from_secs(60 * 60);
/// The wait after the tenant's concurrency refusal when it names none (its plain-text form
/// carries no `Retry-After`): a second, as the service's 429 usually asks.
const CONCURRENCY_WAIT: Duration = Duration::from_secs(1);

/// How transient failures are retried.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff; it doubles each time (the module's 2 s × 2ⁿ).
    pub base: Duration,
    /// The longest backoff between attempts (a `Retry-After` from the service is honoured in
    /// full).
    pub max_wait: Duration,
    /// Send a write again when its answer was lost (504, a connection cut after sending): only
    /// for writes that are safe to repeat.
    pub resend_unconfirmed_writes: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            base: Duration::from_secs(2),
            max_wait: Duration::from_secs(120),
            resend_unconfirmed_writes: false,
        }
    }
}

/// A tenant-wide pause: when the service throttles one call with `Retry-After`, every call to
/// that tenant waits it out, not only the one that was throttled, so the tenant's other slots
/// do not keep hitting the limit.
#[derive(Debug, Default)]
pub struct Throttle {
    until: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Throttle {
    /// Holds every call until `wait` from now (or longer, if already paused longer).
    pub fn pause(&self, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        let mut slot = self.until.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none_or(|current| current < until) {
            *slot = Some(until);
        }
    }

    /// Waits while the tenant is paused.
    pub async fn wait(&self) {
        loop {
            let until = *self.until.lock().unwrap_or_else(|e| e.into_inner());
            match until {
                Some(until) if until > tokio::time::Instant::now() => {
                    tokio::time::sleep_until(until).await;
                }
                _ => return,
            }
        }
    }
}

/// How one attempt ended.
pub(super) enum Attempt {
    Page(Value),
    Failed(ExchangeError),
    Unauthorized(String),
    /// The request went out and its answer was lost: retried for reads, and for writes only
    /// when the policy says they may be sent twice.
    Unconfirmed(String),
    Transient {
        reason: String,
        retry_after: Option<Duration>,
        /// The service refused it for the tenant's load (429, or the concurrency refusal),
        /// rather than being unavailable.
        throttled: bool,
    },
}

/// What one request carries: one cmdlet's call, or a `$batch` of calls.
#[derive(Clone, Copy, Debug)]
pub(super) enum Sending<'a> {
    /// One InvokeCommand call of this cmdlet.
    Cmdlet(&'a str),
    /// A `$batch` of InvokeCommand calls.
    Batch,
}

/// One call's attempts so far, against the policy's retries and the time it may spend
/// throttled.
#[derive(Default)]
pub(super) struct Attempts {
    /// Requests made.
    pub(super) made: u32,
    /// Attempts that count against `max_retries`: a wait the service names is obeyed
    /// rather than counted, up to MAX_THROTTLED in all, so a long burst of throttling
    /// delays a call instead of failing it.
    counted: u32,
    /// The service's named waits obeyed so far.
    throttled_for: Duration,
    /// Whether the token was already renewed after a 401.
    renewed: bool,
    /// Whether the service throttled an attempt (429, or the tenant's concurrency refusal).
    pub(super) throttled: bool,
}

impl Attempts {
    /// `made` requests already made, none yet counted against the retries.
    pub(super) fn made(made: u32) -> Self {
        Attempts {
            made,
            ..Attempts::default()
        }
    }

    /// Accounts for a retry after `reason`: the wait the service named, if any, or an error
    /// once the retries are spent.
    fn charge(
        &mut self,
        policy: &RetryPolicy,
        reason: &str,
        wait: Option<Duration>,
    ) -> Result<Option<Duration>, ExchangeError> {
        // The service named the wait: the whole tenant observes it, in full (a
        // `Retry-After: 0` still gets a short pause, so retries cannot spin).
        let named = wait.map(|w| w.clamp(Duration::from_millis(50), MAX_RETRY_AFTER));
        match named {
            // Waits under a second are counted like any retry: a service answering
            // `Retry-After: 0` over and over is failing, not throttling.
            Some(w) if w >= Duration::from_secs(1) && self.throttled_for + w <= MAX_THROTTLED => {
                self.throttled_for += w
            }
            _ => {
                self.counted += 1;
                if self.counted > policy.max_retries {
                    return Err(ExchangeError::Exhausted {
                        attempts: self.made,
                        last: reason.to_string(),
                    });
                }
            }
        }
        Ok(named)
    }
}

impl Client {
    /// One page (or one batch): the request, retried as the policy allows, `attempts` made
    /// so far counted. `resend` says whether it may be sent again when its answer was lost.
    pub(super) async fn send(
        &self,
        url: &str,
        sending: Sending<'_>,
        body: &Value,
        resend: bool,
        result: &mut CmdletResult,
        attempts: &mut Attempts,
    ) -> Result<Value, ExchangeError> {
        loop {
            attempts.made += 1;
            self.throttle.wait().await;
            result.requests += 1;
            let token = self.token_for(attempts).await?;
            let mut paced = false;
            let outcome = match &token {
                Some(token) => self.attempt(url, sending, body, token, &mut paced).await,
                None => Attempt::Transient {
                    reason: "sign-in: the token endpoint did not answer".into(),
                    retry_after: None,
                    throttled: false,
                },
            };
            if paced {
                // Not a retry: the record shows the call met a spent budget and held the tenant.
                result.retries.push("rate-limit".into());
            }
            let (reason, wait) = match outcome {
                Attempt::Page(page) => return Ok(page),
                Attempt::Failed(e) => return Err(e),
                Attempt::Unauthorized(reason) => {
                    if attempts.renewed {
                        return Err(ExchangeError::Unauthorized { reason });
                    }
                    // Once: renew the token and go again at once.
                    attempts.renewed = true;
                    if let Some(token) = &token {
                        self.tokens.reject(token).await;
                    }
                    result.retries.push("401".into());
                    continue;
                }
                Attempt::Transient {
                    reason,
                    retry_after,
                    throttled,
                } => {
                    attempts.throttled |= throttled;
                    if throttled && matches!(sending, Sending::Batch) {
                        self.batches_throttled
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    (reason, retry_after)
                }
                Attempt::Unconfirmed(reason) => {
                    if !resend {
                        return Err(ExchangeError::Unconfirmed { reason });
                    }
                    (reason, None)
                }
            };
            self.back_off(attempts, &reason, wait, result).await?;
        }
    }

    /// Counts a failed attempt against the policy and waits before the next: the wait the
    /// service named, tenant-wide, or backoff. An error once the retries are spent.
    pub(super) async fn back_off(
        &self,
        attempts: &mut Attempts,
        reason: &str,
        wait: Option<Duration>,
        result: &mut CmdletResult,
    ) -> Result<(), ExchangeError> {
        let named = attempts.charge(&self.retry, reason, wait)?;
        result
            .retries
            .push(reason.split(':').next().unwrap_or("").to_string());
        match named {
            Some(wait) => self.throttle.pause(wait),
            None => tokio::time::sleep(backoff(&self.retry, attempts.counted.max(1))).await,
        }
        Ok(())
    }

    /// A token per request, as the module does: a long paging run outlives tokens. `None`
    /// when the sign-in endpoint did not answer and retries remain.
    async fn token_for(&self, attempts: &Attempts) -> Result<Option<AccessToken>, ExchangeError> {
        match self.tokens.token().await {
            Ok(token) => Ok(Some(token)),
            // The sign-in endpoint being unreachable is as transient as the API's.
            Err(AuthError::Unreachable { url, reason }) => {
                if attempts.counted >= self.retry.max_retries {
                    return Err(AuthError::Unreachable { url, reason }.into());
                }
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Whether a call whose answer was lost may be sent again: reads always, writes when
    /// the caller or the policy says they are safe to repeat.
    pub(super) fn may_resend(&self, cmdlet: &str, idempotent: bool) -> bool {
        idempotent
            || crate::playbook::verbs::is_read_only(cmdlet)
            || self.retry.resend_unconfirmed_writes
    }
}

/// The service's `Retry-After`, in seconds (fractions allowed).
pub(super) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

/// A `Retry-After` value: seconds, fractions allowed.
pub(super) fn parse_retry_after(value: &str) -> Option<Duration> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// A cmdlet error's class from the answer's `X-ExceptionType` header, when its body names
/// none.
pub(super) fn with_exception_type(attempt: Attempt, exception_type: Option<&str>) -> Attempt {
    match (attempt, exception_type.map(str::trim)) {
        (Attempt::Failed(ExchangeError::Cmdlet(mut e)), Some(class))
            if e.class.is_empty() && !class.is_empty() =>
        {
            e.class = class.to_string();
            Attempt::Failed(ExchangeError::Cmdlet(e))
        }
        (attempt, _) => attempt,
    }
}

/// Judges an answer: a page, a final failure, a renewal, or a retry.
pub(super) fn classify(
    status: u16,
    retry_after: Option<Duration>,
    challenge: Option<String>,
    bytes: &[u8],
) -> Attempt {
    // Throttling whatever its status and content type: refused before running. (429 and 503
    // are throttling already, and keep their own records.)
    if !matches!(status, 200 | 429 | 503 | 408) && concurrency_refusal(bytes) {
        return Attempt::Transient {
            reason: format!("{status} concurrency limit: the tenant's concurrent requests"),
            retry_after: Some(retry_after.unwrap_or(CONCURRENCY_WAIT)),
            throttled: true,
        };
    }
    let json: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    match status {
        200 if json.is_object() => Attempt::Page(json),
        200 => Attempt::Failed(ExchangeError::Unexpected {
            status,
            body: format!(
                "a success without a JSON body (a proxy's page?): {}",
                String::from_utf8_lossy(bytes)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
        }),
        204 => Attempt::Page(json!({"value": []})),
        401 => Attempt::Unauthorized(challenge.unwrap_or_else(|| "401".into())),
        403 => Attempt::Failed(ExchangeError::Forbidden {
            reason: error_message(&json),
        }),
        // Refused before running: always safe to send again.
        429 | 503 | 408 => Attempt::Transient {
            reason: format!("{status}: {}", error_message(&json)),
            retry_after,
            throttled: status == 429,
        },
        // A gateway timed out: the cmdlet may have run behind it.
        504 => Attempt::Unconfirmed(format!("504: {}", error_message(&json))),
        _ => match parse_cmdlet_error(status, &json) {
            Some(e) => Attempt::Failed(ExchangeError::Cmdlet(e)),
            None => Attempt::Failed(ExchangeError::Unexpected {
                status,
                body: String::from_utf8_lossy(bytes).chars().take(300).collect(),
            }),
        },
    }
}

/// Whether a body is the tenant's concurrency refusal ("You have reached the maximum number of
/// concurrent requests per tenant"), which may come as plain text with a status other than 429.
fn concurrency_refusal(bytes: &[u8]) -> bool {
    const TEXT: &[u8] = b"maximum number of concurrent requests";
    bytes[..bytes.len().min(4096)]
        .windows(TEXT.len())
        .any(|w| w.eq_ignore_ascii_case(TEXT))
}

/// Exponential backoff with full jitter: a random wait up to `base × 2^(attempt-1)`, at least
/// a tenth of it, so retries from many tasks do not arrive together.
fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let ceiling = policy
        .base
        .saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        )
        .min(policy.max_wait);
    let jitter = (next_random() % 1000) as f64 / 1000.0;
    ceiling.mul_f64(0.1 + 0.9 * jitter)
}

/// A random 64-bit number, without a random-number crate: hashing with a fresh `RandomState`.
pub(super) fn next_random() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_within_its_ceiling() {
        let policy = RetryPolicy {
            max_retries: 5,
            base: Duration::from_millis(100),
            max_wait: Duration::from_secs(1),
            resend_unconfirmed_writes: false,
        };
        for attempt in 1..=8 {
            let ceiling =
                Duration::from_millis(100 * (1 << (attempt - 1))).min(Duration::from_secs(1));
            for _ in 0..50 {
                let wait = backoff(&policy, attempt);
                assert!(
                    wait <= ceiling && wait >= ceiling / 10,
                    "{attempt}: {wait:?}"
                );
            }
        }
        assert!(backoff(&policy, 40) <= Duration::from_secs(1));
    }

    #[test]
    fn the_concurrency_refusal_is_throttling_whatever_its_form() {
        let text = b"You have reached the maximum number of concurrent requests per tenant. Please wait and try again";
        for status in [500, 400, 502] {
            match classify(status, None, None, text) {
                Attempt::Transient { retry_after, .. } => {
                    assert_eq!(retry_after, Some(CONCURRENCY_WAIT), "{status}")
                }
                _ => panic!("{status}: not throttling"),
            }
        }
        let json = br#"{"error":{"code":"TooManyRequests","message":"You have reached the Maximum Number of Concurrent Requests per tenant."}}"#;
        match classify(500, Some(Duration::from_secs(3)), None, json) {
            Attempt::Transient { retry_after, .. } => {
                assert_eq!(
                    retry_after,
                    Some(Duration::from_secs(3)),
                    "its own wait stands"
                )
            }
            _ => panic!("not throttling"),
        }
        // Any other 500 is not throttling.
        assert!(matches!(
            classify(500, None, None, b"Internal Server Error"),
            Attempt::Failed(_)
        ));
    }
}
