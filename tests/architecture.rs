//! The layering rule of `docs/architecture.md`, checked: a module (room) of `src/` uses only
//! the rooms listed above it there. Every `crate::ROOM` path is read, including those inside
//! `use crate::{a, b::c}` groups.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A room of the map in `docs/architecture.md`: its name and the rooms its row says it
/// uses (`None`: "everything above").
struct Room {
    name: String,
    uses: Option<BTreeSet<String>>,
}

/// The map, lowest room first, read from `docs/architecture.md` itself: the doc is the
/// one source, and these tests hold the code to it.
fn map() -> Vec<Room> {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let mut rooms = vec![];
    for line in doc.lines() {
        // `\|` inside a cell is a bar of its text, not a border.
        let line = line.replace("\\|", "\u{1}");
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | # | `room` | job | where | uses |
        if cells.len() < 6 || cells[1].parse::<usize>().is_err() {
            continue;
        }
        let name = cells[2].trim_matches('`').to_string();
        let uses_cell = cells[5];
        let uses = match uses_cell {
            "everything above" => None,
            "—" | "-" | "" => Some(BTreeSet::new()),
            list => Some(list.split(',').map(|u| u.trim().to_string()).collect()),
        };
        rooms.push(Room { name, uses });
    }
    assert!(rooms.len() > 10, "the map's table was not found");
    rooms
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The rooms a piece of code names through `crate::`, comments left out.
fn rooms_used(code: &str) -> BTreeSet<String> {
    let code: String = code
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut used = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let ident = |s: &str| -> String {
            s.trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        };
        if let Some(group) = rest.strip_prefix('{') {
            // The first name of each top-level item of the group.
            let mut depth = 0;
            let mut item_start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        used.insert(ident(&group[item_start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        used.insert(ident(&group[item_start..i]));
                        item_start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            used.insert(ident(rest));
        }
    }
    used.into_iter().filter(|n| !n.is_empty()).collect()
}

/// The room a source file belongs to: its first component under `src/` (`lib.rs` and
/// `main.rs` sit above every room and belong to none).
fn room_of(src: &Path, file: &Path) -> Option<String> {
    let first = file.strip_prefix(src).ok()?.components().next()?;
    let name = first.as_os_str().to_str()?.trim_end_matches(".rs");
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// Every source file under `src/` with its room and text.
fn rooms_of_files() -> Vec<(PathBuf, String, String)> {
    let src = root().join("src");
    let mut files = vec![];
    sources(&src, &mut files);
    files
        .into_iter()
        .filter_map(|f| {
            let room = room_of(&src, &f)?;
            let text = std::fs::read_to_string(&f).unwrap();
            Some((f.strip_prefix(&src).unwrap().to_path_buf(), room, text))
        })
        .collect()
}

/// The rooms a file's code names, leaving out re-exports at the crate root (`crate::Frame`).
fn used_rooms(text: &str) -> BTreeSet<String> {
    rooms_used(text)
        .into_iter()
        .filter(|u| !u.chars().next().is_some_and(char::is_uppercase))
        .collect()
}

#[test]
fn no_room_uses_a_room_below_it() {
    let map = map();
    let rank = |r: &str| map.iter().position(|m| m.name == r);
    let mut wrong = vec![];
    let mut seen = BTreeSet::new();
    for (file, room, text) in rooms_of_files() {
        let Some(at) = rank(&room) else {
            wrong.push(format!("{}: room {room} is not in the map", file.display()));
            continue;
        };
        seen.insert(room.clone());
        for used in used_rooms(&text) {
            match rank(&used) {
                Some(u) if u > at => wrong.push(format!(
                    "{}: {room} uses {used}, a room below it",
                    file.display()
                )),
                Some(_) => {}
                None => wrong.push(format!("{}: unknown room {used}", file.display())),
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
    // Every room of the map exists, so the map cannot drift from the code unnoticed.
    let missing: Vec<&str> = map
        .iter()
        .map(|m| m.name.as_str())
        .filter(|m| !seen.contains(*m))
        .collect();
    assert!(
        missing.is_empty(),
        "rooms in the map but not in src/: {missing:?}"
    );
}

#[test]
fn each_room_uses_what_its_row_says() {
    let map = map();
    let mut used: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for (_, room, text) in rooms_of_files() {
        let mine = used.entry(room.clone()).or_default();
        mine.extend(used_rooms(&text).into_iter().filter(|u| *u != room));
    }
    let mut wrong = vec![];
    for m in &map {
        let (Some(said), Some(real)) = (&m.uses, used.get(&m.name)) else {
            continue;
        };
        let unsaid: Vec<&String> = real.difference(said).collect();
        let unused: Vec<&String> = said.difference(real).collect();
        if !unsaid.is_empty() || !unused.is_empty() {
            wrong.push(format!(
                "{}: uses {unsaid:?} without saying so; says {unused:?} but does not use them",
                m.name
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "the map's Uses column drifted:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_python_package_uses_the_library_not_the_command_line() {
    let map = map();
    let rooms: BTreeSet<&str> = map.iter().map(|m| m.name.as_str()).collect();
    let dir = root().join("python/src");
    let mut files = vec![];
    sources(&dir, &mut files);
    assert!(!files.is_empty());
    let mut wrong = vec![];
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for used in used_rooms(&text.replace("hashsweep_core::", "crate::")) {
            if used == "cli" || !rooms.contains(used.as_str()) {
                wrong.push(format!("{}: uses {used}", f.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A file's code before its unit tests (`#[cfg(test)]` and what follows).
fn code_before_tests(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

#[test]
fn only_the_command_line_and_the_progress_display_print() {
    let mut wrong = vec![];
    for (file, room, text) in rooms_of_files() {
        if room == "cli" || room == "progress" {
            continue;
        }
        for (n, line) in code_before_tests(&text).lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if ["println!", "eprintln!", "print!(", "eprint!(", "dbg!("]
                .iter()
                .any(|m| code.contains(m))
            {
                wrong.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "library code prints:\n{}",
        wrong.join("\n")
    );
}

/// Files allowed past 600 lines because each does one job that would only be scattered by
/// cutting it.
const ONE_JOB: [(&str, &str); 2] = [
    (
        "decode/bmff.rs",
        "the ISO-BMFF (HEIF) box reader: one format's boxes, each checked against the file",
    ),
    (
        "gpu/matcher.rs",
        "the GPU matcher: one kernel's bindings, chunks over binding limits and count-first read-back",
    ),
];

#[test]
fn source_files_stay_under_600_lines_unless_they_do_one_job() {
    let long: Vec<String> = rooms_of_files()
        .into_iter()
        .filter(|(f, _, text)| {
            text.lines().count() > 600 && !ONE_JOB.iter().any(|(p, _)| Path::new(p) == f.as_path())
        })
        .map(|(f, _, text)| format!("{}: {} lines", f.display(), text.lines().count()))
        .collect();
    assert!(
        long.is_empty(),
        "files to split (or to name in ONE_JOB, with why):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_reader_finds_grouped_and_plain_paths_and_skips_comments() {
    let code = "use crate::{hash::Pdq256, frame::{Frame, X}, cpu};\n\
                let x = crate::gpu::thing(); // crate::cli is only mentioned\n";
    let got: Vec<String> = rooms_used(code).into_iter().collect();
    assert_eq!(got, ["cpu", "frame", "gpu", "hash"]);
}
