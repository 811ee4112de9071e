//! Templates: the minijinja environment tenantry renders with (strict undefined, data
//! functions confined to the playbook's folder, Ansible-style filters) and the compiled form of
//! a playbook value, where a value that is exactly one `{{ expr }}` keeps the expression's type
//! and any other template renders to a string.

mod data;
mod filters;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, Expression, Template, UndefinedBehavior};

use crate::diagnostic::{Diagnostic, Location, SourceFile, did_you_mean};
use crate::playbook::{Node, NodeValue, Pos, is_template};

/// minijinja's built-in filters (with the features tenantry enables) and tenantry's own, for
/// suggestions when a filter name is misspelt.
const FILTER_NAMES: &[&str] = &[
    "abs",
    "attr",
    "b64decode",
    "b64encode",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "combine",
    "count",
    "d",
    "default",
    "dict2items",
    "dictsort",
    "difference",
    "e",
    "escape",
    "first",
    "flatten",
    "float",
    "format",
    "from_json",
    "groupby",
    "indent",
    "int",
    "intersect",
    "items",
    "items2dict",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "mandatory",
    "map",
    "max",
    "min",
    "pprint",
    "regex_escape",
    "regex_findall",
    "regex_replace",
    "regex_search",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "ternary",
    "title",
    "to_json",
    "tojson",
    "trim",
    "union",
    "unique",
    "upper",
    "urlencode",
    "zip",
];

/// The names every template can read.
pub(crate) const CONTEXT_NAMES: &[&str] = &["tenant", "vars", "steps", "item", "loop"];

/// Builds the environment templates compile and render in. `dir` is the playbook's folder,
/// the root data functions read from.
pub fn environment<'s>(dir: &Path) -> Environment<'s> {
    let mut env = Environment::new();
    // A misspelt variable must stop the plan, not quietly become an empty string in a cmdlet
    // parameter.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_debug(true);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    filters::register(&mut env);
    data::register(&mut env, &data::DataFiles::new(dir));
    env
}

/// The names of the environment's global functions (`csv`, `range`, …).
pub(crate) fn global_names(env: &Environment<'_>) -> Vec<String> {
    env.globals().map(|(name, _)| name.to_owned()).collect()
}

/// One compiled template string and where it was written.
pub(crate) struct Piece<'e, 's> {
    kind: PieceKind<'e, 's>,
    /// The text that was compiled: the inner expression of `{{ expr }}`, or the whole template.
    source: &'s str,
    /// The value as written in the playbook.
    written: &'s str,
    /// Where the YAML value holding it was written.
    pos: Pos,
}

enum PieceKind<'e, 's> {
    Expr(Expression<'e, 's>),
    Text(Template<'e, 's>),
}

impl fmt::Debug for Piece<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Piece")
            .field("source", &self.source)
            .field("pos", &self.pos)
            .finish()
    }
}

impl<'e, 's> Piece<'e, 's> {
    /// Names the template reads but does not define, with attribute chains
    /// (`steps.users.output`, `vars.retention`).
    pub(crate) fn references(&self) -> Vec<String> {
        let mut names: Vec<String> = match &self.kind {
            PieceKind::Expr(e) => e.undeclared_variables(true).into_iter().collect(),
            PieceKind::Text(t) => t.undeclared_variables(true).into_iter().collect(),
        };
        names.sort();
        names
    }

    /// The compiled text.
    pub(crate) fn source(&self) -> &'s str {
        self.source
    }

    /// Where the value holding the template was written.
    pub(crate) fn pos(&self) -> Pos {
        self.pos
    }

    fn eval(&self, scope: &Value) -> Result<Value, RenderError<'s>> {
        match &self.kind {
            // Strict undefined fails on attribute access and printing, but an expression that
            // simply is undefined (`vars.missing`) evaluates to undefined: fail it here, naming
            // the whole expression.
            PieceKind::Expr(e) => e
                .eval(scope)
                .map_err(|error| RenderError::new(error, self.source, self.pos, scope))
                .and_then(|v| {
                    if v.is_undefined() {
                        let mut err = RenderError::new(
                            Error::new(ErrorKind::UndefinedError, "undefined value"),
                            self.source,
                            self.pos,
                            scope,
                        );
                        let source = self.source;
                        let start = source.len() - source.trim_start().len();
                        err.whole = Some(start..source.trim_end().len());
                        err.hint = undefined_hint(self.source.trim(), scope);
                        return Err(err);
                    }
                    Ok(v)
                }),
            PieceKind::Text(t) => t
                .render(scope)
                .map(Value::from)
                .map_err(|error| RenderError::new(error, self.source, self.pos, scope)),
        }
    }
}

/// A playbook value compiled for rendering: literals are kept as JSON, templates compiled once.
#[derive(Debug)]
pub(crate) enum Compiled<'e, 's> {
    /// A value without templates.
    Literal(serde_json::Value),
    /// A template string.
    Template(Piece<'e, 's>),
    /// A list with at least one template inside.
    Seq(Vec<Compiled<'e, 's>>),
    /// A mapping with at least one template inside.
    Map(Vec<(String, Compiled<'e, 's>)>),
}

/// The longest template string tenantry compiles. minijinja's compiler recurses per operator,
/// so a pathological template of a few hundred kilobytes would exhaust the stack; no real
/// cmdlet parameter comes near this.
pub(crate) const MAX_TEMPLATE_CHARS: usize = 16 * 1024;

/// The inner text when `s` has the shape of exactly one `{{ expr }}` (a block scalar's final
/// line break allowed). Whether the inner text is one expression is decided by compiling it.
pub(crate) fn whole_expression(s: &str) -> Option<&str> {
    let s = s.strip_suffix('\n').unwrap_or(s);
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    Some(inner.strip_suffix('-').unwrap_or(inner))
}

impl<'e, 's> Compiled<'e, 's> {
    /// Compiles a node: strings holding `{{`, `{%` or `{#` become templates.
    pub(crate) fn compile(
        env: &'e Environment<'s>,
        node: &'s Node,
        file: &Arc<SourceFile>,
    ) -> Result<Self, Diagnostic> {
        Ok(match &node.value {
            NodeValue::String(s) if is_template(s) => {
                Compiled::Template(compile_piece(env, s, node.pos, file)?)
            }
            NodeValue::Seq(items) if contains_template(node) => Compiled::Seq(
                items
                    .iter()
                    .map(|n| Compiled::compile(env, n, file))
                    .collect::<Result<_, _>>()?,
            ),
            NodeValue::Map(map) if contains_template(node) => Compiled::Map(
                map.iter()
                    .map(|(k, n)| Ok((k.clone(), Compiled::compile(env, n, file)?)))
                    .collect::<Result<_, Diagnostic>>()?,
            ),
            _ => Compiled::Literal(node.to_json()),
        })
    }

    /// Compiles a condition: a boolean, a template, or a bare expression (`x == 'y'`).
    pub(crate) fn compile_condition(
        env: &'e Environment<'s>,
        node: &'s Node,
        file: &Arc<SourceFile>,
    ) -> Result<Self, Diagnostic> {
        match &node.value {
            NodeValue::String(s) if !is_template(s) => {
                let expr = env.compile_expression(s.as_str()).map_err(|e| {
                    RenderError::new(e, s, node.pos, &Value::UNDEFINED).diagnostic(file)
                })?;
                Ok(Compiled::Template(Piece {
                    kind: PieceKind::Expr(expr),
                    source: s,
                    written: s,
                    pos: node.pos,
                }))
            }
            NodeValue::String(s) if outside_braces_compares(s) => Err(Diagnostic::new(
                "this condition compares text outside `{{ }}`, so it is always true",
            )
            .at(file.at(node.pos.line, node.pos.column, s.chars().count() + 2))
            .help(format!(
                "`{}` renders to text such as `30 == 31`; put the comparison inside the braces, or write the condition bare without braces",
                s.trim()
            ))),
            _ => Compiled::compile(env, node, file),
        }
    }

    /// Every template piece inside, in written order.
    pub(crate) fn pieces(&self) -> Vec<&Piece<'e, 's>> {
        let mut out = Vec::new();
        self.collect_pieces(&mut out);
        out
    }

    fn collect_pieces<'a>(&'a self, out: &mut Vec<&'a Piece<'e, 's>>) {
        match self {
            Compiled::Literal(_) => {}
            Compiled::Template(p) => out.push(p),
            Compiled::Seq(items) => items.iter().for_each(|c| c.collect_pieces(out)),
            Compiled::Map(entries) => entries.iter().for_each(|(_, c)| c.collect_pieces(out)),
        }
    }

    /// Renders to a template value (lists and mappings stay structured).
    pub(crate) fn render_value(&self, scope: &Value) -> Result<Value, RenderError<'s>> {
        Ok(match self {
            Compiled::Literal(json) => Value::from(minijinja::value::Serde(json)),
            Compiled::Template(p) => p.eval(scope)?,
            _ => Value::from(minijinja::value::Serde(self.render(scope)?)),
        })
    }

    /// Renders to JSON, the form cmdlet parameters are sent in.
    pub(crate) fn render(&self, scope: &Value) -> Result<serde_json::Value, RenderError<'s>> {
        self.preview(scope, &|_| false)
    }

    /// Renders what can be rendered now and leaves the templates `later` picks as written:
    /// how a plan shows the parameters of a step that expands at run time.
    pub(crate) fn preview(
        &self,
        scope: &Value,
        later: &dyn Fn(&Piece<'e, 's>) -> bool,
    ) -> Result<serde_json::Value, RenderError<'s>> {
        Ok(match self {
            Compiled::Literal(json) => json.clone(),
            Compiled::Template(p) if later(p) => serde_json::Value::String(p.written.to_owned()),
            Compiled::Template(p) => {
                let value = p.eval(scope)?;
                to_json(&value).map_err(|error| RenderError::new(error, p.source, p.pos, scope))?
            }
            Compiled::Seq(items) => items
                .iter()
                .map(|c| c.preview(scope, later))
                .collect::<Result<Vec<_>, _>>()?
                .into(),
            Compiled::Map(entries) => entries
                .iter()
                .map(|(k, c)| Ok((k.clone(), c.preview(scope, later)?)))
                .collect::<Result<serde_json::Map<_, _>, _>>()?
                .into(),
        })
    }

    /// Renders a condition: templates that render to text are false when they read `false`,
    /// `no`, `0`, `none` or nothing (any case), as in Ansible.
    pub(crate) fn render_condition(&self, scope: &Value) -> Result<bool, RenderError<'s>> {
        Ok(match self {
            Compiled::Literal(json) => truthy_json(json),
            Compiled::Template(p) => {
                let v = p.eval(scope)?;
                match v.as_str() {
                    Some(text) => !matches!(
                        text.trim().to_ascii_lowercase().as_str(),
                        "" | "false" | "no" | "0" | "none"
                    ),
                    None => v.is_true(),
                }
            }
            other => truthy_json(&other.render(scope)?),
        })
    }
}

/// True when the text between a template's `{{ }}` blocks holds a comparison or a boolean
/// operator: `{{ x }} == 3` is the classic way to write a condition that is always true.
fn outside_braces_compares(s: &str) -> bool {
    let mut outside = String::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        outside.push_str(&rest[..open]);
        outside.push(' ');
        match rest[open..].find("}}") {
            Some(close) => rest = &rest[open + close + 2..],
            None => return false,
        }
    }
    outside.push_str(rest);
    let padded = format!(" {outside} ");
    ["==", "!=", "<", ">", " and ", " or ", " not ", " in "]
        .iter()
        .any(|op| padded.contains(op))
}

fn truthy_json(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => false,
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::Number(n) => n.as_f64() != Some(0.0),
        serde_json::Value::String(s) => !s.is_empty(),
        serde_json::Value::Array(a) => !a.is_empty(),
        serde_json::Value::Object(o) => !o.is_empty(),
    }
}

fn contains_template(node: &Node) -> bool {
    match &node.value {
        NodeValue::String(s) => is_template(s),
        NodeValue::Seq(items) => items.iter().any(contains_template),
        NodeValue::Map(map) => map.values().any(contains_template),
        _ => false,
    }
}

fn compile_piece<'e, 's>(
    env: &'e Environment<'s>,
    text: &'s str,
    pos: Pos,
    file: &Arc<SourceFile>,
) -> Result<Piece<'e, 's>, Diagnostic> {
    if text.chars().count() > MAX_TEMPLATE_CHARS {
        return Err(Diagnostic::new(format!(
            "this template is {} characters long; the limit is {MAX_TEMPLATE_CHARS}",
            text.chars().count()
        ))
        .at(file.at(pos.line, pos.column, 1))
        .help("move long text to a data file and read it with lines() or json()"));
    }
    // `{{ a }} {{ b }}` has the outer shape of one expression but is two; compiling the inner
    // text as an expression tells them apart, and keeps `{{ ['}}'] }}` typed.
    let whole = whole_expression(text)
        .and_then(|inner| env.compile_expression(inner).ok().map(|e| (e, inner)));
    let (kind, source) = match whole {
        Some((expr, inner)) => (Ok(PieceKind::Expr(expr)), inner),
        None => (env.template_from_str(text).map(PieceKind::Text), text),
    };
    match kind {
        Ok(kind) => Ok(Piece {
            kind,
            source,
            written: text,
            pos,
        }),
        Err(e) => Err(RenderError::new(e, source, pos, &Value::UNDEFINED).diagnostic(file)),
    }
}

/// A filter or test name a template uses, found by reading its text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Callee {
    /// `value | name`
    Filter(String),
    /// `value is name`
    Test(String),
}

/// The filters and tests a piece names. minijinja resolves them only when rendering, so a
/// misspelt filter in a step that expands at run time would otherwise surface mid-run.
pub(crate) fn callees(piece: &Piece<'_, '_>) -> Vec<Callee> {
    static FILTER: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\|\s*([A-Za-z_][A-Za-z0-9_]*)").expect("valid regex")
    });
    static TEST: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\bis\s+(?:not\s+)?([A-Za-z_][A-Za-z0-9_]*)").expect("valid regex")
    });
    let code = match piece.kind {
        PieceKind::Expr(_) => strip_strings(piece.source),
        PieceKind::Text(_) => code_regions(piece.source)
            .iter()
            .map(|r| strip_strings(r))
            .collect::<Vec<_>>()
            .join(" "),
    };
    let mut out: Vec<Callee> = FILTER
        .captures_iter(&code)
        .map(|c| Callee::Filter(c[1].to_owned()))
        .chain(
            TEST.captures_iter(&code)
                .map(|c| Callee::Test(c[1].to_owned())),
        )
        .collect();
    out.dedup();
    out
}

/// The text inside `{{ }}` and `{% %}` blocks.
fn code_regions(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{']) {
        let after = &rest[open + 1..];
        let close = match after.chars().next() {
            Some('{') => "}}",
            Some('%') => "%}",
            _ => {
                rest = after;
                continue;
            }
        };
        match after[1..].find(close) {
            Some(end) => {
                out.push(&after[1..1 + end]);
                rest = &after[1 + end + 2..];
            }
            None => break,
        }
    }
    out
}

/// The text with the contents of string literals removed, so `'a|b'` names no filter.
fn strip_strings(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in code.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                    out.push(c);
                }
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

/// Whether `env` knows the filter or test, asked by rendering a probe that uses it.
pub(crate) fn is_known(env: &Environment<'_>, callee: &Callee) -> bool {
    let (probe, unknown) = match callee {
        Callee::Filter(name) => (format!("{{{{ none | {name} }}}}"), ErrorKind::UnknownFilter),
        Callee::Test(name) => (format!("{{{{ none is {name} }}}}"), ErrorKind::UnknownTest),
    };
    match env.render_str(&probe, ()) {
        Ok(_) => true,
        Err(e) => e.kind() != unknown,
    }
}

/// The filters `env` knows among the names tenantry suggests from.
pub(crate) fn known_filters(env: &Environment<'_>) -> Vec<&'static str> {
    FILTER_NAMES
        .iter()
        .copied()
        .filter(|f| is_known(env, &Callee::Filter((*f).to_owned())))
        .collect()
}

/// A template value as JSON. Undefined cannot reach here under strict undefined.
pub(crate) fn to_json(value: &Value) -> Result<serde_json::Value, Error> {
    match value.kind() {
        ValueKind::Undefined => {
            return Err(Error::new(
                ErrorKind::UndefinedError,
                "the value is undefined",
            ));
        }
        // Functions and other opaque objects would serialize as their Rust type name.
        ValueKind::Plain | ValueKind::Invalid => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "this is a function, not a value: call it, e.g. csv('users.csv')",
            ));
        }
        _ => {}
    }
    serde_json::to_value(value).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("the value cannot be sent as a parameter: {e}"),
        )
    })
}

/// A template failure with what is needed to point at it in the playbook.
#[derive(Debug)]
pub(crate) struct RenderError<'s> {
    error: Error,
    source: &'s str,
    pos: Pos,
    hint: Option<String>,
    /// The failing text when the error carries no span of its own (a whole expression that
    /// is undefined).
    whole: Option<std::ops::Range<usize>>,
}

impl<'s> RenderError<'s> {
    fn new(error: Error, source: &'s str, pos: Pos, scope: &Value) -> Self {
        let hint = if error.kind() == ErrorKind::UndefinedError {
            snippet(&error, source).and_then(|s| undefined_hint(s, scope))
        } else {
            None
        };
        Self {
            error,
            source,
            pos,
            hint,
            whole: None,
        }
    }

    /// The failing text. An attribute error's span can start at the dot (`.b.c` of
    /// `vars.a.b.c`); widen it to the whole path.
    fn snippet(&self) -> Option<&'s str> {
        self.snippet_range().and_then(|r| self.source.get(r))
    }

    /// Where [`Self::snippet`] is in the template's source.
    fn snippet_range(&self) -> Option<std::ops::Range<usize>> {
        let Some(range) = self
            .error
            .range()
            .filter(|r| self.source.get(r.clone()).is_some())
        else {
            return self.whole.clone();
        };
        if !self.source[range.start..].starts_with('.') {
            return Some(range);
        }
        let start = self.source[..range.start]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == '.')
            .last()
            .map_or(range.start, |(i, _)| i);
        Some(start..range.end)
    }

    /// What went wrong, without location.
    pub(crate) fn message(&self) -> String {
        match (self.error.kind(), self.snippet()) {
            (ErrorKind::UndefinedError, Some(s)) => format!("`{s}` is undefined"),
            (ErrorKind::SyntaxError, _) => format!(
                "template syntax error: {}",
                self.error.detail().unwrap_or("invalid syntax")
            ),
            (ErrorKind::UnknownFilter, _) => {
                let name = self
                    .error
                    .detail()
                    .and_then(|d| d.strip_prefix("filter "))
                    .and_then(|d| d.strip_suffix(" is unknown"))
                    .unwrap_or("?");
                format!(
                    "unknown filter `{name}`{}",
                    crate::diagnostic::suggest(name, FILTER_NAMES.iter().copied())
                )
            }
            (kind, _) => match self.error.detail() {
                Some(detail) => detail.to_owned(),
                None => kind.to_string(),
            },
        }
    }

    /// A located diagnostic in `file`, the file the template was written in.
    pub(crate) fn diagnostic(&self, file: &Arc<SourceFile>) -> Diagnostic {
        let mut d = Diagnostic::new(self.message()).at(self.location(file));
        if let Some(h) = &self.hint {
            d = d.help(h.clone());
        }
        d
    }

    /// Finds the failing part of the template in the file: the template's text is in the
    /// YAML scalar at `pos`, possibly quoted or folded, so search for it from there.
    fn location(&self, file: &Arc<SourceFile>) -> Location {
        // The text as written is never shorter than the template (quotes, escapes and
        // indentation only add), so the failing part is at least this far into the file.
        let start = self.pos.offset_in(file) + self.snippet_range().map_or(0, |r| r.start);
        let window = self.source.len() * 2 + 256;
        if let Some(found) = self
            .snippet()
            .filter(|s| !s.trim().is_empty())
            .and_then(|s| file.find_near(start, window, s))
        {
            return found;
        }
        // No span: fall back to the line within the template, when minijinja gave one.
        let line = self.pos.line + self.error.line().map_or(0, |l| l.saturating_sub(1));
        if line != self.pos.line {
            let text = file.line_text(line);
            let indent = text.len() - text.trim_start().len();
            return file.at(line, indent + 1, text.trim().chars().count());
        }
        let width = file
            .line_text(self.pos.line)
            .chars()
            .skip(self.pos.column.saturating_sub(1))
            .count();
        file.at(self.pos.line, self.pos.column, width)
    }
}

impl fmt::Display for RenderError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

fn snippet<'a>(error: &Error, source: &'a str) -> Option<&'a str> {
    error.range().and_then(|r| source.get(r))
}

/// For `vars.retentoin`: which part is missing, and what exists there instead.
fn undefined_hint(snippet: &str, scope: &Value) -> Option<String> {
    let path: Vec<&str> = snippet.split('.').map(str::trim).collect();
    if path
        .iter()
        .any(|p| p.is_empty() || !p.chars().all(|c| c.is_alphanumeric() || c == '_'))
    {
        return None;
    }
    let mut current = scope.clone();
    for (i, part) in path.iter().enumerate() {
        let next = current.get_attr(part).ok().filter(|v| !v.is_undefined());
        match next {
            Some(v) => current = v,
            None => {
                let keys: Vec<String> = match current.try_iter() {
                    Ok(iter) if current.kind() == ValueKind::Map => {
                        iter.filter_map(|k| k.as_str().map(str::to_owned)).collect()
                    }
                    _ => return None,
                };
                let parent = path[..i].join(".");
                let place = if parent.is_empty() {
                    "the template context".to_owned()
                } else {
                    format!("`{parent}`")
                };
                if keys.is_empty() {
                    return Some(format!("{place} is empty here"));
                }
                let mut hint = match did_you_mean(part, keys.iter().map(String::as_str)) {
                    Some(best) => format!(
                        "did you mean `{}`? ",
                        if parent.is_empty() {
                            best.to_owned()
                        } else {
                            format!("{parent}.{best}")
                        }
                    ),
                    None => String::new(),
                };
                let shown: Vec<&str> = keys.iter().take(12).map(String::as_str).collect();
                hint.push_str(&format!(
                    "{place} has: {}{}",
                    shown.join(", "),
                    if keys.len() > shown.len() {
                        ", …"
                    } else {
                        ""
                    }
                ));
                return Some(hint);
            }
        }
    }
    None
}

/// What a template sees while one task is expanded: `tenant`, `vars`, `steps`, and inside
/// `for_each`, `item` and `loop`.
#[derive(Debug)]
pub(crate) struct Scope {
    /// The per-tenant part, shared by every task of the tenant.
    pub(crate) base: Arc<TenantScope>,
    /// The current item of `for_each`.
    pub(crate) item: Option<Value>,
    /// `loop.index`, `loop.index0`, `loop.first`, `loop.last`, `loop.length`.
    pub(crate) loop_info: Option<Value>,
}

/// The parts of a `Scope` that are the same for every task of a tenant.
#[derive(Debug)]
pub struct TenantScope {
    /// `tenant`: name, organization, cloud, tags, vars.
    pub tenant: Value,
    /// `vars`: playbook vars < tenant vars < `--var`.
    pub vars: Value,
    /// `steps`: `steps.ID.output` of steps already run in this tenant.
    pub steps: Value,
}

impl Scope {
    /// A scope without an item.
    pub(crate) fn tenant(base: &Arc<TenantScope>) -> Value {
        Value::from_object(Scope {
            base: Arc::clone(base),
            item: None,
            loop_info: None,
        })
    }

    /// A scope for item `index` of `length`.
    pub(crate) fn item(base: &Arc<TenantScope>, item: Value, index: usize, length: usize) -> Value {
        let loop_info: indexmap::IndexMap<Value, Value> = [
            ("index", Value::from(index + 1)),
            ("index0", Value::from(index)),
            ("first", Value::from(index == 0)),
            ("last", Value::from(index + 1 == length)),
            ("length", Value::from(length)),
        ]
        .into_iter()
        .map(|(k, v)| (Value::from(k), v))
        .collect();
        Value::from_object(Scope {
            base: Arc::clone(base),
            item: Some(item),
            loop_info: Some(Value::from(loop_info)),
        })
    }
}

impl Object for Scope {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "tenant" => Some(self.base.tenant.clone()),
            "vars" => Some(self.base.vars.clone()),
            "steps" => Some(self.base.steps.clone()),
            "item" => self.item.clone(),
            "loop" => self.loop_info.clone(),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        if self.item.is_some() {
            Enumerator::Str(&["tenant", "vars", "steps", "item", "loop"])
        } else {
            Enumerator::Str(&["tenant", "vars", "steps"])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::NodeValue;

    fn node(s: &str) -> Node {
        Node::synthetic(NodeValue::String(s.to_owned()))
    }

    fn scope() -> Value {
        let base = Arc::new(TenantScope {
            tenant: Value::from_serialize_json(serde_json::json!({"name": "contoso"})),
            vars: Value::from_serialize_json(serde_json::json!({"days": 30, "names": ["a", "b"]})),
            steps: Value::from_serialize_json(serde_json::json!({})),
        });
        Scope::tenant(&base)
    }

    trait FromJson {
        fn from_serialize_json(v: serde_json::Value) -> Value;
    }
    impl FromJson for Value {
        fn from_serialize_json(v: serde_json::Value) -> Value {
            Value::from(minijinja::value::Serde(v))
        }
    }

    #[test]
    fn whole_expressions_keep_their_type() {
        let env = environment(Path::new("."));
        let file = SourceFile::new("t.yaml", String::new());
        let cases = [
            ("{{ vars.days }}", serde_json::json!(30)),
            ("{{ vars.names }}", serde_json::json!(["a", "b"])),
            ("{{- vars.days > 7 -}}", serde_json::json!(true)),
            (" {{ vars.days }} ", serde_json::json!(" 30 ")),
            ("{{ ['}}', vars.days] }}", serde_json::json!(["}}", 30])),
            ("{{ vars.days }}\n", serde_json::json!(30)),
            ("{{ vars.days }} days", serde_json::json!("30 days")),
            ("{{ vars.days }}{{ vars.days }}", serde_json::json!("3030")),
            ("{% if true %}x{% endif %}", serde_json::json!("x")),
        ];
        for (text, expected) in cases {
            let n = node(text);
            let c = Compiled::compile(&env, &n, &file).unwrap();
            assert_eq!(c.render(&scope()).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn undefined_names_are_errors_with_hints() {
        let env = environment(Path::new("."));
        let file = SourceFile::new("t.yaml", String::new());
        let n = node("{{ vars.dayz }}");
        let c = Compiled::compile(&env, &n, &file).unwrap();
        let err = c.render(&scope()).unwrap_err();
        assert_eq!(err.message(), "`vars.dayz` is undefined");
        assert_eq!(
            err.hint.as_deref(),
            Some("did you mean `vars.days`? `vars` has: days, names")
        );
    }

    #[test]
    fn comparisons_outside_braces_are_refused() {
        let env = environment(Path::new("."));
        let file = SourceFile::new("t.yaml", String::new());
        for text in [
            "{{ vars.days }} == 31",
            "{{ a }} and {{ b }}",
            "{{ x }} != 'y'",
        ] {
            let n = node(text);
            let err = Compiled::compile_condition(&env, &n, &file).unwrap_err();
            assert!(
                err.message.contains("always true"),
                "{text}: {}",
                err.message
            );
        }
        let n = node("Dept: {{ vars.days }}");
        assert!(Compiled::compile_condition(&env, &n, &file).is_ok());
    }

    #[test]
    fn conditions_follow_ansible_truthiness() {
        let env = environment(Path::new("."));
        let file = SourceFile::new("t.yaml", String::new());
        for (text, expected) in [
            ("vars.days > 7", true),
            ("{{ vars.days < 7 }}", false),
            ("{{ 'False' }}", false), // a string reading false is false, whatever made it
            ("{{ 'no' }}", false),
            ("{{ vars.names }}", true),
            ("x{{ '' }}", true),
            ("{% if false %}yes{% endif %}", false),
        ] {
            let n = node(text);
            let c = Compiled::compile_condition(&env, &n, &file).unwrap();
            assert_eq!(c.render_condition(&scope()).unwrap(), expected, "{text}");
        }
    }
}
