//! Filters that users of Ansible-style playbooks expect and minijinja does not ship:
//! regular expressions, JSON and base64 conversions, and list and set helpers.

use std::cell::RefCell;
use std::collections::HashMap;

use base64::Engine as _;
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};
use regex::Regex;

/// Registers every filter on `env`.
pub(crate) fn register(env: &mut Environment<'_>) {
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("regex_escape", regex_escape);
    env.add_filter("to_json", to_json);
    env.add_filter("from_json", from_json);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("flatten", flatten);
    env.add_filter("combine", combine);
    env.add_filter("difference", difference);
    env.add_filter("intersect", intersect);
    env.add_filter("union", union);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("ternary", ternary);
    env.add_filter("mandatory", mandatory);
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

thread_local! {
    // Templates run the same few patterns for every item; compiling once per thread keeps a
    // million-task expansion from compiling a million regexes.
    static REGEXES: RefCell<HashMap<(String, bool), Regex>> = RefCell::new(HashMap::new());
}

fn with_regex<T>(pattern: &str, ignorecase: bool, f: impl FnOnce(&Regex) -> T) -> Result<T, Error> {
    REGEXES.with(|cache| {
        let mut cache = cache.borrow_mut();
        let key = (pattern.to_owned(), ignorecase);
        if !cache.contains_key(&key) {
            let re = regex::RegexBuilder::new(pattern)
                .case_insensitive(ignorecase)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| invalid(format!("invalid regular expression `{pattern}`: {e}")))?;
            if cache.len() > 256 {
                cache.clear();
            }
            cache.insert(key.clone(), re);
        }
        Ok(f(&cache[&key]))
    })
}

fn ignorecase(kwargs: &Kwargs) -> Result<bool, Error> {
    let v: Option<bool> = kwargs.get("ignorecase")?;
    Ok(v.unwrap_or(false))
}

/// `regex_replace(pattern, replacement, ignorecase=false)`: replaces every match; `\1` and `$1`
/// name groups.
fn regex_replace(
    value: &str,
    pattern: &str,
    replacement: &str,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let ic = ignorecase(&kwargs)?;
    kwargs.assert_all_used()?;
    // Ansible writes groups as \1; the regex crate as ${1}.
    let replacement = BACKREF.with(|re| re.replace_all(replacement, "$${$1}").into_owned());
    with_regex(pattern, ic, |re| {
        re.replace_all(value, replacement.as_str()).into_owned()
    })
}

thread_local! {
    static BACKREF: Regex = Regex::new(r"\\(\d+)").expect("valid regex");
}

/// `regex_search(pattern, ignorecase=false)`: the first match, or none.
fn regex_search(value: &str, pattern: &str, kwargs: Kwargs) -> Result<Value, Error> {
    let ic = ignorecase(&kwargs)?;
    kwargs.assert_all_used()?;
    with_regex(pattern, ic, |re| {
        re.find(value)
            .map_or(Value::from(()), |m| Value::from(m.as_str()))
    })
}

/// `regex_findall(pattern, ignorecase=false)`: every match, as a list.
fn regex_findall(value: &str, pattern: &str, kwargs: Kwargs) -> Result<Value, Error> {
    let ic = ignorecase(&kwargs)?;
    kwargs.assert_all_used()?;
    with_regex(pattern, ic, |re| {
        re.find_iter(value)
            .map(|m| Value::from(m.as_str()))
            .collect::<Vec<_>>()
            .into()
    })
}

fn regex_escape(value: &str) -> String {
    regex::escape(value)
}

/// `to_json`: compact JSON, without the HTML escaping minijinja's `tojson` applies.
fn to_json(value: &Value) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| invalid(format!("cannot write as JSON: {e}")))
}

fn from_json(value: &str) -> Result<Value, Error> {
    let parsed: serde_json::Value =
        serde_json::from_str(value).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
    Ok(Value::from(minijinja::value::Serde(parsed)))
}

fn b64encode(value: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(value)
}

fn b64decode(value: &str) -> Result<String, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|e| invalid(format!("not valid base64: {e}")))?;
    String::from_utf8(bytes).map_err(|_| invalid("the decoded base64 is not UTF-8 text"))
}

/// `flatten(levels=none)`: flattens nested lists.
fn flatten(value: &Value, levels: Option<u32>) -> Result<Value, Error> {
    fn walk(value: &Value, depth: Option<u32>, out: &mut Vec<Value>) -> Result<(), Error> {
        for item in value.try_iter()? {
            if item.kind() == ValueKind::Seq && depth != Some(0) {
                walk(&item, depth.map(|d| d - 1), out)?;
            } else {
                out.push(item);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(value, levels, &mut out)?;
    Ok(Value::from(out))
}

fn map_entries(value: &Value) -> Result<Vec<(Value, Value)>, Error> {
    if value.kind() != ValueKind::Map {
        return Err(invalid(format!("expected a mapping, got {}", value.kind())));
    }
    value
        .try_iter()?
        .map(|k| Ok((k.clone(), value.get_item(&k)?)))
        .collect()
}

/// `combine(other, …)`: a mapping with the keys of each argument laid over the first.
fn combine(value: &Value, others: minijinja::value::Rest<Value>) -> Result<Value, Error> {
    let mut entries: indexmap::IndexMap<Value, Value> = indexmap::IndexMap::new();
    for map in std::iter::once(value).chain(others.iter()) {
        for (k, v) in map_entries(map)? {
            entries.insert(k, v);
        }
    }
    Ok(Value::from(entries))
}

fn as_list(value: &Value) -> Result<Vec<Value>, Error> {
    Ok(value.try_iter()?.collect())
}

/// `difference(other)`: items of the list that are not in `other`, in order, once each.
fn difference(value: &Value, other: &Value) -> Result<Value, Error> {
    let other = as_list(other)?;
    let mut out: Vec<Value> = Vec::new();
    for v in as_list(value)? {
        if !other.contains(&v) && !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(Value::from(out))
}

/// `intersect(other)`: items in both lists, in order, once each.
fn intersect(value: &Value, other: &Value) -> Result<Value, Error> {
    let other = as_list(other)?;
    let mut out: Vec<Value> = Vec::new();
    for v in as_list(value)? {
        if other.contains(&v) && !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(Value::from(out))
}

/// `union(other)`: items of either list, in order, once each.
fn union(value: &Value, other: &Value) -> Result<Value, Error> {
    let mut out: Vec<Value> = Vec::new();
    for v in as_list(value)?.into_iter().chain(as_list(other)?) {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(Value::from(out))
}

/// `dict2items`: `{a: 1}` becomes `[{key: a, value: 1}]`.
fn dict2items(value: &Value) -> Result<Value, Error> {
    Ok(Value::from(
        map_entries(value)?
            .into_iter()
            .map(|(k, v)| {
                let pair: indexmap::IndexMap<Value, Value> =
                    [(Value::from("key"), k), (Value::from("value"), v)].into();
                Value::from(pair)
            })
            .collect::<Vec<_>>(),
    ))
}

/// `items2dict`: the reverse of `dict2items`.
fn items2dict(value: &Value) -> Result<Value, Error> {
    let mut entries: indexmap::IndexMap<Value, Value> = indexmap::IndexMap::new();
    for item in value.try_iter()? {
        let key = item.get_attr("key")?;
        if key.is_undefined() {
            return Err(invalid("items2dict needs items with `key` and `value`"));
        }
        entries.insert(key, item.get_attr("value")?);
    }
    Ok(Value::from(entries))
}

/// `ternary(if_true, if_false)`.
fn ternary(value: &Value, if_true: Value, if_false: Value) -> Value {
    if value.is_true() { if_true } else { if_false }
}

/// `mandatory(message=none)`: fails the template when the value is undefined or none.
fn mandatory(value: &Value, message: Option<&str>) -> Result<Value, Error> {
    if value.is_undefined() || value.is_none() {
        return Err(invalid(
            message.unwrap_or("a mandatory value is missing").to_owned(),
        ));
    }
    Ok(value.clone())
}

#[cfg(test)]
mod tests {
    use minijinja::{Environment, context};

    fn render(template: &str) -> String {
        let mut env = Environment::new();
        super::register(&mut env);
        env.render_str(template, context! {}).unwrap()
    }

    #[test]
    fn regex_filters() {
        assert_eq!(
            render(r#"{{ "alex@contoso.com" | regex_replace("@.*$", "@fabrikam.com") }}"#),
            "alex@fabrikam.com"
        );
        assert_eq!(
            render(r#"{{ "ab12" | regex_replace("([a-z]+)(\\d+)", "\\2-\\1") }}"#),
            "12-ab"
        );
        assert_eq!(
            render(r#"{{ "ABC" | regex_search("b", ignorecase=true) }}"#),
            "B"
        );
        assert_eq!(render(r#"{{ "abc" | regex_search("z") is none }}"#), "True");
        assert_eq!(
            render(r#"{{ "a1b22" | regex_findall("\\d+") | join(",") }}"#),
            "1,22"
        );
    }

    #[test]
    fn conversions() {
        assert_eq!(render(r#"{{ {"a": "<b>"} | to_json }}"#), r#"{"a":"<b>"}"#);
        assert_eq!(render(r#"{{ ('{"n": [1, 2]}' | from_json).n[1] }}"#), "2");
        assert_eq!(render(r#"{{ "hello" | b64encode }}"#), "aGVsbG8=");
        assert_eq!(render(r#"{{ "aGVsbG8=" | b64decode }}"#), "hello");
    }

    #[test]
    fn lists_and_sets() {
        assert_eq!(render("{{ [1, [2, [3]]] | flatten | join(',') }}"), "1,2,3");
        assert_eq!(render("{{ [1, [2, [3]]] | flatten(1) | length }}"), "3");
        assert_eq!(render("{{ [1, 2, 3, 2] | difference([2]) }}"), "[1, 3]");
        assert_eq!(render("{{ [1, 2, 3] | intersect([3, 2, 9]) }}"), "[2, 3]");
        assert_eq!(render("{{ [1, 2] | union([2, 3]) }}"), "[1, 2, 3]");
        assert_eq!(
            render(r#"{{ ({"a": 1} | combine({"b": 2}, {"a": 3})) | to_json }}"#),
            r#"{"a":3,"b":2}"#
        );
        assert_eq!(
            render(r#"{{ ({"a": 1} | dict2items | items2dict) | to_json }}"#),
            r#"{"a":1}"#
        );
        assert_eq!(render(r#"{{ true | ternary("yes", "no") }}"#), "yes");
    }
}
