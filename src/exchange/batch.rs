//! `$batch`: several InvokeCommand calls of one tenant in one request (reference section 2.6),
//! as the module's batch helpers and CIPP's New-ExoBulkRequest send them.
//!
//! The batch goes through the same retries as a single call: throttled or unavailable as a
//! whole, it is sent again as the policy says (`Retry-After` obeyed tenant-wide); a 401 renews
//! the token once. Its answer is read call by call, each judged as a single call's answer is.
//! A call the service throttled or could not serve inside the batch is sent again alone; a
//! call whose answer is missing from the batch's may have run, and is sent again alone only
//! when that is safe (a read, or an idempotent write). A call with more pages goes on paging
//! alone. The batch holds one of the tenant's connections while all of this happens: the calls
//! sent alone go one after another.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::retry::{Attempt, Attempts, Sending, classify, parse_retry_after, with_exception_type};
use super::{Client, CmdletResult, ExchangeError, First, Prepared, redirect};
use crate::catalog::Cmdlet;

/// The most calls one `$batch` request carries; more are sent as several requests. The
/// service's own maximum is not public: 20 is the sandbox's, Microsoft Graph's `$batch` limit,
/// and as far as anything public shows a safe ceiling. CIPP, the one public client known to
/// batch these calls, sends 10.
pub const MAX_BATCH: usize = 20;

/// One call of a batch.
#[derive(Clone, Copy, Debug)]
pub struct BatchCall<'a> {
    /// The cmdlet.
    pub cmdlet: &'a str,
    /// Its documentation, which says how to encode each value.
    pub spec: Option<&'a Cmdlet>,
    /// Its parameters.
    pub params: &'a Map<String, Value>,
    /// Whether sending it twice does no harm.
    pub idempotent: bool,
}

/// What a batch did.
#[derive(Debug)]
pub struct BatchResult {
    /// Each call's outcome, in the order the calls were given. A call's `requests` count the
    /// batch's requests as its own, and its `retries` the batch's, written `batch 429`.
    pub items: Vec<Result<CmdletResult, ExchangeError>>,
    /// The service throttled the batch as a whole (429, or the tenant's concurrency refusal)
    /// at least once, retried or not.
    pub throttled: bool,
    /// The service refused the batch as a request (an answer in the 400s, or 501): what it
    /// said. Its calls were then sent alone.
    pub refused: Option<String>,
}

impl Client {
    /// How many times the service has throttled this tenant's `$batch` requests as a whole
    /// (429, or the tenant's concurrency refusal), each attempt counted as it is answered: a
    /// caller can send smaller batches at once, without waiting for the throttled one to end.
    pub fn batches_throttled(&self) -> u64 {
        self.batches_throttled
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs these calls, up to [`MAX_BATCH`] in each `$batch` request, and returns each one's
    /// outcome as [`Client::invoke_as`] would have. One call alone is sent as a plain call.
    pub async fn invoke_batch(&self, calls: &[BatchCall<'_>]) -> BatchResult {
        let mut items: Vec<Option<Result<CmdletResult, ExchangeError>>> =
            calls.iter().map(|_| None).collect();
        let mut prepared = Vec::with_capacity(calls.len());
        for (i, call) in calls.iter().enumerate() {
            // A value that cannot be sent fails its own call, unsent; the others go.
            match self.prepare(call.cmdlet, call.spec, call.params, call.idempotent) {
                Ok(p) => prepared.push((i, p)),
                Err(e) => items[i] = Some(Err(e)),
            }
        }
        let mut out = BatchResult {
            items: Vec::new(),
            throttled: false,
            refused: None,
        };
        for chunk in prepared.chunks(MAX_BATCH) {
            if let [(i, call)] = chunk {
                items[*i] = Some(self.alone(call, Attempts::default()).await);
            } else {
                self.send_batch(chunk, &mut items, &mut out).await;
            }
        }
        out.items = items
            .into_iter()
            .map(|item| {
                item.unwrap_or_else(|| {
                    Err(ExchangeError::Unexpected {
                        status: 0,
                        body: "the call was neither sent nor refused".into(),
                    })
                })
            })
            .collect();
        out
    }

    /// One `$batch` request for these calls (at least two), each call's outcome put in
    /// `items` at its place.
    async fn send_batch(
        &self,
        chunk: &[(usize, Prepared<'_>)],
        items: &mut [Option<Result<CmdletResult, ExchangeError>>],
        out: &mut BatchResult,
    ) {
        let invoke_url = self.first_url().await;
        let requests: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(k, (_, call))| {
                json!({
                    "id": (k + 1).to_string(),
                    "method": "POST",
                    "url": invoke_url,
                    // The headers a single call carries that are the call's own, not the
                    // connection's.
                    "headers": {
                        "Content-Type": "application/json",
                        "Accept": "application/json",
                        "X-CmdletName": call.cmdlet,
                        "X-ResponseFormat": "json",
                        "Prefer": format!("odata.maxpagesize={}", self.page_size),
                    },
                    "body": call.body,
                })
            })
            .collect();
        let body = json!({ "requests": requests });
        let mut outer = CmdletResult::default();
        let mut attempts = Attempts::default();
        // Sent again whole when its answer is lost only if every call in it may be.
        let resend = chunk.iter().all(|(_, call)| call.resend);
        let sent = self
            .send(
                &batch_url(&invoke_url),
                Sending::Batch,
                &body,
                resend,
                &mut outer,
                &mut attempts,
            )
            .await;
        drop(body);
        out.throttled |= attempts.throttled;
        // Each call counts the batch's requests and retries as its own.
        let start = || CmdletResult {
            requests: outer.requests,
            retries: outer.retries.iter().map(|r| format!("batch {r}")).collect(),
            ..CmdletResult::default()
        };
        match sent {
            Ok(mut answer) => {
                let mut answers = answers_by_id(&mut answer);
                for (k, (i, call)) in chunk.iter().enumerate() {
                    let mut result = start();
                    let outcome = match answers.remove(&(k + 1).to_string()) {
                        Some(item) => self.item(call, item, &mut result).await,
                        None => self.unanswered(call, &mut result).await,
                    };
                    items[*i] = Some(outcome.map(|()| result));
                }
            }
            // Lost after it was sent: the calls that may be sent again go alone.
            Err(ExchangeError::Unconfirmed { reason }) => {
                for (i, call) in chunk {
                    let mut result = start();
                    items[*i] = Some(if call.resend {
                        self.pages(call, First::Send(Attempts::default()), &mut result)
                            .await
                            .map(|()| result)
                    } else {
                        Err(ExchangeError::Unconfirmed {
                            reason: reason.clone(),
                        })
                    });
                }
            }
            Err(e) => {
                let refused = refused(&e);
                if refused.is_some() {
                    out.refused = refused.clone();
                }
                for (i, call) in chunk {
                    items[*i] = Some(match replicate(&e).filter(|_| refused.is_none()) {
                        Some(e) => Err(e),
                        // Never run: each call goes alone and meets its own outcome.
                        None => {
                            let mut result = start();
                            self.pages(call, First::Send(Attempts::default()), &mut result)
                                .await
                                .map(|()| result)
                        }
                    });
                }
            }
        }
    }

    /// A call's answer within the batch, judged as a single call's would be; what is
    /// retryable is retried alone, as the retry policy says.
    async fn item(
        &self,
        call: &Prepared<'_>,
        mut item: Value,
        result: &mut CmdletResult,
    ) -> Result<(), ExchangeError> {
        let Some(status) = item
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
        else {
            return self.unanswered(call, result).await;
        };
        let header = |name: &str| {
            item.get("headers")
                .and_then(Value::as_object)
                .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .and_then(|(_, v)| v.as_str())
                .map(str::to_string)
        };
        let retry_after = header("retry-after").as_deref().and_then(parse_retry_after);
        let exception_type = header("x-exceptiontype");
        let body = item.get_mut("body").map(Value::take).unwrap_or(Value::Null);
        let attempt = match body {
            // The usual answer, taken as it is.
            Value::Object(page) if status == 200 => Attempt::Page(Value::Object(page)),
            // Anything else is judged by the same rules as a single call's answer, from its
            // text (the concurrency refusal may come as a plain string).
            Value::String(text) => classify(status, retry_after, None, text.as_bytes()),
            Value::Null => classify(status, retry_after, None, b""),
            other => classify(
                status,
                retry_after,
                None,
                &serde_json::to_vec(&other).unwrap_or_default(),
            ),
        };
        match with_exception_type(attempt, exception_type.as_deref()) {
            Attempt::Page(page) => self.pages(call, First::Page(page), result).await,
            Attempt::Failed(e) => Err(e),
            // The batch's token was good (the batch was answered); the call alone renews it
            // should it need to.
            Attempt::Unauthorized(_) => {
                result.retries.push("401".into());
                self.pages(call, First::Send(Attempts::made(1)), result)
                    .await
            }
            Attempt::Transient {
                reason,
                retry_after,
                ..
            } => self.again_alone(call, &reason, retry_after, result).await,
            Attempt::Unconfirmed(reason) if call.resend => {
                self.again_alone(call, &reason, None, result).await
            }
            Attempt::Unconfirmed(reason) => Err(ExchangeError::Unconfirmed { reason }),
        }
    }

    /// A call whose answer the batch's answer does not hold: it may have run.
    async fn unanswered(
        &self,
        call: &Prepared<'_>,
        result: &mut CmdletResult,
    ) -> Result<(), ExchangeError> {
        let reason = "the batch's answer holds none for this call";
        if !call.resend {
            return Err(ExchangeError::Unconfirmed {
                reason: reason.into(),
            });
        }
        self.again_alone(
            call,
            &format!("unanswered in batch: {reason}"),
            None,
            result,
        )
        .await
    }

    /// Sends a call alone after its attempt in the batch failed for `reason`, as the retry
    /// policy would have sent it again.
    async fn again_alone(
        &self,
        call: &Prepared<'_>,
        reason: &str,
        wait: Option<Duration>,
        result: &mut CmdletResult,
    ) -> Result<(), ExchangeError> {
        let mut attempts = Attempts::made(1);
        self.back_off(&mut attempts, reason, wait, result).await?;
        self.pages(call, First::Send(attempts), result).await
    }

    /// A call sent alone, from its first page to its last.
    async fn alone(
        &self,
        call: &Prepared<'_>,
        attempts: Attempts,
    ) -> Result<CmdletResult, ExchangeError> {
        let mut result = CmdletResult::default();
        self.pages(call, First::Send(attempts), &mut result).await?;
        Ok(result)
    }
}

/// The `$batch` URL beside an InvokeCommand URL: its last path segment replaced, without the
/// query (a `$select` belongs to each call's own URL).
fn batch_url(invoke_url: &str) -> String {
    let path_end = invoke_url.find('?').unwrap_or(invoke_url.len());
    let path = &invoke_url[..path_end];
    match path.rfind('/') {
        Some(slash) => format!("{}/$batch", &path[..slash]),
        None => format!("{path}/$batch"),
    }
}

/// A batch's body with each call's URL moved to `origin`, where a redirect sent the batch.
pub(super) fn on_origin(body: &Value, origin: &reqwest::Url) -> Value {
    let mut body = body.clone();
    if let Some(requests) = body.get_mut("requests").and_then(Value::as_array_mut) {
        for request in requests {
            if let Some(url) = request.get("url").and_then(Value::as_str) {
                let moved = redirect::on_origin(url, origin);
                request["url"] = Value::String(moved);
            }
        }
    }
    body
}

/// The calls' answers in a batch's answer, by id (a number or a string), taken out of it.
fn answers_by_id(answer: &mut Value) -> HashMap<String, Value> {
    let Some(responses) = answer.get_mut("responses").and_then(Value::as_array_mut) else {
        return HashMap::new();
    };
    std::mem::take(responses)
        .into_iter()
        .filter_map(|item| {
            let id = match item.get("id") {
                Some(Value::String(id)) => id.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return None,
            };
            Some((id, item))
        })
        .collect()
}

/// What the service said when it refused the batch as a request, before running any of its
/// calls: an answer in the 400s that is neither throttling nor about the sign-in, or 501.
fn refused(e: &ExchangeError) -> Option<String> {
    let (status, said) = match e {
        ExchangeError::Cmdlet(c) => (c.status, c.to_string()),
        ExchangeError::Unexpected { status, body } => (*status, body.clone()),
        _ => return None,
    };
    let refusal =
        ((400..500).contains(&status) && !matches!(status, 401 | 403 | 408 | 429)) || status == 501;
    refusal.then(|| format!("{status} {}", said.trim_start_matches(": ")))
}

/// The same failure for another call of the batch, when it can be told again; `None` for the
/// failures a call alone would meet for itself (a sign-in that failed, an endpoint refused).
fn replicate(e: &ExchangeError) -> Option<ExchangeError> {
    Some(match e {
        ExchangeError::Cmdlet(c) => ExchangeError::Cmdlet(c.clone()),
        ExchangeError::Unconfirmed { reason } => ExchangeError::Unconfirmed {
            reason: reason.clone(),
        },
        ExchangeError::Unauthorized { reason } => ExchangeError::Unauthorized {
            reason: reason.clone(),
        },
        ExchangeError::Forbidden { reason } => ExchangeError::Forbidden {
            reason: reason.clone(),
        },
        ExchangeError::Exhausted { attempts, last } => ExchangeError::Exhausted {
            attempts: *attempts,
            last: last.clone(),
        },
        ExchangeError::Unexpected { status, body } => ExchangeError::Unexpected {
            status: *status,
            body: body.clone(),
        },
        ExchangeError::Redirect { from, to, advice } => ExchangeError::Redirect {
            from: from.clone(),
            to: to.clone(),
            advice,
        },
        ExchangeError::Setup(text) => ExchangeError::Setup(text.clone()),
        ExchangeError::Auth(_) | ExchangeError::Endpoint(_) | ExchangeError::Parameter(_) => {
            return None;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn the_batch_url_is_beside_invoke_command() {
        assert_eq!(
            batch_url(
                "https://outlook.office365.com/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand"
            ),
            "https://outlook.office365.com/adminapi/beta/contoso.onmicrosoft.com/$batch"
        );
        assert_eq!(
            batch_url("http://127.0.0.1:5800/adminapi/beta/x/InvokeCommand?$select=Name"),
            "http://127.0.0.1:5800/adminapi/beta/x/$batch"
        );
    }

    #[test]
    fn only_a_refusal_of_the_request_itself_sends_the_calls_alone() {
        let unexpected = |status| ExchangeError::Unexpected {
            status,
            body: String::new(),
        };
        for status in [400, 404, 405, 413, 501] {
            assert!(refused(&unexpected(status)).is_some(), "{status}");
        }
        for status in [200, 401, 403, 429, 500, 502] {
            assert!(refused(&unexpected(status)).is_none(), "{status}");
        }
        assert!(refused(&ExchangeError::Unconfirmed { reason: "x".into() }).is_none());
    }

    #[test]
    fn answers_are_found_by_id_in_any_order_and_form() {
        let mut answer = json!({"responses": [
            {"id": "2", "status": 200, "body": {"value": [2]}},
            {"id": 1, "status": 200, "body": {"value": [1]}},
            {"status": 200},
        ]});
        let answers = answers_by_id(&mut answer);
        assert_eq!(answers.len(), 2);
        assert_eq!(answers["1"]["body"]["value"], json!([1]));
        assert_eq!(answers["2"]["body"]["value"], json!([2]));
    }

    /// A request the test server saw: its path, headers (names lower-cased) and JSON body.
    #[derive(Clone, Debug)]
    struct Seen {
        path: String,
        headers: HashMap<String, String>,
        body: Value,
    }

    /// An answer: status, extra headers, body.
    type Answer = (u16, Vec<(&'static str, String)>, Value);
    /// Answers the admin API's requests (path, body, how many requests came before).
    type Handler = Arc<dyn Fn(&str, &Value, usize) -> Answer + Send + Sync>;

    /// A tiny HTTP/1.1 server on loopback, one request per connection: `/token` gives a token,
    /// everything else goes to `handler`. Every request it saw is kept.
    async fn serve(handler: Handler) -> (String, Arc<Mutex<Vec<Seen>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let handler = Arc::clone(&handler);
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 16 * 1024];
                    let head_end = loop {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    let mut lines = head.lines();
                    let path = lines
                        .next()
                        .and_then(|l| l.split(' ').nth(1))
                        .unwrap_or("")
                        .to_string();
                    let headers: HashMap<String, String> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                        .collect();
                    let length: usize = headers
                        .get("content-length")
                        .and_then(|l| l.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body: Value = serde_json::from_slice(&buf[head_end..head_end + length])
                        .unwrap_or_default();
                    let (status, extra, answer) = if path.ends_with("/token") {
                        let token = json!({"access_token": "test-token", "token_type": "Bearer", "expires_in": 3600});
                        (200, Vec::new(), token)
                    } else {
                        let before = {
                            let mut log = log.lock().unwrap();
                            log.push(Seen {
                                path: path.clone(),
                                headers,
                                body: body.clone(),
                            });
                            log.len() - 1
                        };
                        handler(&path, &body, before)
                    };
                    let text = answer.to_string();
                    let mut out = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                        text.len()
                    );
                    for (name, value) in extra {
                        out.push_str(&format!("{name}: {value}\r\n"));
                    }
                    out.push_str("\r\n");
                    out.push_str(&text);
                    let _ = socket.write_all(out.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        (url, seen)
    }

    fn client(url: &str) -> Client {
        let http = super::super::http_client().unwrap();
        let tokens = crate::auth::TokenProvider::new(
            http.clone(),
            &format!("{url}/token"),
            "contoso.onmicrosoft.com",
            "https://outlook.office365.com/.default",
            "app",
            crate::auth::Credential::Secret(crate::auth::Secret::new("secret")),
            Duration::from_secs(300),
        )
        .unwrap();
        let policy = super::super::RetryPolicy {
            max_retries: 3,
            base: Duration::from_millis(5),
            max_wait: Duration::from_millis(20),
            resend_unconfirmed_writes: false,
        };
        Client::new(
            http,
            &format!("{url}/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand"),
            "contoso.onmicrosoft.com",
            Arc::new(tokens),
            policy,
        )
        .unwrap()
    }

    /// The `Identity` a call's body names.
    fn identity(body: &Value) -> &str {
        body.pointer("/CmdletInput/Parameters/Identity")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    fn params(identity: &str) -> Map<String, Value> {
        json!({"Identity": identity}).as_object().cloned().unwrap()
    }

    fn call<'a>(cmdlet: &'a str, params: &'a Map<String, Value>) -> BatchCall<'a> {
        BatchCall {
            cmdlet,
            spec: None,
            params,
            idempotent: false,
        }
    }

    fn error_body(detail: &str) -> Value {
        json!({"error": {"code": "BadRequest", "message": "Error executing cmdlet",
            "details": [{"message": detail}]}})
    }

    /// One batch answered call by call: a success with a warning, a call throttled inside the
    /// batch (sent again alone, and then fine), a cmdlet error whose class only the item's
    /// `X-ExceptionType` names, a read with a second page (paged alone), a write and a read the
    /// answer leaves out (the write may have run and is not sent again; the read is).
    #[tokio::test]
    async fn each_call_of_a_batch_meets_its_own_outcome() {
        let handler: Handler = Arc::new(|path, body, _| {
            if path.ends_with("/$batch") {
                let requests = body["requests"].as_array().unwrap();
                let mut responses = Vec::new();
                for r in requests {
                    let id = r["id"].clone();
                    match identity(&r["body"]) {
                        "ok" => responses.push(json!({"id": id, "status": 200, "body": {"value": [], "@adminapi.warnings": ["no settings of 'ok' have been modified"]}})),
                        "busy" => responses.push(json!({"id": id, "status": 429, "headers": {"Retry-After": "0"}, "body": {"error": {"code": "TooManyRequests", "message": "slow down"}}})),
                        "ghost" => responses.push(json!({"id": id, "status": 404, "headers": {"X-ExceptionType": "ManagementObjectNotFoundException"}, "body": error_body("The operation couldn't be performed because object 'ghost' couldn't be found.")})),
                        "paged" => responses.push(json!({"id": id, "status": 200, "body": {"value": [{"n": 1}], "@odata.nextLink": format!("{}?$skiptoken=2", r["url"].as_str().unwrap())}})),
                        _ => {} // "lost-write", "lost-read": no answer
                    }
                }
                return (200, Vec::new(), json!({"responses": responses}));
            }
            let answer = match identity(body) {
                "busy" => json!({"value": [{"Identity": "busy"}]}),
                "paged" => json!({"value": [{"n": 2}]}),
                "lost-read" => json!({"value": [{"Identity": "lost-read"}]}),
                other => panic!("{other} should not be sent alone"),
            };
            (200, Vec::new(), answer)
        });
        let (url, seen) = serve(handler).await;
        let exo = client(&url);
        let names = ["ok", "busy", "ghost", "paged", "lost-write", "lost-read"];
        let all: Vec<Map<String, Value>> = names.iter().map(|n| params(n)).collect();
        let calls: Vec<BatchCall<'_>> = all
            .iter()
            .zip(names)
            .map(|(p, n)| {
                let cmdlet = if matches!(n, "paged" | "lost-read") {
                    "Get-Mailbox"
                } else {
                    "Set-Mailbox"
                };
                call(cmdlet, p)
            })
            .collect();
        let result = exo.invoke_batch(&calls).await;
        assert!(!result.throttled && result.refused.is_none());
        let [ok, busy, ghost, paged, lost_write, lost_read] = &result.items[..] else {
            panic!("six outcomes: {:?}", result.items)
        };
        let ok = ok.as_ref().unwrap();
        assert_eq!((ok.requests, ok.warnings.len()), (1, 1), "{ok:?}");
        let busy = busy.as_ref().unwrap();
        assert_eq!(busy.value, vec![json!({"Identity": "busy"})]);
        assert_eq!(
            (busy.requests, busy.retries.clone()),
            (2, vec!["429".to_string()])
        );
        match ghost {
            Err(ExchangeError::Cmdlet(e)) => {
                assert_eq!(e.short_class(), "ManagementObjectNotFoundException");
                assert_eq!(e.status, 404);
                assert!(e.message.contains("'ghost'"), "{e:?}");
            }
            other => panic!("ghost: {other:?}"),
        }
        let paged = paged.as_ref().unwrap();
        assert_eq!(paged.value, vec![json!({"n": 1}), json!({"n": 2})]);
        assert_eq!(paged.requests, 2);
        assert!(
            matches!(lost_write, Err(ExchangeError::Unconfirmed { .. })),
            "{lost_write:?}"
        );
        let lost_read = lost_read.as_ref().unwrap();
        assert_eq!(lost_read.requests, 2);
        assert_eq!(lost_read.retries, vec!["unanswered in batch".to_string()]);

        let seen = seen.lock().unwrap().clone();
        let batch = &seen[0];
        assert!(
            batch
                .path
                .ends_with("/adminapi/beta/contoso.onmicrosoft.com/$batch")
        );
        assert_eq!(
            batch.headers["prefer"],
            "odata.maxpagesize=1000;odata.continue-on-error"
        );
        assert!(!batch.headers.contains_key("x-cmdletname"));
        assert!(batch.headers["authorization"].starts_with("Bearer "));
        assert!(batch.headers.contains_key("x-anchormailbox"));
        assert!(batch.headers.contains_key("client-request-id"));
        let requests = batch.body["requests"].as_array().unwrap();
        assert_eq!(requests.len(), 6);
        assert_eq!(requests[0]["id"], "1");
        assert_eq!(requests[0]["method"], "POST");
        assert_eq!(
            requests[0]["url"],
            format!("{url}/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand")
        );
        assert_eq!(requests[0]["headers"]["X-CmdletName"], "Set-Mailbox");
        assert_eq!(
            requests[0]["body"],
            json!({"CmdletInput": {"CmdletName": "Set-Mailbox", "Parameters": {"Identity": "ok"}}})
        );
        // Alone afterwards: the throttled call, the second page, the unanswered read; one
        // request each, as single calls with their cmdlet named.
        let alone: Vec<(&str, &str)> = seen[1..]
            .iter()
            .map(|s| (identity(&s.body), s.headers["x-cmdletname"].as_str()))
            .collect();
        assert_eq!(
            alone,
            [
                ("busy", "Set-Mailbox"),
                ("paged", "Get-Mailbox"),
                ("lost-read", "Get-Mailbox")
            ]
        );
        assert!(seen[1..].iter().all(|s| s.path.contains("/InvokeCommand")));
    }

    /// A batch throttled as a whole is sent again whole, after the wait the service names;
    /// each call records the batch's retry.
    #[tokio::test]
    async fn a_throttled_batch_is_sent_again_whole() {
        let handler: Handler = Arc::new(|path, body, before| {
            assert!(path.ends_with("/$batch"), "{path}");
            if before == 0 {
                let refusal = "You have reached the maximum number of concurrent requests per tenant. Please wait and try again";
                return (
                    429,
                    vec![("Retry-After", "0".to_string())],
                    json!({"error": {"code": "TooManyRequests", "message": refusal}}),
                );
            }
            let responses: Vec<Value> = body["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| json!({"id": r["id"], "status": 200, "body": {"value": [identity(&r["body"])]}}))
                .collect();
            (200, Vec::new(), json!({"responses": responses}))
        });
        let (url, seen) = serve(handler).await;
        let exo = client(&url);
        let all: Vec<Map<String, Value>> = ["a", "b", "c"].iter().map(|n| params(n)).collect();
        let calls: Vec<BatchCall<'_>> = all.iter().map(|p| call("Set-Mailbox", p)).collect();
        let result = exo.invoke_batch(&calls).await;
        assert!(result.throttled);
        for (item, name) in result.items.iter().zip(["a", "b", "c"]) {
            let item = item.as_ref().unwrap();
            assert_eq!(item.value, vec![json!(name)]);
            assert_eq!(item.requests, 2);
            assert_eq!(item.retries, vec!["batch 429".to_string()]);
        }
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    /// A batch whose token the service refuses is sent again whole with a renewed one, once.
    #[tokio::test]
    async fn a_refused_token_is_renewed_for_the_whole_batch() {
        let handler: Handler = Arc::new(|_, body, before| {
            if before == 0 {
                return (
                    401,
                    vec![(
                        "WWW-Authenticate",
                        "Bearer error=\"invalid_token\"".to_string(),
                    )],
                    Value::Null,
                );
            }
            let responses: Vec<Value> = body["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| json!({"id": r["id"], "status": 200, "body": {"value": []}}))
                .collect();
            (200, Vec::new(), json!({"responses": responses}))
        });
        let (url, seen) = serve(handler).await;
        let exo = client(&url);
        let all: Vec<Map<String, Value>> = ["a", "b"].iter().map(|n| params(n)).collect();
        let calls: Vec<BatchCall<'_>> = all.iter().map(|p| call("Set-Mailbox", p)).collect();
        let result = exo.invoke_batch(&calls).await;
        assert!(!result.throttled);
        for item in &result.items {
            let item = item.as_ref().unwrap();
            assert_eq!(
                (item.requests, item.retries.clone()),
                (2, vec!["batch 401".to_string()])
            );
        }
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    /// A batch the service will not take as a request (here a 404, as from a service without
    /// `$batch`) is said so, and its calls go alone; an answer lost after a batch of writes
    /// leaves each write of unknown outcome, and sends only its reads again, alone.
    #[tokio::test]
    async fn a_refused_batch_goes_call_by_call_and_a_lost_one_is_not_sent_twice() {
        let handler: Handler = Arc::new(|path, body, _| {
            if path.ends_with("/$batch") {
                let reads = body["requests"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["headers"]["X-CmdletName"] == "Get-Mailbox");
                return if reads {
                    (
                        504,
                        Vec::new(),
                        json!({"error": {"code": "GatewayTimeout", "message": "timed out"}}),
                    )
                } else {
                    (
                        404,
                        Vec::new(),
                        json!({"error": {"code": "NotFound", "message": "no such endpoint"}}),
                    )
                };
            }
            (200, Vec::new(), json!({"value": [identity(body)]}))
        });
        let (url, seen) = serve(handler).await;
        let exo = client(&url);
        let all: Vec<Map<String, Value>> = ["a", "b"].iter().map(|n| params(n)).collect();
        let writes: Vec<BatchCall<'_>> = all.iter().map(|p| call("Set-Mailbox", p)).collect();
        let result = exo.invoke_batch(&writes).await;
        assert!(
            result.refused.as_deref() == Some("404 no such endpoint"),
            "{:?}",
            result.refused
        );
        for item in &result.items {
            assert_eq!(
                item.as_ref().unwrap().requests,
                2,
                "the batch and the call alone"
            );
        }
        assert_eq!(seen.lock().unwrap().len(), 3);

        let mixed = [call("Set-Mailbox", &all[0]), call("Get-Mailbox", &all[1])];
        let result = exo.invoke_batch(&mixed).await;
        assert!(result.refused.is_none());
        assert!(
            matches!(&result.items[0], Err(ExchangeError::Unconfirmed { reason }) if reason.starts_with("504")),
            "{:?}",
            result.items[0]
        );
        assert_eq!(result.items[1].as_ref().unwrap().value, vec![json!("b")]);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 5, "the batch once, then the read alone");
        assert_eq!(identity(&seen[4].body), "b");
    }
}
