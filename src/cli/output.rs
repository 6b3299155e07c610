//! How a headless command reports: plain text (colour only on a terminal and
//! without NO_COLOR) or `--json`; failures carry an exit code.

use std::io::IsTerminal;

use serde::Serialize;

use crate::exit::ExitCode;

#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub json: bool,
    pub color: bool,
}

impl Out {
    pub fn new(json: bool) -> Self {
        let color = !json
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Self { json, color }
    }

    pub fn json<T: Serialize>(&self, value: &T) {
        match serde_json::to_string_pretty(value) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("coursectl: cannot encode JSON: {e}"),
        }
    }

    /// `word` in green/red/yellow on a terminal; the word itself always carries the state.
    pub fn state(&self, word: &str, good: Option<bool>) -> String {
        if !self.color {
            return word.to_string();
        }
        let code = match good {
            Some(true) => "32",
            Some(false) => "31",
            None => "33",
        };
        format!("\x1b[{code}m{word}\x1b[0m")
    }
}

/// A command's failure: the message (never a secret) and its exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: ExitCode,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn new(code: ExitCode, error: impl Into<anyhow::Error>) -> Self {
        Self {
            code,
            error: error.into(),
        }
    }
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self::new(ExitCode::Usage, error)
    }
    pub fn failed(error: impl Into<anyhow::Error>) -> Self {
        Self::new(ExitCode::Failed, error)
    }
}

impl From<crate::config::ConfigError> for Failure {
    fn from(e: crate::config::ConfigError) -> Self {
        Failure::usage(e)
    }
}

impl From<crate::secrets::SecretError> for Failure {
    fn from(e: crate::secrets::SecretError) -> Self {
        Failure::usage(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::failed(e)
    }
}

pub type CmdResult = Result<ExitCode, Failure>;
