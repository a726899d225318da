//! What FAT and exFAT share: a table of cluster chains held in memory, a cluster heap, and
//! directories that are files of fixed-size entries, walked from the root. Each format
//! parses its own entries (`fat`, `exfat`); the chains, the walk and The Sleuth Kit's
//! entry numbers are here. An entry at slot `i` of directory sector `s` is numbered
//! `(s - first) * per_sector + i + 3`, `first` being the first sector that directories
//! are counted from (the root directory's for FAT12/16, the cluster heap's otherwise).

use std::collections::HashSet;

use super::device::{Dev, Runs};
use super::{FsFile, FsKind, Times, Visit};

/// Directories nested deeper are not followed (no real tree comes near).
const MAX_DEPTH: usize = 256;

/// The width of a table's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    Fat12,
    Fat16,
    Fat32,
    ExFat,
}

pub struct Table {
    pub dev: Dev,
    pub width: Width,
    pub sector: u64,
    pub cluster: u64,
    /// Byte offset of cluster 2.
    pub heap: u64,
    pub clusters: u64,
    pub fat: Vec<u8>,
    pub first_dentry_sector: u64,
}

/// A directory entry as its format read it: its data as runs (or why not), and whether
/// it is a directory.
pub struct Dirent {
    pub name: Vec<u8>,
    pub dir: bool,
    /// The first cluster, for directories: loops are found by it.
    pub first: u64,
    pub data: Result<Runs, String>,
    pub size: u64,
    pub inode: u64,
    pub times: Times,
    /// A deleted entry (named under `/$deleted/N/`).
    pub deleted: bool,
    /// What is doubtful about its bytes.
    pub warning: Option<String>,
}

impl Table {
    /// The table's entry for cluster `c`.
    fn next(&self, c: u64) -> Option<u64> {
        let u16_at = |at: usize| {
            Some(u16::from_le_bytes([*self.fat.get(at)?, *self.fat.get(at + 1)?]) as u64)
        };
        let u32_at =
            |at: usize| Some(u32::from_le_bytes(self.fat.get(at..at + 4)?.try_into().ok()?) as u64);
        match self.width {
            Width::Fat12 => {
                let w = u16_at((c + c / 2) as usize)?;
                Some(if c & 1 == 1 { w >> 4 } else { w & 0xfff })
            }
            Width::Fat16 => u16_at((c * 2) as usize),
            Width::Fat32 => Some(u32_at((c * 4) as usize)? & 0x0fff_ffff),
            Width::ExFat => u32_at((c * 4) as usize),
        }
    }

    fn is_end(&self, v: u64) -> bool {
        match self.width {
            Width::Fat12 => v >= 0xff8,
            Width::Fat16 => v >= 0xfff8,
            Width::Fat32 => v >= 0x0fff_fff8,
            Width::ExFat => v >= 0xffff_fff8,
        }
    }

    /// Where cluster `c` starts, if it is inside the volume.
    fn offset(&self, c: u64) -> Result<u64, String> {
        if c < 2 || c >= self.clusters + 2 {
            return Err(format!(
                "cluster {c} is outside the volume (clusters 2..{})",
                self.clusters + 2
            ));
        }
        Ok(self.heap + (c - 2) * self.cluster)
    }

    /// The runs of a chain from `first`: all of it (`want` None), or enough for `want`
    /// bytes. A loop, a cluster outside the volume or a chain that ends early is an error.
    pub fn chain(&self, first: u64, want: Option<u64>) -> Result<Runs, String> {
        let need = want.map(|w| w.div_ceil(self.cluster));
        let mut out = Runs::default();
        let mut seen = HashSet::new();
        let mut c = first;
        loop {
            if need.is_some_and(|n| seen.len() as u64 >= n) {
                return Ok(out);
            }
            out.push(Some(self.offset(c)?), self.cluster);
            if !seen.insert(c) {
                return Err(format!(
                    "cluster chain from {first} loops (cluster {c} comes back)"
                ));
            }
            let v = self.next(c).ok_or("FAT shorter than the volume")?;
            if self.is_end(v) {
                break;
            }
            if v == 0 {
                return Err(format!(
                    "cluster chain from {first} runs into a free cluster"
                ));
            }
            c = v;
        }
        match need {
            Some(n) if (seen.len() as u64) < n => Err(format!(
                "cluster chain from {first} ends after {} of the {n} clusters its size needs",
                seen.len()
            )),
            _ => Ok(out),
        }
    }

    /// `len` bytes from cluster `first` on, in a row (exFAT's files with no chain).
    pub fn contiguous(&self, first: u64, len: u64) -> Result<Runs, String> {
        let n = len.div_ceil(self.cluster);
        self.offset(first)?;
        if n > 0 {
            self.offset(first + n - 1)?;
        }
        let mut r = Runs::default();
        r.push(Some(self.offset(first)?), n * self.cluster);
        Ok(r)
    }

    /// A deleted file's bytes: `size` bytes in a row from cluster `first`, judged against
    /// the table: clusters a live file holds now are someone else's (all of them: its data
    /// is gone; some: a warning).
    pub fn deleted(&self, first: u64, size: u64) -> (Result<Runs, String>, Option<String>) {
        let runs = match self.contiguous(first, size) {
            Ok(r) => r,
            Err(why) => return (Err(format!("deleted; {why}")), None),
        };
        let n = size.div_ceil(self.cluster);
        let taken = (first..first + n)
            .filter(|&c| self.next(c).is_some_and(|v| v != 0))
            .count() as u64;
        super::deleted_verdict(runs, n, taken)
    }

    /// The clusters the table marks free, as byte runs.
    pub fn unallocated(&self) -> Runs {
        let mut r = Runs::default();
        for c in 2..self.clusters + 2 {
            if self.next(c) == Some(0) {
                r.push(Some(self.heap + (c - 2) * self.cluster), self.cluster);
            }
        }
        r
    }

    /// The Sleuth Kit's number for the entry `at` bytes into a directory laid out as `runs`.
    pub fn inode_of(&self, runs: &Runs, mut at: u64) -> u64 {
        for &(start, len) in &runs.runs {
            if at < len {
                let byte = start.unwrap_or(0) + at;
                let per = self.sector / 32;
                let slot = (byte % self.sector) / 32;
                return (byte / self.sector).saturating_sub(self.first_dentry_sector) * per
                    + slot
                    + 3;
            }
            at -= len;
        }
        0
    }

    /// Every file from the `root` directory, depth first in directory order, its entries
    /// read by `parse`; each handed to `each`.
    pub fn walk(
        &self,
        root: Result<Runs, String>,
        parse: &dyn Fn(&[u8], &Runs) -> Vec<Dirent>,
        each: &mut Visit,
    ) -> super::super::Walk {
        let mut seen = HashSet::new();
        let mut stack = vec![(b"".to_vec(), root, 0usize)];
        while let Some((path, runs, depth)) = stack.pop() {
            let read = runs.and_then(|r| super::read_runs(&*self.dev, &r).map(|b| (b, r)));
            let (bytes, runs) = match read {
                Ok(r) => r,
                Err(why) => {
                    each(super::dir_error(&path, 0, why))?;
                    continue;
                }
            };
            let mut subdirs = vec![];
            for e in parse(&bytes, &runs) {
                let mut full = [path.as_slice(), b"/", &e.name].concat();
                if e.deleted {
                    full = [format!("/$deleted/{}", e.inode).as_bytes(), &full].concat();
                }
                if !e.dir {
                    each(file(full, e))?;
                    continue;
                }
                let why = if depth >= MAX_DEPTH {
                    format!("directory nested over {MAX_DEPTH} deep: not read")
                } else if !seen.insert(e.first) {
                    format!(
                        "directory at cluster {} seen before: a loop, not read again",
                        e.first
                    )
                } else {
                    subdirs.push((full, e.data, depth + 1));
                    continue;
                };
                each(super::dir_error(&full, e.inode, why))?;
            }
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(())
    }
}

fn file(path: Vec<u8>, e: Dirent) -> FsFile {
    FsFile {
        path,
        kind: FsKind::File,
        data: e.data.map(|r| r.truncated(e.size)),
        size: e.size,
        inode: e.inode,
        times: e.times,
        inline: None,
        stream: None,
        deleted: e.deleted,
        warning: e.warning,
    }
}
