//! Reading playbook and tenant files: size and encoding checks first, then YAML parsing with
//! hard budgets (alias bombs, deep nesting), with every failure turned into a located
//! [`Diagnostic`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::diagnostic::{Diagnostic, SourceFile, did_you_mean};

/// The largest playbook or tenants file tenantry reads. Real playbooks are kilobytes; a larger
/// file is a mistake (a log or a data dump passed by accident) and is refused before parsing.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Reads a file as UTF-8 text, refusing what is too large, binary or in another encoding.
pub fn read_source(path: &Path) -> Result<Arc<SourceFile>, Diagnostic> {
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
    let bytes = std::fs::read(path).map_err(|e| io_diagnostic(path, &e))?;
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
        Ok(text) => Ok(SourceFile::new(path, text)),
        Err(e) => {
            let good = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let bad = bytes[good];
            // Everything before `good` is valid, so it can be indexed for the position.
            let prefix = String::from_utf8_lossy(&bytes[..good]).into_owned();
            let line_start = prefix.rfind('\n').map_or(0, |i| i + 1);
            let lossy = String::from_utf8_lossy(&bytes).into_owned();
            let file = SourceFile::new(path, lossy);
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
pub fn io_diagnostic(path: &Path, e: &std::io::Error) -> Diagnostic {
    let what = match e.kind() {
        std::io::ErrorKind::NotFound => "does not exist".to_owned(),
        std::io::ErrorKind::PermissionDenied => "cannot be read: permission denied".to_owned(),
        _ => format!("cannot be read: {e}"),
    };
    Diagnostic::new(format!("`{}` {what}", path.display())).in_file(path)
}

/// Parses YAML text into `T` under tenantry's parsing rules.
pub fn parse<T: DeserializeOwned>(file: &Arc<SourceFile>) -> Result<T, Diagnostic> {
    let options = serde_saphyr::options! {
        with_snippet: false,
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::Error,
        budget: Some(budget()),
    };
    serde_saphyr::from_str_with_options(file.text(), options).map_err(|e| yaml_diagnostic(file, &e))
}

/// Limits well above any real playbook that stop resource-amplifying input (an alias bomb
/// expands a few hundred bytes into billions of nodes) before it costs memory or time.
fn budget() -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = 64;
    budget.max_nodes = 2_000_000;
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
    let mut d = match e.without_snippet() {
        E::SerdeUnknownField { field, expected, .. } => {
            let mut d = Diagnostic::new(format!("unknown field `{field}`"));
            if let Some(best) = did_you_mean(field, expected.iter().copied()) {
                d.message = format!("unknown field `{field}`, did you mean `{best}`?");
            } else if let Some(help) = secret_help(field) {
                d = d.help(help);
            }
            d = d.help(format!("valid fields here: {}", expected.join(", ")));
            // Inside `auth:` the parser can only point at the block; find the key itself.
            let location = location.map(|l| find_key(file, l, field));
            return d.at_opt(location);
        }
        E::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let mut d = Diagnostic::new(format!("unknown value `{variant}`"));
            if let Some(best) = did_you_mean(variant, expected.iter().copied()) {
                d.message = format!("unknown value `{variant}`, did you mean `{best}`?");
            }
            let location = location.map(|l| find_key(file, l, variant));
            return d
                .help(format!("valid values: {}", expected.join(", ")))
                .at_opt(location);
        }
        E::SerdeMissingField { field, .. } => {
            Diagnostic::new(format!("missing field `{field}`"))
        }
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
        E::Budget { .. } => Diagnostic::new(
            "the YAML expands beyond tenantry's limits (too many aliases, nodes or nesting levels)",
        )
        .help("a playbook this large is almost always an alias bomb; write the data out plainly or read it with csv()/json()"),
        other => Diagnostic::new(humanise(&strip_position(&other.to_string()))),
    };
    d.location = location;
    if d.message.contains("found a tab") {
        d = d.help("YAML indents with spaces only; replace the tab with spaces");
    }
    d
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
    text.replace("expected u32", "expected a whole number")
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
    // First as a key (`needle:`), then as a value (`method: needle`).
    for line in lines.clone() {
        let text = file.line_text(line);
        let trimmed = text.trim_start_matches([' ', '-']);
        if let Some(rest) = trimmed.strip_prefix(needle)
            && rest.trim_start().starts_with(':')
        {
            let column = text[..text.len() - trimmed.len()].chars().count() + 1;
            return file.at(line, column, needle.chars().count());
        }
    }
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
pub fn resolve(base_dir: &Path, relative: &str) -> PathBuf {
    let p = Path::new(relative);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    }
}
