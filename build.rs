//! Builds the cmdlet catalog's index: `src/catalog/exo-cmdlets.json` is split into one
//! minified JSON text per cmdlet, laid end to end in `$OUT_DIR/catalog.json`, with a sorted
//! table of (lowercase name, name, start, end) in `$OUT_DIR/catalog_index.rs`. Looking up a
//! cmdlet is then a binary search and a parse of its own few hundred bytes, so validating a
//! playbook costs nothing for the 700 cmdlets it does not use.

use std::fmt::Write as _;
use std::path::PathBuf;

const CATALOG: &str = "src/catalog/exo-cmdlets.json";

fn main() {
    println!("cargo::rerun-if-changed={CATALOG}");
    println!("cargo::rerun-if-changed=build.rs");
    let text = std::fs::read_to_string(CATALOG).expect("the cmdlet catalog is readable");
    let catalog: serde_json::Value =
        serde_json::from_str(&text).expect("the cmdlet catalog is JSON");
    let cmdlets = catalog["cmdlets"]
        .as_object()
        .expect("the catalog has a `cmdlets` object");
    let mut entries: Vec<(String, &String, String)> = cmdlets
        .iter()
        .map(|(name, spec)| {
            (
                name.to_ascii_lowercase(),
                name,
                serde_json::to_string(spec).expect("a cmdlet's entry serializes"),
            )
        })
        .collect();
    entries.sort();
    let mut blob = String::new();
    let mut index = String::from("&[\n");
    for (lower, name, spec) in &entries {
        let start = blob.len();
        blob.push_str(spec);
        let _ = writeln!(index, "    ({lower:?}, {name:?}, {start}, {}),", blob.len());
    }
    index.push(']');
    let source = |key: &str| catalog[key].as_str().unwrap_or_default().to_string();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("catalog.json"), blob).expect("OUT_DIR is writable");
    std::fs::write(
        out.join("catalog_index.rs"),
        format!(
            "/// The catalog's source, commit and license, as the file gives them.\npub(super) const ORIGIN: (&str, &str, &str) = ({:?}, {:?}, {:?});\n/// (lowercase name, name, start, end) of each cmdlet's entry, sorted by the first.\npub(super) static INDEX: &[(&str, &str, usize, usize)] = {index};\n",
            source("source"),
            source("commit"),
            source("license"),
        ),
    )
    .expect("OUT_DIR is writable");
}
