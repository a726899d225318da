//! The `hashsweep` command line: clap definitions and wiring, no hashing logic.

mod backend;
mod bench;
mod cluster;
mod devices;
pub mod hash;
mod match_cmd;
mod merge;
pub mod output;
mod refs;
mod report;
mod scan;
mod video;

use clap::{Parser, Subcommand};

pub use bench::BenchArgs;
pub use hash::HashArgs;

/// Exit code when some inputs failed but the run completed.
pub const EXIT_SOME_FAILED: i32 = 1;
/// Exit code for a fatal error (bad arguments, no output, no requested backend).
pub const EXIT_FATAL: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "hashsweep",
    version,
    about = "Perceptual hashing (PDQ, pHash) in bulk on the GPU or CPU"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Hash image files and directories, one row per file.
    Hash(HashArgs),
    /// List GPU adapters with their backend, type and limits.
    Devices {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Sweep files and directories: one record per file, matches, resumable, shardable.
    Scan(scan::ScanArgs),
    /// Combine the outputs of the shards of one scan, checking none is missing or doubled.
    Merge(merge::MergeArgs),
    /// Build, inspect, verify and merge reference sets.
    Refs {
        #[command(subcommand)]
        what: refs::RefsArgs,
    },
    /// Match hashes or images against a reference set (exact Hamming distance).
    Match(match_cmd::MatchArgs),
    /// Group near-duplicates among scanned or listed hashes (exact self-join).
    Cluster(cluster::ClusterArgs),
    /// What a scan found: an HTML page, a VICS file for review tools, or a CSV of matches.
    Report(report::ReportArgs),
    /// Measure hashing and matching throughput.
    Bench {
        #[command(subcommand)]
        what: BenchArgs,
    },
}

/// `--threads N`: the size of the shared thread pool, set before anything uses it (later
/// calls cannot change it, hence the error is ignored).
fn use_threads(n: Option<usize>) {
    if let Some(n) = n {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .ok();
    }
}

/// Run the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Hash(args) => hash::run(args),
        Command::Devices { json } => devices::run(json),
        Command::Scan(args) => scan::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Refs { what } => refs::run(what),
        Command::Match(args) => match_cmd::run(args),
        Command::Report(args) => report::run(args),
        Command::Cluster(args) => cluster::run(args),
        Command::Bench { what } => bench::run(what),
    }
}
