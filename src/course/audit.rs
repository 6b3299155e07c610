//! The audit log: one JSON line per release/collect/return in
//! `<state>/audit.jsonl`, appended and fsynced before the command returns.

use std::io::{BufRead, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::report::OpReport;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    pub operation: String,
    pub assignment: String,
    /// Real uid of the process.
    pub uid: u32,
    /// $SUDO_USER, else $USER (who typed the command).
    pub user: Option<String>,
    pub students: usize,
    pub files: u64,
    pub bytes: u64,
    pub missing: usize,
    pub with_problems: usize,
    pub exit_code: u8,
    /// "student: path: kind" lines, the first 100.
    pub problems: Vec<String>,
}

impl AuditRecord {
    pub fn from_report(r: &OpReport, exit_code: u8) -> Self {
        let mut problems = Vec::new();
        for n in &r.rejected_names {
            problems.push(format!("roster {}: {} {}", n.source, n.name, n.reason));
        }
        for s in &r.students {
            for p in &s.problems {
                problems.push(format!("{}: {}: {:?}", s.student, p.path, p.kind));
            }
        }
        problems.truncate(100);
        Self {
            at: r.finished_at,
            operation: r.operation.as_str().to_string(),
            assignment: r.assignment.clone(),
            uid: nix::unistd::getuid().as_raw(),
            user: std::env::var("SUDO_USER")
                .ok()
                .or_else(|| std::env::var("USER").ok()),
            students: r.totals.students,
            files: r.totals.files,
            bytes: r.totals.bytes,
            missing: r.totals.missing,
            with_problems: r.totals.with_problems,
            exit_code,
            problems,
        }
    }
}

pub fn append(path: &Path, rec: &AuditRecord) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let mut line = serde_json::to_string(rec).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    // One write of the whole line: appends of concurrent writers do not interleave.
    f.write_all(line.as_bytes())?;
    f.sync_all()
}

/// Reads the log; unreadable lines are skipped (and counted).
pub fn read(path: &Path, assignment: Option<&str>) -> std::io::Result<(Vec<AuditRecord>, usize)> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    let mut bad = 0;
    for line in std::io::BufReader::new(f).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<AuditRecord>(&line) {
            Ok(r) if assignment.is_none_or(|a| a == r.assignment) => out.push(r),
            Ok(_) => {}
            Err(_) => bad += 1,
        }
    }
    Ok((out, bad))
}
