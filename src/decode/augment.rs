//! Sub-windows of a reference picture (`refs build --augment crops`): PDQ of a copy cropped
//! by a few percent is far from the whole picture's, but near the hash of the same window
//! of it. Each window becomes a derived entry of the set, pointing at its parent.
//!
//! The windows were chosen on `bench robustness` (docs/benchmarks.md, augmentation table): centred
//! crops catch trims of every side, corner crops the trims of two sides, side crops the
//! trim of one.

use crate::decode::trim::{self, Rect};
use crate::frame::Frame;

/// A window as fractions of the width and height: left, top, right, bottom.
pub type Window = (f64, f64, f64, f64);

/// The windows hashed beside each reference picture, by name.
pub const CROPS: &[(&str, Window)] = &[
    ("crop95", (0.025, 0.025, 0.975, 0.975)),
    ("crop90", (0.05, 0.05, 0.95, 0.95)),
    ("crop85", (0.075, 0.075, 0.925, 0.925)),
    ("crop90_top_left", (0.0, 0.0, 0.9, 0.9)),
    ("crop90_top_right", (0.1, 0.0, 1.0, 0.9)),
    ("crop90_bottom_left", (0.0, 0.1, 0.9, 1.0)),
    ("crop90_bottom_right", (0.1, 0.1, 1.0, 1.0)),
    ("crop90_left", (0.0, 0.0, 0.9, 1.0)),
    ("crop90_right", (0.1, 0.0, 1.0, 1.0)),
    ("crop90_top", (0.0, 0.0, 1.0, 0.9)),
    ("crop90_bottom", (0.0, 0.1, 1.0, 1.0)),
];

/// Pictures smaller than this on a side are not cropped: a few pixels less changes their
/// hash anyway.
pub const MIN_SIDE: u32 = 32;

/// The window `w` of a `width x height` picture, in whole pixels.
pub fn rect(width: u32, height: u32, w: Window) -> Rect {
    let at = |f: f64, n: u32| ((f * f64::from(n)).round() as u32).min(n);
    let (x0, y0, x1, y1) = (
        at(w.0, width),
        at(w.1, height),
        at(w.2, width),
        at(w.3, height),
    );
    Rect {
        x: x0,
        y: y0,
        width: (x1 - x0).max(1),
        height: (y1 - y0).max(1),
    }
}

/// Every window of `CROPS` cut from `f`, by name; none for a small picture.
pub fn crops(f: &Frame) -> Vec<(&'static str, Frame)> {
    if f.width() < MIN_SIDE || f.height() < MIN_SIDE {
        return vec![];
    }
    CROPS
        .iter()
        .map(|(name, w)| (*name, trim::crop(f, rect(f.width(), f.height(), *w))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_lie_inside_and_small_pictures_are_not_cropped() {
        let f = Frame::synthetic(200, 100, 1);
        let c = crops(&f);
        assert_eq!(c.len(), CROPS.len());
        let (name, centre) = &c[1];
        assert_eq!(*name, "crop90");
        assert_eq!((centre.width(), centre.height()), (180, 90));
        assert_eq!(
            rect(200, 100, CROPS[6].1),
            Rect {
                x: 20,
                y: 10,
                width: 180,
                height: 90
            }
        );
        assert!(crops(&Frame::synthetic(20, 100, 1)).is_empty());
    }
}
