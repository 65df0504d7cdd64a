//! The limits of one render. A template that passed [`super::guard`] has no recursion,
//! but its loops multiply: `{{#each}}` nested over large lists can run for hours while
//! writing nothing. Every block body is therefore metered: a step helper put at the
//! start of each body charges the body's size each time it is rendered, so every element
//! rendered is paid for, and each charge and each write checks the output cap and the
//! deadline. A render that hits a limit stops with [`TemplateError::Limit`].

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, OnceLock,
};
use std::time::{Duration, Instant};

use handlebars::template::TemplateElement;
use handlebars::{
    Context, Handlebars, Helper, HelperDef, Output, RenderContext, RenderError, RenderErrorReason,
    ScopedJson, Template,
};
use serde_json::Value;

/// What one render may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Template elements rendered, loop iterations included.
    pub steps: u64,
    /// Bytes of rendered YAML, and of any value a helper builds.
    pub output_bytes: usize,
    /// Wall time of the render.
    pub time: Duration,
}

impl Default for Limits {
    /// Far above what a deploy config needs: the built-ins render a thousand-host list
    /// in a few thousand steps and a few kilobytes.
    fn default() -> Self {
        Self {
            steps: 200_000,
            output_bytes: 1024 * 1024,
            time: Duration::from_secs(2),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exceeded {
    Steps,
    Output,
    Time,
}

/// The running account of one render, shared by its helpers and its output.
pub struct Budget {
    limits: Limits,
    deadline: Instant,
    steps: AtomicU64,
    exceeded: OnceLock<Exceeded>,
}

impl Budget {
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            deadline: Instant::now() + limits.time,
            steps: AtomicU64::new(0),
            exceeded: OnceLock::new(),
        })
    }

    /// Why the render stopped, when it stopped on a limit.
    pub fn exceeded(&self) -> Option<String> {
        let limits = &self.limits;
        self.exceeded.get().map(|e| match e {
            Exceeded::Steps => format!(
                "more than {} template steps (loops over large lists?)",
                limits.steps
            ),
            Exceeded::Output => format!(
                "the rendered config would exceed {} KiB",
                limits.output_bytes / 1024
            ),
            Exceeded::Time => format!("rendering took longer than {:?}", limits.time),
        })
    }

    fn stop(&self, why: Exceeded) -> RenderError {
        let _ = self.exceeded.set(why);
        RenderErrorReason::Other("template limit reached".into()).into()
    }

    fn charge(&self, steps: u64) -> Result<(), RenderError> {
        let spent = self.steps.fetch_add(steps, Ordering::Relaxed) + steps;
        if spent > self.limits.steps {
            return Err(self.stop(Exceeded::Steps));
        }
        self.in_time()
    }

    fn in_time(&self) -> Result<(), RenderError> {
        if Instant::now() >= self.deadline {
            return Err(self.stop(Exceeded::Time));
        }
        Ok(())
    }

    fn fits(&self, bytes: usize) -> Result<(), RenderError> {
        if bytes > self.limits.output_bytes {
            return Err(self.stop(Exceeded::Output));
        }
        Ok(())
    }
}

const STEP_HELPER: &str = "convoy_step";

/// Puts a step charge at the start of every block body, weighing the body's elements.
pub fn meter(template: &mut Template) {
    for element in &mut template.elements {
        let TemplateElement::HelperBlock(helper) = element else {
            continue;
        };
        for body in [&mut helper.template, &mut helper.inverse]
            .into_iter()
            .flatten()
        {
            meter(body);
            let weight = body.elements.len() + 1;
            let charge = Template::compile(&format!("{{{{{STEP_HELPER} {weight}}}}}"))
                .expect("the step expression compiles")
                .elements
                .remove(0);
            // Keeps each element's line mapping (for error messages) beside it.
            if let Some(at) = body.mapping.first().cloned() {
                body.mapping.insert(0, at);
            }
            body.elements.insert(0, charge);
        }
    }
}

struct Step(Arc<Budget>);

impl HelperDef for Step {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        _: &mut dyn Output,
    ) -> Result<(), RenderError> {
        let weight = h.param(0).and_then(|w| w.value().as_u64()).unwrap_or(1);
        self.0.charge(weight)
    }
}

/// `{{concat a "b"}}` joins values into one string, escaped (quoted) as a whole, for
/// scalars built from a variable and fixed text such as `{{concat data_path ":/data"}}`.
/// It builds its value before anything is written, so it checks the output cap itself.
struct Concat(Arc<Budget>);

impl HelperDef for Concat {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let mut joined = String::new();
        for param in h.params() {
            match param.value() {
                Value::String(s) => joined.push_str(s),
                other => joined.push_str(&other.to_string()),
            }
            self.0.fits(joined.len())?;
        }
        Ok(ScopedJson::Derived(Value::String(joined)))
    }
}

pub fn register_helpers(hb: &mut Handlebars<'_>, budget: &Arc<Budget>) {
    hb.register_helper(STEP_HELPER, Box::new(Step(budget.clone())));
    hb.register_helper("concat", Box::new(Concat(budget.clone())));
}

/// The rendered text, refused past the output cap or the deadline.
pub struct Capped {
    pub text: String,
    budget: Arc<Budget>,
}

impl Capped {
    pub fn new(budget: &Arc<Budget>) -> Self {
        Self {
            text: String::new(),
            budget: budget.clone(),
        }
    }
}

impl Output for Capped {
    fn write(&mut self, segment: &str) -> Result<(), std::io::Error> {
        let budget = &self.budget;
        let checked = budget
            .fits(self.text.len() + segment.len())
            .and_then(|()| budget.in_time());
        checked.map_err(|_| std::io::Error::other("template limit reached"))?;
        self.text.push_str(segment);
        Ok(())
    }
}
