//! Backups panel: a placeholder until its issue lands (it says what it will show).

use ratatui::layout::Rect;
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::theme::Theme;
use crate::tui::view::Clock;

pub fn render(f: &mut Frame, area: Rect, _app: &App, theme: &Theme, clock: &Clock) {
    super::placeholder(
        f,
        area,
        "Backups",
        &[
            "last restic snapshot: time, age, size, files",
            "repository check result and retention policy",
            "next scheduled run and the last run's log",
        ],
        theme,
        clock,
    );
}
