//! Values that templates produce, checked against the parameter's documented type once they
//! are known: when the plan is made for values the playbook and its data give, and just before
//! the call for values read from an earlier step's output.

use crate::diagnostic::Diagnostic;

use super::CompiledStep;
use crate::playbook::Playbook;

/// The error class of a task whose value does not fit its parameter: it was not sent.
pub const INVALID_VALUE: &str = "InvalidParameterValue";

impl CompiledStep<'_, '_> {
    /// Checks the parameters a template produced against their documented types (values
    /// written as they are were checked when the playbook was). The first that does not fit
    /// gives a located error, saying what it was rendered for (`tenant `contoso`, item `x``,
    /// or a task id).
    pub(crate) fn check_values(
        &self,
        playbook: &Playbook,
        params: &serde_json::Map<String, serde_json::Value>,
        rendered_for: &dyn Fn() -> String,
    ) -> Result<(), Diagnostic> {
        let Some(spec) = &self.spec else {
            return Ok(());
        };
        for (node, param) in &self.typed {
            // Rendered under the documented name, whatever the playbook wrote.
            let Some(value) = params.get(&param.name) else {
                continue;
            };
            if let Err(problem) = param.kind.check(value, &param.values) {
                return Err(Diagnostic::new(format!(
                    "{} -{} takes {problem}",
                    spec.name, param.name
                ))
                .at(playbook.locate_node(node))
                .help(format!("rendered for {}", rendered_for()))
                .help(format!("its documented type is `{}`", param.type_name)));
            }
        }
        Ok(())
    }
}
