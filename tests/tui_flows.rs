//! User flows through `App::update` (pure, no terminal): keys, filter,
//! selection kept across refreshes, stale marking, generations, dialogs.

use coursectl::hub::{HubUser, UserListing};
use coursectl::swarm::NodeAvailability;
use coursectl::tui::app::{App, DetailsOf, Effect, Mode, Msg, Panel, Source, UserSort};
use coursectl::tui::fixtures;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn key(app: &mut App, c: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(c, KeyModifiers::NONE)))
}

fn chars(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn users_msg(gen: u64, users: Vec<HubUser>) -> Msg {
    Msg::Users {
        gen,
        at: fixtures::now(),
        result: Ok(UserListing {
            users,
            page_limit: 200,
            requests: 1,
        }),
    }
}

#[test]
fn tab_numbers_and_back_tab_move_between_panels() {
    let mut app = fixtures::app(10, 2);
    assert_eq!(app.panel, Panel::Overview);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.panel, Panel::Nodes);
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.panel, Panel::Logs);
    key(&mut app, KeyCode::Char('3'));
    assert_eq!(app.panel, Panel::Users);
    assert_eq!(key(&mut app, KeyCode::Char('q')), vec![Effect::Quit]);
    assert!(app.quit);
}

#[test]
fn filter_narrows_keeps_and_esc_clears_first() {
    let mut app = fixtures::app(200, 3);
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('/'));
    assert_eq!(app.mode, Mode::Filter);
    chars(&mut app, "student001");
    assert_eq!(app.users_view.visible.len(), 10);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.users_view.filter, "student001");
    // j/k now move inside the filtered rows.
    key(&mut app, KeyCode::Char('G'));
    assert!(app.selected_user().unwrap().name.starts_with("student001"));
    // Esc clears the filter before anything else.
    key(&mut app, KeyCode::Esc);
    assert!(app.users_view.filter.is_empty());
    assert_eq!(app.users_view.visible.len(), 200);
    assert_eq!(app.panel, Panel::Users);
}

#[test]
fn filter_matches_state_and_node_words() {
    let mut app = fixtures::app(50, 3);
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('/'));
    chars(&mut app, "spawning");
    assert!(app
        .users_view
        .visible
        .iter()
        .all(|&i| app.user_rows[i].state.word() == "spawning"));
    assert!(!app.users_view.visible.is_empty());
}

#[test]
fn selection_follows_the_same_user_across_refreshes() {
    let mut app = fixtures::app(40, 3);
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('o')); // sort by name
    assert_eq!(app.user_sort, UserSort::Name);
    for _ in 0..5 {
        key(&mut app, KeyCode::Char('j'));
    }
    assert_eq!(app.selected_user().unwrap().name, "student0005");
    // New users appear before it, one disappears: the selection stays on student0005.
    let mut users = app.users.clone();
    users.remove(1);
    for extra in ["aaron", "abby", "adam"] {
        users.push(serde_json::from_value(serde_json::json!({"name": extra})).unwrap());
    }
    app.update(users_msg(2, users));
    assert_eq!(app.selected_user().unwrap().name, "student0005");
    // The selected user vanishes: the selection stays at the same position.
    let pos = app.users_view.selected;
    let users: Vec<HubUser> = app
        .users
        .iter()
        .filter(|u| u.name != "student0005")
        .cloned()
        .collect();
    app.update(users_msg(3, users));
    assert_eq!(app.users_view.selected, pos);
    assert_ne!(app.selected_user().unwrap().name, "student0005");
}

#[test]
fn failures_mark_stale_keep_data_and_recover() {
    let mut app = fixtures::app(20, 3);
    let before = app.user_rows.len();
    let later = fixtures::now() + chrono::Duration::seconds(12);
    app.update(Msg::Users {
        gen: 2,
        at: later,
        result: Err("hub API unreachable: connection refused".into()),
    });
    assert!(app.hub.is_stale());
    assert_eq!(app.hub.stale_since, Some(fixtures::now()));
    assert_eq!(app.user_rows.len(), before, "old rows stay on screen");
    // A second failure does not move "stale since".
    app.update(Msg::Users {
        gen: 3,
        at: later + chrono::Duration::seconds(10),
        result: Err("still down".into()),
    });
    assert_eq!(app.hub.stale_since, Some(fixtures::now()));
    let users = app.users.clone();
    app.update(Msg::Users {
        gen: 4,
        at: later + chrono::Duration::seconds(20),
        result: Ok(UserListing {
            users,
            page_limit: 200,
            requests: 1,
        }),
    });
    assert!(!app.hub.is_stale());
    assert_eq!(app.hub.stale_since, None);
}

#[test]
fn older_generations_are_dropped() {
    let mut app = fixtures::app(20, 3);
    app.update(users_msg(5, app.users[..3].to_vec()));
    assert_eq!(app.user_rows.len(), 3);
    app.update(users_msg(4, app.users.clone()));
    assert_eq!(app.user_rows.len(), 3, "a late older result must not win");
}

#[test]
fn stop_asks_with_cancel_focused() {
    let mut app = fixtures::app(20, 3);
    key(&mut app, KeyCode::Char('3'));
    let name = app.selected_user().unwrap().name.clone();
    assert!(key(&mut app, KeyCode::Char('x')).is_empty());
    let Mode::Confirm(c) = &app.mode else {
        panic!("expected a confirmation, got {:?}", app.mode)
    };
    assert!(!c.focus_confirm);
    assert_eq!(c.command, format!("coursectl server stop {name}"));
    // Enter on the focused Cancel does nothing.
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    key(&mut app, KeyCode::Char('x'));
    key(&mut app, KeyCode::Tab);
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::StopServer(name)]
    );
}

#[test]
fn drain_lists_the_students_that_move() {
    let mut app = fixtures::app(30, 3);
    key(&mut app, KeyCode::Char('2'));
    let node = app.selected_node().unwrap().clone();
    key(&mut app, KeyCode::Char('d'));
    let Mode::Confirm(c) = app.mode.clone() else {
        panic!("expected a confirmation")
    };
    assert_eq!(
        c.command,
        format!("docker node update --availability drain {}", node.hostname)
    );
    let students = app
        .placement
        .as_ref()
        .unwrap()
        .containers_on(&node.id)
        .count();
    assert!(c.lines[0].starts_with(&format!("{students} students")));
    key(&mut app, KeyCode::Right);
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::SetAvailability {
            node_id: node.id,
            hostname: node.hostname,
            availability: NodeAvailability::Drain
        }]
    );
}

#[test]
fn enter_opens_details_and_loads_history() {
    let mut app = fixtures::app(20, 3);
    key(&mut app, KeyCode::Char('3'));
    let name = app.selected_user().unwrap().name.clone();
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::LoadUserHistory(name.clone())]
    );
    assert_eq!(
        app.mode,
        Mode::Details {
            of: DetailsOf::User(name),
            scroll: 0
        }
    );
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn navigation_keys_and_refresh() {
    let mut app = fixtures::app(100, 3);
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::PageDown);
    assert_eq!(app.users_view.selected, 10);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char('k'));
    key(&mut app, KeyCode::Up);
    assert_eq!(app.users_view.selected, 9);
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(app.users_view.selected, 99);
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(app.users_view.selected, 0);
    assert_eq!(
        key(&mut app, KeyCode::Char('r')),
        vec![
            Effect::Refresh(Source::Hub),
            Effect::Refresh(Source::Docker),
            Effect::Refresh(Source::Proxy)
        ]
    );
}

#[test]
fn node_selection_asks_for_its_containers_stats() {
    let mut app = fixtures::app(30, 3);
    key(&mut app, KeyCode::Char('2'));
    // Nodes sorted by hostname: node2, node3, vm; the local engine is vm.
    let fx = key(&mut app, KeyCode::Char('G'));
    assert_eq!(app.selected_node().unwrap().hostname, "vm");
    match fx.as_slice() {
        [Effect::SampleStats(ids)] => assert!(!ids.is_empty()),
        other => panic!("expected stats sampling, got {other:?}"),
    }
    // Other nodes' containers are not reachable: nothing to sample.
    let fx = key(&mut app, KeyCode::Char('g'));
    assert_eq!(fx, vec![Effect::SampleStats(vec![])]);
}

#[test]
fn help_opens_and_any_key_closes() {
    let mut app = fixtures::app(5, 1);
    key(&mut app, KeyCode::Char('?'));
    assert_eq!(app.mode, Mode::Help);
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.mode, Mode::Normal);
}
