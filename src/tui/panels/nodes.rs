//! Nodes panel: Swarm nodes (or the one engine) with capacity against
//! reservations, and the selected node's students' containers with CPU and
//! memory where the configured engine can sample them.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use crate::swarm::{NodeAvailability, NodeHealth, NodeInfo, Placement, StudentContainer};
use crate::tui::app::App;
use crate::tui::theme::Theme;
use crate::tui::view::{bytes, kv, panel_block, short_duration, Clock};

fn health_good(h: NodeHealth) -> Option<bool> {
    match h {
        NodeHealth::Ready => Some(true),
        NodeHealth::Down | NodeHealth::Disconnected => Some(false),
        NodeHealth::Unknown => None,
    }
}

fn avail_good(a: NodeAvailability) -> Option<bool> {
    match a {
        NodeAvailability::Active => Some(true),
        _ => None,
    }
}

fn node_row<'a>(n: &NodeInfo, theme: &Theme) -> Row<'a> {
    let role = if n.leader {
        "leader".to_string()
    } else {
        n.role.clone()
    };
    Row::new(vec![
        Cell::from(n.hostname.clone()),
        Cell::from(role),
        Cell::from(Span::styled(
            n.state.word(),
            theme.state(health_good(n.state)),
        )),
        Cell::from(Span::styled(
            n.availability.word(),
            theme.state(avail_good(n.availability)),
        )),
        Cell::from(format!("{:.1}/{:.0}", n.reserved_cpus, n.cpus)),
        Cell::from(format!(
            "{}/{}",
            bytes(n.reserved_memory_bytes),
            bytes(n.memory_bytes)
        )),
        Cell::from(n.tasks.to_string()),
        Cell::from(n.students.to_string()),
    ])
}

fn container_row<'a>(c: &StudentContainer, app: &App, theme: &Theme) -> Row<'a> {
    let stats = c.container_id.as_ref().and_then(|id| app.stats.get(id));
    let (cpu, mem) = match (stats, c.local) {
        (Some(s), _) => (
            format!("{:.1}%", s.cpu_percent),
            bytes(s.memory_bytes as i64),
        ),
        (None, true) if c.running => ("…".into(), "…".into()),
        _ => ("-".into(), "-".into()),
    };
    Row::new(vec![
        Cell::from(c.user.clone()),
        Cell::from(Span::styled(c.state.clone(), theme.state(Some(c.running)))),
        Cell::from(
            c.since
                .map(|t| short_duration((app.now - t).num_seconds()))
                .unwrap_or_else(|| "-".into()),
        ),
        Cell::from(cpu),
        Cell::from(mem),
        Cell::from(c.name.clone()),
    ])
}

fn stats_note(p: &Placement, node: &NodeInfo) -> String {
    if p.local_node.as_deref() == Some(node.id.as_str()) {
        "CPU/mem sampled through [docker] host".into()
    } else {
        "CPU/mem: only via this node's own engine".into()
    }
}

pub fn render(f: &mut Frame, area: Rect, app: &App, theme: &Theme, clock: &Clock) {
    let Some(p) = &app.placement else {
        let text = match &app.docker.error {
            Some(e) => format!("no placement: {e}\nretrying with backoff"),
            None => "loading nodes…".into(),
        };
        f.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: false })
                .block(panel_block("Nodes", Some(&app.docker), clock, theme)),
            area,
        );
        return;
    };
    let v = &app.nodes_view;
    let node_h = (v.visible.len() as u16 + 3).clamp(4, area.height / 2);
    let [top, bottom] =
        Layout::vertical([Constraint::Length(node_h), Constraint::Min(3)]).areas(area);
    let mode = match p.mode {
        crate::swarm::EngineMode::Swarm => "Swarm",
        crate::swarm::EngineMode::Engine => "engine",
    };
    let title = format!(
        "Nodes {} ({mode}){}",
        p.nodes.len(),
        if v.filter.is_empty() {
            String::new()
        } else {
            format!(" · /{} ({} shown)", v.filter, v.visible.len())
        }
    );
    let h = top.height.saturating_sub(3) as usize;
    let (from, to) = super::window(v.selected, v.visible.len(), h);
    let rows: Vec<Row> = v.visible[from..to]
        .iter()
        .map(|&i| node_row(&p.nodes[i], theme))
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Min(8),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(7),
            Constraint::Length(11),
            Constraint::Length(5),
            Constraint::Length(5),
        ],
    )
    .header(
        Row::new([
            "HOST", "ROLE", "STATE", "AVAIL", "CPU r/c", "MEM r/c", "TASKS", "STUD",
        ])
        .style(theme.table_header),
    )
    .row_highlight_style(theme.selected)
    .highlight_symbol("▶ ")
    .block(panel_block(&title, Some(&app.docker), clock, theme));
    let mut st = TableState::default().with_selected(if v.visible.is_empty() {
        None
    } else {
        Some(v.selected - from)
    });
    f.render_stateful_widget(table, top, &mut st);

    let Some(node) = app.selected_node() else {
        f.render_widget(
            Paragraph::new("no node selected").block(panel_block("Containers", None, clock, theme)),
            bottom,
        );
        return;
    };
    let list: Vec<&StudentContainer> = p.containers_on(&node.id).collect();
    let title = format!(
        "Students on {} ({}) · {}",
        node.hostname,
        list.len(),
        stats_note(p, node)
    );
    let h = bottom.height.saturating_sub(3) as usize;
    let rows: Vec<Row> = list
        .iter()
        .take(h)
        .map(|c| container_row(c, app, theme))
        .collect();
    let more = list.len().saturating_sub(h);
    let block = panel_block(&title, None, clock, theme);
    let block = if more > 0 {
        block.title_bottom(Line::styled(
            format!(" … {more} more: Enter for all "),
            theme.dim,
        ))
    } else {
        block
    };
    let table = Table::new(
        rows,
        [
            Constraint::Min(10),
            Constraint::Length(10),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(["USER", "STATE", "UP", "CPU", "MEM", "SERVICE"]).style(theme.table_header))
    .block(block);
    f.render_widget(table, bottom);
}

/// The details of one node: facts and every student's container on it.
pub fn details(app: &App, id: &str, theme: &Theme, _clock: &Clock) -> (String, Vec<Line<'static>>) {
    let Some(p) = &app.placement else {
        return ("Node".into(), vec![Line::raw("no placement data")]);
    };
    let Some(n) = p.node_by_id(id) else {
        return (
            "Node".into(),
            vec![Line::raw("this node is no longer listed")],
        );
    };
    let mut lines = vec![
        kv("id", n.id.clone(), theme),
        kv(
            "role",
            format!("{}{}", n.role, if n.leader { " (leader)" } else { "" }),
            theme,
        ),
        kv("state", n.state.word(), theme),
        kv("availability", n.availability.word(), theme),
        kv(
            "address",
            n.addr.clone().unwrap_or_else(|| "-".into()),
            theme,
        ),
        kv(
            "CPUs",
            format!("{:.2} reserved of {:.0}", n.reserved_cpus, n.cpus),
            theme,
        ),
        kv(
            "memory",
            format!(
                "{} reserved of {}",
                bytes(n.reserved_memory_bytes),
                bytes(n.memory_bytes)
            ),
            theme,
        ),
        kv(
            "tasks",
            format!("{} ({} students)", n.tasks, n.students),
            theme,
        ),
        kv("stats", stats_note(p, n), theme),
        Line::raw(""),
        Line::styled("students' containers", theme.title),
    ];
    for c in p.containers_on(id) {
        let stats = c.container_id.as_ref().and_then(|cid| app.stats.get(cid));
        let up = c
            .since
            .map(|t| short_duration((app.now - t).num_seconds()))
            .unwrap_or_else(|| "-".into());
        let mut text = format!("  {:<20} {:<10} {:>7}", c.user, c.state, up);
        if let Some(s) = stats {
            text.push_str(&format!(
                "  {:5.1}% {}",
                s.cpu_percent,
                bytes(s.memory_bytes as i64)
            ));
        }
        lines.push(Line::raw(text));
    }
    for note in &p.notes {
        lines.push(Line::raw(""));
        lines.push(Line::styled(note.clone(), theme.dim));
    }
    if !app.read_only && p.mode == crate::swarm::EngineMode::Swarm {
        lines.push(Line::raw(""));
        lines.push(Line::from(vec![
            Span::styled("d", theme.key),
            Span::raw(" drain (asks first)   "),
            Span::styled("a", theme.key),
            Span::raw(" activate"),
        ]));
    }
    (format!("Node {}", n.hostname), lines)
}
