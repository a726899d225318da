//! Deterministic shards: a file belongs to shard `k` of `n` when the FNV-1a hash of its path
//! bytes, as given on the command line or found under it, is `k` modulo `n`. Every machine
//! that is given the same inputs computes the same split, so `n` jobs under a scheduler (Slurm
//! array, Kubernetes indexed job) cover each file exactly once.

use std::path::Path;

use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Shard {
    /// 0-based index.
    pub index: u64,
    pub count: u64,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ShardError {
    #[error("shard must be K/N with 0 <= K < N, got {0:?}")]
    Syntax(String),
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    pub fn parse(s: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError::Syntax(s.to_string());
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// From the scheduler's environment when no `--shard` was given: Slurm job arrays
    /// (`SLURM_ARRAY_TASK_ID` counted from `SLURM_ARRAY_TASK_MIN`, `SLURM_ARRAY_TASK_COUNT`)
    /// or Kubernetes indexed jobs (`JOB_COMPLETION_INDEX`, with the count in
    /// `HASHSWEEP_SHARD_COUNT`, which the manifest sets).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>, ShardError> {
        let num = |k: &str| get(k).and_then(|v| v.trim().parse::<u64>().ok());
        if let (Some(id), Some(count)) = (num("SLURM_ARRAY_TASK_ID"), num("SLURM_ARRAY_TASK_COUNT"))
        {
            let min = num("SLURM_ARRAY_TASK_MIN").unwrap_or(0);
            return Shard::parse(&format!("{}/{count}", id.saturating_sub(min))).map(Some);
        }
        if let (Some(i), Some(count)) = (num("JOB_COMPLETION_INDEX"), num("HASHSWEEP_SHARD_COUNT"))
        {
            return Shard::parse(&format!("{i}/{count}")).map(Some);
        }
        Ok(None)
    }

    pub fn owns(&self, path: &Path) -> bool {
        self.count == 1 || fnv1a(path.as_os_str().as_encoded_bytes()) % self.count == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// FNV-1a, 64 bits: fixed forever, since shard membership must not change between versions.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn shards_are_disjoint_and_cover_everything() {
        let paths: Vec<String> = (0..5000)
            .map(|i| format!("/evidence/disk{}/dir{}/img{i}.jpg", i % 3, i % 17))
            .collect();
        for n in [1u64, 2, 3, 7, 16] {
            let mut owner: HashMap<&str, u64> = HashMap::new();
            for k in 0..n {
                let s = Shard { index: k, count: n };
                for p in paths.iter().filter(|p| s.owns(Path::new(p))) {
                    assert!(owner.insert(p, k).is_none(), "{p} in two shards");
                }
            }
            assert_eq!(owner.len(), paths.len(), "union is the whole for n={n}");
            if n > 1 {
                // No shard is empty or holds nearly everything.
                for k in 0..n {
                    let c = owner.values().filter(|&&v| v == k).count();
                    assert!(
                        c > paths.len() / (n as usize) / 2,
                        "shard {k}/{n} holds {c}"
                    );
                }
            }
        }
    }

    #[test]
    fn parsing_and_scheduler_environments() {
        assert_eq!(Shard::parse("2/5"), Ok(Shard { index: 2, count: 5 }));
        assert!(
            Shard::parse("5/5").is_err()
                && Shard::parse("1/0").is_err()
                && Shard::parse("x").is_err()
        );
        let env = |pairs: &'static [(&str, &str)]| {
            move |k: &str| pairs.iter().find(|p| p.0 == k).map(|p| p.1.to_string())
        };
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
        ]);
        assert_eq!(
            Shard::from_env(slurm),
            Ok(Some(Shard { index: 3, count: 4 }))
        );
        let k8s = env(&[
            ("JOB_COMPLETION_INDEX", "0"),
            ("HASHSWEEP_SHARD_COUNT", "8"),
        ]);
        assert_eq!(Shard::from_env(k8s), Ok(Some(Shard { index: 0, count: 8 })));
        assert_eq!(Shard::from_env(env(&[])), Ok(None));
    }
}
