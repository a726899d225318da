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
use std::sync::atomic::{AtomicU64, Ordering};
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
/// file order, as many as fit in the pixel limit (`truncated` when some did not).
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
    let Some(&first) = top.get(primary) else {
        return Err(DecodeError::Decode("HEIF file holds no image".into()));
    };
    let pick: Vec<(usize, &Item)> = match all {
        true => within_limit(&meta, &top, opts.max_pixels)?,
        false => {
            refuse_too_large(&meta, first, opts)?;
            vec![(primary, first)]
        }
    };
    // The raw planes when every image is 8-bit and BT.601 full range (see `yuv`); else
    // PNG, which libheif converts itself, with 16-bit samples for deeper images (its Y4M
    // writer handles 8 bits only).
    let raw = top.iter().all(|i| {
        let bt601 = |n: bmff::Nclx| matches!(n.matrix, 2 | 5 | 6) && n.full_range;
        meta.inherited(i, |p| p.bits) == Some(8) && meta.inherited(i, |p| p.nclx).is_none_or(bt601)
    });
    let dir = Scratch::new()?;
    let input = dir.0.join("in.heif");
    std::fs::write(&input, bytes)?;
    let out = dir.0.join(if raw { "out.y4m" } else { "out.png" });
    run(&input, &out, opts)?;
    let files = outputs(&dir.0, raw)?;
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
        .map(|(i, _)| read_output(&files[i], raw))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Images { frames, truncated })
}

/// The size an image is shown at: its coded size, cropped by `clap`, turned by `irot`.
fn shown_size(meta: &Meta, item: &Item) -> Option<(u32, u32)> {
    let (w, h) = meta.inherited(item, |p| p.size)?;
    let (w, h) = item.props.clean_aperture.unwrap_or((w, h));
    Some(if item.props.rotation % 2 == 1 {
        (h, w)
    } else {
        (w, h)
    })
}

fn coded_size(meta: &Meta, item: &Item) -> Result<(u32, u32), DecodeError> {
    meta.inherited(item, |p| p.size)
        .ok_or_else(|| DecodeError::Decode("HEIF image without a declared size".into()))
}

fn refuse_too_large(meta: &Meta, item: &Item, opts: &DecodeOptions) -> Result<(), DecodeError> {
    let (width, height) = coded_size(meta, item)?;
    if u64::from(width) * u64::from(height) > opts.max_pixels {
        return Err(DecodeError::TooLarge {
            width,
            height,
            limit: opts.max_pixels,
        });
    }
    Ok(())
}

/// The leading top-level images that fit in `max_pixels` together (at least the first
/// must, or the file is refused).
fn within_limit<'m>(
    meta: &Meta,
    top: &[&'m Item],
    max_pixels: u64,
) -> Result<Vec<(usize, &'m Item)>, DecodeError> {
    let mut total = 0u64;
    let mut out = vec![];
    for (i, item) in top.iter().enumerate() {
        let (w, h) = coded_size(meta, item)?;
        total += u64::from(w) * u64::from(h);
        if total > max_pixels {
            break;
        }
        out.push((i, *item));
    }
    Ok(out)
}

/// A private folder for one decoding, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Scratch> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hashsweep-heif-{}-{n}", std::process::id()));
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run heif-convert on `input` under the deadline and the address-space cap.
fn run(input: &Path, out: &Path, opts: &DecodeOptions) -> Result<(), DecodeError> {
    let prog = program();
    let mut cmd = Command::new(&prog);
    cmd.arg("--quiet")
        .arg(input)
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cap_memory(&mut cmd, opts.max_pixels);
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
    let end = Instant::now() + limit;
    let mut nap = Duration::from_millis(1);
    loop {
        if let Some(s) = child.try_wait()? {
            return Ok(Some(s));
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(10));
    }
}

/// A hostile file that declares a small size and then asks for a huge allocation fails in
/// the child, not the machine: its address space is capped at what the largest allowed
/// image needs (16 bytes a pixel: 16-bit RGBA and the decoder's planes) plus 1 GiB.
fn cap_memory(cmd: &mut Command, max_pixels: u64) {
    use std::os::unix::process::CommandExt;
    let cap = max_pixels.saturating_mul(16).saturating_add(1 << 30);
    let limit = libc::rlimit {
        rlim_cur: cap,
        rlim_max: cap,
    };
    // Safety: setrlimit is async-signal-safe and touches nothing of the parent's.
    unsafe {
        cmd.pre_exec(move || {
            libc::setrlimit(libc::RLIMIT_AS, &limit);
            Ok(())
        });
    }
}

/// The last lines the decoder printed, for the error record.
fn last_lines(r: impl std::io::Read) -> String {
    use std::io::Read;
    let mut text = String::new();
    let _ = r.take(64 << 10).read_to_string(&mut text);
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

fn read_output(path: &Path, raw: bool) -> Result<Frame, DecodeError> {
    let bad = |e: String| DecodeError::Decode(format!("reading heif-convert's output: {e}"));
    let bytes = std::fs::read(path)?;
    let (w, h, rgb) = if raw {
        let planes = yuv::read_y4m(&bytes).map_err(bad)?;
        (planes.width, planes.height, planes.to_rgb())
    } else {
        let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
            .map_err(|e| bad(e.to_string()))?;
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
        let dir = Scratch::new().unwrap();
        for n in [10, 2, 1, 9] {
            std::fs::write(dir.0.join(format!("out-{n}.y4m")), b"").unwrap();
        }
        std::fs::write(dir.0.join("in.heif"), b"").unwrap();
        std::fs::write(dir.0.join("out-3.png"), b"").unwrap();
        let names: Vec<String> = outputs(&dir.0, true)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["out-1.y4m", "out-2.y4m", "out-9.y4m", "out-10.y4m"]);
        let gone = dir.0.clone();
        drop(dir);
        assert!(!gone.exists(), "the scratch folder is removed");
    }

    #[test]
    fn decoder_messages_keep_the_last_lines() {
        let text = "one\n\ntwo\nthree\nfour\n";
        assert_eq!(last_lines(text.as_bytes()), "two | three | four");
    }
}
