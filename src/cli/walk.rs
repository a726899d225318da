//! Expanding the command line's files and directories into a sorted list of files.

use std::path::{Path, PathBuf};

/// Files under each input, directories walked recursively in byte order of their names;
/// symbolic links are not followed. Unreadable directories are reported, not fatal.
pub fn expand(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, std::io::Error)>) {
    let mut files = vec![];
    let mut errors = vec![];
    for input in inputs {
        match std::fs::symlink_metadata(input) {
            Ok(m) if m.is_dir() => walk(input, &mut files, &mut errors),
            Ok(_) => files.push(input.clone()),
            Err(e) => errors.push((input.clone(), e)),
        }
    }
    (files, errors)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<(PathBuf, std::io::Error)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => return errors.push((dir.to_path_buf(), e)),
    };
    let mut children: Vec<_> = entries.filter_map(Result::ok).collect();
    children.sort_by_key(|e| e.file_name());
    for entry in children {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, files, errors),
            Ok(t) if t.is_file() => files.push(path),
            Ok(_) => {} // symlinks, FIFOs, devices: not followed, not read
            Err(e) => errors.push((path, e)),
        }
    }
}
