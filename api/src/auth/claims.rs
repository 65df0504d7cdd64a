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
    /// Checked by the verifier when present; typed here so that a malformed value is
    /// refused rather than silently ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
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

    /// Checks the claims Convoy writes into keys and log lines; the error names the claim.
    pub fn check_identity(&self) -> Result<(), String> {
        check_org(&self.org)?;
        check_sub(&self.sub)
    }
}

/// Longest `org`: one DNS label, enough for a slug or a UUID.
pub const MAX_ORG_CHARS: usize = 63;
/// Longest `sub`: room for an e-mail address or an identity provider's opaque id.
pub const MAX_SUB_CHARS: usize = 256;

/// `org` is part of keys such as the job queue's `org/service` and of on-host audit lines,
/// so it is one word: `^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`. A `/` would make two orgs'
/// keys collide; anything else a tenant id needs fits in this grammar.
pub fn check_org(org: &str) -> Result<(), String> {
    let mut chars = org.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if first_ok && rest_ok && org.len() <= MAX_ORG_CHARS {
        Ok(())
    } else {
        Err(format!(
            "claim `org` must be 1 to {MAX_ORG_CHARS} letters, digits, `.`, `_` or `-`, \
             starting with a letter or digit"
        ))
    }
}

/// `sub` is written into the audit log on every host; a line break (or any control
/// character) in it would let a caller forge log lines.
pub fn check_sub(sub: &str) -> Result<(), String> {
    if sub.is_empty() || sub.chars().count() > MAX_SUB_CHARS {
        return Err(format!(
            "claim `sub` must be 1 to {MAX_SUB_CHARS} characters"
        ));
    }
    // U+2028/U+2029 are not control characters, but some log viewers break lines on them.
    if sub
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Err("claim `sub` must not contain control characters or line breaks".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_grammar(
        check: fn(&str) -> Result<(), String>,
        claim: &str,
        ok: &[&str],
        bad: &[&str],
    ) {
        for value in ok {
            assert_eq!(check(value), Ok(()), "{value:?}");
        }
        for value in bad {
            let err = check(value).unwrap_err();
            assert!(err.contains(claim), "{value:?}: {err}");
        }
    }

    #[test]
    fn org_grammar() {
        let longest = "x".repeat(MAX_ORG_CHARS);
        let too_long = "x".repeat(MAX_ORG_CHARS + 1);
        assert_grammar(
            check_org,
            "`org`",
            &["acme", "a", "Acme-2.prod_eu", &longest],
            &[
                "", "acme/web", "-acme", ".acme", "ac me", "acme\n", "acmé", "a:b", &too_long,
            ],
        );
    }

    #[test]
    fn sub_refuses_control_characters_and_long_values() {
        let longest = "x".repeat(MAX_SUB_CHARS);
        let too_long = "x".repeat(MAX_SUB_CHARS + 1);
        assert_grammar(
            check_sub,
            "`sub`",
            &["u1", "jane@example.com", "Zoë Example", &longest],
            &[
                "",
                "u1\nconvoy-audit forged",
                "u1\r",
                "u1\0",
                "u1\t",
                "u1\u{1b}[2J",
                "u1\u{2028}forged",
                &too_long,
            ],
        );
    }
}
