//! API keys of the lender's systems (site, loan system, scoring).
//!
//! A token is `drb_` followed by 32 random bytes in URL-safe base64. Only its SHA-256 is
//! stored: the token has 256 bits of entropy, so a slow password hash adds nothing, and a
//! fast hash keeps authentication off the request's critical path. Each key may name only
//! its own set of purposes (clause 1.1, 3.2).

use crate::error::ServiceError;
use crate::model::Actor;
use base64::Engine;
use derbes_core::clock::{from_micros, to_micros};
use derbes_core::registry::Registry;
use derbes_store::{ApiKeyRecord, Store};
use rand::RngCore;
use sha2::{Digest, Sha256};

const PREFIX: &str = "drb_";

/// A key as listed (never the token).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiKeyInfo {
    /// Public id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Purposes it may name.
    pub purposes: Vec<String>,
    /// Created.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Revoked, if so.
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&ApiKeyRecord> for ApiKeyInfo {
    fn from(r: &ApiKeyRecord) -> Self {
        ApiKeyInfo {
            id: r.id.clone(),
            name: r.name.clone(),
            purposes: split(&r.purposes),
            created_at: from_micros(r.created_at),
            revoked_at: r.revoked_at.map(from_micros),
        }
    }
}

fn split(purposes: &str) -> Vec<String> {
    purposes
        .split(',')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Why a key could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    /// The name is empty, too long or has odd characters.
    #[error("a key name is 1..=64 characters of letters, digits, '-', '_' and '.'")]
    BadName,
    /// No purposes, or one not in the registry.
    #[error("unknown purpose: {0}")]
    UnknownPurpose(String),
    /// The key needs at least one purpose.
    #[error("a key needs at least one purpose")]
    NoPurpose,
    /// Storage failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Create a key limited to `purposes`; returns its info and the token, shown once.
pub async fn create(
    store: &dyn Store,
    registry: &Registry,
    name: &str,
    purposes: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(ApiKeyInfo, String), ApiKeyError> {
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !name_ok {
        return Err(ApiKeyError::BadName);
    }
    if purposes.is_empty() {
        return Err(ApiKeyError::NoPurpose);
    }
    for p in purposes {
        if registry.purpose(p).is_none() {
            return Err(ApiKeyError::UnknownPurpose(p.clone()));
        }
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| ServiceError::Unavailable)?;
    let token = format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let record = ApiKeyRecord {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.to_string(),
        key_hash: hash(&token),
        purposes: purposes.join(","),
        created_at: to_micros(now),
        revoked_at: None,
    };
    store
        .insert_api_key(&record)
        .await
        .map_err(ServiceError::from)?;
    Ok((ApiKeyInfo::from(&record), token))
}

/// Resolve a presented token to its actor; unknown, malformed and revoked tokens are all
/// simply `Unauthenticated`.
pub async fn authenticate(store: &dyn Store, token: &str) -> Result<Actor, ServiceError> {
    if !token.starts_with(PREFIX) || token.len() > 128 {
        return Err(ServiceError::Unauthenticated);
    }
    let record = store
        .api_key_by_hash(&hash(token))
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    if record.revoked_at.is_some() {
        return Err(ServiceError::Unauthenticated);
    }
    Ok(Actor::ApiKey {
        id: record.id,
        name: record.name,
        purposes: split(&record.purposes),
    })
}

/// All keys.
pub async fn list(store: &dyn Store) -> Result<Vec<ApiKeyInfo>, ServiceError> {
    Ok(store
        .list_api_keys()
        .await?
        .iter()
        .map(ApiKeyInfo::from)
        .collect())
}

/// Revoke a key at once.
pub async fn revoke(
    store: &dyn Store,
    id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ServiceError> {
    store
        .revoke_api_key(id, to_micros(now))
        .await
        .map_err(|e| match e {
            derbes_store::StoreError::NotFound => ServiceError::Unauthenticated,
            other => ServiceError::Store(other),
        })
}
