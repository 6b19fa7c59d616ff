//! OAuth2 access tokens for Vertex AI, minted from a service account and refreshed
//! before they expire, with the `gcp_auth` crate.
//!
//! The token is fetched on the first request (not at start-up, so a gateway with an
//! unreachable token endpoint still serves its other providers) and cached by
//! `gcp_auth` until shortly before expiry; every request after that reads the cache.

use std::sync::Arc;
use switchyard_adapters::{ErrorClass, UpstreamError};
use tokio::sync::OnceCell;

const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

pub struct GoogleAuth {
    /// A service-account file named in the config (read at start-up, so a bad file is
    /// a config error), else Application Default Credentials found on first use.
    provider: OnceCell<Arc<dyn gcp_auth::TokenProvider>>,
}

impl std::fmt::Debug for GoogleAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleAuth").finish_non_exhaustive()
    }
}

impl GoogleAuth {
    /// From a service-account JSON file.
    pub fn from_file(path: &str) -> Result<Self, String> {
        let account = gcp_auth::CustomServiceAccount::from_file(path)
            .map_err(|e| format!("credentials_file `{path}`: {e}"))?;
        Ok(GoogleAuth {
            provider: OnceCell::new_with(Some(Arc::new(account))),
        })
    }

    /// Application Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud, or
    /// the metadata server), resolved on first use.
    pub fn application_default() -> Self {
        GoogleAuth {
            provider: OnceCell::new(),
        }
    }

    /// A valid access token.
    pub async fn token(&self) -> Result<Arc<gcp_auth::Token>, UpstreamError> {
        let provider = self
            .provider
            .get_or_try_init(|| async { gcp_auth::provider().await })
            .await
            .map_err(|e| {
                UpstreamError::new(
                    ErrorClass::Auth,
                    None,
                    format!("no Google credentials for Vertex AI: {e}"),
                )
            })?;
        provider.token(&[SCOPE]).await.map_err(|e| {
            UpstreamError::new(
                ErrorClass::Auth,
                None,
                format!("could not get a Google access token: {e}"),
            )
        })
    }
}
