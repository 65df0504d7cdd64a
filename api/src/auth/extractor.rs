use std::future::{ready, Ready};
use std::ops::Deref;

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};

use super::{JwtKeys, Role};
use crate::error::ApiError;

/// The authenticated caller; every query it makes is scoped by `org`. Handlers receive it
/// through a role extractor ([`Viewer`], [`Deployer`], [`Admin`]), never on its own.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub sub: String,
    pub org: String,
    pub role: Role,
    /// The token's `exp` (seconds since the epoch): a long-lived answer such as a live
    /// stream ends here.
    pub expires_at: u64,
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
        expires_at: claims.exp,
    })
}

/// Declares an extractor for callers holding at least one role. It is the first argument
/// of a handler, and actix polls arguments in order and stops at the first error, so a
/// caller without the role gets 401/403 before the body is read: nothing about the body
/// (its size, its shape, its validity) is revealed to someone who may not act (SPEC §12).
macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident => $role:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub AuthUser);

        impl $name {
            pub const ROLE: Role = $role;
        }

        impl Deref for $name {
            type Target = AuthUser;

            fn deref(&self) -> &AuthUser {
                &self.0
            }
        }

        impl FromRequest for $name {
            type Error = ApiError;
            type Future = Ready<Result<Self, ApiError>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                ready(authenticate(req).and_then(|user| {
                    user.require(Self::ROLE)?;
                    Ok(Self(user))
                }))
            }
        }
    };
}

role_extractor!(
    /// A caller who may read the org's resources.
    Viewer => Role::Viewer
);
role_extractor!(
    /// A caller who may also deploy, roll back and cancel.
    Deployer => Role::Deployer
);
role_extractor!(
    /// A caller who may also manage servers, templates and locks.
    Admin => Role::Admin
);
