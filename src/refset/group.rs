//! What a set name stands for. A `.hsref` file holds one algorithm, but an exchanged list
//! often carries several fingerprint kinds (NCMEC: PDQ and MD5), so one build of it writes
//! one set per kind beside the name it was given (`known.hsref` -> `known.pdq.hsref`,
//! `known.md5.hsref`). `--refs` takes that name, a single set file, or a folder of sets;
//! this module is the one place that says which files each of these means.

use std::path::{Path, PathBuf};

use super::format::Algo;

/// The file of kind `algo` in the group named `name` (its `.hsref` suffix, if any, moves
/// after the kind).
pub fn member(name: &Path, algo: Algo) -> PathBuf {
    let file = name
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let stem = file.strip_suffix(".hsref").unwrap_or(&file);
    name.with_file_name(format!("{stem}.{}.hsref", algo.name()))
}

/// Every file the name `name` stands for now: the file itself, or the members of its group
/// that exist (in `Algo::ALL` order). Empty when there is neither.
pub fn existing(name: &Path) -> Vec<PathBuf> {
    if name.is_file() {
        return vec![name.to_path_buf()];
    }
    Algo::ALL
        .iter()
        .map(|&a| member(name, a))
        .filter(|p| p.is_file())
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no such file: {0}")]
    Missing(PathBuf),
    #[error("{0}: a folder without reference sets (*.hsref)")]
    EmptyFolder(PathBuf),
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// The set files that `--refs ARG` names: a file; a folder's `*.hsref` files (not its
/// subfolders), in name order; or the members of a group built under that name.
pub fn resolve(arg: &Path) -> Result<Vec<PathBuf>, ResolveError> {
    if arg.is_dir() {
        let io = |cause| ResolveError::Io {
            path: arg.to_path_buf(),
            cause,
        };
        let mut sets = vec![];
        for e in std::fs::read_dir(arg).map_err(io)? {
            let p = e.map_err(io)?.path();
            if p.extension().is_some_and(|x| x == "hsref") && p.is_file() {
                sets.push(p);
            }
        }
        sets.sort();
        return match sets.is_empty() {
            true => Err(ResolveError::EmptyFolder(arg.to_path_buf())),
            false => Ok(sets),
        };
    }
    match existing(arg) {
        found if found.is_empty() => Err(ResolveError::Missing(arg.to_path_buf())),
        found => Ok(found),
    }
}

/// Every `--refs` argument resolved, in order, each file once.
pub fn resolve_all(args: &[PathBuf]) -> Result<Vec<PathBuf>, ResolveError> {
    let mut out: Vec<PathBuf> = vec![];
    for a in args {
        for p in resolve(a)? {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_stands_for_its_file_or_its_group_and_a_folder_for_its_sets() {
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("known.hsref");
        assert_eq!(member(&name, Algo::Md5), dir.path().join("known.md5.hsref"));
        assert_eq!(
            member(&dir.path().join("plain"), Algo::Pdq),
            dir.path().join("plain.pdq.hsref")
        );
        assert!(matches!(resolve(&name), Err(ResolveError::Missing(_))));
        for a in [Algo::Md5, Algo::Pdq] {
            std::fs::write(member(&name, a), b"x").unwrap();
        }
        let want = vec![member(&name, Algo::Pdq), member(&name, Algo::Md5)];
        assert_eq!(resolve(&name).unwrap(), want);
        let mut sorted = want.clone();
        sorted.sort();
        assert_eq!(resolve(dir.path()).unwrap(), sorted);
        std::fs::write(&name, b"x").unwrap();
        assert_eq!(resolve(&name).unwrap(), vec![name.clone()]);
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(matches!(resolve(&empty), Err(ResolveError::EmptyFolder(_))));
        let twice = resolve_all(&[name.clone(), name.clone()]).unwrap();
        assert_eq!(twice, vec![name]);
    }
}
