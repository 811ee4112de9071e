//! The OPATH language of `-Filter`, as Exchange Online accepts it.
//!
//! ```text
//! filter     := '{' expr '}' | expr
//! expr       := unary (('-and' | '-or') unary)*      -- equal precedence, left to right,
//!                                                       as in PowerShell
//! unary      := ('-not' | '!') unary | '(' expr ')' | comparison
//! comparison := Property op value
//! op         := -eq -ne -like -notlike -gt -lt -ge -le   (any case)
//! value      := 'single' | "double" (a doubled quote escapes it) | $true | $false | $null
//!             | a bare word or number
//! ```
//!
//! Property names are case-insensitive and bound when the filter is compiled, so an unknown
//! property is reported before anything runs. String comparisons ignore case; `-like` takes `*`
//! wildcards; a multi-valued property matches when any of its values does. Values are converted
//! to the property's type (boolean, number, TimeSpan, size, date) when compiled, so
//! `RetainDeletedItemsFor -eq '30'` and `-eq '30.00:00:00'` mean the same.

use serde_json::Value;

use crate::values::{Quantity, like, parse_datetime, parse_size, parse_timespan, proxy_address};

/// How a property's values compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Strings, compared without regard to case.
    Text,
    /// Booleans (`$true`, `'True'`, `1`).
    Bool,
    /// Numbers; `Unlimited` is larger than any.
    Number,
    /// TimeSpans; `Unlimited` is longer than any.
    Duration,
    /// Sizes; `Unlimited` is larger than any.
    Size,
    /// Dates.
    Date,
    /// Several strings; matches when any does.
    Texts,
    /// Proxy addresses; a value without a prefix compares with the address part.
    Proxies,
}

/// Why a filter was refused; positions count characters from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FilterError {
    /// Not valid OPATH.
    Syntax {
        /// Where the parser gave up.
        position: usize,
    },
    /// A property that cannot be filtered on here.
    UnknownProperty {
        /// The name as written.
        name: String,
        /// Where it starts.
        position: usize,
    },
    /// A value that does not convert to the property's type.
    BadValue {
        /// The value as written.
        value: String,
        /// The .NET type it should have converted to.
        type_name: &'static str,
        /// Where it starts.
        position: usize,
    },
}

impl FilterError {
    /// The text Exchange puts after `Exception setting "Filter": `, for the filter `text`;
    /// `valid` lists the filterable properties.
    pub(crate) fn message(&self, text: &str, valid: &[&str]) -> String {
        match self {
            FilterError::Syntax { position } => format!(
                "Invalid filter syntax. For a description of the filter parameter syntax see the command help.\n\"{text}\" at position {position}."
            ),
            FilterError::UnknownProperty { name, position } => format!(
                "\"{name}\" is not a recognized filterable property. Valid property names are: {}.\n\"{text}\" at position {position}.",
                valid.join(", ")
            ),
            FilterError::BadValue {
                value,
                type_name,
                position,
            } => format!(
                "The value \"{value}\" could not be converted to type {type_name}.\n\"{text}\" at position {position}."
            ),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Like,
    NotLike,
    Gt,
    Lt,
    Ge,
    Le,
}

#[derive(Clone, Debug, PartialEq)]
enum Lit {
    Null,
    /// Lowercase text (or a lowercase `-like` pattern).
    Text(String),
    Bool(bool),
    Num(f64),
    Ticks(i64),
    Bytes(u64),
    Secs(i64),
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Cmp {
        prop: usize,
        kind: Kind,
        op: Op,
        lit: Lit,
    },
}

/// A compiled `-Filter`: properties bound, values converted.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Filter {
    root: Node,
}

impl Filter {
    /// Whether an object matches; `value_of` gives the value of a property id that the resolver
    /// passed to [`compile`] returned.
    pub(crate) fn matches(&self, value_of: &dyn Fn(usize) -> Value) -> bool {
        eval(&self.root, value_of)
    }
}

/// Parses `text` and binds its properties with `resolve`, which maps a name to a property id and
/// how it compares (or `None` when the name is not filterable).
pub(crate) fn compile(
    text: &str,
    resolve: &dyn Fn(&str) -> Option<(usize, Kind)>,
) -> Result<Filter, FilterError> {
    let tokens = tokenize(text)?;
    let end = text.chars().count() + 1;
    let body = match tokens.first() {
        Some(Token {
            tok: Tok::LBrace, ..
        }) => match tokens.last() {
            Some(Token {
                tok: Tok::RBrace, ..
            }) if tokens.len() >= 2 => &tokens[1..tokens.len() - 1],
            _ => return Err(FilterError::Syntax { position: end }),
        },
        _ => &tokens[..],
    };
    let mut parser = Parser {
        tokens: body,
        next: 0,
        end,
        depth: 0,
        connectors: 0,
        resolve,
    };
    let root = parser.expr()?;
    if let Some(extra) = parser.peek() {
        return Err(FilterError::Syntax {
            position: extra.pos,
        });
    }
    Ok(Filter { root })
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBrace,
    RBrace,
    Bang,
    /// `-word`, lowercase, without the dash.
    Op(String),
    /// A quoted string, unescaped.
    Str(String),
    /// A bare word or number.
    Word(String),
    /// `$word`, without the dollar.
    Var(String),
}

#[derive(Clone, Debug, PartialEq)]
struct Token {
    tok: Tok,
    /// 1-based character position.
    pos: usize,
}

const SINGLE_QUOTES: &[char] = &['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];
const DOUBLE_QUOTES: &[char] = &['"', '\u{201C}', '\u{201D}', '\u{201E}'];

fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let simple = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '{' => Some(Tok::LBrace),
            '}' => Some(Tok::RBrace),
            '!' => Some(Tok::Bang),
            _ => None,
        };
        if let Some(tok) = simple {
            tokens.push(Token { tok, pos });
            i += 1;
            continue;
        }
        let quotes = if SINGLE_QUOTES.contains(&c) {
            Some(SINGLE_QUOTES)
        } else if DOUBLE_QUOTES.contains(&c) {
            Some(DOUBLE_QUOTES)
        } else {
            None
        };
        if let Some(quotes) = quotes {
            let (s, j) = quoted(&chars, i, quotes)?;
            tokens.push(Token {
                tok: Tok::Str(s),
                pos,
            });
            i = j;
            continue;
        }
        if c == '-' && chars.get(i + 1).is_some_and(|n| n.is_alphabetic()) {
            let mut j = i + 1;
            while chars.get(j).is_some_and(|n| n.is_alphanumeric()) {
                j += 1;
            }
            let word: String = chars[i + 1..j].iter().collect();
            tokens.push(Token {
                tok: Tok::Op(word.to_lowercase()),
                pos,
            });
            i = j;
            continue;
        }
        if c == '$' {
            let mut j = i + 1;
            while chars
                .get(j)
                .is_some_and(|n| n.is_alphanumeric() || matches!(n, '_' | ':' | '.'))
            {
                j += 1;
            }
            let word: String = chars[i + 1..j].iter().collect();
            tokens.push(Token {
                tok: Tok::Var(word),
                pos,
            });
            i = j;
            continue;
        }
        let j = bare_word_end(&chars, i);
        let word: String = chars[i..j].iter().collect();
        tokens.push(Token {
            tok: Tok::Word(word),
            pos,
        });
        i = j;
    }
    Ok(tokens)
}

/// The unescaped text of the string literal opening at `start` (a doubled quote stands for
/// itself), and the index after its closing quote.
fn quoted(chars: &[char], start: usize, quotes: &[char]) -> Result<(String, usize), FilterError> {
    let mut s = String::new();
    let mut j = start + 1;
    loop {
        match chars.get(j) {
            None => {
                return Err(FilterError::Syntax {
                    position: start + 1,
                });
            }
            Some(q) if quotes.contains(q) => {
                if chars.get(j + 1).is_some_and(|n| quotes.contains(n)) {
                    s.push(*q);
                    j += 2;
                } else {
                    j += 1;
                    break;
                }
            }
            Some(other) => {
                s.push(*other);
                j += 1;
            }
        }
    }
    Ok((s, j))
}

/// The index after the bare word starting at `start`: it ends at white space, a parenthesis, a
/// brace or a quote.
fn bare_word_end(chars: &[char], start: usize) -> usize {
    let mut j = start;
    while chars.get(j).is_some_and(|n| {
        !n.is_whitespace()
            && !matches!(n, '(' | ')' | '{' | '}')
            && !SINGLE_QUOTES.contains(n)
            && !DOUBLE_QUOTES.contains(n)
    }) {
        j += 1;
    }
    j
}

// ---------------------------------------------------------------------------------------------
// Parser

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 100;
/// `-and`/`-or` connectors allowed in one filter: evaluating and dropping the tree recurse once
/// per connector, so a chain of thousands would overflow the stack.
const MAX_CONNECTORS: usize = 500;

struct Parser<'a> {
    tokens: &'a [Token],
    next: usize,
    /// The position just past the text, for errors at its end.
    end: usize,
    depth: usize,
    connectors: usize,
    resolve: &'a dyn Fn(&str) -> Option<(usize, Kind)>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn take(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.next).cloned();
        self.next += 1;
        t
    }

    fn error_here(&self) -> FilterError {
        FilterError::Syntax {
            position: self.peek().map_or(self.end, |t| t.pos),
        }
    }

    fn expr(&mut self) -> Result<Node, FilterError> {
        let mut left = self.unary()?;
        loop {
            let and = match self.peek().map(|t| &t.tok) {
                Some(Tok::Op(op)) if op == "and" => true,
                Some(Tok::Op(op)) if op == "or" => false,
                _ => return Ok(left),
            };
            self.connectors += 1;
            if self.connectors > MAX_CONNECTORS {
                return Err(self.error_here());
            }
            self.next += 1;
            let right = self.unary()?;
            left = if and {
                Node::And(Box::new(left), Box::new(right))
            } else {
                Node::Or(Box::new(left), Box::new(right))
            };
        }
    }

    fn unary(&mut self) -> Result<Node, FilterError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error_here());
        }
        self.depth += 1;
        let node = self.unary_inner();
        self.depth -= 1;
        node
    }

    fn unary_inner(&mut self) -> Result<Node, FilterError> {
        match self.peek().map(|t| &t.tok) {
            Some(Tok::Bang) => {
                self.next += 1;
                Ok(Node::Not(Box::new(self.unary()?)))
            }
            Some(Tok::Op(op)) if op == "not" => {
                self.next += 1;
                Ok(Node::Not(Box::new(self.unary()?)))
            }
            Some(Tok::LParen) => {
                self.next += 1;
                let inner = self.expr()?;
                match self.peek().map(|t| &t.tok) {
                    Some(Tok::RParen) => {
                        self.next += 1;
                        Ok(inner)
                    }
                    _ => Err(self.error_here()),
                }
            }
            Some(Tok::Word(_)) => self.comparison(),
            _ => Err(self.error_here()),
        }
    }

    fn comparison(&mut self) -> Result<Node, FilterError> {
        let Some(Token {
            tok: Tok::Word(name),
            pos: name_pos,
        }) = self.take()
        else {
            return Err(self.error_here());
        };
        let op = match self.peek().map(|t| &t.tok) {
            Some(Tok::Op(op)) => match op.as_str() {
                "eq" => Op::Eq,
                "ne" => Op::Ne,
                "like" => Op::Like,
                "notlike" => Op::NotLike,
                "gt" => Op::Gt,
                "lt" => Op::Lt,
                "ge" => Op::Ge,
                "le" => Op::Le,
                _ => return Err(self.error_here()),
            },
            _ => return Err(self.error_here()),
        };
        self.next += 1;
        let value_pos = self.peek().map_or(self.end, |t| t.pos);
        let raw = match self.take().map(|t| t.tok) {
            Some(Tok::Str(s) | Tok::Word(s)) => Some(s),
            Some(Tok::Var(v)) => match v.to_lowercase().as_str() {
                "true" => Some("True".to_string()),
                "false" => Some("False".to_string()),
                "null" => None,
                _ => {
                    return Err(FilterError::Syntax {
                        position: value_pos,
                    });
                }
            },
            _ => {
                return Err(FilterError::Syntax {
                    position: value_pos,
                });
            }
        };
        let Some((prop, kind)) = (self.resolve)(&name) else {
            return Err(FilterError::UnknownProperty {
                name,
                position: name_pos,
            });
        };
        let lit = literal(kind, op, raw, value_pos)?;
        Ok(Node::Cmp {
            prop,
            kind,
            op,
            lit,
        })
    }
}

/// Converts a written value to what `kind` compares against.
fn literal(kind: Kind, op: Op, raw: Option<String>, position: usize) -> Result<Lit, FilterError> {
    let Some(raw) = raw else {
        return Ok(Lit::Null);
    };
    if matches!(op, Op::Like | Op::NotLike) {
        return Ok(Lit::Text(raw.to_lowercase()));
    }
    let bad = |type_name: &'static str| FilterError::BadValue {
        value: raw.clone(),
        type_name,
        position,
    };
    let trimmed = raw.trim();
    let unlimited = trimmed.eq_ignore_ascii_case("unlimited");
    Ok(match kind {
        Kind::Text | Kind::Texts | Kind::Proxies => Lit::Text(raw.to_lowercase()),
        Kind::Bool => Lit::Bool(parse_bool(trimmed).ok_or_else(|| bad("System.Boolean"))?),
        Kind::Number if unlimited => Lit::Num(f64::INFINITY),
        Kind::Number => Lit::Num(
            trimmed
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| bad("System.Int32"))?,
        ),
        Kind::Duration if unlimited => Lit::Ticks(i64::MAX),
        Kind::Duration => Lit::Ticks(
            parse_timespan(trimmed)
                .ok_or_else(|| bad("Microsoft.Exchange.Data.EnhancedTimeSpan"))?,
        ),
        Kind::Size => match parse_size(trimmed) {
            Some(Quantity::Bytes(b)) => Lit::Bytes(b),
            Some(Quantity::Unlimited) => Lit::Bytes(u64::MAX),
            None => return Err(bad("Microsoft.Exchange.Data.ByteQuantifiedSize")),
        },
        Kind::Date => Lit::Secs(parse_datetime(trimmed).ok_or_else(|| bad("System.DateTime"))?),
    })
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "$true" | "1" => Some(true),
        "false" | "$false" | "0" => Some(false),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

fn eval(node: &Node, value_of: &dyn Fn(usize) -> Value) -> bool {
    match node {
        Node::And(a, b) => eval(a, value_of) && eval(b, value_of),
        Node::Or(a, b) => eval(a, value_of) || eval(b, value_of),
        Node::Not(a) => !eval(a, value_of),
        Node::Cmp {
            prop,
            kind,
            op,
            lit,
        } => compare(*kind, *op, lit, &value_of(*prop)),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The single values of a property value (the items of an array).
fn items(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_lowercase(),
        Value::Bool(true) => "true".into(),
        Value::Bool(false) => "false".into(),
        Value::Null => String::new(),
        other => other.to_string().to_lowercase(),
    }
}

fn compare(kind: Kind, op: Op, lit: &Lit, v: &Value) -> bool {
    if *lit == Lit::Null {
        let empty = is_empty(v);
        return match op {
            Op::Eq | Op::Like => empty,
            Op::Ne | Op::NotLike => !empty,
            _ => false,
        };
    }
    match op {
        Op::Like => like_any(lit, v),
        Op::NotLike => !like_any(lit, v),
        Op::Eq => items(v).into_iter().any(|i| equal(kind, lit, i)),
        Op::Ne => !items(v).into_iter().any(|i| equal(kind, lit, i)),
        Op::Gt | Op::Lt | Op::Ge | Op::Le => items(v).into_iter().any(|i| {
            order(kind, lit, i).is_some_and(|o| match op {
                Op::Gt => o.is_gt(),
                Op::Lt => o.is_lt(),
                Op::Ge => o.is_ge(),
                _ => o.is_le(),
            })
        }),
    }
}

fn like_any(lit: &Lit, v: &Value) -> bool {
    let Lit::Text(pattern) = lit else {
        return false;
    };
    let values = items(v);
    if values.is_empty() {
        return like(pattern, "");
    }
    values.into_iter().any(|i| like(pattern, &text_of(i)))
}

fn equal(kind: Kind, lit: &Lit, v: &Value) -> bool {
    match (kind, lit) {
        (Kind::Proxies, Lit::Text(t)) if !t.contains(':') => proxy_address(&text_of(v)) == t,
        _ => order(kind, lit, v).is_some_and(|o| o.is_eq()),
    }
}

/// How the property value `v` orders against the literal.
fn order(kind: Kind, lit: &Lit, v: &Value) -> Option<std::cmp::Ordering> {
    let text = || match v {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    };
    let is_unlimited = || text().is_some_and(|s| s.eq_ignore_ascii_case("unlimited"));
    match (kind, lit) {
        (Kind::Bool, Lit::Bool(b)) => {
            let value = match v {
                Value::Bool(x) => *x,
                Value::String(s) => parse_bool(s)?,
                _ => return None,
            };
            Some(value.cmp(b))
        }
        (Kind::Number, Lit::Num(n)) => {
            let value = match v {
                Value::Number(x) => x.as_f64()?,
                _ if is_unlimited() => f64::INFINITY,
                Value::String(s) => s.trim().parse().ok()?,
                _ => return None,
            };
            value.partial_cmp(n)
        }
        (Kind::Duration, Lit::Ticks(t)) => {
            let value = if is_unlimited() {
                i64::MAX
            } else {
                parse_timespan(text()?)?
            };
            Some(value.cmp(t))
        }
        (Kind::Size, Lit::Bytes(b)) => {
            let value = match parse_size(text()?)? {
                Quantity::Bytes(x) => x,
                Quantity::Unlimited => u64::MAX,
            };
            Some(value.cmp(b))
        }
        (Kind::Date, Lit::Secs(s)) => Some(parse_datetime(text()?)?.cmp(s)),
        (_, Lit::Text(t)) => Some(text_of(v).as_str().cmp(t.as_str())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::like;
    use serde_json::json;

    /// Properties of a test object: (name, kind, value).
    fn object() -> Vec<(&'static str, Kind, Value)> {
        vec![
            ("Name", Kind::Text, json!("user001")),
            ("DisplayName", Kind::Text, json!("Conor O'Brien")),
            ("Department", Kind::Text, json!("Sales")),
            ("LitigationHoldEnabled", Kind::Bool, json!(true)),
            ("HiddenFromAddressListsEnabled", Kind::Bool, json!(false)),
            (
                "RetainDeletedItemsFor",
                Kind::Duration,
                json!("14.00:00:00"),
            ),
            (
                "ProhibitSendQuota",
                Kind::Size,
                json!("99 GB (106,300,440,576 bytes)"),
            ),
            ("ResourceCapacity", Kind::Number, json!(12)),
            (
                "WhenCreated",
                Kind::Date,
                json!("2024-03-05T09:12:44+00:00"),
            ),
            ("ForwardingSmtpAddress", Kind::Text, Value::Null),
            (
                "EmailAddresses",
                Kind::Proxies,
                json!([
                    "SMTP:user001@contoso.onmicrosoft.com",
                    "smtp:user001@contoso.com"
                ]),
            ),
            ("Languages", Kind::Texts, json!(["en-US", "fr-FR"])),
        ]
    }

    fn resolver(name: &str) -> Option<(usize, Kind)> {
        object()
            .iter()
            .position(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .map(|i| (i, object()[i].1))
    }

    fn check(filter: &str) -> Result<bool, FilterError> {
        let f = compile(filter, &resolver)?;
        let values = object();
        Ok(f.matches(&|i| values[i].2.clone()))
    }

    fn yes(filter: &str) {
        assert_eq!(check(filter), Ok(true), "{filter}");
    }

    fn no(filter: &str) {
        assert_eq!(check(filter), Ok(false), "{filter}");
    }

    #[test]
    fn a_very_long_chain_is_refused_instead_of_overflowing_the_stack() {
        let chain = vec!["Name -eq 'x'"; 8000].join(" -and ");
        assert!(matches!(check(&chain), Err(FilterError::Syntax { .. })));
        let fine = vec!["Name -eq 'x'"; 400].join(" -or ");
        assert_eq!(check(&fine), Ok(false));
    }

    #[test]
    fn equality_ignores_case_of_names_operators_and_values() {
        yes("Name -eq 'user001'");
        yes("name -EQ 'USER001'");
        yes("Name -eq user001");
        yes("Name -eq \"user001\"");
        no("Name -eq 'user002'");
        yes("Name -ne 'user002'");
    }

    #[test]
    fn quotes_escape_by_doubling_and_braces_are_optional() {
        yes("DisplayName -eq 'Conor O''Brien'");
        yes("DisplayName -eq \"Conor O'Brien\"");
        yes("{ DisplayName -like '*o''b*' }");
    }

    #[test]
    fn like_takes_star_wildcards() {
        yes("Name -like 'user*'");
        yes("Name -like '*001'");
        yes("Name -like '*er0*'");
        no("Name -like 'admin*'");
        yes("Name -notlike 'admin*'");
        assert!(like("a*b*c", "axxbyyc"));
        assert!(!like("a*b*c", "axxbyy"));
        assert!(like("*", ""));
    }

    #[test]
    fn and_or_not_and_parentheses_combine_left_to_right() {
        yes("Name -eq 'user001' -and Department -eq 'Sales'");
        no("Name -eq 'user001' -and Department -eq 'IT'");
        yes("Name -eq 'nobody' -or Department -eq 'Sales'");
        yes("-not (Department -eq 'IT')");
        yes("-not Department -eq 'IT'");
        yes("!(Department -eq 'IT')");
        // As in PowerShell, -and and -or bind equally, left to right: (true -or x) -and false.
        no("Name -eq 'user001' -or Name -eq 'x' -and Department -eq 'IT'");
        yes("Name -eq 'user001' -or (Name -eq 'x' -and Department -eq 'IT')");
        yes("((Name -eq 'user001'))");
    }

    #[test]
    fn booleans_and_nulls() {
        yes("LitigationHoldEnabled -eq $true");
        yes("LitigationHoldEnabled -eq 'True'");
        yes("HiddenFromAddressListsEnabled -eq $false");
        yes("ForwardingSmtpAddress -eq $null");
        no("ForwardingSmtpAddress -ne $null");
        yes("Name -ne $null");
    }

    #[test]
    fn typed_values_compare_by_meaning() {
        yes("RetainDeletedItemsFor -eq '14'");
        yes("RetainDeletedItemsFor -lt '30.00:00:00'");
        no("RetainDeletedItemsFor -gt 14.00:00:00");
        yes("ProhibitSendQuota -ge '50GB'");
        yes("ProhibitSendQuota -lt unlimited");
        yes("ResourceCapacity -gt 10");
        no("ResourceCapacity -le 10");
        yes("WhenCreated -gt '2024-01-01'");
        yes("WhenCreated -lt '3/6/2024'");
    }

    #[test]
    fn multi_valued_properties_match_on_any_value() {
        yes("EmailAddresses -eq 'smtp:user001@contoso.com'");
        yes("EmailAddresses -eq 'user001@contoso.com'");
        yes("EmailAddresses -like '*@contoso.com'");
        no("EmailAddresses -eq 'someone@contoso.com'");
        yes("Languages -eq 'fr-FR'");
        yes("Languages -ne 'de-DE'");
    }

    #[test]
    fn syntax_errors_say_where() {
        assert_eq!(check("Name -eq"), Err(FilterError::Syntax { position: 9 }));
        assert_eq!(check("Name 'x'"), Err(FilterError::Syntax { position: 6 }));
        assert_eq!(
            check("Name -match 'x'"),
            Err(FilterError::Syntax { position: 6 })
        );
        assert_eq!(
            check("(Name -eq 'x'"),
            Err(FilterError::Syntax { position: 14 })
        );
        assert_eq!(
            check("Name -eq 'x')"),
            Err(FilterError::Syntax { position: 13 })
        );
        assert_eq!(
            check("Name -eq 'x"),
            Err(FilterError::Syntax { position: 10 })
        );
        assert_eq!(
            check("Name -eq $_.Name"),
            Err(FilterError::Syntax { position: 10 })
        );
        assert_eq!(
            check("Name -eq 'x' -and"),
            Err(FilterError::Syntax { position: 18 })
        );
        assert_eq!(check(""), Err(FilterError::Syntax { position: 1 }));
        assert_eq!(
            check("{ Name -eq 'x'"),
            Err(FilterError::Syntax { position: 15 })
        );
        let deep = format!("{}Name -eq 'x'{}", "(".repeat(500), ")".repeat(500));
        assert!(matches!(check(&deep), Err(FilterError::Syntax { .. })));
        let message = FilterError::Syntax { position: 9 }.message("Name -eq", &[]);
        assert_eq!(
            message,
            "Invalid filter syntax. For a description of the filter parameter syntax see the command help.\n\"Name -eq\" at position 9."
        );
    }

    #[test]
    fn unknown_properties_and_unconvertible_values_are_refused() {
        assert_eq!(
            check("Colour -eq 'red'"),
            Err(FilterError::UnknownProperty {
                name: "Colour".into(),
                position: 1
            })
        );
        assert_eq!(
            check("LitigationHoldEnabled -eq 'maybe'"),
            Err(FilterError::BadValue {
                value: "maybe".into(),
                type_name: "System.Boolean",
                position: 27
            })
        );
        assert!(matches!(
            check("RetainDeletedItemsFor -eq 'soon'"),
            Err(FilterError::BadValue { .. })
        ));
    }
}
