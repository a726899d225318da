//! ext2, ext3 and ext4, read directly: the superblock and group descriptors, inodes by
//! number, file data by extent tree (ext4) or block map (ext2/3), directories read block by
//! block (an htree's index blocks hold no live entries, so reading every block in order
//! finds every name). Entry numbers are inode numbers, as `fls` prints them; times are
//! the inode's, UTC with nanoseconds where the inode is large enough to hold them.

use std::collections::HashSet;

use super::device::{Dev, Runs, bytes_at};
use super::{FsFile, FsKind, Times, Visit};

const MAGIC: u16 = 0xef53;
const ROOT: u64 = 2;
const MAX_DEPTH: usize = 256;
/// Extent tree levels at most (ext4 allows 5).
const MAX_EXTENT_DEPTH: u16 = 5;
/// A file larger than this is not a file of any disk we meet: its inode is damaged.
const MAX_FILE: u64 = 1 << 44;

const INCOMPAT_FILETYPE: u32 = 0x2;
const INCOMPAT_META_BG: u32 = 0x10;
const INCOMPAT_64BIT: u32 = 0x80;
const INCOMPAT_ENCRYPT: u32 = 0x10000;
const FLAG_EXTENTS: u32 = 0x80000;
const FLAG_INLINE: u32 = 0x1000_0000;

/// Whether the bytes from the start of a volume hold an ext superblock (at 1024).
pub fn detect(head: &[u8]) -> bool {
    head.get(1080..1082) == Some(&MAGIC.to_le_bytes())
}

pub struct Ext {
    dev: Dev,
    block: u64,
    blocks: u64,
    inodes: u64,
    inodes_per_group: u64,
    inode_size: u64,
    /// Inode table of each group, as a byte offset.
    tables: Vec<u64>,
    /// Block bitmap of each group, as a byte offset (`None`: not initialised, all free).
    bitmaps: Vec<Option<u64>>,
    blocks_per_group: u64,
    first_data_block: u64,
    filetype: bool,
    name: &'static str,
}

struct Inode {
    at: u64,
    mode: u16,
    size: u64,
    flags: u32,
    block: [u8; 60],
    times: Times,
}

impl Ext {
    pub fn open(dev: Dev) -> Result<Ext, String> {
        let sb = bytes_at(&*dev, 1024, 1024).map_err(|e| format!("superblock unreadable: {e}"))?;
        let u32_at = |i: usize| u32::from_le_bytes(sb[i..i + 4].try_into().unwrap());
        let u16_at = |i: usize| u16::from_le_bytes([sb[i], sb[i + 1]]);
        if u16_at(56) != MAGIC {
            return Err("no ext superblock".into());
        }
        let log = u32_at(24);
        if log > 6 {
            return Err(format!("block size 1024 << {log}: not an ext filesystem"));
        }
        let block = 1024u64 << log;
        let incompat = u32_at(96);
        if incompat & INCOMPAT_META_BG != 0 {
            return Err("ext with meta_bg group descriptors: not read yet".into());
        }
        let wide = incompat & INCOMPAT_64BIT != 0;
        let mut blocks = u32_at(4) as u64;
        if wide {
            blocks |= (u32_at(0x150) as u64) << 32;
        }
        let inodes_per_group = u32_at(40) as u64;
        let blocks_per_group = u32_at(32) as u64;
        let inode_size = match u32_at(76) {
            0 => 128,
            _ => u16_at(88) as u64,
        };
        if inodes_per_group == 0 || blocks_per_group == 0 || !(128..=block).contains(&inode_size) {
            return Err("ext superblock with impossible geometry".into());
        }
        let groups = (blocks - u32_at(20) as u64).div_ceil(blocks_per_group);
        let desc = if wide {
            u16_at(0xfe).max(32) as u64
        } else {
            32
        };
        let table_at = (u32_at(20) as u64 + 1) * block;
        let len = groups.checked_mul(desc).filter(|&l| l <= 256 << 20);
        let len = len.ok_or("ext with an impossible number of groups")?;
        let gd = bytes_at(&*dev, table_at, len as usize)
            .map_err(|e| format!("group descriptors unreadable: {e}"))?;
        // A group descriptor's block address: its low word at `lo`, its high one at `hi`
        // in 64-byte descriptors.
        let address = |d: &[u8], lo: usize, hi: usize| {
            let low = u32::from_le_bytes(d[lo..lo + 4].try_into().unwrap()) as u64;
            let high = match desc >= 64 {
                true => u32::from_le_bytes(d[hi..hi + 4].try_into().unwrap()) as u64,
                false => 0,
            };
            (high << 32 | low) * block
        };
        let tables = gd
            .chunks_exact(desc as usize)
            .map(|d| address(d, 8, 40))
            .collect();
        const BLOCK_UNINIT: u16 = 0x2;
        let bitmaps = gd
            .chunks_exact(desc as usize)
            .map(|d| {
                let uninit = u16::from_le_bytes([d[18], d[19]]) & BLOCK_UNINIT != 0;
                (!uninit).then(|| address(d, 0, 32))
            })
            .collect();
        let name = match (incompat & 0x40 != 0, u32_at(92) & 0x4 != 0) {
            (true, _) => "ext4",
            (false, true) => "ext3",
            _ => "ext2",
        };
        if incompat & INCOMPAT_ENCRYPT != 0 {
            // Names and data of encrypted folders are unreadable; the rest is read.
        }
        Ok(Ext {
            dev,
            block,
            blocks,
            inodes: u32_at(0) as u64,
            inodes_per_group,
            inode_size,
            tables,
            bitmaps,
            blocks_per_group,
            first_data_block: u32_at(20) as u64,
            filetype: incompat & INCOMPAT_FILETYPE != 0,
            name,
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    fn inode(&self, n: u64) -> Result<Inode, String> {
        if n == 0 || n > self.inodes {
            return Err(format!(
                "inode {n} is outside the table (1..={})",
                self.inodes
            ));
        }
        let group = ((n - 1) / self.inodes_per_group) as usize;
        let at = self
            .tables
            .get(group)
            .ok_or(format!("inode {n}: no group {group}"))?
            + ((n - 1) % self.inodes_per_group) * self.inode_size;
        let b = bytes_at(&*self.dev, at, self.inode_size as usize)
            .map_err(|e| format!("inode {n} unreadable: {e}"))?;
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        let extra = match self.inode_size > 128 {
            true => u16::from_le_bytes([b[128], b[129]]) as usize,
            false => 0,
        };
        // A time and its `_extra` word (epoch bits, nanoseconds), when the inode has room.
        let time = |lo: usize, hi: usize| -> Option<f64> {
            let secs = u32_at(lo) as i32 as i64;
            if secs == 0 && (hi == 0 || 128 + extra < hi + 4) {
                return None;
            }
            let (epoch, nanos) = match hi != 0 && 128 + extra >= hi + 4 {
                true => {
                    let x = u32_at(hi);
                    ((x & 3) as i64, (x >> 2) as f64)
                }
                false => (0, 0.0),
            };
            Some((secs + (epoch << 32)) as f64 + nanos / 1e9)
        };
        Ok(Inode {
            at,
            mode: u16::from_le_bytes([b[0], b[1]]),
            size: u32_at(4) as u64 | (u32_at(108) as u64) << 32,
            flags: u32_at(32),
            block: b[40..100].try_into().unwrap(),
            times: Times {
                modified: time(16, 136),
                accessed: time(8, 140),
                changed: time(12, 132),
                created: match extra >= 24 {
                    true => time(144, 148),
                    false => None,
                },
                zone: None,
            },
        })
    }

    /// Where an inode's bytes lie, up to its size.
    fn runs(&self, n: u64, ino: &Inode) -> Result<Runs, String> {
        if ino.size > MAX_FILE {
            return Err(format!(
                "inode {n} says {} bytes: not a real size",
                ino.size
            ));
        }
        if ino.flags & FLAG_INLINE != 0 {
            if ino.size > 60 {
                return Err(format!(
                    "inode {n}: inline data past the inode (in an extended attribute): not read yet"
                ));
            }
            let mut r = Runs::default();
            r.push(Some(ino.at + 40), ino.size);
            return Ok(r);
        }
        let blocks = ino.size.div_ceil(self.block);
        let mut map = vec![];
        if ino.flags & FLAG_EXTENTS != 0 {
            let mut budget = 1 << 20;
            self.extents(&ino.block, 0, blocks, &mut map, &mut budget)?;
        } else {
            self.block_map(&ino.block, blocks, &mut map)?;
        }
        // Blocks in file order, holes where nothing is mapped.
        map.sort_unstable_by_key(|m| m.0);
        let mut r = Runs::default();
        let mut next = 0;
        for (logical, physical, len) in map {
            if logical < next || logical >= blocks {
                continue;
            }
            r.push(None, (logical - next) * self.block);
            let len = len.min(blocks - logical);
            match physical {
                Some(p) => {
                    if p + len > self.blocks {
                        return Err(format!(
                            "inode {n}: blocks {p}..{} lie outside the volume ({} blocks)",
                            p + len,
                            self.blocks
                        ));
                    }
                    r.push(Some(p * self.block), len * self.block);
                }
                None => r.push(None, len * self.block),
            }
            next = logical + len;
        }
        r.push(None, (blocks - next.min(blocks)) * self.block);
        Ok(r.truncated(ino.size))
    }

    /// The (logical, physical or unwritten, length) extents under an extent node.
    fn extents(
        &self,
        node: &[u8],
        depth_seen: u16,
        blocks: u64,
        out: &mut Vec<(u64, Option<u64>, u64)>,
        budget: &mut u32,
    ) -> Result<(), String> {
        let u16_at = |i: usize| u16::from_le_bytes([node[i], node[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes(node[i..i + 4].try_into().unwrap()) as u64;
        if node.len() < 12 || u16_at(0) != 0xf30a {
            return Err("extent header damaged".into());
        }
        let (entries, depth) = (u16_at(2) as usize, u16_at(6));
        if depth > MAX_EXTENT_DEPTH || depth_seen > MAX_EXTENT_DEPTH {
            return Err("extent tree deeper than ext4 allows".into());
        }
        if 12 + entries * 12 > node.len() {
            return Err("extent node holds more entries than fit".into());
        }
        for i in 0..entries {
            *budget = budget
                .checked_sub(1)
                .ok_or("extent tree too large: a loop")?;
            let e = 12 + i * 12;
            let logical = u32_at(e);
            if depth == 0 {
                let raw = u16_at(e + 4) as u64;
                let (len, unwritten) = match raw > 32768 {
                    true => (raw - 32768, true),
                    false => (raw, false),
                };
                let start = (u16_at(e + 6) as u64) << 32 | u32_at(e + 8);
                out.push((logical, (!unwritten).then_some(start), len));
            } else {
                if logical >= blocks {
                    continue;
                }
                let leaf = (u16_at(e + 8) as u64) << 32 | u32_at(e + 4);
                if leaf >= self.blocks {
                    return Err(format!("extent node at block {leaf}: outside the volume"));
                }
                let child = bytes_at(&*self.dev, leaf * self.block, self.block as usize)
                    .map_err(|e| format!("extent node unreadable: {e}"))?;
                self.extents(&child, depth_seen + 1, blocks, out, budget)?;
            }
        }
        Ok(())
    }

    /// ext2/3: twelve direct blocks, then single, double and triple indirect ones.
    fn block_map(
        &self,
        b: &[u8; 60],
        blocks: u64,
        out: &mut Vec<(u64, Option<u64>, u64)>,
    ) -> Result<(), String> {
        let ptr = |i: usize| u32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().unwrap()) as u64;
        let mut logical = 0;
        for i in 0..12 {
            if logical >= blocks {
                return Ok(());
            }
            if ptr(i) != 0 {
                out.push((logical, Some(ptr(i)), 1));
            }
            logical += 1;
        }
        for (level, i) in [(1, 12), (2, 13), (3, 14)] {
            if logical >= blocks {
                return Ok(());
            }
            self.indirect(ptr(i), level, &mut logical, blocks, out)?;
        }
        Ok(())
    }

    fn indirect(
        &self,
        at: u64,
        level: u32,
        logical: &mut u64,
        blocks: u64,
        out: &mut Vec<(u64, Option<u64>, u64)>,
    ) -> Result<(), String> {
        let per = self.block / 4;
        let span = per.pow(level);
        if at == 0 {
            *logical += span;
            return Ok(());
        }
        if at >= self.blocks {
            return Err(format!("indirect block {at}: outside the volume"));
        }
        let b = bytes_at(&*self.dev, at * self.block, self.block as usize)
            .map_err(|e| format!("indirect block unreadable: {e}"))?;
        for p in b.chunks_exact(4) {
            if *logical >= blocks {
                return Ok(());
            }
            let p = u32::from_le_bytes(p.try_into().unwrap()) as u64;
            if level == 1 {
                if p != 0 {
                    out.push((*logical, Some(p), 1));
                }
                *logical += 1;
            } else {
                self.indirect(p, level - 1, logical, blocks, out)?;
            }
        }
        Ok(())
    }

    /// The blocks no file holds, by the block bitmaps, as byte runs.
    pub fn unallocated(&self) -> Runs {
        let mut r = Runs::default();
        for (g, bitmap) in self.bitmaps.iter().enumerate() {
            let first = self.first_data_block + g as u64 * self.blocks_per_group;
            let n = self.blocks_per_group.min(self.blocks.saturating_sub(first));
            let bits = bitmap.and_then(|at| bytes_at(&*self.dev, at, self.block as usize).ok());
            for k in 0..n {
                let used = bits.as_ref().is_some_and(|b| {
                    b.get((k / 8) as usize)
                        .is_some_and(|x| x >> (k % 8) & 1 == 1)
                });
                if !used {
                    r.push(Some((first + k) * self.block), self.block);
                }
            }
        }
        r
    }

    /// Every file from the root, depth first, each handed to `each`.
    pub fn walk(&self, each: &mut Visit) -> super::super::Walk {
        let mut seen = HashSet::from([ROOT]);
        let mut stack = vec![(Vec::new(), ROOT, 0usize)];
        while let Some((path, n, depth)) = stack.pop() {
            let entries = match self.directory(n) {
                Ok(e) => e,
                Err(why) => {
                    each(super::dir_error(&path, n, why))?;
                    continue;
                }
            };
            let mut subdirs = vec![];
            for (name, child, kind) in entries {
                if name == b"." || name == b".." {
                    continue;
                }
                let full = [path.as_slice(), b"/", &name].concat();
                let ino = match self.inode(child) {
                    Ok(i) => i,
                    Err(why) => {
                        each(super::file_error(full, child, why))?;
                        continue;
                    }
                };
                let kind = match (ino.mode >> 12, kind) {
                    (0x4, _) => FsKind::Dir,
                    (0x8, _) => FsKind::File,
                    (0xa, _) => FsKind::Link,
                    (0, 2) => FsKind::Dir,
                    _ => FsKind::Other,
                };
                if kind == FsKind::Dir {
                    if depth >= MAX_DEPTH {
                        let why = format!("directory nested over {MAX_DEPTH} deep: not read");
                        each(super::dir_error(&full, child, why))?;
                    } else if !seen.insert(child) {
                        let why =
                            format!("directory inode {child} seen before: a loop, not read again");
                        each(super::dir_error(&full, child, why))?;
                    } else {
                        subdirs.push((full, child, depth + 1));
                    }
                    continue;
                }
                let data = match kind {
                    FsKind::File => self.runs(child, &ino),
                    _ => Ok(Runs::default()),
                };
                each(FsFile {
                    path: full,
                    kind,
                    data,
                    size: ino.size,
                    inode: child,
                    times: ino.times,
                    inline: None,
                    stream: None,
                    deleted: false,
                    warning: None,
                })?;
            }
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(())
    }

    /// A directory's live entries: (name, inode, file type from the entry).
    fn directory(&self, n: u64) -> Result<Vec<(Vec<u8>, u64, u8)>, String> {
        let ino = self.inode(n)?;
        if ino.mode >> 12 != 0x4 {
            return Err(format!("inode {n} is not a directory"));
        }
        if ino.flags & FLAG_INLINE != 0 {
            return Err(format!("directory inode {n} has inline data: not read yet"));
        }
        if ino.size > 1 << 30 {
            return Err(format!("directory inode {n} says {} bytes", ino.size));
        }
        let runs = self.runs(n, &ino)?;
        let bytes = super::read_runs(&*self.dev, &runs)?;
        let mut out = vec![];
        for block in bytes.chunks(self.block as usize) {
            let mut i = 0;
            while i + 8 <= block.len() {
                let inode = u32::from_le_bytes(block[i..i + 4].try_into().unwrap()) as u64;
                let rec = u16::from_le_bytes([block[i + 4], block[i + 5]]) as usize;
                let name_len = match self.filetype {
                    true => block[i + 6] as usize,
                    false => u16::from_le_bytes([block[i + 6], block[i + 7]]) as usize,
                };
                let kind = if self.filetype { block[i + 7] } else { 0 };
                if rec < 8 || i + rec > block.len() {
                    break;
                }
                if inode != 0 && name_len > 0 && i + 8 + name_len <= i + rec {
                    out.push((block[i + 8..i + 8 + name_len].to_vec(), inode, kind));
                }
                i += rec;
            }
        }
        Ok(out)
    }
}
