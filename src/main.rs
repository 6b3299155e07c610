//! Entry point: parse arguments, run a headless command or the console, map
//! errors to the documented exit codes.

fn main() -> std::process::ExitCode {
    coursectl::cli::main().into()
}
