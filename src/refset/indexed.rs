//! Adding, rebuilding or dropping a set's multi-index (`index.rs`): the set is checked in
//! full, then written again beside itself with the new index and renamed into place
//! (readers map sets that are replaced by rename). Its identity, the checksum of the set
//! without an index, is carried over unchanged.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use super::format::{self, FLAG_INDEX, HEADER_LEN, Header};
use super::index::{self, Plan};
use super::{RefSet, RefSetError};

/// What the index step did.
#[derive(Debug, Clone)]
pub struct Indexed {
    /// The index written (`None`: the set has none now).
    pub plan: Option<Plan>,
    /// Why there is none, when there is none.
    pub why_not: Option<String>,
}

/// Which index to write.
#[derive(Debug, Clone, Copy)]
pub enum Want {
    /// The one the cost model chooses, if any pays (what `refs build`, `merge` and
    /// `random` write).
    IfItPays,
    /// The best one that fits the size rule, however small the set (`refs index`).
    Always,
    /// None: remove an index the set has.
    Drop,
}

/// The header and bytes of a set as it is without an index: what its identity is the
/// checksum of.
fn body(set: &RefSet) -> (Header, &[u8]) {
    let mut h = *set.header();
    let end = if h.has(FLAG_INDEX) {
        h.body_len
    } else {
        h.file_len
    };
    h.flags &= !FLAG_INDEX;
    h.index_offset = 0;
    h.index_len = 0;
    h.body_len = 0;
    h.content_checksum = [0; 32];
    h.checksum = [0; 32];
    h.file_len = end;
    (h, &set.map()[HEADER_LEN..end as usize])
}

/// The checksum of the set without its index; for a set that never had one, its stored
/// checksum.
pub fn content_checksum(set: &RefSet) -> [u8; 32] {
    let (h, rest) = body(set);
    let mut hasher = blake3::Hasher::new();
    hasher.update(bytemuck::bytes_of(&h));
    hasher.update_rayon(rest);
    *hasher.finalize().as_bytes()
}

/// Check `path` in full, then write it again with the index `want` says. A set whose
/// index is already what would be written is left as it is.
pub fn reindex(path: &Path, want: Want, served: Option<u32>) -> Result<Indexed, RefSetError> {
    let set = RefSet::open(path)?;
    set.verify()?;
    let algo = set.algo();
    let (bits, n) = (algo.bits() as u32, set.len() as u64);
    let served = served.unwrap_or_else(|| index::default_served(bits));
    let (plan, why_not) = match want {
        _ if algo.is_digest() => (None, Some("digest sets are searched exactly".into())),
        Want::Drop => (None, Some("dropped".into())),
        Want::IfItPays => match Plan::choose(bits, n, served) {
            Some(p) => (Some(p), None),
            None => (None, Some(too_small(n))),
        },
        Want::Always => match Plan::best(bits, n, served) {
            Some(p) => (Some(p), None),
            None => (None, Some(too_small(n))),
        },
    };
    let current = set.index().map(|i| i.table_shapes());
    if current.as_ref() == plan.as_ref().map(|p| &p.tables) {
        return Ok(Indexed { plan, why_not });
    }
    write(path, &set, plan.as_ref()).map_err(|cause| RefSetError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    Ok(Indexed { plan, why_not })
}

fn too_small(n: u64) -> String {
    format!(
        "{n} entries: a sweep costs about as little (an index is written from {} entries, when the cost model says a query through it costs under a quarter of a sweep)",
        index::MIN_COUNT
    )
}

/// The set's header and sections, then the index (if any), through a new file renamed
/// over the old.
fn write(path: &Path, set: &RefSet, plan: Option<&Plan>) -> std::io::Result<()> {
    let (plain, rest) = body(set);
    let mut h = plain;
    if let Some(p) = plan {
        h.flags |= FLAG_INDEX;
        h.body_len = plain.file_len;
        h.index_offset = format::align_up(plain.file_len);
        h.index_len = p.section_len();
        h.file_len = h.index_offset + h.index_len;
        h.content_checksum = content_checksum(set);
    }
    crate::durable::replace(path, |file| {
        let mut hasher = blake3::Hasher::new();
        let mut out = std::io::BufWriter::with_capacity(1 << 20, &mut *file);
        out.write_all(bytemuck::bytes_of(&h))?;
        hasher.update(bytemuck::bytes_of(&h));
        out.write_all(rest)?;
        hasher.update_rayon(rest);
        if let Some(p) = plan {
            let pad = vec![0u8; (h.index_offset - plain.file_len) as usize];
            out.write_all(&pad)?;
            hasher.update(&pad);
            p.write(set.words(), set.algo().words(), &mut |b| {
                hasher.update_rayon(b);
                out.write_all(b)
            })?;
        }
        out.flush()?;
        drop(out);
        h.checksum = *hasher.finalize().as_bytes();
        file.seek(SeekFrom::Start(
            std::mem::offset_of!(Header, checksum) as u64
        ))?;
        file.write_all(&h.checksum)
    })
}
