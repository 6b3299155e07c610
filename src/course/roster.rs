//! Who the students are: a list in the config, a CSV file, or the hub's users
//! (admins and services excluded). A name that is not a safe path component
//! is refused and reported with where it came from; the others go ahead.

use std::collections::BTreeSet;

use crate::config::{Config, RosterSource};
use crate::hub::HubClient;

use super::report::RejectedName;

#[derive(Debug, Clone, Default)]
pub struct Roster {
    /// Sorted, unique, each a checked path component.
    pub students: Vec<String>,
    pub rejected: Vec<RejectedName>,
}

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error("roster CSV {path}: {reason} (fix [assignments.roster] csv / csv-column)")]
    Csv { path: String, reason: String },
    #[error("roster from the hub: {0}")]
    Hub(String),
}

impl Roster {
    /// Builds a roster from (name, source) pairs.
    pub fn from_names(names: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut ok = BTreeSet::new();
        let mut rejected = Vec::new();
        for (name, source) in names {
            match crate::names::check_component(&name) {
                Ok(()) => {
                    ok.insert(name);
                }
                Err(reason) => rejected.push(RejectedName {
                    name: name.escape_debug().to_string(),
                    source,
                    reason: format!("user name {reason}: refused"),
                }),
            }
        }
        Self {
            students: ok.into_iter().collect(),
            rejected,
        }
    }
}

pub async fn load_roster(cfg: &Config) -> Result<Roster, RosterError> {
    let r = &cfg.assignments.roster;
    match r.from {
        RosterSource::List => Ok(Roster::from_names(r.students.iter().enumerate().map(
            |(i, s)| {
                (
                    s.clone(),
                    format!("config [assignments.roster] students[{i}]"),
                )
            },
        ))),
        RosterSource::Csv => {
            let path = r.csv.clone().unwrap_or_default();
            read_csv(&path, &r.csv_column)
        }
        RosterSource::Hub => {
            let client = crate::hub::client_from_config(cfg)
                .map_err(|e| RosterError::Hub(format!("{e:#}")))?;
            let names = hub_students(&client).await?;
            Ok(Roster::from_names(
                names.into_iter().map(|n| (n, "hub users".to_string())),
            ))
        }
    }
}

pub fn read_csv(path: &std::path::Path, column: &str) -> Result<Roster, RosterError> {
    let shown = path.display().to_string();
    let err = |reason: String| RosterError::Csv {
        path: shown.clone(),
        reason,
    };
    let mut rd = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(|e| err(e.to_string()))?;
    let headers = rd.headers().map_err(|e| err(e.to_string()))?.clone();
    let Some(col) = headers.iter().position(|h| h == column) else {
        return Err(err(format!(
            "no column `{column}` in the header ({})",
            headers.iter().collect::<Vec<_>>().join(", ")
        )));
    };
    let mut names = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| err(e.to_string()))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let Some(name) = rec.get(col) else { continue };
        if name.is_empty() {
            continue;
        }
        names.push((name.to_string(), format!("{shown}:{line}")));
    }
    Ok(Roster::from_names(names))
}

/// Non-admin user names from the hub's paginated user listing (the
/// console's own listing: same requests, same page size).
pub async fn hub_students(client: &HubClient) -> Result<Vec<String>, RosterError> {
    let listing = crate::hub::list_users(client)
        .await
        .map_err(|e| RosterError::Hub(e.to_string()))?;
    Ok(listing
        .users
        .into_iter()
        .filter(|u| !u.admin)
        .map(|u| u.name)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_names_with_line_numbers() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.csv");
        std::fs::write(&p, "id,username\n1,alice\n2,../etc\n3,bob\n4,\n").unwrap();
        let r = read_csv(&p, "username").unwrap();
        assert_eq!(r.students, vec!["alice", "bob"]);
        assert_eq!(r.rejected.len(), 1);
        assert!(
            r.rejected[0].source.ends_with("r.csv:3"),
            "{:?}",
            r.rejected
        );
        assert!(read_csv(&p, "user").is_err());
    }
}
