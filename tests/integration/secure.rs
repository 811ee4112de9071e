//! SecureString parameters through `tenantry plan` and `tenantry run`: encrypted with the
//! tenant's public key, decrypted by the sandbox (which keeps only a digest), and never
//! written anywhere in the clear; PSCredential parameters refused before anything runs.

use std::path::Path;

use sha2::{Digest, Sha256};
use tenantry::sandbox::{APPS, SECURE_STRING_PUBLIC_KEY, Sandbox, SandboxConfig};

use crate::support::{Run, Workspace, tenantry_with_env};

const PASSWORD: &str = "Tr0ub4dor&3-päss";
const ROOM_SECRET: &str = "B0ard-r00m-s3cret!";

/// The steps: a password from the environment, and one from each item of a list whose items
/// have no identity field.
const STEPS: &str = r#"steps:
  - id: reset
    cmdlet: Set-Mailbox
    params:
      Identity: user001
      Password: "{{ env('NEW_PASSWORD') }}"
  - id: rooms
    cmdlet: New-Mailbox
    for_each:
      - { Room: Lab room, Secret: "B0ard-r00m-s3cret!" }
    params:
      Name: "{{ item.Room }}"
      Room: true
      EnableRoomMailboxAccount: true
      RoomMailboxPassword: "{{ item.Secret }}"
"#;

/// A playbook over the sandbox's first tenant through custom endpoints, `endpoints_extra`
/// added to its endpoints.
fn workspace(sandbox: &Sandbox, endpoints_extra: &str) -> Workspace {
    let domain = &sandbox.tenants()[0].domain;
    let url = sandbox.url();
    let tenant = format!(
        "  - {{ name: contoso, organization: {domain}, cloud: custom, endpoints: {{ rest: \"{url}\", authority: \"{url}\", scope: \"https://outlook.office365.com/.default\"{endpoints_extra} }}, auth: {{ method: client_secret, app_id: {}, secret_env: SECRET }} }}\n",
        APPS[0].client_id
    );
    Workspace::new(&[
        (
            "p.yaml",
            &format!("version: 1\nname: Passwords\ntenants:\n{tenant}{STEPS}"),
        ),
        ("keys/sandbox.pem", SECURE_STRING_PUBLIC_KEY),
    ])
}

/// Runs `tenantry run` off the async runtime, with the password and the app's secret set.
async fn run(ws: &Workspace, env: &[(&'static str, String)]) -> Run {
    let path = ws.path().to_path_buf();
    let mut env = env.to_vec();
    env.push(("NEW_PASSWORD", PASSWORD.to_string()));
    env.push(("SECRET", APPS[0].client_secret.to_string()));
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        tenantry_with_env(
            &path,
            &["run", "p.yaml", "--progress", "plain", "--report", "report"],
            &env,
        )
    })
    .await
    .unwrap()
}

/// Every file under `dir`, recursively, with its text.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            out.push((path.display().to_string(), text));
        }
    }
    out
}

/// Asserts that neither secret is in the run's output or any file it wrote, and that the
/// files a run writes are there to be searched.
fn assert_secrets_kept(ws: &Workspace, run: &Run) {
    let written = files(ws.path());
    let names: Vec<&str> = written.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "journal.jsonl",
        "meta.json",
        "results.jsonl",
        "results.csv",
        "junit.xml",
        "summary.json",
        "summary.md",
    ] {
        assert!(
            names.iter().any(|n| n.ends_with(expected)),
            "{expected} in {names:?}"
        );
    }
    for secret in [PASSWORD, ROOM_SECRET] {
        assert!(!run.stdout.contains(secret), "stdout:\n{}", run.stdout);
        assert!(!run.stderr.contains(secret), "stderr:\n{}", run.stderr);
        for (name, text) in &written {
            if !name.ends_with("p.yaml") {
                assert!(!text.contains(secret), "{name}:\n{text}");
            }
        }
    }
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// With `endpoints.public_key` naming the sandbox's key, both secrets reach the sandbox,
/// which decrypts them; nothing tenantry writes or prints holds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_reach_the_sandbox_encrypted_and_are_written_nowhere() {
    let sandbox = Sandbox::start(SandboxConfig::with_tenants(1, 5))
        .await
        .unwrap();
    // The key the workspace holds is the one the sandbox serves.
    tenantry::exchange::install_tls_provider();
    let served = reqwest::get(format!("{}/sandbox/public-key", sandbox.url()))
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.text().await.unwrap(), SECURE_STRING_PUBLIC_KEY);
    let ws = workspace(&sandbox, ", public_key: keys/sandbox.pem");
    let run = run(&ws, &[]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let served = sandbox.stats().tenant(&sandbox.tenants()[0].domain);
    assert_eq!(served.secure_strings, 2, "{served:?}");
    assert_eq!(
        served.last_secure_string_sha256.as_deref(),
        Some(sha256_hex(ROOM_SECRET).as_str()),
        "the room's secret arrived last, as written"
    );
    // The write log holds what was sent: the ciphertext, not the text.
    let writes = sandbox.stats().writes;
    let reset = writes.iter().find(|w| w.cmdlet == "Set-Mailbox").unwrap();
    let sent = reset.parameters["Password"].as_str().unwrap();
    assert_ne!(sent, PASSWORD);
    assert_eq!(sent.len(), 344, "base64 of one 2048-bit block: {sent}");
    assert!(!serde_json::to_string(&writes).unwrap().contains(PASSWORD));
    // The item with no identity field is keyed by a hash, not by its text.
    assert!(run.stdout.contains("contoso/rooms/#"), "{}", run.stdout);
    assert_secrets_kept(&ws, &run);
    sandbox.shutdown().await;
}

/// Without a key of its own, a custom tenant uses the file `TENANTRY_EXO_PUBLIC_KEY` names,
/// else Microsoft's built-in key, which the sandbox cannot decrypt: the tasks fail with its
/// argument-transformation error, and still nothing holds the secrets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_comes_from_the_environment_or_the_module() {
    let sandbox = Sandbox::start(SandboxConfig::with_tenants(1, 5))
        .await
        .unwrap();
    let domain = sandbox.tenants()[0].domain.clone();
    let ws = workspace(&sandbox, "");
    let key = ws.path().join("keys/sandbox.pem").display().to_string();
    let run = run(&ws, &[("TENANTRY_EXO_PUBLIC_KEY", key)]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(sandbox.stats().tenant(&domain).secure_strings, 2);

    let ws = workspace(&sandbox, "");
    let run = self::run(&ws, &[]).await;
    // Reached, and refused by the cmdlet: a failure, not an unreachable tenant.
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("ParameterBindingArgumentTransformationException: Cannot process argument transformation on parameter 'Password'"),
        "{}",
        run.stdout
    );
    assert_eq!(sandbox.stats().tenant(&domain).secure_strings, 2);
    assert_secrets_kept(&ws, &run);

    // A key file that is not one stops the run before it starts.
    let ws = workspace(&sandbox, ", public_key: p.yaml");
    let run = self::run(&ws, &[]).await;
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("endpoints.public_key") && run.stderr.contains("p.yaml"),
        "{}",
        run.stderr
    );
    sandbox.shutdown().await;
}

/// A `cloud: sandbox` tenant's calls are encrypted with the in-process sandbox's own key.
#[test]
fn sandbox_tenants_use_the_sandbox_key() {
    let ws = Workspace::new(&[(
        "p.yaml",
        &format!(
            "version: 1\nname: Passwords\ntenants:\n  - {{ name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox }}\n{STEPS}"
        ),
    )]);
    let run = tenantry_with_env(
        ws.path(),
        &["run", "p.yaml", "--progress", "plain", "--report", "report"],
        &[
            ("NEW_PASSWORD", PASSWORD),
            // Not read for sandbox tenants.
            ("TENANTRY_EXO_PUBLIC_KEY", "/nonexistent/key.pem"),
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("changed  contoso/reset"),
        "{}",
        run.stdout
    );
    assert_secrets_kept(&ws, &run);
}

/// `tenantry plan` shows a SecureString as `********`, in text and JSON, whether it comes
/// from the environment or from an item; an empty one is shown as it is.
#[test]
fn plans_mask_secure_strings() {
    let ws = Workspace::new(&[(
        "p.yaml",
        &format!(
            "version: 1\nname: Passwords\ntenants:\n  - {{ name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox }}\n{STEPS}  - cmdlet: Set-Mailbox\n    params: {{ Identity: room1, RoomMailboxPassword: \"\" }}\n"
        ),
    )]);
    let env = [("NEW_PASSWORD", PASSWORD)];
    let text = tenantry_with_env(ws.path(), &["plan", "p.yaml"], &env);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout
            .contains("Set-Mailbox -Identity user001 -Password ********\n"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("-RoomMailboxPassword ********"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("-RoomMailboxPassword ''"),
        "{}",
        text.stdout
    );
    let json = tenantry_with_env(ws.path(), &["plan", "p.yaml", "--format", "json"], &env);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let tasks: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["type"] == "task")
        .collect();
    assert_eq!(tasks[0]["params"]["Password"], "********");
    assert_eq!(tasks[1]["params"]["RoomMailboxPassword"], "********");
    assert!(
        tasks[1]["id"]
            .as_str()
            .unwrap()
            .starts_with("contoso/rooms/#")
    );
    for out in [&text, &json] {
        for secret in [PASSWORD, ROOM_SECRET] {
            assert!(!out.stdout.contains(secret), "{}", out.stdout);
        }
    }
}

/// A PSCredential parameter is refused by `validate`, `plan` and `run` at its line and column,
/// with what to do instead.
#[test]
fn ps_credential_parameters_are_refused_where_they_are_written() {
    let ws = Workspace::new(&[(
        "p.yaml",
        "version: 1\nname: Credentials\ntenants:\n  - { name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox }\nsteps:\n  - cmdlet: get-mailboxpermission\n    params:\n      Identity: user001\n      credential: x\n",
    )]);
    for command in ["validate", "plan", "run"] {
        let run = ws.run(&[command, "p.yaml"]);
        assert_eq!(run.code, 2, "{command}: {}", run.stderr);
        assert!(
            run.stderr.starts_with(
                "error: Get-MailboxPermission -Credential takes a PSCredential, which the admin API cannot carry"
            ),
            "{command}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("--> p.yaml:9:7"), "{}", run.stderr);
        assert!(run.stderr.contains("help: leave it out"), "{}", run.stderr);
    }
}
