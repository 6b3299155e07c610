//! Config types. Keys are kebab-case; every section has defaults so an empty
//! file is valid. config.example.toml documents every key (a test parses it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    #[serde(default)]
    pub course: CourseConfig,
    #[serde(default)]
    pub paths: PathsConfig,
    #[serde(default)]
    pub hub: HubConfig,
    #[serde(default)]
    pub proxy: ProxyConfig,
    #[serde(default)]
    pub docker: DockerConfig,
    #[serde(default)]
    pub supervisor: SupervisorConfig,
    #[serde(default)]
    pub ui: UiConfig,
    #[serde(default)]
    pub activity: ActivityConfig,
    #[serde(default)]
    pub culler: CullerConfig,
    #[serde(default)]
    pub assignments: AssignmentsConfig,
    #[serde(default)]
    pub backup: BackupConfig,
    /// The file this was read from (not a key).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct CourseConfig {
    /// Shown in the console header.
    pub name: String,
    /// nbgrader's course id.
    pub id: String,
}

impl Default for CourseConfig {
    fn default() -> Self {
        Self {
            name: "JupyterHub course".into(),
            id: "course101".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct PathsConfig {
    /// Student home template; `{username}` is replaced.
    pub home: String,
    /// nbgrader course directory (source/, release/, submitted/, feedback/).
    pub course_dir: PathBuf,
    /// pidfiles, logs, generated hub config, activity store, audit log.
    pub state_dir: Option<PathBuf>,
}

impl Default for PathsConfig {
    fn default() -> Self {
        Self {
            home: "/home/{username}".into(),
            course_dir: PathBuf::from("/srv/course"),
            state_dir: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct HubConfig {
    /// Command that runs JupyterHub; default `<venv>/bin/jupyterhub` or `jupyterhub`.
    pub command: Option<Vec<String>>,
    /// Python venv holding jupyterhub (its bin/ is put first on PATH).
    pub venv: Option<PathBuf>,
    /// The TA's jupyterhub_config.py; coursectl's generated config loads it.
    pub config_file: Option<PathBuf>,
    /// Where coursectl reaches the hub's REST API.
    pub api_url: String,
    /// Name of the JupyterHub service coursectl registers as.
    pub service_name: String,
    /// coursectl's API token (generated, mode 0600) — default `<state>/secrets/hub-token`.
    pub token_file: Option<PathBuf>,
    /// Working directory of the hub (its sqlite db and cookie secret) — default `<state>/hub`.
    pub working_dir: Option<PathBuf>,
    /// Extra environment for the hub process.
    pub env: BTreeMap<String, String>,
    /// How long a starting hub may take before it counts as failed.
    #[serde(with = "humantime_serde")]
    pub start_timeout: Duration,
    /// Grant coursectl's service the scopes to delete users (culler's cull-users).
    pub admin_users_scope: bool,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            command: None,
            venv: None,
            config_file: None,
            api_url: "http://127.0.0.1:8081/hub/api".into(),
            service_name: "coursectl".into(),
            token_file: None,
            working_dir: None,
            env: BTreeMap::new(),
            start_timeout: Duration::from_secs(60),
            admin_users_scope: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ProxyConfig {
    /// Command that runs configurable-http-proxy.
    pub command: Option<Vec<String>>,
    pub public_ip: String,
    pub public_port: u16,
    pub api_ip: String,
    pub api_port: u16,
    /// TLS on the public port (CHP terminates SSL).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Proxy auth token (generated, mode 0600) — default `<state>/secrets/proxy-token`.
    pub token_file: Option<PathBuf>,
    /// Where unmatched requests go; default: the hub's origin from `hub.api-url`.
    pub default_target: Option<String>,
    pub extra_args: Vec<String>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            command: None,
            public_ip: "0.0.0.0".into(),
            public_port: 8000,
            api_ip: "127.0.0.1".into(),
            api_port: 8001,
            tls_cert: None,
            tls_key: None,
            token_file: None,
            default_target: None,
            extra_args: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct DockerConfig {
    /// `unix:///var/run/docker.sock` or `tcp://host:2376`.
    pub host: String,
    /// TLS for tcp hosts (the engine runs with --tlsverify).
    pub tls_ca: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Label carrying the student's name on services/containers.
    pub user_label: String,
    /// Name template of students' services/containers.
    pub name_template: String,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            host: "unix:///var/run/docker.sock".into(),
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            user_label: "org.jupyterhub.user".into(),
            name_template: "jupyter-{username}".into(),
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct SupervisorConfig {
    /// Give up after this many crashes inside `restart-window`.
    pub max_restarts: u32,
    #[serde(with = "humantime_serde")]
    pub restart_window: Duration,
    #[serde(with = "humantime_serde")]
    pub backoff_initial: Duration,
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
    /// SIGTERM, then SIGKILL after this long.
    #[serde(with = "humantime_serde")]
    pub stop_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub check_interval: Duration,
    /// A running component whose health check keeps failing this long is
    /// restarted (counts as a crash). The hub gets at least `hub.start-timeout`.
    #[serde(with = "humantime_serde")]
    pub health_grace: Duration,
    /// A log file is rotated (one old copy kept) past this size.
    pub log_max_mb: u64,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        Self {
            max_restarts: 5,
            restart_window: Duration::from_secs(300),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            stop_timeout: Duration::from_secs(10),
            check_interval: Duration::from_millis(500),
            health_grace: Duration::from_secs(30),
            log_max_mb: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct UiConfig {
    #[serde(with = "humantime_serde")]
    pub refresh: Duration,
    /// Hide every action that changes something.
    pub read_only: bool,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            refresh: Duration::from_secs(5),
            read_only: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ActivityConfig {
    #[serde(with = "humantime_serde")]
    pub sample_interval: Duration,
    /// Samples older than this are dropped.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        Self {
            sample_interval: Duration::from_secs(60),
            retention: Duration::from_secs(60 * 86400),
        }
    }
}

/// jupyterhub-idle-culler's knobs, same meanings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct CullerConfig {
    pub enabled: bool,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub every: Duration,
    /// 0s = no maximum age.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    pub cull_users: bool,
    pub cull_admin_users: bool,
    pub remove_named_servers: bool,
    pub concurrency: u32,
    /// Users never culled.
    pub exempt_users: Vec<String>,
}

impl Default for CullerConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            timeout: Duration::from_secs(3600),
            every: Duration::from_secs(600),
            max_age: Duration::ZERO,
            cull_users: false,
            cull_admin_users: false,
            remove_named_servers: false,
            concurrency: 10,
            exempt_users: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct AssignmentsConfig {
    pub roster: RosterConfig,
    /// Owner of released files (the containers' `jupyter` user).
    pub owner_uid: u32,
    pub owner_gid: u32,
    /// Files above this are skipped at collect (and reported).
    pub max_file_mb: u64,
    /// A student's collection stops taking files past this.
    pub max_student_mb: u64,
    pub max_depth: u32,
    pub max_files: u64,
    /// `release --update`: may replace files the student has not modified since the last release.
    pub allow_update: bool,
    pub assignment: Vec<AssignmentConfig>,
}

impl Default for AssignmentsConfig {
    fn default() -> Self {
        Self {
            roster: RosterConfig::default(),
            owner_uid: 1000,
            owner_gid: 100,
            max_file_mb: 100,
            max_student_mb: 1024,
            max_depth: 64,
            max_files: 100_000,
            allow_update: true,
            assignment: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RosterSource {
    /// The hub's users, admins and services excluded.
    Hub,
    /// `students = [...]` below.
    List,
    /// A CSV file with a header; `csv-column` names the user column.
    Csv,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct RosterConfig {
    pub from: RosterSource,
    pub students: Vec<String>,
    pub csv: Option<PathBuf>,
    pub csv_column: String,
}

impl Default for RosterConfig {
    fn default() -> Self {
        Self {
            from: RosterSource::Hub,
            students: Vec::new(),
            csv: None,
            csv_column: "username".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AssignmentConfig {
    pub name: String,
    /// RFC 3339 (`2026-12-01T23:59:00+01:00`) or local `2026-12-01 23:59`.
    #[serde(default, deserialize_with = "de_due")]
    pub due: Option<DateTime<Utc>>,
    /// Submissions after `due` but within this window are late, not missing.
    #[serde(default, with = "humantime_serde")]
    pub late_window: Option<Duration>,
}

fn de_due<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let s = String::deserialize(d)?;
    parse_due(&s).map(Some).map_err(serde::de::Error::custom)
}

/// Parses a due date: RFC 3339, or a local `YYYY-MM-DD HH:MM[:SS]`.
pub fn parse_due(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            use chrono::TimeZone;
            if let Some(t) = chrono::Local.from_local_datetime(&naive).earliest() {
                return Ok(t.with_timezone(&Utc));
            }
        }
    }
    Err(format!(
        "invalid due date `{s}`: expected RFC 3339 like \"2026-12-01T23:59:00Z\" or local \"2026-12-01 23:59\""
    ))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct BackupConfig {
    pub enabled: bool,
    /// restic repository (a path, or sftp:/rest: URL).
    pub repository: String,
    /// restic password file (mode 0600).
    pub password_file: Option<PathBuf>,
    pub restic: String,
    /// What to back up; default: the home root and the course dir.
    pub paths: Vec<PathBuf>,
    pub exclude: Vec<String>,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            repository: String::new(),
            password_file: None,
            restic: "restic".into(),
            paths: Vec::new(),
            exclude: Vec::new(),
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 6,
        }
    }
}

/// A semantic error found after parsing; `mod.rs` adds file and line.
pub(crate) struct Invalid {
    pub section: String,
    pub key: String,
    pub message: String,
    pub fix: String,
}

fn invalid(
    section: &str,
    key: &str,
    message: impl Into<String>,
    fix: impl Into<String>,
) -> Invalid {
    Invalid {
        section: section.into(),
        key: key.into(),
        message: message.into(),
        fix: fix.into(),
    }
}

impl Config {
    pub(crate) fn resolve_relative(&mut self, base: &Path) {
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        let abs_opt = |p: &mut Option<PathBuf>| {
            if let Some(p) = p {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        };
        abs(&mut self.paths.course_dir);
        abs_opt(&mut self.paths.state_dir);
        abs_opt(&mut self.hub.venv);
        abs_opt(&mut self.hub.config_file);
        abs_opt(&mut self.hub.token_file);
        abs_opt(&mut self.hub.working_dir);
        abs_opt(&mut self.proxy.tls_cert);
        abs_opt(&mut self.proxy.tls_key);
        abs_opt(&mut self.proxy.token_file);
        abs_opt(&mut self.docker.tls_ca);
        abs_opt(&mut self.docker.tls_cert);
        abs_opt(&mut self.docker.tls_key);
        abs_opt(&mut self.assignments.roster.csv);
        abs_opt(&mut self.backup.password_file);
        if !self.paths.home.starts_with('/') {
            self.paths.home = base.join(&self.paths.home).display().to_string();
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Invalid> {
        if !self.paths.home.contains("{username}") {
            return Err(invalid(
                "paths",
                "home",
                format!("`{}` does not contain {{username}}", self.paths.home),
                "write the template with {username}, e.g. home = \"/home/{username}\"",
            ));
        }
        if !self.docker.name_template.contains("{username}") {
            return Err(invalid(
                "docker",
                "name-template",
                "does not contain {username}",
                "e.g. name-template = \"jupyter-{username}\"",
            ));
        }
        let h = &self.docker.host;
        if !(h.starts_with("unix://")
            || h.starts_with("tcp://")
            || h.starts_with("http://")
            || h.starts_with("https://"))
        {
            return Err(invalid(
                "docker",
                "host",
                format!("`{h}` is neither unix:// nor tcp://"),
                "e.g. host = \"unix:///var/run/docker.sock\" or \"tcp://manager:2376\"",
            ));
        }
        let tls = [
            &self.docker.tls_ca,
            &self.docker.tls_cert,
            &self.docker.tls_key,
        ];
        let n = tls.iter().filter(|x| x.is_some()).count();
        if n != 0 && n != 3 {
            return Err(invalid(
                "docker",
                "tls-ca",
                "tls-ca, tls-cert and tls-key go together",
                "set all three (the files docker --tlsverify uses) or none",
            ));
        }
        if self.proxy.tls_cert.is_some() != self.proxy.tls_key.is_some() {
            return Err(invalid(
                "proxy",
                "tls-cert",
                "tls-cert and tls-key go together",
                "set both or neither",
            ));
        }
        if reqwest::Url::parse(&self.hub.api_url).is_err() || !self.hub.api_url.contains("/hub/api")
        {
            return Err(invalid(
                "hub",
                "api-url",
                format!("`{}` is not a hub API URL", self.hub.api_url),
                "e.g. api-url = \"http://127.0.0.1:8081/hub/api\"",
            ));
        }
        if let Some(cmd) = &self.hub.command {
            if cmd.is_empty() {
                return Err(invalid(
                    "hub",
                    "command",
                    "is empty",
                    "e.g. command = [\"jupyterhub\"]",
                ));
            }
        }
        if let Some(cmd) = &self.proxy.command {
            if cmd.is_empty() {
                return Err(invalid(
                    "proxy",
                    "command",
                    "is empty",
                    "e.g. command = [\"configurable-http-proxy\"]",
                ));
            }
        }
        for u in &self.culler.exempt_users {
            crate::names::check_component(u).map_err(|m| {
                invalid(
                    "culler",
                    "exempt-users",
                    format!("user name {m}"),
                    "list hub user names",
                )
            })?;
        }
        for u in &self.assignments.roster.students {
            crate::names::check_component(u).map_err(|m| {
                invalid(
                    "assignments.roster",
                    "students",
                    format!("user name {m}"),
                    "remove or correct that name",
                )
            })?;
        }
        if self.assignments.roster.from == RosterSource::Csv
            && self.assignments.roster.csv.is_none()
        {
            return Err(invalid(
                "assignments.roster",
                "csv",
                "from = \"csv\" needs a csv file",
                "add csv = \"/path/to/roster.csv\"",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for a in &self.assignments.assignment {
            crate::names::check_component(&a.name).map_err(|m| {
                invalid(
                    "assignments.assignment",
                    "name",
                    format!("assignment name {m}"),
                    "use a plain name like \"ps1\"",
                )
            })?;
            if !seen.insert(a.name.clone()) {
                return Err(invalid(
                    "assignments.assignment",
                    "name",
                    format!("`{}` is declared twice", a.name),
                    "remove one of the two [[assignments.assignment]] blocks",
                ));
            }
        }
        if self.backup.enabled && self.backup.repository.is_empty() {
            return Err(invalid(
                "backup",
                "repository",
                "is empty while enabled = true",
                "set repository = \"/srv/backup/restic\"",
            ));
        }
        if self.backup.enabled && self.backup.password_file.is_none() {
            return Err(invalid(
                "backup",
                "password-file",
                "missing while enabled = true",
                "set password-file to a mode 0600 file",
            ));
        }
        Ok(())
    }

    /// The state dir: configured, else root's /var/lib/coursectl, else the user's data dir.
    pub fn state_dir(&self) -> PathBuf {
        if let Some(d) = &self.paths.state_dir {
            return d.clone();
        }
        if nix::unistd::geteuid().is_root() {
            return PathBuf::from("/var/lib/coursectl");
        }
        directories::ProjectDirs::from("", "", "coursectl")
            .map(|d| d.data_local_dir().to_path_buf())
            .unwrap_or_else(|| PathBuf::from(".coursectl"))
    }

    pub fn hub_token_file(&self) -> PathBuf {
        self.hub
            .token_file
            .clone()
            .unwrap_or_else(|| self.state_dir().join("secrets/hub-token"))
    }

    pub fn proxy_token_file(&self) -> PathBuf {
        self.proxy
            .token_file
            .clone()
            .unwrap_or_else(|| self.state_dir().join("secrets/proxy-token"))
    }

    pub fn log_dir(&self) -> PathBuf {
        self.state_dir().join("logs")
    }

    /// The home directory of `username` (the name must already be checked).
    pub fn home_of(&self, username: &str) -> PathBuf {
        PathBuf::from(self.paths.home.replace("{username}", username))
    }

    /// The hub's origin (scheme://host:port) from `hub.api-url`.
    pub fn hub_origin(&self) -> String {
        match reqwest::Url::parse(&self.hub.api_url) {
            Ok(u) => u.origin().ascii_serialization(),
            Err(_) => self.hub.api_url.clone(),
        }
    }

    pub fn proxy_api_url(&self) -> String {
        format!("http://{}:{}", self.proxy.api_ip, self.proxy.api_port)
    }

    pub fn proxy_public_url(&self) -> String {
        let scheme = if self.proxy.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        let ip = match self.proxy.public_ip.as_str() {
            "" | "0.0.0.0" | "::" => "127.0.0.1",
            ip => ip,
        };
        format!("{scheme}://{ip}:{}", self.proxy.public_port)
    }

    pub fn assignment(&self, name: &str) -> Option<&AssignmentConfig> {
        self.assignments.assignment.iter().find(|a| a.name == name)
    }
}
