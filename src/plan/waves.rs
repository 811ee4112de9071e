//! Rollout waves: which tenants each wave of `rollout.waves` holds. A share (`"10%"`) takes
//! the tenants whose name hashes below it, so a tenant's wave never depends on the other
//! tenants and adding one moves no other; a selector (`{ limit: "tag:canary" }`) takes the
//! tenants it picks. Each tenant is in the first wave that takes it.

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::playbook::{Playbook, Rollout, Wave, select_tenants};

/// One wave: what the playbook calls it, and its tenants (indexes into the playbook's).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct WaveTenants {
    /// 1-based.
    pub(crate) number: usize,
    /// As written: `10%`, `tag:canary`.
    pub(crate) name: String,
    /// Its tenants, in the order they were selected.
    pub(crate) tenants: Vec<usize>,
}

/// A tenant's place in `[0, 100)`, from its name alone.
fn position(name: &str) -> f64 {
    tenantry_common::sha256_u64(name) as f64 / (u64::MAX as f64 + 1.0) * 100.0
}

/// The waves of `rollout` over the `selected` tenants, or what is wrong with them.
pub(crate) fn assign(
    playbook: &Playbook,
    rollout: &Rollout,
    selected: &[usize],
) -> Result<Vec<WaveTenants>, Diagnostics> {
    let mut errors = Diagnostics::default();
    let at = playbook.top_level_key("rollout");
    let error = |message: String, help: &str| {
        Diagnostic::new(message)
            .in_file(&playbook.path)
            .at_opt(at.clone())
            .help(help.to_string())
    };
    if rollout.waves.is_empty() {
        errors.push(error(
            "`rollout` has no waves".into(),
            "write `waves: [ { limit: \"tag:canary\" }, \"10%\", \"100%\" ]`",
        ));
    }
    let mut left: Vec<usize> = selected.to_vec();
    let mut waves = Vec::new();
    let mut last_share = 0.0;
    for (i, wave) in rollout.waves.iter().enumerate() {
        let taken: Vec<usize> = match wave {
            Wave::Share(text) => {
                let share = text
                    .trim()
                    .strip_suffix('%')
                    .and_then(|n| n.trim().parse::<f64>().ok())
                    .filter(|n| *n > 0.0 && *n <= 100.0);
                let Some(share) = share else {
                    errors.push(error(
                        format!("wave {}: `{text}` is not a share of the tenants", i + 1),
                        "write a percentage above 0 and at most 100, like \"10%\"",
                    ));
                    continue;
                };
                if share < last_share {
                    errors.push(error(
                        format!(
                            "wave {}: {text} is less than the wave before it ({last_share}%)",
                            i + 1
                        ),
                        "shares are cumulative: each wave's is at least the one before",
                    ));
                }
                last_share = share;
                left.iter()
                    .copied()
                    .filter(|&t| share >= 100.0 || position(playbook.tenants[t].name()) < share)
                    .collect()
            }
            Wave::Limit { limit } => {
                match select_tenants(&playbook.tenants, std::slice::from_ref(limit)) {
                    Ok(picked) => left
                        .iter()
                        .copied()
                        .filter(|t| picked.contains(t))
                        .collect(),
                    Err(d) => {
                        for d in d.0 {
                            errors.push(d.help(format!("in wave {} of `rollout`", i + 1)));
                        }
                        continue;
                    }
                }
            }
        };
        left.retain(|t| !taken.contains(t));
        waves.push(WaveTenants {
            number: i + 1,
            name: wave.describe().to_string(),
            tenants: taken,
        });
    }
    if !left.is_empty() && !rollout.waves.is_empty() {
        let names: Vec<&str> = left
            .iter()
            .take(5)
            .map(|&t| playbook.tenants[t].name())
            .collect();
        errors.push(error(
            format!(
                "{} tenant{} in no wave of `rollout` ({}{})",
                left.len(),
                if left.len() == 1 { " is" } else { "s are" },
                names.join(", "),
                if left.len() > 5 { ", …" } else { "" }
            ),
            "end the waves with \"100%\", so every tenant is in one",
        ));
    }
    errors.into_result()?;
    Ok(waves)
}

#[cfg(test)]
mod tests {
    use super::position;

    #[test]
    fn a_tenant_s_place_depends_on_its_name_alone() {
        let a = position("contoso");
        assert_eq!(a, position("contoso"));
        assert!((0.0..100.0).contains(&a));
        // Spread: of 1000 names, about a tenth fall under 10%.
        let under = (0..1000)
            .filter(|i| position(&format!("tenant{i:04}")) < 10.0)
            .count();
        assert!((60..140).contains(&under), "{under}");
    }
}
