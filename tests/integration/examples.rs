//! Every example playbook validates, carries the schema comment, and plans to the pinned text
//! and JSON (snapshots under `snapshots/`).

use std::path::PathBuf;

use crate::support::{root, tenantry};

/// The playbooks under examples/ (tenant lists and data files are not playbooks).
fn playbooks() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .expect("examples/ exists")
        .map(|e| e.expect("a dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| {
            let text = std::fs::read_to_string(p).expect("readable");
            text.lines().any(|l| l.starts_with("steps:"))
        })
        .collect();
    out.sort();
    out
}

fn relative(p: &std::path::Path) -> String {
    p.strip_prefix(root())
        .expect("under root")
        .display()
        .to_string()
}

#[test]
fn there_is_a_quickstart_and_at_least_four_more() {
    let names: Vec<String> = playbooks().iter().map(|p| relative(p)).collect();
    assert!(
        names.contains(&"examples/quickstart.yaml".to_owned()),
        "{names:?}"
    );
    assert!(names.len() >= 5, "{names:?}");
}

#[test]
fn every_example_validates_and_names_its_schema() {
    for p in playbooks() {
        let name = relative(&p);
        let text = std::fs::read_to_string(&p).expect("readable");
        assert_eq!(
            text.lines().next(),
            Some("# yaml-language-server: $schema=../schemas/playbook.schema.json"),
            "{name} must start with the schema comment"
        );
        let run = tenantry(&["validate", &name]);
        assert_eq!(run.code, 0, "{name}:\n{}", run.stderr);
        assert!(run.stderr.contains("is valid"), "{name}: {}", run.stderr);
    }
}

#[test]
fn example_plans_are_pinned() {
    for p in playbooks() {
        let name = relative(&p);
        let stem = p
            .file_stem()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        let text = tenantry(&["plan", &name]);
        assert_eq!(text.code, 0, "{name}:\n{}", text.stderr);
        insta::assert_snapshot!(format!("plan_text_{stem}"), text.stdout);
        let json = tenantry(&["plan", &name, "--format", "json"]);
        assert_eq!(json.code, 0, "{name}:\n{}", json.stderr);
        let records: Vec<serde_json::Value> = json
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON Lines"))
            .collect();
        insta::assert_json_snapshot!(format!("plan_json_{stem}"), records);
    }
}

#[test]
fn every_example_passes_the_committed_playbook_schema() {
    // What an editor does with the schema comment: read the YAML as YAML 1.2 and validate it.
    let text =
        std::fs::read_to_string(root().join("schemas/playbook.schema.json")).expect("schema");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let options = serde_saphyr::options! { strict_booleans: true };
    for p in playbooks() {
        let name = relative(&p);
        let yaml = std::fs::read_to_string(&p).expect("readable");
        let doc: serde_json::Value =
            serde_saphyr::from_str_with_options(&yaml, options.clone()).expect("YAML");
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}:\n{}", errors.join("\n"));
    }
}
