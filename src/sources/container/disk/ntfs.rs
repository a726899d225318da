//! NTFS, read directly: the boot sector's geometry, the MFT (itself a file, found by its own
//! record 0), every record in use read once with its fixups applied, paths put together
//! from each `$FILE_NAME`'s parent (every hard link a path of its own, DOS 8.3 aliases left
//! out), and each `$DATA` stream a file: the unnamed one is the file, a named one is its
//! alternate data stream (`file:stream`). Data is resident (in the record), in runs
//! (sparse runs read as zeros, bytes past the initialised size as zeros), or compressed
//! (LZNT1, decoded here); EFS-encrypted data is named, not read. Entry numbers are MFT
//! record numbers, as `fls` prints them; times are `$STANDARD_INFORMATION`'s, UTC.
//!
//! A deleted file is a record no longer in use that still holds its attributes: it is
//! named `/$deleted/N/<its old path>` (N its record number) and read where its record says
//! its bytes were, judged against the cluster bitmap (`judge_deleted`).

use std::collections::HashMap;

use super::device::{Dev, Runs, bytes_at};
use super::{FsFile, FsKind, Times, Visit};

/// Records read at most (an MFT of 64 Mi records is a 64 GiB MFT).
const MAX_RECORDS: u64 = 64 << 20;
/// Parents followed when putting a path together (a loop ends there).
const MAX_DEPTH: usize = 256;
/// A compressed file is decoded in memory up to this size.
const MAX_COMPRESSED: u64 = 1 << 30;
const ROOT: u64 = 5;

pub fn detect(head: &[u8]) -> bool {
    head.get(3..11) == Some(b"NTFS    ")
}

pub struct Ntfs {
    dev: Dev,
    cluster: u64,
    record_size: u64,
    mft: Runs,
}

/// What one record holds that a walk needs.
struct Record {
    /// False for a record a deleted file left.
    in_use: bool,
    dir: bool,
    names: Vec<(u64, Vec<u8>)>,
    streams: Vec<Stream>,
    times: Times,
}

/// One `$DATA` attribute (or its pieces across extension records).
struct Stream {
    name: Vec<u8>,
    size: u64,
    data: StreamData,
}

enum StreamData {
    /// The bytes themselves (read from the record after its fixups, never from the disk).
    Resident(Vec<u8>),
    Runs {
        runs: Runs,
        initialized: u64,
        compressed: bool,
        unit: u64,
    },
    Encrypted,
    /// Its run list could not be read: the file keeps its path and says why.
    Broken(String),
}

impl Ntfs {
    pub fn open(dev: Dev) -> Result<Ntfs, String> {
        let b = bytes_at(&*dev, 0, 512).map_err(|e| format!("boot sector unreadable: {e}"))?;
        if !detect(&b) {
            return Err("not an NTFS boot sector".into());
        }
        let bps = u16::from_le_bytes([b[11], b[12]]) as u64;
        let spc = match b[13] {
            n @ 0..=0x80 => n as u64,
            n => 1u64 << (256 - n as u32).min(31),
        };
        if !matches!(bps, 256..=4096) || spc == 0 || bps * spc > 1 << 21 {
            return Err(format!(
                "NTFS of {bps}-byte sectors, {spc} per cluster: impossible"
            ));
        }
        let cluster = bps * spc;
        let per = b[64] as i8;
        let record_size = match per {
            n if n < 0 => 1u64 << (-(n as i32)).min(16),
            n => n as u64 * cluster,
        };
        if !(512..=65536).contains(&record_size) {
            return Err(format!("MFT records of {record_size} bytes: impossible"));
        }
        let mft_lcn = u64::from_le_bytes(b[48..56].try_into().unwrap());
        let first = mft_lcn
            .checked_mul(cluster)
            .filter(|&at| at < dev.len())
            .ok_or(format!("MFT at cluster {mft_lcn}: outside the volume"))?;
        let mut n = Ntfs {
            dev,
            cluster,
            record_size,
            mft: Runs::default(),
        };
        n.mft.push(Some(first), record_size);
        // Record 0 is the MFT's own: its unnamed $DATA says where all of it lies.
        let rec0 = n.record(0).map_err(|e| format!("MFT record 0: {e}"))?;
        let data = rec0
            .streams
            .into_iter()
            .find(|s| s.name.is_empty())
            .ok_or("MFT record 0 has no data")?;
        match data.data {
            StreamData::Runs { runs, .. } => n.mft = runs.truncated(data.size),
            _ => return Err("MFT record 0's data is not in runs".into()),
        }
        Ok(n)
    }

    /// The raw bytes of record `i`, fixups applied, and whether it is in use; `None` for a
    /// record that was never used.
    fn raw(&self, i: u64) -> Result<Option<(Vec<u8>, bool)>, String> {
        let mut at = i * self.record_size;
        let mut off = None;
        for &(start, len) in &self.mft.runs {
            if at < len {
                off = start.map(|s| s + at);
                break;
            }
            at -= len;
        }
        let off = off.ok_or(format!("record {i} lies past the MFT"))?;
        let mut r =
            bytes_at(&*self.dev, off, self.record_size as usize).map_err(|e| e.to_string())?;
        if &r[..4] != b"FILE" {
            return Ok(None);
        }
        let u16_at = |r: &[u8], k: usize| u16::from_le_bytes([r[k], r[k + 1]]) as usize;
        let in_use = u16_at(&r, 22) & 1 != 0;
        let (usa, count) = (u16_at(&r, 4), u16_at(&r, 6));
        if count == 0 || usa + count * 2 > r.len() || (count - 1) * 512 > r.len() {
            return Err(format!("record {i}: update sequence out of bounds"));
        }
        let usn = [r[usa], r[usa + 1]];
        for k in 1..count {
            let end = k * 512 - 2;
            if r[end..end + 2] != usn {
                return Err(format!(
                    "record {i}: sector {k} torn (update sequence differs)"
                ));
            }
            r[end] = r[usa + 2 * k];
            r[end + 1] = r[usa + 2 * k + 1];
        }
        Ok(Some((r, in_use)))
    }

    /// Record `i`, in use or left by a deleted file, its attributes read (those in
    /// extension records too).
    fn record(&self, i: u64) -> Result<Record, String> {
        let (r, in_use) = self.raw(i)?.ok_or(format!("record {i} never used"))?;
        let base = u64::from_le_bytes(r[32..40].try_into().unwrap()) & 0xffff_ffff_ffff;
        if base != 0 {
            return Err(format!("record {i} extends record {base}"));
        }
        let mut rec = Record {
            in_use,
            dir: u16::from_le_bytes([r[22], r[23]]) & 2 != 0,
            names: vec![],
            streams: vec![],
            times: Times::default(),
        };
        let mut list = vec![];
        self.attributes(i, &r, &mut rec, &mut list)?;
        // Attributes kept in extension records, named by the attribute list.
        let mut done = vec![i];
        for ext in list {
            if done.contains(&ext) || done.len() > 64 {
                continue;
            }
            done.push(ext);
            if let Ok(Some((x, _))) = self.raw(ext) {
                self.attributes(ext, &x, &mut rec, &mut vec![])?;
            }
        }
        Ok(rec)
    }

    /// Read the attributes of one record into `rec`; extension records named by an
    /// attribute list go to `list`.
    fn attributes(
        &self,
        i: u64,
        r: &[u8],
        rec: &mut Record,
        list: &mut Vec<u64>,
    ) -> Result<(), String> {
        let u16_at = |k: usize| u16::from_le_bytes([r[k], r[k + 1]]) as usize;
        let u32_at = |k: usize| u32::from_le_bytes(r[k..k + 4].try_into().unwrap()) as usize;
        let used = u32_at(24).min(r.len());
        let mut a = u16_at(20);
        while a + 16 <= used {
            let kind = u32_at(a);
            let len = u32_at(a + 4);
            if kind == 0xffff_ffff || len < 16 || a + len > used {
                break;
            }
            let resident = r[a + 8] == 0;
            let name_len = r[a + 9] as usize;
            let name_at = a + u16_at(a + 10);
            let flags = u16_at(a + 12);
            let name = utf16(r.get(name_at..name_at + 2 * name_len).unwrap_or_default());
            let value = match resident {
                true => {
                    let (vlen, voff) = (u32_at(a + 16), u16_at(a + 20));
                    r.get(a + voff..a + voff + vlen)
                }
                false => None,
            };
            match (kind, value) {
                (0x10, Some(v)) if v.len() >= 32 => {
                    let t =
                        |k: usize| filetime(u64::from_le_bytes(v[k..k + 8].try_into().unwrap()));
                    rec.times = Times {
                        created: t(0),
                        modified: t(8),
                        changed: t(16),
                        accessed: t(24),
                        zone: None,
                    };
                }
                (0x20, v) => {
                    let bytes = match v {
                        Some(v) => v.to_vec(),
                        None => self.nonresident(r, a).unwrap_or_default(),
                    };
                    list.extend(attribute_list(&bytes, i));
                }
                (0x30, Some(v)) if v.len() >= 66 => {
                    let parent = u64::from_le_bytes(v[..8].try_into().unwrap()) & 0xffff_ffff_ffff;
                    let n = v[64] as usize;
                    // DOS-only aliases (namespace 2) are a second name for the same file.
                    if v[65] != 2 && v.len() >= 66 + 2 * n {
                        rec.names.push((parent, utf16(&v[66..66 + 2 * n])));
                    }
                }
                (0x80, Some(v)) => rec.streams.push(Stream {
                    name,
                    size: v.len() as u64,
                    data: StreamData::Resident(v.to_vec()),
                }),
                (0x80, None) => self.data_runs(r, a, flags, name, rec)?,
                _ => {}
            }
            a += len;
        }
        Ok(())
    }

    /// A non-resident `$DATA` attribute: a new stream, or the next piece (by VCN) of one
    /// started in another record.
    fn data_runs(
        &self,
        r: &[u8],
        a: usize,
        flags: usize,
        name: Vec<u8>,
        rec: &mut Record,
    ) -> Result<(), String> {
        let u64_at = |k: usize| u64::from_le_bytes(r[k..k + 8].try_into().unwrap());
        let start_vcn = u64_at(a + 16);
        let runs = match self.runlist(r, a) {
            Ok(runs) => runs,
            Err(why) => {
                let size = u64_at(a + 48);
                let data = StreamData::Broken(why);
                rec.streams.retain(|s| s.name != name);
                rec.streams.push(Stream { name, size, data });
                return Ok(());
            }
        };
        if let Some(s) = rec
            .streams
            .iter_mut()
            .find(|s| s.name == name && start_vcn > 0)
            && let StreamData::Runs { runs: have, .. } = &mut s.data
        {
            for (at, len) in runs.runs {
                have.push(at, len);
            }
            return Ok(());
        }
        let size = u64_at(a + 48);
        let data = match flags {
            f if f & 0x4000 != 0 => StreamData::Encrypted,
            f => StreamData::Runs {
                runs,
                initialized: u64_at(a + 56),
                compressed: f & 0x0001 != 0,
                unit: match u16::from_le_bytes([r[a + 34], r[a + 35]]) {
                    0 => 0,
                    u => self.cluster << u.min(8),
                },
            },
        };
        rec.streams.push(Stream { name, size, data });
        Ok(())
    }

    /// The runs of the non-resident attribute at `a`, as byte offsets on the volume.
    fn runlist(&self, r: &[u8], a: usize) -> Result<Runs, String> {
        let mut k = a + u16::from_le_bytes([r[a + 32], r[a + 33]]) as usize;
        let end = a + u32::from_le_bytes(r[a + 4..a + 8].try_into().unwrap()) as usize;
        let mut runs = Runs::default();
        let mut lcn: i64 = 0;
        let volume = self.dev.len() / self.cluster;
        while k < end && r[k] != 0 {
            let (ls, os) = ((r[k] & 0xf) as usize, (r[k] >> 4) as usize);
            if ls == 0 || ls > 8 || os > 8 || k + 1 + ls + os > end {
                return Err("run list damaged".into());
            }
            let len = le_uint(&r[k + 1..k + 1 + ls]);
            if os == 0 {
                runs.push(None, len.saturating_mul(self.cluster));
            } else {
                lcn += le_int(&r[k + 1 + ls..k + 1 + ls + os]);
                if lcn < 0 || lcn as u64 + len > volume {
                    return Err(format!(
                        "run of {len} clusters at cluster {lcn}: outside the volume ({volume} clusters)"
                    ));
                }
                runs.push(Some(lcn as u64 * self.cluster), len * self.cluster);
            }
            k += 1 + ls + os;
        }
        Ok(runs)
    }

    /// A non-resident attribute's bytes, small (an attribute list).
    fn nonresident(&self, r: &[u8], a: usize) -> Option<Vec<u8>> {
        let size = u64::from_le_bytes(r[a + 48..a + 56].try_into().unwrap());
        let runs = self.runlist(r, a).ok()?.truncated(size.min(1 << 20));
        super::read_runs(&*self.dev, &runs).ok()
    }

    /// Every file and stream, by path, each handed to `each`: records in use read in
    /// order, then paths put together from the parents.
    pub fn walk(&self, each: &mut Visit) -> super::super::Walk {
        let count = (self.mft.total() / self.record_size).min(MAX_RECORDS);
        let mut records: HashMap<u64, Record> = HashMap::new();
        let mut broken = vec![];
        for i in 0..count {
            match self.record(i) {
                Ok(r) => {
                    records.insert(i, r);
                }
                Err(why) if why.contains("never used") || why.contains("extends record") => {}
                Err(why) => broken.push((i, why)),
            }
        }
        let bitmap = self.bitmap(&records);
        let mut order: Vec<(Vec<u8>, u64)> = vec![];
        for (&i, r) in &records {
            if r.dir || i < 16 {
                continue;
            }
            for (parent, name) in &r.names {
                match (r.in_use, path_of(&records, *parent, name, r.in_use)) {
                    (true, Ok(p)) => order.push((p, i)),
                    (true, Err(why)) => {
                        broken.push((i, format!("{}: {why}", String::from_utf8_lossy(name))))
                    }
                    // A deleted file under `/$deleted/N`: its entry number keeps it apart
                    // from a live file, or another deleted one, of the same name.
                    (false, p) => {
                        let was = p.unwrap_or_else(|_| [b"/", name.as_slice()].concat());
                        order.push(([format!("/$deleted/{i}").as_bytes(), &was].concat(), i));
                    }
                }
            }
        }
        order.sort();
        for (path, i) in order {
            // `$Extend` and the other metadata files live in the root under `$` names.
            if path.starts_with(b"/$") && !path.starts_with(b"/$deleted/") {
                continue;
            }
            let r = &records[&i];
            let mut streams: Vec<&Stream> = r.streams.iter().collect();
            streams.sort_by(|a, b| a.name.cmp(&b.name));
            if !streams.iter().any(|s| s.name.is_empty()) {
                each(self.file(path.clone(), i, r, None))?;
            }
            for s in streams {
                let mut f = self.file(path.clone(), i, r, Some(s));
                f.stream = (!s.name.is_empty()).then(|| s.name.clone());
                if !r.in_use {
                    self.judge_deleted(&mut f, &bitmap);
                }
                each(f)?;
            }
        }
        for (i, why) in broken {
            each(super::file_error(
                format!("/$MFT record {i}").into_bytes(),
                i,
                why,
            ))?;
        }
        Ok(())
    }

    /// The clusters `$Bitmap` marks free, as byte runs.
    pub fn unallocated(&self) -> Runs {
        let mut records = HashMap::new();
        if let Ok(r) = self.record(6) {
            records.insert(6, r);
        }
        let bitmap = self.bitmap(&records);
        let mut r = Runs::default();
        for c in 0..self.dev.len() / self.cluster {
            let used = bitmap
                .get((c / 8) as usize)
                .is_some_and(|b| b >> (c % 8) & 1 == 1);
            if !used {
                r.push(Some(c * self.cluster), self.cluster);
            }
        }
        r
    }

    /// The volume's cluster bitmap (`$Bitmap`, record 6): which clusters files hold now.
    fn bitmap(&self, records: &HashMap<u64, Record>) -> Vec<u8> {
        let Some(r) = records.get(&6) else {
            return vec![];
        };
        let Some(s) = r.streams.iter().find(|s| s.name.is_empty()) else {
            return vec![];
        };
        match &s.data {
            StreamData::Runs { runs, .. } => {
                super::read_runs(&*self.dev, &runs.clone().truncated(s.size)).unwrap_or_default()
            }
            StreamData::Resident(b) => b.clone(),
            _ => vec![],
        }
    }

    /// How far a deleted file's bytes are its own: read where its record says they were;
    /// clusters that a live file holds now are someone else's. All of them: its data is
    /// gone (an error record); some: a warning. Data resident in its record is its own
    /// (no live file uses a record that is not in use).
    fn judge_deleted(&self, f: &mut FsFile, bitmap: &[u8]) {
        f.deleted = true;
        let Ok(runs) = &f.data else { return };
        let (mut all, mut taken) = (0u64, 0u64);
        for &(at, len) in &runs.runs {
            let Some(at) = at else { continue };
            for c in at / self.cluster..(at + len).div_ceil(self.cluster) {
                all += 1;
                let bit = bitmap
                    .get((c / 8) as usize)
                    .is_some_and(|b| b >> (c % 8) & 1 == 1);
                taken += u64::from(bit);
            }
        }
        if all > 0 && taken == all {
            f.data = Err(format!(
                "deleted; all {all} clusters it had now belong to other files: its data is gone"
            ));
        } else if taken > 0 {
            f.warning = Some(format!(
                "deleted_reallocated: {taken} of the {all} clusters it had now belong to other files; those bytes are not its own"
            ));
        }
    }

    fn file(&self, path: Vec<u8>, i: u64, r: &Record, s: Option<&Stream>) -> FsFile {
        let mut f = FsFile {
            path,
            kind: FsKind::File,
            data: Ok(Runs::default()),
            size: s.map_or(0, |s| s.size),
            inode: i,
            times: r.times,
            inline: None,
            stream: None,
            deleted: false,
            warning: None,
        };
        let Some(s) = s else { return f };
        match &s.data {
            StreamData::Encrypted => f.data = Err("encrypted (EFS): not decrypted".into()),
            StreamData::Broken(why) => f.data = Err(why.clone()),
            StreamData::Resident(b) => f.inline = Some(b.clone()),
            StreamData::Runs {
                runs,
                compressed: true,
                unit,
                ..
            } => match self.decompress(runs, *unit, s.size) {
                Ok(b) => f.inline = Some(b),
                Err(why) => f.data = Err(format!("compressed (LZNT1): {why}")),
            },
            StreamData::Runs {
                runs, initialized, ..
            } => {
                let valid = (*initialized).min(s.size);
                let mut r = runs.clone().truncated(valid);
                r.push(None, s.size - valid);
                f.data = Ok(r);
            }
        }
        f
    }

    /// A compressed stream decoded whole (LZNT1, one compression unit at a time).
    pub fn decompress(&self, runs: &Runs, unit: u64, size: u64) -> Result<Vec<u8>, String> {
        if unit == 0 {
            return Err("no compression unit".into());
        }
        if size > MAX_COMPRESSED {
            return Err(format!(
                "compressed file of {size} bytes: over the {MAX_COMPRESSED} decoded in memory"
            ));
        }
        let mut out = Vec::with_capacity(size as usize);
        let units = split_units(runs, unit);
        for u in units {
            let raw_len: u64 = u.runs.iter().filter(|r| r.0.is_some()).map(|r| r.1).sum();
            if raw_len == 0 {
                out.resize(out.len() + unit as usize, 0);
            } else if raw_len >= unit {
                out.extend(super::read_runs(&*self.dev, &u)?);
            } else {
                let stored = super::read_runs(&*self.dev, &u.truncated(raw_len))?;
                out.extend(lznt1(&stored, unit as usize)?);
            }
            if out.len() as u64 >= size {
                break;
            }
        }
        out.resize(size as usize, 0);
        Ok(out)
    }
}

/// A compressed stream's runs cut into compression units (allocated runs first: a unit
/// holds its compressed clusters, then a hole).
fn split_units(runs: &Runs, unit: u64) -> Vec<Runs> {
    let mut out = vec![];
    let mut cur = Runs::default();
    let mut fill = 0;
    for &(at, mut len) in &runs.runs {
        let mut pos = at;
        while len > 0 {
            let n = len.min(unit - fill);
            cur.push(pos, n);
            pos = pos.map(|p| p + n);
            len -= n;
            fill += n;
            if fill == unit {
                out.push(std::mem::take(&mut cur));
                fill = 0;
            }
        }
    }
    if fill > 0 {
        out.push(cur);
    }
    out
}

/// LZNT1: chunks of 4 KiB, each stored or compressed (flag bytes, literals and
/// back-references whose split between offset and length grows with the position).
pub fn lznt1(src: &[u8], max: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(max);
    let mut i = 0;
    while i + 2 <= src.len() && out.len() < max {
        let h = u16::from_le_bytes([src[i], src[i + 1]]);
        if h == 0 {
            break;
        }
        let len = (h & 0xfff) as usize + 1;
        let chunk = src
            .get(i + 2..i + 2 + len)
            .ok_or("LZNT1 chunk past the data")?;
        i += 2 + len;
        if h & 0x8000 == 0 {
            out.extend_from_slice(chunk);
            continue;
        }
        let start = out.len();
        let mut k = 0;
        while k < chunk.len() {
            let flags = chunk[k];
            k += 1;
            for bit in 0..8 {
                if k >= chunk.len() {
                    break;
                }
                if flags >> bit & 1 == 0 {
                    out.push(chunk[k]);
                    k += 1;
                    continue;
                }
                let t = u16::from_le_bytes([chunk[k], *chunk.get(k + 1).ok_or("LZNT1 token cut")?])
                    as usize;
                k += 2;
                let pos = out.len() - start;
                let mut shift = 12;
                let mut p = pos - 1;
                while p >= 0x10 {
                    shift -= 1;
                    p >>= 1;
                }
                let back = (t >> shift) + 1;
                let n = (t & ((1 << shift) - 1)) + 3;
                if back > pos {
                    return Err("LZNT1 reference before the chunk".into());
                }
                for _ in 0..n {
                    let b = out[out.len() - back];
                    out.push(b);
                }
            }
        }
    }
    out.truncate(max);
    Ok(out)
}

/// The path of `name` under directory record `parent`, from the root.
fn path_of(
    records: &HashMap<u64, Record>,
    mut parent: u64,
    name: &[u8],
    live: bool,
) -> Result<Vec<u8>, String> {
    let mut parts = vec![name.to_vec()];
    for _ in 0..MAX_DEPTH {
        if parent == ROOT {
            let mut p = vec![];
            for part in parts.iter().rev() {
                p.push(b'/');
                p.extend(part);
            }
            return Ok(p);
        }
        let r = records
            .get(&parent)
            .filter(|r| r.in_use || !live)
            .ok_or(format!("its folder (record {parent}) is not in use"))?;
        let (up, n) = r
            .names
            .first()
            .ok_or(format!("its folder (record {parent}) has no name"))?;
        parts.push(n.clone());
        parent = *up;
    }
    Err(format!("folders nested over {MAX_DEPTH} deep, or a loop"))
}

/// The extension records an attribute list names (other than `base`).
fn attribute_list(b: &[u8], base: u64) -> Vec<u64> {
    let mut out = vec![];
    let mut k = 0;
    while k + 26 <= b.len() {
        let len = u16::from_le_bytes([b[k + 4], b[k + 5]]) as usize;
        let rec = u64::from_le_bytes(b[k + 16..k + 24].try_into().unwrap()) & 0xffff_ffff_ffff;
        if rec != base && !out.contains(&rec) {
            out.push(rec);
        }
        if len == 0 {
            break;
        }
        k += len;
    }
    out
}

fn utf16(b: &[u8]) -> Vec<u8> {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units).into_bytes()
}

fn le_uint(b: &[u8]) -> u64 {
    b.iter().rev().fold(0, |v, &x| v << 8 | x as u64)
}

fn le_int(b: &[u8]) -> i64 {
    let v = le_uint(b) as i64;
    let bits = 8 * b.len() as u32;
    if bits < 64 && v >> (bits - 1) & 1 == 1 {
        v - (1 << bits)
    } else {
        v
    }
}

/// A Windows FILETIME (100 ns since 1601) as seconds since 1970.
fn filetime(t: u64) -> Option<f64> {
    (t != 0).then(|| t as f64 / 1e7 - 11_644_473_600.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_offsets_are_signed() {
        assert_eq!(le_int(&[0xff]), -1);
        assert_eq!(le_int(&[0x00, 0x80]), -32768);
        assert_eq!(le_int(&[0x10, 0x00]), 16);
        assert_eq!(le_uint(&[0x34, 0x12]), 0x1234);
    }

    #[test]
    fn lznt1_stored_and_compressed_chunks_decode() {
        // A stored chunk: header 0x3000 | (len - 1).
        let mut stored = vec![0x03, 0x30];
        stored.extend(b"abcd");
        assert_eq!(lznt1(&stored, 4096).unwrap(), b"abcd");
        // "abcabcabc": literals a b c, then a reference 3 back for 6 bytes.
        // At position 3 the offset takes 4 bits (12 - 8 = 4 for pos < 16): 12-bit length.
        let token: u16 = (2 << 12) | (6 - 3);
        let body = [
            0b0000_1000,
            b'a',
            b'b',
            b'c',
            token as u8,
            (token >> 8) as u8,
        ];
        let mut c = vec![];
        c.extend(((0x8000 | 0x3000) | (body.len() as u16 - 1)).to_le_bytes());
        c.extend(body);
        assert_eq!(lznt1(&c, 4096).unwrap(), b"abcabcabc");
    }
}
