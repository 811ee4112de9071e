//! Exit codes: part of tenantry's public interface, documented in the README.

/// Every task succeeded (or, for `validate` and `plan`, the input is valid).
pub const OK: i32 = 0;
/// The run finished but some tasks failed; also an unexpected failure such as an unwritable
/// output.
pub const TASKS_FAILED: i32 = 1;
/// Invalid input: a malformed playbook, tenants file, data file or command line. Nothing ran.
pub const INVALID_INPUT: i32 = 2;
/// No tenant could be reached or authenticated: no call got an answer from the service.
pub const NO_TENANT_REACHED: i32 = 3;
/// A guardrail stopped the run: `limits.max_fail_percentage` was crossed, or `--deadline`
/// came; the report says which.
pub const STOPPED_BY_GUARDRAIL: i32 = 4;
/// `tenantry check`: changes are pending (drift, or writes that would be sent), and some were
/// not pending at the previous check of the playbook (or there was none): alert on this one.
pub const CHANGES_PENDING: i32 = 5;
/// `tenantry check`: changes are pending, all of them already pending at the previous check.
pub const CHANGES_PENDING_KNOWN: i32 = 6;
/// `tenantry run --plan`: some writes were not sent because their objects changed since the
/// plan was reviewed (`stale`); everything else in the plan was applied.
pub const STALE_PLAN: i32 = 7;
/// Another run of the playbook holds its lock: try again later (EX_TEMPFAIL).
pub const LOCKED: i32 = 75;
/// Interrupted by Ctrl-C or SIGTERM; the report written is partial and says so.
pub const INTERRUPTED: i32 = 130;
