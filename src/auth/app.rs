//! Apps signing in with client credentials: a secret, a certificate's `private_key_jwt`
//! assertion as MSAL signs it, or a federated workload token.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, Scope};
use serde_json::{Map, Value, json};
use tenantry_common::jwt::{self, Algorithm, Certificate};

use super::credential::read_federated;
use super::{AccessToken, AuthError, Credential, Secret, TokenProvider};

impl TokenProvider {
    /// Client credentials: a secret, a certificate's assertion or a federated token.
    pub(super) async fn app_token(&self) -> Result<AccessToken, AuthError> {
        let mut client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_token_uri(self.token_uri()?)
            .set_auth_type(AuthType::RequestBody);
        let assertion = match &self.credential {
            Credential::Secret(secret) => {
                client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
                None
            }
            Credential::Certificate { certificate, key } => {
                Some(self.assertion(certificate, key).await?)
            }
            Credential::Federated { token_file } => Some(read_federated(token_file)?),
            _ => None,
        };
        let mut request = client
            .exchange_client_credentials()
            .add_scope(Scope::new(self.scope.clone()));
        if let Some(assertion) = &assertion {
            request = request
                .add_extra_param(
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                )
                .add_extra_param("client_assertion", assertion.expose());
        }
        let started = Instant::now();
        let send = self.sender();
        let response = request
            .request_async(&send)
            .await
            .map_err(|e| self.refused(e))?;
        Ok(self.accept(&response, started))
    }

    /// A `private_key_jwt` client assertion for one token request.
    async fn assertion(
        &self,
        certificate: &Certificate,
        key: &Arc<rsa::PrivateKey>,
    ) -> Result<Secret, AuthError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let mut header = Map::new();
        header.insert("x5t".into(), certificate.x5t.clone().into());
        let jti = format!("{:x}-{}", now, self.fetches.load(Ordering::Relaxed) + 1);
        let claims = json!({
            "aud": self.token_url,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": jti,
            "nbf": now - 5,
            "iat": now,
            "exp": now + 600,
        });
        let Value::Object(claims) = claims else {
            return Err(AuthError::Credential {
                what: "assertion claims".into(),
            });
        };
        // An RSA signature takes a millisecond or more: off the runtime's threads, so a run
        // signing in to many tenants does not stall the calls of those already signed in.
        let key = Arc::clone(key);
        let signed =
            tokio::task::spawn_blocking(move || jwt::sign(header, &claims, Algorithm::Rs256, &key))
                .await
                .map_err(|e| AuthError::Credential {
                    what: format!("cannot sign the client assertion: {e}"),
                })?;
        signed.map(Secret::new).map_err(|e| AuthError::Credential {
            what: format!("cannot sign the client assertion: {e}"),
        })
    }
}
