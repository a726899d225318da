//! The CPU backend: one module per pipeline stage, named as the WGSL stage it mirrors.

pub mod decimate;
pub mod grey;
pub mod hamming;
pub mod jarosz;
pub mod lanczos;
pub mod luma;
pub mod pdq;
pub mod phash;
