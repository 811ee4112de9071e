//! Integration tests: each drives the `tenantry` binary as a user would.

mod bad_input;
mod cli;
mod client;
mod connect;
mod examples;
mod library;
mod properties;
mod resume;
mod run;
mod sandbox_api;
mod sandbox_cli;
mod sandbox_identity;
mod sandbox_limits;
mod scheduler;
mod support;
mod wire;
