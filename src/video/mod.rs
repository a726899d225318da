//! vPDQ (../shared/spec/vpdq.md): PDQ hashes of the frames sampled every
//! `seconds_per_hash`, in the reference's text form. Frames come from FFmpeg
//! ([`ffmpeg`]) and are hashed by the same [`Engine`] batches as images.

pub mod ffmpeg;

use std::path::Path;
use std::time::Duration;

use thiserror::Error;

use crate::engine::{Algorithms, Engine};
use crate::frame::Frame;
use crate::hash::{Pdq256, PdqHashes};

#[derive(Debug, Error)]
pub enum VideoError {
    #[error("{0} not found: videos need FFmpeg (Debian/Ubuntu: apt install ffmpeg)")]
    NoFfmpeg(String),
    #[error("not a readable video: {0}")]
    Unreadable(String),
    #[error("no video stream")]
    NoVideoStream,
    /// A container of sound only (music, voice memos): nothing a video hash can describe,
    /// so scans skip it rather than count it as a failure.
    #[error("audio only: no video stream")]
    AudioOnly,
    #[error("the video stream gives no frame rate")]
    NoFrameRate,
    #[error("video frames of {width}x{height} are over {max} pixels (--max-pixels): not decoded")]
    TooLarge { width: u32, height: u32, max: u64 },
    #[error("no answer from FFmpeg for {0:.0} s (--video-timeout): stopped")]
    Timeout(f64),
    #[error("no frame could be decoded{0}")]
    NoFrames(String),
    #[error("{0}")]
    Io(String),
    #[error("{path}:{line}: {reason}")]
    Malformed {
        path: String,
        line: usize,
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub struct VideoOptions {
    /// Seconds between hashed frames (`seconds_per_hash`); 0 hashes every frame.
    pub interval: f64,
    /// FFmpeg is stopped when it delivers no frame for this long (a hang, not a long video).
    pub stall_timeout: Duration,
    /// FFmpeg's decoding threads; 0 lets FFmpeg choose.
    pub threads: usize,
    pub max_pixels: u64,
}

impl Default for VideoOptions {
    fn default() -> VideoOptions {
        VideoOptions {
            interval: 1.0,
            stall_timeout: Duration::from_secs(300),
            threads: 0,
            max_pixels: crate::decode::DEFAULT_MAX_PIXELS,
        }
    }
}

/// What the container says about the video stream.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    /// FFmpeg's name of the decoded pixel format (`yuv420p`, `yuvj420p`, ...).
    pub pixel_format: String,
    pub frame_rate: f64,
    /// Frames are not evenly spaced: timestamps, which vPDQ derives from the frame number
    /// and the average rate, are then approximate.
    pub variable_frame_rate: bool,
    pub duration: Option<f64>,
    pub codec: String,
    pub container: String,
}

/// Every `frame_mod`-th frame is hashed: `(int)(seconds_per_hash * frame_rate)`, at least 1.
pub fn frame_mod(interval: f64, frame_rate: f64) -> u64 {
    ((interval * frame_rate) as u64).max(1)
}

/// One hashed frame: a line of the vPDQ text form.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Feature {
    pub frame: u64,
    pub quality: u8,
    pub hash: Pdq256,
    /// Seconds: frame number over frame rate (computed in f32, as the reference does).
    pub timestamp: f64,
}

impl Feature {
    pub fn new(frame: u64, frame_rate: f64, h: &PdqHashes) -> Feature {
        Feature {
            frame,
            quality: h.quality.0,
            hash: h.original(),
            // The reference divides in single precision; in double, 29.97 fps clips print
            // a different third decimal at some frames.
            timestamp: (frame as f32 / frame_rate as f32) as f64,
        }
    }

    /// `frame_number,quality,pdq_hex,timestamp`, the timestamp with 3 decimals.
    pub fn line(&self) -> String {
        format!(
            "{},{},{},{:.3}",
            self.frame, self.quality, self.hash, self.timestamp
        )
    }
}

pub fn to_text(features: &[Feature]) -> String {
    features.iter().map(|f| f.line() + "\n").collect()
}

/// Read a vPDQ text file (ours or another tool's).
pub fn read_text(path: &Path) -> Result<Vec<Feature>, VideoError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| VideoError::Io(format!("{}: {e}", path.display())))?;
    let malformed = |line: usize, reason: &str| VideoError::Malformed {
        path: path.display().to_string(),
        line,
        reason: reason.to_string(),
    };
    let mut out = vec![];
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let c: Vec<&str> = l.split(',').map(str::trim).collect();
        let [frame, quality, hash, ts] = c[..] else {
            return Err(malformed(i + 1, "expected frame,quality,hash,timestamp"));
        };
        out.push(Feature {
            frame: frame
                .parse()
                .map_err(|_| malformed(i + 1, "bad frame number"))?,
            quality: quality
                .parse()
                .map_err(|_| malformed(i + 1, "bad quality"))?,
            hash: hash.parse().map_err(|_| malformed(i + 1, "bad PDQ hash"))?,
            timestamp: ts.parse().map_err(|_| malformed(i + 1, "bad timestamp"))?,
        });
    }
    Ok(out)
}

/// Probe a video, refusing frames too large to hold.
pub fn probe(path: &Path, opts: &VideoOptions) -> Result<VideoInfo, VideoError> {
    let info = ffmpeg::probe(path, opts)?;
    if info.width as u64 * info.height as u64 > opts.max_pixels {
        return Err(VideoError::TooLarge {
            width: info.width,
            height: info.height,
            max: opts.max_pixels,
        });
    }
    Ok(info)
}

/// Start decoding the frames vPDQ samples from a probed video.
pub fn start(
    path: &Path,
    info: &VideoInfo,
    opts: &VideoOptions,
) -> Result<ffmpeg::FrameReader, VideoError> {
    let m = frame_mod(opts.interval, info.frame_rate);
    ffmpeg::FrameReader::start(path, info, m, opts)
}

/// A whole video's hash, with what went wrong on the way.
#[derive(Debug, Clone)]
pub struct VideoHash {
    pub info: VideoInfo,
    pub features: Vec<Feature>,
    /// Each feature's frame in all 8 dihedral variants, for matching frames against
    /// image sets in any orientation.
    pub variants: Vec<PdqHashes>,
    pub warnings: Vec<String>,
}

/// Decoded pixels hashed at once while hashing one video: small enough that decoding the
/// next chunk overlaps hashing this one, large enough for full GPU batches.
const CHUNK_PIXELS: usize = 16 << 20;

/// Hash one video on `engine`, frames in chunks of bounded memory, FFmpeg's output read on
/// a second thread so decoding overlaps hashing. Used where one video is wanted on its own
/// (`match`, `bench video`); `scan` interleaves many videos and images instead.
pub fn hash_video(
    path: &Path,
    engine: &Engine,
    opts: &VideoOptions,
) -> Result<VideoHash, VideoError> {
    let info = probe(path, opts)?;
    let mut reader = start(path, &info, opts)?;
    let pdq_only = Algorithms {
        pdq: true,
        phash: false,
    };
    let (mut features, mut variants) = (vec![], vec![]);
    let (tx, rx) = std::sync::mpsc::sync_channel::<(u64, Frame)>(8);
    let end = std::thread::scope(|scope| {
        let decoding = scope.spawn(move || {
            while let Some(f) = reader.next_frame() {
                if tx.send(f).is_err() {
                    break;
                }
            }
            reader.finish()
        });
        let mut chunk: Vec<(u64, Frame)> = vec![];
        let mut frames = rx.iter();
        loop {
            let next = frames.next();
            let held: usize = chunk.iter().map(|(_, f)| f.pixels()).sum();
            if next.is_none() || held >= CHUNK_PIXELS {
                let refs: Vec<&Frame> = chunk.iter().map(|(_, f)| f).collect();
                let hashes = engine.hash(&refs, pdq_only);
                for ((n, _), h) in chunk.iter().zip(hashes) {
                    let p = h.pdq.expect("PDQ was asked for");
                    features.push(Feature::new(*n, info.frame_rate, &p));
                    variants.push(p);
                }
                chunk.clear();
            }
            match next {
                Some(f) => chunk.push(f),
                None => break,
            }
        }
        decoding.join().expect("the decoding thread does not panic")
    });
    let warnings = ending_warnings(end, &info, features.len())?;
    Ok(VideoHash {
        info,
        features,
        variants,
        warnings,
    })
}

/// Frames FFmpeg delivers for one video, without hashing: the decoding share of a
/// benchmark. Returns the number of sampled frames.
pub fn decode_only(path: &Path, opts: &VideoOptions) -> Result<usize, VideoError> {
    let info = probe(path, opts)?;
    let mut reader = start(path, &info, opts)?;
    let mut n = 0;
    while reader.next_frame().is_some() {
        n += 1;
    }
    ending_warnings(reader.finish(), &info, n)?;
    Ok(n)
}

/// What a finished decode has to say: an error when it gave no frame at all, otherwise
/// the warnings a best-effort result carries.
pub fn ending_warnings(
    end: ffmpeg::Ending,
    info: &VideoInfo,
    frames: usize,
) -> Result<Vec<String>, VideoError> {
    let mut warnings = end.warnings;
    if frames == 0 {
        let why = warnings
            .first()
            .map_or(String::new(), |w| format!(" ({w})"));
        return Err(VideoError::NoFrames(why));
    }
    if info.variable_frame_rate {
        warnings.push(VARIABLE_RATE_WARNING.to_string());
    }
    Ok(warnings)
}

pub const VARIABLE_RATE_WARNING: &str =
    "variable frame rate: timestamps are frame number / average rate, as vPDQ defines them";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_mod_truncates_like_the_reference_and_is_at_least_one() {
        assert_eq!(frame_mod(1.0, 30.0), 30);
        assert_eq!(frame_mod(1.0, 29.97), 29);
        assert_eq!(frame_mod(0.0, 30.0), 1);
        assert_eq!(frame_mod(1.0, 0.5), 1);
        assert_eq!(frame_mod(2.5, 24.0), 60);
    }

    #[test]
    fn text_lines_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let h: Pdq256 = "b4ad26b96d18d2491a79f80f07f2c9936fe6083dfb6983d8a4a36db40034df54"
            .parse()
            .unwrap();
        let f = Feature {
            frame: 30,
            quality: 100,
            hash: h,
            timestamp: 30.0 / 29.97,
        };
        assert_eq!(
            f.line(),
            "30,100,b4ad26b96d18d2491a79f80f07f2c9936fe6083dfb6983d8a4a36db40034df54,1.001"
        );
        let p = dir.join("a.vpdq.txt");
        std::fs::write(&p, to_text(&[f, f])).unwrap();
        let back = read_text(&p).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!((back[0].frame, back[0].hash), (30, h));
        std::fs::write(&p, "30,100,zz,1.0\n").unwrap();
        assert!(read_text(&p).unwrap_err().to_string().contains(":1:"));
    }
}
