//! `seamless jobs`: the backfill job queue of the cluster workers at a glance: jobs pending
//! (not yet taken by a worker), running (by worker, with the time since the worker last
//! renewed it; past the lease, another worker will claim it) and failed (the dead letters,
//! with their last error), as a table or JSON. Jobs left in the old Redis list are moved to
//! the stream first, as a worker would.

use clap::Args;
use serde_json::json;

use seamless::coord::jobs::{DEAD_KEY, LEGACY_LIST_KEY, QUEUE_KEY};
use seamless::coord::{Job, QueueStatus};
use seamless::domain::format_ms;

use super::options::RedisArgs;
use super::output::ReportFormat;
use super::worker::needs_redis;
use super::{Failure, Global};

#[derive(Debug, Args)]
pub struct JobsArgs {
    /// `table` or `json`.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Jobs listed per kind (the counts are always complete).
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

/// `{node} [start, end)` for a job's JSON, or the raw text when it is not a job.
fn describe(raw: &str) -> String {
    match Job::parse(raw) {
        Ok(j) => format!("{} [{}, {})", j.node, format_ms(j.start), format_ms(j.end)),
        Err(_) => format!("malformed: {raw}"),
    }
}

/// A job's fields for JSON: the parsed job, or `{"raw": …}`.
fn job_json(raw: &str) -> serde_json::Value {
    match Job::parse(raw) {
        Ok(j) => json!({"node": j.node, "start": j.start, "end": j.end}),
        Err(_) => json!({"raw": raw}),
    }
}

fn to_json(s: &QueueStatus) -> serde_json::Value {
    json!({
        "pending": s.waiting.iter().map(|w| {
            let mut v = job_json(&w.job);
            v["id"] = json!(w.id);
            v
        }).collect::<Vec<_>>(),
        "running": s.running.iter().map(|r| {
            let mut v = job_json(&r.job);
            v["id"] = json!(r.id);
            v["worker"] = json!(r.worker);
            v["idle_ms"] = json!(r.idle_ms);
            v["attempt"] = json!(r.attempt);
            v["last_error"] = json!(r.last_error);
            v
        }).collect::<Vec<_>>(),
        "failed": s.failed.iter().map(|f| {
            let mut v = job_json(&f.job);
            v["id"] = json!(f.id);
            v["error"] = json!(f.error);
            v["attempts"] = json!(f.attempts);
            v["worker"] = json!(f.worker);
            v["failed_at"] = json!(f.failed_at);
            v
        }).collect::<Vec<_>>(),
        "counts": {"pending": s.pending, "running": s.running_count, "failed": s.failed_count},
    })
}

pub async fn run(g: &Global, a: &JobsArgs) -> Result<(), Failure> {
    let Some(url) = g.cfg().redis.clone() else {
        return Err(needs_redis("seamless jobs"));
    };
    let cluster = g.cluster(&url)?;
    let moved = cluster
        .migrate_legacy_list()
        .await
        .map_err(Failure::runtime)?;
    if moved > 0 && !g.quiet {
        eprintln!(
            "moved {moved} job(s) from the old list {LEGACY_LIST_KEY} to the stream {QUEUE_KEY}"
        );
    }
    let s = cluster
        .queue_status(a.limit)
        .await
        .map_err(Failure::runtime)?;
    if a.format == ReportFormat::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&s)).map_err(Failure::runtime)?
        );
        return Ok(());
    }
    let more = |shown: usize, total: u64| {
        if (shown as u64) < total {
            format!(" (showing {shown})")
        } else {
            String::new()
        }
    };
    println!("pending: {}{}", s.pending, more(s.waiting.len(), s.pending));
    for w in &s.waiting {
        println!("  {:<18} {}", w.id, describe(&w.job));
    }
    println!(
        "running: {}{}",
        s.running_count,
        more(s.running.len(), s.running_count)
    );
    for r in &s.running {
        println!(
            "  {:<18} {}  worker {}  idle {:.1} s  attempt {}{}",
            r.id,
            describe(&r.job),
            r.worker,
            r.idle_ms as f64 / 1000.0,
            r.attempt,
            r.last_error
                .as_deref()
                .map(|e| format!("  last error: {e}"))
                .unwrap_or_default()
        );
    }
    println!(
        "failed: {}{} (dead letters in {DEAD_KEY})",
        s.failed_count,
        more(s.failed.len(), s.failed_count)
    );
    for f in &s.failed {
        println!(
            "  {:<18} {}  after {} attempt(s) at {} by {}: {}",
            f.id,
            describe(&f.job),
            f.attempts,
            format_ms(f.failed_at),
            f.worker,
            f.error
        );
    }
    Ok(())
}
