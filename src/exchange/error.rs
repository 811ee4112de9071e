//! Why a call did not succeed: the service's error bodies read into [`ExchangeError`] and the
//! cmdlet errors they carry.

use serde_json::Value;

use crate::auth::AuthError;
use crate::cloud::CloudError;

/// A cmdlet's error as the service reports it (`ErrId|Class|message`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CmdletError {
    /// The HTTP status.
    pub status: u16,
    /// Exchange's error id, e.g. `Ex6F9304`; may be empty.
    pub id: String,
    /// The .NET exception class.
    pub class: String,
    /// The message.
    pub message: String,
}

impl CmdletError {
    /// The class without its namespace, e.g. `ManagementObjectNotFoundException`.
    pub fn short_class(&self) -> &str {
        self.class.rsplit('.').next().unwrap_or(&self.class)
    }
}

impl std::fmt::Display for CmdletError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.short_class(), self.message)
    }
}

/// Why a call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The cmdlet ran and failed.
    #[error("{0}")]
    Cmdlet(CmdletError),
    /// No token could be had.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A write was sent and its answer lost: it may or may not have run.
    #[error(
        "the outcome is unknown ({reason}): the cmdlet may have run; it was not sent again because it writes"
    )]
    Unconfirmed {
        /// What was lost.
        reason: String,
    },
    /// The service kept refusing the token after it was renewed.
    #[error(
        "the admin API refused a fresh token ({reason}); check the app's Exchange.ManageAsApp permission and admin consent"
    )]
    Unauthorized {
        /// What the service said.
        reason: String,
    },
    /// The token is valid but does not allow the admin API: the app or person has no Exchange
    /// role, or the token is for another API (a 403, often with an empty body).
    #[error(
        "the admin API refused the sign-in (403): {reason} (an app needs Exchange.ManageAsApp with admin consent and an Exchange role; a person needs an Exchange role such as Exchange Administrator)"
    )]
    Forbidden {
        /// What the service said.
        reason: String,
    },
    /// Retries ran out on throttling, unavailability or the network.
    #[error("gave up after {attempts} attempts: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// Any other answer the client cannot use.
    #[error("the admin API answered {status}: {body}")]
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The service redirected a call to a host its token must not go to; nothing was sent
    /// there.
    #[error(
        "the admin API at {from} redirected the call to {to}; not following it, and the token was not sent there ({advice})"
    )]
    Redirect {
        /// The host that answered with the redirect.
        from: String,
        /// The host it named.
        to: String,
        /// What to do.
        advice: &'static str,
    },
    /// The endpoint is not allowed (not https outside loopback).
    #[error(transparent)]
    Endpoint(#[from] CloudError),
    /// The HTTP client could not be set up (a proxy URL that is not one).
    #[error("{0}")]
    Setup(String),
    /// A parameter cannot be sent as given: a SecureString that is not text, or too long to
    /// encrypt. Nothing was sent.
    #[error(transparent)]
    Parameter(#[from] super::secure::SecureError),
}

impl ExchangeError {
    /// Whether this is a cmdlet error, which a step's `retries` may choose to retry.
    pub fn cmdlet(&self) -> Option<&CmdletError> {
        match self {
            ExchangeError::Cmdlet(e) => Some(e),
            _ => None,
        }
    }
}

/// The cmdlet error in an error body. `details[0].message` comes in two forms: `ErrId|Class|
/// message`, or a JSON text with `Message` and `TypeName` (the class, possibly only on a nested
/// `InnerError`). Failing both, the inner exception, then the top-level message, as the module
/// does.
pub fn parse_cmdlet_error(status: u16, body: &Value) -> Option<CmdletError> {
    let error = body.get("error")?;
    let detail = error.pointer("/details/0/message").and_then(Value::as_str);
    if let Some(detail) = detail {
        if let Some(parsed) = json_detail(status, detail) {
            return Some(parsed);
        }
        let mut parts = detail.splitn(3, '|');
        if let (Some(id), Some(class), Some(message)) = (parts.next(), parts.next(), parts.next()) {
            return Some(CmdletError {
                status,
                id: id.to_string(),
                class: class.to_string(),
                message: message.to_string(),
            });
        }
    }
    let inner = error.pointer("/innererror/internalexception");
    let message = inner
        .and_then(|i| i.get("message"))
        .and_then(Value::as_str)
        .or(detail)
        .or_else(|| error.get("message").and_then(Value::as_str))?;
    Some(CmdletError {
        status,
        id: String::new(),
        class: inner
            .and_then(|i| i.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        message: message.to_string(),
    })
}

/// A detail written as a JSON text: the outermost `Message`, and the first `TypeName` found
/// from the outside in through `InnerError`.
fn json_detail(status: u16, detail: &str) -> Option<CmdletError> {
    let text = detail.trim_start();
    if !text.starts_with('{') {
        return None;
    }
    let json: Value = serde_json::from_str(text).ok()?;
    let field = |v: &Value, name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut class = None;
    let mut message = None;
    let mut level = Some(&json);
    // Bounded: a service's nesting is shallow, and a hostile body must not recurse forever.
    for _ in 0..16 {
        let Some(v) = level else { break };
        message = message.or_else(|| field(v, "Message"));
        class = class.or_else(|| field(v, "TypeName"));
        level = v.get("InnerError").filter(|i| i.is_object());
    }
    if class.is_none() && message.is_none() {
        return None;
    }
    Some(CmdletError {
        status,
        id: String::new(),
        class: class.unwrap_or_default(),
        message: message.unwrap_or_default(),
    })
}

/// The message of an error body, cut to 200 characters.
pub(super) fn error_message(body: &Value) -> String {
    body.pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cmdlet_errors_parse_from_details_or_fall_back() {
        let body = json!({"error": {"code": "InternalServerError", "message": "Error executing cmdlet",
            "details": [{"code": "Client", "message": "Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed because object 'x' couldn't be found on 'SRV'."}]}});
        let e = parse_cmdlet_error(400, &body).unwrap();
        assert_eq!(
            (e.id.as_str(), e.short_class()),
            ("Ex6F9304", "ManagementObjectNotFoundException")
        );
        assert!(e.message.contains("'x' couldn't be found"));
        let inner = json!({"error": {"message": "Error executing cmdlet", "innererror": {"internalexception": {"message": "inner text", "type": "A.B.C"}}}});
        let e = parse_cmdlet_error(400, &inner).unwrap();
        assert_eq!((e.message.as_str(), e.short_class()), ("inner text", "C"));
        let plain = json!({"error": {"message": "Invalid Operation"}});
        assert_eq!(
            parse_cmdlet_error(500, &plain).unwrap().message,
            "Invalid Operation"
        );
        assert!(parse_cmdlet_error(400, &json!("x")).is_none());
    }

    #[test]
    fn cmdlet_errors_written_as_json_text_give_their_class() {
        let detail = json!({
            "Message": "The operation couldn't be performed because object 'x' couldn't be found.",
            "TypeName": "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
            "InnerError": null
        });
        let body = json!({"error": {"message": "Error executing cmdlet",
            "details": [{"message": detail.to_string()}]}});
        let e = parse_cmdlet_error(404, &body).unwrap();
        assert_eq!(e.short_class(), "ManagementObjectNotFoundException");
        assert!(e.message.contains("'x' couldn't be found"), "{}", e.message);

        // The class only on the inner error: found from the outside in.
        let nested = json!({"Message": "Outer text", "InnerError": {"Message": "inner",
            "InnerError": {"TypeName": "Microsoft.Exchange.Data.DataValidationException"}}});
        let body = json!({"error": {"details": [{"message": nested.to_string()}]}});
        let e = parse_cmdlet_error(400, &body).unwrap();
        assert_eq!(
            (e.message.as_str(), e.short_class()),
            ("Outer text", "DataValidationException")
        );

        // Text that merely starts with a brace is still read as the pipe form, or as text.
        let body = json!({"error": {"details": [{"message": "{not json|A.B|msg"}]}});
        assert_eq!(parse_cmdlet_error(400, &body).unwrap().short_class(), "B");
    }
}
