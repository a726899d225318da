//! `--verify-image`: an EWF image read back whole against the hashes it stores.

use std::path::Path;
use std::sync::Arc;

use super::super::Src;
use super::device::{self, Device};
use super::ewf;

/// What `--verify-image` found for one EWF image: the hashes it stores and those of the
/// media read back.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Verification {
    pub path: String,
    pub segments: usize,
    pub stored_md5: Option<String>,
    pub stored_sha1: Option<String>,
    pub md5: Option<String>,
    pub sha1: Option<String>,
    /// `verified`, `MISMATCH`, `no stored hash`, or why it could not be read.
    pub result: String,
    /// Chunks that failed their checksums.
    pub damaged_chunks: usize,
}

/// Read a whole EWF image back and compare its MD5 and SHA-1 with those it stores. Chunks
/// are inflated on all cores, a batch at a time, and hashed in order.
pub fn verify(path: &Path) -> Verification {
    use md5::Digest as _;
    let mut v = Verification {
        path: path.display().to_string(),
        segments: 0,
        stored_md5: None,
        stored_sha1: None,
        md5: None,
        sha1: None,
        result: String::new(),
        damaged_chunks: 0,
    };
    let paths = ewf::segment_paths(path);
    v.segments = paths.len();
    let srcs: Result<Vec<Src>, String> = paths
        .iter()
        .map(|p| {
            let f = std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let len = f.metadata().map_err(|e| e.to_string())?.len();
            Ok(Src::File(Arc::new(f), len))
        })
        .collect();
    let opened = srcs.and_then(|s| ewf::Ewf::open(s, paths.clone()));
    let (e, problems) = match opened {
        Ok(o) => o,
        Err(why) => {
            v.result = format!("not read: {why}");
            return v;
        }
    };
    v.stored_md5 = e.md5.clone();
    v.stored_sha1 = e.sha1.clone();
    let (mut m, mut s) = (md5::Md5::new(), sha1::Sha1::new());
    let step = e.chunk_size() as usize * 64;
    let mut at = 0u64;
    while at < e.len() {
        let n = (step as u64).min(e.len() - at) as usize;
        let pieces: Vec<(u64, usize)> = (0..n)
            .step_by(e.chunk_size() as usize)
            .map(|o| (at + o as u64, (e.chunk_size() as usize).min(n - o)))
            .collect();
        use rayon::prelude::*;
        let read: Result<Vec<Vec<u8>>, String> = pieces
            .par_iter()
            .map(|&(o, len)| device::bytes_at(&e, o, len).map_err(|e| e.to_string()))
            .collect();
        match read {
            Ok(bufs) => {
                for b in bufs {
                    m.update(&b);
                    s.update(&b);
                }
            }
            Err(why) => {
                v.result = format!("not read to the end: {why}");
                return v;
            }
        }
        at += n as u64;
    }
    v.md5 = Some(crate::hash::hex(&m.finalize()));
    v.sha1 = Some(crate::hash::hex(&s.finalize()));
    v.damaged_chunks = e.damage(0, e.len()).len();
    v.result = match (&v.stored_md5, &v.stored_sha1) {
        (None, None) => "no stored hash".into(),
        (sm, ss) => {
            let md5_ok = sm.as_ref().is_none_or(|h| Some(h) == v.md5.as_ref());
            let sha_ok = ss.as_ref().is_none_or(|h| Some(h) == v.sha1.as_ref());
            match md5_ok && sha_ok {
                true => "verified".into(),
                false => "MISMATCH".into(),
            }
        }
    };
    if !problems.is_empty() {
        v.result += &format!(" ({})", problems.join("; "));
    }
    v
}
