//! Integration tests: each drives the `tenantry` binary as a user would.

// Helpers shared between test modules are `pub` inside this private crate.
#![allow(unreachable_pub)]

mod bad_input;
mod batch;
mod catalog;
mod ci_recipes;
mod cli;
mod client;
mod cmdlets;
mod connect;
mod deploy_recipes;
mod desired;
mod encoding;
mod examples;
mod fidelity;
mod library;
mod limits;
mod logs;
mod metrics;
mod notify;
mod properties;
mod resume;
mod reviewed;
mod rollout;
mod run;
mod sandbox_api;
mod sandbox_cli;
mod sandbox_identity;
mod sandbox_limits;
mod scheduler;
mod secure;
mod shards;
mod shell;
mod support;
mod trace;
mod wire;
