//! Carving (`--carve`): pictures found by their signatures in the bytes no file holds
//! (a volume's unallocated space, read as one stream as The Sleuth Kit's `blkls` writes
//! it; or a whole disk whose filesystem is not recognised), each followed through its own
//! structure to its end: JPEG markers and entropy-coded data to EOI, PNG chunks to IEND,
//! GIF blocks to the trailer, WebP's RIFF length. A carve ends at `MAX_CARVE` bytes; one
//! whose structure does not hold up is not a picture and not reported, one that holds up
//! but does not decode (a fragmented file) becomes an error record when it is hashed.

use memchr::memmem;

use super::device::{Dev, Runs};

/// A carved picture is at most this long (a camera JPEG is a few MiB).
pub const MAX_CARVE: u64 = 64 << 20;
/// Bytes scanned at once.
const WINDOW: usize = 4 << 20;

/// A picture found: where it starts in the stream, its length and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub at: u64,
    pub len: u64,
    pub ext: &'static str,
}

const SIGNATURES: [(&[u8], &str); 5] = [
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"RIFF", "webp"),
];

/// The bytes of some runs of a volume as one stream, read at stream offsets.
pub struct Stream<'a> {
    pub dev: &'a Dev,
    pub runs: &'a Runs,
    /// Where each run starts in the stream.
    starts: Vec<u64>,
    pub len: u64,
}

impl<'a> Stream<'a> {
    pub fn new(dev: &'a Dev, runs: &'a Runs) -> Stream<'a> {
        let mut at = 0;
        let starts = runs
            .runs
            .iter()
            .map(|r| {
                let s = at;
                at += r.1;
                s
            })
            .collect();
        Stream {
            dev,
            runs,
            starts,
            len: at,
        }
    }

    /// The volume offset of stream offset `at`.
    pub fn volume_offset(&self, at: u64) -> u64 {
        let i = self.starts.partition_point(|&s| s <= at) - 1;
        self.runs.runs[i].0.unwrap_or(0) + (at - self.starts[i])
    }

    /// Up to `buf.len()` bytes from stream offset `at` (fewer only at the end).
    pub fn read(&self, mut at: u64, buf: &mut [u8]) -> usize {
        let mut done = 0;
        while done < buf.len() && at < self.len {
            let i = self.starts.partition_point(|&s| s <= at) - 1;
            let (start, len) = self.runs.runs[i];
            let within = at - self.starts[i];
            let n = (buf.len() - done).min((len - within) as usize);
            match start {
                Some(s) => match self.dev.read_at(s + within, &mut buf[done..done + n]) {
                    Ok(0) | Err(_) => return done,
                    Ok(got) => {
                        done += got;
                        at += got as u64;
                    }
                },
                None => {
                    buf[done..done + n].fill(0);
                    done += n;
                    at += n as u64;
                }
            }
        }
        done
    }

    pub fn bytes(&self, at: u64, len: u64) -> Vec<u8> {
        let mut b = vec![0u8; len as usize];
        let n = self.read(at, &mut b);
        b.truncate(n);
        b
    }
}

/// Every picture in the stream, in order; a picture's own bytes are not searched again.
pub fn carve(s: &Stream, each: &mut dyn FnMut(Found) -> bool) {
    let finders: Vec<(memmem::Finder, &str)> = SIGNATURES
        .iter()
        .map(|(sig, ext)| (memmem::Finder::new(sig), *ext))
        .collect();
    let mut buf = vec![0u8; WINDOW + 16];
    let mut base = 0u64;
    while base < s.len {
        let n = s.read(base, &mut buf);
        if n == 0 {
            return;
        }
        let mut hits: Vec<(usize, &str)> = finders
            .iter()
            .flat_map(|(f, ext)| f.find_iter(&buf[..n]).map(move |i| (i, *ext)))
            .filter(|&(i, _)| i < WINDOW.min(n))
            .collect();
        hits.sort_unstable();
        let mut skip_to = base;
        for (i, ext) in hits {
            let at = base + i as u64;
            if at < skip_to {
                continue;
            }
            if let Some(len) = end_of(s, at, ext) {
                if !each(Found { at, len, ext }) {
                    return;
                }
                skip_to = at + len;
            }
        }
        base = (base + WINDOW as u64).max(skip_to);
    }
}

/// The length of the picture of kind `ext` starting at `at`, if its structure holds.
fn end_of(s: &Stream, at: u64, ext: &str) -> Option<u64> {
    let mut r = Reader {
        s,
        pos: at,
        buf: vec![],
        buf_at: at,
    };
    let len = match ext {
        "jpg" => jpeg(&mut r),
        "png" => png(&mut r),
        "gif" => gif(&mut r),
        _ => webp(&mut r),
    }?;
    (len > 0 && len <= MAX_CARVE).then_some(len)
}

/// Sequential reading from the stream, a block at a time.
struct Reader<'a> {
    s: &'a Stream<'a>,
    pos: u64,
    buf: Vec<u8>,
    buf_at: u64,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let k = self.pos.checked_sub(self.buf_at)? as usize;
        if k >= self.buf.len() {
            self.buf = self.s.bytes(self.pos, 64 << 10);
            self.buf_at = self.pos;
            if self.buf.is_empty() {
                return None;
            }
            return self.byte();
        }
        self.pos += 1;
        Some(self.buf[k])
    }

    fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        (0..n).map(|_| self.byte()).collect()
    }

    fn skip(&mut self, n: u64) {
        self.pos += n;
    }

    fn u16_be(&mut self) -> Option<u64> {
        Some(u16::from_be_bytes([self.byte()?, self.byte()?]) as u64)
    }
}

fn jpeg(r: &mut Reader) -> Option<u64> {
    let start = r.pos;
    r.skip(2);
    loop {
        if r.pos - start > MAX_CARVE {
            return None;
        }
        if r.byte()? != 0xff {
            return None;
        }
        let mut m = r.byte()?;
        while m == 0xff {
            m = r.byte()?;
        }
        match m {
            0xd9 => return Some(r.pos - start),
            0x01 | 0xd0..=0xd7 => continue,
            0x00 | 0xd8 => return None,
            _ => {}
        }
        let len = r.u16_be()?;
        if len < 2 {
            return None;
        }
        r.skip(len - 2);
        if m != 0xda {
            continue;
        }
        // Entropy-coded data: to the next marker that is not a stuffed byte or a restart.
        loop {
            if r.pos - start > MAX_CARVE {
                return None;
            }
            if r.byte()? != 0xff {
                continue;
            }
            let mut n = r.byte()?;
            while n == 0xff {
                n = r.byte()?;
            }
            match n {
                0x00 | 0xd0..=0xd7 => continue,
                0xd9 => return Some(r.pos - start),
                _ => {
                    r.pos -= 2;
                    break;
                }
            }
        }
    }
}

fn png(r: &mut Reader) -> Option<u64> {
    let start = r.pos;
    r.skip(8);
    loop {
        let head = r.take(8)?;
        let len = u32::from_be_bytes(head[..4].try_into().ok()?) as u64;
        if !head[4..8].iter().all(u8::is_ascii_alphabetic) || len > MAX_CARVE {
            return None;
        }
        r.skip(len + 4);
        if &head[4..8] == b"IEND" {
            return Some(r.pos - start);
        }
        if r.pos - start > MAX_CARVE {
            return None;
        }
    }
}

fn gif(r: &mut Reader) -> Option<u64> {
    let start = r.pos;
    r.skip(6);
    let screen = r.take(7)?;
    if screen[4] & 0x80 != 0 {
        r.skip(3 << ((screen[4] & 7) + 1));
    }
    let sub_blocks = |r: &mut Reader| -> Option<()> {
        loop {
            let n = r.byte()? as u64;
            if n == 0 {
                return Some(());
            }
            r.skip(n);
            if r.pos - start > MAX_CARVE {
                return None;
            }
        }
    };
    loop {
        match r.byte()? {
            0x3b => return Some(r.pos - start),
            0x21 => {
                r.skip(1);
                sub_blocks(r)?;
            }
            0x2c => {
                let d = r.take(9)?;
                if d[8] & 0x80 != 0 {
                    r.skip(3 << ((d[8] & 7) + 1));
                }
                r.skip(1);
                sub_blocks(r)?;
            }
            _ => return None,
        }
    }
}

fn webp(r: &mut Reader) -> Option<u64> {
    let head = r.take(12)?;
    if &head[8..12] != b"WEBP" {
        return None;
    }
    let size = u32::from_le_bytes(head[4..8].try_into().ok()?) as u64;
    Some(8 + size + (size & 1))
}

#[cfg(test)]
mod tests {
    use super::super::device::Raw;
    use super::*;
    use crate::sources::container::Src;
    use std::sync::Arc;

    fn found(data: Vec<u8>) -> Vec<Found> {
        let dev: Dev = Arc::new(Raw::new(vec![Src::Bytes(Arc::new(data.clone()))]));
        let mut runs = Runs::default();
        runs.push(Some(0), data.len() as u64);
        let s = Stream::new(&dev, &runs);
        let mut out = vec![];
        carve(&s, &mut |f| {
            out.push(f);
            true
        });
        out
    }

    #[test]
    fn pictures_are_followed_to_their_ends_and_false_starts_are_dropped() {
        let mut d = vec![0u8; 100];
        d.extend(b"\xff\xd8\xff\xe0\x00\x04ab\xff\xda\x00\x02\x12\xff\x00\x34\xff\xd0\x56\xff\xd9");
        d.extend(vec![7u8; 50]);
        d.extend(b"\xff\xd8\xff\x00 not a jpeg");
        d.extend(
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00\x2c\0\0\0\0\x01\0\x01\0\0\x02\x02\x44\x01\0\x3b",
        );
        d.extend(b"RIFF\x04\x00\x00\x00WEBP");
        let f = found(d);
        let kinds: Vec<(&str, u64, u64)> = f.iter().map(|f| (f.ext, f.at, f.len)).collect();
        assert_eq!(
            kinds,
            vec![("jpg", 100, 21), ("gif", 186, 29), ("webp", 215, 12)]
        );
    }
}
