//! What was swept: the summary paragraph a reader sees first, the case, the scan's
//! parameters and sets, and the totals.

use std::fmt::Write;

use serde_json::Value;

use super::{bars, cell, count, esc, listing, local_time, table, words};
use crate::report::ScanFacts;

/// The paragraph a reader sees first: what was swept, what matched (by list and
/// category), and what could not be read.
pub(super) fn summary_paragraph(out: &mut String, f: &ScanFacts) {
    let h = &f.header;
    let status = |k: &str| f.by_status.get(k).copied().unwrap_or(0);
    let sets = h["refsets"].as_array().map_or(0, Vec::len);
    let entries: u64 = h["refsets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["entries"].as_u64())
        .sum();
    let mut p = format!(
        "This scan recorded {} under <span class=mono>{}</span>: {} hashed, {} skipped (not pictures or videos, or links not followed), {} could not be read. It computed {}",
        count(f.files, "file"),
        esc(&words(&h["inputs"])),
        status("ok"),
        status("skipped"),
        status("error"),
        esc(&words(&h["algorithms"]).replace(' ', ", ")),
    );
    let digests: Vec<&str> = ["md5", "sha1", "sha256"]
        .into_iter()
        .filter(|d| h["parameters"]["digests"][d] == true)
        .collect();
    if !digests.is_empty() {
        let _ = write!(p, " and the digests {}", digests.join(", "));
    }
    if sets == 0 {
        p.push_str(". <b class=warn>No reference set was given: nothing was matched.</b>");
    } else {
        let _ = write!(
            p,
            " and matched against {} holding {entries} entries. ",
            count(sets, "reference set")
        );
        match f.matched_files() {
            0 => p.push_str("<b>No file matched a reference set.</b>"),
            n => {
                let _ = write!(
                    p,
                    "<b>{} matched</b> ({}); by list: {}",
                    count(n, "file"),
                    count(f.matches.len(), "match"),
                    listing(&f.files_by("list"))
                );
                let cats = f.files_by("category");
                if cats.keys().any(|k| k != "-") {
                    let _ = write!(p, "; by category: {}", listing(&cats));
                }
                p.push('.');
            }
        }
    }
    if status("error") > 0 {
        let _ = write!(
            p,
            " <b class=warn>{} could not be read</b>: see <a href='#errors'>Errors</a>.",
            count(status("error"), "file")
        );
    }
    if f.warned_total > 0 {
        let _ = write!(
            p,
            " {} hashed from damaged or padded data: see <a href='#warnings'>Warnings</a>.",
            count(f.warned_total, "file")
        );
    }
    if f.damaged_lines > 0 {
        let _ = write!(
            p,
            " <b class=warn>{} of the scan's outputs could not be read (damaged): this report shows less than the scan recorded.</b>",
            count(f.damaged_lines, "line")
        );
    }
    match &f.summary {
        None => p.push_str(
            " <b class=warn>The scan has not finished: this is what it had recorded.</b>",
        ),
        Some(s) if s["interrupted"] == true => p.push_str(
            " <b class=warn>The scan was interrupted; the files it had not reached are not in this report (resume it with --resume).</b>",
        ),
        Some(_) => {}
    }
    let _ = write!(out, "<p class=summary id=summary>{p}</p>");
}

pub(super) fn case_section(out: &mut String, f: &ScanFacts) {
    let h = &f.header;
    let fields = [
        ("Case", "case"),
        ("Examiner", "examiner"),
        ("Notes", "notes"),
    ];
    if fields.iter().all(|(_, k)| h[k].is_null()) {
        return;
    }
    out.push_str("<h2>Case</h2><table>");
    for (name, k) in fields {
        if let Some(v) = h[k].as_str() {
            let _ = write!(out, "<tr><th>{name}</th><td>{}</td></tr>", esc(v));
        }
    }
    out.push_str("</table>");
}

fn row(out: &mut String, name: &str, value: &str) {
    let _ = write!(out, "<tr><th>{name}</th><td>{value}</td></tr>");
}

pub(super) fn header_section(out: &mut String, f: &ScanFacts) {
    let h = &f.header;
    out.push_str("<h2>Scan</h2><table>");
    row(
        out,
        "output",
        &format!(
            "<span class=mono>{}</span>",
            esc(&f.output.display().to_string())
        ),
    );
    row(
        out,
        "inputs",
        &format!("<span class=mono>{}</span>", esc(&words(&h["inputs"]))),
    );
    row(
        out,
        "command",
        &format!("<span class=mono>{}</span>", esc(&words(&h["command"]))),
    );
    row(out, "tool", &cell(&h["tool"]));
    row(out, "machine", &cell(&h["host"]));
    row(out, "started", &esc(&local_time(f, h["started"].as_f64())));
    let finished = f.summary.as_ref().and_then(|s| s["finished"].as_f64());
    row(out, "finished", &esc(&local_time(f, finished)));
    row(out, "backend", &cell(&h["backend"]));
    let mut algos = esc(&words(&h["algorithms"]));
    for a in h["added_for_refs"].as_array().into_iter().flatten() {
        let _ = write!(
            algos,
            "<br>{} added for the set {}",
            cell(&a["hash"]),
            cell(&a["set"])
        );
    }
    row(out, "algorithms", &algos);
    row(
        out,
        "runs",
        &format!("{} (resumed {} times)", f.resumed_runs + 1, f.resumed_runs),
    );
    out.push_str(
        "</table><p>Times are the scanning machine's local time with its offset from UTC.</p>",
    );
    out.push_str(
        "<h3>Parameters</h3><table><tr><th>parameter</th><th>value</th><th>set by</th></tr>",
    );
    let mut params = vec![];
    flatten("", &h["parameters"], &mut params);
    for (k, v) in params {
        let flag = crate::scan::resume::flag_of(&k).unwrap_or("");
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=mono>{}</td><td class=mono>{flag}</td></tr>",
            esc(&k),
            esc(&v)
        );
    }
    out.push_str("</table>");
    out.push_str("<h3>Reference sets</h3><table><tr><th>path</th><th>algorithm</th><th>entries</th><th>checksum (BLAKE3)</th><th>checked</th></tr>");
    for s in h["refsets"].as_array().into_iter().flatten() {
        let checked = match s["verified_in_full"].as_bool() {
            Some(true) => "read in full by this scan",
            Some(false) => "unchanged since read in full (cache)",
            None => "not recorded",
        };
        let _ = write!(
            out,
            "<tr><td class=mono>{}</td><td>{}</td><td class=num>{}</td><td class=mono>{}</td><td>{checked}</td></tr>",
            cell(&s["path"]),
            cell(&s["algorithm"]),
            cell(&s["entries"]),
            cell(&s["checksum"])
        );
    }
    out.push_str("</table>");
}

/// Nested parameters as `a.b` rows, values as text.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        Value::Null => out.push((prefix.to_string(), "not set".into())),
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        x => out.push((prefix.to_string(), x.to_string())),
    }
}

pub(super) fn totals_section(out: &mut String, f: &ScanFacts) {
    let _ = write!(out, "<h2>Totals</h2><p>{} files recorded", f.files);
    match &f.summary {
        Some(s) => {
            let _ = write!(
                out,
                "; {:.1} s, {:.1} images/s.</p>",
                s["seconds"].as_f64().unwrap_or(0.0),
                s["images_per_s"].as_f64().unwrap_or(0.0)
            );
        }
        None => out.push_str(
            "; <b class=warn>the scan has not finished</b>: this is what it had recorded.</p>",
        ),
    }
    table(out, &f.by_status, "status");
    table(out, &f.by_format, "format");
    if !f.warnings.is_empty() {
        table(out, &f.warnings, "warning");
    }
    containers(out, f);
    if let Some(stages) = f
        .summary
        .as_ref()
        .and_then(|s| s["stage_seconds"].as_object())
    {
        out.push_str("<h3>Busy time per stage</h3><table><tr><th>stage</th><th>seconds</th></tr>");
        for (k, v) in stages {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=num>{:.2}</td></tr>",
                esc(k),
                v.as_f64().unwrap_or(0.0)
            );
        }
        out.push_str("</table>");
    }
    if !f.per_second.is_empty() {
        out.push_str(&bars(
            &f.per_second,
            "files recorded per second of the run",
            |i| format!("{i} s"),
        ));
    }
}

/// The containers opened and what was found inside them: the summary's counts, then each
/// container with its members by what became of them.
fn containers(out: &mut String, f: &ScanFacts) {
    if f.containers_total == 0 {
        return;
    }
    let _ = write!(out, "<h3>Containers ({})</h3>", f.containers_total);
    if let Some(c) = f.summary.as_ref().and_then(|s| s["containers"].as_object()) {
        let _ = write!(
            out,
            "<p>{} opened, {} not listed to the end; {} files inside: {} hashed, {} skipped, {} refused ({} encrypted); {} thumbnails ({} unlike their picture).</p>",
            c["opened"],
            c["failed"],
            c["entries"],
            c["hashed"],
            c["skipped"],
            c["refused"],
            c["encrypted"],
            c["thumbnails"],
            c["thumbnail_mismatches"]
        );
    }
    out.push_str("<table><tr><th>container</th><th>format</th><th>status</th><th>entries</th><th>hashed</th><th>refused</th><th>encrypted</th></tr>");
    for (path, format, status, c) in &f.containers {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td></tr>",
            esc(path),
            esc(format),
            esc(status),
            c["entries"],
            c["hashed"],
            c["refused"],
            c["encrypted"]
        );
    }
    out.push_str("</table>");
    if f.containers.len() < f.containers_total {
        let _ = write!(
            out,
            "<p>{} more containers: see the records.</p>",
            f.containers_total - f.containers.len()
        );
    }
}
