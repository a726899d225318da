//! The CPU backend: one module per pipeline stage, named as the WGSL stage it mirrors.

pub mod decimate;
pub mod grey;
pub mod hamming;
pub mod jarosz;
pub mod lanczos;
pub mod luma;
pub mod pdq;
pub mod phash;

use crate::frame::Frame;
use crate::hash::{Algorithms, FrameHashes};

/// One frame through the CPU stages: the path every backend falls back on, and the one the
/// GPU stages are measured against.
pub fn hash_frame(f: &Frame, algos: Algorithms) -> FrameHashes {
    let (w, h) = (f.width() as usize, f.height() as usize);
    FrameHashes {
        pdq: algos.pdq.then(|| pdq::pdq(f.rgb(), h, w)),
        phash: algos.phash.then(|| phash::phash(f.phash_source(), w, h)),
    }
}
