//! Checks of the desired-state keys of a step (`ensure`, `state`, `verify`, `whatif`) before
//! any tenant is touched: the noun has the cmdlets they need, each property is one its
//! cmdlets set, each written value fits its type, and the step names its object.

use crate::catalog::{Catalog, Scalar};
use crate::diagnostic::{Diagnostic, Diagnostics, suggest};
use crate::state::Noun;

use super::Playbook;
use super::types::{CatalogCheck, EnsureState, Step};

impl Playbook {
    /// Checks a step's `ensure`, `state`, `verify` and `whatif` against each other and, unless
    /// the step says `catalog: off`, against `catalog`.
    pub(super) fn check_desired(&self, step: &Step, catalog: &Catalog, out: &mut Diagnostics) {
        let cmdlet = &step.cmdlet.value;
        let at = self.locate(&step.cmdlet);
        let desired = !step.ensure.is_empty() || step.state.is_some();
        let read_only = super::verbs::is_read_only(cmdlet);
        if step.whatif == Some(true)
            && !read_only
            && step.catalog != Some(CatalogCheck::Off)
            && let Some(spec) = catalog.cmdlet(cmdlet)
            && spec.param("Confirm").is_none()
        {
            out.push(
                Diagnostic::new(format!(
                    "`whatif` asks the service what the write would do (with `-Confirm`, as the Exchange module asks), and {cmdlet} takes no -Confirm"
                ))
                .at(at.clone())
                .help("remove `whatif`: a check then shows the call it would send"),
            );
        }
        if step.whatif.is_some() && read_only {
            out.push(
                Diagnostic::new(format!(
                    "`whatif` asks what a write would do; {cmdlet} only reads"
                ))
                .at(at.clone())
                .help("remove `whatif` from this step"),
            );
        }
        if step.verify.is_some() && !desired {
            out.push(
                Diagnostic::new("`verify` reads the object again after `ensure` or `state` wrote it; this step has neither")
                    .at(at.clone())
                    .help("add `ensure:` with the properties to verify, or remove `verify`"),
            );
        }
        if !desired {
            return;
        }
        if read_only {
            out.push(
                Diagnostic::new(format!(
                    "`ensure` and `state` change objects; {cmdlet} only reads"
                ))
                .at(at)
                .help("name the noun's `Set-` cmdlet, e.g. `Set-Mailbox` with `ensure:`"),
            );
            return;
        }
        let state = step.state.as_ref().map(|s| s.value);
        let verb = cmdlet.split_once('-').map_or("", |(v, _)| v);
        if state.is_none() && !verb.eq_ignore_ascii_case("Set") {
            out.push(
                Diagnostic::new(format!(
                    "`ensure` without `state` changes an existing object with `Set-`; {cmdlet} is not a `Set-` cmdlet"
                ))
                .at(at.clone())
                .help("name the noun's `Set-` cmdlet, or add `state: present` to create the object when it is missing"),
            );
        }
        if state == Some(EnsureState::Absent) && !step.ensure.is_empty() {
            out.push(
                Diagnostic::new("`state: absent` removes the object, so its `ensure` properties would never be set")
                    .at(at.clone())
                    .help("remove `ensure`, or write `state: present`"),
            );
        }
        if step.whatif.is_some() {
            out.push(
                Diagnostic::new("`whatif` is for plain writes: a check of an `ensure` or `state` step already reads the object and shows what differs")
                    .at(at.clone())
                    .help("remove `whatif` from this step"),
            );
        }
        let mut seen: Vec<&str> = Vec::new();
        for name in step.ensure.keys() {
            if let Some(first) = seen.iter().find(|s| s.eq_ignore_ascii_case(name)) {
                out.push(
                    Diagnostic::new(format!(
                        "`{name}` and `{first}` are one property, ensured twice"
                    ))
                    .at(self.locate_param(name, &step.ensure[name]))
                    .help("property names are not case-sensitive: keep one"),
                );
            }
            seen.push(name);
        }
        if step.catalog == Some(CatalogCheck::Off) {
            out.push(
                Diagnostic::new("`ensure` and `state` need the cmdlet catalog: it says which cmdlets read, create and remove the object, and how to compare each property")
                    .at(at)
                    .help("remove `catalog: off`, or write the step as a plain write without `ensure` and `state`"),
            );
            return;
        }
        for name in step.ensure.keys() {
            if step.params.keys().any(|p| p.eq_ignore_ascii_case(name)) {
                out.push(
                    Diagnostic::new(format!(
                        "`{name}` is both a parameter and an `ensure` property"
                    ))
                    .at(self.locate_param(name, &step.ensure[name]))
                    .help(
                        "name the object in `params` and write the values it must have in `ensure`",
                    ),
                );
            }
        }
        let Some(noun) = Noun::of(cmdlet, Some(catalog)) else {
            let noun = cmdlet.split_once('-').map_or(cmdlet.as_str(), |(_, n)| n);
            out.push(
                Diagnostic::new(format!(
                    "`ensure` and `state` read the object first, and Exchange Online has no `Get-{noun}`"
                ))
                .at(at)
                .help("send the call as a plain write, without `ensure` or `state`"),
            );
            return;
        };
        let missing = |what: &str, verb: &str| {
            Diagnostic::new(format!(
                "`{what}` needs {verb}, and Exchange Online has none for {}",
                noun.get.name.trim_start_matches("Get-")
            ))
            .at(at.clone())
        };
        match state {
            Some(EnsureState::Present) if noun.create.is_none() => {
                out.push(missing("state: present", "a `New-` or `Add-` cmdlet"));
            }
            Some(EnsureState::Absent) if noun.remove.is_none() => {
                out.push(missing("state: absent", "a `Remove-` cmdlet"));
            }
            None if noun.set.is_none() => out.push(missing("ensure", "a `Set-` cmdlet")),
            _ => {}
        }
        self.check_naming(step, &noun, state, out);
        let writers: Vec<_> = [&noun.set, &noun.create]
            .into_iter()
            .flatten()
            .filter_map(|v| v.spec.clone())
            .collect();
        for (name, node) in &step.ensure {
            let Some(spec) = writers.iter().find_map(|w| w.param(name)) else {
                let names = writers
                    .iter()
                    .flat_map(|w| w.params.iter().map(|p| p.name.as_str()));
                out.push(
                    Diagnostic::new(format!(
                        "{} has no parameter `{name}`{}",
                        writers.first().map_or(cmdlet.as_str(), |w| w.name.as_str()),
                        suggest(name, names)
                    ))
                    .at(self.locate_param(name, node))
                    .help("`ensure` names properties the noun's `Set-` (or `New-`) cmdlet sets"),
                );
                continue;
            };
            if matches!(
                spec.kind.scalar,
                Scalar::SecureString | Scalar::Credential | Scalar::Bytes
            ) {
                out.push(
                    Diagnostic::new(format!(
                        "`{name}` cannot be ensured: the service never returns its value to compare"
                    ))
                    .at(self.locate_param(name, node))
                    .help("set it with a plain write step, without `ensure`"),
                );
                continue;
            }
            if !node.has_template()
                && let Err(problem) = spec.kind.check(&node.to_json(), &spec.values)
            {
                out.push(
                    Diagnostic::new(format!("{name} takes {problem}"))
                        .at(self.locate_node(node))
                        .help(format!("its documented type is `{}`", spec.type_name)),
                );
            }
        }
    }
}

impl Playbook {
    /// Checks that a desired-state step's `params` name its object, and that each parameter
    /// has a use: naming the object, a switch, or (with `state: present`) creating it.
    fn check_naming(
        &self,
        step: &Step,
        noun: &Noun,
        state: Option<EnsureState>,
        out: &mut Diagnostics,
    ) {
        let at = self.locate(&step.cmdlet);
        let names: serde_json::Map<String, serde_json::Value> = step
            .params
            .keys()
            .map(|k| (k.clone(), serde_json::Value::Null))
            .collect();
        let named = noun.name(&names);
        if named.read.is_empty() && !noun.is_singleton() {
            out.push(
                Diagnostic::new(if step.params.is_empty() {
                    "a step with `ensure` or `state` names its object in `params`".to_string()
                } else {
                    format!(
                        "a step with `ensure` or `state` names its object in `params`, and {} reads by none of these",
                        noun.get.name
                    )
                })
                .at(at.clone())
                .help("add `params: { Identity: … }`: the object read, changed, created or removed"),
            );
        }
        let create = noun
            .create
            .as_ref()
            .filter(|_| state == Some(EnsureState::Present));
        for name in &named.rest {
            if create.is_some_and(|c| c.takes(name)) {
                continue;
            }
            let Some((key, node)) = step
                .params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
            else {
                continue;
            };
            let mut d = Diagnostic::new(format!(
                "`{key}` does not name the object, and would not be sent: in a desired-state step `params` name the object{}",
                match create {
                    Some(c) => format!(" and give what {} needs", c.name),
                    None => String::new(),
                }
            ))
            .at(self.locate_param(key, node));
            d = if noun.set.as_ref().is_some_and(|s| s.takes(key)) {
                d.help(format!(
                    "write `{key}` under `ensure` to have it set where it differs"
                ))
            } else {
                d.help(format!("remove `{key}`"))
            };
            out.push(d);
        }
    }
}
