//! The backfill job queue of `seamless worker`: the Redis list [`JOBS_KEY`] of JSON jobs
//! `{"node":"ohlcv:binance:BTC/USDT:1m","start":1704067200000,"end":1704153600000}`.
//! Producers (`seamless backfill --enqueue`) `RPUSH`; workers `BLPOP`; a worker stopping
//! with a job unfinished pushes it back to the head (`LPUSH`), and the job is resumable
//! anyway (a backfill only fetches what the ledger lacks).

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};

use super::{Cluster, CoordError};

/// The Redis list of pending jobs.
pub const JOBS_KEY: &str = "seamless:jobs";

/// One backfill job: a node and a window in ms (half-open).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub node: String,
    pub start: i64,
    pub end: i64,
}

impl Job {
    /// Parse a job from its JSON form.
    pub fn parse(raw: &str) -> Result<Job, CoordError> {
        serde_json::from_str(raw).map_err(|e| CoordError::BadJob {
            raw: raw.chars().take(200).collect(),
            reason: e.to_string(),
        })
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Cluster {
    /// Append `jobs` to the queue; returns the queue's length after.
    pub async fn enqueue(&self, jobs: &[Job]) -> Result<u64, CoordError> {
        if jobs.is_empty() {
            return Ok(0);
        }
        let items: Vec<String> = jobs.iter().map(Job::to_json).collect();
        self.run(|mut c| async move {
            redis::cmd("RPUSH")
                .arg(JOBS_KEY)
                .arg(&items)
                .query_async(&mut c)
                .await
        })
        .await
    }

    /// Put an unfinished job back at the head of the queue.
    pub async fn requeue(&self, job: &Job) -> Result<(), CoordError> {
        let item = job.to_json();
        self.run(|mut c| async move {
            redis::cmd("LPUSH")
                .arg(JOBS_KEY)
                .arg(&item)
                .query_async::<u64>(&mut c)
                .await
        })
        .await
        .map(|_| ())
    }

    /// Jobs waiting in the queue.
    pub async fn queued(&self) -> Result<u64, CoordError> {
        self.run(|mut c| async move { redis::cmd("LLEN").arg(JOBS_KEY).query_async(&mut c).await })
            .await
    }

    /// A consumer of the queue (with its own connection, as `BLPOP` blocks it).
    pub fn job_queue(&self, wait: Duration) -> JobQueue {
        JobQueue {
            cluster: self.clone(),
            conn: None,
            wait,
        }
    }
}

/// A consumer of the job queue.
pub struct JobQueue {
    cluster: Cluster,
    conn: Option<MultiplexedConnection>,
    wait: Duration,
}

impl JobQueue {
    /// The next job, waiting up to the queue's wait: `Ok(None)` when none came,
    /// `Ok(Some(Err(_)))` for a malformed job (already removed from the queue).
    pub async fn next(&mut self) -> Result<Option<Result<Job, CoordError>>, CoordError> {
        let conn = match &mut self.conn {
            Some(c) => c,
            None => self
                .conn
                .insert(self.cluster.blocking_conn(self.wait).await?),
        };
        let secs = self.wait.as_secs_f64().max(0.01);
        let popped: Result<Option<(String, String)>, _> = redis::cmd("BLPOP")
            .arg(JOBS_KEY)
            .arg(secs)
            .query_async(conn)
            .await;
        match popped {
            Ok(None) => Ok(None),
            Ok(Some((_, raw))) => Ok(Some(Job::parse(&raw))),
            Err(e) => {
                self.conn = None;
                Err(self.cluster.classify(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_as_json() {
        let j = Job {
            node: "ohlcv:binance:BTC/USDT:1m".into(),
            start: 1,
            end: 2,
        };
        assert_eq!(
            j.to_json(),
            r#"{"node":"ohlcv:binance:BTC/USDT:1m","start":1,"end":2}"#
        );
        assert_eq!(Job::parse(&j.to_json()).unwrap(), j);
        assert!(matches!(
            Job::parse("{\"node\":1}"),
            Err(CoordError::BadJob { .. })
        ));
        assert!(matches!(Job::parse("nope"), Err(CoordError::BadJob { .. })));
    }
}
