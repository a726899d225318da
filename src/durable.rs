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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_fill_leaves_the_old_file_and_no_temporary() {
        let dir = std::env::temp_dir().join(format!("hs-durable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (path, tmp) = (dir.join("f.txt"), dir.join(".f.tmp"));
        replace(&path, &tmp, |f| f.write_all(b"first")).unwrap();
        let failed = replace(&path, &tmp, |f| {
            f.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        assert!(!tmp.exists());
        replace(&path, &tmp, |f| f.write_all(b"second")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
