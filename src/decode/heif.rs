//! HEIC and AVIF photos, decoded by libheif's `heif-convert` in a child process.
//!
//! A child process and not a linked library, for the reasons videos go to FFmpeg: a decoder
//! crash or hang on a hostile file ends that process and never the scan, a deadline can
//! kill it, its address space is capped, and the build needs no C library: only the
//! `libheif-examples` package at run time. Without it every such file gets an error record
//! naming the package, and everything else works.
//!
//! Before the decoder runs, the file's own `meta` box is read (`bmff`): a declared size
//! over the pixel limit is refused before anything is allocated, and it tells which image
//! is the primary one and how its samples are coded. libheif applies the stored
//! transformations (`clap` crop, then `irot`, then `imir`) as pillow-heif does.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::bmff::{self, Item, Meta};
use super::{DecodeError, DecodeOptions, yuv};
use crate::frame::Frame;

/// The program: `HASHSWEEP_HEIF_CONVERT`, else `heif-convert` from `PATH`.
fn program() -> String {
    std::env::var("HASHSWEEP_HEIF_CONVERT").unwrap_or_else(|_| "heif-convert".into())
}

/// The Debian/Ubuntu package that has `heif-convert`, named in the error record.
pub const PACKAGE: &str = "libheif-examples";

/// The decoded images of a HEIF file: the primary one alone, or every top-level image in
/// libheif's order (ascending item id), as many as fit in the pixel limit (`truncated`
/// when some did not).
pub struct Images {
    pub frames: Vec<Frame>,
    pub truncated: bool,
}

/// The size the primary image decodes to, from the `meta` box alone (`None` if it is not
/// all in `bytes`).
pub fn planned_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let meta = bmff::meta(bytes).ok()?;
    shown_size(&meta, meta.item(meta.primary)?)
}

/// Decode `bytes` (a whole HEIF file): the primary image only, or with `all` every
/// top-level image.
pub fn decode(bytes: &[u8], opts: &DecodeOptions, all: bool) -> Result<Images, DecodeError> {
    let meta = bmff::meta(bytes).map_err(|e| DecodeError::Decode(e.to_string()))?;
    let top = meta.top_level();
    let primary = top.iter().position(|i| i.id == meta.primary).unwrap_or(0);
    if top.is_empty() {
        return Err(DecodeError::Decode("HEIF file holds no image".into()));
    }
    // heif-convert decodes every top-level image, whichever is wanted: each must fit.
    for item in &top {
        refuse_too_large(&meta, item, opts.max_pixels)?;
    }
    let pick: Vec<usize> = match all {
        true => within_limit(&meta, &top, opts.max_pixels),
        false => vec![primary],
    };
    let raw = top.iter().all(|i| raw_planes(&meta, i));
    let dir = scratch()?;
    let input = dir.path().join("in.heif");
    std::fs::write(&input, bytes)?;
    let out = dir.path().join(if raw { "out.y4m" } else { "out.png" });
    run(&input, &out, opts)?;
    let files = outputs(dir.path(), raw)?;
    if files.len() != top.len() {
        return Err(DecodeError::Decode(format!(
            "heif-convert wrote {} images where the file lists {}",
            files.len(),
            top.len()
        )));
    }
    let truncated = pick.len() < top.len() && all;
    let frames = pick
        .into_iter()
        .map(|i| {
            let frame = read_output(&files[i], raw, opts.max_pixels)?;
            check_size(&frame, &meta, top[i])?;
            Ok(frame)
        })
        .collect::<Result<Vec<_>, DecodeError>>()?;
    Ok(Images { frames, truncated })
}

/// Whether heif-convert's raw Y4M planes mean what `yuv` reads them as: 8-bit 4:2:0 (or
/// monochrome, which it writes with neutral chroma) and BT.601 full range or nothing
/// declared. Anything else goes through PNG, which libheif converts itself (with 16-bit
/// samples for deeper images; its Y4M writer handles 8 bits and 4:2:0 only).
fn raw_planes(meta: &Meta, item: &Item) -> bool {
    let bt601 = |n: bmff::Nclx| matches!(n.matrix, 2 | 5 | 6) && n.full_range;
    meta.inherited(item, |p| p.bits) == Some(8)
        && matches!(meta.inherited(item, |p| p.chroma), Some(0 | 1))
        && meta.inherited(item, |p| p.nclx).is_none_or(bt601)
}

/// The size an image is shown at: its coded size, cropped by `clap` (never beyond it),
/// turned by `irot`.
fn shown_size(meta: &Meta, item: &Item) -> Option<(u32, u32)> {
    let (w, h) = item
        .props
        .grid_size
        .or_else(|| meta.inherited(item, |p| p.size))?;
    let (w, h) = item
        .props
        .clean_aperture
        .map_or((w, h), |(cw, ch)| (cw.min(w), ch.min(h)));
    Some(if item.props.rotation % 2 == 1 {
        (h, w)
    } else {
        (w, h)
    })
}

/// The decoder's picture must be the one the file declares: another size means another
/// image (or a reading of the file we do not share) and would hash the wrong picture.
/// One pixel of slack where `clap` rounds.
fn check_size(frame: &Frame, meta: &Meta, item: &Item) -> Result<(), DecodeError> {
    let Some((w, h)) = shown_size(meta, item) else {
        return Ok(());
    };
    let slack = u32::from(item.props.clean_aperture.is_some());
    let (fw, fh) = (frame.width(), frame.height());
    if fw.abs_diff(w) > slack || fh.abs_diff(h) > slack {
        return Err(DecodeError::Decode(format!(
            "heif-convert gave a {fw}x{fh} picture where the file declares {w}x{h}"
        )));
    }
    Ok(())
}

/// The largest size decoding an item allocates: its `ispe` or, for a grid, its own
/// payload's size, which is what libheif allocates.
fn refuse_too_large(meta: &Meta, item: &Item, max_pixels: u64) -> Result<(), DecodeError> {
    let declared = meta
        .inherited(item, |p| p.size)
        .ok_or_else(|| DecodeError::Decode("HEIF image without a declared size".into()))?;
    for (width, height) in [Some(declared), item.props.grid_size].into_iter().flatten() {
        if u64::from(width) * u64::from(height) > max_pixels {
            return Err(DecodeError::TooLarge {
                width,
                height,
                limit: max_pixels,
            });
        }
    }
    Ok(())
}

/// The leading top-level images that fit in `max_pixels` together; each alone fits
/// (`refuse_too_large`), so there is at least one.
fn within_limit(meta: &Meta, top: &[&Item], max_pixels: u64) -> Vec<usize> {
    let mut total = 0u64;
    let mut out = vec![];
    for (i, item) in top.iter().enumerate() {
        let (w, h) = shown_size(meta, item).unwrap_or((0, 0));
        total = total.saturating_add(u64::from(w) * u64::from(h));
        if total > max_pixels && !out.is_empty() {
            break;
        }
        out.push(i);
    }
    out
}

/// A private folder for one decoding (0700, a fresh random name), removed when dropped.
fn scratch() -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix("hashsweep-heif-").tempdir()
}

/// Run heif-convert on `input` under the deadline and the address-space cap.
fn run(input: &Path, out: &Path, opts: &DecodeOptions) -> Result<(), DecodeError> {
    let prog = program();
    let mut cmd = Command::new(&prog);
    // No --quiet: libheif 1.12 does not know it; what it says on stdout goes nowhere.
    cmd.arg(input)
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cap_resources(&mut cmd, opts.max_pixels);
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DecodeError::Decode(format!(
            "HEIC/AVIF decoder `{prog}` not found: install the {PACKAGE} package \
             (apt-get install {PACKAGE}), or point HASHSWEEP_HEIF_CONVERT at heif-convert"
        )),
        _ => DecodeError::Decode(format!("starting {prog}: {e}")),
    })?;
    let stderr = child.stderr.take().expect("piped");
    let messages = std::thread::spawn(move || last_lines(stderr));
    let status = wait_until(&mut child, opts.helper_timeout)?;
    let messages = messages.join().unwrap_or_default();
    match status {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(DecodeError::Decode(format!(
            "heif-convert failed ({s}): {messages}"
        ))),
        None => Err(DecodeError::Decode(format!(
            "heif-convert stopped after {:.0} s (decoder timeout)",
            opts.helper_timeout.as_secs_f64()
        ))),
    }
}

/// Waits for `child`, killing it at the deadline (`None` then).
fn wait_until(
    child: &mut std::process::Child,
    limit: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let end = Instant::now().checked_add(limit);
    let mut nap = Duration::from_millis(1);
    loop {
        let status = child.try_wait().inspect_err(|_| {
            let _ = child.kill();
            let _ = child.wait();
        })?;
        if let Some(s) = status {
            return Ok(Some(s));
        }
        if end.is_some_and(|end| Instant::now() >= end) {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(10));
    }
}

/// A hostile file that declares a small size and then asks for a huge allocation or
/// output fails in the child, not the machine: its address space is capped at what the
/// largest allowed image needs (16 bytes a pixel: 16-bit RGBA and the decoder's planes)
/// plus 1 GiB, and each file it writes at 8 bytes a pixel (16-bit RGBA PNG) plus 64 MiB.
fn cap_resources(cmd: &mut Command, max_pixels: u64) {
    use std::os::unix::process::CommandExt;
    let limit = |bytes: u64| libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    let memory = limit(max_pixels.saturating_mul(16).saturating_add(1 << 30));
    let files = limit(max_pixels.saturating_mul(8).saturating_add(64 << 20));
    // Safety: setrlimit is async-signal-safe and touches nothing of the parent's.
    unsafe {
        cmd.pre_exec(move || {
            // A cap that did not take must stop the decoder, not run it uncapped.
            for (resource, cap) in [(libc::RLIMIT_AS, &memory), (libc::RLIMIT_FSIZE, &files)] {
                if libc::setrlimit(resource, cap) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// The last lines the decoder printed, for the error record. Read to the end (a closed
/// pipe would kill the decoder), keeping the last 4 KiB.
fn last_lines(mut r: impl std::io::Read) -> String {
    let mut tail = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            break;
        }
        tail.extend_from_slice(&buf[..n]);
        let excess = tail.len().saturating_sub(4096);
        tail.drain(..excess);
    }
    let text = String::from_utf8_lossy(&tail);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

/// heif-convert writes `out.EXT` for one image and `out-1.EXT`, `out-2.EXT`, ... for
/// several, in top-level order.
fn outputs(dir: &Path, raw: bool) -> std::io::Result<Vec<PathBuf>> {
    let ext = if raw { "y4m" } else { "png" };
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(&format!(".{ext}"))?;
            let n = match stem.strip_prefix("out-") {
                Some(n) => n.parse().ok()?,
                None if stem == "out" => 0,
                None => return None,
            };
            Some((n, e.path()))
        })
        .collect();
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// One output picture, refused unread when it is larger than `max_pixels` allows.
fn read_output(path: &Path, raw: bool, max_pixels: u64) -> Result<Frame, DecodeError> {
    let bad = |e: String| DecodeError::Decode(format!("reading heif-convert's output: {e}"));
    let too_large = |width, height| DecodeError::TooLarge {
        width,
        height,
        limit: max_pixels,
    };
    let (w, h, rgb) = if raw {
        // 4:2:0 planes are 1.5 bytes a pixel.
        let len = std::fs::metadata(path)?.len();
        if len > max_pixels.saturating_mul(3) / 2 + 4096 {
            return Err(bad(format!(
                "{len} bytes, more than the pixel limit allows"
            )));
        }
        let planes = yuv::read_y4m(&std::fs::read(path)?).map_err(bad)?;
        if u64::from(planes.width) * u64::from(planes.height) > max_pixels {
            return Err(too_large(planes.width, planes.height));
        }
        (planes.width, planes.height, planes.to_rgb())
    } else {
        let file = std::io::BufReader::new(std::fs::File::open(path)?);
        let mut reader = image::ImageReader::with_format(file, image::ImageFormat::Png);
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(max_pixels.saturating_mul(16));
        reader.limits(limits);
        let img = reader.decode().map_err(|e| bad(e.to_string()))?;
        if u64::from(img.width()) * u64::from(img.height()) > max_pixels {
            return Err(too_large(img.width(), img.height()));
        }
        let rgb = img.to_rgb8();
        (rgb.width(), rgb.height(), rgb.into_raw())
    };
    Frame::new(w, h, rgb).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_taken_in_image_order() {
        let dir = scratch().unwrap();
        for n in [10, 2, 1, 9] {
            std::fs::write(dir.path().join(format!("out-{n}.y4m")), b"").unwrap();
        }
        std::fs::write(dir.path().join("in.heif"), b"").unwrap();
        std::fs::write(dir.path().join("out-3.png"), b"").unwrap();
        let names: Vec<String> = outputs(dir.path(), true)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["out-1.y4m", "out-2.y4m", "out-9.y4m", "out-10.y4m"]);
        let gone = dir.path().to_path_buf();
        drop(dir);
        assert!(!gone.exists(), "the scratch folder is removed");
    }

    #[test]
    fn decoder_messages_keep_the_last_lines() {
        let text = "one\n\ntwo\nthree\nfour\n";
        assert_eq!(last_lines(text.as_bytes()), "two | three | four");
    }
}
