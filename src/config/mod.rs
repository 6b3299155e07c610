//! The TOML configuration: where it is looked up, its types, and errors that
//! name the file, line and key with the expected form (`deny_unknown_fields`
//! everywhere: a typo is an error, not a silently ignored key).

mod types;

pub use types::*;

use std::path::{Path, PathBuf};

/// Environment variable naming the config file (second in the lookup order).
pub const ENV_CONFIG: &str = "COURSECTL_CONFIG";
/// System-wide config, last in the lookup order.
pub const SYSTEM_CONFIG: &str = "/etc/coursectl/config.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no configuration found: looked at {looked}.\n  fix: copy config.example.toml to one of them, or pass --config PATH")]
    NotFound { looked: String },
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}\n  {snippet}\n  fix: {fix}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        snippet: String,
        fix: String,
    },
    #[error("{path}:{line}: [{section}] {key}: {message}\n  fix: {fix}")]
    Invalid {
        path: PathBuf,
        line: usize,
        section: String,
        key: String,
        message: String,
        fix: String,
    },
}

/// Where the config came from, for messages and `config check`.
pub fn lookup_path(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os(ENV_CONFIG).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let mut looked = vec![format!("--config, ${ENV_CONFIG}")];
    if let Some(dirs) = directories::ProjectDirs::from("", "", "coursectl") {
        let p = dirs.config_dir().join("config.toml");
        if p.exists() {
            return Ok(p);
        }
        looked.push(p.display().to_string());
    }
    let sys = PathBuf::from(SYSTEM_CONFIG);
    if sys.exists() {
        return Ok(sys);
    }
    looked.push(SYSTEM_CONFIG.into());
    Err(ConfigError::NotFound {
        looked: looked.join(", "),
    })
}

/// Finds, reads, parses and validates the config.
pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    let path = lookup_path(explicit)?;
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    parse(&text, &path)
}

/// Parses and validates config text; `path` is only used in messages.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut cfg: Config = toml::from_str(text).map_err(|e| parse_error(text, path, &e))?;
    cfg.source = Some(path.to_path_buf());
    let base = path.parent().unwrap_or(Path::new("."));
    cfg.resolve_relative(base);
    cfg.validate().map_err(|v| ConfigError::Invalid {
        path: path.to_path_buf(),
        line: locate_key(text, &v.section, &v.key).unwrap_or(1),
        section: v.section,
        key: v.key,
        message: v.message,
        fix: v.fix,
    })?;
    Ok(cfg)
}

fn parse_error(text: &str, path: &Path, e: &toml::de::Error) -> ConfigError {
    let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
    let snippet = text
        .lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .trim()
        .to_string();
    let mut message = e.message().trim().to_string();
    // Name the key too: "[proxy] public-port: invalid type ...".
    if let Some((key, _)) = snippet.split_once('=') {
        let key = key.trim();
        if !key.is_empty() && !key.starts_with('[') && !message.contains(&format!("`{key}`")) {
            let section = section_at(text, line);
            message = if section.is_empty() {
                format!("{key}: {message}")
            } else {
                format!("[{section}] {key}: {message}")
            };
        }
    }
    let fix = if message.starts_with("unknown field") {
        "remove or rename the key; config.example.toml lists every key with its default".into()
    } else if message.starts_with("invalid type") || message.contains("expected") {
        "give the value in the form named above (see config.example.toml)".into()
    } else if message.contains("duration") || message.contains("time unit") {
        "durations are written like \"30s\", \"45m\", \"2h\"".into()
    } else {
        "check the TOML syntax at that place".into()
    };
    ConfigError::Parse {
        path: path.to_path_buf(),
        line,
        column,
        message,
        snippet,
        fix,
    }
}

/// The `[section]` header in force at 1-based `line`.
fn section_at(text: &str, line: usize) -> String {
    text.lines()
        .take(line)
        .filter_map(|l| {
            let l = l.trim();
            (l.starts_with('[') && l.ends_with(']'))
                .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
        })
        .last()
        .unwrap_or_default()
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The 1-based line of `key` inside `[section]` (or the section header, or 1).
pub(crate) fn locate_key(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut in_section = section.is_empty();
    let mut section_line = None;
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.starts_with('[') {
            let name = l.trim_matches(|c| c == '[' || c == ']').trim();
            in_section = name == section;
            if in_section && section_line.is_none() {
                section_line = Some(i + 1);
            }
            continue;
        }
        if in_section {
            if let Some((k, _)) = l.split_once('=') {
                if k.trim() == key {
                    return Some(i + 1);
                }
            }
        }
    }
    section_line
}

#[cfg(test)]
mod tests;
