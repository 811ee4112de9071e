//! The cmdlet catalog: every cmdlet Exchange Online documents, with its parameters, their
//! documented types, parameter sets, aliases and accepted values, so that a playbook's calls
//! can be checked before any tenant is touched and values sent as their type asks.
//!
//! The built-in catalog is derived from Microsoft's cmdlet reference
//! (`MicrosoftDocs/office-docs-powershell`, CC BY 4.0; the commit is in [`Catalog::origin`]).
//! It is embedded one cmdlet at a time (see `build.rs`): a lookup parses only the cmdlet asked
//! for, once. `--catalog FILE` reads a newer file of the same shape instead.

mod kind;
mod schema;
mod sets;
mod words;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

pub use kind::{
    Kind, Many, Scalar, ValueProblem, boolean, is_date_time, is_guid, is_smtp, size_bytes,
    time_span,
};

pub use schema::extend_playbook_schema;
pub use sets::SetGap;

include!(concat!(env!("OUT_DIR"), "/catalog_index.rs"));

/// The built-in catalog's entries, one minified JSON text per cmdlet, laid end to end.
static BLOB: &str = include_str!(concat!(env!("OUT_DIR"), "/catalog.json"));

/// Why a catalog file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file could not be read.
    #[error("cannot read the cmdlet catalog {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file is not a catalog.
    #[error(
        "{path} is not a cmdlet catalog ({reason}); it must have the shape of the built-in one: {{\"cmdlets\": {{\"Get-Mailbox\": {{\"sets\": [...], \"params\": {{...}}}}}}}}"
    )]
    Shape {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// A cmdlet as the catalog documents it.
#[derive(Clone, Debug, PartialEq)]
pub struct Cmdlet {
    /// The name as documented, e.g. `Set-Mailbox`.
    pub name: String,
    /// The parameter sets, by name; empty when the cmdlet has only one.
    pub sets: Vec<String>,
    /// The parameters, in the documentation's order.
    pub params: Vec<Parameter>,
    /// Each parameter's position by lowercase name and alias (names win over aliases): every
    /// call's parameters are looked up here, once per call and per task.
    index: std::collections::HashMap<String, usize>,
}

/// One parameter of a cmdlet.
#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    /// The name as documented, e.g. `RetainDeletedItemsFor`.
    pub name: String,
    /// The documented type, e.g. `EnhancedTimeSpan`, `MultiValuedProperty`.
    pub type_name: String,
    /// What values the type takes.
    pub kind: Kind,
    /// The sets it belongs to; empty when it belongs to every set.
    pub sets: Vec<String>,
    /// Whether the documentation marks it required.
    pub required: bool,
    /// Other names it answers to (`cf` for `Confirm`).
    pub aliases: Vec<String>,
    /// The values it accepts, when the documentation lists them.
    pub values: Vec<String>,
}

impl Parameter {
    /// Whether it belongs to parameter set `set`.
    pub fn in_set(&self, set: &str) -> bool {
        self.sets.is_empty() || self.sets.iter().any(|s| s.eq_ignore_ascii_case(set))
    }

    /// Whether it must be given whenever set `set` is used. The documentation's "required"
    /// is trusted only where it cannot be blurred by the parameter's other sets: a parameter
    /// documented for one set, or for all of them.
    pub fn required_in(&self, set: &str) -> bool {
        self.required && (self.sets.is_empty() || (self.sets.len() == 1 && self.in_set(set)))
    }
}

impl Cmdlet {
    /// The parameter called `name` or one of its aliases, in any case.
    pub fn param(&self, name: &str) -> Option<&Parameter> {
        self.index
            .get(&name.to_ascii_lowercase())
            .map(|&i| &self.params[i])
    }

    /// The parameter names closest to `name`, best first (at most three), for "did you mean".
    pub fn suggest(&self, name: &str) -> Vec<&str> {
        suggest(name, self.params.iter().map(|p| p.name.as_str()))
    }
}

/// A catalog of cmdlets: the built-in one or a file's.
pub struct Catalog {
    source: Source,
    /// Cmdlets parsed so far, by lowercase name; `None` for names it does not have.
    parsed: Mutex<HashMap<String, Option<Arc<Cmdlet>>>>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (source, commit, _) = self.origin();
        f.debug_struct("Catalog")
            .field("source", &source)
            .field("commit", &commit)
            .finish_non_exhaustive()
    }
}

enum Source {
    BuiltIn,
    File {
        origin: (String, String, String),
        cmdlets: HashMap<String, (String, RawCmdlet)>,
    },
}

/// A cmdlet's entry as the catalog file writes it.
#[derive(Clone, Debug, Deserialize)]
struct RawCmdlet {
    #[serde(default)]
    sets: Vec<String>,
    #[serde(default)]
    params: indexmap::IndexMap<String, RawParameter>,
}

/// A parameter's entry as the catalog file writes it.
#[derive(Clone, Debug, Deserialize)]
struct RawParameter {
    #[serde(rename = "type", default)]
    type_name: String,
    #[serde(default)]
    sets: Vec<String>,
    #[serde(default)]
    required: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    values: Vec<String>,
}

/// A whole catalog file.
#[derive(Deserialize)]
struct RawCatalog {
    #[serde(default)]
    source: String,
    #[serde(default)]
    commit: String,
    #[serde(default)]
    license: String,
    cmdlets: HashMap<String, RawCmdlet>,
}

impl Catalog {
    /// The catalog built into tenantry.
    pub fn built_in() -> Self {
        Catalog {
            source: Source::BuiltIn,
            parsed: Mutex::new(HashMap::new()),
        }
    }

    /// A catalog read from `path`, in the built-in one's shape.
    pub fn from_file(path: &Path) -> Result<Self, CatalogError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CatalogError::Read {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        Self::from_json(&shown, &text)
    }

    /// A catalog from JSON text; `name` says where it came from, for errors.
    pub fn from_json(name: &str, text: &str) -> Result<Self, CatalogError> {
        let raw: RawCatalog = serde_json::from_str(text).map_err(|e| CatalogError::Shape {
            path: name.to_string(),
            reason: e.to_string(),
        })?;
        if raw.cmdlets.is_empty() {
            return Err(CatalogError::Shape {
                path: name.to_string(),
                reason: "it lists no cmdlets".into(),
            });
        }
        Ok(Catalog {
            source: Source::File {
                origin: (raw.source, raw.commit, raw.license),
                cmdlets: raw
                    .cmdlets
                    .into_iter()
                    .map(|(name, spec)| (name.to_ascii_lowercase(), (name, spec)))
                    .collect(),
            },
            parsed: Mutex::new(HashMap::new()),
        })
    }

    /// Where the catalog comes from: source, commit and license.
    pub fn origin(&self) -> (&str, &str, &str) {
        match &self.source {
            Source::BuiltIn => ORIGIN,
            Source::File { origin, .. } => (&origin.0, &origin.1, &origin.2),
        }
    }

    /// The cmdlet called `name`, in any case.
    pub fn cmdlet(&self, name: &str) -> Option<Arc<Cmdlet>> {
        let key = name.to_ascii_lowercase();
        let mut parsed = self.parsed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = parsed.get(&key) {
            return found.clone();
        }
        let found = self.load(&key).map(Arc::new);
        parsed.insert(key, found.clone());
        found
    }

    /// Every cmdlet name, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = match &self.source {
            Source::BuiltIn => INDEX.iter().map(|e| e.1.to_string()).collect(),
            Source::File { cmdlets, .. } => cmdlets.values().map(|(n, _)| n.clone()).collect(),
        };
        names.sort_by_key(|n| n.to_ascii_lowercase());
        names
    }

    /// The cmdlet names closest to `name`, best first (at most three), for "did you mean".
    pub fn suggest(&self, name: &str) -> Vec<String> {
        let names = self.names();
        suggest(name, names.iter().map(String::as_str))
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    fn load(&self, key: &str) -> Option<Cmdlet> {
        let (name, raw) = match &self.source {
            Source::BuiltIn => {
                let i = INDEX.binary_search_by(|e| e.0.cmp(key)).ok()?;
                let (_, name, start, end) = INDEX[i];
                // The build wrote this text from valid JSON; a failure would be a build bug,
                // and is then as good as an unknown cmdlet.
                let raw: RawCmdlet = serde_json::from_str(&BLOB[start..end]).ok()?;
                (name.to_string(), raw)
            }
            Source::File { cmdlets, .. } => {
                let (name, raw) = cmdlets.get(key)?;
                (name.clone(), raw.clone())
            }
        };
        Some(Cmdlet::from_raw(name, raw))
    }
}

impl Cmdlet {
    fn from_raw(name: String, raw: RawCmdlet) -> Cmdlet {
        let sets = split_sets(&raw.sets);
        let cmdlet_name = name.clone();
        // A parameter's sets are the cmdlet's: a name the cmdlet does not list is a slip in
        // the documentation, and a parameter left with none belongs to every set.
        let own_sets = |name: &str, listed: &[String]| -> Vec<String> {
            let mut own: Vec<String> = split_sets(listed)
                .into_iter()
                .filter(|s| sets.iter().any(|c| c.eq_ignore_ascii_case(s)))
                .collect();
            // A set named after a parameter is the set that parameter selects, whatever the
            // documentation's list dropped (`New-Mailbox -MicrosoftOnlineServicesID`).
            if !own.is_empty()
                && !own.iter().any(|s| s.eq_ignore_ascii_case(name))
                && let Some(set) = sets.iter().find(|s| s.eq_ignore_ascii_case(name))
            {
                own.push(set.clone());
            }
            // Sets the reference's syntax gives a parameter and its parameter block leaves out.
            for (_, _, set) in SET_CORRECTIONS.iter().filter(|(c, p, _)| {
                c.eq_ignore_ascii_case(&cmdlet_name) && p.eq_ignore_ascii_case(name)
            }) {
                if !own.is_empty() && !own.iter().any(|s| s.eq_ignore_ascii_case(set)) {
                    own.push((*set).to_string());
                }
            }
            own
        };
        let params: Vec<Parameter> = raw
            .params
            .into_iter()
            .map(|(name, p)| Parameter {
                kind: Kind::of(&p.type_name, !p.values.is_empty()),
                sets: own_sets(&name, &p.sets),
                name,
                type_name: p.type_name,
                required: p
                    .required
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case("true")),
                aliases: p.aliases,
                values: p.values,
            })
            .collect();
        let mut index = std::collections::HashMap::new();
        for (i, p) in params.iter().enumerate() {
            for alias in &p.aliases {
                index.entry(alias.to_ascii_lowercase()).or_insert(i);
            }
        }
        for (i, p) in params.iter().enumerate() {
            index.insert(p.name.to_ascii_lowercase(), i);
        }
        Cmdlet {
            name,
            sets,
            params,
            index,
        }
    }
}

/// (cmdlet, parameter, set): parameter sets the reference's SYNTAX section gives a parameter
/// that its own "Parameter Sets" block omits, so that a documented call is not refused
/// (`New-Mailbox -InactiveMailbox … -MicrosoftOnlineServicesID … -Password …` recovers an
/// inactive mailbox).
const SET_CORRECTIONS: &[(&str, &str, &str)] = &[
    (
        "New-Mailbox",
        "InactiveMailbox",
        "MicrosoftOnlineServicesID",
    ),
    ("New-Mailbox", "RemovedMailbox", "MicrosoftOnlineServicesID"),
];

/// Set names as written, with the documentation's slips mended: a name written twice, or
/// two names run together with a space (`Migration RemovedMailbox`).
fn split_sets(sets: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in sets.iter().flat_map(|s| s.split([' ', ','])) {
        let name = name.trim();
        if !name.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(name)) {
            out.push(name.to_string());
        }
    }
    out
}

/// The candidates closest to `name` by Jaro-Winkler, best first, at most three, each close
/// enough to be worth saying; a candidate `name` is a prefix of comes first.
fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let lower = name.to_ascii_lowercase();
    let mut scored: Vec<(f64, &str)> = candidates
        .filter_map(|c| {
            let cl = c.to_ascii_lowercase();
            let score = if cl.starts_with(&lower) && lower.len() >= 4 {
                1.0
            } else {
                strsim::jaro_winkler(&lower, &cl)
            };
            (score >= 0.85).then_some((score, c))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests;
