//! Parameter sets: whether the parameters a call gives fit one of its cmdlet's sets, and if
//! not, which sets come closest and what each lacks.

use super::Cmdlet;

/// How far a parameter set is from the parameters a call gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetGap {
    /// The set's name.
    pub set: String,
    /// Parameters given that the set does not take.
    pub refuses: Vec<String>,
    /// Parameters the set requires that are not given.
    pub lacks: Vec<String>,
}

impl SetGap {
    fn distance(&self) -> usize {
        self.refuses.len() + self.lacks.len()
    }
}

impl std::fmt::Display for SetGap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |names: &[String]| {
            names
                .iter()
                .map(|n| format!("-{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let set = if self.set.is_empty() {
            "the cmdlet".to_string()
        } else {
            format!("set {}", self.set)
        };
        match (self.refuses.is_empty(), self.lacks.is_empty()) {
            (false, false) => write!(
                f,
                "{set} does not take {} and needs {}",
                list(&self.refuses),
                list(&self.lacks)
            ),
            (false, true) => write!(f, "{set} does not take {}", list(&self.refuses)),
            (true, false) => write!(f, "{set} needs {}", list(&self.lacks)),
            (true, true) => write!(f, "{set} fits"),
        }
    }
}

impl Cmdlet {
    /// Whether `given` (canonical parameter names) fit one of the cmdlet's parameter sets,
    /// with every parameter that set requires; if none does, the sets that come closest
    /// (fewest parameters refused or lacking), best first, at most three.
    pub fn fit_sets(&self, given: &[&str]) -> Result<(), Vec<SetGap>> {
        let is_given = |name: &str| given.iter().any(|g| g.eq_ignore_ascii_case(name));
        let sets: Vec<&str> = if self.sets.is_empty() {
            vec![""]
        } else {
            self.sets.iter().map(String::as_str).collect()
        };
        let mut gaps: Vec<SetGap> = sets
            .iter()
            .map(|&set| SetGap {
                set: set.to_string(),
                refuses: given
                    .iter()
                    .filter(|g| self.param(g).is_some_and(|p| !p.in_set(set)))
                    .map(|g| g.to_string())
                    .collect(),
                lacks: self
                    .params
                    .iter()
                    .filter(|p| p.required_in(set) && !is_given(&p.name))
                    .map(|p| p.name.clone())
                    .collect(),
            })
            .collect();
        if gaps.iter().any(|g| g.distance() == 0) {
            return Ok(());
        }
        gaps.sort_by_key(SetGap::distance);
        let best = gaps[0].distance();
        gaps.retain(|g| g.distance() == best);
        gaps.truncate(3);
        Err(gaps)
    }
}
