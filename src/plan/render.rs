//! Writers for plan records: readable text grouped by tenant and step, JSON Lines, and a
//! counter for when only the totals matter. Each writes a record as it arrives.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::LazyLock;

use regex::Regex;

use super::Sink;
use super::record::PlanRecord;
use crate::diagnostic::plural;

/// Writes one JSON object per line.
pub struct JsonSink<W: Write> {
    out: W,
}

impl<W: Write> JsonSink<W> {
    /// Writes to `out` (buffer it: one write per record otherwise).
    pub fn new(out: W) -> Self {
        Self { out }
    }

    /// The writer back, for flushing.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Sink for JsonSink<W> {
    fn record(&mut self, record: PlanRecord<'_>) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &record.masked())?;
        self.out.write_all(b"\n")
    }
}

/// Writes a plan a reviewer can read: tenants, their steps, and each call as the PowerShell
/// an administrator would type.
pub struct TextSink<W: Write> {
    out: W,
    line: String,
    /// Items skipped since the last other record, shown as one line rather than one each.
    skipped: usize,
}

impl<W: Write> TextSink<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            line: String::new(),
            skipped: 0,
        }
    }

    /// The writer back, for flushing.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Sink for TextSink<W> {
    fn record(&mut self, record: PlanRecord<'_>) -> io::Result<()> {
        let record = record.masked();
        let l = &mut self.line;
        l.clear();
        if let PlanRecord::Skipped(s) = &record
            && s.item.is_some()
        {
            self.skipped += 1;
            return Ok(());
        }
        // Skipped items are counted per step; the count is written when the step ends.
        let closes_step = !matches!(record, PlanRecord::Task(_) | PlanRecord::Skipped(_));
        if closes_step && self.skipped > 0 {
            let _ = writeln!(
                l,
                "    {} item{} skipped: when is false",
                self.skipped,
                plural(self.skipped)
            );
            self.skipped = 0;
        }
        // Writing to a String cannot fail.
        let _ = match record {
            r @ (PlanRecord::Plan(_) | PlanRecord::Tenant(_) | PlanRecord::Step(_)) => {
                heading(l, r)
            }
            r @ (PlanRecord::Task(_) | PlanRecord::Skipped(_) | PlanRecord::Deferred(_)) => {
                call(l, r)
            }
            r => closing(l, r),
        };
        self.out.write_all(self.line.as_bytes())
    }
}

/// The plan, a tenant or a step beginning.
fn heading(l: &mut String, record: PlanRecord<'_>) -> std::fmt::Result {
    match record {
        PlanRecord::Plan(h) => {
            let _ = writeln!(l, "Plan: {} ({})", h.name, h.playbook);
            writeln!(
                l,
                "{} tenant{}, {} step{}",
                h.tenants.len(),
                plural(h.tenants.len()),
                h.steps.len(),
                plural(h.steps.len())
            )
        }
        PlanRecord::Tenant(t) => {
            let org = match &t.delegated_organization {
                Some(customer) => format!("{customer} via {}", t.organization),
                None => t.organization.to_string(),
            };
            let wave = t
                .wave
                .as_ref()
                .map(|(n, name)| format!(", wave {n}: {name}"))
                .unwrap_or_default();
            writeln!(
                l,
                "\ntenant {} ({org}, {}, {} connection{}{wave})",
                t.tenant,
                t.cloud,
                t.connections,
                plural(t.connections as usize)
            )
        }
        PlanRecord::Step(s) => {
            let kind = if crate::playbook::verbs::is_read_only(&s.cmdlet) {
                "reads"
            } else {
                "writes"
            };
            let _ = write!(l, "  step {} {}: {} ({kind}", s.number, s.step, s.cmdlet);
            match s.items {
                Some(n) => writeln!(l, ", {n} item{})", plural(n)),
                None => writeln!(l, ")"),
            }
        }
        _ => Ok(()),
    }
}

/// A call, a skipped item, or a step that expands at run time.
fn call(l: &mut String, record: PlanRecord<'_>) -> std::fmt::Result {
    match record {
        PlanRecord::Task(t) => {
            let _ = write!(l, "    ");
            if let Some(item) = &t.item {
                // An item's key comes from data; escape it so it cannot break the line.
                let _ = write!(l, "[{}] ", item.escape_debug());
            }
            let _ = write!(l, "{}", t.cmdlet);
            for (name, value) in &t.params {
                let _ = write!(l, " ");
                powershell_param(l, &t.cmdlet, name, value);
            }
            if let Some(state) = &t.state {
                let _ = write!(l, "  state {state}");
            }
            // Desired state sends only what differs, which is known when the run reads it.
            if let Some(ensure) = t.ensure.as_ref().filter(|e| !e.is_empty()) {
                let _ = write!(l, "  ensure");
                for (name, value) in ensure {
                    let _ = write!(l, " ");
                    powershell_param(l, &t.cmdlet, name, value);
                }
            }
            writeln!(l)
        }
        PlanRecord::Skipped(s) => writeln!(l, "    skipped: {}", s.reason),
        PlanRecord::Deferred(d) => {
            let from: Vec<String> = d
                .depends_on
                .iter()
                .map(|s| {
                    if s == "*" {
                        "steps".to_owned()
                    } else {
                        format!("steps.{s}")
                    }
                })
                .collect();
            let _ = writeln!(l, "    expands at run time from {}", from.join(", "));
            if let Some(when) = &d.when {
                let _ = writeln!(l, "    when: {when}");
            }
            let _ = write!(l, "    {}", d.cmdlet);
            for (name, value) in &d.params {
                let _ = write!(l, " ");
                powershell_param(l, &d.cmdlet, name, value);
            }
            if let Some(ensure) = d.ensure.as_ref().filter(|e| !e.is_empty()) {
                let _ = write!(l, "  ensure");
                for (name, value) in ensure {
                    let _ = write!(l, " ");
                    powershell_param(l, &d.cmdlet, name, value);
                }
            }
            writeln!(l)
        }
        _ => Ok(()),
    }
}

/// The summary, or why the plan stopped.
fn closing(l: &mut String, record: PlanRecord<'_>) -> std::fmt::Result {
    match record {
        PlanRecord::Summary(s) => {
            let _ = write!(
                l,
                "\nSummary: {} task{} ({} read, {} write) in {} tenant{}",
                s.tasks,
                plural(s.tasks),
                s.reads,
                s.writes,
                s.tenants,
                plural(s.tenants)
            );
            if s.skipped > 0 {
                let _ = write!(l, "; {} skipped", s.skipped);
            }
            if s.deferred_steps > 0 {
                let _ = write!(
                    l,
                    "; {} step{} expand{} at run time",
                    s.deferred_steps,
                    plural(s.deferred_steps),
                    if s.deferred_steps == 1 { "s" } else { "" }
                );
            }
            writeln!(l)
        }
        PlanRecord::Error(e) => writeln!(l, "\nPlan incomplete: {}", e.message),
        _ => Ok(()),
    }
}

/// Counts records without writing them, for `validate` and benchmarks.
#[derive(Debug, Default)]
pub struct CountingSink {
    /// Task records seen.
    pub tasks: usize,
    /// Records of any kind seen.
    pub records: usize,
}

impl Sink for CountingSink {
    fn record(&mut self, record: PlanRecord<'_>) -> io::Result<()> {
        self.records += 1;
        if matches!(record, PlanRecord::Task(_)) {
            self.tasks += 1;
        }
        Ok(())
    }
}

/// A call as it would be typed in PowerShell: `Set-User -Identity alex -Title Boss`, with
/// SecureString values masked.
pub(crate) fn powershell_call(
    cmdlet: &str,
    params: &serde_json::Map<String, serde_json::Value>,
) -> String {
    let mut params = params.clone();
    crate::exchange::secure::mask_params(cmdlet, &mut params);
    let mut out = cmdlet.to_string();
    for (name, value) in &params {
        out.push(' ');
        powershell_param(&mut out, cmdlet, name, value);
    }
    out
}

/// Writes `-Name value` the way it would be typed in PowerShell: booleans as `-Name:$true`
/// (right for switches and bool parameters alike), lists comma-separated, mappings as `@{…}`;
/// a masked SecureString as `********`, unquoted, so it does not read as that text.
fn powershell_param(out: &mut String, cmdlet: &str, name: &str, value: &serde_json::Value) {
    use crate::exchange::secure::{MASK, is_secure_string};
    match value {
        serde_json::Value::String(s) if s == MASK && is_secure_string(cmdlet, name) => {
            let _ = write!(out, "-{name} {MASK}");
        }
        serde_json::Value::Bool(b) => {
            let _ = write!(out, "-{name}:${b}");
        }
        other => {
            let _ = write!(out, "-{name} ");
            powershell_value(out, other);
        }
    }
}

/// The characters PowerShell reads as a single quote; inside a single-quoted string each is
/// escaped by doubling it.
const SINGLE_QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];
/// The characters PowerShell reads as a double quote.
const DOUBLE_QUOTES: [char; 4] = ['"', '\u{201C}', '\u{201D}', '\u{201E}'];

static BAREWORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9._@-]*$").expect("valid regex"));

fn powershell_value(out: &mut String, value: &serde_json::Value) {
    match value {
        serde_json::Value::Null => out.push_str("$null"),
        serde_json::Value::Bool(b) => {
            let _ = write!(out, "${b}");
        }
        serde_json::Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        serde_json::Value::String(s) if BAREWORD.is_match(s) => out.push_str(s),
        serde_json::Value::String(s) if s.contains(|c: char| c.is_control()) => {
            // Line breaks and tabs would break the plan's layout; a double-quoted string with
            // backtick escapes keeps the value on one line and means the same to PowerShell.
            out.push('"');
            for c in s.chars() {
                match c {
                    '\n' => out.push_str("`n"),
                    '\r' => out.push_str("`r"),
                    '\t' => out.push_str("`t"),
                    c if c == '`' || c == '$' || DOUBLE_QUOTES.contains(&c) => {
                        out.push('`');
                        out.push(c);
                    }
                    c if c.is_control() => {
                        let _ = write!(out, "$([char]0x{:04X})", c as u32);
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        serde_json::Value::String(s) => {
            out.push('\'');
            // PowerShell single-quoted strings escape a quote by doubling it; typographic
            // quotes count as quotes too.
            for c in s.chars() {
                if SINGLE_QUOTES.contains(&c) {
                    out.push(c);
                }
                out.push(c);
            }
            out.push('\'');
        }
        serde_json::Value::Array(items) if items.is_empty() => out.push_str("@()"),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                // A list inside a list keeps its own `@()`, or it would read as flattened.
                if item.as_array().is_some_and(|a| !a.is_empty()) {
                    out.push_str("@(");
                    powershell_value(out, item);
                    out.push(')');
                } else {
                    powershell_value(out, item);
                }
            }
        }
        serde_json::Value::Object(map) => {
            out.push_str("@{");
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str("; ");
                }
                if BAREWORD.is_match(k) {
                    out.push_str(k);
                } else {
                    powershell_value(out, &serde_json::Value::String(k.clone()));
                }
                out.push('=');
                if v.is_array() {
                    out.push_str("@(");
                    powershell_value(out, v);
                    out.push(')');
                } else {
                    powershell_value(out, v);
                }
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ps(name: &str, v: serde_json::Value) -> String {
        let mut s = String::new();
        powershell_param(&mut s, "Set-Mailbox", name, &v);
        s
    }

    #[test]
    fn parameters_read_as_powershell() {
        // A masked SecureString reads as masked, not as the text `********`.
        assert_eq!(ps("Password", "********".into()), "-Password ********");
        assert_eq!(
            ps("CustomAttribute1", "********".into()),
            "-CustomAttribute1 '********'"
        );
        assert_eq!(
            ps("Identity", "alex@contoso.com".into()),
            "-Identity alex@contoso.com"
        );
        assert_eq!(
            ps("RetainDeletedItemsFor", "30.00:00:00".into()),
            "-RetainDeletedItemsFor '30.00:00:00'"
        );
        assert_eq!(
            ps("DisplayName", "O'Brien".into()),
            "-DisplayName 'O''Brien'"
        );
        assert_eq!(ps("Confirm", false.into()), "-Confirm:$false");
        assert_eq!(ps("ResultSize", 5000.into()), "-ResultSize 5000");
        assert_eq!(
            ps(
                "AccessRights",
                serde_json::json!(["FullAccess", "Read Permission"])
            ),
            "-AccessRights FullAccess,'Read Permission'"
        );
        assert_eq!(
            ps(
                "EmailAddresses",
                serde_json::json!({"Add": ["smtp:a@b.com"]})
            ),
            "-EmailAddresses @{Add=@('smtp:a@b.com')}"
        );
        assert_eq!(ps("Members", serde_json::json!([])), "-Members @()");
        assert_eq!(
            ps("Nested", serde_json::json!([[1, 2], [3], []])),
            "-Nested @(1,2),@(3),@()"
        );
        assert_eq!(
            ps("Q", "x\u{201A}; Remove-Mailbox ceo \u{201B}".into()),
            "-Q 'x\u{201A}\u{201A}; Remove-Mailbox ceo \u{201B}\u{201B}'"
        );
        assert_eq!(ps("D", "a\n\u{201E}b".into()), "-D \"a`n`\u{201E}b\"");
        assert_eq!(
            ps("Text", "a\nb $x \"q\"".into()),
            "-Text \"a`nb `$x `\"q`\"\""
        );
    }
}
