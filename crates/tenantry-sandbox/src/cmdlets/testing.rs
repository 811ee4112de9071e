//! Helpers for the cmdlets' tests: a generated tenant, and calls that must succeed or fail.

pub(super) use super::args::MORE_RESULTS;
pub(super) use super::error::{
    ALREADY_EXISTS, BINDING, MEMBER_EXISTS, MEMBER_MISSING, NOT_FOUND, PROXY_EXISTS, RULE_EXISTS,
    Result, TRANSFORMATION, VALIDATION,
};
pub(super) use super::{Access, CmdletError, CmdletOutput, invoke, is_write};
pub(super) use crate::directory::Directory;
pub(super) use serde_json::{Map, Value, json};

pub(super) fn contoso(mailboxes: usize) -> Directory {
    Directory::generate(
        "contoso.onmicrosoft.com",
        "0550b473-1111-4c5d-8e7f-9a0b1c2d3e4f",
        mailboxes,
        1,
    )
}

pub(super) fn run(dir: &mut Directory, cmdlet: &str, params: Value) -> Result<CmdletOutput> {
    invoke(dir, cmdlet, params.as_object().unwrap(), Access::Full)
}

pub(super) fn ok(dir: &mut Directory, cmdlet: &str, params: Value) -> CmdletOutput {
    run(dir, cmdlet, params.clone()).unwrap_or_else(|e| panic!("{cmdlet} {params}: {e:?}"))
}

pub(super) fn err(dir: &mut Directory, cmdlet: &str, params: Value) -> CmdletError {
    match run(dir, cmdlet, params.clone()) {
        Ok(out) => panic!("{cmdlet} {params} succeeded: {:?}", out.value),
        Err(e) => e,
    }
}
