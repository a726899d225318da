//! MFT records: read with their fixups, their attributes parsed (names, times, data in the
//! record or in runs, attribute lists naming extension records).

use super::{Ntfs, Record, Stream, StreamData};
use crate::sources::container::disk::Times;
use crate::sources::container::disk::device::{Runs, bytes_at};

impl Ntfs {
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
    pub(super) fn record(&self, i: u64) -> Result<Record, String> {
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
        super::super::read_runs(&*self.dev, &runs).ok()
    }
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
}
