//! `hashsweep hash`: decode on all cores, hash on the chosen backend, one row per file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use rayon::prelude::*;

use super::output::{Format, Outcome, RowWriter};
use super::{EXIT_SOME_FAILED, walk};
use crate::decode::{self, DecodeOptions, Decoded};
use crate::engine::{Algorithms, BackendChoice, Engine};

/// Decoded pixels held before a hashing round: bounds memory whatever the folder holds.
const ROUND_PIXELS: usize = 96 << 20;
/// Files decoded per round at most.
const ROUND_FILES: usize = 512;

#[derive(Args, Debug)]
pub struct HashArgs {
    /// Image files and directories (walked recursively, in name order).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Algorithms, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "pdq,phash")]
    pub algo: Vec<AlgoName>,
    /// Also write the seven other dihedral PDQ hashes.
    #[arg(long)]
    pub dihedral: bool,
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
    /// Output file (default: standard output).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// `auto` uses a hardware GPU if present, else the CPU; `gpu` also accepts software
    /// adapters such as lavapipe.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
    /// Pick the GPU adapter whose name contains this text.
    #[arg(long)]
    pub adapter: Option<String>,
    /// Reproduce the reference `pdq-photo-hasher`: images with a side over N are first
    /// squeezed to NxN by nearest neighbour (it uses 512).
    #[arg(long, value_name = "N")]
    pub pre_resize: Option<u32>,
    /// Refuse images with more pixels than this (decompression bombs).
    #[arg(long, default_value_t = decode::DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AlgoName {
    Pdq,
    Phash,
}

pub fn algorithms(names: &[AlgoName]) -> Algorithms {
    Algorithms {
        pdq: names.contains(&AlgoName::Pdq),
        phash: names.contains(&AlgoName::Phash),
    }
}

pub fn run(args: HashArgs) -> anyhow::Result<i32> {
    let algos = algorithms(&args.algo);
    let engine = Engine::open(args.backend, args.adapter.as_deref())?;
    eprintln!("hashsweep: backend {}", engine.describe());
    let out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(File::create(p).with_context(|| format!("creating {}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = RowWriter::new(BufWriter::new(out), args.format, algos, args.dihedral);
    writer.header()?;

    let (files, walk_errors) = walk::expand(&args.inputs);
    let mut failed = 0usize;
    for (path, e) in &walk_errors {
        writer.row(&path.to_string_lossy(), &Outcome::Failed(e.to_string()))?;
        failed += 1;
    }
    let opts = DecodeOptions {
        max_pixels: args.max_pixels,
        pre_resize: args.pre_resize,
    };
    let mut rest = &files[..];
    while !rest.is_empty() {
        let (round, n) = decode_round(rest, &opts);
        failed += hash_round(&engine, algos, &rest[..n], round, &mut writer)?;
        rest = &rest[n..];
    }
    writer.flush()?;
    eprintln!(
        "hashsweep: {} files, {} failed",
        files.len() + walk_errors.len(),
        failed
    );
    Ok(if failed > 0 { EXIT_SOME_FAILED } else { 0 })
}

/// Decode files from the front of `files` in parallel until the round's pixel budget is
/// spent; returns the results and how many files they cover.
fn decode_round(
    files: &[PathBuf],
    opts: &DecodeOptions,
) -> (Vec<Result<Decoded, decode::DecodeError>>, usize) {
    let step = rayon::current_num_threads().max(1) * 2;
    let mut done = vec![];
    let mut pixels = 0;
    while done.len() < files.len().min(ROUND_FILES) && pixels < ROUND_PIXELS {
        let end = (done.len() + step).min(files.len());
        let part: Vec<_> = files[done.len()..end]
            .par_iter()
            .map(|p| decode::decode_file(p, opts))
            .collect();
        pixels += part
            .iter()
            .flatten()
            .map(|d| d.frame.pixels())
            .sum::<usize>();
        done.extend(part);
    }
    let n = done.len();
    (done, n)
}

fn hash_round<W: Write>(
    engine: &Engine,
    algos: Algorithms,
    paths: &[PathBuf],
    decoded: Vec<Result<Decoded, decode::DecodeError>>,
    writer: &mut RowWriter<W>,
) -> anyhow::Result<usize> {
    let frames: Vec<&crate::Frame> = decoded.iter().flatten().map(|d| &d.frame).collect();
    // A GPU failure (device lost, driver error) costs speed, not results: the round is
    // hashed again on the CPU path, which gives the same answers.
    let hashes = engine.hash(&frames, algos).or_else(|e| {
        eprintln!("hashsweep: warning: {e}; hashing this round on the CPU");
        Engine::Cpu.hash(&frames, algos)
    });
    let mut hashes = hashes?.into_iter();
    let mut failed = 0;
    for (path, d) in paths.iter().zip(&decoded) {
        let outcome = match d {
            Ok(d) => Outcome::Hashed {
                width: d.width,
                height: d.height,
                hashes: Box::new(hashes.next().expect("one result per frame")),
            },
            Err(e) => {
                failed += 1;
                Outcome::Failed(e.to_string())
            }
        };
        writer.row(&path.to_string_lossy(), &outcome)?;
    }
    Ok(failed)
}
