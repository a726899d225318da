//! The on-disk layout of a reference set (documented in docs/refset-format.md): a fixed
//! header, then sections at page-aligned offsets, so that the hash array can be memory-mapped
//! and handed to the GPU without reshaping.

use bytemuck::{Pod, Zeroable};

pub const MAGIC: [u8; 8] = *b"HSREFSET";
pub const VERSION: u32 = 1;
/// Every section starts on a multiple of this, so mapped slices are aligned for any word.
pub const SECTION_ALIGN: u64 = 4096;
pub const HEADER_LEN: usize = 256;

/// Which hash a set holds; the value is stored in the header. PDQ and pHash are matched
/// by Hamming distance; the file digests (MD5, SHA-1, SHA-256) only exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Algo {
    Pdq = 1,
    Phash = 2,
    Md5 = 3,
    Sha1 = 4,
    Sha256 = 5,
}

impl Algo {
    /// Bits each entry takes in the hash array: whole 64-bit words, so SHA-1's 160 bits
    /// are stored as 192 (its 20 bytes, then 4 zero bytes).
    pub fn bits(self) -> usize {
        match self {
            Algo::Pdq | Algo::Sha256 => 256,
            Algo::Phash => 64,
            Algo::Md5 => 128,
            Algo::Sha1 => 192,
        }
    }

    /// 64-bit words per hash.
    pub fn words(self) -> usize {
        self.bits() / 64
    }

    /// A file digest, matched only exactly: its length in bytes.
    pub fn digest_bytes(self) -> Option<usize> {
        match self {
            Algo::Md5 => Some(16),
            Algo::Sha1 => Some(20),
            Algo::Sha256 => Some(32),
            Algo::Pdq | Algo::Phash => None,
        }
    }

    pub fn is_digest(self) -> bool {
        self.digest_bytes().is_some()
    }

    pub fn from_code(c: u32) -> Option<Algo> {
        match c {
            1 => Some(Algo::Pdq),
            2 => Some(Algo::Phash),
            3 => Some(Algo::Md5),
            4 => Some(Algo::Sha1),
            5 => Some(Algo::Sha256),
            _ => None,
        }
    }

    /// From the length of a hex hash: 64 digits are PDQ (a SHA-256 list says so by its
    /// column name or `--algo`), 16 pHash, 32 MD5, 40 SHA-1.
    pub fn from_hex_len(n: usize) -> Option<Algo> {
        match n {
            64 => Some(Algo::Pdq),
            16 => Some(Algo::Phash),
            32 => Some(Algo::Md5),
            40 => Some(Algo::Sha1),
            _ => None,
        }
    }

    /// The column or key naming this hash in lists and in our records.
    pub fn name(self) -> &'static str {
        match self {
            Algo::Pdq => "pdq",
            Algo::Phash => "phash",
            Algo::Md5 => "md5",
            Algo::Sha1 => "sha1",
            Algo::Sha256 => "sha256",
        }
    }

    pub const ALL: [Algo; 5] = [Algo::Pdq, Algo::Phash, Algo::Md5, Algo::Sha1, Algo::Sha256];

    pub fn from_name(name: &str) -> Option<Algo> {
        Algo::ALL.into_iter().find(|a| a.name() == name)
    }
}

pub const FLAG_QUALITY: u32 = 1;
pub const FLAG_LABELS: u32 = 2;
pub const FLAG_SORTED: u32 = 4;
/// Entries are frame hashes of videos (built from vPDQ files): each names its video, so a
/// video match is one query over the whole set.
pub const FLAG_VIDEOS: u32 = 8;
/// One of the sets a build of a list holding several fingerprint kinds wrote beside the
/// name it was given (`known.md5.hsref` of `known.hsref`): a later build under that name
/// replaces it. A set without it at such a path was built on its own and is left alone.
pub const FLAG_GROUP_MEMBER: u32 = 16;
/// A multi-index section follows the other sections (`index.rs`): older readers ignore it,
/// since every section they know lies where it did.
pub const FLAG_INDEX: u32 = 32;

/// The fixed header, little-endian, `HEADER_LEN` bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq)]
pub struct Header {
    pub magic: [u8; 8],
    pub version: u32,
    pub algo: u32,
    pub bits: u32,
    pub flags: u32,
    pub count: u64,
    /// `count * bits / 8` bytes: hash `i` as `bits / 64` little-endian u64 words.
    pub hashes_offset: u64,
    /// `count` u64 ids.
    pub ids_offset: u64,
    /// `count` bytes of PDQ quality (0 when unknown), or 0 when absent.
    pub quality_offset: u64,
    /// `count + 1` u64 offsets into the label blob, or 0 when absent.
    pub label_index_offset: u64,
    pub labels_offset: u64,
    pub labels_len: u64,
    pub file_len: u64,
    pub pad: u64,
    /// BLAKE3 of the whole file with this field zeroed.
    pub checksum: [u8; 32],
    /// `count` u32: the video of each entry (index into the video names), with FLAG_VIDEOS.
    pub video_of_offset: u64,
    pub video_count: u64,
    /// `video_count + 1` u64 offsets into the video name blob.
    pub video_name_index_offset: u64,
    pub video_names_offset: u64,
    pub video_names_len: u64,
    /// With FLAG_INDEX: the index section's start and length, and the length the file had
    /// before the index was added (where the other sections end).
    pub index_offset: u64,
    pub index_len: u64,
    pub body_len: u64,
    /// With FLAG_INDEX: the checksum the set had without its index, which stays its
    /// identity (`RefSet::identity`) however often the index is added or rebuilt.
    pub content_checksum: [u8; 32],
    pub reserved: [u8; 32],
}

impl Header {
    pub fn algo(&self) -> Option<Algo> {
        Algo::from_code(self.algo)
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

pub fn align_up(x: u64) -> u64 {
    x.div_ceil(SECTION_ALIGN) * SECTION_ALIGN
}

/// Labels of one entry are joined with this byte; it cannot occur in a label.
pub const LABEL_SEPARATOR: u8 = b'\n';

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_exactly_its_documented_length() {
        assert_eq!(std::mem::size_of::<Header>(), HEADER_LEN);
        assert_eq!(std::mem::offset_of!(Header, checksum), 96);
    }
}
