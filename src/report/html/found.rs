//! What was found: the matches with their legend, the files hashed with warnings, the
//! near-duplicate groups and the files that could not be read.

use std::fmt::Write;

use super::{bars, cell, count, esc, local_time, table};
use crate::report::{GroupFacts, MAX_LISTED_PROBLEMS, ScanFacts};

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

pub(super) fn matches_section(out: &mut String, f: &ScanFacts, thumbnails: bool) {
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
pub(super) fn warnings_section(out: &mut String, f: &ScanFacts) {
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

pub(super) fn problems_section(out: &mut String, f: &ScanFacts) {
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
pub(super) fn groups_section(out: &mut String, g: &GroupFacts) {
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

#[cfg(test)]
mod tests {
    #[test]
    fn base64_is_rfc_4648() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }
}
