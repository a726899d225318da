//! Expanding inputs into a sorted list of paths. Directories are walked with an explicit
//! stack (no recursion, so no depth limit), children in byte order of their names, so the
//! order is the same on every run and every machine. Symbolic links are not followed unless
//! asked; special files (FIFOs, sockets, devices) are listed as such, never opened.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    /// FIFO, socket, block or character device.
    Special,
    /// A symbolic link that was not followed.
    Link,
}

#[derive(Debug)]
pub struct Found {
    pub path: PathBuf,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct WalkOptions {
    pub follow_symlinks: bool,
}

/// Everything under the inputs, in order, with the errors met on the way.
pub fn walk(inputs: &[PathBuf], opts: WalkOptions) -> (Vec<Found>, Vec<(PathBuf, std::io::Error)>) {
    let mut found = vec![];
    let mut errors = vec![];
    for input in inputs {
        walk_one(input, opts, &mut found, &mut errors);
    }
    (found, errors)
}

/// (device, inode) of a directory.
type DirId = Option<(u64, u64)>;

fn kind_of(path: &Path, follow: bool) -> std::io::Result<(bool, Kind, DirId)> {
    let meta = if follow {
        std::fs::metadata(path)?
    } else {
        std::fs::symlink_metadata(path)?
    };
    let t = meta.file_type();
    let kind = match () {
        _ if t.is_dir() => (true, Kind::File),
        _ if t.is_file() => (false, Kind::File),
        _ if t.is_symlink() => (false, Kind::Link),
        _ => (false, Kind::Special),
    };
    Ok((kind.0, kind.1, dir_id(&meta)))
}

#[cfg(unix)]
fn dir_id(m: &std::fs::Metadata) -> DirId {
    use std::os::unix::fs::MetadataExt;
    m.is_dir().then(|| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn dir_id(_: &std::fs::Metadata) -> DirId {
    None
}

fn walk_one(
    input: &Path,
    opts: WalkOptions,
    found: &mut Vec<Found>,
    errors: &mut Vec<(PathBuf, std::io::Error)>,
) {
    // Directories already entered, so that a link loop under --follow-symlinks (or a bind
    // mount) is walked once, not until the path gets too long.
    let mut entered = std::collections::HashSet::new();
    // Pending paths, last to visit first: children are pushed in reverse name order.
    let mut stack = vec![(input.to_path_buf(), true)];
    while let Some((path, top)) = stack.pop() {
        // A link named on the command line is followed, as `find -H` does.
        let (is_dir, kind, id) = match kind_of(&path, opts.follow_symlinks || top) {
            Ok(k) => k,
            Err(e) => {
                errors.push((path, e));
                continue;
            }
        };
        if !is_dir {
            found.push(Found { path, kind });
            continue;
        }
        if id.is_some_and(|id| !entered.insert(id)) {
            continue;
        }
        match std::fs::read_dir(&path) {
            Ok(rd) => {
                let mut children = vec![];
                for entry in rd {
                    match entry {
                        Ok(e) => children.push(e.path()),
                        Err(e) => errors.push((path.clone(), e)),
                    }
                }
                children.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
                stack.extend(children.into_iter().rev().map(|c| (c, false)));
            }
            Err(e) => errors.push((path, e)),
        }
    }
}

/// Regular files only, for commands that just read images (`hash`, `match`).
pub fn expand(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, std::io::Error)>) {
    let (found, errors) = walk(inputs, WalkOptions::default());
    let files = found
        .into_iter()
        .filter(|f| f.kind == Kind::File)
        .map(|f| f.path)
        .collect();
    (files, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_trees_are_walked_in_name_order_without_recursion() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let mut deep = root.clone();
        for i in 0..300 {
            deep = deep.join(format!("d{i}"));
        }
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("leaf"), b"x").unwrap();
        for n in ["b", "a", "c"] {
            std::fs::write(root.join(n), b"x").unwrap();
        }
        let (files, errors) = expand(std::slice::from_ref(&root));
        assert!(errors.is_empty());
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into())
            .collect();
        assert_eq!(names, ["a", "b", "c", "leaf"]);
    }

    #[cfg(unix)]
    #[test]
    fn link_loops_are_walked_once_and_linked_inputs_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("d")).unwrap();
        std::fs::write(root.join("d/f"), b"x").unwrap();
        std::os::unix::fs::symlink(&root, root.join("d/loop")).unwrap();
        let (found, _) = walk(
            std::slice::from_ref(&root),
            WalkOptions {
                follow_symlinks: true,
            },
        );
        assert_eq!(found.len(), 1, "{found:?}");
        let (found, _) = walk(std::slice::from_ref(&root), WalkOptions::default());
        assert_eq!(found.iter().filter(|f| f.kind == Kind::Link).count(), 1);
        let link = root.with_extension("link");
        std::os::unix::fs::symlink(root.join("d"), &link).unwrap();
        let (found, _) = walk(std::slice::from_ref(&link), WalkOptions::default());
        assert!(
            found
                .iter()
                .any(|f| f.path.ends_with("f") && f.kind == Kind::File)
        );
    }
}
