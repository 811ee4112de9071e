//! `--limit`: choosing tenants by name or tag, with exclusions.

use crate::diagnostic::{Diagnostic, Diagnostics};

use super::Tenant;
use crate::diagnostic::suggest;

/// Applies `--limit` patterns. Each pattern is a comma-separated list of terms: `NAME`,
/// `tag:TAG`, `all`, or either prefixed with `!` to exclude. With no including term every
/// tenant is included before exclusions apply. Unknown names and tags are errors: a typo in a
/// selector must not quietly select nothing, or everything.
/// Returns the selected tenants as indexes into `tenants`, in written order.
pub(crate) fn select_tenants(
    tenants: &[Tenant],
    patterns: &[String],
) -> Result<Vec<usize>, Diagnostics> {
    let terms: Vec<&str> = patterns
        .iter()
        .flat_map(|p| p.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if terms.is_empty() && !patterns.is_empty() {
        // An empty variable in a cron line (`--limit "$TENANTS"`) must not mean every tenant.
        return Err(
            Diagnostic::new("`--limit` is empty, so it selects no tenant")
                .help("name tenants or tags, or leave `--limit` out to select every tenant")
                .into(),
        );
    }
    let mut errors = Diagnostics::default();
    let mut include: Option<Vec<bool>> = None;
    let mut exclude = vec![false; tenants.len()];
    for term in &terms {
        let (negated, body) = match term.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, *term),
        };
        let matches = term_matches(tenants, body, &mut errors);
        if negated {
            for (e, m) in exclude.iter_mut().zip(&matches) {
                *e |= m;
            }
        } else {
            let inc = include.get_or_insert_with(|| vec![false; tenants.len()]);
            for (i, m) in inc.iter_mut().zip(&matches) {
                *i |= m;
            }
        }
    }
    errors.into_result()?;
    let include = include.unwrap_or_else(|| vec![true; tenants.len()]);
    let chosen: Vec<usize> = (0..tenants.len())
        .filter(|&i| include[i] && !exclude[i])
        .collect();
    if chosen.is_empty() && !tenants.is_empty() {
        return Err(Diagnostic::new(format!(
            "`--limit {}` selects no tenant",
            patterns.join(" ")
        ))
        .help("every tenant it includes is also excluded")
        .into());
    }
    Ok(chosen)
}

/// Which tenants one term (`all`, `tag:TAG` or `NAME`, without its `!`) matches, reporting a
/// term that matches none.
fn term_matches(tenants: &[Tenant], body: &str, errors: &mut Diagnostics) -> Vec<bool> {
    if body == "all" {
        vec![true; tenants.len()]
    } else if let Some(tag) = body.strip_prefix("tag:") {
        tagged(tenants, tag, errors)
    } else {
        named(tenants, body, errors)
    }
}

/// The tenants with the tag `tag`; none is an error listing the tags in use.
fn tagged(tenants: &[Tenant], tag: &str, errors: &mut Diagnostics) -> Vec<bool> {
    let m: Vec<bool> = tenants
        .iter()
        .map(|t| t.tags.iter().any(|x| x == tag))
        .collect();
    if !m.contains(&true) {
        let mut known: Vec<&str> = tenants
            .iter()
            .flat_map(|t| t.tags.iter().map(String::as_str))
            .collect();
        known.sort_unstable();
        known.dedup();
        errors.push(
            Diagnostic::new(format!(
                "no tenant has the tag `{tag}`{}",
                suggest(tag, known.iter().copied())
            ))
            .help(if known.is_empty() {
                "no tenant has any tags".to_owned()
            } else {
                format!("tags in use: {}", known.join(", "))
            }),
        );
    }
    m
}

/// The tenant named `name`; none is an error suggesting the closest name.
fn named(tenants: &[Tenant], name: &str, errors: &mut Diagnostics) -> Vec<bool> {
    let m: Vec<bool> = tenants.iter().map(|t| t.name() == name).collect();
    if !m.contains(&true) {
        errors.push(
            Diagnostic::new(format!(
                "no tenant is named `{name}`{}",
                suggest(name, tenants.iter().map(Tenant::name))
            ))
            .help("select by name, by tag with `tag:NAME`, and exclude with `!`"),
        );
    }
    m
}
