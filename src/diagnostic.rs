//! Located diagnostics: an error message tied to a file, line and column, rendered with the
//! offending source line and a caret, so every input mistake can be found and fixed at once.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An input file held in memory, with the index needed to turn byte offsets into lines.
#[derive(Debug)]
pub struct SourceFile {
    path: PathBuf,
    text: String,
    line_starts: Vec<usize>,
    /// Byte ranges never shown in a diagnostic (the secret part of a webhook URL): each of
    /// their characters but whitespace prints as `*`, so columns and carets still line up.
    hidden: Vec<std::ops::Range<usize>>,
}

impl SourceFile {
    /// Wraps a file's text; `path` is kept as the user gave it, for messages.
    pub fn new(path: impl Into<PathBuf>, text: String) -> Arc<Self> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Arc::new(Self {
            path: path.into(),
            text,
            line_starts,
            hidden: Vec::new(),
        })
    }

    /// As [`SourceFile::new`], with byte ranges that diagnostics show masked.
    pub fn with_hidden(
        path: impl Into<PathBuf>,
        text: String,
        hidden: Vec<std::ops::Range<usize>>,
    ) -> Arc<Self> {
        let mut file = Arc::into_inner(Self::new(path, text)).expect("a new Arc is unshared");
        file.hidden = hidden;
        Arc::new(file)
    }

    /// A copy of this file that also hides `more`.
    pub fn hiding(&self, more: impl IntoIterator<Item = std::ops::Range<usize>>) -> Arc<Self> {
        let mut hidden = self.hidden.clone();
        hidden.extend(more);
        Self::with_hidden(self.path.clone(), self.text.clone(), hidden)
    }

    /// Whether any of line `line` is hidden.
    pub fn hides_on(&self, line: usize) -> bool {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return false;
        };
        let end = start + self.line_text(line).len();
        self.hidden.iter().any(|r| r.start < end && r.end > start)
    }

    /// A 1-based line as a diagnostic shows it: as [`SourceFile::line_text`], its hidden
    /// characters masked.
    pub fn shown_line(&self, line: usize) -> std::borrow::Cow<'_, str> {
        let text = self.line_text(line);
        if !self.hides_on(line) {
            return text.into();
        }
        let start = self.line_starts[line - 1];
        text.char_indices()
            .map(|(i, c)| {
                let at = start + i;
                if !c.is_whitespace() && self.hidden.iter().any(|r| r.contains(&at)) {
                    '*'
                } else {
                    c
                }
            })
            .collect::<String>()
            .into()
    }

    /// The path as the user named it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text of a 1-based line, without its line ending.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |&next| next);
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// The byte offset where a 1-based line and 1-based character column start.
    pub fn offset_of(&self, line: usize, column: usize) -> Option<usize> {
        let start = *self.line_starts.get(line.checked_sub(1)?)?;
        let text = self.line_text(line);
        let within = text
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(text.len(), |(i, _)| i);
        Some(start + within)
    }

    /// The 1-based line and character column of a byte offset (inside a character: that
    /// character's).
    pub fn position_of(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        (line, column)
    }

    /// A location spanning `len` bytes from `offset`, clipped to the line it starts on.
    pub fn span(self: &Arc<Self>, offset: usize, len: usize) -> Location {
        let (line, column) = self.position_of(offset);
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let rest = &self.text[offset..];
        let rest = rest.split(['\n', '\r']).next().unwrap_or("");
        let width = rest
            .char_indices()
            .take_while(|(i, _)| *i < len)
            .count()
            .max(1);
        Location {
            file: Arc::clone(self),
            line,
            column,
            width,
        }
    }

    /// The first `needle` in the `window` bytes from byte `start`, as a location. Template
    /// errors use it to find the failing text inside the YAML scalar that holds the template,
    /// whatever its quoting or folding.
    pub fn find_near(
        self: &Arc<Self>,
        start: usize,
        window: usize,
        needle: &str,
    ) -> Option<Location> {
        let mut start = start.min(self.text.len());
        while !self.text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = start.saturating_add(window).min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let found = self.text.get(start..end)?.find(needle)?;
        Some(self.span(start + found, needle.len()))
    }

    /// A location at a 1-based line and column, `width` characters wide.
    pub fn at(self: &Arc<Self>, line: usize, column: usize, width: usize) -> Location {
        Location {
            file: Arc::clone(self),
            line: line.max(1),
            column: column.max(1),
            width: width.max(1),
        }
    }
}

/// A place in a source file: 1-based line and character column, and how many characters to mark.
#[derive(Clone, Debug)]
pub struct Location {
    /// The file the location is in.
    pub file: Arc<SourceFile>,
    /// 1-based line.
    pub line: usize,
    /// 1-based character column.
    pub column: usize,
    /// Characters to underline.
    pub width: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.file.path().display(),
            self.line,
            self.column
        )
    }
}

/// One problem, with where it is and what would fix it.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where, when the problem is in a file.
    pub location: Option<Location>,
    /// A file the problem concerns when no line can be named (a file too large to read, say).
    pub path: Option<PathBuf>,
    /// What would be valid, or what to do; one line each.
    pub help: Vec<String>,
}

impl Diagnostic {
    /// A diagnostic with a message and nothing else yet.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            location: None,
            path: None,
            help: Vec::new(),
        }
    }

    /// Places the diagnostic.
    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// Places the diagnostic at `location` when there is one.
    pub fn at_opt(mut self, location: Option<Location>) -> Self {
        if location.is_some() {
            self.location = location;
        }
        self
    }

    /// Names the file concerned when no line can be named.
    pub fn in_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Adds a line of help.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help.push(help.into());
        self
    }
}

impl Diagnostic {
    /// The problem on one line, `file:line:col: message (help; help)`, for a report's
    /// `error` field.
    pub fn one_line(&self) -> String {
        let mut line = match &self.location {
            Some(at) if at.file.hides_on(at.line) => {
                format!("{at}: {}", hide_urls(&self.message))
            }
            Some(at) => format!("{at}: {}", self.message),
            None => self.message.clone(),
        };
        if !self.help.is_empty() {
            line.push_str(&format!(" ({})", self.help.join("; ")));
        }
        line
    }
}

impl fmt::Display for Diagnostic {
    /// Renders as
    ///
    /// ```text
    /// error: unknown field `cmdlt`
    ///   --> playbook.yaml:12:5
    ///    |
    /// 12 |     cmdlt: Get-Mailbox
    ///    |     ^^^^^
    ///    = help: did you mean `cmdlet`?
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A message about a line with hidden text (a parser's, quoting a value) hides any URL
        // it quotes too.
        let message = match &self.location {
            Some(loc) if loc.file.hides_on(loc.line) => hide_urls(&self.message),
            _ => self.message.clone(),
        };
        writeln!(f, "error: {message}")?;
        let gutter = self
            .location
            .as_ref()
            .map_or(1, |l| l.line.to_string().len());
        let pad = " ".repeat(gutter);
        if let Some(loc) = &self.location {
            writeln!(f, "{pad}--> {loc}")?;
            let text = loc.file.shown_line(loc.line);
            // Tabs would misalign the caret; show them as single spaces.
            let shown: String = text
                .chars()
                .map(|c| if c == '\t' { ' ' } else { c })
                .collect();
            writeln!(f, "{pad} |")?;
            writeln!(f, "{} | {}", loc.line, shown.trim_end())?;
            let available = shown.chars().count().saturating_sub(loc.column - 1).max(1);
            writeln!(
                f,
                "{pad} | {}{}",
                " ".repeat(loc.column - 1),
                "^".repeat(loc.width.min(available))
            )?;
        } else if let Some(path) = &self.path {
            writeln!(f, "{pad}--> {}", path.display())?;
        }
        for help in &self.help {
            writeln!(f, "{pad} = help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// Several diagnostics reported together, so one run of `validate` shows every mistake.
#[derive(Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    /// True when nothing was reported.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Puts diagnostics in reading order: unplaced ones first, then by file, line and column.
    pub fn sort(&mut self) {
        self.0.sort_by_key(|d| {
            d.location
                .as_ref()
                .map(|l| (l.file.path().to_path_buf(), l.line, l.column))
        });
    }

    /// Adds all of `other`.
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// `Ok(())` when empty, else the diagnostics as an error.
    pub fn into_result(self) -> Result<(), Self> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Self(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        if self.0.len() > 1 {
            writeln!(f, "\n{} errors", self.0.len())?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = word.to_ascii_lowercase();
    // Jaro-Winkler ranks; an edit distance of one or two (a transposition counts as one)
    // also admits short words, where Jaro-Winkler scores typos like `gte` low.
    let close = |c: &str| {
        let distance = strsim::damerau_levenshtein(&lower, c);
        distance <= (lower.chars().count() / 3).clamp(1, 2)
    };
    candidates
        .into_iter()
        .map(|c| {
            let lc = c.to_ascii_lowercase();
            (strsim::jaro_winkler(&lower, &lc), close(&lc), c)
        })
        .filter(|(score, close, _)| *score > 0.8 || *close)
        .max_by(|a, b| {
            (a.1, a.0)
                .partial_cmp(&(b.1, b.0))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .map(|(_, _, c)| c)
}

/// Offers the closest known name for an unknown one: `, did you mean `x`?` or nothing.
pub fn suggest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    suggest_prefixed("", word, known)
}

/// As [`suggest`], writing the suggestion with `prefix` before it (`vars.`).
pub fn suggest_prefixed<'a>(
    prefix: &str,
    word: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> String {
    match did_you_mean(word, known) {
        Some(best) => format!(", did you mean `{prefix}{best}`?"),
        None => String::new(),
    }
}

pub use tenantry_common::plural;

/// The byte ranges of `text` that hide what follows the host of each URL-looking run
/// (`scheme://host/` stays; a path, query or user name after it is hidden), each with whether
/// it runs to the end of its line.
pub fn url_secrets(text: &str) -> Vec<(std::ops::Range<usize>, bool)> {
    let bytes = text.as_bytes();
    let ends = |b: u8| b.is_ascii_whitespace() || b == b'"' || b == b'\'' || b == b'`';
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let at = from + found;
        from = at + 3;
        let scheme = bytes[..at]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
            .count();
        if scheme == 0 {
            continue;
        }
        let end = (at + 3..bytes.len())
            .find(|&i| ends(bytes[i]))
            .unwrap_or(bytes.len());
        let host_end = (at + 3..end)
            .find(|&i| matches!(bytes[i], b'/' | b'?' | b'#'))
            .unwrap_or(end);
        let start = if text[at + 3..host_end].contains('@') {
            at + 3
        } else if bytes.get(host_end) == Some(&b'/') {
            host_end + 1
        } else {
            host_end
        };
        if start < end {
            let to_line_end = end == bytes.len() || matches!(bytes[end], b'\n' | b'\r');
            out.push((start..end, to_line_end));
        }
        from = end.max(from);
    }
    out
}

/// `text` with the secret part of each URL-looking run masked (see [`url_secrets`]).
pub fn hide_urls(text: &str) -> String {
    let hidden = url_secrets(text);
    text.char_indices()
        .map(|(i, c)| {
            if hidden.iter().any(|(r, _)| r.contains(&i)) {
                '*'
            } else {
                c
            }
        })
        .collect()
}

/// Each item in backticks, the last joined by `conjunction`: `` `a` ``, `` `a` or `b` ``,
/// `` `a`, `b` and `c` ``; empty for none.
pub fn quoted_list<S: AsRef<str>>(items: &[S], conjunction: &str) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{}`", i.as_ref())).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, init)) => format!("{} {conjunction} {last}", init.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_line_and_caret() {
        let file = SourceFile::new("p.yaml", "steps:\n  - cmdlt: Get-Mailbox\n".into());
        let d = Diagnostic::new("unknown field `cmdlt`")
            .at(file.at(2, 5, 5))
            .help("did you mean `cmdlet`?");
        insta::assert_snapshot!(d.to_string(), @r"
        error: unknown field `cmdlt`
         --> p.yaml:2:5
          |
        2 |   - cmdlt: Get-Mailbox
          |     ^^^^^
          = help: did you mean `cmdlet`?
        ");
    }

    #[test]
    fn offsets_and_positions_agree() {
        let file = SourceFile::new("p.yaml", "a: é\nbb: 2\n".into());
        assert_eq!(file.position_of(0), (1, 1));
        assert_eq!(file.position_of(6), (2, 1));
        assert_eq!(file.offset_of(2, 2), Some(7));
        assert_eq!(file.line_text(2), "bb: 2");
        assert_eq!(file.line_text(9), "");
    }

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(did_you_mean("cmdlt", ["cmdlet", "params"]), Some("cmdlet"));
        assert_eq!(did_you_mean("zzz", ["cmdlet", "params"]), None);
        assert_eq!(did_you_mean("Gte", ["Get", "Set", "Test"]), Some("Get"));
    }
}
