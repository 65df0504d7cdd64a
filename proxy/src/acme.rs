//! ACME (RFC 8555) certificates over HTTP-01: the proxy answers the CA's challenge
//! requests on its HTTP port, so a host needs nothing but DNS pointing here.

use std::{
    collections::HashMap,
    fs,
    path::PathBuf,
    sync::{Mutex, PoisonError},
};

use anyhow::Context;

use crate::paths;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};

pub const LETS_ENCRYPT_PRODUCTION: &str = "https://acme-v02.api.letsencrypt.org/directory";
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

pub struct Acme {
    directory: String,
    root_ca: Option<PathBuf>,
    /// Account credentials are kept here, one file per directory URL.
    accounts_dir: PathBuf,
    /// HTTP-01 token → key authorisation, served under `/.well-known/acme-challenge/`.
    challenges: Mutex<HashMap<String, String>>,
    accounts: tokio::sync::Mutex<HashMap<String, Account>>,
}

impl Acme {
    pub fn new(directory: String, root_ca: Option<PathBuf>, accounts_dir: PathBuf) -> Self {
        Self {
            directory,
            root_ca,
            accounts_dir,
            challenges: Mutex::default(),
            accounts: tokio::sync::Mutex::default(),
        }
    }

    pub fn challenge_response(&self, token: &str) -> Option<String> {
        self.challenges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .cloned()
    }

    /// Runs one order for `host` and returns the certificate chain followed by its
    /// private key, as PEM.
    pub async fn obtain(&self, host: &str, directory: Option<&str>) -> anyhow::Result<String> {
        let directory = directory.unwrap_or(&self.directory);
        let mut accounts = self.accounts.lock().await;
        if !accounts.contains_key(directory) {
            let account = self.account(directory).await?;
            accounts.insert(directory.to_string(), account);
        }
        let account = &accounts[directory];

        let identifiers = [Identifier::Dns(host.to_string())];
        let mut order = account.new_order(&NewOrder::new(&identifiers)).await?;
        let mut tokens = Vec::new();
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization?;
            if authorization.status != AuthorizationStatus::Pending {
                continue;
            }
            let mut challenge = authorization
                .challenge(ChallengeType::Http01)
                .context("the CA offered no http-01 challenge")?;
            let token = challenge.token.clone();
            self.challenges
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(
                    token.clone(),
                    challenge.key_authorization().as_str().to_string(),
                );
            tokens.push(token);
            challenge.set_ready().await?;
        }
        let outcome = async {
            let status = order.poll_ready(&RetryPolicy::default()).await?;
            anyhow::ensure!(status == OrderStatus::Ready, "order ended {status:?}");
            let private_key = order.finalize().await?;
            let chain = order.poll_certificate(&RetryPolicy::default()).await?;
            Ok(format!("{chain}\n{private_key}"))
        }
        .await;
        let mut challenges = self
            .challenges
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for token in tokens {
            challenges.remove(&token);
        }
        outcome
    }

    async fn account(&self, directory: &str) -> anyhow::Result<Account> {
        let builder = || match &self.root_ca {
            Some(root) => Account::builder_with_root(root),
            None => Account::builder(),
        };
        let file_name: String = directory
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = self.accounts_dir.join(format!("account-{file_name}.json"));
        if let Ok(saved) = fs::read(&path) {
            let credentials: AccountCredentials = serde_json::from_slice(&saved)?;
            return Ok(builder()?.from_credentials(credentials).await?);
        }
        let new_account = NewAccount {
            contact: &[],
            terms_of_service_agreed: true,
            only_return_existing: false,
        };
        let (account, credentials) = builder()?
            .create(&new_account, directory.to_string(), None)
            .await
            .with_context(|| format!("registering an ACME account at {directory}"))?;
        fs::create_dir_all(&self.accounts_dir)?;
        paths::write_private(&path, &serde_json::to_vec(&credentials)?)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(account)
    }
}
