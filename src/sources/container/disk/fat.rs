//! FAT12, FAT16 and FAT32, read directly: the boot sector's geometry, the first FAT held in
//! memory, directories followed from the root by their cluster chains, long names put
//! together from their entries. Entry numbers are The Sleuth Kit's (`fls`): the root is 2,
//! and the entry at slot `i` of directory sector `s` is `(s - first) * per_sector + i + 3`,
//! where `first` is the root directory's first sector (FAT12/16) or the data area's
//! (FAT32). FAT times are local times with no zone: read as if UTC, and said so.

use super::Times;
use super::Visit;
use super::clusters::{Dirent, Table, Width};
use super::device::{Dev, Runs, bytes_at};

/// FAT tables held in memory at most (a 2 TB FAT32 of 32 KiB clusters needs 256 MiB).
const MAX_FAT_BYTES: u64 = 512 << 20;

pub struct Fat {
    t: Table,
    /// FAT12/16: the fixed root directory (offset, bytes); FAT32: its first cluster.
    root: Root,
}

enum Root {
    Fixed(u64, u64),
    Cluster(u64),
}

/// Whether a volume's first sector is a FAT boot sector; its kind (`fat12`, ...) if so.
pub fn detect(s: &[u8]) -> Option<&'static str> {
    if s.len() < 512 || s[510..512] != [0x55, 0xaa] || !(s[0] == 0xeb || s[0] == 0xe9) {
        return None;
    }
    let g = Geometry::of(s)?;
    Some(match g.bits() {
        12 => "fat12",
        16 => "fat16",
        _ => "fat32",
    })
}

struct Geometry {
    bps: u64,
    spc: u64,
    reserved: u64,
    fats: u64,
    root_entries: u64,
    total: u64,
    fat_sectors: u64,
    root_cluster: u64,
}

impl Geometry {
    fn of(s: &[u8]) -> Option<Geometry> {
        let u16_at = |i: usize| u16::from_le_bytes([s[i], s[i + 1]]) as u64;
        let u32_at = |i: usize| u32::from_le_bytes(s[i..i + 4].try_into().unwrap()) as u64;
        let bps = u16_at(11);
        let spc = s[13] as u64;
        let g = Geometry {
            bps,
            spc,
            reserved: u16_at(14),
            fats: s[16] as u64,
            root_entries: u16_at(17),
            total: match u16_at(19) {
                0 => u32_at(32),
                n => n,
            },
            fat_sectors: match u16_at(22) {
                0 => u32_at(36),
                n => n,
            },
            root_cluster: u32_at(44),
        };
        let sane = matches!(bps, 512 | 1024 | 2048 | 4096)
            && spc.is_power_of_two()
            && spc <= 128
            && g.reserved >= 1
            && (1..=4).contains(&g.fats)
            && g.fat_sectors > 0
            && g.total > g.first_data_sector();
        sane.then_some(g)
    }

    fn root_sectors(&self) -> u64 {
        (self.root_entries * 32).div_ceil(self.bps)
    }

    fn first_data_sector(&self) -> u64 {
        self.reserved + self.fats * self.fat_sectors + self.root_sectors()
    }

    fn clusters(&self) -> u64 {
        (self.total - self.first_data_sector()) / self.spc
    }

    /// The FAT's width, from the count of clusters alone (as the specification says).
    fn bits(&self) -> u8 {
        match self.clusters() {
            n if n < 4085 => 12,
            n if n < 65525 => 16,
            _ => 32,
        }
    }
}

impl Fat {
    pub fn open(dev: Dev) -> Result<Fat, String> {
        let s = bytes_at(&*dev, 0, 512).map_err(|e| format!("boot sector unreadable: {e}"))?;
        let g = Geometry::of(&s).ok_or("not a FAT boot sector")?;
        let fat_bytes = g.fat_sectors * g.bps;
        if fat_bytes > MAX_FAT_BYTES {
            return Err(format!(
                "FAT of {fat_bytes} bytes: over the {MAX_FAT_BYTES} held in memory"
            ));
        }
        let fat = bytes_at(&*dev, g.reserved * g.bps, fat_bytes as usize)
            .map_err(|e| format!("FAT unreadable: {e}"))?;
        let width = match g.bits() {
            12 => Width::Fat12,
            16 => Width::Fat16,
            _ => Width::Fat32,
        };
        let root_start = (g.reserved + g.fats * g.fat_sectors) * g.bps;
        let (root, first_dentry_sector) = match width {
            Width::Fat32 => (Root::Cluster(g.root_cluster), g.first_data_sector()),
            _ => (
                Root::Fixed(root_start, g.root_sectors() * g.bps),
                g.reserved + g.fats * g.fat_sectors,
            ),
        };
        let t = Table {
            dev,
            width,
            sector: g.bps,
            cluster: g.bps * g.spc,
            heap: g.first_data_sector() * g.bps,
            clusters: g.clusters(),
            fat,
            first_dentry_sector,
        };
        Ok(Fat { t, root })
    }

    pub fn name(&self) -> &'static str {
        match self.t.width {
            Width::Fat12 => "fat12",
            Width::Fat16 => "fat16",
            _ => "fat32",
        }
    }

    pub fn unallocated(&self) -> Runs {
        self.t.unallocated()
    }

    /// Every file, depth first from the root, each handed to `each`.
    pub fn walk(&self, each: &mut Visit) -> super::super::Walk {
        let root = match self.root {
            Root::Fixed(at, len) => {
                let mut r = Runs::default();
                r.push(Some(at), len);
                Ok(r)
            }
            Root::Cluster(c) => self.t.chain(c, None),
        };
        self.t.walk(root, &|b, r| self.entries(b, r), each)
    }

    /// The live entries of a directory's bytes (deleted ones, volume labels, `.` and `..`
    /// left out), with their long names.
    fn entries(&self, bytes: &[u8], runs: &Runs) -> Vec<Dirent> {
        let mut out = vec![];
        let mut long: Vec<(u8, u8, [u16; 13])> = vec![];
        for (i, e) in bytes.chunks_exact(32).enumerate() {
            if e[0] == 0 {
                break;
            }
            let deleted = e[0] == 0xe5;
            let attr = e[11];
            if attr & 0x3f == 0x0f {
                long.push((e[0], e[13], lfn_chars(e)));
                continue;
            }
            let short = short_name(e);
            let lfn = std::mem::take(&mut long);
            // Deleted folders are not followed (their clusters may hold anything now).
            if attr & 0x08 != 0 || short == b"." || short == b".." || (deleted && attr & 0x10 != 0)
            {
                continue;
            }
            let name = match deleted {
                true => deleted_long_name(&lfn).unwrap_or(short),
                false => long_name(&lfn, checksum(&e[..11])).unwrap_or(short),
            };
            let u16_at = |k: usize| u16::from_le_bytes([e[k], e[k + 1]]);
            let mask = if self.t.width == Width::Fat32 {
                0x0fff_ffff
            } else {
                0xffff
            };
            let first = ((u16_at(20) as u64) << 16 | u16_at(26) as u64) & mask;
            let size = u32::from_le_bytes(e[28..32].try_into().unwrap()) as u64;
            let dir = attr & 0x10 != 0;
            let (data, warning) = match (dir, first, size) {
                (true, _, _) => (self.t.chain(first, None), None),
                (false, _, 0) => (Ok(Runs::default()), None),
                (false, 0, _) => (Err(format!("{size} bytes but no first cluster")), None),
                // Deleting frees the chain: the clusters are taken to follow in a row, as
                // The Sleuth Kit takes them.
                (false, c, _) if deleted => self.t.deleted(c, size),
                (false, c, _) => (self.t.chain(c, Some(size)), None),
            };
            out.push(Dirent {
                deleted,
                warning,
                name,
                dir,
                first,
                data,
                size,
                inode: self.t.inode_of(runs, i as u64 * 32),
                times: Times {
                    modified: fat_time(u16_at(24), u16_at(22), 0),
                    accessed: fat_time(u16_at(18), 0, 0),
                    changed: None,
                    created: fat_time(u16_at(16), u16_at(14), e[13]),
                    zone: Some("none: FAT stores local time; read as UTC"),
                },
            });
        }
        out
    }
}

/// An 8.3 name as stored, with the case flags Windows NT keeps in byte 12.
fn short_name(e: &[u8]) -> Vec<u8> {
    let mut base: Vec<u8> = e[..8].to_vec();
    match base[0] {
        0x05 => base[0] = 0xe5,
        // Deleting overwrote the first character: shown as `_`, as `fls` shows it.
        0xe5 => base[0] = b'_',
        _ => {}
    }
    let trim = |v: &mut Vec<u8>| {
        while v.last() == Some(&b' ') {
            v.pop();
        }
    };
    trim(&mut base);
    let mut ext = e[8..11].to_vec();
    trim(&mut ext);
    if e[12] & 0x08 != 0 {
        base.make_ascii_lowercase();
    }
    if e[12] & 0x10 != 0 {
        ext.make_ascii_lowercase();
    }
    if !ext.is_empty() {
        base.push(b'.');
        base.extend(ext);
    }
    base
}

fn lfn_chars(e: &[u8]) -> [u16; 13] {
    let mut out = [0u16; 13];
    let at = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
    for (o, &k) in out.iter_mut().zip(&at) {
        *o = u16::from_le_bytes([e[k], e[k + 1]]);
    }
    out
}

fn checksum(short: &[u8]) -> u8 {
    short
        .iter()
        .fold(0u8, |s, &b| s.rotate_right(1).wrapping_add(b))
}

/// A long name from its entries (stored last part first), if they are whole and belong to
/// the short entry with checksum `sum`; else the short name stands.
fn long_name(parts: &[(u8, u8, [u16; 13])], sum: u8) -> Option<Vec<u8>> {
    let n = parts.len();
    let first = parts.first()?;
    if first.0 & 0x40 == 0 || (first.0 & 0x1f) as usize != n {
        return None;
    }
    let whole = parts
        .iter()
        .enumerate()
        .all(|(i, (ord, s, _))| (ord & 0x1f) as usize == n - i && *s == sum);
    whole.then(|| joined(parts))
}

/// The characters of a long name's entries, last part first, up to its terminator.
fn joined(parts: &[(u8, u8, [u16; 13])]) -> Vec<u8> {
    let units: Vec<u16> = parts
        .iter()
        .rev()
        .flat_map(|(_, _, chars)| chars.iter().copied())
        .take_while(|&c| c != 0 && c != 0xffff)
        .collect();
    String::from_utf16_lossy(&units).into_bytes()
}

/// A deleted file's long name: its entries keep their characters and checksum, but their
/// order byte is overwritten, so they are taken in the order they lie (last part first).
fn deleted_long_name(parts: &[(u8, u8, [u16; 13])]) -> Option<Vec<u8>> {
    let sum = parts.first()?.1;
    parts.iter().all(|p| p.1 == sum).then(|| joined(parts))
}

/// A FAT date and time (local, no zone) as seconds, read as if UTC; `None` for zero.
fn fat_time(date: u16, time: u16, tenths: u8) -> Option<f64> {
    if date == 0 {
        return None;
    }
    let year = 1980 + (date >> 9) as i64;
    let month = ((date >> 5) & 0xf) as u32;
    let day = (date & 0x1f) as u32;
    let (h, m, s) = (
        (time >> 11) as u32,
        ((time >> 5) & 0x3f) as u32,
        ((time & 0x1f) * 2) as u32,
    );
    let secs = super::super::civil_seconds(year, month, day, h, m, s)?;
    Some(secs + tenths as f64 / 100.0)
}
