//! `hashsweep bench robustness`: how well each hash survives common edits. Every image is
//! edited by each transform; the copy is hashed and compared with its own original (should
//! match) and with every other original (should not). Per transform and algorithm: recall at
//! the recommended threshold, the largest threshold that keeps precision at 99.9% and the
//! recall there, and the distance distributions, written as Markdown, CSV and SVG.

pub mod report;
pub mod transforms;

use image::RgbImage;

use crate::decode::{augment, trim};
use crate::engine::{Algorithms, Engine};
use crate::frame::Frame;
use crate::gpu::GpuError;
use crate::hash::{Dihedral, PdqHashes, Phash64};

/// The compared hashes: PDQ as is, PDQ with the copy's best dihedral variant, pHash, and
/// the two PDQ forms with `--trim-borders` as matching uses it (the closer of the whole
/// copy and the copy with its added borders cut).
/// `augment` rows compare copies also with the hashes of the originals' crops
/// (`refs build --augment crops`); `all` is trim, augment and dihedral together.
pub const ALGOS: [(&str, u32, usize); 8] = [
    ("pdq", 31, 256),
    ("pdq_dihedral", 31, 256),
    ("phash", 10, 64),
    ("pdq_trim", 31, 256),
    ("pdq_trim_dihedral", 31, 256),
    ("pdq_augment", 31, 256),
    ("pdq_trim_augment", 31, 256),
    ("pdq_all", 31, 256),
];

/// Precision the second threshold keeps.
pub const PRECISION: f64 = 0.999;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub transform: String,
    pub algo: String,
    pub images: usize,
    pub threshold: u32,
    pub recall: f64,
    /// Largest threshold whose precision is at least `PRECISION` (None: none is).
    pub threshold_999: Option<u32>,
    pub recall_999: f64,
    pub same_mean: f64,
    pub same_max: u32,
    pub different_min: u32,
    /// Counts of distances 0..=bits for same-image and different-image pairs.
    pub same_hist: Vec<u64>,
    pub different_hist: Vec<u64>,
}

/// Distinct synthetic photos-like images: a gradient sky, then random ellipses and boxes.
pub fn generate(n: usize, seed: u64) -> Vec<RgbImage> {
    let mut r = crate::hash::random_words(seed);
    let mut next = move |m: u64| r.next().unwrap_or(0) % m.max(1);
    (0..n)
        .map(|_| {
            let (w, h) = (480u32, 360u32);
            let (c0, c1): ([u8; 3], [u8; 3]) = (
                std::array::from_fn(|_| next(256) as u8),
                std::array::from_fn(|_| next(256) as u8),
            );
            let mut img = RgbImage::from_fn(w, h, |_, y| {
                image::Rgb(std::array::from_fn(|k| {
                    ((u32::from(c0[k]) * (h - y) + u32::from(c1[k]) * y) / h) as u8
                }))
            });
            for _ in 0..(6 + next(10)) {
                let colour = image::Rgb(std::array::from_fn(|_| next(256) as u8));
                let (cx, cy) = (next(u64::from(w)) as i64, next(u64::from(h)) as i64);
                let (rx, ry) = (20 + next(140) as i64, 20 + next(110) as i64);
                let round = next(2) == 0;
                for y in (cy - ry).max(0)..(cy + ry).min(i64::from(h)) {
                    for x in (cx - rx).max(0)..(cx + rx).min(i64::from(w)) {
                        let (dx, dy) = ((x - cx) as f64 / rx as f64, (y - cy) as f64 / ry as f64);
                        if !round || dx * dx + dy * dy <= 1.0 {
                            img.put_pixel(x as u32, y as u32, colour);
                        }
                    }
                }
            }
            img
        })
        .collect()
}

fn frame(i: &RgbImage) -> Frame {
    Frame::new(i.width(), i.height(), i.as_raw().clone()).expect("an RgbImage is a whole frame")
}

struct Hashes {
    pdq: PdqHashes,
    phash: Phash64,
    /// PDQ of the picture inside added borders, when any were found.
    trimmed: Option<PdqHashes>,
    /// PDQ of the picture's `augment::CROPS` windows (originals only).
    crops: Vec<PdqHashes>,
}

fn hash_all(engine: &Engine, images: &[RgbImage]) -> Result<Vec<Hashes>, GpuError> {
    hash_with(engine, images, false)
}

/// Hashes of each image whole, inside its added borders, and with `crops` its windows.
fn hash_with(engine: &Engine, images: &[RgbImage], crops: bool) -> Result<Vec<Hashes>, GpuError> {
    let frames: Vec<Frame> = images.iter().map(frame).collect();
    let trimmed: Vec<Option<Frame>> = frames
        .iter()
        .map(|f| trim::cut(f).map(|(_, inside)| inside))
        .collect();
    let windows: Vec<Vec<Frame>> = frames
        .iter()
        .map(|f| match crops {
            true => augment::crops(f).into_iter().map(|(_, c)| c).collect(),
            false => vec![],
        })
        .collect();
    let refs: Vec<&Frame> = frames
        .iter()
        .chain(trimmed.iter().flatten())
        .chain(windows.iter().flatten())
        .collect();
    let mut all = engine.hash(&refs, Algorithms::ALL).into_iter();
    let whole: Vec<_> = all.by_ref().take(frames.len()).collect();
    let mut pdq = || all.next().and_then(|h| h.pdq).expect("asked for");
    let trimmed: Vec<Option<PdqHashes>> =
        trimmed.iter().map(|t| t.as_ref().map(|_| pdq())).collect();
    let windows: Vec<Vec<PdqHashes>> = windows
        .iter()
        .map(|w| w.iter().map(|_| pdq()).collect())
        .collect();
    Ok(whole
        .into_iter()
        .zip(trimmed)
        .zip(windows)
        .map(|((h, trimmed), crops)| Hashes {
            pdq: h.pdq.expect("asked for"),
            phash: h.phash.expect("asked for"),
            trimmed,
            crops,
        })
        .collect())
}

/// Distance from an original to a copy under one of `ALGOS`.
fn distance(algo: &str, original: &Hashes, copy: &Hashes) -> u32 {
    // The reference's forms (whole, and with augmentation its crops) against the copy's
    // (whole, and with trimming its inside; each in 8 orientations with dihedral).
    let closest = |trim: bool, augment: bool, dihedral: bool| {
        let forms: &[Dihedral] = if dihedral {
            &Dihedral::ALL
        } else {
            &Dihedral::ALL[..1]
        };
        let refs = std::iter::once(&original.pdq).chain(original.crops.iter().filter(|_| augment));
        let copies: Vec<&PdqHashes> = std::iter::once(&copy.pdq)
            .chain(copy.trimmed.iter().filter(|_| trim))
            .collect();
        refs.flat_map(|r| {
            copies.iter().flat_map(move |c| {
                forms
                    .iter()
                    .map(move |d| r.original().distance(&c.variant(*d)).0)
            })
        })
        .min()
        .unwrap_or(256)
    };
    match algo {
        "pdq" => closest(false, false, false),
        "pdq_dihedral" => closest(false, false, true),
        "pdq_trim" => closest(true, false, false),
        "pdq_trim_dihedral" => closest(true, false, true),
        "pdq_augment" => closest(false, true, false),
        "pdq_trim_augment" => closest(true, true, false),
        "pdq_all" => closest(true, true, true),
        _ => original.phash.distance(&copy.phash).0,
    }
}

/// How many of the images have borders that `--trim-borders` would cut: on originals
/// without added borders, each one is a picture cut wrongly.
pub fn trimmed_count(images: &[RgbImage]) -> usize {
    images
        .iter()
        .filter(|i| trim::content_box(&frame(i)).is_some())
        .count()
}

/// The images whose PDQ quality reaches the matcher's floor: below it the matcher skips a
/// query (a featureless or black picture's hash is noise), so its recall is not PDQ's.
pub fn hashable(engine: &Engine, images: Vec<RgbImage>) -> Result<Vec<RgbImage>, GpuError> {
    let hashes = hash_all(engine, &images)?;
    Ok(images
        .into_iter()
        .zip(hashes)
        .filter(|(_, h)| h.pdq.quality.0 >= crate::matching::DEFAULT_MIN_QUALITY)
        .map(|(i, _)| i)
        .collect())
}

/// The images that are distinct from every earlier one (PDQ, in any rotation or flip and
/// with added borders cut, over 31 and pHash over 10 bits apart): a corpus holding edits of one picture would otherwise
/// count its own variants as false matches.
pub fn distinct(engine: &Engine, images: Vec<RgbImage>) -> Result<Vec<RgbImage>, GpuError> {
    let hashes = hash_all(engine, &images)?;
    let mut kept: Vec<usize> = vec![];
    for (i, h) in hashes.iter().enumerate() {
        // Alike in any form the bench measures, borders cut included: a picture and its
        // padded copy are one original, not two.
        let near = |j: &usize| {
            let o = &hashes[*j];
            distance("pdq_trim_dihedral", o, h) <= ALGOS[4].1
                || distance("pdq_trim_dihedral", h, o) <= ALGOS[4].1
                || distance("phash", o, h) <= ALGOS[2].1
        };
        if !kept.iter().any(near) {
            kept.push(i);
        }
    }
    let mut images: Vec<Option<RgbImage>> = images.into_iter().map(Some).collect();
    Ok(kept.into_iter().filter_map(|i| images[i].take()).collect())
}

/// All rows: each transform x each algorithm.
pub fn run(engine: &Engine, originals: &[RgbImage]) -> Result<Vec<Row>, GpuError> {
    let base = hash_with(engine, originals, true)?;
    let mut rows = vec![];
    for (name, t) in transforms::ALL {
        let copies: Vec<RgbImage> = originals.iter().map(t).collect();
        let hashed = hash_all(engine, &copies)?;
        for (algo, threshold, bits) in ALGOS {
            let mut same = vec![0u64; bits + 1];
            let mut different = vec![0u64; bits + 1];
            for (i, c) in hashed.iter().enumerate() {
                for (j, o) in base.iter().enumerate() {
                    let d = distance(algo, o, c) as usize;
                    if i == j {
                        same[d] += 1
                    } else {
                        different[d] += 1
                    }
                }
            }
            rows.push(row(name, algo, threshold, same, different));
        }
    }
    Ok(rows)
}

fn row(transform: &str, algo: &str, threshold: u32, same: Vec<u64>, different: Vec<u64>) -> Row {
    let n: u64 = same.iter().sum();
    let upto = |h: &[u64], t: usize| h[..=t.min(h.len() - 1)].iter().sum::<u64>();
    let recall = |t: usize| upto(&same, t) as f64 / n.max(1) as f64;
    let precise = |t: usize| {
        let (tp, fp) = (upto(&same, t), upto(&different, t));
        tp + fp == 0 || tp as f64 / (tp + fp) as f64 >= PRECISION
    };
    let threshold_999 = (0..same.len())
        .rev()
        .find(|&t| precise(t) && (0..=t).all(precise))
        .map(|t| t as u32);
    let same_mean = same
        .iter()
        .enumerate()
        .map(|(d, &c)| d as f64 * c as f64)
        .sum::<f64>()
        / n.max(1) as f64;
    Row {
        transform: transform.to_string(),
        algo: algo.to_string(),
        images: n as usize,
        threshold,
        recall: recall(threshold as usize),
        threshold_999,
        recall_999: threshold_999.map_or(0.0, |t| recall(t as usize)),
        same_mean,
        same_max: same.iter().rposition(|&c| c > 0).unwrap_or(0) as u32,
        different_min: different
            .iter()
            .position(|&c| c > 0)
            .unwrap_or(different.len()) as u32,
        same_hist: same,
        different_hist: different,
    }
}

/// A folder's pictures as the benchmark's originals: every file that decodes, those longer
/// than `max_side` on their long side reduced to it (the edits then cost less time).
pub fn load_corpus(dir: &std::path::Path, max_side: u32) -> Vec<image::RgbImage> {
    use rayon::prelude::*;
    let (files, _) = crate::sources::walk::expand(&[dir.to_path_buf()]);
    files
        .par_iter()
        .filter_map(|p| {
            crate::decode::decode_file(p, &crate::decode::DecodeOptions::default()).ok()
        })
        .map(|d| {
            let f = d.frame;
            let img = image::RgbImage::from_raw(f.width(), f.height(), f.rgb().to_vec())
                .expect("whole frame");
            let long = f.width().max(f.height());
            if long <= max_side {
                return img;
            }
            let s = f64::from(max_side) / f64::from(long);
            let (w, h) = (
                (f64::from(f.width()) * s).max(1.0) as u32,
                (f64::from(f.height()) * s).max(1.0) as u32,
            );
            image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_come_from_the_distributions() {
        let mut same = vec![0u64; 65];
        let mut diff = vec![0u64; 65];
        same[2] = 8;
        same[20] = 2;
        diff[15] = 1;
        diff[30] = 100;
        let r = row("t", "phash", 10, same, diff);
        assert_eq!(r.recall, 0.8);
        // At 14 precision is 1; at 15 one false pair among 9 breaks 99.9%.
        assert_eq!(r.threshold_999, Some(14));
        assert_eq!(r.recall_999, 0.8);
        assert_eq!((r.same_max, r.different_min), (20, 15));
    }

    #[test]
    fn generated_images_are_distinct_and_transforms_keep_them_images() {
        let imgs = generate(3, 1);
        assert_ne!(imgs[0], imgs[1]);
        for (name, t) in transforms::ALL {
            let c = t(&imgs[0]);
            assert!(c.width() >= 8 && c.height() >= 8, "{name}");
        }
    }
}
