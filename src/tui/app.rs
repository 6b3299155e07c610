//! The console's state and `update(msg) -> effects`: synchronous, no I/O, so
//! every flow (keys, filter, refreshes, stale data) is tested by feeding
//! messages. Rows are built when data arrives, not at draw time.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::keymap::{self, Action};
use super::panels::assignments::{AssignEffect, AssignMsg, AssignState};
use crate::activity::Sample;
use crate::hub::{HubUser, ServerState, UserListing};
use crate::proxy::Route;
use crate::supervisor::StackStatus;
use crate::swarm::{
    availability_command, cross_check, ContainerStats, NodeAvailability, Orphan, Placement,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Panel {
    Overview,
    Nodes,
    Users,
    Assignments,
    Culling,
    Backups,
    Logs,
}

impl Panel {
    pub const ALL: [Panel; 7] = [
        Panel::Overview,
        Panel::Nodes,
        Panel::Users,
        Panel::Assignments,
        Panel::Culling,
        Panel::Backups,
        Panel::Logs,
    ];
    pub fn title(self) -> &'static str {
        match self {
            Panel::Overview => "Overview",
            Panel::Nodes => "Nodes",
            Panel::Users => "Users",
            Panel::Assignments => "Assignments",
            Panel::Culling => "Culling",
            Panel::Backups => "Backups",
            Panel::Logs => "Logs",
        }
    }
    pub fn index(self) -> usize {
        Panel::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
    /// Panels whose rows j/k, `/` and Enter work on.
    pub fn has_list(self) -> bool {
        matches!(
            self,
            Panel::Nodes | Panel::Users | Panel::Logs | Panel::Overview | Panel::Assignments
        )
    }
}

/// A data source polled in the background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Hub,
    Docker,
    Proxy,
}

/// Freshness of one source.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceState {
    pub last_ok: Option<DateTime<Utc>>,
    /// Set at the first failure after a success (or at start).
    pub stale_since: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// Generation of the last result applied; older results are dropped.
    pub gen: u64,
}

impl SourceState {
    /// Applies a result's freshness; false when the result is older than one applied.
    pub(crate) fn accept(&mut self, gen: u64, at: DateTime<Utc>, error: Option<String>) -> bool {
        if gen < self.gen {
            return false;
        }
        self.gen = gen;
        match error {
            None => {
                self.last_ok = Some(at);
                self.stale_since = None;
                self.error = None;
            }
            Some(e) => {
                if self.stale_since.is_none() {
                    self.stale_since = Some(self.last_ok.unwrap_or(at));
                }
                self.error = Some(e);
            }
        }
        true
    }
    pub fn is_stale(&self) -> bool {
        self.error.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Hub,
    Proxy,
}

impl LogKind {
    pub fn file(self) -> &'static str {
        match self {
            LogKind::Hub => "hub.log",
            LogKind::Proxy => "proxy.log",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogTail {
    pub lines: Vec<String>,
    pub error: Option<String>,
}

/// What pollers and the terminal tell the app.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Resize(u16, u16),
    Tick(DateTime<Utc>),
    Users {
        gen: u64,
        at: DateTime<Utc>,
        result: Result<UserListing, String>,
    },
    Placement {
        gen: u64,
        at: DateTime<Utc>,
        result: Result<Placement, String>,
    },
    Routes {
        gen: u64,
        at: DateTime<Utc>,
        result: Result<BTreeMap<String, Route>, String>,
    },
    Stack(StackStatus),
    Stats {
        container_id: String,
        result: Result<ContainerStats, String>,
    },
    Log(LogKind, LogTail),
    ActivityHistory(Vec<Sample>),
    ActivitySample(Sample),
    UserHistory {
        user: String,
        result: Result<Vec<i64>, String>,
    },
    ActionDone {
        label: String,
        result: Result<(), String>,
    },
    Assign(AssignMsg),
}

/// What the app asks the runtime to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Quit,
    Refresh(Source),
    StartServer(String),
    StopServer(String),
    SetAvailability {
        node_id: String,
        hostname: String,
        availability: NodeAvailability,
    },
    LoadUserHistory(String),
    /// The containers whose stats to sample (replaces the previous set).
    SampleStats(Vec<String>),
    Assign(AssignEffect),
}

/// One Users row, joined with placement when the data arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub name: String,
    pub admin: bool,
    pub state: ServerState,
    pub named: Vec<String>,
    pub started: Option<DateTime<Utc>>,
    pub last_activity: Option<DateTime<Utc>>,
    pub node: Option<String>,
    pub url: Option<String>,
    /// Lower-cased text the filter matches.
    haystack: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSort {
    LastActivity,
    Name,
    State,
}

impl UserSort {
    pub fn word(self) -> &'static str {
        match self {
            UserSort::LastActivity => "last activity",
            UserSort::Name => "name",
            UserSort::State => "state",
        }
    }
}

/// Selection, filter and scroll of one list; the selection follows an id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListView {
    pub filter: String,
    /// Indices into the rows, in display order, after the filter.
    pub visible: Vec<usize>,
    pub selected: usize,
    pub selected_id: Option<String>,
}

impl ListView {
    /// Recomputes `visible` and puts the selection back on the same id.
    pub fn rebuild(&mut self, order: Vec<usize>, id_of: impl Fn(usize) -> String) {
        self.visible = order;
        if let Some(id) = &self.selected_id {
            if let Some(pos) = self.visible.iter().position(|&i| id_of(i) == *id) {
                self.selected = pos;
                return;
            }
        }
        self.selected = self.selected.min(self.visible.len().saturating_sub(1));
        self.selected_id = self.visible.get(self.selected).map(|&i| id_of(i));
    }
    pub fn move_to(&mut self, pos: usize, id_of: impl Fn(usize) -> String) {
        if self.visible.is_empty() {
            self.selected = 0;
            self.selected_id = None;
            return;
        }
        self.selected = pos.min(self.visible.len() - 1);
        self.selected_id = Some(id_of(self.visible[self.selected]));
    }
    pub fn current(&self) -> Option<usize> {
        self.visible.get(self.selected).copied()
    }
}

/// A yes/no dialog for a destructive action; Cancel has the focus.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub title: String,
    pub lines: Vec<String>,
    /// What an operator would type instead.
    pub command: String,
    pub confirm_label: String,
    pub effect: Effect,
    pub focus_confirm: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DetailsOf {
    User(String),
    Node(String),
    Orphans,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Normal,
    Filter,
    Help,
    Confirm(Confirm),
    Details { of: DetailsOf, scroll: usize },
}

/// The whole console state.
#[derive(Debug, Clone)]
pub struct App {
    pub course: String,
    pub read_only: bool,
    pub backup_enabled: bool,
    pub public_url: String,
    pub panel: Panel,
    pub mode: Mode,
    pub now: DateTime<Utc>,
    pub size: (u16, u16),
    pub hub: SourceState,
    pub docker: SourceState,
    pub proxy: SourceState,
    pub stack: Option<StackStatus>,
    pub users: Vec<HubUser>,
    pub user_rows: Vec<UserRow>,
    pub user_sort: UserSort,
    pub users_view: ListView,
    pub placement: Option<Placement>,
    pub nodes_view: ListView,
    pub routes: Option<BTreeMap<String, Route>>,
    pub orphans: Option<Vec<Orphan>>,
    pub stats: HashMap<String, ContainerStats>,
    pub logs: [LogTail; 2],
    pub log_kind: LogKind,
    /// Lines up from the end (0 = following the tail).
    pub log_scroll: usize,
    pub overview_scroll: usize,
    pub activity: Vec<Sample>,
    pub user_history: HashMap<String, Result<Vec<i64>, String>>,
    pub toast: Option<(String, DateTime<Utc>)>,
    pub assign: AssignState,
    pub dirty: bool,
    pub quit: bool,
    /// The last set of containers asked to be sampled.
    stats_wanted: Vec<String>,
}

const PAGE: usize = 10;

impl App {
    pub fn new(cfg: &crate::config::Config, read_only: bool, now: DateTime<Utc>) -> Self {
        Self {
            course: cfg.course.name.clone(),
            read_only: read_only || cfg.ui.read_only,
            backup_enabled: cfg.backup.enabled,
            public_url: cfg.proxy_public_url(),
            panel: Panel::Overview,
            mode: Mode::Normal,
            now,
            size: (80, 24),
            hub: SourceState::default(),
            docker: SourceState::default(),
            proxy: SourceState::default(),
            stack: None,
            users: Vec::new(),
            user_rows: Vec::new(),
            user_sort: UserSort::LastActivity,
            users_view: ListView::default(),
            placement: None,
            nodes_view: ListView::default(),
            routes: None,
            orphans: None,
            stats: HashMap::new(),
            logs: [LogTail::default(), LogTail::default()],
            log_kind: LogKind::Hub,
            log_scroll: 0,
            overview_scroll: 0,
            activity: Vec::new(),
            user_history: HashMap::new(),
            toast: None,
            assign: AssignState::new(cfg),
            dirty: true,
            quit: false,
            stats_wanted: Vec::new(),
        }
    }

    pub fn log(&self, k: LogKind) -> &LogTail {
        &self.logs[k as usize]
    }

    /// Applies one message; returns what to do.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let mut fx = Vec::new();
        match msg {
            Msg::Key(k) => {
                self.dirty = true;
                self.on_key(k, &mut fx);
            }
            Msg::Resize(w, h) => {
                self.size = (w, h);
                self.dirty = true;
            }
            Msg::Assign(m) => {
                let o = self.assign.on_msg(m, self.now);
                fx.extend(o.effects.into_iter().map(Effect::Assign));
                if o.confirm.is_some() {
                    // "planning…" is over.
                    self.toast = None;
                }
                if let Some(t) = o.toast {
                    self.toast = Some((t, self.now));
                }
                // The plan's dialog opens only where it was asked for.
                if let Some(c) = o.confirm {
                    if self.panel == Panel::Assignments && self.mode == Mode::Normal {
                        self.mode = Mode::Confirm(c);
                    } else {
                        self.toast = Some((
                            format!("{}: plan dropped (left the panel)", c.confirm_label),
                            self.now,
                        ));
                    }
                }
                self.dirty = true;
            }
            Msg::Tick(now) => {
                // The clock and relative times change each second.
                self.now = now;
                if self
                    .toast
                    .as_ref()
                    .is_some_and(|(_, at)| (now - *at).num_seconds() >= 6)
                {
                    self.toast = None;
                }
                self.dirty = true;
            }
            Msg::Users { gen, at, result } => {
                let err = result.as_ref().err().cloned();
                if self.hub.accept(gen, at, err) {
                    if let Ok(listing) = result {
                        self.users = listing.users;
                        self.rebuild_users();
                        self.recheck();
                    }
                    self.dirty = true;
                }
            }
            Msg::Placement { gen, at, result } => {
                let err = result.as_ref().err().cloned();
                if self.docker.accept(gen, at, err) {
                    if let Ok(p) = result {
                        self.placement = Some(p);
                        self.rebuild_nodes();
                        self.rebuild_users();
                        self.recheck();
                        self.want_stats(&mut fx);
                    }
                    self.dirty = true;
                }
            }
            Msg::Routes { gen, at, result } => {
                let err = result.as_ref().err().cloned();
                if self.proxy.accept(gen, at, err) {
                    if let Ok(r) = result {
                        self.routes = Some(r);
                        self.recheck();
                    }
                    self.dirty = true;
                }
            }
            Msg::Stack(s) => {
                if self.stack.as_ref() != Some(&s) {
                    self.stack = Some(s);
                    self.dirty = true;
                }
            }
            Msg::Stats {
                container_id,
                result,
            } => {
                if let Ok(s) = result {
                    self.stats.insert(container_id, s);
                    self.dirty = self.dirty || self.panel == Panel::Nodes;
                }
            }
            Msg::Log(kind, tail) => {
                if self.logs[kind as usize] != tail {
                    self.logs[kind as usize] = tail;
                    self.dirty = self.dirty || self.panel == Panel::Logs;
                }
            }
            Msg::ActivityHistory(mut v) => {
                v.append(&mut self.activity);
                v.sort_by_key(|s| s.t);
                v.dedup_by_key(|s| s.t);
                self.activity = v;
                self.dirty = true;
            }
            Msg::ActivitySample(s) => {
                self.activity.push(s);
                self.dirty = true;
            }
            Msg::UserHistory { user, result } => {
                self.user_history.insert(user, result);
                self.dirty = true;
            }
            Msg::ActionDone { label, result } => {
                let text = match result {
                    Ok(()) => format!("{label}: done"),
                    Err(e) => format!("{label}: FAILED: {e}"),
                };
                self.toast = Some((text, self.now));
                self.dirty = true;
            }
        }
        fx
    }

    fn recheck(&mut self) {
        self.orphans = match (&self.placement, &self.routes) {
            (Some(p), Some(r)) if self.hub.last_ok.is_some() => {
                Some(cross_check(&self.users, p, r))
            }
            _ => None,
        };
    }

    /// Joins users with placement and rebuilds the visible order.
    pub fn rebuild_users(&mut self) {
        let nodes = self
            .placement
            .as_ref()
            .map(|p| p.node_of_users())
            .unwrap_or_default();
        self.user_rows = self
            .users
            .iter()
            .map(|u| {
                let def = u.default_server();
                let node = nodes.get(u.name.as_str()).map(|s| s.to_string());
                let named: Vec<String> = u.named_servers().map(str::to_string).collect();
                let state = u.server_state();
                let haystack = format!(
                    "{} {} {} {}{}",
                    u.name,
                    state.word(),
                    node.as_deref().unwrap_or(""),
                    if u.admin { "admin " } else { "" },
                    named.join(" ")
                )
                .to_lowercase();
                UserRow {
                    name: u.name.clone(),
                    admin: u.admin,
                    state,
                    named,
                    started: def.and_then(|s| s.started),
                    last_activity: u.latest_activity(),
                    node,
                    url: def.and_then(|s| s.url.clone()).or_else(|| u.server.clone()),
                    haystack,
                }
            })
            .collect();
        self.refilter_users();
    }

    fn refilter_users(&mut self) {
        let f = self.users_view.filter.to_lowercase();
        let rows = &self.user_rows;
        let mut order: Vec<usize> = (0..rows.len())
            .filter(|&i| f.is_empty() || rows[i].haystack.contains(&f))
            .collect();
        match self.user_sort {
            UserSort::Name => order.sort_by(|&a, &b| rows[a].name.cmp(&rows[b].name)),
            UserSort::LastActivity => order.sort_by(|&a, &b| {
                rows[b]
                    .last_activity
                    .cmp(&rows[a].last_activity)
                    .then_with(|| rows[a].name.cmp(&rows[b].name))
            }),
            UserSort::State => order.sort_by(|&a, &b| {
                rows[a]
                    .state
                    .cmp(&rows[b].state)
                    .then_with(|| rows[a].name.cmp(&rows[b].name))
            }),
        }
        let rows = &self.user_rows;
        self.users_view.rebuild(order, |i| rows[i].name.clone());
    }

    fn rebuild_nodes(&mut self) {
        let Some(p) = &self.placement else {
            return;
        };
        let f = self.nodes_view.filter.to_lowercase();
        let order: Vec<usize> = (0..p.nodes.len())
            .filter(|&i| {
                let n = &p.nodes[i];
                f.is_empty()
                    || n.hostname.to_lowercase().contains(&f)
                    || n.state.word().contains(&f)
                    || n.availability.word().contains(&f)
                    || p.containers_on(&n.id)
                        .any(|c| c.user.to_lowercase().contains(&f))
            })
            .collect();
        let nodes = &p.nodes;
        self.nodes_view.rebuild(order, |i| nodes[i].id.clone());
    }

    pub fn selected_user(&self) -> Option<&UserRow> {
        self.users_view
            .current()
            .and_then(|i| self.user_rows.get(i))
    }

    pub fn selected_node(&self) -> Option<&crate::swarm::NodeInfo> {
        let p = self.placement.as_ref()?;
        self.nodes_view.current().and_then(|i| p.nodes.get(i))
    }

    /// Samples the selected node's containers this engine can reach.
    fn want_stats(&mut self, fx: &mut Vec<Effect>) {
        let ids: Vec<String> = match (self.selected_node(), &self.placement) {
            (Some(n), Some(p)) => p
                .containers_on(&n.id)
                .filter(|c| c.local && c.running)
                .filter_map(|c| c.container_id.clone())
                .take(32)
                .collect(),
            _ => Vec::new(),
        };
        if ids != self.stats_wanted {
            self.stats_wanted = ids.clone();
            fx.push(Effect::SampleStats(ids));
        }
    }

    fn list_len(&self) -> usize {
        match self.panel {
            Panel::Users => self.users_view.visible.len(),
            Panel::Nodes => self.nodes_view.visible.len(),
            Panel::Logs => self.log(self.log_kind).lines.len(),
            Panel::Overview => self.orphans.as_ref().map(|o| o.len()).unwrap_or(0),
            Panel::Assignments => self.assign.list_len(self.now),
            _ => 0,
        }
    }

    fn selected_pos(&self) -> usize {
        match self.panel {
            Panel::Users => self.users_view.selected,
            Panel::Nodes => self.nodes_view.selected,
            Panel::Logs => {
                let n = self.log(self.log_kind).lines.len();
                n.saturating_sub(1).saturating_sub(self.log_scroll)
            }
            Panel::Overview => self.overview_scroll,
            Panel::Assignments => self.assign.selected_pos(),
            _ => 0,
        }
    }

    fn select(&mut self, pos: usize, fx: &mut Vec<Effect>) {
        match self.panel {
            Panel::Users => {
                let rows = &self.user_rows;
                self.users_view.move_to(pos, |i| rows[i].name.clone());
            }
            Panel::Nodes => {
                if let Some(p) = &self.placement {
                    let nodes = &p.nodes;
                    self.nodes_view.move_to(pos, |i| nodes[i].id.clone());
                }
                self.want_stats(fx);
            }
            Panel::Logs => {
                let n = self.log(self.log_kind).lines.len();
                self.log_scroll = n.saturating_sub(1).saturating_sub(pos);
            }
            Panel::Overview => {
                self.overview_scroll = pos.min(self.list_len().saturating_sub(1));
            }
            Panel::Assignments => self.assign.select(pos, self.now),
            _ => {}
        }
    }

    fn on_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        if k.kind == crossterm::event::KeyEventKind::Release {
            return;
        }
        if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            fx.push(Effect::Quit);
            return;
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.on_normal_key(k, fx),
            Mode::Filter => self.on_filter_key(k),
            Mode::Help => {
                // Any key closes the help; q still quits.
                if k.code == KeyCode::Char('q') {
                    self.quit = true;
                    fx.push(Effect::Quit);
                }
            }
            Mode::Confirm(mut c) => match k.code {
                KeyCode::Tab
                | KeyCode::BackTab
                | KeyCode::Left
                | KeyCode::Right
                | KeyCode::Char('h')
                | KeyCode::Char('l') => {
                    c.focus_confirm = !c.focus_confirm;
                    self.mode = Mode::Confirm(c);
                }
                KeyCode::Enter => {
                    if c.focus_confirm {
                        fx.push(c.effect.clone());
                        self.toast = Some((format!("{}: sent", c.confirm_label), self.now));
                        if let Effect::Assign(AssignEffect::Run(req)) = &c.effect {
                            self.assign.confirmed(req, self.now);
                            self.toast = Some((format!("{}: started", req.label()), self.now));
                        }
                    }
                }
                KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('q') => {}
                _ => self.mode = Mode::Confirm(c),
            },
            Mode::Details { of, scroll } => match keymap::lookup(&k, self.panel, self.read_only) {
                Some(Action::Back) | Some(Action::Enter) => {}
                Some(Action::Quit) => {
                    self.quit = true;
                    fx.push(Effect::Quit);
                }
                Some(Action::Down) => {
                    self.mode = Mode::Details {
                        of,
                        scroll: scroll + 1,
                    }
                }
                Some(Action::Up) => {
                    self.mode = Mode::Details {
                        of,
                        scroll: scroll.saturating_sub(1),
                    }
                }
                Some(Action::Top) => self.mode = Mode::Details { of, scroll: 0 },
                Some(
                    a @ (Action::StopServer
                    | Action::StartServer
                    | Action::Drain
                    | Action::Activate),
                ) => {
                    self.act(a, fx);
                }
                _ => self.mode = Mode::Details { of, scroll },
            },
        }
    }

    fn on_filter_key(&mut self, k: KeyEvent) {
        fn view_filter(app: &mut App) -> Option<&mut String> {
            match app.panel {
                Panel::Users => Some(&mut app.users_view.filter),
                Panel::Nodes => Some(&mut app.nodes_view.filter),
                Panel::Assignments => app.assign.filter_mut(),
                _ => None,
            }
        }
        match k.code {
            KeyCode::Enter => {}
            KeyCode::Esc => {
                if let Some(f) = view_filter(self) {
                    f.clear();
                }
                self.refilter();
            }
            KeyCode::Backspace => {
                if let Some(f) = view_filter(self) {
                    f.pop();
                }
                self.refilter();
                self.mode = Mode::Filter;
            }
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                if let Some(f) = view_filter(self) {
                    f.push(c);
                }
                self.refilter();
                self.mode = Mode::Filter;
            }
            _ => self.mode = Mode::Filter,
        }
    }

    fn refilter(&mut self) {
        match self.panel {
            Panel::Users => self.refilter_users(),
            Panel::Nodes => self.rebuild_nodes(),
            Panel::Assignments => self.assign.refilter(),
            _ => {}
        }
    }

    pub fn current_filter(&self) -> Option<&str> {
        match self.panel {
            Panel::Users => Some(&self.users_view.filter),
            Panel::Nodes => Some(&self.nodes_view.filter),
            Panel::Assignments => self.assign.filter(),
            _ => None,
        }
    }

    fn on_normal_key(&mut self, k: KeyEvent, fx: &mut Vec<Effect>) {
        let Some(action) = keymap::lookup(&k, self.panel, self.read_only) else {
            return;
        };
        let n = Panel::ALL.len();
        match action {
            Action::Quit => {
                self.quit = true;
                fx.push(Effect::Quit);
            }
            Action::Help => self.mode = Mode::Help,
            Action::NextPanel => self.go(Panel::ALL[(self.panel.index() + 1) % n], fx),
            Action::PrevPanel => self.go(Panel::ALL[(self.panel.index() + n - 1) % n], fx),
            Action::GoPanel(i) => self.go(Panel::ALL[i.min(n - 1)], fx),
            Action::Up => {
                let p = self.selected_pos();
                self.select(p.saturating_sub(1), fx)
            }
            Action::Down => {
                let p = self.selected_pos();
                self.select(p + 1, fx)
            }
            Action::PageUp => {
                let p = self.selected_pos();
                self.select(p.saturating_sub(PAGE), fx)
            }
            Action::PageDown => {
                let p = self.selected_pos();
                self.select(p + PAGE, fx)
            }
            Action::Top => self.select(0, fx),
            Action::Bottom => {
                let len = self.list_len();
                self.select(len.saturating_sub(1), fx)
            }
            Action::Filter => {
                if self.current_filter().is_some() {
                    self.mode = Mode::Filter;
                }
            }
            Action::Back => {
                let had = self.current_filter().is_some_and(|f| !f.is_empty());
                if had {
                    match self.panel {
                        Panel::Users => self.users_view.filter.clear(),
                        Panel::Nodes => self.nodes_view.filter.clear(),
                        Panel::Assignments => {
                            if let Some(f) = self.assign.filter_mut() {
                                f.clear();
                            }
                        }
                        _ => {}
                    }
                    self.refilter();
                } else if self.panel == Panel::Assignments {
                    fx.extend(self.assign.back().into_iter().map(Effect::Assign));
                }
            }
            Action::Enter => match self.panel {
                Panel::Users => {
                    if let Some(u) = self.selected_user() {
                        let name = u.name.clone();
                        fx.push(Effect::LoadUserHistory(name.clone()));
                        self.mode = Mode::Details {
                            of: DetailsOf::User(name),
                            scroll: 0,
                        };
                    }
                }
                Panel::Nodes => {
                    if let Some(nd) = self.selected_node() {
                        self.mode = Mode::Details {
                            of: DetailsOf::Node(nd.id.clone()),
                            scroll: 0,
                        };
                    }
                }
                Panel::Assignments => {
                    fx.extend(self.assign.enter().into_iter().map(Effect::Assign));
                }
                Panel::Overview if self.orphans.as_ref().is_some_and(|o| !o.is_empty()) => {
                    self.mode = Mode::Details {
                        of: DetailsOf::Orphans,
                        scroll: 0,
                    };
                }
                _ => {}
            },
            Action::Refresh => {
                fx.extend([
                    Effect::Refresh(Source::Hub),
                    Effect::Refresh(Source::Docker),
                    Effect::Refresh(Source::Proxy),
                ]);
                if self.panel == Panel::Assignments {
                    fx.push(Effect::Assign(AssignEffect::Refresh));
                }
            }
            Action::Sort => {
                self.user_sort = match self.user_sort {
                    UserSort::LastActivity => UserSort::Name,
                    UserSort::Name => UserSort::State,
                    UserSort::State => UserSort::LastActivity,
                };
                self.refilter_users();
            }
            Action::ToggleLog => {
                self.log_kind = match self.log_kind {
                    LogKind::Hub => LogKind::Proxy,
                    LogKind::Proxy => LogKind::Hub,
                };
                self.log_scroll = 0;
            }
            a @ (Action::StartServer
            | Action::StopServer
            | Action::Drain
            | Action::Activate
            | Action::Release
            | Action::Collect
            | Action::Return) => self.act(a, fx),
            Action::AuditLog => {
                fx.extend(self.assign.open_audit().into_iter().map(Effect::Assign));
            }
        }
    }

    fn go(&mut self, p: Panel, fx: &mut Vec<Effect>) {
        // Assignment status is read (files, roster) only while its panel is shown.
        if (self.panel == Panel::Assignments) != (p == Panel::Assignments) {
            fx.push(Effect::Assign(self.assign.want(p == Panel::Assignments)));
        }
        self.panel = p;
        if p == Panel::Nodes {
            self.want_stats(fx);
        }
    }

    /// Actions that change something; never reached with --read-only.
    fn act(&mut self, a: Action, fx: &mut Vec<Effect>) {
        if self.read_only {
            return;
        }
        match a {
            Action::StartServer => {
                if let Some(u) = self.selected_user() {
                    let name = u.name.clone();
                    self.toast = Some((format!("starting {name}'s server…"), self.now));
                    fx.push(Effect::StartServer(name));
                }
            }
            Action::StopServer => {
                let Some(u) = self.selected_user() else {
                    return;
                };
                let name = u.name.clone();
                let mut lines = vec![format!(
                    "{name}'s server is {}; unsaved work in open notebooks is lost.",
                    u.state.word()
                )];
                if let Some(n) = &u.node {
                    lines.push(format!("It runs on node {n}."));
                }
                self.mode = Mode::Confirm(Confirm {
                    title: format!("Stop {name}'s server?"),
                    lines,
                    command: format!("coursectl server stop {name}"),
                    confirm_label: format!("stop {name}"),
                    effect: Effect::StopServer(name),
                    focus_confirm: false,
                });
            }
            Action::Drain | Action::Activate => {
                let (Some(n), Some(p)) = (self.selected_node(), &self.placement) else {
                    return;
                };
                if p.mode != crate::swarm::EngineMode::Swarm {
                    self.toast = Some((
                        "not a Swarm: a plain engine has no availability to change".into(),
                        self.now,
                    ));
                    return;
                }
                let availability = if a == Action::Drain {
                    NodeAvailability::Drain
                } else {
                    NodeAvailability::Active
                };
                let students: Vec<String> =
                    p.containers_on(&n.id).map(|c| c.user.clone()).collect();
                let effect = Effect::SetAvailability {
                    node_id: n.id.clone(),
                    hostname: n.hostname.clone(),
                    availability,
                };
                let command = availability_command(&n.hostname, availability);
                if a == Action::Activate {
                    self.toast = Some((format!("{command}…"), self.now));
                    fx.push(effect);
                    return;
                }
                let mut lines = vec![format!(
                    "{} students' servers on {} will move to other nodes (restarting them):",
                    students.len(),
                    n.hostname
                )];
                let shown = 12;
                let mut names = students
                    .iter()
                    .take(shown)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
                if students.len() > shown {
                    names.push_str(&format!(", … and {} more", students.len() - shown));
                }
                if !students.is_empty() {
                    lines.push(names);
                }
                self.mode = Mode::Confirm(Confirm {
                    title: format!("Drain node {}?", n.hostname),
                    lines,
                    command,
                    confirm_label: format!("drain {}", n.hostname),
                    effect,
                    focus_confirm: false,
                });
            }
            Action::Release | Action::Collect | Action::Return => {
                let op = match a {
                    Action::Release => crate::course::Operation::Release,
                    Action::Collect => crate::course::Operation::Collect,
                    _ => crate::course::Operation::Return,
                };
                let o = self.assign.request(op);
                fx.extend(o.effects.into_iter().map(Effect::Assign));
                if let Some(t) = o.toast {
                    self.toast = Some((t, self.now));
                }
            }
            _ => {}
        }
    }
}
