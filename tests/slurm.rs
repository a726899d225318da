//! `deploy/slurm-scan.sh` against a real Slurm: a one-node cluster on localhost
//! (`tests/slurm/cluster.sh`), an array of 3 tasks over a generated tree, one task killed
//! mid-run and requeued, then `merge`: every file exactly once, equal to one machine's scan.

mod common;

use common::{bin, scratch};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Slurm's daemons installed and root to run them, or `false` after a notice (a failure
/// under `CI=true`, where `.ci/run` installs them).
fn have_slurm() -> bool {
    let found = |p: &str| Path::new(p).exists();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if found("/usr/sbin/slurmctld") && found("/usr/sbin/slurmd") && found("/usr/bin/sbatch") && root
    {
        return true;
    }
    common::skip("Slurm (slurmctld, slurmd, sbatch) or root is missing");
    false
}

/// The running cluster; stopped (its jobs cancelled, its daemons ended) when dropped,
/// whatever the test did.
struct Cluster {
    dir: PathBuf,
    conf: String,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let o = Command::new("bash")
            .arg(Path::new(ROOT).join("tests/slurm/cluster.sh"))
            .arg("start")
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "cluster start: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let out = String::from_utf8(o.stdout).unwrap();
        let conf = out
            .lines()
            .find_map(|l| l.strip_prefix("SLURM_CONF="))
            .expect("SLURM_CONF line")
            .to_string();
        Cluster {
            dir: dir.to_path_buf(),
            conf,
        }
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    fn run(&self, program: &str, args: &[&str]) -> String {
        let o = self.cmd(program).args(args).output().unwrap();
        assert!(
            o.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// `JobState` of one array task, from `scontrol show job`.
    fn state(&self, job: &str, task: u32) -> String {
        let o = self
            .cmd("scontrol")
            .args(["show", "job", &format!("{job}_{task}")])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        text.split_whitespace()
            .find_map(|w| w.strip_prefix("JobState="))
            .unwrap_or("UNKNOWN")
            .to_string()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(Path::new(ROOT).join("tests/slurm/cluster.sh"))
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

/// Waits for `done`, polling; a guard against a hung cluster, not a speed limit.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// File records by path, without what differs between runs of the same scan: when in the
/// run each was written (`elapsed_s`); nothing else may differ.
fn by_path(recs: &[Value]) -> BTreeMap<String, Value> {
    recs.iter()
        .filter(|r| r["type"] == "file")
        .map(|r| {
            let mut r = r.clone();
            r.as_object_mut().unwrap().remove("elapsed_s");
            (r["path"].as_str().unwrap().to_string(), r)
        })
        .collect()
}

/// A large image that task 1 reads last: it takes seconds, so that task 1 can be killed
/// while it is certainly running, after it has recorded everything else.
fn last_of_task_1(ev: &Path) -> PathBuf {
    let shard1 = hashsweep::scan::shard::Shard::parse("1/3").unwrap();
    let p = (0..)
        .map(|k| ev.join(format!("zz-large-{k}.png")))
        .find(|p| shard1.owns(p))
        .unwrap();
    let (w, h) = (6000, 6000);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x / 23) as u8, (y / 29) as u8, ((x ^ y) >> 5) as u8])
    });
    let f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    let enc = image::codecs::png::PngEncoder::new_with_quality(
        f,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::NoFilter,
    );
    img.write_with_encoder(enc).unwrap();
    p
}

/// The evidence tree (small images in folders, a non-image, a broken JPEG, the large one)
/// and a reference set knowing two of the images.
fn tree(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ev = dir.join("evidence");
    for i in 0..240u64 {
        let sub = ev
            .join(format!("case{}", i % 4))
            .join(format!("d{}", i % 7));
        std::fs::create_dir_all(&sub).unwrap();
        let f = hashsweep::Frame::synthetic(200 + (i % 5) as u32 * 40, 160, i);
        image::RgbImage::from_raw(f.width(), f.height(), f.rgb().to_vec())
            .unwrap()
            .save(sub.join(format!("img{i:03}.png")))
            .unwrap();
    }
    std::fs::write(ev.join("case0/notes.txt"), b"not an image").unwrap();
    std::fs::write(ev.join("case1/broken.jpg"), [0xff, 0xd8, 0xff, 0xe0, 0, 16]).unwrap();
    let large = last_of_task_1(&ev);
    let hashes = dir.join("known-hashes.csv");
    let st = bin()
        .args(["hash", "--algo", "pdq", "--backend", "cpu", "-o"])
        .arg(&hashes)
        .arg(ev.join("case1/d5/img005.png"))
        .arg(ev.join("case2/d2/img170.png"))
        .status()
        .unwrap();
    assert!(st.success());
    let refs = dir.join("known.hsref");
    common::refs_build(&hashes, &refs);
    (ev, refs, large)
}

#[test]
fn an_array_of_three_with_one_task_killed_and_requeued_merges_to_the_single_scan() {
    if !have_slurm() {
        return;
    }
    let dir = scratch("slurm");
    let (ev, refs, large) = tree(&dir);
    let files = 243;
    // Short: the munge socket path must stay under about 100 bytes.
    let cdir = PathBuf::from(format!("/tmp/hs-slurm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cdir);
    let cluster = Cluster::start(&cdir);
    let outdir = dir.join("out");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_hashsweep")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // One CPU per task and small rounds, so that records reach the output a few at a time
    // and the kill lands mid-run.
    let job = cluster
        .cmd("sbatch")
        .env("PATH", &path)
        .args([
            "--parsable",
            "--array=0-2",
            "--cpus-per-task=1",
            "--mem=100M",
            "--gres=none",
            "--time=10",
        ])
        .arg(format!("--output={}/task-%a.log", dir.display()))
        .arg("--open-mode=append")
        .arg(Path::new(ROOT).join("deploy/slurm-scan.sh"))
        .arg(&ev)
        .arg(&refs)
        .arg(&outdir)
        .args(["--backend", "cpu", "--round-pixels", "100000"])
        .output()
        .unwrap();
    assert!(
        job.status.success(),
        "sbatch: {}",
        String::from_utf8_lossy(&job.stderr)
    );
    let job = String::from_utf8(job.stdout).unwrap().trim().to_string();
    let job = job.split(';').next().unwrap().to_string();

    // Kill task 1 mid-run, before it reaches its last (large) file: Slurm's requeue
    // stops it (SIGTERM, then SIGKILL) and runs it again later, resuming its output.
    let shard1 = outdir.join("shard-1.jsonl");
    let large_key = large.to_str().unwrap().to_string();
    let task1_files = {
        let (found, _) =
            hashsweep::sources::walk::walk(std::slice::from_ref(&ev), Default::default());
        let s1 = hashsweep::scan::shard::Shard::parse("1/3").unwrap();
        found.iter().filter(|f| s1.owns(&f.path)).count()
    };
    // Half its files recorded: the large one, last, is still a second or more away.
    wait_until("task 1 to record half its files", || {
        by_path(&records(&shard1)).len() * 2 >= task1_files
    });
    let at_kill = by_path(&records(&shard1));
    cluster.run("scontrol", &["requeue", &format!("{job}_1")]);
    assert!(
        !at_kill.contains_key(&large_key),
        "task 1 had finished before the kill: nothing was interrupted"
    );
    wait_until("every task to finish", || {
        let states: Vec<String> = (0..3).map(|t| cluster.state(&job, t)).collect();
        assert!(
            !states
                .iter()
                .any(|s| ["FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL"].contains(&s.as_str())),
            "a task ended badly: {states:?}"
        );
        states.iter().all(|s| s == "COMPLETED")
    });
    let log1 = std::fs::read_to_string(dir.join("task-1.log")).unwrap_or_default();
    assert!(
        log1.contains("run 2"),
        "task 1 ran again after the requeue:\n{log1}"
    );
    let headers = records(&shard1)
        .into_iter()
        .filter(|r| r["type"] == "header")
        .collect::<Vec<_>>();
    assert_eq!(
        headers.len(),
        2,
        "task 1's output holds its first run and its resumption"
    );
    assert_eq!(headers[1]["resumed"], true);

    // The merge as a dependent job, as the deploy script says: it runs only if every
    // task ended well, and the broken JPEG must not count against its task.
    let merged = dir.join("all.jsonl");
    let shards: Vec<String> = (0..3)
        .map(|k| {
            outdir
                .join(format!("shard-{k}.jsonl"))
                .display()
                .to_string()
        })
        .collect();
    let merge_job = cluster.run(
        "sbatch",
        &[
            "--parsable",
            &format!("--dependency=afterok:{job}"),
            "--cpus-per-task=1",
            "--mem=100M",
            &format!("--output={}/merge.log", dir.display()),
            "--wrap",
            &format!(
                "{} merge {} -o {}",
                env!("CARGO_BIN_EXE_hashsweep"),
                shards.join(" "),
                merged.display()
            ),
        ],
    );
    let merge_job = merge_job.trim().split(';').next().unwrap().to_string();
    wait_until("the merge job", || {
        let o = cluster
            .cmd("scontrol")
            .args(["show", "job", &merge_job])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(
            !text.contains("DependencyNeverSatisfied"),
            "merge never ran: {text}"
        );
        text.contains("JobState=COMPLETED")
    });
    drop(cluster);

    let single = dir.join("single.jsonl");
    let st = bin()
        .args(["scan", "--quiet", "--backend", "cpu", "--refs"])
        .arg(&refs)
        .arg(&ev)
        .arg("-o")
        .arg(&single)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(1), "one file (the broken JPEG) failed");
    let (m, s) = (records(&merged), records(&single));
    let file_lines = m.iter().filter(|r| r["type"] == "file").count();
    assert_eq!(file_lines, files, "every file exactly once");
    assert_eq!(
        by_path(&m),
        by_path(&s),
        "the merged records are the single scan's"
    );
    let matches = |p: &Path| {
        let mut v: Vec<String> = records(&hashsweep::scan::matches_path(p))
            .iter()
            .map(|r| format!("{} {} {}", r["path"], r["distance"], r["entry_id"]))
            .collect();
        v.sort();
        v
    };
    let found = matches(&merged);
    for known in ["img005.png\" 0 ", "img170.png\" 0 "] {
        assert!(
            found.iter().any(|m| m.contains(known)),
            "{known} not matched exactly"
        );
    }
    assert_eq!(
        found,
        matches(&single),
        "the merged matches are the single scan's"
    );
}
