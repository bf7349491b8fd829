//! The backfill job queue of `seamless worker`, on a Redis stream with a consumer group, so
//! that no job is lost when a worker dies.
//!
//! A job is JSON, `{"node":"ohlcv:binance:BTC/USDT:1m","start":1704067200000,"end":1704153600000}`,
//! stored in the field `job` of an entry of the stream [`QUEUE_KEY`].
//!
//! - **Enqueue**: `XADD` (`seamless backfill … --enqueue`). The group [`GROUP`] is created at
//!   id `0` (`XGROUP CREATE … 0 MKSTREAM`), so it sees entries added before it existed; it is
//!   created again if Redis lost it (a restart without persistence).
//! - **Take**: each worker is a consumer named by its cluster id (`host:pid:random`, unique per
//!   process) and reads new entries with `XREADGROUP … >` (blocking ≤ 1 s, so a stop request
//!   is noticed). An entry read is *delivered*: it sits in the group's pending entries list
//!   (PEL) under that consumer until it is acknowledged.
//! - **Lease and heartbeat**: a delivered job is leased to its consumer for the *lease*
//!   ([`JobPolicy::lease`], default 30 s). While a worker runs a job it renews the lease every
//!   third of it with `XCLAIM <self> 0 <id> JUSTID` inside a script that first checks (with
//!   `XPENDING`) that the entry is still its own: this resets the entry's idle time without
//!   counting a delivery. A job whose idle time passes the lease belongs to a dead (or
//!   frozen) worker and is taken by the next worker with capacity (`XAUTOCLAIM … <lease>`,
//!   checked before reading new entries, so stale jobs go first), which resumes it from the
//!   coverage ledger. If a frozen worker wakes up to find its job claimed by another, it
//!   cancels its run (one owner at a time); if the entry is simply gone (Redis restarted
//!   empty), it finishes the run, as nobody else will.
//! - **Done**: `XACK` + `XDEL` (+ forgetting its last error) in one transaction: the stream
//!   only holds jobs not yet delivered and jobs delivered but not finished.
//! - **Failures**: the attempt number is the entry's delivery count (1 for the first read,
//!   +1 for each claim). A failed run records its error in the hash [`ERRORS_KEY`] and resets
//!   the idle time, so the job is claimed again one lease later (a back-off; by any worker).
//!   The run that fails attempt [`JobPolicy::max_attempts`] (default 3), or a claim that
//!   finds the count already past it (workers killed that many times), moves the job to the
//!   dead-letter stream [`DEAD_KEY`] with its last error and acknowledges it off the queue.
//!   Jobs that cannot succeed (malformed JSON, a bad node id, an unknown exchange or symbol)
//!   go to the dead letters at once.
//! - **Clean stop** (SIGTERM/SIGINT): the running jobs are cancelled and *released*:
//!   `XCLAIM … IDLE <lease>` makes each immediately claimable, and `RETRYCOUNT <count − 1>`
//!   takes back the delivery, so a stop never counts as a failed attempt.
//! - **Old queue**: before this stream, jobs were JSON strings in the list [`LEGACY_LIST_KEY`].
//!   [`Cluster::migrate_legacy_list`] (run when a worker starts and by `seamless jobs`) moves
//!   them over with a script doing `LPOP` + `XADD` for up to 1000 jobs at a time: each batch
//!   is atomic, so a job is in the list or in the stream, never in neither.
//!
//! Every step is idempotent on the ledger's side: a job run twice only fetches what the
//! ledger lacks, so the queue's at-least-once delivery costs at most the requests in flight
//! when a worker died.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;
use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};

use super::{Cluster, CoordError};

/// The stream of jobs (consumer group [`GROUP`]).
pub const QUEUE_KEY: &str = "seamless:jobs:queue";
/// The consumer group of the workers on [`QUEUE_KEY`].
pub const GROUP: &str = "workers";
/// The dead-letter stream: jobs given up on, with their last error.
pub const DEAD_KEY: &str = "seamless:jobs:dead";
/// Hash of the last error of each job being retried, by queue entry id.
pub const ERRORS_KEY: &str = "seamless:jobs:errors";
/// The list that held jobs before the stream; moved over by [`Cluster::migrate_legacy_list`].
pub const LEGACY_LIST_KEY: &str = "seamless:jobs";

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

/// How long a job stays leased to a silent worker, and how often it may fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct JobPolicy {
    /// A job whose worker has not renewed it for this long is claimed by another worker.
    /// Every worker of a cluster should use the same lease.
    pub lease: Duration,
    /// Runs of one job before it goes to the dead letters.
    pub max_attempts: u32,
}

impl Default for JobPolicy {
    fn default() -> Self {
        JobPolicy {
            lease: Duration::from_secs(30),
            max_attempts: 3,
        }
    }
}

impl JobPolicy {
    /// How often a worker renews the leases of the jobs it runs.
    pub fn heartbeat(&self) -> Duration {
        (self.lease / 3).max(Duration::from_millis(10))
    }

    fn lease_ms(&self) -> u64 {
        (self.lease.as_millis() as u64).max(1)
    }
}

/// A job handed to a worker: its queue entry, its raw JSON and which attempt this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The stream entry id.
    pub id: String,
    /// The job's JSON as enqueued (possibly malformed).
    pub raw: String,
    /// 1 for the first delivery, +1 for each claim by another (or the same) worker.
    pub attempt: u32,
    /// True when it was claimed from a worker that stopped renewing it (or failed it).
    pub claimed: bool,
}

impl Delivery {
    /// The job, or why the entry is not one.
    pub fn job(&self) -> Result<Job, CoordError> {
        Job::parse(&self.raw)
    }
}

/// What renewing the lease of a running job found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewal {
    /// Still ours; the idle time is reset.
    Held,
    /// Another worker claimed it (named): stop running it.
    Taken(String),
    /// Not in the queue any more (acknowledged elsewhere, or Redis restarted empty).
    Gone,
}

/// A job waiting for its first delivery.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitingJob {
    pub id: String,
    pub job: String,
}

/// A delivered, unfinished job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunningJob {
    pub id: String,
    pub job: String,
    /// The worker (consumer) holding it.
    pub worker: String,
    /// Time since its worker last renewed (or took) it, in ms.
    pub idle_ms: u64,
    /// Deliveries so far (the attempt being run).
    pub attempt: u32,
    /// The error of its last failed attempt, if one failed.
    pub last_error: Option<String>,
}

/// A job given up on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedJob {
    /// The dead-letter entry id.
    pub id: String,
    pub job: String,
    pub error: String,
    pub attempts: u32,
    /// The worker that gave up on it.
    pub worker: String,
    /// When, in ms since the epoch.
    pub failed_at: i64,
}

/// The queue at one instant (one script, so the three lists agree).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueStatus {
    /// Jobs not delivered yet (counted in full; listed up to the limit).
    pub pending: u64,
    pub running_count: u64,
    pub failed_count: u64,
    pub waiting: Vec<WaitingJob>,
    pub running: Vec<RunningJob>,
    pub failed: Vec<FailedJob>,
}

/// Create the group unless it exists, then `XADD` the job of each ARGV[2..]. KEYS: queue.
/// ARGV: group, jobs. Returns the queue's length.
static ENQUEUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local ok = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], '*', 'job', ARGV[i])
end
return redis.call('XLEN', KEYS[1])
"#,
    )
});

/// Move up to ARGV[1] jobs from the old list to the stream. KEYS: list, queue.
static MIGRATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('TYPE', KEYS[1])['ok'] ~= 'list' then return 0 end
local n = 0
for i = 1, tonumber(ARGV[1]) do
  local raw = redis.call('LPOP', KEYS[1])
  if not raw then break end
  redis.call('XADD', KEYS[2], '*', 'job', raw)
  n = n + 1
end
return n
"#,
    )
});

/// Claim one job idle for at least ARGV[3] ms. KEYS: queue. ARGV: group, consumer, min idle.
/// Returns {id, job or false, delivery count} or nil.
static CLAIM_STALE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local cursor = '0-0'
for _ = 1, 1000 do
  local r = redis.pcall('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor, 'COUNT', 1)
  if r['err'] then return nil end
  local got = r[2]
  if #got > 0 and got[1] then
    local id, fields = got[1][1], got[1][2]
    local job = false
    if fields then
      for i = 1, #fields, 2 do
        if fields[i] == 'job' then job = fields[i + 1] end
      end
    end
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
    local count = 1
    if p[1] then count = p[1][4] end
    return {id, job, count}
  end
  cursor = r[1]
  if cursor == '0-0' then return nil end
end
return nil
"#,
    )
});

/// Renew the lease of each id ARGV[3..] held by consumer ARGV[2]. KEYS: queue.
/// Returns per id: 'held', 'gone' or the name of the consumer that holds it now.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if p['err'] or not p[1] then
    out[#out + 1] = 'gone'
  elseif p[1][2] ~= ARGV[2] then
    out[#out + 1] = 'taken:' .. p[1][2]
  else
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'JUSTID')
    out[#out + 1] = 'held'
  end
end
return out
"#,
    )
});

/// Acknowledge and delete a finished job. KEYS: queue, errors. ARGV: group, id.
static COMPLETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
redis.pcall('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
"#,
    )
});

/// Record a failed attempt and leave the job to be claimed one lease later, if consumer
/// ARGV[2] still holds it. KEYS: queue, errors. ARGV: group, consumer, id, error.
static RETRY_LATER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if p['err'] or not p[1] or p[1][2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"#,
    )
});

/// Move a job to the dead letters. KEYS: queue, errors, dead. ARGV: group, consumer, id, job,
/// error ('' = the last recorded error), attempts, now ms.
static DEAD_LETTER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local err = ARGV[5]
if err == '' then
  local last = redis.call('HGET', KEYS[2], ARGV[3])
  if last then
    err = 'gave up after ' .. ARGV[6] .. ' attempts; last error: ' .. last
  else
    err = 'gave up after ' .. ARGV[6] .. ' attempts: its workers stopped without finishing it (killed?)'
  end
end
redis.call('XADD', KEYS[3], '*', 'job', ARGV[4], 'error', err, 'attempts', ARGV[6],
  'worker', ARGV[2], 'queue_id', ARGV[3], 'failed_at', ARGV[7])
redis.pcall('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
redis.call('HDEL', KEYS[2], ARGV[3])
return 1
"#,
    )
});

/// Release a job a stopping worker did not finish: immediately claimable, delivery taken
/// back. KEYS: queue. ARGV: group, consumer, id, idle ms, retry count.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if p['err'] or not p[1] or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'IDLE', ARGV[4],
  'RETRYCOUNT', ARGV[5], 'JUSTID')
return 1
"#,
    )
});

/// The queue's state as JSON. KEYS: queue, errors, dead. ARGV: group, limit.
static STATUS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local limit = tonumber(ARGV[2])
local function field(fields, name)
  if not fields then return '' end
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return ''
end
local out = {pending = 0, running_count = 0, failed_count = 0, waiting = {}, running = {}, failed = {}}
local len = redis.call('XLEN', KEYS[1])
local last = '0-0'
local groups = redis.pcall('XINFO', 'GROUPS', KEYS[1])
if not groups['err'] then
  for _, g in ipairs(groups) do
    local name, lastid
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1] end
      if g[i] == 'last-delivered-id' then lastid = g[i + 1] end
    end
    if name == ARGV[1] then last = lastid end
  end
  local summary = redis.pcall('XPENDING', KEYS[1], ARGV[1])
  if not summary['err'] then out.running_count = summary[1] end
  local pel = redis.pcall('XPENDING', KEYS[1], ARGV[1], '-', '+', limit)
  if not pel['err'] then
    for _, p in ipairs(pel) do
      local e = redis.call('XRANGE', KEYS[1], p[1], p[1])
      local job = ''
      if e[1] then job = field(e[1][2], 'job') end
      local err = redis.call('HGET', KEYS[2], p[1])
      out.running[#out.running + 1] = {id = p[1], job = job, worker = p[2], idle_ms = p[3],
        attempt = p[4], last_error = err or nil}
    end
  end
end
out.pending = math.max(0, len - out.running_count)
local from = last
if last ~= '0-0' then from = '(' .. last end
if last == '0-0' then from = '-' end
for _, e in ipairs(redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', limit)) do
  out.waiting[#out.waiting + 1] = {id = e[1], job = field(e[2], 'job')}
end
out.failed_count = redis.call('XLEN', KEYS[3])
for _, e in ipairs(redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', limit)) do
  out.failed[#out.failed + 1] = {id = e[1], job = field(e[2], 'job'), error = field(e[2], 'error'),
    attempts = tonumber(field(e[2], 'attempts')) or 0, worker = field(e[2], 'worker'),
    failed_at = tonumber(field(e[2], 'failed_at')) or 0}
end
return cjson.encode(out)
"#,
    )
});

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Cluster {
    /// Create the consumer group (and the stream) unless they exist.
    pub async fn ensure_job_group(&self) -> Result<(), CoordError> {
        // In a script: a `BUSYGROUP` error answer would read as an outage to the driver.
        self.run(|mut c| async move {
            ENQUEUE
                .key(QUEUE_KEY)
                .arg(GROUP)
                .invoke_async::<u64>(&mut c)
                .await
        })
        .await
        .map(|_| ())
    }

    /// Append `jobs` to the queue; returns the number of jobs in it after (waiting or running).
    pub async fn enqueue(&self, jobs: &[Job]) -> Result<u64, CoordError> {
        let items: Vec<String> = jobs.iter().map(Job::to_json).collect();
        self.run(|mut c| async move {
            let mut inv = ENQUEUE.key(QUEUE_KEY);
            inv.arg(GROUP);
            for i in &items {
                inv.arg(i);
            }
            inv.invoke_async(&mut c).await
        })
        .await
    }

    /// Move the jobs of the old list [`LEGACY_LIST_KEY`] to the stream; returns how many.
    pub async fn migrate_legacy_list(&self) -> Result<u64, CoordError> {
        let mut moved = 0;
        loop {
            let n: u64 = self
                .run(|mut c| async move {
                    MIGRATE
                        .key(LEGACY_LIST_KEY)
                        .key(QUEUE_KEY)
                        .arg(1000)
                        .invoke_async(&mut c)
                        .await
                })
                .await?;
            moved += n;
            if n < 1000 {
                break;
            }
        }
        if moved > 0 {
            self.ensure_job_group().await?;
            tracing::info!(
                moved,
                from = LEGACY_LIST_KEY,
                to = QUEUE_KEY,
                "moved queued jobs from the old list to the stream"
            );
        }
        Ok(moved)
    }

    /// Claim one job whose worker has not renewed it for `policy.lease` (as `consumer`).
    pub async fn claim_stale(
        &self,
        consumer: &str,
        policy: &JobPolicy,
    ) -> Result<Option<Delivery>, CoordError> {
        let (me, idle) = (consumer.to_string(), policy.lease_ms());
        let got: Option<(String, Option<String>, u32)> = self
            .run(|mut c| async move {
                CLAIM_STALE
                    .key(QUEUE_KEY)
                    .arg(GROUP)
                    .arg(me)
                    .arg(idle)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(got.map(|(id, raw, attempt)| Delivery {
            id,
            raw: raw.unwrap_or_default(),
            attempt,
            claimed: true,
        }))
    }

    /// Renew the leases of `ids`, held by `consumer`.
    pub async fn renew_jobs(
        &self,
        consumer: &str,
        ids: &[String],
    ) -> Result<Vec<Renewal>, CoordError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (me, ids) = (consumer.to_string(), ids.to_vec());
        let out: Vec<String> = self
            .run(|mut c| async move {
                let mut inv = RENEW.key(QUEUE_KEY);
                inv.arg(GROUP).arg(me);
                for id in &ids {
                    inv.arg(id);
                }
                inv.invoke_async(&mut c).await
            })
            .await?;
        Ok(out
            .into_iter()
            .map(|s| match s.strip_prefix("taken:") {
                Some(by) => Renewal::Taken(by.to_string()),
                None if s == "held" => Renewal::Held,
                None => Renewal::Gone,
            })
            .collect())
    }

    /// A job is done: acknowledge it and delete it from the queue.
    pub async fn complete_job(&self, id: &str) -> Result<(), CoordError> {
        let id = id.to_string();
        self.run(|mut c| async move {
            COMPLETE
                .key(QUEUE_KEY)
                .key(ERRORS_KEY)
                .arg(GROUP)
                .arg(id)
                .invoke_async::<i64>(&mut c)
                .await
        })
        .await
        .map(|_| ())
    }

    /// An attempt failed with `error`: keep the job for a retry one lease later. `false`
    /// when `consumer` no longer holds it.
    pub async fn retry_job_later(
        &self,
        consumer: &str,
        id: &str,
        error: &str,
    ) -> Result<bool, CoordError> {
        let (me, id, error) = (consumer.to_string(), id.to_string(), error.to_string());
        self.run(|mut c| async move {
            RETRY_LATER
                .key(QUEUE_KEY)
                .key(ERRORS_KEY)
                .arg(GROUP)
                .arg(me)
                .arg(id)
                .arg(error)
                .invoke_async::<i64>(&mut c)
                .await
        })
        .await
        .map(|n| n == 1)
    }

    /// Give up on a job: move it to the dead letters with `error` (`None`: its last recorded
    /// error) and acknowledge it off the queue.
    pub async fn dead_letter(
        &self,
        consumer: &str,
        d: &Delivery,
        error: Option<&str>,
    ) -> Result<(), CoordError> {
        let (me, id, raw) = (consumer.to_string(), d.id.clone(), d.raw.clone());
        let (error, attempts) = (error.unwrap_or("").to_string(), d.attempt);
        self.run(|mut c| async move {
            DEAD_LETTER
                .key(QUEUE_KEY)
                .key(ERRORS_KEY)
                .key(DEAD_KEY)
                .arg(GROUP)
                .arg(me)
                .arg(id)
                .arg(raw)
                .arg(error)
                .arg(attempts)
                .arg(now_ms())
                .invoke_async::<i64>(&mut c)
                .await
        })
        .await
        .map(|_| ())
    }

    /// A stopping worker's unfinished job: make it claimable now, without counting this
    /// delivery as an attempt. `false` when `consumer` no longer holds it.
    pub async fn release_job(
        &self,
        consumer: &str,
        d: &Delivery,
        policy: &JobPolicy,
    ) -> Result<bool, CoordError> {
        let (me, id) = (consumer.to_string(), d.id.clone());
        let (idle, retries) = (policy.lease_ms(), d.attempt.saturating_sub(1));
        self.run(|mut c| async move {
            RELEASE
                .key(QUEUE_KEY)
                .arg(GROUP)
                .arg(me)
                .arg(id)
                .arg(idle)
                .arg(retries)
                .invoke_async::<i64>(&mut c)
                .await
        })
        .await
        .map(|n| n == 1)
    }

    /// The queue: counts, and up to `limit` jobs of each kind (newest dead letters first).
    pub async fn queue_status(&self, limit: usize) -> Result<QueueStatus, CoordError> {
        let raw: String = self
            .run(|mut c| async move {
                STATUS
                    .key(QUEUE_KEY)
                    .key(ERRORS_KEY)
                    .key(DEAD_KEY)
                    .arg(GROUP)
                    .arg(limit.max(1))
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        parse_status(&raw).map_err(|reason| CoordError::Redis {
            url: self.url().to_string(),
            reason: format!("unreadable queue status {raw:?}: {reason}"),
        })
    }

    /// A reader of new jobs for `consumer` (with its own connection, as `XREADGROUP`
    /// blocks it for up to `wait`).
    pub fn job_reader(&self, consumer: &str, wait: Duration) -> JobReader {
        JobReader {
            cluster: self.clone(),
            consumer: consumer.to_string(),
            conn: None,
            wait,
        }
    }
}

/// Parse the status script's JSON (Lua's cjson writes an empty list as `{}`).
fn parse_status(raw: &str) -> Result<QueueStatus, String> {
    let v: serde_json::Value = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    let list = |k: &str| -> Vec<serde_json::Value> {
        v.get(k)
            .and_then(|l| l.as_array())
            .cloned()
            .unwrap_or_default()
    };
    let s = |o: &serde_json::Value, k: &str| -> String {
        match o.get(k) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    };
    let n = |o: &serde_json::Value, k: &str| -> i64 {
        o.get(k)
            .and_then(|x| x.as_i64().or_else(|| x.as_f64().map(|f| f as i64)))
            .unwrap_or(0)
    };
    Ok(QueueStatus {
        pending: n(&v, "pending").max(0) as u64,
        running_count: n(&v, "running_count").max(0) as u64,
        failed_count: n(&v, "failed_count").max(0) as u64,
        waiting: list("waiting")
            .iter()
            .map(|o| WaitingJob {
                id: s(o, "id"),
                job: s(o, "job"),
            })
            .collect(),
        running: list("running")
            .iter()
            .map(|o| RunningJob {
                id: s(o, "id"),
                job: s(o, "job"),
                worker: s(o, "worker"),
                idle_ms: n(o, "idle_ms").max(0) as u64,
                attempt: n(o, "attempt").max(0) as u32,
                last_error: Some(s(o, "last_error")).filter(|e| !e.is_empty()),
            })
            .collect(),
        failed: list("failed")
            .iter()
            .map(|o| FailedJob {
                id: s(o, "id"),
                job: s(o, "job"),
                error: s(o, "error"),
                attempts: n(o, "attempts").max(0) as u32,
                worker: s(o, "worker"),
                failed_at: n(o, "failed_at"),
            })
            .collect(),
    })
}

/// A consumer reading new jobs from the queue.
pub struct JobReader {
    cluster: Cluster,
    consumer: String,
    conn: Option<MultiplexedConnection>,
    wait: Duration,
}

impl JobReader {
    /// The next new job, waiting up to the reader's wait: `Ok(None)` when none came.
    pub async fn next(&mut self) -> Result<Option<Delivery>, CoordError> {
        let conn = match &mut self.conn {
            Some(c) => c,
            None => self
                .conn
                .insert(self.cluster.blocking_conn(self.wait).await?),
        };
        let ms = (self.wait.as_millis() as u64).max(1);
        let read: Result<redis::Value, _> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(ms)
            .arg("STREAMS")
            .arg(QUEUE_KEY)
            .arg(">")
            .query_async(conn)
            .await;
        match read {
            Ok(v) => Ok(first_entry(v).map(|(id, raw)| Delivery {
                id,
                raw,
                attempt: 1,
                claimed: false,
            })),
            Err(e) => {
                let no_group = e.code() == Some("NOGROUP");
                let e = self.cluster.classify(e);
                if no_group {
                    // Redis lost the group (restarted empty) or it was never made.
                    self.cluster.ensure_job_group().await?;
                    return Ok(None);
                }
                self.conn = None;
                Err(e)
            }
        }
    }
}

/// The first entry of an `XREADGROUP` reply (RESP2 arrays or RESP3 maps): (id, job field).
fn first_entry(v: redis::Value) -> Option<(String, String)> {
    use redis::Value;
    fn text(v: &Value) -> Option<String> {
        match v {
            Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Value::SimpleString(s) => Some(s.clone()),
            Value::VerbatimString { text, .. } => Some(text.clone()),
            _ => None,
        }
    }
    // [[stream, entries]] or {stream: entries}
    let entries = match v {
        Value::Array(streams) => match streams.into_iter().next()? {
            Value::Array(mut pair) if pair.len() == 2 => pair.pop()?,
            _ => return None,
        },
        Value::Map(streams) => streams.into_iter().next()?.1,
        _ => return None,
    };
    let Value::Array(entries) = entries else {
        return None;
    };
    let Value::Array(entry) = entries.into_iter().next()? else {
        return None;
    };
    let id = text(entry.first()?)?;
    let fields: Vec<String> = match entry.get(1) {
        Some(Value::Array(f)) => f.iter().filter_map(text).collect(),
        Some(Value::Map(m)) => m
            .iter()
            .flat_map(|(k, v)| [text(k), text(v)])
            .flatten()
            .collect(),
        _ => Vec::new(),
    };
    let raw = fields
        .chunks(2)
        .find(|kv| kv.len() == 2 && kv[0] == "job")
        .map(|kv| kv[1].clone())
        .unwrap_or_default();
    Some((id, raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::Value;

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

    #[test]
    fn read_replies_give_the_entry_and_its_job() {
        let b = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let resp2 = Value::Array(vec![Value::Array(vec![
            b(QUEUE_KEY),
            Value::Array(vec![Value::Array(vec![
                b("1-0"),
                Value::Array(vec![b("job"), b("{}")]),
            ])]),
        ])]);
        assert_eq!(first_entry(resp2), Some(("1-0".into(), "{}".into())));
        let resp3 = Value::Map(vec![(
            b(QUEUE_KEY),
            Value::Array(vec![Value::Array(vec![
                b("2-0"),
                Value::Array(vec![b("other"), b("x"), b("job"), b("j")]),
            ])]),
        )]);
        assert_eq!(first_entry(resp3), Some(("2-0".into(), "j".into())));
        assert_eq!(first_entry(Value::Nil), None);
    }

    #[test]
    fn status_json_with_empty_tables_as_objects_parses() {
        let s = parse_status(
            r#"{"pending":2,"running_count":1,"failed_count":0,"waiting":{},"failed":{},
               "running":[{"id":"1-0","job":"{}","worker":"w","idle_ms":5,"attempt":2,"last_error":"boom"}]}"#,
        )
        .unwrap();
        assert_eq!((s.pending, s.running_count, s.failed_count), (2, 1, 0));
        assert!(s.waiting.is_empty() && s.failed.is_empty());
        assert_eq!(s.running[0].last_error.as_deref(), Some("boom"));
        assert_eq!(s.running[0].attempt, 2);
    }

    #[test]
    fn the_heartbeat_is_a_third_of_the_lease() {
        let p = JobPolicy {
            lease: Duration::from_secs(30),
            max_attempts: 3,
        };
        assert_eq!(p.heartbeat(), Duration::from_secs(10));
        assert_eq!(JobPolicy::default(), p);
    }
}
