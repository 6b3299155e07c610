//! Overview: counts at a glance, the activity charts (24 hours, 7 days) and
//! the cross-check of hub, Docker and proxy.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Wrap};
use ratatui::Frame;

use crate::activity::{series, Sample};
use crate::hub::ServerState;
use crate::swarm::{NodeAvailability, NodeHealth};
use crate::tui::app::App;
use crate::tui::theme::Theme;
use crate::tui::view::{panel_block, Clock};

fn summary(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if app.hub.last_ok.is_some() {
        let count = |s: ServerState| app.user_rows.iter().filter(|r| r.state == s).count();
        let active = |m: i64| {
            app.user_rows
                .iter()
                .filter(|r| {
                    r.last_activity
                        .is_some_and(|t| (app.now - t).num_minutes() < m)
                })
                .count()
        };
        lines.push(Line::from(vec![
            Span::styled("users ", theme.dim),
            Span::raw(format!("{}", app.user_rows.len())),
            Span::styled("  servers ", theme.dim),
            Span::raw(format!(
                "{} ready, {} spawning, {} stopping",
                count(ServerState::Ready),
                count(ServerState::PendingSpawn),
                count(ServerState::PendingStop)
            )),
        ]));
        lines.push(Line::from(vec![
            Span::styled("active ", theme.dim),
            Span::raw(format!(
                "{} in 5 min, {} in 15 min, {} in 60 min",
                active(5),
                active(15),
                active(60)
            )),
        ]));
    } else {
        lines.push(Line::styled("users: waiting for the hub", theme.warn));
    }
    match &app.placement {
        Some(p) => {
            let ready = p
                .nodes
                .iter()
                .filter(|n| n.state == NodeHealth::Ready)
                .count();
            let drained = p
                .nodes
                .iter()
                .filter(|n| n.availability != NodeAvailability::Active)
                .count();
            let running = p.containers.iter().filter(|c| c.running).count();
            let mut spans = vec![
                Span::styled("nodes ", theme.dim),
                Span::raw(format!("{} ", p.nodes.len())),
                Span::styled(format!("{ready} ready"), theme.ok),
            ];
            let down = p.nodes.len() - ready;
            if down > 0 {
                spans.push(Span::styled(format!(", {down} DOWN"), theme.bad));
            }
            if drained > 0 {
                spans.push(Span::styled(
                    format!(", {drained} drained/paused"),
                    theme.warn,
                ));
            }
            spans.push(Span::styled("  containers ", theme.dim));
            spans.push(Span::raw(format!(
                "{running} running of {}",
                p.containers.len()
            )));
            lines.push(Line::from(spans));
        }
        None => lines.push(Line::styled("nodes: waiting for Docker", theme.warn)),
    }
    lines
}

type Points = Vec<(f64, f64)>;

/// One activity chart: active users (braille) and running servers (dots).
struct ChartSpec {
    active: Points,
    running: Points,
    from: i64,
    to: i64,
    labels: [String; 3],
    title: String,
}

fn chart<'a>(c: &'a ChartSpec, app: &App, theme: &Theme, clock: &Clock) -> Chart<'a> {
    let ymax = c
        .active
        .iter()
        .chain(&c.running)
        .map(|p| p.1)
        .fold(1.0f64, f64::max)
        .ceil();
    let datasets = vec![
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Line)
            .style(theme.warn)
            .data(&c.running),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.ok)
            .data(&c.active),
    ];
    let empty = if app.activity.is_empty() {
        " no samples yet "
    } else {
        ""
    };
    Chart::new(datasets)
        .block(
            panel_block(&c.title, None, clock, theme).title_bottom(Line::styled(empty, theme.dim)),
        )
        .x_axis(
            Axis::default()
                .bounds([c.from as f64, c.to as f64])
                .labels(c.labels.clone().map(Span::raw).to_vec())
                .style(theme.dim),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, ymax])
                .labels(vec![Span::raw("0"), Span::raw(format!("{ymax:.0}"))])
                .style(theme.dim),
        )
}

fn spec(v: &[Sample], from: i64, to: i64, labels: [String; 3], title: &str) -> ChartSpec {
    ChartSpec {
        active: v.iter().map(|s| (s.t as f64, s.active15 as f64)).collect(),
        running: v.iter().map(|s| (s.t as f64, s.running as f64)).collect(),
        from,
        to,
        labels,
        title: title.into(),
    }
}

pub fn render(f: &mut Frame, area: Rect, app: &App, theme: &Theme, clock: &Clock) {
    let sum = summary(app, theme);
    let [top, charts, checks] = Layout::vertical([
        Constraint::Length(sum.len() as u16 + 2),
        Constraint::Min(8),
        Constraint::Length((area.height / 3).max(5)),
    ])
    .areas(area);
    f.render_widget(
        Paragraph::new(sum)
            .wrap(Wrap { trim: false })
            .block(panel_block("Overview", Some(&app.hub), clock, theme)),
        top,
    );

    let now = app.now.timestamp();
    let [c24, c7] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts);
    let t = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap_or_default();
    let hm = |s: i64| clock.hms(t(s))[..5].to_string();
    let md = |s: i64| {
        t(s).with_timezone(&clock.offset)
            .format("%m-%d")
            .to_string()
    };
    let (d0, w0) = (now - 86400, now - 7 * 86400);
    let day = spec(
        &series(&app.activity, d0, now, 300),
        d0,
        now,
        [hm(d0), hm(now - 43200), hm(now)],
        "24 h: ⣿ active 15 min, • running",
    );
    let week = spec(
        &series(&app.activity, w0, now, 3600),
        w0,
        now,
        [md(w0), md(now - 302400), md(now)],
        "7 days: ⣿ active 15 min, • running",
    );
    f.render_widget(chart(&day, app, theme, clock), c24);
    f.render_widget(chart(&week, app, theme, clock), c7);

    let mut lines = Vec::new();
    match &app.orphans {
        None => {
            let missing: Vec<&str> = [
                (app.hub.last_ok.is_none(), "hub"),
                (app.placement.is_none(), "Docker"),
                (app.routes.is_none(), "proxy"),
            ]
            .iter()
            .filter(|(m, _)| *m)
            .map(|(_, n)| *n)
            .collect();
            lines.push(Line::styled(
                format!("waiting for data from: {}", missing.join(", ")),
                theme.warn,
            ));
        }
        Some(o) if o.is_empty() => lines.push(Line::styled(
            "OK: hub servers, containers and proxy routes agree",
            theme.ok,
        )),
        Some(o) => {
            let skip = app.overview_scroll.min(o.len().saturating_sub(1));
            for x in o.iter().skip(skip) {
                lines.push(Line::from(vec![
                    Span::styled("ORPHAN ", theme.bad),
                    Span::raw(x.describe()),
                ]));
            }
        }
    }
    let stale = app.hub.is_stale() || app.docker.is_stale() || app.proxy.is_stale();
    let title = match &app.orphans {
        Some(o) if !o.is_empty() => format!("Cross-check: {} orphans (Enter: all)", o.len()),
        _ => "Cross-check".into(),
    };
    let mut block = panel_block(&title, None, clock, theme);
    if stale {
        block = block.title_bottom(Line::styled(
            " based on stale data: a source is DOWN ",
            theme.bad,
        ));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        checks,
    );
}

/// Every orphan, for the details view.
pub fn orphan_details(app: &App, theme: &Theme) -> (String, Vec<Line<'static>>) {
    let lines = app
        .orphans
        .iter()
        .flatten()
        .map(|o| {
            Line::from(vec![
                Span::styled("ORPHAN ", theme.bad),
                Span::raw(o.describe()),
            ])
        })
        .collect();
    ("Cross-check".into(), lines)
}
