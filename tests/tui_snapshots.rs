//! Rendered screens of every panel (and the dialogs) at 80x24 and 200x50,
//! with fixed fake data and a fixed clock, on ratatui's TestBackend.

use coursectl::tui::app::{App, Msg, Panel};
use coursectl::tui::fixtures;
use coursectl::tui::theme::Theme;
use coursectl::tui::view::{self, Clock};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use rstest::rstest;

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(f, app, &Theme::new(true), &Clock::utc()))
        .unwrap();
    t.backend().to_string()
}

fn key(app: &mut App, c: KeyCode) {
    app.update(Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)));
}

fn app_on(panel: Panel) -> App {
    let mut app = fixtures::app(30, 3);
    key(
        &mut app,
        KeyCode::Char(char::from(b'1' + panel.index() as u8)),
    );
    app
}

#[rstest]
#[case::overview(Panel::Overview)]
#[case::nodes(Panel::Nodes)]
#[case::users(Panel::Users)]
#[case::assignments(Panel::Assignments)]
#[case::culling(Panel::Culling)]
#[case::backups(Panel::Backups)]
#[case::logs(Panel::Logs)]
fn panels(#[case] panel: Panel, #[values((80, 24), (200, 50))] size: (u16, u16)) {
    let app = app_on(panel);
    let name = format!("{}_{}x{}", panel.title().to_lowercase(), size.0, size.1);
    insta::assert_snapshot!(name, render(&app, size.0, size.1));
}

#[test]
fn help_overlay_80x24() {
    let mut app = app_on(Panel::Users);
    key(&mut app, KeyCode::Char('?'));
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn drain_confirmation_80x24() {
    let mut app = app_on(Panel::Nodes);
    key(&mut app, KeyCode::Char('d'));
    insta::assert_snapshot!(render(&app, 80, 24));
}

#[test]
fn stop_confirmation_and_user_details_200x50() {
    let mut app = app_on(Panel::Users);
    key(&mut app, KeyCode::Enter);
    app.update(Msg::UserHistory {
        user: app.selected_user().unwrap().name.clone(),
        result: Ok(vec![
            fixtures::now().timestamp() - 7200,
            fixtures::now().timestamp() - 600,
        ]),
    });
    insta::assert_snapshot!("user_details_200x50", render(&app, 200, 50));
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('x'));
    insta::assert_snapshot!("stop_confirmation_200x50", render(&app, 200, 50));
}

#[test]
fn stale_sources_are_marked_80x24() {
    let mut app = app_on(Panel::Users);
    let at = fixtures::now() + chrono::Duration::seconds(30);
    app.update(Msg::Users {
        gen: 2,
        at,
        result: Err(
            "hub API http://127.0.0.1:8081/hub/api/users unreachable: connection refused".into(),
        ),
    });
    app.update(Msg::Placement {
        gen: 2,
        at,
        result: Err("Docker socket /nope.sock does not exist".into()),
    });
    insta::assert_snapshot!("users_stale_80x24", render(&app, 80, 24));
    key(&mut app, KeyCode::Char('2'));
    insta::assert_snapshot!("nodes_stale_80x24", render(&app, 80, 24));
}

#[test]
fn read_only_hides_actions_80x24() {
    let mut cfg = coursectl::config::Config::default();
    cfg.course.name = "RO".into();
    let mut app = fixtures::app(30, 3);
    app.read_only = true;
    key(&mut app, KeyCode::Char('3'));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("READ-ONLY"));
    assert!(!screen.contains(" stop "));
    key(&mut app, KeyCode::Char('x'));
    assert_eq!(app.mode, coursectl::tui::app::Mode::Normal);
}
