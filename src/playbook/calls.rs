//! Every call checked against the cmdlet catalog before any tenant is touched: the cmdlet
//! exists, each parameter exists for it, each value written in the playbook fits the
//! parameter's documented type, and the parameters fit one of the cmdlet's parameter sets.
//! Values that templates produce are checked when they are known (see `plan`).

use crate::catalog::{Catalog, Cmdlet, Kind, Many, Scalar};
use crate::diagnostic::{Diagnostic, Diagnostics, suggest};

use super::Playbook;
use super::node::{Node, NodeValue};
use super::types::{CatalogCheck, Step};

impl Playbook {
    /// Checks one step's call against `catalog`, unless the step says `catalog: off`.
    pub(super) fn check_call(&self, step: &Step, catalog: &Catalog, out: &mut Diagnostics) {
        if step.catalog == Some(CatalogCheck::Off) {
            return;
        }
        let name = &step.cmdlet.value;
        let Some(cmdlet) = catalog.cmdlet(name) else {
            let names = catalog.names();
            // The noun exists with other verbs (`Set-MailboxPermission`): name those, which
            // says more than the nearest spelling (`Get-MailboxPermission`).
            let noun = name.split_once('-').map_or("", |(_, n)| n);
            let verbs: Vec<&str> = names
                .iter()
                .filter_map(|n| n.split_once('-'))
                .filter(|(_, n)| n.eq_ignore_ascii_case(noun))
                .map(|(v, _)| v)
                .collect();
            let message = match verbs.as_slice() {
                [] => format!(
                    "`{name}` is not an Exchange Online cmdlet{}",
                    suggest(name, names.iter().map(String::as_str))
                ),
                verbs => format!(
                    "`{name}` is not an Exchange Online cmdlet; {noun} has only {}",
                    crate::diagnostic::quoted_list(
                        &verbs.iter().map(|v| format!("{v}-")).collect::<Vec<_>>(),
                        "and"
                    )
                ),
            };
            let mut d = Diagnostic::new(message)
            .at(self.locate(&step.cmdlet))
            .help("`tenantry cmdlets` lists the cmdlets Exchange Online documents; for one that is newer than tenantry's catalog, pass `--catalog FILE`, or write `catalog: off` on the step to send it unchecked");
            if let Some(case) = names.iter().find(|n| n.eq_ignore_ascii_case(name)) {
                d = d.help(format!("it is written `{case}`"));
            }
            out.push(d);
            return;
        };
        let mut given: Vec<&str> = Vec::new();
        // Sets are judged only when every name is known: a misspelt one is its own error.
        let mut all_known = true;
        for (param, value) in &step.params {
            let Some(spec) = cmdlet.param(param) else {
                all_known = false;
                if super::PARAM_NAME.is_match(param) {
                    out.push(unknown_parameter(&cmdlet, param).at(self.locate_param(param, value)));
                }
                continue;
            };
            given.push(&spec.name);
            // A credential is refused where the structural checks look at names.
            if spec.kind.scalar == Scalar::Credential {
                continue;
            }
            if let Some(json) = literal(value)
                && let Err(problem) = spec.kind.check(&json, &spec.values)
            {
                let at = match culprit(spec.kind, &spec.values, value) {
                    Culprit::Value(node) => self.locate_node(node),
                    Culprit::Key(key, node) => self.locate_param(key, node),
                };
                out.push(
                    Diagnostic::new(format!("{} -{} takes {problem}", cmdlet.name, spec.name))
                        .at(at)
                        .help(format!("its documented type is `{}`", spec.type_name)),
                );
            }
        }
        if !all_known {
            return;
        }
        if let Err(gaps) = cmdlet.fit_sets(&given) {
            // Every closest set lacks the same parameters and refuses none: say just that.
            let same_lack = gaps
                .iter()
                .all(|g| g.refuses.is_empty() && g.lacks == gaps[0].lacks);
            let message = if same_lack {
                let lacks: Vec<String> = gaps[0].lacks.iter().map(|n| format!("-{n}")).collect();
                format!("{} needs {}", cmdlet.name, lacks.join(", "))
            } else {
                format!(
                    "the parameters given to {} fit none of its parameter sets",
                    cmdlet.name
                )
            };
            let mut d = Diagnostic::new(message).at(self.locate(&step.cmdlet));
            if !same_lack {
                for gap in &gaps {
                    d = d.help(gap.to_string());
                }
            }
            out.push(d.help(format!(
                "`tenantry cmdlets {}` shows its parameter sets",
                cmdlet.name
            )));
        }
    }
}

/// "Set-Mailbox has no parameter -X", with the closest names.
fn unknown_parameter(cmdlet: &Cmdlet, param: &str) -> Diagnostic {
    let names = cmdlet.params.iter().map(|p| p.name.as_str());
    let d = Diagnostic::new(format!(
        "{} has no parameter `{param}`{}",
        cmdlet.name,
        suggest(param, names)
    ));
    d.help(format!(
        "`tenantry cmdlets {} -p {}` lists its parameters like it",
        cmdlet.name,
        param.chars().take(4).collect::<String>()
    ))
}

/// The part of a value that does not fit its parameter, for the error to point at.
enum Culprit<'a> {
    /// A value: the whole, or one item of a list.
    Value(&'a Node),
    /// A key of `{Add, Remove}` that is neither, with its value.
    Key(&'a str, &'a Node),
}

/// Of a value that does not fit `kind`, the first item of a list, or key or item of
/// `{Add: …, Remove: …}`, that does not; the whole value when it is none of these.
fn culprit<'a>(kind: Kind, values: &[String], node: &'a Node) -> Culprit<'a> {
    let one = Kind {
        scalar: kind.scalar,
        many: Many::One,
    };
    let misfit = |items: &'a [Node]| {
        items
            .iter()
            .find(|item| one.check(&item.to_json(), values).is_err())
    };
    match (&node.value, kind.many) {
        (NodeValue::Seq(items), Many::List | Many::Changes) => {
            Culprit::Value(misfit(items).unwrap_or(node))
        }
        (NodeValue::Map(changes), Many::Changes) => {
            for (key, value) in changes {
                if !(key.eq_ignore_ascii_case("add") || key.eq_ignore_ascii_case("remove")) {
                    return Culprit::Key(key, value);
                }
                let found = match &value.value {
                    NodeValue::Seq(items) => misfit(items),
                    _ => misfit(std::slice::from_ref(value)),
                };
                if let Some(item) = found {
                    return Culprit::Value(item);
                }
            }
            Culprit::Value(node)
        }
        _ => Culprit::Value(node),
    }
}

/// The value as written, when nothing in it is a template (a template's value is known only
/// once rendered, and is checked then).
fn literal(node: &Node) -> Option<serde_json::Value> {
    (!node.has_template()).then(|| node.to_json())
}
