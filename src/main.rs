//! Entry point: parse arguments, run a headless command or the console, map
//! errors to the documented exit codes.

fn main() -> std::process::ExitCode {
    // `coursectl audit | head` must end quietly like any Unix tool, not panic
    // on a closed pipe: restore the default SIGPIPE action Rust turns off.
    // SAFETY: called first thing, before any thread exists.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        );
    }
    coursectl::cli::main().into()
}
