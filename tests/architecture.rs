//! The layering rule of `docs/architecture.md`, checked: a module (room) of `src/` uses only
//! the rooms listed above it there. Every `crate::ROOM` path is read, including those inside
//! `use crate::{a, b::c}` groups.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Lowest first, as in `docs/architecture.md`.
const ROOMS: [&str; 18] = [
    "hash",
    "frame",
    "durable",
    "clock",
    "progress",
    "cpu",
    "refset",
    "gpu",
    "decode",
    "engine",
    "pipeline",
    "video",
    "matching",
    "cluster",
    "robustness",
    "scan",
    "report",
    "cli",
];

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

fn room_of(src: &Path, file: &Path) -> Option<&'static str> {
    let first = file.strip_prefix(src).ok()?.components().next()?;
    let name = first.as_os_str().to_str()?.trim_end_matches(".rs");
    ROOMS.iter().copied().find(|r| *r == name)
}

#[test]
fn no_room_uses_a_room_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    sources(&src, &mut files);
    let mut wrong = vec![];
    let mut seen = BTreeSet::new();
    for f in &files {
        let Some(room) = room_of(&src, f) else {
            continue; // lib.rs and main.rs sit on top of everything
        };
        seen.insert(room);
        let rank = ROOMS.iter().position(|r| *r == room).unwrap();
        for used in rooms_used(&std::fs::read_to_string(f).unwrap()) {
            match ROOMS.iter().position(|r| *r == used) {
                Some(u) if u > rank => wrong.push(format!(
                    "{}: {room} uses {used}, a room below it",
                    f.strip_prefix(&src).unwrap().display()
                )),
                Some(_) => {}
                // Re-exports at the crate root (`crate::Frame`) name no room.
                None if used.chars().next().is_some_and(char::is_uppercase) => {}
                None => wrong.push(format!("{}: unknown room {used}", f.display())),
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
    // Every room of the map exists, so the map cannot drift from the code unnoticed.
    assert_eq!(
        seen.len(),
        ROOMS.len(),
        "rooms in the map but not in src/: {seen:?}"
    );
}

#[test]
fn the_reader_finds_grouped_and_plain_paths_and_skips_comments() {
    let code = "use crate::{hash::Pdq256, frame::{Frame, X}, cpu};\n\
                let x = crate::gpu::thing(); // crate::cli is only mentioned\n";
    let got: Vec<String> = rooms_used(code).into_iter().collect();
    assert_eq!(got, ["cpu", "frame", "gpu", "hash"]);
}
