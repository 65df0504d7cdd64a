use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::models::template::Template;
use crate::error::FieldError;

use crate::kamal::template::APP_TYPES;

/// An org's own Kamal config template (handlebars producing deploy.yml).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "small-rails",
    "app_type": "rails",
    "description": "Rails behind the proxy on one host",
    "template": "service: {{service_name}}\nimage: {{image}}\nservers:\n  web:\n    - {{server}}\n"
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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Template> for TemplateView {
    fn from(t: Template) -> Self {
        Self {
            id: t.id,
            name: t.name,
            app_type: t.app_type,
            description: t.description,
            template: t.template,
            builtin: t.builtin,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

impl TemplateInput {
    pub fn validate(&self) -> Vec<FieldError> {
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
        } else if let Err(e) = crate::kamal::template::check(&self.template) {
            errors.push(FieldError::new("template", e.to_string()));
        }
        errors
    }
}
