//! The device-code flow: a user signs in on another device (MFA allowed) while the run polls,
//! with one prompt on screen at a time.

use std::fmt;

use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, Scope};

use super::{AuthError, TokenProvider};

/// Shows a device-code sign-in's instructions to the person at the keyboard.
pub trait DevicePrompt: Send + Sync + fmt::Debug {
    /// Tells how to sign in to `tenant` as `user`: Entra's `message` names the page and code.
    fn show(&self, tenant: &str, user: &str, message: &str);
}

/// Prompts on standard error, which is where a person watching a run looks.
#[derive(Debug, Default)]
pub struct StderrPrompt;

impl DevicePrompt for StderrPrompt {
    fn show(&self, tenant: &str, user: &str, message: &str) {
        eprintln!("\n[{tenant}] sign in as {user}: {message}\n");
    }
}

/// Only one device-code prompt is on screen at a time, whatever the number of tenants.
static PROMPT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl TokenProvider {
    /// The device-code flow: one prompt on screen at a time, then polling until the user
    /// has signed in, declined, or let the code expire.
    pub(super) async fn device_code(
        &self,
        user: &str,
        prompt: &dyn DevicePrompt,
    ) -> Result<oauth2::basic::BasicTokenResponse, AuthError> {
        let send = self.sender();
        let device_url = self
            .token_url
            .strip_suffix("/token")
            .map(|base| format!("{base}/devicecode"))
            .ok_or_else(|| AuthError::Credential {
                what: format!("{} does not end in /token", self.token_url),
            })?;
        let device_url = oauth2::DeviceAuthorizationUrl::new(device_url.clone()).map_err(|e| {
            AuthError::Credential {
                what: format!("the device-code endpoint {device_url} is not a URL: {e}"),
            }
        })?;
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_token_uri(self.token_uri()?)
            .set_device_authorization_url(device_url)
            .set_auth_type(AuthType::RequestBody);
        let _on_screen = PROMPT.lock().await;
        let details: oauth2::DeviceAuthorizationResponse<EntraDeviceFields> = client
            .exchange_device_code()
            .add_scope(Scope::new(self.scope.clone()))
            .add_scope(Scope::new("offline_access".into()))
            .request_async(&send)
            .await
            .map_err(|e| self.refused(e))?;
        let message = details.extra_fields().message.clone().unwrap_or_else(|| {
            format!(
                "open {} and enter the code {}",
                details.verification_uri().as_str(),
                details.user_code().secret()
            )
        });
        prompt.show(&self.tenant, user, &message);
        client
            .exchange_device_access_token(&details)
            .request_async(&send, tokio::time::sleep, None)
            .await
            .map_err(|e| self.refused(e))
    }
}

/// The extra field Entra's device-code answer carries: the sentence to show the user.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub struct EntraDeviceFields {
    /// "To sign in, use a web browser to open the page … and enter the code …".
    #[serde(default)]
    message: Option<String>,
}

impl oauth2::ExtraDeviceAuthorizationFields for EntraDeviceFields {}
