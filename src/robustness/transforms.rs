//! The edits a copy of an image goes through on its way around the internet, as functions
//! from an image to its edited copy. Deterministic: the same input gives the same copy.

use image::{RgbImage, imageops};

pub type Transform = fn(&RgbImage) -> RgbImage;

/// Every transform the robustness bench applies, by name.
pub const ALL: &[(&str, Transform)] = &[
    ("jpeg_q30", |i| jpeg(i, 30)),
    ("jpeg_q50", |i| jpeg(i, 50)),
    ("jpeg_q75", |i| jpeg(i, 75)),
    ("resize_50", |i| scale(i, 0.5)),
    ("resize_25", |i| scale(i, 0.25)),
    ("crop_5", |i| crop(i, 0.05)),
    ("crop_10", |i| crop(i, 0.10)),
    ("crop_20", |i| crop(i, 0.20)),
    ("crop_side_10", |i| crop_side(i, 0.10)),
    ("crop_corner_10", |i| crop_corner(i, 0.10)),
    ("letterbox_20", |i| letterbox(i, 0.20)),
    ("pillarbox_20", |i| pillarbox(i, 0.20)),
    ("pad_10_white", |i| pad(i, 0.10, [255, 255, 255])),
    ("rotate_90", imageops::rotate90),
    ("rotate_180", imageops::rotate180),
    ("rotate_3deg", |i| rotate_small(i, 3.0)),
    ("rotate_10deg", |i| rotate_small(i, 10.0)),
    ("mirror", imageops::flip_horizontal),
    ("grey", grey),
    ("brightness_+40", |i| imageops::brighten(i, 40)),
    ("contrast_+40", |i| imageops::contrast(i, 40.0)),
    ("gamma_0.6", |i| gamma(i, 0.6)),
    ("blur_2", |i| imageops::blur(i, 2.0)),
    ("noise_16", |i| noise(i, 16)),
    ("watermark", watermark),
];

fn jpeg(i: &RgbImage, quality: u8) -> RgbImage {
    let mut bytes = vec![];
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality);
    i.write_with_encoder(enc).expect("in-memory JPEG");
    image::load_from_memory(&bytes)
        .expect("our own JPEG")
        .to_rgb8()
}

fn scale(i: &RgbImage, f: f64) -> RgbImage {
    let (w, h) = (
        (f64::from(i.width()) * f).max(1.0) as u32,
        (f64::from(i.height()) * f).max(1.0) as u32,
    );
    imageops::resize(i, w, h, imageops::FilterType::Triangle)
}

/// Cut `f` of the width and height away, half from each side.
fn crop(i: &RgbImage, f: f64) -> RgbImage {
    let (w, h) = (i.width(), i.height());
    let (dx, dy) = (
        (f64::from(w) * f / 2.0) as u32,
        (f64::from(h) * f / 2.0) as u32,
    );
    imageops::crop_imm(i, dx, dy, w - 2 * dx, h - 2 * dy).to_image()
}

/// Cut `f` of the width away from the right side only.
fn crop_side(i: &RgbImage, f: f64) -> RgbImage {
    let keep = (f64::from(i.width()) * (1.0 - f)) as u32;
    imageops::crop_imm(i, 0, 0, keep, i.height()).to_image()
}

/// Keep the top-left part: `f` of the width and height cut from the right and bottom.
fn crop_corner(i: &RgbImage, f: f64) -> RgbImage {
    let (w, h) = (
        (f64::from(i.width()) * (1.0 - f)) as u32,
        (f64::from(i.height()) * (1.0 - f)) as u32,
    );
    imageops::crop_imm(i, 0, 0, w, h).to_image()
}

/// Black bars above and below adding `f` of the height.
fn letterbox(i: &RgbImage, f: f64) -> RgbImage {
    let bar = (f64::from(i.height()) * f / 2.0) as u32;
    let mut out = RgbImage::new(i.width(), i.height() + 2 * bar);
    imageops::replace(&mut out, i, 0, i64::from(bar));
    out
}

/// Black bars left and right adding `f` of the width.
fn pillarbox(i: &RgbImage, f: f64) -> RgbImage {
    let bar = (f64::from(i.width()) * f / 2.0) as u32;
    let mut out = RgbImage::new(i.width() + 2 * bar, i.height());
    imageops::replace(&mut out, i, i64::from(bar), 0);
    out
}

/// A margin of `f` of each side in one colour all round (a picture posted on a canvas).
fn pad(i: &RgbImage, f: f64, colour: [u8; 3]) -> RgbImage {
    let (mx, my) = (
        (f64::from(i.width()) * f) as u32,
        (f64::from(i.height()) * f) as u32,
    );
    let mut out = RgbImage::from_pixel(i.width() + 2 * mx, i.height() + 2 * my, image::Rgb(colour));
    imageops::replace(&mut out, i, i64::from(mx), i64::from(my));
    out
}

/// Rotate by a small angle about the centre, bilinear, black corners, same canvas.
fn rotate_small(i: &RgbImage, degrees: f64) -> RgbImage {
    let (w, h) = (i.width() as f64, i.height() as f64);
    let (s, c) = degrees.to_radians().sin_cos();
    let (cx, cy) = (w / 2.0, h / 2.0);
    RgbImage::from_fn(i.width(), i.height(), |x, y| {
        let (dx, dy) = (f64::from(x) + 0.5 - cx, f64::from(y) + 0.5 - cy);
        let (sx, sy) = (c * dx + s * dy + cx - 0.5, -s * dx + c * dy + cy - 0.5);
        sample(i, sx, sy)
    })
}

fn sample(i: &RgbImage, x: f64, y: f64) -> image::Rgb<u8> {
    if x < 0.0 || y < 0.0 || x > f64::from(i.width() - 1) || y > f64::from(i.height() - 1) {
        return image::Rgb([0, 0, 0]);
    }
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(i.width() - 1), (y0 + 1).min(i.height() - 1));
    let (fx, fy) = (x - f64::from(x0), y - f64::from(y0));
    let px = |x, y| i.get_pixel(x, y).0.map(f64::from);
    let (a, b, c, d) = (px(x0, y0), px(x1, y0), px(x0, y1), px(x1, y1));
    image::Rgb(std::array::from_fn(|k| {
        let top = a[k] * (1.0 - fx) + b[k] * fx;
        let bottom = c[k] * (1.0 - fx) + d[k] * fx;
        (top * (1.0 - fy) + bottom * fy).round() as u8
    }))
}

fn grey(i: &RgbImage) -> RgbImage {
    image::DynamicImage::ImageLuma8(imageops::grayscale(i)).to_rgb8()
}

fn gamma(i: &RgbImage, g: f64) -> RgbImage {
    let lut: [u8; 256] =
        std::array::from_fn(|v| ((v as f64 / 255.0).powf(g) * 255.0).round() as u8);
    let mut out = i.clone();
    out.pixels_mut()
        .for_each(|p| p.0 = p.0.map(|v| lut[v as usize]));
    out
}

/// Uniform noise of +-`amp`, from a fixed seed.
fn noise(i: &RgbImage, amp: i32) -> RgbImage {
    let mut out = i.clone();
    let mut r = crate::hash::random_words(99);
    for p in out.pixels_mut() {
        let n = r.next().unwrap_or(0);
        for (k, v) in p.0.iter_mut().enumerate() {
            let d = ((n >> (16 * k)) % (2 * amp as u64 + 1)) as i32 - amp;
            *v = (i32::from(*v) + d).clamp(0, 255) as u8;
        }
    }
    out
}

/// A caption band across the lower part, with high-contrast marks standing in for text.
fn watermark(i: &RgbImage) -> RgbImage {
    let mut out = i.clone();
    let (w, h) = (i.width(), i.height());
    let (top, bottom) = (h * 80 / 100, h * 92 / 100);
    for y in top..bottom {
        for x in 0..w {
            let stroke = (x / 3) % 5 < 2 && (y - top) % 9 < 6 && (x / 40) % 6 != 5;
            out.put_pixel(
                x,
                y,
                if stroke {
                    image::Rgb([20, 20, 20])
                } else {
                    image::Rgb([245, 245, 245])
                },
            );
        }
    }
    out
}
