//! Hub users: wire types of `GET /hub/api/users` and the paginated listing,
//! plus starting and stopping a user's default server. Shared by the console,
//! `coursectl users` and `status --record`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{decode, HubClient, HubError};

/// The media type that makes the hub answer `{items, _pagination}`.
pub const PAGINATION_MEDIA_TYPE: &str = "application/jupyterhub-pagination+json";

/// Asked for on the first page; the hub clamps it to its `api_page_max_limit`.
pub const WANT_PAGE: usize = 10_000;

/// Pages fetched at once after the first.
const PAGE_CONCURRENCY: usize = 4;

/// One user as the hub describes it (fields the token may not read are absent).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct HubUser {
    pub name: String,
    #[serde(default)]
    pub admin: bool,
    /// URL path of the running default server, if any.
    #[serde(default)]
    pub server: Option<String>,
    /// "spawn" / "stop" while the default server is changing state.
    #[serde(default)]
    pub pending: Option<String>,
    #[serde(default)]
    pub created: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_activity: Option<DateTime<Utc>>,
    /// Active servers by name ("" is the default server); needs `read:servers`.
    #[serde(default)]
    pub servers: BTreeMap<String, HubServer>,
}

/// One server of a user.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct HubServer {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub ready: bool,
    #[serde(default)]
    pub stopped: bool,
    #[serde(default)]
    pub pending: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub started: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_activity: Option<DateTime<Utc>>,
    /// The spawner's state (needs `admin:server_state`): shown key by key,
    /// with anything that looks like a secret redacted.
    #[serde(default)]
    pub state: Option<serde_json::Value>,
}

/// Where a server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerState {
    Ready,
    PendingSpawn,
    PendingStop,
    Stopped,
}

impl ServerState {
    pub fn word(self) -> &'static str {
        match self {
            ServerState::Ready => "ready",
            ServerState::PendingSpawn => "spawning",
            ServerState::PendingStop => "stopping",
            ServerState::Stopped => "stopped",
        }
    }
    /// A server exists (running or changing state).
    pub fn is_active(self) -> bool {
        self != ServerState::Stopped
    }
}

impl HubServer {
    pub fn state(&self) -> ServerState {
        match self.pending.as_deref() {
            Some("spawn") => ServerState::PendingSpawn,
            Some("stop") => ServerState::PendingStop,
            _ if self.ready => ServerState::Ready,
            _ if self.stopped => ServerState::Stopped,
            // Active but neither ready nor pending: the hub is still checking it.
            _ => ServerState::PendingSpawn,
        }
    }
}

impl HubUser {
    /// The default server, if active.
    pub fn default_server(&self) -> Option<&HubServer> {
        self.servers.get("")
    }

    /// State of the default server (falls back on `server`/`pending` when the
    /// token cannot read `servers`).
    pub fn server_state(&self) -> ServerState {
        if let Some(s) = self.default_server() {
            return s.state();
        }
        match self.pending.as_deref() {
            Some("spawn") => ServerState::PendingSpawn,
            Some("stop") => ServerState::PendingStop,
            _ if self.server.is_some() => ServerState::Ready,
            _ => ServerState::Stopped,
        }
    }

    /// Names of active named servers (not the default one).
    pub fn named_servers(&self) -> impl Iterator<Item = &str> {
        self.servers
            .keys()
            .filter(|k| !k.is_empty())
            .map(|k| k.as_str())
    }

    /// The latest activity of the user or any of their servers.
    pub fn latest_activity(&self) -> Option<DateTime<Utc>> {
        self.servers
            .values()
            .filter_map(|s| s.last_activity)
            .chain(self.last_activity)
            .max()
    }
}

/// `_pagination` of a paginated answer.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Pagination {
    pub offset: usize,
    pub limit: usize,
    pub total: usize,
}

/// A paginated answer; an old hub (before 2.0) answers a bare list instead.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum UsersPage {
    Paginated {
        items: Vec<HubUser>,
        #[serde(rename = "_pagination")]
        pagination: Pagination,
    },
    Bare(Vec<HubUser>),
}

/// Every user, and what it took to get them.
#[derive(Debug, Clone, Default)]
pub struct UserListing {
    pub users: Vec<HubUser>,
    /// Page size the hub allowed (its `api_page_max_limit`).
    pub page_limit: usize,
    /// HTTP requests made.
    pub requests: usize,
}

/// Offsets of the pages still to fetch after a first page that brought
/// `first_len` items of `total`, pages of `limit` items.
pub fn remaining_offsets(first_len: usize, limit: usize, total: usize) -> Vec<usize> {
    if limit == 0 || first_len == 0 {
        return Vec::new();
    }
    (first_len..total).step_by(limit).collect()
}

/// Joins pages into one list, sorted by name; a user seen on two pages (the
/// list shifted while paging) is kept once, the later copy winning.
pub fn assemble(pages: Vec<Vec<HubUser>>) -> Vec<HubUser> {
    let mut by_name: BTreeMap<String, HubUser> = BTreeMap::new();
    for u in pages.into_iter().flatten() {
        by_name.insert(u.name.clone(), u);
    }
    by_name.into_values().collect()
}

fn users_path(offset: usize, limit: usize) -> String {
    format!("users?offset={offset}&limit={limit}")
}

async fn get_page(hub: &HubClient, offset: usize, limit: usize) -> Result<UsersPage, HubError> {
    let rb = hub
        .request(Method::GET, &users_path(offset, limit))
        .header(reqwest::header::ACCEPT, PAGINATION_MEDIA_TYPE);
    decode(hub.send(rb).await?).await
}

/// Every hub user: the first page tells the page size and total; the rest
/// are fetched a few at a time. ceil(total / page size) requests in all.
pub async fn list_users(hub: &HubClient) -> Result<UserListing, HubError> {
    let (items, pagination) = match get_page(hub, 0, WANT_PAGE).await? {
        UsersPage::Bare(items) => {
            let n = items.len();
            return Ok(UserListing {
                users: assemble(vec![items]),
                page_limit: n,
                requests: 1,
            });
        }
        UsersPage::Paginated { items, pagination } => (items, pagination),
    };
    let limit = pagination.limit.max(1);
    let offsets = remaining_offsets(items.len(), limit, pagination.total);
    let requests = 1 + offsets.len();
    let mut pages: Vec<Vec<HubUser>> = stream::iter(offsets)
        .map(|off| async move {
            match get_page(hub, off, limit).await? {
                UsersPage::Paginated { items, .. } | UsersPage::Bare(items) => {
                    Ok::<_, HubError>(items)
                }
            }
        })
        .buffered(PAGE_CONCURRENCY)
        .try_collect()
        .await?;
    pages.insert(0, items);
    Ok(UserListing {
        users: assemble(pages),
        page_limit: limit,
        requests,
    })
}

fn check_name(name: &str) -> Result<(), HubError> {
    crate::names::check_component(name).map_err(|m| HubError::BadUrl(format!("user name {m}")))
}

/// `POST users/{name}/server`: asks the hub to start the default server.
pub async fn start_server(hub: &HubClient, name: &str) -> Result<(), HubError> {
    check_name(name)?;
    let path = format!("users/{name}/server");
    hub.send(hub.request(Method::POST, &path)).await.map(|_| ())
}

/// `DELETE users/{name}/server`: asks the hub to stop the default server.
pub async fn stop_server(hub: &HubClient, name: &str) -> Result<(), HubError> {
    check_name(name)?;
    let path = format!("users/{name}/server");
    hub.send(hub.request(Method::DELETE, &path))
        .await
        .map(|_| ())
}

/// Spawner state as `key = value` lines, values of secret-looking keys
/// replaced by `<redacted>`.
pub fn state_lines(state: &serde_json::Value) -> Vec<(String, String)> {
    let Some(map) = state.as_object() else {
        return Vec::new();
    };
    map.iter()
        .map(|(k, v)| {
            let lk = k.to_ascii_lowercase();
            let value = if ["token", "secret", "password", "key", "env"]
                .iter()
                .any(|s| lk.contains(s))
            {
                "<redacted>".to_string()
            } else {
                match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string().chars().take(120).collect(),
                }
            };
            (k.clone(), value)
        })
        .collect()
}

/// Users active within `window` of `now`.
pub fn count_active(users: &[HubUser], now: DateTime<Utc>, window: chrono::Duration) -> usize {
    users
        .iter()
        .filter(|u| u.latest_activity().is_some_and(|t| now - t <= window))
        .count()
}

/// Users whose default or named servers are active.
pub fn count_running(users: &[HubUser]) -> usize {
    users
        .iter()
        .filter(|u| u.server_state().is_active() || u.named_servers().next().is_some())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> HubUser {
        serde_json::from_value(serde_json::json!({"name": name})).unwrap()
    }

    #[test]
    fn offsets_cover_the_rest_exactly() {
        assert_eq!(remaining_offsets(200, 200, 2000).len(), 9);
        assert_eq!(remaining_offsets(200, 200, 2000)[0], 200);
        assert_eq!(remaining_offsets(200, 200, 2001).last(), Some(&2000));
        assert!(remaining_offsets(50, 200, 50).is_empty());
        assert!(remaining_offsets(0, 200, 10).is_empty());
    }

    #[test]
    fn assemble_dedupes_and_sorts() {
        let pages = vec![vec![user("b"), user("a")], vec![user("a"), user("c")]];
        let names: Vec<_> = assemble(pages).into_iter().map(|u| u.name).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn reads_paginated_and_bare_answers() {
        let p: UsersPage = serde_json::from_str(
            r#"{"items":[{"name":"a","admin":false,"servers":{"":{"name":"","ready":true,"pending":null,"stopped":false,"started":"2026-01-01T10:00:00.123456Z","last_activity":"2026-01-01T10:05:00Z","url":"/user/a/"}}}],
                "_pagination":{"offset":0,"limit":200,"total":1,"next":null}}"#,
        )
        .unwrap();
        match p {
            UsersPage::Paginated { items, pagination } => {
                assert_eq!(pagination.limit, 200);
                assert_eq!(items[0].server_state(), ServerState::Ready);
            }
            UsersPage::Bare(_) => panic!("expected paginated"),
        }
        let b: UsersPage = serde_json::from_str(r#"[{"name":"x"}]"#).unwrap();
        assert!(matches!(b, UsersPage::Bare(v) if v.len() == 1));
    }

    #[test]
    fn server_states() {
        let mut u = user("a");
        assert_eq!(u.server_state(), ServerState::Stopped);
        u.pending = Some("spawn".into());
        assert_eq!(u.server_state(), ServerState::PendingSpawn);
        let s: HubServer =
            serde_json::from_value(serde_json::json!({"pending": "stop", "ready": true})).unwrap();
        assert_eq!(s.state(), ServerState::PendingStop);
    }

    #[test]
    fn state_lines_redact_secrets() {
        let v = serde_json::json!({"object_id": "abc", "api_token": "s3cret"});
        let lines = state_lines(&v);
        assert!(lines.contains(&("object_id".into(), "abc".into())));
        assert!(lines.contains(&("api_token".into(), "<redacted>".into())));
    }
}
