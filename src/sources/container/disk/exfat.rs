//! exFAT, read directly: the boot sector's geometry, the FAT held in memory, directories
//! of entry sets (a file entry, its stream extension, its name entries), files either
//! chained in the FAT or stored in a row (`NoFatChain`). Entry numbers are The Sleuth
//! Kit's, counted from the cluster heap (`clusters`). Times carry their own UTC offset when
//! the entry says it is valid; otherwise they are local times read as UTC, and said so.

use super::clusters::{Dirent, Table, Width};
use super::device::{Dev, Runs, bytes_at};
use super::{Times, Visit};

/// FAT bytes held in memory at most (a 2 TB card of 128 KiB clusters needs 64 MiB).
const MAX_FAT_BYTES: u64 = 512 << 20;

pub struct ExFat {
    t: Table,
    root: u64,
    /// The allocation bitmap (bit `c - 2` for cluster `c`): what live files hold now.
    bitmap: Vec<u8>,
}

impl ExFat {
    pub fn open(dev: Dev) -> Result<ExFat, String> {
        let b = bytes_at(&*dev, 0, 512).map_err(|e| format!("boot sector unreadable: {e}"))?;
        if &b[3..11] != b"EXFAT   " {
            return Err("not an exFAT boot sector".into());
        }
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap()) as u64;
        let (sector_shift, cluster_shift) = (b[108] as u32, b[109] as u32);
        if !(9..=12).contains(&sector_shift) || sector_shift + cluster_shift > 25 {
            return Err(format!(
                "exFAT sectors of 2^{sector_shift} bytes, clusters of 2^{cluster_shift} sectors: impossible"
            ));
        }
        let sector = 1u64 << sector_shift;
        let (fat_at, fat_len) = (u32_at(80) * sector, u32_at(84) * sector);
        if fat_len > MAX_FAT_BYTES {
            return Err(format!(
                "FAT of {fat_len} bytes: over the {MAX_FAT_BYTES} held in memory"
            ));
        }
        let fat = bytes_at(&*dev, fat_at, fat_len as usize)
            .map_err(|e| format!("FAT unreadable: {e}"))?;
        let heap_sector = u32_at(88);
        let t = Table {
            dev,
            width: Width::ExFat,
            sector,
            cluster: sector << cluster_shift,
            heap: heap_sector * sector,
            clusters: u32_at(92),
            fat,
            first_dentry_sector: heap_sector,
        };
        let mut x = ExFat {
            t,
            root: u32_at(96),
            bitmap: vec![],
        };
        x.bitmap = x.read_bitmap().unwrap_or_default();
        Ok(x)
    }

    /// The allocation bitmap, found by its entry (0x81) in the root directory.
    fn read_bitmap(&self) -> Option<Vec<u8>> {
        let root = self.t.chain(self.root, None).ok()?;
        let bytes = super::read_runs(&*self.t.dev, &root).ok()?;
        let e = bytes.chunks_exact(32).find(|e| e[0] == 0x81)?;
        let first = u32::from_le_bytes(e[20..24].try_into().ok()?) as u64;
        let len = u64::from_le_bytes(e[24..32].try_into().ok()?).min(self.t.clusters.div_ceil(8));
        let runs = self.t.contiguous(first, len).ok()?.truncated(len);
        super::read_runs(&*self.t.dev, &runs).ok()
    }

    /// The clusters the allocation bitmap marks free, as byte runs.
    pub fn unallocated(&self) -> Runs {
        let mut r = Runs::default();
        for k in 0..self.t.clusters {
            if !super::bit(&self.bitmap, k) {
                r.push(Some(self.t.heap + k * self.t.cluster), self.t.cluster);
            }
        }
        r
    }

    pub fn walk(&self, each: &mut Visit) -> super::super::Walk {
        let root = self.t.chain(self.root, None);
        self.t.walk(root, &|b, r| self.entries(b, r), each)
    }

    /// The files and directories of a directory's bytes: each in-use file entry with its
    /// stream extension and name (bitmap, up-case table and label entries are not files).
    fn entries(&self, bytes: &[u8], runs: &Runs) -> Vec<Dirent> {
        let slots: Vec<&[u8]> = bytes.chunks_exact(32).collect();
        let mut out = vec![];
        let mut i = 0;
        while i < slots.len() {
            let e = slots[i];
            if e[0] == 0 {
                break;
            }
            // 0x85: a file entry; 0x05: one a deleted file left (in-use bit cleared).
            if e[0] & 0x7f != 0x05 {
                i += 1;
                continue;
            }
            let secondary = e[1] as usize;
            let set = &slots[i + 1..(i + 1 + secondary).min(slots.len())];
            if let Some(d) = self.file(e, set, self.t.inode_of(runs, i as u64 * 32)) {
                out.push(d);
            }
            i += 1 + secondary;
        }
        out
    }

    /// One entry set: the file entry `e` and its secondary entries.
    fn file(&self, e: &[u8], set: &[&[u8]], inode: u64) -> Option<Dirent> {
        let deleted = e[0] & 0x80 == 0;
        let stream = set.first().filter(|s| s[0] & 0x7f == 0x40)?;
        let name_len = stream[3] as usize;
        let units: Vec<u16> = set[1..]
            .iter()
            .take_while(|s| s[0] & 0x7f == 0x41)
            .flat_map(|s| {
                s[2..32]
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
            })
            .take(name_len)
            .collect();
        let u32_at =
            |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap()) as u64;
        let u64_at = |b: &[u8], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        let dir = u16::from_le_bytes([e[4], e[5]]) & 0x10 != 0;
        let (first, size, valid) = (u32_at(stream, 20), u64_at(stream, 24), u64_at(stream, 8));
        let no_chain = stream[1] & 0x2 != 0;
        let data = match (size, no_chain) {
            (0, _) => Ok(Runs::default()),
            (_, true) => self.t.contiguous(first, size),
            (_, false) => self.t.chain(first, Some(size)),
        };
        // Past the valid length, a file reads as zeros (the spec's rule).
        let data = data.map(|r| zero_past(r, valid.min(size), size));
        // Deleted folders are not followed (their clusters may hold anything now).
        if deleted && dir {
            return None;
        }
        let (data, warning) = match deleted {
            true => self.judge_deleted(data),
            false => (data, None),
        };
        Some(Dirent {
            deleted,
            warning,
            name: String::from_utf16_lossy(&units).into_bytes(),
            dir,
            first,
            data,
            size,
            inode,
            times: Times {
                modified: stamp(u32_at(e, 12) as u32, e[21], e[23]),
                accessed: stamp(u32_at(e, 16) as u32, 0, e[24]),
                changed: None,
                created: stamp(u32_at(e, 8) as u32, e[20], e[22]),
                zone: (e[23] & 0x80 == 0)
                    .then_some("none: exFAT stores local time here; read as UTC"),
            },
        })
    }
}

impl ExFat {
    /// How far a deleted file's bytes are its own: read where its entry says (its chain,
    /// or its clusters in a row); clusters the allocation bitmap gives to a live file now
    /// are someone else's (all of them: its data is gone; some: a warning).
    fn judge_deleted(&self, data: Result<Runs, String>) -> (Result<Runs, String>, Option<String>) {
        let runs = match data {
            Ok(r) => r,
            Err(why) => return (Err(format!("deleted; {why}")), None),
        };
        let (mut all, mut taken) = (0u64, 0u64);
        for &(at, len) in &runs.runs {
            let Some(at) = at else { continue };
            let first = (at - self.t.heap) / self.t.cluster;
            for k in first..first + len.div_ceil(self.t.cluster) {
                all += 1;
                taken += u64::from(super::bit(&self.bitmap, k));
            }
        }
        super::deleted_verdict(runs, all, taken)
    }
}

/// `runs` of `size` bytes whose bytes past `valid` are holes.
fn zero_past(runs: Runs, valid: u64, size: u64) -> Runs {
    if valid >= size {
        return runs;
    }
    let mut r = runs.truncated(valid);
    r.push(None, size - valid);
    r
}

/// An exFAT timestamp (DOS fields), its 10 ms increment and its UTC offset byte (bit 7:
/// valid; then signed quarter hours), as seconds since 1970 UTC.
fn stamp(t: u32, tens: u8, offset: u8) -> Option<f64> {
    let local = super::super::dos_seconds((t >> 16) as u16, t as u16)?;
    let zone = match offset & 0x80 != 0 {
        true => (((offset << 1) as i8) >> 1) as f64 * 900.0,
        false => 0.0,
    };
    Some(local + tens as f64 / 100.0 - zone)
}
