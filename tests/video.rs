//! vPDQ against the reference output in ../shared/testdata/video: sampled frames, hashes,
//! and the video-to-video decisions of pairs.csv.

mod common;

use std::path::Path;

use common::{mean_max, read_csv, sample_videos};
use hashsweep::Engine;
use hashsweep::matching::video::{self, VpdqParams};
use hashsweep::video::{self as vpdq, Feature, VideoOptions};

fn reference(video: &Path) -> Vec<Feature> {
    vpdq::read_text(&video.with_extension("vpdq.txt")).unwrap()
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
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
