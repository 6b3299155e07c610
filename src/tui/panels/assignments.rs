//! Assignments panel: a placeholder until its issue lands (it says what it will show).

use ratatui::layout::Rect;
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::theme::Theme;
use crate::tui::view::Clock;

pub fn render(f: &mut Frame, area: Rect, _app: &App, theme: &Theme, clock: &Clock) {
    super::placeholder(
        f,
        area,
        "Assignments",
        &[
            "per assignment: released / collected / returned, with dates and due time",
            "submissions per student: on time, late (within the late window), missing",
            "the release / collect / return commands to run next",
        ],
        theme,
        clock,
    );
}
