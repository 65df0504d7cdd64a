//! Request body and query extraction that answers in problem+json: a body above the
//! operator's limit is a 413, a body that is not JSON is a 400; JSON of the wrong shape is
//! a 422 naming the field's path.

use actix_web::http::StatusCode;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

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
    FieldError::new(field, message)
}

pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| ApiError::invalid(vec![field_error(e)]))
}

/// A JSON body that may be left out: an empty body reads as `{}`.
pub struct OptionalBody<T>(pub T);

/// Reads the body as a JSON object into `T`; `empty` stands in for an empty body.
fn read_json<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    empty: Option<serde_json::Value>,
) -> LocalBoxFuture<'static, Result<T, ApiError>> {
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
        let value: serde_json::Value = match empty {
            Some(value) if bytes.iter().all(u8::is_ascii_whitespace) => value,
            _ => serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::BadRequest(format!("body is not valid JSON: {e}")))?,
        };
        // serde would read an array as a struct's fields in order; every body is an object.
        if !value.is_object() {
            return Err(ApiError::invalid_field("body", "must be a JSON object"));
        }
        from_value(value)
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = read_json(req, payload, None);
        Box::pin(async move { read.await.map(Body) })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for OptionalBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = read_json(req, payload, Some(serde_json::json!({})));
        Box::pin(async move { read.await.map(OptionalBody) })
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
