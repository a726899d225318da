//! HEIC and AVIF: files made by libheif's encoder from the shared sample images (and grids
//! written here) are hashed and compared with what Python users compute (pillow-heif,
//! Pillow's AVIF plugin, pdqhash, imagehash); broken and hostile files each get a record.

#[path = "heif/build.rs"]
mod build;
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use build::{Grid, Tile};
use serde_json::Value;

/// Whether libheif's programs (Debian `libheif-examples`) and libavif's encoder
/// (`libavif-bin`, for the 10-bit AVIF Debian's libheif cannot write) run. Without them a
/// test prints a notice and checks nothing, except under `CI=true`, where `.ci/run`
/// installs them.
fn have_libheif() -> bool {
    let runs = |p: &str, a: &str| {
        Command::new(p)
            .arg(a)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if runs("heif-enc", "--help")
        && runs("heif-convert", "--list-decoders")
        && runs("avifenc", "--version")
    {
        return true;
    }
    common::skip("heif-enc/heif-convert (libheif-examples) or avifenc (libavif-bin) are missing");
    false
}

/// Whether the Python reference (pillow-heif, Pillow with AVIF, pdqhash, imagehash) runs.
fn have_python_reference() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import pillow_heif, pdqhash, imagehash; from PIL import features; assert features.check('avif')"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        common::skip("pillow-heif, pdqhash, imagehash or Pillow's AVIF support is missing");
    }
    ok
}

/// heif-enc `input` into `out` (HEIC or AVIF by the name), fast presets, `extra` after
/// (more inputs, or options); `false` when the encoder refuses the input (CMYK JPEG, 1-bit
/// PNG).
fn encode(input: &Path, out: &Path, extra: &[&str]) -> bool {
    let speed = match out.extension().and_then(|e| e.to_str()) {
        Some("avif") => "speed=9",
        _ => "preset=ultrafast",
    };
    Command::new("heif-enc")
        .args(["-q", "90", "-p", speed, "-o"])
        .arg(out)
        .arg(input)
        .args(extra)
        .output()
        .unwrap()
        .status
        .success()
}

/// `f` on every item, on both cores.
fn in_parallel<T: Sync>(items: &[T], f: impl Fn(&T) + Sync) {
    let half = items.len().div_ceil(2).max(1);
    std::thread::scope(|s| {
        for chunk in items.chunks(half) {
            s.spawn(|| chunk.iter().for_each(&f));
        }
    });
}

fn hash_jsonl(inputs: &[&Path], extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["hash", "--backend", "cpu", "--format", "jsonl"];
    args.extend_from_slice(extra);
    let paths: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    common::run_ok(&args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn reference(files: &[PathBuf]) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/heif/reference.py");
    let o = Command::new("python3")
        .arg(script)
        .args(files)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Bits that differ between two hex hashes of the same length.
fn bits(a: &str, b: &str) -> u32 {
    assert_eq!(a.len(), b.len());
    let digit = |c: char| c.to_digit(16).unwrap();
    a.chars()
        .zip(b.chars())
        .map(|(x, y)| (digit(x) ^ digit(y)).count_ones())
        .sum()
}

/// The shared sample images as `dir/NAME.heic` and `dir/NAME.avif`; returns the outputs
/// the encoder refused to make.
fn encode_samples(samples: &Path, dir: &Path) -> Vec<String> {
    let mut inputs = vec![];
    let mut stack = vec![samples.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .is_some_and(|e| e == "jpg" || e == "jpeg" || e == "png")
            {
                inputs.push(p);
            }
        }
    }
    inputs.sort();
    let jobs: Vec<(PathBuf, PathBuf)> = inputs
        .iter()
        .flat_map(|p| {
            let rel = p.strip_prefix(samples).unwrap().to_string_lossy();
            let name = rel.replace('/', "_");
            ["heic", "avif"].map(|ext| (p.clone(), dir.join(format!("{name}.{ext}"))))
        })
        .collect();
    let refused = std::sync::Mutex::new(vec![]);
    in_parallel(&jobs, |(input, out)| {
        if !encode(input, out, &[]) {
            refused.lock().unwrap().push(common::file_name(out));
        }
    });
    refused.into_inner().unwrap()
}

/// A picture cut into 512x512 tiles, each encoded by heif-enc: the parts of a grid.
fn tiles_of(png: &Path, dir: &Path) -> (Vec<Tile>, u8, u8, u32, u32) {
    let img = image::open(png).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    let (cols, rows) = (w.div_ceil(512), h.div_ceil(512));
    let jobs: Vec<(u32, u32)> = (0..rows)
        .flat_map(|r| (0..cols).map(move |c| (r, c)))
        .collect();
    in_parallel(&jobs, |&(r, c)| {
        // Edge tiles run past the picture: the edge pixels are repeated, as encoders do.
        let tile = image::RgbImage::from_fn(512, 512, |x, y| {
            *img.get_pixel((c * 512 + x).min(w - 1), (r * 512 + y).min(h - 1))
        });
        let t = dir.join(format!("tile-{r}-{c}.png"));
        tile.save(&t).unwrap();
        assert!(encode(&t, &t.with_extension("heic"), &[]));
    });
    let tiles = jobs
        .iter()
        .map(|(r, c)| {
            build::tile_of(&std::fs::read(dir.join(format!("tile-{r}-{c}.heic"))).unwrap())
        })
        .collect();
    (tiles, rows as u8, cols as u8, w, h)
}

/// A two-image HEIC from heif-enc (which makes the first primary) with the second image
/// named primary in its `pitm` box.
fn second_made_primary(two: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(two).unwrap();
    let meta = hashsweep::decode::bmff::meta(&bytes).unwrap();
    let ids: Vec<u32> = meta.top_level().iter().map(|i| i.id).collect();
    assert_eq!(ids.len(), 2);
    let at = bytes.windows(4).position(|w| w == b"pitm").unwrap() + 8;
    bytes[at..at + 2].copy_from_slice(&(ids[1] as u16).to_be_bytes());
    bytes
}

/// Grids with and without stored transformations, and a two-image file whose primary
/// image is the second.
fn write_structured(samples: &Path, dir: &Path) -> Vec<PathBuf> {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let src = work.join("bridge.png");
    image::open(samples.join("bridge-mods/aaa-orig.jpg"))
        .unwrap()
        .save(&src)
        .unwrap();
    let (tiles, rows, cols, width, height) = tiles_of(&src, &work);
    let mut out = vec![];
    for (name, clean, rotation, mirror) in [
        ("grid", None, None, None),
        ("grid-irot1", None, Some(1), None),
        ("grid-irot3-imir0", None, Some(3), Some(0)),
        ("grid-imir1", None, None, Some(1)),
        (
            "grid-clap-irot1",
            Some((width - 100, height - 60)),
            Some(1),
            None,
        ),
    ] {
        let g = Grid {
            rows,
            cols,
            width,
            height,
            tile: (512, 512),
            rotation,
            mirror,
            clean,
            payload_size: None,
            drop_last: false,
        };
        let p = dir.join(format!("{name}.heic"));
        std::fs::write(&p, build::grid(&tiles, &g)).unwrap();
        out.push(p);
    }
    out.extend(colour_variants(&samples.join("misc-images/c.png"), dir));
    let second = samples.join("reg-test-input/pen-and-coaster.png");
    let two = dir.join("two-primary-second.heic");
    let first = samples.join("bridge-mods/aaa-orig.jpg");
    assert!(encode(&first, &two, &[second.to_str().unwrap()]));
    std::fs::write(&two, second_made_primary(&two)).unwrap();
    out.push(two);
    out
}

/// The same picture coded as the encoders allow beyond their defaults: other matrices and
/// ranges, 10 and 12 bits.
fn colour_variants(source: &Path, dir: &Path) -> Vec<PathBuf> {
    let img = image::open(source).unwrap();
    let png8 = dir.join("work/colour8.png");
    let png16 = dir.join("work/colour16.png");
    img.to_rgb8().save(&png8).unwrap();
    image::DynamicImage::ImageRgb16(img.to_rgb16())
        .save(&png16)
        .unwrap();
    let heif = [
        (
            "bt709-limited.heic",
            &png8,
            &["--matrix_coefficients=1", "--full_range_flag=0"][..],
        ),
        ("bt2020-full.heic", &png8, &["--matrix_coefficients=9"][..]),
        ("10bit.heic", &png16, &["-b", "10"][..]),
        ("12bit.avif", &png16, &["-b", "12"][..]),
    ];
    let mut out = vec![];
    for (name, input, extra) in heif {
        let p = dir.join(name);
        assert!(encode(input, &p, extra), "{name}");
        out.push(p);
    }
    let avif = [
        ("10bit.avif", &png16, &["-d", "10"][..]),
        (
            "bt709-limited.avif",
            &png8,
            &["--cicp", "1/13/1", "-r", "limited"][..],
        ),
        ("444.avif", &png8, &["-y", "444"][..]),
    ];
    for (name, input, extra) in avif {
        let p = dir.join(name);
        let st = Command::new("avifenc")
            .args(["-s", "9"])
            .args(extra)
            .arg(input)
            .arg(&p)
            .output()
            .unwrap()
            .status;
        assert!(st.success(), "{name}");
        out.push(p);
    }
    out
}

#[test]
fn hashes_agree_with_pillow_heif_and_pdqhash() {
    let Some(data) = common::testdata() else {
        return;
    };
    if !have_libheif() || !have_python_reference() {
        return;
    }
    let dir = common::scratch("heif-agree");
    let samples = data.join("pdq");
    let refused = encode_samples(&samples, &dir);
    let structured = write_structured(&samples, &dir.join("structured"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .chain(structured.iter().cloned())
        .collect();
    files.sort();
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let ours = hash_jsonl(&paths, &[]);
    let theirs = reference(&files);
    assert_eq!(ours.len(), files.len());
    let (mut pdq, mut ph, mut low) = (vec![], vec![], 0);
    for (o, t) in ours.iter().zip(&theirs) {
        let name = common::file_name(Path::new(o["path"].as_str().unwrap()));
        assert_eq!(o["status"], "ok", "{name}: {o}");
        assert!(t.get("error").is_none(), "{name}: reference failed: {t}");
        assert_eq!(
            (&o["width"], &o["height"]),
            (&t["width"], &t["height"]),
            "{name}"
        );
        let d = bits(o["pdq"].as_str().unwrap(), t["pdq"].as_str().unwrap());
        if t["quality"].as_u64().unwrap() >= 80 {
            pdq.push((d, name.clone()));
        } else {
            low += 1;
        }
        ph.push((
            bits(o["phash"].as_str().unwrap(), t["phash"].as_str().unwrap()),
            name,
        ));
    }
    // The stored transformations were applied (and agreed with the reference above).
    let size = |name: &str| {
        let r = ours
            .iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(name))
            .unwrap();
        (r["width"].as_u64().unwrap(), r["height"].as_u64().unwrap())
    };
    let (w, h) = size("/grid.heic");
    assert_eq!(size("grid-irot1.heic"), (h, w), "irot turns");
    assert_eq!(size("grid-imir1.heic"), (w, h));
    assert_eq!(
        size("grid-clap-irot1.heic"),
        (h - 60, w - 100),
        "clap crops, then irot"
    );
    let within = pdq.iter().filter(|(d, _)| *d <= 10).count();
    let mean = pdq.iter().map(|(d, _)| f64::from(*d)).sum::<f64>() / pdq.len() as f64;
    let worst = pdq.iter().max().unwrap();
    let ph_worst = ph.iter().max().unwrap();
    eprintln!(
        "HEIF vs pillow-heif/Pillow + pdqhash: {} files (the encoder refused {refused:?}), \
         {} with quality >= 80: PDQ within 10 bits on {within}, mean {mean:.3}, max {} ({}); \
         {low} below quality 80; pHash max {} ({})",
        files.len(),
        pdq.len(),
        worst.0,
        worst.1,
        ph_worst.0,
        ph_worst.1
    );
    assert!(pdq.len() >= 80, "most files have quality >= 80");
    assert!(within * 100 >= pdq.len() * 99, "PDQ within 10 bits on 99%");
    assert!(mean <= 1.0, "PDQ mean {mean}");
    assert!(
        ph_worst.0 <= 2,
        "pHash {} bits on {}",
        ph_worst.0,
        ph_worst.1
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `scan DIR` to JSONL with `extra` arguments and environment; the file records by name.
fn scan(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Vec<Value> {
    let out = dir.with_extension("jsonl");
    let o = common::bin()
        .args(["scan", "--backend", "cpu", "--quiet", "--force", "-o"])
        .arg(&out)
        .args(extra)
        .arg(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let recs = common::records(&out);
    common::files(&recs).into_iter().cloned().collect()
}

fn by_name<'a>(recs: &'a [Value], name: &str) -> &'a Value {
    recs.iter()
        .find(|r| r["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no record for {name}"))
}

/// A plain HEIC of a generated picture.
fn small_heic(dir: &Path, name: &str, seed: u64) -> PathBuf {
    let png = dir.join(format!("{name}.png"));
    common::save_png(seed, 320, 240, &png);
    let heic = dir.join(format!("{name}.heic"));
    assert!(encode(&png, &heic, &[]));
    std::fs::remove_file(png).unwrap();
    heic
}

#[test]
fn broken_and_hostile_heif_files_each_get_a_record() {
    if !have_libheif() {
        return;
    }
    let dir = common::scratch("heif-bad");
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let good = std::fs::read(small_heic(&input, "good", 1)).unwrap();
    std::fs::write(input.join("truncated.heic"), &good[..good.len() / 2]).unwrap();
    std::fs::write(input.join("zero.heic"), b"").unwrap();
    // The coded stream replaced by noise, its length kept.
    let mut garbage = good.clone();
    let mdat = garbage.windows(4).rposition(|w| w == b"mdat").unwrap() + 4;
    let mut x = 0x9e37_79b9u32;
    for b in &mut garbage[mdat..] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    std::fs::write(input.join("garbage-hevc.heic"), garbage).unwrap();
    // A declared size of 100000 x 100000: refused from the header, before any decoder runs.
    let mut huge = good.clone();
    let ispe = huge.windows(4).position(|w| w == b"ispe").unwrap() + 8;
    huge[ispe..ispe + 4].copy_from_slice(&100_000u32.to_be_bytes());
    huge[ispe + 4..ispe + 8].copy_from_slice(&100_000u32.to_be_bytes());
    std::fs::write(input.join("huge.heic"), huge).unwrap();
    // A grid whose last tile is referenced but not there.
    let tile = build::tile_of(&good);
    let tiles = [0, 1, 2, 3].map(|_| Tile {
        hvcc: tile.hvcc.clone(),
        data: tile.data.clone(),
    });
    let mut g = Grid {
        rows: 2,
        cols: 2,
        width: 600,
        height: 400,
        tile: (320, 240),
        rotation: None,
        mirror: None,
        clean: None,
        payload_size: None,
        drop_last: true,
    };
    std::fs::write(
        input.join("grid-missing-tile.heic"),
        build::grid(&tiles, &g),
    )
    .unwrap();
    // A small ispe, but a grid payload asking for 60000 x 60000 (what libheif allocates).
    g.drop_last = false;
    g.payload_size = Some((60_000, 60_000));
    std::fs::write(
        input.join("grid-huge-payload.heic"),
        build::grid(&tiles, &g),
    )
    .unwrap();
    common::save_png(2, 64, 64, &input.join("plain.png"));
    let recs = scan(&input, &[], &[]);
    assert_eq!(recs.len(), 8, "one record per file");
    for ok in ["good.heic", "plain.png"] {
        assert_eq!(by_name(&recs, ok)["status"], "ok", "{ok}");
    }
    assert_eq!(by_name(&recs, "good.heic")["format"], "heic");
    for bad in [
        "truncated.heic",
        "zero.heic",
        "garbage-hevc.heic",
        "huge.heic",
        "grid-missing-tile.heic",
        "grid-huge-payload.heic",
    ] {
        let r = by_name(&recs, bad);
        assert_eq!(r["status"], "error", "{bad}: {r}");
        eprintln!("{bad}: {}", r["reason"]);
    }
    let huge = by_name(&recs, "huge.heic")["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(huge.contains("100000x100000"), "{huge}");
    let payload = by_name(&recs, "grid-huge-payload.heic")["reason"].to_string();
    assert!(payload.contains("60000x60000"), "{payload}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_hung_or_missing_decoder_costs_one_record() {
    if !have_libheif() {
        return;
    }
    let dir = common::scratch("heif-decoder");
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    small_heic(&input, "photo", 3);
    common::save_png(4, 64, 64, &input.join("plain.png"));
    let recs = scan(
        &input,
        &[],
        &[("HASHSWEEP_HEIF_CONVERT", "/nonexistent/heif-convert")],
    );
    let photo = by_name(&recs, "photo.heic");
    assert_eq!(photo["status"], "error");
    let why = photo["reason"].as_str().unwrap();
    assert!(why.contains("libheif-examples"), "names the package: {why}");
    assert_eq!(by_name(&recs, "plain.png")["status"], "ok");
    // A decoder that never finishes is killed at the deadline.
    let hang = dir.join("hang.sh");
    std::fs::write(&hang, "#!/bin/sh\nexec sleep 600\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hang, std::fs::Permissions::from_mode(0o755)).unwrap();
    let recs = scan(
        &input,
        &["--decoder-timeout", "1"],
        &[("HASHSWEEP_HEIF_CONVERT", hang.to_str().unwrap())],
    );
    let why = by_name(&recs, "photo.heic")["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(why.contains("decoder timeout"), "{why}");
    assert_eq!(by_name(&recs, "plain.png")["status"], "ok");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_live_photo_is_one_image_record_and_one_video_record() {
    if !have_libheif() || !common::have_ffmpeg() {
        return;
    }
    let dir = common::scratch("heif-live");
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let heic = small_heic(&input, "IMG_0001", 5);
    std::fs::rename(&heic, input.join("IMG_0001.HEIC")).unwrap();
    let mov = input.join("IMG_0001.MOV");
    let st = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=10",
        ])
        .args(["-t", "2", "-pix_fmt", "yuv420p", "-f", "mov"])
        .arg(&mov)
        .status()
        .unwrap();
    assert!(st.success());
    let recs = scan(&input, &[], &[]);
    assert_eq!(recs.len(), 2);
    let photo = by_name(&recs, "IMG_0001.HEIC");
    assert_eq!(
        (&photo["format"], &photo["status"]),
        (&"heic".into(), &"ok".into())
    );
    assert!(photo["pdq"].is_string());
    let video = by_name(&recs, "IMG_0001.MOV");
    assert_eq!(video["format"], "mov");
    assert!(video["frames_hashed"].as_u64().unwrap() >= 1, "{video}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_primary_image_is_hashed_and_all_frames_hashes_every_top_level_image() {
    if !have_libheif() {
        return;
    }
    let dir = common::scratch("heif-multi");
    let (a, b) = (dir.join("a.png"), dir.join("b.png"));
    common::save_png(10, 320, 240, &a);
    common::save_png(11, 200, 300, &b);
    let two = dir.join("two.heic");
    assert!(encode(&a, &two, &[b.to_str().unwrap()]));
    let singles = [dir.join("a.heic"), dir.join("b.heic")];
    assert!(encode(&a, &singles[0], &[]) && encode(&b, &singles[1], &[]));
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("two.heic"), second_made_primary(&two)).unwrap();
    let alone = hash_jsonl(&[&singles[0], &singles[1]], &[]);
    let recs = scan(&input, &["--all-frames"], &[]);
    let r = by_name(&recs, "two.heic");
    assert_eq!(
        (&r["width"], &r["height"]),
        (&200.into(), &300.into()),
        "the primary"
    );
    assert_eq!(r["pdq"], alone[1]["pdq"]);
    assert_eq!(r["frame_count"], 2, "{r}");
    let frames = r["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0]["pdq"], alone[0]["pdq"], "file order");
    assert_eq!(frames[1]["pdq"], alone[1]["pdq"]);
    let _ = std::fs::remove_dir_all(&dir);
}
