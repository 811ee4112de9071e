//! Reading playbook and tenant files: size and encoding checks first, then YAML parsing with
//! hard budgets (alias bombs, deep nesting), with every failure turned into a located
//! [`Diagnostic`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::diagnostic::{Diagnostic, SourceFile, did_you_mean};

/// The largest playbook or tenants file tenantry reads. Real playbooks are kilobytes; a larger
/// file is a mistake (a log or a data dump passed by accident) and is refused before parsing.
pub(crate) const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Reads a file as UTF-8 text, refusing what is too large, binary or in another encoding.
pub(crate) fn read_source(path: &Path) -> Result<Arc<SourceFile>, Diagnostic> {
    let meta = std::fs::metadata(path).map_err(|e| io_diagnostic(path, &e))?;
    if meta.is_dir() {
        return Err(
            Diagnostic::new(format!("`{}` is a folder, not a YAML file", path.display()))
                .in_file(path),
        );
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::new(format!(
            "`{}` is {:.1} MiB; tenantry reads YAML files of at most {} MiB",
            path.display(),
            meta.len() as f64 / (1024.0 * 1024.0),
            MAX_FILE_BYTES / (1024 * 1024)
        ))
        .in_file(path)
        .help(
            "keep bulk data in a CSV or JSON file and read it with csv() or json() in a template",
        ));
    }
    // Pipes and devices report no length; read at most one byte past the limit to find out.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_FILE_BYTES + 1), &mut bytes)
        })
        .map_err(|e| io_diagnostic(path, &e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Diagnostic::new(format!(
            "`{}` is larger than {} MiB, the most tenantry reads from a YAML file",
            path.display(),
            MAX_FILE_BYTES / (1024 * 1024)
        ))
        .in_file(path));
    }
    decode(path, bytes)
}

fn decode(path: &Path, mut bytes: Vec<u8>) -> Result<Arc<SourceFile>, Diagnostic> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(Diagnostic::new(format!(
            "`{}` is UTF-16 text; tenantry reads UTF-8",
            path.display()
        ))
        .in_file(path)
        .help("save the file as UTF-8 (in PowerShell: Get-Content f.yaml | Set-Content -Encoding utf8 f.yaml)"));
    }
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
    }
    match String::from_utf8(bytes) {
        Ok(text) => {
            let hidden = super::notify::secret_spans(&text);
            Ok(SourceFile::with_hidden(path, text, hidden))
        }
        Err(e) => {
            let good = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let bad = bytes[good];
            // Everything before `good` is valid, so it can be indexed for the position.
            let prefix = String::from_utf8_lossy(&bytes[..good]).into_owned();
            let line_start = prefix.rfind('\n').map_or(0, |i| i + 1);
            let lossy = String::from_utf8_lossy(&bytes).into_owned();
            let hidden = super::notify::secret_spans(&lossy);
            let file = SourceFile::with_hidden(path, lossy, hidden);
            let line = prefix.matches('\n').count() + 1;
            let column = prefix[line_start..].chars().count() + 1;
            Err(Diagnostic::new(format!(
                "`{}` is not valid UTF-8 (byte 0x{bad:02X})",
                path.display()
            ))
            .at(file.at(line, column, 1))
            .help("save the file as UTF-8; Windows-1252 and Latin-1 files need converting"))
        }
    }
}

/// A diagnostic for a file that could not be opened or read.
pub(crate) fn io_diagnostic(path: &Path, e: &std::io::Error) -> Diagnostic {
    let what = match e.kind() {
        std::io::ErrorKind::NotFound => "does not exist".to_owned(),
        std::io::ErrorKind::PermissionDenied => "cannot be read: permission denied".to_owned(),
        _ => format!("cannot be read: {e}"),
    };
    Diagnostic::new(format!("`{}` {what}", path.display())).in_file(path)
}

/// Parses YAML text into `T` under tenantry's parsing rules. `what` describes the expected
/// document for messages about empty files ("a playbook: …").
pub(crate) fn parse<T: DeserializeOwned>(
    file: &Arc<SourceFile>,
    what: &str,
) -> Result<T, Diagnostic> {
    let has_content = file
        .text()
        .lines()
        .map(str::trim)
        .any(|l| !l.is_empty() && !l.starts_with('#') && l != "---" && l != "...");
    if !has_content {
        return Err(
            Diagnostic::new(format!("`{}` is empty", file.path().display()))
                .in_file(file.path())
                .help(format!("it should hold {what}")),
        );
    }
    serde_saphyr::from_str_with_options(file.text(), options())
        .map_err(|e| yaml_diagnostic(file, &e))
}

/// tenantry's YAML rules: duplicate keys are errors, parsing has budgets, and scalars follow
/// YAML 1.2 rather than 1.1, so a country code `NO` stays a string instead of becoming `false`
/// and a postal code `01234` keeps its leading zero.
pub(crate) fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        with_snippet: false,
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::Error,
        budget: Some(budget()),
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    }
}

/// Limits well above any real playbook that stop resource-amplifying input (an alias bomb
/// expands a few hundred bytes into billions of nodes) before it costs memory or time.
fn budget() -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    // 32 levels: real playbooks nest about 6 deep, and a debug build deserializing 64 levels
    // overflowed a 2 MiB thread stack (found by the fuzz run).
    budget.max_depth = 32;
    // 250,000 nodes: a tenants file of 20,000 tenants is well inside, and an alias bomb is
    // refused in a tenth of a second rather than in one (found by the fuzz run).
    budget.max_nodes = 250_000;
    budget.max_aliases = 10_000;
    budget
}

/// Turns a parser error into a located diagnostic, adding what would be valid.
fn yaml_diagnostic(file: &Arc<SourceFile>, e: &serde_saphyr::Error) -> Diagnostic {
    use serde_saphyr::Error as E;
    let location = e.location().and_then(|loc| {
        let line = usize::try_from(loc.line()).ok()?;
        let column = usize::try_from(loc.column()).ok()?;
        (line > 0).then(|| file.at(line, column, 1))
    });
    // Errors met while replaying an alias, or with a snippet attached, wrap the real one.
    let mut inner = e;
    while let E::WithSnippet { error, .. } | E::AliasError { error, .. } = inner {
        inner = error;
    }
    let mut d = match inner {
        E::SerdeUnknownField {
            field, expected, ..
        } => return unknown_field(file, location, field, expected),
        E::SerdeUnknownVariant {
            variant, expected, ..
        } => return unknown_value(file, location, variant, expected),
        E::SerdeMissingField { field, .. } => return missing_field(file, location, field),
        E::DuplicateMappingKey { .. } => {
            let text = strip_position(&e.without_snippet().to_string());
            let key = text
                .strip_prefix("duplicate mapping key: ")
                .and_then(|k| k.split(',').next())
                .unwrap_or("?")
                .to_owned();
            Diagnostic::new(format!("`{key}` is given twice in the same mapping"))
                .help("remove one of them; YAML mappings take each key once")
        }
        E::Budget {
            breach: serde_saphyr::budget::BudgetBreach::Depth { .. },
            ..
        } => Diagnostic::new("the YAML is nested more than 64 levels deep")
            .help("flatten the structure; no playbook needs this depth"),
        E::Budget { .. } => Diagnostic::new(
            "the YAML expands beyond tenantry's limits (too many aliases, anchors or nodes)",
        )
        .help("a playbook this large is almost always an alias bomb; write the data out plainly or read it with csv()/json()"),
        E::MultipleDocuments { .. } => Diagnostic::new(
            "the file holds more than one YAML document",
        )
        .help("a playbook is one document: remove the second `---` and what follows, or merge them"),
        other => Diagnostic::new(humanise(&strip_position(&other.to_string()))),
    };
    d.location = location;
    add_syntax_help(file, reword_by_key(file, d))
}

/// An unknown field: the closest valid one (or where a secret belongs instead) and every
/// valid field, located at the key itself.
fn unknown_field(
    file: &Arc<SourceFile>,
    location: Option<crate::diagnostic::Location>,
    field: &str,
    expected: &[&str],
) -> Diagnostic {
    let mut d = Diagnostic::new(format!("unknown field `{field}`"));
    if let Some(best) = did_you_mean(field, expected.iter().copied()) {
        d.message = format!("unknown field `{field}`, did you mean `{best}`?");
    } else if let Some(help) = secret_help(field) {
        d = d.help(help);
    }
    d = d.help(format!("valid fields here: {}", expected.join(", ")));
    // Inside `auth:` the parser can only point at the block; find the key itself.
    let location = location.map(|l| find_key(file, l, field));
    d.at_opt(location)
}

/// An unknown value of a choice: the closest valid one and every valid value.
fn unknown_value(
    file: &Arc<SourceFile>,
    location: Option<crate::diagnostic::Location>,
    variant: &str,
    expected: &[&str],
) -> Diagnostic {
    let mut d = Diagnostic::new(format!("unknown value `{variant}`"));
    if let Some(best) = did_you_mean(variant, expected.iter().copied()) {
        d.message = format!("unknown value `{variant}`, did you mean `{best}`?");
    }
    let location = location.map(|l| find_key(file, l, variant));
    d.help(format!("valid values: {}", expected.join(", ")))
        .at_opt(location)
}

/// A missing field, located at the start of the mapping that lacks it.
fn missing_field(
    file: &Arc<SourceFile>,
    location: Option<crate::diagnostic::Location>,
    field: &str,
) -> Diagnostic {
    // The parser reports the end of the mapping; point at its start instead.
    let location = location.map(|l| mapping_start(file, l));
    let d = Diagnostic::new(format!("missing field `{field}`")).at_opt(location);
    match missing_field_help(field) {
        Some(help) => d.help(help),
        None => d,
    }
}

/// Rewords a type mismatch by the key it is under: "`steps` must be a list".
fn reword_by_key(file: &Arc<SourceFile>, mut d: Diagnostic) -> Diagnostic {
    if let Some(loc) = &d.location
        && let Some(key) = key_at(file, loc)
    {
        if d.message.starts_with("expected a list") {
            d.message = format!("`{key}` must be a list");
            d = d.help(format!(
                "write `{key}: [a, b]`, or one `- item` per line below `{key}:`"
            ));
        } else if d.message.starts_with("expected a mapping") {
            d.message = format!("`{key}` must be a mapping of `name: value` pairs");
        } else if d.message.starts_with("invalid u32") || d.message.starts_with("invalid u64") {
            d.message = format!("`{key}` must be a whole number from 0 to {}", u32::MAX);
        }
    }
    d
}

/// Adds what to fix for the common YAML slips: an unquoted `{{`, a tab, misaligned keys, an
/// unclosed bracket.
fn add_syntax_help(file: &Arc<SourceFile>, mut d: Diagnostic) -> Diagnostic {
    if let Some(loc) = &d.location
        && file.line_text(loc.line).contains(": {{")
    {
        d = d.help("a value that starts with `{{` must be quoted: `Identity: \"{{ item.Name }}\"`");
    }
    if d.message.contains("found a tab") {
        d.message = "a tab is used for indentation".to_owned();
        if let Some(loc) = &d.location {
            d.location = first_tab(file, loc.line).or(d.location.take());
        }
        d = d.help("YAML indents with spaces only; replace the tab with spaces");
    } else if d.message.contains("did not find expected")
        || d.message.contains("mapping values are not allowed")
    {
        d = d.help("check the indentation: the keys of one mapping must line up, and the `- ` of list items too");
    } else if d.message.contains("illegal placement of ':'") {
        d = d.help("look above for an unclosed `[`, `{` or quote, or a missing space after a `:`");
    }
    d
}

/// What to write for a required field that is missing.
fn missing_field_help(field: &str) -> Option<&'static str> {
    Some(match field {
        "version" => "add `version: 1` at the top of the playbook",
        "name" => "add `name:` with a human name",
        "tenants" => "add `tenants:` with a list of tenants, or the path of a tenants file",
        "steps" => "add `steps:` with at least one cmdlet",
        "cmdlet" => "every step needs `cmdlet:` with a Verb-Noun cmdlet name, like `Get-Mailbox`",
        "organization" => {
            "every tenant needs `organization:` with its domain (contoso.onmicrosoft.com) or tenant GUID"
        }
        "app_id" => "give the application (client) id of the app registration",
        "method" => {
            "give `method:` certificate, client_secret, device_code, password, federated or access_token"
        }
        _ => return None,
    })
}

/// The key written on the line of `loc`, or on the line above when the value starts a block.
fn key_at(file: &Arc<SourceFile>, loc: &crate::diagnostic::Location) -> Option<String> {
    let key_of = |line: usize| -> Option<String> {
        let text = file.line_text(line).trim_start().trim_start_matches("- ");
        let (key, _) = text.split_once(':')?;
        let key = key.trim();
        (!key.is_empty()
            && key
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-'))
        .then(|| key.to_owned())
    };
    let here = file.line_text(loc.line);
    let before: String = here.chars().take(loc.column.saturating_sub(1)).collect();
    if before.contains(':') {
        // The key written right before the value: the last `key:` ahead of the column
        // (`limits: { connections: -1 }` names `connections`).
        let head = before
            .trim_end()
            .strip_suffix(':')
            .unwrap_or(before.trim_end());
        let key: String = head
            .chars()
            .rev()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return if key.is_empty() {
            key_of(loc.line)
        } else {
            Some(key)
        };
    }
    (1..loc.line)
        .rev()
        .find(|&l| !file.line_text(l).trim().is_empty())
        .filter(|&l| file.line_text(l).trim_end().ends_with(':'))
        .and_then(key_of)
}

/// The start of the mapping whose last key is at `loc`: walk up over its sibling keys and
/// their nested content, to its first key (or the `- ` that opens it).
fn mapping_start(
    file: &Arc<SourceFile>,
    loc: crate::diagnostic::Location,
) -> crate::diagnostic::Location {
    // A list item's `- ` counts as indentation: its keys line up with the keys below it.
    let indent = |text: &str| text.len() - text.trim_start_matches([' ', '-']).len();
    let is_item = |text: &str| text.trim_start().starts_with("- ");
    let level = indent(file.line_text(loc.line));
    let mut start = loc.line;
    if !is_item(file.line_text(start)) {
        for line in (1..loc.line).rev() {
            let text = file.line_text(line);
            let trimmed = text.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" {
                continue;
            }
            match indent(text) {
                i if i > level => continue,
                i if i == level => {
                    start = line;
                    if is_item(text) {
                        break;
                    }
                }
                _ => break,
            }
        }
    }
    let text = file.line_text(start);
    let column = text.len() - text.trim_start().len() + 1;
    file.at(start, column, text.trim().chars().count())
}

/// The first tab at the start of a line from `from` on.
fn first_tab(file: &Arc<SourceFile>, from: usize) -> Option<crate::diagnostic::Location> {
    (from..from + 3).find_map(|line| {
        let text = file.line_text(line);
        let column = text.find('\t')?;
        text[..column]
            .trim()
            .is_empty()
            .then(|| file.at(line, column + 1, 1))
    })
}

/// serde-saphyr appends "at line N, column M …" to its messages; the diagnostic shows the
/// position itself.
fn strip_position(text: &str) -> String {
    match text.find(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text.to_owned(),
    }
}

fn humanise(text: &str) -> String {
    // serde names Rust types; readers of a playbook think in YAML.
    text.replace(
        "expected mapping start",
        "expected a mapping of `key: value` pairs here",
    )
    .replace("expected sequence start", "expected a list here")
    .replace("expected u32", "expected a whole number")
    .replace(", use Option<String>", "")
    .replace("expected u64", "expected a whole number")
    .replace("struct ", "")
    .replace("a sequence", "a list")
}

/// Users who paste a secret into a playbook get told where secrets go instead.
fn secret_help(field: &str) -> Option<String> {
    let lower = field.to_ascii_lowercase();
    ["secret", "password", "token", "key", "pfx"]
        .iter()
        .any(|w| lower.contains(w))
        .then(|| {
            "secrets are never written in a playbook: name an environment variable (`secret_env`, `password_env`, `token_env`) or a file (`secret_file`, `password_file`, `key_file`)".to_owned()
        })
}

/// Looks for `key:` from `from` onwards within a few lines, for errors the parser can only
/// place at the start of the enclosing block.
fn find_key(
    file: &Arc<SourceFile>,
    from: crate::diagnostic::Location,
    needle: &str,
) -> crate::diagnostic::Location {
    let lines = from.line..from.line + 40;
    // First as a key: `needle:` at the start of a line or after `- `, `{` or `,` (flow
    // mappings), on the reported line from its column on, then on the lines below.
    for line in lines.clone() {
        let text = file.line_text(line);
        let skip = if line == from.line {
            from.column - 1
        } else {
            0
        };
        let mut search_from = text.char_indices().nth(skip).map_or(text.len(), |(i, _)| i);
        while let Some(found) = text[search_from..].find(needle) {
            let at = search_from + found;
            let after = text[at + needle.len()..].trim_start();
            let before = text[..at].trim_end();
            if after.starts_with(':') && (before.is_empty() || before.ends_with(['-', '{', ','])) {
                return file.at(line, text[..at].chars().count() + 1, needle.chars().count());
            }
            search_from = at + needle.len();
        }
    }
    // Then as a value: `method: needle`.
    for line in lines {
        let text = file.line_text(line);
        if let Some(i) = text.find(&format!(": {needle}")) {
            let column = text[..i + 2].chars().count() + 1;
            return file.at(line, column, needle.chars().count());
        }
    }
    from
}

/// Resolves `relative` against the folder of the playbook.
pub(crate) fn resolve(base_dir: &Path, relative: &str) -> PathBuf {
    let p = Path::new(relative);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    }
}
