//! One engine, two faces: the console and the headless commands pick the
//! students, plan (dry run) and execute an operation through these
//! functions, so both take the same lock, run the same code and write the
//! same audit record.

use crate::config::Config;

use super::audit::{self, AuditRecord};
use super::lock::CourseLock;
use super::report::{OpReport, Operation, Progress, RejectedName};
use super::{
    check_students, collect, feedback, load_roster, release, CollectOptions, CourseError, Layout,
    ReleaseOptions, ReturnOptions, RosterError,
};

/// An operation with its options.
#[derive(Debug, Clone)]
pub enum OpSpec {
    Release(ReleaseOptions),
    Collect(CollectOptions),
    Return(ReturnOptions),
}

impl OpSpec {
    pub fn operation(&self) -> Operation {
        match self {
            OpSpec::Release(_) => Operation::Release,
            OpSpec::Collect(_) => Operation::Collect,
            OpSpec::Return(_) => Operation::Return,
        }
    }
}

/// The students an operation covers: the explicit ones (checked, sorted,
/// deduplicated) or the roster, with the roster names that were refused.
pub async fn resolve_students(
    cfg: &Config,
    explicit: &[String],
) -> Result<(Vec<String>, Vec<RejectedName>), RosterOrName> {
    if !explicit.is_empty() {
        check_students(explicit).map_err(RosterOrName::Name)?;
        let mut v = explicit.to_vec();
        v.sort();
        v.dedup();
        return Ok((v, Vec::new()));
    }
    let r = load_roster(cfg).await.map_err(RosterOrName::Roster)?;
    Ok((r.students, r.rejected))
}

/// Why the students could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum RosterOrName {
    #[error("{0}")]
    Name(CourseError),
    #[error("{0}")]
    Roster(RosterError),
}

/// What would happen; takes no lock and writes nothing.
pub fn plan(
    cfg: &Config,
    spec: &OpSpec,
    assignment: &str,
    students: &[String],
    rejected: Vec<RejectedName>,
) -> Result<OpReport, CourseError> {
    let mut report = match spec {
        OpSpec::Release(o) => release::plan_release(cfg, assignment, students, o),
        OpSpec::Collect(_) => collect::plan_collect(cfg, assignment, students),
        OpSpec::Return(_) => feedback::plan_return(cfg, assignment, students),
    }?;
    report.rejected_names = rejected;
    Ok(report)
}

/// Runs the operation under the held course lock, then appends its audit
/// record. The second value is a warning when the audit log could not be written.
pub fn execute(
    cfg: &Config,
    lock: &CourseLock,
    spec: &OpSpec,
    assignment: &str,
    students: &[String],
    rejected: Vec<RejectedName>,
    progress: impl Fn(Progress) + Sync,
) -> Result<(OpReport, Option<String>), CourseError> {
    let mut report = match spec {
        OpSpec::Release(o) => release::run_release(cfg, lock, assignment, students, o, progress),
        OpSpec::Collect(o) => collect::run_collect(cfg, lock, assignment, students, o, progress),
        OpSpec::Return(o) => feedback::run_return(cfg, lock, assignment, students, o, progress),
    }?;
    report.rejected_names = rejected;
    let path = Layout::new(cfg).audit_log();
    let warning = audit::append(
        &path,
        &AuditRecord::from_report(&report, report.exit_code().code()),
    )
    .err()
    .map(|e| format!("cannot append to the audit log {}: {e}", path.display()));
    Ok((report, warning))
}
