//! The CI recipes in examples/ci/ run against the sandbox, so they cannot rot: each workflow
//! file is read as YAML, the `tenantry` lines of its jobs' scripts are taken in order (the
//! pull-request path, then the merge path), and each is run exactly as written, in the folder
//! the job runs it in, with the job's environment (the CI's values replaced by the test's:
//! the sandbox's apps, a federated token the sandbox signs). The script's own `case "$code"`
//! decides, run by the shell, whether the job passes with the exit code tenantry gave.
//!
//! The tenants are examples/ci/tenants.yaml's, pointed at the sandbox; everything else in
//! examples/ci/ is copied as it is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use tenantry::sandbox::{
    APPS, Sandbox, SandboxConfig, WORKLOAD_AUDIENCE, WORKLOAD_READER_SUBJECT, WORKLOAD_SUBJECT,
};

use crate::support::{Run, root, tenantry, tenantry_with_env};

/// The folder of the recipes.
fn recipes() -> PathBuf {
    root().join("examples/ci")
}

/// A file of examples/ci/ read as YAML.
fn yaml(name: &str) -> Value {
    let text = std::fs::read_to_string(recipes().join(name)).expect("readable");
    serde_saphyr::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The playbook the recipes use is valid as it stands, names its schema and passes it.
#[test]
fn the_ci_playbook_validates_and_names_its_schema() {
    let run = tenantry(&["validate", "examples/ci/baseline.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("is valid"), "{}", run.stderr);
    let run = tenantry(&["plan", "examples/ci/baseline.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(recipes().join("baseline.yaml")).expect("readable");
    assert_eq!(
        text.lines().next(),
        Some("# yaml-language-server: $schema=../../schemas/playbook.schema.json")
    );
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/playbook.schema.json")).expect("schema"),
    )
    .expect("JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let options = serde_saphyr::options! { strict_booleans: true };
    let doc: Value = serde_saphyr::from_str_with_options(&text, options).expect("YAML");
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// GitHub Actions: on a pull request, validate, check with the read-only app, comment, keep
/// the plan; on the push of the merge, download that plan and apply it with the app that
/// writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_github_actions_workflow_runs_against_the_sandbox() {
    let doc = yaml("github-actions.yml");
    assert!(
        doc["on"]["pull_request"].is_object(),
        "runs on pull requests: {}",
        doc["on"]
    );
    assert!(
        doc["on"]["push"]["branches"]
            .as_array()
            .is_some_and(|b| b.iter().any(|b| b == "main")),
        "runs on the push of a merge to main: {}",
        doc["on"]
    );
    rehearse(&GitHub(doc)).await;
}

/// GitLab CI/CD: in a merge request pipeline, validate, check with the read-only app, post a
/// note, keep the plan; on the default branch, fetch that plan and apply it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gitlab_pipeline_runs_against_the_sandbox() {
    rehearse(&GitLab(yaml("gitlab-ci.yml"))).await;
}

/// Runs a recipe's pull-request path, then its merge path in another checkout with the plan
/// carried over as the CI carries it, then the check again.
async fn rehearse(ci: &dyn Ci) {
    let tenants = yaml("tenants.yaml");
    let tenants = tenants.as_array().expect("tenants.yaml is a list");
    let domains: Vec<String> = tenants
        .iter()
        .map(|t| t["organization"].as_str().expect("an organization").into())
        .collect();
    let sandbox = Sandbox::start(SandboxConfig::with_domains(&domains, 12))
        .await
        .unwrap();

    // The pull request: validate, then check.
    let review = Checkout::new(&sandbox, tenants);
    let pr = ci.commands(Trigger::Review, &review);
    let verbs: Vec<&str> = pr.iter().map(|c| c.args[0].as_str()).collect();
    assert_eq!(verbs, ["validate", "check"], "the pull request's commands");
    let (validate, check) = (&pr[0], &pr[1]);
    let run = validate.run(&sandbox, &review).await;
    assert_eq!(run.code, 0, "{}: {}", validate.line, run.stderr);
    assert!(validate.passes(0));

    let run = check.run(&sandbox, &review).await;
    assert_eq!(
        run.code, 5,
        "{}: {}\n{}",
        check.line, run.stdout, run.stderr
    );
    for code in [0, 5, 6] {
        assert!(
            check.passes(code),
            "{}: exit {code} must let the job pass (and post the comment)",
            check.line
        );
    }
    for code in [1, 2, 3, 4] {
        assert!(!check.passes(code), "{}: exit {code} must fail", check.line);
    }
    assert!(
        sandbox.stats().writes.is_empty(),
        "a check writes nothing: {:?}",
        sandbox.stats().writes
    );
    let out = check.option("--out");
    let plan = review.path(&check.dir).join(&out);
    assert!(plan.is_file(), "{} writes {out}", check.line);
    assert_eq!(check.option("--format"), "markdown", "{}", check.line);
    let comment = check
        .stdout
        .as_ref()
        .unwrap_or_else(|| panic!("{}: the Markdown goes to a file", check.line));
    let markdown = std::fs::read_to_string(review.path(&check.dir).join(comment)).unwrap();
    assert!(
        markdown.starts_with("### tenantry check:"),
        "{comment}:\n{markdown}"
    );

    let posted = format!("{}/{comment}", check.dir);
    assert!(ci.posts(&posted), "the review posts {posted}");

    // The plan travels as the CI carries it: kept from the checkout at this path, and put
    // back at that path in the merge's checkout.
    let kept = ci.kept_plan(check);
    assert_eq!(
        kept,
        format!("{}/{out}", check.dir),
        "the artifact is the file check wrote"
    );
    let apply = Checkout::new(&sandbox, tenants);
    let merge = ci.commands(Trigger::Merge, &apply);
    let verbs: Vec<&str> = merge.iter().map(|c| c.args[0].as_str()).collect();
    assert_eq!(verbs, ["run"], "the merge's commands");
    let run_plan = &merge[0];
    let fetched = ci.fetched_plan(run_plan);
    assert_eq!(
        fetched,
        format!("{}/{}", run_plan.dir, run_plan.option("--plan")),
        "the merge fetches the plan to where `run --plan` reads it"
    );
    std::fs::create_dir_all(apply.path(&fetched).parent().unwrap()).unwrap();
    std::fs::copy(review.path(&kept), apply.path(&fetched)).unwrap();

    let run = run_plan.run(&sandbox, &apply).await;
    assert_eq!(
        run.code, 0,
        "{}: {}\n{}",
        run_plan.line, run.stdout, run.stderr
    );
    assert!(run_plan.passes(0));
    assert!(
        run_plan.passes(7),
        "{}: stale writes (exit 7) are a warning, not a failure",
        run_plan.line
    );
    for code in [1, 2, 3, 4] {
        assert!(
            !run_plan.passes(code),
            "{}: exit {code} must fail",
            run_plan.line
        );
    }
    written_as_planned(&sandbox, &plan, tenants);
    let report = apply
        .path(&run_plan.dir)
        .join(run_plan.option("--report"))
        .join("summary.json");
    assert!(report.is_file(), "{} writes its report", run_plan.line);

    // Checked again (as the next pull request would), nothing is left to change.
    let again = ci.commands(Trigger::Review, &apply);
    let run = again[1].run(&sandbox, &apply).await;
    assert_eq!(run.code, 0, "{}: {}", again[1].line, run.stdout);
    sandbox.shutdown().await;
}

/// The sandbox's write log holds exactly the plan's changes: per tenant, each planned object
/// written with the planned properties at their desired values, and nothing else.
fn written_as_planned(sandbox: &Sandbox, plan: &std::path::Path, tenants: &[Value]) {
    let domain = |name: &str| -> String {
        tenants
            .iter()
            .find(|t| t["name"] == name)
            .and_then(|t| t["organization"].as_str())
            .unwrap_or_else(|| panic!("tenant {name}"))
            .to_lowercase()
    };
    // (tenant domain, noun) -> object -> property -> value.
    type Changes = BTreeMap<(String, String), BTreeMap<String, BTreeMap<String, Value>>>;
    let mut planned = Changes::new();
    let text = std::fs::read_to_string(plan).unwrap();
    for line in text.lines() {
        let call: Value = serde_json::from_str(line).unwrap();
        if call["type"] != "call" {
            continue;
        }
        let id: Vec<&str> = call["id"].as_str().unwrap().split('/').collect();
        // An item's key names the object; a step of one object names none.
        let object = if id.len() > 2 {
            local(id[2])
        } else {
            String::new()
        };
        let properties = call["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["property"].as_str().unwrap().into(), c["desired"].clone()))
            .collect();
        let key = (domain(id[0]), noun(call["cmdlet"].as_str().unwrap()));
        let previous = planned.entry(key).or_default().insert(object, properties);
        assert!(previous.is_none(), "one call per object: {line}");
    }
    assert!(!planned.is_empty(), "the plan changes something");

    let mut written = Changes::new();
    for w in sandbox.stats().writes {
        assert_eq!(w.status, 200, "{w:?}");
        let mut params = w.parameters.as_object().unwrap().clone();
        let object = ["Identity", "Name"]
            .iter()
            .find_map(|k| params.remove(*k))
            .map(|v| local(v.as_str().unwrap()))
            .unwrap_or_default();
        let object = written
            .entry((w.tenant.to_lowercase(), noun(&w.cmdlet)))
            .or_default()
            .entry(object)
            .or_default();
        object.extend(params);
    }
    for ((tenant, noun), objects) in &planned {
        let got = written.get(&(tenant.clone(), noun.clone()));
        let got = got.unwrap_or_else(|| panic!("{tenant}: no {noun} written"));
        let single = objects.len() == 1 && objects.contains_key("");
        if single {
            // A step of one object: the one written, whatever names it.
            assert_eq!(got.len(), 1, "{tenant}: one {noun} written: {got:?}");
            let (_, properties) = got.iter().next().unwrap();
            assert_eq!(properties, &objects[""], "{tenant} {noun}");
        } else {
            assert_eq!(got, objects, "{tenant}: the {noun} objects written");
        }
    }
    let extra: BTreeSet<_> = written
        .keys()
        .filter(|k| !planned.contains_key(*k))
        .collect();
    assert!(extra.is_empty(), "written without a plan: {extra:?}");
}

/// The noun of a cmdlet (`Mailbox` of `Set-Mailbox`): a create and a set of one object meet.
fn noun(cmdlet: &str) -> String {
    cmdlet.split_once('-').map_or(cmdlet, |(_, n)| n).into()
}

/// An object's name as task ids and writes both give it: the part before `@`, in lower case.
fn local(name: &str) -> String {
    name.split('@').next().unwrap_or(name).to_lowercase()
}

/// A checkout of the repository as the CI makes it: examples/ci/ with its tenants on the
/// sandbox, and a temporary folder for the runner.
struct Checkout {
    dir: tempfile::TempDir,
    temp: tempfile::TempDir,
}

impl Checkout {
    fn new(sandbox: &Sandbox, tenants: &[Value]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("examples/ci");
        std::fs::create_dir_all(&target).unwrap();
        for entry in std::fs::read_dir(recipes()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let source = [".yaml", ".yml", ".md", ".csv", ".json"]
                .iter()
                .any(|e| name.ends_with(e));
            if path.is_file() && source && !["tenants.yaml", "check.md"].contains(&&*name) {
                std::fs::copy(&path, target.join(&name)).unwrap();
            }
        }
        // The same tenants, reached through the sandbox's endpoints. Without an auth block
        // each signs in with the job's AZURE_* variables, as in the CI.
        let url = sandbox.url();
        let on_sandbox: Vec<Value> = tenants
            .iter()
            .map(|t| {
                let mut t = t.as_object().expect("a tenant is a mapping").clone();
                assert!(
                    t.get("auth").is_none(),
                    "the recipes' tenants sign in with the job's AZURE_* variables: {t:?}"
                );
                t.insert("cloud".into(), "custom".into());
                t.insert(
                    "endpoints".into(),
                    serde_json::json!({
                        "rest": url,
                        "authority": url,
                        "scope": "https://outlook.office365.com/.default",
                    }),
                );
                Value::Object(t)
            })
            .collect();
        std::fs::write(
            target.join("tenants.yaml"),
            serde_json::to_string_pretty(&on_sandbox).unwrap(),
        )
        .unwrap();
        Checkout {
            dir,
            temp: tempfile::tempdir().unwrap(),
        }
    }

    /// A path relative to the checkout's root.
    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn root(&self) -> String {
        self.dir.path().to_string_lossy().into_owned()
    }
}

/// Which way through a recipe.
#[derive(Clone, Copy, Debug)]
enum Trigger {
    /// A pull (merge) request: validate, check, comment, keep the plan.
    Review,
    /// The merge: fetch the plan and apply it.
    Merge,
}

/// A CI system's recipe: its jobs' scripts, and how it carries the plan between them.
trait Ci {
    /// The `tenantry` commands of `path`, in order, as they run in `checkout`.
    fn commands(&self, trigger: Trigger, checkout: &Checkout) -> Vec<Command>;
    /// The path (from the checkout's root) of the file kept as the plan's artifact.
    fn kept_plan(&self, check: &Command) -> String;
    /// The path (from the checkout's root) the merge fetches the plan to.
    fn fetched_plan(&self, run: &Command) -> String;
    /// Whether the review posts the file at `markdown` (from the checkout's root).
    fn posts(&self, markdown: &str) -> bool;
}

/// A shell script a job runs.
struct Script {
    /// Job and step, for messages.
    origin: String,
    text: String,
    /// Its environment, the CI's values replaced by the test's.
    env: BTreeMap<String, String>,
    /// The folder it starts in, from the checkout's root.
    dir: String,
    /// Exit codes with which the job still passes (GitLab's `allow_failure: exit_codes`).
    allowed: Vec<i32>,
}

/// A `tenantry` line of a script, ready to run.
struct Command {
    /// The line as written, with where it is.
    line: String,
    /// Its arguments after `tenantry`, variables expanded.
    args: Vec<String>,
    /// The file its standard output is redirected to, if any.
    stdout: Option<String>,
    env: BTreeMap<String, String>,
    /// The folder it runs in, from the checkout's root, after the script's `cd`s.
    dir: String,
    /// The script's `case "$code" in … esac` handling its exit code, when the line keeps the
    /// code (`|| code=$?`); without it, any exit code but 0 fails the job.
    handling: Option<String>,
    allowed: Vec<i32>,
}

impl Command {
    /// The value of `--name VALUE` (or `--name=VALUE`).
    fn option(&self, name: &str) -> String {
        let mut args = self.args.iter();
        while let Some(a) = args.next() {
            if a == name {
                return args.next().cloned().unwrap_or_default();
            }
            if let Some(v) = a.strip_prefix(&format!("{name}=")) {
                return v.into();
            }
        }
        panic!("{}: no {name}", self.line)
    }

    /// Runs it in `checkout`, as the job would; its standard output goes where the line
    /// redirects it. The federated token file the job writes holds a token the sandbox signs
    /// for the subject the app's federated credential trusts.
    async fn run(&self, sandbox: &Sandbox, checkout: &Checkout) -> Run {
        if let Some(file) = self.env.get("AZURE_FEDERATED_TOKEN_FILE") {
            let client = self.env.get("AZURE_CLIENT_ID").map(String::as_str);
            let subject = if client == Some(APPS[0].client_id) {
                WORKLOAD_SUBJECT
            } else if client == Some(APPS[1].client_id) {
                WORKLOAD_READER_SUBJECT
            } else {
                panic!("{}: AZURE_CLIENT_ID names no app: {client:?}", self.line)
            };
            let file = PathBuf::from(file);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, sandbox.workload_token(subject, None, 600)).unwrap();
        }
        let dir = checkout.path(&self.dir);
        let args = self.args.clone();
        let env: Vec<(String, String)> = self.env.clone().into_iter().collect();
        let run = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            tenantry_with_env(&dir, &args, &env)
        })
        .await
        .unwrap();
        if let Some(file) = &self.stdout {
            std::fs::write(checkout.path(&self.dir).join(file), &run.stdout).unwrap();
        }
        run
    }

    /// Whether the job passes when tenantry exits with `code`: the script's own handling,
    /// run by the shell.
    fn passes(&self, code: i32) -> bool {
        let Some(case) = &self.handling else {
            return code == 0;
        };
        let status = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("set -eo pipefail\ncode={code}\n{case}"))
            .env("GITHUB_OUTPUT", "/dev/null")
            .env("GITHUB_STEP_SUMMARY", "/dev/null")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("bash runs");
        let status = status.code().unwrap_or(-1);
        status == 0 || self.allowed.contains(&status)
    }
}

/// A script's lines, continuation lines joined, each with the folder it runs in (after the
/// script's `cd`s), from the checkout's root.
fn lines_in(script: &Script, checkout: &Checkout) -> Vec<(String, String)> {
    let mut joined = Vec::new();
    let mut pending = String::new();
    for line in script.text.lines() {
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        joined.push(std::mem::take(&mut pending));
    }
    if !pending.is_empty() {
        joined.push(pending);
    }
    let mut dir = script.dir.clone();
    let lenient = |n: &str| Some(script.env.get(n).cloned().unwrap_or_default());
    joined
        .into_iter()
        .map(|line| {
            if let Some(to) = line.trim().strip_prefix("cd ") {
                let to = words(to, &lenient, &script.origin);
                dir = join(&dir, &to[0], checkout)
                    .unwrap_or_else(|| panic!("{}: `cd` out of the checkout", script.origin));
            }
            (dir.clone(), line)
        })
        .collect()
}

/// `to` from folder `dir`, both from the checkout's root (an absolute `to` inside the checkout
/// counts from its root); `None` when it is outside the checkout.
fn join(dir: &str, to: &str, checkout: &Checkout) -> Option<String> {
    let to = match to.strip_prefix(&checkout.root()) {
        Some(inside) => inside.trim_start_matches('/').to_string(),
        None if to.starts_with('/') => return None,
        None => format!("{dir}/{to}"),
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in to.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    })
}

/// The `tenantry` commands of a script, in order.
fn commands(script: &Script, checkout: &Checkout) -> Vec<Command> {
    let lines = lines_in(script, checkout);
    let mut out = Vec::new();
    for (i, (dir, line)) in lines.iter().enumerate() {
        let text = line.trim();
        if !text.starts_with("tenantry ") {
            continue;
        }
        let origin = format!("{}: `{text}`", script.origin);
        assert!(
            !text.contains("${{"),
            "{origin}: give CI expressions to tenantry through env variables"
        );
        let (command, keeps_code) = match text.split_once("||") {
            Some((command, tail)) => {
                assert_eq!(
                    tail.trim(),
                    "code=$?",
                    "{origin}: keep the exit code with `|| code=$?`"
                );
                (command, true)
            }
            None => (text, false),
        };
        let strict = |n: &str| script.env.get(n).cloned();
        let mut args = Vec::new();
        let mut stdout = None;
        let mut tokens = tokens(command, &strict).unwrap_or_else(|e| panic!("{origin}: {e}"));
        tokens.reverse();
        while let Some(token) = tokens.pop() {
            match token {
                Token::Word(w) => args.push(w),
                Token::Op(op) if op == ">" => match tokens.pop() {
                    Some(Token::Word(file)) => stdout = Some(file),
                    _ => panic!("{origin}: `>` and no file"),
                },
                Token::Op(op) => panic!("{origin}: `{op}` is more shell than this test runs"),
            }
        }
        assert_eq!(args.remove(0), "tenantry");
        let handling = keeps_code.then(|| {
            let rest: Vec<&str> = lines[i + 1..]
                .iter()
                .map(|(_, l)| l.trim())
                .take_while(|l| !l.starts_with("tenantry "))
                .skip_while(|l| !l.starts_with("case \"$code\" in"))
                .collect();
            let end = rest.iter().position(|l| *l == "esac").unwrap_or_else(|| {
                panic!("{origin}: keeps its exit code, and no `case \"$code\" in … esac` follows")
            });
            rest[..=end].join("\n")
        });
        out.push(Command {
            line: origin,
            args,
            stdout,
            env: script.env.clone(),
            dir: dir.clone(),
            handling,
            allowed: script.allowed.clone(),
        });
    }
    out
}

/// A shell token.
#[derive(Debug)]
pub enum Token {
    Word(String),
    Op(String),
}

/// Splits a line of shell as the shell does, for the little shell a CI line holds: words,
/// quotes, `$NAME` and `${NAME}` (from `var`), and operators.
pub fn tokens(text: &str, var: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    let expand = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| -> Result<String, String> {
        let name: String = if chars.peek() == Some(&'{') {
            chars.next();
            let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
            name
        } else {
            let mut name = String::new();
            while let Some(c) = chars
                .peek()
                .filter(|c| c.is_ascii_alphanumeric() || **c == '_')
            {
                name.push(*c);
                chars.next();
            }
            name
        };
        if name.is_empty() {
            return Err("a `$` this test cannot expand".into());
        }
        var(&name).ok_or_else(|| format!("${name} is not in the job's environment"))
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    out.push(Token::Word(std::mem::take(&mut word)));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                word.extend(chars.by_ref().take_while(|c| *c != '\''));
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('$') => word.push_str(&expand(&mut chars)?),
                        Some('\\') => word.extend(chars.next()),
                        Some(c) => word.push(c),
                        None => return Err("an unclosed quote".into()),
                    }
                }
            }
            '$' => {
                in_word = true;
                word.push_str(&expand(&mut chars)?);
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            '|' | '&' | ';' | '<' | '>' | '(' | ')' | '`' => {
                if in_word {
                    out.push(Token::Word(std::mem::take(&mut word)));
                    in_word = false;
                }
                let mut op = c.to_string();
                while let Some(n) = chars.peek().filter(|n| "|&;<>".contains(**n)) {
                    op.push(*n);
                    chars.next();
                }
                out.push(Token::Op(op));
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        out.push(Token::Word(word));
    }
    Ok(out)
}

/// The words of a line, every variable known (`var` gives the empty string for the rest).
fn words(text: &str, var: &dyn Fn(&str) -> Option<String>, origin: &str) -> Vec<String> {
    tokens(text, var)
        .unwrap_or_else(|e| panic!("{origin}: `{text}`: {e}"))
        .into_iter()
        .filter_map(|t| match t {
            Token::Word(w) => Some(w),
            Token::Op(_) => None,
        })
        .collect()
}

/// The value of `--name VALUE` among `words`.
fn flag(words: &[String], name: &str) -> Option<String> {
    words
        .iter()
        .position(|w| w == name)
        .and_then(|i| words.get(i + 1).cloned())
}

/// `audience` as it goes in a URL's query.
fn url_encoded(audience: &str) -> String {
    audience.replace(':', "%3A").replace('/', "%2F")
}

/// The GitHub Actions workflow.
struct GitHub(Value);

impl GitHub {
    /// The job of a path: the one whose `if` names the event.
    fn job(&self, trigger: Trigger) -> (&str, &Value) {
        let event = match trigger {
            Trigger::Review => "pull_request",
            Trigger::Merge => "push",
        };
        let jobs: Vec<(&String, &Value)> = self.0["jobs"]
            .as_object()
            .expect("jobs")
            .iter()
            .filter(|(_, j)| {
                j["if"]
                    .as_str()
                    .is_some_and(|c| c.contains(&format!("github.event_name == '{event}'")))
            })
            .collect();
        assert_eq!(jobs.len(), 1, "one job runs on {event}");
        (jobs[0].0, jobs[0].1)
    }

    /// `${{ … }}` replaced by the test's values; one the test does not know stays visible.
    fn expand(&self, text: &str, checkout: &Checkout) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = start + rest[start..].find("}}").expect("a closed expression");
            let expr = rest[start + 3..end].trim();
            let value = match expr {
                "vars.TENANTRY_READER_APP_ID" => APPS[1].client_id.to_string(),
                "vars.TENANTRY_APP_ID" => APPS[0].client_id.to_string(),
                "runner.temp" => checkout.temp.path().display().to_string(),
                "vars.TENANTRY_GIT" | "vars.TENANTRY_REV" | "github.token" => "unused".into(),
                e => match e.strip_prefix("env.") {
                    Some(name) => self.expand(
                        self.0["env"][name].as_str().expect("a workflow env"),
                        checkout,
                    ),
                    None => format!("<{expr}, unknown to the test>"),
                },
            };
            out.push_str(&value);
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// The `run:` steps of a path's job.
    fn scripts(&self, trigger: Trigger, checkout: &Checkout) -> Vec<Script> {
        let (name, job) = self.job(trigger);
        fn defaults(v: &Value) -> Option<&str> {
            v["defaults"]["run"]["working-directory"].as_str()
        }
        let dir = defaults(job).or(defaults(&self.0)).unwrap_or(".");
        job["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter(|s| s["run"].is_string())
            .map(|step| {
                assert!(
                    step["shell"].is_null() || step["shell"] == "bash",
                    "{step}: the test runs bash"
                );
                let mut env = BTreeMap::new();
                for scope in [&self.0["env"], &job["env"], &step["env"]] {
                    for (k, v) in scope.as_object().into_iter().flatten() {
                        let v = v.as_str().map_or(v.to_string(), str::to_string);
                        env.insert(k.clone(), self.expand(&v, checkout));
                    }
                }
                Script {
                    origin: format!("job {name}, step {}", step["name"].as_str().unwrap_or("")),
                    text: step["run"].as_str().unwrap().into(),
                    env,
                    dir: step["working-directory"].as_str().unwrap_or(dir).into(),
                    allowed: Vec::new(),
                }
            })
            .collect()
    }

    /// The artifact the merge downloads: its name, and the folder it goes to.
    fn downloaded(&self) -> (String, String) {
        // Any checkout serves: the names and folders do not depend on it.
        let checkout = tempfile::tempdir().unwrap();
        let checkout = Checkout {
            dir: checkout,
            temp: tempfile::tempdir().unwrap(),
        };
        for script in self.scripts(Trigger::Merge, &checkout) {
            for (dir, line) in lines_in(&script, &checkout) {
                if !line.trim().starts_with("gh run download") {
                    continue;
                }
                let lenient = |n: &str| Some(script.env.get(n).cloned().unwrap_or_default());
                let words = words(&line, &lenient, &script.origin);
                let name = flag(&words, "--name").expect("gh run download --name");
                let to = flag(&words, "--dir").unwrap_or_else(|| ".".into());
                return (
                    name,
                    join(&dir, &to, &checkout).expect("inside the checkout"),
                );
            }
        }
        panic!("the merge job downloads the plan with `gh run download`")
    }

    /// The path of the file uploaded as the artifact `name` by the review job.
    fn uploaded(&self, name: &str) -> String {
        let (_, job) = self.job(Trigger::Review);
        let checkout = Checkout {
            dir: tempfile::tempdir().unwrap(),
            temp: tempfile::tempdir().unwrap(),
        };
        job["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| {
                s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
            })
            .find(|s| self.expand(s["with"]["name"].as_str().unwrap_or(""), &checkout) == name)
            .and_then(|s| s["with"]["path"].as_str())
            .unwrap_or_else(|| panic!("the review job uploads the artifact {name}"))
            .into()
    }
}

impl Ci for GitHub {
    fn commands(&self, trigger: Trigger, checkout: &Checkout) -> Vec<Command> {
        let (name, job) = self.job(trigger);
        assert_eq!(
            job["permissions"]["id-token"], "write",
            "job {name} asks for the OIDC token"
        );
        let mut out = Vec::new();
        for script in self.scripts(trigger, checkout) {
            let found = commands(&script, checkout);
            if found
                .iter()
                .any(|c| c.env.contains_key("AZURE_FEDERATED_TOKEN_FILE"))
            {
                // The token the federated credential takes: from GitHub's OIDC endpoint, for
                // the audience Entra ID expects.
                assert!(
                    script.text.contains("$ACTIONS_ID_TOKEN_REQUEST_URL")
                        && script
                            .text
                            .contains(&format!("audience={}", url_encoded(WORKLOAD_AUDIENCE))),
                    "{}: writes the OIDC token for {WORKLOAD_AUDIENCE}",
                    script.origin
                );
            }
            out.extend(found);
        }
        out
    }

    fn kept_plan(&self, _check: &Command) -> String {
        self.uploaded(&self.downloaded().0)
    }

    fn posts(&self, markdown: &str) -> bool {
        let (_, job) = self.job(Trigger::Review);
        job["steps"].as_array().unwrap().iter().any(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/github-script@"))
                && s["env"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .any(|(_, v)| v == markdown)
        })
    }

    fn fetched_plan(&self, _run: &Command) -> String {
        let (name, dir) = self.downloaded();
        let uploaded = self.uploaded(&name);
        let file = uploaded.rsplit('/').next().unwrap();
        format!("{dir}/{file}")
    }
}

/// The GitLab CI/CD pipeline.
struct GitLab(Value);

impl GitLab {
    /// A job with what it `extends` merged in (variables and ID tokens key by key).
    fn resolved(&self, name: &str) -> Value {
        let job = self.0[name]
            .as_object()
            .unwrap_or_else(|| panic!("job {name}"));
        let mut out = serde_json::Map::new();
        let bases: Vec<&str> = match &job.get("extends") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let layers: Vec<Value> = bases
            .into_iter()
            .map(|b| self.resolved(b))
            .chain([Value::Object(job.clone())])
            .collect();
        for layer in layers {
            for (k, v) in layer.as_object().unwrap() {
                match (out.get_mut(k), v) {
                    (Some(Value::Object(mine)), Value::Object(theirs))
                        if k == "variables" || k == "id_tokens" =>
                    {
                        mine.extend(theirs.clone());
                    }
                    _ => {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        out.remove("extends");
        Value::Object(out)
    }

    /// The job of a path: the one whose rules name the pipeline.
    fn job(&self, trigger: Trigger) -> (String, Value) {
        let marker = match trigger {
            Trigger::Review => "$CI_PIPELINE_SOURCE == \"merge_request_event\"",
            Trigger::Merge => "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH",
        };
        let keywords = [
            "stages",
            "variables",
            "workflow",
            "default",
            "include",
            "image",
            "services",
            "cache",
            "before_script",
            "after_script",
        ];
        let jobs: Vec<(String, Value)> = self
            .0
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| !k.starts_with('.') && !keywords.contains(&k.as_str()))
            .map(|k| (k.clone(), self.resolved(k)))
            .filter(|(_, j)| {
                j["rules"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| r["if"].as_str().is_some_and(|c| c.contains(marker)))
            })
            .collect();
        assert_eq!(jobs.len(), 1, "one job runs on {marker}");
        jobs.into_iter().next().unwrap()
    }

    /// A path's job as the runner hands it to the shell: `before_script` then `script`, with
    /// the pipeline's and the job's variables (the project's CI/CD variables the test's).
    fn script(&self, trigger: Trigger, checkout: &Checkout) -> Script {
        let (name, job) = self.job(trigger);
        let mut env: BTreeMap<String, String> = [
            ("CI_PROJECT_DIR", checkout.root()),
            ("TENANTRY_READER_APP_ID", APPS[1].client_id.into()),
            ("TENANTRY_APP_ID", APPS[0].client_id.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for scope in [&self.0["variables"], &job["variables"]] {
            for (k, v) in scope.as_object().into_iter().flatten() {
                let v = v.as_str().map_or(v.to_string(), str::to_string);
                let known = env.clone();
                let lookup = |n: &str| Some(known.get(n).cloned().unwrap_or_default());
                let expanded = words(&format!("\"{v}\""), &lookup, &name).concat();
                env.insert(k.clone(), expanded);
            }
        }
        for (k, token) in job["id_tokens"].as_object().into_iter().flatten() {
            assert_eq!(
                token["aud"], WORKLOAD_AUDIENCE,
                "job {name}: the ID token {k} is for Entra ID"
            );
            env.insert(k.clone(), "(the ID token)".into());
        }
        let lines = |key: &str| -> Vec<String> {
            job[key]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| l.as_str().expect("a script line").to_string())
                .collect()
        };
        let text = [lines("before_script"), lines("script")]
            .concat()
            .join("\n");
        let allowed = job["allow_failure"]["exit_codes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c.as_i64().unwrap() as i32)
            .collect();
        Script {
            origin: format!("job {name}"),
            text,
            env,
            dir: ".".into(),
            allowed,
        }
    }

    /// The merge job's line fetching the plan: the artifact's path, and where it is written.
    fn fetch(&self) -> (String, String) {
        let checkout = Checkout {
            dir: tempfile::tempdir().unwrap(),
            temp: tempfile::tempdir().unwrap(),
        };
        let script = self.script(Trigger::Merge, &checkout);
        let (review, _) = self.job(Trigger::Review);
        assert!(
            script.text.contains(&format!("\"{review}\"")),
            "the merge job takes the plan from {review}"
        );
        for (dir, line) in lines_in(&script, &checkout) {
            let lenient = |n: &str| Some(script.env.get(n).cloned().unwrap_or_default());
            let Ok(tokens) = tokens(&line, &lenient) else {
                continue;
            };
            let mut artifact = None;
            let mut to = None;
            let mut tokens = tokens.into_iter().peekable();
            while let Some(t) = tokens.next() {
                match t {
                    Token::Word(w) if w.contains("/artifacts/") => {
                        artifact = w.split_once("/artifacts/").map(|(_, p)| p.to_string());
                    }
                    Token::Op(op) if op == ">" => {
                        if let Some(Token::Word(w)) = tokens.next() {
                            to = Some(w);
                        }
                    }
                    _ => {}
                }
            }
            if let (Some(artifact), Some(to)) = (artifact, to) {
                return (
                    artifact,
                    join(&dir, &to, &checkout).expect("inside the checkout"),
                );
            }
        }
        panic!("the merge job fetches the plan from the review job's artifacts")
    }
}

impl Ci for GitLab {
    fn commands(&self, trigger: Trigger, checkout: &Checkout) -> Vec<Command> {
        commands(&self.script(trigger, checkout), checkout)
    }

    fn kept_plan(&self, _check: &Command) -> String {
        let (artifact, _) = self.fetch();
        let (name, job) = self.job(Trigger::Review);
        assert!(
            job["artifacts"]["paths"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p == artifact.as_str())),
            "job {name} keeps {artifact} as an artifact: {}",
            job["artifacts"]
        );
        artifact
    }

    fn fetched_plan(&self, _run: &Command) -> String {
        self.fetch().1
    }

    fn posts(&self, markdown: &str) -> bool {
        let checkout = Checkout {
            dir: tempfile::tempdir().unwrap(),
            temp: tempfile::tempdir().unwrap(),
        };
        let script = self.script(Trigger::Review, &checkout);
        let lenient = |n: &str| Some(script.env.get(n).cloned().unwrap_or_default());
        lines_in(&script, &checkout)
            .iter()
            .filter(|(_, line)| !line.trim().starts_with("tenantry "))
            .any(|(dir, line)| {
                tokens(line, &lenient).is_ok_and(|tokens| {
                    tokens
                        .iter()
                        .any(|t| matches!(t, Token::Word(w) if join(dir, w, &checkout).as_deref() == Some(markdown)))
                })
            })
    }
}
