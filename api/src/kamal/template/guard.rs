//! What an org's template may contain, checked before it is stored and again before it
//! is rendered (a row saved before a rule existed must not slip through). Templates are
//! tenant input rendered inside the API process, so anything that recurses without a
//! static bound (partials, inline partials, decorators) is refused outright; nesting,
//! size and tag count are capped so that compiling and rendering stay cheap and shallow.

use handlebars::template::{HelperTemplate, Parameter, TemplateElement, TemplateMapping};
use handlebars::Template;

use super::TemplateError;

/// Largest template source accepted.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
/// Most `{{…}}` tags in one template. Compiling costs about tags × size (the parser
/// locates every tag from the start of the source), so both are capped.
pub const MAX_TAGS: usize = 1_000;
/// Deepest nesting of blocks (`{{#each}}`, `{{#if}}`, `{{else if}}` chains) and
/// subexpressions: rendering recurses once per level.
pub const MAX_DEPTH: usize = 24;

const RAW_OUTPUT: &str =
    "raw output ({{{…}}}, {{&…}}) is not allowed: values are always inserted quoted";
const PARTIAL: &str = "partials ({{> name}}) are not allowed";
const INLINE_PARTIAL: &str = "inline partials ({{#*inline}}) are not allowed";
const DECORATOR: &str = "decorators ({{* name}}) are not allowed";

/// Compiles `source` and checks it against every rule above.
pub fn compile(source: &str) -> Result<Template, TemplateError> {
    if source.len() > MAX_TEMPLATE_BYTES {
        return Err(TemplateError::NotAllowed(format!(
            "is {} bytes, more than the limit of 64 KiB",
            source.len()
        )));
    }
    let tags = source.matches("{{").count();
    if tags > MAX_TAGS {
        return Err(TemplateError::NotAllowed(format!(
            "has {tags} {{{{…}}}} tags, more than the limit of {MAX_TAGS}"
        )));
    }
    let template = Template::compile(source).map_err(|e| TemplateError::Syntax(e.to_string()))?;
    check_elements(&template, 0)?;
    Ok(template)
}

fn check_elements(template: &Template, depth: usize) -> Result<(), TemplateError> {
    for (i, element) in template.elements.iter().enumerate() {
        let refuse = |what: &str| refused(template.mapping.get(i), what);
        match element {
            TemplateElement::RawString(_) | TemplateElement::Comment(_) => {}
            TemplateElement::Expression(helper) => {
                check_params(helper, depth).map_err(|e| refuse(&e))?
            }
            TemplateElement::HelperBlock(helper) => {
                let inner = depth + 1;
                if inner > MAX_DEPTH {
                    return Err(refuse(&too_deep()));
                }
                check_params(helper, inner).map_err(|e| refuse(&e))?;
                for body in [&helper.template, &helper.inverse].into_iter().flatten() {
                    check_elements(body, inner)?;
                }
            }
            TemplateElement::HtmlExpression(_) => return Err(refuse(RAW_OUTPUT)),
            TemplateElement::PartialExpression(_) | TemplateElement::PartialBlock(_) => {
                return Err(refuse(PARTIAL))
            }
            TemplateElement::DecoratorExpression(decorator)
            | TemplateElement::DecoratorBlock(decorator) => {
                let inline = matches!(&decorator.name, Parameter::Name(name) if name == "inline");
                return Err(refuse(if inline { INLINE_PARTIAL } else { DECORATOR }));
            }
            // A construct added by a later handlebars release is refused until reviewed.
            _ => return Err(refuse("this construct is not allowed")),
        }
    }
    Ok(())
}

/// Subexpressions (`(concat a (concat b c))`) nest like blocks.
fn check_params(helper: &HelperTemplate, depth: usize) -> Result<(), String> {
    for param in helper.params.iter().chain(helper.hash.values()) {
        if let Parameter::Subexpression(sub) = param {
            let inner = depth + 1;
            if inner > MAX_DEPTH {
                return Err(too_deep());
            }
            if let TemplateElement::Expression(helper) = sub.as_element() {
                check_params(helper, inner)?;
            }
        }
    }
    Ok(())
}

fn too_deep() -> String {
    format!("blocks and subexpressions nest deeper than {MAX_DEPTH} levels")
}

fn refused(at: Option<&TemplateMapping>, what: &str) -> TemplateError {
    TemplateError::NotAllowed(match at {
        Some(at) => format!("line {}, column {}: {what}", at.0, at.1),
        None => what.to_string(),
    })
}
