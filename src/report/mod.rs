//! What a scan found, for people and for review tools: one self-contained HTML page, a
//! VICS 1.3 Media file, or a flat CSV of matches. Reads a scan's JSONL output (a merged one,
//! or one still being written: what is recorded so far) and its matches file, streaming the
//! records and keeping only counts, matched files and the error list.

pub mod groups;
mod html;
mod vics;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

pub use groups::{GroupFacts, read_groups};
pub use html::html;
pub use vics::{matches_csv, vics};

/// Rows kept for the report's error table; beyond it, the count says how many more.
pub const MAX_LISTED_PROBLEMS: usize = 5000;

/// A file the report lists: matched, failed or skipped.
#[derive(Debug, Clone, Default)]
pub struct Listed {
    pub path: String,
    pub status: String,
    pub reason: String,
    pub size: Option<u64>,
    pub md5: Option<String>,
    pub sha1: Option<String>,
}

/// Everything a report shows, gathered in one pass over the outputs.
#[derive(Debug, Default)]
pub struct ScanFacts {
    pub output: PathBuf,
    /// The first header: what was run.
    pub header: Value,
    /// The last summary, absent while the scan is still running.
    pub summary: Option<Value>,
    pub resumed_runs: usize,
    pub files: usize,
    pub by_status: BTreeMap<String, usize>,
    pub by_format: BTreeMap<String, usize>,
    pub warnings: BTreeMap<String, usize>,
    pub matches: Vec<Value>,
    /// Matched files by path: their digests and size for the table and the VICS file.
    pub matched: HashMap<String, Listed>,
    pub problems: Vec<Listed>,
    pub problems_total: usize,
    /// Files recorded per second of the run, second by second (resumed runs after it).
    pub per_second: Vec<u32>,
    /// Every file record, for the VICS export (paths, sizes, digests).
    pub all_files: Vec<Listed>,
}

fn text(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

/// Read a scan's output and matches. `keep_all` keeps every file (the VICS export needs
/// them); the HTML page keeps only what it lists.
pub fn gather(output: &Path, keep_all: bool) -> anyhow::Result<ScanFacts> {
    let mut f = ScanFacts {
        output: output.to_path_buf(),
        ..ScanFacts::default()
    };
    let mpath = crate::scan::matches_path(output);
    if let Ok(m) = std::fs::File::open(&mpath) {
        for line in BufReader::new(m).lines() {
            let line = line.with_context(|| format!("reading {}", mpath.display()))?;
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                f.matches.push(v);
            }
        }
    }
    for m in &f.matches {
        f.matched.insert(text(m, "path"), Listed::default());
    }
    let file =
        std::fs::File::open(output).with_context(|| format!("cannot read {}", output.display()))?;
    let mut offset = 0.0;
    let mut run_end: f64 = 0.0;
    for line in BufReader::new(file).lines() {
        let line = line.with_context(|| format!("reading {}", output.display()))?;
        // A torn last line of a scan still running is not a record yet.
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        match v["type"].as_str() {
            Some("header") => {
                if f.header.is_null() {
                    f.header = v;
                } else {
                    f.resumed_runs += 1;
                    offset += run_end.ceil();
                    run_end = 0.0;
                }
            }
            Some("summary") => f.summary = Some(v),
            Some("file") => {
                let t = v["elapsed_s"].as_f64().unwrap_or(0.0);
                run_end = run_end.max(t);
                f.add_file(&v, offset + t, keep_all);
            }
            _ => {}
        }
    }
    Ok(f)
}

impl ScanFacts {
    fn add_file(&mut self, v: &Value, at: f64, keep_all: bool) {
        self.files += 1;
        let status = text(v, "status");
        *self.by_status.entry(status.clone()).or_default() += 1;
        let format = v["format"].as_str().unwrap_or("none").to_string();
        *self.by_format.entry(format).or_default() += 1;
        for w in v["warnings"].as_array().into_iter().flatten() {
            let code = crate::decode::integrity::code(w.as_str().unwrap_or_default());
            *self.warnings.entry(code.to_string()).or_default() += 1;
        }
        // A run of more than a day is plotted to its first day; a hand-edited time cannot
        // make the plot huge.
        let second = (at.max(0.0) as usize).min(86_400);
        if self.per_second.len() <= second {
            self.per_second.resize(second + 1, 0);
        }
        self.per_second[second] += 1;
        let listed = Listed {
            path: text(v, "path"),
            status: status.clone(),
            reason: text(v, "reason"),
            size: v["size"].as_u64(),
            md5: v["md5"].as_str().map(String::from),
            sha1: v["sha1"].as_str().map(String::from),
        };
        if let Some(m) = self.matched.get_mut(&listed.path) {
            *m = listed.clone();
        }
        if status != "ok" {
            self.problems_total += 1;
            if self.problems.len() < MAX_LISTED_PROBLEMS {
                self.problems.push(listed.clone());
            }
        }
        if keep_all {
            self.all_files.push(listed);
        }
    }

    /// Matches counted by a field (`list`, `category`, `kind`), `-` where absent.
    pub fn matches_by(&self, key: &str) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for m in &self.matches {
            let k = m[key]
                .as_str()
                .map_or_else(|| "-".to_string(), String::from);
            *out.entry(k).or_default() += 1;
        }
        out
    }
}
