use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::Rows;
use crate::db::schema::templates;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = templates)]
pub struct Template {
    pub id: Uuid,
    pub org: Option<String>,
    pub name: String,
    pub app_type: String,
    pub description: String,
    pub template: String,
    pub builtin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// The declared variables (`kamal::template::Variable`s); NULL: inferred when read.
    pub variables: Option<serde_json::Value>,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = templates)]
pub struct NewTemplate<'a> {
    pub id: Uuid,
    pub org: Option<&'a str>,
    pub name: &'a str,
    pub app_type: &'a str,
    pub description: &'a str,
    pub template: &'a str,
    pub builtin: bool,
    pub variables: Option<&'a serde_json::Value>,
}

/// A template the caller may read: its org's own, or a built-in.
fn visible(org: &str) -> templates::BoxedQuery<'_, diesel::pg::Pg> {
    templates::table
        .filter(templates::deleted_at.is_null())
        .filter(templates::org.eq(org).or(templates::org.is_null()))
        .into_boxed()
}

pub async fn insert(conn: &mut AsyncPgConnection, new: NewTemplate<'_>) -> QueryResult<Template> {
    diesel::insert_into(templates::table)
        .values(new)
        .returning(Template::as_returning())
        .get_result(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, org: &str, id: Uuid) -> QueryResult<Template> {
    visible(org)
        .filter(templates::id.eq(id))
        .select(Template::as_select())
        .first(conn)
        .await
}

/// A template by name; the org's own wins over a built-in of the same name.
pub async fn find_by_name(
    conn: &mut AsyncPgConnection,
    org: &str,
    name: &str,
) -> QueryResult<Template> {
    visible(org)
        .filter(templates::name.eq(name))
        .select(Template::as_select())
        .order(templates::builtin.asc())
        .first(conn)
        .await
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    org: &str,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Rows<Template>> {
    let mut query = visible(org)
        .select(Template::as_select())
        .order(templates::id.desc())
        .limit(limit + 1);
    if let Some(before) = before {
        query = query.filter(templates::id.lt(before));
    }
    query
        .load(conn)
        .await
        .map(|rows| Rows::from_overfetch(rows, limit))
}

/// What a replacement of an org's template sets.
#[derive(AsChangeset)]
#[diesel(table_name = templates)]
pub struct TemplateChanges<'a> {
    pub name: &'a str,
    pub app_type: &'a str,
    pub description: &'a str,
    pub template: &'a str,
    pub variables: &'a serde_json::Value,
}

/// Replaces an org's own template; built-ins are read-only and never match.
pub async fn replace(
    conn: &mut AsyncPgConnection,
    org: &str,
    id: Uuid,
    changes: TemplateChanges<'_>,
) -> QueryResult<Template> {
    diesel::update(
        templates::table
            .filter(templates::org.eq(org))
            .filter(templates::id.eq(id))
            .filter(templates::deleted_at.is_null()),
    )
    .set((changes, templates::updated_at.eq(Utc::now())))
    .returning(Template::as_returning())
    .get_result(conn)
    .await
}

pub async fn soft_delete(conn: &mut AsyncPgConnection, org: &str, id: Uuid) -> QueryResult<usize> {
    diesel::update(
        templates::table
            .filter(templates::org.eq(org))
            .filter(templates::id.eq(id))
            .filter(templates::deleted_at.is_null()),
    )
    .set(templates::deleted_at.eq(Utc::now()))
    .execute(conn)
    .await
}

/// Makes the built-in rows match the templates compiled into this binary: inserts new
/// ones, refreshes changed ones. Ids derive from the name so every process agrees.
pub async fn sync_builtins(
    conn: &mut AsyncPgConnection,
    builtins: &[(&str, &str, &str, &str)],
) -> QueryResult<()> {
    for &(name, app_type, description, body) in builtins {
        let id = Uuid::new_v5(
            &Uuid::NAMESPACE_URL,
            format!("convoy:template:{name}").as_bytes(),
        );
        let row = NewTemplate {
            id,
            org: None,
            name,
            app_type,
            description,
            template: body,
            builtin: true,
            variables: None,
        };
        diesel::insert_into(templates::table)
            .values(&row)
            .on_conflict(templates::id)
            .do_update()
            .set((&row, templates::updated_at.eq(Utc::now())))
            .execute(conn)
            .await?;
    }
    Ok(())
}
