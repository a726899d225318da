//! File digests (MD5, SHA-1, SHA-256) fed as bytes stream past: of a file on disk, and of
//! a file inside another (an archive's member), so that digest lists match inner files.

use md5::Digest;

use crate::hash::hex;

/// Which digests a run records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Digests {
    pub md5: bool,
    pub sha1: bool,
    pub sha256: bool,
}

/// Digest names and their hex values, in the order md5, sha1, sha256.
pub type Hexes = Vec<(&'static str, String)>;

/// The requested digests, fed as the bytes stream past.
pub struct Digesters {
    md5: Option<md5::Md5>,
    sha1: Option<sha1::Sha1>,
    sha256: Option<sha2::Sha256>,
}

impl Digesters {
    pub fn new(d: Digests) -> Digesters {
        Digesters {
            md5: d.md5.then(md5::Md5::new),
            sha1: d.sha1.then(sha1::Sha1::new),
            sha256: d.sha256.then(sha2::Sha256::new),
        }
    }

    pub fn any(&self) -> bool {
        self.md5.is_some() || self.sha1.is_some() || self.sha256.is_some()
    }

    pub fn update(&mut self, b: &[u8]) {
        self.md5.iter_mut().for_each(|h| h.update(b));
        self.sha1.iter_mut().for_each(|h| h.update(b));
        self.sha256.iter_mut().for_each(|h| h.update(b));
    }

    pub fn finish(self) -> Hexes {
        let mut out = vec![];
        if let Some(h) = self.md5 {
            out.push(("md5", hex(&h.finalize())));
        }
        if let Some(h) = self.sha1 {
            out.push(("sha1", hex(&h.finalize())));
        }
        if let Some(h) = self.sha256 {
            out.push(("sha256", hex(&h.finalize())));
        }
        out
    }

    /// The digests of bytes already in memory.
    pub fn of(d: Digests, bytes: &[u8]) -> Hexes {
        let mut h = Digesters::new(d);
        h.update(bytes);
        h.finish()
    }
}
