pub mod create;
pub mod delete;
pub mod list;
pub mod render;
pub mod show;
pub mod update;

use crate::error::ApiError;
use crate::views::templates::TemplateInput;

/// Validates a template on a blocking thread: compiling one is CPU work that grows
/// with its size, and the async workers serve every org.
async fn validated(input: TemplateInput) -> Result<TemplateInput, ApiError> {
    let (input, errors) = tokio::task::spawn_blocking(move || {
        let errors = input.validate();
        (input, errors)
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("template validation task: {e}")))?;
    crate::routes::reject(errors)?;
    Ok(input)
}
