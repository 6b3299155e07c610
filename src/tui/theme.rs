//! Every style of the console in one place. With NO_COLOR the same states
//! keep their words and use bold/reverse only: colour never carries a state alone.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
    pub ok: Style,
    pub bad: Style,
    pub warn: Style,
    pub dim: Style,
    pub title: Style,
    pub header: Style,
    pub table_header: Style,
    pub selected: Style,
    pub tab: Style,
    pub tab_active: Style,
    pub key: Style,
    pub button: Style,
    pub button_focus: Style,
}

impl Theme {
    /// Colour unless NO_COLOR is set (to anything non-empty).
    pub fn from_env() -> Self {
        Self::new(std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()))
    }

    pub fn new(color: bool) -> Self {
        let bold = Style::default().add_modifier(Modifier::BOLD);
        let rev = Style::default().add_modifier(Modifier::REVERSED);
        if !color {
            return Self {
                color,
                ok: Style::default(),
                bad: bold,
                warn: bold,
                dim: Style::default(),
                title: bold,
                header: rev,
                table_header: bold.add_modifier(Modifier::UNDERLINED),
                selected: rev,
                tab: Style::default(),
                tab_active: rev.add_modifier(Modifier::BOLD),
                key: bold,
                button: Style::default(),
                button_focus: rev.add_modifier(Modifier::BOLD),
            };
        }
        Self {
            color,
            ok: Style::default().fg(Color::Green),
            bad: bold.fg(Color::Red),
            warn: bold.fg(Color::Yellow),
            dim: Style::default().fg(Color::DarkGray),
            title: bold.fg(Color::Cyan),
            header: Style::default().bg(Color::Blue).fg(Color::White),
            table_header: bold.fg(Color::Yellow),
            selected: rev,
            tab: Style::default().fg(Color::Gray),
            tab_active: rev.add_modifier(Modifier::BOLD),
            key: bold.fg(Color::Cyan),
            button: Style::default(),
            button_focus: rev.add_modifier(Modifier::BOLD),
        }
    }

    /// Style for a state: good, bad, or in between.
    pub fn state(&self, good: Option<bool>) -> Style {
        match good {
            Some(true) => self.ok,
            Some(false) => self.bad,
            None => self.warn,
        }
    }
}
