//! EnCase images (EWF, `.E01`), read directly: segments found from the first one's name
//! (`.E01`, `.E02`, ... `.E99`, `.EAA`, ...), their sections walked, the chunk tables put
//! together, and each chunk inflated when read (by whichever worker reads it, so chunks are
//! decompressed in parallel). A chunk that fails its checksum is read as stored (or as
//! zeros when it will not inflate) and named by `damage` for the files it touches. The
//! media's MD5 and SHA-1, when the image stores them, are kept for `--verify-image`.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::super::Src;
use super::device::Device;

pub const SIGNATURE: &[u8; 8] = b"EVF\x09\x0d\x0a\xff\x00";
/// Segments followed at most (E01..E99, then EAA..EZZ and on: 14,971 in EnCase's scheme).
const MAX_SEGMENTS: usize = 15_000;
/// Sections read per segment at most (a loop in the `next` offsets ends there).
const MAX_SECTIONS: usize = 1 << 20;
/// Chunks kept inflated (directories and small files share chunks).
const CACHE: usize = 64;

/// The segment number a file's header says (1 for the first).
pub fn segment_number(head: &[u8]) -> Option<u16> {
    (head.len() >= 13 && head.starts_with(SIGNATURE))
        .then(|| u16::from_le_bytes([head[9], head[10]]))
}

struct Chunk {
    segment: usize,
    at: u64,
    stored: u64,
    compressed: bool,
}

/// Inflated chunks by number, and their numbers oldest first.
type Cache = (HashMap<usize, std::sync::Arc<Vec<u8>>>, Vec<usize>);

pub struct Ewf {
    segments: Vec<Src>,
    chunks: Vec<Chunk>,
    chunk_size: u64,
    len: u64,
    pub md5: Option<String>,
    pub sha1: Option<String>,
    cache: Mutex<Cache>,
    damaged: Mutex<BTreeSet<usize>>,
}

/// The names of the segments after `first` (`x.E01` -> `x.E02`, ...), as they exist.
pub fn segment_paths(first: &Path) -> Vec<PathBuf> {
    let mut out = vec![first.to_path_buf()];
    let Some(ext) = first.extension().and_then(|e| e.to_str()) else {
        return out;
    };
    if ext.len() != 3 || !ext[1..].eq_ignore_ascii_case("01") {
        return out;
    }
    let lower = ext.starts_with(|c: char| c.is_ascii_lowercase());
    for n in 2..MAX_SEGMENTS {
        let name = segment_ext(ext.as_bytes()[0], n, lower);
        let p = first.with_extension(name);
        if !p.is_file() {
            break;
        }
        out.push(p);
    }
    out
}

/// EnCase's segment extensions: E01..E99, then EAA..EZZ, FAA.. and on.
fn segment_ext(first: u8, n: usize, lower: bool) -> String {
    let s = if n < 100 {
        format!("{}{n:02}", first as char)
    } else {
        let k = n - 100;
        let (a, b, c) = (k / 676, (k / 26) % 26, k % 26);
        let lead = (first.to_ascii_uppercase() + a as u8) as char;
        format!(
            "{lead}{}{}",
            (b'A' + b as u8) as char,
            (b'A' + c as u8) as char
        )
    };
    if lower { s.to_ascii_lowercase() } else { s }
}

fn adler32(b: &[u8]) -> u32 {
    let (mut a, mut s) = (1u32, 0u32);
    for chunk in b.chunks(5552) {
        for &x in chunk {
            a += x as u32;
            s += a;
        }
        a %= 65521;
        s %= 65521;
    }
    s << 16 | a
}

fn read_at(src: &Src, at: u64, len: usize) -> Result<Vec<u8>, String> {
    let mut b = vec![0u8; len];
    let mut done = 0;
    while done < len {
        let pos = at.checked_add(done as u64).ok_or("offset past any file")?;
        let n = src
            .read_at(pos, &mut b[done..])
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("segment ends at byte {}", at + done as u64));
        }
        done += n;
    }
    Ok(b)
}

impl Ewf {
    /// Open the image whose segments are `segments` (in order); an error when the first
    /// cannot be read as EWF. A damaged later segment ends the chunk list there: what
    /// lies past it reads as missing.
    pub fn open(segments: Vec<Src>, _names: Vec<PathBuf>) -> Result<(Ewf, Vec<String>), String> {
        let mut chunks = vec![];
        let mut geometry = None;
        let mut problems = vec![];
        let (mut md5, mut sha1) = (None, None);
        for (i, seg) in segments.iter().enumerate() {
            let head = read_at(seg, 0, 13)?;
            if segment_number(&head) != Some(i as u16 + 1) {
                problems.push(format!(
                    "segment {} does not say it is segment {}: the image ends before it",
                    i + 1,
                    i + 1
                ));
                break;
            }
            let r = walk_segment(seg, i, &mut chunks, &mut geometry, &mut md5, &mut sha1);
            if let Err(why) = r {
                problems.push(format!("segment {}: {why}", i + 1));
                break;
            }
        }
        let (chunk_size, sectors, bps) = geometry.ok_or("no volume section: not an EWF image")?;
        let len = sectors.checked_mul(bps).ok_or(format!(
            "volume section says {sectors} sectors of {bps} bytes"
        ))?;
        let want = len.div_ceil(chunk_size);
        if (chunks.len() as u64) < want {
            problems.push(format!(
                "{} of its {want} chunks found: bytes past {} read as missing",
                chunks.len(),
                chunks.len() as u64 * chunk_size
            ));
        }
        let ewf = Ewf {
            segments,
            chunks,
            chunk_size,
            len,
            md5,
            sha1,
            cache: Mutex::new((HashMap::new(), vec![])),
            damaged: Mutex::new(BTreeSet::new()),
        };
        Ok((ewf, problems))
    }

    /// Chunk `i` inflated; damaged chunks are noted.
    fn chunk(&self, i: usize) -> std::io::Result<std::sync::Arc<Vec<u8>>> {
        if let Some(c) = self.cache.lock().unwrap().0.get(&i) {
            return Ok(c.clone());
        }
        let c = &self.chunks[i];
        let want = self.chunk_size.min(self.len - i as u64 * self.chunk_size) as usize;
        let stored = read_at(&self.segments[c.segment], c.at, c.stored as usize)
            .map_err(std::io::Error::other)?;
        let (data, ok) = match c.compressed {
            true => {
                let mut out = Vec::with_capacity(want);
                let z = flate2::read::ZlibDecoder::new(&stored[..]);
                // One byte past the chunk: the stream is read to its end, where zlib
                // checks its Adler-32.
                match z.take(want as u64 + 1).read_to_end(&mut out) {
                    Ok(_) if out.len() == want => (out, true),
                    _ => {
                        out.resize(want, 0);
                        (out, false)
                    }
                }
            }
            false => {
                let mut data = stored;
                let sum = data
                    .get(want..want + 4)
                    .map(|s| u32::from_le_bytes(s.try_into().unwrap()));
                data.truncate(want);
                data.resize(want, 0);
                // Older images store no checksum after the last chunk.
                let ok = sum.is_none_or(|s| s == adler32(&data));
                (data, ok)
            }
        };
        if !ok {
            self.damaged.lock().unwrap().insert(i);
        }
        let data = std::sync::Arc::new(data);
        let mut cache = self.cache.lock().unwrap();
        let (map, order) = &mut *cache;
        if order.len() >= CACHE {
            let old = order.remove(0);
            map.remove(&old);
        }
        map.insert(i, data.clone());
        order.push(i);
        Ok(data)
    }
}

impl Ewf {
    pub fn chunk_size(&self) -> u64 {
        self.chunk_size
    }
}

impl Device for Ewf {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        if off >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let i = (off / self.chunk_size) as usize;
        if i >= self.chunks.len() {
            return Err(std::io::Error::other(format!(
                "byte {off} lies in chunk {i}, past the {} chunks the image holds",
                self.chunks.len()
            )));
        }
        let c = self.chunk(i)?;
        let from = (off % self.chunk_size) as usize;
        let n = buf.len().min(c.len().saturating_sub(from));
        buf[..n].copy_from_slice(&c[from..from + n]);
        Ok(n)
    }

    fn damage(&self, off: u64, len: u64) -> Vec<String> {
        let first = (off / self.chunk_size) as usize;
        let last = ((off + len.max(1) - 1) / self.chunk_size) as usize;
        self.damaged
            .lock()
            .unwrap()
            .range(first..=last)
            .map(|&i| {
                format!(
                    "image_chunk_damaged: EWF chunk {i} (bytes {}..{} of the disk) failed its checksum; read as stored",
                    i as u64 * self.chunk_size,
                    (i as u64 + 1) * self.chunk_size
                )
            })
            .collect()
    }
}

/// The sections of one segment: chunk tables added to `chunks`, the geometry and hashes
/// noted where found.
fn walk_segment(
    seg: &Src,
    index: usize,
    chunks: &mut Vec<Chunk>,
    geometry: &mut Option<(u64, u64, u64)>,
    md5: &mut Option<String>,
    sha1: &mut Option<String>,
) -> Result<(), String> {
    let mut at = 13u64;
    let mut sectors_end: Option<u64> = None;
    for _ in 0..MAX_SECTIONS {
        let d = read_at(seg, at, 76)?;
        if adler32(&d[..72]) != u32::from_le_bytes(d[72..76].try_into().unwrap()) {
            return Err(format!("section at byte {at} fails its checksum"));
        }
        let kind: Vec<u8> = d[..16].iter().copied().take_while(|&b| b != 0).collect();
        let next = u64::from_le_bytes(d[16..24].try_into().unwrap());
        let size = u64::from_le_bytes(d[24..32].try_into().unwrap());
        let body = at.saturating_add(76);
        let end = at.saturating_add(size);
        match kind.as_slice() {
            b"volume" | b"disk" => {
                let v = read_at(seg, body, 24)?;
                let u32_at = |i: usize| u32::from_le_bytes(v[i..i + 4].try_into().unwrap()) as u64;
                let (spc, bps) = (u32_at(8), u32_at(12));
                let sectors = u64::from_le_bytes(v[16..24].try_into().unwrap());
                if spc == 0 || bps == 0 || spc * bps > 1 << 26 {
                    return Err(format!(
                        "volume section says {spc} sectors of {bps} bytes per chunk"
                    ));
                }
                *geometry = Some((spc * bps, sectors, bps));
            }
            b"sectors" => sectors_end = Some(end),
            b"table" => table(seg, index, body, end, sectors_end, chunks)?,
            b"hash" => *md5 = Some(crate::hash::hex(&read_at(seg, body, 16)?)),
            b"digest" => {
                let h = read_at(seg, body, 36)?;
                *md5 = Some(crate::hash::hex(&h[..16]));
                *sha1 = Some(crate::hash::hex(&h[16..36]));
            }
            b"done" | b"next" => return Ok(()),
            _ => {}
        }
        if next <= at {
            return Ok(());
        }
        at = next;
    }
    Err("more sections than any image holds: a loop".into())
}

/// One chunk table: offsets (relative to its base) with the compressed flag in the top bit.
fn table(
    seg: &Src,
    index: usize,
    body: u64,
    section_end: u64,
    sectors_end: Option<u64>,
    chunks: &mut Vec<Chunk>,
) -> Result<(), String> {
    let h = read_at(seg, body, 24)?;
    let n = u32::from_le_bytes(h[..4].try_into().unwrap()) as u64;
    let base = u64::from_le_bytes(h[8..16].try_into().unwrap());
    if n > (section_end.saturating_sub(body)) / 4 {
        return Err(format!(
            "chunk table says {n} entries, more than its section holds"
        ));
    }
    let raw = read_at(seg, body + 24, (n * 4) as usize)?;
    let offsets: Vec<(u64, bool)> = raw
        .chunks_exact(4)
        .map(|e| {
            let v = u32::from_le_bytes(e.try_into().unwrap());
            let at = base.checked_add((v & 0x7fff_ffff) as u64);
            at.map(|a| (a, v & 0x8000_0000 != 0))
                .ok_or(format!("chunk table base {base} past any file"))
        })
        .collect::<Result<_, String>>()?;
    // The last chunk ends where the chunk data ends: the sectors section (EnCase 6), or
    // this table's own section (older images keep the chunks after the table).
    let data_end = sectors_end.unwrap_or(section_end);
    for (k, &(at, compressed)) in offsets.iter().enumerate() {
        let end = offsets.get(k + 1).map_or(data_end, |n| n.0);
        if end <= at || end > seg.len() {
            return Err(format!(
                "chunk {} has no room (bytes {at}..{end})",
                chunks.len()
            ));
        }
        chunks.push(Chunk {
            segment: index,
            at,
            stored: end - at,
            compressed,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_run_from_e01_to_e99_then_eaa() {
        assert_eq!(segment_ext(b'E', 2, false), "E02");
        assert_eq!(segment_ext(b'E', 99, false), "E99");
        assert_eq!(segment_ext(b'E', 100, false), "EAA");
        assert_eq!(segment_ext(b'E', 101, true), "eab");
        assert_eq!(segment_ext(b'E', 100 + 26, false), "EBA");
    }

    #[test]
    fn sizes_and_offsets_no_image_holds_are_errors_not_overflows() {
        // Found by the `containers` fuzz target: a volume section of 2^64-ish bytes.
        let crash = include_bytes!(
            "../../../../fuzz/regressions/containers/crash-87a49beeea896424efb7a22ed8ffaefb57a56ad2"
        );
        let r = Ewf::open(
            vec![Src::Bytes(std::sync::Arc::new(crash.to_vec()))],
            vec![],
        );
        assert!(r.is_err_and(|e| e.contains("volume section says")));
    }

    #[test]
    fn adler32_is_zlibs() {
        assert_eq!(adler32(b"Wikipedia"), 0x11e60398);
    }
}
