//! The expansion loop: per tenant, per step, per item; and the stable task ids it assigns.

use std::collections::HashMap;
use std::sync::Arc;

use minijinja::value::{Serde, Value, ValueKind};
use sha2::{Digest, Sha256};

use super::record::{Deferred, PlanRecord, Skipped, StepHeader, Summary, Task, TenantHeader};
use super::{CompiledStep, PlanError, Planner, Sink};
use crate::diagnostic::Diagnostic;
use crate::playbook::Tenant;
use crate::template::{RenderError, Scope, TenantScope};

/// Item fields that usually identify an Exchange object or a CSV row, tried in order
/// (ignoring case) when a step has no `key`.
const IDENTITY_FIELDS: &[&str] = &[
    "identity",
    "userprincipalname",
    "primarysmtpaddress",
    "emailaddress",
    "email",
    "externaldirectoryobjectid",
    "guid",
    "id",
    "alias",
    "name",
];

/// The task id for a step of a tenant, with an item key for `for_each` steps. `%` and `/`
/// inside the parts are escaped, so the id splits back into its parts unambiguously.
pub fn task_id(tenant: &str, step: &str, item: Option<&str>) -> String {
    let mut id = String::with_capacity(tenant.len() + step.len() + item.map_or(0, str::len) + 2);
    escape_into(&mut id, tenant);
    id.push('/');
    escape_into(&mut id, step);
    if let Some(item) = item {
        id.push('/');
        escape_into(&mut id, item);
    }
    id
}

fn escape_into(out: &mut String, part: &str) {
    for c in part.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            c => out.push(c),
        }
    }
}

/// The default key of an item: a scalar's text; an identity-like field of a mapping; else the
/// mapping's values joined with commas (a CSV row reads as itself); else, for long or nested
/// items, a short hash of the content. None depends on the item's position, so keys are stable
/// when rows are reordered (though not when a CSV's columns are).
pub fn item_key(item: &Value) -> String {
    key_of(item, false)
}

/// The key of an item in a step whose SecureString parameter reads it: an identity-like field
/// of a mapping, else a short hash of the content, never the item's text, which may be the
/// secret.
fn item_key_hiding_text(item: &Value) -> String {
    key_of(item, true)
}

/// An item's default key; with `hide_text`, only an identity-like field or the content hash.
fn key_of(item: &Value, hide_text: bool) -> String {
    match item.kind() {
        ValueKind::Bool if !hide_text => return item.is_true().to_string(),
        ValueKind::String | ValueKind::Number if !hide_text => return item.to_string(),
        ValueKind::Map => {
            let fields: Vec<(String, Value)> = item
                .try_iter()
                .into_iter()
                .flatten()
                .filter_map(|k| Some((k.as_str()?.to_ascii_lowercase(), item.get_item(&k).ok()?)))
                .collect();
            for wanted in IDENTITY_FIELDS {
                if let Some((_, v)) = fields.iter().find(|(k, _)| k == wanted)
                    && matches!(v.kind(), ValueKind::String | ValueKind::Number)
                    && !v.to_string().is_empty()
                {
                    return v.to_string();
                }
            }
            let scalars: Option<Vec<String>> = fields
                .iter()
                .map(|(_, v)| match v.kind() {
                    ValueKind::String | ValueKind::Number | ValueKind::Bool => Some(v.to_string()),
                    _ => None,
                })
                .collect();
            if let Some(values) = scalars.filter(|v| !v.is_empty() && !hide_text) {
                let joined = values.join(",");
                if joined.chars().count() <= 120 {
                    return joined;
                }
            }
        }
        _ => {}
    }
    content_key(item)
}

/// `#` and a short hash of an item's content.
fn content_key(item: &Value) -> String {
    let canonical = serde_json::to_string(item).unwrap_or_default();
    let digest = Sha256::digest(canonical.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("#{hex}")
}

impl<'s> Planner<'_, 's> {
    /// The per-tenant template scope with no step output yet.
    pub fn tenant_scope(&self, tenant: &Tenant) -> Arc<TenantScope> {
        let mut vars: serde_json::Map<String, serde_json::Value> = self
            .playbook
            .doc
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        for (k, v) in &tenant.vars {
            vars.insert(k.clone(), v.to_json());
        }
        for (k, v) in &self.overrides {
            vars.insert(k.clone(), v.clone());
        }
        let mut info = serde_json::Map::new();
        info.insert("name".into(), tenant.name().into());
        info.insert(
            "organization".into(),
            tenant.organization.value.clone().into(),
        );
        info.insert("cloud".into(), tenant.cloud.as_str().into());
        info.insert("tags".into(), tenant.tags.clone().into());
        info.insert(
            "delegated_organization".into(),
            tenant
                .delegated_organization
                .as_ref()
                .map_or(serde_json::Value::Null, |d| d.value.clone().into()),
        );
        info.insert("vars".into(), vars.clone().into());
        Arc::new(TenantScope {
            tenant: Value::from(Serde(info)),
            vars: Value::from(Serde(vars)),
            steps: Value::from(Serde(serde_json::Map::new())),
        })
    }

    pub(super) fn expand_tenant(
        &self,
        index: usize,
        sink: &mut dyn Sink,
        summary: &mut Summary,
    ) -> Result<(), PlanError> {
        let tenant = &self.playbook.tenants[index];
        let scope = self.tenant_scope(tenant);
        summary.tenants += 1;
        sink.record(PlanRecord::Tenant(TenantHeader {
            tenant: tenant.name().into(),
            organization: tenant.organization.value.as_str().into(),
            cloud: tenant.cloud.as_str().into(),
            delegated_organization: tenant
                .delegated_organization
                .as_ref()
                .map(|d| d.value.as_str().into()),
            connections: self.limits.connections[index] as u32,
            wave: self
                .wave_of(index)
                .map(|(number, name)| (number, name.into())),
        }))?;
        for step in &self.steps {
            if step.is_deferred() {
                if self.skipped_for_tenant(tenant, &scope, step, false, sink, summary)? {
                    continue;
                }
                self.step_header(tenant, step, None, sink)?;
                let mut params = self.preview_params(step, &scope, tenant.name())?;
                let ensure = step.split_ensure(&mut params);
                sink.record(PlanRecord::Deferred(Deferred {
                    tenant: tenant.name().into(),
                    step: step.key.into(),
                    depends_on: step.depends_on.iter().map(|d| d.as_str().into()).collect(),
                    cmdlet: step.step.cmdlet.value.as_str().into(),
                    when: step
                        .step
                        .when
                        .as_ref()
                        .filter(|_| step.when_is_runtime)
                        .map(|w| match &w.value {
                            crate::playbook::NodeValue::String(s) => s.as_str().into(),
                            _ => w.to_json().to_string().into(),
                        }),
                    params,
                    ensure,
                }))?;
                summary.deferred += 1;
                continue;
            }
            self.expand_step(tenant, &scope, step, sink, summary)?;
        }
        Ok(())
    }

    /// Expands one step for one tenant. `scope.steps` must hold the output of the steps it
    /// reads; at plan time that is only possible for steps that read none.
    pub fn expand_step(
        &self,
        tenant: &Tenant,
        scope: &Arc<TenantScope>,
        step: &CompiledStep<'_, 's>,
        sink: &mut dyn Sink,
        summary: &mut Summary,
    ) -> Result<(), PlanError> {
        let mut expansion = self.start_step(tenant, scope, step, sink, summary)?;
        while expansion.next(sink, summary)? {}
        Ok(())
    }

    /// Starts expanding one step for one tenant: decides a `when` that holds for the whole
    /// tenant, evaluates `for_each` and records the step's header (or its skip). The tasks
    /// then come one item at a time from `StepExpansion::next`, so a run holds only the
    /// tasks it is about to send, however many items the step has.
    pub fn start_step<'p>(
        &'p self,
        tenant: &'p Tenant,
        scope: &Arc<TenantScope>,
        step: &'p CompiledStep<'_, 's>,
        sink: &mut dyn Sink,
        summary: &mut Summary,
    ) -> Result<StepExpansion<'p, 's>, PlanError> {
        let name = tenant.name();
        let tenant_scope = Scope::tenant(scope);
        let mut expansion = StepExpansion {
            planner: self,
            tenant,
            scope: Arc::clone(scope),
            step,
            items: Items::Done,
            records: 0,
        };
        // A condition that does not read run-time values is decided once, before `for_each`
        // is evaluated: a step switched off for a tenant must not need that tenant's data.
        if self.skipped_for_tenant(tenant, scope, step, true, sink, summary)? {
            // The one skip record just written.
            expansion.records = 1;
            return Ok(expansion);
        }
        let items: Option<ItemSource> = match &step.for_each {
            None => None,
            Some(c) => {
                let value = c.render_value(&tenant_scope).map_err(|e| {
                    self.located(e, format!("while expanding `for_each` for tenant `{name}`"))
                })?;
                Some(as_items(&value).map_err(|kind| {
                    let node = step.step.for_each.as_ref().expect("compiled from it");
                    let written = node.as_str().unwrap_or_default();
                    let mut d = Diagnostic::new(format!("`for_each` must give a list, but gave {kind}"))
                        .at(self.playbook.locate_node(node));
                    d.location = d.location.map(|mut l| {
                        l.width = written.chars().count().max(1) + 2;
                        l
                    });
                    if value.kind() == ValueKind::Map {
                        d = d.help("loop over a mapping's entries with `| dict2items`");
                    } else if value.kind() == ValueKind::String
                        && crate::template::whole_expression(written).is_none()
                    {
                        d = d.help("a template with text around `{{ … }}` renders to a string; write the `{{ expr }}` alone so it keeps its type");
                    }
                    PlanError::from(d.help(format!("while expanding `for_each` for tenant `{name}`")))
                })?)
            }
        };
        self.step_header(tenant, step, items.as_ref().map(ItemSource::len), sink)?;
        expansion.records = items.as_ref().map_or(1, ItemSource::len);
        expansion.items = match items {
            None => Items::Single,
            Some(source) => {
                let seen = if expansion.keys_repeat(&source)? {
                    Some(HashMap::new())
                } else {
                    None
                };
                Items::Many {
                    length: source.len(),
                    source,
                    next: 0,
                    seen,
                }
            }
        };
        Ok(expansion)
    }

    fn located(&self, e: RenderError<'_>, what: String) -> PlanError {
        e.diagnostic(&self.playbook.source).help(what).into()
    }

    /// Evaluates a step's `when` once for the whole tenant, when it can be: it must not read
    /// `item` or `loop`, and, unless `outputs_known` (the run has the `steps` output it reads),
    /// not `steps` either. When it is false, records the step as skipped and returns true.
    fn skipped_for_tenant(
        &self,
        tenant: &Tenant,
        scope: &Arc<TenantScope>,
        step: &CompiledStep<'_, 's>,
        outputs_known: bool,
        sink: &mut dyn Sink,
        summary: &mut Summary,
    ) -> Result<bool, PlanError> {
        let decidable = !step.when_uses_item && (outputs_known || !step.when_is_runtime);
        let Some(when) = step.when.as_ref().filter(|_| decidable) else {
            return Ok(false);
        };
        let name = tenant.name();
        let holds = when.render_condition(&Scope::tenant(scope)).map_err(|e| {
            PlanError::from(
                e.diagnostic(&self.playbook.source)
                    .help(format!("while evaluating `when` for tenant `{name}`")),
            )
        })?;
        if holds {
            return Ok(false);
        }
        self.step_header(tenant, step, None, sink)?;
        summary.skipped += 1;
        sink.record(PlanRecord::Skipped(Skipped {
            id: task_id(name, step.key, None),
            tenant: name.into(),
            step: step.key.into(),
            item: None,
            reason: "when is false".into(),
        }))?;
        Ok(true)
    }

    fn step_header(
        &self,
        tenant: &Tenant,
        step: &CompiledStep<'_, 's>,
        items: Option<usize>,
        sink: &mut dyn Sink,
    ) -> std::io::Result<()> {
        sink.record(PlanRecord::Step(StepHeader {
            tenant: tenant.name().into(),
            step: step.key.into(),
            number: step.index + 1,
            cmdlet: step.step.cmdlet.value.as_str().into(),
            read_only: step.read_only,
            items,
        }))
    }

    /// The parameters of a step that expands at run time, with what depends on run-time values
    /// (`item`, `loop`, `steps`) left as written.
    fn preview_params(
        &self,
        step: &CompiledStep<'_, 's>,
        scope: &Arc<TenantScope>,
        tenant: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, PlanError> {
        let later = |piece: &crate::template::Piece<'_, '_>| {
            piece.references().iter().any(|r| {
                let root = r.split('.').next().unwrap_or_default();
                matches!(root, "item" | "loop" | "steps")
            })
        };
        let scope = Scope::tenant(scope);
        let mut params = serde_json::Map::with_capacity(step.params.len());
        for (name, compiled) in &step.params {
            let value = compiled.preview(&scope, &later).map_err(|e| {
                PlanError::from(
                    e.diagnostic(&self.playbook.source)
                        .help(format!("while rendering `{name}` for tenant `{tenant}`")),
                )
            })?;
            params.insert(name.to_string(), value);
        }
        Ok(params)
    }

    fn render_params(
        &self,
        step: &CompiledStep<'_, 's>,
        scope: &Value,
        tenant: &str,
        item: Option<&str>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, PlanError> {
        let mut params = serde_json::Map::with_capacity(step.params.len());
        for (name, compiled) in &step.params {
            let value = compiled.render(scope).map_err(|e| {
                let context = match item {
                    Some(k) => {
                        format!("while rendering `{name}` for tenant `{tenant}`, item `{k}`")
                    }
                    None => format!("while rendering `{name}` for tenant `{tenant}`"),
                };
                PlanError::from(e.diagnostic(&self.playbook.source).help(context))
            })?;
            params.insert(name.to_string(), value);
        }
        Ok(params)
    }

    #[allow(clippy::too_many_arguments)] // one call site per shape; a struct would only rename them
    fn emit(
        &self,
        step: &CompiledStep<'_, 's>,
        tenant: &str,
        item: Option<(String, usize, &Value)>,
        mut params: serde_json::Map<String, serde_json::Value>,
        sink: &mut dyn Sink,
        summary: &mut Summary,
    ) -> Result<(), PlanError> {
        let (item, index, value) = match item {
            Some((key, index, value)) => (Some(key), Some(index), Some(value)),
            None => (None, None, None),
        };
        // A value a template gave, known now: checked before anything is sent anywhere. Values
        // from an earlier step's output are known only at run time, and checked per task then.
        if !step.is_deferred() {
            step.check_values(self.playbook, &params, &|| match &item {
                Some(k) => format!("tenant `{tenant}`, item `{k}`"),
                None => format!("tenant `{tenant}`"),
            })?;
        }
        summary.tasks += 1;
        if step.read_only {
            summary.reads += 1;
        } else {
            summary.writes += 1;
        }
        let ensure = step.split_ensure(&mut params);
        // The item read earlier (a mailbox from `Get-Mailbox`) may already hold the values.
        // Only an object's properties are taken from an item, never its existence: a step
        // with `state` always reads.
        let from_service = value.filter(|_| step.items_from_service && step.step.state.is_none());
        let carried = ensure
            .as_ref()
            .zip(from_service)
            .and_then(|(desired, item)| {
                serde_json::to_value(item).ok().and_then(|item| {
                    let identity = crate::state::property(&params, "Identity");
                    crate::state::carried(&item, identity, desired)
                })
            });
        sink.record(PlanRecord::Task(Task {
            id: task_id(tenant, step.key, item.as_deref()),
            tenant: tenant.into(),
            step: step.key.into(),
            item,
            index,
            cmdlet: step.step.cmdlet.value.as_str().into(),
            read_only: step.read_only,
            params,
            ensure,
            state: step.step.state.as_ref().map(|s| s.value.as_str().into()),
            carried,
        }))?;
        Ok(())
    }
}

/// The rest of one step's expansion for one tenant: see [`Planner::start_step`].
pub struct StepExpansion<'p, 's> {
    planner: &'p Planner<'p, 's>,
    tenant: &'p Tenant,
    scope: Arc<TenantScope>,
    step: &'p CompiledStep<'p, 's>,
    items: Items,
    records: usize,
}

/// What is left to expand of a step.
enum Items {
    /// Nothing: the step was skipped for the tenant, or is finished.
    Done,
    /// The one task of a step without `for_each`.
    Single,
    /// The `for_each` items not expanded yet.
    Many {
        source: ItemSource,
        /// The next item's index.
        next: usize,
        length: usize,
        /// Digests of the item keys given so far, to make repeated ones unique; none when no
        /// key repeats (the usual case), so that a step's memory does not grow with its items.
        /// Digests rather than the keys: 16 bytes an item whatever the keys' length.
        seen: Option<HashMap<[u8; 16], u32>>,
    },
}

/// A `for_each` list: a sequence read by index where it can be, so that its items are not
/// copied; other iterables, collected.
enum ItemSource {
    Indexed(Value, usize),
    Listed(Vec<Value>),
}

impl ItemSource {
    fn len(&self) -> usize {
        match self {
            ItemSource::Indexed(_, n) => *n,
            ItemSource::Listed(items) => items.len(),
        }
    }

    fn get(&self, i: usize) -> Value {
        match self {
            ItemSource::Indexed(seq, _) => seq.get_item_by_index(i).unwrap_or_default(),
            ItemSource::Listed(items) => items.get(i).cloned().unwrap_or_default(),
        }
    }
}

/// Counts `key` in `seen`; how many times it was given when that is more than once.
fn repeated(seen: &mut HashMap<[u8; 16], u32>, key: &str) -> Option<u32> {
    let n = seen.entry(digest(key)).or_insert(0);
    *n += 1;
    (*n > 1).then_some(*n)
}

/// 128 bits of two fixed-key SipHashes: a collision (which would only add a needless `#2`)
/// is beyond reach, and hashing stays a small part of expanding an item, unlike SHA-256.
fn digest(key: &str) -> [u8; 16] {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let half = |salt: u8| {
        let mut h = DefaultHasher::new();
        salt.hash(&mut h);
        key.hash(&mut h);
        h.finish().to_le_bytes()
    };
    let mut out = [0; 16];
    out[..8].copy_from_slice(&half(0));
    out[8..].copy_from_slice(&half(1));
    out
}

/// An item's key: the step's `key` template, or the item's default key.
fn key_at(
    planner: &Planner<'_, '_>,
    step: &CompiledStep<'_, '_>,
    tenant: &str,
    item: &Value,
    item_scope: &Value,
    i: usize,
) -> Result<String, PlanError> {
    Ok(match &step.item_key {
        None if step.secret_reads_item => item_key_hiding_text(item),
        None => item_key(item),
        Some(c) => {
            let v = c.render_value(item_scope).map_err(|e| {
                planner.located(
                    e,
                    format!(
                        "while computing `key` for tenant `{tenant}`, item {}",
                        i + 1
                    ),
                )
            })?;
            v.to_string()
        }
    })
}

impl<'s> StepExpansion<'_, 's> {
    /// Whether any two items of `source` have the same key. Only then does expanding need to
    /// remember the keys it gave; a 64-bit hash per item is held just while this looks (on a
    /// single thread, one step of one tenant at a time), and equal hashes of different keys
    /// only make the expansion remember keys it did not need to.
    fn keys_repeat(&self, source: &ItemSource) -> Result<bool, PlanError> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let length = source.len();
        if length < 2 {
            return Ok(false);
        }
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        let mut hashes = Vec::with_capacity(length);
        for i in 0..length {
            let item = source.get(i);
            let key = if self.step.item_key.is_some() {
                let scope = Scope::item(&self.scope, item.clone(), i, length);
                key_at(
                    self.planner,
                    self.step,
                    self.tenant.name(),
                    &item,
                    &scope,
                    i,
                )?
            } else if self.step.secret_reads_item {
                item_key_hiding_text(&item)
            } else {
                item_key(&item)
            };
            hashes.push(hasher.hash_one(key.as_str()));
        }
        hashes.sort_unstable();
        Ok(hashes.windows(2).any(|w| w[0] == w[1]))
    }

    /// How many records (tasks and skips) the step gives in all: one per item, or one (its
    /// single task, or its skip for the whole tenant).
    pub fn records(&self) -> usize {
        self.records
    }

    /// Expands the next item into `sink`, as a task or as a skip; false when none is left.
    pub fn next(&mut self, sink: &mut dyn Sink, summary: &mut Summary) -> Result<bool, PlanError> {
        let planner = self.planner;
        let step = self.step;
        let name = self.tenant.name();
        match &mut self.items {
            Items::Done => Ok(false),
            Items::Single => {
                self.items = Items::Done;
                let params =
                    planner.render_params(step, &Scope::tenant(&self.scope), name, None)?;
                planner.emit(step, name, None, params, sink, summary)?;
                Ok(true)
            }
            Items::Many {
                source,
                next,
                length,
                seen,
            } => {
                if *next >= *length {
                    self.items = Items::Done;
                    return Ok(false);
                }
                let i = *next;
                *next += 1;
                let item = source.get(i);
                let item_scope = Scope::item(&self.scope, item.clone(), i, *length);
                let mut key = key_at(planner, step, name, &item, &item_scope, i)?;
                // Equal keys get #2, #3… in order, skipping any suffix an item already has, so
                // every id stays unique and deterministic.
                if let Some(seen) = seen
                    && let Some(n) = repeated(seen, &key)
                {
                    let base = key.clone();
                    let mut suffix = n;
                    while seen.contains_key(&digest(&format!("{base}#{suffix}"))) {
                        suffix += 1;
                    }
                    key = format!("{base}#{suffix}");
                    seen.insert(digest(&key), 1);
                }
                if step.when_uses_item
                    && let Some(when) = &step.when
                    && !when.render_condition(&item_scope).map_err(|e| {
                        planner.located(
                            e,
                            format!("while evaluating `when` for tenant `{name}`, item `{key}`"),
                        )
                    })?
                {
                    summary.skipped += 1;
                    sink.record(PlanRecord::Skipped(Skipped {
                        id: task_id(name, step.key, Some(&key)),
                        tenant: name.into(),
                        step: step.key.into(),
                        item: Some(key),
                        reason: "when is false".into(),
                    }))?;
                    return Ok(true);
                }
                let params = planner.render_params(step, &item_scope, name, Some(&key))?;
                planner.emit(step, name, Some((key, i, &item)), params, sink, summary)?;
                Ok(true)
            }
        }
    }
}

/// The items of a `for_each` value, or the kind of value it was instead of a list.
fn as_items(value: &Value) -> Result<ItemSource, String> {
    match value.kind() {
        ValueKind::Seq if value.len().is_some() => {
            Ok(ItemSource::Indexed(value.clone(), value.len().unwrap_or(0)))
        }
        ValueKind::Seq | ValueKind::Iterable => Ok(ItemSource::Listed(
            value.try_iter().map_err(|e| e.to_string())?.collect(),
        )),
        ValueKind::None | ValueKind::Undefined => Err("nothing (none)".to_owned()),
        ValueKind::String => Err(format!("a string ({})", truncate(&value.to_string(), 40))),
        other => Err(format!("a {other}")),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        format!("`{s}`")
    } else {
        format!("`{}…`", s.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_escape_their_separators() {
        assert_eq!(
            task_id("contoso", "set", Some("a/b%c")),
            "contoso/set/a%2Fb%25c"
        );
        assert_eq!(task_id("contoso", "get", None), "contoso/get");
    }

    #[test]
    fn item_keys_prefer_identity_fields() {
        let v = |j: serde_json::Value| Value::from(Serde(j));
        assert_eq!(
            item_key(&v(serde_json::json!("alex@contoso.com"))),
            "alex@contoso.com"
        );
        assert_eq!(
            item_key(&v(
                serde_json::json!({"DisplayName": "Alex", "UserPrincipalName": "alex@c.com", "Name": "alex"})
            )),
            "alex@c.com"
        );
        assert_eq!(
            item_key(&v(serde_json::json!({"email": "b@c.com"}))),
            "b@c.com"
        );
        assert_eq!(
            item_key(&v(
                serde_json::json!({"Group": "Sales", "Member": "b@c.com"})
            )),
            "Sales,b@c.com"
        );
        // Where a SecureString reads the item, its text is never the key.
        assert_eq!(
            item_key_hiding_text(&v(serde_json::json!({"Name": "alex", "Pw": "hunter2"}))),
            "alex"
        );
        for secret in [
            serde_json::json!("hunter2"),
            serde_json::json!({"User": "alex", "Pw": "hunter2"}),
        ] {
            let key = item_key_hiding_text(&v(secret.clone()));
            assert!(key.starts_with('#') && !key.contains("hunter2"), "{key}");
            assert!(item_key(&v(secret)).contains("hunter2"));
        }
        let hashed = item_key(&v(serde_json::json!({"a": [1]})));
        assert!(hashed.starts_with('#') && hashed.len() == 13, "{hashed}");
        assert_eq!(hashed, item_key(&v(serde_json::json!({"a": [1]}))));
    }
}
