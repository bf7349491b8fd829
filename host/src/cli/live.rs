//! `seamless live`: follow series live and print candles as they close (and the
//! forming candle's updates with `--forming`). Closed candles are stored with their
//! ledger range as they arrive; the seam and any range lost to a disconnect are
//! backfilled through REST first, so the printed series has no hole and no duplicate.
//!
//! Several series (`--node` repeated, `--symbols`/`--timeframes` lists, `--nodes-file`)
//! run in one process over shared connections ([`seamless::live::LiveGroup`]): `jsonl`
//! and `csv` stream the closed candles of every series with their node; the default
//! prints one status line per `--status-every` instead of a row per candle.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use seamless::domain::{NodeId, format_ms, now_ms, parse_time};
use seamless::live::{FeedSource, GroupUpdate, LiveGroup, LiveSession, LiveUpdate, SessionOptions};

use super::options::DataArgs;
use super::output::{Format, header, row};
use super::{Failure, Global};

#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Node id, e.g. ohlcv:binance:BTC/USDT:1m (repeatable: one process follows them all).
    #[arg(long = "node", value_name = "NODE")]
    nodes: Vec<String>,
    /// Exchange id, e.g. binance (with --symbol(s) and --timeframe(s)).
    #[arg(long)]
    exchange: Option<String>,
    /// Unified symbol(s), comma-separated, e.g. BTC/USDT,ETH/USDT.
    #[arg(long = "symbols", visible_alias = "symbol", value_delimiter = ',')]
    symbols: Vec<String>,
    /// Timeframe(s), comma-separated, e.g. 1m,1h.
    #[arg(
        long = "timeframes",
        visible_alias = "timeframe",
        value_delimiter = ','
    )]
    timeframes: Vec<String>,
    /// A file of node ids, one per line (blank lines and `#` comments skipped).
    #[arg(long, value_name = "FILE")]
    nodes_file: Option<PathBuf>,
    /// With several series and the table format: one status line this often.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    status_every: Duration,
    /// Print (and store) every closed candle from this time on, backfilling the seam
    /// first; default: from the candle that is forming now.
    #[arg(long, allow_hyphen_values = true)]
    from: Option<String>,
    /// Also print the forming candle's updates (marked `forming`; never stored).
    #[arg(long)]
    forming: bool,
    /// Stop after this many closed candles.
    #[arg(long)]
    count: Option<u64>,
    /// Stop after this long, e.g. 30s, 5m (default: until interrupted).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Poll the exchange's REST API instead of its WebSocket stream.
    #[arg(long)]
    poll: bool,
    /// Output: table (default), csv or jsonl; every row has a `state` (closed|forming).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[command(flatten)]
    pub data: DataArgs,
}

/// `30s`, `5m`, `2h`, or plain seconds (the library's duration syntax, as a clap parser).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    seamless::domain::parse_duration(s).map_err(|e| e.to_string())
}

/// The series `a` names, each once, in order.
fn nodes(a: &LiveArgs) -> Result<Vec<NodeId>, Failure> {
    let mut specs: Vec<String> = a.nodes.clone();
    if let Some(path) = &a.nodes_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::bad(anyhow::anyhow!("--nodes-file {}: {e}", path.display())))?;
        specs.extend(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or_default().trim())
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
    }
    let mut out: Vec<NodeId> = Vec::new();
    for spec in specs {
        let n: NodeId = spec.parse().map_err(Failure::bad)?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    match (&a.exchange, a.symbols.is_empty(), a.timeframes.is_empty()) {
        (Some(e), false, false) => {
            for s in &a.symbols {
                for t in &a.timeframes {
                    let n = NodeId::new(e, s, t).map_err(Failure::bad)?;
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
            }
        }
        (None, true, true) => {}
        _ => {
            return Err(Failure::bad(anyhow::anyhow!(
                "incomplete series: pass all of --exchange, --symbols and --timeframes (or --node / --nodes-file)"
            )));
        }
    }
    if out.is_empty() {
        return Err(Failure::bad(anyhow::anyhow!(
            "no series given: pass --node ohlcv:EXCHANGE:SYMBOL:TIMEFRAME (repeatable), --exchange with --symbols and --timeframes, or --nodes-file FILE"
        )));
    }
    Ok(out)
}

pub async fn run(g: &Global, a: &LiveArgs) -> Result<(), Failure> {
    let nodes = nodes(a)?;
    if nodes.len() > 1 {
        return run_many(g, a, nodes).await;
    }
    let node = nodes.into_iter().next().expect("one node");
    let provider = g.provider()?;
    check_series(&provider, &node).await?;
    let now = provider.now();
    let from = match &a.from {
        Some(s) => {
            parse_time(s, now_ms()).map_err(|e| Failure::bad(anyhow::anyhow!("--from: {e}")))?
        }
        None => node.timeframe.floor(now),
    };
    let mut opts = SessionOptions::default();
    opts.feed.force_poll = a.poll;
    let (session, mut updates) = LiveSession::start(provider, node.clone(), from, opts)
        .await
        .map_err(Failure::runtime)?;
    if !g.quiet {
        eprintln!(
            "following {node} live from {} (Ctrl-C to stop)",
            format_ms(from)
        );
    }
    let mut out = std::io::stdout().lock();
    let io = |e: std::io::Error| Failure::runtime(anyhow::anyhow!("writing output: {e}"));
    check_format(a)?;
    if let Some(h) = header(a.format, true) {
        writeln!(out, "{h}").map_err(io)?;
    }
    let deadline = a.duration.map(|d| tokio::time::Instant::now() + d);
    let mut closed = 0u64;
    let stop = super::shutdown_signal();
    tokio::pin!(stop);
    loop {
        let sleep = until(deadline);
        let update = tokio::select! {
            u = updates.recv() => u,
            _ = &mut stop => break,
            _ = sleep => break,
        };
        let Some(update) = update else { break };
        match update {
            LiveUpdate::Closed(c) => {
                writeln!(out, "{}", row(a.format, &c, Some("closed"))).map_err(io)?;
                out.flush().map_err(io)?;
                closed += 1;
                if a.count.is_some_and(|n| closed >= n) {
                    break;
                }
            }
            LiveUpdate::Forming(c) if a.forming => {
                writeln!(out, "{}", row(a.format, &c, Some("forming"))).map_err(io)?;
                out.flush().map_err(io)?;
            }
            LiveUpdate::Forming(_) => {}
            LiveUpdate::Connected { source } if !g.quiet => match source {
                FeedSource::WebSocket { url } => eprintln!("connected: {url}"),
                FeedSource::Poll { interval_ms } => {
                    eprintln!("polling every {interval_ms} ms")
                }
            },
            LiveUpdate::Disconnected { reason } if !g.quiet => {
                eprintln!(
                    "disconnected ({reason}); reconnecting, the lost range will be backfilled"
                )
            }
            LiveUpdate::Backfilled {
                start,
                end,
                candles,
            } if !g.quiet => eprintln!(
                "backfilled [{}, {}): {candles} candles",
                format_ms(start),
                format_ms(end)
            ),
            _ => {}
        }
    }
    let summary = session.stop().await.map_err(Failure::runtime)?;
    if !g.quiet {
        let s = summary.stats;
        eprintln!(
            "{closed} closed candles printed; {} written live, {} backfilled, {} disconnects",
            s.live_written, s.backfilled, s.disconnects
        );
    }
    Ok(())
}

/// Check the exchange and timeframe of `node` before connecting (a clear error, exit 2).
async fn check_series(
    provider: &seamless::provider::Provider,
    node: &NodeId,
) -> Result<(), Failure> {
    let (p, n) = (provider.clone(), node.clone());
    tokio::task::spawn_blocking(move || p.exchange(&n))
        .await
        .map_err(Failure::runtime)??;
    Ok(())
}

/// Sleep until `deadline`, or forever without one.
async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Live output is a stream of rows: Parquet is for files of history.
fn check_format(a: &LiveArgs) -> Result<(), Failure> {
    if a.format == Format::Parquet {
        return Err(Failure::bad(anyhow::anyhow!(
            "--format parquet is for files of history: use table, csv or jsonl"
        )));
    }
    Ok(())
}

/// Follow several series in one process (see the module docs).
async fn run_many(g: &Global, a: &LiveArgs, nodes: Vec<NodeId>) -> Result<(), Failure> {
    check_format(a)?;
    let provider = g.provider()?;
    for n in &nodes {
        check_series(&provider, n).await?;
    }
    let now = provider.now();
    let from_arg = match &a.from {
        Some(s) => Some(
            parse_time(s, now_ms()).map_err(|e| Failure::bad(anyhow::anyhow!("--from: {e}")))?,
        ),
        None => None,
    };
    let series: Vec<(NodeId, i64)> = nodes
        .iter()
        .map(|n| {
            (
                n.clone(),
                from_arg.unwrap_or_else(|| n.timeframe.floor(now)),
            )
        })
        .collect();
    let mut opts = SessionOptions::default();
    opts.feed.force_poll = a.poll;
    let (group, plans, mut updates) = LiveGroup::start(provider.clone(), series, opts)
        .await
        .map_err(Failure::runtime)?;
    if !g.quiet {
        for (exchange, p) in &plans {
            eprintln!(
                "{exchange}: {} series on {} WebSocket connection(s) {:?}, {} on feeds of their own",
                p.connections.iter().sum::<usize>(),
                p.connections.len(),
                p.connections,
                p.own_feeds
            );
        }
        eprintln!(
            "following {} series live (Ctrl-C to stop)",
            group.nodes().len()
        );
    }
    let mut out = std::io::stdout().lock();
    let io = |e: std::io::Error| Failure::runtime(anyhow::anyhow!("writing output: {e}"));
    let stream = a.format != Format::Table;
    if a.format == Format::Csv
        && let Some(h) = header(a.format, true)
    {
        writeln!(out, "node,{h}").map_err(io)?;
    }
    let names: Vec<String> = group.nodes().iter().map(ToString::to_string).collect();
    let deadline = a.duration.map(|d| tokio::time::Instant::now() + d);
    let (mut closed, mut reconnects, mut repairs) = (0u64, 0u64, 0u64);
    let mut last_close: Vec<Option<i64>> = vec![None; names.len()];
    let mut tick = tokio::time::interval(a.status_every.max(Duration::from_millis(100)));
    tick.tick().await;
    let stop = super::shutdown_signal();
    tokio::pin!(stop);
    loop {
        let sleep = until(deadline);
        let update = tokio::select! {
            u = updates.recv() => u,
            _ = &mut stop => break,
            _ = sleep => break,
            _ = tick.tick(), if !stream && !g.quiet => {
                let live = last_close.iter().filter(|c| c.is_some()).count();
                let now = provider.now();
                let worst = group
                    .nodes()
                    .iter()
                    .zip(&last_close)
                    .filter_map(|(n, c)| c.map(|c| now - n.timeframe.next(c)))
                    .max()
                    .unwrap_or(0);
                eprintln!(
                    "{}: {live}/{} series live, {closed} candles stored, {reconnects} reconnects, {repairs} repairs, worst staleness {:.1} s{}",
                    format_ms(now),
                    names.len(),
                    worst.max(0) as f64 / 1000.0,
                    match group.sessions().iter().filter(|s| s.is_finished()).count() {
                        0 => String::new(),
                        n => format!(", {n} ended"),
                    }
                );
                continue;
            }
        };
        let Some(GroupUpdate { index, update }) = update else {
            break;
        };
        match update {
            LiveUpdate::Closed(c) => {
                closed += 1;
                last_close[index] = Some(c.open_time);
                if stream {
                    let line = row(a.format, &c, Some("closed"));
                    match a.format {
                        Format::Jsonl => writeln!(
                            out,
                            "{{\"node\":\"{}\",{}",
                            names[index],
                            line.strip_prefix('{').unwrap_or(&line)
                        ),
                        _ => writeln!(out, "{},{line}", names[index]),
                    }
                    .map_err(io)?;
                    out.flush().map_err(io)?;
                }
                if a.count.is_some_and(|n| closed >= n) {
                    break;
                }
            }
            LiveUpdate::Disconnected { .. } => reconnects += 1,
            LiveUpdate::Backfilled { .. } => repairs += 1,
            _ => {}
        }
    }
    let results = group.stop().await;
    for (name, r) in names.iter().zip(&results) {
        if let Err(e) = r {
            eprintln!("{name}: {e}");
        }
    }
    if !g.quiet {
        let written: u64 = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|s| s.stats.live_written)
            .sum();
        eprintln!(
            "{closed} closed candles of {} series; {written} written live, {repairs} repairs, {reconnects} disconnects",
            names.len()
        );
    }
    let failed = results.iter().filter(|r| r.is_err()).count();
    if failed == results.len() {
        return Err(Failure::runtime(anyhow::anyhow!(
            "every series ended with an error (above)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
    }
}
