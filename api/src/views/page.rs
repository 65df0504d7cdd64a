use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::extract::parse_param;

/// The one `limit` rule of every list, logs included (docs/API.md, "Lists"): 1 to
/// `MAX_LIMIT` items, `DEFAULT_LIMIT` when absent. The `#[param]` attributes repeat them
/// (a literal is needed there); a test checks the document against these.
pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

/// Reads `limit` by the one rule; out of range is a 400 naming it.
pub fn parse_limit(raw: Option<&str>) -> Result<i64, ApiError> {
    let limit = parse_param::<i64>("limit", raw)?.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "query parameter `limit` must be between 1 and {MAX_LIMIT}, got {limit}"
        )));
    }
    Ok(limit)
}

/// `?limit=&cursor=` of every list.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct PageParams {
    /// At most this many items, 1 to 1000 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<String>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn limit(&self) -> Result<i64, ApiError> {
        parse_limit(self.limit.as_deref())
    }

    /// Decodes the cursor into the key type the list is ordered by.
    pub fn cursor<K: std::str::FromStr>(&self) -> Result<Option<K>, ApiError> {
        let Some(raw) = &self.cursor else {
            return Ok(None);
        };
        let invalid = || ApiError::BadRequest("query parameter `cursor` is invalid".into());
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw)
            .map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        text.strip_prefix("c1:")
            .and_then(|k| k.parse().ok())
            .map(Some)
            .ok_or_else(invalid)
    }
}

pub fn encode_cursor(key: impl std::fmt::Display) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("c1:{key}"))
}

/// A page of a list; its items are the list's own type (`$ref`, see `openapi.rs`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from rows; the cursor is the key of the last row when more follow.
    pub fn new<R, K: std::fmt::Display>(
        rows: crate::db::models::Rows<R>,
        key: impl Fn(&R) -> K,
        view: impl Fn(R) -> T,
    ) -> Self {
        let next_cursor = if rows.more {
            rows.items.last().map(|r| encode_cursor(key(r)))
        } else {
            None
        };
        Self {
            items: rows.items.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let id = uuid::Uuid::now_v7();
        let params = PageParams {
            limit: None,
            cursor: Some(encode_cursor(id)),
        };
        assert_eq!(params.cursor::<uuid::Uuid>().unwrap(), Some(id));
        let bad = PageParams {
            limit: Some("1001".into()),
            cursor: Some("!!".into()),
        };
        assert!(bad.cursor::<uuid::Uuid>().is_err());
        assert!(bad.limit().is_err());
    }
}
