//! Integration tests: each drives the `tenantry` binary as a user would.

mod bad_input;
mod cli;
mod examples;
mod library;
mod properties;
mod support;
