//! Choosing a series and a window on the command line: `--node` or
//! `--exchange/--symbol/--timeframe`, and `--start/--end` in any accepted time form,
//! aligned to the timeframe grid (the CLI says when it aligned).

use clap::Args;

use seamless::domain::{NodeId, Window, format_ms, now_ms, parse_time};

use super::Failure;

/// Which series.
#[derive(Debug, Clone, Args)]
pub struct SeriesArgs {
    /// Node id, e.g. ohlcv:binance:BTC/USDT:1m (instead of --exchange/--symbol/--timeframe).
    #[arg(long, conflicts_with_all = ["exchange", "symbol", "timeframe"])]
    pub node: Option<String>,
    /// Exchange id, e.g. binance.
    #[arg(long)]
    pub exchange: Option<String>,
    /// Unified symbol, e.g. BTC/USDT.
    #[arg(long)]
    pub symbol: Option<String>,
    /// Timeframe: 1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M.
    #[arg(long)]
    pub timeframe: Option<String>,
}

impl SeriesArgs {
    /// The node id these arguments name.
    pub fn node(&self) -> Result<NodeId, Failure> {
        if let Some(n) = &self.node {
            return n.parse().map_err(Failure::bad);
        }
        match (&self.exchange, &self.symbol, &self.timeframe) {
            (Some(e), Some(s), Some(t)) => NodeId::new(e, s, t).map_err(Failure::bad),
            _ => Err(Failure::bad(anyhow::anyhow!(
                "no series given: pass --node ohlcv:EXCHANGE:SYMBOL:TIMEFRAME, or all of --exchange, --symbol and --timeframe"
            ))),
        }
    }
}

/// Which window.
#[derive(Debug, Clone, Args)]
pub struct WindowArgs {
    /// Start (inclusive): ISO-8601, a date, epoch s or ms, or relative (-7d, now).
    #[arg(long, allow_hyphen_values = true)]
    pub start: String,
    /// End (exclusive), same forms; default now.
    #[arg(long, allow_hyphen_values = true, default_value = "now")]
    pub end: String,
}

impl WindowArgs {
    /// The window aligned to the node's grid; tells on stderr when alignment changed it.
    pub fn window(&self, node: &NodeId, quiet: bool) -> Result<Window, Failure> {
        let now = now_ms();
        let start = parse_time(&self.start, now)
            .map_err(|e| Failure::bad(anyhow::anyhow!("--start: {e}")))?;
        let end =
            parse_time(&self.end, now).map_err(|e| Failure::bad(anyhow::anyhow!("--end: {e}")))?;
        let w = Window::new(start, end).map_err(Failure::bad)?;
        let (aligned, changed) = w.align(node.timeframe);
        if changed && !quiet {
            eprintln!(
                "note: window aligned to the {} grid: [{}, {})",
                node.timeframe,
                format_ms(aligned.start),
                format_ms(aligned.end)
            );
        }
        Ok(aligned)
    }
}
