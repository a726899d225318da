//! hashsweep: perceptual hashing (PDQ, pHash) of images in bulk, on the GPU or the CPU.
//!
//! Data flows one way: path ([`sources`]) -> bytes ([`decode`]) -> [`Frame`] -> hashes
//! ([`engine`], which drives either [`cpu`] or [`gpu`]) -> matches ([`matching`]) -> records
//! ([`scan`]); [`cli`] only wires arguments to these. The rooms and their order are in
//! `docs/architecture.md`.

pub mod cli;
pub mod clock;
pub mod cluster;
pub mod cpu;
pub mod decode;
pub mod durable;
pub mod engine;
pub mod frame;
pub mod gpu;
pub mod hash;
pub mod matching;
pub mod pipeline;
pub mod progress;
pub mod refset;
pub mod report;
pub mod robustness;
pub mod scan;
pub mod sources;
pub mod video;

pub use engine::{Algorithms, BackendChoice, Engine, FrameHashes};
pub use frame::Frame;
