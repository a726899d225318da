//! What a run has to do: the walk, less this scan's own outputs, files named twice, other
//! shards' files and files an interrupted run already recorded.

use std::collections::HashSet;
use std::path::PathBuf;

use super::{ScanConfig, Summary, finish, matches_path, meta_path, record};
use crate::sources::walk;

/// What this run has to do: the files of this shard not yet recorded, in walk order, and
/// the records of paths the walk could not enter (as lines to write first).
pub(super) fn plan(
    cfg: &ScanConfig,
    done: &HashSet<String>,
    summary: &mut Summary,
) -> (Vec<walk::Found>, String) {
    let walk_opts = walk::WalkOptions {
        follow_symlinks: cfg.follow_symlinks,
    };
    let (mut found, walk_errors) = walk::walk(&cfg.inputs, walk_opts);
    // Our own output files, when they lie under an input, are not evidence.
    let own: Vec<PathBuf> = [&cfg.out, &matches_path(&cfg.out), &meta_path(&cfg.out)]
        .iter()
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    found.retain(|f| {
        !own.iter()
            .any(|o| f.path.canonicalize().is_ok_and(|c| &c == o))
    });
    // Overlapping inputs (a folder and its subfolder, a list naming a file twice) must not
    // record a file twice: the first occurrence stays, in walk order.
    let mut keys = HashSet::new();
    found.retain(|f| keys.insert(record::key(&f.path)));
    summary.walked = found.len() + walk_errors.len();
    let mut todo = vec![];
    let mut early = String::new();
    for (path, e) in walk_errors.iter().filter(|(p, _)| cfg.shard.owns(p)) {
        summary.in_shard += 1;
        if !done.contains(&record::key(path)) {
            let mut r = record::FileRecord::new(path, None);
            r.set(record::Status::Error, e.to_string());
            let r = finish(r, summary);
            early += &format!("{}\n", record::line(cfg.format, &r));
        }
    }
    for f in found.into_iter().filter(|f| cfg.shard.owns(&f.path)) {
        summary.in_shard += 1;
        if done.contains(&record::key(&f.path)) {
            summary.already_recorded += 1;
        } else {
            todo.push(f);
        }
    }
    (todo, early)
}
