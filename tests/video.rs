//! vPDQ against the reference output in ../shared/testdata/video: sampled frames, hashes,
//! and the video-to-video decisions of pairs.csv.

mod common;

use std::path::Path;

use common::{file_name as name, mean_max, read_csv, sample_videos};
use hashsweep::Engine;
use hashsweep::matching::video::{self, VpdqParams};
use hashsweep::video::{self as vpdq, Feature, VideoOptions};

fn reference(video: &Path) -> Vec<Feature> {
    vpdq::read_text(&video.with_extension("vpdq.txt")).unwrap()
}

/// Our frames against the reference's: same numbers and timestamps, and distances of the
/// frames both call quality >= 80.
fn fidelity(engine: &Engine, label: &str) {
    let Some(videos) = sample_videos() else {
        return;
    };
    let (mut dists, mut all, mut identical) = (vec![], 0, 0);
    for v in &videos {
        let ours = vpdq::hash_video(v, engine, &VideoOptions::default()).unwrap();
        let theirs = reference(v);
        let frames = |f: &[Feature]| {
            f.iter()
                .map(|x| (x.frame, format!("{:.3}", x.timestamp)))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            frames(&ours.features),
            frames(&theirs),
            "{}: sampled frames",
            name(v)
        );
        for (a, b) in ours.features.iter().zip(&theirs) {
            all += 1;
            identical += usize::from(a.hash == b.hash && a.quality == b.quality);
            if b.quality >= 80 {
                let d = a.hash.distance(&b.hash).0;
                assert!(
                    d <= 10,
                    "{} frame {}: {d} bits from the reference",
                    name(v),
                    a.frame
                );
                dists.push(d);
            }
        }
    }
    let (mean, max) = mean_max(&dists);
    println!(
        "FIGURE vpdq {label}: {} frames (quality >= 80) of {} videos, mean {mean:.3} bits, max {max} from the reference; {identical}/{all} frames of any quality identical in hash and quality",
        dists.len(),
        videos.len()
    );
}

#[test]
fn cpu_frames_are_the_references_frames_within_10_bits() {
    fidelity(&Engine::Cpu, "cpu");
}

#[test]
fn gpu_frames_are_the_references_frames_within_10_bits() {
    if let Some(g) = common::gpu_engine() {
        fidelity(&g, "gpu");
    }
}

/// pairs.csv by the direct rule on the reference's own hashes: the rule itself.
#[test]
fn the_rule_reproduces_pairs_csv_from_the_reference_hashes() {
    let Some(videos) = sample_videos() else {
        return;
    };
    let dir = videos[0].parent().unwrap();
    let p = VpdqParams::default();
    for row in read_csv(&dir.join("pairs.csv")) {
        let q = video::distinct(&reference(&dir.join(&row["query"])), p.min_quality);
        let c = video::distinct(&reference(&dir.join(&row["compared"])), p.min_quality);
        let s = video::compare(&q, &c, p.distance);
        let want: (f64, f64) = (
            row["query_match_pct"].parse().unwrap(),
            row["compared_match_pct"].parse().unwrap(),
        );
        assert!(
            (s.query_pct() - want.0).abs() < 0.006 && (s.compared_pct() - want.1).abs() < 0.006,
            "{} vs {}: {:.2}/{:.2}, reference {want:?}",
            row["query"],
            row["compared"],
            s.query_pct(),
            s.compared_pct()
        );
    }
}

/// Every pair of pairs.csv from the whole-set search: the reference's hashes give exactly
/// the direct rule's shares, and our own hashes give the same decisions with shares within
/// one frame's worth (100 / distinct hashes), on the CPU and, when present, the GPU matcher.
#[test]
fn the_set_search_reproduces_pairs_csv() {
    let Some(videos) = sample_videos() else {
        return;
    };
    let dir = videos[0].parent().unwrap().to_path_buf();
    let scratch = common::scratch("video-pairs");
    let mut ours_files = vec![];
    for v in &videos {
        let h = vpdq::hash_video(v, &Engine::Cpu, &VideoOptions::default()).unwrap();
        let f = scratch.join(name(v).replace(".mp4", ".vpdq.txt"));
        std::fs::write(&f, vpdq::to_text(&h.features)).unwrap();
        ours_files.push(f);
    }
    let theirs_files: Vec<_> = videos
        .iter()
        .map(|v| v.with_extension("vpdq.txt"))
        .collect();
    let gpu = common::gpu_engine();
    // The sweep, and the same search through the set's multi-index (exact: same scores).
    let mut matchers = vec![
        ("cpu", hashsweep::matching::Planner::cpu()),
        (
            "mih",
            hashsweep::matching::Planner::cpu().index(hashsweep::matching::IndexChoice::Mih),
        ),
    ];
    if let Some(c) = gpu.as_ref().and_then(|g| g.gpu_context()) {
        let g = hashsweep::gpu::GpuMatcher::new(c).unwrap();
        let device = hashsweep::matching::Planner::with(g).pin_gpu_rate(1e15);
        matchers.push(("gpu", device));
    }
    let p = VpdqParams::default();
    let rows = read_csv(&dir.join("pairs.csv"));
    for (source, files) in [("reference", &theirs_files), ("ours", &ours_files)] {
        let set = build_set(&scratch.join(format!("{source}.hsref")), files);
        assert_eq!(set.video_count(), videos.len());
        let queries: Vec<_> = files
            .iter()
            .map(|f| video::distinct(&vpdq::read_text(f).unwrap(), p.min_quality))
            .collect();
        let totals = video::VideoTotals::new(&set, p.min_quality);
        for (label, m) in &matchers {
            let found = video::against_set(&set, &totals, m, &queries, &p);
            assert_eq!(m.fallback(), None, "{label}: the device did not fail");
            for row in &rows {
                let qi = videos.iter().position(|v| name(v) == row["query"]).unwrap();
                let stem = row["compared"].trim_end_matches(".mp4");
                let ci = (0..set.video_count())
                    .find(|&i| set.video_name(i).ends_with(&format!("/{stem}")))
                    .unwrap();
                let got = found
                    .iter()
                    .find(|x| x.query == qi && x.video == ci)
                    .map(|x| x.score)
                    .unwrap_or_default();
                let want_q: f64 = row["query_match_pct"].parse().unwrap();
                let want_c: f64 = row["compared_match_pct"].parse().unwrap();
                let want_match = want_q >= p.query_pct && want_c >= p.compared_pct;
                let pair = format!("{source}/{label}: {} vs {}", row["query"], row["compared"]);
                assert_eq!(got.is_match(&p), want_match, "{pair}");
                let frame_q = 100.0 / queries[qi].len().max(1) as f64;
                let frame_c = 100.0 / totals.per_video[ci].max(1) as f64;
                assert!(
                    (got.query_pct() - want_q).abs() <= frame_q + 0.005,
                    "{pair}: q% {}",
                    got.query_pct()
                );
                assert!(
                    (got.compared_pct() - want_c).abs() <= frame_c + 0.005,
                    "{pair}: c% {}",
                    got.compared_pct()
                );
                if source == "reference" {
                    let cmp = video::compare(
                        &queries[qi],
                        &queries[videos
                            .iter()
                            .position(|v| name(v) == row["compared"])
                            .unwrap()],
                        p.distance,
                    );
                    assert_eq!(got.query_hits, cmp.query_hits, "{pair}");
                    assert_eq!(got.compared_hits, cmp.compared_hits, "{pair}");
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(scratch);
}

fn build_set(path: &Path, files: &[std::path::PathBuf]) -> hashsweep::refset::RefSet {
    use hashsweep::refset::{Algo, input, write};
    let mut entries = vec![];
    for f in files {
        entries.extend(input::read_file(f, Some(Algo::Pdq), false).unwrap().entries);
    }
    write::write_set(path, &mut write::EntrySections::new(Algo::Pdq, entries)).unwrap();
    let indexed =
        hashsweep::refset::indexed::reindex(path, hashsweep::refset::indexed::Want::Always, None)
            .unwrap();
    assert!(indexed.plan.is_some(), "{:?}", indexed.why_not);
    let set = hashsweep::refset::RefSet::open(path).unwrap();
    assert!(set.has_videos() && set.index().is_some());
    set
}
