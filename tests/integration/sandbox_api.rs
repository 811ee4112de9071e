//! The sandbox's admin API on the wire: InvokeCommand and `$batch` request and response shapes,
//! paging, `$select`, cmdlet errors, RBAC, tenants by domain or GUID, v2.0 endpoints, the write
//! log, and determinism.

use std::collections::HashSet;

use serde_json::{Value, json};
use tenantry::sandbox::{Sandbox, SandboxConfig};

use crate::wire::{CONTOSO, Wire, cmdlet_input};

#[tokio::test]
async fn invoke_command_answers_with_odata_json_and_echoes_request_ids() {
    let wire = Wire::tenants(5).await;
    let token = wire.app_token(CONTOSO, 0).await;
    let reply = wire
        .invoke_with(
            CONTOSO,
            &token,
            &cmdlet_input("Get-Mailbox", json!({"ResultSize": "Unlimited"})),
            &[
                ("client-request-id", "4f1c7d2e-0000-4000-8000-000000000001"),
                ("X-AnchorMailbox", "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@contoso.onmicrosoft.com"),
                ("X-CmdletName", "Get-Mailbox"),
                ("X-ClientApplication", "ExoManagementModule"),
                ("connection-id", "a-connection"),
                ("Prefer", "odata.maxpagesize=1000"),
            ],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(
        reply.header("client-request-id"),
        Some("4f1c7d2e-0000-4000-8000-000000000001")
    );
    assert_eq!(reply.header("request-id").map(str::len), Some(36));
    assert!(reply.header("date").is_some());
    assert!(
        reply.json["@odata.context"]
            .as_str()
            .unwrap()
            .contains("/adminapi/beta/")
    );
    let value = reply.json["value"].as_array().unwrap();
    assert!(value.len() >= 5, "5 user mailboxes and the shared ones");
    assert!(reply.json.get("@odata.nextLink").is_none());
    assert!(
        reply.json.get("@adminapi.warnings").is_none(),
        "warnings only when there are some"
    );
    let first = &value[0];
    for field in [
        "Identity",
        "Name",
        "Alias",
        "UserPrincipalName",
        "PrimarySmtpAddress",
        "Guid",
        "ExchangeGuid",
        "RecipientTypeDetails",
        "EmailAddresses",
    ] {
        assert!(
            first.get(field).is_some(),
            "Get-Mailbox objects carry {field}: {first}"
        );
    }
}

#[tokio::test]
async fn paging_follows_next_links_to_the_end_without_repeats() {
    let wire = Wire::tenants(2500).await;
    let token = wire.app_token(CONTOSO, 0).await;
    let body = cmdlet_input(
        "Get-Mailbox",
        json!({"RecipientTypeDetails": "UserMailbox", "ResultSize": "Unlimited"}),
    );
    let prefer = [("Prefer", "odata.maxpagesize=1000")];
    let mut reply = wire.invoke_with(CONTOSO, &token, &body, &prefer).await;
    let mut seen = HashSet::new();
    let mut pages = 0;
    loop {
        assert_eq!(reply.status, 200, "{}", reply.json);
        pages += 1;
        for item in reply.json["value"].as_array().unwrap() {
            assert!(
                seen.insert(item["Guid"].as_str().unwrap().to_string()),
                "repeated {item}"
            );
        }
        let Some(next) = reply.json["@odata.nextLink"].as_str() else {
            break;
        };
        assert!(
            next.starts_with(&format!("{}/adminapi/beta/", wire.url())),
            "{next}"
        );
        reply = wire.post(next, &token, &body, &prefer).await;
    }
    assert_eq!((pages, seen.len()), (3, 2500));
    let stats = wire.sandbox.stats().tenant(CONTOSO);
    assert_eq!(stats.requests["Get-Mailbox"]["200"], 3);
}

#[tokio::test]
async fn a_tampered_or_mismatched_page_token_is_refused() {
    let wire = Wire::tenants(30).await;
    let token = wire.app_token(CONTOSO, 0).await;
    let body = cmdlet_input("Get-Mailbox", json!({"ResultSize": "Unlimited"}));
    let first = wire
        .invoke_with(
            CONTOSO,
            &token,
            &body,
            &[("Prefer", "odata.maxpagesize=10")],
        )
        .await;
    assert_eq!(first.json["value"].as_array().unwrap().len(), 10);
    let next = first.json["@odata.nextLink"].as_str().unwrap().to_string();
    let tampered = format!("{next}0");
    let reply = wire.post(&tampered, &token, &body, &[]).await;
    assert_eq!(reply.status, 400, "{}", reply.json);
    let other_body = cmdlet_input("Get-Recipient", json!({}));
    let reply = wire.post(&next, &token, &other_body, &[]).await;
    assert_eq!(
        reply.status, 400,
        "a page token belongs to its request: {}",
        reply.json
    );
}

#[tokio::test]
async fn select_projects_properties_on_every_page() {
    let wire = Wire::tenants(12).await;
    let token = wire.app_token(CONTOSO, 0).await;
    let url = format!(
        "{}/adminapi/beta/{CONTOSO}/InvokeCommand?$select=UserPrincipalName,Alias",
        wire.url()
    );
    let body = cmdlet_input(
        "Get-Mailbox",
        json!({"RecipientTypeDetails": "UserMailbox"}),
    );
    let reply = wire
        .post(&url, &token, &body, &[("Prefer", "odata.maxpagesize=5")])
        .await;
    let item = &reply.json["value"][0];
    assert_eq!(item.as_object().unwrap().len(), 2, "{item}");
    let next = reply.json["@odata.nextLink"].as_str().unwrap();
    let page2 = wire
        .post(next, &token, &body, &[("Prefer", "odata.maxpagesize=5")])
        .await;
    assert_eq!(page2.json["value"][0].as_object().unwrap().len(), 2);
}

#[tokio::test]
async fn cmdlet_errors_carry_id_class_and_text_in_details() {
    let wire = Wire::tenants(3).await;
    let reply = wire
        .invoke(
            CONTOSO,
            "Get-Mailbox",
            json!({"Identity": "nobody@contoso.onmicrosoft.com"}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json["error"]["message"], "Error executing cmdlet");
    let (id, class, text) = reply.cmdlet_error();
    assert_eq!(id, "Ex6F9304");
    assert_eq!(
        class,
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
    );
    assert!(
        text.contains("'nobody@contoso.onmicrosoft.com' couldn't be found"),
        "{text}"
    );
    assert_eq!(
        reply.header("x-exceptiontype"),
        Some("ManagementObjectNotFoundException")
    );

    let reply = wire
        .invoke(CONTOSO, "Get-Mailbox", json!({"Colour": "blue"}))
        .await;
    let (_, class, text) = reply.cmdlet_error();
    assert_eq!(
        class,
        "System.Management.Automation.ParameterBindingException"
    );
    assert!(text.contains("'Colour'"), "{text}");

    let reply = wire.invoke(CONTOSO, "Get-Nonsense", json!({})).await;
    let (_, class, text) = reply.cmdlet_error();
    assert_eq!(
        class,
        "System.Management.Automation.CommandNotFoundException"
    );
    assert!(
        text.starts_with("The term 'Get-Nonsense' is not recognized"),
        "{text}"
    );
}

#[tokio::test]
async fn writes_change_the_directory_and_an_unchanged_set_warns() {
    let wire = Wire::tenants(3).await;
    let set = json!({"Identity": "user001", "RetainDeletedItemsFor": "30.00:00:00"});
    let first = wire.invoke(CONTOSO, "Set-Mailbox", set.clone()).await;
    assert_eq!(first.status, 200, "{}", first.json);
    let again = wire.invoke(CONTOSO, "Set-Mailbox", set).await;
    assert_eq!(again.status, 200);
    let warnings = again.json["@adminapi.warnings"].as_array().unwrap();
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("completed successfully but no settings of"),
        "{warnings:?}"
    );
    let read = wire
        .invoke(
            CONTOSO,
            "Get-Mailbox",
            json!({"Identity": "user001@contoso.onmicrosoft.com"}),
        )
        .await;
    assert_eq!(
        read.json["value"][0]["RetainDeletedItemsFor"],
        "30.00:00:00"
    );

    let created = wire
        .invoke(
            CONTOSO,
            "New-DistributionGroup",
            json!({"Name": "Project X", "Alias": "project-x"}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.json);
    assert_eq!(
        created.json["value"][0]["PrimarySmtpAddress"],
        "project-x@contoso.onmicrosoft.com"
    );
    let add = json!({"Identity": "project-x", "Member": "user002"});
    let added = wire
        .invoke(CONTOSO, "Add-DistributionGroupMember", add.clone())
        .await;
    let twice = wire
        .invoke(CONTOSO, "Add-DistributionGroupMember", add)
        .await;
    assert_eq!(added.status, 200, "{}", added.json);
    assert_eq!(twice.status, 400);
    assert!(
        twice
            .cmdlet_error()
            .1
            .ends_with("MemberAlreadyExistsException")
    );

    // The write log holds each write, in order, with what it did.
    let log = wire.stats().await.writes;
    let summary: Vec<(&str, u16, bool)> = log
        .iter()
        .map(|w| (w.cmdlet.as_str(), w.status, w.changed))
        .collect();
    assert_eq!(
        summary,
        [
            ("Set-Mailbox", 200, true),
            ("Set-Mailbox", 200, false),
            ("New-DistributionGroup", 200, true),
            ("Add-DistributionGroupMember", 200, true),
            ("Add-DistributionGroupMember", 400, false),
        ]
    );
    assert_eq!(log[0].seq, 1);
    assert_eq!(log[0].tenant, CONTOSO);
    assert_eq!(log[0].parameters["RetainDeletedItemsFor"], "30.00:00:00");
    assert!(
        log[4]
            .error
            .as_deref()
            .unwrap()
            .ends_with("MemberAlreadyExistsException")
    );
    let members = wire
        .invoke(
            CONTOSO,
            "Get-DistributionGroupMember",
            json!({"Identity": "Project X"}),
        )
        .await;
    assert_eq!(members.json["value"][0]["Alias"], "user002");
}

#[tokio::test]
async fn roles_decide_what_a_caller_may_run() {
    let wire = Wire::tenants(3).await;
    let reader = wire.app_token(CONTOSO, 1).await;
    let get = wire
        .invoke_with(
            CONTOSO,
            &reader,
            &cmdlet_input("Get-Mailbox", json!({})),
            &[],
        )
        .await;
    assert_eq!(get.status, 200);
    // A Global Reader's session has no Set- cmdlets, so the service does not recognise them.
    let set = wire
        .invoke_with(
            CONTOSO,
            &reader,
            &cmdlet_input(
                "Set-Mailbox",
                json!({"Identity": "user001", "HiddenFromAddressListsEnabled": true}),
            ),
            &[],
        )
        .await;
    assert_eq!(set.status, 400);
    assert_eq!(
        set.cmdlet_error().1,
        "System.Management.Automation.CommandNotFoundException"
    );
    let log = wire.stats().await.writes;
    assert_eq!(log.len(), 1, "the refused write is logged as refused");
    assert_eq!((log[0].status, log[0].changed), (400, false));
    let unchanged = wire
        .invoke(CONTOSO, "Get-Mailbox", json!({"Identity": "user001"}))
        .await;
    assert_eq!(
        unchanged.json["value"][0]["HiddenFromAddressListsEnabled"],
        false
    );
    // An app without admin consent has no Exchange role at all.
    let unconsented = wire.app_token(CONTOSO, 2).await;
    let refused = wire
        .invoke_with(
            CONTOSO,
            &unconsented,
            &cmdlet_input("Get-Mailbox", json!({})),
            &[],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.json);
}

#[tokio::test]
async fn tenants_are_found_by_domain_vanity_domain_or_guid_in_any_case() {
    let wire = Wire::tenants(3).await;
    let token = wire.app_token(CONTOSO, 0).await;
    let tenant = wire.sandbox.tenants()[0].clone();
    for key in [
        tenant.domain.to_uppercase(),
        tenant.vanity_domain.clone(),
        tenant.id.clone(),
    ] {
        let reply = wire
            .invoke_with(
                &key,
                &token,
                &cmdlet_input("Get-OrganizationConfig", json!({})),
                &[],
            )
            .await;
        assert_eq!(reply.status, 200, "{key}: {}", reply.json);
    }
    // A contoso token does not open fabrikam.
    let reply = wire
        .invoke_with(
            "fabrikam.onmicrosoft.com",
            &token,
            &cmdlet_input("Get-Mailbox", json!({})),
            &[],
        )
        .await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn batch_runs_each_request_and_answers_by_id() {
    let wire = Wire::tenants(3).await;
    let token = wire.app_token(CONTOSO, 0).await;
    let invoke = format!("{}/adminapi/beta/{CONTOSO}/InvokeCommand", wire.url());
    let batch = json!({"requests": [
        {"id": "1", "method": "POST", "url": invoke, "headers": {"X-CmdletName": "Get-Mailbox"}, "body": cmdlet_input("Get-Mailbox", json!({"Identity": "user001"}))},
        {"id": "2", "method": "POST", "url": invoke, "body": cmdlet_input("Get-Mailbox", json!({"Identity": "missing"}))},
        {"id": "3", "method": "POST", "url": invoke, "body": cmdlet_input("Set-Mailbox", json!({"Identity": "user002", "CustomAttribute1": "batched"}))},
    ]});
    let url = format!("{}/adminapi/beta/{CONTOSO}/$batch", wire.url());
    let reply = wire
        .post(
            &url,
            &token,
            &batch,
            &[("Prefer", "odata.maxpagesize=1000;odata.continue-on-error")],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let responses = reply.json["responses"].as_array().unwrap();
    let statuses: Vec<(&str, u64)> = responses
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(statuses, [("1", 200), ("2", 400), ("3", 200)]);
    assert_eq!(responses[0]["body"]["value"][0]["Alias"], "user001");
    assert!(
        responses[1]["body"]["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ManagementObjectNotFoundException")
    );
    let too_many = json!({"requests": (0..21).map(|i| json!({"id": i.to_string(), "method": "POST", "url": invoke, "body": cmdlet_input("Get-AcceptedDomain", json!({}))})).collect::<Vec<_>>()});
    assert_eq!(wire.post(&url, &token, &too_many, &[]).await.status, 400);
}

#[tokio::test]
async fn v2_endpoints_accept_only_their_cmdlets_and_require_an_anchor() {
    let wire = Wire::tenants(3).await;
    let token = wire.app_token(CONTOSO, 0).await;
    let url = format!("{}/adminapi/v2.0/{CONTOSO}/Mailbox", wire.url());
    let anchor = [("X-AnchorMailbox", "UPN:user001@contoso.onmicrosoft.com")];
    let ok = wire
        .post(
            &url,
            &token,
            &cmdlet_input("Get-Mailbox", json!({"Identity": "user001"})),
            &anchor,
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.json);
    let wrong = wire
        .post(
            &url,
            &token,
            &cmdlet_input("Get-TransportRule", json!({})),
            &anchor,
        )
        .await;
    assert_eq!(wrong.status, 400);
    let no_anchor = wire
        .post(&url, &token, &cmdlet_input("Get-Mailbox", json!({})), &[])
        .await;
    assert_eq!(no_anchor.status, 400);
    let bad_anchor = wire
        .post(
            &url,
            &token,
            &cmdlet_input("Get-Mailbox", json!({})),
            &[("X-AnchorMailbox", "user001")],
        )
        .await;
    assert_eq!(bad_anchor.status, 400);
    // The reader app lacks Exchange.ManageAsAppV2.
    let reader = wire.app_token(CONTOSO, 1).await;
    let refused = wire
        .post(
            &url,
            &reader,
            &cmdlet_input("Get-Mailbox", json!({})),
            &anchor,
        )
        .await;
    assert_eq!(refused.status, 403);
}

#[tokio::test]
async fn malformed_requests_get_400_not_a_crash() {
    let wire = Wire::tenants(1).await;
    let token = wire.app_token(CONTOSO, 0).await;
    for body in [
        json!("text"),
        json!({"CmdletInput": {}}),
        json!({"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": [1]}}),
    ] {
        let reply = wire.invoke_with(CONTOSO, &token, &body, &[]).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.json);
    }
    let clixml = wire
        .invoke_with(
            CONTOSO,
            &token,
            &cmdlet_input("Get-Mailbox", json!({})),
            &[("X-ResponseFormat", "clixml")],
        )
        .await;
    assert_eq!(clixml.status, 400);
    let unknown = wire
        .http
        .get(format!("{}/nothing/here", wire.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn the_same_seed_builds_the_same_directory() {
    let a = Sandbox::start(SandboxConfig::with_tenants(2, 40))
        .await
        .unwrap();
    let b = Sandbox::start(SandboxConfig::with_tenants(2, 40))
        .await
        .unwrap();
    let mut other = SandboxConfig::with_tenants(2, 40);
    other.seed = 2;
    let c = Sandbox::start(other).await.unwrap();
    assert_eq!(a.tenants()[0].id, b.tenants()[0].id);
    assert_eq!(a.directory(CONTOSO), b.directory(CONTOSO));
    assert_ne!(a.directory(CONTOSO), c.directory(CONTOSO));
    assert_ne!(a.tenants()[0].id, c.tenants()[0].id);
    // And it is served as the admin API shows it.
    tenantry::exchange::install_tls_provider();
    let http = reqwest::Client::new();
    let served: Value = http
        .get(format!("{}/sandbox/tenants/{CONTOSO}/directory", a.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(Some(served), b.directory(CONTOSO));
}

/// Every call the example playbooks plan binds in the sandbox: the cmdlet exists there and
/// takes every parameter the examples pass, with values of the right type. (The objects they
/// name may not exist in a sandbox tenant; that is a different error and allowed.)
#[tokio::test]
async fn every_call_in_the_examples_binds_in_the_sandbox() {
    let wire = Wire::tenants(5).await;
    let token = wire.app_token(CONTOSO, 0).await;
    let mut calls = Vec::new();
    for entry in std::fs::read_dir(crate::support::root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let is_playbook = path.extension().is_some_and(|e| e == "yaml")
            && path.file_name().is_some_and(|n| n != "tenants.yaml");
        if !is_playbook {
            continue;
        }
        let run = crate::support::tenantry(&["plan", path.to_str().unwrap(), "--format", "json"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        for line in run.stdout.lines() {
            let record: Value = serde_json::from_str(line).unwrap();
            let complete = !record["params"].to_string().contains("{{");
            if matches!(record["type"].as_str(), Some("task" | "deferred")) && complete {
                calls.push((
                    record["cmdlet"].as_str().unwrap().to_string(),
                    record["params"].clone(),
                ));
            }
        }
    }
    assert!(calls.len() > 10, "the examples plan calls: {}", calls.len());
    let mut cmdlets = HashSet::new();
    for (cmdlet, params) in calls {
        let reply = wire
            .invoke_with(CONTOSO, &token, &cmdlet_input(&cmdlet, params.clone()), &[])
            .await;
        cmdlets.insert(cmdlet.clone());
        if reply.status == 200 {
            continue;
        }
        let (_, class, text) = reply.cmdlet_error();
        assert!(
            !class.starts_with("System.Management.Automation."),
            "{cmdlet} {params} does not bind: {class}: {text}"
        );
    }
    assert!(cmdlets.len() >= 8, "{cmdlets:?}");
}

#[tokio::test]
async fn a_page_link_can_be_retried_and_gives_the_same_page() {
    let wire = Wire::tenants(30).await;
    let token = wire.app_token(CONTOSO, 0).await;
    let body = cmdlet_input(
        "Get-Mailbox",
        json!({"RecipientTypeDetails": "UserMailbox", "ResultSize": 25}),
    );
    let prefer = [("Prefer", "odata.maxpagesize=10")];
    let first = wire.invoke_with(CONTOSO, &token, &body, &prefer).await;
    let next = first.json["@odata.nextLink"].as_str().unwrap().to_string();
    let once = wire.post(&next, &token, &body, &prefer).await;
    let again = wire.post(&next, &token, &body, &prefer).await;
    assert_eq!(once.json["value"], again.json["value"]);
    assert_eq!(once.json["value"][0]["Alias"], "user011");
    let last = wire
        .post(
            once.json["@odata.nextLink"].as_str().unwrap(),
            &token,
            &body,
            &prefer,
        )
        .await;
    let aliases: Vec<&str> = last.json["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["Alias"].as_str())
        .collect();
    assert_eq!(
        aliases.len(),
        5,
        "ResultSize 25 ends the third page at five"
    );
    assert!(last.json.get("@odata.nextLink").is_none());
}

/// A page link followed by GET (go-exoscc's way: headers, no body) gives what a re-POST of the
/// body gives (the module's way), page for page; a GET whose token is missing, altered or
/// another tenant's is refused.
#[tokio::test]
async fn a_page_link_followed_by_get_gives_what_a_post_gives() {
    let wire = Wire::tenants(30).await;
    let token = wire.app_token(CONTOSO, 0).await;
    let body = cmdlet_input(
        "Get-Mailbox",
        json!({"RecipientTypeDetails": "UserMailbox", "ResultSize": "Unlimited"}),
    );
    let prefer = [("Prefer", "odata.maxpagesize=7")];
    let url = format!(
        "{}/adminapi/beta/{CONTOSO}/InvokeCommand?$select=Alias,Guid",
        wire.url()
    );
    let mut pages = Vec::new();
    for by_get in [false, true] {
        let mut reply = wire.post(&url, &token, &body, &prefer).await;
        let mut objects = Vec::new();
        let mut links = Vec::new();
        loop {
            assert_eq!(reply.status, 200, "{}", reply.json);
            objects.extend(reply.json["value"].as_array().unwrap().iter().cloned());
            let Some(next) = reply.json["@odata.nextLink"].as_str() else {
                break;
            };
            links.push(next.to_string());
            reply = if by_get {
                wire.get(next, Some(&token), &prefer).await
            } else {
                wire.post(next, &token, &body, &prefer).await
            };
        }
        pages.push((objects, links));
    }
    let (by_post, post_links) = &pages[0];
    let (by_get, get_links) = &pages[1];
    assert_eq!(by_post.len(), 30);
    assert_eq!(by_get, by_post, "the same objects in the same order");
    assert_eq!(by_get[0].as_object().unwrap().len(), 2, "$select holds");
    assert_eq!(get_links.len(), 4);
    let stats = wire.sandbox.stats().tenant(CONTOSO);
    assert_eq!(stats.pages_by_get, 4, "{stats:?}");
    assert_eq!(stats.requests["Get-Mailbox"]["200"], 10);

    // A link followed by GET can be retried, and a POST of the body still opens it.
    let again = wire.get(&get_links[0], Some(&token), &prefer).await;
    assert_eq!(again.json["value"].as_array().unwrap()[..], by_post[7..14]);
    let posted = wire.post(&get_links[1], &token, &body, &prefer).await;
    assert_eq!(
        posted.json["value"].as_array().unwrap()[..],
        by_post[14..21]
    );

    // Refused: no token, an altered one, another tenant's, and no sign-in at all.
    let invoke = format!("{}/adminapi/beta/{CONTOSO}/InvokeCommand", wire.url());
    let no_token = wire.get(&invoke, Some(&token), &prefer).await;
    assert_eq!(no_token.status, 400, "{}", no_token.json);
    let tampered = post_links[0].replacen("skiptoken=7.", "skiptoken=8.", 1);
    assert_ne!(tampered, post_links[0]);
    assert_eq!(wire.get(&tampered, Some(&token), &prefer).await.status, 400);
    let other = "fabrikam.onmicrosoft.com";
    let moved = post_links[0].replacen(CONTOSO, other, 1);
    let other_token = wire.app_token(other, 0).await;
    assert_eq!(
        wire.get(&moved, Some(&other_token), &prefer).await.status,
        400,
        "a link belongs to its tenant"
    );
    assert_eq!(wire.get(&post_links[0], None, &prefer).await.status, 401);
    assert_eq!(
        wire.sandbox.stats().tenant(CONTOSO).pages_by_get,
        5,
        "refusals are not pages"
    );
}

#[tokio::test]
async fn v2_endpoints_page_on_their_own_endpoint() {
    let wire = Wire::tenants(12).await;
    let token = wire.app_token(CONTOSO, 0).await;
    let url = format!("{}/adminapi/v2.0/{CONTOSO}/Mailbox", wire.url());
    let headers = [
        (
            "X-AnchorMailbox",
            "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@contoso.onmicrosoft.com",
        ),
        ("Prefer", "odata.maxpagesize=5"),
    ];
    let body = cmdlet_input("Get-Mailbox", json!({"ResultSize": "Unlimited"}));
    let mut reply = wire.post(&url, &token, &body, &headers).await;
    let mut total = 0;
    loop {
        assert_eq!(reply.status, 200, "{}", reply.json);
        total += reply.json["value"].as_array().unwrap().len();
        let Some(next) = reply.json["@odata.nextLink"].as_str() else {
            break;
        };
        assert!(
            next.contains("/adminapi/v2.0/contoso.onmicrosoft.com/Mailbox?"),
            "{next}"
        );
        reply = wire.post(next, &token, &body, &headers).await;
    }
    assert_eq!(total, 16, "12 users, 3 shared mailboxes and a room");
    // InvokeCommand answers on v2.0 too.
    let invoke = format!("{}/adminapi/v2.0/{CONTOSO}/InvokeCommand", wire.url());
    assert_eq!(
        wire.post(
            &invoke,
            &token,
            &cmdlet_input("Get-AcceptedDomain", json!({})),
            &headers
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn batch_items_must_post_to_the_batchs_tenant_and_are_counted_by_cmdlet() {
    let wire = Wire::tenants(3).await;
    let token = wire.app_token(CONTOSO, 0).await;
    let base = wire.url();
    let batch = json!({"requests": [
        {"id": "a", "method": "POST", "url": format!("{base}/adminapi/beta/fabrikam.onmicrosoft.com/InvokeCommand"), "body": cmdlet_input("Get-AcceptedDomain", json!({}))},
        {"id": "b", "method": "DELETE", "url": format!("/adminapi/beta/{CONTOSO}/InvokeCommand"), "body": cmdlet_input("Set-Mailbox", json!({"Identity": "user001", "CustomAttribute1": "x"}))},
        {"id": "c", "method": "POST", "url": format!("/adminapi/beta/{CONTOSO}/InvokeCommand"), "body": cmdlet_input("Get-AcceptedDomain", json!({}))},
    ]});
    let reply = wire
        .post(
            &format!("{base}/adminapi/beta/{CONTOSO}/$batch"),
            &token,
            &batch,
            &[],
        )
        .await;
    let statuses: Vec<u64> = reply.json["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [400, 405, 200]);
    let stats = wire.stats().await;
    assert!(stats.writes.is_empty(), "the DELETE item did not run");
    let contoso = stats.tenant(CONTOSO);
    assert_eq!(contoso.requests["Get-AcceptedDomain"]["200"], 1);
    assert_eq!(contoso.requests["Get-AcceptedDomain"]["400"], 1);
    assert_eq!(contoso.requests["Set-Mailbox"]["405"], 1);
    assert_eq!(contoso.requests["$batch"]["200"], 1);
}

#[tokio::test]
async fn the_write_log_is_in_the_order_writes_applied_under_concurrency() {
    let wire =
        Wire::start(SandboxConfig::with_tenants(1, 3).each_tenant(|t| t.behaviour.limit = 64))
            .await;
    let token = wire.app_token(CONTOSO, 0).await;
    let calls = (0..40).map(|i| {
        let body = cmdlet_input(
            "Set-Mailbox",
            json!({"Identity": "user001", "CustomAttribute1": format!("v{i}")}),
        );
        let wire = &wire;
        let token = token.clone();
        async move { wire.invoke_with(CONTOSO, &token, &body, &[]).await }
    });
    let mut handles = Vec::new();
    for call in calls {
        handles.push(call);
    }
    for reply in crate::sandbox_limits::futures_join(handles).await {
        assert_eq!(reply.status, 200);
    }
    let log = wire.stats().await.writes;
    assert_eq!(log.len(), 40);
    let last = log.iter().rev().find(|w| w.changed).unwrap();
    let now = wire
        .invoke(CONTOSO, "Get-Mailbox", json!({"Identity": "user001"}))
        .await;
    assert_eq!(
        now.json["value"][0]["CustomAttribute1"],
        last.parameters["CustomAttribute1"]
    );
    assert!(log.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
}

#[tokio::test]
async fn hostile_requests_get_errors_and_the_server_keeps_serving() {
    let wire = Wire::tenants(3).await;
    let token = wire.app_token(CONTOSO, 0).await;
    let chain = vec!["Alias -eq 'x'"; 8000].join(" -and ");
    let cases = [
        json!({"Filter": chain}),
        json!({"ResultSize": u64::MAX}),
        json!({"ResultSize": 4_294_967_296u64}),
        json!({"ResultSize": -1}),
        json!({"Identity": "*".repeat(10_000)}),
        json!({"Identity": {"nested": [1, 2, {"deeper": null}]}}),
    ];
    for params in cases {
        let reply = wire
            .invoke_with(
                CONTOSO,
                &token,
                &cmdlet_input("Get-Mailbox", params.clone()),
                &[],
            )
            .await;
        assert!(
            matches!(reply.status, 200 | 400),
            "{params}: {}",
            reply.json
        );
    }
    // Names a client makes up are counted together, so they cannot grow the statistics.
    let made_up = wire
        .invoke_with(
            CONTOSO,
            &token,
            &cmdlet_input(&"Get-X".repeat(1000), json!({})),
            &[],
        )
        .await;
    assert_eq!(made_up.status, 400);
    let stats = wire.stats().await.tenant(CONTOSO);
    assert_eq!(stats.requests["(unknown)"]["400"], 1);
    assert!(
        stats.requests.keys().all(|k| k.len() < 40),
        "{:?}",
        stats.requests.keys()
    );
    assert_eq!(
        wire.invoke(CONTOSO, "Get-AcceptedDomain", json!({}))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn cmdlet_error_statuses_can_be_configured_per_exception() {
    let wire = Wire::start(SandboxConfig::with_tenants(1, 3).each_tenant(|t| {
        t.behaviour
            .error_status
            .insert("ManagementObjectNotFoundException".into(), 404);
    }))
    .await;
    let missing = wire
        .invoke(CONTOSO, "Get-Mailbox", json!({"Identity": "ghost"}))
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.cmdlet_error().0, "Ex6F9304");
    let unbound = wire
        .invoke(CONTOSO, "Get-Mailbox", json!({"Colour": "x"}))
        .await;
    assert_eq!(unbound.status, 400);
}

#[tokio::test]
async fn a_page_link_accepts_the_same_request_spelled_differently() {
    let wire = Wire::tenants(12).await;
    let token = wire.app_token(CONTOSO, 0).await;
    let first = wire
        .invoke_with(CONTOSO, &token, &json!({"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"ResultSize": "Unlimited", "RecipientTypeDetails": "UserMailbox"}}}), &[("Prefer", "odata.maxpagesize=5")])
        .await;
    let next = first.json["@odata.nextLink"].as_str().unwrap();
    // Keys in another order and parameter names in another case: the same request.
    let respelled = json!({"CmdletInput": {"Parameters": {"recipienttypedetails": "UserMailbox", "resultsize": "Unlimited"}, "CmdletName": "get-mailbox"}});
    let second = wire
        .post(
            next,
            &token,
            &respelled,
            &[("Prefer", "odata.maxpagesize=5")],
        )
        .await;
    assert_eq!(second.status, 200, "{}", second.json);
    assert_eq!(second.json["value"][0]["Alias"], "user006");
}

#[tokio::test]
async fn unimplemented_v2_endpoints_say_so_and_batches_keep_their_version() {
    let wire = Wire::tenants(3).await;
    let token = wire.app_token(CONTOSO, 0).await;
    let anchor = [("X-AnchorMailbox", "UPN:user001@contoso.onmicrosoft.com")];
    let url = format!(
        "{}/adminapi/v2.0/{CONTOSO}/MailboxFolderPermission",
        wire.url()
    );
    let reply = wire
        .post(
            &url,
            &token,
            &cmdlet_input(
                "Get-MailboxFolderPermission",
                json!({"Identity": "user001:\\Calendar"}),
            ),
            &anchor,
        )
        .await;
    assert_eq!(reply.status, 501, "{}", reply.json);
    let batch = json!({"requests": [{"id": "1", "method": "POST", "url": format!("/adminapi/v2.0/{CONTOSO}/InvokeCommand"), "body": cmdlet_input("Get-AcceptedDomain", json!({}))}]});
    let reply = wire
        .post(
            &format!("{}/adminapi/beta/{CONTOSO}/$batch", wire.url()),
            &token,
            &batch,
            &[],
        )
        .await;
    assert_eq!(reply.json["responses"][0]["status"], 400, "{}", reply.json);
}
