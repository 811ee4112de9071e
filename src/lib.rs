//! tenantry runs declarative YAML playbooks of Exchange Online admin cmdlets across many
//! tenants: templated steps are expanded per tenant into cmdlet calls, which are then scheduled
//! within the service's connection limits and reported task by task.
//!
//! # Design
//!
//! This crate is the runner. Data flows one way through it, one module per stage:
//!
//! ```text
//! playbook ─▶ template ─▶ plan ─▶ scheduler ─▶ exchange ─▶ events ─▶ report
//!  (load,      (minijinja)  (expand,  (dispatcher,  (REST +     (one       (terminal, JSONL,
//!   validate)               resolve)   executor)     auth)       fan-out)   CSV, JUnit, MD)
//! ```
//!
//! - [`playbook`] loads the typed playbook and inventory with file:line:col errors and checks
//!   them, each call against the [`catalog`] of Exchange Online's documented cmdlets (which
//!   also tells [`exchange`] how to send each value); [`template`] is the minijinja
//!   environment; [`plan`] expands playbook × tenants × items into tasks with stable ids, and
//!   resolves once each tenant's connection limit and each step's retries, timeout,
//!   `on_error` and idempotence.
//! - [`scheduler`] runs the plan: its dispatcher owns the stop conditions (signals,
//!   `--deadline`, grace) and one [`scheduler::Shutdown`] switch; its executor owns the
//!   semaphores, the retries of cmdlet errors and the clients ([`exchange`], signed in by
//!   [`auth`], per `cloud` and [`session`]); both send through [`trace`], which writes the
//!   HAR log of `--trace` when one is asked for.
//! - [`events`] is the one stream every consumer takes: the [`journal`] first (it records each
//!   task before it is sent, which makes runs resumable), then the reporters (`report`). A resumed
//!   run and `tenantry report` replay results through the same path.
//! - `run` and `connect` put these together for their commands; [`cli`] parses the command
//!   line and maps each error to its exit code ([`exit`]).
//!
//! Beside it, the `tenantry-sandbox` crate is the built-in Exchange Online that the quick
//! start, the tests and the benchmarks run against (re-exported as `sandbox` under the default
//! `sandbox` feature, started in-process by `builtin`); `tenantry-common` holds what both
//! speak: JWTs, the calendar, durations and signal handling.
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
mod builtin;
pub mod catalog;
pub mod check;
pub mod cli;
mod cloud;
mod connect;
pub mod diagnostic;
pub mod events;
pub mod exchange;
pub mod exit;
pub mod fdlimit;
pub mod journal;
pub mod notify;
pub mod plan;
pub mod playbook;
mod report;
pub mod reviewed;
mod run;
pub mod scheduler;
pub mod session;
pub mod state;
pub mod template;
pub mod trace;

/// The built-in Exchange Online sandbox (its own crate, `tenantry-sandbox`).
#[cfg(feature = "sandbox")]
pub use tenantry_sandbox as sandbox;

/// RSA-signed JSON Web Tokens and certificates (from `tenantry-common`).
pub use tenantry_common::jwt;
