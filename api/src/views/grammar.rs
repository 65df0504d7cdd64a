//! The grammars the server enforces on words of the API, as OpenAPI schemas: the same
//! rules as the validators they name, stated once for the document. Parameters of many
//! operations (`service`, `destination`, `cursor`, …) get theirs in `openapi.rs`
//! (`PARAMETERS`); body fields point at these with `#[schema(value_type = …)]`.

use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::openapi::RefOr;

/// A string schema with a pattern and a length bound.
pub fn text(description: &str, pattern: &str, max_length: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(Some(pattern))
        .min_length(Some(1))
        .max_length(Some(max_length))
}

/// `kamal::config::rules::service_name`.
pub const SERVICE: &str = "^[a-z0-9][a-z0-9-]*$";
/// `kamal::config::rules::role_name`, also destinations; empty means none.
pub const DESTINATION: &str = "^([a-z0-9][a-z0-9_-]*)?$";
/// `kamal::config::rules::role_name`.
pub const ROLE: &str = "^[a-z0-9][a-z0-9_-]*$";
/// Server and label names (`views::servers::is_name`).
pub const NAME: &str = "^[A-Za-z0-9][A-Za-z0-9._-]*$";
/// An SSH user (`views::servers::is_user`).
pub const USER: &str = "^[A-Za-z0-9._-]+$";
/// A DNS name (labels of letters, digits and inner hyphens) or an IPv4 address; IPv6
/// addresses are accepted too but not described by the pattern.
pub const HOSTNAME: &str = "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$";
/// The PEM or OpenSSH armour of an unencrypted private key (the key itself must parse).
pub const PRIVATE_KEY: &str = "^-----BEGIN ([A-Z]+ )?PRIVATE KEY-----\\r?\\n";
/// An OpenSSH public key line or a `SHA256:` fingerprint (the key itself must parse).
pub const HOST_KEY: &str = "^((ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) AAAA[A-Za-z0-9+/]+={0,2}( .*)?|SHA256:[A-Za-z0-9+/]{43}=?)$";
/// Go's `time.ParseDuration` without a sign (`observe::parse_since`); an RFC 3339 time is
/// accepted too.
pub const DURATION: &str = "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";
/// `Idempotency-Key`: visible ASCII.
pub const IDEMPOTENCY_KEY: &str = "^[!-~]+$";
/// The largest `min_free_mib` of a plan's disk check (1 PiB): more is no disk.
pub const MAX_MIN_FREE_MIB: u64 = 1 << 30;
/// A page cursor: base64url without padding, as `next_cursor` gives it.
pub const CURSOR: &str = "^[A-Za-z0-9_-]+$";

/// Server labels: names like server names, values of at most 255 characters.
pub struct Labels;

impl utoipa::PartialSchema for Labels {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some(
                "Free-form labels (`group_by` of a rollout strategy reads them): names of 1-63 \
                 letters, digits, '-', '_' or '.', values of at most 255 characters.",
            ))
            .property_names(Some(text("A label name", NAME, 63)))
            .additional_properties(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(255)),
            ))
            .into()
    }
}

impl utoipa::ToSchema for Labels {}

/// A jump host: another registered server, or a user, host and port.
pub struct SshProxyInput;

impl utoipa::PartialSchema for SshProxyInput {
    fn schema() -> RefOr<Schema> {
        let by_id = ObjectBuilder::new()
            .title(Some("Registered jump host"))
            .property(
                "server_id",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Uuid,
                    )))
                    .description(Some("Another server of the org, itself reached directly")),
            )
            .required("server_id")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        let direct = ObjectBuilder::new()
            .title(Some("Jump host by address"))
            .property("user", text("SSH user on the jump host", USER, 32))
            .property(
                "host",
                text("The jump host's DNS name or address", HOSTNAME, 253),
            )
            .property(
                "port",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(65535))
                    .description(Some("Default 22")),
            )
            .property(
                "host_key",
                text("The jump host's public key or fingerprint", HOST_KEY, 16384),
            )
            .required("user")
            .required("host")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        OneOfBuilder::new()
            .item(by_id)
            .item(direct)
            .description(Some(
                "Jump host the server is reached through; a `server_id` must name a \
                 registered server of the org reached directly.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for SshProxyInput {}

/// A schema made of one string rule.
macro_rules! text_schema {
    ($(#[doc = $doc:literal])* $name:ident = $description:literal, $pattern:expr, $max:expr) => {
        $(#[doc = $doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                text($description, $pattern, $max).into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

text_schema! {
    /// A server's name (or hostname) in a request.
    ServerName = "A registered server's name or hostname", "^[A-Za-z0-9][A-Za-z0-9._-]*$", 253
}

text_schema! {
    /// A Kamal role.
    RoleName = "A Kamal role", ROLE, 63
}

/// The argv of an exec: at least one word.
pub struct Command;

impl utoipa::PartialSchema for Command {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[^\\u0000]*$")),
            )
            .min_items(Some(1))
            .description(Some(
                "The argv: each word is passed as is (quoted for the remote shell).",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Command {}

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::*;
    use crate::kamal::config::{validate_destination, validate_service};

    fn matches(pattern: &str, value: &str) -> bool {
        Regex::new(pattern).unwrap().is_match(value)
    }

    /// A value the pattern admits (within the length) is one the validator accepts, and
    /// the other way round, on a sample of edge cases.
    #[test]
    fn parameter_patterns_agree_with_their_validators() {
        let samples = [
            "web", "a", "0", "shop-1", "my_app", "-web", "Web", "a b", "", "x.y", "é", "web\n",
        ];
        for value in samples {
            assert_eq!(
                matches(SERVICE, value) && value.len() <= 63,
                validate_service(value).is_ok(),
                "service {value:?}"
            );
            assert_eq!(
                matches(DESTINATION, value),
                value.is_empty() || validate_destination(value).is_ok(),
                "destination {value:?}"
            );
        }
    }

    #[test]
    fn key_patterns_admit_real_keys() {
        let host_key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPGRPTbCc4z7kMrNqj6o4/3/lSDr3Gcziuhpqggd505E";
        assert!(matches(HOST_KEY, host_key));
        assert!(matches(
            HOST_KEY,
            "SHA256:Xk3bM3FQ0v6o5Yl3kq9oVZ1qv4mS5m7QwJ2r0yZC1aE"
        ));
        assert!(!matches(HOST_KEY, "ssh-ed25519"));
        assert!(matches(
            PRIVATE_KEY,
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n"
        ));
        assert!(matches(DURATION, "1h30m") && matches(DURATION, "5m"));
        assert!(!matches(DURATION, "-5m") && !matches(DURATION, ""));
        assert!(matches(IDEMPOTENCY_KEY, "deploy-42") && !matches(IDEMPOTENCY_KEY, "a b"));
    }
}
