//! Files that survive a power loss whole or not at all: written under a temporary name
//! beside the target, synced, renamed over it, and the directory synced so that the rename
//! itself is on disk. A record that names such a file is written only after this returns.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Replace `path` with what `fill` writes, durably. On error the temporary file is removed
/// and `path` is untouched.
pub fn replace(
    path: &Path,
    tmp: &Path,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let result = (|| {
        let mut f = File::create(tmp)?;
        fill(&mut f)?;
        f.flush()?;
        f.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(tmp);
        return Err(e);
    }
    std::fs::rename(tmp, path)?;
    sync_parent(path)
}

/// Make a new or renamed entry in `path`'s directory durable.
pub fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => File::open(dir)?.sync_all(),
        None => File::open(".")?.sync_all(),
    }
}
