//! Background pollers: each source (hub, Docker, proxy, stack health, log
//! files, container stats) runs in its own task and sends results to the UI
//! as messages. One request in flight per source; failures are retried with
//! backoff; results carry a generation so an older one never wins.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use super::app::{Effect, LogKind, LogTail, Msg, Source};
use super::panels::assignments::{AssignEffect, AssignMsg, OpRequest, StatusData};
use crate::activity::{sample_from_users, ActivityStore, LastSeenTracker};
use crate::config::Config;
use crate::hub::{self, HubClient};
use crate::proxy::ProxyClient;
use crate::swarm::SwarmClient;

pub type Tx = mpsc::UnboundedSender<Msg>;

/// Exponential backoff from the refresh interval up to a ceiling.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(base: Duration) -> Self {
        let base = base.max(Duration::from_millis(200));
        Self {
            base,
            max: (base * 8).min(Duration::from_secs(30)).max(base),
            next: base,
        }
    }
    pub fn fail(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }
    pub fn ok(&mut self) -> Duration {
        self.next = self.base;
        self.base
    }
}

/// Handles the runtime keeps to steer the pollers.
pub struct Pollers {
    hub: Arc<Notify>,
    docker: Arc<Notify>,
    proxy: Arc<Notify>,
    stats: watch::Sender<Vec<String>>,
    assign: Arc<Notify>,
    /// (panel shown, matrix of this assignment).
    assign_want: watch::Sender<(bool, Option<String>)>,
    tasks: Vec<JoinHandle<()>>,
    cfg: Arc<Config>,
    tx: Tx,
}

impl Drop for Pollers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn wait(d: Duration, nudge: &Notify) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = nudge.notified() => {}
    }
}

fn err_text(e: impl std::fmt::Display) -> String {
    format!("{e:#}")
}

impl Pollers {
    pub fn start(cfg: Config, tx: Tx) -> Self {
        let cfg = Arc::new(cfg);
        let refresh = cfg.ui.refresh.max(Duration::from_millis(200));
        let hub_n = Arc::new(Notify::new());
        let docker_n = Arc::new(Notify::new());
        let proxy_n = Arc::new(Notify::new());
        let (stats_tx, stats_rx) = watch::channel(Vec::new());
        let assign_n = Arc::new(Notify::new());
        let (want_tx, want_rx) = watch::channel((false, None));
        let tasks = vec![
            tokio::spawn(assign_loop(
                cfg.clone(),
                tx.clone(),
                assign_n.clone(),
                want_rx,
                refresh,
            )),
            tokio::spawn(hub_loop(cfg.clone(), tx.clone(), hub_n.clone(), refresh)),
            tokio::spawn(docker_loop(
                cfg.clone(),
                tx.clone(),
                docker_n.clone(),
                refresh,
            )),
            tokio::spawn(proxy_loop(
                cfg.clone(),
                tx.clone(),
                proxy_n.clone(),
                refresh,
            )),
            tokio::spawn(stack_loop(cfg.clone(), tx.clone(), refresh)),
            tokio::spawn(log_loop(cfg.log_dir(), tx.clone())),
            tokio::spawn(stats_loop(cfg.clone(), tx.clone(), stats_rx, refresh)),
            tokio::spawn(history_load(cfg.clone(), tx.clone())),
        ];
        Self {
            hub: hub_n,
            docker: docker_n,
            proxy: proxy_n,
            stats: stats_tx,
            assign: assign_n,
            assign_want: want_tx,
            tasks,
            cfg,
            tx,
        }
    }

    fn nudge(&self, s: Source) {
        match s {
            Source::Hub => self.hub.notify_one(),
            Source::Docker => self.docker.notify_one(),
            Source::Proxy => self.proxy.notify_one(),
        }
    }

    /// Starts or stops a user's server in the background; the result comes
    /// back as `ActionDone` and the hub poller refreshes at once.
    fn server_action(&self, name: String, start: bool) {
        let (cfg, tx, n) = (self.cfg.clone(), self.tx.clone(), self.hub.clone());
        tokio::spawn(async move {
            let r = async {
                let c = hub::client_from_config(&cfg).map_err(err_text)?;
                if start {
                    hub::start_server(&c, &name).await
                } else {
                    hub::stop_server(&c, &name).await
                }
                .map_err(err_text)
            }
            .await;
            let verb = if start { "start" } else { "stop" };
            let _ = tx.send(Msg::ActionDone {
                label: format!("{verb} {name}"),
                result: r,
            });
            n.notify_one();
        });
    }

    /// Carries out an effect without waiting for it (the result comes back as a message).
    pub fn perform(&self, e: Effect) {
        match e {
            Effect::Quit => {}
            Effect::Refresh(s) => self.nudge(s),
            Effect::SampleStats(ids) => {
                let _ = self.stats.send(ids);
            }
            Effect::StartServer(name) => self.server_action(name, true),
            Effect::StopServer(name) => self.server_action(name, false),
            Effect::SetAvailability {
                node_id,
                hostname,
                availability,
            } => {
                let (cfg, tx, n) = (self.cfg.clone(), self.tx.clone(), self.docker.clone());
                tokio::spawn(async move {
                    let r = async {
                        let c = SwarmClient::connect(&cfg.docker).await.map_err(err_text)?;
                        c.set_availability(&node_id, availability)
                            .await
                            .map_err(err_text)
                    }
                    .await;
                    let _ = tx.send(Msg::ActionDone {
                        label: crate::swarm::availability_command(&hostname, availability),
                        result: r,
                    });
                    n.notify_one();
                });
            }
            Effect::Assign(e) => self.perform_assign(e),
            Effect::LoadUserHistory(user) => {
                let (cfg, tx) = (self.cfg.clone(), self.tx.clone());
                tokio::task::spawn_blocking(move || {
                    let r = ActivityStore::for_config(&cfg)
                        .last_seen_of(&user)
                        .map_err(err_text);
                    let _ = tx.send(Msg::UserHistory { user, result: r });
                });
            }
        }
    }
}

impl Pollers {
    fn perform_assign(&self, e: AssignEffect) {
        match e {
            AssignEffect::Want { active, matrix } => {
                let _ = self.assign_want.send((active, matrix));
            }
            AssignEffect::Refresh => self.assign.notify_one(),
            AssignEffect::Plan(req) => {
                let (cfg, tx) = (self.cfg.clone(), self.tx.clone());
                tokio::spawn(async move {
                    let result = plan_op(cfg, &req).await;
                    let _ = tx.send(Msg::Assign(AssignMsg::Planned { req, result }));
                });
            }
            AssignEffect::Run(req) => {
                let (cfg, tx, n) = (self.cfg.clone(), self.tx.clone(), self.assign.clone());
                tokio::spawn(async move {
                    let result = run_op(cfg, &req, tx.clone()).await;
                    let _ = tx.send(Msg::Assign(AssignMsg::Done {
                        req,
                        at: Utc::now(),
                        result,
                    }));
                    n.notify_one();
                });
            }
            AssignEffect::LoadAudit => {
                let (cfg, tx) = (self.cfg.clone(), self.tx.clone());
                tokio::task::spawn_blocking(move || {
                    let path = crate::course::Layout::new(&cfg).audit_log();
                    let r = crate::course::audit::read(&path, None)
                        .map(|(recs, _bad)| recs)
                        .map_err(|e| format!("{}: {e}", path.display()));
                    let _ = tx.send(Msg::Assign(AssignMsg::Audit(r)));
                });
            }
        }
    }
}

/// `--student` names, else the roster (as the headless commands do).
async fn op_students(
    cfg: &Config,
    req: &OpRequest,
) -> Result<(Vec<String>, Vec<crate::course::report::RejectedName>), String> {
    crate::course::resolve_students(cfg, &req.students)
        .await
        .map_err(err_text)
}

fn op_spec(op: crate::course::Operation) -> crate::course::OpSpec {
    use crate::course::{self, OpSpec, Operation};
    match op {
        Operation::Release => OpSpec::Release(course::ReleaseOptions::default()),
        // The console always shows a gauge: count first for its totals.
        Operation::Collect => OpSpec::Collect(course::CollectOptions { count_first: true }),
        Operation::Return => OpSpec::Return(course::ReturnOptions::default()),
    }
}

/// The engine's dry run, off the UI thread.
async fn plan_op(cfg: Arc<Config>, req: &OpRequest) -> Result<crate::course::OpReport, String> {
    use crate::course;
    course::check_assignment(&cfg, &req.assignment).map_err(err_text)?;
    let (students, rejected) = op_students(&cfg, req).await?;
    let (spec, a) = (op_spec(req.op), req.assignment.clone());
    tokio::task::spawn_blocking(move || course::plan(&cfg, &spec, &a, &students, rejected))
        .await
        .map_err(|e| format!("the plan worker stopped: {e}"))?
        .map_err(err_text)
}

/// The operation itself: the course lock, then the same engine entry point
/// as `coursectl release/collect/return`. Progress is sent at most 10 times a second.
async fn run_op(
    cfg: Arc<Config>,
    req: &OpRequest,
    tx: Tx,
) -> Result<crate::course::OpReport, String> {
    use crate::course::{self, CourseLock, LockError};
    course::check_assignment(&cfg, &req.assignment).map_err(err_text)?;
    let lock = CourseLock::try_acquire(&cfg, &req.label()).map_err(|e| match e {
        LockError::Busy { holder, .. } => {
            format!("busy: another coursectl operation holds the course lock ({holder})")
        }
        other => err_text(other),
    })?;
    let (students, rejected) = op_students(&cfg, req).await?;
    let (spec, a) = (op_spec(req.op), req.assignment.clone());
    let last = std::sync::Mutex::new(None::<std::time::Instant>);
    let progress = move |p: crate::course::Progress| {
        let done = p.students_done == p.students_total;
        if let Ok(mut l) = last.lock() {
            if !done && l.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
                return;
            }
            *l = Some(std::time::Instant::now());
        }
        let _ = tx.send(Msg::Assign(AssignMsg::Progress {
            at: Utc::now(),
            progress: p,
        }));
    };
    // The audit record is written inside the blocking task: quitting the
    // console mid-run waits for it rather than losing the record.
    tokio::task::spawn_blocking(move || {
        let (report, warning) =
            course::execute(&cfg, &lock, &spec, &a, &students, rejected, progress)
                .map_err(err_text)?;
        if let Some(w) = warning {
            tracing::warn!("{w}");
        }
        drop(lock);
        Ok(report)
    })
    .await
    .map_err(|e| format!("the worker stopped: {e}"))?
}

/// Assignment status while the panel is shown: roster, table, the open matrix.
async fn assign_loop(
    cfg: Arc<Config>,
    tx: Tx,
    nudge: Arc<Notify>,
    mut want: watch::Receiver<(bool, Option<String>)>,
    refresh: Duration,
) {
    let mut gen = 0u64;
    loop {
        let (active, matrix) = want.borrow_and_update().clone();
        if active {
            gen += 1;
            let result = assign_status(cfg.clone(), matrix).await;
            if tx
                .send(Msg::Assign(AssignMsg::Status {
                    gen,
                    at: Utc::now(),
                    result,
                }))
                .is_err()
            {
                return;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(refresh), if active => {}
            _ = nudge.notified() => {}
            r = want.changed() => if r.is_err() { return; },
        }
    }
}

async fn assign_status(cfg: Arc<Config>, matrix: Option<String>) -> Result<StatusData, String> {
    use crate::course::{self, status};
    if cfg.assignments.assignment.is_empty() {
        return Ok(StatusData {
            students: 0,
            rejected: Vec::new(),
            table: Vec::new(),
            matrix: None,
        });
    }
    let roster = course::load_roster(&cfg).await.map_err(err_text)?;
    tokio::task::spawn_blocking(move || {
        let table = status::assignments_table(&cfg, &roster.students);
        let matrix = matrix.filter(|a| cfg.assignment(a).is_some()).map(|a| {
            let rows = status::student_matrix(&cfg, &a, &roster.students, true);
            (a, rows)
        });
        StatusData {
            students: roster.students.len(),
            rejected: roster.rejected,
            table,
            matrix,
        }
    })
    .await
    .map_err(|e| format!("the status worker stopped: {e}"))
}

async fn hub_loop(cfg: Arc<Config>, tx: Tx, nudge: Arc<Notify>, refresh: Duration) {
    let mut backoff = Backoff::new(refresh);
    let mut client: Option<HubClient> = None;
    let mut gen = 0u64;
    let store = ActivityStore::for_config(&cfg);
    let interval = chrono::Duration::from_std(cfg.activity.sample_interval)
        .unwrap_or(chrono::Duration::seconds(60));
    let mut last_sample: Option<chrono::DateTime<Utc>> = None;
    let mut tracker: Option<LastSeenTracker> = None;
    loop {
        gen += 1;
        let result = async {
            if client.is_none() {
                client = Some(hub::client_from_config(&cfg).map_err(err_text)?);
            }
            match &client {
                Some(c) => hub::list_users(c).await.map_err(err_text),
                None => Err("no hub client".to_string()),
            }
        }
        .await;
        let at = Utc::now();
        let ok = result.is_ok();
        if let Ok(listing) = &result {
            // Activity history: one sample per interval, recorded off the UI.
            if last_sample.is_none_or(|t| at - t >= interval) {
                last_sample = Some(at);
                let sample = sample_from_users(&listing.users, at);
                let _ = tx.send(Msg::ActivitySample(sample));
                let users = listing.users.clone();
                let store = store.clone();
                let mut tr = tracker.take();
                let joined = tokio::task::spawn_blocking(move || {
                    let tr = tr.get_or_insert_with(|| {
                        LastSeenTracker::from_history(&store.load_last_seen().unwrap_or_default())
                    });
                    let changes = tr.changes(&users);
                    let r = store
                        .append_sample(&sample)
                        .and_then(|_| store.append_last_seen(&changes))
                        .and_then(|_| store.compact_if_due(at).map(|_| ()));
                    if let Err(e) = r {
                        tracing::warn!("activity sample not stored: {e}");
                    }
                    tr.clone()
                })
                .await;
                tracker = joined.ok();
            }
        } else {
            // Re-read the token next time (it may have been created meanwhile).
            client = None;
        }
        if tx.send(Msg::Users { gen, at, result }).is_err() {
            return;
        }
        let d = if ok { backoff.ok() } else { backoff.fail() };
        wait(d, &nudge).await;
    }
}

async fn docker_loop(cfg: Arc<Config>, tx: Tx, nudge: Arc<Notify>, refresh: Duration) {
    let mut backoff = Backoff::new(refresh);
    let mut client: Option<SwarmClient> = None;
    let mut gen = 0u64;
    loop {
        gen += 1;
        let result = async {
            if client.is_none() {
                client = Some(SwarmClient::connect(&cfg.docker).await.map_err(err_text)?);
            }
            match &client {
                Some(c) => c.placement().await.map_err(err_text),
                None => Err("no Docker client".to_string()),
            }
        }
        .await;
        let ok = result.is_ok();
        if !ok {
            client = None;
        }
        if tx
            .send(Msg::Placement {
                gen,
                at: Utc::now(),
                result,
            })
            .is_err()
        {
            return;
        }
        let d = if ok { backoff.ok() } else { backoff.fail() };
        wait(d, &nudge).await;
    }
}

async fn proxy_loop(cfg: Arc<Config>, tx: Tx, nudge: Arc<Notify>, refresh: Duration) {
    let mut backoff = Backoff::new(refresh);
    let mut gen = 0u64;
    loop {
        gen += 1;
        let result = async {
            let token = crate::secrets::read_secret(&cfg.proxy_token_file(), "proxy token")
                .map_err(err_text)?;
            let c = ProxyClient::new(&cfg.proxy_api_url(), token, Duration::from_secs(5));
            c.routes().await.map_err(err_text)
        }
        .await;
        let ok = result.is_ok();
        if tx
            .send(Msg::Routes {
                gen,
                at: Utc::now(),
                result,
            })
            .is_err()
        {
            return;
        }
        let d = if ok { backoff.ok() } else { backoff.fail() };
        wait(d, &nudge).await;
    }
}

async fn stack_loop(cfg: Arc<Config>, tx: Tx, refresh: Duration) {
    loop {
        let s = crate::supervisor::stack_status(&cfg).await;
        if tx.send(Msg::Stack(s)).is_err() {
            return;
        }
        tokio::time::sleep(refresh.max(Duration::from_secs(2))).await;
    }
}

/// The last `max` lines of a file, reading at most its last 256 KiB.
pub fn tail_file(path: &std::path::Path, max: usize) -> std::io::Result<Vec<String>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(256 * 1024);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<String> = text
        .lines()
        .skip(usize::from(start > 0))
        .map(|l| {
            l.replace('\t', "    ")
                .chars()
                .filter(|c| !c.is_control())
                .collect()
        })
        .collect();
    let n = lines.len();
    Ok(lines.split_off(n.saturating_sub(max)))
}

async fn log_loop(dir: PathBuf, tx: Tx) {
    let mut seen: [Option<(u64, Option<std::time::SystemTime>)>; 2] = [None, None];
    loop {
        for kind in [LogKind::Hub, LogKind::Proxy] {
            let path = dir.join(kind.file());
            let meta = std::fs::metadata(&path)
                .ok()
                .map(|m| (m.len(), m.modified().ok()));
            if meta.is_some() && meta == seen[kind as usize] {
                continue;
            }
            seen[kind as usize] = meta;
            let p = path.clone();
            let tail = tokio::task::spawn_blocking(move || match tail_file(&p, 1000) {
                Ok(lines) => LogTail { lines, error: None },
                Err(e) => LogTail {
                    lines: Vec::new(),
                    error: Some(format!(
                        "{}: {e} (the supervisor writes it: `coursectl up`)",
                        p.display()
                    )),
                },
            })
            .await
            .unwrap_or_default();
            if tx.send(Msg::Log(kind, tail)).is_err() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Samples the wanted containers a few at a time, then waits a refresh.
async fn stats_loop(
    cfg: Arc<Config>,
    tx: Tx,
    mut wanted: watch::Receiver<Vec<String>>,
    refresh: Duration,
) {
    let mut client: Option<SwarmClient> = None;
    loop {
        let ids = wanted.borrow_and_update().clone();
        if !ids.is_empty() {
            if client.is_none() {
                client = SwarmClient::connect(&cfg.docker).await.ok();
            }
            if let Some(c) = &client {
                let mut results = futures::stream::iter(ids)
                    .map(|id| async move {
                        let r = c.stats(&id).await.map_err(err_text);
                        (id, r)
                    })
                    .buffer_unordered(4);
                while let Some((id, r)) = results.next().await {
                    if r.is_err() {
                        tracing::debug!("stats of {id}: {:?}", r.as_ref().err());
                    }
                    if tx
                        .send(Msg::Stats {
                            container_id: id,
                            result: r,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(refresh) => {}
            r = wanted.changed() => if r.is_err() { return; },
        }
    }
}

async fn history_load(cfg: Arc<Config>, tx: Tx) {
    let store = ActivityStore::for_config(&cfg);
    let r = tokio::task::spawn_blocking(move || store.load_samples()).await;
    match r {
        Ok(Ok(l)) => {
            let _ = tx.send(Msg::ActivityHistory(l.records));
        }
        Ok(Err(e)) => tracing::warn!("activity history not loaded: {e}"),
        Err(e) => tracing::warn!("activity history task: {e}"),
    }
}
