//! `seamless worker`: a long-lived cluster worker. It takes backfill jobs from the Redis
//! job stream (see [`seamless::coord::jobs`] for the protocol), runs each through
//! `Provider::backfill` (shared rate limit, chunk leases) and acknowledges it when done;
//! `seamless backfill … --enqueue` adds jobs and `seamless jobs` lists them.
//!
//! - Jobs abandoned by a dead worker (not renewed for the lease: config key `jobs.lease`,
//!   `--job-lease`) are claimed before new ones are read. A background task renews the lease
//!   of every job this worker runs every third of the lease; a job another worker has claimed
//!   meanwhile is cancelled here.
//! - A failed run is retried one lease later (by any worker); the run that fails attempt
//!   `jobs.max_attempts` (`--max-attempts`), or a job that cannot succeed (malformed, unknown
//!   exchange or symbol), goes to the dead letters with its error.
//! - SIGTERM or SIGINT stops it cleanly: no new job is taken (within a second), the jobs
//!   running are cancelled (their stored pages stay stored) and released: immediately
//!   claimable by another worker, which resumes them from the ledger, with the stopped run
//!   not counted as an attempt.
//! - On start, jobs left in the old Redis list `seamless:jobs` are moved to the stream.
//!   While Redis is down the worker keeps running its jobs, keeps retrying (and says so once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};

use seamless::coord::jobs::{DEAD_KEY, LEGACY_LIST_KEY, QUEUE_KEY};
use seamless::coord::{Cluster, Delivery, Job, JobPolicy, Renewal};
use seamless::domain::{NodeId, Window, format_ms};
use seamless::provider::{BackfillOutcome, Provider, ProviderError};

use super::options::DataArgs;
use super::{Failure, Global};

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Jobs run at once; the chunks of each still run --concurrency at a time.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Exit after taking this many jobs (default: run until SIGTERM or SIGINT).
    #[arg(long)]
    max_jobs: Option<u64>,
    /// A job not renewed by its worker for this long (a killed worker) is claimed by another
    /// worker; running jobs are renewed every third of it, e.g. 5s, 1m. Use one value across
    /// the cluster. Config key `jobs.lease` (default 30s).
    #[arg(long, value_name = "DURATION")]
    job_lease: Option<String>,
    /// Runs of one job before it goes to the dead letters (`seamless jobs` lists them).
    /// Config key `jobs.max_attempts` (default 3).
    #[arg(long, value_name = "N")]
    max_attempts: Option<String>,
    #[command(flatten)]
    pub data: DataArgs,
}

impl WorkerArgs {
    /// The flags that set config keys (`jobs.lease`, `jobs.max_attempts`), as `(flag, text)`.
    pub(crate) fn flag_values(&self) -> Vec<(&'static str, String)> {
        [
            ("--job-lease", self.job_lease.clone()),
            ("--max-attempts", self.max_attempts.clone()),
        ]
        .into_iter()
        .filter_map(|(f, v)| Some((f, v?)))
        .collect()
    }
}

/// How long one `XREADGROUP` blocks: the longest delay before a stop request is noticed.
const READ_WAIT: Duration = Duration::from_secs(1);

type Finished = (Job, Result<BackfillOutcome, ProviderError>, Duration);

/// The jobs this worker runs, by queue entry id (shared with the lease heartbeat).
type Held = Arc<Mutex<HashMap<String, AbortHandle>>>;

pub(crate) fn needs_redis(what: &str) -> Failure {
    Failure::bad(anyhow::anyhow!(
        "{what} works through Redis: pass --redis redis://HOST:PORT (or set SEAMLESS_REDIS, or `redis` in seamless.toml)"
    ))
}

/// Check a job and turn it into a node and a window.
fn parse_job(job: &Job) -> Result<(NodeId, Window), String> {
    let node: NodeId = job.node.parse().map_err(|e| format!("{e}"))?;
    let w = Window::new(job.start, job.end).map_err(|e| format!("{e}"))?;
    Ok((node, w))
}

async fn run_job(provider: Provider, job: Job, node: NodeId, w: Window) -> Finished {
    use tracing::Instrument;
    let t = Instant::now();
    let span = tracing::info_span!("job", exchange = %node.exchange, symbol = %node.symbol, timeframe = %node.timeframe);
    let outcome = provider.backfill(&node, w, None).instrument(span).await;
    (job, outcome, t.elapsed())
}

/// Print a finished run; returns its error when it failed (whole or in part).
fn report(g: &Global, (job, outcome, took): &Finished, attempt: u32) -> Option<String> {
    let window = format!("[{}, {})", format_ms(job.start), format_ms(job.end));
    match outcome {
        Ok(o) => {
            let s = o.stats;
            tracing::info!(node = %job.node, candles = s.candles, requests = s.requests, chunks = s.chunks, shared = s.shared_chunks, errors = o.errors.len(), attempt, "job done");
            if !g.quiet {
                eprintln!(
                    "{} {window}: {} candles fetched in {} requests ({} chunks, {} fetched by others) in {:.1} s{}",
                    job.node,
                    s.candles,
                    s.requests,
                    s.chunks,
                    s.shared_chunks,
                    took.as_secs_f64(),
                    if o.errors.is_empty() {
                        String::new()
                    } else {
                        format!(", {} chunk(s) failed", o.errors.len())
                    }
                );
            }
            for e in &o.errors {
                tracing::warn!(node = %job.node, error = %e, "chunk failed (completed pages are stored)");
                if !g.quiet {
                    eprintln!("  {e}");
                }
            }
            (!o.errors.is_empty()).then(|| {
                let all: Vec<String> = o.errors.iter().map(|e| e.to_string()).collect();
                format!("{} chunk(s) failed: {}", all.len(), all.join("; "))
            })
        }
        Err(e) => {
            tracing::warn!(node = %job.node, error = %e, attempt, "job failed");
            if !g.quiet {
                eprintln!("{} {window}: failed: {e}", job.node);
            }
            Some(e.to_string())
        }
    }
}

/// The state of one worker process.
struct Worker<'a> {
    g: &'a Global,
    cluster: Cluster,
    provider: Provider,
    policy: JobPolicy,
    me: String,
    running: JoinSet<Finished>,
    /// Task id → its delivery.
    deliveries: HashMap<tokio::task::Id, Delivery>,
    held: Held,
}

impl Worker<'_> {
    fn say(&self, line: String) {
        if !self.g.quiet {
            eprintln!("{line}");
        }
    }

    /// Start (or dead-letter) a delivered job.
    async fn start(&mut self, d: Delivery) {
        let job = match d.job() {
            Ok(j) => j,
            Err(e) => return self.give_up(&d, Some(&e.to_string())).await,
        };
        let (node, w) = match parse_job(&job) {
            Ok(v) => v,
            Err(e) => {
                return self
                    .give_up(&d, Some(&format!("bad job {}: {e}", d.raw)))
                    .await;
            }
        };
        if d.attempt > self.policy.max_attempts {
            // Workers died on it that many times.
            return self.give_up(&d, None).await;
        }
        tracing::info!(node = %node, start = w.start, end = w.end, id = %d.id, attempt = d.attempt, claimed = d.claimed, "job taken");
        if d.claimed {
            self.say(format!(
                "claimed job {} ({}) left unfinished by another worker (attempt {} of {})",
                d.id, job.node, d.attempt, self.policy.max_attempts
            ));
        }
        let h = self
            .running
            .spawn(run_job(self.provider.clone(), job, node, w));
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(d.id.clone(), h.clone());
        self.deliveries.insert(h.id(), d);
    }

    /// Move a job to the dead letters (`error` None: its last recorded error).
    async fn give_up(&self, d: &Delivery, error: Option<&str>) {
        match self.cluster.dead_letter(&self.me, d, error).await {
            Ok(()) => {
                tracing::warn!(id = %d.id, job = %d.raw, error = error.unwrap_or("attempts used up"), "job moved to the dead letters");
                self.say(format!(
                    "job {} moved to the dead letters ({DEAD_KEY}) after attempt {}: {}; see `seamless jobs`",
                    d.raw,
                    d.attempt,
                    error.unwrap_or("attempts used up")
                ));
            }
            Err(e) => {
                tracing::warn!(id = %d.id, error = %e, "cannot move a job to the dead letters; it stays in the queue")
            }
        }
    }

    fn unhold(&self, id: &str) {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Acknowledge, retry or dead-letter a finished run.
    async fn settle(&mut self, r: Result<(tokio::task::Id, Finished), tokio::task::JoinError>) {
        let (task, finished) = match r {
            Ok((task, f)) => (task, Ok(f)),
            Err(e) => (e.id(), Err(e)),
        };
        let Some(d) = self.deliveries.remove(&task) else {
            return;
        };
        self.unhold(&d.id);
        let error = match finished {
            Ok(f) => report(self.g, &f, d.attempt).map(|e| {
                (
                    e,
                    f.1.as_ref().err().is_some_and(ProviderError::is_bad_input),
                )
            }),
            // Cancelled: another worker claimed it (said by the heartbeat).
            Err(e) if e.is_cancelled() => return,
            Err(e) => Some((format!("the job's task failed: {e}"), false)),
        };
        let result = match error {
            None => self.cluster.complete_job(&d.id).await,
            Some((e, hopeless)) if hopeless || d.attempt >= self.policy.max_attempts => {
                self.give_up(&d, Some(&e)).await;
                Ok(())
            }
            Some((e, _)) => self
                .cluster
                .retry_job_later(&self.me, &d.id, &e)
                .await
                .map(|held| {
                    if held {
                        self.say(format!(
                            "job {} failed (attempt {} of {}); it is retried in {}",
                            d.raw,
                            d.attempt,
                            self.policy.max_attempts,
                            humane(self.policy.lease)
                        ));
                    }
                }),
        };
        if let Err(e) = result {
            tracing::warn!(id = %d.id, error = %e, "cannot settle a job in the queue; another worker will run it again after its lease (the ledger makes that cheap)");
        }
    }

    /// Cancel the jobs still running and release them to other workers.
    async fn stop(&mut self) {
        self.running.abort_all();
        let mut released = 0;
        while let Some(r) = self.running.join_next_with_id().await {
            match r {
                Ok(_) => self.settle(r).await,
                Err(e) => {
                    let Some(d) = self.deliveries.remove(&e.id()) else {
                        continue;
                    };
                    self.unhold(&d.id);
                    match self.cluster.release_job(&self.me, &d, &self.policy).await {
                        Ok(true) => released += 1,
                        // Claimed by another worker meanwhile.
                        Ok(false) => {}
                        Err(err) => {
                            tracing::warn!(id = %d.id, error = %err, "cannot release an unfinished job; another worker claims it after its lease");
                            self.say(format!(
                                "unfinished job not released ({err}): another worker claims it after {}",
                                humane(self.policy.lease)
                            ));
                        }
                    }
                }
            }
        }
        self.say(format!(
            "worker stopped{}",
            if released > 0 {
                format!("; {released} unfinished job(s) released to other workers")
            } else {
                String::new()
            }
        ));
    }
}

fn humane(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Renew the leases of the jobs this worker runs, every third of the lease; cancel a run
/// another worker has claimed.
async fn heartbeat(cluster: Cluster, me: String, policy: JobPolicy, held: Held) {
    let mut tick = tokio::time::interval(policy.heartbeat());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let ids: Vec<String> = held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        let renewals = match cluster.renew_jobs(&me, &ids).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "cannot renew job leases");
                continue;
            }
        };
        for (id, r) in ids.iter().zip(renewals) {
            match r {
                Renewal::Held => {}
                Renewal::Gone => {
                    tracing::debug!(id = %id, "job no longer in the queue; finishing it anyway")
                }
                Renewal::Taken(by) => {
                    if let Some(h) = held.lock().unwrap_or_else(|p| p.into_inner()).remove(id) {
                        h.abort();
                    }
                    tracing::warn!(id = %id, by = %by, "job claimed by another worker (this one was silent past the lease); stopping it here");
                }
            }
        }
    }
}

pub async fn run(g: &Global, a: &WorkerArgs) -> Result<(), Failure> {
    let provider = g.provider()?;
    let Some(cluster) = provider.cluster().cloned() else {
        return Err(needs_redis("seamless worker"));
    };
    // `jobs.lease` (≥ 30 ms, checked by the key table) and `jobs.max_attempts`.
    let policy: JobPolicy = g.cfg().jobs;
    let (stop_tx, mut stop) = watch::channel(false);
    tokio::spawn(async move {
        super::shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let me = cluster.worker_id().to_string();
    if !g.quiet {
        eprintln!(
            "worker {me} taking jobs from {} (stream {QUEUE_KEY}, lease {}, {} attempt(s)); stop with SIGTERM or Ctrl-C",
            cluster.url(),
            humane(policy.lease),
            policy.max_attempts
        );
    }
    let mut w = Worker {
        g,
        cluster: cluster.clone(),
        provider,
        policy,
        me: me.clone(),
        running: JoinSet::new(),
        deliveries: HashMap::new(),
        held: Arc::default(),
    };
    let beat = tokio::spawn(heartbeat(
        cluster.clone(),
        me.clone(),
        policy,
        w.held.clone(),
    ));
    let mut reader = cluster.job_reader(&me, READ_WAIT);
    let (mut started, mut redis_down, mut prepared) = (0u64, false, false);
    let limit = a.max_jobs.unwrap_or(u64::MAX);
    loop {
        while let Some(r) = w.running.try_join_next_with_id() {
            w.settle(r).await;
        }
        if *stop.borrow() || (started >= limit && w.running.is_empty()) {
            break;
        }
        if w.running.len() >= a.jobs.max(1) || started >= limit {
            tokio::select! {
                Some(r) = w.running.join_next_with_id() => w.settle(r).await,
                _ = stop.changed() => {}
            }
            continue;
        }
        let next = async {
            if !prepared {
                let moved = cluster.migrate_legacy_list().await?;
                if moved > 0 && !g.quiet {
                    eprintln!(
                        "moved {moved} job(s) from the old list {LEGACY_LIST_KEY} to the stream {QUEUE_KEY}"
                    );
                }
                cluster.ensure_job_group().await?;
                prepared = true;
            }
            match cluster.claim_stale(&me, &policy).await? {
                Some(d) => Ok(Some(d)),
                None => reader.next().await,
            }
        };
        match next.await {
            Ok(next) => {
                if std::mem::take(&mut redis_down) {
                    tracing::warn!(redis = %cluster.url(), "Redis is back: taking jobs again");
                }
                if let Some(d) = next {
                    started += 1;
                    w.start(d).await;
                }
            }
            Err(e) if e.is_unavailable() => {
                if !redis_down {
                    redis_down = true;
                    tracing::warn!(error = %e, "cannot take jobs: Redis unreachable; retrying until it is back");
                }
                tokio::select! {
                    _ = tokio::time::sleep(cluster.options().reconnect_every) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => return Err(Failure::runtime(e)),
        }
    }
    beat.abort();
    w.stop().await;
    Ok(())
}

/// `seamless backfill … --enqueue`: add one job per node to the job stream instead of
/// running it.
pub async fn enqueue(g: &Global, nodes: &[NodeId], requested: Window) -> Result<(), Failure> {
    let Some(url) = g.cfg().redis.clone() else {
        return Err(needs_redis("--enqueue"));
    };
    let cluster = g.cluster(&url)?;
    let jobs: Vec<Job> = nodes
        .iter()
        .map(|n| {
            let (w, _) = requested.align(n.timeframe);
            Job {
                node: n.to_string(),
                start: w.start,
                end: w.end,
            }
        })
        .collect();
    let queued = cluster.enqueue(&jobs).await.map_err(Failure::runtime)?;
    if !g.quiet {
        eprintln!(
            "enqueued {} job(s) on {} (stream {QUEUE_KEY}, {queued} in the queue); `seamless jobs` lists them",
            jobs.len(),
            cluster.url()
        );
    }
    Ok(())
}
