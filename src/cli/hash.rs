//! `hashsweep hash`: decode on all cores, hash on the chosen backend, one row per file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use super::EXIT_SOME_FAILED;
use super::output::{Format, Outcome, RowWriter};
use crate::decode::{self, DecodeOptions, Decoded};
use crate::engine::{Algorithms, Engine, FrameHashes};
use crate::scan::{take_round, walk};

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
    #[command(flatten)]
    pub backend: super::backend::BackendArgs,
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
    let engine = args.backend.open()?;
    eprintln!("hashsweep: backend {}", engine.describe());
    let out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(File::create(p).with_context(|| format!("creating {}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = RowWriter::new(BufWriter::new(out), args.format, algos, args.dihedral);
    writer.header()?;

    let (files, walk_errors) = walk::expand(&args.inputs);
    let mut failed = 0usize;
    let mut io_error = None;
    for (path, e) in &walk_errors {
        writer.row(&path.to_string_lossy(), &Outcome::Failed(e.to_string()))?;
        failed += 1;
    }
    let opts = DecodeOptions {
        max_pixels: args.max_pixels,
        pre_resize: args.pre_resize,
        ..DecodeOptions::default()
    };
    HashSource::new(&engine, algos, opts).for_each(&files, |path, result| {
        let outcome = match result {
            Ok(h) => Outcome::Hashed {
                width: h.width,
                height: h.height,
                hashes: Box::new(h.hashes),
            },
            Err(e) => {
                failed += 1;
                Outcome::Failed(e)
            }
        };
        if let Err(e) = writer.row(&path.to_string_lossy(), &outcome) {
            io_error.get_or_insert(e);
        }
    });
    if let Some(e) = io_error {
        return Err(e.into());
    }
    writer.flush()?;
    eprintln!(
        "hashsweep: {} files, {} failed",
        files.len() + walk_errors.len(),
        failed
    );
    Ok(if failed > 0 { EXIT_SOME_FAILED } else { 0 })
}

/// One hashed file: its own size (before any pre-resize) and its hashes.
pub struct Hashed {
    pub width: u32,
    pub height: u32,
    pub hashes: FrameHashes,
}

/// Files -> hashes in rounds: decode a round on all cores, hash it on the engine, hand the
/// results over in input order. Memory is bounded by the round's pixel budget.
pub struct HashSource<'a> {
    engine: &'a Engine,
    algos: Algorithms,
    opts: DecodeOptions,
}

impl<'a> HashSource<'a> {
    pub fn new(engine: &'a Engine, algos: Algorithms, opts: DecodeOptions) -> HashSource<'a> {
        HashSource {
            engine,
            algos,
            opts,
        }
    }

    pub fn for_each(&self, files: &[PathBuf], mut f: impl FnMut(&Path, Result<Hashed, String>)) {
        let mut rest = files;
        while !rest.is_empty() {
            let round = take_round(
                rest,
                ROUND_FILES,
                ROUND_PIXELS,
                |p| decode::decode_file(p, &self.opts),
                |d: &Result<Decoded, _>| d.as_ref().map_or(0, |d| d.frame.pixels()),
            );
            let n = round.len();
            let frames: Vec<&crate::Frame> = round.iter().flatten().map(|d| &d.frame).collect();
            let mut hashes = self.engine.hash(&frames, self.algos).into_iter();
            for (path, d) in rest[..n].iter().zip(round) {
                let r = d.map_err(|e| e.to_string()).map(|d| Hashed {
                    width: d.width,
                    height: d.height,
                    hashes: hashes.next().expect("one result per frame"),
                });
                f(path, r);
            }
            rest = &rest[n..];
        }
    }
}
