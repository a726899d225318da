//! Video options shared by `scan` and `match`.

use std::time::Duration;

use clap::Args;

use crate::matching::video::VpdqParams;
use crate::video::VideoOptions;

#[derive(Args, Debug, Clone)]
pub struct VideoArgs {
    /// Seconds between hashed video frames (vPDQ's seconds_per_hash); 0 hashes every frame.
    #[arg(long, default_value_t = 1.0, value_parser = non_negative)]
    pub video_interval: f64,
    /// Stop FFmpeg when it delivers no frame for this many seconds (a hung decode; the
    /// frames before it are kept, with a warning).
    #[arg(long, default_value_t = 300)]
    pub video_timeout: u64,
    /// Video-to-video matches: least share, in percent, of the query video's distinct
    /// hashes found in the compared video (vPDQ's Pq).
    #[arg(long, default_value_t = 80.0, value_parser = non_negative)]
    pub query_match_pct: f64,
    /// Least share of the compared video's distinct hashes found in the query (Pc).
    #[arg(long, default_value_t = 0.0, value_parser = non_negative)]
    pub compared_match_pct: f64,
}

fn non_negative(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("{s:?} is not a number >= 0")),
    }
}

impl VideoArgs {
    pub fn options(&self, max_pixels: u64) -> VideoOptions {
        VideoOptions {
            interval: self.video_interval,
            stall_timeout: Duration::from_secs(self.video_timeout.max(1)),
            threads: rayon::current_num_threads(),
            max_pixels,
        }
    }

    /// The vPDQ rule's parameters; D and F are the matcher's distance and quality floor.
    pub fn params(&self, distance: u32, min_quality: u8) -> VpdqParams {
        VpdqParams {
            distance,
            min_quality,
            query_pct: self.query_match_pct,
            compared_pct: self.compared_match_pct,
        }
    }
}
