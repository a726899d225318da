//! The report as one self-contained HTML page: no network, no external script, style or
//! font; plots are inline SVG, and the table of matches sorts with a few lines of inline
//! script. Every value from the outputs is escaped. `scan` writes what was swept (summary,
//! case, parameters, sets, totals), `found` what was found (matches, warnings, groups,
//! errors).

mod found;
mod scan;

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use super::{GroupFacts, ScanFacts};
use found::{groups_section, matches_section, problems_section, warnings_section};
use scan::{case_section, header_section, summary_paragraph, totals_section};

/// Text for HTML, in element content and in quoted attributes of either kind.
pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub(super) fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => esc(s),
        v => esc(&v.to_string()),
    }
}

pub(super) const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:1200px}\
h1{font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}\
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ddd;\
padding:3px 6px;text-align:left;vertical-align:top}th{background:#f3f3f3;cursor:pointer}\
.num{text-align:right}.mono{font-family:monospace;word-break:break-all}\
.warn{color:#a40}svg text{font-size:11px;font-family:sans-serif}\
.summary{font-size:1.05em;line-height:1.5;background:#f6f8fa;border-left:4px solid #4a7ab5;\
padding:.6em 1em}dl.legend dt{font-weight:bold;float:left;clear:left;width:8em}\
dl.legend dd{margin-left:9em}";

/// Click a header to sort its table by that column (numbers as numbers).
pub(super) const SORT: &str = "document.querySelectorAll('table.sortable th').forEach((th,i)=>{\
th.onclick=()=>{const t=th.closest('table'),b=t.tBodies[0],r=[...b.rows],\
d=th.dataset.d=th.dataset.d==='a'?'d':'a';r.sort((x,y)=>{const p=x.cells[i].innerText,\
q=y.cells[i].innerText,n=parseFloat(p)-parseFloat(q);const c=isNaN(n)?p.localeCompare(q):n;\
return d==='a'?c:-c});r.forEach(e=>b.appendChild(e))}});";

pub(super) fn table(out: &mut String, rows: &BTreeMap<String, usize>, what: &str) {
    let _ = write!(out, "<table><tr><th>{}</th><th>files</th></tr>", esc(what));
    for (k, n) in rows {
        let _ = write!(out, "<tr><td>{}</td><td class=num>{n}</td></tr>", esc(k));
    }
    out.push_str("</table>");
}

/// A bar chart as inline SVG: one bar per value, labelled by `label(i)` every few bars.
pub(super) fn bars(values: &[u32], title: &str, label: impl Fn(usize) -> String) -> String {
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
pub(super) fn local_time(f: &ScanFacts, unix: Option<f64>) -> String {
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

pub(super) fn words(v: &Value) -> String {
    v.as_array().map_or(String::new(), |a| {
        a.iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), String::from))
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// `n thing` or `n things` (`n matches`).
pub(super) fn count(n: usize, thing: &str) -> String {
    match (n, thing.ends_with(['s', 'h'])) {
        (1, _) => format!("1 {thing}"),
        (_, true) => format!("{n} {thing}es"),
        _ => format!("{n} {thing}s"),
    }
}

/// `a 3, b 1` from counts.
pub(super) fn listing(rows: &BTreeMap<String, usize>) -> String {
    rows.iter()
        .map(|(k, n)| format!("{} {n}", esc(k)))
        .collect::<Vec<_>>()
        .join(", ")
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
}
