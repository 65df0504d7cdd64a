//! Request body and query extraction that answers in problem+json: a body above the
//! operator's limit is a 413, a body that is not JSON is a 400; JSON of the wrong shape is
//! a 422 naming each offending field's path.
//!
//! The shape is read past its problems where it can: an unknown key, or a key of the
//! wrong type that the body type can do without, is reported and left out, and reading
//! goes on. [`Body`] answers every such problem at once; [`Lenient`] hands them to the
//! handler with the rest of the body, so that its own checks (unknown hosts, missing
//! secrets…) join them in one 422 ([`ShapeErrors::reject`]).

use actix_web::http::StatusCode;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, FieldError};
use crate::state::AppState;

/// A JSON body deserialised with the path of the first offending field.
pub struct Body<T>(pub T);

/// Turns a `serde_path_to_error` path (`servers.web.hosts[0]`) into `servers/web/hosts/0`.
pub fn slash_path(path: &serde_path_to_error::Path) -> String {
    path.iter()
        .filter_map(|seg| match seg {
            serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
            serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
            serde_path_to_error::Segment::Unknown => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// serde's messages name the missing or unknown field inside the text; lift it into the path.
fn field_error(err: serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let mut field = slash_path(err.path());
    let message = err.inner().to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    // The path stops at the object that lacks the field; unknown fields are already in it.
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        field = if field.is_empty() || field == "." {
            name.to_string()
        } else {
            format!("{field}/{name}")
        };
    }
    if field.is_empty() || field == "." {
        field = "body".into();
    }
    FieldError::new(field, without_value(&message))
}

/// serde quotes the offending value (`invalid type: string "…", expected a map`); the
/// value may be a secret (a mistyped `secrets` entry), so only its kind is kept. The last
/// `, expected ` is serde's own, whatever the value contains.
fn without_value(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((found, expected)) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.rsplit_once(", expected "))
        {
            let kind = found.split(['`', '"']).next().unwrap_or(found).trim();
            return format!("{prefix}{kind}, expected {expected}");
        }
    }
    message.to_string()
}

pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    let (value, shape) = from_value_lenient(value)?;
    shape.reject(Vec::new())?;
    Ok(value)
}

/// Most shape problems read past in one body: each costs one more pass over it.
const MAX_SHAPE_ERRORS: usize = 32;

/// The problems of a body's shape that reading went past (unknown keys, keys of the
/// wrong type left out).
#[derive(Debug, Default)]
#[must_use = "the body's shape problems must be reported"]
pub struct ShapeErrors(Vec<FieldError>);

impl ShapeErrors {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Ends validation: the shape problems and the handler's own `errors` in one 422.
    /// A handler error at or under a field the body could not read is left out: it only
    /// says again that the field is missing.
    pub fn reject(self, errors: Vec<FieldError>) -> Result<(), ApiError> {
        let mut all = self.0;
        let unread: Vec<String> = all.iter().map(|e| e.field.clone()).collect();
        all.extend(errors.into_iter().filter(|e| {
            !unread
                .iter()
                .any(|f| e.field == *f || e.field.starts_with(&format!("{f}/")))
        }));
        crate::routes::reject(all)
    }

    /// The handler's outcome with the shape problems: see [`Self::reject`] and [`Self::over`].
    pub fn finish<R>(self, result: Result<R, ApiError>) -> Result<R, ApiError> {
        match result {
            Ok(value) => self.reject(Vec::new()).map(|()| value),
            Err(e) => Err(self.over(e)),
        }
    }

    /// An error that ended the handler's checks early: a 422 joins the shape problems;
    /// any other error gives way to them, as when the body was refused before the handler.
    pub fn over(self, error: ApiError) -> ApiError {
        match error {
            ApiError::Unprocessable { errors, .. } => match self.reject(errors) {
                Err(merged) => merged,
                Ok(()) => ApiError::invalid(Vec::new()),
            },
            other if self.0.is_empty() => other,
            _ => ApiError::invalid(self.0),
        }
    }
}

/// Reads `value` into `T` past its shape problems (see the module's note). Fails with
/// them all when `T` cannot be read without a field (a required one missing or mistyped).
pub fn from_value_lenient<T: DeserializeOwned>(
    mut value: Value,
) -> Result<(T, ShapeErrors), ApiError> {
    let mut errors: Vec<FieldError> = Vec::new();
    while errors.len() < MAX_SHAPE_ERRORS {
        let err = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(read) => return Ok((read, ShapeErrors(errors))),
            Err(err) => err,
        };
        let missing = err.inner().to_string().starts_with("missing field");
        let path: Vec<_> = err.path().iter().cloned().collect();
        let error = field_error(err);
        let repeated = errors.iter().any(|e| e.field == error.field);
        if !repeated {
            errors.push(error);
        }
        if missing || repeated || !remove_at(&mut value, &path) {
            break;
        }
    }
    Err(ApiError::invalid(errors))
}

/// Removes the key a path ends at; false when the path does not end at an object's key.
fn remove_at(value: &mut Value, path: &[serde_path_to_error::Segment]) -> bool {
    use serde_path_to_error::Segment;
    let Some((Segment::Map { key }, parents)) = path.split_last() else {
        return false;
    };
    let mut at = value;
    for segment in parents {
        let next = match (segment, at) {
            (Segment::Map { key }, Value::Object(map)) => map.get_mut(key),
            (Segment::Seq { index }, Value::Array(items)) => items.get_mut(*index),
            _ => None,
        };
        match next {
            Some(next) => at = next,
            None => return false,
        }
    }
    at.as_object_mut()
        .is_some_and(|map| map.remove(key).is_some())
}

/// A body read past its shape problems, which the handler reports with its own.
pub struct Lenient<T>(pub T, pub ShapeErrors);

/// A JSON body that may be left out: an empty body reads as `{}`.
pub struct OptionalBody<T>(pub T);

/// Reads the body as a JSON object into `T`; `empty` stands in for an empty body.
fn read_json<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    empty: Option<Value>,
) -> LocalBoxFuture<'static, Result<(T, ShapeErrors), ApiError>> {
    // The limit is the app's `web::PayloadConfig` (`configure`: CONVOY_MAX_BODY), checked
    // against Content-Length before reading and against the bytes as they arrive.
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.policy.max_body_bytes);
    let bytes = web::Bytes::from_request(req, payload);
    Box::pin(async move {
        let bytes = bytes.await.map_err(|e| {
            if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(match limit {
                    Some(limit) => format!("the request body is larger than {limit} bytes"),
                    None => "the request body is too large".into(),
                })
            } else {
                ApiError::BadRequest(format!("could not read the body: {e}"))
            }
        })?;
        let value: Value = match empty {
            Some(value) if bytes.iter().all(u8::is_ascii_whitespace) => value,
            _ => serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::BadRequest(format!("body is not valid JSON: {e}")))?,
        };
        // serde would read an array as a struct's fields in order; every body is an object.
        if !value.is_object() {
            return Err(ApiError::invalid_field("body", "must be a JSON object"));
        }
        from_value_lenient(value)
    })
}

/// Every shape problem refuses the body.
async fn strict<T>(
    read: LocalBoxFuture<'static, Result<(T, ShapeErrors), ApiError>>,
) -> Result<T, ApiError> {
    let (value, shape) = read.await?;
    shape.reject(Vec::new())?;
    Ok(value)
}

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = read_json(req, payload, None);
        Box::pin(async move { strict(read).await.map(Body) })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Lenient<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = read_json(req, payload, None);
        Box::pin(async move { read.await.map(|(value, shape)| Lenient(value, shape)) })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for OptionalBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = read_json(req, payload, Some(serde_json::json!({})));
        Box::pin(async move { strict(read).await.map(OptionalBody) })
    }
}

/// Query strings are read as text and parsed by the handler, so that a bad value is a
/// 400 naming its parameter rather than serde_urlencoded's anonymous message.
pub fn parse_param<T: std::str::FromStr>(
    name: &str,
    raw: Option<&str>,
) -> Result<Option<T>, ApiError> {
    raw.map(|v| {
        v.parse::<T>().map_err(|_| {
            ApiError::BadRequest(format!("query parameter `{name}` is invalid: {v:?}"))
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Shape {
        name: String,
        #[serde(default)]
        port: Option<u16>,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[serde(default)]
        flag: bool,
    }

    fn fields(e: ApiError) -> Vec<String> {
        e.problem().errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn reading_goes_past_unknown_and_optional_mistyped_keys() {
        let body = json!({"name": "a", "extra": 1, "port": "x", "inner": {"flag": true, "typo": 1}, "more": 2});
        let (read, shape) = from_value_lenient::<Shape>(body).unwrap();
        assert_eq!(read.name, "a");
        assert_eq!(read.port, None);
        assert!(read.inner.unwrap().flag);
        let err = shape
            .reject(vec![
                FieldError::new("port", "said again"),
                FieldError::new("hosts/0", "unknown server"),
            ])
            .unwrap_err();
        // serde_json reads keys in sorted order.
        assert_eq!(
            fields(err),
            ["extra", "inner/typo", "more", "port", "hosts/0"]
        );
    }

    #[test]
    fn messages_never_quote_the_value() {
        let err =
            from_value::<BTreeMap<String, u16>>(json!({"A": "s3cret, expected x", "B": 7654321}))
                .unwrap_err();
        let text = serde_json::to_string(&err.problem()).unwrap();
        assert!(
            !text.contains("7654321") && !text.contains("s3cret"),
            "{text}"
        );
        assert!(
            text.contains("invalid type: string, expected u16"),
            "{text}"
        );
        assert!(
            text.contains("invalid value: integer, expected u16"),
            "{text}"
        );
    }

    #[test]
    fn a_required_field_ends_reading_with_everything_found() {
        let err = from_value_lenient::<Shape>(json!({"extra": 1, "name": 5})).unwrap_err();
        assert_eq!(fields(err), ["extra", "name"]);
        let err = from_value_lenient::<Shape>(json!({"extra": 1})).unwrap_err();
        assert_eq!(fields(err), ["extra", "name"]);
    }

    #[test]
    fn other_errors_give_way_to_shape_problems_and_422s_join_them() {
        let (_, shape) = from_value_lenient::<Shape>(json!({"name": "a", "x": 1})).unwrap();
        assert_eq!(fields(shape.over(ApiError::not_found("template"))), ["x"]);
        let (_, shape) = from_value_lenient::<Shape>(json!({"name": "a"})).unwrap();
        let e = shape.over(ApiError::not_found("template"));
        assert!(matches!(e, ApiError::NotFound(_)));
        let (_, shape) = from_value_lenient::<Shape>(json!({"name": "a", "x": 1})).unwrap();
        let e = shape.over(ApiError::invalid_field("secrets/A", "missing"));
        assert_eq!(fields(e), ["x", "secrets/A"]);
    }
}
