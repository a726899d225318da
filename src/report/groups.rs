//! Near-duplicate groups from `hashsweep cluster` for the report: the largest first, so
//! that a reviewer sees each series once.

use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use serde_json::Value;

/// Groups listed on the page at most; the file holds them all.
pub const MAX_LISTED_GROUPS: usize = 1000;

pub struct GroupFacts {
    /// The largest first, at most `MAX_LISTED_GROUPS`.
    pub groups: Vec<Value>,
    pub total: usize,
    /// What `cluster` ran with (distance, grouping, counts).
    pub summary: Option<Value>,
}

/// Read a `cluster` JSONL output.
pub fn read_groups(path: &Path) -> anyhow::Result<GroupFacts> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut groups = vec![];
    let mut summary = None;
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line)
            .with_context(|| format!("{}, line {}: not JSON", path.display(), n + 1))?;
        match v["type"].as_str() {
            Some("group") => groups.push(v),
            Some("summary") => summary = Some(v),
            _ => anyhow::bail!(
                "{}, line {}: not a `hashsweep cluster` output",
                path.display(),
                n + 1
            ),
        }
    }
    let size = |g: &Value| g["size"].as_u64().unwrap_or(0);
    groups.sort_by_key(|g| std::cmp::Reverse(size(g)));
    let total = groups.len();
    groups.truncate(MAX_LISTED_GROUPS);
    Ok(GroupFacts {
        groups,
        total,
        summary,
    })
}
