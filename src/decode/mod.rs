//! Bytes -> frames: format detection by content, decoding with the `image` crate, bounded
//! memory, and the optional pre-resize of the reference command-line hasher.

use std::io::Cursor;

use image::ImageDecoder;
use std::path::Path;

use thiserror::Error;

pub mod augment;
pub mod bmff;
pub mod heif;
pub mod integrity;
pub mod sniff;
pub mod trim;
pub mod yuv;

use crate::frame::Frame;

/// Default refusal threshold: 2^28 pixels (16384 x 16384), about 800 MB as RGB8. Larger
/// images are almost always decompression bombs in evidence sets.
pub const DEFAULT_MAX_PIXELS: u64 = 1 << 28;

#[derive(Debug, Error)]
pub enum DecodeError {
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("empty file")]
    Empty,
    #[error("unrecognised image format")]
    UnknownFormat,
    #[error(
        "a video ({0}), not an image: `hashsweep scan` writes its vPDQ hashes, `match` matches it"
    )]
    Video(&'static str),
    #[error("image is {width}x{height}, over the limit of {limit} pixels")]
    TooLarge { width: u32, height: u32, limit: u64 },
    #[error("decode failed: {0}")]
    Decode(String),
}

#[derive(Debug, Clone, Copy)]
pub struct DecodeOptions {
    /// Refuse images with more pixels than this before allocating them.
    pub max_pixels: u64,
    /// Emulate the reference `pdq-photo-hasher`: an image with a side over `n` is first
    /// resized to exactly `n x n` by nearest neighbour (aspect ratio not kept).
    pub pre_resize: Option<u32>,
    /// Apply the EXIF orientation. Off by default: the reference tools hash the stored
    /// pixels, and so must anything compared with their lists.
    pub exif_orient: bool,
    /// Composite images with alpha on this colour. Off by default: the reference tools hash
    /// the colour channels as stored and drop alpha.
    pub background: Option<[u8; 3]>,
    /// Decode large JPEGs at 1/2, 1/4 or 1/8 scale inside the inverse DCT, keeping the
    /// smaller side at least this long. 1024 keeps PDQ within the reference's acceptance
    /// rule (design notes: mean 0.37 bits, max 6 against full decoding) at a fraction of
    /// the decoding work. `None` decodes every pixel.
    pub reduce_jpeg: Option<u32>,
    /// Also give the picture inside added borders (`trim`), when it has any.
    pub trim_borders: bool,
    /// A decoder run as a child process (HEIC and AVIF) is killed after this long.
    pub helper_timeout: std::time::Duration,
}

/// Default `helper_timeout`: a 100-megapixel HEIC decodes in a few seconds on one core.
pub const DEFAULT_HELPER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_pixels: DEFAULT_MAX_PIXELS,
            pre_resize: None,
            exif_orient: false,
            background: None,
            reduce_jpeg: None,
            trim_borders: false,
            helper_timeout: DEFAULT_HELPER_TIMEOUT,
        }
    }
}

/// A decoded file: the frame to hash and the image's own size before any pre-resize.
#[derive(Debug)]
pub struct Decoded {
    pub frame: Frame,
    pub width: u32,
    pub height: u32,
    /// What the decoder recovered from without failing (`integrity::check`).
    pub warnings: Vec<String>,
    /// With `trim_borders`: where the picture inside added borders lies in `frame`, and
    /// that part as a frame of its own.
    pub trimmed: Option<(trim::Rect, Frame)>,
}

/// Inputs are only ever opened for reading.
pub fn decode_file(path: &Path, opts: &DecodeOptions) -> Result<Decoded, DecodeError> {
    decode_head(Head::open(path)?, opts)
}

/// `decode_file` going on from a file's head.
pub fn decode_head(head: Head, opts: &DecodeOptions) -> Result<Decoded, DecodeError> {
    // A video may be gigabytes: it is named, not read whole and then refused.
    if let sniff::Detected::Video(container) = sniff::detect(&head.bytes) {
        return Err(DecodeError::Video(container));
    }
    let bytes = head.read_all(u64::MAX)?;
    decode_bytes(&bytes, opts)
}

pub fn decode_bytes(bytes: &[u8], opts: &DecodeOptions) -> Result<Decoded, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    // A decoder bug on hostile input must not take the run down: it becomes this file's error.
    let mut d = std::panic::catch_unwind(|| decode_inner(bytes, opts))
        .unwrap_or_else(|_| Err(DecodeError::Decode("decoder panicked".into())))?;
    d.warnings = integrity::check(bytes);
    if opts.trim_borders {
        d.trimmed = trim::cut(&d.frame);
    }
    Ok(d)
}

fn decode_inner(bytes: &[u8], opts: &DecodeOptions) -> Result<Decoded, DecodeError> {
    if let sniff::Detected::Heif(_) = sniff::detect(bytes) {
        let frame = heif::decode(bytes, opts, false)?.frames.remove(0);
        return Ok(finish(frame, opts));
    }
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(DecodeError::Io)?;
    if reader.format().is_none() {
        return Err(DecodeError::UnknownFormat);
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(opts.max_pixels.saturating_mul(16));
    reader.limits(limits);
    let failed = |e: image::ImageError| DecodeError::Decode(e.to_string());
    // Opening the decoder reads only the header: the size is refused before any pixel.
    let mut decoder = reader.into_decoder().map_err(failed)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > opts.max_pixels {
        return Err(DecodeError::TooLarge {
            width,
            height,
            limit: opts.max_pixels,
        });
    }
    if let Some(d) = reduced_jpeg(bytes, opts, width, height) {
        return Ok(d);
    }
    let orientation = decoder.orientation().ok();
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(failed)?;
    if let (true, Some(o)) = (opts.exif_orient, orientation) {
        img.apply_orientation(o);
    }
    // By default alpha is dropped and grey widened, as Pillow's convert("RGB") does; 16-bit
    // samples are scaled to 8 bits.
    let rgb = match opts.background {
        Some(bg) if img.color().has_alpha() => composite(&img, bg),
        _ => img.to_rgb8(),
    };
    let (w, h) = rgb.dimensions();
    let bad = |e: crate::frame::FrameSizeError| DecodeError::Decode(e.to_string());
    let mut frame = Frame::new(w, h, rgb.into_raw()).map_err(bad)?;
    if let Some(clipped) = pillow_clipped_grey(&img) {
        frame = frame.with_phash_rgb(clipped).map_err(bad)?;
    }
    Ok(finish(frame, opts))
}

/// The decoded frame, pre-resized when asked, with the image's own size.
fn finish(frame: Frame, opts: &DecodeOptions) -> Decoded {
    let (width, height) = (frame.width(), frame.height());
    let frame = match opts.pre_resize {
        Some(n) if width > n || height > n => nearest(&frame, n, n),
        _ => frame,
    };
    Decoded {
        frame,
        width,
        height,
        warnings: vec![],
        trimmed: None,
    }
}

/// How many leading bytes `Head` reads: enough for the header of every format we decode
/// except a JPEG with a very large EXIF block or a TIFF with its directory at the end.
pub const HEAD_BYTES: u64 = 64 << 10;

/// The first bytes of a file, read once, with the file left open after them. The pipeline
/// learns the file's type and decoded size from them before reserving memory, and reading
/// goes on from there: each file is opened and read once.
pub struct Head {
    pub file: std::fs::File,
    pub bytes: Vec<u8>,
}

impl Head {
    /// Inputs are only ever opened for reading.
    pub fn open(path: &Path) -> std::io::Result<Head> {
        use std::io::Read;
        let mut file = std::fs::File::open(path)?;
        let mut bytes = Vec::with_capacity(HEAD_BYTES as usize);
        (&mut file).take(HEAD_BYTES).read_to_end(&mut bytes)?;
        Ok(Head { file, bytes })
    }

    /// The size decoding will produce (see `planned_size`), from these bytes, or from the
    /// whole file when its header lies beyond them.
    pub fn planned_size(&self, path: &Path, opts: &DecodeOptions) -> Option<(u32, u32)> {
        if let sniff::Detected::Heif(_) = sniff::detect(&self.bytes) {
            return heif::planned_size(&self.bytes);
        }
        let reader = image::ImageReader::new(Cursor::new(&self.bytes[..]))
            .with_guessed_format()
            .ok()?;
        planned(reader, opts).or_else(|| {
            let cut = self.bytes.len() as u64 == HEAD_BYTES;
            cut.then(|| planned_size(path, opts)).flatten()
        })
    }

    /// The whole file: these bytes and at most `limit` more.
    pub fn read_all(mut self, limit: u64) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        (&mut self.file).take(limit).read_to_end(&mut self.bytes)?;
        Ok(self.bytes)
    }
}

/// The size `decode_bytes` will decode `bytes` to, from their header alone (as
/// `planned_size` for a file): what a caller reserves memory for before decoding.
pub fn planned_size_of_bytes(bytes: &[u8], opts: &DecodeOptions) -> Option<(u32, u32)> {
    if let sniff::Detected::Heif(_) = sniff::detect(bytes) {
        return heif::planned_size(bytes);
    }
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    planned(reader, opts)
}

/// The size `decode_file` will decode `path` to, from its header alone (a JPEG's reduced
/// decoding included): what the pipeline reserves memory for before reading. `None` when
/// the header does not say (not an image, or a broken one).
pub fn planned_size(path: &Path, opts: &DecodeOptions) -> Option<(u32, u32)> {
    let file = std::fs::File::open(path).ok()?;
    let reader = image::ImageReader::new(std::io::BufReader::new(file))
        .with_guessed_format()
        .ok()?;
    planned(reader, opts)
}

fn planned<R: std::io::BufRead + std::io::Seek>(
    reader: image::ImageReader<R>,
    opts: &DecodeOptions,
) -> Option<(u32, u32)> {
    let jpeg = reader.format() == Some(image::ImageFormat::Jpeg);
    let (w, h) = reader.into_dimensions().ok()?;
    Some(match opts.reduce_jpeg {
        Some(keep) if jpeg && reducible(opts, w, h, keep) => {
            // The scaled decoder's largest 1/d that keeps the smaller side >= keep.
            let short = w.min(h);
            let d = [8, 4, 2]
                .into_iter()
                .find(|d| short.div_ceil(*d) >= keep)
                .unwrap_or(1);
            (w.div_ceil(d), h.div_ceil(d))
        }
        _ => (w, h),
    })
}

fn reducible(opts: &DecodeOptions, width: u32, height: u32, keep: u32) -> bool {
    !opts.exif_orient && opts.pre_resize.is_none() && width.min(height) >= 2 * keep
}

/// Every frame of an animated GIF or WebP, composited on the canvas as the format says,
/// alpha dropped (or composited on `background`). At most `max_pixels` pixels in all: the
/// frames past that are left out and the second value is `true`.
pub fn decode_animation(
    bytes: &[u8],
    opts: &DecodeOptions,
) -> Result<(Vec<Frame>, bool), DecodeError> {
    std::panic::catch_unwind(|| animation_inner(bytes, opts))
        .unwrap_or_else(|_| Err(DecodeError::Decode("decoder panicked".into())))
}

fn animation_inner(bytes: &[u8], opts: &DecodeOptions) -> Result<(Vec<Frame>, bool), DecodeError> {
    use image::AnimationDecoder;
    let failed = |e: image::ImageError| DecodeError::Decode(e.to_string());
    if let sniff::Detected::Heif(_) = sniff::detect(bytes) {
        let images = heif::decode(bytes, opts, true)?;
        return Ok(match images.frames.len() {
            1 => (vec![], false),
            _ => (images.frames, images.truncated),
        });
    }
    let frames = match image::guess_format(bytes).map_err(failed)? {
        image::ImageFormat::Gif => image::codecs::gif::GifDecoder::new(Cursor::new(bytes))
            .map_err(failed)?
            .into_frames(),
        image::ImageFormat::WebP => {
            let d = image::codecs::webp::WebPDecoder::new(Cursor::new(bytes)).map_err(failed)?;
            if !d.has_animation() {
                return Ok((vec![], false));
            }
            d.into_frames()
        }
        _ => return Ok((vec![], false)),
    };
    let mut out = vec![];
    let mut pixels = 0u64;
    for f in frames {
        let img = image::DynamicImage::ImageRgba8(f.map_err(failed)?.into_buffer());
        pixels += u64::from(img.width()) * u64::from(img.height());
        if pixels > opts.max_pixels {
            return Ok((out, true));
        }
        let rgb = match opts.background {
            Some(bg) => composite(&img, bg),
            None => img.to_rgb8(),
        };
        let (w, h) = rgb.dimensions();
        out.push(Frame::new(w, h, rgb.into_raw()).map_err(|e| DecodeError::Decode(e.to_string()))?);
    }
    Ok((out, false))
}

/// A JPEG at least twice `reduce_jpeg` on its smaller side, decoded at the largest DCT
/// scale that keeps that side at least `reduce_jpeg`. `None` (and the full decoder) for
/// anything else: other formats, small images, CMYK or 16-bit JPEGs, EXIF orientation or
/// pre-resize requested, or a file the scaled decoder rejects.
fn reduced_jpeg(bytes: &[u8], opts: &DecodeOptions, width: u32, height: u32) -> Option<Decoded> {
    let keep = opts.reduce_jpeg?;
    if !reducible(opts, width, height, keep) || !bytes.starts_with(&[0xff, 0xd8]) {
        return None;
    }
    let mut dec = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    let short = width.min(height);
    let want = |side: u32| u16::try_from(u64::from(side) * u64::from(keep) / u64::from(short)).ok();
    dec.scale(want(width)?, want(height)?).ok()?;
    let pixels = dec.decode().ok()?;
    let info = dec.info()?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let rgb = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => pixels,
        jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|&v| [v, v, v]).collect(),
        _ => return None,
    };
    let frame = Frame::new(w, h, rgb).ok()?;
    Some(Decoded {
        frame,
        width,
        height,
        warnings: vec![],
        trimmed: None,
    })
}

/// `colour * alpha + background * (1 - alpha)`, rounded, per channel.
fn composite(img: &image::DynamicImage, bg: [u8; 3]) -> image::RgbImage {
    let rgba = img.to_rgba8();
    let (w, h) = rgba.dimensions();
    let mix = |c: u8, b: u8, a: u8| {
        ((u32::from(c) * u32::from(a) + u32::from(b) * (255 - u32::from(a)) + 127) / 255) as u8
    };
    image::RgbImage::from_fn(w, h, |x, y| {
        let p = rgba.get_pixel(x, y).0;
        image::Rgb([
            mix(p[0], bg[0], p[3]),
            mix(p[1], bg[1], p[3]),
            mix(p[2], bg[2], p[3]),
        ])
    })
}

/// Pillow opens 16-bit grey as mode I;16 or I, and its conversion to L clips samples at
/// 255 instead of scaling them: `imagehash` hashes those clipped pixels.
fn pillow_clipped_grey(img: &image::DynamicImage) -> Option<Vec<u8>> {
    let clip = |v: u16| v.min(255) as u8;
    let grey: Vec<u8> = match img {
        image::DynamicImage::ImageLuma16(g) => g.pixels().map(|p| clip(p.0[0])).collect(),
        image::DynamicImage::ImageLumaA16(g) => g.pixels().map(|p| clip(p.0[0])).collect(),
        _ => return None,
    };
    Some(grey.iter().flat_map(|&v| [v, v, v]).collect())
}

/// Nearest-neighbour resize as CImg samples it: output `x` reads input `floor(x * W / w)`.
/// Both pixel sets of the frame are resized, so pHash too sees the squeezed image.
pub fn nearest(f: &Frame, out_w: u32, out_h: u32) -> Frame {
    let (w, h) = (f.width() as usize, f.height() as usize);
    let src =
        |o: usize, n_out: u32, n_in: usize| ((o as f64 * n_in as f64) / f64::from(n_out)) as usize;
    let cols: Vec<usize> = (0..out_w as usize).map(|x| src(x, out_w, w)).collect();
    let resample = |pixels: &[u8]| {
        let mut rgb = Vec::with_capacity(out_w as usize * out_h as usize * 3);
        for y in 0..out_h as usize {
            let row = &pixels[src(y, out_h, h) * w * 3..];
            for &c in &cols {
                rgb.extend_from_slice(&row[c * 3..c * 3 + 3]);
            }
        }
        rgb
    };
    let out = Frame::new(out_w, out_h, resample(f.rgb())).expect("sizes computed above");
    match f.phash_rgb() {
        Some(alt) => out.with_phash_rgb(resample(alt)).expect("same size"),
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_garbage_bytes_are_errors_not_panics() {
        let o = DecodeOptions::default();
        assert!(matches!(decode_bytes(&[], &o), Err(DecodeError::Empty)));
        assert!(matches!(
            decode_bytes(b"hello world, not an image", &o),
            Err(DecodeError::UnknownFormat)
        ));
        // A PNG signature followed by junk.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&[0xff; 64]);
        assert!(decode_bytes(&png, &o).is_err());
    }

    #[test]
    fn pixel_limit_refuses_before_decoding() {
        let img = image::RgbImage::new(100, 100);
        let mut bytes = vec![];
        img.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        let o = DecodeOptions {
            max_pixels: 9999,
            ..Default::default()
        };
        assert!(matches!(
            decode_bytes(&bytes, &o),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn alpha_is_dropped_by_default_and_composited_on_request() {
        let mut img = image::RgbaImage::new(8, 8);
        img.put_pixel(0, 0, image::Rgba([200, 100, 50, 0]));
        let mut bytes = vec![];
        img.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        let plain = decode_bytes(&bytes, &DecodeOptions::default()).unwrap();
        assert_eq!(
            &plain.frame.rgb()[..3],
            [200, 100, 50],
            "stored colour, alpha ignored"
        );
        let white = DecodeOptions {
            background: Some([255, 255, 255]),
            ..Default::default()
        };
        assert_eq!(
            &decode_bytes(&bytes, &white).unwrap().frame.rgb()[..3],
            [255, 255, 255]
        );
    }

    #[test]
    fn large_jpegs_decode_reduced_within_the_pdq_rule() {
        let f = crate::frame::Frame::synthetic(2400, 2100, 3);
        let img = image::RgbImage::from_raw(2400, 2100, f.rgb().to_vec()).unwrap();
        let mut bytes = vec![];
        img.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Jpeg)
            .unwrap();
        let full = decode_bytes(&bytes, &DecodeOptions::default()).unwrap();
        let reduced = decode_bytes(
            &bytes,
            &DecodeOptions {
                reduce_jpeg: Some(1024),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            (reduced.width, reduced.height),
            (2400, 2100),
            "the file's own size"
        );
        assert_eq!(
            (reduced.frame.width(), reduced.frame.height()),
            (1200, 1050),
            "half scale keeps >= 1024"
        );
        let pdq = |d: &Decoded| {
            crate::cpu::pdq::pdq(
                d.frame.rgb(),
                d.frame.height() as usize,
                d.frame.width() as usize,
            )
        };
        let dist = pdq(&full).original().distance(&pdq(&reduced).original()).0;
        assert!(dist <= 10, "{dist} bits");
        // Small images are never reduced.
        let small = decode_bytes(
            &bytes,
            &DecodeOptions {
                reduce_jpeg: Some(2048),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(small.frame.width(), 2400);
    }

    #[test]
    fn nearest_samples_floor_of_scaled_index() {
        let rgb: Vec<u8> = (0..10u8).flat_map(|v| [v, v, v]).collect();
        let f = Frame::new(10, 1, rgb).unwrap();
        let r = nearest(&f, 4, 1);
        let firsts: Vec<u8> = r.rgb().chunks(3).map(|p| p[0]).collect();
        assert_eq!(firsts, [0, 2, 5, 7]); // floor(x * 10 / 4)
    }
}
