//! `scan` over videos: bad videos give error records or warnings and the run goes on, a
//! hanging decoder is stopped, frames match image sets and videos match video sets, and a
//! killed scan resumes with each video recorded once.

mod common;

use std::path::Path;

use common::{file_name as name, read_csv, sample_videos};
use hashsweep::Engine;
use hashsweep::video::{self as vpdq, VideoOptions};

/// A small generated video: `lavfi` source, then encoder arguments.
fn make_video(path: &Path, source: &str, args: &[&str]) {
    let st = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", source])
        .args(args)
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "ffmpeg could not make {}", path.display());
}

fn scan(args: &[&str], out: &Path) -> (i32, Vec<serde_json::Value>) {
    let st = common::bin()
        .args(["scan", "--backend", "cpu", "--quiet", "-o"])
        .arg(out)
        .args(args)
        .status()
        .unwrap();
    let recs = std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["type"] == "file")
        .collect();
    (st.code().unwrap(), recs)
}

fn by_name<'a>(recs: &'a [serde_json::Value], file: &str) -> &'a serde_json::Value {
    let hits: Vec<_> = recs
        .iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with(file))
        .collect();
    assert_eq!(hits.len(), 1, "{file}: one record");
    hits[0]
}

/// Bad videos: every one gets a record, errors say why, partial results carry warnings,
/// and the good files beside them are hashed.
#[test]
fn bad_videos_give_error_records_or_warnings_and_the_run_goes_on() {
    if common::testdata().is_none() || !common::have_ffmpeg() {
        return;
    }
    let dir = common::scratch("video-bad");
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let src = "testsrc2=size=96x64:rate=30";
    make_video(
        &input.join("good.mp4"),
        src,
        &["-t", "3", "-movflags", "+faststart", "-pix_fmt", "yuv420p"],
    );
    // Frames 0-39 at 20 fps, then 5 fps: the average rate is not the base rate.
    make_video(
        &input.join("vfr.mp4"),
        "testsrc2=size=96x64:rate=20",
        &[
            "-t",
            "4",
            "-vf",
            "setpts='if(lt(N,40),N/20,2+(N-40)/5)/TB'",
            "-vsync",
            "vfr",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    make_video(
        &input.join("audio.m4a"),
        "sine=frequency=440:duration=1",
        &["-c:a", "aac"],
    );
    make_video(
        &input.join("clip.mkv"),
        "mandelbrot=size=96x64:rate=25",
        &["-t", "2"],
    );
    make_video(&input.join("clip.avi"), src, &["-t", "2", "-c:v", "mpeg4"]);
    make_video(&input.join("clip.ts"), src, &["-t", "2"]);
    make_video(
        &input.join("clip.webm"),
        src,
        &["-t", "2", "-c:v", "libvpx", "-b:v", "200k"],
    );
    make_video(&input.join("clip.mov"), src, &["-t", "2", "-c:v", "mjpeg"]);
    // The same stream tagged "rotate 90" (as phones do): hashed as stored, like the reference.
    let st = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(input.join("good.mp4"))
        .args(["-c", "copy", "-metadata:s:v:0", "rotate=90"])
        .arg(input.join("rotated.mp4"))
        .status()
        .unwrap();
    assert!(st.success());
    let good = std::fs::read(input.join("good.mp4")).unwrap();
    // A name near the 255-byte limit: its vPDQ file name must still fit.
    let long = format!("{}.mp4", "v".repeat(245));
    std::fs::write(input.join(&long), &good).unwrap();
    std::fs::write(input.join("truncated.mp4"), &good[..good.len() * 6 / 10]).unwrap();
    std::fs::write(input.join("empty.mp4"), b"").unwrap();
    let mut junk = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    junk.extend(
        hashsweep::hash::random_words(5)
            .take(4000)
            .flat_map(u64::to_le_bytes),
    );
    std::fs::write(input.join("corrupt.mp4"), junk).unwrap();
    let png = dir.join("in/image.png");
    image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, 9]))
        .save(&png)
        .unwrap();

    let out = dir.join("out.jsonl");
    let (code, recs) = scan(&[input.to_str().unwrap()], &out);
    assert_eq!(code, 1, "some files failed");
    assert_eq!(recs.len(), 14);
    let status = |f: &str| by_name(&recs, f)["status"].as_str().unwrap().to_string();
    let reason = |f: &str| {
        by_name(&recs, f)["reason"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(status("image.png"), "ok");
    for f in [
        "good.mp4",
        "clip.mkv",
        "clip.avi",
        "clip.ts",
        "clip.webm",
        "clip.mov",
        "vfr.mp4",
    ] {
        assert_eq!(status(f), "ok", "{f}: {}", reason(f));
        assert!(
            by_name(&recs, f)["frames_hashed"].as_u64().unwrap() >= 2,
            "{f}"
        );
    }
    assert_eq!(by_name(&recs, "good.mp4")["frames_hashed"], 3);
    assert_eq!(by_name(&recs, "good.mp4")["video"]["frame_rate"], 30.0);
    let vfr = by_name(&recs, "vfr.mp4");
    assert_eq!(vfr["video"]["variable_frame_rate"], true);
    assert!(vfr["warnings"].to_string().contains("variable frame rate"));
    let t = by_name(&recs, "truncated.mp4");
    assert!(
        t["status"] == "error" || t["warnings"].is_array(),
        "a truncated video is an error or a result with a warning: {t}"
    );
    assert_eq!(status("audio.m4a"), "skipped");
    assert_eq!(reason("audio.m4a"), "audio only: no video stream");
    assert_eq!(status("corrupt.mp4"), "error");
    assert!(
        reason("corrupt.mp4").starts_with("not a readable video"),
        "{}",
        reason("corrupt.mp4")
    );
    assert_eq!(reason("empty.mp4"), "empty file");
    // The vPDQ file of a good video is its frames in the reference text form.
    let text =
        std::fs::read_to_string(by_name(&recs, "good.mp4")["vpdq_file"].as_str().unwrap()).unwrap();
    let frames: Vec<&str> = text.lines().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(frames, ["0", "30", "60"]);
    for l in text.lines() {
        let c: Vec<&str> = l.split(',').collect();
        assert_eq!(c.len(), 4, "{l}");
        assert_eq!(
            c[3],
            format!("{:.3}", c[0].parse::<f64>().unwrap() / 30.0),
            "{l}"
        );
    }

    let vpdq_of = |f: &str| {
        std::fs::read_to_string(by_name(&recs, f)["vpdq_file"].as_str().unwrap()).unwrap()
    };
    assert_eq!(
        vpdq_of("rotated.mp4"),
        vpdq_of("good.mp4"),
        "a rotation tag is not applied"
    );
    assert_eq!(vpdq_of(&long), vpdq_of("good.mp4"), "a long name fits");

    // Frames over the pixel limit are refused before decoding.
    let (code, recs) = scan(
        &[
            "--max-pixels",
            "1000",
            input.join("good.mp4").to_str().unwrap(),
        ],
        &dir.join("small.jsonl"),
    );
    assert_eq!(code, 1);
    assert!(
        recs[0]["reason"]
            .as_str()
            .unwrap()
            .contains("over 1000 pixels"),
        "{}",
        recs[0]
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Without FFmpeg, videos get an error record naming what to install; images still work.
#[test]
fn without_ffmpeg_videos_are_errors_and_images_still_hash() {
    let dir = common::scratch("video-noffmpeg");
    std::fs::write(
        dir.join("v.mp4"),
        b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2 more bytes",
    )
    .unwrap();
    image::RgbImage::from_fn(32, 32, |x, y| image::Rgb([x as u8 * 8, y as u8 * 8, 1]))
        .save(dir.join("i.png"))
        .unwrap();
    let out = dir.join("out.jsonl");
    let st = common::bin()
        .args(["scan", "--backend", "cpu", "--quiet", "-o"])
        .arg(&out)
        .arg(&dir)
        .env("HASHSWEEP_FFPROBE", dir.join("no-such-ffprobe"))
        .env("HASHSWEEP_FFMPEG", dir.join("no-such-ffmpeg"))
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(1));
    let text = std::fs::read_to_string(&out).unwrap();
    let recs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["type"] == "file")
        .collect();
    let v = by_name(&recs, "v.mp4");
    assert_eq!(v["status"], "error");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("not found: videos need FFmpeg"),
        "{v}"
    );
    assert_eq!(by_name(&recs, "i.png")["status"], "ok");
    let _ = std::fs::remove_dir_all(dir);
}

/// A decoder that hangs is stopped by the watchdog: the run ends, the video is an error.
#[cfg(unix)]
#[test]
fn a_hanging_decoder_is_stopped_and_recorded() {
    if common::testdata().is_none() || !common::have_ffmpeg() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = common::scratch("video-hang");
    let video = dir.join("v.mp4");
    make_video(&video, "testsrc2=size=64x64:rate=10", &["-t", "1"]);
    // A decoder that hangs: no frame and no progress. One that is slow: progress reports
    // but no frame for three times the timeout, then it ends. Only the first is stopped.
    let hangs = "exec sleep 60\n";
    let slow = "i=0\nwhile [ $i -lt 12 ]; do echo frame=0 >&2; echo progress=continue >&2; sleep 0.25; i=$((i+1)); done\n";
    for (name, body, stopped) in [("hangs", hangs, true), ("slow", slow, false)] {
        let fake = dir.join(format!("ffmpeg-that-{name}"));
        std::fs::write(&fake, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = dir.join(format!("{name}.jsonl"));
        let st = common::bin()
            .args([
                "scan",
                "--backend",
                "cpu",
                "--quiet",
                "--video-timeout",
                "1",
                "-o",
            ])
            .arg(&out)
            .arg(&video)
            .env("HASHSWEEP_FFMPEG", &fake)
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(1), "{name}");
        let text = std::fs::read_to_string(&out).unwrap();
        let r: serde_json::Value = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .find(|r: &serde_json::Value| r["type"] == "file")
            .unwrap();
        assert_eq!(r["status"], "error", "{name}");
        let reason = r["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("no frame could be decoded"),
            "{name}: {r}"
        );
        assert_eq!(
            reason.contains("decoding stopped: no frame for 1 s"),
            stopped,
            "{name}: {r}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The sample videos and a frame of one of them saved as an image, scanned against an
/// image set and a set of the reference's vPDQ files, in rounds so small that each video
/// is cut into many pieces: the vPDQ files are those of a video hashed on its own, the
/// image is found at its frame and timestamp, and the video matches are pairs.csv's.
#[test]
fn scan_finds_frames_in_image_sets_and_videos_in_video_sets() {
    let Some(videos) = sample_videos() else {
        return;
    };
    let vdir = videos[0].parent().unwrap();
    let dir = common::scratch("video-scan");
    let png = dir.join("pattern-frame60.png");
    let st = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(vdir.join("pattern-sd-grey-bar.mp4"))
        .args([
            "-vf",
            "select=eq(n\\,60)",
            "-vsync",
            "passthrough",
            "-frames:v",
            "1",
        ])
        .arg(&png)
        .status()
        .unwrap();
    assert!(st.success());
    let run = |args: &[&str]| common::run_ok(args).into_bytes();
    let image_set = build_image_set(&png, &dir.join("images.hsref"));
    let video_set = dir.join("videos.hsref");
    let mut args = vec![
        "refs".to_string(),
        "build".into(),
        "-o".into(),
        video_set.to_string_lossy().into(),
    ];
    args.extend(
        videos
            .iter()
            .map(|v| v.with_extension("vpdq.txt").to_string_lossy().into_owned()),
    );
    run(&args.iter().map(String::as_str).collect::<Vec<_>>());

    let out = dir.join("out.jsonl");
    let round = (480 * 720 * 3).to_string();
    let mut a = vec![
        "--refs",
        image_set.to_str().unwrap(),
        "--refs",
        video_set.to_str().unwrap(),
        "--round-pixels",
        &round,
    ];
    let inputs: Vec<String> = videos
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    a.extend(inputs.iter().map(String::as_str));
    a.push(png.to_str().unwrap());
    let (code, recs) = scan(&a, &out);
    assert_eq!(code, 0);
    assert_eq!(recs.len(), videos.len() + 1);
    for v in &videos {
        let r = by_name(&recs, &name(v));
        let text = std::fs::read_to_string(r["vpdq_file"].as_str().unwrap()).unwrap();
        let alone = vpdq::hash_video(v, &Engine::Cpu, &VideoOptions::default()).unwrap();
        assert_eq!(text, vpdq::to_text(&alone.features), "{}", name(v));
        assert_eq!(r["frames_hashed"], alone.features.len());
    }
    let matches: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("out.matches.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let frame_hits: Vec<_> = matches
        .iter()
        .filter(|m| m["refset"] == image_set.to_str().unwrap())
        .collect();
    assert!(
        frame_hits.iter().any(|m| m["path"]
            .as_str()
            .unwrap()
            .ends_with("pattern-sd-grey-bar.mp4")
            && m["frame"] == 60
            && m["timestamp"] == 2.0
            && m["distance"] == 0),
        "{frame_hits:?}"
    );
    assert!(
        frame_hits
            .iter()
            .any(|m| m["path"] == png.to_str().unwrap()),
        "the image finds itself"
    );
    let video_hits: Vec<_> = matches
        .iter()
        .filter(|m| m["type"] == "video_match")
        .collect();
    for row in read_csv(&vdir.join("pairs.csv")) {
        let hit = video_hits.iter().find(|m| {
            m["path"].as_str().unwrap().ends_with(row["query"].as_str())
                && m["video"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/{}", row["compared"].trim_end_matches(".mp4")))
        });
        let want: f64 = row["query_match_pct"].parse().unwrap();
        assert_eq!(
            hit.is_some_and(|m| m["match"] == true),
            want >= 80.0,
            "{row:?}"
        );
    }
    // No video frame is matched frame by frame against the video set.
    assert!(
        !matches
            .iter()
            .any(|m| m["refset"] == video_set.to_str().unwrap()
                && m["type"] != "video_match"
                && m["path"].as_str().unwrap().ends_with(".mp4"))
    );

    // `match`: videos against the video set give pairs.csv's decisions; a video against
    // the image set names the frame where the image is.
    let mut margs = vec![
        "match",
        "--backend",
        "cpu",
        "--refs",
        video_set.to_str().unwrap(),
    ];
    margs.extend(inputs.iter().map(String::as_str));
    let table = String::from_utf8(run(&margs)).unwrap();
    let matched: Vec<(String, String)> = table
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(5) == Some("true"))
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (
                name(Path::new(c[0])),
                format!("{}.mp4", name(Path::new(c[2]))),
            )
        })
        .collect();
    for row in read_csv(&vdir.join("pairs.csv")) {
        let want = row["query_match_pct"].parse::<f64>().unwrap() >= 80.0;
        let got = matched.contains(&(row["query"].clone(), row["compared"].clone()));
        assert_eq!(got, want, "match table for {row:?}:\n{table}");
    }
    let frames = String::from_utf8(run(&[
        "match",
        "--backend",
        "cpu",
        "--dihedral",
        "--refs",
        image_set.to_str().unwrap(),
        vdir.join("pattern-sd-grey-bar.mp4").to_str().unwrap(),
    ]))
    .unwrap();
    assert!(
        frames.contains("pattern-sd-grey-bar.mp4#frame=60@2.000s,"),
        "{frames}"
    );
    // The frame turned a quarter: found only in the matching orientation, and named.
    let turned = dir.join("turned.png");
    image::open(&png).unwrap().rotate90().save(&turned).unwrap();
    let turned_set = build_image_set(&turned, &dir.join("turned.hsref"));
    let video = vdir.join("pattern-sd-grey-bar.mp4");
    let plain = String::from_utf8(run(&[
        "match",
        "--backend",
        "cpu",
        "--refs",
        turned_set.to_str().unwrap(),
        video.to_str().unwrap(),
    ]))
    .unwrap();
    assert!(!plain.contains("#frame=60@"), "{plain}");
    let turned_hits = String::from_utf8(run(&[
        "match",
        "--backend",
        "cpu",
        "--dihedral",
        "--refs",
        turned_set.to_str().unwrap(),
        video.to_str().unwrap(),
    ]))
    .unwrap();
    let row = turned_hits
        .lines()
        .find(|l| l.contains("#frame=60@2.000s,"))
        .unwrap_or_else(|| panic!("{turned_hits}"));
    assert!(!row.ends_with(",original"), "{row}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Killed at random moments while videos are cut into pieces, then resumed: every video is
/// recorded exactly once, with the vPDQ file an uninterrupted run writes.
#[test]
fn killed_and_resumed_scans_record_each_video_once() {
    if common::testdata().is_none() || !common::have_ffmpeg() {
        return;
    }
    let dir = common::scratch("video-kill");
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for i in 0..12 {
        make_video(
            &input.join(format!("v{i:02}.mp4")),
            &format!("life=size=64x48:rate=10:seed={i}:mold=10"),
            &["-t", "6", "-pix_fmt", "yuv420p"],
        );
    }
    let round = (64 * 48 * 2).to_string();
    let base = ["--video-interval", "0.5", "--round-pixels", round.as_str()];
    let clean = dir.join("clean.jsonl");
    let (_, want) = scan(&[&base[..], &[input.to_str().unwrap()]].concat(), &clean);
    let want_text = |recs: &[serde_json::Value], f: &str| {
        std::fs::read_to_string(by_name(recs, f)["vpdq_file"].as_str().unwrap()).unwrap()
    };
    let out = dir.join("out.jsonl");
    let mut rng = hashsweep::hash::random_words(11);
    let mut kills = 0;
    for round_no in 0..6 {
        let mut child = common::bin()
            .args(["scan", "--backend", "cpu", "--quiet", "-o"])
            .arg(&out)
            .args(base)
            .args(if round_no > 0 {
                vec!["--resume"]
            } else {
                vec![]
            })
            .arg(&input)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(
            50 + rng.next().unwrap() % 400,
        ));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    let (code, got) = scan(
        &[&base[..], &["--resume", input.to_str().unwrap()]].concat(),
        &out,
    );
    assert_eq!(code, 0);
    assert_eq!(got.len(), 12, "each video exactly once ({kills} kills)");
    for i in 0..12 {
        let f = format!("v{i:02}.mp4");
        assert_eq!(
            by_name(&got, &f)["frames_hashed"],
            by_name(&want, &f)["frames_hashed"]
        );
        assert_eq!(want_text(&got, &f), want_text(&want, &f), "{f}");
    }
    assert!(kills > 0, "the test never interrupted a run");
    let _ = std::fs::remove_dir_all(dir);
}

/// A reference set of one image's hashes, built by the binary as a user would.
fn build_image_set(png: &Path, set: &Path) -> std::path::PathBuf {
    let hashed = common::bin()
        .args(["hash", "--backend", "cpu"])
        .arg(png)
        .output()
        .unwrap();
    assert!(hashed.status.success());
    let csv = set.with_extension("csv");
    std::fs::write(&csv, hashed.stdout).unwrap();
    let st = common::bin()
        .args(["refs", "build", "-o"])
        .arg(set)
        .arg(&csv)
        .status()
        .unwrap();
    assert!(st.success());
    set.to_path_buf()
}

/// Videos inside archives are decoded as they are on disk: a small one from memory, one
/// over the member memory limit spooled by the lister. Their vPDQ and MD5 equal the loose
/// file's, their container's record comes after them and counts them, and nothing is left
/// in the temporary folder.
#[test]
fn videos_inside_archives_hash_as_they_do_loose() {
    if !common::have_ffmpeg() {
        return;
    }
    let dir = common::scratch("video-inside");
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let small = dir.join("small.mp4");
    make_video(
        &small,
        "testsrc2=size=96x64:rate=30",
        &["-t", "2", "-pix_fmt", "yuv420p"],
    );
    // Raw frames: past the 16 MiB a member may hold in memory under --max-memory 64M.
    let big = dir.join("big.mkv");
    make_video(
        &big,
        "testsrc2=size=320x240:rate=30",
        &["-t", "6", "-c:v", "rawvideo", "-pix_fmt", "yuv420p"],
    );
    assert!(std::fs::metadata(&big).unwrap().len() > 16 << 20);
    let videos = [("a/small.mp4", &small), ("big.mkv", &big)];
    let mut z = zip::ZipWriter::new(std::fs::File::create(input.join("v.zip")).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, p) in videos {
        z.start_file(name, stored).unwrap();
        std::io::Write::write_all(&mut z, &std::fs::read(p).unwrap()).unwrap();
    }
    z.finish().unwrap();
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(input.join("v.tar.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    let mut t = tar::Builder::new(gz);
    for (name, p) in videos {
        t.append_path_with_name(p, name).unwrap();
    }
    t.into_inner().unwrap().finish().unwrap();
    std::fs::copy(&small, input.join("small.mp4")).unwrap();
    std::fs::copy(&big, input.join("big.mkv")).unwrap();

    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = dir.join("out.jsonl");
    let st = common::bin()
        .args(["scan", "--backend", "cpu", "--quiet", "--digest", "md5"])
        .args(["--max-memory", "64M", "-o"])
        .arg(&out)
        .arg(&input)
        .env("TMPDIR", &tmp)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(0));
    let recs: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["type"] == "file")
        .collect();
    let vpdq = |r: &serde_json::Value| -> Vec<String> {
        let text = std::fs::read_to_string(r["vpdq_file"].as_str().unwrap()).unwrap();
        text.lines().map(str::to_string).collect()
    };
    for (name, _) in videos {
        let leaf = name.rsplit('/').next().unwrap();
        let loose = by_name(&recs, &format!("in/{leaf}"));
        assert_eq!(loose["status"], "ok", "{loose}");
        for archive in ["v.zip", "v.tar.gz"] {
            let r = by_name(&recs, &format!("{archive}!{name}"));
            assert_eq!(r["status"], "ok", "{r}");
            assert_eq!(r["depth"], 1, "{r}");
            assert_eq!(r["md5"], loose["md5"], "{r}");
            assert_eq!(r["frames_hashed"], loose["frames_hashed"], "{r}");
            assert!(r["frames_hashed"].as_u64().unwrap() >= 2, "{r}");
            assert_eq!(vpdq(r), vpdq(loose), "{archive}!{name}");
            let at = |p: &serde_json::Value| recs.iter().position(|x| x == p).unwrap();
            let c = by_name(&recs, &format!("in/{archive}"));
            assert!(at(r) < at(c), "{archive}'s record comes after its members");
            assert_eq!(c["contents"]["hashed"], 2, "{c}");
        }
    }
    // With nowhere to spool them, the members are error records that say so; the loose
    // videos still hash and the run ends in 1.
    let st = common::bin()
        .args(["scan", "--backend", "cpu", "--quiet", "--force", "-o"])
        .arg(&out)
        .arg(&input)
        .env("TMPDIR", dir.join("no-such-folder"))
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(1));
    let recs: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["type"] == "file")
        .collect();
    for (name, _) in videos {
        let r = by_name(&recs, &format!("v.zip!{name}"));
        assert_eq!(r["status"], "error", "{r}");
        assert!(
            r["reason"]
                .as_str()
                .unwrap()
                .contains("could not be spooled to a temporary file"),
            "{r}"
        );
        let leaf = name.rsplit('/').next().unwrap();
        assert_eq!(by_name(&recs, &format!("in/{leaf}"))["status"], "ok");
    }
    let left: Vec<_> = walkdir(&tmp);
    assert!(
        left.iter().all(|p| !p.contains(".hashsweep-member-")),
        "spooled members left behind: {left:?}"
    );
}

fn walkdir(dir: &Path) -> Vec<String> {
    let mut all = vec![];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            all.extend(walkdir(&p));
        }
        all.push(p.display().to_string());
    }
    all
}
