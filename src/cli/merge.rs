//! `hashsweep merge`: combine shard outputs of one scan into one (`crate::scan::merge`).

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use crate::progress::{Mode, Progress};
use crate::scan::matches_path;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Shard outputs (`scan -o` files); their `.matches.jsonl` files are merged too.
    #[arg(required = true)]
    pub outputs: Vec<PathBuf>,
    /// The merged output (its matches go beside it, as a scan's do). An existing one is
    /// refused without --force.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Replace an existing merged output.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: MergeArgs) -> anyhow::Result<i32> {
    let same = super::same_path;
    let clash =
        |p: &&PathBuf| same(p, &args.output) || same(&matches_path(p), &matches_path(&args.output));
    if let Some(p) = args.outputs.iter().find(clash) {
        bail!("{} is both an input and the output", p.display());
    }
    let held = |p: &std::path::Path| std::fs::metadata(p).is_ok_and(|m| m.len() > 0);
    if !args.force {
        let out = [args.output.clone(), matches_path(&args.output)];
        if let Some(p) = out.iter().find(|p| held(p)) {
            bail!(
                "{} exists: give --force to replace it, or another -o",
                p.display()
            );
        }
    }
    let progress = Progress::start("merge", Mode::Auto);
    let m = crate::scan::merge::merge(&args.outputs, &args.output, &progress);
    progress.finish();
    let m = m?;
    eprintln!(
        "hashsweep merge: {} shards, {} files, {} matches -> {}",
        m.shards,
        m.files,
        m.matches,
        args.output.display()
    );
    Ok(0)
}
