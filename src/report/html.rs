//! The report as one self-contained HTML page: no network, no external script, style or
//! font; plots are inline SVG, and the table of matches sorts with a few lines of inline
//! script. Every value from the outputs is escaped.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use super::{GroupFacts, MAX_LISTED_PROBLEMS, ScanFacts};

/// Text for HTML, in element content and in quoted attributes of either kind.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => esc(s),
        v => esc(&v.to_string()),
    }
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:1200px}\
h1{font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}\
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ddd;\
padding:3px 6px;text-align:left;vertical-align:top}th{background:#f3f3f3;cursor:pointer}\
.num{text-align:right}.mono{font-family:monospace;word-break:break-all}\
.warn{color:#a40}svg text{font-size:11px;font-family:sans-serif}\
.summary{font-size:1.05em;line-height:1.5;background:#f6f8fa;border-left:4px solid #4a7ab5;\
padding:.6em 1em}dl.legend dt{font-weight:bold;float:left;clear:left;width:8em}\
dl.legend dd{margin-left:9em}";

/// Click a header to sort its table by that column (numbers as numbers).
const SORT: &str = "document.querySelectorAll('table.sortable th').forEach((th,i)=>{\
th.onclick=()=>{const t=th.closest('table'),b=t.tBodies[0],r=[...b.rows],\
d=th.dataset.d=th.dataset.d==='a'?'d':'a';r.sort((x,y)=>{const p=x.cells[i].innerText,\
q=y.cells[i].innerText,n=parseFloat(p)-parseFloat(q);const c=isNaN(n)?p.localeCompare(q):n;\
return d==='a'?c:-c});r.forEach(e=>b.appendChild(e))}});";

fn table(out: &mut String, rows: &BTreeMap<String, usize>, what: &str) {
    let _ = write!(out, "<table><tr><th>{}</th><th>files</th></tr>", esc(what));
    for (k, n) in rows {
        let _ = write!(out, "<tr><td>{}</td><td class=num>{n}</td></tr>", esc(k));
    }
    out.push_str("</table>");
}

/// A bar chart as inline SVG: one bar per value, labelled by `label(i)` every few bars.
fn bars(values: &[u32], title: &str, label: impl Fn(usize) -> String) -> String {
    let (w, h, pad) = (900.0, 180.0, 30.0);
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = values.len().max(1) as f64;
    let bw = (w - 2.0 * pad) / n;
    let mut s = format!(
        "<svg width='{w}' height='{}' role='img' aria-label='{}'><text x='{pad}' y='14'>{}</text>",
        h + 20.0,
        esc(title),
        esc(title)
    );
    let every = (values.len() / 12).max(1);
    for (i, &v) in values.iter().enumerate() {
        let bh = (v as f64 / max) * (h - 40.0);
        let x = pad + i as f64 * bw;
        let _ = write!(
            s,
            "<rect x='{x:.1}' y='{:.1}' width='{:.1}' height='{bh:.1}' fill='#4a7ab5'><title>{}: {v}</title></rect>",
            h - bh,
            (bw - 1.0).max(1.0),
            esc(&label(i))
        );
        if i % every == 0 {
            let _ = write!(
                s,
                "<text x='{x:.1}' y='{}'>{}</text>",
                h + 14.0,
                esc(&label(i))
            );
        }
    }
    let _ = write!(
        s,
        "<text x='0' y='{}'>{max}</text></svg>",
        h - (h - 40.0) + 4.0
    );
    s
}

/// A time recorded in Unix seconds, as ISO 8601 with the scanning machine's UTC offset at
/// that moment. Its zone's rules are known here when this machine's offset at the scan's
/// start is the one the scan recorded (the usual case: a report made where the scan ran);
/// then each time gets its own offset (a file modified before a change to summer time
/// keeps winter's). Otherwise every time gets the offset recorded at the start.
fn local_time(f: &ScanFacts, unix: Option<f64>) -> String {
    let recorded = f.header["utc_offset_s"].as_i64().unwrap_or(0);
    let started = f.header["started"].as_f64().unwrap_or(0.0);
    let same_zone = crate::clock::local_offset(started) == recorded;
    unix.map_or_else(String::new, |t| {
        let offset = if same_zone {
            crate::clock::local_offset(t)
        } else {
            recorded
        };
        crate::clock::iso8601(t, offset)
    })
}

fn words(v: &Value) -> String {
    v.as_array().map_or(String::new(), |a| {
        a.iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), String::from))
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// `n thing` or `n things` (`n matches`).
fn count(n: usize, thing: &str) -> String {
    match (n, thing.ends_with(['s', 'h'])) {
        (1, _) => format!("1 {thing}"),
        (_, true) => format!("{n} {thing}es"),
        _ => format!("{n} {thing}s"),
    }
}

/// `a 3, b 1` from counts.
fn listing(rows: &BTreeMap<String, usize>) -> String {
    rows.iter()
        .map(|(k, n)| format!("{} {n}", esc(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The paragraph a reader sees first: what was swept, what matched (by list and
/// category), and what could not be read.
fn summary_paragraph(out: &mut String, f: &ScanFacts) {
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

fn case_section(out: &mut String, f: &ScanFacts) {
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

fn header_section(out: &mut String, f: &ScanFacts) {
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

fn totals_section(out: &mut String, f: &ScanFacts) {
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

/// Bytes as base64 (RFC 4648, padded), for inline `data:` images.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A small inline PNG of a matched image (its longer side 96 px), or nothing for a video or
/// a file that no longer decodes.
fn thumbnail(path: &str) -> String {
    let Ok(d) = crate::decode::decode_file(std::path::Path::new(path), &Default::default()) else {
        return String::new();
    };
    let f = &d.frame;
    let Some(img) = image::RgbImage::from_raw(f.width(), f.height(), f.rgb().to_vec()) else {
        return String::new();
    };
    let small = image::DynamicImage::ImageRgb8(img).thumbnail(96, 96);
    let mut png = std::io::Cursor::new(vec![]);
    if small.write_to(&mut png, image::ImageFormat::Png).is_err() {
        return String::new();
    }
    format!(
        "<img alt='' src='data:image/png;base64,{}'>",
        base64(png.get_ref())
    )
}

/// What a match's variant and box mean, for the legend under the table.
const VARIANTS: [(&str, &str); 10] = [
    ("original", "the file as stored matched"),
    (
        "rot90, rot180, rot270",
        "the file turned by 90, 180 or 270 degrees matched: it is a rotated copy",
    ),
    (
        "flipx",
        "the file mirrored top to bottom (about the horizontal axis) matched",
    ),
    (
        "flipy",
        "the file mirrored left to right (about the vertical axis) matched",
    ),
    (
        "flipplus1",
        "the file mirrored about its main diagonal (transposed) matched",
    ),
    (
        "flipminus1",
        "the file mirrored about its other diagonal matched",
    ),
    ("box whole", "the whole picture matched"),
    (
        "box trimmed",
        "the picture inside added borders (letterbox, pillarbox, padding) matched (--trim-borders)",
    ),
    (
        "kind md5, sha1, sha256",
        "the file's bytes are exactly those of a listed file",
    ),
    (
        "kind pdq, phash",
        "the picture is within the distance of a listed picture's perceptual hash",
    ),
];

fn matches_section(out: &mut String, f: &ScanFacts, thumbnails: bool) {
    let _ = write!(
        out,
        "<h2 id=matches-head>Matches: {} in {}</h2>",
        f.matches.len(),
        count(f.matched_files(), "file")
    );
    if f.matches.is_empty() {
        out.push_str("<p>No file matched a reference set.</p>");
        return;
    }
    out.push_str("<h3>Matched files by list, category and kind</h3>");
    table(out, &f.files_by("list"), "list");
    table(out, &f.files_by("category"), "category");
    table(out, &f.files_by("kind"), "kind");
    // Distances are at most 256 bits; anything else in a hand-edited file is left out.
    let distances: Vec<usize> = f
        .matches
        .iter()
        .filter_map(|m| m["distance"].as_u64())
        .filter(|&d| d <= 256)
        .map(|d| d as usize)
        .collect();
    let mut hist = vec![0u32; 1 + distances.iter().copied().max().unwrap_or(0)];
    for d in distances {
        hist[d] += 1;
    }
    out.push_str(&bars(&hist, "matches by distance (bits)", |i| {
        i.to_string()
    }));
    let thumb_head = if thumbnails { "<th>image</th>" } else { "" };
    let _ = write!(
        out,
        "<table class=sortable id=matches><thead><tr>{thumb_head}<th>path</th><th>modified</th><th>md5</th><th>sha1</th><th>kind</th>\
         <th>distance</th><th>variant</th><th>box</th><th>list</th><th>entry id</th><th>category</th><th>label</th></tr></thead><tbody>",
    );
    for m in &f.matches {
        let file = f.matched.get(m["path"].as_str().unwrap_or_default());
        let id = if m["list_id"].is_null() {
            &m["entry_id"]
        } else {
            &m["list_id"]
        };
        if thumbnails {
            let _ = write!(
                out,
                "<tr><td>{}</td>",
                thumbnail(m["path"].as_str().unwrap_or_default())
            );
        } else {
            out.push_str("<tr>");
        }
        let _ = write!(
            out,
            "<td class=mono>{}</td><td>{}</td><td class=mono>{}</td><td class=mono>{}</td><td>{}</td><td class=num>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td class=mono>{}</td><td>{}</td><td>{}</td></tr>",
            cell(&m["path"]),
            esc(&local_time(f, file.and_then(|l| l.mtime))),
            esc(file.and_then(|l| l.md5.as_deref()).unwrap_or("")),
            esc(file.and_then(|l| l.sha1.as_deref()).unwrap_or("")),
            cell(&m["kind"]),
            cell(&m["distance"]),
            cell(&m["variant"]),
            cell(&m["box"]),
            cell(&m["list"]),
            cell(id),
            cell(&m["category"]),
            cell(&m["label"]),
        );
    }
    out.push_str("</tbody></table><h3>What the columns say</h3><dl class=legend>");
    for (name, meaning) in VARIANTS {
        let _ = write!(out, "<dt>{name}</dt><dd>{meaning}</dd>");
    }
    out.push_str("<dt>distance</dt><dd>bits that differ between the file's hash and the listed one (0 for digests)</dd></dl>");
}

/// Files hashed from data a decoder recovered: a truncated file, data after the image.
fn warnings_section(out: &mut String, f: &ScanFacts) {
    if f.warned_total == 0 {
        return;
    }
    let _ = write!(
        out,
        "<h2 id=warnings>Files hashed with warnings: {}</h2><p>Each was hashed from what could be decoded; a match on it holds for that part.</p>",
        f.warned_total
    );
    if f.warned_total > f.warned.len() {
        let _ = write!(
            out,
            "<p>The first {} are listed; the output holds them all.</p>",
            f.warned.len()
        );
    }
    out.push_str(
        "<table class=sortable><thead><tr><th>path</th><th>warnings</th></tr></thead><tbody>",
    );
    for w in &f.warned {
        let _ = write!(
            out,
            "<tr><td class=mono>{}</td><td>{}</td></tr>",
            esc(&w.path),
            esc(&w.warnings.join("; "))
        );
    }
    out.push_str("</tbody></table>");
}

fn problems_section(out: &mut String, f: &ScanFacts) {
    let _ = write!(
        out,
        "<h2 id=errors>Errors and skipped files: {}</h2>",
        f.problems_total
    );
    if f.problems_total > MAX_LISTED_PROBLEMS {
        let _ = write!(
            out,
            "<p>The first {MAX_LISTED_PROBLEMS} are listed; the output holds them all.</p>"
        );
    }
    out.push_str("<table class=sortable><thead><tr><th>path</th><th>status</th><th>reason</th></tr></thead><tbody>");
    for p in &f.problems {
        let _ = write!(
            out,
            "<tr><td class=mono>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.path),
            esc(&p.status),
            esc(&p.reason)
        );
    }
    out.push_str("</tbody></table>");
}

/// Near-duplicate series from `hashsweep cluster`, largest first: each member's label and
/// distance to its group's centre (the first member).
fn groups_section(out: &mut String, g: &GroupFacts) {
    let members: u64 = g.groups.iter().filter_map(|x| x["size"].as_u64()).sum();
    let _ = write!(out, "<h2>Near-duplicate groups: {}</h2>", g.total);
    if let Some(s) = &g.summary {
        let _ = write!(
            out,
            "<p>{} hashes, grouped as {} within {} bits{}; {} groups hold {} hashes.</p>",
            cell(&s["hashes"]),
            cell(&s["grouping"]),
            cell(&s["max_distance"]),
            if s["dihedral"] == true {
                ", rotations and mirrors included"
            } else {
                ""
            },
            cell(&s["groups"]),
            cell(&s["grouped"]),
        );
    }
    if g.total > g.groups.len() {
        let _ = write!(
            out,
            "<p>The {} largest are listed ({members} hashes); the file holds them all.</p>",
            g.groups.len()
        );
    }
    out.push_str("<table class=sortable><thead><tr><th>group</th><th>size</th><th>centre</th><th>members (distance to the centre)</th></tr></thead><tbody>");
    for grp in &g.groups {
        let list: Vec<String> = grp["members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| format!("{} ({})", cell(&m["label"]), cell(&m["distance"])))
            .collect();
        let _ = write!(
            out,
            "<tr><td class=num>{}</td><td class=num>{}</td><td class=mono>{}</td><td class=mono>{}</td></tr>",
            cell(&grp["group"]),
            cell(&grp["size"]),
            cell(&grp["centre"]),
            list.join("<br>")
        );
    }
    out.push_str("</tbody></table>");
}

/// The whole page. No image is shown unless `thumbnails` (then only matched files).
/// `groups`: a `cluster` output's near-duplicate groups, listed after the matches.
pub fn html(f: &ScanFacts, thumbnails: bool, groups: Option<&GroupFacts>) -> String {
    let title = format!("hashsweep report: {}", f.output.display());
    let mut out = format!(
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{}</title><style>{STYLE}</style></head><body><h1>{}</h1>",
        esc(&title),
        esc(&title)
    );
    summary_paragraph(&mut out, f);
    case_section(&mut out, f);
    header_section(&mut out, f);
    matches_section(&mut out, f, thumbnails);
    warnings_section(&mut out, f);
    if let Some(g) = groups {
        groups_section(&mut out, g);
    }
    problems_section(&mut out, f);
    totals_section(&mut out, f);
    let _ = writeln!(out, "<script>{SORT}</script></body></html>");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_escaped_for_content_and_both_quotes() {
        assert_eq!(super::esc("a'b\"<c>&"), "a&#39;b&quot;&lt;c&gt;&amp;");
    }

    #[test]
    fn base64_is_rfc_4648() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }
}
