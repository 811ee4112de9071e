use std::collections::BTreeMap;

use super::*;
use crate::events::TenantSummary;

fn summary(check: bool, exit_code: i32) -> RunSummary {
    let mut tenants = BTreeMap::new();
    tenants.insert(
        "contoso".to_string(),
        TenantSummary {
            ok: 8,
            changed: 3,
            failed: 2,
            unknown: 1,
            ..Default::default()
        },
    );
    tenants.insert(
        "fabrikam".to_string(),
        TenantSummary {
            ok: 10,
            drift: 4,
            new: 1,
            ..Default::default()
        },
    );
    tenants.insert(
        "northwind".to_string(),
        TenantSummary {
            stopped: Some("sign-in failed: AADSTS7000215 <invalid secret> & more".into()),
            ..Default::default()
        },
    );
    RunSummary {
        playbook: "Litigation hold".into(),
        total: TenantSummary {
            ok: 18,
            changed: 3,
            failed: 2,
            unknown: 1,
            drift: 4,
            new: 1,
            ..Default::default()
        },
        tenants,
        duration_ms: 83_400,
        complete: true,
        stopped_by: None,
        exit_code,
        check,
    }
}

fn context() -> Context {
    Context {
        command: "run",
        playbook_path: "playbooks/hold.yaml".into(),
        reports: Some(PathBuf::from("/var/lib/tenantry/reports")),
        host: "ci-runner-7".into(),
        shard: Some("2/4".into()),
    }
}

fn message<'a>(summary: &'a RunSummary, context: &'a Context) -> Message<'a> {
    Message {
        event: classify(summary, false).headline(),
        summary,
        context,
        run_id: Some("20261130T184000Z-1a2b"),
        error: None,
        report_url: Some("https://ci.example.com/build/42"),
    }
}

#[test]
fn each_format_renders_a_failed_run() {
    let s = summary(false, 1);
    let c = context();
    let m = message(&s, &c);
    insta::assert_json_snapshot!("json", m.render(Format::Json));
    insta::assert_json_snapshot!("slack", m.render(Format::Slack));
    insta::assert_json_snapshot!("teams", m.render(Format::Teams));
}

#[test]
fn a_check_with_new_drift_is_drift_and_pending_changes_are_no_failure() {
    let c = Context {
        command: "check",
        ..context()
    };
    let mut s = summary(true, crate::exit::CHANGES_PENDING);
    for t in s.tenants.values_mut() {
        t.failed = 0;
        t.unknown = 0;
        t.stopped = None;
    }
    let ended = classify(&s, false);
    assert_eq!(
        ended,
        Ended {
            failed: false,
            new_drift: true
        }
    );
    assert!(ended.matches(When::Drift) && ended.matches(When::Finish));
    assert!(!ended.matches(When::Failure));
    let text = message(&s, &c).render(Format::Slack)["text"].to_string();
    assert!(text.contains("new drift found"), "{text}");

    s.total.new = 0;
    s.exit_code = crate::exit::CHANGES_PENDING_KNOWN;
    assert_eq!(
        classify(&s, false),
        Ended {
            failed: false,
            new_drift: false
        }
    );
    s.exit_code = crate::exit::TASKS_FAILED;
    assert!(classify(&s, false).failed);
    // A run's exit 5 would be a failure: only a check passes with changes pending.
    s.check = false;
    s.exit_code = crate::exit::INTERRUPTED;
    assert!(classify(&s, false).failed);
    s.exit_code = crate::exit::OK;
    assert!(!classify(&s, false).failed);
    assert!(
        classify(&s, true).failed,
        "a run that could not start failed"
    );
}

#[test]
fn long_tenant_lists_are_cut_with_a_count_of_the_rest() {
    let mut s = summary(false, 1);
    for i in 0..25 {
        s.tenants.insert(
            format!("t{i:02}"),
            TenantSummary {
                failed: 1,
                ..Default::default()
            },
        );
    }
    let c = context();
    let m = message(&s, &c);
    let slack = m.render(Format::Slack);
    let listed = slack["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|b| {
            b["text"]["text"]
                .as_str()
                .filter(|t| t.starts_with("*Failing tenants*"))
        })
        .unwrap()
        .to_string();
    assert_eq!(listed.matches("\n• ").count(), MAX_TENANTS_LISTED);
    assert!(listed.ends_with("… and 17 more"), "{listed}");
    let teams = m.render(Format::Teams);
    let body = teams["attachments"][0]["content"]["body"]
        .as_array()
        .unwrap();
    let facts = body
        .iter()
        .filter(|b| b["type"] == "FactSet")
        .nth(1)
        .unwrap()["facts"]
        .as_array()
        .unwrap();
    assert_eq!(facts.len(), MAX_TENANTS_LISTED + 1);
    assert_eq!(facts[MAX_TENANTS_LISTED]["value"], "and 17 more");
    let json = m.render(Format::Json);
    assert_eq!(json["failing_tenants"].as_array().unwrap().len(), 27);
    assert_eq!(
        json["failing_tenants"][0]["tenant"], "contoso",
        "most failures first"
    );
}

#[test]
fn formats_follow_the_host() {
    for (host, format) in [
        ("hooks.slack.com", Format::Slack),
        ("prod-12.westeurope.logic.azure.com", Format::Teams),
        (
            "default1234.56.environment.api.powerplatform.com",
            Format::Teams,
        ),
        ("contoso.webhook.office.com", Format::Teams),
        ("alerts.example.com", Format::Json),
        ("notslack.com", Format::Json),
        ("hooks.slack.com.evil.example", Format::Json),
    ] {
        assert_eq!(Format::for_host(host), format, "{host}");
    }
}

#[test]
fn plain_http_goes_to_loopback_only_and_the_url_is_never_in_the_message() {
    assert!(check_url("https://hooks.slack.com/services/T0/B0/secret").is_ok());
    assert!(check_url("http://127.0.0.1:8080/hook").is_ok());
    assert!(check_url("http://[::1]:8080/hook").is_ok());
    assert!(check_url("http://localhost/hook").is_ok());
    let why = check_url("http://hooks.example.com/services/secret-path").unwrap_err();
    assert!(
        why.contains("hooks.example.com") && !why.contains("secret-path"),
        "{why}"
    );
    assert!(check_url("ftp://example.com/x").is_err());
    assert!(check_url("not a url").is_err());
}

#[test]
fn targets_name_where_their_url_is_kept() {
    assert_eq!(
        parse_target("env:HOOK", "--notify").unwrap(),
        (UrlSource::Env("HOOK".into()), None)
    );
    assert_eq!(
        parse_target("file:hook.txt", "--notify").unwrap(),
        (UrlSource::File("hook.txt".into()), None)
    );
    let (source, url) = parse_target("https://example.com/h", "--notify").unwrap();
    assert_eq!(source, UrlSource::Given("--notify"));
    assert_eq!(url.as_deref(), Some("https://example.com/h"));
    let e = parse_target("example.com/secret", "--notify").unwrap_err();
    assert!(!e.to_string().contains("secret"), "{e}");
    assert!(parse_target("env:", "--notify").is_err());
}

#[test]
fn report_urls_take_variables_and_go_without_a_link_when_one_is_unset() {
    assert_eq!(
        expand_report_url("https://ci.example.com/${PATH_IS_SET_EVERYWHERE_NOT}", "x"),
        None
    );
    // PATH is set wherever tests run.
    let path = std::env::var("PATH").unwrap();
    assert_eq!(
        expand_report_url("https://ci.example.com/?p=${PATH}", "x").unwrap(),
        format!("https://ci.example.com/?p={path}")
    );
    assert_eq!(expand_report_url("reports/", "x"), None);
}

#[test]
fn a_secret_url_debugs_as_its_host() {
    let url =
        SecretUrl(reqwest::Url::parse("https://hooks.slack.com/services/T/B/s3cret").unwrap());
    let shown = format!("{url:?}");
    assert!(
        !shown.contains("s3cret") && shown.contains("hooks.slack.com"),
        "{shown}"
    );
}

#[test]
fn a_slack_workflow_trigger_takes_json_and_a_label_says_where_the_url_is() {
    let made = |url: &str| {
        target(
            None,
            None,
            UrlSource::Given("--notify"),
            Some(url.to_string()),
            DEFAULT_ON.to_vec(),
            None,
            &[],
        )
        .unwrap()
    };
    let hook = made("https://hooks.slack.com/services/T0/B0/secret");
    assert_eq!(
        (hook.format, hook.label.as_str()),
        (Format::Slack, "slack (--notify)")
    );
    let trigger = made("https://hooks.slack.com/triggers/T0/1/secret");
    assert_eq!(trigger.format, Format::Json);
    let named = target(
        Some("ops"),
        Some(Format::Teams),
        UrlSource::Given("TENANTRY_NOTIFY"),
        Some("https://example.com/h".into()),
        vec![When::Finish],
        None,
        &[],
    )
    .unwrap();
    assert_eq!(named.label, "ops (TENANTRY_NOTIFY)");
    assert_eq!(named.format, Format::Teams);
}

/// The lines of `text` as diagnostics show them, its notify URLs' secrets hidden.
fn shown(text: &str) -> String {
    let file = crate::diagnostic::SourceFile::with_hidden(
        "p.yaml",
        text.to_string(),
        crate::playbook::notify::secret_spans(text),
    );
    (1..=text.lines().count())
        .map(|n| file.shown_line(n).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn diagnostics_hide_urls_in_notify_sections_only() {
    let text = "name: https://docs.example.com/keep/this
notify:
- url_env: https://hooks.slack.com/services/T1/B1/X1
  url_file: hook.txt
- { format: json, url: \"https://user:pw@example.com/a\", on: [] }
- url_env: >-
    https://hooks.slack.com/services/
    T2/B2/X2
  on: []
- url_env: 'https://outlook.office.com/webhook/
    abc/def'
  name: Bob's hook
steps:
  - cmdlet: Get-Mailbox
    params: { Uri: https://graph.example.com/v1.0/users }
";
    insta::assert_snapshot!(shown(text), @r#"
    name: https://docs.example.com/keep/this
    notify:
    - url_env: https://hooks.slack.com/*****************
      url_file: hook.txt
    - { format: json, url: "https://*********************", on: [] }
    - url_env: >-
        https://hooks.slack.com/*********
        ********
      on: []
    - url_env: 'https://outlook.office.com/********
        *******'
      name: Bob's hook
    steps:
      - cmdlet: Get-Mailbox
        params: { Uri: https://graph.example.com/v1.0/users }
    "#);
}

#[test]
fn a_flow_notify_section_ends_at_its_bracket() {
    let text = "notify: [{ url: \"https://example.com/s3cret\" }, {url_env: A}]
steps: [{ cmdlet: Get-Mailbox, params: { Uri: https://graph.example.com/v1.0/users } }]
";
    let shown = shown(text);
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("/v1.0/users"), "{shown}");
}

#[test]
fn report_urls_expand_no_secret() {
    let hooks = ["HOOK".to_string()];
    for refused in [
        "${AZURE_CLIENT_SECRET}",
        "https://ci.example.com/${GITHUB_TOKEN}",
        "${db_password}",
        "${DB_PASSWD}",
        "${DB_PWD}",
        "${API_KEY}",
        "${ARM_CLIENT_CERTIFICATE_PATH}",
        "${Credentials}",
        "${SLACK_WEBHOOK_URL}",
        "${BASIC_AUTH}",
        "https://ci.example.com/${CI_JOB_ID}/${HOOK}",
    ] {
        assert!(check_report_url(refused, &hooks).is_err(), "{refused}");
    }
    for taken in [
        "${CI_PIPELINE_URL}",
        "https://ci.example.com/${CI_JOB_ID}?d=${PWD}&o=${OLDPWD}",
        "no variables",
    ] {
        assert_eq!(check_report_url(taken, &hooks), Ok(()), "{taken}");
    }
    let e = target(
        Some("ops"),
        Some(Format::Json),
        UrlSource::Given("--notify"),
        Some("https://example.com/h".into()),
        vec![When::Finish],
        Some("${HOOK}"),
        &hooks,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "notification ops (--notify): report_url names ${HOOK}, which holds a webhook URL; a report link is posted to the channel, so it takes no secret: name a variable that says where the run is, like ${CI_PIPELINE_URL}"
    );
}

#[test]
fn slack_escapes_its_text_and_keeps_its_link_whole() {
    let mut s = summary(false, 1);
    s.playbook = "<!channel> & co".into();
    let c = context();
    let m = Message {
        report_url: Some("https://ci.example.com/a|b<c>d&e"),
        ..message(&s, &c)
    };
    let slack = m.render(Format::Slack);
    let text = slack["text"].as_str().unwrap();
    assert!(text.contains("&lt;!channel&gt; &amp; co"), "{text}");
    assert!(!text.contains("<!channel>"), "{text}");
    let link = slack["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["text"]["text"].as_str())
        .find(|t| t.ends_with("|Open the reports>"))
        .unwrap();
    assert_eq!(
        link,
        "<https://ci.example.com/a%7Cb%3Cc%3Ed&amp;e|Open the reports>"
    );
}
