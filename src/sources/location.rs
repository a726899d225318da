//! Where a file was found, as one line of text: a file on disk, then the steps that lead
//! into it (an archive's member, a disk image's volume and the path in its filesystem, an
//! alternate data stream, a carved offset). Records, resume keys, shards and reports all
//! name files this way; `docs/paths.md` is the grammar for readers.
//!
//! The text is the outer path as it always was, then each step after its one separator:
//! `!` a member (`case/a.zip!docs/b.tar.gz!x/y.jpg`, `doc.pdf!image-3`,
//! `photo.jpg!thumbnail`), `#` a volume with its path (`disk.E01#p2/Users/x/a.jpg`; `#p0`
//! is a filesystem with no partition table), `:` a stream (`#p2/x/file.txt:stream`), `@` a
//! carved offset (`#p1/$unallocated@4096.jpg`). Inner names always escape those four
//! separators, `%`, CR, LF and bytes that are not UTF-8 as `%XX`; the outer path keeps its
//! own rule (`path_text`), so the records of loose files do not change. A name on disk may
//! hold `!` or `#`, so the text alone cannot say where the outer path ends: the key adds the
//! number of steps, which makes it one to one (each step holds exactly one separator that
//! is not escaped, so equal texts with equal step counts split at the same places).

use std::path::{Path, PathBuf};

/// One step into a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A member of an archive, or an object of a document (`image-3`, `thumbnail`), by its
    /// name as stored (bytes: ZIP and TAR names need not be UTF-8).
    Member(Vec<u8>),
    /// Volume `index` of a disk image (1-based in the partition table's order; 0 for a
    /// filesystem with no table) and a path in its filesystem, from its root (`/...`).
    Volume { index: u32, path: Vec<u8> },
    /// A named data stream of the file before it (NTFS alternate data streams).
    Stream(Vec<u8>),
    /// Bytes carved at `offset` of what comes before, with the extension of what they are.
    Carved { offset: u64, ext: String },
}

/// A file on disk and the steps into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub outer: PathBuf,
    pub steps: Vec<Step>,
}

const SEPARATORS: [u8; 4] = [b'!', b'#', b':', b'@'];

impl Location {
    /// A file on disk itself.
    pub fn file(outer: impl Into<PathBuf>) -> Location {
        Location {
            outer: outer.into(),
            steps: vec![],
        }
    }

    /// This location, one step further in.
    pub fn join(&self, step: Step) -> Location {
        let mut steps = self.steps.clone();
        steps.push(step);
        Location {
            outer: self.outer.clone(),
            steps,
        }
    }

    /// What holds this file, if it is inside another.
    pub fn container(&self) -> Option<Location> {
        let (_, rest) = self.steps.split_last()?;
        Some(Location {
            outer: self.outer.clone(),
            steps: rest.to_vec(),
        })
    }

    /// The record text, and whether the outer path had to be escaped (`path_escaped`).
    pub fn text(&self) -> (String, bool) {
        let (mut out, escaped) = path_text(&self.outer);
        for step in &self.steps {
            match step {
                Step::Member(name) => {
                    out.push('!');
                    out += &escape_inner(name);
                }
                Step::Volume { index, path } => {
                    out += &format!("#p{index}");
                    // A path is read from its root, but one starting with a digit would run
                    // into the index: that digit is escaped.
                    let digit = path.first().filter(|b| b.is_ascii_digit());
                    if let Some(d) = digit {
                        out += &format!("%{d:02X}");
                    }
                    out += &escape_inner(&path[usize::from(digit.is_some())..]);
                }
                Step::Stream(name) => {
                    out.push(':');
                    out += &escape_inner(name);
                }
                Step::Carved { offset, ext } => {
                    out += &format!("@{offset}.");
                    out += &escape_inner(ext.as_bytes());
                }
            }
        }
        (out, escaped)
    }

    /// The key a file is recorded under (resume, merge, shards): for a file on disk the
    /// same as ever; inside one, the text and the number of steps.
    pub fn key(&self) -> String {
        let (text, escaped) = self.text();
        key_of(&text, escaped, self.steps.len())
    }

    /// The location a record's text stands for, given its `path_escaped` and its number of
    /// steps; `None` when the text does not hold that many steps.
    pub fn parse(text: &str, escaped: bool, depth: usize) -> Option<Location> {
        let cuts = last_separators(text.as_bytes(), depth)?;
        let outer_text = &text[..cuts.first().copied().unwrap_or(text.len())];
        let outer = path_from_text(outer_text, escaped);
        let mut steps = Vec::with_capacity(depth);
        for (i, &at) in cuts.iter().enumerate() {
            let end = cuts.get(i + 1).copied().unwrap_or(text.len());
            steps.push(parse_step(&text[at..end])?);
        }
        Some(Location { outer, steps })
    }
}

/// The positions of the last `depth` separators of `text`, in order.
fn last_separators(text: &[u8], depth: usize) -> Option<Vec<usize>> {
    let mut cuts: Vec<usize> = text
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, b)| SEPARATORS.contains(b))
        .map(|(i, _)| i)
        .take(depth)
        .collect();
    if cuts.len() < depth {
        return None;
    }
    cuts.reverse();
    Some(cuts)
}

/// One step's text, separator first.
fn parse_step(s: &str) -> Option<Step> {
    let (sep, body) = s.split_at(1);
    match sep {
        "!" => Some(Step::Member(unescape(body))),
        ":" => Some(Step::Stream(unescape(body))),
        "#" => {
            let body = body.strip_prefix('p')?;
            let digits = body.bytes().take_while(u8::is_ascii_digit).count();
            let index = body[..digits].parse().ok()?;
            Some(Step::Volume {
                index,
                path: unescape(&body[digits..]),
            })
        }
        "@" => {
            let (offset, ext) = body.split_once('.')?;
            Some(Step::Carved {
                offset: offset.parse().ok()?,
                ext: String::from_utf8(unescape(ext)).ok()?,
            })
        }
        _ => None,
    }
}

/// Key of a record: its text, marked when escaped, and its number of steps when inside a
/// file. A file literally named `caf%E9` and one whose name holds the byte E9 never share
/// a key, nor does a file named `a.zip!b` with member `b` of `a.zip`.
pub fn key_of(text: &str, escaped: bool, depth: usize) -> String {
    let mut key = text.to_string();
    if escaped {
        key += "\0escaped";
    }
    if depth > 0 {
        key += &format!("\0depth={depth}");
    }
    key
}

/// An inner name as text: separators, `%`, CR, LF and bytes that are not UTF-8 as `%XX`.
fn escape_inner(name: &[u8]) -> String {
    let mut out = String::with_capacity(name.len());
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '!' | '#' | ':' | '@' | '%' | '\n' | '\r' => out += &format!("%{:02X}", c as u32),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out += &format!("%{b:02X}");
        }
    }
    out
}

/// A path as record text. Valid UTF-8 paths without line breaks are written as they are.
/// Otherwise every byte of an invalid sequence, and every CR and LF, is written `%XX` and
/// `%` itself `%25`, and the record says `"path_escaped": true`; unescaping gives back the
/// exact bytes. (Line breaks are escaped so that every record is one line in CSV too.)
pub fn path_text(p: &Path) -> (String, bool) {
    let bytes = p.as_os_str().as_encoded_bytes();
    if let Ok(s) = std::str::from_utf8(bytes) {
        if !s.contains(['\n', '\r']) {
            return (s.to_string(), false);
        }
    }
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out += &chunk
            .valid()
            .replace('%', "%25")
            .replace('\n', "%0A")
            .replace('\r', "%0D");
        for b in chunk.invalid() {
            out += &format!("%{b:02X}");
        }
    }
    (out, true)
}

/// The path a record's outer text names (`escaped`: it was written by `path_text`'s escape).
pub fn path_from_text(text: &str, escaped: bool) -> PathBuf {
    if !escaped {
        return PathBuf::from(text);
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(std::ffi::OsStr::from_bytes(&unescape(text)))
    }
    #[cfg(not(unix))]
    PathBuf::from(String::from_utf8_lossy(&unescape(text)).into_owned())
}

/// The exact bytes of an escaped text (`%XX` back to its byte; any other `%` kept).
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        if let (b'%', Some(v)) = (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(s: &[u8]) -> Step {
        Step::Member(s.to_vec())
    }

    #[test]
    fn the_grammar_reads_as_documented() {
        let zip = Location::file("case/a.zip");
        let inner = zip.join(member(b"docs/b.tar.gz")).join(member(b"x/y.jpg"));
        assert_eq!(inner.text().0, "case/a.zip!docs/b.tar.gz!x/y.jpg");
        assert_eq!(
            inner.container().unwrap().text().0,
            "case/a.zip!docs/b.tar.gz"
        );
        let disk = Location::file("disk.E01").join(Step::Volume {
            index: 2,
            path: b"/x/file.txt".to_vec(),
        });
        assert_eq!(
            disk.join(Step::Stream(b"Zone.Identifier".to_vec()))
                .text()
                .0,
            "disk.E01#p2/x/file.txt:Zone.Identifier"
        );
        let carved = Location::file("disk.E01")
            .join(Step::Volume {
                index: 1,
                path: b"/$unallocated".to_vec(),
            })
            .join(Step::Carved {
                offset: 4096,
                ext: "jpg".into(),
            });
        assert_eq!(carved.text().0, "disk.E01#p1/$unallocated@4096.jpg");
        assert_eq!(
            Location::file("doc.pdf").join(member(b"image-3")).text().0,
            "doc.pdf!image-3"
        );
    }

    #[test]
    fn a_file_on_disk_keeps_its_text_and_key() {
        let weird = Location::file("a!b#c:d@e%f.jpg");
        assert_eq!(weird.text(), ("a!b#c:d@e%f.jpg".to_string(), false));
        assert_eq!(weird.key(), "a!b#c:d@e%f.jpg");
    }

    #[test]
    fn inner_names_escape_separators_and_bytes_and_parse_back() {
        let loc = Location::file("c!ase/a.zip#1")
            .join(member(b"we!rd#na:me@%\n\xff.jpg"))
            .join(Step::Volume {
                index: 12,
                path: b"/p@th:x".to_vec(),
            })
            .join(Step::Stream(b"s!".to_vec()))
            .join(Step::Carved {
                offset: 7,
                ext: "png".into(),
            });
        let (text, escaped) = loc.text();
        assert_eq!(
            text,
            "c!ase/a.zip#1!we%21rd%23na%3Ame%40%25%0A%FF.jpg#p12/p%40th%3Ax:s%21@7.png"
        );
        assert_eq!(Location::parse(&text, escaped, 4).unwrap(), loc);
    }

    #[test]
    fn keys_are_one_to_one_where_texts_coincide() {
        // A file on disk named like a member of its neighbour, at every depth.
        let on_disk = Location::file("a.zip!b.jpg");
        let member_of = Location::file("a.zip").join(member(b"b.jpg"));
        assert_eq!(on_disk.text(), member_of.text());
        assert_ne!(on_disk.key(), member_of.key());
        let deeper = Location::file("a.zip!b.zip").join(member(b"c.jpg"));
        let two = Location::file("a.zip")
            .join(member(b"b.zip"))
            .join(member(b"c.jpg"));
        assert_eq!(deeper.text(), two.text());
        assert_ne!(deeper.key(), two.key());
    }

    #[test]
    fn random_locations_round_trip_and_never_share_a_key() {
        let alphabet = b"ab!#:@%/.\xffp1";
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let name = |len: usize, next: &mut dyn FnMut(usize) -> usize| -> Vec<u8> {
            (0..len).map(|_| alphabet[next(alphabet.len())]).collect()
        };
        let mut seen = std::collections::HashMap::new();
        for _ in 0..5000 {
            let outer = String::from_utf8_lossy(&name(1 + next(4), &mut next)).into_owned();
            let mut loc = Location::file(outer);
            for _ in 0..next(4) {
                let step = match next(4) {
                    0 => Step::Member(name(next(4), &mut next)),
                    1 => Step::Volume {
                        index: next(3) as u32,
                        path: name(next(4), &mut next),
                    },
                    2 => Step::Stream(name(next(3), &mut next)),
                    _ => Step::Carved {
                        offset: next(100) as u64,
                        ext: "jpg".into(),
                    },
                };
                loc = loc.join(step);
            }
            let (text, escaped) = loc.text();
            let back = Location::parse(&text, escaped, loc.steps.len()).unwrap();
            assert_eq!(back, loc, "{text}");
            if let Some(other) = seen.insert(loc.key(), loc.clone()) {
                assert_eq!(other, loc, "two locations share the key of {text}");
            }
        }
    }

    #[test]
    fn escaped_outer_paths_round_trip() {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let p = PathBuf::from(std::ffi::OsStr::from_bytes(b"caf\xe9\n%.zip"));
            let loc = Location::file(p).join(member(b"x"));
            let (text, escaped) = loc.text();
            assert!(escaped);
            assert_eq!(text, "caf%E9%0A%25.zip!x");
            assert_eq!(Location::parse(&text, escaped, 1).unwrap(), loc);
        }
    }
}
