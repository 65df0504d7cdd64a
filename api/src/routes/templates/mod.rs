pub mod create;
pub mod delete;
pub mod list;
pub mod render;
pub mod show;
pub mod update;

use serde_json::Value;

use crate::error::ApiError;
use crate::extract::ShapeErrors;
use crate::views::templates::TemplateInput;

/// Validates a template on a blocking thread: compiling one is CPU work that grows
/// with its size, and the async workers serve every org. Its problems are answered with
/// those of the body's shape; the variables it takes come back as stored (JSON).
async fn validated(
    input: TemplateInput,
    shape: ShapeErrors,
) -> Result<(TemplateInput, Value), ApiError> {
    let (input, variables, errors) = tokio::task::spawn_blocking(move || {
        let (variables, errors) = input.validate();
        (input, variables, errors)
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("template validation task: {e}")))?;
    shape.reject(errors)?;
    let variables = serde_json::to_value(variables).expect("variables serialise");
    Ok((input, variables))
}
