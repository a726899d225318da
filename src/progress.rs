//! Progress of a long command on stderr: a bar on a terminal; elsewhere (Slurm, Kubernetes,
//! nohup, CI logs) a plain line at a steady pace, from a thread of its own, so that a
//! batch, a list read or a matching pass that takes minutes still shows the run is alive.
//! The only room below `cli` that prints, and only here.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Seconds between plain lines: `HASHSWEEP_PROGRESS_SECONDS` (0: after every batch), else
/// 10 (logs read well at that pace, and a scheduler's "is it stuck?" is answered within a
/// third of a minute).
fn line_every() -> Duration {
    let secs = std::env::var("HASHSWEEP_PROGRESS_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0);
    Duration::from_secs_f64(secs.unwrap_or(10.0))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bar on a terminal, lines elsewhere.
    Auto,
    Off,
}

/// A handle on one command's progress; clones count into the same totals.
#[derive(Clone)]
pub struct Progress {
    shared: Option<Arc<Shared>>,
}

struct Shared {
    command: &'static str,
    total: AtomicU64,
    done: AtomicU64,
    /// Files read and decoded, ahead of `done` while a batch is hashed and written.
    read: AtomicU64,
    errors: AtomicU64,
    bytes: AtomicU64,
    /// What the command is doing when that is not a count of files (a matching pass).
    stage: Mutex<String>,
    started: Instant,
    finished: AtomicBool,
    bar: Option<ProgressBar>,
    /// Plain lines (stderr is not a terminal), at most one per `every`.
    lines: Option<Lines>,
}

struct Lines {
    every: Duration,
    last: Mutex<Instant>,
}

impl Progress {
    /// Nothing shown, nothing counted.
    pub fn off() -> Progress {
        Progress { shared: None }
    }

    /// Start showing `command`'s progress (`scan`, `hash`, ...).
    pub fn start(command: &'static str, mode: Mode) -> Progress {
        if mode == Mode::Off {
            return Progress::off();
        }
        let terminal = std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} files  {msg}  ETA {eta}")
                    .expect("static template"),
            );
            b.enable_steady_tick(Duration::from_secs(1));
            b
        });
        let shared = Arc::new(Shared {
            command,
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            read: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            stage: Mutex::new(String::new()),
            started: Instant::now(),
            finished: AtomicBool::new(false),
            bar,
            lines: (!terminal).then(|| Lines {
                every: line_every(),
                last: Mutex::new(Instant::now()),
            }),
        });
        // Every 0 s means a line per batch, from `add` alone: no ticker.
        if shared.lines.as_ref().is_some_and(|l| !l.every.is_zero()) {
            let s = Arc::clone(&shared);
            std::thread::spawn(move || s.tick_lines());
        }
        Progress {
            shared: Some(shared),
        }
    }

    pub fn set_total(&self, files: u64) {
        if let Some(s) = &self.shared {
            s.total.store(files, Ordering::Relaxed);
            if let Some(b) = &s.bar {
                b.set_length(files);
            }
        }
    }

    /// Count finished files: how many, how many of them failed, bytes read.
    pub fn add(&self, files: u64, errors: u64, bytes: u64) {
        let Some(s) = &self.shared else { return };
        let done = s.done.fetch_add(files, Ordering::Relaxed) + files;
        s.errors.fetch_add(errors, Ordering::Relaxed);
        s.bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Some(b) = &s.bar {
            b.set_position(done);
            b.set_message(s.rates());
        }
        s.line_if_due();
    }

    /// Count files read and decoded (before they are hashed and written, a batch at a time):
    /// the lines show progress inside a batch.
    pub fn add_read(&self, files: u64) {
        if let Some(s) = &self.shared {
            s.read.fetch_add(files, Ordering::Relaxed);
        }
    }

    /// Say what the command is doing now (empty: counting files again).
    pub fn stage(&self, what: impl Into<String>) {
        let Some(s) = &self.shared else { return };
        let what = what.into();
        if let Some(b) = &s.bar {
            b.set_message(what.clone());
        }
        *s.stage.lock().unwrap_or_else(|e| e.into_inner()) = what;
    }

    /// Stop the lines and clear the bar.
    pub fn finish(&self) {
        if let Some(s) = &self.shared {
            s.finished.store(true, Ordering::Relaxed);
            if let Some(b) = &s.bar {
                b.finish_and_clear();
            }
        }
    }
}

impl Shared {
    fn rates(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let done = self.done.load(Ordering::Relaxed);
        format!(
            "{:.1} files/s  {:.1} MB/s  {} errors",
            done as f64 / secs,
            self.bytes.load(Ordering::Relaxed) as f64 / 1e6 / secs,
            self.errors.load(Ordering::Relaxed)
        )
    }

    /// One plain line: files done of the total, rates and ETA; or the stage and the time
    /// it has run.
    fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let stage = self.stage.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let (done, total, read) = (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
            self.read.load(Ordering::Relaxed),
        );
        let mut counts = match total {
            0 => format!("{done} files"),
            t => format!("{done}/{t} files"),
        };
        if read > done {
            counts += &format!(" ({read} read)");
        }
        // From whichever runs ahead: reading leads while the first batch is hashed.
        let ahead = done.max(read);
        let eta = match (ahead, total) {
            (d, t) if d > 0 && t >= d => {
                format!(", ETA {}", duration((t - d) as f64 * secs / d as f64))
            }
            _ => String::new(),
        };
        let now = match stage.is_empty() {
            true => String::new(),
            false => format!("; {stage}"),
        };
        format!(
            "hashsweep {}: {counts}, {}{eta}{now} ({} elapsed)",
            self.command,
            self.rates(),
            duration(secs)
        )
    }

    /// Print a line if the last one is `every` old: after a batch, and from the ticker
    /// while a batch, a list or a matching pass takes longer than that.
    fn line_if_due(&self) {
        let Some(l) = &self.lines else { return };
        let mut last = l.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() >= l.every && !self.finished.load(Ordering::Relaxed) {
            *last = Instant::now();
            eprintln!("{}", self.line());
        }
    }

    fn tick_lines(&self) {
        let every = self
            .lines
            .as_ref()
            .map_or(Duration::from_secs(1), |l| l.every);
        let nap = every.clamp(Duration::from_millis(1), Duration::from_millis(250));
        while !self.finished.load(Ordering::Relaxed) {
            std::thread::sleep(nap);
            self.line_if_due();
        }
    }
}

/// `42 s`, `3 min 20 s`, `2 h 05 min`.
fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // The last handle stops the ticker thread (which holds one reference itself).
        if let Some(s) = &self.shared {
            if Arc::strong_count(s) <= 2 {
                s.finished.store(true, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_files_rates_eta_and_stage() {
        let p = Progress::start("test", Mode::Off);
        assert!(p.shared.is_none());
        let s = Shared {
            command: "hash",
            total: AtomicU64::new(10),
            done: AtomicU64::new(5),
            read: AtomicU64::new(0),
            errors: AtomicU64::new(1),
            bytes: AtomicU64::new(0),
            stage: Mutex::new(String::new()),
            started: Instant::now() - Duration::from_secs(10),
            finished: AtomicBool::new(false),
            bar: None,
            lines: None,
        };
        let l = s.line();
        assert!(
            l.starts_with("hashsweep hash: 5/10 files, 0.5 files/s"),
            "{l}"
        );
        assert!(l.contains("1 errors") && l.contains("ETA 10 s"), "{l}");
        *s.stage.lock().unwrap() = "matching 3 queries".into();
        assert!(s.line().contains("; matching 3 queries (10 s elapsed)"));
        assert_eq!(duration(200.0), "3 min 20 s");
        assert_eq!(duration(7500.0), "2 h 05 min");
    }
}
