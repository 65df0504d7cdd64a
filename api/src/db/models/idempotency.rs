use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::idempotency_keys;

/// An `Idempotency-Key` already used by the org, and what it created.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyKey {
    pub request_hash: String,
    pub deployment_id: Uuid,
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    org: &str,
    key: &str,
) -> QueryResult<Option<IdempotencyKey>> {
    idempotency_keys::table
        .filter(idempotency_keys::org.eq(org))
        .filter(idempotency_keys::key.eq(key))
        .select(IdempotencyKey::as_select())
        .first(conn)
        .await
        .optional()
}

/// Records `key` for `deployment_id`; false when the org already used the key. A
/// concurrent transaction holding the same key makes this wait for its outcome, so two
/// racing requests never both claim it.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    org: &str,
    key: &str,
    request_hash: &str,
    deployment_id: Uuid,
) -> QueryResult<bool> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::org.eq(org),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(request_hash),
            idempotency_keys::deployment_id.eq(deployment_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(|inserted| inserted == 1)
}
