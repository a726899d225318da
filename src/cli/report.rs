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
    /// A scan's output, JSONL or CSV (merged, or still being written); its
    /// `.matches.jsonl` (and for CSV its `.meta.jsonl`) are read from beside it.
    #[arg(value_name = "SCAN_OUTPUT")]
    pub scan_output: PathBuf,
    /// Where to write (default: the scan output with `.html`, `.vics.json` or
    /// `.matches.csv`).
    #[arg(short, long, alias = "out")]
    pub output: Option<PathBuf>,
    /// What to write: the HTML page, a VICS 1.3 file for review tools, or a CSV of matches.
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
    /// Shown instead of what the scan recorded.
    #[command(flatten)]
    pub case: super::CaseArgs,
}

pub fn run(args: ReportArgs) -> anyhow::Result<i32> {
    let mut facts = crate::report::gather(&args.scan_output, args.format == ReportFormat::Vics)?;
    if let (Some(h), serde_json::Value::Object(given)) = (
        facts.header.as_object_mut(),
        serde_json::json!(args.case.info()),
    ) {
        h.extend(given);
    }
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
        ReportFormat::Vics => (vics_text(&facts)?, "vics.json"),
        ReportFormat::Csv => (crate::report::matches_csv(&facts)?, "matches.csv"),
    };
    let dest = args.output.unwrap_or_else(|| {
        let name = facts
            .output
            .file_name()
            .map_or("scan".into(), |n| n.to_string_lossy().into_owned());
        let stem = name
            .strip_suffix(".jsonl")
            .or_else(|| name.strip_suffix(".csv"))
            .unwrap_or(&name)
            .to_string();
        facts.output.with_file_name(format!("{stem}.{ext}"))
    });
    let scan_files = [
        facts.output.clone(),
        crate::scan::matches_path(&facts.output),
        crate::scan::meta_path(&facts.output),
    ];
    if let Some(p) = scan_files.iter().find(|p| super::same_path(p, &dest)) {
        anyhow::bail!(
            "{} is part of the scan's output: a report never replaces it; give another -o",
            p.display()
        );
    }
    crate::durable::replace(&dest, |f| std::io::Write::write_all(f, text.as_bytes()))
        .with_context(|| format!("cannot write {}", dest.display()))?;
    eprintln!(
        "hashsweep report: {} files, {} matches in {} files -> {}",
        facts.files,
        facts.matches.len(),
        facts.matched_files(),
        dest.display()
    );
    if facts.summary.is_none() {
        eprintln!(
            "hashsweep report: warning: {} has no summary record: the scan has not finished (or was killed); the report shows what it had recorded",
            facts.output.display()
        );
    }
    if facts.damaged_lines > 0 {
        eprintln!(
            "hashsweep report: warning: {} lines of the scan's outputs could not be read (damaged); the report shows the rest",
            facts.damaged_lines
        );
        return Ok(super::EXIT_SOME_FAILED);
    }
    Ok(0)
}

/// The VICS file, saying what it could not carry.
fn vics_text(facts: &crate::report::ScanFacts) -> anyhow::Result<String> {
    let v = crate::report::vics(facts)?;
    if v.without_digests > 0 {
        eprintln!(
            "hashsweep report: warning: {} files have no MD5 or SHA-1 (unreadable files, or digests not asked for) and are not in the VICS file",
            v.without_digests
        );
    }
    for (key, n) in &v.missing {
        eprintln!(
            "hashsweep report: warning: {n} files have no {key} (the scan was run without it in --digest): their Media carry no {key}"
        );
    }
    if !v.unmapped.is_empty() {
        eprintln!(
            "hashsweep report: warning: matched files of list categories with no VICS number are exported as category 0 (their categories are in the HTML page and the CSV of matches): {:?}",
            v.unmapped
        );
    }
    Ok(serde_json::to_string_pretty(&v.json)? + "\n")
}
