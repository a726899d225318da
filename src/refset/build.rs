//! Building sets from hash lists: every input read in order (its layout recognised or
//! given), deletions of exchanged lists applied, duplicates merged, each set written whole.
//! A list that carries several fingerprint kinds we match (NCMEC: PDQ and MD5) gives one
//! set per kind, named by `group::member`, unless `--algo` picks one. What `refs build` and
//! the Python package's `RefSet.build` run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::format::{Algo, FLAG_GROUP_MEMBER};
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
    /// Refuse, before writing anything, lists that hold several kinds (for callers that
    /// take one set back, as the Python package's `RefSet.build`).
    pub one_kind: bool,
    /// Write no multi-index (`--no-index`); by default one is written where it pays
    /// (`index::Plan::choose`).
    pub no_index: bool,
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
    #[error("the lists hold several kinds of hash ({}): name one to build", .0.join(", "))]
    SeveralKinds(Vec<&'static str>),
    #[error("removing {path}, which this name stood for before: {cause}")]
    Remove {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "{0} is not a reference set: it would be replaced by this build; move it away or choose another -o"
    )]
    NotASet(PathBuf),
    #[error(transparent)]
    Index(#[from] super::RefSetError),
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
///
/// Each kind of hash the inputs hold is read in a pass of its own, inputs in their order:
/// an exchanged list (whose entries name their kinds, and whose deletions apply to every
/// kind) in every pass, a plain list only in the pass of its own kind. Nothing is written
/// until every set is known to hold something.
pub fn build(
    inputs: &[PathBuf],
    made: Vec<Entry>,
    made_algo: Option<Algo>,
    output: &Path,
    opts: &BuildOptions,
) -> Result<Built, BuildError> {
    let peeks = inputs
        .iter()
        .map(|p| input::peek(p, opts.kind))
        .collect::<Result<Vec<_>, _>>()?;
    let plain_kinds = || peeks.iter().filter(|p| !p.exchanged).filter_map(|p| p.algo);
    let start = opts.algo.or(made_algo).or_else(|| plain_kinds().next());
    let first = read_pass(inputs, &peeks, start, made, opts, true)?;
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
    let mut kinds = vec![algo];
    if opts.algo.is_none() {
        let listed = first.unused.keys().filter_map(|k| exchange::algo_of(k));
        for a in plain_kinds().chain(listed) {
            if !kinds.contains(&a) {
                kinds.push(a);
            }
        }
    }
    if opts.one_kind && kinds.len() > 1 {
        return Err(BuildError::SeveralKinds(
            kinds.iter().map(|a| a.name()).collect(),
        ));
    }
    let mut built = Built {
        sets: vec![],
        invalid: first.invalid,
        no_hash: first.no_hash,
        unused: first.unused.clone(),
        replaced: vec![],
    };
    let mut passes = vec![(algo, first)];
    for &a in &kinds[1..] {
        let r = read_pass(inputs, &peeks, Some(a), vec![], opts, false)?;
        // Exchanged rows without a hash were counted by the first pass.
        built.invalid += r.invalid;
        built.no_hash += r.no_hash - r.no_hash_listed;
        passes.push((a, r));
    }
    let grouped = passes.len() > 1;
    let name_of = |a: Algo| match grouped {
        true => group::member(output, a),
        false => output.to_path_buf(),
    };
    let mut sets = vec![];
    for (a, read) in passes {
        let (entries, deleted) = read.entries_after_deletions();
        if entries.is_empty() && !opts.allow_empty {
            return Err(BuildError::EmptySet {
                algo: a.name(),
                no_hash: built.no_hash,
                invalid: built.invalid,
                unused: built.unused,
            });
        }
        sets.push((a, entries, deleted));
    }
    let written: Vec<PathBuf> = kinds.iter().map(|&a| name_of(a)).collect();
    let stale = stale(output, &written)?;
    for (a, entries, deleted) in sets {
        built
            .sets
            .push(write_one(a, entries, deleted, &name_of(a), grouped, opts)?);
    }
    for p in stale {
        std::fs::remove_file(&p).map_err(|cause| BuildError::Remove {
            path: p.clone(),
            cause,
        })?;
        built.replaced.push(p);
    }
    built
        .unused
        .retain(|k, _| exchange::algo_of(k).is_none_or(|a| !kinds.contains(&a)));
    Ok(built)
}

/// Files the name stood for that this build does not write, and which `--refs NAME` would
/// take beside (or instead of) the new sets: the file of that name, and the members of an
/// earlier build's group. A set built on its own under a member's name is left alone;
/// a file at the name that is not a set is refused.
fn stale(output: &Path, written: &[PathBuf]) -> Result<Vec<PathBuf>, BuildError> {
    let mut gone = vec![];
    if output.is_file() && !written.iter().any(|w| w == output) {
        if super::RefSet::open(output).is_err() {
            return Err(BuildError::NotASet(output.to_path_buf()));
        }
        gone.push(output.to_path_buf());
    }
    for p in Algo::ALL.iter().map(|&a| group::member(output, a)) {
        let member =
            p.is_file() && super::RefSet::open(&p).is_ok_and(|s| s.header().has(FLAG_GROUP_MEMBER));
        if member && !written.contains(&p) {
            gone.push(p);
        }
    }
    Ok(gone)
}

fn write_one(
    algo: Algo,
    entries: Vec<Entry>,
    deleted: usize,
    path: &Path,
    grouped: bool,
    opts: &BuildOptions,
) -> Result<BuiltSet, BuildError> {
    let n = entries.len();
    let mut s = EntrySections::new(algo, entries).in_group(grouped);
    let kept = s.entries().len();
    write::write_set(path, &mut s).map_err(|cause| BuildError::Write {
        path: path.to_path_buf(),
        cause,
    })?;
    if !opts.no_index {
        super::indexed::reindex(path, super::indexed::Want::IfItPays, None)?;
    }
    Ok(BuiltSet {
        algo,
        path: path.to_path_buf(),
        read: n,
        kept,
        deleted,
    })
}

/// What one pass gave for one algorithm.
struct Read {
    algo: Option<Algo>,
    entries: Vec<Entry>,
    invalid: usize,
    no_hash: usize,
    /// Of `no_hash`, exchanged entries without a hash of a kind we match.
    no_hash_listed: usize,
    unused: BTreeMap<String, usize>,
    deletions: Vec<(String, usize)>,
}

impl Read {
    /// The entries with the lists' deletions applied, and how many these removed.
    fn entries_after_deletions(self) -> (Vec<Entry>, usize) {
        let mut entries = self.entries;
        let deleted = exchange::apply_deletions(&mut entries, &self.deletions);
        (entries, deleted)
    }
}

/// One pass over the inputs for `algo` (`None`: the first hash decides): every exchanged
/// list, and the plain lists of this kind (in the first pass also those whose kind their
/// head did not tell, so that their errors are said).
fn read_pass(
    inputs: &[PathBuf],
    peeks: &[input::Peek],
    algo: Option<Algo>,
    made: Vec<Entry>,
    opts: &BuildOptions,
    first: bool,
) -> Result<Read, BuildError> {
    let mut r = Read {
        algo,
        entries: made,
        invalid: 0,
        no_hash: 0,
        no_hash_listed: 0,
        unused: BTreeMap::new(),
        deletions: vec![],
    };
    // `--algo` names the kind of every plain list (a bare SHA-256 list looks like PDQ).
    let forced = opts.algo.is_some();
    let take = |p: &input::Peek| match (p.exchanged, p.algo, algo) {
        (true, ..) => true,
        (false, Some(a), Some(k)) => a == k || forced,
        (false, None, _) | (false, _, None) => first,
    };
    let inputs: Vec<&PathBuf> = inputs
        .iter()
        .zip(peeks)
        .filter(|(_, p)| take(p))
        .map(|(i, _)| i)
        .collect();
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
        r.no_hash_listed += p.no_hash_listed;
        for (k, n) in p.unused {
            *r.unused.entry(k).or_default() += n;
        }
        r.deletions.extend(p.deletions);
        r.entries = p.entries;
    }
    Ok(r)
}
