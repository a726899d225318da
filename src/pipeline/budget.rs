//! The memory budget of the images in flight: every file's bytes and decoded pixels are
//! reserved against one shared limit before they are read, and given back when the frame
//! has been hashed. A file larger than the whole budget waits until nothing else is held
//! and is then read alone.

use std::sync::{Arc, Condvar, Mutex};

/// Bytes of image data (file contents, decoded pixels, hashing scratch) the pipeline may
/// hold at once.
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    held: Mutex<Held>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct Held {
    bytes: u64,
    peak: u64,
}

impl Budget {
    pub fn new(limit: u64) -> Arc<Budget> {
        Arc::new(Budget {
            limit: limit.max(1),
            held: Mutex::new(Held::default()),
            freed: Condvar::new(),
        })
    }

    /// No limit: for callers that bound memory some other way.
    pub fn unlimited() -> Arc<Budget> {
        Budget::new(u64::MAX)
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The most held at once so far.
    pub fn peak(&self) -> u64 {
        self.lock().peak
    }

    /// Waits until `bytes` fit beside what is held, or until nothing is held (a request over
    /// the whole limit is then served alone). Only safe when what is held will be given
    /// back without this caller's help: see `try_reserve`.
    pub fn reserve(self: &Arc<Budget>, bytes: u64) -> Reservation {
        let mut held = self.lock();
        while held.bytes > 0 && held.bytes.saturating_add(bytes) > self.limit {
            held = self.freed.wait(held).unwrap_or_else(|p| p.into_inner());
        }
        self.take(&mut held, bytes)
    }

    /// `bytes` if they fit now; never waits.
    pub fn try_reserve(self: &Arc<Budget>, bytes: u64) -> Option<Reservation> {
        let mut held = self.lock();
        let fits = held.bytes == 0 || held.bytes.saturating_add(bytes) <= self.limit;
        fits.then(|| self.take(&mut held, bytes))
    }

    fn take(self: &Arc<Budget>, held: &mut Held, bytes: u64) -> Reservation {
        held.bytes = held.bytes.saturating_add(bytes);
        held.peak = held.peak.max(held.bytes);
        Reservation {
            budget: Some(Arc::clone(self)),
            bytes,
        }
    }

    fn give_back(&self, bytes: u64) {
        let mut held = self.lock();
        held.bytes = held.bytes.saturating_sub(bytes);
        drop(held);
        self.freed.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        // The counter stays consistent even if a holder panicked: it is one integer.
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Bytes held against a budget until dropped.
#[derive(Debug, Default)]
pub struct Reservation {
    budget: Option<Arc<Budget>>,
    bytes: u64,
}

impl Reservation {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Hold exactly `bytes` from now on: less once decoding's scratch is gone, or more when
    /// decoding found more than the header said (every frame of an animation). Growing
    /// never waits: the memory is already taken, and later rounds wait for it instead.
    pub fn resize_to(&mut self, bytes: u64) {
        let Some(b) = &self.budget else {
            return;
        };
        if bytes < self.bytes {
            b.give_back(self.bytes - bytes);
        } else {
            let mut held = b.lock();
            held.bytes = held.bytes.saturating_add(bytes - self.bytes);
            held.peak = held.peak.max(held.bytes);
        }
        self.bytes = bytes;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(b) = self.budget.take() {
            b.give_back(self.bytes);
        }
    }
}

/// The default budget: half of the memory this process may use (the machine's, or a lower
/// cgroup limit as Slurm and Kubernetes set), leaving the rest to the page cache, the
/// reference sets' mapped pages and other jobs.
pub fn default_limit() -> u64 {
    let machine = meminfo_total().unwrap_or(8 << 30);
    let cgroup = cgroup_limit().unwrap_or(u64::MAX);
    machine.min(cgroup) / 2
}

fn meminfo_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn cgroup_limit() -> Option<u64> {
    [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse().ok())
}

/// `4G`, `512M`, `1.5GiB`, `2000000000`: a byte count for `--max-memory`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 4G, 512M)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => return Err(format!("unknown size unit {other:?} in {s:?}")),
    };
    let bytes = n * scale as f64;
    // NaN cannot come from the digits parsed above; anything under 64 MiB is refused.
    if bytes.is_nan() || bytes < (64 << 20) as f64 {
        return Err(format!("{s:?} is below the smallest budget, 64M"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_waits_until_it_fits_and_an_oversized_one_runs_alone() {
        let b = Budget::new(100);
        let first = b.reserve(60);
        assert!(b.try_reserve(50).is_none());
        let second = b.try_reserve(40).expect("fits beside the first");
        drop(first);
        // Over the whole limit: refused while anything is held, granted alone.
        assert!(b.try_reserve(500).is_none());
        drop(second);
        let alone = b.reserve(500);
        assert_eq!(b.peak(), 500);
        let waiter = {
            let b = Arc::clone(&b);
            std::thread::spawn(move || b.reserve(10).bytes())
        };
        drop(alone);
        assert_eq!(waiter.join().unwrap(), 10);
    }

    #[test]
    fn resizing_gives_back_or_takes_the_difference() {
        let b = Budget::new(100);
        let mut r = b.reserve(90);
        r.resize_to(30);
        assert!(b.try_reserve(70).is_some());
        r.resize_to(200);
        assert_eq!(b.peak(), 200, "grown past the limit: later requests wait");
        assert!(b.try_reserve(1).is_none());
    }

    #[test]
    fn sizes_parse_with_units_and_refuse_nonsense() {
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("3 parsecs").is_err());
    }
}
