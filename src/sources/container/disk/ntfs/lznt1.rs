//! NTFS compression: a stream in compression units (16 clusters, usually), each stored
//! whole, compressed in fewer clusters (LZNT1, decoded here), or a hole.

use super::{MAX_COMPRESSED, Ntfs};
use crate::sources::container::disk::device::Runs;

impl Ntfs {
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
                out.extend(super::super::read_runs(&*self.dev, &u)?);
            } else {
                let stored = super::super::read_runs(&*self.dev, &u.truncated(raw_len))?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
