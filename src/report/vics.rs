//! Exports for review tools: VICS 1.3 Media JSON of the scanned files, and a flat CSV of
//! the matches.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::ScanFacts;

/// VICS categories as Project VIC's scheme numbers them (0 uncategorised to 4); a list
/// category outside it (NCMEC's `A1`, a free word) has no VICS number.
const VICS_CATEGORIES: std::ops::RangeInclusive<u64> = 0..=4;

/// A VICS export and what it could not carry, for the caller to say.
pub struct VicsExport {
    pub json: Value,
    /// Files recorded without MD5 or SHA-1, which VICS Media cannot name; left out.
    pub without_digests: usize,
    /// Exported files without one of the two (`MD5`, `SHA1`), by the one they lack: that
    /// key is left out of their Media.
    pub missing: BTreeMap<&'static str, usize>,
    /// Matched files whose list categories have no VICS number, by category: exported as
    /// category 0, their own category in the HTML report and the CSV of matches.
    pub unmapped: BTreeMap<String, usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum VicsError {
    #[error(
        "the scan recorded no MD5 or SHA-1 digest ({files} files): VICS Media are named by them; scan again with --digest md5,sha1"
    )]
    NoDigests { files: usize },
}

/// A file's VICS category from its matches: the lowest non-zero VICS number among its
/// lists' categories (1 is the gravest), else 0; and the categories with no VICS number.
fn category_of(matches: &[&Value]) -> (u64, Vec<String>) {
    let mut best: Option<u64> = None;
    let mut unmapped = vec![];
    for c in matches.iter().filter_map(|m| m["category"].as_str()) {
        match c.trim().parse::<u64>() {
            Ok(n) if VICS_CATEGORIES.contains(&n) => {
                if n > 0 {
                    best = Some(best.map_or(n, |b| b.min(n)));
                }
            }
            _ => unmapped.push(c.to_string()),
        }
    }
    (best.unwrap_or(0), unmapped)
}

/// VICS 1.3 Media JSON: one Media per scanned file with its digests, its size, its path
/// relative to the scan's inputs and, when it matched entries whose lists give one, their
/// VICS category. `refs build` reads it back. A scan without digests has nothing VICS can
/// name: refused.
pub fn vics(f: &ScanFacts) -> Result<VicsExport, VicsError> {
    let mut by_path: HashMap<&str, Vec<&Value>> = HashMap::new();
    for m in &f.matches {
        if let Some(p) = m["path"].as_str() {
            by_path.entry(p).or_default().push(m);
        }
    }
    let named = |l: &&super::Listed| l.md5.is_some() || l.sha1.is_some();
    let with: Vec<&super::Listed> = f.all_files.iter().filter(named).collect();
    if with.is_empty() && !f.all_files.is_empty() {
        return Err(VicsError::NoDigests {
            files: f.all_files.len(),
        });
    }
    let inputs: Vec<String> = f.header["inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(String::from))
        .collect();
    let mut unmapped = BTreeMap::new();
    let mut missing = BTreeMap::new();
    let media: Vec<Value> = with
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let (cat, other) = category_of(by_path.get(l.path.as_str()).map_or(&[], |v| v));
            for c in other {
                *unmapped.entry(c).or_insert(0) += 1;
            }
            let rel = relative(&l.path, &inputs);
            let name = rel.rsplit('/').next().unwrap_or(&rel).to_string();
            let mut file = json!({"FileName": name, "RelativeFilePath": rel});
            let mut m = json!({"MediaID": i + 1, "Category": cat, "MediaSize": l.size});
            for (key, digest) in [("MD5", &l.md5), ("SHA1", &l.sha1)] {
                match digest {
                    Some(d) => m[key] = json!(d.to_ascii_uppercase()),
                    None => *missing.entry(key).or_insert(0) += 1,
                }
            }
            if let Some(d) = &l.md5 {
                file["MD5"] = json!(d.to_ascii_uppercase());
            }
            m["MediaFiles"] = json!([file]);
            m
        })
        .collect();
    Ok(VicsExport {
        json: json!({
            "odata.metadata": "http://github.com/VICSDATAMODEL/ProjectVic.DataModel.V1.3.xml#Media",
            "value": media,
        }),
        without_digests: f.all_files.len() - with.len(),
        missing,
        unmapped,
    })
}

/// The path below the scan input it came from (the longest input that holds it, by whole
/// components); a file given as an input itself is its own name.
fn relative(path: &str, inputs: &[String]) -> String {
    let p = std::path::Path::new(path);
    let below = inputs
        .iter()
        .filter_map(|i| p.strip_prefix(i).ok().map(|rest| (i.len(), rest)))
        .max_by_key(|(n, _)| *n)
        .map(|(_, rest)| rest.to_string_lossy().into_owned());
    match below {
        Some(rest) if !rest.is_empty() => rest,
        Some(_) => p
            .file_name()
            .map_or(path.to_string(), |n| n.to_string_lossy().into_owned()),
        None => path.to_string(),
    }
}

/// The matches as a flat table, one row each.
pub fn matches_csv(f: &ScanFacts) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(vec![]);
    let cols = [
        "path", "kind", "distance", "variant", "box", "list", "list_id", "category", "label",
        "entry_id", "refset", "frame",
    ];
    w.write_record(cols)?;
    for m in &f.matches {
        let cell = |k: &str| match &m[k] {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        w.write_record(cols.iter().map(|c| cell(c)))?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}
