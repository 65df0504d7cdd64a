use serde::{Deserialize, Serialize};

/// What a token may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Deployer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Deployer => "deployer",
            Self::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Self::Viewer),
            "deployer" => Ok(Self::Deployer),
            "admin" => Ok(Self::Admin),
            other => Err(format!(
                "unknown role {other:?} (expected viewer, deployer or admin)"
            )),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub org: String,
    /// Unknown role names are ignored rather than rejected, so that an identity provider
    /// can add roles for other services to the same token.
    #[serde(default)]
    pub roles: Vec<String>,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

impl Claims {
    /// The strongest known role the token carries.
    pub fn highest_role(&self) -> Option<Role> {
        self.roles.iter().filter_map(|r| r.parse().ok()).max()
    }
}
