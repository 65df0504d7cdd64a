use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

use super::Claims;

/// Verifies (and, with a shared secret, signs) tokens.
#[derive(Clone)]
pub struct JwtKeys {
    decoding: Arc<DecodingKey>,
    encoding: Option<Arc<EncodingKey>>,
    validation: Validation,
    issuer: Option<String>,
    audience: Option<String>,
}

impl JwtKeys {
    fn validation(
        alg: Algorithm,
        issuer: &Option<String>,
        audience: &Option<String>,
    ) -> Validation {
        let mut v = Validation::new(alg);
        let mut required = vec!["exp", "sub"];
        if issuer.is_some() {
            required.push("iss");
        }
        if audience.is_some() {
            required.push("aud");
        }
        v.set_required_spec_claims(&required);
        v.leeway = 30;
        // A token minted for later must not work before its time.
        v.validate_nbf = true;
        if let Some(iss) = issuer {
            v.set_issuer(&[iss]);
        }
        match audience {
            Some(aud) => v.set_audience(&[aud]),
            None => v.validate_aud = false,
        }
        v
    }

    pub fn shared_secret(secret: &[u8], issuer: Option<String>, audience: Option<String>) -> Self {
        Self {
            decoding: Arc::new(DecodingKey::from_secret(secret)),
            encoding: Some(Arc::new(EncodingKey::from_secret(secret))),
            validation: Self::validation(Algorithm::HS256, &issuer, &audience),
            issuer,
            audience,
        }
    }

    /// An RS256 or EdDSA public key in PEM form; tokens are then minted elsewhere.
    pub fn public_key(
        pem: &str,
        issuer: Option<String>,
        audience: Option<String>,
    ) -> Result<Self, String> {
        let (decoding, alg) = if let Ok(k) = DecodingKey::from_ed_pem(pem.as_bytes()) {
            (k, Algorithm::EdDSA)
        } else if let Ok(k) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
            (k, Algorithm::RS256)
        } else {
            return Err("is not an RSA or Ed25519 public key in PEM form".into());
        };
        Ok(Self {
            decoding: Arc::new(decoding),
            encoding: None,
            validation: Self::validation(alg, &issuer, &audience),
            issuer,
            audience,
        })
    }

    /// The claims of a validly signed, current token whose `org` and `sub` Convoy can use.
    pub fn verify(&self, token: &str) -> Result<Claims, String> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| e.to_string())?
            .claims;
        claims.check_identity()?;
        Ok(claims)
    }

    /// Signs a token with the shared secret (for `convoy token`, development and CI).
    pub fn sign(
        &self,
        org: &str,
        sub: &str,
        roles: &[super::Role],
        ttl: std::time::Duration,
    ) -> Result<String, String> {
        let encoding = self
            .encoding
            .as_ref()
            .ok_or("signing needs CONVOY_JWT_SECRET; a public key can only verify")?;
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            + ttl;
        let claims = Claims {
            sub: sub.into(),
            org: org.into(),
            roles: roles.iter().map(|r| r.as_str().to_string()).collect(),
            exp: exp.as_secs(),
            nbf: None,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        // The server would refuse these claims; do not hand out a token that cannot work.
        claims.check_identity()?;
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, encoding)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::Role;
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn signed_token_verifies_with_its_claims() {
        let keys = JwtKeys::shared_secret(SECRET, Some("admiral".into()), None);
        let token = keys
            .sign("acme", "u1", &[Role::Deployer], Duration::from_secs(60))
            .unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(claims.org, "acme");
        assert_eq!(claims.highest_role(), Some(Role::Deployer));
    }

    #[test]
    fn wrong_secret_issuer_or_audience_is_rejected() {
        let keys = JwtKeys::shared_secret(SECRET, None, None);
        let token = keys
            .sign("acme", "u1", &[Role::Viewer], Duration::from_secs(60))
            .unwrap();
        let other = JwtKeys::shared_secret(b"another-secret-of-at-least-32-bytes!", None, None);
        assert!(other.verify(&token).is_err());
        let with_iss = JwtKeys::shared_secret(SECRET, Some("admiral".into()), None);
        assert!(with_iss.verify(&token).is_err());
        let with_aud = JwtKeys::shared_secret(SECRET, None, Some("convoy".into()));
        assert!(with_aud.verify(&token).is_err());
    }

    #[test]
    fn signing_refuses_an_org_or_sub_the_server_would_refuse() {
        let keys = JwtKeys::shared_secret(SECRET, None, None);
        let ttl = Duration::from_secs(60);
        let err = keys
            .sign("acme/web", "u1", &[Role::Viewer], ttl)
            .unwrap_err();
        assert!(err.contains("`org`"), "{err}");
        let err = keys
            .sign("acme", "u1\nforged", &[Role::Viewer], ttl)
            .unwrap_err();
        assert!(err.contains("`sub`"), "{err}");
    }

    fn encode(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    }

    #[test]
    fn verify_refuses_future_nbf_and_bad_identity_claims() {
        let keys = JwtKeys::shared_secret(SECRET, None, None);
        let now = jsonwebtoken::get_current_timestamp();
        let exp = now + 600;
        let ok = encode(serde_json::json!({"sub": "u1", "org": "acme", "exp": exp, "nbf": now}));
        assert!(keys.verify(&ok).is_ok());
        let later =
            encode(serde_json::json!({"sub": "u1", "org": "acme", "exp": exp, "nbf": now + 300}));
        assert!(keys.verify(&later).is_err());
        let bad_org = encode(serde_json::json!({"sub": "u1", "org": "a/b", "exp": exp}));
        assert!(keys.verify(&bad_org).unwrap_err().contains("`org`"));
        let bad_sub = encode(serde_json::json!({"sub": "u\r\n1", "org": "acme", "exp": exp}));
        assert!(keys.verify(&bad_sub).unwrap_err().contains("`sub`"));
    }
}
