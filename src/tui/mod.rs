//! The console. One task owns the terminal: it reads keys, receives the
//! pollers' messages, applies them with `App::update` (pure) and redraws
//! when something changed, at most every 15 ms. The terminal is restored on
//! quit, panic, Ctrl-C, SIGTERM and SIGHUP; the hub and proxy are not ours
//! and keep running.

pub mod app;
pub mod fixtures;
pub mod keymap;
pub mod panels;
pub mod pollers;
pub mod theme;
pub mod view;

use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::Config;
use app::{App, Msg};

/// Redraws are at least this far apart.
const FRAME: Duration = Duration::from_millis(15);

fn restore_terminal() {
    use std::io::Write;
    let _ = ratatui::try_restore();
    // Show the cursor even if the terminal never saw a draw (ratatui hides it).
    let mut out = std::io::stdout();
    let _ = crossterm::execute!(out, crossterm::cursor::Show);
    let _ = out.flush();
}

/// Runs the console until `q`, Ctrl-C, SIGTERM or SIGHUP.
pub async fn run(cfg: Config, read_only: bool) -> anyhow::Result<()> {
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;

    let theme = theme::Theme::from_env();
    let clock = view::Clock::local();
    let mut app = App::new(&cfg, read_only, chrono::Utc::now());
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let pollers = pollers::Pollers::start(cfg, tx);

    let mut terminal = ratatui::try_init()
        .map_err(|e| anyhow::anyhow!("cannot set up the terminal: {e} (is this a terminal? use the headless commands otherwise)"))?;
    if let Ok(s) = terminal.size() {
        app.size = (s.width, s.height);
    }
    let mut events = EventStream::new();
    let mut clock_tick = tokio::time::interval(Duration::from_secs(1));
    clock_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_draw = Instant::now() - FRAME;
    let mut why = "quit";

    let result: anyhow::Result<()> = loop {
        let next_draw = last_draw + FRAME;
        let msg = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => Some(Msg::Key(k)),
                Some(Ok(Event::Resize(w, h))) => Some(Msg::Resize(w, h)),
                Some(Ok(_)) => None,
                // The terminal went away (e.g. SSH dropped before SIGHUP arrived).
                Some(Err(_)) | None => { why = "terminal closed"; break Ok(()); }
            },
            Some(m) = rx.recv() => Some(m),
            _ = clock_tick.tick() => Some(Msg::Tick(chrono::Utc::now())),
            _ = tokio::time::sleep_until(next_draw), if app.dirty => {
                app.dirty = false;
                last_draw = Instant::now();
                if let Err(e) = terminal.draw(|f| view::draw(f, &app, &theme, &clock)) {
                    break Err(anyhow::anyhow!("cannot draw: {e}"));
                }
                None
            }
            _ = hup.recv() => { why = "SIGHUP"; break Ok(()); }
            _ = term.recv() => { why = "SIGTERM"; break Ok(()); }
            _ = int.recv() => { why = "SIGINT"; break Ok(()); }
        };
        if let Some(m) = msg {
            for e in app.update(m) {
                pollers.perform(e);
            }
            if app.quit {
                break Ok(());
            }
        }
    };
    drop(pollers);
    restore_terminal();
    tracing::info!("console closed ({why})");
    result
}
