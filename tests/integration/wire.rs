//! Speaking to the sandbox with a plain HTTP client (reqwest), not tenantry's own client, so
//! the wire shapes are asserted independently of the code that produces requests.

use std::time::Duration;

use serde_json::{Value, json};
use tenantry::sandbox::{APPS, Sandbox, SandboxConfig};

/// The Exchange Online scope.
pub const SCOPE: &str = "https://outlook.office365.com/.default";
/// The first tenant of every test sandbox.
pub const CONTOSO: &str = "contoso.onmicrosoft.com";

/// A sandbox and an HTTP client for it.
pub struct Wire {
    /// The running sandbox.
    pub sandbox: Sandbox,
    /// A plain client: no retries, no redirects.
    pub http: reqwest::Client,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body as JSON (Null when empty or not JSON).
    pub json: Value,
}

impl Reply {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `error.details[0].message` split on `|`: error id, class, text.
    pub fn cmdlet_error(&self) -> (String, String, String) {
        let detail = self.json["error"]["details"][0]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no cmdlet error in {}", self.json));
        let mut parts = detail.splitn(3, '|').map(str::to_string);
        let id = parts.next().unwrap_or_default();
        let class = parts.next().unwrap_or_default();
        let text = parts.next().unwrap_or_default();
        (id, class, text)
    }
}

impl Wire {
    /// Starts a sandbox with this configuration.
    pub async fn start(config: SandboxConfig) -> Wire {
        let sandbox = Sandbox::start(config).await.expect("the sandbox starts");
        tenantry::exchange::install_tls_provider();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        Wire { sandbox, http }
    }

    /// Starts the usual three-tenant sandbox with `mailboxes` mailboxes each.
    pub async fn tenants(mailboxes: usize) -> Wire {
        Wire::start(SandboxConfig::with_tenants(3, mailboxes)).await
    }

    /// The base URL.
    pub fn url(&self) -> String {
        self.sandbox.url()
    }

    /// POSTs a form to a tenant's token endpoint.
    pub async fn token_request(&self, tenant: &str, form: &[(&str, &str)]) -> Reply {
        let url = format!("{}/{tenant}/oauth2/v2.0/token", self.url());
        read(
            self.http
                .post(url)
                .form(form)
                .send()
                .await
                .expect("token endpoint answers"),
        )
        .await
    }

    /// An app-only access token for app `n` of [`APPS`] (0 = admin, 1 = reader, 2 = unconsented).
    pub async fn app_token(&self, tenant: &str, n: usize) -> String {
        let app = &APPS[n];
        let reply = self
            .token_request(
                tenant,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", app.client_id),
                    ("client_secret", app.client_secret),
                    ("scope", SCOPE),
                ],
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        reply.json["access_token"]
            .as_str()
            .expect("a token")
            .to_string()
    }

    /// POSTs an InvokeCommand body with a token and extra headers.
    pub async fn invoke_with(
        &self,
        tenant: &str,
        token: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = format!("{}/adminapi/beta/{tenant}/InvokeCommand", self.url());
        self.post(&url, token, body, headers).await
    }

    /// POSTs JSON to an absolute URL with a bearer token.
    pub async fn post(
        &self,
        url: &str,
        token: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.http.post(url).bearer_auth(token).json(body);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        read(request.send().await.expect("the admin API answers")).await
    }

    /// GETs an absolute URL with a bearer token (`None`: no Authorization), as a client
    /// following a page link without re-sending the body does.
    pub async fn get(&self, url: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        read(request.send().await.expect("the admin API answers")).await
    }

    /// POSTs an InvokeCommand body and returns the raw outcome, so a test can see a closed
    /// connection as the client sees it.
    pub async fn send_raw(
        &self,
        tenant: &str,
        token: &str,
        body: &Value,
    ) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!(
                "{}/adminapi/beta/{tenant}/InvokeCommand",
                self.url()
            ))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
    }

    /// Runs a cmdlet as the admin app in a tenant.
    pub async fn invoke(&self, tenant: &str, cmdlet: &str, params: Value) -> Reply {
        let token = self.app_token(tenant, 0).await;
        self.invoke_with(tenant, &token, &cmdlet_input(cmdlet, params), &[])
            .await
    }

    /// GET `/sandbox/stats` over HTTP.
    pub async fn stats(&self) -> tenantry::sandbox::Stats {
        let reply = self
            .http
            .get(format!("{}/sandbox/stats", self.url()))
            .send()
            .await
            .expect("stats");
        reply.json().await.expect("stats are JSON")
    }
}

/// `{"CmdletInput":{"CmdletName":…,"Parameters":…}}`
pub fn cmdlet_input(cmdlet: &str, params: Value) -> Value {
    json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}})
}

/// Reads a response whole.
pub async fn read(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("the body arrives");
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        json,
    }
}

/// The claims of a JWT, without verifying it.
pub fn claims(token: &str) -> Value {
    let parsed = tenantry::jwt::parse(token).expect("a JWT");
    Value::Object(parsed.claims)
}
