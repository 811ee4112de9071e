//! Data functions for templates: `csv`, `json`, `yaml`, `lines` and `env`. Files are read
//! relative to the playbook, may not leave its folder, and are read once per run however many
//! tenants use them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use minijinja::value::{Kwargs, Serde, Value};
use minijinja::{Environment, Error, ErrorKind};

/// The largest data file a template may read.
pub(crate) const MAX_DATA_BYTES: u64 = 256 * 1024 * 1024;

/// Data files read so far, keyed by canonical path and reader, shared by every template.
#[derive(Debug)]
pub(crate) struct DataFiles {
    root: PathBuf,
    shown_root: PathBuf,
    cache: Mutex<HashMap<(PathBuf, String), Value>>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

impl DataFiles {
    /// Data files under `root` (the playbook's folder).
    pub(crate) fn new(root: &Path) -> Arc<Self> {
        let shown_root = root.to_path_buf();
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        Arc::new(Self {
            root,
            shown_root,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The canonical path of `relative`, refused when it leaves the playbook's folder.
    fn confine(&self, relative: &str) -> Result<PathBuf, Error> {
        let joined = self.root.join(relative);
        let canonical = joined.canonicalize().map_err(|e| {
            let what = if e.kind() == std::io::ErrorKind::NotFound {
                "does not exist".to_owned()
            } else {
                format!("cannot be opened: {e}")
            };
            invalid(format!(
                "data file `{relative}` {what} (looked for {})",
                self.shown_root.join(relative).display()
            ))
        })?;
        if !canonical.starts_with(&self.root) {
            return Err(invalid(format!(
                "data file `{relative}` is outside the playbook's folder; data files must be in {} or below it",
                display_dir(&self.shown_root)
            )));
        }
        Ok(canonical)
    }

    /// Reads, parses and caches one file; `parse` turns its text into a value.
    fn load(
        &self,
        relative: &str,
        reader: &str,
        parse: impl FnOnce(&str, &str) -> Result<Value, Error>,
    ) -> Result<Value, Error> {
        let path = self.confine(relative)?;
        let key = (path.clone(), reader.to_owned());
        if let Some(v) = self.cache.lock().expect("cache lock").get(&key) {
            return Ok(v.clone());
        }
        let meta = std::fs::metadata(&path)
            .map_err(|e| invalid(format!("data file `{relative}` cannot be read: {e}")))?;
        if meta.len() > MAX_DATA_BYTES {
            return Err(invalid(format!(
                "data file `{relative}` is {} MiB; the limit is {} MiB",
                meta.len() / (1024 * 1024),
                MAX_DATA_BYTES / (1024 * 1024)
            )));
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| invalid(format!("data file `{relative}` cannot be read: {e}")))?;
        let text = match std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes))
        {
            Ok(t) => t.to_owned(),
            Err(e) => {
                let upto = &bytes[..e.valid_up_to()];
                let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
                return Err(invalid(format!(
                    "data file `{relative}` is not valid UTF-8 (line {line}); save it as UTF-8"
                )));
            }
        };
        let value = parse(relative, &text)?;
        self.cache
            .lock()
            .expect("cache lock")
            .insert(key, value.clone());
        Ok(value)
    }
}

fn display_dir(p: &Path) -> String {
    if p.as_os_str().is_empty() || p == Path::new(".") {
        "the current folder".to_owned()
    } else {
        format!("`{}`", p.display())
    }
}

/// Registers the data functions on `env`.
pub(crate) fn register(env: &mut Environment<'_>, files: &Arc<DataFiles>) {
    let f = Arc::clone(files);
    env.add_function(
        "csv",
        move |path: &str, kwargs: Kwargs| -> Result<Value, Error> {
            let delimiter: Option<String> = kwargs.get("delimiter")?;
            kwargs.assert_all_used()?;
            let delimiter = match delimiter.as_deref() {
                None => b',',
                Some(d) if d.len() == 1 => d.as_bytes()[0],
                Some(d) => {
                    return Err(invalid(format!(
                        "csv delimiter must be one character, got `{d}`"
                    )));
                }
            };
            f.load(path, &format!("csv{delimiter}"), |name, text| {
                parse_csv(name, text, delimiter)
            })
        },
    );
    let f = Arc::clone(files);
    env.add_function("json", move |path: &str| -> Result<Value, Error> {
        f.load(path, "json", |name, text| {
            let v: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| invalid(format!("data file `{name}` is not valid JSON: {e}")))?;
            Ok(Value::from(Serde(v)))
        })
    });
    let f = Arc::clone(files);
    env.add_function("yaml", move |path: &str| -> Result<Value, Error> {
        f.load(path, "yaml", |name, text| {
            let v: serde_json::Value =
                serde_saphyr::from_str_with_options(text, crate::playbook::load::options())
                    .map_err(|e| invalid(format!("data file `{name}` is not valid YAML: {e}")))?;
            Ok(Value::from(Serde(v)))
        })
    });
    let f = Arc::clone(files);
    env.add_function("lines", move |path: &str| -> Result<Value, Error> {
        f.load(path, "lines", |_, text| {
            Ok(text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(Value::from)
                .collect())
        })
    });
    env.add_function(
        "env",
        |name: &str, default: Option<Value>| -> Result<Value, Error> {
            match (std::env::var(name), default) {
                (Ok(v), _) => Ok(Value::from(v)),
                (Err(_), Some(d)) => Ok(d),
                (Err(std::env::VarError::NotUnicode(_)), None) => Err(invalid(format!(
                    "environment variable `{name}` is not valid UTF-8"
                ))),
                (Err(std::env::VarError::NotPresent), None) => Err(invalid(format!(
                    "environment variable `{name}` is not set; set it, or give a default: env('{name}', 'value')"
                ))),
            }
        },
    );
}

/// A CSV file as a list of mappings keyed by the header row; every value is a string.
fn parse_csv(name: &str, text: &str, delimiter: u8) -> Result<Value, Error> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(false)
        .trim(csv::Trim::Headers)
        .from_reader(text.as_bytes());
    let headers: Vec<Value> = reader
        .headers()
        .map_err(|e| csv_error(name, &e))?
        .iter()
        .map(Value::from)
        .collect();
    if headers.is_empty() || headers.iter().all(|h| h.as_str() == Some("")) {
        return Err(invalid(format!("data file `{name}` has no header row")));
    }
    for (i, h) in headers.iter().enumerate() {
        if headers[..i].contains(h) {
            return Err(invalid(format!(
                "data file `{name}` has the column `{h}` twice; each row becomes a mapping, so column names must be unique"
            )));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(name, &e))?;
        let row: indexmap::IndexMap<Value, Value> = headers
            .iter()
            .cloned()
            .zip(record.iter().map(Value::from))
            .collect();
        rows.push(Value::from(row));
    }
    Ok(Value::from(rows))
}

fn csv_error(name: &str, e: &csv::Error) -> Error {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => {
            let line = pos.as_ref().map_or(0, csv::Position::line);
            invalid(format!(
                "data file `{name}` line {line} has {len} field{}, but the header has {expected_len}",
                if *len == 1 { "" } else { "s" }
            ))
        }
        csv::ErrorKind::Utf8 { pos, .. } => invalid(format!(
            "data file `{name}` line {} is not valid UTF-8",
            pos.as_ref().map_or(0, csv::Position::line)
        )),
        _ => invalid(format!("data file `{name}` cannot be read as CSV: {e}")),
    }
}
