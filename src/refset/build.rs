//! Building sets from hash lists: every input read in order (its layout recognised or
//! given), deletions of exchanged lists applied, duplicates merged, each set written whole.
//! A list that carries several fingerprint kinds we match (NCMEC: PDQ and MD5) gives one
//! set per kind, named by `group::member`, unless `--algo` picks one. What `refs build` and
//! the Python package's `RefSet.build` run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::format::Algo;
use super::input::{self, InputError, Kind};
use super::write::{self, Entry, EntrySections};
use super::{exchange, group};

/// How to read the inputs and what to accept.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildOptions {
    /// Build one set of this algorithm (the lists' other kinds are counted, not built).
    pub algo: Option<Algo>,
    /// The lists' layout (`None`: recognised from each file's content).
    pub kind: Option<Kind>,
    /// Count and skip malformed lines instead of stopping at the first.
    pub skip_invalid: bool,
    /// Write a set with no entries instead of refusing to.
    pub allow_empty: bool,
}

/// One set a build wrote.
#[derive(Debug, Clone)]
pub struct BuiltSet {
    pub algo: Algo,
    pub path: PathBuf,
    /// Records read (after deletions) and distinct hashes kept.
    pub read: usize,
    pub kept: usize,
    /// Entries removed by later deletions of an exchanged list.
    pub deleted: usize,
}

/// What a build read and wrote.
#[derive(Debug, Clone)]
pub struct Built {
    /// One set, at the output name; or one per fingerprint kind, beside it.
    pub sets: Vec<BuiltSet>,
    pub invalid: usize,
    pub no_hash: usize,
    /// Fingerprints no set of this build holds, by type: kinds we do not match (PhotoDNA,
    /// TMK), or, with `--algo`, the lists' other kinds.
    pub unused: BTreeMap<String, usize>,
    /// Files that stood for this name before and were replaced (a single set by a group,
    /// or a group's members by a single set or by a group of other kinds).
    pub replaced: Vec<PathBuf>,
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
    #[error("no hashes in the inputs: nothing to build{}", why_empty(.no_hash, .invalid, .unused))]
    NoHashes {
        no_hash: usize,
        invalid: usize,
        unused: BTreeMap<String, usize>,
    },
    #[error(
        "the {algo} set would hold no entries{}; give --allow-empty to write it anyway",
        why_empty(.no_hash, .invalid, .unused)
    )]
    EmptySet {
        algo: &'static str,
        no_hash: usize,
        invalid: usize,
        unused: BTreeMap<String, usize>,
    },
    #[error("--allow-empty with inputs that name no algorithm: give --algo too")]
    EmptyWithoutAlgo,
    #[error(
        "{0} is not a reference set: it would be replaced by this build; move it away or choose another -o"
    )]
    NotASet(PathBuf),
    #[error("writing {path}: {cause}")]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// The reasons a list gave nothing, as far as the counts tell.
fn why_empty(no_hash: &usize, invalid: &usize, unused: &BTreeMap<String, usize>) -> String {
    let mut why = vec![];
    if *no_hash > 0 {
        why.push(format!("{no_hash} records without a usable hash"));
    }
    if *invalid > 0 {
        why.push(format!("{invalid} malformed lines skipped"));
    }
    if !unused.is_empty() {
        why.push(format!("fingerprints of other kinds: {unused:?}"));
    }
    match why.is_empty() {
        true => String::new(),
        false => format!(" ({})", why.join("; ")),
    }
}

/// Build the set or sets named `output` from hash lists `inputs` and entries made
/// elsewhere (`made`: hashes of pictures, of algorithm `made_algo`, first in the set).
pub fn build(
    inputs: &[PathBuf],
    made: Vec<Entry>,
    made_algo: Option<Algo>,
    output: &Path,
    opts: &BuildOptions,
) -> Result<Built, BuildError> {
    let first = read_lists(inputs, made, opts.algo.or(made_algo), opts)?;
    let algo = match (first.algo, opts.allow_empty) {
        (Some(a), _) => a,
        (None, false) => {
            return Err(BuildError::NoHashes {
                no_hash: first.no_hash,
                invalid: first.invalid,
                unused: first.unused,
            });
        }
        (None, true) => return Err(BuildError::EmptyWithoutAlgo),
    };
    // Other kinds the lists carry that a set can hold, each with the inputs that hold them.
    let others: BTreeMap<Algo, Vec<PathBuf>> = match opts.algo {
        Some(_) => BTreeMap::new(),
        None => first.other_kinds(algo),
    };
    let mut built = Built {
        sets: vec![],
        invalid: first.invalid,
        no_hash: first.no_hash,
        unused: first.unused.clone(),
        replaced: vec![],
    };
    let name_of = |a: Algo| match others.is_empty() {
        true => output.to_path_buf(),
        false => group::member(output, a),
    };
    let mut plans = vec![(algo, first)];
    for (a, files) in &others {
        plans.push((*a, read_lists(files, vec![], Some(*a), opts)?));
    }
    built.invalid += plans[1..].iter().map(|(_, r)| r.invalid).sum::<usize>();
    if let Some((a, _)) = plans
        .iter()
        .find(|(_, r)| r.entries.is_empty() && !opts.allow_empty)
    {
        return Err(BuildError::EmptySet {
            algo: a.name(),
            no_hash: built.no_hash,
            invalid: built.invalid,
            unused: built.unused,
        });
    }
    let written: Vec<PathBuf> = plans.iter().map(|(a, _)| name_of(*a)).collect();
    built.replaced = stale(output, &written)?;
    for (a, read) in plans {
        built.sets.push(write_one(a, read, &name_of(a))?);
    }
    for p in &built.replaced {
        let _ = std::fs::remove_file(p);
    }
    built
        .unused
        .retain(|k, _| exchange::algo_of(k).is_none_or(|a| !others.contains_key(&a)));
    Ok(built)
}

/// Files the name stood for that this build does not write: they would be taken by
/// `--refs NAME` beside (or instead of) the new sets. Only reference sets are replaced.
fn stale(output: &Path, written: &[PathBuf]) -> Result<Vec<PathBuf>, BuildError> {
    let mut was = group::existing(output);
    if output.is_file() {
        was.extend(
            Algo::ALL
                .iter()
                .map(|&a| group::member(output, a))
                .filter(|p| p.is_file()),
        );
    }
    let gone: Vec<PathBuf> = was.into_iter().filter(|p| !written.contains(p)).collect();
    for p in &gone {
        if super::RefSet::open(p).is_err() {
            return Err(BuildError::NotASet(p.clone()));
        }
    }
    Ok(gone)
}

fn write_one(algo: Algo, read: Read, path: &Path) -> Result<BuiltSet, BuildError> {
    let mut entries = read.entries;
    let deleted = exchange::apply_deletions(&mut entries, &read.deletions);
    let n = entries.len();
    let mut s = EntrySections::new(algo, entries);
    let kept = s.entries().len();
    write::write_set(path, &mut s).map_err(|cause| BuildError::Write {
        path: path.to_path_buf(),
        cause,
    })?;
    Ok(BuiltSet {
        algo,
        path: path.to_path_buf(),
        read: n,
        kept,
        deleted,
    })
}

/// What the inputs gave for one algorithm.
struct Read {
    algo: Option<Algo>,
    entries: Vec<Entry>,
    invalid: usize,
    no_hash: usize,
    unused: BTreeMap<String, usize>,
    deletions: Vec<(String, usize)>,
    /// Per input, the fingerprint kinds it carried that this read did not use.
    unused_by_input: Vec<(PathBuf, BTreeMap<String, usize>)>,
}

impl Read {
    /// Kinds a set can hold, other than `algo`, that some input carried: each with the
    /// inputs that carry it (only those are read again for it).
    fn other_kinds(&self, algo: Algo) -> BTreeMap<Algo, Vec<PathBuf>> {
        let mut out: BTreeMap<Algo, Vec<PathBuf>> = BTreeMap::new();
        for (path, kinds) in &self.unused_by_input {
            for k in kinds.keys() {
                if let Some(a) = exchange::algo_of(k).filter(|&a| a != algo) {
                    let files = out.entry(a).or_default();
                    if !files.contains(path) {
                        files.push(path.clone());
                    }
                }
            }
        }
        out
    }
}

fn read_lists(
    inputs: &[PathBuf],
    made: Vec<Entry>,
    algo: Option<Algo>,
    opts: &BuildOptions,
) -> Result<Read, BuildError> {
    let mut r = Read {
        algo,
        entries: made,
        invalid: 0,
        no_hash: 0,
        unused: BTreeMap::new(),
        deletions: vec![],
        unused_by_input: vec![],
    };
    // Room for every entry at once, from the inputs' sizes: a PDQ line is 65 bytes or more.
    let line_bytes = match algo {
        Some(a) => a.digest_bytes().map_or(a.bits() / 4, |n| n * 2) as u64 + 1,
        None => input::MIN_BYTES_PER_ENTRY,
    };
    let bytes: u64 = inputs
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    r.entries.reserve((bytes / line_bytes) as usize);
    for path in inputs {
        let p = input::read_as(
            path,
            opts.kind,
            r.algo,
            opts.skip_invalid,
            std::mem::take(&mut r.entries),
        )?;
        match (r.algo, p.algo) {
            (Some(a), Some(b)) if a != b => {
                return Err(BuildError::Mixed {
                    path: path.clone(),
                    found: b.name(),
                    earlier: a.name(),
                });
            }
            (None, b) => r.algo = b,
            _ => {}
        }
        r.invalid += p.invalid;
        r.no_hash += p.no_hash;
        for (k, n) in &p.unused {
            *r.unused.entry(k.clone()).or_default() += n;
        }
        r.unused_by_input.push((path.clone(), p.unused));
        r.deletions.extend(p.deletions);
        r.entries = p.entries;
    }
    Ok(r)
}
