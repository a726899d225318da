//! Where a container's bytes are, read at any offset by any number of readers at once.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

/// Where a container's bytes are: a file on disk, read at offsets (one handle shared by
/// every reader), or an inner container held in memory.
#[derive(Clone)]
pub enum Src {
    File(Arc<File>, u64),
    Bytes(Arc<Vec<u8>>),
}

impl Src {
    pub fn len(&self) -> u64 {
        match self {
            Src::File(_, len) => *len,
            Src::Bytes(b) => b.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Up to `buf.len()` bytes at `pos`; fewer only at the end.
    pub fn read_at(&self, pos: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Src::File(f, _) => read_at(f, buf, pos),
            Src::Bytes(b) => {
                let start = (pos.min(b.len() as u64)) as usize;
                let n = buf.len().min(b.len() - start);
                buf[..n].copy_from_slice(&b[start..start + n]);
                Ok(n)
            }
        }
    }

    pub fn reader(&self) -> SrcReader {
        SrcReader {
            src: self.clone(),
            pos: 0,
        }
    }
}

/// A cursor over a `Src`: cheap to clone, so parallel readers of one archive each have
/// their own position.
#[derive(Clone)]
pub struct SrcReader {
    src: Src,
    pos: u64,
}

impl Read for SrcReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.src.read_at(self.pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(f, buf, pos)
}

#[cfg(windows)]
fn read_at(f: &File, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(f, buf, pos)
}

impl Seek for SrcReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let len = self.src.len() as i128;
        let pos = match to {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => len + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if pos < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start",
            ));
        }
        self.pos = pos as u64;
        Ok(self.pos)
    }
}
