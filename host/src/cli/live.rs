//! `seamless live`: follow one series live and print candles as they close (and the
//! forming candle's updates with `--forming`). Closed candles are stored with their
//! ledger range as they arrive; the seam and any range lost to a disconnect are
//! backfilled through REST first, so the printed series has no hole and no duplicate.

use std::io::Write;
use std::time::Duration;

use clap::Args;

use seamless::domain::{format_ms, now_ms, parse_time};
use seamless::live::{FeedSource, LiveSession, LiveUpdate, SessionOptions};

use super::options::DataArgs;
use super::output::{Format, header, row};
use super::select::SeriesArgs;
use super::{Failure, Global};

#[derive(Debug, Args)]
pub struct LiveArgs {
    #[command(flatten)]
    series: SeriesArgs,
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

pub async fn run(g: &Global, a: &LiveArgs) -> Result<(), Failure> {
    let node = a.series.node()?;
    let provider = g.provider()?;
    // Check the exchange and timeframe before connecting (clear error, exit 2).
    {
        let (p, n) = (provider.clone(), node.clone());
        tokio::task::spawn_blocking(move || p.exchange(&n))
            .await
            .map_err(Failure::runtime)??;
    }
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
    if a.format == Format::Parquet {
        return Err(Failure::bad(anyhow::anyhow!(
            "--format parquet is for files of history: use table, csv or jsonl"
        )));
    }
    if let Some(h) = header(a.format, true) {
        writeln!(out, "{h}").map_err(io)?;
    }
    let deadline = a.duration.map(|d| tokio::time::Instant::now() + d);
    let mut closed = 0u64;
    let stop = super::shutdown_signal();
    tokio::pin!(stop);
    loop {
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
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
