//! The Python package (`python/`, PyO3 built by maturin) under pytest: it is built from
//! this checkout into a private folder and tested against this build's binary, so that
//! `cargo test` covers it too. Needs python3 with pip, maturin, pytest, numpy and Pillow
//! (`.ci/run` installs them); without them it prints a notice (a failure under CI=true).

mod common;

use std::path::Path;
use std::process::Command;

fn have_python_tools() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import maturin, pytest, numpy, PIL"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !common::in_ci(),
            "CI=true but python3 with maturin, pytest, numpy and Pillow is missing"
        );
        eprintln!(
            "NOTICE: python3 with maturin, pytest, numpy and Pillow not found; the Python package was not tested"
        );
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
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
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
    assert!(
        text.contains("5 passed") && !text.contains("skipped"),
        "every Python test ran: {text}"
    );
}
