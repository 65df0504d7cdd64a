use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::models::template::Template;
use crate::error::FieldError;

use crate::kamal::template::{self as kamal_template, Declaration, Variable, APP_TYPES};

/// An org's own Kamal config template (handlebars producing deploy.yml).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "small-rails",
    "app_type": "rails",
    "description": "Rails behind the proxy on one host",
    "template": "service: {{service_name}}\nimage: {{image}}\nservers:\n  web:\n    - {{server}}\n",
    "variables": [
        {"name": "service_name", "type": "string", "description": "Service name"},
        {"name": "image", "type": "string", "default": "ghcr.io/acme/app:latest"},
        {"name": "server", "type": "host", "description": "The server to deploy to"}
    ]
}))]
pub struct TemplateInput {
    /// Unique within the org (`^[a-z0-9][a-z0-9-]*$`, at most 63).
    #[schema(pattern = "^[a-z0-9][a-z0-9-]*$", min_length = 1, max_length = 63)]
    pub name: String,
    /// One of rails, nextjs, postgres, redis, mysql, worker, generic.
    #[schema(value_type = crate::views::enums::AppType)]
    pub app_type: String,
    #[serde(default)]
    pub description: String,
    /// Handlebars source of a Kamal `deploy.yml`.
    #[schema(min_length = 1)]
    pub template: String,
    /// The variables the template uses, each declared once, none unused. Left out: inferred
    /// from the source (each `string` and required; `list` when `{{#each}}` iterates it,
    /// `map` when the loop reads `{{@key}}`, `boolean` when only `{{#if}}` tests it).
    pub variables: Option<Vec<Declaration>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    pub id: Uuid,
    pub name: String,
    pub app_type: String,
    pub description: String,
    pub template: String,
    /// Built-ins ship with Convoy and are read-only.
    pub builtin: bool,
    /// What a render takes: `variables` of `POST /v1/templates/{id}/render` and of a
    /// deployment made from the template (secret ones go in its `secrets`).
    pub variables: Vec<Variable>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Template> for TemplateView {
    fn from(t: Template) -> Self {
        let variables = match kamal_template::builtin(&t.app_type) {
            Some(builtin) if t.builtin => builtin.variables(),
            _ => {
                let declared = t.variables.and_then(|v| serde_json::from_value(v).ok());
                kamal_template::variables_of(&t.template, declared)
            }
        };
        Self {
            id: t.id,
            name: t.name,
            app_type: t.app_type,
            description: t.description,
            template: t.template,
            builtin: t.builtin,
            variables,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

impl TemplateInput {
    /// Every problem at its field; the variables the template takes when there is none.
    pub fn validate(&self) -> (Vec<Variable>, Vec<FieldError>) {
        let mut variables = Vec::new();
        let mut errors = Vec::new();
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 63
            && self
                .name
                .starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            errors.push(FieldError::new(
                "name",
                "must match ^[a-z0-9][a-z0-9-]*$ and be at most 63 characters",
            ));
        }
        if !APP_TYPES.contains(&self.app_type.as_str()) {
            errors.push(FieldError::new(
                "app_type",
                format!("must be one of {}", APP_TYPES.join(", ")),
            ));
        }
        if self.description.len() > 1000 {
            errors.push(FieldError::new(
                "description",
                "must be at most 1000 characters",
            ));
        }
        if self.template.trim().is_empty() {
            errors.push(FieldError::new("template", "must not be empty"));
        } else {
            match kamal_template::check(&self.template, self.variables.as_deref()) {
                Ok(Ok(checked)) => variables = checked,
                Ok(Err(problems)) => errors.extend(problems.into_iter().map(|p| {
                    let field = match p.at.as_str() {
                        "" => "variables".to_string(),
                        at => format!("variables/{at}"),
                    };
                    FieldError::new(field, p.message)
                })),
                Err(e) => errors.push(FieldError::new("template", e.to_string())),
            }
        }
        (variables, errors)
    }
}
