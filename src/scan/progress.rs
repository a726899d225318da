//! Progress of a scan on stderr: a bar on a terminal (files, MB/s, images/s, errors, ETA),
//! a plain line every few seconds otherwise (logs, batch jobs), nothing with `--quiet`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Seconds between plain progress lines; `HASHSWEEP_PROGRESS_SECONDS` overrides.
fn line_every() -> Duration {
    let secs = std::env::var("HASHSWEEP_PROGRESS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok());
    Duration::from_secs_f64(secs.unwrap_or(10.0))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bar on a terminal, lines elsewhere.
    Auto,
    Off,
}

pub struct Progress {
    bar: Option<ProgressBar>,
    lines: bool,
    total: u64,
    done: u64,
    images: u64,
    errors: u64,
    bytes: u64,
    started: Instant,
    last_line: Instant,
    every: Duration,
}

impl Progress {
    pub fn new(mode: Mode, total: u64) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = (mode == Mode::Auto && terminal).then(|| {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} files  {msg}  ETA {eta}")
                    .expect("static template"),
            );
            b
        });
        Progress {
            bar,
            lines: mode == Mode::Auto && !terminal,
            total,
            done: 0,
            images: 0,
            errors: 0,
            bytes: 0,
            started: Instant::now(),
            last_line: Instant::now(),
            every: line_every(),
        }
    }

    /// Count one finished batch.
    pub fn add(&mut self, files: u64, images: u64, errors: u64, bytes: u64) {
        self.done += files;
        self.images += images;
        self.errors += errors;
        self.bytes += bytes;
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let msg = format!(
            "{:.1} MB/s  {:.1} images/s  {} errors",
            self.bytes as f64 / 1e6 / secs,
            self.images as f64 / secs,
            self.errors
        );
        if let Some(b) = &self.bar {
            b.set_position(self.done);
            b.set_message(msg);
        } else if self.lines && self.last_line.elapsed() >= self.every {
            self.last_line = Instant::now();
            let eta =
                (self.total.saturating_sub(self.done)) as f64 * secs / self.done.max(1) as f64;
            eprintln!(
                "hashsweep scan: {}/{} files  {msg}  ETA {:.0} s",
                self.done, self.total, eta
            );
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
