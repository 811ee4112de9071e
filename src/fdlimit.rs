//! The open-file limit a run needs. Every connection in flight is a socket, so 1,000 tenants
//! at 3 connections each hold some 3,000 descriptors at once, past the soft limit of 1,024
//! many systems start a shell with. Before a run opens any session, [`ensure`] raises the soft
//! limit as far as it needs (up to the hard limit, which needs no privilege); when even the
//! hard limit is too low it says what to run instead of letting connections fail part-way.
//! Elsewhere than on Unix it does nothing.

/// Descriptors a run holds beside its connections: the playbook and its files, the journal and
/// lock, the report files, sign-in requests, standard streams and the runtime's own.
pub const HEADROOM: u64 = 64;

/// The descriptors a run may hold at once: one socket per connection, each tenant's own
/// connection limit summed and bounded by `max_in_flight`, plus [`HEADROOM`]. `sandboxed`
/// connections are counted twice: the built-in sandbox serves them in the same process, a
/// socket at each end.
pub fn needed(
    connections: impl IntoIterator<Item = usize>,
    sandboxed: usize,
    max_in_flight: usize,
) -> u64 {
    let all: usize = connections.into_iter().sum();
    let open = all.min(max_in_flight) as u64;
    let served = sandboxed.min(max_in_flight) as u64;
    open + served + HEADROOM
}

/// What to do about the soft limit, given the descriptors needed and the limits now
/// (`None`: unlimited).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The soft limit is enough as it is.
    Enough,
    /// Raise the soft limit to this, which the hard limit allows.
    Raise(u64),
    /// The hard limit is below what is needed: raise the soft limit to it, and warn.
    Short {
        /// The hard limit, all the soft limit can be raised to.
        hard: u64,
    },
}

/// Decides whether and how far to raise the soft limit.
pub fn decide(needed: u64, soft: Option<u64>, hard: Option<u64>) -> Decision {
    match (soft, hard) {
        (None, _) => Decision::Enough,
        (Some(soft), _) if soft >= needed => Decision::Enough,
        (Some(_), Some(hard)) if hard < needed => Decision::Short { hard },
        (Some(_), _) => Decision::Raise(needed),
    }
}

/// The warning for a run that needs `needed` descriptors where only `limit` can be had.
pub fn warning(needed: u64, limit: u64) -> String {
    format!(
        "warning: this run may hold {needed} connections and files open at once, but the open-file limit is {limit}; calls past it will fail to connect. Raise the limit before the run (`ulimit -n {needed}`, which past the hard limit needs root; under systemd, LimitNOFILE={needed} in the service), or lower limits.max_in_flight"
    )
}

/// Raises the soft open-file limit to `needed` descriptors when it is lower and the hard limit
/// allows; returns the warning to show when it cannot (the hard limit is lower, or the limit
/// could not be changed), else `None`.
#[cfg(unix)]
pub fn ensure(needed: u64) -> Option<String> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let now = getrlimit(Resource::Nofile);
    let target = match decide(needed, now.current, now.maximum) {
        Decision::Enough => return None,
        Decision::Raise(to) => to,
        Decision::Short { hard } => hard,
    };
    let raised = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(target),
            maximum: now.maximum,
        },
    );
    match raised {
        Ok(()) if target >= needed => None,
        Ok(()) => Some(warning(needed, target)),
        Err(_) => Some(warning(needed, now.current.unwrap_or(0))),
    }
}

/// Elsewhere than on Unix there is no such limit to raise.
#[cfg(not(unix))]
pub fn ensure(_needed: u64) -> Option<String> {
    None
}

/// The descriptors a run of `planner`'s tenants may need (see [`needed`]).
pub(crate) fn for_run(
    playbook: &crate::playbook::Playbook,
    planner: &crate::plan::Planner<'_, '_>,
) -> u64 {
    let limits = planner.limits();
    let selected = planner.tenant_indexes();
    let connections = selected.iter().map(|&i| limits.connections[i]);
    let sandboxed = selected
        .iter()
        .filter(|&&i| playbook.tenants[i].cloud == crate::playbook::Cloud::Sandbox)
        .map(|&i| limits.connections[i])
        .sum();
    needed(connections, sandboxed, limits.max_in_flight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_needs_a_socket_per_connection_within_max_in_flight_and_headroom() {
        // 1,000 tenants at 3 connections each.
        assert_eq!(needed(vec![3; 1000], 0, 3000), 3000 + HEADROOM);
        // max_in_flight bounds them.
        assert_eq!(needed(vec![3; 1000], 0, 256), 256 + HEADROOM);
        // Tenants with their own limits.
        assert_eq!(needed([1, 5, 10], 0, 1000), 16 + HEADROOM);
        // The built-in sandbox serves its connections in the same process.
        assert_eq!(needed([3, 3], 6, 1000), 12 + HEADROOM);
        assert_eq!(needed(Vec::<usize>::new(), 0, 8), HEADROOM);
    }

    #[test]
    fn the_soft_limit_is_raised_within_the_hard_one_or_a_warning_is_due() {
        assert_eq!(decide(3064, Some(20_000), Some(20_000)), Decision::Enough);
        assert_eq!(decide(3064, None, None), Decision::Enough);
        assert_eq!(
            decide(3064, Some(1024), Some(524_288)),
            Decision::Raise(3064)
        );
        assert_eq!(decide(3064, Some(1024), None), Decision::Raise(3064));
        assert_eq!(
            decide(3064, Some(1024), Some(2048)),
            Decision::Short { hard: 2048 }
        );
        assert_eq!(decide(64, Some(64), Some(64)), Decision::Enough);
    }

    #[test]
    fn the_warning_says_what_to_run() {
        let text = warning(3064, 1024);
        assert!(text.starts_with("warning: "), "{text}");
        assert!(text.contains("`ulimit -n 3064`"), "{text}");
        assert!(text.contains("LimitNOFILE=3064"), "{text}");
        assert!(text.contains("limit is 1024"), "{text}");
        assert!(!text.contains('\n'), "one line: {text}");
    }

    #[cfg(unix)]
    #[test]
    fn a_limit_already_high_enough_is_left_alone() {
        let before = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        assert_eq!(
            ensure(HEADROOM.min(before.current.unwrap_or(u64::MAX))),
            None
        );
        assert_eq!(
            rustix::process::getrlimit(rustix::process::Resource::Nofile),
            before
        );
    }
}
