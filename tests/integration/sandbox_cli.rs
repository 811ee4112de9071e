//! `tenantry sandbox` as a user runs it: it prints where it listens and the sample
//! credentials, serves until stopped, and writes out its test certificate.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{tenantry, tenantry_in};

#[test]
fn the_sandbox_prints_its_urls_and_credentials_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args([
            "sandbox",
            "--port",
            "0",
            "--tenants",
            "2",
            "--mailboxes",
            "7",
            "--latency",
            "5ms",
            "--fault",
            "503:0.01",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tenantry sandbox starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    for _ in 0..40 {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        banner.push_str(&line);
        if line.starts_with("These credentials") {
            break;
        }
    }
    let url = banner
        .lines()
        .next()
        .and_then(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("http://127.0.0.1:"))
        })
        .unwrap_or_else(|| panic!("no URL in:\n{banner}"))
        .to_string();
    for expected in [
        "contoso.onmicrosoft.com",
        "fabrikam.onmicrosoft.com",
        "2 tenants, 7 mailboxes each, seed 1; per tenant: limit 3, latency 5ms",
        "faults 503:0.01",
        "client_secret sbx~admin-app-secret~0001",
        "admin@contoso.onmicrosoft.com",
        "/oauth2/v2.0/token",
    ] {
        assert!(
            banner.contains(expected),
            "banner lacks {expected:?}:\n{banner}"
        );
    }

    let stats: serde_json::Value = reqwest::blocking_get(&format!("{url}/sandbox/stats"));
    assert_eq!(stats["tenants"]["contoso.onmicrosoft.com"]["limit"], 3);

    #[cfg(unix)]
    {
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the sandbox did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(status.code(), Some(0));
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(stderr.contains("sandbox stopped:"), "{stderr}");
    }
    #[cfg(not(unix))]
    {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A blocking GET for a test that runs outside an async runtime.
mod reqwest {
    pub fn blocking_get(url: &str) -> serde_json::Value {
        tenantry::exchange::install_tls_provider();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async { ::reqwest::get(url).await.unwrap().json().await.unwrap() })
    }
}

#[test]
fn the_test_certificate_and_key_can_be_written_out() {
    let dir = tempfile::tempdir().unwrap();
    let run = tenantry_in(dir.path(), &["sandbox", "--write-certificate", "certs"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let cert = std::fs::read_to_string(dir.path().join("certs/sandbox-app.crt")).unwrap();
    let key_path = dir.path().join("certs/sandbox-app.key");
    let key = std::fs::read_to_string(&key_path).unwrap();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
    let parsed = tenantry::jwt::Certificate::from_pem(&cert).unwrap();
    let private = tenantry::jwt::private_key_from_pem(&key).unwrap();
    assert_eq!(parsed.public_key, private.to_public_key());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the private key is readable by its owner only");
    }
}

#[test]
fn bad_sandbox_options_are_refused_with_exit_code_2() {
    for args in [
        &["sandbox", "--fault", "500:0.1"][..],
        &["sandbox", "--fault", "503:2"],
        &["sandbox", "--latency", "fast"],
        &["sandbox", "--token-ttl", "soon"],
        &["sandbox", "--tenants", "0", "--port", "0"],
        &["sandbox", "--rate", "0", "--port", "0"],
        &["sandbox", "--rate", "NaN", "--port", "0"],
        &["sandbox", "--limit", "0", "--port", "0"],
        &["sandbox", "--retry-after", "-1", "--port", "0"],
    ] {
        let run = tenantry(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.is_empty());
    }
}
