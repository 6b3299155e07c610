//! The Assignments panel: flows through `App::update` (pure: keys and the
//! runtime's messages in, state and effects out) and rendered screens of the
//! table, matrix, confirmation, gauge and result at 80x24 and 200x50.

use coursectl::course::audit::AuditRecord;
use coursectl::course::{Operation, Progress};
use coursectl::tui::app::{App, Effect, Mode, Msg, Panel};
use coursectl::tui::fixtures;
use coursectl::tui::keymap;
use coursectl::tui::panels::assignments::{
    eta_secs, result_lines, AssignEffect, AssignMsg, OpRequest, View,
};
use coursectl::tui::theme::Theme;
use coursectl::tui::view::{self, Clock};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use rstest::rstest;

fn key(app: &mut App, c: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)))
}

/// Upper-case keys arrive with SHIFT from a terminal.
fn shift(app: &mut App, c: char) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::SHIFT,
    )))
}

fn chars(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn on_panel(n: usize) -> App {
    let mut app = fixtures::app(n, 3);
    key(&mut app, KeyCode::Char('4'));
    assert_eq!(app.panel, Panel::Assignments);
    app
}

fn req(op: Operation, students: &[&str]) -> OpRequest {
    OpRequest {
        op,
        assignment: "ps1".into(),
        students: students.iter().map(|s| s.to_string()).collect(),
    }
}

fn status(app: &mut App, gen: u64, n: usize, matrix: Option<&str>) {
    app.update(Msg::Assign(AssignMsg::Status {
        gen,
        at: fixtures::now(),
        result: Ok(fixtures::assignment_status(n, matrix)),
    }));
}

/// In the matrix of ps1, with its rows loaded.
fn in_matrix(n: usize) -> App {
    let mut app = on_panel(n);
    key(&mut app, KeyCode::Enter);
    status(&mut app, 2, n, Some("ps1"));
    app
}

/// R, then the plan arrives: the confirmation is open.
fn planned_release(app: &mut App, n: usize) {
    let fx = shift(app, 'R');
    assert_eq!(
        fx,
        vec![Effect::Assign(AssignEffect::Plan(req(
            Operation::Release,
            &[]
        )))]
    );
    app.update(Msg::Assign(AssignMsg::Planned {
        req: req(Operation::Release, &[]),
        result: Ok(fixtures::release_plan(n)),
    }));
}

/// A release confirmed and running, with one progress event 10 s ago.
fn running_release(n: usize) -> App {
    let mut app = on_panel(n);
    planned_release(&mut app, n);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Enter);
    let t0 = fixtures::now() - chrono::Duration::seconds(10);
    let total_files = 19 * n as u64;
    let p = |students_done: usize, files_done: u64| Progress {
        operation: Operation::Release,
        student: students_done.checked_sub(1).map(fixtures::user_name),
        students_done,
        students_total: n,
        files_done,
        files_total: total_files,
        bytes_done: files_done * 40_000,
        bytes_total: total_files * 40_000,
    };
    app.update(Msg::Assign(AssignMsg::Progress {
        at: t0,
        progress: p(0, 0),
    }));
    app.update(Msg::Assign(AssignMsg::Progress {
        at: fixtures::now(),
        progress: p(n / 4, total_files / 4),
    }));
    app
}

fn finished_release(n: usize) -> App {
    let mut app = running_release(n);
    app.update(Msg::Assign(AssignMsg::Done {
        req: req(Operation::Release, &[]),
        at: fixtures::now(),
        result: Ok(fixtures::release_report(10)),
    }));
    app
}

#[test]
fn entering_the_panel_starts_the_status_poller_and_leaving_stops_it() {
    let mut app = fixtures::app(30, 3);
    assert_eq!(
        key(&mut app, KeyCode::Char('4')),
        vec![Effect::Assign(AssignEffect::Want {
            active: true,
            matrix: None
        })]
    );
    assert_eq!(app.assign.rows.len(), 4);
    assert_eq!(app.assign.selected_row().unwrap().name, "ps1");
    assert_eq!(
        key(&mut app, KeyCode::Char('3')),
        vec![Effect::Assign(AssignEffect::Want {
            active: false,
            matrix: None
        })]
    );
}

#[test]
fn enter_opens_the_matrix_filter_narrows_and_esc_goes_back() {
    let mut app = on_panel(30);
    let fx = key(&mut app, KeyCode::Enter);
    assert_eq!(
        fx,
        vec![
            Effect::Assign(AssignEffect::Want {
                active: true,
                matrix: Some("ps1".into())
            }),
            Effect::Assign(AssignEffect::Refresh)
        ]
    );
    assert_eq!(app.assign.view, View::Matrix("ps1".into()));
    assert!(
        app.assign.matrix_rows().is_none(),
        "loading until the poller answers"
    );
    status(&mut app, 2, 30, Some("ps1"));
    assert_eq!(app.assign.matrix_rows().unwrap().len(), 30);
    // Filter by state words as well as names.
    key(&mut app, KeyCode::Char('/'));
    chars(&mut app, "late");
    key(&mut app, KeyCode::Enter);
    let late: Vec<_> = app
        .assign
        .matrix_view
        .visible
        .iter()
        .map(|&i| app.assign.matrix_rows().unwrap()[i].student.clone())
        .collect();
    assert_eq!(late, vec!["student0003", "student0013", "student0023"]);
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(
        app.assign.selected_student().unwrap().student,
        "student0013"
    );
    // Esc clears the filter first (selection stays on the same student), then goes back.
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.assign.matrix_view.visible.len(), 30);
    assert_eq!(
        app.assign.selected_student().unwrap().student,
        "student0013"
    );
    let fx = key(&mut app, KeyCode::Esc);
    assert_eq!(app.assign.view, View::Table);
    assert_eq!(
        fx,
        vec![Effect::Assign(AssignEffect::Want {
            active: true,
            matrix: None
        })]
    );
    // A matrix of an assignment no longer shown is not applied.
    status(&mut app, 3, 30, Some("ps1"));
    assert!(app.assign.matrix_rows().is_none());
}

#[test]
fn release_confirmation_shows_the_plans_counts_with_cancel_focused() {
    let mut app = on_panel(212);
    planned_release(&mut app, 212);
    let Mode::Confirm(c) = app.mode.clone() else {
        panic!("expected the confirmation, got {:?}", app.mode)
    };
    assert_eq!(
        c.lines[0],
        "Release ps1 to 212 students: 19 files each, 3 students already have it (their files are left alone)."
    );
    assert_eq!(c.lines[1], "4022 files to copy (153.4 MB) into 212 homes.");
    assert_eq!(c.command, "coursectl release ps1");
    assert!(!c.focus_confirm, "Cancel has the focus");
    // Enter on Cancel: nothing runs.
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.assign.running.is_none());
    // Again, and confirm.
    planned_release(&mut app, 212);
    key(&mut app, KeyCode::Tab);
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::Assign(AssignEffect::Run(req(
            Operation::Release,
            &[]
        )))]
    );
    assert!(app.assign.running.is_some());
}

#[test]
fn in_the_matrix_actions_are_for_the_selected_student() {
    let mut app = in_matrix(30);
    key(&mut app, KeyCode::Char('j'));
    let fx = shift(&mut app, 'C');
    let want = req(Operation::Collect, &["student0001"]);
    assert_eq!(fx, vec![Effect::Assign(AssignEffect::Plan(want.clone()))]);
    let plan = coursectl::course::OpReport::new(
        Operation::Collect,
        "ps1",
        true,
        fixtures::now(),
        vec![fixtures::student_report(
            "student0001",
            "would-collect",
            4,
            2048,
        )],
    );
    app.update(Msg::Assign(AssignMsg::Planned {
        req: want,
        result: Ok(plan),
    }));
    let Mode::Confirm(c) = app.mode.clone() else {
        panic!("expected the confirmation")
    };
    assert_eq!(c.title, "Collect ps1 for student0001?");
    assert_eq!(c.command, "coursectl collect ps1 --student student0001");
    assert_eq!(
        c.lines[0],
        "Collect ps1 from 1 student: 1 with work (4 files, 2.0 KB), 0 missing."
    );
    assert!(c.lines[1].starts_with("Due 2026-02-28 14:30 UTC (2d00h ago); late window 2h"));
}

#[test]
fn a_failed_plan_says_why_and_opens_nothing() {
    let mut app = on_panel(30);
    shift(&mut app, 'F');
    app.update(Msg::Assign(AssignMsg::Planned {
        req: req(Operation::Return, &[]),
        result: Err("roster from the hub: connection refused".into()),
    }));
    assert_eq!(app.mode, Mode::Normal);
    assert!(app
        .toast
        .as_ref()
        .unwrap()
        .0
        .contains("return ps1 FAILED: roster from the hub"));
    assert!(app.assign.planning.is_none());
}

#[test]
fn progress_moves_the_gauge_and_gives_an_eta() {
    let mut app = running_release(200);
    let r = app.assign.running.clone().unwrap();
    let p = r.last.clone().unwrap();
    assert_eq!((p.files_done, p.files_total), (950, 3800));
    // A quarter done in 10 s: 30 s to go.
    assert_eq!(eta_secs(&r, fixtures::now()), Some(30));
    app.update(Msg::Tick(fixtures::now() + chrono::Duration::seconds(2)));
    assert_eq!(
        eta_secs(app.assign.running.as_ref().unwrap(), app.now),
        Some(36)
    );
}

#[test]
fn a_second_operation_is_refused_while_one_runs() {
    let mut app = running_release(30);
    assert!(shift(&mut app, 'C').is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert!(app
        .toast
        .as_ref()
        .unwrap()
        .0
        .starts_with("busy: release ps1 is running"));
    // Other panels stay usable meanwhile.
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.users_view.selected, 1);
}

#[test]
fn the_result_lists_per_student_problems_and_the_exit_code() {
    let app = finished_release(30);
    assert!(app.assign.running.is_none());
    assert_eq!(app.assign.view, View::Result);
    let f = app.assign.finished.as_ref().unwrap();
    assert_eq!((f.exit_code(), f.outcome_word()), (3, "PARTLY DONE"));
    let text: Vec<String> = result_lines(&app.assign, app.now)
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert!(
        text[0].starts_with("coursectl release ps1: PARTLY DONE (exit 3)"),
        "{text:?}"
    );
    assert!(text.contains(&"problems (2):".to_string()), "{text:?}");
    assert!(text
        .iter()
        .any(|l| l.starts_with("  student0004: ps1: home-symlink (<home>/ps1 is a symlink")));
    assert!(text
        .iter()
        .any(|l| l.starts_with("  student0007: : home-missing")));
    assert!(text
        .iter()
        .any(|l| l.starts_with("notes (1, not problems):")));
    assert!(app
        .toast
        .as_ref()
        .unwrap()
        .0
        .contains("PARTLY DONE (exit 3)"));
}

#[test]
fn the_operation_refreshes_status_when_done() {
    let mut app = running_release(30);
    let fx = app.update(Msg::Assign(AssignMsg::Done {
        req: req(Operation::Release, &[]),
        at: fixtures::now(),
        result: Ok(fixtures::release_report(3)),
    }));
    assert_eq!(fx, vec![Effect::Assign(AssignEffect::Refresh)]);
    let f = app.assign.finished.as_ref().unwrap();
    assert_eq!((f.exit_code(), f.outcome_word()), (0, "ok"));
}

#[test]
fn a_busy_course_lock_is_shown_as_busy() {
    let mut app = running_release(30);
    app.update(Msg::Assign(AssignMsg::Done {
        req: req(Operation::Release, &[]),
        at: fixtures::now(),
        result: Err(
            "busy: another coursectl operation holds the course lock (coursectl collect ps1 (pid 42))"
                .into(),
        ),
    }));
    let toast = &app.toast.as_ref().unwrap().0;
    assert!(
        toast.starts_with("busy: another coursectl operation holds the course lock"),
        "{toast}"
    );
    let f = app.assign.finished.as_ref().unwrap();
    assert_eq!((f.exit_code(), f.outcome_word()), (4, "BUSY"));
    let lines = result_lines(&app.assign, app.now);
    assert!(lines[1]
        .0
        .starts_with("nothing was done: busy: another coursectl"));
    // Not running any more: a new request is allowed.
    assert_eq!(shift(&mut app, 'R').len(), 1);
}

#[test]
fn read_only_hides_the_actions_but_not_the_audit_log() {
    let mut app = on_panel(30);
    app.read_only = true;
    for c in ['R', 'C', 'F'] {
        assert!(shift(&mut app, c).is_empty(), "{c}");
        assert_eq!(app.mode, Mode::Normal);
    }
    let hints: Vec<_> = keymap::hints(Panel::Assignments, true)
        .into_iter()
        .map(|(_, h)| h)
        .collect();
    assert!(!hints.contains(&"release") && !hints.contains(&"collect"));
    assert!(hints.contains(&"audit"));
    assert_eq!(
        shift(&mut app, 'A'),
        vec![Effect::Assign(AssignEffect::LoadAudit)]
    );
    assert_eq!(app.assign.view, View::Audit);
}

#[test]
fn the_plan_is_dropped_when_the_operator_left_the_panel() {
    let mut app = on_panel(30);
    shift(&mut app, 'R');
    key(&mut app, KeyCode::Char('3'));
    app.update(Msg::Assign(AssignMsg::Planned {
        req: req(Operation::Release, &[]),
        result: Ok(fixtures::release_plan(30)),
    }));
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.toast.as_ref().unwrap().0.contains("plan dropped"));
}

#[test]
fn older_status_is_dropped_and_errors_mark_it_stale() {
    let mut app = on_panel(30);
    status(&mut app, 5, 40, None);
    assert_eq!(app.assign.students, 40);
    status(&mut app, 4, 10, None);
    assert_eq!(app.assign.students, 40, "an older generation never wins");
    app.update(Msg::Assign(AssignMsg::Status {
        gen: 6,
        at: fixtures::now(),
        result: Err("roster CSV /x.csv: missing".into()),
    }));
    assert!(app.assign.src.is_stale());
    assert_eq!(app.assign.rows[0].collected, 36, "rows kept while stale");
    // `r` on this panel also reloads the assignments.
    assert!(key(&mut app, KeyCode::Char('r')).contains(&Effect::Assign(AssignEffect::Refresh)));
}

fn audit_record(op: &str, exit_code: u8, problems: Vec<String>) -> AuditRecord {
    AuditRecord {
        at: fixtures::now() - chrono::Duration::minutes(5),
        operation: op.into(),
        assignment: "ps1".into(),
        uid: 0,
        user: Some("teacher".into()),
        students: 30,
        files: 570,
        bytes: 22_800_000,
        missing: 1,
        with_problems: problems.len(),
        exit_code,
        problems,
    }
}

// ------------------------------------------------------------- snapshots

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(f, app, &Theme::new(true), &Clock::utc()))
        .unwrap();
    t.backend().to_string()
}

fn snap(name: &str, app: &App, size: (u16, u16)) {
    let screen = render(app, size.0, size.1);
    insta::assert_snapshot!(format!("{name}_{}x{}", size.0, size.1), screen);
}

#[rstest]
fn table(#[values((80, 24), (200, 50))] size: (u16, u16)) {
    let mut app = on_panel(30);
    key(&mut app, KeyCode::Char('j'));
    snap("assign_table", &app, size);
}

#[rstest]
fn matrix(#[values((80, 24), (200, 50))] size: (u16, u16)) {
    let app = in_matrix(30);
    snap("assign_matrix", &app, size);
}

#[rstest]
fn confirm(#[values((80, 24), (200, 50))] size: (u16, u16)) {
    let mut app = on_panel(212);
    planned_release(&mut app, 212);
    snap("assign_confirm", &app, size);
}

#[rstest]
fn gauge(#[values((80, 24), (200, 50))] size: (u16, u16)) {
    let app = running_release(212);
    snap("assign_running", &app, size);
}

#[rstest]
fn result_view(#[values((80, 24), (200, 50))] size: (u16, u16)) {
    let app = finished_release(30);
    snap("assign_result", &app, size);
}

#[test]
fn audit_log_80x24() {
    let mut app = on_panel(30);
    shift(&mut app, 'A');
    app.update(Msg::Assign(AssignMsg::Audit(Ok(vec![
        audit_record("release", 0, vec![]),
        audit_record("collect", 3, vec!["student0004: ps1: HomeSymlink".into()]),
    ]))));
    snap("assign_audit", &app, (80, 24));
}

#[test]
fn names_from_student_trees_cannot_steer_the_terminal() {
    let mut app = running_release(3);
    let mut report = fixtures::release_report(3);
    report.students[0]
        .problems
        .push(coursectl::course::Item::new(
            "evil\u{1b}[2Jname",
            coursectl::course::ItemKind::WriteFailed,
        ));
    report.totals.with_problems = 1;
    app.update(Msg::Assign(AssignMsg::Done {
        req: req(Operation::Release, &[]),
        at: fixtures::now(),
        result: Ok(report),
    }));
    let screen = render(&app, 200, 50);
    assert!(!screen.contains('\u{1b}'));
    assert!(screen.contains("evil\\u{1b}[2Jname"), "{screen}");
}

#[test]
fn esc_from_the_audit_log_returns_to_the_matrix_it_came_from() {
    let mut app = in_matrix(30);
    shift(&mut app, 'A');
    assert_eq!(app.assign.view, View::Audit);
    assert!(key(&mut app, KeyCode::Esc).is_empty());
    assert_eq!(app.assign.view, View::Matrix("ps1".into()));
    assert_eq!(app.assign.matrix_rows().unwrap().len(), 30);
}
