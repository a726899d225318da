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

mod lznt1;
mod mft;

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
            if !super::bit(&bitmap, c) {
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
                taken += u64::from(super::bit(bitmap, c));
            }
        }
        let (data, warning) = super::deleted_verdict(runs.clone(), all, taken);
        f.data = data;
        f.warning = warning;
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
