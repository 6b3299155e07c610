//! Logs panel: the tail of the hub's or the proxy's log file.

use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::app::{App, LogKind};
use crate::tui::theme::Theme;
use crate::tui::view::{panel_block, Clock};

pub fn render(f: &mut Frame, area: Rect, app: &App, theme: &Theme, clock: &Clock) {
    let tail = app.log(app.log_kind);
    let other = match app.log_kind {
        LogKind::Hub => "proxy",
        LogKind::Proxy => "hub",
    };
    let follow = if app.log_scroll == 0 {
        "following".to_string()
    } else {
        format!("{} lines up (G follows)", app.log_scroll)
    };
    let title = format!("{} · {follow} · t: {other}", app.log_kind.file());
    let block = panel_block(&title, None, clock, theme);
    if let Some(e) = &tail.error {
        f.render_widget(
            Paragraph::new(Line::styled(e.clone(), theme.bad)).block(block),
            area,
        );
        return;
    }
    let h = area.height.saturating_sub(2) as usize;
    let end = tail.lines.len().saturating_sub(app.log_scroll);
    let start = end.saturating_sub(h);
    let lines: Vec<Line> = tail.lines[start..end]
        .iter()
        .map(|l| {
            let st = if l.contains(" E ") || l.contains("ERROR") || l.contains("[E ") {
                theme.bad
            } else if l.contains("[W ") || l.contains("WARN") {
                theme.warn
            } else {
                ratatui::style::Style::default()
            };
            Line::styled(l.clone(), st)
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
}
