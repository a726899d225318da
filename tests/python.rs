//! The Python package (`python/`, PyO3 built by maturin) under pytest: it is built from
//! this checkout into a private folder and tested against this build's binary, so that
//! `cargo test` covers it too. Needs python3 with pip, maturin, pytest, numpy and Pillow
//! (`.ci/run` installs them); without them it prints a notice (a failure under CI=true).
//! The ThreatExchange and Ray tests also need `threatexchange` and `ray[data]`: without
//! them pytest skips those tests with a notice, which fails under CI=true.

mod common;

use std::path::Path;
use std::process::Command;

fn have_python_tools() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import maturin, pytest, numpy, PIL"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        common::skip("python3 with maturin, pytest, numpy and Pillow is missing");
    }
    ok
}

#[test]
fn the_python_package_builds_and_its_tests_pass() {
    if !have_python_tools() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let site = common::scratch("python-site");
    // Its own target folder: the one `cargo test` is using stays locked while it runs.
    let target = root.join("target/python");
    let st = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
        ])
        .arg(&site)
        .arg(root.join("python"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(st.success(), "pip install ./python");
    let out = Command::new("python3")
        .args(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"])
        .arg(root.join("python/tests"))
        .env("PYTHONPATH", &site)
        .env("HASHSWEEP_BIN", env!("CARGO_BIN_EXE_hashsweep"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    assert!(
        out.status.success(),
        "pytest failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let defined = defined_tests(&root.join("python/tests"));
    let (passed, skipped) = (count(&text, "passed"), count(&text, "skipped"));
    assert_eq!(passed + skipped, defined, "every Python test ran: {text}");
    assert!(passed > 0);
    assert!(
        skipped == 0 || !common::in_ci(),
        "CI=true but {skipped} Python tests were skipped: {text}"
    );
}

/// The number pytest's summary line gives before `word` ("12 passed, 2 skipped in 3.1s").
fn count(summary: &str, word: &str) -> usize {
    let last = summary
        .lines()
        .rev()
        .find(|l| l.contains(" in "))
        .unwrap_or("");
    let counts = last.split(" in ").next().unwrap_or("");
    counts
        .split(',')
        .filter_map(|part| part.trim().strip_suffix(word)?.trim().parse::<usize>().ok())
        .sum()
}

/// Test functions defined in the test folder's files, so that a test pytest never
/// collected cannot pass unnoticed.
fn defined_tests(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("test_")
        })
        .map(|p| {
            std::fs::read_to_string(&p)
                .unwrap()
                .lines()
                .filter(|l| l.starts_with("def test_"))
                .count()
        })
        .sum()
}
