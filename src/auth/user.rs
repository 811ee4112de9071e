//! Users signing in: from a refresh token when there is one, else by password (the legacy
//! resource-owner grant) or a device code. Refresh tokens are kept, in memory and on disk
//! ([`cache`]), and an account other than the one the playbook names is refused.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AuthType, ClientId, EndpointNotSet, EndpointSet, RequestTokenError, Scope, TokenResponse,
};
use tenantry_common::jwt;

use super::oauth::ServerError;
use super::provider::lock;
use super::{AccessToken, AuthError, Credential, Secret, TokenProvider, cache};

/// An `oauth2` client that knows the token endpoint alone.
type TokenClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

impl TokenProvider {
    /// A user's token: from the refresh token when there is one, else by password or device
    /// code. The refresh token that comes back is kept, in memory and on disk.
    pub(super) async fn user_token(&self, user: &str) -> Result<AccessToken, AuthError> {
        let key = cache::Key {
            token_url: self.token_url.clone(),
            client_id: self.client_id.clone(),
            user: user.to_ascii_lowercase(),
        };
        let remembered = self.remembered(&key).await;
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_token_uri(self.token_uri()?)
            .set_auth_type(AuthType::RequestBody);
        let started = Instant::now();
        let mut response = None;
        if let Some(refresh) = remembered {
            response = self.redeem(&client, &refresh, &key).await?;
        }
        let response = match response {
            Some(r) => r,
            None => self.sign_in_user(&client, user).await?,
        };
        let token = self.accept(&response, started);
        self.check_signed_in(&token, user, &key).await?;
        if let Some(refresh) = response.refresh_token() {
            self.keep_refresh(user, &key, Secret::new(refresh.secret().clone()))
                .await;
        }
        Ok(token)
    }

    /// The scopes users ask for: the API's, and `offline_access` for a refresh token.
    fn user_scopes(&self) -> [Scope; 2] {
        [
            Scope::new(self.scope.clone()),
            Scope::new("offline_access".into()),
        ]
    }

    /// The user's refresh token: the one in memory, else the one kept on disk.
    async fn remembered(&self, key: &cache::Key) -> Option<Secret> {
        let mut remembered = lock(&self.refresh).clone();
        if remembered.is_none()
            && let Some(d) = &self.disk
        {
            let (d, key) = (Arc::clone(d), key.clone());
            remembered = tokio::task::spawn_blocking(move || d.get(&key))
                .await
                .ok()
                .flatten();
        }
        remembered
    }

    /// A token for a refresh token; `None` when the refresh token no longer serves.
    async fn redeem(
        &self,
        client: &TokenClient,
        refresh: &Secret,
        key: &cache::Key,
    ) -> Result<Option<BasicTokenResponse>, AuthError> {
        let token = oauth2::RefreshToken::new(refresh.expose().to_string());
        match client
            .exchange_refresh_token(&token)
            .add_scopes(self.user_scopes())
            .request_async(&self.sender())
            .await
        {
            Ok(r) => Ok(Some(r)),
            // Revoked, expired, or the user must sign in again: forget it. Any other
            // refusal (the service busy) leaves it for the next try.
            Err(RequestTokenError::ServerResponse(r))
                if matches!(r.code().as_str(), "invalid_grant" | "interaction_required") =>
            {
                self.forget(key).await;
                Ok(None)
            }
            Err(e) => Err(self.refused(e)),
        }
    }

    /// A fresh sign-in, by password or device code.
    async fn sign_in_user(
        &self,
        client: &TokenClient,
        user: &str,
    ) -> Result<BasicTokenResponse, AuthError> {
        match &self.credential {
            Credential::Password { password, .. } => {
                let name = oauth2::ResourceOwnerUsername::new(user.to_string());
                let secret = oauth2::ResourceOwnerPassword::new(password.expose().to_string());
                client
                    .exchange_password(&name, &secret)
                    .add_scopes(self.user_scopes())
                    .request_async(&self.sender())
                    .await
                    .map_err(|e| self.refused(e))
            }
            Credential::DeviceCode { prompt, .. } => {
                // Mid-run, a prompt would land among the progress bars and wait for someone
                // who may not be there: fail the tenant with what to do instead.
                if !self.prompts.load(Ordering::Relaxed) {
                    return Err(AuthError::Credential {
                        what: format!(
                            "the sign-in of {user} to {} has ended and cannot be renewed without a prompt: sign in again with `tenantry connect`",
                            self.tenant
                        ),
                    });
                }
                self.device_code(user, prompt.as_ref()).await
            }
            _ => Err(AuthError::Credential {
                what: "not a user credential".into(),
            }),
        }
    }

    /// Refuses a token for another account than `user`: single sign-on can pick another
    /// account than the one the playbook names.
    async fn check_signed_in(
        &self,
        token: &AccessToken,
        user: &str,
        key: &cache::Key,
    ) -> Result<(), AuthError> {
        let claims = jwt::parse(token.secret.expose()).ok();
        let signed_in = claims.as_ref().and_then(|t| {
            ["upn", "preferred_username", "unique_name"]
                .iter()
                .find_map(|c| t.claim_str(c).map(str::to_string))
        });
        if let Some(actual) = signed_in
            && !actual.eq_ignore_ascii_case(user)
        {
            self.forget(key).await;
            return Err(AuthError::WrongUser {
                tenant: self.tenant.clone(),
                expected: user.to_string(),
                actual,
            });
        }
        Ok(())
    }

    /// Keeps a new refresh token, in memory and on disk; failing to save it only warns.
    async fn keep_refresh(&self, user: &str, key: &cache::Key, refresh: Secret) {
        *lock(&self.refresh) = Some(refresh.clone());
        if let Some(d) = &self.disk {
            let (d, key, tenant) = (Arc::clone(d), key.clone(), self.tenant.clone());
            let path = d.path();
            // File work off the runtime's thread: many tenants may renew at once.
            let saved = tokio::task::spawn_blocking(move || d.put(&key, &tenant, &refresh)).await;
            if let Ok(Err(e)) = saved {
                // The run goes on; only the next run will ask again.
                eprintln!(
                    "warning: cannot keep the sign-in for {user} in {}: {e}",
                    path.display()
                );
            }
        }
    }

    /// Forgets a refresh token that no longer serves, in memory and on disk.
    async fn forget(&self, key: &cache::Key) {
        *lock(&self.refresh) = None;
        if let Some(d) = &self.disk {
            let (d, key) = (Arc::clone(d), key.clone());
            let _ = tokio::task::spawn_blocking(move || d.remove(&key)).await;
        }
    }
}
