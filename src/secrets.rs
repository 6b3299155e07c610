//! Secrets (hub API token, proxy token, backup password) live in files of
//! mode 0600 owned by the running user, like ssh keys. The value type never
//! prints its content, so it cannot leak through logs, `--json` or errors.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;

/// A secret value. `Debug`/`Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The raw value, for the one place that must send it (a header, an env var).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{what} file {path} is missing: create it with the secret on one line and run `chmod 600 {path}` (or leave the key unset to let coursectl generate one)")]
    Missing { what: String, path: PathBuf },
    #[error("{what} file {path} has mode {mode:04o}, readable by others: run `chmod 600 {path}`")]
    BadMode {
        what: String,
        path: PathBuf,
        mode: u32,
    },
    #[error("{what} file {path} is owned by uid {owner}, not by you (uid {me}): run `chown {me} {path}`")]
    BadOwner {
        what: String,
        path: PathBuf,
        owner: u32,
        me: u32,
    },
    #[error("{what} file {path} is empty: put the secret on its first line")]
    Empty { what: String, path: PathBuf },
    #[error("{what} file {path}: {source}")]
    Io {
        what: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Checks mode and owner the way ssh does, then reads the first line.
pub fn read_secret(path: &Path, what: &str) -> Result<Secret, SecretError> {
    let io = |source| SecretError::Io {
        what: what.into(),
        path: path.into(),
        source,
    };
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SecretError::Missing {
                what: what.into(),
                path: path.into(),
            })
        }
        Err(e) => return Err(io(e)),
    };
    check_meta(path, what, &meta)?;
    let text = fs::read_to_string(path).map_err(io)?;
    let value = text.lines().next().unwrap_or("").trim().to_string();
    if value.is_empty() {
        return Err(SecretError::Empty {
            what: what.into(),
            path: path.into(),
        });
    }
    Ok(Secret(value))
}

/// Checks only mode and owner (for `config check` and before starting anything).
pub fn check_secret_file(path: &Path, what: &str) -> Result<(), SecretError> {
    read_secret(path, what).map(|_| ())
}

fn check_meta(path: &Path, what: &str, meta: &fs::Metadata) -> Result<(), SecretError> {
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(SecretError::BadOwner {
            what: what.into(),
            path: path.into(),
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SecretError::BadMode {
            what: what.into(),
            path: path.into(),
            mode,
        });
    }
    Ok(())
}

/// Reads the secret, generating a fresh random one (mode 0600) if the file does not exist.
pub fn ensure_secret(path: &Path, what: &str) -> Result<Secret, SecretError> {
    if !path.exists() {
        let io = |source| SecretError::Io {
            what: what.into(),
            path: path.into(),
            source,
        };
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io)?;
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let value: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        // create_new: never clobber a token another coursectl just wrote.
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(mut f) => {
                f.write_all(value.as_bytes()).map_err(io)?;
                f.write_all(b"\n").map_err(io)?;
                f.sync_all().map_err(io)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
    }
    read_secret(path, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s/token");
        let a = ensure_secret(&p, "test token").unwrap();
        let b = ensure_secret(&p, "test token").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.expose().len(), 64);
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(format!("{a} {a:?}"), "<redacted> Secret(<redacted>)");
    }

    #[test]
    fn world_readable_secret_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        fs::write(&p, "abc\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_secret(&p, "hub token").unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        assert!(!e.contains("abc"), "{e}");
    }

    #[test]
    fn missing_secret_names_the_path() {
        let e = read_secret(Path::new("/nonexistent/tok"), "proxy token")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent/tok") && e.contains("missing"),
            "{e}"
        );
    }
}
