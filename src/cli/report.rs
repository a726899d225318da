//! `hashsweep report`: a scan's findings as an HTML page, a VICS file or a CSV of matches
//! (`crate::report`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// One self-contained page to read and file with the case.
    Html,
    /// VICS 1.3 Media JSON of the scanned files, for review tools (and `refs build`).
    Vics,
    /// The matches as a flat table.
    Csv,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A scan's JSONL output (merged, or still being written); its `.matches.jsonl` beside.
    pub output: PathBuf,
    /// Where to write (default: OUT with `.html`, `.vics.json` or `.matches.csv`).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "html")]
    pub format: ReportFormat,
    /// Show small inline pictures of the matched files (of matched files only; the page
    /// then holds images of the material: handle it as evidence).
    #[arg(long)]
    pub thumbnails: bool,
    /// A `hashsweep cluster` output: its near-duplicate groups are listed on the page,
    /// largest first.
    #[arg(long, value_name = "GROUPS.jsonl")]
    pub groups: Option<PathBuf>,
}

pub fn run(args: ReportArgs) -> anyhow::Result<i32> {
    let facts = crate::report::gather(&args.output, args.format == ReportFormat::Vics)?;
    let groups = match &args.groups {
        Some(p) => Some(crate::report::read_groups(p)?),
        None => None,
    };
    anyhow::ensure!(
        groups.is_none() || args.format == ReportFormat::Html,
        "--groups is listed on the HTML page only"
    );
    let (text, ext) = match args.format {
        ReportFormat::Html => (
            crate::report::html(&facts, args.thumbnails, groups.as_ref()),
            "html",
        ),
        ReportFormat::Vics => (
            serde_json::to_string_pretty(&crate::report::vics(&facts))? + "\n",
            "vics.json",
        ),
        ReportFormat::Csv => (crate::report::matches_csv(&facts)?, "matches.csv"),
    };
    let dest = args.out.unwrap_or_else(|| {
        let name = args
            .output
            .file_name()
            .map_or("scan".into(), |n| n.to_string_lossy().into_owned());
        let stem = name.strip_suffix(".jsonl").unwrap_or(&name).to_string();
        args.output.with_file_name(format!("{stem}.{ext}"))
    });
    let tmp = dest.with_extension("report-tmp");
    crate::durable::replace(&dest, &tmp, |f| {
        std::io::Write::write_all(f, text.as_bytes())
    })
    .with_context(|| format!("cannot write {}", dest.display()))?;
    eprintln!(
        "hashsweep report: {} files, {} matches -> {}",
        facts.files,
        facts.matches.len(),
        dest.display()
    );
    Ok(0)
}
