//! hashsweep: perceptual hashing (PDQ, pHash) of images in bulk, on the GPU or the CPU.
//!
//! Data flows one way: path -> bytes ([`decode`]) -> [`Frame`] -> hashes ([`engine`], which
//! drives either [`cpu`] or [`gpu`]) -> records ([`cli`]).

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
pub mod video;

pub use engine::{Algorithms, BackendChoice, Engine, FrameHashes};
pub use frame::Frame;
