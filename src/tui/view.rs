//! Drawing: header, tabs, the focused panel, hint bar and dialogs. Reads the
//! state only; every style comes from the theme.

use chrono::{DateTime, FixedOffset, Utc};
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, DetailsOf, Mode, Panel, SourceState};
use super::keymap;
use super::panels;
use super::theme::Theme;

/// Wall-clock rendering settings (the test snapshots pin both).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub offset: FixedOffset,
}

impl Clock {
    pub fn local() -> Self {
        let offset = *chrono::Local::now().offset();
        Self { offset }
    }
    pub fn utc() -> Self {
        Self {
            offset: FixedOffset::east_opt(0).unwrap_or_else(|| *chrono::Local::now().offset()),
        }
    }
    pub fn hms(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.offset).format("%H:%M:%S").to_string()
    }
    pub fn stamp(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.offset)
            .format("%m-%d %H:%M")
            .to_string()
    }
    pub fn full(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.offset)
            .format("%Y-%m-%d %H:%M:%S %:z")
            .to_string()
    }
}

/// "42s", "5m", "3h", "2d".
pub fn short_duration(secs: i64) -> String {
    let s = secs.max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86400 {
        format!("{}h{:02}", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d{:02}h", s / 86400, (s % 86400) / 3600)
    }
}

pub fn ago(now: DateTime<Utc>, t: Option<DateTime<Utc>>) -> String {
    match t {
        Some(t) => format!("{} ago", short_duration((now - t).num_seconds())),
        None => "never".into(),
    }
}

pub fn bytes(b: i64) -> String {
    let b = b.max(0) as f64;
    const G: f64 = 1024.0 * 1024.0 * 1024.0;
    const M: f64 = 1024.0 * 1024.0;
    if b >= G {
        format!("{:.1}G", b / G)
    } else if b >= M {
        format!("{:.0}M", b / M)
    } else {
        format!("{:.0}K", b / 1024.0)
    }
}

/// "ok" / "DOWN" / "…" for a source, with its style.
pub fn source_word<'a>(s: &SourceState, theme: &Theme) -> Span<'a> {
    if s.is_stale() {
        Span::styled("DOWN", theme.bad)
    } else if s.last_ok.is_some() {
        Span::styled("ok", theme.ok)
    } else {
        Span::styled("…", theme.warn)
    }
}

/// The freshness part of a panel title.
pub fn freshness(s: &SourceState, clock: &Clock) -> (String, bool) {
    match (&s.error, s.last_ok, s.stale_since) {
        (Some(e), _, Some(since)) => (
            format!("STALE since {} — {}", clock.hms(since), first_line(e)),
            true,
        ),
        (Some(e), _, None) => (format!("STALE — {}", first_line(e)), true),
        (None, Some(t), _) => (format!("refreshed {}", clock.hms(t)), false),
        (None, None, _) => ("loading…".into(), false),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// A bordered block whose title carries the panel's freshness.
pub fn panel_block<'a>(
    title: &str,
    src: Option<&SourceState>,
    clock: &Clock,
    theme: &Theme,
) -> Block<'a> {
    let mut spans = vec![Span::styled(format!(" {title} "), theme.title)];
    if let Some(s) = src {
        let (text, stale) = freshness(s, clock);
        if stale {
            // "STALE since" first (narrow screens cut the end), the reason last.
            let (head, reason) = text.split_once(" — ").unwrap_or((text.as_str(), ""));
            spans.insert(0, Span::styled(format!(" {head} "), theme.bad));
            spans.push(Span::styled(format!("{reason} "), theme.bad));
        } else {
            spans.push(Span::styled(format!("{text} "), theme.dim));
        }
    }
    Block::default()
        .borders(Borders::ALL)
        .title(Line::from(spans))
}

pub fn draw(f: &mut Frame, app: &App, theme: &Theme, clock: &Clock) {
    let area = f.area();
    let [header, tabs, body, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(f, header, app, theme, clock);
    draw_tabs(f, tabs, app, theme);
    match app.panel {
        Panel::Overview => panels::overview::render(f, body, app, theme, clock),
        Panel::Nodes => panels::nodes::render(f, body, app, theme, clock),
        Panel::Users => panels::users::render(f, body, app, theme, clock),
        Panel::Assignments => panels::assignments::render(f, body, app, theme, clock),
        Panel::Culling => panels::culling::render(f, body, app, theme, clock),
        Panel::Backups => panels::backups::render(f, body, app, theme, clock),
        Panel::Logs => panels::logs::render(f, body, app, theme, clock),
    }
    draw_bottom(f, hints, app, theme);
    match &app.mode {
        Mode::Help => draw_help(f, area, app, theme),
        Mode::Confirm(c) => draw_confirm(f, area, c, theme),
        Mode::Details { of, scroll } => {
            let (title, lines) = match of {
                DetailsOf::User(u) => panels::users::details(app, u, theme, clock),
                DetailsOf::Node(n) => panels::nodes::details(app, n, theme, clock),
                DetailsOf::Orphans => panels::overview::orphan_details(app, theme),
            };
            draw_details(f, area, &title, lines, *scroll, theme);
        }
        Mode::Normal | Mode::Filter => {}
    }
}

fn draw_header(f: &mut Frame, area: Rect, app: &App, theme: &Theme, clock: &Clock) {
    let sep = Span::styled(" │ ", theme.header);
    let hub_word = match &app.stack {
        Some(s) if s.hub.gave_up => Span::styled("GAVE UP", theme.bad),
        _ => source_word(&app.hub, theme),
    };
    let proxy_word = match &app.stack {
        Some(s) if s.proxy.gave_up => Span::styled("GAVE UP", theme.bad),
        _ => source_word(&app.proxy, theme),
    };
    let mut docker = vec![Span::raw("docker "), source_word(&app.docker, theme)];
    if let Some(p) = &app.placement {
        let down = p
            .nodes
            .iter()
            .filter(|n| n.state != crate::swarm::NodeHealth::Ready)
            .count();
        if down > 0 && !app.docker.is_stale() {
            docker.push(Span::styled(format!(" {down} node down"), theme.bad));
        }
    }
    let backup = if app.backup_enabled {
        Span::styled("n/a", theme.dim)
    } else {
        Span::styled("off", theme.dim)
    };
    let mut right = vec![
        Span::raw("hub "),
        hub_word,
        sep.clone(),
        Span::raw("proxy "),
        proxy_word,
        sep.clone(),
    ];
    right.extend(docker);
    right.extend([
        sep.clone(),
        Span::raw("backup "),
        backup,
        sep,
        Span::raw(clock.hms(app.now)),
    ]);
    let right = Line::from(right);
    let rw = right.width() as u16;
    let [l, r] = Layout::horizontal([Constraint::Min(1), Constraint::Length(rw + 1)]).areas(area);
    f.render_widget(
        Paragraph::new(Line::from(Span::styled(
            format!(" {}", app.course),
            theme.header.add_modifier(ratatui::style::Modifier::BOLD),
        )))
        .style(theme.header),
        l,
    );
    f.render_widget(
        Paragraph::new(right)
            .alignment(Alignment::Right)
            .style(theme.header),
        r,
    );
}

fn draw_tabs(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let narrow = area.width < 100;
    let mut spans = Vec::new();
    for p in Panel::ALL {
        let name = if narrow {
            match p {
                Panel::Assignments => "Assign",
                Panel::Overview => "Overview",
                other => other.title(),
            }
        } else {
            p.title()
        };
        let text = format!(" {} {} ", p.index() + 1, name);
        let st = if p == app.panel {
            theme.tab_active
        } else {
            theme.tab
        };
        spans.push(Span::styled(text, st));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_bottom(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    if app.mode == Mode::Filter {
        let text = app.current_filter().unwrap_or("");
        let line = Line::from(vec![
            Span::styled("/", theme.key),
            Span::raw(text.to_string()),
            Span::styled("▏", theme.key),
            Span::styled("  Enter keep · Esc clear", theme.dim),
        ]);
        f.render_widget(Paragraph::new(line), area);
        return;
    }
    if let Some((t, _)) = &app.toast {
        let st = if t.contains("FAILED") {
            theme.bad
        } else {
            theme.warn
        };
        f.render_widget(Paragraph::new(Span::styled(t.clone(), st)), area);
        return;
    }
    let mut spans = Vec::new();
    if app.read_only {
        spans.push(Span::styled("READ-ONLY ", theme.warn));
    }
    if let Some(flt) = app.current_filter().filter(|f| !f.is_empty()) {
        spans.push(Span::styled(
            format!("filter: {flt} (Esc clears) "),
            theme.warn,
        ));
    }
    for (k, h) in keymap::hints(app.panel, app.read_only) {
        spans.push(Span::styled(k, theme.key));
        spans.push(Span::raw(format!(" {h}  ")));
    }
    spans.push(Span::styled("Tab/1-7", theme.key));
    spans.push(Span::raw(" panels"));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A centred rectangle of at most `w` x `h`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn draw_help(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut lines = Vec::new();
    for (section, rows) in keymap::help(app.panel, app.read_only) {
        lines.push(Line::from(Span::styled(section, theme.title)));
        for (k, d) in rows {
            lines.push(Line::from(vec![
                Span::styled(format!("  {k:<8}"), theme.key),
                Span::raw(d),
            ]));
        }
    }
    if app.read_only {
        lines.push(Line::from(Span::styled(
            "read-only: actions are hidden",
            theme.warn,
        )));
    }
    let r = centered(area, 72, lines.len() as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(Span::styled(" Help — any key closes ", theme.title)),
        ),
        r,
    );
}

fn draw_confirm(f: &mut Frame, area: Rect, c: &super::app::Confirm, theme: &Theme) {
    let mut lines: Vec<Line> = c.lines.iter().map(|l| Line::raw(l.clone())).collect();
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled("Equivalent command:", theme.dim)));
    lines.push(Line::from(Span::styled(c.command.clone(), theme.key)));
    lines.push(Line::raw(""));
    let (cancel, ok) = if c.focus_confirm {
        (theme.button, theme.button_focus)
    } else {
        (theme.button_focus, theme.button)
    };
    let mark = |focused: bool, s: &str| {
        if focused {
            format!("> {s} <")
        } else {
            format!("  {s}  ")
        }
    };
    lines.push(Line::from(vec![
        Span::styled(mark(!c.focus_confirm, "Cancel"), cancel),
        Span::raw("   "),
        Span::styled(mark(c.focus_confirm, &c.confirm_label), ok),
    ]));
    lines.push(Line::from(Span::styled(
        "Tab/←/→ choose · Enter · Esc cancels",
        theme.dim,
    )));
    let w = 76.min(area.width);
    let inner_w = w.saturating_sub(2).max(1) as usize;
    let h: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_w).max(1))
        .sum();
    let r = centered(area, w, h as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(Span::styled(format!(" {} ", c.title), theme.bad)),
        ),
        r,
    );
}

fn draw_details(
    f: &mut Frame,
    area: Rect,
    title: &str,
    lines: Vec<Line<'static>>,
    scroll: usize,
    theme: &Theme,
) {
    let w = area.width.saturating_sub(4).min(110);
    let h = area.height.saturating_sub(2);
    let r = centered(area, w, h);
    f.render_widget(Clear, r);
    let max_scroll = lines.len().saturating_sub(h.saturating_sub(2) as usize);
    f.render_widget(
        Paragraph::new(lines)
            .scroll((scroll.min(max_scroll) as u16, 0))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(Span::styled(format!(" {title} "), theme.title))
                    .title_bottom(Line::from(Span::styled(
                        " Esc back · j/k scroll ",
                        theme.dim,
                    ))),
            ),
        r,
    );
}

/// `label: value` for details views.
pub fn kv(label: &str, value: impl Into<String>, theme: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{label:<16}"), theme.dim),
        Span::raw(value.into()),
    ])
}

/// A state word with its style, for tables.
pub fn styled_word(word: &str, good: Option<bool>, theme: &Theme) -> Span<'static> {
    Span::styled(word.to_string(), theme.state(good))
}

pub fn plain(s: impl Into<String>) -> Span<'static> {
    Span::styled(s.into(), Style::default())
}
