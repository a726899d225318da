//! `hashsweep match` against sets built from vPDQ files: each query video (or vPDQ file) is
//! matched as a whole video by the vPDQ rule, and the rows say how much of each it shares.

use std::io::{BufWriter, Write};

use serde_json::json;

use super::match_cmd::{Counts, Kinds, MatchArgs, open_output, video_name, warn_device};
use super::output::{Format, csv_cell};
use crate::engine::Engine;
use crate::matching::{self, Planner, video};
use crate::progress::Progress;
use crate::refset::{Algo, RefSet};

/// Against sets built from vPDQ files: each video or vPDQ file is one query video, and
/// all of them go through the matcher in one run over each set.
pub(super) fn match_videos(
    args: &MatchArgs,
    sets: &[RefSet],
    engine: &Engine,
    kinds: &Kinds,
    mut stats: Counts,
    progress: &Progress,
) -> anyhow::Result<i32> {
    for p in kinds.images.iter().chain(&kinds.lists) {
        eprintln!(
            "hashsweep: {}: not a video or vPDQ file; these sets hold videos (give images in a run of their own)",
            p.display()
        );
        stats.failed += 1;
    }
    let opts = args.video.options(crate::decode::DEFAULT_MAX_PIXELS);
    let mut names = vec![];
    let mut features = vec![];
    progress.set_total((kinds.vpdq.len() + kinds.videos.len()) as u64);
    let read = kinds
        .vpdq
        .iter()
        .map(|p| (p, crate::video::read_text(p).map_err(anyhow::Error::from)));
    let hashed = kinds.videos.iter().map(|p| {
        let h = crate::video::hash_video(p, engine, &opts).map_err(anyhow::Error::from);
        (
            p,
            h.map(|h| {
                for w in &h.warnings {
                    eprintln!("hashsweep: warning: {}: {w}", p.display());
                }
                h.features
            }),
        )
    });
    for (p, r) in read.chain(hashed) {
        progress.add(1, u64::from(r.is_err()), 0);
        match r {
            Ok(f) => {
                names.push(video_name(p));
                features.push(f);
            }
            Err(e) => {
                eprintln!("hashsweep: {}: {e}", p.display());
                stats.failed += 1;
            }
        }
    }
    let distance = args
        .max_distance
        .unwrap_or_else(|| matching::default_max_distance(Algo::Pdq));
    let p = args.video.params(distance, args.min_quality);
    let queries: Vec<_> = features
        .iter()
        .map(|f| video::distinct(f, p.min_quality))
        .collect();
    let planner = Planner::on_device(engine.gpu_context()).index(args.index.into());
    let mut found = vec![];
    for (i, set) in sets.iter().enumerate() {
        progress.stage(format!(
            "matching {} videos against {}",
            names.len(),
            set.path().display()
        ));
        let totals = video::VideoTotals::new(set, p.min_quality);
        let in_set = video::against_set(set, &totals, &planner, &queries, &p);
        found.extend(in_set.into_iter().map(|m| (i, m)));
    }
    progress.finish();
    warn_device(engine, &planner);
    write_video_matches(args, sets, &names, &found, &p)?;
    eprintln!(
        "hashsweep: {} query videos against {} videos ({} frame hashes) on {}: {} pairs share hashes, {} match (q% >= {}, c% >= {}); {} failed",
        names.len(),
        sets.iter().map(RefSet::video_count).sum::<usize>(),
        sets.iter().map(RefSet::len).sum::<usize>(),
        engine.describe(),
        found.len(),
        found.iter().filter(|(_, m)| m.score.is_match(&p)).count(),
        p.query_pct,
        p.compared_pct,
        stats.failed
    );
    Ok(i32::from(stats.failed > 0))
}

fn write_video_matches(
    args: &MatchArgs,
    sets: &[RefSet],
    names: &[String],
    found: &[(usize, video::VideoMatch)],
    p: &video::VpdqParams,
) -> anyhow::Result<()> {
    let mut out = BufWriter::new(open_output(args)?);
    if args.format == Format::Csv {
        writeln!(
            out,
            "query,refset,compared,query_match_pct,compared_match_pct,match,query_hashes_matched,query_hashes,compared_hashes_matched,compared_hashes"
        )?;
    }
    for (i, m) in found {
        let set = &sets[*i];
        let set_name = set.path().to_string_lossy();
        let (q, c, s) = (&names[m.query], set.video_name(m.video), m.score);
        match args.format {
            Format::Csv => writeln!(
                out,
                "{},{},{},{:.2},{:.2},{},{},{},{},{}",
                csv_cell(q),
                csv_cell(&set_name),
                csv_cell(c),
                s.query_pct(),
                s.compared_pct(),
                s.is_match(p),
                s.query_hits,
                s.query_total,
                s.compared_hits,
                s.compared_total
            )?,
            Format::Jsonl => {
                let mut line = json!({"query": q, "refset": set_name, "compared": c});
                s.put_json(p, &mut line);
                writeln!(out, "{line}")?
            }
        }
    }
    out.flush()?;
    Ok(())
}
