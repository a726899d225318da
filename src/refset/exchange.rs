//! Hash lists as hotlines, exchanges and case tools hand them out: NCMEC's hash-sharing
//! XML (API v2), StopNCII-style JSON records, ThreatExchange's `<signal_type> <value>`
//! lines, and Project VIC / CAID VICS JSON (data model 1.x and 2.0). Each entry keeps its
//! list's name, its own id and its category in a structured label, which matches report.
//!
//! Layouts were written from the formats' public descriptions (python-threatexchange's
//! NCMEC client documents the XML; VICS is Project VIC's OData model).

use super::format::Algo;
use super::write::{Entry, Label};

/// One entry of an exchanged list, before an algorithm is chosen: every fingerprint it
/// carries, by its type's name as the list spells it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listed {
    pub list: String,
    pub id: Option<String>,
    pub category: Option<String>,
    pub fingerprints: Vec<(String, String)>,
    /// A deletion (`deletedImage`): removes the entries of this id read before it.
    pub deleted: bool,
}

/// The algorithm a list's fingerprint type means, if it is one we match; PhotoDNA, TMK and
/// other types are counted, not used.
pub fn algo_of(kind: &str) -> Option<Algo> {
    match kind.to_ascii_lowercase().as_str() {
        "pdq" | "imagepdq" | "photo_pdq" => Some(Algo::Pdq),
        "md5" | "imagemd5" | "videomd5" | "video_md5" | "photo_md5" => Some(Algo::Md5),
        "sha1" | "imagesha1" | "videosha1" => Some(Algo::Sha1),
        "sha256" | "imagesha256" | "videosha256" => Some(Algo::Sha256),
        _ => None,
    }
}

/// The label an exchanged entry is stored under: `list=..`, `id=..`, `category=..`,
/// tab-separated (labels hold no line breaks; tabs in values become spaces).
pub fn label(list: &str, id: Option<&str>, category: Option<&str>) -> String {
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let mut out = format!("list={}", clean(list));
    if let Some(id) = id {
        out += &format!("\tid={}", clean(id));
    }
    if let Some(c) = category {
        out += &format!("\tcategory={}", clean(c));
    }
    out
}

/// The list, id and category of a structured label; `None` for a free-text one.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Source {
    pub list: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

pub fn source(label: &str) -> Option<Source> {
    let mut s = Source::default();
    for part in label.split('\t') {
        match part.split_once('=')? {
            ("list", v) => s.list = v.to_string(),
            ("id", v) => s.list_id = Some(v.to_string()),
            ("category", v) => s.category = Some(v.to_string()),
            _ => return None,
        }
    }
    (!s.list.is_empty()).then_some(s)
}

/// NCMEC hash-sharing API v2: `queryResult` -> `images`/`videos` -> `image`/`video` (and
/// `deletedImage`/`deletedVideo`) with `id`, `classification` and `fingerprints`.
pub fn ncmec_xml(text: &str) -> Result<Vec<Listed>, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut out = vec![];
    let mut cur: Option<Listed> = None;
    let mut path: Vec<String> = vec![];
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("XML error at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if matches!(
                    name.as_str(),
                    "image" | "video" | "deletedImage" | "deletedVideo"
                ) {
                    cur = Some(Listed {
                        list: "NCMEC".into(),
                        deleted: name.starts_with("deleted"),
                        ..Listed::default()
                    });
                }
                path.push(name);
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| e.to_string())?.trim().to_string();
                if let (Some(entry), Some(field)) = (cur.as_mut(), path.last()) {
                    let parent = path.len().checked_sub(2).map(|i| path[i].as_str());
                    match (parent, field.as_str()) {
                        (Some("fingerprints"), kind) => {
                            entry.fingerprints.push((kind.to_string(), text))
                        }
                        (_, "id") => entry.id = Some(text),
                        (_, "classification") => entry.category = Some(text),
                        _ => {}
                    }
                }
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                if matches!(
                    name.as_str(),
                    "image" | "video" | "deletedImage" | "deletedVideo"
                ) {
                    out.extend(cur.take());
                }
            }
            Event::Empty(e) => {
                // `<tmk-pdqf href=".."/>`: a fingerprint held elsewhere, counted as unused.
                if let (Some(entry), Some("fingerprints")) =
                    (cur.as_mut(), path.last().map(String::as_str))
                {
                    let kind = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    entry.fingerprints.push((kind, String::new()));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// A StopNCII-style record: `hashValue`, `signalType` (`ImagePDQ`, `VideoMD5`, ...), and
/// `caseNumbers`, which become the entry's id when it has no `id` of its own.
pub fn stopncii(v: &serde_json::Value) -> Option<Listed> {
    let value = v["hashValue"].as_str()?;
    let kind = v["signalType"].as_str()?;
    let cases: Vec<String> = v["caseNumbers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            c.as_str()
                .map(String::from)
                .or_else(|| c.as_u64().map(|n| n.to_string()))
        })
        .collect();
    let id = v["id"]
        .as_str()
        .map(String::from)
        .or_else(|| v["id"].as_u64().map(|n| n.to_string()))
        .or_else(|| (!cases.is_empty()).then(|| cases.join(",")));
    Some(Listed {
        list: "StopNCII".into(),
        id,
        category: v["category"].as_str().map(String::from),
        fingerprints: vec![(kind.to_string(), value.to_string())],
        deleted: false,
    })
}

/// A ThreatExchange line, `<signal_type> <value>` (`pdq <hex>`, `video_md5 <hex>`), as
/// `threatexchange` writes it; `None` when the first word is not a signal type.
pub fn te_line(line: &str) -> Option<(String, String)> {
    let (kind, value) = line.trim().split_once(char::is_whitespace)?;
    let known = algo_of(kind).is_some()
        || [
            "photo_pdq",
            "video_md5",
            "url",
            "raw_text",
            "trend_query",
            "video_tmk_pdqf",
        ]
        .contains(&kind);
    let value = value.split_whitespace().next()?;
    (known && !kind.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| (kind.to_string(), value.to_string()))
}

/// Project VIC VICS JSON: `value[]` of Media (data model 1.x: `MediaID`, `Category`, `MD5`,
/// `SHA1`, `MediaFiles[]`) or of Cases holding `Media[]` (2.0). UK CAID uses the same model.
pub fn vics(v: &serde_json::Value, list: &str) -> Vec<Listed> {
    let mut out = vec![];
    for item in v["value"].as_array().into_iter().flatten() {
        match item["Media"].as_array() {
            Some(media) => out.extend(media.iter().map(|m| vics_media(m, list))),
            None => out.push(vics_media(item, list)),
        }
    }
    out
}

fn vics_media(m: &serde_json::Value, list: &str) -> Listed {
    let text = |k: &str| match &m[k] {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let mut fingerprints = vec![];
    let mut add = |src: &serde_json::Value| {
        for (key, kind) in [
            ("MD5", "md5"),
            ("SHA1", "sha1"),
            ("SHA256", "sha256"),
            ("PhotoDNA", "photodna"),
        ] {
            if let Some(h) = src[key].as_str().filter(|h| !h.is_empty()) {
                fingerprints.push((kind.to_string(), h.to_ascii_lowercase()));
            }
        }
    };
    add(m);
    for f in m["MediaFiles"].as_array().into_iter().flatten() {
        add(f);
    }
    // A Media's digest is repeated by its files: each once, in the order first given.
    let mut seen = std::collections::HashSet::new();
    fingerprints.retain(|f| seen.insert(f.clone()));
    Listed {
        list: list.to_string(),
        id: text("MediaID"),
        category: text("Category"),
        fingerprints,
        deleted: false,
    }
}

/// Whether a JSON document is a VICS export (an OData `value` array of Media or Cases).
pub fn is_vics(v: &serde_json::Value) -> bool {
    v["value"].as_array().is_some_and(|a| {
        a.iter()
            .any(|m| m.get("MediaID").is_some() || m.get("Media").is_some())
    })
}

/// What a deletion names: an id within its list (another list's entry 42 is another entry).
pub fn deletion_key(list: &str, id: &str) -> String {
    format!("{list}\t{id}")
}

/// Deletions of exchanged lists (`deletedImage`): each removes the entries of its id read
/// before it, so files built in the order they were fetched give the list as it stands.
/// Returns how many were removed.
pub fn apply_deletions(entries: &mut Vec<Entry>, deletions: &[(String, usize)]) -> usize {
    if deletions.is_empty() {
        return 0;
    }
    let mut last: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (id, at) in deletions {
        let e = last.entry(id.as_str()).or_default();
        *e = (*e).max(*at);
    }
    let before = entries.len();
    let mut i = 0;
    entries.retain(|e| {
        let id = e.labels.first().and_then(|l| match l {
            Label::Text(t) => source(t).and_then(|s| Some(deletion_key(&s.list, &s.list_id?))),
            Label::Line(..) => None,
        });
        let gone = id.is_some_and(|id| last.get(id.as_str()).is_some_and(|&at| i < at));
        i += 1;
        !gone
    });
    before - entries.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_carry_list_id_and_category_and_read_back() {
        let l = label("NCMEC", Some("image\t1"), Some("A1"));
        assert_eq!(l, "list=NCMEC\tid=image 1\tcategory=A1");
        let s = source(&l).unwrap();
        assert_eq!(
            (s.list.as_str(), s.list_id.as_deref(), s.category.as_deref()),
            ("NCMEC", Some("image 1"), Some("A1"))
        );
        assert_eq!(source("just a file name"), None);
        assert_eq!(source("a=b"), None);
    }

    #[test]
    fn signal_type_names_map_to_algorithms() {
        assert_eq!(algo_of("ImagePDQ"), Some(Algo::Pdq));
        assert_eq!(algo_of("VideoMD5"), Some(Algo::Md5));
        assert_eq!(algo_of("pdna"), None);
        assert_eq!(
            te_line("video_md5 d41d8cd98f00b204e9800998ecf8427e"),
            Some((
                "video_md5".into(),
                "d41d8cd98f00b204e9800998ecf8427e".into()
            ))
        );
        assert_eq!(te_line("d41d8cd98f00b204e9800998ecf8427e label"), None);
    }
}
