use clap::Parser;

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
