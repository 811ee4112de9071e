//! tenantry runs declarative YAML playbooks of Exchange Online admin cmdlets across many
//! tenants: templated steps are expanded per tenant into cmdlet calls, which are then scheduled
//! within the service's connection limits and reported task by task.
//!
//! This library holds the stages up to the plan, one module per stage: [`playbook`] (typed,
//! located loading and validation), [`template`] (minijinja with tenantry's data functions and
//! filters), [`plan`] (expansion into tasks with stable ids, and their text and JSON
//! renderings), and [`cli`]. Beside them, [`sandbox`] is the built-in Exchange Online that the
//! tests, the benchmarks and the quick start run against, and [`jwt`] signs and verifies the
//! RSA tokens both sides of OAuth2 need.
//!
//! Planning a playbook from code:
//!
//! ```
//! use tenantry::plan::{JsonSink, PlanOptions, Planner};
//! use tenantry::playbook::Playbook;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("playbook.yaml");
//! std::fs::write(&path, r#"
//! version: 1
//! name: Litigation hold
//! tenants:
//!   - { name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox }
//! steps:
//!   - cmdlet: Set-Mailbox
//!     for_each: [alex@contoso.com, bo@contoso.com]
//!     params: { Identity: "{{ item }}", LitigationHoldEnabled: true }
//! "#)?;
//!
//! let playbook = Playbook::load(&path)?;
//! let env = tenantry::template::environment(&playbook.dir);
//! let planner = Planner::new(&env, &playbook, &PlanOptions::default())?;
//! let mut out = Vec::new();
//! let summary = planner.expand_all(&mut JsonSink::new(&mut out))?;
//!
//! assert_eq!(summary.tasks, 2);
//! let lines: Vec<&str> = std::str::from_utf8(&out)?.lines().collect();
//! assert!(lines[3].contains(r#""id":"contoso/1-set-mailbox/alex@contoso.com""#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod auth;
pub mod builtin;
pub mod cli;
pub mod cloud;
pub mod connect;
pub mod diagnostic;
pub mod events;
pub mod exchange;
pub mod exit;
pub mod journal;
pub mod plan;
pub mod playbook;
pub mod report;
pub mod run;
pub mod scheduler;
pub mod session;
pub mod template;

/// The built-in Exchange Online sandbox (its own crate, `tenantry-sandbox`).
#[cfg(feature = "sandbox")]
pub use tenantry_sandbox as sandbox;

/// RSA-signed JSON Web Tokens and certificates (from `tenantry-common`).
pub use tenantry_common::jwt;
