//! What a scan found, for people and for review tools: one self-contained HTML page, a
//! VICS 1.3 Media file, or a flat CSV of matches. Reads a scan's output in either format it
//! writes (JSONL, or CSV with its `.meta.jsonl`; a merged one, or one still being written:
//! what is recorded so far) and its matches file, keeping only counts, matched files and
//! the files to list. Anything else is refused, never reported as an empty scan.

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
pub use vics::{VicsError, VicsExport, matches_csv, vics};

/// Rows kept for the report's error table; beyond it, the count says how many more.
pub const MAX_LISTED_PROBLEMS: usize = 5000;

/// A file the report lists: matched, failed, skipped or hashed with warnings.
#[derive(Debug, Clone, Default)]
pub struct Listed {
    pub path: String,
    pub status: String,
    pub reason: String,
    pub size: Option<u64>,
    pub mtime: Option<f64>,
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub warnings: Vec<String>,
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
    /// Files hashed from damaged or padded data, by name (at most `MAX_LISTED_PROBLEMS`).
    pub warned: Vec<Listed>,
    pub warned_total: usize,
    /// Files recorded per second of the run, second by second (resumed runs after it);
    /// empty for a CSV output, whose rows do not say when they were written.
    pub per_second: Vec<u32>,
    /// Containers (archives, compressed files, documents): path, format, status and
    /// what their members became (at most `MAX_LISTED_PROBLEMS`).
    pub containers: Vec<(String, String, String, Value)>,
    pub containers_total: usize,
    /// Every file record, for the VICS export (paths, sizes, digests).
    pub all_files: Vec<Listed>,
    /// Lines of the outputs that could not be read (not a torn last line): the report then
    /// shows less than the scan recorded, and says so.
    pub damaged_lines: usize,
}

fn text(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

/// Where a scan's records are, in the format it wrote them.
struct Located {
    records: PathBuf,
    csv: bool,
}

/// The scan output `given` names, or why it is none: a report must never be blank for an
/// input it could not read. A `.meta.jsonl` stands for the CSV output beside it; a
/// `.matches.jsonl` is refused with the name of the output it belongs to.
fn locate(given: &Path) -> anyhow::Result<Located> {
    let name = given
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    if let Some(stem) = name.strip_suffix(".matches.jsonl") {
        anyhow::bail!(
            "{} holds a scan's matches; give the scan's output ({stem}.jsonl or {stem}.csv): the report reads both",
            given.display()
        );
    }
    if let Some(stem) = name.strip_suffix(".meta.jsonl") {
        let csv = given.with_file_name(format!("{stem}.csv"));
        anyhow::ensure!(
            csv.is_file(),
            "{} holds the header and summary of a CSV scan output, and {} is not there",
            given.display(),
            csv.display()
        );
        return Ok(Located {
            records: csv,
            csv: true,
        });
    }
    let mut first = String::new();
    let f =
        std::fs::File::open(given).with_context(|| format!("cannot read {}", given.display()))?;
    BufReader::new(f)
        .read_line(&mut first)
        .with_context(|| format!("cannot read {}", given.display()))?;
    let first = first.trim_end();
    if first == crate::scan::record::csv_header() || first.starts_with("path,path_escaped,") {
        return Ok(Located {
            records: given.to_path_buf(),
            csv: true,
        });
    }
    let header = serde_json::from_str::<Value>(first).ok();
    anyhow::ensure!(
        header.is_some_and(|h| h["type"] == "header"),
        "{} is not a hashsweep scan output (it does not begin with a scan's header record{})",
        given.display(),
        if first.is_empty() {
            "; it is empty"
        } else {
            ""
        }
    );
    Ok(Located {
        records: given.to_path_buf(),
        csv: false,
    })
}

/// Read a scan's output (JSONL, or CSV with its `.meta.jsonl`) and matches. `keep_all`
/// keeps every file (the VICS export needs them); the HTML page keeps only what it lists.
pub fn gather(output: &Path, keep_all: bool) -> anyhow::Result<ScanFacts> {
    let at = locate(output)?;
    let mut f = ScanFacts {
        output: at.records.clone(),
        ..ScanFacts::default()
    };
    let mpath = crate::scan::matches_path(&at.records);
    if mpath.exists() {
        let mut damaged = Damaged::default();
        each_json_line(&mpath, &mut damaged, |v| f.matches.push(v))?;
        f.damaged_lines += damaged.count();
    }
    for m in &f.matches {
        f.matched.insert(text(m, "path"), Listed::default());
    }
    let mut runs = Runs::default();
    let mut damaged = Damaged::default();
    if at.csv {
        let meta = crate::scan::meta_path(&at.records);
        anyhow::ensure!(
            meta.exists(),
            "a CSV scan output needs {} beside it",
            meta.display()
        );
        let mut meta_damaged = Damaged::default();
        each_json_line(&meta, &mut meta_damaged, |v| f.add(v, &mut runs, keep_all))?;
        f.damaged_lines += meta_damaged.count();
        each_csv_record(&at.records, &mut damaged, |v| f.add(v, &mut runs, keep_all))?;
    } else {
        each_json_line(&at.records, &mut damaged, |v| f.add(v, &mut runs, keep_all))?;
    }
    f.damaged_lines += damaged.count();
    anyhow::ensure!(
        !f.header.is_null(),
        "{} holds no scan header record",
        output.display()
    );
    Ok(f)
}

/// Lines that could not be read. The last line of a scan still running may be torn, and is
/// not a record yet; any other is damage, and is counted.
#[derive(Default)]
struct Damaged {
    seen: usize,
    /// Bad lines since the last good one.
    pending: usize,
}

impl Damaged {
    fn good(&mut self) {
        self.seen += self.pending;
        self.pending = 0;
    }

    fn bad(&mut self) {
        self.pending += 1;
    }

    /// Bad lines but a torn last one.
    fn count(&self) -> usize {
        self.seen + self.pending.saturating_sub(1)
    }
}

/// Each JSON record of a file, one per line, streamed (an output of millions of files is
/// never held whole).
fn each_json_line(
    path: &Path,
    damaged: &mut Damaged,
    mut each: impl FnMut(Value),
) -> anyhow::Result<()> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    for line in BufReader::new(file).split(b'\n') {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        match serde_json::from_slice::<Value>(&line) {
            Ok(v) => {
                damaged.good();
                each(v);
            }
            Err(_) if line.iter().all(u8::is_ascii_whitespace) => {}
            Err(_) => damaged.bad(),
        }
    }
    Ok(())
}

/// Each row of a CSV output as the record the JSONL form holds (file records only; the
/// header and summary are in the `.meta.jsonl`), streamed.
fn each_csv_record(
    path: &Path,
    damaged: &mut Damaged,
    mut each: impl FnMut(Value),
) -> anyhow::Result<()> {
    let mut rows = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let header = rows.headers()?.clone();
    for row in rows.records() {
        let row = match row {
            Ok(r) if r.len() == header.len() => r,
            _ => {
                damaged.bad();
                continue;
            }
        };
        damaged.good();
        let mut v = serde_json::json!({"type": "file"});
        for (k, cell) in header.iter().zip(row.iter()).filter(|(_, c)| !c.is_empty()) {
            v[k] = match k {
                "size" | "width" | "height" | "quality" | "frames" => {
                    cell.parse::<u64>().map_or(Value::Null, Value::from)
                }
                "mtime" => cell.parse::<f64>().map_or(Value::Null, Value::from),
                "path_escaped" => Value::Bool(cell == "true"),
                "warnings" => cell.split("; ").map(Value::from).collect(),
                _ => Value::from(cell),
            };
        }
        each(v);
    }
    Ok(())
}

/// Where the records of each run fall in time (a resumed run's after the ones before).
#[derive(Default)]
struct Runs {
    offset: f64,
    end: f64,
}

impl ScanFacts {
    fn add(&mut self, v: Value, runs: &mut Runs, keep_all: bool) {
        match v["type"].as_str() {
            Some("header") => {
                if self.header.is_null() {
                    self.header = v;
                } else {
                    self.resumed_runs += 1;
                    runs.offset += runs.end.ceil();
                    runs.end = 0.0;
                    // The run this header starts has no summary until it writes one.
                    self.summary = None;
                }
            }
            Some("summary") => self.summary = Some(v),
            Some("file") => {
                let t = v["elapsed_s"].as_f64();
                runs.end = runs.end.max(t.unwrap_or(0.0));
                self.add_file(&v, t.map(|t| runs.offset + t), keep_all);
            }
            _ => {}
        }
    }

    fn add_file(&mut self, v: &Value, at: Option<f64>, keep_all: bool) {
        self.files += 1;
        let status = text(v, "status");
        *self.by_status.entry(status.clone()).or_default() += 1;
        let format = v["format"].as_str().unwrap_or("none").to_string();
        *self.by_format.entry(format).or_default() += 1;
        let warnings: Vec<String> = v["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str().map(String::from))
            .collect();
        for w in &warnings {
            let code = crate::decode::integrity::code(w);
            *self.warnings.entry(code.to_string()).or_default() += 1;
        }
        if let Some(at) = at {
            // A run of more than a day is plotted to its first day; a hand-edited time
            // cannot make the plot huge.
            let second = (at.max(0.0) as usize).min(86_400);
            if self.per_second.len() <= second {
                self.per_second.resize(second + 1, 0);
            }
            self.per_second[second] += 1;
        }
        let listed = Listed {
            path: text(v, "path"),
            status: status.clone(),
            reason: text(v, "reason"),
            size: v["size"].as_u64(),
            mtime: v["mtime"].as_f64(),
            md5: v["md5"].as_str().map(String::from),
            sha1: v["sha1"].as_str().map(String::from),
            warnings,
        };
        if let Some(m) = self.matched.get_mut(&listed.path) {
            *m = listed.clone();
        }
        if v["contents"].is_object() {
            self.containers_total += 1;
            if self.containers.len() < MAX_LISTED_PROBLEMS {
                let format = text(v, "format");
                let entry = (
                    listed.path.clone(),
                    format,
                    status.clone(),
                    v["contents"].clone(),
                );
                self.containers.push(entry);
            }
        }
        // An archive listed to its end is no problem; its members have records of their own.
        if status != "ok" && status != "opened" {
            self.problems_total += 1;
            if self.problems.len() < MAX_LISTED_PROBLEMS {
                self.problems.push(listed.clone());
            }
        }
        if !listed.warnings.is_empty() {
            self.warned_total += 1;
            if self.warned.len() < MAX_LISTED_PROBLEMS {
                self.warned.push(listed.clone());
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

    /// Distinct files with at least one match, counted by a field of their matches (a file
    /// matched by two lists counts once under each). An entry of a plain list, which names
    /// no list, counts under its set's file name.
    pub fn files_by(&self, key: &str) -> BTreeMap<String, usize> {
        let mut seen = std::collections::HashSet::new();
        let mut out = BTreeMap::new();
        for m in &self.matches {
            let set_name = || {
                let set = text(m, "refset");
                let name = Path::new(&set)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned());
                name.unwrap_or(set)
            };
            let k = match (m[key].as_str(), key) {
                (Some(v), _) => v.to_string(),
                (None, "list") => set_name(),
                (None, _) => "-".to_string(),
            };
            if seen.insert((text(m, "path"), k.clone())) {
                *out.entry(k).or_default() += 1;
            }
        }
        out
    }

    /// Distinct files with at least one match.
    pub fn matched_files(&self) -> usize {
        self.matched.len()
    }
}
