//! Assignments: release into every home, collect at the deadline, return
//! feedback — on nbgrader's course directory layout.
//!
//! The shape: pure decisions live in [`policy`] (what is copied, skipped,
//! late, updated); [`safefs`] is the only place that touches student trees,
//! always through directory fds and `O_NOFOLLOW`, so a student's symlink can
//! never make root read or write outside that student's own tree. The
//! engines ([`release`], [`collect`], [`feedback`]) are plain functions the
//! headless commands and the console share; they report progress through a
//! callback and return `Serialize` reports. Nothing here imports a UI crate.
//!
//! Layout under `paths.course-dir` (nbgrader's, plus `collected/`):
//! ```text
//! source/<a>/                      the instructor's version (nbgrader)
//! release/<a>/                     what students get (nbgrader generate_assignment)
//! collected/<s>/<a>/<version>/     every collection, read-only once complete
//! collected/<s>/<a>/<version>.json what that collection took and skipped
//! submitted/<s>/<a> -> ../../collected/<s>/<a>/<version>   the current one
//! feedback/<s>/<a>/                nbgrader generate_feedback's output
//! ```
//! State (`state_dir()/assignments/<a>/`): per-student release manifests and
//! the release record; `state_dir()/audit.jsonl`; `state_dir()/course.lock`.

pub mod audit;
pub mod collect;
pub mod feedback;
pub mod layout;
pub mod lock;
pub mod ops;
pub mod policy;
pub mod release;
pub mod report;
pub mod roster;
pub mod safefs;
pub mod status;

pub use collect::{plan_collect, run_collect, CollectOptions};
pub use feedback::{plan_return, run_return, ReturnOptions};
pub use layout::Layout;
pub use lock::{CourseLock, LockError};
pub use ops::{execute, plan, resolve_students, OpSpec, RosterOrName};
pub use release::{plan_release, run_release, ReleaseOptions};
pub use report::{Item, ItemKind, OpReport, Operation, Progress, StudentReport};
pub use roster::{load_roster, Roster, RosterError};

use std::path::PathBuf;

/// Why an operation could not start (per-student trouble goes in the report instead).
#[derive(Debug, thiserror::Error)]
pub enum CourseError {
    #[error("unknown assignment `{name}`: declared are {declared} (add an [[assignments.assignment]] block with name = \"{name}\")")]
    UnknownAssignment { name: String, declared: String },
    #[error("student name {0}")]
    BadName(String),
    #[error("{path} does not exist: run `nbgrader generate_assignment {assignment}` in the course dir first")]
    NoRelease { path: PathBuf, assignment: String },
    #[error("{path}: {source} (check [paths] course-dir / state-dir and their permissions)")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CourseError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CourseError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Checks that `name` is a declared assignment (and a safe path component).
pub fn check_assignment<'c>(
    cfg: &'c crate::config::Config,
    name: &str,
) -> Result<&'c crate::config::AssignmentConfig, CourseError> {
    if let Err(m) = crate::names::check_component(name) {
        return Err(CourseError::UnknownAssignment {
            name: name.escape_debug().to_string(),
            declared: format!("none matching (assignment name {m})"),
        });
    }
    cfg.assignment(name).ok_or_else(|| {
        let names: Vec<&str> = cfg
            .assignments
            .assignment
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        CourseError::UnknownAssignment {
            name: name.to_string(),
            declared: if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            },
        }
    })
}

/// Checks names given with `--student`.
pub fn check_students(names: &[String]) -> Result<(), CourseError> {
    for n in names {
        crate::names::check_component(n).map_err(|m| {
            CourseError::BadName(format!("`{}` (from --student) {m}", n.escape_debug()))
        })?;
    }
    Ok(())
}
