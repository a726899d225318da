use clap::Parser;

/// Frames are megabyte buffers made and dropped thousands of times a second; the system
/// allocator returns each to the kernel and faults it back in (about 850 page faults per
/// 480x720 video frame), mimalloc keeps and reuses them.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    quiet_window_system();
    let cli = hashsweep::cli::Cli::parse();
    let code = match hashsweep::cli::run(cli) {
        Ok(code) => code,
        Err(e) if hashsweep::cli::is_broken_pipe(&e) => hashsweep::cli::EXIT_BROKEN_PIPE,
        Err(e) => {
            eprintln!("hashsweep: {e:#}");
            hashsweep::cli::EXIT_FATAL
        }
    };
    std::process::exit(code);
}

/// Vulkan drivers probe the Wayland window system when the instance is created, and
/// libwayland prints "XDG_RUNTIME_DIR is invalid or not set" to stderr on every run where
/// it is missing (batch jobs, containers, sudo). We never open a window: point it at a
/// private empty folder so that stderr carries only our own messages.
#[cfg(unix)]
fn quiet_window_system() {
    let valid =
        std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_dir());
    if valid {
        return;
    }
    // One per user, kept between runs; libwayland only looks for a socket in it.
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let dir = std::env::temp_dir().join(format!("hashsweep-runtime-{uid}"));
    let made = {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).create(&dir)
    };
    if made.is_ok() || dir.is_dir() {
        // SAFETY: first thing in main, before any other thread exists.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
}

#[cfg(not(unix))]
fn quiet_window_system() {}
