//! The one keymap: it decides what a key does, and generates the `?` help
//! and the hint bar, so the three can never disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::Panel;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    NextPanel,
    PrevPanel,
    GoPanel(usize),
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
    Filter,
    Enter,
    Back,
    Refresh,
    Sort,
    StartServer,
    StopServer,
    Drain,
    Activate,
    ToggleLog,
    Release,
    Collect,
    Return,
    AuditLog,
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    /// Lists: every panel with rows.
    Lists,
    Panel(Panel),
}

pub struct Binding {
    pub keys: &'static [(KeyCode, KeyModifiers)],
    /// As shown in help and hints.
    pub label: &'static str,
    pub action: Action,
    pub scope: Scope,
    /// Changes something: hidden with --read-only.
    pub mutates: bool,
    /// In the hint bar (short text), else only in `?` help.
    pub hint: Option<&'static str>,
    pub help: &'static str,
}

const N: KeyModifiers = KeyModifiers::NONE;
const S: KeyModifiers = KeyModifiers::SHIFT;
const C: KeyModifiers = KeyModifiers::CONTROL;

macro_rules! b {
    ($keys:expr, $label:expr, $action:expr, $scope:expr, $mutates:expr, $hint:expr, $help:expr) => {
        Binding {
            keys: $keys,
            label: $label,
            action: $action,
            scope: $scope,
            mutates: $mutates,
            hint: $hint,
            help: $help,
        }
    };
}

pub static BINDINGS: &[Binding] = &[
    b!(
        &[(KeyCode::Char('q'), N), (KeyCode::Char('c'), C)],
        "q",
        Action::Quit,
        Scope::Global,
        false,
        Some("quit"),
        "quit the console (hub and proxy keep running)"
    ),
    b!(
        &[(KeyCode::Char('?'), N), (KeyCode::Char('?'), S)],
        "?",
        Action::Help,
        Scope::Global,
        false,
        Some("help"),
        "this help"
    ),
    b!(
        &[(KeyCode::Tab, N)],
        "Tab",
        Action::NextPanel,
        Scope::Global,
        false,
        None,
        "next panel"
    ),
    b!(
        &[(KeyCode::BackTab, S), (KeyCode::BackTab, N)],
        "S-Tab",
        Action::PrevPanel,
        Scope::Global,
        false,
        None,
        "previous panel"
    ),
    b!(
        &[(KeyCode::Char('1'), N)],
        "1",
        Action::GoPanel(0),
        Scope::Global,
        false,
        None,
        "Overview"
    ),
    b!(
        &[(KeyCode::Char('2'), N)],
        "2",
        Action::GoPanel(1),
        Scope::Global,
        false,
        None,
        "Nodes"
    ),
    b!(
        &[(KeyCode::Char('3'), N)],
        "3",
        Action::GoPanel(2),
        Scope::Global,
        false,
        None,
        "Users"
    ),
    b!(
        &[(KeyCode::Char('4'), N)],
        "4",
        Action::GoPanel(3),
        Scope::Global,
        false,
        None,
        "Assignments"
    ),
    b!(
        &[(KeyCode::Char('5'), N)],
        "5",
        Action::GoPanel(4),
        Scope::Global,
        false,
        None,
        "Culling"
    ),
    b!(
        &[(KeyCode::Char('6'), N)],
        "6",
        Action::GoPanel(5),
        Scope::Global,
        false,
        None,
        "Backups"
    ),
    b!(
        &[(KeyCode::Char('7'), N)],
        "7",
        Action::GoPanel(6),
        Scope::Global,
        false,
        None,
        "Logs"
    ),
    b!(
        &[(KeyCode::Char('r'), N)],
        "r",
        Action::Refresh,
        Scope::Global,
        false,
        None,
        "refresh now"
    ),
    b!(
        &[(KeyCode::Char('k'), N), (KeyCode::Up, N)],
        "k/↑",
        Action::Up,
        Scope::Lists,
        false,
        None,
        "up"
    ),
    b!(
        &[(KeyCode::Char('j'), N), (KeyCode::Down, N)],
        "j/↓",
        Action::Down,
        Scope::Lists,
        false,
        Some("move"),
        "down"
    ),
    b!(
        &[(KeyCode::Char('g'), N), (KeyCode::Home, N)],
        "g",
        Action::Top,
        Scope::Lists,
        false,
        None,
        "first row"
    ),
    b!(
        &[
            (KeyCode::Char('G'), S),
            (KeyCode::Char('G'), N),
            (KeyCode::End, N)
        ],
        "G",
        Action::Bottom,
        Scope::Lists,
        false,
        None,
        "last row (Logs: follow)"
    ),
    b!(
        &[(KeyCode::PageUp, N)],
        "PgUp",
        Action::PageUp,
        Scope::Lists,
        false,
        None,
        "page up"
    ),
    b!(
        &[(KeyCode::PageDown, N)],
        "PgDn",
        Action::PageDown,
        Scope::Lists,
        false,
        None,
        "page down"
    ),
    b!(
        &[(KeyCode::Char('/'), N)],
        "/",
        Action::Filter,
        Scope::Lists,
        false,
        Some("filter"),
        "filter rows (Enter keeps, Esc clears)"
    ),
    b!(
        &[(KeyCode::Enter, N)],
        "Enter",
        Action::Enter,
        Scope::Lists,
        false,
        Some("details"),
        "details of the selected row"
    ),
    b!(
        &[(KeyCode::Esc, N)],
        "Esc",
        Action::Back,
        Scope::Global,
        false,
        None,
        "back: clear the filter, close a dialog"
    ),
    b!(
        &[(KeyCode::Char('o'), N)],
        "o",
        Action::Sort,
        Scope::Panel(Panel::Users),
        false,
        Some("sort"),
        "sort by last activity / name / state"
    ),
    b!(
        &[(KeyCode::Char('s'), N)],
        "s",
        Action::StartServer,
        Scope::Panel(Panel::Users),
        true,
        Some("start"),
        "start the user's server (POST users/NAME/server)"
    ),
    b!(
        &[(KeyCode::Char('x'), N)],
        "x",
        Action::StopServer,
        Scope::Panel(Panel::Users),
        true,
        Some("stop"),
        "stop the user's server, after confirmation"
    ),
    b!(
        &[(KeyCode::Char('d'), N)],
        "d",
        Action::Drain,
        Scope::Panel(Panel::Nodes),
        true,
        Some("drain"),
        "drain the node (its students' servers move), after confirmation"
    ),
    b!(
        &[(KeyCode::Char('a'), N)],
        "a",
        Action::Activate,
        Scope::Panel(Panel::Nodes),
        true,
        Some("activate"),
        "make the node active again"
    ),
    b!(
        &[(KeyCode::Char('t'), N)],
        "t",
        Action::ToggleLog,
        Scope::Panel(Panel::Logs),
        false,
        Some("hub/proxy"),
        "switch between the hub and proxy logs"
    ),
    // Upper case: release/collect/return touch every home, so no slip of a finger.
    b!(
        &[(KeyCode::Char('R'), S), (KeyCode::Char('R'), N)],
        "R",
        Action::Release,
        Scope::Panel(Panel::Assignments),
        true,
        Some("release"),
        "release the assignment (in the matrix: to the selected student), after confirmation"
    ),
    b!(
        &[(KeyCode::Char('C'), S), (KeyCode::Char('C'), N)],
        "C",
        Action::Collect,
        Scope::Panel(Panel::Assignments),
        true,
        Some("collect"),
        "collect the assignment (in the matrix: from the selected student), after confirmation"
    ),
    b!(
        &[(KeyCode::Char('F'), S), (KeyCode::Char('F'), N)],
        "F",
        Action::Return,
        Scope::Panel(Panel::Assignments),
        true,
        Some("return"),
        "return feedback (in the matrix: to the selected student), after confirmation"
    ),
    b!(
        &[(KeyCode::Char('A'), S), (KeyCode::Char('A'), N)],
        "A",
        Action::AuditLog,
        Scope::Panel(Panel::Assignments),
        false,
        Some("audit"),
        "the audit log: every release / collect / return"
    ),
];

fn applies(b: &Binding, panel: Panel, read_only: bool) -> bool {
    if read_only && b.mutates {
        return false;
    }
    match b.scope {
        Scope::Global => true,
        Scope::Lists => panel.has_list(),
        Scope::Panel(p) => p == panel,
    }
}

/// The action of a key on `panel`, if any.
pub fn lookup(key: &KeyEvent, panel: Panel, read_only: bool) -> Option<Action> {
    // Shift is implied by upper-case letters and `?`; ignore it there.
    let mods = key.modifiers & (KeyModifiers::CONTROL | KeyModifiers::SHIFT | KeyModifiers::ALT);
    BINDINGS
        .iter()
        .filter(|b| applies(b, panel, read_only))
        .find(|b| {
            b.keys
                .iter()
                .any(|(code, m)| *code == key.code && (*m == mods || (mods == S && *m == N)))
        })
        .map(|b| b.action)
}

/// Hint bar entries for `panel`: panel keys first, then the common ones.
pub fn hints(panel: Panel, read_only: bool) -> Vec<(&'static str, &'static str)> {
    let mut v: Vec<_> = BINDINGS
        .iter()
        .filter(|b| {
            matches!(b.scope, Scope::Panel(p) if p == panel) && applies(b, panel, read_only)
        })
        .filter_map(|b| Some((b.label, b.hint?)))
        .collect();
    v.extend(
        BINDINGS
            .iter()
            .filter(|b| !matches!(b.scope, Scope::Panel(_)) && applies(b, panel, read_only))
            .filter_map(|b| Some((b.label, b.hint?))),
    );
    v
}

/// `?` help: sections of (keys, description), for `panel` first.
pub fn help(panel: Panel, read_only: bool) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    let rows = |f: &dyn Fn(&Binding) -> bool| -> Vec<(&'static str, &'static str)> {
        let mut v = Vec::new();
        let mut panels_done = false;
        for b in BINDINGS
            .iter()
            .filter(|b| !(read_only && b.mutates) && f(b))
        {
            // The seven panel keys make one row.
            if let Action::GoPanel(_) = b.action {
                if !panels_done {
                    panels_done = true;
                    v.push((
                        "1-7",
                        "Overview Nodes Users Assignments Culling Backups Logs",
                    ));
                }
                continue;
            }
            v.push((b.label, b.help));
        }
        v
    };
    let mut out = Vec::new();
    let this = rows(&|b| b.scope == Scope::Panel(panel));
    if !this.is_empty() {
        out.push((format!("{} panel", panel.title()), this));
    }
    out.push(("Lists".into(), rows(&|b| b.scope == Scope::Lists)));
    out.push(("Everywhere".into(), rows(&|b| b.scope == Scope::Global)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn keys_resolve_per_panel() {
        assert_eq!(
            lookup(&key('x'), Panel::Users, false),
            Some(Action::StopServer)
        );
        assert_eq!(lookup(&key('x'), Panel::Nodes, false), None);
        assert_eq!(lookup(&key('d'), Panel::Nodes, false), Some(Action::Drain));
        assert_eq!(lookup(&key('j'), Panel::Users, false), Some(Action::Down));
        let g = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(lookup(&g, Panel::Users, false), Some(Action::Bottom));
    }

    #[test]
    fn read_only_hides_actions_everywhere() {
        assert_eq!(lookup(&key('x'), Panel::Users, true), None);
        assert!(hints(Panel::Users, true).iter().all(|(_, h)| *h != "stop"));
        let help = help(Panel::Nodes, true);
        assert!(help
            .iter()
            .flat_map(|(_, r)| r)
            .all(|(_, d)| !d.contains("drain")));
    }

    #[test]
    fn help_and_hints_come_from_the_same_table() {
        let h = hints(Panel::Users, false);
        assert_eq!(h[0], ("o", "sort"));
        let help = help(Panel::Users, false);
        assert_eq!(help[0].0, "Users panel");
        assert!(help[0].1.iter().any(|(k, _)| *k == "x"));
    }
}
