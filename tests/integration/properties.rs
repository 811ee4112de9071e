//! Properties of expansion that must hold for any playbook: it is deterministic, and it is
//! complete (every tenant × item is planned exactly once, as a task or as a skip, under a
//! unique id).

use std::collections::HashSet;

use crate::support::Collect;
use proptest::prelude::*;
use tenantry::plan::{PlanOptions, Planner};
use tenantry::playbook::Playbook;

/// A playbook with `tenants` tenants and one step per entry of `steps`, all with the same name
/// (so step keys collide too), each looping over its items (strings, some repeated) and
/// skipping items whose length is a multiple of `skip_mod`.
fn playbook(tenants: usize, steps: &[(Vec<String>, usize)]) -> String {
    let mut y = String::from("version: 1\nname: Property\ntenants:\n");
    for t in 0..tenants {
        y.push_str(&format!(
            "  - {{ name: t{t}, organization: t{t}.onmicrosoft.com, cloud: sandbox, vars: {{ n: {t} }} }}\n"
        ));
    }
    y.push_str("steps:\n");
    for (items, skip_mod) in steps {
        let list: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
        y.push_str(&format!(
            "  - name: same name\n    cmdlet: Set-Mailbox\n    for_each: [{}]\n    when: \"{{{{ (item | length) % {skip_mod} != 0 }}}}\"\n    params: {{ Identity: \"{{{{ item }}}}-{{{{ vars.n }}}}\", CustomAttribute1: \"{{{{ loop.index }}}}\" }}\n",
            list.join(", ")
        ));
    }
    y
}

fn expand(path: &std::path::Path) -> Vec<serde_json::Value> {
    let pb = Playbook::load(path).expect("the generated playbook is valid");
    let env = tenantry::template::environment(&pb.dir);
    let planner = Planner::new(&env, &pb, &PlanOptions::default()).expect("it compiles");
    let mut sink = Collect::default();
    planner.expand_all(&mut sink).expect("it expands");
    sink.0
}

fn item() -> impl Strategy<Value = String> {
    // Few distinct values, so duplicates (and their #2 suffixes) are common.
    // `x#2` collides with the suffix a second `x` would get.
    prop::sample::select(vec![
        "a", "bb", "ccc", "a/b", "50%", "dddd", "é", "x", "x#2",
    ])
    .prop_map(str::to_owned)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn expansion_is_deterministic_and_complete(
        tenants in 1usize..6,
        steps in prop::collection::vec((prop::collection::vec(item(), 0..12), 1usize..4), 1..4),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, playbook(tenants, &steps)).expect("write");
        let first = expand(&path);
        prop_assert_eq!(&first, &expand(&path), "same playbook, same plan");

        let tasks: Vec<&serde_json::Value> = first.iter().filter(|r| r["type"] == "task").collect();
        let skipped: Vec<&serde_json::Value> = first.iter().filter(|r| r["type"] == "skipped").collect();
        let expected_items: usize = steps.iter().map(|(items, _)| items.len()).sum::<usize>() * tenants;
        prop_assert_eq!(tasks.len() + skipped.len(), expected_items);
        let expected_skips: usize = steps
            .iter()
            .map(|(items, m)| items.iter().filter(|i| i.chars().count() % m == 0).count())
            .sum::<usize>() * tenants;
        prop_assert_eq!(skipped.len(), expected_skips);

        let ids: HashSet<&str> = tasks.iter().chain(&skipped).map(|r| r["id"].as_str().unwrap()).collect();
        prop_assert_eq!(ids.len(), tasks.len() + skipped.len(), "ids are unique");
        for id in &ids {
            prop_assert_eq!(id.split('/').count(), 3, "tenant/step/item with separators escaped: {}", id);
        }
        let summary = first.last().unwrap();
        prop_assert_eq!(summary["type"].as_str(), Some("summary"));
        prop_assert_eq!(summary["tasks"].as_u64(), Some(tasks.len() as u64));
        prop_assert_eq!(summary["skipped"].as_u64(), Some(skipped.len() as u64));
    }
}
