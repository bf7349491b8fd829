//! `seamless worker`: a long-lived cluster worker. It takes backfill jobs from the Redis
//! list `seamless:jobs` (`BLPOP`), runs each through `Provider::backfill` (shared rate
//! limit, chunk leases) and logs the result; `seamless backfill … --enqueue` adds jobs.
//!
//! SIGTERM or SIGINT stops it cleanly: no new job is taken (within a second), the jobs
//! running are cancelled (their stored pages stay stored) and put back at the head of the
//! queue for another worker, which resumes them from the ledger. While Redis is down the
//! worker keeps retrying (and says so once).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use clap::Args;
use tokio::sync::watch;
use tokio::task::JoinSet;

use seamless::coord::{Cluster, JOBS_KEY, Job};
use seamless::domain::{NodeId, Window, format_ms};
use seamless::provider::{BackfillOutcome, Provider, ProviderError};

use super::{Failure, Global};

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Jobs run at once; the chunks of each still run --concurrency at a time.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Exit after this many jobs (default: run until SIGTERM or SIGINT).
    #[arg(long)]
    max_jobs: Option<u64>,
}

/// How long one `BLPOP` waits: the longest delay before a stop request is noticed.
const POP_WAIT: Duration = Duration::from_secs(1);

type Finished = (Job, Result<BackfillOutcome, ProviderError>, Duration);

fn needs_redis(what: &str) -> Failure {
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

fn report(g: &Global, (job, outcome, took): Finished) {
    let window = format!("[{}, {})", format_ms(job.start), format_ms(job.end));
    match outcome {
        Ok(o) => {
            let s = o.stats;
            tracing::info!(node = %job.node, candles = s.candles, requests = s.requests, chunks = s.chunks, shared = s.shared_chunks, errors = o.errors.len(), "job done");
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
            for e in o.errors {
                tracing::warn!(node = %job.node, error = %e, "chunk failed (completed pages are stored; enqueue the job again to resume)");
                if !g.quiet {
                    eprintln!("  {e}");
                }
            }
        }
        Err(e) => {
            tracing::warn!(node = %job.node, error = %e, "job failed");
            if !g.quiet {
                eprintln!("{} {window}: failed: {e}", job.node);
            }
        }
    }
}

pub async fn run(g: &Global, a: &WorkerArgs) -> Result<(), Failure> {
    let provider = g.provider()?;
    let Some(cluster) = provider.cluster().cloned() else {
        return Err(needs_redis("seamless worker"));
    };
    let (stop_tx, mut stop) = watch::channel(false);
    tokio::spawn(async move {
        super::shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    if !g.quiet {
        eprintln!(
            "worker {} taking jobs from {} (list {JOBS_KEY}); stop with SIGTERM or Ctrl-C",
            cluster.worker_id(),
            cluster.url()
        );
    }
    let mut queue = cluster.job_queue(POP_WAIT);
    let mut running: JoinSet<Finished> = JoinSet::new();
    let mut jobs: HashMap<tokio::task::Id, Job> = HashMap::new();
    let (mut started, mut redis_down) = (0u64, false);
    let limit = a.max_jobs.unwrap_or(u64::MAX);
    loop {
        while let Some(r) = running.try_join_next_with_id() {
            finish(g, &mut jobs, r);
        }
        if *stop.borrow() || (started >= limit && running.is_empty()) {
            break;
        }
        if running.len() >= a.jobs.max(1) || started >= limit {
            tokio::select! {
                Some(r) = running.join_next_with_id() => finish(g, &mut jobs, r),
                _ = stop.changed() => {}
            }
            continue;
        }
        match queue.next().await {
            Ok(next) => {
                if std::mem::take(&mut redis_down) {
                    tracing::warn!(redis = %cluster.url(), "Redis is back: taking jobs again");
                }
                match next {
                    None => {}
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "skipping a malformed job");
                        if !g.quiet {
                            eprintln!("skipping a malformed job: {e}");
                        }
                    }
                    Some(Ok(job)) => match parse_job(&job) {
                        Err(e) => {
                            tracing::warn!(job = %job.to_json(), error = %e, "skipping a bad job");
                            if !g.quiet {
                                eprintln!("skipping job {}: {e}", job.to_json());
                            }
                        }
                        Ok((node, w)) => {
                            started += 1;
                            tracing::info!(node = %node, start = w.start, end = w.end, "job taken");
                            let h = running.spawn(run_job(provider.clone(), job.clone(), node, w));
                            jobs.insert(h.id(), job);
                        }
                    },
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
    stop_jobs(g, &cluster, &mut running, &mut jobs).await;
    Ok(())
}

fn finish(
    g: &Global,
    jobs: &mut HashMap<tokio::task::Id, Job>,
    r: Result<(tokio::task::Id, Finished), tokio::task::JoinError>,
) {
    match r {
        Ok((id, f)) => {
            jobs.remove(&id);
            report(g, f);
        }
        Err(e) => {
            let job = jobs.remove(&e.id());
            tracing::error!(job = ?job, error = %e, "job task failed");
        }
    }
}

/// Cancel the jobs still running and put them back on the queue.
async fn stop_jobs(
    g: &Global,
    cluster: &Cluster,
    running: &mut JoinSet<Finished>,
    jobs: &mut HashMap<tokio::task::Id, Job>,
) {
    running.abort_all();
    let mut back = 0;
    while let Some(r) = running.join_next_with_id().await {
        match r {
            Ok((id, f)) => {
                jobs.remove(&id);
                report(g, f);
            }
            Err(e) => {
                let Some(job) = jobs.remove(&e.id()) else {
                    continue;
                };
                match cluster.requeue(&job).await {
                    Ok(()) => back += 1,
                    Err(err) => {
                        tracing::warn!(job = %job.to_json(), error = %err, "cannot put an unfinished job back on the queue");
                        if !g.quiet {
                            eprintln!("unfinished job not requeued ({err}): {}", job.to_json());
                        }
                    }
                }
            }
        }
    }
    if !g.quiet {
        eprintln!(
            "worker stopped{}",
            if back > 0 {
                format!("; {back} unfinished job(s) put back on the queue")
            } else {
                String::new()
            }
        );
    }
}

/// `seamless backfill … --enqueue`: push one job per node instead of running it.
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
            "enqueued {} job(s) on {} (list {JOBS_KEY}, {queued} waiting)",
            jobs.len(),
            cluster.url()
        );
    }
    Ok(())
}
