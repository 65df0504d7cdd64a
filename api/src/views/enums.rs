//! The closed sets of words the API answers with, as OpenAPI string enums: each schema
//! lists the values of the one definition the server uses, so the document cannot drift
//! from it.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

use crate::db::models::deployment::kind;
use crate::db::models::status;

fn text_enum<'a>(description: &str, values: impl IntoIterator<Item = &'a str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
        .into()
}

macro_rules! text_enum {
    ($(#[doc = $doc:literal])* $name:ident = $values:expr) => {
        $(#[doc = $doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                text_enum(concat!($($doc, "\n"),*).trim(), $values)
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

text_enum! {
    /// A deployment's status; `deployed`, `failed`, `cancelled`, `rolled_back`, `aborted`
    /// and `expired` are final.
    DeploymentStatus = status::DeploymentStatus::ALL.map(status::DeploymentStatus::as_str)
}

text_enum! {
    /// A target's status (one role on one server); `succeeded`, `failed`, `cancelled` and
    /// `skipped` are final.
    TargetStatus = status::TargetStatus::ALL.map(status::TargetStatus::as_str)
}

text_enum! {
    /// What a run does: deploy, rollback, or an operation on what runs (SPEC §10).
    DeploymentKind = kind::ALL
}

text_enum! {
    /// What a failed deployment does: `rollback` returns every host to the previous
    /// version, `halt` stops where the failure happened.
    OnFailure = ["rollback", "halt"]
}

text_enum! {
    /// What an event records: a deployment's (`GET /v1/deployments/{id}/events`), a
    /// service's (`GET /v1/services/{service}/events`) or a server's
    /// (`GET /v1/servers/{id}/events`).
    EventKind = crate::webhooks::events::DEPLOYMENT_KINDS
        .iter()
        .chain(&crate::webhooks::events::SERVICE_KINDS)
        .chain(&crate::db::models::server_event::SERVER_KINDS)
        .copied()
}

text_enum! {
    /// A day of a recurring deployment window.
    Weekday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
}

text_enum! {
    /// The kind of app a template deploys.
    AppType = crate::kamal::template::APP_TYPES.iter().copied()
}

#[cfg(test)]
mod tests {
    use crate::kamal::config::OnFailure as Policy;

    #[test]
    fn on_failure_lists_the_config_values() {
        for (value, word) in [(Policy::Rollback, "rollback"), (Policy::Halt, "halt")] {
            assert_eq!(serde_json::to_value(value).unwrap(), word);
        }
    }
}
