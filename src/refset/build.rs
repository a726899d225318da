//! Building a set from hash lists: every input read in order (its layout recognised or
//! given), deletions of exchanged lists applied, duplicates merged, the set written whole.
//! What `refs build` and the Python package's `RefSet.build` run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::format::Algo;
use super::input::{self, InputError, Kind};
use super::write::{self, Entry, EntrySections};

/// What a build read and wrote.
#[derive(Debug, Clone)]
pub struct Built {
    pub algo: Algo,
    /// Records read (after deletions) and distinct hashes kept.
    pub read: usize,
    pub kept: usize,
    pub invalid: usize,
    pub no_hash: usize,
    /// Entries removed by later deletions of an exchanged list.
    pub deleted: usize,
    /// Fingerprints of other algorithms or of types we do not match, by type.
    pub unused: BTreeMap<String, usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{path}: {found} hashes, but earlier inputs hold {earlier}")]
    Mixed {
        path: PathBuf,
        found: &'static str,
        earlier: &'static str,
    },
    #[error("no hashes in the inputs: nothing to build")]
    Empty,
    #[error("writing {path}: {cause}")]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// Build `output` from `inputs`. `algo` and `kind` force the algorithm and the layout.
pub fn build(
    inputs: &[PathBuf],
    output: &Path,
    algo: Option<Algo>,
    kind: Option<Kind>,
    skip_invalid: bool,
) -> Result<Built, BuildError> {
    build_with(inputs, vec![], output, algo, kind, skip_invalid)
}

/// `build` with entries made elsewhere (hashes of pictures, `algo` given) before the lists'.
pub fn build_with(
    inputs: &[PathBuf],
    made: Vec<Entry>,
    output: &Path,
    algo: Option<Algo>,
    kind: Option<Kind>,
    skip_invalid: bool,
) -> Result<Built, BuildError> {
    let mut algo = algo;
    let (mut invalid, mut no_hash) = (0, 0);
    let mut unused = BTreeMap::<String, usize>::new();
    let mut deletions = vec![];
    // Room for every entry at once, from the inputs' sizes: a PDQ line is 65 bytes or more.
    let line_bytes = match algo {
        Some(a) => a.digest_bytes().map_or(a.bits() / 4, |n| n * 2) as u64 + 1,
        None => input::MIN_BYTES_PER_ENTRY,
    };
    let bytes: u64 = inputs
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    let mut entries = made;
    entries.reserve((bytes / line_bytes) as usize);
    for path in inputs {
        let p = input::read_as(path, kind, algo, skip_invalid, std::mem::take(&mut entries))?;
        match (algo, p.algo) {
            (Some(a), Some(b)) if a != b => {
                return Err(BuildError::Mixed {
                    path: path.clone(),
                    found: b.name(),
                    earlier: a.name(),
                });
            }
            (None, b) => algo = b,
            _ => {}
        }
        invalid += p.invalid;
        no_hash += p.no_hash;
        for (k, n) in p.unused {
            *unused.entry(k).or_default() += n;
        }
        deletions.extend(p.deletions);
        entries = p.entries;
    }
    let algo = algo.ok_or(BuildError::Empty)?;
    let deleted = super::exchange::apply_deletions(&mut entries, &deletions);
    let read = entries.len();
    let mut s = EntrySections::new(algo, entries);
    let kept = s.entries().len();
    write::write_set(output, &mut s).map_err(|cause| BuildError::Write {
        path: output.to_path_buf(),
        cause,
    })?;
    Ok(Built {
        algo,
        read,
        kept,
        invalid,
        no_hash,
        deleted,
        unused,
    })
}
