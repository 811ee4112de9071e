//! `tenantry connect` and every way of signing in, end to end: the binary against a sandbox
//! reached through `cloud: custom` endpoints, with its own token cache folder. Each failure
//! must come with one line of what to do.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use tenantry::sandbox::{APPS, Sandbox, SandboxConfig};

use crate::support::{Run, Workspace, tenantry_with_env};

/// A sandbox of two tenants (contoso, fabrikam).
pub async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::with_domains(
        &["contoso.onmicrosoft.com", "fabrikam.onmicrosoft.com"],
        5,
    ))
    .await
    .unwrap()
}

/// A playbook with one tenant on the sandbox, signing in with `auth` (YAML flow mapping),
/// plus `extra` keys for the tenant.
pub fn workspace(sandbox: &Sandbox, organization: &str, auth: &str, extra: &str) -> Workspace {
    let url = sandbox.url();
    let auth = if auth.is_empty() {
        String::new()
    } else {
        format!(", auth: {auth}")
    };
    Workspace::new(&[(
        "p.yaml",
        &format!(
            "version: 1\nname: Connect\ntenants:\n  - {{ name: contoso, organization: {organization}, cloud: custom, endpoints: {{ rest: \"{url}\", authority: \"{url}\", scope: \"https://outlook.office365.com/.default\" }}{auth}{extra} }}\nsteps:\n  - cmdlet: Get-AcceptedDomain\n"
        ),
    )])
}

/// Runs `tenantry ARGS` in `ws` with its own token cache and these variables.
pub async fn tenantry(ws: &Workspace, args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = ws.path().to_path_buf();
    let cache = dir.join("cache").to_string_lossy().into_owned();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.push(("TENANTRY_CACHE_DIR".into(), cache));
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        tenantry_with_env(&dir, &args, &env)
    })
    .await
    .unwrap()
}

/// contoso's admin, signing in by device code.
const ADMIN_BY_DEVICE_CODE: &str = "{ method: device_code, user: admin@contoso.onmicrosoft.com }";

/// An auth block for sample app `app`, its secret in `$SECRET`.
fn secret_auth(app: usize) -> String {
    format!(
        "{{ method: client_secret, app_id: {}, secret_env: SECRET }}",
        APPS[app].client_id
    )
}

/// `tenantry connect p.yaml` with the admin app's secret in `$SECRET`.
async fn connect_with_secret(ws: &Workspace) -> Run {
    tenantry(
        ws,
        &["connect", "p.yaml"],
        &[("SECRET", APPS[0].client_secret)],
    )
    .await
}

fn assert_line(run: &Run, needle: &str) {
    assert!(
        run.stdout.contains(needle),
        "expected `{needle}` in:\n{}\n{}",
        run.stdout,
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_secret_connects_and_says_who_and_where() {
    let sb = sandbox().await;
    let ws = workspace(&sb, "contoso.onmicrosoft.com", &secret_auth(0), "");
    let run = connect_with_secret(&ws).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let tid = &sb.tenants()[0].id;
    assert_line(&run, &format!("connected as app {}", APPS[0].client_id));
    assert_line(&run, &format!("to tenant {tid}"));
    assert_line(&run, "Get-OrganizationConfig took");
    assert!(!run.stdout.contains(APPS[0].client_secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_failures_each_say_what_to_do() {
    let sb = sandbox().await;
    // (auth block, environment, the advice that must follow the error)
    type Case = (String, Vec<(&'static str, &'static str)>, &'static str);
    let cases: Vec<Case> = vec![
        (
            format!("{{ method: client_secret, app_id: {}, secret_env: SECRET }}", APPS[0].client_id),
            vec![("SECRET", "not-the-secret")],
            "the client secret is wrong",
        ),
        (
            format!("{{ method: client_secret, app_id: {}, secret_env: SECRET }}", APPS[2].client_id),
            vec![("SECRET", APPS[2].client_secret)],
            "admin consent",
        ),
        (
            "{ method: password, user: admin@contoso.onmicrosoft.com, password_env: PASSWORD }".into(),
            vec![("PASSWORD", "Sandbox-Admin-1")],
            "use `method: device_code`",
        ),
        (
            "{ method: password, user: legacy.admin@contoso.onmicrosoft.com, password_env: PASSWORD }".into(),
            vec![("PASSWORD", "wrong")],
            "check the user name and the password",
        ),
        (
            "{ method: federated, app_id: 5d1e9c1a-7b0e-4f3a-9c6d-0a7e5a11ad01, token_file: missing.jwt }".into(),
            vec![],
            "cannot read the federated token file",
        ),
    ];
    for (auth, env, advice) in cases {
        let ws = workspace(&sb, "contoso.onmicrosoft.com", &auth, "");
        let run = tenantry(&ws, &["connect", "p.yaml"], &env).await;
        assert_eq!(run.code, 3, "{auth}: {}\n{}", run.stdout, run.stderr);
        assert_line(&run, "contoso  FAILED: ");
        assert_line(&run, advice);
        for (_, value) in &env {
            assert!(
                !run.stdout.contains(value) && !run.stderr.contains(value),
                "{auth}: a secret shows"
            );
        }
    }
}

/// The legacy password grant works for an account without MFA, warns that it is legacy, and
/// keeps the refresh token in a private file that `logout` clears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_sign_in_is_kept_in_a_private_cache_until_logout() {
    let sb = sandbox().await;
    let ws = workspace(
        &sb,
        "contoso.onmicrosoft.com",
        "{ method: password, user: legacy.admin@contoso.onmicrosoft.com, password_env: PASSWORD }",
        "",
    );
    let run = tenantry(
        &ws,
        &["connect", "p.yaml"],
        &[("PASSWORD", "Sandbox-Legacy-1")],
    )
    .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_line(
        &run,
        "connected as user legacy.admin@contoso.onmicrosoft.com",
    );
    assert_line(&run, "legacy flow that cannot do MFA");
    let file = ws.path().join("cache/tokens.json");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("legacy.admin@contoso.onmicrosoft.com"));
    assert!(
        !text.contains("Sandbox-Legacy-1"),
        "the password is never stored"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
    }
    // The saved sign-in serves the next run without the password.
    let run = tenantry(&ws, &["connect", "p.yaml"], &[("PASSWORD", "wrong")]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let logout = tenantry(&ws, &["logout", "contoso.onmicrosoft.com"], &[]).await;
    assert_eq!(logout.code, 0);
    assert_line(
        &logout,
        "signed out legacy.admin@contoso.onmicrosoft.com from contoso.onmicrosoft.com",
    );
    let run = tenantry(&ws, &["connect", "p.yaml"], &[("PASSWORD", "wrong")]).await;
    assert_eq!(run.code, 3, "after logout the password is needed again");
}

/// Device code: the prompt names the tenant and the code; approving it through the sandbox's
/// sign-in endpoint connects; the next run uses the saved sign-in and does not prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_code_sign_in_prompts_once_and_is_remembered() {
    let sb = sandbox().await;
    let ws = workspace(&sb, "contoso.onmicrosoft.com", ADMIN_BY_DEVICE_CODE, "");
    let (code, stdout, stderr) =
        device_sign_in(&sb, &ws, "admin@contoso.onmicrosoft.com", &[]).await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("[contoso.onmicrosoft.com] sign in as admin@contoso.onmicrosoft.com"),
        "{stderr}"
    );
    assert!(
        stdout.contains("connected as user admin@contoso.onmicrosoft.com"),
        "{stdout}"
    );
    let again = tenantry(&ws, &["connect", "p.yaml"], &[]).await;
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(
        !again.stderr.contains("sign in as"),
        "no second prompt: {}",
        again.stderr
    );
}

/// The single sign-on trap: the browser signs in another account than the playbook names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_as_someone_else_is_caught() {
    let sb = sandbox().await;
    let ws = workspace(&sb, "contoso.onmicrosoft.com", ADMIN_BY_DEVICE_CODE, "");
    let (code, stdout, stderr) =
        device_sign_in(&sb, &ws, "reader@contoso.onmicrosoft.com", &[]).await;
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("as reader@contoso.onmicrosoft.com, but the playbook names admin@contoso.onmicrosoft.com"),
        "{stdout}"
    );
    // Nothing is kept of a sign-in by the wrong account.
    let kept = std::fs::read_to_string(ws.path().join("cache/tokens.json")).unwrap_or_default();
    assert!(!kept.contains("refresh_token"), "{kept}");
}

/// Kills a child process left waiting for a sign-in when a test fails, so no poller outlives
/// the test by the device code's fifteen minutes.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        #[cfg(unix)]
        let _ = Command::new("kill")
            .args(["-9", &self.0.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs `tenantry connect` (with `extra` arguments) and approves its device code as `user`
/// once it is shown.
pub async fn device_sign_in(
    sb: &Sandbox,
    ws: &Workspace,
    user: &str,
    extra: &[&str],
) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args(["connect", "p.yaml"])
        .args(extra)
        .current_dir(ws.path())
        .env("TENANTRY_CACHE_DIR", ws.path().join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if let Some(code) = line.split("enter the code ").nth(1) {
                let _ = tx.send(code.split_whitespace().next().unwrap().to_string());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let code =
        tokio::task::spawn_blocking(move || rx.recv_timeout(std::time::Duration::from_secs(30)))
            .await
            .unwrap()
            .expect("a device code prompt");
    sb.approve_device_code(&code, user).unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = reader.join().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

/// A token given ready-made (`access_token`), from a variable or a command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ready_token_from_a_variable_or_a_command_connects() {
    let sb = sandbox().await;
    tenantry::exchange::install_tls_provider();
    let token: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/contoso.onmicrosoft.com/oauth2/v2.0/token",
            sb.url()
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", APPS[0].client_id),
            ("client_secret", APPS[0].client_secret),
            ("scope", "https://outlook.office365.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();
    for auth in [
        "{ method: access_token, token_env: EXO_TOKEN }",
        "{ method: access_token, token_command: 'printf %s \"$EXO_TOKEN\"' }",
    ] {
        let ws = workspace(&sb, "contoso.onmicrosoft.com", auth, "");
        let run = tenantry(&ws, &["connect", "p.yaml"], &[("EXO_TOKEN", &token)]).await;
        assert_eq!(run.code, 0, "{auth}: {}\n{}", run.stdout, run.stderr);
        assert_line(&run, &format!("connected as app {}", APPS[0].client_id));
        assert!(!run.stdout.contains(&token) && !run.stderr.contains(&token));
    }
}

/// Without an auth block, the AZURE_* variables are the credential, as for other Azure tools.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_azure_environment_variables_are_honoured() {
    let sb = sandbox().await;
    let ws = workspace(&sb, "contoso.onmicrosoft.com", "", "");
    let env = [
        ("AZURE_CLIENT_ID", APPS[0].client_id),
        ("AZURE_CLIENT_SECRET", APPS[0].client_secret),
    ];
    let run = tenantry(&ws, &["connect", "p.yaml"], &env).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let mut other = env.to_vec();
    other.push(("AZURE_TENANT_ID", "fabrikam.onmicrosoft.com"));
    let run = tenantry(&ws, &["connect", "p.yaml"], &other).await;
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("AZURE_TENANT_ID is fabrikam.onmicrosoft.com"),
        "{}",
        run.stderr
    );
    let run = tenantry(&ws, &["connect", "p.yaml"], &[]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("no `auth` block and no AZURE_CLIENT_ID"),
        "{}",
        run.stderr
    );
}

/// A partner manages a customer with its own app: the token and the URL follow the customer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegated_organization_is_reached_with_the_partners_app() {
    let sb = sandbox().await;
    let ws = workspace(
        &sb,
        "partner.onmicrosoft.com",
        &secret_auth(0),
        ", delegated_organization: fabrikam.onmicrosoft.com",
    );
    let run = connect_with_secret(&ws).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let fabrikam = &sb.tenants()[1].id;
    assert_line(&run, &format!("to tenant {fabrikam}"));
}

/// `cloud: germany` is the closed German cloud: its tenants are reached in the worldwide cloud,
/// with a note saying so.
#[tokio::test]
async fn a_german_cloud_tenant_is_sent_to_worldwide_with_a_note() {
    let ws = Workspace::new(&[
        (
            "p.yaml",
            "version: 1\nname: Germany\ntenants:\n  - { name: bmw, organization: bmw.onmicrosoft.de, cloud: germany, auth: { method: client_secret, app_id: 5d1e9c1a-7b0e-4f3a-9c6d-0a7e5a11ad01, secret_file: secret.txt } }\nsteps:\n  - cmdlet: Get-AcceptedDomain\n",
        ),
        ("secret.txt", "s"),
    ]);
    let playbook = tenantry::playbook::Playbook::load(&ws.path().join("p.yaml")).unwrap();
    let sessions = tenantry::session::Sessions::open(&playbook, &[0], &Default::default())
        .await
        .unwrap();
    let warnings = &sessions.sessions[0].warnings;
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("moved to the worldwide cloud")),
        "{warnings:?}"
    );
}

/// Workload identity federation: the platform's token file is the app's credential, by auth
/// block or by AZURE_FEDERATED_TOKEN_FILE; a token for another subject is refused with advice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_federated_token_file_signs_the_app_in_without_a_secret() {
    use tenantry::sandbox::WORKLOAD_SUBJECT;
    let sb = sandbox().await;
    let ws = workspace(
        &sb,
        "contoso.onmicrosoft.com",
        &format!(
            "{{ method: federated, app_id: {}, token_file: workload.jwt }}",
            APPS[0].client_id
        ),
        "",
    );
    std::fs::write(
        ws.path().join("workload.jwt"),
        sb.workload_token(WORKLOAD_SUBJECT, None, 600),
    )
    .unwrap();
    let run = tenantry(&ws, &["connect", "p.yaml"], &[]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_line(&run, &format!("connected as app {}", APPS[0].client_id));

    // The same through the environment, as a Kubernetes pod gets it.
    let bare = workspace(&sb, "contoso.onmicrosoft.com", "", "");
    let file = ws.path().join("workload.jwt");
    let env = [
        ("AZURE_CLIENT_ID", APPS[0].client_id),
        ("AZURE_FEDERATED_TOKEN_FILE", file.to_str().unwrap()),
    ];
    let run = tenantry(&bare, &["connect", "p.yaml"], &env).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    std::fs::write(
        ws.path().join("workload.jwt"),
        sb.workload_token("repo:someone/else:ref:refs/heads/main", None, 600),
    )
    .unwrap();
    let run = tenantry(&ws, &["connect", "p.yaml"], &[]).await;
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert_line(&run, "AADSTS70021");
    assert_line(&run, "no federated credential of the app matches");
}

/// Proxies: a proxy that does not answer is named in the advice; a proxy URL that is not one
/// is refused without showing its password; loopback (the sandbox) never goes through one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_trouble_is_named_and_loopback_goes_direct() {
    let sb = sandbox().await;
    let secret = format!(
        "{{ method: client_secret, app_id: {}, secret_env: SECRET }}",
        APPS[0].client_id
    );
    let direct = workspace(&sb, "contoso.onmicrosoft.com", &secret, "");
    let env = [
        ("SECRET", APPS[0].client_secret),
        ("HTTPS_PROXY", "http://127.0.0.1:9"),
    ];
    let run = tenantry(&direct, &["connect", "p.yaml"], &env).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    let remote = Workspace::new(&[(
        "p.yaml",
        &format!(
            "version: 1\nname: Remote\ntenants:\n  - {{ name: contoso, organization: contoso.onmicrosoft.com, cloud: custom, endpoints: {{ rest: \"https://exo.tenantry.invalid\", authority: \"https://login.tenantry.invalid\", scope: \"https://outlook.office365.com/.default\" }}, auth: {secret} }}\nsteps:\n  - cmdlet: Get-AcceptedDomain\n"
        ),
    )]);
    let run = tenantry(
        &remote,
        &[
            "connect",
            "p.yaml",
            "--proxy",
            "http://user:hunter2@127.0.0.1:9",
        ],
        &[("SECRET", "s")],
    )
    .await;
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert_line(
        &run,
        "the proxy http://***@127.0.0.1:9 did not take the connection",
    );
    assert!(!run.stdout.contains("hunter2"));
    let run = tenantry(
        &remote,
        &["connect", "p.yaml", "--proxy", "http://user:hunter2@[bad"],
        &[("SECRET", "s")],
    )
    .await;
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("is not a usable URL") && !run.stderr.contains("hunter2"),
        "{}",
        run.stderr
    );
}

/// A certificate the app does not know: Entra's refusal, and what to do about it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_certificate_is_explained() {
    let sb = sandbox().await;
    let fixtures = crate::support::root().join("tests/fixtures");
    let auth = format!(
        "{{ method: certificate, app_id: {}, certificate_file: \"{}\", key_file: \"{}\" }}",
        APPS[0].client_id,
        fixtures.join("other.crt").display(),
        fixtures.join("other.key").display()
    );
    let ws = workspace(&sb, "contoso.onmicrosoft.com", &auth, "");
    let run = tenantry(&ws, &["connect", "p.yaml"], &[]).await;
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert_line(&run, "AADSTS700027");
    assert_line(&run, "upload the current one to the app registration");
}

/// Two tenants signing in by device code during `run`: one prompt at a time, each naming its
/// tenant; the second comes only once the first is done, and both happen before any task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_code_prompts_come_one_tenant_at_a_time_before_the_run() {
    let sb = sandbox().await;
    let url = sb.url();
    let tenant = |name: &str| {
        format!(
            "  - {{ name: {name}, organization: {name}.onmicrosoft.com, cloud: custom, endpoints: {{ rest: \"{url}\", authority: \"{url}\", scope: \"https://outlook.office365.com/.default\" }}, auth: {{ method: device_code, user: admin@{name}.onmicrosoft.com }} }}\n"
        )
    };
    let ws = Workspace::new(&[(
        "p.yaml",
        &format!(
            "version: 1\nname: Two people\ntenants:\n{}{}steps:\n  - cmdlet: Get-AcceptedDomain\n",
            tenant("contoso"),
            tenant("fabrikam")
        ),
    )]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args(["run", "p.yaml", "--progress", "plain"])
        .current_dir(ws.path())
        .env("TENANTRY_CACHE_DIR", ws.path().join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if let Some(code) = line.split("enter the code ").nth(1) {
                let tenant = line
                    .split(']')
                    .next()
                    .unwrap()
                    .trim_start_matches('[')
                    .to_string();
                let _ = tx.send((tenant, code.split_whitespace().next().unwrap().to_string()));
            }
        }
    });
    let next = |rx: &std::sync::mpsc::Receiver<(String, String)>, wait: u64| {
        rx.recv_timeout(std::time::Duration::from_millis(wait))
    };
    let (first, code) = next(&rx, 30_000).expect("a first prompt");
    assert!(
        next(&rx, 700).is_err(),
        "no second prompt while the first waits"
    );
    let user = format!("admin@{first}");
    sb.approve_device_code(&code, &user).unwrap();
    let (second, code) = next(&rx, 30_000).expect("a second prompt");
    assert_ne!(first, second);
    sb.approve_device_code(&code, &format!("admin@{second}"))
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("ok       contoso/1-get-accepteddomain"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok       fabrikam/1-get-accepteddomain"),
        "{stdout}"
    );
}

/// `connect PLAYBOOK TENANT` checks one tenant; the quick start's sandbox tenants need no
/// credentials.
#[test]
fn one_tenant_of_the_quick_start_can_be_checked_by_name() {
    let run = crate::support::tenantry(&["connect", "examples/quickstart.yaml", "fabrikam"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert_line(&run, "fabrikam  connected as app");
}

/// A machine whose clock is twenty minutes off: a secret still signs in, with a warning naming
/// the skew; a certificate's assertion is refused, with the advice to fix the clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_clock_is_named() {
    let mut config = SandboxConfig::with_domains(&["contoso.onmicrosoft.com"], 5);
    config.clock_skew = 1200;
    let sb = Sandbox::start(config).await.unwrap();
    let secret = format!(
        "{{ method: client_secret, app_id: {}, secret_env: SECRET }}",
        APPS[0].client_id
    );
    let ws = workspace(&sb, "contoso.onmicrosoft.com", &secret, "");
    let run = connect_with_secret(&ws).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // Read from the service's Date header, to the second: allow for a second's tick.
    let seconds: i64 = run
        .stdout
        .split("warning: this machine's clock is ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a clock warning in {}", run.stdout));
    assert!((1198..=1202).contains(&seconds), "{}", run.stdout);
    assert_line(&run, "s behind the service's");
    assert_line(&run, "token good for 59 min");

    let dir = ws.path();
    std::fs::write(dir.join("app.crt"), tenantry::sandbox::APP_CERTIFICATE).unwrap();
    std::fs::write(dir.join("app.key"), tenantry::sandbox::APP_PRIVATE_KEY).unwrap();
    let auth = format!(
        "{{ method: certificate, app_id: {}, certificate_file: app.crt, key_file: app.key }}",
        APPS[0].client_id
    );
    let ws2 = workspace(&sb, "contoso.onmicrosoft.com", &auth, "");
    std::fs::copy(dir.join("app.crt"), ws2.path().join("app.crt")).unwrap();
    std::fs::copy(dir.join("app.key"), ws2.path().join("app.key")).unwrap();
    let run = tenantry(&ws2, &["connect", "p.yaml"], &[]).await;
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert_line(&run, "AADSTS700024");
    assert_line(&run, "check this machine's clock");
}

/// Two tenants needing a person at once (two providers asking for a token together): the
/// second prompt appears only after the first sign-in is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_device_code_sign_ins_prompt_one_at_a_time() {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    use tenantry::auth::{Credential, DevicePrompt, EXCHANGE_MODULE_CLIENT_ID, TokenProvider};

    struct Approver {
        sandbox: Arc<Sandbox>,
        shown: Mutex<Vec<(String, Instant)>>,
    }
    impl std::fmt::Debug for Approver {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Approver")
        }
    }
    impl DevicePrompt for Approver {
        fn show(&self, tenant: &str, user: &str, message: &str) {
            self.shown
                .lock()
                .unwrap()
                .push((tenant.to_string(), Instant::now()));
            let code = message.split("enter the code ").nth(1).unwrap();
            let code = code.split_whitespace().next().unwrap().to_string();
            let (sandbox, user) = (Arc::clone(&self.sandbox), user.to_string());
            // The person takes a moment to sign in.
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(400));
                sandbox.approve_device_code(&code, &user).unwrap();
            });
        }
    }

    let mut config =
        SandboxConfig::with_domains(&["contoso.onmicrosoft.com", "fabrikam.onmicrosoft.com"], 5);
    config.device_code_interval = Duration::from_millis(100);
    let sandbox = Arc::new(Sandbox::start(config).await.unwrap());
    let approver = Arc::new(Approver {
        sandbox: Arc::clone(&sandbox),
        shown: Mutex::new(Vec::new()),
    });
    let http = tenantry::exchange::http_client().unwrap();
    let provider = |org: &str| {
        TokenProvider::new(
            http.clone(),
            &format!("{}/{org}/oauth2/v2.0/token", sandbox.url()),
            org,
            "https://outlook.office365.com/.default",
            EXCHANGE_MODULE_CLIENT_ID,
            Credential::DeviceCode {
                user: format!("admin@{org}"),
                prompt: approver.clone(),
            },
            Duration::from_secs(300),
        )
        .unwrap()
    };
    let (a, b) = (
        provider("contoso.onmicrosoft.com"),
        provider("fabrikam.onmicrosoft.com"),
    );
    let (ta, tb) = tokio::join!(a.token(), b.token());
    ta.unwrap();
    tb.unwrap();
    let shown = approver.shown.lock().unwrap().clone();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert_ne!(shown[0].0, shown[1].0);
    assert!(
        shown[1].1.duration_since(shown[0].1) >= Duration::from_millis(400),
        "the second prompt waited for the first sign-in: {shown:?}"
    );
}

/// A token command's arguments may hold a credential: a failing command is named by its
/// program only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_token_command_never_shows_its_arguments() {
    let sb = sandbox().await;
    let ws = workspace(
        &sb,
        "contoso.onmicrosoft.com",
        "{ method: access_token, token_command: 'false --user svc:Hunter2pw' }",
        "",
    );
    let run = tenantry(&ws, &["connect", "p.yaml"], &[]).await;
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert_line(&run, "token_command (false …) failed");
    assert!(!run.stdout.contains("Hunter2pw") && !run.stderr.contains("Hunter2pw"));
}

/// An expired certificate is caught before any request, with what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_is_refused_before_signing_in() {
    let sb = sandbox().await;
    let root = crate::support::root();
    let auth = format!(
        "{{ method: certificate, app_id: {}, certificate_file: \"{}\", key_file: \"{}\" }}",
        APPS[0].client_id,
        root.join("tests/fixtures/expired.crt").display(),
        root.join("crates/tenantry-sandbox/src/keys/app.key")
            .display()
    );
    let ws = workspace(&sb, "contoso.onmicrosoft.com", &auth, "");
    let run = tenantry(&ws, &["connect", "p.yaml"], &[]).await;
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("expired on 2021-01-01: create a new one"),
        "{}",
        run.stderr
    );
}
