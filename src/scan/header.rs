//! The header record of a scan: what was run, with which parameters, backend and
//! reference sets. `--resume` compares it with the header of the run it continues.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::{ScanConfig, meta_path, record, resume};
use crate::clock;
use crate::engine::Engine;
use crate::matching;
use crate::refset::verified::Verified;
use crate::refset::{Algo, RefSet};

/// `--resume` continues the same scan or none: a different algorithm, parameter or
/// reference set would leave records of two scans in one output.
pub(super) fn refuse_other_settings(cfg: &ScanConfig, now: &Value) -> anyhow::Result<()> {
    let meta = match cfg.format {
        record::Format::Csv => meta_path(&cfg.out),
        record::Format::Jsonl => cfg.out.clone(),
    };
    let Some(before) = resume::first_header(&meta)? else {
        return Ok(());
    };
    let diff = resume::differences(&before, now);
    if !diff.is_empty() {
        anyhow::bail!(
            "cannot resume {}: it was written with other settings ({}); resume with the settings it was started with, or write a new output",
            cfg.out.display(),
            diff.join("; ")
        );
    }
    Ok(())
}

/// The header record. `verified` says how each set's checksum was confirmed; `added`,
/// what the sets made the run compute beyond what was asked.
pub(super) fn header(
    cfg: &ScanConfig,
    engine: &Engine,
    sets: &[RefSet],
    verified: &[Verified],
    added: &[super::sets::Added],
) -> Value {
    let mut algos = vec![];
    if cfg.algos.pdq {
        algos.push("pdq");
    }
    if cfg.algos.phash {
        algos.push("phash");
    }
    let now = clock::unix_seconds(SystemTime::now());
    let mut h = json!({
        "type": "header",
        "tool": format!("hashsweep {}", env!("CARGO_PKG_VERSION")),
        "started": now,
        "started_utc": clock::iso8601_utc(now),
        // The scanning machine's own offset: reports show local times with it.
        "utc_offset_s": clock::local_offset(now),
        "host": host_name(),
        "command": cfg.command,
        "inputs": cfg.inputs,
        "resumed": cfg.resume,
        "algorithms": algos,
        "added_for_refs": added,
        "parameters": {
            "max_pixels": cfg.decode.max_pixels,
            "pre_resize": cfg.decode.pre_resize,
            "jpeg_reduced_to_min_side": cfg.decode.reduce_jpeg,
            "digests": cfg.digests,
            "shard": cfg.shard.to_string(),
            "follow_symlinks": cfg.follow_symlinks,
            "all_frames": cfg.all_frames,
            "dihedral": cfg.dihedral,
            "trim_borders": cfg.decode.trim_borders,
            "min_quality": cfg.min_quality,
            "max_distance": cfg.max_distance,
            "exif_orientation": if cfg.decode.exif_orient { "applied" } else { "ignored (stored pixels hashed, as the reference tools do)" },
            "alpha": match cfg.decode.background {
                Some([r, g, b]) => format!("composited on #{r:02x}{g:02x}{b:02x}"),
                None => "dropped (colour channels hashed as stored)".into(),
            },
            "pdq_pipeline": "reference core on the full decoded image",
            "video_interval_s": cfg.video.interval,
            "video_timeout_s": cfg.video.stall_timeout.as_secs_f64(),
            "decoder_timeout_s": cfg.decode.helper_timeout.as_secs_f64(),
            "vpdq_dir": cfg.vpdq_dir,
            "containers": {"max_depth": cfg.containers.max_depth, "max_ratio": cfg.containers.max_ratio, "carve": cfg.containers.carve},
            "video_match": {"distance": cfg.max_distance.unwrap_or(matching::default_max_distance(Algo::Pdq)), "min_quality": cfg.min_quality,
                "query_match_pct": cfg.query_match_pct, "compared_match_pct": cfg.compared_match_pct},
        },
        "backend": engine.describe(),
        "adapter": engine.adapter(),
        "refsets": sets.iter().zip(verified).map(|(s, v)| json!({"path": s.path(), "algorithm": s.algo().name(), "entries": s.len(), "checksum": v.checksum, "verified_in_full": v.in_full})).collect::<Vec<_>>(),
    });
    if let (Some(m), Value::Object(case)) = (h.as_object_mut(), json!(cfg.case)) {
        m.extend(case);
    }
    h
}

/// This machine's name, for the case file (empty when the system will not say).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
