use clap::Parser;

/// Frames are megabyte buffers made and dropped thousands of times a second; the system
/// allocator returns each to the kernel and faults it back in (about 850 page faults per
/// 480x720 video frame), mimalloc keeps and reuses them.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = hashsweep::cli::Cli::parse();
    let code = match hashsweep::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hashsweep: {e:#}");
            hashsweep::cli::EXIT_FATAL
        }
    };
    std::process::exit(code);
}
