//! One private folder per fuzzing process, for the parsers that read from a path: the
//! input is written to a file there before each run, as a user's file would be.
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();

/// The folder; removed when the process ends normally.
pub fn dir() -> &'static Path {
    DIR.get_or_init(|| tempfile::tempdir().expect("a scratch folder"))
        .path()
}

/// Write `bytes` to `name` in the folder and return its path.
pub fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir().join(name);
    std::fs::write(&p, bytes).expect("writing the input");
    p
}
