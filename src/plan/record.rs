//! The records a plan is made of. `tenantry plan --format json` writes one record per line
//! (JSON Lines), so a plan of a million tasks streams instead of being held as one document.
//! The schema is in `schemas/plan.schema.json`; `format` in the first record is its version.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::Serialize;

/// The version of the plan record format; bumped only on incompatible changes.
pub const PLAN_FORMAT: u32 = 1;

/// One line of a JSON plan, tagged by `type`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[schemars(title = "tenantry plan record")]
pub enum PlanRecord<'a> {
    /// First line: what is planned.
    Plan(PlanHeader<'a>),
    /// A tenant starts; its steps and tasks follow.
    Tenant(TenantHeader<'a>),
    /// A step starts within the current tenant.
    Step(StepHeader<'a>),
    /// A cmdlet call that will run.
    Task(Task<'a>),
    /// A call that will not run because its `when` is false.
    Skipped(Skipped<'a>),
    /// A step whose calls depend on earlier output and are known only at run time.
    Deferred(Deferred<'a>),
    /// Last line: the totals. A plan without it is incomplete.
    Summary(Summary),
    /// Last line of a plan that stopped early; the error itself goes to standard error.
    Error(PlanFailure<'a>),
}

impl PlanRecord<'_> {
    /// The record with its SecureString parameters' values shown as `********`, as plans show
    /// and hash them: a secret is sent, never written.
    pub fn masked(mut self) -> Self {
        use crate::exchange::secure::mask_params;
        match &mut self {
            PlanRecord::Task(t) => {
                mask_params(&t.cmdlet, &mut t.params);
                if let Some(ensure) = &mut t.ensure {
                    mask_params(&t.cmdlet, ensure);
                }
            }
            PlanRecord::Deferred(d) => {
                mask_params(&d.cmdlet, &mut d.params);
                if let Some(ensure) = &mut d.ensure {
                    mask_params(&d.cmdlet, ensure);
                }
            }
            _ => {}
        }
        self
    }
}

/// Why a plan stopped before its summary.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanFailure<'a> {
    /// The first line of the error.
    pub message: Cow<'a, str>,
}

/// What is planned.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanHeader<'a> {
    /// The plan record format version ([`PLAN_FORMAT`]).
    pub format: u32,
    /// The playbook's name.
    pub name: Cow<'a, str>,
    /// The playbook file.
    pub playbook: Cow<'a, str>,
    /// The selected tenants, in order.
    pub tenants: Vec<Cow<'a, str>>,
    /// The selected steps, in order.
    pub steps: Vec<StepInfo<'a>>,
}

/// A step as declared.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct StepInfo<'a> {
    /// The step's key in task ids: its id, else a slug of its name, else `N-cmdlet`.
    pub key: Cow<'a, str>,
    /// 1-based position among the playbook's steps.
    pub number: usize,
    /// The step's name, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Cow<'a, str>>,
    /// The cmdlet.
    pub cmdlet: Cow<'a, str>,
    /// True when the cmdlet only reads (Get, Test, Search, Export).
    pub read_only: bool,
    /// Step ids whose output this step reads; non-empty means it expands at run time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Cow<'a, str>>,
    /// For a desired-state step: `present` or `absent` when it has `state`, and whether it
    /// verifies its writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired: Option<DesiredInfo<'a>>,
}

/// How a desired-state step treats its objects.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct DesiredInfo<'a> {
    /// `present` or `absent`, when the step has `state`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Cow<'a, str>>,
    /// Whether each write is read back to verify it took.
    pub verify: bool,
}

/// A tenant starts.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TenantHeader<'a> {
    /// The tenant's name.
    pub tenant: Cow<'a, str>,
    /// Its organization (domain or GUID).
    pub organization: Cow<'a, str>,
    /// Its cloud.
    pub cloud: Cow<'a, str>,
    /// The customer organization managed through partner access, if any; calls run there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegated_organization: Option<Cow<'a, str>>,
    /// Its concurrent-call limit.
    pub connections: u32,
    /// The rollout wave it is in: its number (from 1) and name (`10%`, `tag:canary`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wave: Option<(usize, Cow<'a, str>)>,
}

/// A step starts within a tenant.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StepHeader<'a> {
    /// The tenant.
    pub tenant: Cow<'a, str>,
    /// The step's key.
    pub step: Cow<'a, str>,
    /// 1-based position among the playbook's steps.
    pub number: usize,
    /// The cmdlet.
    pub cmdlet: Cow<'a, str>,
    /// True when the cmdlet only reads.
    pub read_only: bool,
    /// Items of `for_each`, when the step has one and it is known now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<usize>,
}

/// One cmdlet call.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Task<'a> {
    /// Stable id: `TENANT/STEP` or `TENANT/STEP/ITEM`, each part with `%` and `/` escaped as
    /// `%25` and `%2F`. The same playbook and inputs always give the same ids.
    pub id: String,
    /// The tenant.
    pub tenant: Cow<'a, str>,
    /// The step's key.
    pub step: Cow<'a, str>,
    /// The item's key, for steps with `for_each`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The item's 0-based position in `for_each`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The cmdlet.
    pub cmdlet: Cow<'a, str>,
    /// True when the cmdlet only reads.
    pub read_only: bool,
    /// The parameters, rendered, as they will be sent; a SecureString's value is shown as
    /// `********` in plans.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// For a step with `ensure`: the properties the object must have, rendered. Only those
    /// that differ from its current values are sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ensure: Option<serde_json::Map<String, serde_json::Value>>,
    /// For a step with `state`: whether the object must exist (`present`, `absent`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Cow<'a, str>>,
    /// The current values of the `ensure` properties when the item carries them all, so the
    /// object need not be read again.
    #[serde(skip)]
    #[schemars(skip)]
    pub carried: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A call that will not run.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Skipped<'a> {
    /// The task id the call would have had.
    pub id: String,
    /// The tenant.
    pub tenant: Cow<'a, str>,
    /// The step's key.
    pub step: Cow<'a, str>,
    /// The item's key, for steps with `for_each`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// Why: `when` is false.
    pub reason: Cow<'a, str>,
}

/// A step that expands at run time.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Deferred<'a> {
    /// The tenant.
    pub tenant: Cow<'a, str>,
    /// The step's key.
    pub step: Cow<'a, str>,
    /// The step ids whose output it reads.
    pub depends_on: Vec<Cow<'a, str>>,
    /// The cmdlet.
    pub cmdlet: Cow<'a, str>,
    /// The step's condition as written, when it reads run-time values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<Cow<'a, str>>,
    /// The parameters as far as they are known now: values that read `item`, `loop` or
    /// `steps` are left as written.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The `ensure` properties, as far as they are known now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ensure: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Totals over the whole plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Summary {
    /// Tenants planned.
    pub tenants: usize,
    /// Calls planned.
    pub tasks: usize,
    /// Of those, calls that only read.
    pub reads: usize,
    /// Of those, calls that change something.
    pub writes: usize,
    /// Calls skipped because `when` is false.
    pub skipped: usize,
    /// Step expansions left to run time, counted per tenant.
    pub deferred: usize,
    /// Distinct steps that expand at run time.
    pub deferred_steps: usize,
}
