//! Exit codes: part of tenantry's public interface, documented in the README.

/// Every task succeeded (or, for `validate` and `plan`, the input is valid).
pub const OK: i32 = 0;
/// The run finished but some tasks failed; also an unexpected failure such as an unwritable
/// output.
pub const TASKS_FAILED: i32 = 1;
/// Invalid input: a malformed playbook, tenants file, data file or command line. Nothing ran.
pub const INVALID_INPUT: i32 = 2;
/// No tenant could be reached or authenticated.
pub const NO_TENANT_REACHED: i32 = 3;
/// A guardrail stopped the run: `limits.max_fail_percentage` was crossed, or `--deadline`
/// came; the report says which.
pub const STOPPED_BY_GUARDRAIL: i32 = 4;
/// Another run of the playbook holds its lock: try again later (EX_TEMPFAIL).
pub const LOCKED: i32 = 75;
/// Interrupted by Ctrl-C or SIGTERM; the report written is partial and says so.
pub const INTERRUPTED: i32 = 130;

// Which failure ends with which code, written down beside the codes.

impl crate::plan::PlanError {
    /// Invalid input for a template or data error; otherwise the output failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            crate::plan::PlanError::Invalid(_) => INVALID_INPUT,
            _ => TASKS_FAILED,
        }
    }
}

impl crate::session::SessionError {
    /// Invalid input for unusable credentials, endpoints or proxy; otherwise the sandbox
    /// failed to start.
    pub fn exit_code(&self) -> i32 {
        use crate::session::SessionError;
        match self {
            SessionError::Tenant { .. } | SessionError::Http(_) => INVALID_INPUT,
            SessionError::Sandbox(_) => TASKS_FAILED,
        }
    }
}

impl crate::journal::JournalError {
    /// [`LOCKED`] when another run holds the lock, invalid input for a run that cannot be
    /// resumed, otherwise a failure of the state folder.
    pub fn exit_code(&self) -> i32 {
        use crate::journal::JournalError;
        match self {
            JournalError::Locked { .. } => LOCKED,
            JournalError::NoSuchRun(..) | JournalError::Changed { .. } => INVALID_INPUT,
            JournalError::Io { .. } => TASKS_FAILED,
        }
    }
}

impl crate::run::RunError {
    /// The code of what stopped the run from starting, or of its report failing.
    pub fn exit_code(&self) -> i32 {
        use crate::run::RunError;
        match self {
            RunError::Session(e) => e.exit_code(),
            RunError::Plan(e) => e.exit_code(),
            RunError::Journal(e) => e.exit_code(),
            RunError::Report { .. } | RunError::Other(_) => TASKS_FAILED,
        }
    }
}
