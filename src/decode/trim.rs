//! Borders added around a picture (letterbox and pillarbox bars, padding of any solid
//! colour) found and cut away before hashing: PDQ of a padded copy is as far from the
//! original as an unrelated picture's.
//!
//! A border is cut only when it looks added, not photographed:
//! - flat: nearly every pixel of each of its lines is within `PIXEL_TOLERANCE` of the
//!   border's colour (the outermost line's median), and each line's mean within
//!   `MEAN_TOLERANCE` of it: JPEG noise passes, a gradient sky drifts out;
//! - ending at an edge: within `EDGE_SEARCH` lines of where it stops being flat (JPEG
//!   ringing blurs the last lines of a bar), a line differs from the border colour clearly
//!   (`EDGE_MEAN` on average, or `EDGE_SHARE` of its pixels by `EDGE_PIXEL`), as a picture
//!   placed on a canvas does and a sky fading into a horizon does not; the lines before it
//!   are cut with the border;
//! - on both opposite sides (top and bottom, or left and right), in colours alike: bars
//!   and padding come in pairs, a dark sky or floor does not;
//! - between `MIN_LINES` and `MAX_SHARE` of the side.
//!
//! The numbers were chosen on the robustness corpus and the shared sample images (see the
//! the trim table of docs/benchmarks.md): they cut every padded, letterboxed and pillarboxed copy there and no
//! original.

use crate::frame::Frame;

/// Per-channel distance of a border pixel from the border colour.
pub const PIXEL_TOLERANCE: i32 = 16;
/// Share of a border line's pixels that must be within `PIXEL_TOLERANCE`.
pub const FLAT_SHARE: f64 = 0.99;
/// Per-channel distance of a border line's mean from the border colour.
pub const MEAN_TOLERANCE: f64 = 4.0;
/// The first line inside must differ from the border colour by this much on average...
pub const EDGE_MEAN: f64 = 12.0;
/// ... or this share of its pixels by `EDGE_PIXEL` in some channel.
pub const EDGE_SHARE: f64 = 0.10;
pub const EDGE_PIXEL: i32 = 40;
/// Opposite borders' colours may differ this much per channel.
pub const PAIR_TOLERANCE: i32 = 24;
/// Lines past the flat part in which the edge may lie.
pub const EDGE_SEARCH: u32 = 3;
/// Fewer lines than this are not worth a cut (PDQ does not see them).
pub const MIN_LINES: u32 = 2;
/// No side loses more than this share of the picture.
pub const MAX_SHARE: f64 = 0.40;

/// The part of a frame that was hashed: x, y, width, height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// The picture inside added borders, or `None` when there are none to cut.
pub fn content_box(f: &Frame) -> Option<Rect> {
    let (w, h) = (f.width(), f.height());
    let (top, bottom) = pair(f, Side::Top, Side::Bottom, h);
    let (left, right) = pair(f, Side::Left, Side::Right, w);
    if top + bottom + left + right == 0 {
        return None;
    }
    Some(Rect {
        x: left,
        y: top,
        width: w - left - right,
        height: h - top - bottom,
    })
}

/// The picture inside added borders, where it lies and as a frame of its own.
pub fn cut(f: &Frame) -> Option<(Rect, Frame)> {
    content_box(f).map(|r| (r, crop(f, r)))
}

/// A frame cut to `r`.
pub fn crop(f: &Frame, r: Rect) -> Frame {
    let (w, rgb) = (f.width() as usize, f.rgb());
    let mut out = Vec::with_capacity(r.width as usize * r.height as usize * 3);
    for y in r.y..r.y + r.height {
        let start = (y as usize * w + r.x as usize) * 3;
        out.extend_from_slice(&rgb[start..start + r.width as usize * 3]);
    }
    Frame::new(r.width, r.height, out).expect("a crop inside the frame")
}

#[derive(Clone, Copy)]
enum Side {
    Top,
    Bottom,
    Left,
    Right,
}

/// Border widths of two opposite sides: both or neither.
fn pair(f: &Frame, a: Side, b: Side, extent: u32) -> (u32, u32) {
    match (border(f, a), border(f, b)) {
        (Some((na, ca)), Some((nb, cb)))
            if (0..3).all(|k| (ca[k] - cb[k]).abs() <= PAIR_TOLERANCE)
                && extent > na + nb
                && extent - na - nb >= MIN_LINES =>
        {
            (na, nb)
        }
        _ => (0, 0),
    }
}

/// Pixels of line `i` (counted from `side`) of the frame, as RGB triples.
fn line(f: &Frame, side: Side, i: u32) -> Vec<[i32; 3]> {
    let (w, h) = (f.width(), f.height());
    let px = |x: u32, y: u32| {
        let o = (y as usize * w as usize + x as usize) * 3;
        let p = &f.rgb()[o..o + 3];
        [i32::from(p[0]), i32::from(p[1]), i32::from(p[2])]
    };
    match side {
        Side::Top => (0..w).map(|x| px(x, i)).collect(),
        Side::Bottom => (0..w).map(|x| px(x, h - 1 - i)).collect(),
        Side::Left => (0..h).map(|y| px(i, y)).collect(),
        Side::Right => (0..h).map(|y| px(w - 1 - i, y)).collect(),
    }
}

/// How many lines from `side` form an added border, and its colour.
fn border(f: &Frame, side: Side) -> Option<(u32, [i32; 3])> {
    let extent = match side {
        Side::Top | Side::Bottom => f.height(),
        Side::Left | Side::Right => f.width(),
    };
    let most = (f64::from(extent) * MAX_SHARE) as u32;
    let colour = median(&line(f, side, 0));
    let mut n = 0;
    while n < extent && flat(&line(f, side, n), colour) {
        n += 1;
        if n > most {
            return None;
        }
    }
    if n < MIN_LINES {
        return None;
    }
    let inside = (n..(n + EDGE_SEARCH).min(extent)).find(|&i| edge(&line(f, side, i), colour))?;
    (inside <= most).then_some((inside, colour))
}

fn median(px: &[[i32; 3]]) -> [i32; 3] {
    std::array::from_fn(|k| {
        let mut c: Vec<i32> = px.iter().map(|p| p[k]).collect();
        let mid = c.len() / 2;
        *c.select_nth_unstable(mid).1
    })
}

fn mean(px: &[[i32; 3]]) -> [f64; 3] {
    std::array::from_fn(|k| px.iter().map(|p| f64::from(p[k])).sum::<f64>() / px.len() as f64)
}

fn flat(px: &[[i32; 3]], colour: [i32; 3]) -> bool {
    let near = px
        .iter()
        .filter(|p| (0..3).all(|k| (p[k] - colour[k]).abs() <= PIXEL_TOLERANCE))
        .count();
    let m = mean(px);
    near as f64 >= FLAT_SHARE * px.len() as f64
        && (0..3).all(|k| (m[k] - f64::from(colour[k])).abs() <= MEAN_TOLERANCE)
}

fn edge(px: &[[i32; 3]], colour: [i32; 3]) -> bool {
    let m = mean(px);
    let mean_off = (0..3)
        .map(|k| (m[k] - f64::from(colour[k])).abs())
        .fold(0.0, f64::max);
    let far = px
        .iter()
        .filter(|p| (0..3).any(|k| (p[k] - colour[k]).abs() > EDGE_PIXEL))
        .count();
    mean_off >= EDGE_MEAN || far as f64 >= EDGE_SHARE * px.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(w: u32, h: u32, seed: u64) -> Frame {
        Frame::synthetic(w, h, seed)
    }

    /// `inner` placed on a canvas of `colour` with the given margins.
    fn pad(inner: &Frame, colour: [u8; 3], top: u32, bottom: u32, left: u32, right: u32) -> Frame {
        let (w, h) = (inner.width() + left + right, inner.height() + top + bottom);
        let mut rgb = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                let inside =
                    y >= top && y < top + inner.height() && x >= left && x < left + inner.width();
                if inside {
                    let o = (((y - top) * inner.width() + (x - left)) * 3) as usize;
                    rgb.extend_from_slice(&inner.rgb()[o..o + 3]);
                } else {
                    rgb.extend_from_slice(&colour);
                }
            }
        }
        Frame::new(w, h, rgb).unwrap()
    }

    #[test]
    fn letterbox_pillarbox_and_padding_are_cut_exactly() {
        let p = picture(200, 150, 3);
        for (colour, t, b, l, r) in [
            ([0, 0, 0], 30, 30, 0, 0),
            ([0, 0, 0], 0, 0, 40, 41),
            ([255, 255, 255], 12, 12, 12, 12),
            ([40, 120, 200], 20, 18, 7, 9),
        ] {
            let padded = pad(&p, colour, t, b, l, r);
            let got = content_box(&padded).expect("a border");
            assert_eq!(
                got,
                Rect {
                    x: l,
                    y: t,
                    width: 200,
                    height: 150
                },
                "{colour:?} {t} {b} {l} {r}"
            );
            assert_eq!(crop(&padded, got), p);
        }
    }

    #[test]
    fn pictures_without_borders_are_left_whole() {
        for seed in 0..20 {
            assert_eq!(content_box(&picture(160, 120, seed)), None, "seed {seed}");
        }
    }

    #[test]
    fn a_sky_is_not_a_border() {
        // A gradient sky over a scene, and a flat dark night sky over a lit town: flat
        // rows on one side only, or drifting in colour, are content.
        let (w, h) = (200u32, 150u32);
        let scene = picture(w, h, 7);
        let gradient = Frame::new(
            w,
            h,
            (0..h)
                .flat_map(|y| {
                    (0..w).flat_map(move |x| {
                        if y < 60 {
                            [20 + y as u8, 30 + y as u8, 90 + y as u8]
                        } else {
                            let o = ((y * w + x) * 3) as usize;
                            [o as u8, (o >> 3) as u8, (o >> 5) as u8]
                        }
                    })
                })
                .collect(),
        )
        .unwrap();
        assert_eq!(content_box(&gradient), None);
        let mut night = scene.rgb().to_vec();
        for (i, px) in night.chunks_exact_mut(3).enumerate() {
            if (i as u32) < w * 70 {
                // Dark sky with a few stars.
                let star = i % 397 == 0;
                px.copy_from_slice(if star { &[250, 250, 240] } else { &[8, 10, 20] });
            }
        }
        assert_eq!(content_box(&Frame::new(w, h, night).unwrap()), None);
    }

    #[test]
    fn borders_of_unlike_colours_or_too_wide_are_kept() {
        let p = picture(200, 150, 5);
        // Black above, white below: not a pair.
        let mut two = pad(&p, [0, 0, 0], 20, 0, 0, 0);
        two = pad(&two, [255, 255, 255], 0, 20, 0, 0);
        assert_eq!(content_box(&two), None);
        // Bars taking more than MAX_SHARE of the height on each side.
        let tall = pad(&picture(200, 20, 5), [0, 0, 0], 90, 90, 0, 0);
        assert_eq!(content_box(&tall), None);
    }
}
