//! The per-course lock: a non-blocking `flock` on `<state>/course.lock`, held
//! for a whole release/collect/return, so a console action and a cron run
//! never interleave. The kernel drops it when the process dies (kill -9 too).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the course is busy: {holder} holds {path} (wait for it to finish, then retry)")]
    Busy { path: PathBuf, holder: String },
    #[error("cannot open the course lock {path}: {source} (check [paths] state-dir)")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Held while alive; dropping it releases the lock.
#[derive(Debug)]
pub struct CourseLock {
    _lock: Flock<File>,
    path: PathBuf,
}

impl CourseLock {
    /// Tries once, without waiting. `what` (e.g. "collect ps1") is written
    /// into the lock file so a refused caller can say who holds it.
    pub fn try_acquire(cfg: &Config, what: &str) -> Result<Self, LockError> {
        let path = super::Layout::new(cfg).lock_file();
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(io)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((mut f, Errno::EWOULDBLOCK)) => {
                let mut holder = String::new();
                let _ = f.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(LockError::Busy {
                    path,
                    holder: if holder.is_empty() {
                        "another coursectl".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err((_, e)) => return Err(io(e.into())),
        };
        let _ = lock.set_len(0);
        let _ = lock.rewind();
        let _ = write!(
            lock,
            "coursectl {what} (pid {}, since {})",
            std::process::id(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
        );
        Ok(Self { _lock: lock, path })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}
