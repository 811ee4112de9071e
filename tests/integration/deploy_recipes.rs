//! The deployment recipes cannot rot: examples/deploy/kubernetes/ (a CronJob of an Indexed
//! Job of shards, and a CronJob merging their reports), examples/deploy/Dockerfile (the image
//! they run) and examples/ci/nightly-shards.yml (a GitHub Actions matrix of shards and a merge).
//!
//! The manifests are read as YAML and held together: each `tenantry` argument list parses with
//! tenantry's own command line, each variable a container sets is one tenantry reads (or one its
//! arguments name), the identity is the one the sandbox's federated credential trusts, and the
//! image's entry point is the command the pods run. Then the recipe's own arguments run as
//! Kubernetes would run them, as local processes against one sandbox of 40 tenants: four shards
//! at once, one killed and started again as a retried pod, then the merge; the sandbox's write
//! log and the merged report are checked against a single unsharded run of the same playbook.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tenantry::sandbox::{APPS, Sandbox, SandboxConfig, WORKLOAD_AUDIENCE, WORKLOAD_SUBJECT};

use crate::support::{json_lines, root, tenantry_with_env};

/// The Kubernetes recipe's folder.
const KUBERNETES: &str = "examples/deploy/kubernetes";

/// The Job name the test gives the shards' pods (Kubernetes names a CronJob's Job
/// `<cronjob>-<minutes since the epoch>`).
const JOB_NAME: &str = "tenantry-shards-29412360";

/// Every document of every manifest of the recipe, with its file's name.
fn manifests() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(KUBERNETES))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let docs = serde_saphyr::from_multiple::<Value>(&text)
            .unwrap_or_else(|e| panic!("{name} is not YAML: {e}"));
        for doc in docs.into_iter().filter(|d| !d.is_null()) {
            out.push((name.clone(), doc));
        }
    }
    out
}

/// The one object of `kind` named `name`.
fn object<'a>(docs: &'a [(String, Value)], kind: &str, name: &str) -> &'a Value {
    let found: Vec<&Value> = docs
        .iter()
        .map(|(_, d)| d)
        .filter(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .collect();
    assert_eq!(found.len(), 1, "one {kind} {name}");
    found[0]
}

/// The pod template of a CronJob.
fn pod(cronjob: &Value) -> &Value {
    &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
}

/// The container named `tenantry` of a pod.
fn tenantry_container(pod: &Value) -> &Value {
    pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "tenantry")
        .expect("a container named tenantry")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("a list: {v}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("{s} is not a string: quote it"))
                .to_string()
        })
        .collect()
}

/// `$(NAME)` in a Kubernetes argument, expanded from `env` as the kubelet does (a name it does
/// not know stays as written).
fn expand(arg: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(start) = rest.find("$(") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find(')') else {
            break;
        };
        let name = &rest[start + 2..start + end];
        match env.get(name) {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[start..start + end + 1]),
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

/// The names `$(NAME)` an argument reads.
fn references(arg: &str) -> Vec<String> {
    arg.split("$(")
        .skip(1)
        .filter_map(|s| s.split_once(')').map(|(n, _)| n.to_string()))
        .collect()
}

/// The environment variables tenantry reads: the `env` of its command line's arguments, and
/// those its sources read with `var("…")` or `var_os("…")` (the `AZURE_*` variables of a tenant
/// without an auth block, `JOB_COMPLETION_INDEX` of `--shards`).
fn read_by_tenantry(name: &str) -> bool {
    fn envs(cmd: &clap::Command, out: &mut BTreeSet<String>) {
        for arg in cmd.get_arguments() {
            if let Some(env) = arg.get_env() {
                out.insert(env.to_string_lossy().into_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            envs(sub, out);
        }
    }
    let mut clap_envs = BTreeSet::new();
    envs(
        &<tenantry::cli::Cli as clap::CommandFactory>::command(),
        &mut clap_envs,
    );
    if clap_envs.contains(name) {
        return true;
    }
    fn sources(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut text = String::new();
    sources(&root().join("src"), &mut text);
    text.contains(&format!("var(\"{name}\")")) || text.contains(&format!("var_os(\"{name}\")"))
}

/// A container's arguments parse as a tenantry command line (with `$(NAME)` given a value).
fn parses(args: &[String], origin: &str) -> tenantry::cli::Cli {
    let line: Vec<String> = std::iter::once("tenantry".to_string())
        .chain(args.iter().map(|a| {
            let env = references(a).into_iter().map(|n| (n, "0".into())).collect();
            expand(a, &env)
        }))
        .collect();
    <tenantry::cli::Cli as clap::Parser>::try_parse_from(&line)
        .unwrap_or_else(|e| panic!("{origin}: tenantry refuses {line:?}:\n{e}"))
}

/// The Dockerfile's instructions, continuation lines joined, comments left out: (stage,
/// instruction, arguments), stages numbered from 0.
fn dockerfile() -> Vec<(usize, String, String)> {
    let text = std::fs::read_to_string(root().join("examples/deploy/Dockerfile")).unwrap();
    let mut out = Vec::new();
    let mut pending = String::new();
    let mut stage = None::<usize>;
    for line in text.lines() {
        let trimmed = line.trim();
        if pending.is_empty() && (trimmed.starts_with('#') || trimmed.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let line = std::mem::take(&mut pending);
        let (instruction, args) = line.split_once(' ').unwrap_or((&line, ""));
        let instruction = instruction.to_uppercase();
        if instruction == "FROM" {
            stage = Some(stage.map_or(0, |s| s + 1));
        }
        let stage = stage.expect("FROM first");
        out.push((stage, instruction, args.trim().to_string()));
    }
    out
}

/// What the image is: its build command, the binary's path and the user it runs as.
struct Image {
    builder: String,
    runtime: String,
    build_command: String,
    entrypoint: Vec<String>,
    user: String,
}

fn image() -> Image {
    let lines = dockerfile();
    let last = lines.iter().map(|(s, _, _)| *s).max().unwrap();
    assert!(last >= 1, "a multi-stage build");
    let of = |stage: usize, instruction: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|(s, i, _)| *s == stage && i == instruction)
            .map(|(_, _, a)| a.clone())
            .collect()
    };
    let from = of(0, "FROM");
    let (builder, build_stage) = from[0]
        .split_once(" AS ")
        .or_else(|| from[0].split_once(" as "))
        .expect("the build stage is named");
    let runs = of(0, "RUN");
    assert_eq!(runs.len(), 1, "one command builds: {runs:?}");
    let workdir = of(0, "WORKDIR").pop().expect("the build's WORKDIR");
    // The binary copied from the build stage, where cargo puts it.
    let copies: Vec<Vec<String>> = of(last, "COPY")
        .iter()
        .map(|c| c.split_whitespace().map(str::to_string).collect())
        .collect();
    assert_eq!(
        copies.len(),
        1,
        "the image holds the binary alone: {copies:?}"
    );
    assert_eq!(copies[0][0], format!("--from={}", build_stage.trim()));
    assert_eq!(
        copies[0][1],
        format!("{}/target/release/tenantry", workdir.trim_end_matches('/'))
    );
    let installed = copies[0][2].clone();
    let entrypoint: Vec<String> =
        serde_json::from_str(&of(last, "ENTRYPOINT").pop().expect("an ENTRYPOINT"))
            .expect("ENTRYPOINT in exec form: there is no shell to run a string");
    assert_eq!(
        entrypoint,
        [installed],
        "the entry point is the binary copied"
    );
    assert!(
        of(last, "RUN").is_empty(),
        "nothing runs in the image's stage: it has no shell"
    );
    Image {
        builder: builder.trim().to_string(),
        runtime: of(last, "FROM").pop().unwrap(),
        build_command: runs[0].clone(),
        entrypoint,
        user: of(last, "USER").pop().expect("a USER"),
    }
}

/// The Dockerfile: a multi-stage build with the command the README gives, the toolchain the
/// crate asks for, an image without a shell holding the CA bundle, a non-root user; the
/// Kubernetes recipe runs its binary, as that user.
#[test]
fn the_dockerfile_builds_what_the_manifests_run() {
    let image = image();
    assert_eq!(image.build_command, "cargo build --release --locked");
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(&image.build_command),
        "the README gives the build command"
    );
    assert!(
        readme.contains("docker build -f examples/deploy/Dockerfile"),
        "the README says how to build the image"
    );
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let rust_version = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    assert!(
        image.builder.starts_with(&format!("rust:{rust_version}-")),
        "the builder is the toolchain the crate asks for ({rust_version}): {}",
        image.builder
    );
    // distroless "cc": glibc and libgcc for the binary, the CA bundle rustls-native-certs
    // loads, and no shell.
    assert!(
        image.runtime.starts_with("gcr.io/distroless/cc-"),
        "{}",
        image.runtime
    );
    let (uid, gid) = image.user.split_once(':').unwrap_or((&image.user, ""));
    let uid: u32 = uid
        .parse()
        .expect("a numeric user, which runAsNonRoot can verify");
    assert_ne!(uid, 0, "not root");
    let ignore =
        std::fs::read_to_string(root().join("examples/deploy/Dockerfile.dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "target"), "{ignore}");

    let docs = manifests();
    for (file, doc) in &docs {
        if doc["kind"] != "CronJob" {
            continue;
        }
        let pod = pod(doc);
        let container = tenantry_container(pod);
        assert_eq!(
            strings(&container["command"]),
            image.entrypoint,
            "{file}: runs the image's entry point"
        );
        assert_eq!(
            pod["securityContext"]["runAsUser"].as_u64(),
            Some(u64::from(uid)),
            "{file}: as the image's user"
        );
        if !gid.is_empty() {
            assert_eq!(
                pod["securityContext"]["runAsGroup"]
                    .as_u64()
                    .map(|g| g.to_string()),
                Some(gid.to_string()),
                "{file}"
            );
        }
        let images: Vec<&str> = pod["containers"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["image"].as_str())
            .collect();
        assert_eq!(images, [container["image"].as_str().unwrap()], "{file}");
        let kustomization = docs
            .iter()
            .find(|(_, d)| d["kind"] == "Kustomization")
            .map(|(_, d)| d)
            .expect("a kustomization");
        let name = container["image"]
            .as_str()
            .unwrap()
            .split(':')
            .next()
            .unwrap();
        assert!(
            kustomization["images"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["name"] == name),
            "{file}: kustomization.yaml sets the image {name}"
        );
    }
}

/// The Kubernetes manifests hold together, and every command and variable in them is one
/// tenantry takes.
#[test]
fn the_kubernetes_manifests_hold_together_and_speak_tenantrys_command_line() {
    let docs = manifests();
    // kustomization.yaml lists every other file, in the namespace they name.
    let (_, kustomization) = docs
        .iter()
        .find(|(_, d)| d["kind"] == "Kustomization")
        .expect("a kustomization.yaml");
    let listed: BTreeSet<String> = strings(&kustomization["resources"]).into_iter().collect();
    let files: BTreeSet<String> = docs
        .iter()
        .filter(|(_, d)| d["kind"] != "Kustomization")
        .map(|(f, _)| f.clone())
        .collect();
    assert_eq!(listed, files, "kustomization.yaml's resources");
    let namespace = kustomization["namespace"].as_str().expect("a namespace");
    for (file, doc) in &docs {
        assert!(
            doc["apiVersion"].is_string() && doc["kind"].is_string(),
            "{file}"
        );
        if doc["kind"] == "Kustomization" {
            continue;
        }
        if doc["kind"] == "Namespace" {
            assert_eq!(doc["metadata"]["name"], namespace, "{file}");
        } else {
            assert_eq!(doc["metadata"]["namespace"], namespace, "{file}");
        }
    }

    let shards = object(&docs, "CronJob", "tenantry-shards");
    let merge = object(&docs, "CronJob", "tenantry-merge");
    for cronjob in [shards, merge] {
        assert_eq!(cronjob["spec"]["concurrencyPolicy"], "Forbid");
        let pod = pod(cronjob);
        assert_eq!(pod["restartPolicy"], "Never");
        let security = &pod["securityContext"];
        assert_eq!(security["runAsNonRoot"], true);
        for container in pod["containers"]
            .as_array()
            .unwrap()
            .iter()
            .chain(pod["initContainers"].as_array().into_iter().flatten())
        {
            let name = &container["name"];
            let security = &container["securityContext"];
            assert_eq!(security["readOnlyRootFilesystem"], true, "{name}");
            assert_eq!(security["allowPrivilegeEscalation"], false, "{name}");
            assert_eq!(
                security["capabilities"]["drop"],
                serde_json::json!(["ALL"]),
                "{name}"
            );
        }
    }

    // The shards: an Indexed Job of N pods, N the `--shards` of their command.
    let job = &shards["spec"]["jobTemplate"]["spec"];
    let shard_pod = pod(shards);
    let container = tenantry_container(shard_pod);
    let args = strings(&container["args"]);
    let cli = parses(&args, "the shards' container");
    let tenantry::cli::Command::Run(run) = cli.command else {
        panic!("the shards run the playbook: {args:?}")
    };
    let count = run
        .args
        .shards
        .expect("--shards N, from JOB_COMPLETION_INDEX");
    assert_eq!(job["completionMode"], "Indexed");
    assert_eq!(job["completions"], count);
    assert_eq!(job["parallelism"], count);
    assert!(job["backoffLimitPerIndex"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(
        run.resume.as_deref(),
        Some("unfinished"),
        "a retried pod goes on with its index's killed run, a first one starts one"
    );
    assert!(run.common.deadline.is_some() && run.common.report.is_some());
    let deadline = run.common.deadline.unwrap().as_secs() + run.common.grace.as_secs();
    assert!(
        job["activeDeadlineSeconds"]
            .as_u64()
            .is_some_and(|d| d > deadline),
        "tenantry's --deadline comes before the Job's, so the reports are written"
    );
    assert!(
        shard_pod["terminationGracePeriodSeconds"]
            .as_u64()
            .is_some_and(|t| t > run.common.grace.as_secs()),
        "SIGTERM leaves tenantry its --grace"
    );
    // The exit codes: invalid input fails the Job; failed tasks, a guardrail and the lock fail
    // the index (a run that ended is not resumed); a disruption is retried without counting,
    // and the rest is retried (resuming a killed run).
    let mut actions: HashMap<i32, String> = HashMap::new();
    let mut disruption = None;
    for rule in job["podFailurePolicy"]["rules"].as_array().unwrap() {
        let action = rule["action"].as_str().unwrap().to_string();
        if let Some(codes) = rule.get("onExitCodes") {
            assert_eq!(codes["containerName"], "tenantry");
            assert_eq!(codes["operator"], "In");
            for code in codes["values"].as_array().unwrap() {
                actions
                    .entry(code.as_i64().unwrap() as i32)
                    .or_insert(action.clone());
            }
        }
        if rule["onPodConditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "DisruptionTarget"))
        {
            disruption = Some(action);
        }
    }
    use tenantry::exit;
    assert_eq!(actions[&exit::INVALID_INPUT], "FailJob");
    assert_eq!(actions[&exit::TASKS_FAILED], "FailIndex");
    assert_eq!(actions[&exit::STOPPED_BY_GUARDRAIL], "FailIndex");
    assert_eq!(actions[&exit::LOCKED], "FailIndex");
    for retried in [exit::NO_TENANT_REACHED, exit::INTERRUPTED, 128 + 9] {
        assert!(!actions.contains_key(&retried), "exit {retried} is retried");
    }
    assert_eq!(disruption.as_deref(), Some("Ignore"));

    // Every variable the container sets is one tenantry reads, or one its arguments name.
    let env: Vec<&Value> = container["env"].as_array().unwrap().iter().collect();
    let named: BTreeSet<String> = args.iter().flat_map(|a| references(a)).collect();
    for var in &env {
        let name = var["name"].as_str().unwrap();
        assert!(
            read_by_tenantry(name) || named.contains(name),
            "{name} is set for tenantry, which does not read it"
        );
    }
    let defined: BTreeSet<&str> = env.iter().filter_map(|v| v["name"].as_str()).collect();
    for name in &named {
        // JOB_COMPLETION_INDEX is set by the Job controller in an Indexed Job.
        assert!(
            defined.contains(name.as_str()) || name == "JOB_COMPLETION_INDEX",
            "$({name}) is not set"
        );
    }
    assert!(read_by_tenantry("JOB_COMPLETION_INDEX"));
    let value = |name: &str| -> &Value {
        env.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("{name} is set"))
    };
    assert_eq!(
        value("JOB_NAME")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.labels['batch.kubernetes.io/job-name']"
    );

    // The identity: the pods' service account, whose subject the app's federated credential
    // (the sandbox's, here) trusts, and its token projected for Entra ID where
    // AZURE_FEDERATED_TOKEN_FILE says.
    let account = shard_pod["serviceAccountName"].as_str().unwrap();
    let sa = object(&docs, "ServiceAccount", account);
    assert_eq!(
        format!("system:serviceaccount:{namespace}:{account}"),
        WORKLOAD_SUBJECT
    );
    let client_id = value("AZURE_CLIENT_ID")["value"].as_str().unwrap();
    assert_eq!(
        sa["metadata"]["annotations"]["azure.workload.identity/client-id"],
        client_id
    );
    let token_file = PathBuf::from(
        value("AZURE_FEDERATED_TOKEN_FILE")["value"]
            .as_str()
            .unwrap(),
    );
    let mounts = container["volumeMounts"].as_array().unwrap();
    let volumes = shard_pod["volumes"].as_array().unwrap();
    let volume_at = |path: &Path| -> &Value {
        let mount = mounts
            .iter()
            .filter(|m| path.starts_with(m["mountPath"].as_str().unwrap()))
            .max_by_key(|m| m["mountPath"].as_str().unwrap().len())
            .unwrap_or_else(|| panic!("nothing is mounted at {}", path.display()));
        volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap_or_else(|| panic!("no volume {}", mount["name"]))
    };
    let projected = &volume_at(&token_file)["projected"]["sources"][0]["serviceAccountToken"];
    assert_eq!(projected["audience"], WORKLOAD_AUDIENCE);
    assert_eq!(
        Some(std::ffi::OsStr::new(projected["path"].as_str().unwrap())),
        token_file.file_name()
    );

    // The playbook and its tenants come from the ConfigMap; the state and reports go to the
    // shared volume, which both CronJobs mount.
    let playbook = PathBuf::from(&args[1]);
    let config = volume_at(&playbook)["configMap"]["name"].as_str().unwrap();
    let data = &object(&docs, "ConfigMap", config)["data"];
    let key = playbook.file_name().unwrap().to_str().unwrap();
    let text = data[key]
        .as_str()
        .expect("the playbook is in the ConfigMap");
    let parsed: Value = serde_saphyr::from_str(text).unwrap();
    let tenants = parsed["tenants"].as_str().expect("a tenants file");
    assert!(data[tenants].is_string(), "{tenants} is in the ConfigMap");
    for path in [
        run.common.state_dir.clone().unwrap(),
        run.common.report.clone().unwrap(),
    ] {
        let claim = volume_at(&path)["persistentVolumeClaim"]["claimName"]
            .as_str()
            .unwrap_or_else(|| panic!("{} is on the shared volume", path.display()));
        let pvc = object(&docs, "PersistentVolumeClaim", claim);
        assert_eq!(
            pvc["spec"]["accessModes"],
            serde_json::json!(["ReadWriteMany"])
        );
    }

    // The merge reads the N reports.
    let merge_args = strings(&tenantry_container(pod(merge))["args"]);
    let cli = parses(&merge_args, "the merge's container");
    let tenantry::cli::Command::Report { merge: inputs, .. } = cli.command else {
        panic!("the merge merges: {merge_args:?}")
    };
    assert_eq!(inputs.len(), count as usize);

    // The playbook as the ConfigMap holds it is valid, and each index plans its own shard.
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in data.as_object().unwrap() {
        std::fs::write(dir.path().join(name), text.as_str().unwrap()).unwrap();
    }
    let check = tenantry_with_env(dir.path(), &["validate", key], &[]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    let mut planned = BTreeSet::new();
    for index in 0..count {
        let plan = tenantry_with_env(
            dir.path(),
            &[
                "plan",
                key,
                "--format",
                "json",
                "--shards",
                &count.to_string(),
            ],
            &[("JOB_COMPLETION_INDEX", &index.to_string())],
        );
        assert_eq!(plan.code, 0, "{}", plan.stderr);
        for line in plan.stdout.lines() {
            let record: Value = serde_json::from_str(line).unwrap();
            if record["type"] == "tenant" {
                assert!(planned.insert(record["tenant"].as_str().unwrap().to_string()));
            }
        }
    }
    let listed: Value = serde_saphyr::from_str(data[tenants].as_str().unwrap()).unwrap();
    assert_eq!(planned.len(), listed.as_array().unwrap().len());
}

/// User mailboxes per sandbox tenant: a `Set-Mailbox` task each.
const USERS: usize = 12;
/// The index killed mid-run and started again.
const KILLED: u32 = 1;

/// The local folders standing for a pod's volumes: the ConfigMap's files, the shared volume,
/// the projected token.
struct Volumes {
    _dir: tempfile::TempDir,
    /// Mount path → local folder.
    mounts: Vec<(String, PathBuf)>,
    root: PathBuf,
}

impl Volumes {
    /// Folders for the volumes `pod` mounts in its `tenantry` container: the ConfigMap's data
    /// (its tenants file replaced by `sandbox`'s tenants), an empty shared volume, and a
    /// token the sandbox signs for the pod's service account.
    fn new(docs: &[(String, Value)], pod: &Value, sandbox: &Sandbox) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let container = tenantry_container(pod);
        let mut mounts = Vec::new();
        for mount in container["volumeMounts"].as_array().unwrap() {
            let name = mount["name"].as_str().unwrap();
            let local = root.join(name);
            std::fs::create_dir_all(&local).unwrap();
            let volume = pod["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == name)
                .unwrap();
            if let Some(config) = volume["configMap"]["name"].as_str() {
                let data = &object(docs, "ConfigMap", config)["data"];
                for (file, text) in data.as_object().unwrap() {
                    std::fs::write(local.join(file), text.as_str().unwrap()).unwrap();
                }
                let playbook: Value =
                    serde_saphyr::from_str(data["playbook.yaml"].as_str().unwrap()).unwrap();
                let tenants = playbook["tenants"].as_str().unwrap();
                std::fs::write(local.join(tenants), sandbox_tenants(sandbox)).unwrap();
            }
            for source in volume["projected"]["sources"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let token = &source["serviceAccountToken"];
                let audience = token["audience"].as_str().unwrap();
                std::fs::write(
                    local.join(token["path"].as_str().unwrap()),
                    sandbox.workload_token(WORKLOAD_SUBJECT, Some(audience), 3600),
                )
                .unwrap();
            }
            mounts.push((mount["mountPath"].as_str().unwrap().to_string(), local));
        }
        Volumes {
            _dir: dir,
            mounts,
            root,
        }
    }

    /// A path in the pod, as a local one (the longest mount that holds it).
    fn local(&self, text: &str) -> String {
        match self
            .mounts
            .iter()
            .filter(|(m, _)| text == m || text.starts_with(&format!("{m}/")))
            .max_by_key(|(m, _)| m.len())
        {
            Some((m, local)) => format!("{}{}", local.display(), &text[m.len()..]),
            None => text.to_string(),
        }
    }

    /// The local folder of the volume mounted at `mount_path`.
    fn at(&self, mount_path: &str) -> &Path {
        &self.mounts.iter().find(|(m, _)| m == mount_path).unwrap().1
    }
}

/// A sandbox's tenants as a tenants file without auth blocks: each signs in with the pod's
/// AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE, as the recipe's do.
fn sandbox_tenants(sandbox: &Sandbox) -> String {
    let url = sandbox.url();
    sandbox
        .tenants()
        .iter()
        .map(|t| {
            format!(
                "- {{ name: {}, organization: {}, cloud: custom, endpoints: {{ rest: \"{url}\", authority: \"{url}\", scope: \"https://outlook.office365.com/.default\" }} }}\n",
                t.domain.split('.').next().unwrap(),
                t.domain
            )
        })
        .collect()
}

/// The command line and variables of a recipe's `tenantry` container, as the kubelet gives
/// them to the pod of `index`, with the pod's paths made local and the app the sandbox's.
fn command_of(
    container: &Value,
    volumes: &Volumes,
    index: u32,
) -> (Vec<String>, Vec<(String, String)>) {
    let mut env = BTreeMap::new();
    env.insert("JOB_COMPLETION_INDEX".to_string(), index.to_string());
    for var in container["env"].as_array().into_iter().flatten() {
        let name = var["name"].as_str().unwrap().to_string();
        let value = match (&var["value"], &var["valueFrom"]["fieldRef"]["fieldPath"]) {
            (Value::String(v), _) if name == "AZURE_CLIENT_ID" => {
                assert!(
                    v.chars().all(|c| c == '0' || c == '-'),
                    "a placeholder: {v}"
                );
                APPS[0].client_id.to_string()
            }
            (Value::String(v), _) => volumes.local(&expand(v, &env)),
            (_, Value::String(f)) if f == "metadata.labels['batch.kubernetes.io/job-name']" => {
                JOB_NAME.to_string()
            }
            _ => panic!("the test cannot give {name} a value: {var}"),
        };
        env.insert(name, value);
    }
    let args = strings(&container["args"])
        .iter()
        .map(|a| volumes.local(&expand(a, &env)))
        .collect();
    (args, env.into_iter().collect())
}

/// Child processes killed when dropped, so a failing test leaves none behind.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `tenantry ARGS` with `env`, its output in files of `dir` named after `name`.
fn spawn(dir: &Path, name: &str, args: &[String], env: &[(String, String)]) -> Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join(format!("{name}.out"))).unwrap())
        .stderr(std::fs::File::create(dir.join(format!("{name}.err"))).unwrap())
        .spawn()
        .expect("the tenantry binary runs")
}

/// Waits for `child`, at most `limit`; its exit code and what it wrote.
fn finish(child: &mut Child, dir: &Path, name: &str, limit: Duration) -> (i32, String) {
    let until = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < until, "{name} did not finish in {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = std::fs::read_to_string(dir.join(format!("{name}.out"))).unwrap_or_default();
    let err = std::fs::read_to_string(dir.join(format!("{name}.err"))).unwrap_or_default();
    assert!(!err.contains("panicked"), "{name} panicked:\n{err}");
    (status.code().unwrap_or(-1), format!("{out}\n{err}"))
}

/// The tasks a journal holds as sent without an answer.
fn unanswered(journal: &Path) -> BTreeSet<String> {
    let mut sent = HashMap::new();
    for line in std::fs::read_to_string(journal).unwrap().lines() {
        let Ok(record) = serde_json::from_str::<Value>(line) else {
            continue; // the half-written last line of a killed process
        };
        if record.get("resumed").is_some() {
            break;
        }
        if let (Some(n), Some(id)) = (record["s"].as_u64(), record["id"].as_str()) {
            sent.insert(n, id.to_string());
        }
        if let Some(n) = record["d"].as_u64() {
            sent.remove(&n);
        }
    }
    sent.into_values().collect()
}

/// The done-when of the recipe: its shard command, as four pods of the Indexed Job at once
/// over 40 sandbox tenants, one of them killed (SIGKILL) mid-run and started again as
/// Kubernetes retries it; then its merge. Every task reached the service, and changed it
/// exactly once (a write sent again is one the killed pod never heard back from, and changed
/// nothing the second time); the merged report has every task once, with the counts of the
/// same playbook run whole, unsharded, on a fresh sandbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_recipe_runs_four_shards_one_killed_and_resumed_and_merges_into_one_run() {
    let docs = manifests();
    let shards = object(&docs, "CronJob", "tenantry-shards");
    let merge = object(&docs, "CronJob", "tenantry-merge");
    let count = shards["spec"]["jobTemplate"]["spec"]["completions"]
        .as_u64()
        .unwrap() as u32;
    assert_eq!(count, 4);
    let config = || {
        SandboxConfig::with_tenants(40, USERS)
            .each_tenant(|t| t.behaviour.latency = "50ms".parse().unwrap())
    };
    let sandbox = Sandbox::start(config()).await.unwrap();
    let names: Vec<String> = sandbox
        .tenants()
        .iter()
        .map(|t| t.domain.split('.').next().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 40);
    let volumes = Volumes::new(&docs, pod(shards), &sandbox);
    let container = tenantry_container(pod(shards));
    let logs = volumes.root.clone();

    let killed_tenants: BTreeSet<String> = sandbox
        .tenants()
        .iter()
        .filter(|t| {
            tenantry::plan::shard::owner(t.domain.split('.').next().unwrap(), count) == KILLED + 1
        })
        .map(|t| t.domain.to_lowercase())
        .collect();
    assert!(!killed_tenants.is_empty());

    let started = Instant::now();
    let (unanswered_by_kill, state) = tokio::task::block_in_place(|| {
        // The four pods at once.
        let mut pods = Processes(Vec::new());
        for index in 0..count {
            let (args, env) = command_of(container, &volumes, index);
            pods.0
                .push(spawn(&logs, &format!("index-{index}"), &args, &env));
        }
        // Index 1 is killed once a third of its tenants' writes are done, as a node dies.
        let writes_of_killed = || {
            sandbox
                .stats()
                .writes
                .iter()
                .filter(|w| killed_tenants.contains(&w.tenant.to_lowercase()))
                .count()
        };
        let third = killed_tenants.len() * USERS / 3;
        let until = Instant::now() + Duration::from_secs(20);
        while writes_of_killed() < third {
            assert!(Instant::now() < until, "index {KILLED} made no progress");
            std::thread::sleep(Duration::from_millis(5));
        }
        let victim = &mut pods.0[KILLED as usize];
        assert!(
            victim.try_wait().unwrap().is_none(),
            "index {KILLED} was still running when killed"
        );
        eprintln!("killing index {KILLED} at {:?}", started.elapsed());
        victim.kill().unwrap();
        victim.wait().unwrap();
        let done_at_kill = writes_of_killed();
        assert!(
            done_at_kill < killed_tenants.len() * USERS,
            "killed before its last write"
        );
        for index in (0..count).filter(|&i| i != KILLED) {
            let (code, out) = finish(
                &mut pods.0[index as usize],
                &logs,
                &format!("index-{index}"),
                Duration::from_secs(30),
            );
            assert_eq!(code, 0, "index {index}:\n{out}");
        }

        eprintln!("three indexes done at {:?}", started.elapsed());
        // The killed run's journal, in the index's own folder of this Job.
        let state = PathBuf::from(volumes.local("/var/lib/tenantry"));
        let runs = state.join(format!(
            "jobs/{JOB_NAME}/shards/shard-{}-of-{count}/runs/playbook.yaml",
            KILLED + 1
        ));
        let ids: Vec<PathBuf> = std::fs::read_dir(&runs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(ids.len(), 1, "one run of index {KILLED}: {ids:?}");
        let unanswered = unanswered(&ids[0].join("journal.jsonl"));

        // Kubernetes retries the index: the same pod, the same command.
        let (args, env) = command_of(container, &volumes, KILLED);
        let mut retry = Processes(vec![spawn(&logs, "retry", &args, &env)]);
        let (code, out) = finish(&mut retry.0[0], &logs, "retry", Duration::from_secs(30));
        assert_eq!(code, 0, "the retried index:\n{out}");
        let again: Vec<PathBuf> = std::fs::read_dir(&runs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(
            again, ids,
            "the retry went on with the killed run, not a new one"
        );
        let meta: Value =
            serde_json::from_str(&std::fs::read_to_string(ids[0].join("meta.json")).unwrap())
                .unwrap();
        assert_eq!(meta["resumed"], 1, "{meta}");
        (unanswered, state)
    });

    // The service's own record: every task's write reached it; a write it got twice is one
    // the killed pod sent and never heard back from, sent again by the retry (Set- is
    // idempotent). Which objects changed is compared with a single run's below.
    let writes = write_log(&sandbox);
    assert_eq!(
        writes.len(),
        40 * USERS,
        "every task's write reached the service"
    );
    let resent: BTreeSet<(String, String)> = writes
        .iter()
        .filter(|(_, sent)| sent.len() > 1)
        .map(|(k, _)| k.clone())
        .collect();
    for ((tenant, user), sent) in &writes {
        assert!(
            sent.len() <= 2,
            "{tenant}/{user} written {} times",
            sent.len()
        );
        assert!(
            sent.iter().skip(1).all(|changed| !changed),
            "{tenant}/{user}: a write sent again changed nothing"
        );
    }
    let unanswered_writes: BTreeSet<(String, String)> = unanswered_by_kill
        .iter()
        .filter_map(|id| {
            let parts: Vec<&str> = id.split('/').collect();
            (parts.len() == 3).then(|| (parts[0].to_lowercase(), local(parts[2])))
        })
        .collect();
    assert!(
        resent.is_subset(&unanswered_writes),
        "only writes the killed pod never heard back from are sent twice: {:?}",
        resent.difference(&unanswered_writes).collect::<Vec<_>>()
    );
    eprintln!(
        "index {KILLED} killed with {} tasks sent and unanswered; {} writes sent twice",
        unanswered_by_kill.len(),
        resent.len()
    );

    eprintln!("retried at {:?}", started.elapsed());
    // The merge, as its CronJob runs it: the init container points `latest` at the newest
    // run's folder, then tenantry merges the four reports.
    let merge_pod = pod(merge);
    let init = &merge_pod["initContainers"][0];
    let command = strings(&init["command"]);
    assert_eq!(command[..2], ["sh", "-c"]);
    let mount = init["volumeMounts"][0]["mountPath"].as_str().unwrap();
    let local_state = volumes.at(mount).display().to_string();
    let script = command[2].replace(mount, &local_state);
    let status = std::process::Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the init container's script");
    assert_eq!(
        std::fs::read_link(state.join("latest")).unwrap(),
        PathBuf::from(format!("jobs/{JOB_NAME}"))
    );
    let merge_container = tenantry_container(merge_pod);
    assert!(
        merge_container["env"].is_null(),
        "the merge needs no variables"
    );
    let (args, _) = command_of(merge_container, &volumes, 0);
    let merged = tokio::task::block_in_place(|| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tenantry_with_env(&logs, &args, &[])
    });
    assert_eq!(merged.code, 0, "{}\n{}", merged.stdout, merged.stderr);
    let merged_dir = PathBuf::from(args.last().unwrap());
    assert!(merged_dir.starts_with(state.join("latest/reports")));
    let results = json_lines(&merged_dir.join("results.jsonl"));
    let statuses: BTreeMap<String, String> = results
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().into(),
                r["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(statuses.len(), results.len(), "every task once");
    assert_eq!(
        results.len(),
        40 * (1 + USERS),
        "a read and {USERS} writes a tenant"
    );
    sandbox.shutdown().await;

    // The same playbook run whole, unsharded, on a fresh sandbox: the same tasks, the same
    // outcomes, the same counts.
    let fresh = Sandbox::start(config()).await.unwrap();
    let whole = Volumes::new(&docs, pod(shards), &fresh);
    let (args, env) = command_of(container, &whole, 0);
    let cli = parses(&args, "the whole run");
    let tenantry::cli::Command::Run(run) = cli.command else {
        unreachable!()
    };
    let playbook = run.args.playbook.display().to_string();
    let report = whole.root.join("whole");
    let single: Vec<String> = [
        "run",
        &playbook,
        "--state-dir",
        &whole.root.join("state").display().to_string(),
        "--report",
        &report.display().to_string(),
        "--progress",
        "plain",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("AZURE_"))
        .collect();
    let (code, out) = tokio::task::block_in_place(|| {
        let mut run = Processes(vec![spawn(&whole.root, "whole", &single, &env)]);
        finish(&mut run.0[0], &whole.root, "whole", Duration::from_secs(30))
    });
    assert_eq!(code, 0, "{out}");
    // Each object changed as the single run changed it: the retry's second writes changed
    // nothing.
    let single_log = write_log(&fresh);
    assert!(single_log.values().all(|sent| sent.len() == 1));
    let effects =
        |log: &BTreeMap<(String, String), Vec<bool>>| -> BTreeMap<(String, String), bool> {
            log.iter()
                .map(|(k, sent)| (k.clone(), sent.iter().any(|c| *c)))
                .collect()
        };
    assert_eq!(effects(&writes), effects(&single_log));
    let whole_results = json_lines(&report.join("results.jsonl"));
    let whole_statuses: BTreeMap<String, String> = whole_results
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().into(),
                r["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(statuses, whole_statuses);
    let counts = |dir: &Path| -> Value {
        let mut summary: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        fn strip(v: &mut Value) {
            match v {
                Value::Object(map) => {
                    map.remove("duration_ms");
                    map.values_mut().for_each(strip);
                }
                Value::Array(items) => items.iter_mut().for_each(strip),
                _ => {}
            }
        }
        strip(&mut summary);
        serde_json::json!({ "total": summary["total"], "tenants": summary["tenants"], "exit_code": summary["exit_code"], "complete": summary["complete"] })
    };
    // The counts are the single run's, but for one thing: a write the killed pod sent whose
    // answer was lost, and that the retry sent again, is reported as the service answered the
    // retry ("no settings have been modified"): not `changed`, though the first sending
    // changed the mailbox. The difference is exactly those writes, per tenant.
    let (mut merged_counts, whole_counts) = (counts(&merged_dir), counts(&report));
    let mut lost: BTreeMap<String, u64> = BTreeMap::new();
    for ((tenant, _), sent) in &writes {
        if sent.len() > 1 && sent[0] {
            *lost.entry(tenant.clone()).or_default() += 1;
        }
    }
    for (tenant, n) in &lost {
        let changed = &mut merged_counts["tenants"][tenant]["changed"];
        *changed = (changed.as_u64().unwrap() + n).into();
    }
    let total = &mut merged_counts["total"]["changed"];
    *total = (total.as_u64().unwrap() + lost.values().sum::<u64>()).into();
    assert_eq!(merged_counts, whole_counts);
    eprintln!(
        "{} writes changed their mailbox in the killed pod and were reported unchanged by the retry",
        lost.values().sum::<u64>()
    );
    eprintln!("whole run compared at {:?}", started.elapsed());
    fresh.shutdown().await;
}

/// The sandbox's write log per (tenant, mailbox): whether each write of it changed it, in
/// order.
fn write_log(sandbox: &Sandbox) -> BTreeMap<(String, String), Vec<bool>> {
    let mut writes: BTreeMap<(String, String), Vec<bool>> = BTreeMap::new();
    for w in sandbox.stats().writes {
        assert_eq!(w.cmdlet, "Set-Mailbox");
        assert_eq!(w.status, 200, "{w:?}");
        let tenant = w.tenant.split('.').next().unwrap().to_lowercase();
        let user = local(w.parameters["Identity"].as_str().unwrap());
        writes.entry((tenant, user)).or_default().push(w.changed);
    }
    writes
}

/// An object's name as task ids and writes both give it: the part before `@`, in lower case.
fn local(name: &str) -> String {
    name.split('@').next().unwrap_or(name).to_lowercase()
}

/// A `${{ … }}` of the nightly workflow, given the test's value.
fn github_value(expr: &str, shard: u32, temp: &Path) -> String {
    match expr {
        "matrix.shard" => shard.to_string(),
        "vars.TENANTRY_APP_ID" => APPS[0].client_id.to_string(),
        "runner.temp" => temp.display().to_string(),
        "vars.TENANTRY_GIT" | "vars.TENANTRY_REV" => "unused".into(),
        e => panic!("the test gives no value to ${{{{ {e} }}}}"),
    }
}

/// `${{ … }}` in `text` replaced by the test's values.
fn github_expand(text: &str, shard: u32, temp: &Path) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = start + rest[start..].find("}}").expect("a closed expression");
        out.push_str(&github_value(rest[start + 3..end].trim(), shard, temp));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A `tenantry` line of a job's `run:` steps, as its shell runs it: its words (variables from
/// the workflow's, job's and step's `env`), and the `case "$code"` judging its exit code.
struct Line {
    args: Vec<String>,
    env: BTreeMap<String, String>,
    case: Option<String>,
}

fn tenantry_lines(workflow: &Value, job: &str, shard: u32, temp: &Path) -> Vec<Line> {
    let job = &workflow["jobs"][job];
    let mut out = Vec::new();
    for step in job["steps"].as_array().unwrap() {
        let Some(script) = step["run"].as_str() else {
            continue;
        };
        let mut env = BTreeMap::new();
        for scope in [&workflow["env"], &job["env"], &step["env"]] {
            for (k, v) in scope.as_object().into_iter().flatten() {
                let v = v.as_str().map_or(v.to_string(), str::to_string);
                env.insert(k.clone(), github_expand(&v, shard, temp));
            }
        }
        let lines: Vec<&str> = script.lines().map(str::trim).collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.starts_with("tenantry ") {
                continue;
            }
            assert!(
                !line.contains("${{"),
                "{line}: CI expressions go through env"
            );
            let (command, keeps) = match line.split_once("||") {
                Some((c, tail)) => {
                    assert_eq!(tail.trim(), "code=$?", "{line}");
                    (c, true)
                }
                None => (*line, false),
            };
            let known = env.clone();
            let var = move |n: &str| known.get(n).cloned();
            let args: Vec<String> = crate::ci_recipes::tokens(command, &var)
                .unwrap_or_else(|e| panic!("{line}: {e}"))
                .into_iter()
                .map(|t| match t {
                    crate::ci_recipes::Token::Word(w) => w,
                    crate::ci_recipes::Token::Op(op) => panic!("{line}: `{op}`"),
                })
                .skip(1)
                .collect();
            let case = keeps.then(|| {
                let rest = &lines[i + 1..];
                let start = rest
                    .iter()
                    .position(|l| l.starts_with("case \"$code\" in"))
                    .expect("a case");
                let end = start + rest[start..].iter().position(|l| *l == "esac").unwrap();
                rest[start..=end].join("\n")
            });
            out.push(Line {
                args,
                env: env.clone(),
                case,
            });
        }
    }
    out
}

impl Line {
    /// Whether the step passes when tenantry exits with `code`.
    fn passes(&self, code: i32) -> bool {
        let Some(case) = &self.case else {
            return code == 0;
        };
        std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("code={code}\n{case}"))
            .envs(&self.env)
            .env("GITHUB_OUTPUT", "/dev/null")
            .env("GITHUB_STEP_SUMMARY", "/dev/null")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }
}

/// The nightly GitHub Actions recipe: a scheduled matrix of shards, each keeping its report as
/// an artifact, and a merge job that downloads them and merges them. Its `tenantry` lines run
/// against the sandbox, a process per shard, then the merge over the reports where the
/// artifacts put them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nightly_workflow_runs_a_matrix_of_shards_and_merges_their_reports() {
    let ci = root().join("examples/ci");
    let text = std::fs::read_to_string(ci.join("nightly-shards.yml")).unwrap();
    let workflow: Value = serde_saphyr::from_str(&text).unwrap();
    assert!(
        workflow["on"]["schedule"][0]["cron"].is_string(),
        "scheduled"
    );
    assert!(
        workflow["on"]
            .as_object()
            .unwrap()
            .contains_key("workflow_dispatch"),
        "and run on demand"
    );
    let shard_job = &workflow["jobs"]["shard"];
    assert_eq!(shard_job["permissions"]["id-token"], "write");
    assert_eq!(shard_job["strategy"]["fail-fast"], false);
    let matrix: Vec<u32> = shard_job["strategy"]["matrix"]["shard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_u64().unwrap() as u32)
        .collect();
    let count = matrix.len() as u32;
    assert_eq!(matrix, (1..=count).collect::<Vec<_>>());
    let dir = workflow["defaults"]["run"]["working-directory"]
        .as_str()
        .unwrap();
    assert_eq!(dir, "examples/ci");
    let merge_job = &workflow["jobs"]["merge"];
    assert_eq!(merge_job["needs"], "shard");
    assert!(
        merge_job["if"].as_str().unwrap().contains("!cancelled()"),
        "the merge runs whatever the shards' outcome, unless the run was cancelled"
    );
    let uses = |job: &Value, action: &str| -> Vec<Value> {
        job["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
            .map(|s| s["with"].clone())
            .collect()
    };

    // A checkout: examples/ci/ with its tenants on the sandbox, signing in with the job's
    // federated token (the sandbox's, for the subject its credential trusts).
    let tenants: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(ci.join("tenants.yaml")).unwrap()).unwrap();
    let tenants = tenants.as_array().unwrap();
    let domains: Vec<&str> = tenants
        .iter()
        .map(|t| t["organization"].as_str().unwrap())
        .collect();
    let sandbox = Sandbox::start(SandboxConfig::with_domains(&domains, 12))
        .await
        .unwrap();
    let checkout = tempfile::tempdir().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let work = checkout.path().join(dir);
    std::fs::create_dir_all(&work).unwrap();
    std::fs::copy(ci.join("baseline.yaml"), work.join("baseline.yaml")).unwrap();
    let url = sandbox.url();
    let on_sandbox: Vec<Value> = tenants
        .iter()
        .map(|t| {
            let mut t = t.as_object().unwrap().clone();
            t.insert("cloud".into(), "custom".into());
            t.insert(
                "endpoints".into(),
                serde_json::json!({ "rest": url, "authority": url, "scope": "https://outlook.office365.com/.default" }),
            );
            Value::Object(t)
        })
        .collect();
    std::fs::write(
        work.join("tenants.yaml"),
        serde_json::to_string(&on_sandbox).unwrap(),
    )
    .unwrap();

    let mut merged_inputs = BTreeSet::new();
    let upload = uses(shard_job, "actions/upload-artifact@");
    assert_eq!(upload.len(), 1, "each shard keeps its report");
    for k in 1..=count {
        let lines = tenantry_lines(&workflow, "shard", k, temp.path());
        assert_eq!(lines.len(), 1, "one tenantry line per shard");
        let line = &lines[0];
        let cli = parses(&line.args, "the shard job");
        let tenantry::cli::Command::Run(run) = cli.command else {
            panic!("{:?}", line.args)
        };
        assert_eq!(
            run.args.shard,
            Some(tenantry::plan::shard::Shard::new(k, count).unwrap())
        );
        let report = run.common.report.clone().expect("--report");
        // The artifact is that folder, named for the shard.
        let name = github_expand(upload[0]["name"].as_str().unwrap(), k, temp.path());
        let path = github_expand(upload[0]["path"].as_str().unwrap(), k, temp.path());
        assert_eq!(
            path.trim_end_matches('/'),
            format!("{dir}/{}", report.display()),
            "the shard's report is its artifact"
        );
        merged_inputs.insert(name);
        assert!(line.passes(0));
        for code in [1, 2, 3, 4] {
            assert!(!line.passes(code), "exit {code} fails the shard's job");
        }
        // Its token, as the step fetches it.
        let token = PathBuf::from(&line.env["AZURE_FEDERATED_TOKEN_FILE"]);
        std::fs::write(
            &token,
            sandbox.workload_token(WORKLOAD_SUBJECT, Some(WORKLOAD_AUDIENCE), 600),
        )
        .unwrap();
        let env: Vec<(String, String)> = line
            .env
            .iter()
            .filter(|(k, _)| k.starts_with("AZURE_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let out = tokio::task::block_in_place(|| {
            let args: Vec<&str> = line.args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            tenantry_with_env(&work, &args, &env)
        });
        assert_eq!(out.code, 0, "shard {k}:\n{}\n{}", out.stdout, out.stderr);
        assert!(
            work.join(&report).join("summary.json").is_file(),
            "shard {k}"
        );
    }

    // The merge job: the artifacts downloaded where it reads them, then the merge.
    let download = uses(merge_job, "actions/download-artifact@");
    assert_eq!(download.len(), 1);
    let pattern = download[0]["pattern"].as_str().unwrap();
    let prefix = pattern
        .strip_suffix('*')
        .expect("a pattern of the shards' artifacts");
    assert!(merged_inputs.iter().all(|n| n.starts_with(prefix)));
    let into = download[0]["path"].as_str().unwrap();
    let into = into
        .strip_prefix(&format!("{dir}/"))
        .expect("inside the working folder");
    let lines = tenantry_lines(&workflow, "merge", 0, temp.path());
    assert_eq!(lines.len(), 1);
    let cli = parses(&lines[0].args, "the merge job");
    let tenantry::cli::Command::Report { merge, report, .. } = cli.command else {
        panic!("{:?}", lines[0].args)
    };
    let reads: BTreeSet<String> = merge.iter().map(|p| p.display().to_string()).collect();
    let downloaded: BTreeSet<String> = merged_inputs
        .iter()
        .map(|name| format!("{into}/{name}"))
        .collect();
    assert_eq!(reads, downloaded, "the merge reads every shard's artifact");
    for k in 1..=count {
        let name = github_expand(upload[0]["name"].as_str().unwrap(), k, temp.path());
        let path = github_expand(upload[0]["path"].as_str().unwrap(), k, temp.path());
        let from = checkout.path().join(path.trim_end_matches('/'));
        let to = work.join(into).join(&name);
        std::fs::create_dir_all(&to).unwrap();
        for file in std::fs::read_dir(&from).unwrap() {
            let file = file.unwrap().path();
            std::fs::copy(&file, to.join(file.file_name().unwrap())).unwrap();
        }
    }
    let args = lines[0].args.clone();
    let out = tokio::task::block_in_place(|| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tenantry_with_env(&work, &args, &[])
    });
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let results = json_lines(&work.join(&report).join("results.jsonl"));
    let ids: BTreeSet<&str> = results.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), results.len(), "every task once");
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(work.join(&report).join("summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        summary["tenants"].as_object().unwrap().len(),
        tenants.len(),
        "every tenant, from whichever shard ran it"
    );
    assert_eq!(summary["exit_code"], 0);
    assert!(work.join(&report).join("summary.md").is_file());
    sandbox.shutdown().await;
}

/// The README's crontab line is a command tenantry takes, with the flags an unattended run
/// needs.
#[test]
fn the_readmes_crontab_line_is_a_run_tenantry_takes() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines: Vec<&str> = readme
        .split("```crontab\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .flat_map(str::lines)
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert!(lines.len() >= 2, "the crontab lines: {lines:?}");
    for line in &lines {
        crontab_run(line);
    }
}

/// The `tenantry run` of a crontab line, parsed by tenantry's own command line, checked for
/// the flags an unattended run needs.
fn crontab_run(line: &str) {
    // Five schedule fields, then the command, whose `\%` cron turns into `%`.
    let command = line
        .split_whitespace()
        .skip(5)
        .collect::<Vec<_>>()
        .join(" ");
    let command = command.replace("$(date +\\%F)", "2026-11-30");
    let run = command
        .split("&&")
        .map(str::trim)
        .find(|c| c.starts_with("tenantry "))
        .expect("a tenantry command");
    let none = |_: &str| None;
    let mut args = Vec::new();
    for token in crate::ci_recipes::tokens(run, &none).unwrap() {
        match token {
            crate::ci_recipes::Token::Word(w) => args.push(w),
            crate::ci_recipes::Token::Op(_) => break,
        }
    }
    let cli = parses(&args[1..], "the crontab line");
    let tenantry::cli::Command::Run(run) = cli.command else {
        panic!("{args:?}")
    };
    assert!(run.common.deadline.is_some(), "--deadline");
    assert!(run.wait_lock.is_some(), "--wait-lock");
    assert_eq!(
        run.common.report.as_deref(),
        Some(Path::new("reports/2026-11-30"))
    );
    assert!(matches!(
        run.common.progress,
        tenantry::cli::args::ProgressMode::Plain
    ));
}
