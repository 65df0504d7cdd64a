use std::future::{ready, Ready};

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};

use super::{JwtKeys, Role};
use crate::error::ApiError;

/// The authenticated caller: every handler that takes it is authenticated, and every
/// query it makes is scoped by `org`.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub sub: String,
    pub org: String,
    pub role: Role,
}

impl AuthUser {
    /// Fails with 403 unless the caller holds `role` or a stronger one.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this action needs the {} role",
                role.as_str()
            )))
        }
    }
}

fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let keys = req
        .app_data::<web::Data<JwtKeys>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("JWT keys are not configured")))?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("no Authorization header".into()))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .ok_or_else(|| ApiError::Unauthorized("Authorization must be `Bearer <token>`".into()))?;
    let claims = keys.verify(token.trim()).map_err(ApiError::Unauthorized)?;
    let role = claims
        .highest_role()
        .ok_or_else(|| ApiError::Forbidden("token carries no known role".into()))?;
    Ok(AuthUser {
        sub: claims.sub,
        org: claims.org,
        role,
    })
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}
