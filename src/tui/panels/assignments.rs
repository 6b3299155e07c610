//! Assignments panel: the assignments table (released, due, collected n/N,
//! late, missing), a student matrix per assignment, release / collect /
//! return confirmed with the counts of the engine's own dry-run plan, a
//! progress gauge while one runs, the per-student problems afterwards, and
//! the audit log. The state and its transitions live here (pure, no I/O);
//! `pollers.rs` runs the engine functions the headless commands use.

use chrono::{DateTime, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Gauge, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use crate::course::audit::AuditRecord;
use crate::course::report::RejectedName;
use crate::course::status::{AssignmentRow, StudentRow};
use crate::course::{ItemKind, OpReport, Operation, Progress};
use crate::tui::app::{App, Confirm, Effect, ListView, SourceState};
use crate::tui::theme::Theme;
use crate::tui::view::{panel_block, short_duration, Clock};

/// One release / collect / return as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpRequest {
    pub op: Operation,
    pub assignment: String,
    /// `--student` names; empty means the roster.
    pub students: Vec<String>,
}

impl OpRequest {
    /// What an operator would type instead.
    pub fn command(&self) -> String {
        let mut c = format!("coursectl {} {}", self.op.as_str(), self.assignment);
        for s in &self.students {
            c.push_str(&format!(" --student {s}"));
        }
        c
    }
    pub fn label(&self) -> String {
        format!("{} {}", self.op.as_str(), self.assignment)
    }
    fn verb_ing(&self) -> &'static str {
        match self.op {
            Operation::Release => "Releasing",
            Operation::Collect => "Collecting",
            Operation::Return => "Returning feedback for",
        }
    }
}

/// What the panel asks the runtime to do.
#[derive(Debug, Clone, PartialEq)]
pub enum AssignEffect {
    /// Status is read while the panel is shown (and the matrix of this assignment).
    Want {
        active: bool,
        matrix: Option<String>,
    },
    /// Read the status again now.
    Refresh,
    /// Dry-run plan, for the confirmation's counts.
    Plan(OpRequest),
    /// The real thing, under the course lock.
    Run(OpRequest),
    LoadAudit,
}

/// What the status poller reads (roster, table, maybe one matrix).
#[derive(Debug, Clone)]
pub struct StatusData {
    pub students: usize,
    pub rejected: Vec<RejectedName>,
    pub table: Vec<AssignmentRow>,
    pub matrix: Option<(String, Vec<StudentRow>)>,
}

/// What the runtime tells the panel.
#[derive(Debug, Clone)]
pub enum AssignMsg {
    Status {
        gen: u64,
        at: DateTime<Utc>,
        result: Result<StatusData, String>,
    },
    Planned {
        req: OpRequest,
        result: Result<OpReport, String>,
    },
    Progress {
        at: DateTime<Utc>,
        progress: Progress,
    },
    Done {
        req: OpRequest,
        at: DateTime<Utc>,
        result: Result<OpReport, String>,
    },
    Audit(Result<Vec<AuditRecord>, String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Table,
    Matrix(String),
    Audit,
    Result,
}

#[derive(Debug, Clone)]
pub struct Running {
    pub req: OpRequest,
    pub confirmed_at: DateTime<Utc>,
    /// When the engine's first progress event arrived (the ETA's start).
    pub first_at: Option<DateTime<Utc>>,
    pub last: Option<Progress>,
}

#[derive(Debug, Clone)]
pub struct Finished {
    pub req: OpRequest,
    pub started: DateTime<Utc>,
    pub at: DateTime<Utc>,
    pub result: Result<OpReport, String>,
}

impl Finished {
    /// The headless command's exit code for the same outcome.
    pub fn exit_code(&self) -> u8 {
        use crate::exit::ExitCode;
        match &self.result {
            Ok(r) if r.has_problems() => ExitCode::Partial.code(),
            Ok(_) => ExitCode::Ok.code(),
            Err(e) if e.starts_with("busy") => ExitCode::Busy.code(),
            Err(_) => ExitCode::Failed.code(),
        }
    }
    pub fn outcome_word(&self) -> &'static str {
        match self.exit_code() {
            0 => "ok",
            3 => "PARTLY DONE",
            4 => "BUSY",
            _ => "FAILED",
        }
    }
}

/// Declared in the config: the due date and late window shown in dialogs.
#[derive(Debug, Clone)]
struct Declared {
    name: String,
    due: Option<DateTime<Utc>>,
    late_window: Option<std::time::Duration>,
}

/// What the app does after a panel message.
#[derive(Debug, Default)]
pub struct Outcome {
    pub effects: Vec<AssignEffect>,
    pub toast: Option<String>,
    pub confirm: Option<Confirm>,
}

/// The whole panel state.
#[derive(Debug, Clone)]
pub struct AssignState {
    pub src: SourceState,
    /// From the config until the first status arrives.
    pub rows: Vec<AssignmentRow>,
    pub loaded: bool,
    pub students: usize,
    pub rejected: Vec<RejectedName>,
    pub table_view: ListView,
    pub matrix: Option<(String, Vec<StudentRow>)>,
    matrix_hay: Vec<String>,
    pub matrix_view: ListView,
    pub view: View,
    pub planning: Option<OpRequest>,
    pub running: Option<Running>,
    pub finished: Option<Finished>,
    pub audit: Option<Result<Vec<AuditRecord>, String>>,
    /// Lines scrolled in the audit and result views.
    pub scroll: usize,
    /// Where Esc leaves the audit and result views for.
    back_to: View,
    declared: Vec<Declared>,
    roster_from: String,
}

impl AssignState {
    pub fn new(cfg: &crate::config::Config) -> Self {
        let declared: Vec<Declared> = cfg
            .assignments
            .assignment
            .iter()
            .map(|a| Declared {
                name: a.name.clone(),
                due: a.due,
                late_window: a.late_window,
            })
            .collect();
        let rows = declared
            .iter()
            .map(|d| AssignmentRow {
                name: d.name.clone(),
                due: d.due,
                released_at: None,
                students: 0,
                released: 0,
                collected: 0,
                late: 0,
                missing: 0,
            })
            .collect();
        let mut s = Self {
            src: SourceState::default(),
            rows,
            loaded: false,
            students: 0,
            rejected: Vec::new(),
            table_view: ListView::default(),
            matrix: None,
            matrix_hay: Vec::new(),
            matrix_view: ListView::default(),
            view: View::Table,
            planning: None,
            running: None,
            finished: None,
            audit: None,
            scroll: 0,
            back_to: View::Table,
            declared,
            roster_from: format!("{:?}", cfg.assignments.roster.from).to_lowercase(),
        };
        s.refilter();
        s
    }

    pub fn selected_row(&self) -> Option<&AssignmentRow> {
        self.table_view.current().and_then(|i| self.rows.get(i))
    }

    /// The student matrix rows of the shown assignment.
    pub fn matrix_rows(&self) -> Option<&[StudentRow]> {
        match (&self.view, &self.matrix) {
            (View::Matrix(a), Some((b, rows))) if a == b => Some(rows),
            _ => None,
        }
    }

    pub fn selected_student(&self) -> Option<&StudentRow> {
        let rows = self.matrix_rows()?;
        self.matrix_view.current().and_then(|i| rows.get(i))
    }

    /// The assignment actions apply to: the matrix's, else the selected row's.
    fn current_assignment(&self) -> Option<String> {
        match &self.view {
            View::Matrix(a) => Some(a.clone()),
            _ => self.selected_row().map(|r| r.name.clone()),
        }
    }

    pub fn want(&self, active: bool) -> AssignEffect {
        AssignEffect::Want {
            active,
            matrix: match &self.view {
                View::Matrix(a) => Some(a.clone()),
                _ => None,
            },
        }
    }

    pub fn filter(&self) -> Option<&str> {
        match self.view {
            View::Table => Some(&self.table_view.filter),
            View::Matrix(_) => Some(&self.matrix_view.filter),
            _ => None,
        }
    }

    pub fn filter_mut(&mut self) -> Option<&mut String> {
        match self.view {
            View::Table => Some(&mut self.table_view.filter),
            View::Matrix(_) => Some(&mut self.matrix_view.filter),
            _ => None,
        }
    }

    pub fn refilter(&mut self) {
        let f = self.table_view.filter.to_lowercase();
        let rows = &self.rows;
        let order = (0..rows.len())
            .filter(|&i| f.is_empty() || rows[i].name.to_lowercase().contains(&f))
            .collect();
        self.table_view.rebuild(order, |i| rows[i].name.clone());
        let f = self.matrix_view.filter.to_lowercase();
        if let Some((_, rows)) = &self.matrix {
            let hay = &self.matrix_hay;
            let order = (0..rows.len())
                .filter(|&i| f.is_empty() || hay.get(i).is_some_and(|h| h.contains(&f)))
                .collect();
            self.matrix_view.rebuild(order, |i| rows[i].student.clone());
        }
    }

    pub fn list_len(&self, now: DateTime<Utc>) -> usize {
        match self.view {
            View::Table => self.table_view.visible.len(),
            View::Matrix(_) => self.matrix_view.visible.len(),
            View::Audit => audit_lines(self).len(),
            View::Result => result_lines(self, now).len(),
        }
    }

    pub fn selected_pos(&self) -> usize {
        match self.view {
            View::Table => self.table_view.selected,
            View::Matrix(_) => self.matrix_view.selected,
            View::Audit | View::Result => self.scroll,
        }
    }

    pub fn select(&mut self, pos: usize, now: DateTime<Utc>) {
        match self.view {
            View::Table => {
                let rows = &self.rows;
                self.table_view.move_to(pos, |i| rows[i].name.clone());
            }
            View::Matrix(_) => {
                if let Some((_, rows)) = &self.matrix {
                    self.matrix_view.move_to(pos, |i| rows[i].student.clone());
                }
            }
            View::Audit | View::Result => {
                self.scroll = pos.min(self.list_len(now).saturating_sub(1));
            }
        }
    }

    /// Enter: the table opens the selected assignment's student matrix.
    pub fn enter(&mut self) -> Vec<AssignEffect> {
        if self.view != View::Table {
            return Vec::new();
        }
        let Some(name) = self.selected_row().map(|r| r.name.clone()) else {
            return Vec::new();
        };
        if self.matrix.as_ref().is_none_or(|(a, _)| *a != name) {
            self.matrix = None;
            self.matrix_hay.clear();
            self.matrix_view = ListView::default();
        }
        self.view = View::Matrix(name);
        vec![self.want(true), AssignEffect::Refresh]
    }

    /// Esc (with no filter to clear): back to the table.
    pub fn back(&mut self) -> Vec<AssignEffect> {
        match self.view {
            View::Table => Vec::new(),
            View::Matrix(_) => {
                self.view = View::Table;
                vec![self.want(true)]
            }
            View::Audit | View::Result => {
                self.view = std::mem::replace(&mut self.back_to, View::Table);
                self.scroll = 0;
                Vec::new()
            }
        }
    }

    /// Shows an overlay-like view; Esc returns to the table or matrix it came from.
    fn show(&mut self, v: View) {
        if matches!(self.view, View::Table | View::Matrix(_)) {
            self.back_to = self.view.clone();
        }
        self.view = v;
        self.scroll = 0;
    }

    /// The audit log view (read-only, so also with --read-only).
    pub fn open_audit(&mut self) -> Vec<AssignEffect> {
        self.show(View::Audit);
        vec![AssignEffect::LoadAudit]
    }

    /// `R` / `C` / `F`: asks the engine for a plan first; the dialog follows.
    pub fn request(&mut self, op: Operation) -> Outcome {
        let mut out = Outcome::default();
        if let Some(r) = &self.running {
            out.toast = Some(format!(
                "busy: {} is running; one operation at a time",
                r.req.label()
            ));
            return out;
        }
        if let Some(p) = &self.planning {
            out.toast = Some(format!("busy: planning {}…", p.label()));
            return out;
        }
        let Some(assignment) = self.current_assignment() else {
            out.toast =
                Some("no assignment selected (declare them in [[assignments.assignment]])".into());
            return out;
        };
        // In the matrix the action is for the selected student only.
        let students = match (&self.view, self.selected_student()) {
            (View::Matrix(_), Some(s)) => vec![s.student.clone()],
            _ => Vec::new(),
        };
        let req = OpRequest {
            op,
            assignment,
            students,
        };
        out.toast = Some(format!("planning {}…", req.label()));
        self.planning = Some(req.clone());
        out.effects.push(AssignEffect::Plan(req));
        out
    }

    /// The dialog was confirmed: the operation is on its way.
    pub fn confirmed(&mut self, req: &OpRequest, now: DateTime<Utc>) {
        self.running = Some(Running {
            req: req.clone(),
            confirmed_at: now,
            first_at: None,
            last: None,
        });
    }

    pub fn on_msg(&mut self, msg: AssignMsg, now: DateTime<Utc>) -> Outcome {
        let mut out = Outcome::default();
        match msg {
            AssignMsg::Status { gen, at, result } => {
                let err = result.as_ref().err().cloned();
                if self.src.accept(gen, at, err) {
                    if let Ok(d) = result {
                        self.apply_status(d);
                    }
                }
            }
            AssignMsg::Planned { req, result } => {
                if self.planning.as_ref() != Some(&req) {
                    return out;
                }
                self.planning = None;
                match result {
                    Ok(plan) => {
                        out.confirm = Some(self.confirm_for(req, &plan, now));
                    }
                    Err(e) => out.toast = Some(format!("{} FAILED: {}", req.label(), clean(&e))),
                }
            }
            AssignMsg::Progress { at, progress } => {
                if let Some(r) = &mut self.running {
                    r.first_at.get_or_insert(at);
                    r.last = Some(progress);
                }
            }
            AssignMsg::Done { req, at, result } => {
                let started = self
                    .running
                    .take()
                    .map(|r| r.first_at.unwrap_or(r.confirmed_at))
                    .unwrap_or(at);
                let f = Finished {
                    req,
                    started,
                    at,
                    result,
                };
                out.toast = Some(match &f.result {
                    Err(e) if e.starts_with("busy") => clean(e),
                    Err(e) => format!("{} FAILED: {}", f.req.label(), clean(e)),
                    Ok(_) => format!(
                        "{}: {} (exit {}) — see the result",
                        f.req.label(),
                        f.outcome_word(),
                        f.exit_code()
                    ),
                });
                self.finished = Some(f);
                self.show(View::Result);
                out.effects.push(AssignEffect::Refresh);
            }
            AssignMsg::Audit(r) => self.audit = Some(r),
        }
        out
    }

    fn apply_status(&mut self, d: StatusData) {
        self.rows = d.table;
        self.loaded = true;
        self.students = d.students;
        self.rejected = d.rejected;
        if let Some((a, rows)) = d.matrix {
            if self.view == View::Matrix(a.clone()) {
                // Built once per refresh, not at draw time.
                self.matrix_hay = rows
                    .iter()
                    .map(|r| {
                        format!(
                            "{} {} {} {} {}",
                            r.student,
                            if r.released_at.is_some() {
                                "released"
                            } else {
                                "not-released"
                            },
                            if r.modified_since_release == Some(true) {
                                "modified"
                            } else {
                                ""
                            },
                            if r.current_version.is_some() {
                                "collected"
                            } else {
                                "missing"
                            },
                            if r.late == Some(true) { "late" } else { "" },
                        )
                        .to_lowercase()
                    })
                    .collect();
                self.matrix = Some((a, rows));
            }
        }
        self.refilter();
    }

    fn declared(&self, name: &str) -> Option<&Declared> {
        self.declared.iter().find(|d| d.name == name)
    }

    /// The confirmation, with the counts of the engine's dry-run plan.
    fn confirm_for(&self, req: OpRequest, plan: &OpReport, now: DateTime<Utc>) -> Confirm {
        let lines = plan_lines(&req, plan, self.declared(&req.assignment), now);
        let whom = if req.students.is_empty() {
            String::new()
        } else {
            format!(" for {}", req.students.join(", "))
        };
        let title = match req.op {
            Operation::Release => format!("Release {}{whom}?", req.assignment),
            Operation::Collect => format!("Collect {}{whom}?", req.assignment),
            Operation::Return => format!("Return feedback of {}{whom}?", req.assignment),
        };
        Confirm {
            title,
            lines,
            command: req.command(),
            confirm_label: req.label(),
            effect: Effect::Assign(AssignEffect::Run(req)),
            focus_confirm: false,
        }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The dialog's text: what the plan says will be touched.
fn plan_lines(
    req: &OpRequest,
    plan: &OpReport,
    declared: Option<&Declared>,
    now: DateTime<Utc>,
) -> Vec<String> {
    let t = &plan.totals;
    let n = t.students;
    let count = |f: &dyn Fn(&crate::course::StudentReport) -> bool| {
        plan.students.iter().filter(|s| f(s)).count()
    };
    let troubled = count(&|s| !s.problems.is_empty());
    let mut lines = Vec::new();
    match req.op {
        Operation::Release => {
            let kept = |s: &crate::course::StudentReport| {
                s.skipped.iter().any(|i| {
                    matches!(
                        i.kind,
                        ItemKind::Exists | ItemKind::Modified | ItemKind::Outdated
                    )
                })
            };
            let each = plan
                .students
                .iter()
                .map(|s| {
                    s.files
                        + s.up_to_date
                        + s.skipped
                            .iter()
                            .filter(|i| {
                                matches!(
                                    i.kind,
                                    ItemKind::Exists | ItemKind::Modified | ItemKind::Outdated
                                )
                            })
                            .count() as u64
                })
                .max()
                .unwrap_or(0);
            let have = count(&|s| s.up_to_date > 0 || kept(s));
            let mut l = format!(
                "Release {} to {}: {} each",
                req.assignment,
                plural(n, "student", "students"),
                plural(each as usize, "file", "files")
            );
            if have > 0 {
                l.push_str(&format!(
                    ", {} already {} it (their files are left alone)",
                    plural(have, "student", "students"),
                    if have == 1 { "has" } else { "have" }
                ));
            }
            lines.push(format!("{l}."));
            lines.push(format!(
                "{} to copy ({}) into {}.",
                plural(t.files as usize, "file", "files"),
                human(t.bytes),
                plural(count(&|s| s.files > 0), "home", "homes")
            ));
            lines.push("Nothing in a home is overwritten or deleted.".into());
        }
        Operation::Collect => {
            let with_work = count(&|s| s.outcome == "would-collect");
            lines.push(format!(
                "Collect {} from {}: {} with work ({}, {}), {} missing.",
                req.assignment,
                plural(n, "student", "students"),
                with_work,
                plural(t.files as usize, "file", "files"),
                human(t.bytes),
                t.missing
            ));
            if let Some(due) = declared.and_then(|d| d.due) {
                let rel = if due <= now {
                    format!("{} ago", short_duration((now - due).num_seconds()))
                } else {
                    format!("in {}", short_duration((due - now).num_seconds()))
                };
                let window = declared
                    .and_then(|d| d.late_window)
                    .map(|w| format!("; late window {}", humantime::format_duration(w)))
                    .unwrap_or_default();
                lines.push(format!(
                    "Due {} UTC ({rel}){window}: later work is marked late.",
                    due.format("%Y-%m-%d %H:%M")
                ));
            }
            lines.push("Each collection is a new version; the homes are only read.".into());
        }
        Operation::Return => {
            let with = count(&|s| s.outcome == "would-return");
            let none = count(&|s| s.outcome == "no-feedback");
            lines.push(format!(
                "Return feedback of {} to {with} of {}: {} ({}); {none} {} no feedback yet.",
                req.assignment,
                plural(n, "student", "students"),
                plural(t.files as usize, "file", "files"),
                human(t.bytes),
                if none == 1 { "has" } else { "have" }
            ));
            lines.push("Written read-only beside older feedback; nothing is overwritten.".into());
        }
    }
    if troubled > 0 {
        lines.push(format!(
            "{} with problems already (no home, refused): listed in the result.",
            plural(troubled, "student", "students")
        ));
    }
    if !plan.rejected_names.is_empty() {
        lines.push(format!(
            "{} refused: listed in the result.",
            plural(plan.rejected_names.len(), "roster name", "roster names")
        ));
    }
    lines
}

/// Bytes as the headless commands print them.
pub use crate::course::report::human_bytes as human;

/// Names and paths come from student trees: never let one steer the terminal.
pub fn clean(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn kind_word(k: &ItemKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{k:?}"))
}

/// How a text line of the result and audit views is styled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Title,
    Good,
    Bad,
    Warn,
    Dim,
}

fn style(t: Tone, theme: &Theme) -> Style {
    match t {
        Tone::Plain => Style::default(),
        Tone::Title => theme.title,
        Tone::Good => theme.ok,
        Tone::Bad => theme.bad,
        Tone::Warn => theme.warn,
        Tone::Dim => theme.dim,
    }
}

/// The result view's lines: summary, outcome, then per-student problems and notes.
pub fn result_lines(st: &AssignState, _now: DateTime<Utc>) -> Vec<(String, Tone)> {
    let mut v = Vec::new();
    let Some(f) = &st.finished else {
        v.push((
            "no operation has finished in this console yet".into(),
            Tone::Dim,
        ));
        return v;
    };
    let took = short_duration((f.at - f.started).num_seconds());
    let tone = match f.exit_code() {
        0 => Tone::Good,
        3 => Tone::Warn,
        _ => Tone::Bad,
    };
    v.push((
        format!(
            "{}: {} (exit {}) at {} UTC, took {took}",
            f.req.command(),
            f.outcome_word(),
            f.exit_code(),
            f.at.format("%H:%M:%S")
        ),
        tone,
    ));
    let r = match &f.result {
        Ok(r) => r,
        Err(e) => {
            v.push((format!("nothing was done: {}", clean(e)), Tone::Bad));
            return v;
        }
    };
    let t = &r.totals;
    let verb = match r.operation {
        Operation::Collect => "collected",
        _ => "copied",
    };
    let mut sum = format!(
        "{}, {} with problems, {} missing; {} ({}) {verb}",
        plural(t.students, "student", "students"),
        t.with_problems,
        t.missing,
        plural(t.files as usize, "file", "files"),
        human(t.bytes)
    );
    if t.linked > 0 {
        sum.push_str(&format!(", {} unchanged linked", t.linked));
    }
    let up: u64 = r.students.iter().map(|s| s.up_to_date).sum();
    if up > 0 {
        sum.push_str(&format!(", {up} already up to date"));
    }
    v.push((sum, Tone::Plain));
    let late = r.students.iter().filter(|s| s.late == Some(true)).count();
    if late > 0 {
        v.push((format!("{late} LATE"), Tone::Warn));
    }
    let problems: Vec<_> = r
        .students
        .iter()
        .flat_map(|s| s.problems.iter().map(move |p| (s, p)))
        .collect();
    v.push((String::new(), Tone::Plain));
    if problems.is_empty() && r.rejected_names.is_empty() {
        v.push(("no problems".into(), Tone::Good));
    } else {
        v.push((
            format!("problems ({}):", problems.len() + r.rejected_names.len()),
            Tone::Bad,
        ));
        for (s, p) in problems {
            v.push((
                format!(
                    "  {}: {}: {}{}",
                    clean(&s.student),
                    clean(&p.path),
                    kind_word(&p.kind),
                    p.detail
                        .as_ref()
                        .map(|d| format!(" ({})", clean(d)))
                        .unwrap_or_default()
                ),
                Tone::Plain,
            ));
        }
        for n in &r.rejected_names {
            v.push((
                format!(
                    "  roster name {} ({}): {}",
                    clean(&n.name),
                    clean(&n.source),
                    clean(&n.reason)
                ),
                Tone::Plain,
            ));
        }
    }
    let missing = r.missing();
    if !missing.is_empty() {
        v.push((
            format!(
                "missing ({}): {}",
                missing.len(),
                missing
                    .iter()
                    .map(|m| clean(m))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Tone::Warn,
        ));
    }
    let notes: Vec<_> = r
        .students
        .iter()
        .flat_map(|s| s.skipped.iter().map(move |p| (s, p)))
        .collect();
    if !notes.is_empty() {
        v.push((
            format!("notes ({}, not problems):", notes.len()),
            Tone::Title,
        ));
        for (s, p) in notes {
            v.push((
                format!(
                    "  {}: {}: {}{}",
                    clean(&s.student),
                    clean(&p.path),
                    kind_word(&p.kind),
                    p.detail
                        .as_ref()
                        .map(|d| format!(" ({})", clean(d)))
                        .unwrap_or_default()
                ),
                Tone::Dim,
            ));
        }
    }
    v
}

/// The audit view's lines, newest first.
pub fn audit_lines(st: &AssignState) -> Vec<(String, Tone)> {
    match &st.audit {
        None => vec![("loading the audit log…".into(), Tone::Dim)],
        Some(Err(e)) => vec![(
            format!("cannot read the audit log: {}", clean(e)),
            Tone::Bad,
        )],
        Some(Ok(recs)) if recs.is_empty() => {
            vec![(
                "no release / collect / return recorded yet".into(),
                Tone::Dim,
            )]
        }
        Some(Ok(recs)) => {
            let mut v = Vec::new();
            for r in recs.iter().rev() {
                let word = match r.exit_code {
                    0 => "ok",
                    3 => "partly done",
                    _ => "failed",
                };
                v.push((
                    format!(
                        "{} UTC {} {} · exit {} ({word}) · by {} (uid {})",
                        r.at.format("%Y-%m-%d %H:%M"),
                        r.operation,
                        clean(&r.assignment),
                        r.exit_code,
                        clean(r.user.as_deref().unwrap_or("?")),
                        r.uid,
                    ),
                    if r.exit_code == 0 {
                        Tone::Plain
                    } else {
                        Tone::Warn
                    },
                ));
                v.push((
                    format!(
                        "    {}, {} ({}), {} missing, {} with problems",
                        plural(r.students, "student", "students"),
                        plural(r.files as usize, "file", "files"),
                        human(r.bytes),
                        r.missing,
                        r.with_problems
                    ),
                    Tone::Dim,
                ));
                for p in r.problems.iter().take(5) {
                    v.push((format!("    {}", clean(p)), Tone::Dim));
                }
                if r.problems.len() > 5 {
                    v.push((format!("    … {} more", r.problems.len() - 5), Tone::Dim));
                }
            }
            v
        }
    }
}

// ---------------------------------------------------------------- drawing

fn stamp(clock: &Clock, t: Option<DateTime<Utc>>) -> String {
    t.map(|t| clock.stamp(t)).unwrap_or_else(|| "-".into())
}

pub fn render(f: &mut Frame, area: Rect, app: &App, theme: &Theme, clock: &Clock) {
    let st = &app.assign;
    let area = if st.running.is_some() {
        let [g, rest] = Layout::vertical([Constraint::Length(4), Constraint::Min(3)]).areas(area);
        render_gauge(f, g, app, theme, clock);
        rest
    } else {
        area
    };
    match &st.view {
        View::Table => render_table(f, area, app, theme, clock),
        View::Matrix(a) => render_matrix(f, area, app, a, theme, clock),
        View::Audit => render_lines(
            f,
            area,
            "Audit log · Esc back · j/k scroll",
            audit_lines(st),
            st.scroll,
            theme,
            clock,
        ),
        View::Result => {
            let title = match &st.finished {
                Some(fin) => format!(
                    "Result: {} — {} · Esc back",
                    fin.req.label(),
                    fin.outcome_word()
                ),
                None => "Result".into(),
            };
            render_lines(
                f,
                area,
                &title,
                result_lines(st, app.now),
                st.scroll,
                theme,
                clock,
            )
        }
    }
}

/// ETA from the rate so far (bytes if known, else files, else students).
pub fn eta_secs(r: &Running, now: DateTime<Utc>) -> Option<i64> {
    let p = r.last.as_ref()?;
    let first = r.first_at?;
    let frac = ratio(p);
    let elapsed = (now - first).num_milliseconds() as f64 / 1000.0;
    if frac <= 0.0 || frac >= 1.0 || elapsed <= 0.0 {
        return None;
    }
    Some((elapsed * (1.0 - frac) / frac).round() as i64)
}

fn ratio(p: &Progress) -> f64 {
    let (d, t) = if p.bytes_total > 0 {
        (p.bytes_done, p.bytes_total)
    } else if p.files_total > 0 {
        (p.files_done, p.files_total)
    } else {
        (p.students_done as u64, p.students_total as u64)
    };
    if t == 0 {
        0.0
    } else {
        (d.min(t) as f64 / t as f64).clamp(0.0, 1.0)
    }
}

fn render_gauge(f: &mut Frame, area: Rect, app: &App, theme: &Theme, clock: &Clock) {
    let Some(r) = &app.assign.running else {
        return;
    };
    let whom = if r.req.students.is_empty() {
        String::new()
    } else {
        format!(" ({})", r.req.students.join(", "))
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::from(vec![
            Span::styled(
                format!(" {} {}{whom} ", r.req.verb_ing(), r.req.assignment),
                theme.title,
            ),
            Span::styled(format!("since {} ", clock.hms(r.confirmed_at)), theme.dim),
        ]));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [g, info] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(inner);
    let Some(p) = &r.last else {
        f.render_widget(
            Paragraph::new(Span::styled(
                "starting: taking the course lock, reading the roster…",
                theme.warn,
            )),
            g,
        );
        return;
    };
    let frac = ratio(p);
    let label = format!(
        "{}/{} files · {}/{} · {:.0}%",
        p.files_done,
        p.files_total,
        human(p.bytes_done),
        human(p.bytes_total),
        frac * 100.0
    );
    f.render_widget(
        Gauge::default()
            .ratio(frac)
            .label(label)
            .gauge_style(theme.title),
        g,
    );
    let eta = match eta_secs(r, app.now) {
        Some(s) => format!("ETA {}", short_duration(s)),
        None => "ETA …".into(),
    };
    let mut text = format!("{}/{} students · {eta}", p.students_done, p.students_total);
    if let Some(s) = &p.student {
        text.push_str(&format!(" · last: {}", clean(s)));
    }
    f.render_widget(Paragraph::new(text), info);
}

fn n_of(n: usize, total: usize, loaded: bool) -> String {
    if loaded {
        format!("{n}/{total}")
    } else {
        "…".into()
    }
}

fn render_table(f: &mut Frame, area: Rect, app: &App, theme: &Theme, clock: &Clock) {
    let st = &app.assign;
    let v = &st.table_view;
    let info_h = 5u16.min(area.height.saturating_sub(4));
    let [top, bottom] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(info_h)]).areas(area);
    let mut title = format!(
        "Assignments {} · {} ({})",
        st.rows.len(),
        if st.loaded {
            plural(st.students, "student", "students")
        } else {
            "… students".into()
        },
        st.roster_from
    );
    if !v.filter.is_empty() {
        title.push_str(&format!(" · /{} ({} shown)", v.filter, v.visible.len()));
    }
    if st.rows.is_empty() {
        f.render_widget(
            Paragraph::new(
                "no assignments declared: add [[assignments.assignment]] blocks (name, due) to the config",
            )
            .wrap(Wrap { trim: false })
            .block(panel_block(&title, Some(&st.src), clock, theme)),
            area,
        );
        return;
    }
    let h = top.height.saturating_sub(3) as usize;
    let (from, to) = super::window(v.selected, v.visible.len(), h);
    let rows: Vec<Row> = v.visible[from..to]
        .iter()
        .map(|&i| {
            let r = &st.rows[i];
            let overdue = r.due.is_some_and(|d| d <= app.now);
            let late = if st.loaded {
                r.late.to_string()
            } else {
                "…".into()
            };
            let missing = if !st.loaded {
                Span::raw("…")
            } else if overdue && r.missing > 0 {
                Span::styled(r.missing.to_string(), theme.bad)
            } else {
                Span::raw(r.missing.to_string())
            };
            Row::new(vec![
                Cell::from(clean(&r.name)),
                Cell::from(Span::styled(
                    stamp(clock, r.due),
                    if overdue {
                        theme.warn
                    } else {
                        Style::default()
                    },
                )),
                Cell::from(stamp(clock, r.released_at)),
                Cell::from(n_of(r.released, r.students, st.loaded)),
                Cell::from(n_of(r.collected, r.students, st.loaded)),
                Cell::from(Span::styled(
                    late,
                    if r.late > 0 {
                        theme.warn
                    } else {
                        Style::default()
                    },
                )),
                Cell::from(missing),
            ])
        })
        .collect();
    // Sized to the names: on a wide screen the numbers stay next to them.
    let name_w = st
        .rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0);
    let table = Table::new(
        rows,
        [
            Constraint::Length((name_w as u16).clamp(10, 32)),
            Constraint::Length(11),
            Constraint::Length(11),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(5),
            Constraint::Length(7),
        ],
    )
    .header(
        Row::new([
            "ASSIGNMENT",
            "DUE",
            "RELEASED AT",
            "RELEASED",
            "COLLECTED",
            "LATE",
            "MISSING",
        ])
        .style(theme.table_header),
    )
    .row_highlight_style(theme.selected)
    .highlight_symbol("▶ ")
    .block(panel_block(&title, Some(&st.src), clock, theme));
    let mut ts = TableState::default().with_selected(if v.visible.is_empty() {
        None
    } else {
        Some(v.selected - from)
    });
    f.render_stateful_widget(table, top, &mut ts);

    // The selected assignment's facts and the last operation.
    let mut lines = Vec::new();
    if let Some(r) = st.selected_row() {
        let d = st.declared(&r.name);
        let due = match r.due {
            Some(due) if due <= app.now => format!(
                "due {} ({} ago)",
                clock.stamp(due),
                short_duration((app.now - due).num_seconds())
            ),
            Some(due) => format!(
                "due {} (in {})",
                clock.stamp(due),
                short_duration((due - app.now).num_seconds())
            ),
            None => "no due date".into(),
        };
        let window = d
            .and_then(|d| d.late_window)
            .map(|w| format!(" · late window {}", humantime::format_duration(w)))
            .unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled(clean(&r.name), theme.title),
            Span::raw(format!(": {due}{window}")),
        ]));
    }
    if !st.rejected.is_empty() {
        lines.push(Line::styled(
            format!(
                "{} refused (not path-safe): see `coursectl release --dry-run`",
                plural(st.rejected.len(), "roster name", "roster names")
            ),
            theme.warn,
        ));
    }
    if let Some(fin) = &st.finished {
        lines.push(Line::from(vec![
            Span::styled("last: ", theme.dim),
            Span::raw(format!("{} at {} — ", fin.req.command(), clock.hms(fin.at))),
            Span::styled(
                format!("{} (exit {})", fin.outcome_word(), fin.exit_code()),
                theme.state(match fin.exit_code() {
                    0 => Some(true),
                    3 => None,
                    _ => Some(false),
                }),
            ),
        ]));
    }
    if let Some(p) = &st.planning {
        lines.push(Line::styled(format!("planning {}…", p.label()), theme.warn));
    } else if !app.read_only && st.finished.is_none() {
        lines.push(Line::styled(
            "Enter: students · R/C/F release/collect/return to the class (in the matrix: one student) · A audit",
            theme.dim,
        ));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::default().borders(Borders::ALL)),
        bottom,
    );
}

fn render_matrix(f: &mut Frame, area: Rect, app: &App, a: &str, theme: &Theme, clock: &Clock) {
    let st = &app.assign;
    let v = &st.matrix_view;
    let mut title = format!("{} · students", clean(a));
    let Some(rows) = st.matrix_rows() else {
        f.render_widget(
            Paragraph::new("loading the student matrix…").block(panel_block(
                &title,
                Some(&st.src),
                clock,
                theme,
            )),
            area,
        );
        return;
    };
    title.push_str(&format!(" {}", rows.len()));
    if !v.filter.is_empty() {
        title.push_str(&format!(" · /{} ({} shown)", v.filter, v.visible.len()));
    }
    let h = area.height.saturating_sub(3) as usize;
    let (from, to) = super::window(v.selected, v.visible.len(), h);
    let table_rows: Vec<Row> = v.visible[from..to]
        .iter()
        .map(|&i| {
            let r = &rows[i];
            let released = match r.released_at {
                Some(t) => Span::raw(clock.stamp(t)),
                None => Span::styled("no", theme.warn),
            };
            let modified = match r.modified_since_release {
                Some(true) => Span::raw("yes"),
                Some(false) => Span::styled("no", theme.dim),
                None => Span::raw("-"),
            };
            let collected = match &r.current_version {
                Some(_) => Span::styled(format!("yes ({})", r.versions), theme.ok),
                None if r.versions > 0 => Span::styled(format!("old ({})", r.versions), theme.warn),
                None => Span::styled("missing", theme.bad),
            };
            let late = match r.late {
                Some(true) => Span::styled("LATE", theme.warn),
                Some(false) => Span::styled("on time", theme.ok),
                None => Span::raw("-"),
            };
            Row::new(vec![
                Cell::from(clean(&r.student)),
                Cell::from(released),
                Cell::from(modified),
                Cell::from(collected),
                Cell::from(stamp(clock, r.submitted_at)),
                Cell::from(late),
            ])
        })
        .collect();
    let block = panel_block(&title, Some(&st.src), clock, theme).title_bottom(Line::styled(
        " R/C/F: this student only · Esc back ",
        theme.dim,
    ));
    let name_w = rows
        .iter()
        .map(|r| r.student.chars().count())
        .max()
        .unwrap_or(0);
    let table = Table::new(
        table_rows,
        [
            Constraint::Length((name_w as u16).clamp(10, 32)),
            Constraint::Length(11),
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(11),
            Constraint::Length(7),
        ],
    )
    .header(
        Row::new([
            "STUDENT",
            "RELEASED",
            "MODIFIED",
            "COLLECTED",
            "SUBMITTED",
            "LATE",
        ])
        .style(theme.table_header),
    )
    .row_highlight_style(theme.selected)
    .highlight_symbol("▶ ")
    .block(block);
    let mut ts = TableState::default().with_selected(if v.visible.is_empty() {
        None
    } else {
        Some(v.selected - from)
    });
    f.render_stateful_widget(table, area, &mut ts);
}

fn render_lines(
    f: &mut Frame,
    area: Rect,
    title: &str,
    lines: Vec<(String, Tone)>,
    scroll: usize,
    theme: &Theme,
    clock: &Clock,
) {
    // Long problem details wrap (80 columns); j/k scroll by source line.
    let from = scroll.min(lines.len().saturating_sub(1));
    let text: Vec<Line> = lines
        .into_iter()
        .skip(from)
        .map(|(s, t)| Line::styled(s, style(t, theme)))
        .collect();
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(panel_block(title, None, clock, theme)),
        area,
    );
}
