//! tenantry runs declarative YAML playbooks of Exchange Online admin cmdlets across many
//! tenants: templated steps are expanded per tenant into cmdlet calls, scheduled within the
//! service's connection limits, and reported task by task.
//!
//! The pipeline, one module per stage: [`playbook`] (typed, located loading and validation),
//! [`template`] (minijinja with tenantry's data functions and filters), [`plan`] (expansion into
//! tasks with stable ids, and their text and JSON renderings), and [`cli`].

pub mod cli;
pub mod diagnostic;
pub mod exit;
pub mod plan;
pub mod playbook;
pub mod template;
