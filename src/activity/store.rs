//! The activity store: `<state>/activity/samples.log` and `lastseen.log`.
//!
//! Each record is one line `CRC32HEX JSON\n`, appended with a single write
//! under an exclusive lock (the console and a cron `status --record` may
//! write at once). Reading skips a torn last line (no newline: the writer
//! died mid-record) and any line whose checksum does not match. Compaction
//! (at most hourly) rewrites a file into a temporary one, syncs it and
//! renames it over the old one, so a crash leaves either file whole.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use nix::fcntl::{Flock, FlockArg};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{downsample, Sample};
use crate::hub::HubUser;

const SAMPLES: &str = "samples.log";
const LAST_SEEN: &str = "lastseen.log";
const LOCK: &str = ".lock";
const MARKER: &str = ".compacted";
/// Compaction runs at most this often.
const COMPACT_EVERY: Duration = Duration::from_secs(3600);
/// A user's last-seen history keeps this many changes.
pub const LAST_SEEN_PER_USER: usize = 400;
/// A user's activity is recorded again once it moved this far (seconds):
/// one entry per stretch of work, not one per activity ping.
pub const LAST_SEEN_GAP_SECS: i64 = 15 * 60;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("activity store {path}: {source} (check that the state dir is writable, or set [paths] state-dir)")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One change of a user's last activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastSeen {
    pub u: String,
    pub t: i64,
}

/// Records read back, and how many lines were skipped as torn or corrupt.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<T> {
    pub records: Vec<T>,
    pub skipped: usize,
}

/// CRC-32 (IEEE), bitwise: records are short and written once a minute.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// One record line, newline included.
pub fn encode_record<T: Serialize>(value: &T) -> String {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    format!("{:08x} {json}\n", crc32(json.as_bytes()))
}

/// Reads records; a last line without newline, or a bad checksum, is skipped.
pub fn decode_records<T: DeserializeOwned>(bytes: &[u8]) -> Loaded<T> {
    let mut records = Vec::new();
    let mut skipped = 0;
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            skipped += 1; // torn tail
            break;
        };
        let line = &rest[..nl];
        rest = &rest[nl + 1..];
        if line.is_empty() {
            continue;
        }
        let ok = (|| {
            if line.len() < 10 || line[8] != b' ' {
                return None;
            }
            let want = u32::from_str_radix(std::str::from_utf8(&line[..8]).ok()?, 16).ok()?;
            let json = &line[9..];
            (crc32(json) == want).then_some(())?;
            serde_json::from_slice::<T>(json).ok()
        })();
        match ok {
            Some(r) => records.push(r),
            None => skipped += 1,
        }
    }
    Loaded { records, skipped }
}

fn ends_torn(f: &mut File) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    f.seek(SeekFrom::Start(len - 1))?;
    let mut b = [0u8; 1];
    f.read_exact(&mut b)?;
    Ok(b[0] != b'\n')
}

/// The store in one directory.
#[derive(Debug, Clone)]
pub struct ActivityStore {
    dir: PathBuf,
    retention_secs: i64,
}

impl ActivityStore {
    /// The store of a config: `<state>/activity`, its retention.
    pub fn for_config(cfg: &crate::config::Config) -> Self {
        Self::new(
            cfg.state_dir().join("activity"),
            cfg.activity.retention.as_secs() as i64,
        )
    }

    pub fn new(dir: PathBuf, retention_secs: i64) -> Self {
        Self {
            dir,
            retention_secs,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn io(&self, path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn lock(&self) -> Result<Flock<File>, StoreError> {
        fs::create_dir_all(&self.dir).map_err(|e| self.io(&self.dir, e))?;
        let p = self.dir.join(LOCK);
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(|e| self.io(&p, e))?;
        Flock::lock(f, FlockArg::LockExclusive)
            .map_err(|(_, errno)| self.io(&p, std::io::Error::from(errno)))
    }

    fn append_lines(&self, file: &str, text: &str) -> Result<(), StoreError> {
        if text.is_empty() {
            return Ok(());
        }
        let _lock = self.lock()?;
        let p = self.dir.join(file);
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&p)
            .map_err(|e| self.io(&p, e))?;
        // A writer that died mid-record left a line without newline: end it
        // (it stays unreadable) so this record starts on a line of its own.
        let torn = ends_torn(&mut f).map_err(|e| self.io(&p, e))?;
        let text = if torn {
            format!("\n{text}")
        } else {
            text.to_string()
        };
        f.write_all(text.as_bytes()).map_err(|e| self.io(&p, e))?;
        f.sync_data().map_err(|e| self.io(&p, e))
    }

    fn read<T: DeserializeOwned>(&self, file: &str) -> Result<Loaded<T>, StoreError> {
        let p = self.dir.join(file);
        match fs::read(&p) {
            Ok(b) => Ok(decode_records(&b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Loaded {
                records: Vec::new(),
                skipped: 0,
            }),
            Err(e) => Err(self.io(&p, e)),
        }
    }

    pub fn append_sample(&self, s: &Sample) -> Result<(), StoreError> {
        self.append_lines(SAMPLES, &encode_record(s))
    }

    /// Every stored sample, oldest first.
    pub fn load_samples(&self) -> Result<Loaded<Sample>, StoreError> {
        let mut l = self.read::<Sample>(SAMPLES)?;
        l.records.sort_by_key(|s| s.t);
        Ok(l)
    }

    pub fn append_last_seen(&self, entries: &[LastSeen]) -> Result<(), StoreError> {
        let text: String = entries.iter().map(encode_record).collect();
        self.append_lines(LAST_SEEN, &text)
    }

    /// Every user's recorded last-activity changes, oldest first.
    pub fn load_last_seen(&self) -> Result<BTreeMap<String, Vec<i64>>, StoreError> {
        let l = self.read::<LastSeen>(LAST_SEEN)?;
        let mut map: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for r in l.records {
            map.entry(r.u).or_default().push(r.t);
        }
        for v in map.values_mut() {
            v.sort_unstable();
            v.dedup();
        }
        Ok(map)
    }

    /// One user's history, oldest first.
    pub fn last_seen_of(&self, user: &str) -> Result<Vec<i64>, StoreError> {
        Ok(self.load_last_seen()?.remove(user).unwrap_or_default())
    }

    /// Compacts when the last compaction is older than an hour.
    pub fn compact_if_due(&self, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let marker = self.dir.join(MARKER);
        let due = match fs::metadata(&marker).and_then(|m| m.modified()) {
            Ok(t) => SystemTime::now()
                .duration_since(t)
                .map(|d| d >= COMPACT_EVERY)
                .unwrap_or(true),
            Err(_) => true,
        };
        if due {
            self.compact(now)?;
        }
        Ok(due)
    }

    /// Ages samples (see `downsample`), trims last-seen histories, and
    /// rewrites both files atomically.
    pub fn compact(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        let now_s = now.timestamp();
        let samples = self.read::<Sample>(SAMPLES)?.records;
        let kept = downsample(&samples, now_s, self.retention_secs);
        self.rewrite(SAMPLES, kept.iter().map(encode_record).collect())?;

        let seen = self.read::<LastSeen>(LAST_SEEN)?.records;
        let mut per: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for r in seen {
            if r.t >= now_s - self.retention_secs {
                per.entry(r.u).or_default().push(r.t);
            }
        }
        let mut text = String::new();
        for (u, mut ts) in per {
            ts.sort_unstable();
            ts.dedup();
            let skip = ts.len().saturating_sub(LAST_SEEN_PER_USER);
            for t in &ts[skip..] {
                text.push_str(&encode_record(&LastSeen {
                    u: u.clone(),
                    t: *t,
                }));
            }
        }
        self.rewrite(LAST_SEEN, text)?;
        let marker = self.dir.join(MARKER);
        fs::write(&marker, b"").map_err(|e| self.io(&marker, e))
    }

    fn rewrite(&self, file: &str, text: String) -> Result<(), StoreError> {
        let p = self.dir.join(file);
        let tmp = self.dir.join(format!("{file}.tmp"));
        let mut f = File::create(&tmp).map_err(|e| self.io(&tmp, e))?;
        f.write_all(text.as_bytes()).map_err(|e| self.io(&tmp, e))?;
        f.sync_all().map_err(|e| self.io(&tmp, e))?;
        fs::rename(&tmp, &p).map_err(|e| self.io(&p, e))?;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Decides which users' last activity moved enough to be recorded.
#[derive(Debug, Clone, Default)]
pub struct LastSeenTracker {
    last: HashMap<String, i64>,
}

impl LastSeenTracker {
    /// Starts from what the store holds (the newest entry per user).
    pub fn from_history(history: &BTreeMap<String, Vec<i64>>) -> Self {
        Self {
            last: history
                .iter()
                .filter_map(|(u, ts)| Some((u.clone(), *ts.last()?)))
                .collect(),
        }
    }

    /// Entries to append for this listing (and remembers them).
    pub fn changes(&mut self, users: &[HubUser]) -> Vec<LastSeen> {
        let mut out = Vec::new();
        for u in users {
            let Some(t) = u.latest_activity().map(|t| t.timestamp()) else {
                continue;
            };
            let record = match self.last.get(&u.name) {
                None => true,
                Some(prev) => t - prev >= LAST_SEEN_GAP_SECS,
            };
            if record {
                self.last.insert(u.name.clone(), t);
                out.push(LastSeen {
                    u: u.name.clone(),
                    t,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: i64) -> Sample {
        Sample {
            t,
            active5: 1.0,
            active15: 2.0,
            active60: 3.0,
            running: 4.0,
            n: 1,
        }
    }

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn torn_tail_and_corrupt_lines_are_skipped() {
        let mut bytes = encode_record(&sample(1)).into_bytes();
        let mut bad = encode_record(&sample(2)).into_bytes();
        bad[12] ^= 0x01; // flip a bit inside the JSON
        bytes.extend_from_slice(&bad);
        bytes.extend_from_slice(encode_record(&sample(3)).as_bytes());
        let torn = encode_record(&sample(4));
        bytes.extend_from_slice(&torn.as_bytes()[..torn.len() / 2]);
        let l: Loaded<Sample> = decode_records(&bytes);
        assert_eq!(
            l.records.iter().map(|s| s.t).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_eq!(l.skipped, 2);
    }

    #[test]
    fn append_after_a_torn_tail_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let store = ActivityStore::new(dir.path().to_path_buf(), 86400 * 60);
        store.append_sample(&sample(10)).unwrap();
        // A writer died mid-record.
        let p = dir.path().join(SAMPLES);
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"deadbeef {\"t\":11,").unwrap();
        drop(f);
        // The next append ends the torn line first: only the torn record is lost.
        store.append_sample(&sample(12)).unwrap();
        store.append_sample(&sample(13)).unwrap();
        let l = store.load_samples().unwrap();
        assert_eq!(
            l.records.iter().map(|s| s.t).collect::<Vec<_>>(),
            vec![10, 12, 13]
        );
        assert_eq!(l.skipped, 1);
        // Compaction rewrites only whole records.
        store.compact(Utc::now()).unwrap();
        let text = fs::read_to_string(&p).unwrap();
        assert!(text.lines().all(|l| !l.contains("deadbeef")));
    }

    #[test]
    fn compaction_bounds_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = ActivityStore::new(dir.path().to_path_buf(), 7 * 86400);
        let now = Utc::now();
        let n = now.timestamp();
        for m in 0..(10 * 24 * 60 / 5) {
            store.append_sample(&sample(n - m * 300)).unwrap();
        }
        let mut entries = Vec::new();
        for i in 0..(LAST_SEEN_PER_USER + 50) {
            entries.push(LastSeen {
                u: "alice".into(),
                t: n - i as i64 * 60,
            });
        }
        store.append_last_seen(&entries).unwrap();
        store.compact(now).unwrap();
        let l = store.load_samples().unwrap();
        assert!(l.records.iter().all(|s| s.t >= n - 7 * 86400));
        // Raw for 48 h (one every 5 min), bucket-aligned means before.
        let cutoff = n - super::super::RAW_KEEP_SECS;
        let raw = l.records.iter().filter(|s| s.t >= cutoff).count();
        assert_eq!(raw, 48 * 12 + 1);
        let old: Vec<_> = l.records.iter().filter(|s| s.t < cutoff).collect();
        assert!(old.iter().all(|s| s.t % super::super::BUCKET_SECS == 0));
        assert!(old.len() <= 5 * 24 * 4 + 1, "{}", old.len());
        assert_eq!(
            store.last_seen_of("alice").unwrap().len(),
            LAST_SEEN_PER_USER
        );
        assert!(!store.compact_if_due(now).unwrap());
    }

    #[test]
    fn tracker_records_moves_of_a_quarter_hour() {
        let mut tr = LastSeenTracker::default();
        let mk = |t: &str| -> HubUser {
            serde_json::from_value(serde_json::json!({"name": "a", "last_activity": t})).unwrap()
        };
        assert_eq!(tr.changes(&[mk("2026-01-01T10:00:00Z")]).len(), 1);
        assert!(tr.changes(&[mk("2026-01-01T10:05:00Z")]).is_empty());
        assert_eq!(tr.changes(&[mk("2026-01-01T10:20:00Z")]).len(), 1);
    }
}
