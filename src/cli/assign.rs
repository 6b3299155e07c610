//! Headless assignment commands: release, collect, return, audit. Each takes
//! the course lock (exit 4 if held), runs the shared engine in `course`,
//! prints plain text (or `--json`), appends to the audit log, and exits
//! 0 ok / 3 partial (a student had a problem) / 2 bad name or assignment.
//! Progress goes to stderr, and only when stderr is a terminal (cron-safe).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

use clap::Args;

use super::{CmdResult, Failure, Out};
use crate::config::Config;
use crate::course::report::RejectedName;
use crate::course::{self, audit, CourseError, CourseLock, LockError, OpReport, Progress};
use crate::exit::ExitCode;

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// Assignment name (declared in [[assignments.assignment]]).
    pub assignment: String,
    /// Only this student (repeatable), e.g. a late joiner; default: the roster.
    #[arg(long = "student", value_name = "USER")]
    pub students: Vec<String>,
    /// Show what would be copied and left; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also replace files the student has not modified since the last release
    /// (needs [assignments] allow-update = true).
    #[arg(long)]
    pub update: bool,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    pub assignment: String,
    /// Only this student (repeatable); default: the roster.
    #[arg(long = "student", value_name = "USER")]
    pub students: Vec<String>,
    /// Show what would be taken and skipped; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ReturnArgs {
    pub assignment: String,
    /// Only this student (repeatable); default: the roster.
    #[arg(long = "student", value_name = "USER")]
    pub students: Vec<String>,
    /// Show what would be returned; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only records of this assignment.
    #[arg(long)]
    pub assignment: Option<String>,
}

fn course_failure(e: CourseError) -> Failure {
    match e {
        CourseError::UnknownAssignment { .. }
        | CourseError::BadName(_)
        | CourseError::NoRelease { .. } => Failure::usage(e),
        CourseError::Io { .. } => Failure::failed(e),
    }
}

fn lock_failure(e: LockError) -> Failure {
    match e {
        LockError::Busy { .. } => Failure::new(ExitCode::Busy, e),
        LockError::Io { .. } => Failure::failed(e),
    }
}

/// The students to work on: `--student` names, else the roster.
async fn students(
    cfg: &Config,
    explicit: &[String],
) -> Result<(Vec<String>, Vec<RejectedName>), Failure> {
    course::resolve_students(cfg, explicit)
        .await
        .map_err(|e| match e {
            course::RosterOrName::Name(e) => course_failure(e),
            e @ course::RosterOrName::Roster(course::RosterError::Csv { .. }) => Failure::usage(e),
            e => Failure::failed(e),
        })
}

/// Prints progress on stderr when it is a terminal, at most 10 times a second.
fn progress_printer() -> impl Fn(Progress) + Sync + Send + 'static {
    let tty = std::io::stderr().is_terminal();
    let start = Instant::now();
    let last = Mutex::new(None::<Instant>);
    move |p: Progress| {
        if !tty {
            return;
        }
        let done = p.students_done == p.students_total;
        if let Ok(mut l) = last.lock() {
            if !done && l.is_some_and(|t| t.elapsed().as_millis() < 100) {
                return;
            }
            *l = Some(Instant::now());
        }
        let eta = if p.bytes_total > 0 && p.bytes_done > 0 && !done {
            let el = start.elapsed().as_secs_f64();
            let rest =
                el * (p.bytes_total - p.bytes_done.min(p.bytes_total)) as f64 / p.bytes_done as f64;
            format!(", ETA {rest:.0}s")
        } else {
            String::new()
        };
        eprint!(
            "\r\x1b[K{} {}/{} students, {}/{} files, {}/{}{eta}",
            p.operation.as_str(),
            p.students_done,
            p.students_total,
            p.files_done,
            p.files_total,
            course::report::human_bytes(p.bytes_done),
            course::report::human_bytes(p.bytes_total),
        );
        if done {
            eprintln!();
        }
    }
}

async fn run_op(
    cfg: &Config,
    out: Out,
    spec: course::OpSpec,
    assignment: &str,
    explicit: &[String],
    dry_run: bool,
) -> CmdResult {
    course::check_assignment(cfg, assignment).map_err(course_failure)?;
    course::check_students(explicit).map_err(course_failure)?;
    let verb = spec.operation().as_str();
    // Held for the whole operation, roster included; a dry run writes nothing and takes none.
    let lock = if dry_run {
        None
    } else {
        Some(CourseLock::try_acquire(cfg, &format!("{verb} {assignment}")).map_err(lock_failure)?)
    };
    let (students, rejected) = students(cfg, explicit).await?;
    let cfg2 = cfg.clone();
    let a = assignment.to_string();
    let progress = progress_printer();
    let done = tokio::task::spawn_blocking(move || match lock {
        None => course::plan(&cfg2, &spec, &a, &students, rejected).map(|r| (r, None)),
        Some(l) => course::execute(&cfg2, &l, &spec, &a, &students, rejected, progress),
    })
    .await
    .map_err(|e| Failure::failed(anyhow::anyhow!("the {verb} worker stopped: {e}")))?;
    let (report, warning) = done.map_err(course_failure)?;
    if let Some(w) = warning {
        eprintln!("coursectl: warning: {w}");
    }
    let code = report.exit_code();
    print_report(out, &report, code);
    Ok(code)
}

fn print_report(out: Out, r: &OpReport, code: ExitCode) {
    if out.json {
        out.json(&serde_json::json!({ "ok": code == ExitCode::Ok, "exit_code": code.code(), "report": r }));
        return;
    }
    let t = &r.totals;
    let dry = if r.dry_run {
        " (dry run: nothing changed)"
    } else {
        ""
    };
    println!(
        "{} {}{dry}: {} students, {} with problems, {} missing; {} files ({}) copied{}",
        r.operation.as_str(),
        r.assignment,
        t.students,
        t.with_problems,
        t.missing,
        t.files,
        course::report::human_bytes(t.bytes),
        if t.linked > 0 {
            format!(
                ", {} unchanged files linked from the previous version",
                t.linked
            )
        } else {
            String::new()
        }
    );
    for s in &r.students {
        let mut line = format!(
            "  {:<20} {}",
            s.student,
            out.state(&s.outcome, Some(s.problems.is_empty()))
        );
        if s.files + s.linked + s.up_to_date > 0 {
            line.push_str(&format!(" files={} bytes={}", s.files, s.bytes));
        }
        if s.up_to_date > 0 {
            line.push_str(&format!(" up-to-date={}", s.up_to_date));
        }
        if s.linked > 0 {
            line.push_str(&format!(" linked={}", s.linked));
        }
        if let Some(v) = &s.version {
            line.push_str(&format!(" version={v}"));
        }
        if s.late == Some(true) {
            line.push_str(&format!(" {}", out.state("LATE", None)));
        }
        println!("{line}");
    }
    let missing = r.missing();
    if !missing.is_empty() {
        println!("missing ({}): {}", missing.len(), missing.join(" "));
    }
    for n in &r.rejected_names {
        println!(
            "refused roster name {} ({}): {}",
            // Roster names come from files and the hub: never let one steer the terminal.
            n.name.escape_debug(),
            n.source,
            n.reason
        );
    }
    let problems: Vec<_> = r
        .students
        .iter()
        .flat_map(|s| s.problems.iter().map(move |p| (s, p)))
        .collect();
    if !problems.is_empty() {
        println!("{}:", out.state("problems", Some(false)));
        for (s, p) in problems {
            println!(
                "  {}: {}: {}{}",
                s.student,
                p.path,
                kind_word(&p.kind),
                detail(p)
            );
        }
    }
    let notes: Vec<_> = r
        .students
        .iter()
        .flat_map(|s| s.skipped.iter().map(move |p| (s, p)))
        .collect();
    if !notes.is_empty() {
        println!("skipped (not problems):");
        for (s, p) in notes {
            println!(
                "  {}: {}: {}{}",
                s.student,
                p.path,
                kind_word(&p.kind),
                detail(p)
            );
        }
    }
}

fn kind_word(k: &course::ItemKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{k:?}"))
}

fn detail(i: &course::Item) -> String {
    i.detail
        .as_ref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default()
}

pub async fn release(cfg: &Config, out: Out, a: &ReleaseArgs) -> CmdResult {
    if a.update && !cfg.assignments.allow_update {
        return Err(Failure::usage(anyhow::anyhow!(
            "release --update is off: set allow-update = true in [assignments] to allow it"
        )));
    }
    let opts = course::ReleaseOptions { update: a.update };
    run_op(
        cfg,
        out,
        course::OpSpec::Release(opts),
        &a.assignment,
        &a.students,
        a.dry_run,
    )
    .await
}

pub async fn collect(cfg: &Config, out: Out, a: &CollectArgs) -> CmdResult {
    let spec = course::OpSpec::Collect(course::CollectOptions {
        // Totals for the gauge cost a metadata pass: only when someone watches.
        count_first: std::io::stderr().is_terminal(),
    });
    run_op(cfg, out, spec, &a.assignment, &a.students, a.dry_run).await
}

pub async fn return_feedback(cfg: &Config, out: Out, a: &ReturnArgs) -> CmdResult {
    let spec = course::OpSpec::Return(course::ReturnOptions::default());
    run_op(cfg, out, spec, &a.assignment, &a.students, a.dry_run).await
}

pub async fn audit(cfg: &Config, out: Out, a: &AuditArgs) -> CmdResult {
    let path = course::Layout::new(cfg).audit_log();
    let (records, bad) = audit::read(&path, a.assignment.as_deref()).map_err(|e| {
        Failure::failed(anyhow::anyhow!(
            "cannot read the audit log {}: {e}",
            path.display()
        ))
    })?;
    if out.json {
        out.json(&records);
    } else {
        if records.is_empty() {
            println!("no audit records in {}", path.display());
        }
        for r in &records {
            println!(
                "{} {} {} by {} (uid {}): {} students, {} files, {} missing, {} with problems, exit {}",
                r.at.format("%Y-%m-%d %H:%M:%S UTC"),
                r.operation,
                r.assignment,
                r.user.as_deref().unwrap_or("?"),
                r.uid,
                r.students,
                r.files,
                r.missing,
                r.with_problems,
                r.exit_code
            );
            for p in &r.problems {
                println!("    {p}");
            }
        }
    }
    if bad > 0 {
        eprintln!(
            "coursectl: warning: {bad} unreadable line(s) in {}",
            path.display()
        );
    }
    Ok(ExitCode::Ok)
}
