//! `--shard K/N`: one of N workers' share of a playbook's tenants, for spreading a run over
//! several machines (a Kubernetes Indexed Job, a CI matrix). Tenants are assigned by
//! rendezvous hashing on their names: each tenant goes to the shard whose hash with it is
//! highest, so every worker computes the same assignment alone, a tenant is never in two
//! shards (the service's per-tenant limits hold across workers), and adding or removing a
//! tenant moves no other.

use std::fmt;
use std::str::FromStr;

/// One shard of N, numbered from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 1 to `count`.
    pub index: u32,
    /// How many shards there are.
    pub count: u32,
}

/// The most shards a playbook may be spread over.
pub const MAX_SHARDS: u32 = 1024;

impl Shard {
    /// Shard `index` (from 1) of `count`, when that is one.
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 || count > MAX_SHARDS {
            return Err(format!(
                "a playbook is spread over 1 to {MAX_SHARDS} shards, not {count}"
            ));
        }
        if index == 0 || index > count {
            return Err(format!(
                "shard {index} of {count} does not exist: shards are numbered 1 to {count}"
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard runs `tenant` (by its name).
    pub fn owns(&self, tenant: &str) -> bool {
        owner(tenant, self.count) == self.index
    }

    /// The folder name that keeps this shard's journals, lock and drift apart from the
    /// other shards': `shard-2-of-4`.
    pub fn folder(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

/// The shard (from 1) of `count` that runs `tenant`: the one whose hash with its name is
/// highest.
pub fn owner(tenant: &str, count: u32) -> u32 {
    (1..=count.max(1))
        .max_by_key(|k| tenantry_common::sha256_u64(&format!("{tenant}\u{0}{k}")))
        .unwrap_or(1)
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N`, as in `--shard 2/4`.
    fn from_str(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not a shard: write K/N, e.g. 2/4"))?;
        let number = |text: &str| {
            text.trim().parse::<u32>().map_err(|_| {
                format!("`{s}` is not a shard: write K/N with whole numbers, e.g. 2/4")
            })
        };
        Shard::new(number(k)?, number(n)?)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shards_are_written_k_of_n_from_one() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(" 1/1 ".parse::<Shard>(), Ok(Shard { index: 1, count: 1 }));
        for bad in ["0/4", "5/4", "1/0", "2", "a/b", "1/2000", "-1/4"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(Shard::new(2, 4).unwrap().folder(), "shard-2-of-4");
    }

    #[test]
    fn tenants_spread_over_every_shard() {
        let mut counts = [0usize; 4];
        for i in 0..400 {
            counts[owner(&format!("tenant{i:03}"), 4) as usize - 1] += 1;
        }
        for c in counts {
            assert!((60..=140).contains(&c), "{counts:?}");
        }
    }

    proptest! {
        /// Every tenant is in exactly one shard.
        #[test]
        fn each_tenant_is_in_exactly_one_shard(name in "[a-z0-9.-]{1,30}", count in 1u32..64) {
            let owners = (1..=count)
                .filter(|&k| Shard::new(k, count).unwrap().owns(&name))
                .count();
            prop_assert_eq!(owners, 1);
        }

        /// Adding a shard moves a tenant only to the new shard, never between old ones; and
        /// a tenant's shard does not depend on the other tenants at all.
        #[test]
        fn another_shard_takes_tenants_only_for_itself(name in "[a-z0-9.-]{1,30}", count in 1u32..63) {
            let before = owner(&name, count);
            let after = owner(&name, count + 1);
            prop_assert!(after == before || after == count + 1);
        }
    }
}
