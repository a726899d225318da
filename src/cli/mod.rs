//! The `hashsweep` command line: clap definitions and wiring, no hashing logic.

mod backend;
mod bench;
mod cluster;
mod devices;
pub mod hash;
mod match_cmd;
mod match_video;
mod merge;
pub mod output;
mod refs;
mod report;
mod scan;
mod signals;
mod video;

use clap::{Parser, Subcommand};

/// `println!` that returns the write's error instead of panicking: when the reader goes
/// away (`hashsweep refs verify ... | head -1`) the command ends, and `main` ends quietly.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($t)*)
    }};
}
pub(crate) use outln;

/// Whether an error is a closed standard output (a pipe whose reader has gone): not a
/// failure to report, the reader simply wanted no more.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The exit code of a process ended by SIGPIPE, as shells report it (128 + 13).
pub const EXIT_BROKEN_PIPE: i32 = 141;

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
    Scan(Box<scan::ScanArgs>),
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

/// Say on stderr which inputs do not exist (a mistyped path), beside the error record or
/// row each still gets: a sweep must not look complete when an input was never there.
fn name_missing(command: &str, inputs: &[std::path::PathBuf]) {
    for p in inputs {
        if std::fs::symlink_metadata(p).is_err() {
            eprintln!("hashsweep {command}: no such file: {}", p.display());
        }
    }
}

/// The library's warnings (a GPU fault survived, work moved to the CPU), said once each.
fn say_warnings(command: &str, warnings: &[String]) {
    for w in warnings {
        eprintln!("hashsweep {command}: warning: {w}");
    }
}

/// Whether two paths name the same file (both resolved when they exist; as written when
/// one does not yet).
fn same_path(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => std::path::absolute(a).ok() == std::path::absolute(b).ok(),
    }
}

/// Who a scan is for: recorded in its header by `scan`, shown (or given anew) by `report`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CaseArgs {
    /// Case reference (scan: recorded in the header; report: shown instead of the
    /// recorded one).
    #[arg(long, value_name = "TEXT")]
    pub case: Option<String>,
    /// Examiner's name (as --case).
    #[arg(long, value_name = "TEXT")]
    pub examiner: Option<String>,
    /// Free notes (as --case).
    #[arg(long, value_name = "TEXT")]
    pub notes: Option<String>,
}

impl CaseArgs {
    pub fn info(&self) -> crate::scan::CaseInfo {
        crate::scan::CaseInfo {
            case: self.case.clone(),
            examiner: self.examiner.clone(),
            notes: self.notes.clone(),
        }
    }
}

/// Run the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Hash(args) => hash::run(args),
        Command::Devices { json } => devices::run(json),
        Command::Scan(args) => scan::run(*args),
        Command::Merge(args) => merge::run(args),
        Command::Refs { what } => refs::run(what),
        Command::Match(args) => match_cmd::run(args),
        Command::Report(args) => report::run(args),
        Command::Cluster(args) => cluster::run(args),
        Command::Bench { what } => bench::run(what),
    }
}
