//! Culling panel: a placeholder until its issue lands (it says what it will show).

use ratatui::layout::Rect;
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::theme::Theme;
use crate::tui::view::Clock;

pub fn render(f: &mut Frame, area: Rect, _app: &App, theme: &Theme, clock: &Clock) {
    super::placeholder(
        f,
        area,
        "Culling",
        &[
            "the idle-culler policy in force (timeout, max age, exempt users)",
            "servers that would be culled next, and when",
            "recent culls with the idle time each server had",
        ],
        theme,
        clock,
    );
}
