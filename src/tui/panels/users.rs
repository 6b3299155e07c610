//! Users panel: every hub user with server state, node, last activity and
//! idle time; details show URL, servers, spawner state and last-seen history.

use chrono::DateTime;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::hub::{state_lines, ServerState};
use crate::tui::app::{App, UserRow};
use crate::tui::theme::Theme;
use crate::tui::view::{ago, kv, panel_block, short_duration, Clock};

fn state_good(s: ServerState) -> Option<bool> {
    match s {
        ServerState::Ready => Some(true),
        ServerState::Stopped => Some(false),
        _ => None,
    }
}

fn row<'a>(r: &UserRow, app: &App, theme: &Theme, clock: &Clock, wide: bool) -> Row<'a> {
    let now = app.now;
    let idle = if r.state.is_active() {
        r.last_activity
            .map(|t| short_duration((now - t).num_seconds()))
            .unwrap_or_else(|| "-".into())
    } else {
        "-".into()
    };
    let state_style = if r.state == ServerState::Stopped {
        theme.dim
    } else {
        theme.state(state_good(r.state))
    };
    let mut cells = vec![
        Cell::from(r.name.clone()),
        Cell::from(if r.admin { "adm" } else { "" }),
        Cell::from(Span::styled(r.state.word(), state_style)),
        Cell::from(r.node.clone().unwrap_or_else(|| "-".into())),
        Cell::from(ago(now, r.last_activity)),
        Cell::from(idle),
        Cell::from(
            r.started
                .map(|t| clock.stamp(t))
                .unwrap_or_else(|| "-".into()),
        ),
    ];
    if wide {
        cells.push(Cell::from(
            r.last_activity
                .map(|t| clock.full(t))
                .unwrap_or_else(|| "-".into()),
        ));
        cells.push(Cell::from(r.named.join(",")));
    }
    Row::new(cells)
}

pub fn render(f: &mut Frame, area: Rect, app: &App, theme: &Theme, clock: &Clock) {
    let wide = area.width >= 140;
    let v = &app.users_view;
    let running = app.user_rows.iter().filter(|r| r.state.is_active()).count();
    let title = format!(
        "Users {} · {} running · sorted by {}{}",
        app.user_rows.len(),
        running,
        app.user_sort.word(),
        if v.filter.is_empty() {
            String::new()
        } else {
            format!(" · /{} ({} shown)", v.filter, v.visible.len())
        }
    );
    let block = panel_block(&title, Some(&app.hub), clock, theme);
    if app.user_rows.is_empty() {
        let text = match (&app.hub.error, app.hub.last_ok) {
            (Some(e), _) => format!("no users: {e}\nretrying with backoff"),
            (None, Some(_)) => "the hub has no users".into(),
            (None, None) => "loading users…".into(),
        };
        f.render_widget(
            Paragraph::new(text)
                .wrap(ratatui::widgets::Wrap { trim: false })
                .block(block),
            area,
        );
        return;
    }
    let height = area.height.saturating_sub(3) as usize;
    let (from, to) = super::window(v.selected, v.visible.len(), height);
    let rows: Vec<Row> = v.visible[from..to]
        .iter()
        .map(|&i| row(&app.user_rows[i], app, theme, clock, wide))
        .collect();
    let mut widths = vec![
        Constraint::Min(10),
        Constraint::Length(3),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Length(10),
        Constraint::Length(6),
        Constraint::Length(11),
    ];
    let mut header = vec!["USER", "", "SERVER", "NODE", "LAST SEEN", "IDLE", "STARTED"];
    if wide {
        widths.push(Constraint::Length(26));
        widths.push(Constraint::Length(16));
        header.extend(["LAST ACTIVITY", "NAMED"]);
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.table_header))
        .row_highlight_style(theme.selected)
        .highlight_symbol("▶ ")
        .block(block);
    let mut st = TableState::default().with_selected(Some(v.selected - from));
    f.render_stateful_widget(table, area, &mut st);
}

/// The details of one user.
pub fn details(
    app: &App,
    name: &str,
    theme: &Theme,
    clock: &Clock,
) -> (String, Vec<Line<'static>>) {
    let title = format!("User {name}");
    let Some(u) = app.users.iter().find(|u| u.name == name) else {
        return (title, vec![Line::raw("no longer listed by the hub")]);
    };
    let now = app.now;
    let mut lines = vec![
        kv("admin", if u.admin { "yes" } else { "no" }, theme),
        kv("server", u.server_state().word(), theme),
    ];
    let when = |t: Option<DateTime<chrono::Utc>>| match t {
        Some(t) => format!("{} ({})", clock.full(t), ago(now, Some(t))),
        None => "-".into(),
    };
    lines.push(kv("last activity", when(u.latest_activity()), theme));
    lines.push(kv("created", when(u.created), theme));
    let container = app
        .placement
        .as_ref()
        .and_then(|p| p.containers.iter().find(|c| c.user == u.name));
    match container {
        Some(c) => {
            lines.push(kv(
                "container",
                format!(
                    "{} on {} — {}{}",
                    c.name,
                    c.node.as_deref().unwrap_or("?"),
                    c.state,
                    c.since
                        .map(|t| format!(" for {}", short_duration((now - t).num_seconds())))
                        .unwrap_or_default()
                ),
                theme,
            ));
        }
        None => lines.push(kv("container", "none seen by Docker", theme)),
    }
    for (sname, s) in &u.servers {
        let label = if sname.is_empty() {
            "default server".to_string()
        } else {
            format!("server {sname}")
        };
        lines.push(Line::raw(""));
        lines.push(Line::styled(label, theme.title));
        let url = s
            .url
            .as_deref()
            .map(|p| format!("{}{}", app.public_url.trim_end_matches('/'), p))
            .unwrap_or_else(|| "-".into());
        lines.push(kv("  URL", url, theme));
        lines.push(kv("  state", s.state().word(), theme));
        lines.push(kv("  started", when(s.started), theme));
        lines.push(kv("  last activity", when(s.last_activity), theme));
        match &s.state {
            Some(st) => {
                let kvs = state_lines(st);
                if kvs.is_empty() {
                    lines.push(kv("  spawner state", "(empty)", theme));
                }
                for (k, v) in kvs {
                    lines.push(kv(&format!("  {k}"), v, theme));
                }
            }
            None => lines.push(kv(
                "  spawner state",
                "not readable (the token lacks admin:server_state)",
                theme,
            )),
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "recent activity (last seen, newest first)",
        theme.title,
    ));
    match app.user_history.get(name) {
        None => lines.push(Line::raw("  loading…")),
        Some(Err(e)) => lines.push(Line::styled(format!("  cannot read: {e}"), theme.bad)),
        Some(Ok(ts)) if ts.is_empty() => lines.push(Line::raw(
            "  nothing recorded yet (recorded while the console or `status --record` runs)",
        )),
        Some(Ok(ts)) => {
            for t in ts.iter().rev().take(30) {
                if let Some(t) = DateTime::from_timestamp(*t, 0) {
                    lines.push(Line::raw(format!(
                        "  {}  ({})",
                        clock.full(t),
                        ago(now, Some(t))
                    )));
                }
            }
        }
    }
    if !app.read_only {
        lines.push(Line::raw(""));
        lines.push(Line::from(vec![
            Span::styled("s", theme.key),
            Span::raw(" start   "),
            Span::styled("x", theme.key),
            Span::raw(" stop (asks first)"),
        ]));
    }
    (title, lines)
}
