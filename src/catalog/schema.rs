//! The catalog in the playbook's JSON Schema, so that editors complete cmdlet names and, per
//! cmdlet, parameter names, and flag values of the wrong simple type.
//!
//! The schema must never flag what tenantry accepts: a step on a cmdlet the catalog does not
//! know, a parameter written in another case or by an alias, a template anywhere. So cmdlet
//! names are suggested rather than required, `params` stays open to any name, and each value
//! schema is at least as lenient as [`Kind::check`]; strings holding template syntax always pass.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{Catalog, Cmdlet, Kind, Many, Parameter, Scalar};

/// Template syntax anywhere in a string (`{{`, `{%`, `{#`), as `playbook::syntax` decides it.
const TEMPLATE: &str = r"\{[{%#]";

/// Where the shared value schemas live, by name, in `$defs`.
const PREFIX: &str = "Param";

/// Adds the catalog to the playbook schema `schema` (as schemars writes it from `PlaybookDoc`):
/// a step's `cmdlet` suggests every name the catalog has, and a step whose `cmdlet` is one of
/// them gets that cmdlet's parameters under `params`, each with the simple type of its values.
/// The output depends on the catalog alone, in its sorted order, so it is stable.
pub fn extend_playbook_schema(schema: &mut Value, catalog: &Catalog) {
    let cmdlets: Vec<_> = catalog
        .names()
        .iter()
        .filter_map(|n| catalog.cmdlet(n))
        .collect();
    let mut shared = BTreeMap::new();
    let mut per_cmdlet = Map::new();
    let mut conditions = Vec::with_capacity(cmdlets.len());
    for cmdlet in &cmdlets {
        per_cmdlet.insert(cmdlet.name.clone(), params_schema(cmdlet, &mut shared));
        conditions.push(json!({
            "if": {
                "properties": { "cmdlet": { "const": cmdlet.name } },
                "required": ["cmdlet"]
            },
            "then": {
                "properties": { "params": { "$ref": format!("#/$defs/{}", cmdlet.name) } }
            }
        }));
    }
    let (source, commit, license) = catalog.origin();
    if let (false, Some(root)) = (source.is_empty(), schema.as_object_mut()) {
        // The schema carries facts from the catalog's source, which asks to be credited.
        let license = if license.starts_with("CC-BY-4.0") {
            "CC BY 4.0"
        } else {
            license
        };
        root.insert(
            "$comment".into(),
            Value::String(format!(
                "Cmdlets and parameters from {source} (commit {commit}), {license}"
            )),
        );
    }
    let Some(defs) = schema.get_mut("$defs").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(step) = defs.get_mut("Step").and_then(Value::as_object_mut) {
        let properties = step.get_mut("properties").and_then(Value::as_object_mut);
        if let Some(properties) = properties {
            if let Some(cmdlet) = properties.get_mut("cmdlet").and_then(Value::as_object_mut) {
                // Each name a `const`, beside a plain string: editors complete every name and
                // still take the cmdlets the catalog does not know. (An `enum` would do the
                // same, but editors list all its 730 values whenever the cursor rests on it.)
                let mut names: Vec<Value> =
                    cmdlets.iter().map(|c| json!({ "const": c.name })).collect();
                names.push(json!({ "type": "string" }));
                cmdlet.remove("type");
                cmdlet.insert("anyOf".into(), Value::Array(names));
            }
            if let Some(params) = properties.get_mut("params").and_then(Value::as_object_mut) {
                // Any value, as before, without the generic value schema: editors would show
                // its words, rather than the parameter's own, on every parameter.
                params.remove("additionalProperties");
            }
        }
        // A step with `catalog: off` is sent as written: its parameters are not checked here
        // either.
        step.insert(
            "allOf".into(),
            json!([{
                "if": {
                    "properties": { "catalog": { "const": "off" } },
                    "required": ["catalog"]
                },
                "else": { "allOf": conditions }
            }]),
        );
    }
    defs.extend(shared);
    defs.extend(per_cmdlet);
}

/// The schema of a cmdlet's `params`: its parameters by documented name, in documentation
/// order. Other names stay allowed: tenantry matches names in any case and by alias.
fn params_schema(cmdlet: &Cmdlet, shared: &mut BTreeMap<String, Value>) -> Value {
    let properties: Map<String, Value> = cmdlet
        .params
        .iter()
        .map(|p| (p.name.clone(), param_schema(p, shared)))
        .collect();
    json!({ "type": "object", "properties": properties })
}

/// A parameter's value schema: a reference to a shared one, or inline for an enumeration.
fn param_schema(p: &Parameter, shared: &mut BTreeMap<String, Value>) -> Value {
    let Kind { scalar, many } = p.kind;
    if scalar == Scalar::Enum && !p.values.is_empty() {
        let one = enumeration(&p.values);
        // One value, or a list for a flags enumeration, as PowerShell binds it.
        return match many {
            Many::One => several(Many::List, one),
            _ => several(many, one),
        };
    }
    // An enumeration without values (a hand-written catalog) takes any value, as text does.
    let scalar = if scalar == Scalar::Enum {
        Scalar::Text
    } else {
        scalar
    };
    let one_name = format!("{PREFIX}{scalar:?}");
    shared.entry(one_name.clone()).or_insert_with(|| {
        let mut one = one_schema(scalar);
        describe(
            &mut one,
            Kind {
                scalar,
                many: Many::One,
            }
            .takes(&[]),
        );
        one
    });
    let one_ref = json!({ "$ref": format!("#/$defs/{one_name}") });
    if many == Many::One {
        return one_ref;
    }
    let name = format!("{PREFIX}{scalar:?}{many:?}");
    shared.entry(name.clone()).or_insert_with(|| {
        let mut schema = several(many, one_ref);
        describe(&mut schema, Kind { scalar, many }.takes(&[]));
        schema
    });
    json!({ "$ref": format!("#/$defs/{name}") })
}

/// Sets a schema's description, and the message editors show when its pattern refuses a
/// string (`patternErrorMessage`, which validators that do not know it ignore), in place of
/// the pattern itself.
fn describe(schema: &mut Value, takes: String) {
    if let Some(object) = schema.as_object_mut() {
        if object.contains_key("pattern") {
            object.insert(
                "patternErrorMessage".into(),
                Value::String(format!("Expected {takes}, or a template.")),
            );
        }
        object.insert(
            "description".into(),
            Value::String(format!("{takes}; or a template")),
        );
    }
}

/// Many values of schema `one`: a list of them, one alone (a list of one), or for a
/// multi-valued property `{Add: …, Remove: …}`; `null` goes through `one`.
fn several(many: Many, one: Value) -> Value {
    let list = json!({ "type": "array", "items": one });
    if many != Many::Changes {
        return json!({ "anyOf": [one, list] });
    }
    let either = json!({ "anyOf": [one, list] });
    json!({ "anyOf": [
        one,
        list,
        {
            "type": "object",
            "properties": { "Add": either, "Remove": either },
            // Add and Remove are read in any case.
            "propertyNames": { "pattern": format!("^(?:{}|{})$", any_case("Add"), any_case("Remove")) }
        }
    ] })
}

/// One value of `scalar`: its JSON types, and for strings a pattern that every text
/// [`Kind::check`] takes passes (a pattern applies to strings only, so one schema can take
/// both `30` and `"30"`). Where the check's rule cannot be written as a pattern without risk
/// (sizes, time spans, dates), the pattern is looser: an editor must never refuse what
/// tenantry takes. `null` is taken wherever the check takes it: it clears a property.
fn one_schema(scalar: Scalar) -> Value {
    let strings = |pattern: &str| format!("{TEMPLATE}|{pattern}");
    let boolean = strings(&format!(
        r"^\s*\$*(?:{}|{})\s*$",
        any_case("true"),
        any_case("false")
    ));
    match scalar {
        Scalar::Switch => json!({ "type": ["boolean", "integer", "string"], "pattern": boolean }),
        Scalar::Bool => {
            json!({ "type": ["boolean", "integer", "string", "null"], "pattern": boolean })
        }
        // Underscores: YAML 1.1 reads `1_000` as a number, YAML 1.2 editors as a string.
        Scalar::Int => json!({
            "type": ["integer", "string", "null"],
            "pattern": strings(r"^\s*[+-]?[0-9][0-9_]*\s*$")
        }),
        Scalar::Number => json!({
            "type": ["number", "string", "null"],
            "pattern": strings(r"^\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$")
        }),
        // A number, a size or a time span starts with a digit, a sign or a point.
        Scalar::Unlimited => json!({
            "type": ["integer", "string", "null"],
            "pattern": strings(&format!(r"^\s*(?:[-+.0-9]|{}\s*$)", any_case("unlimited")))
        }),
        // `50 GB`, `.5 MB`, or Exchange's own `50 GB (53,687,091,200 bytes)`.
        Scalar::Size => json!({
            "type": ["integer", "string", "null"],
            "minimum": 0,
            "pattern": strings(r"^\s*[.0-9]|\(")
        }),
        Scalar::TimeSpan => json!({
            "type": ["integer", "string", "null"],
            "minimum": 0,
            "pattern": strings(r"^\s*-?[0-9]")
        }),
        Scalar::DateTime => json!({ "type": ["string", "null"], "pattern": strings(r"^\s*[0-9]") }),
        Scalar::Smtp => json!({ "type": ["string", "null"], "pattern": strings("@") }),
        Scalar::Guid => json!({
            "type": ["string", "null"],
            "pattern": strings(
                r"^\s*\{*[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}*\s*$"
            )
        }),
        Scalar::Hashtable => json!({ "type": ["object", "string", "null"], "pattern": TEMPLATE }),
        Scalar::Bytes | Scalar::SecureString => json!({ "type": ["string", "null"] }),
        // The admin API cannot carry a credential: only a template (checked when it renders)
        // or `null` gets past the schema.
        Scalar::Credential => json!({ "type": ["string", "null"], "pattern": TEMPLATE }),
        Scalar::Enum | Scalar::Text => json!({ "type": ["string", "number", "boolean", "null"] }),
    }
}

/// An enumeration's value: the documented values, for editors to offer, or the same in any
/// case, several comma-separated (flags), or a template. JSON Schema has no case-insensitive
/// `enum`, and tenantry reads `audit` as `Audit`: an `enum` alone would flag values it takes,
/// so the values are also matched by a pattern that spells each letter in both cases.
/// Numbers and booleans pass, as the check compares their text.
fn enumeration(values: &[String]) -> Value {
    let alternatives = values
        .iter()
        .map(|v| any_case(v))
        .collect::<Vec<_>>()
        .join("|");
    json!({ "anyOf": [
        { "enum": values },
        {
            "type": ["string", "number", "boolean", "null"],
            // The values, comma-separated, or an enumeration's number.
            "pattern": format!(r"{TEMPLATE}|^\s*[-+]?\d+\s*$|^\s*(?:(?:{alternatives})\s*(?:,\s*|$))+$")
        }
    ] })
}

/// `text` as a regular expression that matches it in any ASCII case: `[Aa][Dd][Dd]`. Only the
/// characters ECMA-262 treats as syntax are escaped: editors compile patterns in Unicode mode,
/// which refuses needless escapes such as `\-`.
fn any_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 4);
    for c in text.chars() {
        if c.is_ascii_alphabetic() {
            out.push('[');
            out.push(c.to_ascii_uppercase());
            out.push(c.to_ascii_lowercase());
            out.push(']');
        } else {
            if r"^$\.*+?()[]{}|/".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests;
