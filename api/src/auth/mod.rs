//! Bearer JWT authentication, tenancy (`org`) and roles (SPEC §4).

mod claims;
mod extractor;
mod keys;

pub use claims::{Claims, Role};
pub use extractor::{Admin, AuthUser, Deployer, Viewer};
pub use keys::JwtKeys;
