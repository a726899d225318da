//! The GPU bench's two steps work end to end here, so that the day a GPU machine is lent
//! they run at the first try: `scripts/gpu-bench-prepare.sh` packs the binaries this test
//! run built (no second build), and the packed run step runs from outside the repository
//! on this machine's adapter (lavapipe in CI) at small sizes.
mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn the_gpu_bench_packs_and_runs_on_the_local_adapter() {
    if common::gpu_engine_with(false).is_none() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let profile = Path::new(env!("CARGO_BIN_EXE_hashsweep")).parent().unwrap();
    let work = common::scratch("gpu-bench");
    let pack = work.join("pack");
    let o = Command::new("bash")
        .arg(root.join("scripts/gpu-bench-prepare.sh"))
        .arg(&pack)
        .env("GPU_BENCH_NO_BUILD", "1")
        .env("GPU_BENCH_NO_LOADER", "1")
        .env("GPU_BENCH_PROFILE_DIR", profile)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "prepare: {said}");
    for f in ["run.sh", "hashsweep", "tests/gpu", "tests/matching"] {
        assert!(pack.join(f).is_file(), "{f} is packed: {said}");
    }
    let out = work.join("out");
    let o = Command::new("bash")
        .arg(pack.join("run.sh"))
        .arg(&out)
        .current_dir(&work)
        .env("GPU_BENCH_SIZE", "small")
        .env(
            "GPU_BENCH_TEST_ARGS",
            "pdq_only_and_phash_only a_resident_set_is_uploaded_once",
        )
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&o.stdout);
    eprintln!("{summary}");
    assert!(o.status.success(), "run step failed:\n{summary}");
    let steps = std::fs::read_to_string(out.join("steps.tsv")).unwrap();
    for name in [
        "devices",
        "test-gpu",
        "test-matching",
        "bench-hash",
        "bench-match-pdq",
        "bench-match-phash",
    ] {
        let row = steps.lines().find(|l| l.split('\t').next() == Some(name));
        let exit = row.and_then(|r| r.split('\t').nth(1));
        assert_eq!(exit, Some("0"), "{name} in steps.tsv:\n{steps}");
    }
    for json in [
        "devices",
        "bench-hash",
        "bench-match-pdq",
        "bench-match-phash",
    ] {
        let text = std::fs::read_to_string(out.join(format!("{json}.json"))).unwrap();
        serde_json::from_str::<serde_json::Value>(&text)
            .unwrap_or_else(|e| panic!("{json}.json is not JSON ({e}): {text}"));
    }
    // The filtered tests ran (one in each binary), and none was skipped.
    assert_eq!(
        summary.matches("test result: ok. 1 passed").count(),
        2,
        "{summary}"
    );
    assert_eq!(summary.matches("SKIPPED: 0").count(), 2, "{summary}");
}
