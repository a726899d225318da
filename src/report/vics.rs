//! Exports for review tools: VICS 1.3 Media JSON of the scanned files, and a flat CSV of
//! the matches.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::ScanFacts;

/// VICS 1.3 Media JSON: one Media per scanned file with its digests, its size, its path
/// relative to the scan's inputs and, when it matched an entry that has one, that entry's
/// category (0, uncategorised, otherwise). `refs build` reads it back.
pub fn vics(f: &ScanFacts) -> Value {
    let category: HashMap<&str, &str> = f
        .matches
        .iter()
        .filter_map(|m| Some((m["path"].as_str()?, m["category"].as_str()?)))
        .collect();
    let inputs: Vec<String> = f.header["inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(String::from))
        .collect();
    let media: Vec<Value> = f
        .all_files
        .iter()
        .filter(|l| l.md5.is_some() || l.sha1.is_some())
        .enumerate()
        .map(|(i, l)| {
            let cat = category
                .get(l.path.as_str())
                .and_then(|c| c.parse::<u64>().ok())
                .unwrap_or(0);
            let rel = relative(&l.path, &inputs);
            let name = rel.rsplit('/').next().unwrap_or(&rel).to_string();
            json!({
                "MediaID": i + 1,
                "Category": cat,
                "MD5": l.md5.as_deref().unwrap_or_default().to_ascii_uppercase(),
                "SHA1": l.sha1.as_deref().unwrap_or_default().to_ascii_uppercase(),
                "MediaSize": l.size,
                "MediaFiles": [{
                    "FileName": name,
                    "RelativeFilePath": rel,
                    "MD5": l.md5.as_deref().unwrap_or_default().to_ascii_uppercase(),
                }],
            })
        })
        .collect();
    json!({
        "odata.metadata": "http://github.com/VICSDATAMODEL/ProjectVic.DataModel.V1.3.xml#Media",
        "value": media,
    })
}

/// The path below the scan input it came from (the longest input that holds it, by whole
/// components).
fn relative(path: &str, inputs: &[String]) -> String {
    let p = std::path::Path::new(path);
    inputs
        .iter()
        .filter_map(|i| p.strip_prefix(i).ok().map(|rest| (i.len(), rest)))
        .max_by_key(|(n, _)| *n)
        .map_or(path.to_string(), |(_, rest)| {
            rest.to_string_lossy().into_owned()
        })
}

/// The matches as a flat table, one row each.
pub fn matches_csv(f: &ScanFacts) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(vec![]);
    let cols = [
        "path", "kind", "distance", "variant", "list", "list_id", "category", "label", "entry_id",
        "refset", "frame",
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
