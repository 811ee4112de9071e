//! Lexical checks on playbook strings: whether a value holds template syntax is decided by
//! the playbook itself, before and without the template engine.

/// True when `s` holds template syntax (`{{`, `{%` or `{#`).
pub(crate) fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

#[cfg(test)]
mod tests {
    use super::is_template;

    #[test]
    fn template_syntax_is_any_opening_delimiter() {
        assert!(is_template("{{ item }}"));
        assert!(is_template("{% if x %}y{% endif %}"));
        assert!(is_template("a {# note #}"));
        assert!(!is_template("plain text"));
        assert!(!is_template("{ not: a template }"));
    }
}
