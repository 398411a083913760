//! The operations of the contract, over the store's ports ([`crate::store::KeyLookup`] and the
//! others). Handlers in `functions/` translate HTTP and authorizer events to these calls; the raw
//! key exists only in what `signup`, `create_key` and `roll_key` return. Every change carries an
//! [`Audit`] (who, from where, when) to its event. The hot path that reads a key from the headers
//! is `authenticate.rs`.

mod authenticate;

pub use authenticate::{Refused, TOUCH_BUDGET, authenticate, authenticate_at, authenticate_key_at};

use serde::Serialize;

use crate::api_key::ApiKey;
use crate::audit::{Actor, Audit, Change, EventPage, EventQuery, RevokedReason};
use crate::clock::{now_millis, rfc3339};
use crate::error::Error;
use crate::ids::{is_valid_key_id, is_valid_org_id, new_key_id, new_org_id, new_webhook_secret};
use crate::requests::{CreateKeyRequest, RollKeyRequest, SignupRequest};
use crate::restrictions::Restrictions;
use crate::store::{
    CreateKey, KeySummary, ListEvents, ListKeys, ListQuery, Membership, NewKey, NewOrg, Orgs, RevokeKey, RollKey,
    UpdateKey,
};
use crate::store::{Inherit, KeyUpdate};

/// The public fields of a key.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
}

/// `201` of `POST /signup`. No `Debug`: it holds the raw key and the webhook secret.
#[derive(Serialize)]
pub struct SignupResponse {
    pub org_id: String,
    pub secret: String,
    pub webhook_secret: String,
    pub key: KeyView,
}

/// `201` of `POST /orgs/{org_id}/api-keys`. No `Debug`: it holds the raw key.
#[derive(Serialize)]
pub struct CreatedKey {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub secret: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    /// `permissions`, `formats`, `allowed_ips`: `null` when not restricted.
    #[serde(flatten)]
    pub restrictions: Restrictions,
}

/// `201` of `POST /orgs/{org_id}/api-keys/{key_id}/roll`. No `Debug`: it holds the raw key.
#[derive(Serialize)]
pub struct RolledKey {
    #[serde(flatten)]
    pub key: CreatedKey,
    pub rolled_from: String,
    pub old_key_expires_at: String,
}

/// `200` of `GET /orgs/{org_id}/api-keys`.
#[derive(Debug, Serialize)]
pub struct KeyList {
    pub data: Vec<crate::store::KeySummary>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// A fresh key and the record to store for it (hash and prefix only).
fn mint_key(
    name: String,
    expires_at: Option<i64>,
    rolled_from: Option<&str>,
    restrictions: Restrictions,
) -> (ApiKey, NewKey) {
    let now_ms = now_millis();
    let key = ApiKey::generate();
    let record = NewKey {
        key_id: new_key_id(now_ms),
        hash: key.hash(),
        prefix: key.display_prefix().to_owned(),
        name,
        created_at: (now_ms / 1000) as i64,
        expires_at,
        rolled_from: rolled_from.map(str::to_owned),
        restrictions,
    };
    (key, record)
}

fn view(record: &NewKey) -> KeyView {
    KeyView {
        id: record.key_id.clone(),
        name: record.name.clone(),
        prefix: record.prefix.clone(),
        created_at: rfc3339(record.created_at),
    }
}

fn created(key: &ApiKey, record: NewKey) -> CreatedKey {
    CreatedKey {
        secret: key.expose_secret().to_owned(),
        expires_at: record.expires_at.map(rfc3339),
        id: record.key_id,
        name: record.name,
        prefix: record.prefix,
        created_at: rfc3339(record.created_at),
        restrictions: record.restrictions,
    }
}

/// `POST /signup` by the actor (a Firebase user).
pub async fn signup<S: Orgs>(store: &S, audit: &Audit, request: SignupRequest) -> Result<SignupResponse, Error> {
    let uid = audit.actor.member_uid().ok_or(Error::OrgNotFound)?;
    let webhook_secret = new_webhook_secret();
    let (org_id, key, record) = match request {
        SignupRequest::NewOrg { org_name, key_name } => {
            let (key, record) = mint_key(key_name, None, None, Restrictions::default());
            let org = NewOrg {
                org_id: new_org_id(),
                name: org_name,
                owner_uid: uid.to_owned(),
                created_at: record.created_at,
                webhook_secret: Some(webhook_secret.clone()),
            };
            store.create_org_with_key(&org, &record, audit).await?;
            (org.org_id, key, record)
        }
        SignupRequest::ExistingOrg { org_id, key_name } => {
            if !is_valid_org_id(&org_id) {
                return Err(Error::OrgNotFound);
            }
            let (key, record) = mint_key(key_name, None, None, Restrictions::default());
            store.enable_api(&org_id, &webhook_secret, &record, audit).await?;
            (org_id, key, record)
        }
    };
    Ok(SignupResponse { org_id, secret: key.expose_secret().to_owned(), webhook_secret, key: view(&record) })
}

pub async fn create_key<S: CreateKey>(
    store: &S,
    org_id: &str,
    request: CreateKeyRequest,
    audit: &Audit,
) -> Result<CreatedKey, Error> {
    if !is_valid_org_id(org_id) {
        return Err(Error::OrgNotFound);
    }
    let (key, record) = mint_key(request.name, request.expires_at, None, request.restrictions);
    store.create_key(org_id, &record, audit).await?;
    Ok(created(&key, record))
}

pub async fn list_keys<S: ListKeys + Membership>(
    store: &S,
    uid: &str,
    org_id: &str,
    query: &ListQuery,
    now: i64,
) -> Result<KeyList, Error> {
    require_member(store, uid, org_id).await?;
    let page = store.list_keys(org_id, query, now).await?;
    Ok(KeyList { has_more: page.next_cursor.is_some(), next_cursor: page.next_cursor, data: page.data })
}

/// A member's `DELETE` (reason `revoked`) or the operator CLI's (reason `operator`).
pub async fn revoke_key<S: RevokeKey + Membership>(
    store: &S,
    org_id: &str,
    key_id: &str,
    audit: &Audit,
) -> Result<bool, Error> {
    require_actor_and_key_id(store, audit, org_id, key_id).await?;
    let reason = match audit.actor {
        Actor::Operator { .. } => RevokedReason::Operator,
        _ => RevokedReason::Revoked,
    };
    store.revoke_key(org_id, key_id, &Change::KeyRevoked { reason }, audit).await
}

pub async fn roll_key<S: RollKey + Membership>(
    store: &S,
    org_id: &str,
    key_id: &str,
    request: RollKeyRequest,
    audit: &Audit,
) -> Result<RolledKey, Error> {
    require_actor_and_key_id(store, audit, org_id, key_id).await?;
    let inherit = Inherit { name: request.name.is_none(), restrictions: request.restrictions };
    // The lists are the store's to settle: it reads the old key's in the roll's transaction.
    let (key, record) =
        mint_key(request.name.unwrap_or_default(), request.expires_at, Some(key_id), Restrictions::default());
    let rolled = store.roll_key(org_id, key_id, &record, &inherit, request.grace_period_seconds, audit).await?;
    let record = NewKey { name: rolled.name, restrictions: rolled.restrictions, ..record };
    Ok(RolledKey {
        key: created(&key, record),
        rolled_from: key_id.to_owned(),
        old_key_expires_at: rfc3339(rolled.old_key_expires_at),
    })
}

/// `PATCH`: a new name, changed lists, or both.
pub async fn update_key<S: UpdateKey + Membership>(
    store: &S,
    org_id: &str,
    key_id: &str,
    update: &KeyUpdate,
    audit: &Audit,
) -> Result<KeySummary, Error> {
    require_actor_and_key_id(store, audit, org_id, key_id).await?;
    store.update_key(org_id, key_id, update, audit).await
}

pub async fn list_events<S: ListEvents + Membership>(
    store: &S,
    uid: &str,
    org_id: &str,
    query: &EventQuery,
) -> Result<EventPage, Error> {
    require_member(store, uid, org_id).await?;
    store.list_events(org_id, query).await
}

/// Org ids that cannot exist and orgs the caller is not in look the same: 404 `org_not_found`.
async fn require_member<S: Membership>(store: &S, uid: &str, org_id: &str) -> Result<(), Error> {
    if is_valid_org_id(org_id) && store.is_member(org_id, uid).await? { Ok(()) } else { Err(Error::OrgNotFound) }
}

/// Before a change to one key: a user actor must be a member (checked before anything about the
/// key is read, so a stranger learns nothing; the operator needs no membership), and a key id
/// that cannot exist is `KeyNotFound` without a read.
async fn require_actor_and_key_id<S: Membership>(
    store: &S,
    audit: &Audit,
    org_id: &str,
    key_id: &str,
) -> Result<(), Error> {
    match audit.actor.member_uid() {
        Some(uid) => require_member(store, uid, org_id).await?,
        None if is_valid_org_id(org_id) => {}
        None => return Err(Error::OrgNotFound),
    }
    if is_valid_key_id(key_id) { Ok(()) } else { Err(Error::KeyNotFound) }
}

/// The operations over an in-memory store that records what it is asked (`service/store_tests/`).
#[cfg(test)]
mod store_tests;
