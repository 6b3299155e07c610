//! Read-only status for the console's assignments panel: one row per
//! assignment, and a student matrix for one assignment. No locks taken:
//! every record it reads is replaced atomically by the engines.

use std::ffi::OsStr;
use std::os::fd::AsFd;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;

use super::collect::{current_version, read_meta, versions};
use super::layout::Layout;
use super::policy::Lateness;
use super::release::{read_manifest, read_release_record};
use super::safefs;

#[derive(Debug, Clone, Serialize)]
pub struct AssignmentRow {
    pub name: String,
    pub due: Option<DateTime<Utc>>,
    pub released_at: Option<DateTime<Utc>>,
    pub students: usize,
    pub released: usize,
    pub collected: usize,
    pub late: usize,
    pub missing: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct StudentRow {
    pub student: String,
    pub released_at: Option<DateTime<Utc>>,
    /// Some(true) when a released file changed since release (only with `check_homes`).
    pub modified_since_release: Option<bool>,
    pub current_version: Option<String>,
    pub versions: usize,
    pub submitted_at: Option<DateTime<Utc>>,
    pub late: Option<bool>,
}

pub fn assignments_table(cfg: &Config, students: &[String]) -> Vec<AssignmentRow> {
    cfg.assignments
        .assignment
        .iter()
        .map(|a| {
            let rows = student_matrix(cfg, &a.name, students, false);
            let layout = Layout::new(cfg);
            AssignmentRow {
                name: a.name.clone(),
                due: a.due,
                released_at: read_release_record(&layout, &a.name).map(|r| r.last_released_at),
                students: students.len(),
                released: rows.iter().filter(|r| r.released_at.is_some()).count(),
                collected: rows.iter().filter(|r| r.current_version.is_some()).count(),
                late: rows.iter().filter(|r| r.late == Some(true)).count(),
                missing: rows.iter().filter(|r| r.current_version.is_none()).count(),
            }
        })
        .collect()
}

/// Per-student state of one assignment. `check_homes` also compares each
/// home with the release manifest (metadata only, no symlink followed).
pub fn student_matrix(
    cfg: &Config,
    assignment: &str,
    students: &[String],
    check_homes: bool,
) -> Vec<StudentRow> {
    let layout = Layout::new(cfg);
    students
        .iter()
        .filter(|s| crate::names::check_component(s).is_ok())
        .map(|s| {
            let man = read_manifest(&layout, assignment, s);
            let cur = current_version(&layout, s, assignment).version();
            let meta = cur
                .as_deref()
                .and_then(|v| read_meta(&layout, s, assignment, v));
            let modified = match (&man, check_homes) {
                (Some(m), true) => Some(modified_since(&layout, assignment, s, m)),
                _ => None,
            };
            StudentRow {
                student: s.clone(),
                released_at: man.as_ref().and_then(|m| m.released_at),
                modified_since_release: modified,
                versions: versions(&layout, s, assignment).len(),
                submitted_at: meta.as_ref().map(|m| m.submitted_at),
                late: meta.as_ref().map(|m| m.lateness != Lateness::OnTime),
                current_version: cur,
            }
        })
        .collect()
}

fn modified_since(layout: &Layout, a: &str, s: &str, m: &super::release::Manifest) -> bool {
    let Ok(home) = safefs::open_home(&layout.home_template, s) else {
        return true;
    };
    let Ok(root) = safefs::open_subdir(home.as_fd(), OsStr::new(a)) else {
        return true;
    };
    for (key, e) in &m.files {
        // Keys are escaped; only plain ones can be resolved back cheaply.
        if key.contains('%') {
            continue;
        }
        let mut dir = match root.try_clone() {
            Ok(d) => d,
            Err(_) => return true,
        };
        let parts: Vec<&str> = key.split('/').collect();
        let Some((last, parents)) = parts.split_last() else {
            continue;
        };
        let mut ok = true;
        for p in parents {
            match safefs::open_dir_at(dir.as_fd(), OsStr::new(p)) {
                Ok(d) => dir = d,
                Err(_) => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            return true;
        }
        match safefs::lstat_at(dir.as_fd(), OsStr::new(last)) {
            Ok(st) if safefs::size_of(&st) == e.size && safefs::mtime_ns(&st) == e.mtime_ns => {}
            _ => return true,
        }
    }
    false
}
