//! `seamless backfill`: fill the store for several symbols and timeframes, with a
//! progress bar per node. Resumable: killed at any point and run again, it fetches only
//! what the ledger does not hold.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use seamless::domain::{NodeId, Window, format_ms, now_ms, parse_time};
use seamless::provider::Progress;

use super::options::DataArgs;
use super::output::{ReportFormat, print_json};
use super::{Failure, Global};

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Exchange id, e.g. binance.
    #[arg(long, required_unless_present = "nodes")]
    exchange: Option<String>,
    /// Comma-separated unified symbols, e.g. BTC/USDT,ETH/USDT.
    #[arg(long, value_delimiter = ',', required_unless_present = "nodes")]
    symbols: Vec<String>,
    /// Comma-separated timeframes, e.g. 1m,1h.
    #[arg(long, value_delimiter = ',', default_value = "1m")]
    timeframes: Vec<String>,
    /// Node ids instead of --exchange/--symbols/--timeframes (repeatable).
    #[arg(long = "node", conflicts_with_all = ["exchange", "symbols"])]
    nodes: Vec<String>,
    /// Start: ISO-8601, date, epoch s/ms or relative (-30d).
    #[arg(long, allow_hyphen_values = true, conflicts_with = "days")]
    start: Option<String>,
    /// End (exclusive); default now.
    #[arg(long, allow_hyphen_values = true, default_value = "now")]
    end: String,
    /// The last N days up to --end, instead of --start.
    #[arg(long)]
    days: Option<u32>,
    /// Add one job per node to the Redis job stream (for `seamless worker`; `seamless jobs`
    /// lists them) instead of running it.
    #[arg(long)]
    enqueue: bool,
    /// `table`: progress bars and a line per node on stderr; `json`: also a JSON report of
    /// every node (candles, requests, ranges still missing, errors) on stdout.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    #[command(flatten)]
    pub data: DataArgs,
}

fn nodes(a: &BackfillArgs) -> Result<Vec<NodeId>, Failure> {
    if !a.nodes.is_empty() {
        return a
            .nodes
            .iter()
            .map(|n| n.parse().map_err(Failure::bad))
            .collect();
    }
    let ex = a.exchange.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    for s in &a.symbols {
        for t in &a.timeframes {
            out.push(NodeId::new(ex, s, t).map_err(Failure::bad)?);
        }
    }
    Ok(out)
}

fn window(a: &BackfillArgs) -> Result<Window, Failure> {
    let now = now_ms();
    let end = parse_time(&a.end, now).map_err(|e| Failure::bad(anyhow::anyhow!("--end: {e}")))?;
    let start = match (&a.start, a.days) {
        (Some(s), _) => {
            parse_time(s, now).map_err(|e| Failure::bad(anyhow::anyhow!("--start: {e}")))?
        }
        (None, Some(d)) => end - d as i64 * 86_400_000,
        (None, None) => {
            return Err(Failure::bad(anyhow::anyhow!(
                "no range given: pass --start (and --end), or --days N"
            )));
        }
    };
    Window::new(start, end).map_err(Failure::bad)
}

pub async fn run(g: &Global, a: &BackfillArgs) -> Result<(), Failure> {
    let nodes = nodes(a)?;
    let requested = window(a)?;
    let provider = g.provider()?;
    // Check every node before starting any work.
    for n in &nodes {
        provider.exchange(n)?;
    }
    if a.enqueue {
        return super::worker::enqueue(g, &nodes, requested).await;
    }
    let multi = MultiProgress::with_draw_target(if g.quiet || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    let style = ProgressStyle::with_template(
        "{prefix:<32} {bar:30} {pos}/{len} candles, {msg} pages, {per_sec}, ETA {eta}",
    )
    .map_err(Failure::runtime)?;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for node in nodes {
        let (w, _) = requested.align(node.timeframe);
        let todo = provider
            .coverage_report(&node, Some(w.start), w.end)
            .await?
            .missing
            .slots(node.timeframe);
        let bar = multi.add(
            ProgressBar::new(todo.max(0) as u64)
                .with_style(style.clone())
                .with_prefix(node.to_string()),
        );
        let pages = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let progress: Progress = {
            let (bar, pages, tf) = (bar.clone(), pages.clone(), node.timeframe);
            // Count the slots each page settled (candles or known-empty): the bar ends full.
            Arc::new(move |_candles, covered: Window| {
                bar.inc(tf.slots(covered.start, covered.end).max(0) as u64);
                let p = pages.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                bar.set_message(p.to_string());
            })
        };
        let p = provider.clone();
        tasks.spawn(async move {
            let outcome = p.backfill(&node, w, Some(progress)).await;
            bar.finish();
            (node, w, outcome)
        });
    }
    let mut failed = Vec::new();
    let mut reports = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (node, w, outcome) = joined.map_err(Failure::runtime)?;
        let outcome = outcome?;
        let s = outcome.stats;
        let missing = provider
            .coverage_report(&node, Some(w.start), w.end)
            .await?
            .missing;
        if !g.quiet {
            eprintln!(
                "{node}: [{}, {}) {} candles fetched in {} requests ({} pages, {} chunks){}",
                format_ms(w.start),
                format_ms(w.end),
                s.candles,
                s.requests,
                s.pages,
                s.chunks,
                if missing.is_empty() {
                    String::new()
                } else {
                    format!(", {} ranges still missing", missing.len())
                }
            );
        }
        let errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
        reports.push(serde_json::json!({
            "node_id": node.to_string(),
            "window": w,
            "candles": s.candles,
            "requests": s.requests,
            "pages": s.pages,
            "chunks": s.chunks,
            "missing": missing,
            "errors": errors,
        }));
        failed.extend(errors.iter().map(|e| format!("{node}: {e}")));
    }
    if a.format == ReportFormat::Json {
        reports.sort_by(|a, b| a["node_id"].as_str().cmp(&b["node_id"].as_str()));
        print_json(&serde_json::json!({
            "nodes": reports,
            "seconds": started.elapsed().as_secs_f64(),
        }))?;
    }
    if !g.quiet {
        eprintln!("done in {:.2} s", started.elapsed().as_secs_f64());
    }
    if !failed.is_empty() {
        return Err(Failure::runtime(anyhow::anyhow!(
            "{} chunk(s) failed (completed pages are stored; rerun to resume):\n  {}",
            failed.len(),
            failed.join("\n  ")
        )));
    }
    Ok(())
}
