//! The `exchange-sim` binary: runs the simulator on 127.0.0.1 until SIGINT/SIGTERM.
//!
//! On start it prints exactly one line, `exchange-sim listening on http://127.0.0.1:PORT`, to
//! stdout and flushes it, so a parent process can read the port. Errors go to stderr.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use clap::Parser;
use exchange_sim::{Faults, MarketSpec, SimConfig, Simulator};

/// Local exchange simulator (Binance spot REST and kline WebSocket streams, other venues' REST)
/// with deterministic synthetic markets.
#[derive(Parser, Debug)]
#[command(name = "exchange-sim", version)]
struct Args {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed of the synthetic markets.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Pin the market clock at this time (ms since the epoch); with --speed, the time the clock
    /// starts from. Default: wall time.
    #[arg(long, visible_alias = "start", value_name = "MS")]
    now: Option<i64>,
    /// Run the market clock N times faster than wall time, from --now (default: the wall time at
    /// start). 1 = real time; 600 = one simulated minute per 100 ms.
    #[arg(long, value_name = "N")]
    speed: Option<u32>,
    /// Wall ms between two WebSocket updates of a stream.
    #[arg(long, default_value_t = 250)]
    ws_update_ms: u64,
    /// Wall ms between two server Pings on a WebSocket.
    #[arg(long, default_value_t = 20_000)]
    ws_ping_ms: u64,
    /// Drop each WebSocket connection (no Close frame) after the Nth kline frame it was sent.
    #[arg(long, value_name = "N")]
    ws_drop_every: Option<u32>,
    /// Request weight budget per minute.
    #[arg(long, default_value_t = 6000)]
    weight_budget: u32,
    /// Length of the weight window in ms (default: Binance's minute).
    #[arg(long, default_value_t = 60_000)]
    weight_window_ms: u64,
    /// 429s tolerated within a minute before a 418 ban.
    #[arg(long, default_value_t = 3)]
    ban_after: u32,
    /// Length of a ban in seconds.
    #[arg(long, default_value_t = 120)]
    ban_seconds: u64,
    /// Every Nth klines request fails with --error-status.
    #[arg(long, value_name = "N")]
    error_every: Option<u32>,
    /// Status of injected errors.
    #[arg(long, default_value_t = 503)]
    error_status: u16,
    /// Delay added to every klines response.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Every Nth klines request gets half a body.
    #[arg(long, value_name = "N")]
    truncate_every: Option<u32>,
    /// Every Nth klines request gets a body that is not JSON.
    #[arg(long, value_name = "N")]
    malformed_every: Option<u32>,
    /// Every Nth klines request gets 429 + Retry-After: 1.
    #[arg(long, value_name = "N")]
    rate_limit_every: Option<u32>,
    /// Every Nth klines request gets 418 (banned) + Retry-After: 1.
    #[arg(long, value_name = "N")]
    ban_every: Option<u32>,
    /// Downtime without candles: SYMBOL:START_MS:END_MS (repeatable; SYMBOL as BTC/USDT or BTCUSDT).
    #[arg(long, value_name = "SYMBOL:START_MS:END_MS", value_parser = parse_gap)]
    gap: Vec<(String, i64, i64)>,
    /// Add or replace a market: SYMBOL:LISTING_MS:BASE_PRICE (repeatable; SYMBOL as BASE/QUOTE).
    #[arg(long, value_name = "SYMBOL:LISTING_MS:PRICE", value_parser = parse_market)]
    market: Vec<MarketSpec>,
}

fn split3(s: &str) -> Result<(&str, &str, &str), String> {
    let mut it = s.rsplitn(3, ':');
    match (it.next(), it.next(), it.next()) {
        (Some(c), Some(b), Some(a)) if !a.is_empty() => Ok((a, b, c)),
        _ => Err(format!("expected three ':'-separated parts, got {s:?}")),
    }
}

fn parse_gap(s: &str) -> Result<(String, i64, i64), String> {
    let (sym, a, b) = split3(s)?;
    let start: i64 = a.parse().map_err(|e| format!("bad START_MS {a:?}: {e}"))?;
    let end: i64 = b.parse().map_err(|e| format!("bad END_MS {b:?}: {e}"))?;
    if start >= end {
        return Err(format!("gap start {start} must be before end {end}"));
    }
    Ok((sym.to_string(), start, end))
}

fn parse_market(s: &str) -> Result<MarketSpec, String> {
    let (sym, a, b) = split3(s)?;
    if !sym.contains('/') {
        return Err(format!("market symbol must be BASE/QUOTE, got {sym:?}"));
    }
    let listing: i64 = a
        .parse()
        .map_err(|e| format!("bad LISTING_MS {a:?}: {e}"))?;
    let price: f64 = b
        .parse()
        .map_err(|e| format!("bad BASE_PRICE {b:?}: {e}"))?;
    if !(price.is_finite() && price > 0.0) {
        return Err(format!("base price must be positive, got {price}"));
    }
    Ok(MarketSpec::new(sym, listing, price))
}

impl Args {
    fn config(&self) -> Result<SimConfig, String> {
        let mut cfg = SimConfig::default()
            .with_seed(self.seed)
            .with_weight_budget(self.weight_budget)
            .with_ban(self.ban_after, self.ban_seconds)
            .with_faults(Faults {
                error_every_n: self.error_every,
                error_status: self.error_status,
                latency_ms: self.latency_ms,
                truncate_every_n: self.truncate_every,
                malformed_every_n: self.malformed_every,
                rate_limit_every_n: self.rate_limit_every,
                ban_every_n: self.ban_every,
                ws_drop_every_n: self.ws_drop_every,
            })
            .with_ws_update_ms(self.ws_update_ms)
            .with_ws_ping_ms(self.ws_ping_ms);
        cfg.weight_window_ms = self.weight_window_ms;
        match (self.now, self.speed) {
            (Some(now), None) => cfg = cfg.with_clock_fixed(now),
            (now, Some(speed)) => {
                let origin = now.unwrap_or_else(exchange_sim::clock::wall_ms);
                cfg = cfg.with_clock_fast(origin, speed);
            }
            (None, None) => {}
        }
        for m in &self.market {
            cfg = cfg.with_market(m.clone());
        }
        for (sym, start, end) in &self.gap {
            let known = cfg
                .markets
                .iter()
                .any(|m| &m.symbol == sym || m.symbol.replace('/', "") == *sym);
            if !known {
                let names: Vec<&str> = cfg.markets.iter().map(|m| m.symbol.as_str()).collect();
                return Err(format!(
                    "--gap: unknown symbol {sym:?} (markets: {})",
                    names.join(", ")
                ));
            }
            cfg = cfg.with_gap(sym, *start, *end);
        }
        Ok(cfg)
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = match args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("exchange-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let sim = match Simulator::start_on(cfg, addr).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("exchange-sim: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "exchange-sim listening on {}", sim.base_url());
        let _ = out.flush();
    }
    wait_for_signal().await;
    sim.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags() {
        let a = Args::try_parse_from([
            "exchange-sim",
            "--port",
            "0",
            "--now",
            "1718000000000",
            "--error-every",
            "3",
            "--gap",
            "BTC/USDT:100:200",
            "--gap",
            "ETHUSDT:5:6",
            "--market",
            "DOGE/USDT:1600000000000:0.05",
        ])
        .unwrap();
        let cfg = a.config().unwrap();
        assert_eq!(cfg.clock, exchange_sim::Clock::Fixed(1_718_000_000_000));
        assert_eq!(cfg.faults.error_every_n, Some(3));
        assert_eq!(cfg.faults.error_status, 503);
        assert_eq!(cfg.markets[0].gaps, [(100, 200)]);
        assert_eq!(cfg.markets[1].gaps, [(5, 6)]);
        assert_eq!(cfg.markets.last().unwrap().symbol, "DOGE/USDT");
    }

    #[test]
    fn fast_clock_and_ws_flags() {
        let a = Args::try_parse_from([
            "exchange-sim",
            "--start",
            "1718000000000",
            "--speed",
            "600",
            "--ws-update-ms",
            "50",
            "--ws-ping-ms",
            "1000",
            "--ws-drop-every",
            "7",
        ])
        .unwrap();
        let cfg = a.config().unwrap();
        assert!(matches!(
            cfg.clock,
            exchange_sim::Clock::Fast {
                origin_ms: 1_718_000_000_000,
                speed: 600,
                ..
            }
        ));
        assert_eq!((cfg.ws_update_ms, cfg.ws_ping_ms), (50, 1000));
        assert_eq!(cfg.faults.ws_drop_every_n, Some(7));
        // --speed alone starts at wall time.
        let a = Args::try_parse_from(["exchange-sim", "--speed", "1"]).unwrap();
        let exchange_sim::Clock::Fast {
            origin_ms, speed, ..
        } = a.config().unwrap().clock
        else {
            panic!("not a fast clock");
        };
        assert_eq!(speed, 1);
        assert!((origin_ms - exchange_sim::clock::wall_ms()).abs() < 60_000);
    }

    #[test]
    fn rejects_bad_flags() {
        assert!(Args::try_parse_from(["exchange-sim", "--gap", "BTC/USDT:200:100"]).is_err());
        assert!(Args::try_parse_from(["exchange-sim", "--gap", "BTC/USDT:x:100"]).is_err());
        assert!(Args::try_parse_from(["exchange-sim", "--gap", "100:200"]).is_err());
        assert!(Args::try_parse_from(["exchange-sim", "--market", "DOGE:1:1"]).is_err());
        let a = Args::try_parse_from(["exchange-sim", "--gap", "XRP/USDT:1:2"]).unwrap();
        assert!(a.config().unwrap_err().contains("unknown symbol"));
    }
}
