//! Expansion: a playbook × its selected tenants × each step's items becomes a stream of tasks
//! with stable ids. Templates are compiled once and checked before anything expands; the
//! stream goes to a [`Sink`] (the text or JSON writer, a counter, later the scheduler), so no
//! plan is ever held whole in memory.

mod expand;
mod record;
mod render;
mod settings;
pub mod shard;
mod values;
mod waves;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use indexmap::IndexMap;
use minijinja::Environment;

use crate::catalog::{Catalog, Cmdlet};
use crate::diagnostic::{Diagnostic, Diagnostics, SourceFile};
use crate::diagnostic::{suggest, suggest_prefixed};
use crate::playbook::{Playbook, Step, select_tenants, verbs};
use crate::template::{
    CONTEXT_NAMES, Callee, Compiled, Piece, callees, global_names, is_known, known_filters,
};

pub use expand::{item_key, task_id};
pub use record::{
    Deferred, DesiredInfo, PLAN_FORMAT, PlanFailure, PlanHeader, PlanRecord, Skipped, StepHeader,
    StepInfo, Summary, Task, TenantHeader,
};
pub(crate) use render::powershell_call;
pub use render::{CountingSink, JsonSink, TextSink};
pub(crate) use settings::{Limits, StepSettings};
pub use values::INVALID_VALUE;

/// Errors from planning.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// A template, a selector or a data file is wrong; every problem found is listed.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// The plan could not be written out.
    #[error("cannot write the plan: {0}")]
    Output(#[from] std::io::Error),
}

impl PlanError {
    /// Invalid input for a template or data error; otherwise the output failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            PlanError::Invalid(_) => crate::exit::INVALID_INPUT,
            _ => crate::exit::TASKS_FAILED,
        }
    }
}

impl From<Diagnostic> for PlanError {
    fn from(d: Diagnostic) -> Self {
        PlanError::Invalid(d.into())
    }
}

impl From<Diagnostics> for PlanError {
    fn from(d: Diagnostics) -> Self {
        PlanError::Invalid(d)
    }
}

/// Where expanded records go.
pub trait Sink {
    /// Takes one record, in plan order.
    fn record(&mut self, record: PlanRecord<'_>) -> std::io::Result<()>;
}

/// What to plan beyond the playbook itself.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// `--var NAME=VALUE`, overriding playbook and tenant vars.
    pub vars: Vec<(String, String)>,
    /// `--limit` patterns selecting tenants.
    pub limit: Vec<String>,
    /// `--tags`: only steps with one of these tags (all steps when empty).
    pub tags: Vec<String>,
    /// The cmdlet catalog values are checked against (the built-in one when `None`).
    pub catalog: Option<Arc<Catalog>>,
    /// `--shard K/N`: only the tenants of this shard, of those `limit` selects.
    pub shard: Option<shard::Shard>,
}

/// A step compiled for expansion.
#[derive(Debug)]
pub struct CompiledStep<'e, 's> {
    /// 0-based position in the playbook.
    pub(crate) index: usize,
    /// Key in task ids.
    pub(crate) key: &'s str,
    /// The step as written.
    pub(crate) step: &'s Step,
    /// True when the cmdlet only reads.
    pub(crate) read_only: bool,
    /// Step ids whose output this step reads (`*` when it reads `steps` dynamically).
    pub(crate) depends_on: Vec<String>,
    /// Its retries, timeout, `on_error` and idempotence, resolved from the defaults.
    pub(crate) settings: StepSettings,
    /// The parameters by name, as documented when written by an alias or in another case,
    /// then the `ensure` properties from [`CompiledStep::ensure_from`] on: both render alike.
    params: Vec<(std::borrow::Cow<'s, str>, Compiled<'e, 's>)>,
    /// Where the `ensure` properties start in `params`.
    pub(crate) ensure_from: usize,
    /// For a step with `ensure` or `state`: the noun's cmdlets that read, create, change and
    /// remove its objects.
    pub(crate) noun: Option<Arc<crate::state::Noun>>,
    for_each: Option<Compiled<'e, 's>>,
    when: Option<Compiled<'e, 's>>,
    /// `when` reads `item` or `loop`: it is decided per item.
    when_uses_item: bool,
    /// `when` reads `item`, `loop` or `steps`: it cannot be decided for the whole tenant
    /// before the run.
    when_is_runtime: bool,
    item_key: Option<Compiled<'e, 's>>,
    /// A SecureString parameter reads `item` or `loop`: an item's text may be a secret, so
    /// without a `key` it is never an item's key.
    secret_reads_item: bool,
    /// `for_each` reads an earlier step's output: its items are objects the service returned,
    /// whose properties are current values. Items from data (a CSV row with a `Title`
    /// column) hold desired values instead, and are never taken for current ones.
    items_from_service: bool,
    /// The cmdlet as the catalog documents it; `None` with `catalog: off` or for a cmdlet it
    /// does not know.
    pub(crate) spec: Option<Arc<Cmdlet>>,
    /// The parameters a template writes, each with the node it is written in and its
    /// documentation (whose name the value is rendered under): what
    /// [`CompiledStep::check_values`] checks per task, looked up once.
    pub(crate) typed: Vec<(&'s crate::playbook::Node, crate::catalog::Parameter)>,
}

impl CompiledStep<'_, '_> {
    /// True when the step's calls are known only at run time.
    pub(crate) fn is_deferred(&self) -> bool {
        !self.depends_on.is_empty()
    }

    /// Takes the `ensure` properties out of a rendered step's parameters (they render
    /// together, ensure last); `None` for a step without `ensure` or `state`.
    pub(crate) fn split_ensure(
        &self,
        params: &mut serde_json::Map<String, serde_json::Value>,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        self.noun.as_ref()?;
        Some(
            self.params[self.ensure_from..]
                .iter()
                .filter_map(|(name, _)| Some((name.to_string(), params.remove(name.as_ref())?)))
                .collect(),
        )
    }

    fn info(&self) -> StepInfo<'_> {
        StepInfo {
            key: self.key.into(),
            number: self.index + 1,
            name: self.step.name.as_deref().map(Into::into),
            cmdlet: self.step.cmdlet.value.as_str().into(),
            read_only: self.read_only,
            depends_on: self.depends_on.iter().map(|d| d.as_str().into()).collect(),
            desired: self.noun.as_ref().map(|_| record::DesiredInfo {
                state: self.step.state.as_ref().map(|s| s.value.as_str().into()),
                verify: self.step.verify.unwrap_or(true),
            }),
        }
    }
}

/// A playbook ready to expand: tenants selected, templates compiled and checked.
pub struct Planner<'e, 's> {
    playbook: &'s Playbook,
    steps: Vec<CompiledStep<'e, 's>>,
    tenants: Vec<usize>,
    /// `rollout.waves`, over the selected tenants; empty without a rollout.
    waves: Vec<waves::WaveTenants>,
    overrides: IndexMap<String, serde_json::Value>,
    limits: Limits,
}

impl<'e, 's> Planner<'e, 's> {
    /// Compiles and checks everything the plan needs, reporting every problem found.
    pub fn new(
        env: &'e Environment<'s>,
        playbook: &'s Playbook,
        options: &PlanOptions,
    ) -> Result<Self, PlanError> {
        let mut errors = Diagnostics::default();
        let tenants = match select_tenants(&playbook.tenants, &options.limit) {
            // A shard may hold none of the tenants selected: with more shards than tenants,
            // some workers have nothing to do, and that is no error.
            Ok(sel) => sel
                .into_iter()
                .filter(|&t| {
                    options
                        .shard
                        .is_none_or(|s| s.owns(playbook.tenants[t].name()))
                })
                .collect(),
            Err(d) => {
                d.0.into_iter().for_each(|d| errors.push(d));
                Vec::new()
            }
        };
        let overrides = parse_overrides(&options.vars, &mut errors);
        let selected: Vec<bool> = playbook
            .doc
            .steps
            .iter()
            .map(|s| options.tags.is_empty() || s.tags.iter().any(|t| options.tags.contains(t)))
            .collect();
        if !options.tags.is_empty() && !selected.contains(&true) {
            let known: BTreeSet<&str> = playbook
                .doc
                .steps
                .iter()
                .flat_map(|s| s.tags.iter().map(String::as_str))
                .collect();
            errors.push(
                Diagnostic::new(format!("no step has the tags {}", options.tags.join(", "))).help(
                    if known.is_empty() {
                        "no step has any tags".to_owned()
                    } else {
                        format!(
                            "tags in use: {}",
                            known.into_iter().collect::<Vec<_>>().join(", ")
                        )
                    },
                ),
            );
        }
        let catalog = options
            .catalog
            .clone()
            .unwrap_or_else(|| Arc::new(Catalog::built_in()));
        let globals = global_names(env);
        let mut known_callees = HashSet::new();
        let file = &playbook.source;
        let mut steps = Vec::new();
        for index in 0..playbook.doc.steps.len() {
            if !selected[index] {
                continue;
            }
            match compile_step(env, playbook, index, file) {
                Ok(mut compiled) => {
                    check_references(
                        env,
                        &mut known_callees,
                        playbook,
                        &compiled,
                        &selected,
                        &globals,
                        &overrides,
                        &mut errors,
                    );
                    compiled.depends_on = dependencies(&compiled);
                    // A desired-state step returns no objects: a step reading its output would
                    // quietly find nothing.
                    for read in &compiled.depends_on {
                        let Some(desired) = steps.iter().find(|s: &&CompiledStep<'_, '_>| {
                            s.key == read.as_str()
                                && (!s.step.ensure.is_empty() || s.step.state.is_some())
                        }) else {
                            continue;
                        };
                        errors.push(
                            Diagnostic::new(format!(
                                "this step reads `steps.{read}.output`, and step `{read}` has `ensure` or `state`, which returns no objects"
                            ))
                            .at(playbook.locate(&compiled.step.cmdlet))
                            .help(format!(
                                "read the objects with their `Get-` cmdlet in a step of its own, after `{}`",
                                desired.key
                            )),
                        );
                    }
                    if compiled.step.catalog != Some(crate::playbook::CatalogCheck::Off) {
                        compiled.spec = catalog.cmdlet(&compiled.step.cmdlet.value);
                    }
                    if !compiled.step.ensure.is_empty() || compiled.step.state.is_some() {
                        let off = compiled.step.catalog == Some(crate::playbook::CatalogCheck::Off);
                        compiled.noun = crate::state::Noun::of(
                            &compiled.step.cmdlet.value,
                            (!off).then_some(&*catalog),
                        )
                        .map(Arc::new);
                        // Desired state reads before it writes, and writes only what differs:
                        // sending it again does no harm.
                        compiled.settings.idempotent = compiled.step.idempotent.unwrap_or(true);
                    }
                    if let Some(spec) = &compiled.spec {
                        // Sent, planned and reported by the documented name: `cf` is `Confirm`.
                        for (name, _) in &mut compiled.params {
                            if let Some(p) = spec.param(name)
                                && p.name != *name
                            {
                                *name = std::borrow::Cow::Owned(p.name.clone());
                            }
                        }
                        compiled.typed = compiled
                            .step
                            .params
                            .iter()
                            .chain(&compiled.step.ensure)
                            .filter(|(_, node)| node.has_template())
                            .filter_map(|(name, node)| spec.param(name).map(|p| (node, p.clone())))
                            .collect();
                    }
                    steps.push(compiled);
                }
                Err(d) => d.0.into_iter().for_each(|d| errors.push(d)),
            }
        }
        let waves = match &playbook.doc.rollout {
            Some(rollout) => waves::assign(playbook, rollout, &tenants).unwrap_or_else(|d| {
                d.0.into_iter().for_each(|d| errors.push(d));
                Vec::new()
            }),
            None => Vec::new(),
        };
        errors.into_result()?;
        mark_read_later(&mut steps);
        Ok(Self {
            playbook,
            steps,
            tenants,
            waves,
            overrides,
            limits: Limits::resolve(playbook),
        })
    }

    /// The steps that will be planned, in order.
    pub fn steps(&self) -> &[CompiledStep<'e, 's>] {
        &self.steps
    }

    /// The selected tenants, as indexes into the playbook's tenant list.
    pub fn tenant_indexes(&self) -> &[usize] {
        &self.tenants
    }

    /// The rollout's waves over the selected tenants, in order; empty without `rollout`.
    pub(crate) fn waves(&self) -> &[waves::WaveTenants] {
        &self.waves
    }

    /// The wave a tenant (by index) is in: its number and name.
    pub(crate) fn wave_of(&self, tenant: usize) -> Option<(usize, &str)> {
        self.waves
            .iter()
            .find(|w| w.tenants.contains(&tenant))
            .map(|w| (w.number, w.name.as_str()))
    }

    /// The playbook planned.
    pub(crate) fn playbook(&self) -> &'s Playbook {
        self.playbook
    }

    /// The run's limits, resolved from the playbook.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Expands the whole plan into `sink`, from the header to the summary.
    pub fn expand_all(&self, sink: &mut dyn Sink) -> Result<Summary, PlanError> {
        let pb = self.playbook;
        sink.record(PlanRecord::Plan(PlanHeader {
            format: PLAN_FORMAT,
            name: pb.doc.name.as_str().into(),
            playbook: pb.path.display().to_string().into(),
            tenants: self
                .tenants
                .iter()
                .map(|&i| pb.tenants[i].name().into())
                .collect(),
            steps: self.steps.iter().map(CompiledStep::info).collect(),
        }))?;
        let mut summary = Summary::default();
        for &t in &self.tenants {
            self.expand_tenant(t, sink, &mut summary)?;
        }
        if summary.tenants > 0 {
            summary.deferred_steps = self.steps.iter().filter(|s| s.is_deferred()).count();
        }
        sink.record(PlanRecord::Summary(summary.clone()))?;
        Ok(summary)
    }
}

fn parse_overrides(
    vars: &[(String, String)],
    errors: &mut Diagnostics,
) -> IndexMap<String, serde_json::Value> {
    let mut out = IndexMap::new();
    for (name, value) in vars {
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            errors.push(
                Diagnostic::new(format!("`--var {name}=…`: `{name}` is not a variable name"))
                    .help("variable names are letters, digits and `_`"),
            );
        }
        out.insert(name.clone(), typed_scalar(value));
    }
    out
}

/// A `--var` value read as a YAML scalar, so `--var flag=false` overrides a boolean with a
/// boolean and `--var days=5` a number with a number; anything else stays text.
fn typed_scalar(text: &str) -> serde_json::Value {
    match serde_saphyr::from_str_with_options::<serde_json::Value>(
        text,
        crate::playbook::load::options(),
    ) {
        Ok(v @ (serde_json::Value::Bool(_) | serde_json::Value::Number(_))) => v,
        Ok(serde_json::Value::Null) if text.trim().is_empty() => {
            serde_json::Value::String(String::new())
        }
        _ => serde_json::Value::String(text.to_owned()),
    }
}

fn compile_step<'e, 's>(
    env: &'e Environment<'s>,
    playbook: &'s Playbook,
    index: usize,
    file: &Arc<SourceFile>,
) -> Result<CompiledStep<'e, 's>, Diagnostics> {
    let step = &playbook.doc.steps[index];
    let mut errors = Diagnostics::default();
    let mut params = Vec::with_capacity(step.params.len());
    for (name, node) in &step.params {
        match Compiled::compile(env, node, file) {
            Ok(c) => params.push((std::borrow::Cow::Borrowed(name.as_str()), c)),
            Err(d) => errors.push(d),
        }
    }
    let ensure_from = params.len();
    for (name, node) in &step.ensure {
        match Compiled::compile(env, node, file) {
            Ok(c) => params.push((std::borrow::Cow::Borrowed(name.as_str()), c)),
            Err(d) => errors.push(d),
        }
    }
    let mut optional = |node: &'s Option<crate::playbook::Node>, condition: bool| {
        let node = node.as_ref()?;
        let compiled = if condition {
            Compiled::compile_condition(env, node, file)
        } else {
            Compiled::compile(env, node, file)
        };
        compiled.map_err(|d| errors.push(d)).ok()
    };
    let for_each = optional(&step.for_each, false);
    let when = optional(&step.when, true);
    let item_key = optional(&step.key, false);
    errors.into_result()?;
    let when_reads = |roots: &[&str]| {
        when.as_ref().is_some_and(|w| {
            w.pieces()
                .iter()
                .flat_map(|p| p.references())
                .any(|r| roots.contains(&root(&r)))
        })
    };
    let when_uses_item = when_reads(&["item", "loop"]);
    let when_is_runtime = when_reads(&["item", "loop", "steps"]);
    let items_from_service = for_each.as_ref().is_some_and(|f| {
        f.pieces()
            .iter()
            .flat_map(|p| p.references())
            .any(|r| root(&r) == "steps")
    });
    let secret_reads_item = params.iter().any(|(name, c)| {
        crate::exchange::secure::is_secure_string(&step.cmdlet.value, name)
            && c.pieces()
                .iter()
                .flat_map(|p| p.references())
                .any(|r| matches!(root(&r), "item" | "loop"))
    });
    Ok(CompiledStep {
        index,
        key: &playbook.step_keys[index],
        step,
        read_only: verbs::is_read_only(&step.cmdlet.value),
        depends_on: Vec::new(),
        settings: StepSettings::resolve(playbook, step, false),
        params,
        ensure_from,
        noun: None,
        for_each,
        when,
        when_uses_item,
        when_is_runtime,
        item_key,
        secret_reads_item,
        items_from_service,
        spec: None,
        typed: Vec::new(),
    })
}

/// Marks the steps whose output a later step reads.
fn mark_read_later(steps: &mut [CompiledStep<'_, '_>]) {
    let read: Vec<bool> = steps
        .iter()
        .map(|step| {
            steps.iter().any(|s| {
                s.depends_on
                    .iter()
                    .any(|d| d.as_str() == step.key || d.as_str() == "*")
            })
        })
        .collect();
    for (step, read) in steps.iter_mut().zip(read) {
        step.settings.read_later = read;
    }
}

fn root(reference: &str) -> &str {
    reference.split('.').next().unwrap_or(reference)
}

/// The step ids a compiled step reads through `steps.ID`.
fn dependencies(step: &CompiledStep<'_, '_>) -> Vec<String> {
    let mut deps = BTreeSet::new();
    for (piece, _) in all_pieces(step) {
        for r in piece.references() {
            let mut parts = r.split('.');
            if parts.next() == Some("steps") {
                deps.insert(parts.next().unwrap_or("*").to_owned());
            }
        }
    }
    deps.into_iter().collect()
}

fn all_pieces<'a, 'e, 's>(step: &'a CompiledStep<'e, 's>) -> Vec<(&'a Piece<'e, 's>, Part)> {
    let mut out = Vec::new();
    let parts = [
        (step.for_each.as_ref(), Part::ForEach),
        (step.when.as_ref(), Part::When),
        (step.item_key.as_ref(), Part::Key),
    ];
    let params = step.params.iter().map(|(_, c)| (Some(c), Part::Param));
    for (compiled, part) in parts.into_iter().chain(params) {
        if let Some(c) = compiled {
            out.extend(c.pieces().into_iter().map(|p| (p, part)));
        }
    }
    out
}

/// Checks every name a step's templates read: known roots, `item` only under `for_each`, and
/// `steps.ID` naming an earlier, selected step.
#[allow(clippy::too_many_arguments)] // the context of one check, passed as it is
fn check_references(
    env: &Environment<'_>,
    known_callees: &mut HashSet<Callee>,
    playbook: &Playbook,
    step: &CompiledStep<'_, '_>,
    selected: &[bool],
    globals: &[String],
    overrides: &IndexMap<String, serde_json::Value>,
    errors: &mut Diagnostics,
) {
    let known = KnownNames::new(playbook, selected, globals, overrides);
    for (piece, part) in all_pieces(step) {
        check_callees(env, known_callees, &playbook.source, piece, errors);
        for reference in piece.references() {
            check_reference(&known, step, piece, part, &reference, errors);
        }
    }
}

/// What the names a step's templates read are checked against.
struct KnownNames<'a> {
    playbook: &'a Playbook,
    selected: &'a [bool],
    globals: &'a [String],
    overrides: &'a IndexMap<String, serde_json::Value>,
    /// The context names and the environment's globals.
    roots: Vec<&'a str>,
    /// Every variable defined in the playbook, a tenant or by `--var`.
    all_vars: BTreeSet<&'a str>,
}

impl<'a> KnownNames<'a> {
    fn new(
        playbook: &'a Playbook,
        selected: &'a [bool],
        globals: &'a [String],
        overrides: &'a IndexMap<String, serde_json::Value>,
    ) -> Self {
        let roots: Vec<&str> = CONTEXT_NAMES
            .iter()
            .copied()
            .chain(globals.iter().map(String::as_str))
            .collect();
        let mut all_vars: BTreeSet<&str> = playbook.doc.vars.keys().map(String::as_str).collect();
        all_vars.extend(
            playbook
                .tenants
                .iter()
                .flat_map(|t| t.vars.keys().map(String::as_str)),
        );
        all_vars.extend(overrides.keys().map(String::as_str));
        Self {
            playbook,
            selected,
            globals,
            overrides,
            roots,
            all_vars,
        }
    }

    /// True when `name` is a variable of the playbook, of a tenant, or set by `--var`.
    fn var_defined(&self, name: &str) -> bool {
        self.playbook.doc.vars.contains_key(name)
            || self.overrides.contains_key(name)
            || self
                .playbook
                .tenants
                .iter()
                .any(|t| t.vars.contains_key(name))
    }

    fn file(&self) -> &'a Arc<SourceFile> {
        &self.playbook.source
    }
}

/// Reports every filter and test a piece calls that the environment does not know;
/// `known_callees` remembers those already found to exist.
fn check_callees(
    env: &Environment<'_>,
    known_callees: &mut HashSet<Callee>,
    file: &Arc<SourceFile>,
    piece: &Piece<'_, '_>,
    errors: &mut Diagnostics,
) {
    for callee in callees(piece) {
        if known_callees.contains(&callee) {
            continue;
        }
        if is_known(env, &callee) {
            known_callees.insert(callee);
            continue;
        }
        let (what, name) = match &callee {
            Callee::Filter(n) => ("filter", n.as_str()),
            Callee::Test(n) => ("test", n.as_str()),
        };
        let mut d = Diagnostic::new(format!("unknown {what} `{name}`"))
            .at(locate_in_piece(file, piece, name));
        if let Callee::Filter(_) = callee {
            let filters = known_filters(env);
            d.message.push_str(&suggest(name, filters.iter().copied()));
            d = d.help(format!("filters: {}", filters.join(", ")));
        }
        errors.push(d);
    }
}

/// Checks one name a piece reads, by its root: `item` and `loop` only under `for_each`,
/// `steps.ID`, `vars.NAME`, and any other root.
fn check_reference(
    known: &KnownNames<'_>,
    step: &CompiledStep<'_, '_>,
    piece: &Piece<'_, '_>,
    part: Part,
    reference: &str,
    errors: &mut Diagnostics,
) {
    let mut parts = reference.split('.');
    let head = parts.next().unwrap_or_default();
    let second = parts.next();
    let at = |needle: &str| locate_in_piece(known.file(), piece, needle);
    match head {
        "item" | "loop" if part == Part::ForEach => errors.push(
            Diagnostic::new(format!(
                "`for_each` cannot read `{head}`: it is what defines it"
            ))
            .at(at(head)),
        ),
        // `key` without `for_each` is reported once, by the structural checks.
        "item" | "loop" if step.step.for_each.is_none() && part == Part::Key => {}
        "item" | "loop" if step.step.for_each.is_none() => errors.push(
            Diagnostic::new(format!(
                "`{head}` is only defined in a step with `for_each`"
            ))
            .at(at(head))
            .help("add `for_each:` with the list to loop over, or use `vars` / `tenant`"),
        ),
        "steps" => {
            if let Some(id) = second {
                check_step_reference(known, step, piece, id, parts.next(), errors);
            }
        }
        "vars" => {
            if let Some(name) = second {
                check_var_reference(known, piece, name, errors);
            }
        }
        _ => check_root(known, piece, head, errors),
    }
}

/// Checks `steps.ID[.FIELD]`: `ID` names an earlier step that `--tags` keeps, and the only
/// field read is `output`.
fn check_step_reference(
    known: &KnownNames<'_>,
    step: &CompiledStep<'_, '_>,
    piece: &Piece<'_, '_>,
    id: &str,
    field: Option<&str>,
    errors: &mut Diagnostics,
) {
    let steps = &known.playbook.doc.steps;
    let at = |needle: &str| locate_in_piece(known.file(), piece, needle);
    match steps
        .iter()
        .position(|s| s.id.as_ref().is_some_and(|i| i.value == id))
    {
        None => {
            let ids = steps
                .iter()
                .filter_map(|s| s.id.as_ref().map(|i| i.value.as_str()));
            errors.push(
                Diagnostic::new(format!("no step has the id `{id}`{}", suggest(id, ids)))
                    .at(at(&format!("steps.{id}")))
                    .help("give the step whose output you need an `id:` and read it as `steps.ID.output`"),
            );
        }
        Some(i) if i == step.index => errors.push(
            Diagnostic::new(format!("step `{id}` reads its own output"))
                .at(at(&format!("steps.{id}")))
                .help("a step can read the output of earlier steps only"),
        ),
        Some(i) if i > step.index => errors.push(
            Diagnostic::new(format!(
                "`steps.{id}` is used before step `{id}` runs (it is step {}, this is step {})",
                i + 1,
                step.index + 1
            ))
            .at(at(&format!("steps.{id}")))
            .help("steps run in order within a tenant: move this step after it"),
        ),
        Some(i) if !known.selected[i] => errors.push(
            Diagnostic::new(format!(
                "`steps.{id}` is read here, but `--tags` leaves step `{id}` out"
            ))
            .at(at(&format!("steps.{id}")))
            .help("add one of that step's tags to `--tags`"),
        ),
        Some(_) => {
            if let Some(field) = field.filter(|f| *f != "output") {
                errors.push(
                    Diagnostic::new(format!("`steps.{id}.{field}` does not exist"))
                        .at(at(&format!("steps.{id}.{field}")))
                        .help(format!("a step's result is `steps.{id}.output`, the list of objects its cmdlet returned")),
                );
            }
        }
    }
}

/// Checks `vars.NAME`: defined somewhere, unless every use is guarded by a default or a
/// `defined` test.
fn check_var_reference(
    known: &KnownNames<'_>,
    piece: &Piece<'_, '_>,
    name: &str,
    errors: &mut Diagnostics,
) {
    if !known.var_defined(name) && !guarded(piece.source(), &format!("vars.{name}")) {
        errors.push(
            Diagnostic::new(format!(
                "`vars.{name}` is not defined anywhere{}",
                suggest_prefixed("vars.", name, known.all_vars.iter().copied())
            ))
            .at(locate_in_piece(
                known.file(),
                piece,
                &format!("vars.{name}"),
            ))
            .help(
                "define it under `vars:` in the playbook or a tenant, or pass `--var NAME=VALUE`",
            ),
        );
    }
}

/// Checks any other root: a context name or global, else an unknown function or variable.
fn check_root(known: &KnownNames<'_>, piece: &Piece<'_, '_>, head: &str, errors: &mut Diagnostics) {
    let at = |needle: &str| locate_in_piece(known.file(), piece, needle);
    match head {
        _ if known.roots.contains(&head) => {}
        _ if piece.source().contains(&format!("{head}(")) => errors.push(
            Diagnostic::new(format!(
                "unknown function `{head}`{}",
                suggest(head, known.globals.iter().map(String::as_str))
            ))
            .at(at(head))
            .help("functions: csv, json, yaml, lines, env, and minijinja's range, dict, namespace"),
        ),
        _ if known.var_defined(head) => errors.push(
            Diagnostic::new(format!(
                "unknown variable `{head}`, did you mean `vars.{head}`?"
            ))
            .at(at(head))
            .help("playbook and tenant variables are read through `vars`"),
        ),
        _ => errors.push(
            Diagnostic::new(format!(
                "unknown variable `{head}`{}",
                suggest(head, known.roots.iter().copied())
            ))
            .at(at(head))
            .help("templates can read tenant, vars, steps, and in for_each steps item and loop"),
        ),
    }
}

/// True when every use of `reference` in `source` is guarded against being undefined:
/// `vars.x | default(…)`, `vars.x | d(…)`, or a test `vars.x is defined`.
fn guarded(source: &str, reference: &str) -> bool {
    let mut uses = source.match_indices(reference).peekable();
    if uses.peek().is_none() {
        return false;
    }
    uses.all(|(at, _)| {
        let after = source[at + reference.len()..].trim_start();
        if after.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.') {
            return false;
        }
        let filter = after.strip_prefix('|').map(str::trim_start);
        filter
            .is_some_and(|f| f.starts_with("default") || f.starts_with("d(") || f.starts_with("d "))
            || after.starts_with("is defined")
            || after.starts_with("is not defined")
            || after.starts_with("is undefined")
    })
}

/// The location of `needle` inside a template piece, or the piece itself.
fn locate_in_piece(
    file: &Arc<SourceFile>,
    piece: &Piece<'_, '_>,
    needle: &str,
) -> crate::diagnostic::Location {
    let pos = piece.pos();
    let window = piece.source().len() * 2 + 256;
    file.find_near(pos.offset_in(file), window, needle)
        .unwrap_or_else(|| file.at(pos.line, pos.column, 1))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    ForEach,
    When,
    Key,
    Param,
}
