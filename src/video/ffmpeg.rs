//! Talking to FFmpeg: `ffprobe` for the stream's size and rate, `ffmpeg` for the sampled
//! frames as raw RGB24 on a pipe.
//!
//! FFmpeg runs as a child process rather than linked in: a decoder crash or hang on a
//! hostile file ends that process, never the scan; the watchdog can kill it; and the build
//! needs no C libraries, only the `ffmpeg` package at run time.

use std::io::Read;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::{VideoError, VideoInfo, VideoOptions};
use crate::frame::Frame;

/// The programs to run: `HASHSWEEP_FFMPEG` / `HASHSWEEP_FFPROBE`, else from `PATH`.
fn program(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

fn spawn(var: &str, default: &str, args: &[String]) -> Result<Child, VideoError> {
    let prog = program(var, default);
    Command::new(&prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => VideoError::NoFfmpeg(prog),
            _ => VideoError::Io(format!("starting {prog}: {e}")),
        })
}

/// What the watchdog hears.
enum Beat {
    /// The reader starts waiting for a frame (`true`) or has one (`false`): time the
    /// reader spends elsewhere (a full hashing queue downstream) does not count.
    Waiting(bool),
    /// FFmpeg reported progress: it is decoding, even when no sampled frame is due for a
    /// while (a long `--video-interval` over a slow codec).
    Progress,
    /// Reading is over.
    Done,
}

/// Kills `child` when the reader has waited `stall` without a frame or a progress report.
/// Returns whether it had to kill.
fn watchdog(mut child: Child, beats: mpsc::Receiver<Beat>, stall: Duration) -> (Child, bool) {
    let mut waiting = true;
    loop {
        let heard = if waiting {
            beats.recv_timeout(stall)
        } else {
            beats
                .recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected)
        };
        match heard {
            Ok(Beat::Waiting(w)) => waiting = w,
            Ok(Beat::Progress) => {}
            Ok(Beat::Done) | Err(mpsc::RecvTimeoutError::Disconnected) => return (child, false),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                return (child, true);
            }
        }
    }
}

/// The last messages of a child's stderr, read on a thread so the pipe never fills. Lines
/// of FFmpeg's `-progress` report are not messages: each is a beat for the watchdog.
fn collect_stderr(
    child: &mut Child,
    beats: Option<mpsc::Sender<Beat>>,
) -> std::thread::JoinHandle<String> {
    use std::io::BufRead;
    let err = child.stderr.take().expect("piped");
    std::thread::spawn(move || {
        let mut last = std::collections::VecDeque::new();
        for line in std::io::BufReader::new(err)
            .split(b'\n')
            .map_while(Result::ok)
        {
            let line = String::from_utf8_lossy(&line);
            if is_progress(&line) {
                if let Some(b) = &beats {
                    let _ = b.send(Beat::Progress);
                }
                continue;
            }
            if last.len() == 3 {
                last.pop_front();
            }
            last.push_back(without_addresses(line.trim_end()));
        }
        Vec::from(last).join(" | ")
    })
}

/// A `key=value` line of `-progress` output.
fn is_progress(line: &str) -> bool {
    const KEYS: [&str; 11] = [
        "frame",
        "fps",
        "bitrate",
        "total_size",
        "out_time_us",
        "out_time_ms",
        "out_time",
        "dup_frames",
        "drop_frames",
        "speed",
        "progress",
    ];
    line.split_once('=')
        .is_some_and(|(k, _)| KEYS.contains(&k) || k.starts_with("stream_"))
}

/// FFmpeg prefixes messages with `[demuxer @ 0x55d1...]`; the address differs every run and
/// would make records of the same file differ.
fn without_addresses(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(" @ 0x") {
        out += &rest[..at];
        rest = rest[at + 5..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
    }
    out + rest
}

pub fn probe(path: &Path, opts: &VideoOptions) -> Result<VideoInfo, VideoError> {
    let args: Vec<String> = [
        "-v",
        "error",
        "-show_entries",
        "stream=codec_type,codec_name,pix_fmt,width,height,avg_frame_rate,r_frame_rate:format=duration,format_name",
        "-of",
        "json",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([path.to_string_lossy().into_owned()])
    .collect();
    let mut child = spawn("HASHSWEEP_FFPROBE", "ffprobe", &args)?;
    let stderr = collect_stderr(&mut child, None);
    let mut out = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel::<Beat>();
    let stall = opts.stall_timeout;
    let dog = std::thread::spawn(move || watchdog(child, rx, stall));
    let mut json = vec![];
    let read = out.read_to_end(&mut json);
    drop(tx);
    let (mut child, killed) = dog.join().expect("watchdog does not panic");
    let status = child.wait();
    let why = stderr.join().unwrap_or_default();
    if killed {
        return Err(VideoError::Timeout(opts.stall_timeout.as_secs_f64()));
    }
    read.map_err(|e| VideoError::Io(e.to_string()))?;
    if !status.is_ok_and(|s| s.success()) {
        return Err(VideoError::Unreadable(if why.is_empty() {
            "ffprobe failed".into()
        } else {
            why
        }));
    }
    parse_probe(&json)
}

fn rational(s: Option<&str>) -> Option<f64> {
    let (n, d) = s?.split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (n > 0.0 && d > 0.0).then(|| n / d)
}

/// ffprobe's JSON to what hashing needs, from the first video stream (the one FFmpeg's
/// `-map 0:v:0` decodes); the frame rate is chosen as the reference does (average rate,
/// else the base rate).
pub fn parse_probe(json: &[u8]) -> Result<VideoInfo, VideoError> {
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| VideoError::Unreadable(e.to_string()))?;
    let streams = v["streams"].as_array().map_or(&[][..], Vec::as_slice);
    let of_type = |t: &str| streams.iter().find(|s| s["codec_type"] == t);
    let Some(s) = of_type("video") else {
        return Err(if of_type("audio").is_some() {
            VideoError::AudioOnly
        } else {
            VideoError::NoVideoStream
        });
    };
    let (width, height) = (
        s["width"].as_u64().unwrap_or(0),
        s["height"].as_u64().unwrap_or(0),
    );
    if width == 0 || height == 0 || width > u32::MAX as u64 || height > u32::MAX as u64 {
        return Err(VideoError::Unreadable(format!(
            "video stream has no usable size ({width}x{height})"
        )));
    }
    let avg = rational(s["avg_frame_rate"].as_str());
    let base = rational(s["r_frame_rate"].as_str());
    let frame_rate = avg.or(base).ok_or(VideoError::NoFrameRate)?;
    // A base rate well above the average means frames are not evenly spaced.
    let variable = matches!((avg, base), (Some(a), Some(b)) if (a - b).abs() > 0.01 * b);
    Ok(VideoInfo {
        width: width as u32,
        height: height as u32,
        frame_rate,
        variable_frame_rate: variable,
        duration: v["format"]["duration"]
            .as_str()
            .and_then(|d| d.parse().ok()),
        codec: s["codec_name"].as_str().unwrap_or("unknown").to_string(),
        pixel_format: s["pix_fmt"].as_str().unwrap_or("unknown").to_string(),
        container: v["format"]["format_name"]
            .as_str()
            .unwrap_or("unknown")
            .to_string(),
    })
}

/// The sampled frames of one video, read as FFmpeg produces them.
pub struct FrameReader {
    out: ChildStdout,
    beats: Option<mpsc::Sender<Beat>>,
    dog: Option<std::thread::JoinHandle<(Child, bool)>>,
    stderr: Option<std::thread::JoinHandle<String>>,
    width: u32,
    height: u32,
    frame_mod: u64,
    taken: u64,
    stall: Duration,
    /// The pipe reached its end: FFmpeg finished (or died) on its own.
    ended: bool,
}

/// How reading ended, for the record.
#[derive(Debug, Default)]
pub struct Ending {
    pub warnings: Vec<String>,
    /// FFmpeg was stopped by the watchdog.
    pub timed_out: bool,
}

impl FrameReader {
    /// FFmpeg decodes every frame (frame numbers count decoded frames, as the reference's
    /// do) and passes on those with `n % frame_mod == 0`, converted to RGB24 at the stream's
    /// size with the area filter the reference uses and swscale's default (BT.601) matrix.
    pub fn start(
        path: &Path,
        info: &VideoInfo,
        frame_mod: u64,
        opts: &VideoOptions,
    ) -> Result<FrameReader, VideoError> {
        let mut filter = String::new();
        if frame_mod > 1 {
            filter += &format!("select=not(mod(n\\,{frame_mod})),");
        }
        // The reference's swscale context knows only the pixel format: `yuvj*` is full
        // range, everything else limited. FFmpeg's filter would follow each frame's range
        // tag instead, and full-range VP9/AV1 (tagged, not `yuvj`) would hash differently.
        let range = if info.pixel_format.starts_with("yuvj") {
            "pc"
        } else {
            "tv"
        };
        filter += &format!(
            "scale={}:{}:flags=area:in_color_matrix=bt601:in_range={range},format=rgb24",
            info.width, info.height
        );
        let mut args: Vec<String> = [
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostats",
            "-progress",
            "pipe:2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if opts.threads > 0 {
            args.extend(["-threads".into(), opts.threads.to_string()]);
        }
        // The reference hashes frames as stored; FFmpeg's command line would otherwise turn
        // phone videos upright by their rotation tag, and every hash would differ.
        args.push("-noautorotate".into());
        // A change of frame size mid-stream would rebuild the filters and restart `select`'s
        // frame count; the reference keeps counting (and converts at the first size).
        args.extend(["-reinit_filter".into(), "0".into()]);
        args.extend(["-i".into(), path.to_string_lossy().into_owned()]);
        args.extend(
            [
                "-map",
                "0:v:0",
                "-an",
                "-sn",
                "-dn",
                "-vf",
                &filter,
                "-vsync",
                "passthrough",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "rgb24",
                "pipe:1",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        let mut child = spawn("HASHSWEEP_FFMPEG", "ffmpeg", &args)?;
        let (tx, rx) = mpsc::channel();
        let stderr = collect_stderr(&mut child, Some(tx.clone()));
        let out = child.stdout.take().expect("piped");
        let stall = opts.stall_timeout;
        let dog = std::thread::spawn(move || watchdog(child, rx, stall));
        Ok(FrameReader {
            out,
            beats: Some(tx),
            dog: Some(dog),
            stderr: Some(stderr),
            width: info.width,
            height: info.height,
            frame_mod,
            taken: 0,
            stall,
            ended: false,
        })
    }

    /// The next sampled frame and its frame number; `None` at the end of the stream (or
    /// when FFmpeg stopped: `finish` says why).
    pub fn next_frame(&mut self) -> Option<(u64, Frame)> {
        let len = self.width as usize * self.height as usize * 3;
        let mut rgb = vec![0u8; len];
        let wait = |w: bool| self.beats.as_ref().map(|b| b.send(Beat::Waiting(w)));
        wait(true);
        let read = self.out.read_exact(&mut rgb);
        wait(false);
        if read.is_err() {
            self.ended = true;
            return None;
        }
        let number = self.taken * self.frame_mod;
        self.taken += 1;
        let frame = Frame::new(self.width, self.height, rgb).ok()?;
        Some((number, frame))
    }

    /// Stop FFmpeg if it is still running and say how the stream ended.
    pub fn finish(mut self) -> Ending {
        if let Some(b) = self.beats.take() {
            let _ = b.send(Beat::Done);
        }
        let (mut child, timed_out) = self
            .dog
            .take()
            .expect("finish runs once")
            .join()
            .expect("watchdog does not panic");
        // A reader that stops early must not leave FFmpeg blocked on a full pipe; its exit
        // status then says nothing about the file.
        let status = if self.ended {
            child.wait().ok()
        } else {
            let _ = child.kill();
            let _ = child.wait();
            None
        };
        let why = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let mut end = Ending {
            timed_out,
            ..Ending::default()
        };
        if timed_out {
            end.warnings.push(format!(
                "decoding stopped: no frame for {:.0} s (--video-timeout); later frames not hashed",
                self.stall.as_secs_f64()
            ));
        } else if status.is_some_and(|s| !s.success()) || !why.is_empty() {
            end.warnings.push(if why.is_empty() {
                "ffmpeg ended with an error".to_string()
            } else {
                format!("ffmpeg: {why}")
            });
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_output_gives_size_rate_and_variable_rate() {
        let j = br#"{"streams":[{"codec_type":"audio"},{"codec_type":"video","codec_name":"h264","pix_fmt":"yuv420p","width":480,"height":720,"r_frame_rate":"30/1","avg_frame_rate":"30/1"}],"format":{"format_name":"mov,mp4","duration":"22.464000"}}"#;
        let i = parse_probe(j).unwrap();
        assert_eq!((i.width, i.height, i.frame_rate), (480, 720, 30.0));
        assert_eq!(i.pixel_format, "yuv420p");
        assert!(!i.variable_frame_rate);
        assert_eq!(i.duration, Some(22.464));
        let vfr = br#"{"streams":[{"codec_type":"video","width":4,"height":4,"r_frame_rate":"60/1","avg_frame_rate":"2997/125"}],"format":{}}"#;
        assert!(parse_probe(vfr).unwrap().variable_frame_rate);
        let no_avg = br#"{"streams":[{"codec_type":"video","width":4,"height":4,"r_frame_rate":"25/1","avg_frame_rate":"0/0"}],"format":{}}"#;
        assert_eq!(parse_probe(no_avg).unwrap().frame_rate, 25.0);
    }

    #[test]
    fn progress_lines_are_told_from_messages() {
        assert!(is_progress("frame=120"));
        assert!(is_progress("out_time_us=4000000"));
        assert!(is_progress("stream_0_0_q=-0.0"));
        assert!(is_progress("progress=continue"));
        assert!(!is_progress("[h264] error while decoding MB 3 4"));
        assert!(!is_progress("Invalid data found when processing input"));
    }

    #[test]
    fn addresses_are_dropped_from_messages() {
        assert_eq!(
            without_addresses("[mov,mp4 @ 0x5593f2f48a80] moov atom not found"),
            "[mov,mp4] moov atom not found"
        );
        assert_eq!(without_addresses("plain"), "plain");
    }

    #[test]
    fn streams_without_video_or_size_or_rate_are_errors() {
        assert!(matches!(
            parse_probe(br#"{"streams":[],"format":{}}"#),
            Err(VideoError::NoVideoStream)
        ));
        assert!(matches!(
            parse_probe(br#"{"format":{}}"#),
            Err(VideoError::NoVideoStream)
        ));
        assert!(matches!(
            parse_probe(br#"{"streams":[{"codec_type":"audio"}]}"#),
            Err(VideoError::AudioOnly)
        ));
        assert!(
            parse_probe(br#"{"streams":[{"codec_type":"video","width":0,"height":4,"avg_frame_rate":"25/1"}]}"#)
                .is_err()
        );
        assert!(matches!(
            parse_probe(br#"{"streams":[{"codec_type":"video","width":4,"height":4,"avg_frame_rate":"0/0","r_frame_rate":"0/0"}]}"#),
            Err(VideoError::NoFrameRate)
        ));
    }
}
