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
        if step.params.is_empty() {
            out.push(
                Diagnostic::new("a step with `ensure` or `state` names its object in `params`")
                    .at(at.clone())
                    .help("add `params: { Identity: … }`: the object read, changed, created or removed"),
            );
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
        if step.catalog == Some(CatalogCheck::Off) {
            return;
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
        let names: serde_json::Map<String, serde_json::Value> = step
            .params
            .keys()
            .map(|k| (k.clone(), serde_json::Value::Null))
            .collect();
        if !step.params.is_empty() && crate::state::naming(&noun.get, &names, false).is_empty() {
            out.push(
                Diagnostic::new(format!(
                    "{} takes none of this step's parameters, so the object cannot be read",
                    noun.get.name
                ))
                .at(at.clone())
                .help("name the object with `Identity`"),
            );
        }
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
