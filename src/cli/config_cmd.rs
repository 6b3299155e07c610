//! `coursectl config check`: parse, validate, check secret files and paths.

use std::path::Path;

use clap::Subcommand;

use super::{CmdResult, Out};
use crate::config;
use crate::exit::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Validate the config and its secret files; exit 2 with file:line and the fix on error.
    Check,
    /// Print the path of the config that would be used.
    Path,
}

pub fn run(cmd: &ConfigCmd, explicit: Option<&Path>, out: Out) -> CmdResult {
    match cmd {
        ConfigCmd::Path => {
            let p = config::lookup_path(explicit)?;
            if out.json {
                out.json(&serde_json::json!({ "path": p }));
            } else {
                println!("{}", p.display());
            }
            Ok(ExitCode::Ok)
        }
        ConfigCmd::Check => {
            let cfg = config::load(explicit)?;
            let problems = crate::supervisor::preflight(&cfg);
            let path = cfg.source.clone().unwrap_or_default();
            if out.json {
                out.json(&serde_json::json!({
                    "ok": problems.is_empty(),
                    "path": path,
                    "problems": problems,
                }));
            }
            if !problems.is_empty() {
                if !out.json {
                    for p in &problems {
                        eprintln!("coursectl: error: {p}");
                    }
                }
                return Ok(ExitCode::Usage);
            }
            if !out.json {
                println!("{}: ok", path.display());
            }
            Ok(ExitCode::Ok)
        }
    }
}
