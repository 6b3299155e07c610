//! Activity history: counts of active users and running servers sampled at a
//! fixed interval (by the console, or by `coursectl status --record` from
//! cron), and each user's last-seen changes. Kept in an append-only store in
//! the state dir; see `store` for the format and its crash safety.

mod store;

pub use store::*;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::hub::{count_active, count_running, HubUser};

/// One point of the activity history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Unix seconds (UTC).
    pub t: i64,
    /// Users active in the last 5, 15 and 60 minutes.
    pub active5: f32,
    pub active15: f32,
    pub active60: f32,
    /// Users with a running (or starting/stopping) server.
    pub running: f32,
    /// How many raw samples this point is the mean of (1 = raw).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub n: u32,
}

fn one() -> u32 {
    1
}
fn is_one(n: &u32) -> bool {
    *n == 1
}

impl Sample {
    pub fn time(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.t, 0).unwrap_or_default()
    }
}

/// The sample for a listing of every hub user at `now`.
pub fn sample_from_users(users: &[HubUser], now: DateTime<Utc>) -> Sample {
    let c = |m| count_active(users, now, Duration::minutes(m)) as f32;
    Sample {
        t: now.timestamp(),
        active5: c(5),
        active15: c(15),
        active60: c(60),
        running: count_running(users) as f32,
        n: 1,
    }
}

/// Raw samples are kept this long; older ones become 15-minute means.
pub const RAW_KEEP_SECS: i64 = 48 * 3600;
/// Width of a downsampled point.
pub const BUCKET_SECS: i64 = 15 * 60;

/// The stored history after aging at `now`: raw for 48 h, 15-minute means
/// (weighted by how many samples each point already stands for) before that,
/// nothing older than `retention`. Sorted by time; idempotent.
pub fn downsample(samples: &[Sample], now: i64, retention_secs: i64) -> Vec<Sample> {
    let cutoff_raw = now - RAW_KEEP_SECS;
    // Aligned up to a bucket so no mean starts before the retention cutoff.
    let cutoff_keep = {
        let c = now - retention_secs;
        c + (BUCKET_SECS - c.rem_euclid(BUCKET_SECS)) % BUCKET_SECS
    };
    let mut sorted: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.t >= cutoff_keep)
        .collect();
    sorted.sort_by_key(|s| s.t);
    let mut out: Vec<Sample> = Vec::with_capacity(sorted.len());
    let mut acc: Option<(i64, [f64; 4], u32)> = None;
    let flush = |acc: &mut Option<(i64, [f64; 4], u32)>, out: &mut Vec<Sample>| {
        if let Some((bucket, sums, n)) = acc.take() {
            let nf = n as f64;
            out.push(Sample {
                t: bucket,
                active5: (sums[0] / nf) as f32,
                active15: (sums[1] / nf) as f32,
                active60: (sums[2] / nf) as f32,
                running: (sums[3] / nf) as f32,
                n,
            });
        }
    };
    for s in sorted {
        if s.t >= cutoff_raw {
            flush(&mut acc, &mut out);
            out.push(s);
            continue;
        }
        let bucket = s.t - s.t.rem_euclid(BUCKET_SECS);
        if acc.as_ref().is_some_and(|a| a.0 != bucket) {
            flush(&mut acc, &mut out);
        }
        let w = s.n.max(1) as f64;
        let a = acc.get_or_insert((bucket, [0.0; 4], 0));
        a.1[0] += s.active5 as f64 * w;
        a.1[1] += s.active15 as f64 * w;
        a.1[2] += s.active60 as f64 * w;
        a.1[3] += s.running as f64 * w;
        a.2 += s.n.max(1);
    }
    flush(&mut acc, &mut out);
    out
}

/// Points of `samples` within `[from, to]`, bucketed to at most one per
/// `bucket_secs` (mean), for a chart.
pub fn series(samples: &[Sample], from: i64, to: i64, bucket_secs: i64) -> Vec<Sample> {
    let within: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.t >= from && s.t <= to)
        .collect();
    if bucket_secs <= 1 {
        return within;
    }
    // Re-use the weighted mean by pretending everything is older than "raw".
    let mut shifted = within;
    for s in &mut shifted {
        s.n = 1;
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < shifted.len() {
        let b = shifted[i].t - shifted[i].t.rem_euclid(bucket_secs);
        let mut j = i;
        let mut sums = [0.0f64; 4];
        while j < shifted.len() && shifted[j].t - shifted[j].t.rem_euclid(bucket_secs) == b {
            let s = &shifted[j];
            sums[0] += s.active5 as f64;
            sums[1] += s.active15 as f64;
            sums[2] += s.active60 as f64;
            sums[3] += s.running as f64;
            j += 1;
        }
        let n = (j - i) as f64;
        out.push(Sample {
            t: b,
            active5: (sums[0] / n) as f32,
            active15: (sums[1] / n) as f32,
            active60: (sums[2] / n) as f32,
            running: (sums[3] / n) as f32,
            n: (j - i) as u32,
        });
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: i64, v: f32) -> Sample {
        Sample {
            t,
            active5: v,
            active15: v,
            active60: v,
            running: v,
            n: 1,
        }
    }

    #[test]
    fn keeps_recent_raw_and_means_old_points() {
        let now = 10 * 86400;
        let mut v = Vec::new();
        // One sample a minute for the last 3 days.
        for m in 0..(3 * 1440) {
            v.push(s(now - m * 60, (m % 2) as f32));
        }
        let d = downsample(&v, now, 60 * 86400);
        let raw = d.iter().filter(|x| x.n == 1).count();
        assert_eq!(raw, 48 * 60 + 1);
        let means: Vec<_> = d.iter().filter(|x| x.n > 1).collect();
        assert!(means.iter().all(|x| x.t % BUCKET_SECS == 0));
        assert!(means.iter().all(|x| (x.active15 - 0.5).abs() < 0.1));
        // Idempotent, and weights survive a second pass.
        let d2 = downsample(&d, now, 60 * 86400);
        assert_eq!(d, d2);
        // Retention drops old points.
        let d3 = downsample(&d, now, 86400);
        assert!(d3.iter().all(|x| x.t >= now - 86400));
    }

    #[test]
    fn series_buckets_means() {
        let v = vec![s(0, 1.0), s(60, 3.0), s(900, 5.0)];
        let out = series(&v, 0, 1000, 900);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].active15, 2.0);
        assert_eq!(out[1].active15, 5.0);
    }
}
