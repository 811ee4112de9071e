//! The playbook language: typed loading with located errors, and the structural validation
//! that needs no templates (names, ids, cmdlets, auth blocks, limits).

mod calls;
mod desired;
pub(crate) mod load;
mod node;
pub(crate) mod notify;
mod select;
mod syntax;
mod types;
pub(crate) mod verbs;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde_saphyr::Spanned;

pub(crate) use load::read_source;
pub(crate) use node::{Node, NodeValue, Pos};
pub(crate) use select::select_tenants;
pub(crate) use syntax::is_template;
pub(crate) use types::{
    Auth, CatalogCheck, EnsureState, HumanDuration, OnError, PlaybookDoc, Rollout, Step,
    TenantsSource, Wave,
};
pub use types::{Cloud, CustomEndpoints, Tenant};

use crate::diagnostic::{Diagnostic, Diagnostics, Location, SourceFile};
use crate::exchange::secure;

/// The default number of concurrent calls per tenant: Exchange Online's per-user limit.
pub(crate) const DEFAULT_CONNECTIONS_PER_TENANT: u32 = 3;
/// The default number of concurrent calls across all tenants.
pub(crate) const DEFAULT_MAX_IN_FLIGHT: u32 = 256;

/// Errors from loading and validating a playbook.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlaybookError {
    /// The playbook or its tenants file is malformed; every problem found is listed.
    #[error("{0}")]
    Invalid(Diagnostics),
}

impl From<Diagnostic> for PlaybookError {
    fn from(d: Diagnostic) -> Self {
        PlaybookError::Invalid(d.into())
    }
}

impl From<Diagnostics> for PlaybookError {
    fn from(d: Diagnostics) -> Self {
        PlaybookError::Invalid(d)
    }
}

/// A loaded, structurally valid playbook with its tenants resolved.
#[derive(Debug)]
pub struct Playbook {
    /// The playbook file as the user named it.
    pub(crate) path: PathBuf,
    /// The folder data files are read from (the playbook's own folder).
    pub dir: PathBuf,
    /// The playbook's text, for locating errors.
    pub(crate) source: Arc<SourceFile>,
    /// The document as written. Its `tenants` field is emptied: see [`Playbook::tenants`].
    pub(crate) doc: PlaybookDoc,
    /// Every tenant, from the inline list or the tenants file, in written order.
    pub tenants: Vec<Tenant>,
    /// The tenants file, when tenants come from one.
    pub(crate) tenants_file: Option<PathBuf>,
    /// The key each step is known by in task ids and `steps.X`: its id, else a slug of its
    /// name, else `N-cmdlet`.
    pub(crate) step_keys: Vec<String>,
}

impl Playbook {
    /// Reads, parses and validates a playbook and its tenants file.
    pub fn load(path: &Path) -> Result<Self, PlaybookError> {
        let playbook = Self::parse(path)?;
        playbook.check().into_result()?;
        Ok(playbook)
    }

    /// Reads and parses a playbook and its tenants file, without the checks of
    /// [`Playbook::check`]; for callers that gather every problem before reporting.
    pub fn parse(path: &Path) -> Result<Self, PlaybookError> {
        let source = read_source(path)?;
        let mut doc: PlaybookDoc = load::parse(&source, PLAYBOOK_SHAPE).map_err(|d| {
            if looks_like_tenant_list(source.text()) {
                d.help("this file is a list; a playbook is a mapping with `version`, `name`, `tenants` and `steps`. A tenants file is named by a playbook's `tenants:` and checked with it")
            } else {
                d
            }
        })?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let (mut tenants, tenants_file) = match std::mem::replace(
            &mut doc.tenants,
            TenantsSource::Inline(Vec::new()),
        ) {
            TenantsSource::Inline(list) => {
                let list: Vec<Tenant> = list
                    .into_iter()
                    .map(|mut t| {
                        t.source = Some(Arc::clone(&source));
                        t
                    })
                    .collect();
                (list, None)
            }
            TenantsSource::File(rel) => {
                let file = load::resolve(&dir, &rel.value);
                let at = located(&source, &rel);
                let tenant_source = read_source(&file).map_err(|d| {
                    if d.location.is_none() {
                        Diagnostic {
                            location: Some(at),
                            ..d
                        }
                    } else {
                        d
                    }
                })?;
                let list: Vec<Tenant> = load::parse(
                        &tenant_source,
                        "a list of tenants, each `- name: …` with `organization:`",
                    )
                    .map_err(|d| {
                        if d.message.starts_with("expected a") || d.message.contains("must be a list") {
                            Diagnostic {
                                message: "a tenants file must be a list of tenants".to_owned(),
                                ..d
                            }
                            .help("start each tenant with `- name: …`; the file holds the list alone, with no `tenants:` key")
                        } else {
                            d
                        }
                    })?;
                let list: Vec<Tenant> = list
                    .into_iter()
                    .map(|mut t| {
                        t.source = Some(Arc::clone(&tenant_source));
                        t
                    })
                    .collect();
                (list, Some(file))
            }
        };
        tenants.shrink_to_fit();
        let step_keys = step_keys(&doc.steps);
        Ok(Playbook {
            path: path.to_path_buf(),
            dir,
            source,
            doc,
            tenants,
            tenants_file,
            step_keys,
        })
    }

    /// The location of a spanned value in the playbook file.
    pub(crate) fn locate<T>(&self, spanned: &Spanned<T>) -> Location {
        located(&self.source, spanned)
    }

    /// The location of a top-level `key:` in the playbook file.
    pub(crate) fn top_level_key(&self, key: &str) -> Option<Location> {
        let text = self.source.text();
        let at = if text.starts_with(&format!("{key}:")) {
            0
        } else {
            text.find(&format!("\n{key}:"))? + 1
        };
        Some(self.source.span(at, key.len()))
    }

    /// The location of a step parameter's name. Keys carry no position, but a key is written
    /// just before its value: the nearest occurrence before the value is this one.
    fn locate_param(&self, param: &str, value: &Node) -> Location {
        let value_at = value.pos.offset_in(&self.source);
        self.source.text()[..value_at]
            .rfind(param)
            .map(|i| self.source.span(i, param.len()))
            .unwrap_or_else(|| self.locate_node(value))
    }

    /// The location of a node in the playbook file.
    pub(crate) fn locate_node(&self, node: &Node) -> Location {
        self.source.at(node.pos.line, node.pos.column, 1)
    }

    /// The connection limit in force for a tenant.
    pub(crate) fn connections_for(&self, tenant: &Tenant) -> u32 {
        tenant
            .limits
            .connections
            .as_ref()
            .or(self.doc.limits.connections_per_tenant.as_ref())
            .map_or(DEFAULT_CONNECTIONS_PER_TENANT, |s| s.value)
    }

    /// How many of a step's calls go in one `$batch` request: the step's `batch`, else the
    /// playbook's; 1 (plain calls) when neither asks, and always for a step with `ensure` or
    /// `state`, whose tasks each read, compare and write one object.
    pub(crate) fn batch_for(&self, step: &Step) -> usize {
        if is_desired(step) {
            return 1;
        }
        step.batch
            .as_ref()
            .or(self.doc.batch.as_ref())
            .map_or(1, |b| b.value.calls())
    }

    /// The global in-flight limit.
    pub(crate) fn max_in_flight(&self) -> u32 {
        self.doc
            .limits
            .max_in_flight
            .as_ref()
            .map_or(DEFAULT_MAX_IN_FLIGHT, |s| s.value)
    }

    /// The structural checks: version, names, ids, cmdlets, parameters (names, and no
    /// PSCredential, which the admin API cannot carry), auth blocks, limits. Template checks
    /// need an environment and are made by the planner.
    pub fn check(&self) -> Diagnostics {
        self.check_with(&crate::catalog::Catalog::built_in())
    }

    /// [`Playbook::check`] with the cmdlets `catalog` documents: every call's cmdlet,
    /// parameters, written values and parameter set.
    pub fn check_with(&self, catalog: &crate::catalog::Catalog) -> Diagnostics {
        let mut out = Diagnostics::default();
        if self.doc.version.value != 1 {
            out.push(
                Diagnostic::new(format!(
                    "unsupported playbook version {}",
                    self.doc.version.value
                ))
                .at(self.locate(&self.doc.version))
                .help("this tenantry reads `version: 1`"),
            );
        }
        if self.doc.steps.is_empty() {
            out.push(
                Diagnostic::new("the playbook has no steps")
                    .in_file(&self.path)
                    .at_opt(self.top_level_key("steps"))
                    .help("add a `steps:` list with at least one cmdlet"),
            );
        }
        if let Some(limits) = self.doc.limits.max_fail_percentage {
            let (tenant, run) = limits.limits();
            let run = run.filter(|r| Some(*r) != tenant);
            for value in [tenant, run].into_iter().flatten() {
                if !(0.0..=100.0).contains(&value) {
                    out.push(
                        Diagnostic::new(format!(
                            "max_fail_percentage {value} is not a percentage"
                        ))
                        .in_file(&self.path)
                        .at_opt(self.top_level_key("limits"))
                        .help("give a number from 0 to 100: the share of finished tasks that may fail"),
                    );
                }
            }
        }
        self.validate_vars(&mut out);
        self.validate_limits(&mut out);
        self.validate_batch(&mut out);
        self.validate_tenants(&mut out);
        self.validate_steps(catalog, &mut out);
        notify::check(self, &mut out);
        out
    }

    /// Vars are data: a template in one would reach a cmdlet verbatim, braces and all.
    fn validate_vars(&self, out: &mut Diagnostics) {
        let scopes = std::iter::once((&self.doc.vars, &self.source)).chain(
            self.tenants
                .iter()
                .map(|t| (&t.vars, t.source.as_ref().unwrap_or(&self.source))),
        );
        for (vars, file) in scopes {
            for (name, node) in vars {
                if let Some(at) = find_template(node) {
                    out.push(
                        Diagnostic::new(format!("var `{name}` holds a template; vars are data, not templates"))
                            .at(file.at(at.line, at.column, 1))
                            .help("write the template where the value is used, in a step's params, `when` or `for_each`"),
                    );
                }
            }
        }
    }

    fn validate_limits(&self, out: &mut Diagnostics) {
        if let Some(c) = &self.doc.limits.connections_per_tenant {
            check_connections(&self.source, c, out);
        }
        if let Some(m) = &self.doc.limits.max_in_flight
            && m.value == 0
        {
            out.push(Diagnostic::new("`max_in_flight` must be at least 1").at(self.locate(m)));
        }
    }

    /// `batch` in range wherever it is written, and only on steps whose calls can go together.
    fn validate_batch(&self, out: &mut Diagnostics) {
        let sizes = std::iter::once(self.doc.batch.as_ref())
            .chain(self.doc.steps.iter().map(|s| s.batch.as_ref()))
            .flatten();
        for size in sizes {
            if !(0..=types::MAX_BATCH).contains(&size.value.0) {
                out.push(
                    Diagnostic::new(format!(
                        "a batch of {} calls is out of range",
                        size.value.0
                    ))
                    .at(self.locate(size))
                    .help(format!(
                        "use 2 to {} calls per `$batch` request (10 is what CIPP sends), or 0, 1 or `false` for none",
                        types::MAX_BATCH
                    )),
                );
            }
        }
        for step in &self.doc.steps {
            if let Some(size) = &step.batch
                && size.value.calls() > 1
                && is_desired(step)
            {
                out.push(
                    Diagnostic::new(
                        "`batch` sends a plain step's calls together; a step with `ensure` or `state` reads, compares and writes each object on its own",
                    )
                    .at(self.locate(size))
                    .help("remove `batch` from this step (a playbook-wide `batch` leaves `ensure` and `state` steps unbatched)"),
                );
            }
        }
    }

    fn validate_tenants(&self, out: &mut Diagnostics) {
        if self.tenants.is_empty() {
            out.push(
                Diagnostic::new("the playbook names no tenants")
                    .in_file(self.tenants_file.as_ref().unwrap_or(&self.path))
                    .at_opt(self.tenants_file.is_none().then(|| self.top_level_key("tenants")).flatten())
                    .help("list at least one tenant, e.g. `- { name: lab, organization: lab.onmicrosoft.com, cloud: sandbox }`"),
            );
        }
        let mut seen: HashMap<&str, &Tenant> = HashMap::new();
        for tenant in &self.tenants {
            let file = tenant.source.as_ref().unwrap_or(&self.source);
            let name = &tenant.name;
            if !TENANT_NAME.is_match(&name.value) {
                out.push(
                    Diagnostic::new(format!("invalid tenant name `{}`", name.value))
                        .at(located(file, name))
                        .help("tenant names are used in selectors, task ids and file names: use letters, digits, `.`, `_` and `-`, starting with a letter or digit"),
                );
            }
            if let Some(first) = seen.insert(&name.value, tenant) {
                let first_file = first.source.as_ref().unwrap_or(&self.source);
                out.push(
                    Diagnostic::new(format!("tenant `{}` is listed twice", name.value))
                        .at(located(file, name))
                        .help(format!(
                            "the first is at {}; tenant names must be unique",
                            located(first_file, &first.name)
                        )),
                );
            }
            check_organization(file, &tenant.organization, "organization", out);
            if let Some(d) = &tenant.delegated_organization {
                check_organization(file, d, "delegated_organization", out);
            }
            match (tenant.cloud, &tenant.endpoints) {
                (Cloud::Custom, None) => out.push(
                    Diagnostic::new(format!(
                        "tenant `{}` uses `cloud: custom` but gives no `endpoints`",
                        name.value
                    ))
                    .at(located(file, name))
                    .help("add `endpoints: { rest: https://…, authority: https://…, scope: https://…/.default }`"),
                ),
                (cloud, Some(_)) if cloud != Cloud::Custom => out.push(
                    Diagnostic::new(format!(
                        "tenant `{}` gives `endpoints` but its cloud is `{}`",
                        name.value,
                        cloud.as_str()
                    ))
                    .at(located(file, name))
                    .help("`endpoints` is only for `cloud: custom`; the other clouds' endpoints are built in"),
                ),
                _ => {}
            }
            if let Some(auth) = &tenant.auth {
                check_auth(file, auth, out);
            }
            if let Some(c) = &tenant.limits.connections {
                check_connections(file, c, out);
            }
        }
    }

    fn validate_steps(&self, catalog: &crate::catalog::Catalog, out: &mut Diagnostics) {
        let mut ids: HashMap<&str, &Spanned<String>> = HashMap::new();
        for step in &self.doc.steps {
            if let Some(id) = &step.id {
                if !STEP_ID.is_match(&id.value) {
                    out.push(
                        Diagnostic::new(format!("invalid step id `{}`", id.value))
                            .at(self.locate(id))
                            .help("step ids are read as `steps.ID` in templates: use letters, digits and `_`, starting with a letter (e.g. `user_mailboxes`)"),
                    );
                }
                if let Some(first) = ids.insert(&id.value, id) {
                    out.push(
                        Diagnostic::new(format!("step id `{}` is used twice", id.value))
                            .at(self.locate(id))
                            .help(format!(
                                "the first is at {}; step ids must be unique",
                                self.locate(first)
                            )),
                    );
                }
            }
            let before = out.len();
            verbs::check_cmdlet(&self.locate(&step.cmdlet), &step.cmdlet.value, out);
            // A name that is no cmdlet name at all has been told so; the catalog would only
            // say it again.
            if out.len() == before {
                self.check_call(step, catalog, out);
                self.check_desired(step, catalog, out);
            }
            for (param, value) in &step.params {
                if !PARAM_NAME.is_match(param) {
                    let at = self.locate_param(param, value);
                    let mut d = Diagnostic::new(format!("invalid parameter name `{param}`")).at(at);
                    d = match param.strip_prefix('-') {
                        Some(bare) => d.help(format!("write `{bare}:` without the leading `-`")),
                        None => d.help("cmdlet parameter names are letters and digits, like `Identity` or `ResultSize`"),
                    };
                    out.push(d);
                } else if let Some((cmdlet, name)) =
                    secure::ps_credential(&step.cmdlet.value, param)
                {
                    out.push(
                        Diagnostic::new(format!(
                            "{cmdlet} -{name} takes a PSCredential, which the admin API cannot carry; tenantry does not send credentials this way"
                        ))
                        .at(self.locate_param(param, value))
                        .help(secure::ps_credential_advice(cmdlet, name)),
                    );
                }
            }
            if let (Some(key), None) = (&step.key, &step.for_each) {
                out.push(
                    Diagnostic::new(
                        "`key` names the items of `for_each`, but this step has no `for_each`",
                    )
                    .at(self.locate_node(key)),
                );
            }
        }
    }
}

/// Whether a step states what must hold (`ensure`, `state`) rather than what to send.
fn is_desired(step: &Step) -> bool {
    !step.ensure.is_empty() || step.state.is_some()
}

/// What a playbook holds, for messages about an empty or misshapen one.
const PLAYBOOK_SHAPE: &str =
    "a playbook: a mapping with `version: 1`, `name`, `tenants` and `steps`";

/// True when the first YAML content of `text` is a list item, as in a tenants file.
fn looks_like_tenant_list(text: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---")
        .is_some_and(|l| l.starts_with("- "))
}

/// The position of the first string inside `node` that holds template syntax.
fn find_template(node: &Node) -> Option<Pos> {
    match &node.value {
        NodeValue::String(s) if is_template(s) => Some(node.pos),
        NodeValue::Seq(items) => items.iter().find_map(find_template),
        NodeValue::Map(map) => map.values().find_map(find_template),
        _ => None,
    }
}

fn located<T>(file: &Arc<SourceFile>, spanned: &Spanned<T>) -> Location {
    let pos = Pos::of(spanned);
    let width = spanned.referenced.span().len();
    file.at(pos.line, pos.column, usize::try_from(width).unwrap_or(1))
}

fn check_connections(file: &Arc<SourceFile>, c: &Spanned<u32>, out: &mut Diagnostics) {
    if !(1..=64).contains(&c.value) {
        out.push(
            Diagnostic::new(format!(
                "{} connections per tenant is out of range",
                c.value
            ))
            .at(located(file, c))
            .help(
                "use 1 to 64; Exchange Online allows 3 concurrent connections per user by default",
            ),
        );
    }
}

fn check_organization(
    file: &Arc<SourceFile>,
    org: &Spanned<String>,
    field: &str,
    out: &mut Diagnostics,
) {
    if !(GUID.is_match(&org.value) || DOMAIN.is_match(&org.value)) {
        out.push(
            Diagnostic::new(format!(
                "`{}` is not a domain or a tenant GUID",
                org.value
            ))
            .at(located(file, org))
            .help(format!(
                "`{field}` takes the tenant's domain (contoso.onmicrosoft.com) or its tenant id (a GUID)"
            )),
        );
    }
}

fn check_auth(file: &Arc<SourceFile>, auth: &Spanned<Auth>, out: &mut Diagnostics) {
    let at = located(file, auth);
    let one_of = |a: bool, b: bool, names: [&str; 2], out: &mut Diagnostics| {
        if a == b {
            let what = if a { "only one" } else { "one" };
            out.push(
                Diagnostic::new(format!(
                    "`method: {}` needs {what} of `{}` or `{}`",
                    auth.value.method(),
                    names[0],
                    names[1]
                ))
                .at(at.clone()),
            );
        }
    };
    match &auth.value {
        Auth::ClientSecret {
            secret_env,
            secret_file,
            ..
        } => one_of(
            secret_env.is_some(),
            secret_file.is_some(),
            ["secret_env", "secret_file"],
            out,
        ),
        Auth::Password {
            password_env,
            password_file,
            ..
        } => one_of(
            password_env.is_some(),
            password_file.is_some(),
            ["password_env", "password_file"],
            out,
        ),
        Auth::AccessToken {
            token_env,
            token_command,
        } => one_of(
            token_env.is_some(),
            token_command.is_some(),
            ["token_env", "token_command"],
            out,
        ),
        Auth::Certificate { .. } | Auth::DeviceCode { .. } | Auth::Federated { .. } => {}
    }
}

/// Keys for steps: the id, else a slug of the name, else `N-cmdlet`; made unique in order.
fn step_keys(steps: &[Step]) -> Vec<String> {
    let mut used: HashMap<String, usize> = HashMap::new();
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let base = match (&step.id, &step.name) {
                (Some(id), _) => id.value.clone(),
                (None, Some(name)) if !slug(name).is_empty() => slug(name),
                _ => format!("{}-{}", i + 1, step.cmdlet.value.to_ascii_lowercase()),
            };
            let mut key = base.clone();
            let mut n = 1;
            while used.contains_key(&key) {
                n += 1;
                key = format!("{base}-{n}");
            }
            used.insert(key.clone(), 1);
            key
        })
        .collect()
}

fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

static TENANT_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$").expect("valid regex"));
static STEP_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9_]{0,63}$").expect("valid regex"));
static PARAM_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9_]*$").expect("valid regex"));
static GUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
        .expect("valid regex")
});
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")
        .expect("valid regex")
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_keys_are_stable_and_unique() {
        assert_eq!(slug("Set retention (30 days)"), "set-retention-30-days");
        assert_eq!(slug("!!!"), "");
        let steps: Vec<Step> = serde_saphyr::from_str(
            "- { name: a, cmdlet: Get-User }\n- { name: a, cmdlet: Get-User }\n- { name: a 2, cmdlet: Get-User }\n- { cmdlet: Get-User }\n- { id: x, cmdlet: Get-User }\n",
        )
        .unwrap();
        assert_eq!(step_keys(&steps), ["a", "a-2", "a-2-2", "4-get-user", "x"]);
    }
}
