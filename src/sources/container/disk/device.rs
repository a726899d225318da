//! The bytes of a disk as readers see them, whatever holds them: a raw image (one file or
//! split in segments), an EWF image's chunks, a partition inside either. Every reader reads
//! at offsets, so the hashing workers read files of one image at once.

use std::io::Read;
use std::sync::Arc;

use super::super::Src;

/// A disk, or a part of one, read at any offset by any number of readers at once.
pub trait Device: Send + Sync {
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Read up to `buf.len()` bytes at `off`; fewer only at the end.
    fn read_at(&self, off: u64, buf: &mut [u8]) -> std::io::Result<usize>;
    /// What was found damaged among the bytes `off..off + len` read so far (an EWF chunk
    /// that failed its checksum), one line each.
    fn damage(&self, _off: u64, _len: u64) -> Vec<String> {
        vec![]
    }
}

pub type Dev = Arc<dyn Device>;

/// Fill `buf` from `off`: an error if the device ends first.
pub fn read_exact_at(d: &dyn Device, off: u64, buf: &mut [u8]) -> std::io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let n = d.read_at(off + done as u64, &mut buf[done..])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("past the end of the disk at byte {}", off + done as u64),
            ));
        }
        done += n;
    }
    Ok(())
}

/// `len` bytes at `off`, read whole.
pub fn bytes_at(d: &dyn Device, off: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut b = vec![0u8; len];
    read_exact_at(d, off, &mut b)?;
    Ok(b)
}

/// A raw image: its segments in order (`disk.001`, `disk.002`, ...), or one file.
pub struct Raw {
    segments: Vec<(u64, Src)>,
    len: u64,
}

impl Raw {
    pub fn new(segments: Vec<Src>) -> Raw {
        let mut at = 0;
        let segments = segments
            .into_iter()
            .map(|s| {
                let start = at;
                at += s.len();
                (start, s)
            })
            .collect();
        Raw { segments, len: at }
    }
}

impl Device for Raw {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        let i = self.segments.partition_point(|(start, _)| *start <= off);
        let Some((start, src)) = i.checked_sub(1).and_then(|i| self.segments.get(i)) else {
            return Ok(0);
        };
        src.read_at(off - start, buf)
    }
}

/// A partition: `len` bytes from `start` of a device, and never past them.
pub struct Part {
    pub dev: Dev,
    pub start: u64,
    pub len: u64,
}

impl Device for Part {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        if off >= self.len {
            return Ok(0);
        }
        let n = buf.len().min((self.len - off) as usize);
        self.dev.read_at(self.start + off, &mut buf[..n])
    }

    fn damage(&self, off: u64, len: u64) -> Vec<String> {
        self.dev.damage(self.start + off, len)
    }
}

/// Where a file's bytes lie on its volume: runs in order, each at a byte offset or a hole
/// (sparse: zeros).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Runs {
    pub runs: Vec<(Option<u64>, u64)>,
}

impl Runs {
    pub fn push(&mut self, at: Option<u64>, len: u64) {
        if len == 0 {
            return;
        }
        // Adjacent pieces make one run: fewer, larger reads.
        if let Some((Some(prev), plen)) = self.runs.last_mut()
            && let Some(a) = at
            && *prev + *plen == a
        {
            *plen += len;
            return;
        }
        if let Some((None, plen)) = self.runs.last_mut()
            && at.is_none()
        {
            *plen += len;
            return;
        }
        self.runs.push((at, len));
    }

    pub fn total(&self) -> u64 {
        self.runs.iter().map(|r| r.1).sum()
    }

    /// The first `size` bytes of these runs.
    pub fn truncated(mut self, size: u64) -> Runs {
        let mut left = size;
        self.runs.retain_mut(|(_, len)| {
            let keep = left > 0;
            *len = (*len).min(left);
            left -= *len;
            keep
        });
        self
    }
}

/// A file on a volume, read by whoever takes it.
#[derive(Clone)]
pub struct FileData {
    pub dev: Dev,
    pub runs: Runs,
    pub size: u64,
}

impl FileData {
    /// The whole file, and what the device found damaged in it.
    pub fn read(&self) -> Result<(Vec<u8>, Vec<String>), String> {
        let mut out = Vec::with_capacity(self.size.min(1 << 30) as usize);
        self.reader()
            .read_to_end(&mut out)
            .map_err(|e| format!("read failed: {e}"))?;
        Ok((out, self.damage()))
    }

    /// What the device found damaged in this file's bytes (after they were read).
    pub fn damage(&self) -> Vec<String> {
        let mut all = vec![];
        for (at, len) in &self.runs.runs {
            if let Some(a) = at {
                for d in self.dev.damage(*a, *len) {
                    if !all.contains(&d) {
                        all.push(d);
                    }
                }
            }
        }
        all
    }

    pub fn reader(&self) -> FileReader<'_> {
        FileReader {
            data: self,
            run: 0,
            pos: 0,
        }
    }
}

/// The bytes of a `FileData`, in order.
pub struct FileReader<'a> {
    data: &'a FileData,
    run: usize,
    /// Offset within the current run.
    pos: u64,
}

impl Read for FileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let Some(&(at, len)) = self.data.runs.runs.get(self.run) else {
                return Ok(0);
            };
            if self.pos >= len {
                self.run += 1;
                self.pos = 0;
                continue;
            }
            let n = buf.len().min((len - self.pos) as usize);
            let got = match at {
                None => {
                    buf[..n].fill(0);
                    n
                }
                Some(a) => {
                    let got = self.data.dev.read_at(a + self.pos, &mut buf[..n])?;
                    if got == 0 {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            format!("data past the end of the volume (byte {})", a + self.pos),
                        ));
                    }
                    got
                }
            };
            self.pos += got as u64;
            return Ok(got);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_read_as_one_disk_and_parts_stay_inside_their_bounds() {
        let a = Src::Bytes(Arc::new(b"0123".to_vec()));
        let b = Src::Bytes(Arc::new(b"456789".to_vec()));
        let raw: Dev = Arc::new(Raw::new(vec![a, b]));
        assert_eq!(raw.len(), 10);
        assert_eq!(bytes_at(&*raw, 2, 5).unwrap(), b"23456");
        let p = Part {
            dev: raw.clone(),
            start: 3,
            len: 4,
        };
        assert_eq!(bytes_at(&p, 0, 4).unwrap(), b"3456");
        assert!(bytes_at(&p, 1, 4).is_err(), "a part ends where it says");
    }

    #[test]
    fn runs_merge_read_holes_as_zeros_and_stop_at_the_size() {
        let dev: Dev = Arc::new(Raw::new(vec![Src::Bytes(Arc::new(b"abcdefgh".to_vec()))]));
        let mut runs = Runs::default();
        runs.push(Some(0), 2);
        runs.push(Some(2), 2);
        runs.push(None, 3);
        runs.push(Some(6), 2);
        assert_eq!(runs.runs.len(), 3);
        let f = FileData {
            dev,
            runs: runs.truncated(8),
            size: 8,
        };
        assert_eq!(f.read().unwrap().0, b"abcd\0\0\0g");
    }
}
