//! `exchange-sim`: a local exchange simulator for seamless's tests, benchmarks and demo.
//!
//! It serves the real REST formats of the supported exchanges (Binance spot at the root, see
//! [`venues::binance`]; the others under `/{venue}`, see [`venues`]) and Binance's live kline WebSocket
//! streams on the same port ([`ws`]), on 127.0.0.1, from deterministic synthetic markets
//! ([`market`]), with the exchange's request-weight budget, 429s and 418 bans ([`limits`]) and
//! injectable faults ([`faults`]). Tests use it in-process through [`Simulator`]; other processes
//! start the `exchange-sim` binary and drive it over the control API (see [`server`]).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use exchange_sim::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::default().with_clock_fixed(1_718_000_000_000)).await?;
//! let url = format!("{}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1000", sim.base_url());
//! // ... fetch `url`, then compare with the ground truth:
//! let truth = sim.truth("BTC/USDT", "1m", 1_717_000_000_000, 1_718_000_000_000);
//! # let _ = (url, truth);
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Live streams and the fast clock
//!
//! The market clock ([`Clock`]) can be pinned, follow wall time, or run faster than wall time
//! ([`Clock::Fast`], [`SimConfig::with_clock_fast`], `POST /__sim/clock {"now_ms":..,"speed":..}`,
//! `exchange-sim --now MS --speed N`): at speed 600 a 1m candle closes every 100 ms of wall time.
//! REST and WebSocket both follow it.
//!
//! WebSocket endpoints (Binance spot's, `ws://127.0.0.1:PORT` replacing
//! `wss://stream.binance.com:9443`):
//! - `GET /ws/btcusdt@kline_1m` (several streams: `/ws/a/b`), `GET /ws` (subscribe later), raw
//!   kline events `{"e":"kline","E":..,"s":"BTCUSDT","k":{"t":..,"T":..,"s":..,"i":"1m","f":..,
//!   "L":..,"o":"..","c":"..","h":"..","l":"..","v":"..","n":..,"x":false,"q":"..","V":"..",
//!   "Q":"..","B":"0"}}` with the REST rows' number formatting;
//! - `GET /stream?streams=btcusdt@kline_1m/ethusdt@kline_1h`: the same events wrapped as
//!   `{"stream":"btcusdt@kline_1m","data":{..}}`;
//! - client requests `{"method":"SUBSCRIBE"|"UNSUBSCRIBE","params":[..],"id":1}` →
//!   `{"result":null,"id":1}`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`/`GET_PROPERTY` `combined`;
//!   bad requests → `{"error":{"code":2,"msg":"Invalid request: .."},"id":..}` (3 for bad JSON).
//!
//! Every [`SimConfig::ws_update_ms`] of wall time (default 250) each stream gets, in order, every
//! candle that closed since the last update (`x: true`, exactly the REST/[`Simulator::truth`]
//! values; none skipped, none twice), then the forming candle (`x: false`). Forming candles, in
//! REST pages and streams alike, are a deterministic partial view of the final candle (see
//! [`market`]: the seconds elapsed plus the elapsed fraction of the current second), so storing
//! one as closed is detectable against `truth`. New connections start at the current candle (no
//! history); candles before the listing or inside gaps send nothing. Pings go out every
//! [`SimConfig::ws_ping_ms`] (default 20 000). Faults: [`Faults::ws_drop_every_n`],
//! [`Simulator::drop_websockets`] (`POST /__sim/ws/drop`); counters
//! [`Simulator::ws_connections`], [`Simulator::ws_open`], [`Simulator::ws_frames`] (also in
//! `/__sim/stats`). Every injected fault is counted by kind as it is applied:
//! [`Simulator::injected`] ([`Injected`], `"injected"` in `/__sim/stats`).

pub mod clock;
pub mod faults;
pub mod limits;
pub mod market;
pub mod query;
pub mod server;
pub mod stats;
pub mod timeframe;
pub mod venues;
pub mod ws;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use clock::Clock;
pub use faults::Faults;
pub use market::{MarketSpec, SimCandle};
pub use stats::Injected;
pub use timeframe::Timeframe;

use server::Shared;

/// Simulator configuration.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seed of the synthetic markets (default 42).
    pub seed: u64,
    /// Market clock (default wall time).
    pub clock: Clock,
    /// Markets (default BTC/USDT, ETH/USDT, SOL/USDT, BNB/USDT).
    pub markets: Vec<MarketSpec>,
    /// Request weight per wall-clock minute (default 6000, Binance spot).
    pub weight_budget_per_minute: u32,
    /// After this many 429s within one minute the next refused request bans (418); default 3.
    pub ban_after_429s: u32,
    /// Length of a ban in seconds (default 120).
    pub ban_seconds: u64,
    /// Length of the weight window in ms (default 60 000: Binance's minute).
    pub weight_window_ms: u64,
    /// Injected faults (default none).
    pub faults: Faults,
    /// Wall ms between two WebSocket updates of a stream (default 250).
    pub ws_update_ms: u64,
    /// Wall ms between two WebSocket Pings from the server (default 20 000).
    pub ws_ping_ms: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            clock: Clock::Wall,
            markets: MarketSpec::defaults(),
            weight_budget_per_minute: 6000,
            ban_after_429s: 3,
            ban_seconds: 120,
            weight_window_ms: 60_000,
            faults: Faults::default(),
            ws_update_ms: 250,
            ws_ping_ms: 20_000,
        }
    }
}

impl SimConfig {
    /// Pins the market clock at `now_ms`.
    pub fn with_clock_fixed(mut self, now_ms: i64) -> Self {
        self.clock = Clock::Fixed(now_ms);
        self
    }

    /// Runs the market clock `speed` times faster than wall time, showing `origin_ms` now (when
    /// the config is built): [`Clock::fast`]. Speed 600 = one simulated minute per 100 ms.
    pub fn with_clock_fast(mut self, origin_ms: i64, speed: u32) -> Self {
        self.clock = Clock::fast(origin_ms, speed);
        self
    }

    /// Sets the wall time between two WebSocket updates of a stream (at least 1 ms).
    pub fn with_ws_update_ms(mut self, ms: u64) -> Self {
        self.ws_update_ms = ms;
        self
    }

    /// Sets the wall time between two server Pings on a WebSocket (at least 1 ms).
    pub fn with_ws_ping_ms(mut self, ms: u64) -> Self {
        self.ws_ping_ms = ms;
        self
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Replaces the markets.
    pub fn with_markets(mut self, markets: Vec<MarketSpec>) -> Self {
        self.markets = markets;
        self
    }

    /// Adds a market, replacing one with the same symbol.
    pub fn with_market(mut self, spec: MarketSpec) -> Self {
        self.markets.retain(|m| m.symbol != spec.symbol);
        self.markets.push(spec);
        self
    }

    /// Adds a downtime gap `[start_ms, end_ms)` to the market `symbol` (unified, e.g. `BTC/USDT`,
    /// or the exchange id `BTCUSDT`); unknown symbols are ignored.
    pub fn with_gap(mut self, symbol: &str, start_ms: i64, end_ms: i64) -> Self {
        let compact = |s: &str| s.replace('/', "");
        if let Some(m) = self
            .markets
            .iter_mut()
            .find(|m| m.symbol == symbol || compact(&m.symbol) == symbol)
        {
            m.gaps.push((start_ms, end_ms));
        }
        self
    }

    /// Sets the weight budget per minute.
    pub fn with_weight_budget(mut self, per_minute: u32) -> Self {
        self.weight_budget_per_minute = per_minute;
        self
    }

    /// Sets the number of 429s in a minute tolerated before a ban, and the ban length.
    pub fn with_ban(mut self, after_429s: u32, seconds: u64) -> Self {
        self.ban_after_429s = after_429s;
        self.ban_seconds = seconds;
        self
    }

    /// Sets the faults.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }
}

/// A running simulator (an HTTP server on 127.0.0.1).
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Starts on 127.0.0.1 with an ephemeral port.
    pub async fn start(cfg: SimConfig) -> std::io::Result<Simulator> {
        Simulator::start_on(cfg, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// Starts on `addr`, which must be a loopback address.
    pub async fn start_on(cfg: SimConfig, addr: SocketAddr) -> std::io::Result<Simulator> {
        if !addr.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("exchange-sim only listens on loopback addresses, not {addr}"),
            ));
        }
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(&cfg));
        let app = server::router(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            // No Nagle: small WebSocket frames go out at once (a live-latency test would
            // otherwise see up to 40 ms of delayed-ACK stalls once pings are answered).
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Simulator {
            shared,
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://127.0.0.1:PORT` (Binance's `wss://stream.binance.com:9443` here).
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Drops every open WebSocket connection abruptly (the TCP stream ends without a Close
    /// frame, like a network failure); returns how many were open. Clients may reconnect.
    pub fn drop_websockets(&self) -> u64 {
        self.shared.ws().drop_all()
    }

    /// WebSocket connections accepted since start or the last reset.
    pub fn ws_connections(&self) -> u64 {
        self.shared.ws().connections()
    }

    /// WebSocket connections open now.
    pub fn ws_open(&self) -> u64 {
        self.shared.ws().open()
    }

    /// Kline frames sent on WebSockets since start or the last reset.
    pub fn ws_frames(&self) -> u64 {
        self.shared.ws().frames()
    }

    /// Requests to `path` (e.g. `/api/v3/klines`) since start or the last reset.
    pub fn requests(&self, path: &str) -> u64 {
        self.shared.stats.requests(path)
    }

    /// Responses with `status` since start or the last reset.
    pub fn status_count(&self, status: u16) -> u64 {
        self.shared.stats.status_count(status)
    }

    /// The faults injected since start or the last reset, by kind, counted as they are
    /// applied: rate limits, bans, error statuses, malformed and truncated bodies of candle
    /// requests, and WebSocket drops (by `ws_drop_every_n` and by [`Simulator::drop_websockets`]).
    /// Also `"injected"` in `/__sim/stats`.
    pub fn injected(&self) -> Injected {
        self.shared.injected()
    }

    /// Zeroes the counters (WebSocket connections and frames too), and also the used weight,
    /// bans and the fault sequence.
    pub fn reset_counts(&self) {
        self.shared.reset();
    }

    /// Replaces the faults (the "every Nth request" sequence restarts at 1).
    pub fn set_faults(&self, f: Faults) {
        self.shared.set_faults(f);
    }

    /// The current faults.
    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    /// Replaces the market clock (e.g. to advance a fixed clock in a live test).
    pub fn set_clock(&self, clock: Clock) {
        self.shared.set_clock(clock);
    }

    /// Market time now.
    pub fn now_ms(&self) -> i64 {
        self.shared.now_ms()
    }

    /// Weight used in the current wall-clock minute.
    pub fn weight_used(&self) -> u32 {
        self.shared.weight_used()
    }

    /// The closed candles the exchange serves with `start <= open_time < end`, as of the market
    /// clock. `symbol` is unified (`BTC/USDT`) or compact (`BTCUSDT`); `timeframe` is `1s`…`1M`.
    /// Unknown symbols or timeframes give an empty vector.
    pub fn truth(
        &self,
        symbol: &str,
        timeframe: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Vec<SimCandle> {
        self.shared.truth(symbol, timeframe, start_ms, end_ms)
    }

    /// Stops the server (in-flight requests finish, at most 5 s are waited for; WebSocket
    /// connections are dropped).
    pub async fn shutdown(mut self) {
        self.shared.ws().stop();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shared.ws().stop();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_builders() {
        let c = SimConfig::default()
            .with_clock_fixed(5)
            .with_seed(7)
            .with_gap("BTCUSDT", 1, 2)
            .with_gap("ETH/USDT", 3, 4)
            .with_gap("NOPE", 5, 6)
            .with_market(MarketSpec::new("BTC/USDT", 0, 100.0))
            .with_weight_budget(100)
            .with_ban(1, 10);
        assert_eq!(c.clock, Clock::Fixed(5));
        assert_eq!(c.seed, 7);
        assert_eq!(c.markets.len(), 4);
        assert_eq!(c.markets[0].symbol, "ETH/USDT");
        assert_eq!(c.markets[0].gaps, [(3, 4)]);
        assert_eq!(c.markets[3].listing_ms, 0);
        assert!(c.markets[3].gaps.is_empty());
        assert_eq!(
            (c.weight_budget_per_minute, c.ban_after_429s, c.ban_seconds),
            (100, 1, 10)
        );
        let d = SimConfig::default();
        assert_eq!(
            (d.seed, d.weight_budget_per_minute, d.ban_after_429s),
            (42, 6000, 3)
        );
        assert_eq!(d.clock, Clock::Wall);
        assert_eq!((d.ws_update_ms, d.ws_ping_ms), (250, 20_000));
        let f = SimConfig::default()
            .with_clock_fast(1_000, 600)
            .with_ws_update_ms(20)
            .with_ws_ping_ms(50);
        assert!(matches!(
            f.clock,
            Clock::Fast {
                origin_ms: 1_000,
                speed: 600,
                ..
            }
        ));
        assert_eq!((f.ws_update_ms, f.ws_ping_ms), (20, 50));
        assert_eq!(d.markets[0].listing_ms, 1_502_942_400_000);
    }

    #[tokio::test]
    async fn refuses_non_loopback() {
        let err = Simulator::start_on(SimConfig::default(), "0.0.0.0:0".parse().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }

    #[tokio::test]
    async fn truth_accepts_both_spellings() {
        let sim = Simulator::start(SimConfig::default().with_clock_fixed(1_718_000_000_000))
            .await
            .unwrap();
        let a = sim.truth("BTC/USDT", "1h", 1_717_000_000_000, 1_718_000_000_000);
        let b = sim.truth("BTCUSDT", "1h", 1_717_000_000_000, 1_718_000_000_000);
        assert_eq!(a.len(), 277);
        assert_eq!(a, b);
        assert!(sim.truth("BTCUSDT", "2m", 0, 1_718_000_000_000).is_empty());
        assert!(sim.truth("XYZ", "1h", 0, 1_718_000_000_000).is_empty());
        assert!(sim.base_url().starts_with("http://127.0.0.1:"));
        sim.shutdown().await;
    }
}
