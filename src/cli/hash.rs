//! `hashsweep hash`: decode on all cores, hash on the chosen backend, one row per file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::EXIT_SOME_FAILED;
use super::output::{Format, Outcome, RowWriter};
use crate::decode::{self, DecodeOptions};
use crate::engine::Algorithms;
use crate::pipeline::{self, HashSource};
use crate::progress::{Mode, Progress};
use crate::sources::walk;

#[derive(Args, Debug)]
pub struct HashArgs {
    /// Image files and directories (walked recursively, in name order).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Algorithms, comma-separated: pdq, phash.
    #[arg(long, value_delimiter = ',', default_value = "pdq,phash")]
    pub algo: Vec<AlgoName>,
    /// Also write the seven other dihedral PDQ hashes.
    #[arg(long)]
    pub dihedral: bool,
    /// Output format: CSV with a header (PDQ alone: the reference tool's `hash,quality,path`),
    /// or one JSON object per line.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
    /// Output file (default: standard output).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub backend: super::backend::BackendArgs,
    /// Reproduce the reference `pdq-photo-hasher`: images with a side over N are first
    /// squeezed to NxN by nearest neighbour (it uses 512).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub pre_resize: Option<u32>,
    /// Refuse images with more pixels than this (decompression bombs).
    #[arg(long, default_value_t = decode::DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
    /// Seconds a HEIC/AVIF decoder process may run before it is killed and the file
    /// recorded as an error.
    #[arg(long, value_name = "SECONDS", default_value_t = decode::DEFAULT_HELPER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub decoder_timeout: u64,
    /// Image data held in memory at once (file bytes and decoded pixels), e.g. 4G; default
    /// half of the machine's (or the cgroup's) memory.
    #[arg(long, value_name = "SIZE", value_parser = pipeline::budget::parse_size)]
    pub max_memory: Option<u64>,
    /// Cut added borders (letterbox, pillarbox, solid padding) before hashing; the `box`
    /// column or field says which part was hashed (empty or null: the whole image).
    #[arg(long)]
    pub trim_borders: bool,
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
    let mut writer = RowWriter::new(BufWriter::new(out), args.format, algos, args.dihedral)
        .with_trim(args.trim_borders);
    writer.header()?;

    super::name_missing("hash", &args.inputs);
    let (files, walk_errors) = walk::expand(&args.inputs);
    let progress = Progress::start("hash", Mode::Auto);
    progress.set_total((files.len() + walk_errors.len()) as u64);
    // The reference tool's row has no room for a reason: it goes to stderr.
    let reasons_on_stderr = writer.reference_form();
    let (mut failed, mut rows) = (0usize, walk_errors.len());
    let mut io_error = None;
    for (path, e) in &walk_errors {
        if reasons_on_stderr {
            eprintln!("hashsweep: {}: {e}", path.display());
        }
        writer.write(&path.to_string_lossy(), &Outcome::Failed(e.to_string()))?;
        failed += 1;
        progress.add(1, 1, 0);
    }
    let opts = DecodeOptions {
        max_pixels: args.max_pixels,
        pre_resize: args.pre_resize,
        trim_borders: args.trim_borders,
        helper_timeout: std::time::Duration::from_secs(args.decoder_timeout),
        ..DecodeOptions::default()
    };
    let budget = pipeline::budget_of(args.max_memory);
    let source = HashSource::new(&engine, algos, opts, budget)
        .with_progress(&progress)
        .with_thumbnails();
    source.try_for_each(&files, |path, result| {
        let outcome = match result {
            Ok(h) => {
                for w in &h.warnings {
                    eprintln!("hashsweep: {}: {w}", path.display());
                }
                // The part inside added borders is what is hashed, when there is one.
                let (region, hashes) = match h.trimmed {
                    Some((r, t)) => (Some(r), t),
                    None => (None, h.hashes),
                };
                Outcome::Hashed {
                    width: h.width,
                    height: h.height,
                    hashes: Box::new(hashes),
                    warnings: h.warnings,
                    region,
                }
            }
            Err(e) => {
                failed += 1;
                if reasons_on_stderr {
                    eprintln!("hashsweep: {}: {e}", path.display());
                }
                Outcome::Failed(e)
            }
        };
        rows += 1;
        progress.add(1, u64::from(matches!(outcome, Outcome::Failed(_))), 0);
        // A reader that went away (`| head`) ends the run here, not after every file.
        match writer.write(&path.to_string_lossy(), &outcome) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                io_error = Some(e);
                ControlFlow::Break(())
            }
        }
    });
    progress.finish();
    if let Some(e) = io_error {
        return Err(e.into());
    }
    writer.flush()?;
    // Files inside archives and documents have rows of their own.
    eprintln!(
        "hashsweep: {} inputs, {rows} rows, {failed} failed",
        files.len() + walk_errors.len(),
    );
    Ok(if failed > 0 { EXIT_SOME_FAILED } else { 0 })
}
