//! The HTTP server: shared state, the router (exchange routes + control API) and request counting.
//!
//! Control API (not counted, not rate limited), for tests and scripts in other processes:
//! - `GET /__sim/stats` → `{"requests":{path:n},"statuses":{"200":n},"weight_used_1m":u,
//!   "weight_budget_1m":b,"now_ms":t,"faults":{...}}`
//! - `GET /__sim/faults` → the current faults; `POST /__sim/faults` with a JSON body of
//!   [`Faults`] fields (missing fields take their defaults) replaces them
//! - `POST /__sim/reset` → zeroes the counters, the weight budget, bans and the fault sequence
//! - `POST /__sim/clock` sets the market clock: `{"now_ms": <ms>}` pins it, `{"now_ms": null}` (or
//!   `{}`) returns it to wall time, `{"now_ms": <ms>, "speed": <n>}` runs it `n` times faster than
//!   wall time from `<ms>` ([`Clock::Fast`]), `{"speed": <n>}` likewise from the current market
//!   time. Answers `{"now_ms": <market now>, "speed": <n>}` (speed 0 = fixed, 1 = wall).
//! - `GET /__sim/truth?symbol=BTC/USDT&timeframe=1m&start=<ms>&end=<ms>` → the closed candles
//!   with `start <= open < end` as of the market clock (what [`crate::Simulator::truth`]
//!   gives): `{"now_ms":t,"candles":[[open_ms,"open","high","low","close","volume"],..]}`,
//!   values as shortest round-trip decimal strings (they parse back to exactly the same
//!   `f64`); 400 with `{"error":..}` for a missing or unreadable parameter
//! - `GET /__sim/venues` → `{"venues":[{"name":"binance","prefix":""},{"name":"bybit",
//!   "prefix":"/bybit"},..]}`: the formats the simulator speaks ([`crate::venues::NAMES`]) and
//!   the path each is served under (Binance spot at the root, every other venue under
//!   `/{venue}`)
//! - `POST /__sim/ws/drop` drops every open WebSocket connection without a Close frame; answers
//!   `{"dropped": <connections open before>}`
//!
//! `/__sim/stats` also has `"ws_connections"` (accepted since start or reset), `"ws_open"` (open
//! now), `"ws_frames"` (kline frames sent since start or reset) and `"injected"`: the faults
//! injected since start or reset, counted as they are applied (not estimated from the fault
//! sequence): `{"rate_limited":n,"banned":n,"error":n,"malformed":n,"truncated":n,"ws_drop":n,
//! "ws_drop_commanded":n}` ([`Injected`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::SimConfig;
use crate::clock::{Clock, wall_ms};
use crate::faults::{self, Fault, Faults};
use crate::limits::{Admission, WeightLimiter};
use crate::market::{Markets, SimCandle};
use crate::stats::{Injected, Stats};
use crate::timeframe::Timeframe;
use crate::venues::binance;
use crate::ws::WsHub;

/// State shared by every request of one simulator.
pub struct Shared {
    clock: RwLock<Clock>,
    markets: Markets,
    faults: RwLock<Faults>,
    fault_seq: AtomicU64,
    limiter: Mutex<WeightLimiter>,
    /// Request/response counters.
    pub stats: Stats,
    ws: WsHub,
}

impl Shared {
    /// Builds the state of a simulator.
    pub fn new(cfg: &SimConfig) -> Shared {
        Shared {
            clock: RwLock::new(cfg.clock),
            markets: Markets::new(cfg.seed, &cfg.markets),
            faults: RwLock::new(cfg.faults.clone()),
            fault_seq: AtomicU64::new(0),
            limiter: Mutex::new(
                WeightLimiter::new(
                    cfg.weight_budget_per_minute,
                    cfg.ban_after_429s,
                    cfg.ban_seconds,
                )
                .with_window(cfg.weight_window_ms),
            ),
            stats: Stats::default(),
            ws: WsHub::new(cfg.ws_update_ms, cfg.ws_ping_ms),
        }
    }

    /// The WebSocket hub (counters, drop signal).
    pub fn ws(&self) -> &WsHub {
        &self.ws
    }

    /// The market clock.
    pub fn clock(&self) -> Clock {
        *self.clock.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The markets.
    pub fn markets(&self) -> &Markets {
        &self.markets
    }

    /// Market time now.
    pub fn now_ms(&self) -> i64 {
        self.clock
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .now_ms()
    }

    /// Replaces the market clock.
    pub fn set_clock(&self, clock: Clock) {
        *self.clock.write().unwrap_or_else(|e| e.into_inner()) = clock;
    }

    /// The current faults.
    pub fn faults(&self) -> Faults {
        self.faults
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the faults and restarts the fault sequence.
    pub fn set_faults(&self, f: Faults) {
        *self.faults.write().unwrap_or_else(|e| e.into_inner()) = f;
        self.fault_seq.store(0, Ordering::SeqCst);
    }

    /// The next candle-request sequence number (1-based).
    pub fn next_fault_seq(&self) -> u64 {
        self.fault_seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The fault of `f` for the next candle request (taking its sequence number). A rate
    /// limit, ban or error status is counted as injected here (every venue answers it at
    /// once); a body fault is counted when [`Shared::mangle`] applies it (a request refused
    /// as bad gets no body to mangle).
    pub fn next_fault(&self, f: &Faults) -> Option<Fault> {
        let pick = f.pick(self.next_fault_seq());
        if let Some(answer @ (Fault::RateLimited | Fault::Banned | Fault::Error(_))) = pick {
            self.stats.record_fault(answer);
        }
        pick
    }

    /// `body` truncated or made invalid JSON when `fault` says so (and counted).
    pub fn mangle(&self, fault: Option<Fault>, body: Vec<u8>) -> Vec<u8> {
        match fault {
            Some(f @ Fault::Malformed) => {
                self.stats.record_fault(f);
                faults::malform(&body)
            }
            Some(f @ Fault::Truncated) => {
                self.stats.record_fault(f);
                faults::truncate(&body)
            }
            _ => body,
        }
    }

    /// The faults injected since start or the last reset, WebSocket drops included.
    pub fn injected(&self) -> Injected {
        Injected {
            ws_drop: self.ws.fault_drops(),
            ws_drop_commanded: self.ws.commanded_drops(),
            ..self.stats.injected()
        }
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, WeightLimiter> {
        self.limiter.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs the weight limiter on wall time; also returns the budget.
    pub fn admit(&self, weight: u32) -> (Admission, u32) {
        let mut l = self.limiter();
        (l.admit(weight, wall_ms()), l.budget())
    }

    /// Weight used in the current wall-clock minute.
    pub fn weight_used(&self) -> u32 {
        self.limiter().used(wall_ms())
    }

    /// The weight budget per minute.
    pub fn budget(&self) -> u32 {
        self.limiter().budget()
    }

    /// Zeroes counters, weight, bans and the fault sequence.
    pub fn reset(&self) {
        self.stats.reset();
        self.ws.reset();
        self.limiter().reset();
        self.fault_seq.store(0, Ordering::SeqCst);
    }

    /// The closed candles of `symbol` (unified `BTC/USDT` or compact `BTCUSDT`) with
    /// `start_ms <= open_time < end_ms` as of the market clock; empty for an unknown symbol
    /// or timeframe.
    pub fn truth(
        &self,
        symbol: &str,
        timeframe: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Vec<SimCandle> {
        let markets = self.markets();
        let market = markets.get(symbol).or_else(|| {
            markets
                .iter()
                .find(|m| m.symbol().replace('/', "") == symbol)
        });
        let (Some(m), Some(tf)) = (market, Timeframe::parse(timeframe)) else {
            return Vec::new();
        };
        m.closed_candles(tf, start_ms, end_ms, self.now_ms())
            .iter()
            .map(|c| m.to_sim(c))
            .collect()
    }

    /// The `/__sim/stats` document.
    pub fn stats_json(&self) -> serde_json::Value {
        let statuses: serde_json::Map<String, serde_json::Value> = self
            .stats
            .statuses()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect();
        serde_json::json!({
            "requests": self.stats.paths(),
            "statuses": statuses,
            "weight_used_1m": self.weight_used(),
            "weight_budget_1m": self.budget(),
            "now_ms": self.now_ms(),
            "faults": self.faults(),
            "ws_connections": self.ws.connections(),
            "ws_open": self.ws.open(),
            "ws_frames": self.ws.frames(),
            "injected": self.injected(),
        })
    }
}

/// The complete router of a simulator.
pub fn router(shared: Arc<Shared>) -> Router {
    let control = Router::new()
        .route("/__sim/stats", get(stats))
        .route("/__sim/faults", get(get_faults).post(post_faults))
        .route("/__sim/reset", post(reset))
        .route("/__sim/clock", post(post_clock))
        .route("/__sim/ws/drop", post(ws_drop))
        .route("/__sim/truth", get(truth))
        .route("/__sim/venues", get(venues));
    Router::new()
        .merge(binance::routes())
        .merge(crate::ws::routes())
        .merge(crate::venues::routes())
        .merge(control)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(shared.clone(), count))
        .with_state(shared)
}

async fn count(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/__sim/") {
        return next.run(req).await;
    }
    s.stats.record_request(req.uri().path());
    let resp = next.run(req).await;
    s.stats.record_status(resp.status().as_u16());
    resp
}

fn json(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn not_found() -> Response {
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

async fn stats(State(s): State<Arc<Shared>>) -> Response {
    json(StatusCode::OK, s.stats_json().to_string())
}

async fn get_faults(State(s): State<Arc<Shared>>) -> Response {
    json(
        StatusCode::OK,
        serde_json::to_string(&s.faults()).unwrap_or_default(),
    )
}

async fn post_faults(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(f) => {
            s.set_faults(f);
            get_faults(State(s)).await
        }
        Err(e) => json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "error": format!("invalid faults: {e}") }).to_string(),
        ),
    }
}

async fn reset(State(s): State<Arc<Shared>>) -> Response {
    s.reset();
    json(StatusCode::OK, r#"{"ok":true}"#.to_string())
}

#[derive(Deserialize)]
struct ClockBody {
    #[serde(default)]
    now_ms: Option<i64>,
    #[serde(default)]
    speed: Option<u32>,
}

async fn post_clock(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<ClockBody>(&body) {
        Ok(b) => {
            let clock = match (b.now_ms, b.speed) {
                (origin, Some(speed)) => Clock::fast(origin.unwrap_or_else(|| s.now_ms()), speed),
                (Some(ms), None) => Clock::Fixed(ms),
                (None, None) => Clock::Wall,
            };
            s.set_clock(clock);
            json(
                StatusCode::OK,
                serde_json::json!({ "now_ms": s.now_ms(), "speed": clock.speed() }).to_string(),
            )
        }
        Err(e) => json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "error": format!("invalid clock: {e}") }).to_string(),
        ),
    }
}

async fn ws_drop(State(s): State<Arc<Shared>>) -> Response {
    let dropped = s.ws().drop_all();
    json(
        StatusCode::OK,
        serde_json::json!({ "dropped": dropped }).to_string(),
    )
}

#[derive(Deserialize)]
struct TruthQuery {
    symbol: String,
    timeframe: String,
    start: i64,
    end: i64,
}

async fn truth(
    State(s): State<Arc<Shared>>,
    q: Result<axum::extract::Query<TruthQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = match q {
        Ok(axum::extract::Query(q)) => q,
        Err(e) => {
            return json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({
                    "error": format!("{e}: pass symbol, timeframe, start and end (ms)")
                })
                .to_string(),
            );
        }
    };
    let now_ms = s.now_ms();
    let rows: Vec<serde_json::Value> = s
        .truth(&q.symbol, &q.timeframe, q.start, q.end)
        .into_iter()
        .map(|c| {
            serde_json::json!([
                c.open_time,
                c.open.to_string(),
                c.high.to_string(),
                c.low.to_string(),
                c.close.to_string(),
                c.volume.to_string()
            ])
        })
        .collect();
    json(
        StatusCode::OK,
        serde_json::json!({ "now_ms": now_ms, "candles": rows }).to_string(),
    )
}

async fn venues() -> Response {
    let venues: Vec<serde_json::Value> = crate::venues::NAMES
        .iter()
        .map(|v| serde_json::json!({ "name": v, "prefix": crate::venues::prefix(v) }))
        .collect();
    json(
        StatusCode::OK,
        serde_json::json!({ "venues": venues }).to_string(),
    )
}
