//! `tenantry cmdlets`: the cmdlet catalog, listed or one cmdlet shown, for people or machines.

use std::io::{self, Write};
use std::path::Path;

use serde_json::{Value, json};

use super::CliError;
use super::args::{CmdletsArgs, Format};
use crate::catalog::{Catalog, Cmdlet, Parameter, Scalar};
use crate::diagnostic::plural;
use crate::exit;

/// `tenantry cmdlets`.
pub(super) fn cmdlets(args: CmdletsArgs) -> Result<i32, CliError> {
    let catalog = args.catalog.load()?;
    let credit = credit(&catalog, args.catalog.catalog.as_deref());
    match &args.cmdlet {
        Some(name) => show(&catalog, &credit, name, args.param.as_deref(), args.format),
        None => list(
            &catalog,
            &credit,
            args.verb.as_deref(),
            args.noun.as_deref(),
            args.format,
        ),
    }
}

/// The catalog's names, those with verb `verb` (any case) and a noun containing `noun`.
fn list(
    catalog: &Catalog,
    credit: &str,
    verb: Option<&str>,
    noun: Option<&str>,
    format: Format,
) -> Result<i32, CliError> {
    let noun = noun.map(str::to_ascii_lowercase);
    let names: Vec<String> = catalog
        .names()
        .into_iter()
        .filter(|name| {
            let (v, n) = name.split_once('-').unwrap_or((name, ""));
            verb.is_none_or(|verb| v.eq_ignore_ascii_case(verb))
                && noun
                    .as_deref()
                    .is_none_or(|noun| n.to_ascii_lowercase().contains(noun))
        })
        .collect();
    let mut out = io::stdout().lock();
    match format {
        Format::Json => {
            let doc = json!({ "cmdlets": names, "source": source(catalog) });
            writeln!(out, "{}", pretty(&doc))?;
        }
        Format::Text => {
            for name in &names {
                writeln!(out, "{name}")?;
            }
            // On standard error, so that standard output is the names alone, for pipes.
            writeln!(
                io::stderr().lock(),
                "{} cmdlet{}. {credit}",
                names.len(),
                plural(names.len()),
            )?;
        }
    }
    Ok(exit::OK)
}

/// One cmdlet, with the parameters whose name contains `filter` (any case), or all.
fn show(
    catalog: &Catalog,
    credit: &str,
    name: &str,
    filter: Option<&str>,
    format: Format,
) -> Result<i32, CliError> {
    let Some(cmdlet) = catalog.cmdlet(name) else {
        let help = match catalog.suggest(name).as_slice() {
            [] => format!(
                ": `tenantry cmdlets` lists the {} it knows",
                catalog.names().len()
            ),
            found => format!(", did you mean {}?", either(found)),
        };
        return Err(CliError::Usage(format!("unknown cmdlet `{name}`{help}")));
    };
    let params: Vec<&Parameter> = match filter {
        None => cmdlet.params.iter().collect(),
        Some(text) => {
            let text = text.to_ascii_lowercase();
            cmdlet
                .params
                .iter()
                .filter(|p| p.name.to_ascii_lowercase().contains(&text))
                .collect()
        }
    };
    if let (Some(text), true) = (filter, params.is_empty()) {
        let help = match cmdlet.suggest(text).as_slice() {
            [] => String::new(),
            found => {
                let found: Vec<String> = found.iter().map(|s| s.to_string()).collect();
                format!(", did you mean {}?", either(&found))
            }
        };
        return Err(CliError::Usage(format!(
            "{} has no parameter whose name contains `{text}`{help}",
            cmdlet.name
        )));
    }
    let mut out = io::stdout().lock();
    match format {
        Format::Json => writeln!(out, "{}", pretty(&as_json(catalog, &cmdlet, &params)))?,
        Format::Text => write!(out, "{}", as_text(credit, &cmdlet, &params, filter))?,
    }
    Ok(exit::OK)
}

/// The cmdlet for people: a heading, its sets, two lines per parameter, and the credit.
fn as_text(credit: &str, cmdlet: &Cmdlet, params: &[&Parameter], filter: Option<&str>) -> String {
    let total = cmdlet.params.len();
    let mut text = match filter {
        Some(f) => format!(
            "{}: {} of {total} parameters match `{f}`\n",
            cmdlet.name,
            params.len()
        ),
        None => format!("{}: {total} parameter{}\n", cmdlet.name, plural(total)),
    };
    if !cmdlet.sets.is_empty() {
        text.push_str(&format!("Parameter sets: {}\n", cmdlet.sets.join(", ")));
    }
    text.push('\n');
    for p in params {
        let mut notes = Vec::new();
        match p.sets.as_slice() {
            [] => {}
            [one] => notes.push(format!("set {one}")),
            many => notes.push(format!("sets {}", many.join(", "))),
        }
        if p.required {
            // A parameter of several sets documented as required is required in some of them;
            // the documentation does not say which.
            notes.push(if p.sets.len() > 1 {
                "required in some of them".to_string()
            } else {
                "required".to_string()
            });
        }
        match p.aliases.as_slice() {
            [] => {}
            [one] => notes.push(format!("alias {one}")),
            many => notes.push(format!("aliases {}", many.join(", "))),
        }
        if !p.values.is_empty() && p.kind.scalar != Scalar::Enum {
            notes.push(format!("values {}", p.values.join(", ")));
        }
        text.push_str(&format!("-{} <{}>", p.name, p.type_name));
        if !notes.is_empty() {
            text.push_str(&format!("  {}", notes.join("; ")));
        }
        text.push_str(&format!("\n    {}\n", p.kind.takes(&p.values)));
    }
    text.push_str(&format!("\n{credit}\n"));
    text
}

/// The cmdlet for machines: every field of its parameters, and where the catalog comes from.
fn as_json(catalog: &Catalog, cmdlet: &Cmdlet, params: &[&Parameter]) -> Value {
    let params: Vec<Value> = params
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "type": p.type_name,
                "kind": p.kind.scalar.name(),
                "many": p.kind.many.name(),
                "takes": p.kind.takes(&p.values),
                "required": p.required,
                "sets": p.sets,
                "aliases": p.aliases,
                "values": p.values,
            })
        })
        .collect();
    json!({
        "name": cmdlet.name,
        "sets": cmdlet.sets,
        "params": params,
        "source": source(catalog),
    })
}

/// Where the catalog comes from, for JSON.
fn source(catalog: &Catalog) -> Value {
    let (repository, commit, license) = catalog.origin();
    json!({ "repository": repository, "commit": commit, "license": license })
}

/// The line that credits the catalog's source, as its license asks; a catalog `file` that
/// names no source is named itself.
fn credit(catalog: &Catalog, file: Option<&Path>) -> String {
    let (repository, commit, license) = catalog.origin();
    if repository.is_empty() {
        return match file {
            Some(file) => format!("Cmdlet catalog: {}", file.display()),
            None => "Cmdlet catalog: built in".into(),
        };
    }
    let mut line = format!("Cmdlet reference: {repository}");
    if !commit.is_empty() {
        line.push_str(&format!(" (commit {})", commit.get(..12).unwrap_or(commit)));
    }
    // The built-in catalog's license says more than its name; the name is what is owed.
    let license = if license.starts_with("CC-BY-4.0") {
        "CC BY 4.0"
    } else {
        license
    };
    if !license.is_empty() {
        line.push_str(&format!(", {license}"));
    }
    line
}

/// `` `a` ``, `` `a` or `b` ``, `` `a`, `b` or `c` ``.
fn either<S: AsRef<str>>(names: &[S]) -> String {
    crate::diagnostic::quoted_list(names, "or")
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON always serializes")
}
