//! The reference sets of a scan: every `--refs` name resolved to its files, each set
//! opened and checked against its checksum before a file is read, and the scan widened to
//! compute what each set is matched by (a PDQ set needs PDQ even under `--algo phash`, a
//! digest set its digest), so that no set is carried through a run it cannot match.

use std::path::PathBuf;

use super::ScanConfig;
use crate::refset::verified::{self, CheckError, Verified};
use crate::refset::{Algo, RefSet};

#[derive(Debug, thiserror::Error)]
pub enum SetsError {
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error(
        "{path}: a {algo} set whose entries are not in order (made by `refs random`?); `hashsweep refs merge {path} -o SORTED` writes an ordered copy"
    )]
    Unsorted { path: PathBuf, algo: &'static str },
}

/// Open and check every set `refs` names, in order.
pub fn open_checked(refs: &[PathBuf]) -> Result<Vec<(RefSet, Verified)>, SetsError> {
    let sets = verified::open_checked(refs)?;
    // An unsorted digest set would be searched end to end for every file.
    if let Some((s, _)) = sets
        .iter()
        .find(|(s, _)| s.algo().is_digest() && !s.is_sorted())
    {
        return Err(SetsError::Unsorted {
            path: s.path().to_path_buf(),
            algo: s.algo().name(),
        });
    }
    Ok(sets)
}

/// A hash or digest a run computes because a set needs it, not because it was asked for.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Added {
    pub hash: &'static str,
    pub set: PathBuf,
}

impl std::fmt::Display for Added {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let h = self.hash;
        write!(f, "{h} computed for {}, a {h} set", self.set.display())
    }
}

/// What `cfg` must compute for `sets` beyond what it asks for, added to it; one entry per
/// addition, naming the set that needs it (for the header and the terminal).
pub fn widen(cfg: &mut ScanConfig, sets: &[RefSet]) -> Vec<Added> {
    let mut added = vec![];
    for s in sets {
        let flag = match s.algo() {
            Algo::Pdq => &mut cfg.algos.pdq,
            Algo::Phash => &mut cfg.algos.phash,
            Algo::Md5 => &mut cfg.digests.md5,
            Algo::Sha1 => &mut cfg.digests.sha1,
            Algo::Sha256 => &mut cfg.digests.sha256,
        };
        if !*flag {
            *flag = true;
            added.push(Added {
                hash: s.algo().name(),
                set: s.path().to_path_buf(),
            });
        }
    }
    added
}
