//! Sets are checked against their checksum before anything is matched against them: a
//! damaged or edited set would give wrong answers with every look of being right. Reading
//! a 100M-entry set (4 GB) costs 0.5 s from the page cache and 2.9 s from disk on the
//! 2-core machine of docs/benchmarks.md, so a set read in full once is remembered in the
//! user's cache folder under everything that changes when its file does: device, inode,
//! size, modification time and status-change time. The last one is set by the kernel on
//! every write and cannot be put back (`touch -r` restores only the modification time).

use std::path::PathBuf;

use super::group::{self, ResolveError};
use super::{RefSet, RefSetError};

/// How a set's checksum was confirmed for this run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verified {
    /// The checksum the file holds and the content gives.
    pub checksum: String,
    /// Read and hashed in full by this run (`false`: unchanged since a run that did).
    pub in_full: bool,
}

/// The folder verified sets are remembered in: `HASHSWEEP_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/hashsweep`, else `~/.cache/hashsweep`; `None` without any of them.
pub fn cache_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("HASHSWEEP_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("hashsweep")))
        .or_else(|| env("HOME").map(|d| d.join(".cache/hashsweep")))
}

/// The name under which this exact file is remembered, from its identity and times as
/// they were when it was opened (the mapped file, not whatever is at the path now).
#[cfg(unix)]
fn key(set: &RefSet) -> String {
    use std::os::unix::fs::MetadataExt;
    let m = &set.meta;
    let text = format!(
        "{} {} {} {}.{} {}.{} {}",
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
        set.stored_checksum()
    );
    blake3::hash(text.as_bytes()).to_hex()[..32].to_string()
}

#[cfg(not(unix))]
fn key(_set: &RefSet) -> String {
    // Without a status-change time an edit could be hidden: never remembered.
    String::new()
}

/// Confirm `set`'s checksum: from the cache when this file was verified in full before and
/// has not changed since, otherwise by reading it in full (and remembering that it held).
pub fn verify(set: &RefSet) -> Result<Verified, RefSetError> {
    verify_in(set, cache_dir())
}

pub fn verify_in(set: &RefSet, cache: Option<PathBuf>) -> Result<Verified, RefSetError> {
    let key = key(set);
    let entry = cache
        .filter(|_| !key.is_empty())
        .map(|d| d.join("verified-sets").join(&key));
    let stored = set.stored_checksum();
    if let Some(e) = &entry {
        if std::fs::read_to_string(e).is_ok_and(|s| s.trim() == stored) {
            return Ok(Verified {
                checksum: set.identity(),
                in_full: false,
            });
        }
    }
    let checksum = set.verify()?;
    if let Some(e) = &entry {
        remember(e, &stored);
    }
    Ok(Verified {
        checksum,
        in_full: true,
    })
}

/// Best effort: a cache that cannot be written only means the next run reads in full.
fn remember(entry: &std::path::Path, checksum: &str) {
    let Some(dir) = entry.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    if let Ok(mut f) = tempfile::NamedTempFile::new_in(dir) {
        if std::io::Write::write_all(&mut f, format!("{checksum}\n").as_bytes()).is_ok() {
            let _ = f.persist(entry);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("{0}")]
    Open(RefSetError),
    #[error(
        "{0}; refusing to match against a damaged or altered set: rebuild it, or restore it from a good copy"
    )]
    Damaged(RefSetError),
}

/// Every set the `--refs` arguments name (files, group names, folders), opened and
/// checked, in order.
pub fn open_checked(refs: &[PathBuf]) -> Result<Vec<(RefSet, Verified)>, CheckError> {
    let mut out = vec![];
    for path in group::resolve_all(refs)? {
        let set = RefSet::open(&path).map_err(CheckError::Open)?;
        let v = verify(&set).map_err(|e| match e {
            e @ RefSetError::Checksum { .. } => CheckError::Damaged(e),
            e => CheckError::Open(e),
        })?;
        out.push((set, v));
    }
    Ok(out)
}
