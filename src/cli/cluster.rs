//! `hashsweep cluster`: near-duplicate groups among scanned or listed hashes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde_json::json;

use crate::cluster::{self, Clustering, Grouping, Hashes, Params, ReadOptions};
use crate::matching::{self, Planner};
use crate::progress::{Mode, Progress};
use crate::refset::Algo;

#[derive(Args, Debug)]
pub struct ClusterArgs {
    /// Scan outputs, `hash --format jsonl` outputs, hash lists (any format `refs build`
    /// reads) or reference sets.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Which hash of the inputs to group by.
    #[arg(long, value_enum, default_value = "pdq")]
    pub algo: AlgoArg,
    /// Pairs at most this far apart are linked (default: 31 for PDQ, 10 for pHash).
    #[arg(long)]
    pub max_distance: Option<u32>,
    /// How the self-join runs: `auto` (the cost model picks a multi-index built over the
    /// hashes, or a sweep), `mih` or `flat`; the pairs are the same.
    #[arg(long, value_enum, default_value = "auto")]
    pub index: super::match_cmd::IndexArg,
    /// Leave out PDQ hashes of a known quality below this.
    #[arg(long, default_value_t = matching::DEFAULT_MIN_QUALITY)]
    pub min_quality: u8,
    /// Also link rotated and mirrored copies: needs inputs written by `hash --dihedral
    /// --format jsonl`.
    #[arg(long)]
    pub dihedral: bool,
    /// `components`: all hashes linked by a chain of pairs; `centres`: every member within
    /// the distance of its group's centre (tighter; a chain is cut into several groups).
    #[arg(long, value_enum, default_value = "components")]
    pub groups: GroupsArg,
    /// Leave out groups of fewer hashes (1 lists every hash).
    #[arg(long, default_value_t = 2)]
    pub min_size: usize,
    /// Output format: JSONL (groups and a summary, what `report --groups` reads) or CSV.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: FormatArg,
    /// Output file (default: standard output).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// CPU threads for the join (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub backend: super::backend::BackendArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AlgoArg {
    Pdq,
    Phash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupsArg {
    Components,
    Centres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Jsonl,
    Csv,
}

pub fn run(args: ClusterArgs) -> anyhow::Result<i32> {
    super::use_threads(args.threads);
    let algo = match args.algo {
        AlgoArg::Pdq => Algo::Pdq,
        AlgoArg::Phash => Algo::Phash,
    };
    anyhow::ensure!(
        !(args.dihedral && algo != Algo::Pdq),
        "--dihedral is for PDQ hashes"
    );
    let progress = Progress::start("cluster", Mode::Auto);
    progress.stage(format!("reading {} inputs", args.inputs.len()));
    let hashes = cluster::read(
        &args.inputs,
        ReadOptions {
            algo,
            dihedral: args.dihedral,
            min_quality: if algo == Algo::Pdq {
                args.min_quality
            } else {
                0
            },
        },
    )?;
    let engine = args.backend.open()?;
    let planner = Planner::on_device(engine.gpu_context()).index(args.index.into());
    let params = Params {
        max_distance: args
            .max_distance
            .unwrap_or_else(|| matching::default_max_distance(algo)),
        grouping: match args.groups {
            GroupsArg::Components => Grouping::Components,
            GroupsArg::Centres => Grouping::Centres,
        },
        min_size: args.min_size,
    };
    let found = cluster::cluster(&hashes, &params, &planner, &progress);
    progress.finish();
    let mut warnings = engine.warnings();
    warnings.extend(planner.fallback().map(String::from));
    super::say_warnings("cluster", &warnings);
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(BufWriter::new(
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let mut summary = summary(&hashes, &found, &params, planner.on_gpu());
    summary["matching"] = json!(planner.stats());
    match args.format {
        FormatArg::Jsonl => write_jsonl(&mut out, &hashes, &found, &summary)?,
        FormatArg::Csv => write_csv(&mut out, &hashes, &found)?,
    }
    out.flush()?;
    eprintln!(
        "hashsweep cluster: {} hashes ({} distinct), {} pairs within {}, {} groups holding {} hashes; {:.3e} comparisons in {:.1} s ({:.3e}/s); join: {}",
        hashes.len(),
        found.distinct,
        found.pairs,
        params.max_distance,
        found.groups.len(),
        found.groups.iter().map(|g| g.members.len()).sum::<usize>(),
        found.comparisons as f64,
        found.seconds,
        found.comparisons as f64 / found.seconds.max(1e-9),
        super::match_cmd::describe_routes(&planner),
    );
    Ok(0)
}

fn summary(h: &Hashes, c: &Clustering, p: &Params, gpu: bool) -> serde_json::Value {
    json!({
        "type": "summary",
        "hashes": h.len(),
        "distinct": c.distinct,
        "pairs": c.pairs,
        "groups": c.groups.len(),
        "grouped": c.groups.iter().map(|g| g.members.len()).sum::<usize>(),
        "max_distance": p.max_distance,
        "grouping": match p.grouping { Grouping::Components => "components", Grouping::Centres => "centres" },
        "dihedral": h.variants.is_some(),
        "backend": if gpu { "gpu" } else { "cpu" },
        "comparisons": c.comparisons,
        "seconds": c.seconds,
        "comparisons_per_second": c.comparisons as f64 / c.seconds.max(1e-9),
    })
}

/// One line per group, largest first, then the summary.
fn write_jsonl(
    out: &mut dyn Write,
    h: &Hashes,
    c: &Clustering,
    summary: &serde_json::Value,
) -> std::io::Result<()> {
    for (id, g) in c.groups.iter().enumerate() {
        let members: Vec<_> = g
            .members
            .iter()
            .map(|m| {
                json!({
                    "label": h.labels[m.hash],
                    "hash": h.hex(m.hash),
                    "quality": h.quality[m.hash],
                    "distance": m.distance,
                })
            })
            .collect();
        let line = json!({
            "type": "group",
            "group": id,
            "size": g.members.len(),
            "centre": h.labels[g.centre],
            "members": members,
        });
        writeln!(out, "{line}")?;
    }
    writeln!(out, "{summary}")
}

/// One row per member: group, size, label, hash, quality, distance to the centre, whether
/// it is the centre.
fn write_csv(out: &mut dyn Write, h: &Hashes, c: &Clustering) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "group", "size", "label", "hash", "quality", "distance", "centre",
    ])?;
    for (id, g) in c.groups.iter().enumerate() {
        for m in &g.members {
            w.write_record([
                id.to_string(),
                g.members.len().to_string(),
                h.labels[m.hash].clone(),
                h.hex(m.hash),
                h.quality[m.hash].map_or(String::new(), |q| q.to_string()),
                m.distance.to_string(),
                (m.hash == g.centre).to_string(),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}
