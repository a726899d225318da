//! What `cluster` groups: hashes read from scan or `hash` outputs (JSONL, with the dihedral
//! variants when they were written), any hash list `refs build` reads, or a reference set.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::hash::{Dihedral, Pdq256, Phash64};
use crate::refset::{self, Algo, RefSet, input};

/// Hashes of one algorithm, flattened: hash `i` is `words[i * w..(i + 1) * w]`.
#[derive(Debug, Clone)]
pub struct Hashes {
    pub algo: Algo,
    pub words: Vec<u64>,
    /// The seven other dihedral forms of each PDQ hash (`7 * w` words per hash, in
    /// `Dihedral::ALL[1..]` order), when every input gave them.
    pub variants: Option<Vec<u64>>,
    pub labels: Vec<String>,
    pub quality: Vec<Option<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterInputError {
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}, line {line}: {reason}")]
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{0}")]
    List(#[from] input::InputError),
    #[error("{0}")]
    Set(#[from] refset::RefSetError),
    #[error(
        "{path}: --dihedral needs the dihedral hashes of every image: write them with `hashsweep hash --dihedral --format jsonl`"
    )]
    NoVariants { path: PathBuf },
}

/// Options that decide which hashes are read.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    pub algo: Algo,
    pub dihedral: bool,
    /// Hashes of a known quality below this are left out (unknown quality is kept).
    pub min_quality: u8,
}

impl Hashes {
    pub fn new(algo: Algo, dihedral: bool) -> Hashes {
        Hashes {
            algo,
            words: vec![],
            variants: dihedral.then(Vec::new),
            labels: vec![],
            quality: vec![],
        }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn hash(&self, i: usize) -> &[u64] {
        let w = self.algo.words();
        &self.words[i * w..(i + 1) * w]
    }

    /// The hex form of hash `i`, as the inputs wrote it.
    pub fn hex(&self, i: usize) -> String {
        let h = self.hash(i);
        match self.algo {
            Algo::Pdq => Pdq256([h[0], h[1], h[2], h[3]]).to_string(),
            _ => Phash64(h[0]).to_string(),
        }
    }

    fn push(&mut self, words: &[u64], variants: Option<&[u64]>, label: String, q: Option<u8>) {
        self.words.extend_from_slice(words);
        if let (Some(all), Some(v)) = (self.variants.as_mut(), variants) {
            all.extend_from_slice(v);
        }
        self.labels.push(label);
        self.quality.push(q);
    }
}

/// Read every input in order into one collection.
pub fn read(paths: &[PathBuf], opts: ReadOptions) -> Result<Hashes, ClusterInputError> {
    let mut out = Hashes::new(opts.algo, opts.dihedral);
    for p in paths {
        read_one(p, opts, &mut out)?;
    }
    Ok(out)
}

fn read_one(path: &Path, opts: ReadOptions, out: &mut Hashes) -> Result<(), ClusterInputError> {
    let io = |cause| ClusterInputError::Io {
        path: path.to_path_buf(),
        cause,
    };
    let mut head = vec![];
    std::fs::File::open(path)
        .map_err(io)?
        .take(64 << 10)
        .read_to_end(&mut head)
        .map_err(io)?;
    if head.starts_with(&refset::format::MAGIC) {
        return read_set(path, opts, out);
    }
    if input::detect(&String::from_utf8_lossy(&head)) == input::Kind::Jsonl {
        return read_jsonl(path, opts, out);
    }
    if opts.dihedral {
        return Err(ClusterInputError::NoVariants {
            path: path.to_path_buf(),
        });
    }
    let parsed = input::read_file(path, Some(opts.algo), false)?;
    for e in parsed.entries {
        if e.quality.is_some_and(|q| q < opts.min_quality) {
            continue;
        }
        let label = e
            .labels
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        out.push(&e.words, None, label, e.quality);
    }
    Ok(())
}

fn read_set(path: &Path, opts: ReadOptions, out: &mut Hashes) -> Result<(), ClusterInputError> {
    let set = RefSet::open(path)?;
    if opts.dihedral {
        return Err(ClusterInputError::NoVariants {
            path: path.to_path_buf(),
        });
    }
    if set.algo() != opts.algo {
        return Err(ClusterInputError::Line {
            path: path.to_path_buf(),
            line: 0,
            reason: format!(
                "a {} set, not {}: pass --algo {}",
                set.algo().name(),
                opts.algo.name(),
                set.algo().name()
            ),
        });
    }
    let w = set.algo().words();
    for (i, words) in set.words().chunks_exact(w).enumerate() {
        let q = set.quality(i);
        if q.is_some_and(|q| q < opts.min_quality) {
            continue;
        }
        let labels: Vec<&str> = set.labels(i);
        let label = if labels.is_empty() {
            format!("{}#{i}", path.display())
        } else {
            labels.join("; ")
        };
        out.push(words, None, label, q);
    }
    Ok(())
}

/// Scan outputs (file records) and `hash --format jsonl` lines; other records (header,
/// matches, summary) and files without a hash (errors, skipped) are passed over.
fn read_jsonl(path: &Path, opts: ReadOptions, out: &mut Hashes) -> Result<(), ClusterInputError> {
    let io = |cause| ClusterInputError::Io {
        path: path.to_path_buf(),
        cause,
    };
    let bad = |line, reason: String| ClusterInputError::Line {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let key = opts.algo.name();
    let reader = BufReader::new(std::fs::File::open(path).map_err(io)?);
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| bad(n + 1, format!("invalid JSON: {e}")))?;
        if v.get("type").is_some_and(|t| t != "file") {
            continue;
        }
        let Some(hex) = v[key].as_str() else { continue };
        let words = input::parse_hash(hex, opts.algo)
            .ok_or_else(|| bad(n + 1, format!("{hex:?} is not a {key} hash")))?;
        let q = v["quality"].as_u64().and_then(|q| u8::try_from(q).ok());
        if q.is_some_and(|q| q < opts.min_quality) {
            continue;
        }
        let variants = if opts.dihedral {
            Some(variants_of(&v["dihedral"], opts.algo).ok_or_else(|| {
                ClusterInputError::NoVariants {
                    path: path.to_path_buf(),
                }
            })?)
        } else {
            None
        };
        let label = ["path", "label"]
            .iter()
            .find_map(|k| v[k].as_str())
            .map_or_else(|| format!("{}:{}", path.display(), n + 1), String::from);
        out.push(&words, variants.as_deref(), label, q);
    }
    Ok(())
}

/// The seven variants of a `"dihedral": {"rotate90": hex, ...}` object, in `Dihedral::ALL`
/// order, or `None` if any is missing.
fn variants_of(d: &serde_json::Value, algo: Algo) -> Option<Vec<u64>> {
    let mut all = vec![];
    for x in &Dihedral::ALL[1..] {
        all.extend(input::parse_hash(d[x.name()].as_str()?, algo)?);
    }
    Some(all)
}
