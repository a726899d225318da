//! A member that a reader outside this process must open by name (FFmpeg, for a video
//! inside an archive) is spooled to a private temporary file. Evidence must not be left
//! behind in the temporary folder, even by a run killed with -9: on Linux the file is
//! unlinked as soon as it is created and named to the reader as `/proc/PID/fd/N`, which
//! stays readable while this process holds it open. Elsewhere it keeps its (random,
//! owner-only) name until it is dropped.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// Where spooled members go: `$TMPDIR`, or the system's temporary folder.
fn folder() -> PathBuf {
    std::env::temp_dir()
}

pub struct Spool {
    file: File,
    /// The name a reader opens.
    path: PathBuf,
    /// The file's own name, where it could not be unlinked at once.
    named: Option<tempfile::TempPath>,
    /// Whoever waits for this spool to be done with (see `Spool::watched`).
    _done: Option<mpsc::Sender<()>>,
    len: u64,
}

impl Spool {
    pub fn new() -> std::io::Result<Spool> {
        let (file, named) = tempfile::Builder::new()
            .prefix(".hashsweep-member-")
            .tempfile_in(folder())?
            .into_parts();
        let by_fd = by_descriptor(&file);
        let (path, named) = match by_fd {
            Some(p) => {
                named.close()?;
                (p, None)
            }
            None => (named.to_path_buf(), Some(named)),
        };
        Ok(Spool {
            file,
            path,
            named,
            _done: None,
            len: 0,
        })
    }

    /// A spool and a receiver whose `recv` returns once the spool has been dropped, so that
    /// a lister can keep one large spool on disk at a time.
    pub fn watched() -> std::io::Result<(Spool, mpsc::Receiver<()>)> {
        let mut s = Spool::new()?;
        let (tx, rx) = mpsc::channel();
        s._done = Some(tx);
        Ok((s, rx))
    }

    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// The name a reader outside this process opens it by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the file still has a name in the temporary folder (not on Linux).
    pub fn is_named(&self) -> bool {
        self.named.is_some()
    }
}

#[cfg(target_os = "linux")]
fn by_descriptor(file: &File) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    let p = PathBuf::from(format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        file.as_raw_fd()
    ));
    p.exists().then_some(p)
}

#[cfg(not(target_os = "linux"))]
fn by_descriptor(_: &File) -> Option<PathBuf> {
    None
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("path", &self.path)
            .field("len", &self.len)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spool_leaves_no_name_behind_and_is_readable_by_its_path() {
        let mut s = Spool::new().unwrap();
        s.write(b"member bytes").unwrap();
        assert_eq!(std::fs::read(s.path()).unwrap(), b"member bytes");
        assert_eq!(s.len(), 12);
        if cfg!(target_os = "linux") {
            assert!(!s.is_named());
            // The kernel names an unlinked file's descriptor "NAME (deleted)".
            let target = std::fs::read_link(s.path()).unwrap();
            let target = target.to_string_lossy();
            assert!(target.ends_with(" (deleted)"), "still named: {target}");
        }
    }

    #[test]
    fn a_watched_spool_says_when_it_is_dropped() {
        let (s, rx) = Spool::watched().unwrap();
        assert!(rx.try_recv().is_err());
        drop(s);
        assert!(rx.recv().is_err(), "the wait ends once the spool is gone");
    }
}
