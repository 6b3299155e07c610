//! Where things live: the course dir (nbgrader's layout plus `collected/`)
//! and coursectl's state for assignments. Names passed here are checked.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::config::Config;

#[derive(Debug, Clone)]
pub struct Layout {
    pub course: PathBuf,
    pub state: PathBuf,
    pub home_template: String,
}

impl Layout {
    pub fn new(cfg: &Config) -> Self {
        Self {
            course: cfg.paths.course_dir.clone(),
            state: cfg.state_dir(),
            home_template: cfg.paths.home.clone(),
        }
    }
    pub fn release_dir(&self, a: &str) -> PathBuf {
        self.course.join("release").join(a)
    }
    pub fn collected_dir(&self, s: &str, a: &str) -> PathBuf {
        self.course.join("collected").join(s).join(a)
    }
    pub fn submitted_parent(&self, s: &str) -> PathBuf {
        self.course.join("submitted").join(s)
    }
    pub fn submitted(&self, s: &str, a: &str) -> PathBuf {
        self.submitted_parent(s).join(a)
    }
    /// What the `submitted/<s>/<a>` symlink holds for a version (relative, so
    /// the course dir can move).
    pub fn submitted_target(s: &str, a: &str, version: &str) -> PathBuf {
        PathBuf::from("../../collected")
            .join(s)
            .join(a)
            .join(version)
    }
    pub fn feedback_dir(&self, s: &str, a: &str) -> PathBuf {
        self.course.join("feedback").join(s).join(a)
    }
    pub fn assignment_state(&self, a: &str) -> PathBuf {
        self.state.join("assignments").join(a)
    }
    pub fn manifest(&self, a: &str, s: &str) -> PathBuf {
        self.assignment_state(a)
            .join("release")
            .join(format!("{s}.json"))
    }
    pub fn release_record(&self, a: &str) -> PathBuf {
        self.assignment_state(a).join("released.json")
    }
    pub fn audit_log(&self) -> PathBuf {
        self.state.join("audit.jsonl")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.state.join("course.lock")
    }
}

/// A version directory name: sortable, filesystem-safe, microseconds.
pub fn version_name(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H-%M-%S%.6fZ").to_string()
}

/// nbgrader's timestamp.txt format.
pub fn nbgrader_timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps() {
        let t =
            Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap() + chrono::Duration::microseconds(89);
        assert_eq!(version_name(t), "2026-03-04T05-06-07.000089Z");
        assert_eq!(nbgrader_timestamp(t), "2026-03-04 05:06:07.000089 UTC");
    }
}
