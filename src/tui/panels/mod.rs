//! One module per panel: each draws itself from the app state (and, for
//! list panels, gives its details view). A new panel is a new file here plus
//! its entry in `Panel`.

pub mod assignments;
pub mod backups;
pub mod culling;
pub mod logs;
pub mod nodes;
pub mod overview;
pub mod users;

use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::theme::Theme;
use super::view::{panel_block, Clock};

/// Rows `offset..offset+height` keep `selected` in view.
pub fn window(selected: usize, len: usize, height: usize) -> (usize, usize) {
    let h = height.max(1);
    let offset = if selected < h { 0 } else { selected + 1 - h };
    (offset, (offset + h).min(len))
}

/// A panel whose content is still to come: says what it will show.
pub fn placeholder(
    f: &mut Frame,
    area: Rect,
    title: &str,
    coming: &[&str],
    theme: &Theme,
    clock: &Clock,
) {
    let mut lines = vec![
        Line::styled(format!("coming: {title}"), theme.title),
        Line::raw(""),
    ];
    lines.extend(coming.iter().map(|c| Line::raw(format!("  • {c}"))));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel_block(title, None, clock, theme)),
        area,
    );
}
