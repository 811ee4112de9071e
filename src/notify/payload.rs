//! The three payloads: tenantry's JSON document, a Slack message (`text` and Block Kit
//! `blocks`), and a Teams workflow message holding one Adaptive Card. All say the same: what
//! happened, the counts, the tenants that failed or drifted (the first few), and where the
//! reports are.

use serde_json::{Value, json};

use super::{Context, Format, When};
use crate::events::{RunSummary, TenantSummary};

/// How many failing (or drifting) tenants a Slack or Teams message lists; the rest are
/// counted ("and 12 more").
pub const MAX_TENANTS_LISTED: usize = 10;
/// How many the JSON document lists: receivers are programs, but a run over thousands of
/// tenants must not post megabytes.
const MAX_TENANTS_IN_JSON: usize = 100;
/// The version of the JSON document's shape.
const JSON_VERSION: u32 = 1;

/// What a notification says: the run's end, and where to look.
#[derive(Clone, Debug)]
pub struct Message<'a> {
    /// What it reports: a failure, new drift, or a run's end.
    pub event: When,
    /// The run's summary, as summary.json has it.
    pub summary: &'a RunSummary,
    /// Where and how it ran.
    pub context: &'a Context,
    /// The run's id (a check has none).
    pub run_id: Option<&'a str>,
    /// Why the run could not start, when it could not.
    pub error: Option<&'a str>,
    /// A link to the reports.
    pub report_url: Option<&'a str>,
}

/// How a tenant's line of a list reads.
type LineOf = fn(&Listed<'_>) -> String;

/// A tenant in a message's list, with the counts that put it there.
struct Listed<'a> {
    name: &'a str,
    counts: &'a TenantSummary,
}

impl Message<'_> {
    /// The payload for `format`.
    pub fn render(&self, format: Format) -> Value {
        match format {
            Format::Json => self.json(),
            Format::Slack => self.slack(),
            Format::Teams => self.teams(),
        }
    }

    /// How it ended, in a few words: `failed (exit 1)`, `new drift`, `finished`.
    fn outcome(&self) -> String {
        let code = self.summary.exit_code;
        match self.event {
            When::Failure if self.error.is_some() => format!("could not start (exit {code})"),
            When::Failure if code == crate::exit::INTERRUPTED => {
                "interrupted (exit 130)".to_string()
            }
            When::Failure if code == crate::exit::STOPPED_BY_GUARDRAIL => {
                "stopped by a guardrail (exit 4)".to_string()
            }
            When::Failure => format!("failed (exit {code})"),
            When::Drift => "new drift found".to_string(),
            When::Finish if self.summary.check && self.summary.total.drift > 0 => {
                "changes pending, none new".to_string()
            }
            When::Finish if self.summary.check => "no changes pending".to_string(),
            When::Finish => "finished".to_string(),
        }
    }

    /// `tenantry check "Name": failed (exit 1)`.
    fn title(&self) -> String {
        format!(
            "tenantry {} \"{}\": {}",
            self.context.command,
            self.summary.playbook,
            self.outcome()
        )
    }

    /// The counts in one line: `3 tenants: 40 ok (12 changed), 2 failed, 1 unknown`.
    fn counts(&self) -> String {
        let t = &self.summary.total;
        let tenants = self.summary.tenants.len();
        let mut parts = vec![format!("{} ok ({} changed)", t.ok, t.changed)];
        for (n, what) in [
            (t.failed, "failed"),
            (t.unknown, "unknown"),
            (t.skipped, "skipped"),
            (t.stale, "stale"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        if self.summary.check {
            parts.push(format!("{} drift ({} new)", t.drift, t.new));
        }
        format!(
            "{tenants} tenant{}: {} in {}",
            crate::diagnostic::plural(tenants),
            parts.join(", "),
            duration(self.summary.duration_ms)
        )
    }

    /// Tenants with failures, of unknown outcome, or stopped: most failures first.
    fn failing(&self) -> Vec<Listed<'_>> {
        let mut list: Vec<Listed<'_>> = self
            .summary
            .tenants
            .iter()
            .filter(|(_, s)| s.failed + s.unknown > 0 || s.stopped.is_some())
            .map(|(name, counts)| Listed { name, counts })
            .collect();
        list.sort_by(|a, b| {
            (b.counts.failed + b.counts.unknown)
                .cmp(&(a.counts.failed + a.counts.unknown))
                .then(a.name.cmp(b.name))
        });
        list
    }

    /// Tenants with drift: most new drift first, then most drift.
    fn drifting(&self) -> Vec<Listed<'_>> {
        let mut list: Vec<Listed<'_>> = self
            .summary
            .tenants
            .iter()
            .filter(|(_, s)| s.drift > 0)
            .map(|(name, counts)| Listed { name, counts })
            .collect();
        list.sort_by(|a, b| {
            b.counts
                .new
                .cmp(&a.counts.new)
                .then(b.counts.drift.cmp(&a.counts.drift))
                .then(a.name.cmp(b.name))
        });
        list
    }

    /// tenantry's own document; its shape is documented in the README (Notifications).
    fn json(&self) -> Value {
        let s = self.summary;
        let t = &s.total;
        let failing = self.failing();
        let drifting = self.drifting();
        json!({
            "version": JSON_VERSION,
            "event": self.event.as_str(),
            "title": self.title(),
            "command": self.context.command,
            "playbook": s.playbook,
            "playbook_path": self.context.playbook_path,
            "run_id": self.run_id,
            "exit_code": s.exit_code,
            "complete": s.complete,
            "stopped_by": s.stopped_by,
            "error": self.error,
            "duration_ms": s.duration_ms,
            "totals": {
                "tenants": s.tenants.len(),
                "ok": t.ok,
                "changed": t.changed,
                "failed": t.failed,
                "skipped": t.skipped,
                "unknown": t.unknown,
                "drift": t.drift,
                "new": t.new,
                "stale": t.stale,
                "retries": t.retries,
            },
            "failing_tenants": failing.iter().take(MAX_TENANTS_IN_JSON).map(|l| json!({
                "tenant": l.name,
                "failed": l.counts.failed,
                "unknown": l.counts.unknown,
                "stopped": l.counts.stopped,
            })).collect::<Vec<_>>(),
            "failing_tenants_more": failing.len().saturating_sub(MAX_TENANTS_IN_JSON),
            "drifting_tenants": drifting.iter().take(MAX_TENANTS_IN_JSON).map(|l| json!({
                "tenant": l.name,
                "drift": l.counts.drift,
                "new": l.counts.new,
            })).collect::<Vec<_>>(),
            "drifting_tenants_more": drifting.len().saturating_sub(MAX_TENANTS_IN_JSON),
            "reports": self.context.reports.as_ref().map(|p| p.display().to_string()),
            "report_url": self.report_url,
            "host": self.context.host,
            "shard": self.context.shard,
        })
    }

    /// The tenant lists a chat message shows, each with its heading and how a tenant's line
    /// reads: failing, then drifting.
    fn tenant_lists(&self) -> [(&'static str, Vec<Listed<'_>>, LineOf); 2] {
        [
            ("Failing tenants", self.failing(), Self::failing_line),
            ("Drifting tenants", self.drifting(), Self::drifting_line),
        ]
    }

    /// A tenant's line in a chat message: `2 failed, 1 unknown; stopped: …`.
    fn failing_line(l: &Listed<'_>) -> String {
        let mut parts = Vec::new();
        if l.counts.failed > 0 {
            parts.push(format!("{} failed", l.counts.failed));
        }
        if l.counts.unknown > 0 {
            parts.push(format!("{} unknown", l.counts.unknown));
        }
        let mut line = parts.join(", ");
        if let Some(why) = &l.counts.stopped {
            if !line.is_empty() {
                line.push_str("; ");
            }
            line.push_str("stopped: ");
            line.push_str(&truncate(why, 160));
        }
        line
    }

    fn drifting_line(l: &Listed<'_>) -> String {
        format!("{} drift ({} new)", l.counts.drift, l.counts.new)
    }

    /// Where it ran: `run 20260101-… · host ci-7 · shard 2/4`.
    fn provenance(&self) -> Vec<(String, String)> {
        let mut facts = Vec::new();
        if let Some(id) = self.run_id.filter(|id| !id.is_empty()) {
            facts.push(("Run".to_string(), id.to_string()));
        }
        if !self.context.host.is_empty() {
            facts.push(("Host".to_string(), self.context.host.clone()));
        }
        if let Some(shard) = &self.context.shard {
            facts.push(("Shard".to_string(), shard.clone()));
        }
        if let Some(reports) = &self.context.reports {
            facts.push(("Reports".to_string(), reports.display().to_string()));
        }
        facts
    }

    /// A Slack incoming-webhook message: `text` for notifications and clients without blocks,
    /// and blocks within Slack's limits (a header of 150 characters, sections of 3,000).
    fn slack(&self) -> Value {
        let emoji = match self.event {
            When::Failure => ":x:",
            When::Drift => ":warning:",
            When::Finish => ":white_check_mark:",
        };
        let mut blocks = vec![
            json!({
                "type": "header",
                "text": { "type": "plain_text", "text": truncate(&self.title(), 150), "emoji": true }
            }),
            json!({
                "type": "section",
                "text": { "type": "mrkdwn", "text": truncate(&format!("{emoji} {}", slack_escape(&self.counts())), 3000) }
            }),
        ];
        if let Some(error) = self.error {
            blocks.push(section(&format!(
                "*Error*\n{}",
                slack_escape(&truncate(error, 2000))
            )));
        }
        if let Some(why) = &self.summary.stopped_by {
            blocks.push(section(&format!("*Stopped by* {}", slack_escape(why))));
        }
        for (heading, list, line) in self.tenant_lists() {
            if list.is_empty() {
                continue;
            }
            let mut text = format!("*{heading}*");
            for l in list.iter().take(MAX_TENANTS_LISTED) {
                text.push_str(&format!(
                    "\n• `{}`: {}",
                    slack_escape(l.name),
                    slack_escape(&line(l))
                ));
            }
            if list.len() > MAX_TENANTS_LISTED {
                text.push_str(&format!("\n… and {} more", list.len() - MAX_TENANTS_LISTED));
            }
            blocks.push(section(&truncate(&text, 3000)));
        }
        if let Some(link) = self.report_url {
            blocks.push(section(&format!("<{}|Open the reports>", slack_link(link))));
        }
        let context: Vec<String> = self
            .provenance()
            .into_iter()
            .map(|(k, v)| format!("{k}: {}", slack_escape(&v)))
            .collect();
        if !context.is_empty() {
            blocks.push(json!({
                "type": "context",
                "elements": [{ "type": "mrkdwn", "text": truncate(&context.join(" · "), 2000) }]
            }));
        }
        json!({
            "text": slack_escape(&truncate(&format!("{}: {}", self.title(), self.counts()), 3000)),
            "blocks": blocks,
        })
    }

    /// A Teams workflow message: one Adaptive Card (1.4, which Teams renders) with the
    /// outcome, the counts as facts, the tenants' lists, and a button to the reports.
    fn teams(&self) -> Value {
        let color = match self.event {
            When::Failure => "Attention",
            When::Drift => "Warning",
            When::Finish => "Good",
        };
        let t = &self.summary.total;
        let mut facts = vec![
            fact("Exit code", &self.summary.exit_code.to_string()),
            fact("Tenants", &self.summary.tenants.len().to_string()),
            fact("OK", &format!("{} ({} changed)", t.ok, t.changed)),
            fact("Failed", &t.failed.to_string()),
            fact("Unknown", &t.unknown.to_string()),
            fact("Skipped", &t.skipped.to_string()),
        ];
        if self.summary.check {
            facts.push(fact("Drift", &format!("{} ({} new)", t.drift, t.new)));
        }
        if t.stale > 0 {
            facts.push(fact("Stale", &t.stale.to_string()));
        }
        facts.push(fact("Duration", &duration(self.summary.duration_ms)));
        if let Some(why) = &self.summary.stopped_by {
            facts.push(fact("Stopped by", why));
        }
        let mut body = vec![
            json!({
                "type": "TextBlock",
                "text": self.title(),
                "size": "Medium",
                "weight": "Bolder",
                "color": color,
                "wrap": true
            }),
            json!({ "type": "TextBlock", "text": self.counts(), "wrap": true }),
        ];
        if let Some(error) = self.error {
            body.push(json!({ "type": "TextBlock", "text": truncate(error, 2000), "color": "Attention", "wrap": true }));
        }
        body.push(json!({ "type": "FactSet", "facts": facts }));
        for (heading, list, line) in self.tenant_lists() {
            if list.is_empty() {
                continue;
            }
            body.push(json!({ "type": "TextBlock", "text": heading, "weight": "Bolder", "wrap": true, "spacing": "Medium" }));
            let mut facts: Vec<Value> = list
                .iter()
                .take(MAX_TENANTS_LISTED)
                .map(|l| fact(l.name, &line(l)))
                .collect();
            if list.len() > MAX_TENANTS_LISTED {
                facts.push(fact(
                    "…",
                    &format!("and {} more", list.len() - MAX_TENANTS_LISTED),
                ));
            }
            body.push(json!({ "type": "FactSet", "facts": facts }));
        }
        let provenance: Vec<Value> = self.provenance().iter().map(|(k, v)| fact(k, v)).collect();
        if !provenance.is_empty() {
            body.push(json!({ "type": "FactSet", "facts": provenance, "spacing": "Medium" }));
        }
        let actions: Vec<Value> = self
            .report_url
            .map(|url| json!({ "type": "Action.OpenUrl", "title": "Open the reports", "url": url }))
            .into_iter()
            .collect();
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                    "actions": actions,
                }
            }]
        })
    }
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

fn fact(title: &str, value: &str) -> Value {
    json!({ "title": title, "value": value })
}

/// Slack reads `&`, `<` and `>` as markup (`<!channel>` would ping a whole channel), so text
/// from tenants and errors is escaped.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A URL for a Slack link, `<URL|text>`: `|`, `<` and `>` would end it early, so they are
/// percent-encoded (as a browser would send them), and `&` escaped.
fn slack_link(url: &str) -> String {
    slack_escape(
        &url.replace('|', "%7C")
            .replace('<', "%3C")
            .replace('>', "%3E"),
    )
}

/// At most `max` characters, ending with `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A run's length for people: `850ms`, `4.2s`, `3m12s`, `1h4m`.
fn duration(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms < 60_000 {
        return format!("{:.1}s", ms as f64 / 1000.0);
    }
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}h{m}m")
    } else {
        format!("{m}m{s}s")
    }
}
