//! SIGINT and SIGTERM during a scan: the first asks the run to stop taking files (those in
//! flight are finished and recorded, so `--resume` picks up exactly where it stopped); a
//! second one ends the process at once, as an impatient user expects.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};

/// One flag per signal, to say which arrived; both also set the run's stop flag.
static GOT_INT: AtomicBool = AtomicBool::new(false);
static GOT_TERM: AtomicBool = AtomicBool::new(false);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Int,
    Term,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        }
    }

    /// What shells expect of a process a signal ended: 128 + its number.
    pub fn exit_code(self) -> i32 {
        128 + match self {
            Signal::Int => SIGINT,
            Signal::Term => SIGTERM,
        }
    }
}

/// Install the handlers; the returned flag is set by the first SIGINT or SIGTERM, which is
/// answered on stderr at once (finishing what is in flight can take a while, and a user
/// who sees nothing presses again). If they cannot be installed, the default (immediate
/// end) stays and a resume still repairs the output.
pub fn stop_on_interrupt(command: &'static str) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    for (sig, code) in [(SIGINT, 130), (SIGTERM, 143)] {
        // Order matters: the shutdown check runs before the flag is set, so only a second
        // signal finds it set and exits.
        let _ = signal_hook::flag::register_conditional_shutdown(sig, code, Arc::clone(&stop));
        let _ = signal_hook::flag::register(sig, Arc::clone(&stop));
    }
    // SAFETY: each action is one atomic store, which is async-signal-safe.
    unsafe {
        let _ = signal_hook::low_level::register(SIGINT, || GOT_INT.store(true, Ordering::SeqCst));
        let _ =
            signal_hook::low_level::register(SIGTERM, || GOT_TERM.store(true, Ordering::SeqCst));
    }
    let watched = Arc::clone(&stop);
    std::thread::spawn(move || {
        while !watched.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        announce(command);
    });
    stop
}

static ANNOUNCED: AtomicBool = AtomicBool::new(false);

/// Say once that the command is stopping: from the watcher as soon as a signal comes, or
/// by the command itself if it ends before the watcher looked.
pub fn announce(command: &str) {
    if !ANNOUNCED.swap(true, Ordering::SeqCst) {
        eprintln!(
            "hashsweep {command}: stopping after the files in flight are recorded (signal again to stop at once)"
        );
    }
}

/// The signal that stopped the run, if one did.
pub fn received() -> Option<Signal> {
    if GOT_INT.load(Ordering::SeqCst) {
        Some(Signal::Int)
    } else if GOT_TERM.load(Ordering::SeqCst) {
        Some(Signal::Term)
    } else {
        None
    }
}
