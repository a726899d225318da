//! The documentation is tried as a newcomer would: every `sh` block of the README and of
//! `docs/` runs as written (with the binary built for these tests as `hashsweep`), every
//! relative link and anchor resolves, and the README's first screen holds what a newcomer
//! needs.

mod common;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every Markdown page under docs/.
fn pages() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    let mut out = vec![root().join("README.md")];
    walk(&root().join("docs"), &mut out);
    out.sort();
    out
}

/// The fenced blocks of a page tagged `lang`, in order.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let mut out = vec![];
    let mut current: Option<String> = None;
    for line in text.lines() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut current, fence) {
            (None, Some(tag)) if tag.trim() == lang => current = Some(String::new()),
            (Some(_), Some(_)) => out.extend(current.take()),
            (Some(b), None) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    out
}

#[test]
fn every_sh_block_of_the_readme_and_the_docs_runs() {
    let Some(testdata) = common::testdata() else {
        return;
    };
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_hashsweep"));
    let path = format!(
        "{}:{}",
        exe.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let runnable = blocks(&text, "sh");
        if runnable.is_empty() {
            continue;
        }
        // A copy of the layout the pages assume: the repository's docs at hand and
        // ../shared beside it; outputs land in the scratch folder.
        let name = page
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .replace('/', "-");
        let base = common::scratch(&format!("docs-{name}"));
        let cwd = base.join("main");
        std::fs::create_dir_all(base.join("shared")).unwrap();
        std::fs::create_dir_all(&cwd).unwrap();
        std::os::unix::fs::symlink(root().join("docs"), cwd.join("docs")).unwrap();
        std::os::unix::fs::symlink(&testdata, base.join("shared/testdata")).unwrap();
        for block in runnable {
            // The README's two first commands: the main job runs through the built binary;
            // the test suite is what is running now.
            let script: String = block
                .lines()
                .filter(|l| !l.trim_start().starts_with("cargo test"))
                .map(|l| l.replace("cargo run --release --", "hashsweep"))
                .collect::<Vec<_>>()
                .join("\n");
            let o = std::process::Command::new("bash")
                .args(["-e", "-o", "pipefail", "-c", &script])
                .current_dir(&cwd)
                .env("PATH", &path)
                .env("HASHSWEEP_CACHE_DIR", base.join("cache"))
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{}: this block failed:\n{script}\n--- stderr:\n{}",
                page.display(),
                String::from_utf8_lossy(&o.stderr)
            );
            ran += 1;
        }
    }
    eprintln!("FIGURE docs: {ran} sh blocks ran");
    assert!(ran >= 3, "the README's blocks at least");
}

/// GitHub's anchor of a heading: lower case, spaces to hyphens, other punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| match c {
            c if c.is_alphanumeric() => Some(c.to_lowercase().next().unwrap_or(c)),
            ' ' | '-' => Some('-'),
            '_' => Some('_'),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    let mut in_code = false;
    let mut out = vec![];
    for l in text.lines() {
        if l.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && l.starts_with('#') {
            out.push(slug(l.trim_start_matches('#')));
        }
    }
    out
}

/// `(target)` of every `[text](target)` outside code blocks.
fn links(text: &str) -> Vec<String> {
    let mut in_code = false;
    let mut out = vec![];
    for l in text.lines() {
        if l.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = l;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn every_link_of_the_docs_resolves() {
    let mut broken = vec![];
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for target in links(&text) {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let dest = match file {
                "" => page.clone(),
                f => page.parent().unwrap().join(f),
            };
            if !dest.exists() {
                broken.push(format!("{}: {target}", page.display()));
                continue;
            }
            if !anchor.is_empty() {
                let there = std::fs::read_to_string(&dest).unwrap_or_default();
                if !anchors(&there).contains(&anchor.to_string()) {
                    broken.push(format!("{}: {target} (no such heading)", page.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_first_screen_says_what_it_is_how_to_install_run_and_test() {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("README lacks {needle:?}"))
    };
    let needed = [
        "cargo install --path .",
        "ffmpeg",
        "cargo run --release -- hash ../shared/testdata",
        "cargo test --all-targets",
        "hashsweep refs build",
        "hashsweep scan",
        "hashsweep report",
        "docs/README.md",
    ];
    for n in needed {
        assert!(
            at(n) < 60,
            "{n:?} is on line {}, past the first screen",
            at(n) + 1
        );
    }
    assert_eq!(
        slug("Quickstart: list, scan, report"),
        "quickstart-list-scan-report"
    );
}
