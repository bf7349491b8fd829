//! Exchange adapter components (world `exchange-adapter` of `wit/`): bindings, the
//! host-side types they are converted to, and the contract checks applied to every
//! answer (URLs inside the declared bases, candles ascending on the grid inside the
//! window with finite values, bounded page size).

use std::fmt;

use wasmtime::component::{Component, HasSelf, Linker};

use super::sandbox::{self, GuestState};
use super::{ComponentError, ComponentHost};
use crate::domain::{Candle, NodeId, Window};
use crate::net::{HttpRequest, HttpResponse, url_within};

pub(super) mod bindings {
    //! Generated bindings of world `exchange-adapter` (also the `types`/`log` shared
    //! with the strategy world).
    wasmtime::component::bindgen!({
        world: "exchange-adapter",
        path: "../wit",
    });
}

use bindings::ExchangeAdapterPre;
pub(super) use bindings::exports::seamless::market::adapter as wit;
pub(super) use bindings::seamless::market::{http as wit_http, log as wit_log, types as wit_types};

impl wit_log::Host for GuestState {
    fn log(&mut self, level: wit_log::Level, message: String) {
        let c = &self.component;
        match level {
            wit_log::Level::Trace => tracing::trace!(component = %c, "{message}"),
            wit_log::Level::Debug => tracing::debug!(component = %c, "{message}"),
            wit_log::Level::Info => tracing::info!(component = %c, "{message}"),
            wit_log::Level::Warn => tracing::warn!(component = %c, "{message}"),
            wit_log::Level::Error => tracing::error!(component = %c, "{message}"),
        }
    }
}
impl wit_types::Host for GuestState {}
impl wit_http::Host for GuestState {}

/// The linker for adapters: WASI p2 (deny-all context) and `seamless:market/log`.
pub(super) fn linker(engine: &wasmtime::Engine) -> Result<Linker<GuestState>, ComponentError> {
    let mut linker = Linker::new(engine);
    let err = |e: wasmtime::Error| ComponentError::Engine(format!("{e:#}"));
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(err)?;
    bindings::ExchangeAdapter::add_to_linker::<_, HasSelf<GuestState>>(&mut linker, |s| s)
        .map_err(err)?;
    Ok(linker)
}

/// Rate-limit facts declared by an adapter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RateLimitHint {
    pub budget_per_minute: u32,
    pub request_weight: u32,
    pub used_weight_header: Option<String>,
}

/// What an adapter declares about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AdapterInfo {
    pub id: String,
    pub name: String,
    pub version: String,
    pub base_urls: Vec<String>,
    pub timeframes: Vec<String>,
    pub max_candles_per_request: u32,
    pub rate_limit: RateLimitHint,
    /// Timeframes followed over a WebSocket; the others are polled.
    pub live_timeframes: Vec<String>,
}

/// Candles of one page, the range it proves complete, and the request that
/// continues the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub candles: Vec<Candle>,
    /// Every candle the exchange has in this range is in `candles`.
    pub covered: Window,
    pub next: Option<HttpRequest>,
}

/// Errors an adapter reports on purpose (the guest-visible error type of the WIT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterError {
    UnsupportedTimeframe(Vec<String>),
    UnknownSymbol(String),
    RateLimited { retry_after_ms: u64 },
    Exchange { code: i64, message: String },
    Malformed(String),
    UnavailableBefore(i64),
}

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdapterError::UnsupportedTimeframe(tfs) => {
                write!(
                    f,
                    "timeframe not supported by this exchange: use one of {}",
                    tfs.join(", ")
                )
            }
            AdapterError::UnknownSymbol(s) => write!(f, "unknown symbol: {s}"),
            AdapterError::RateLimited { retry_after_ms } => {
                write!(
                    f,
                    "rate limited by the exchange: retry after {retry_after_ms} ms"
                )
            }
            AdapterError::Exchange { code, message } => {
                write!(f, "exchange error {code}: {message}")
            }
            AdapterError::Malformed(d) => write!(f, "malformed response: {d}"),
            AdapterError::UnavailableBefore(t) => {
                write!(
                    f,
                    "the exchange serves no data before {}",
                    crate::domain::format_ms(*t)
                )
            }
        }
    }
}

impl std::error::Error for AdapterError {}

impl From<wit::AdapterError> for AdapterError {
    fn from(e: wit::AdapterError) -> Self {
        match e {
            wit::AdapterError::UnsupportedTimeframe(v) => AdapterError::UnsupportedTimeframe(v),
            wit::AdapterError::UnknownSymbol(s) => AdapterError::UnknownSymbol(s),
            wit::AdapterError::RateLimited(ms) => AdapterError::RateLimited { retry_after_ms: ms },
            wit::AdapterError::Exchange(x) => AdapterError::Exchange {
                code: x.code,
                message: x.message,
            },
            wit::AdapterError::Malformed(d) => AdapterError::Malformed(d),
            wit::AdapterError::UnavailableBefore(t) => AdapterError::UnavailableBefore(t),
        }
    }
}

pub(super) fn req_from_wit(r: wit_http::Request) -> HttpRequest {
    HttpRequest {
        method: r.method,
        url: r.url,
        headers: r.headers,
        body: r.body,
    }
}

fn req_to_wit(r: &HttpRequest) -> wit_http::Request {
    wit_http::Request {
        method: r.method.clone(),
        url: r.url.clone(),
        headers: r.headers.clone(),
        body: r.body.clone(),
    }
}

pub(super) fn candle_from_wit(c: wit_types::Candle) -> Candle {
    Candle {
        open_time: c.open_time,
        open: c.open,
        high: c.high,
        low: c.low,
        close: c.close,
        volume: c.volume,
    }
}

pub(super) fn market(node: &NodeId) -> wit_types::Market {
    wit_types::Market {
        exchange: node.exchange.clone(),
        symbol: node.symbol.clone(),
        timeframe: node.timeframe.as_str().to_string(),
    }
}

/// A loaded, pre-instantiated adapter component. Cheap to clone; every call runs in a
/// fresh instance with its own deadline and memory cap.
#[derive(Clone)]
pub struct Adapter {
    host: ComponentHost,
    label: String,
    pre: ExchangeAdapterPre<GuestState>,
    info: AdapterInfo,
    wit_version: String,
    warm: std::sync::Arc<std::sync::Mutex<Vec<Warm>>>,
}

/// An instance kept for reuse after a clean call (no trap, no guest output): its memory
/// is already mapped, which saves the fresh-instance cost on every page. An instance
/// that trapped, timed out or printed anything is dropped.
struct Warm {
    store: wasmtime::Store<GuestState>,
    instance: bindings::ExchangeAdapter,
}

/// Warm instances kept per adapter (about the chunks in flight per exchange).
const MAX_WARM: usize = 8;

pub(super) type GuestResult<T> = Result<Result<T, AdapterError>, ComponentError>;

impl Adapter {
    pub(super) fn new(
        host: ComponentHost,
        label: &str,
        component: &Component,
        wit_version: String,
    ) -> Result<Self, ComponentError> {
        let instance_pre = super::link(&host.inner.adapter_linker, component, label)?;
        let pre =
            ExchangeAdapterPre::new(instance_pre).map_err(|e| ComponentError::WrongWorld {
                label: label.to_string(),
                interface: "adapter",
                world: "exchange-adapter",
                exports: format!("{e:#}"),
            })?;
        let mut adapter = Adapter {
            host,
            label: label.to_string(),
            pre,
            warm: Default::default(),
            info: AdapterInfo {
                id: String::new(),
                name: String::new(),
                version: String::new(),
                base_urls: vec![],
                timeframes: vec![],
                max_candles_per_request: 0,
                rate_limit: RateLimitHint {
                    budget_per_minute: 0,
                    request_weight: 0,
                    used_weight_header: None,
                },
                live_timeframes: vec![],
            },
            wit_version,
        };
        let info = adapter.call("info", |store, a| {
            a.seamless_market_adapter().call_info(store)
        })?;
        adapter.info = check_info(label, info)?;
        // From now on, name the component by its id (and keep the file in logs).
        if adapter.label != adapter.info.id {
            adapter.label = format!("{} ({})", adapter.info.id, label);
        }
        Ok(adapter)
    }

    /// What the adapter declared.
    pub fn info(&self) -> &AdapterInfo {
        &self.info
    }

    /// The WIT package version the component was built against.
    pub fn wit_version(&self) -> &str {
        &self.wit_version
    }

    /// The name used in errors and logs.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Instantiate, run `f`, classify failures. A trapped instance is dropped with the store.
    pub(super) fn call<R>(
        &self,
        name: &'static str,
        f: impl FnOnce(
            &mut wasmtime::Store<GuestState>,
            &bindings::ExchangeAdapter,
        ) -> wasmtime::Result<R>,
    ) -> Result<R, ComponentError> {
        let _span =
            tracing::debug_span!("guest_call", component = %self.label, call = name).entered();
        let limits = self.host.limits();
        let reused = self.warm.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut warm = match reused {
            Some(mut w) => {
                sandbox::arm_deadline(&mut w.store, &limits);
                w
            }
            None => self.fresh(name)?,
        };
        match f(&mut warm.store, &warm.instance) {
            Ok(r) => {
                if warm.store.data().has_output() {
                    sandbox::flush_output(warm.store.data_mut(), name);
                } else {
                    let mut pool = self.warm.lock().unwrap_or_else(|p| p.into_inner());
                    if pool.len() < MAX_WARM {
                        pool.push(warm);
                    }
                }
                Ok(r)
            }
            Err(e) => Err(sandbox::trap_error(e, warm.store.data(), name, &limits)),
        }
    }

    fn fresh(&self, name: &'static str) -> Result<Warm, ComponentError> {
        let limits = self.host.limits();
        let mut store = sandbox::new_store(self.host.engine(), &limits, &self.label);
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| sandbox::trap_error(e, store.data(), name, &limits))?;
        Ok(Warm { store, instance })
    }

    /// Create (and drop) one fresh sandboxed instance: a health check, and what a call
    /// pays when no warm instance is available.
    pub fn check_instantiate(&self) -> Result<(), ComponentError> {
        self.fresh("instantiate").map(drop)
    }

    pub(super) fn contract(&self, call: &'static str, detail: String) -> ComponentError {
        ComponentError::Contract {
            component: self.label.clone(),
            call,
            detail,
        }
    }

    pub(super) fn check_url(&self, call: &'static str, url: &str) -> Result<(), ComponentError> {
        if self.info.base_urls.iter().any(|b| url_within(url, b)) {
            Ok(())
        } else {
            Err(self.contract(
                call,
                format!(
                    "URL {url} is outside the declared base URLs [{}]",
                    self.info.base_urls.join(", ")
                ),
            ))
        }
    }

    /// The first request for `window` of `node`, at most `limit` candles per page.
    pub fn plan(&self, node: &NodeId, window: Window, limit: u32) -> GuestResult<HttpRequest> {
        let m = market(node);
        let w = wit_types::Window {
            start: window.start,
            end: window.end,
        };
        let r = self.call("plan", |s, a| {
            a.seamless_market_adapter().call_plan(s, &m, w, limit)
        })?;
        match r {
            Ok(req) => {
                self.check_url("plan", &req.url)?;
                Ok(Ok(req_from_wit(req)))
            }
            Err(e) => Ok(Err(e.into())),
        }
    }

    /// Parse the response to `request`; the page is checked against the contract.
    pub fn parse(
        &self,
        node: &NodeId,
        window: Window,
        request: &HttpRequest,
        response: HttpResponse,
    ) -> GuestResult<Page> {
        let m = market(node);
        let w = wit_types::Window {
            start: window.start,
            end: window.end,
        };
        let req = req_to_wit(request);
        let resp = wit_http::Response {
            status: response.status,
            headers: response.headers,
            body: response.body,
        };
        let r = self.call("parse", |s, a| {
            a.seamless_market_adapter()
                .call_parse(s, &m, w, &req, &resp)
        })?;
        let page = match r {
            Ok(p) => p,
            Err(e) => return Ok(Err(e.into())),
        };
        let max = self.info.max_candles_per_request as usize;
        if page.candles.len() > max {
            return Err(self.contract(
                "parse",
                format!(
                    "returned {} candles, more than its max-candles-per-request ({max})",
                    page.candles.len()
                ),
            ));
        }
        let candles: Vec<Candle> = page.candles.into_iter().map(candle_from_wit).collect();
        self.check_candles("parse", node, Some(window), &candles)?;
        let covered = Window {
            start: page.covered.start,
            end: page.covered.end,
        };
        if covered.start > covered.end || covered.start < window.start || covered.end > window.end {
            return Err(self.contract(
                "parse",
                format!("covered range {covered} is not inside the window {window}"),
            ));
        }
        if let (Some(first), Some(last)) = (candles.first(), candles.last())
            && (first.open_time < covered.start || last.open_time >= covered.end)
        {
            return Err(self.contract(
                "parse",
                format!(
                    "candles {}..={} reach outside the covered range {covered}",
                    first.open_time, last.open_time
                ),
            ));
        }
        let next = match page.next {
            Some(n) => {
                self.check_url("parse", &n.url)?;
                Some(req_from_wit(n))
            }
            None => None,
        };
        Ok(Ok(Page {
            candles,
            covered,
            next,
        }))
    }

    fn check_candles(
        &self,
        call: &'static str,
        node: &NodeId,
        window: Option<Window>,
        candles: &[Candle],
    ) -> Result<(), ComponentError> {
        candle_contract(node.timeframe, window, candles).map_err(|d| self.contract(call, d))
    }
}

fn check_info(label: &str, i: wit::AdapterInfo) -> Result<AdapterInfo, ComponentError> {
    let bad = |detail: String| ComponentError::Contract {
        component: label.to_string(),
        call: "info",
        detail,
    };
    if i.id.is_empty()
        || !i
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(bad(format!(
            "id '{}' must be non-empty lowercase letters, digits, - or _",
            i.id
        )));
    }
    if i.base_urls.is_empty() {
        return Err(bad("declares no base URLs".into()));
    }
    if i.max_candles_per_request == 0 {
        return Err(bad("max-candles-per-request is 0".into()));
    }
    if let Some(t) = i.live_timeframes.iter().find(|t| !i.timeframes.contains(t)) {
        return Err(bad(format!(
            "live timeframe {t} is not among its timeframes [{}]",
            i.timeframes.join(", ")
        )));
    }
    Ok(AdapterInfo {
        id: i.id,
        name: i.name,
        version: i.version,
        base_urls: i.base_urls,
        timeframes: i.timeframes,
        max_candles_per_request: i.max_candles_per_request,
        rate_limit: RateLimitHint {
            budget_per_minute: i.rate_limit.budget_per_minute,
            request_weight: i.rate_limit.request_weight,
            used_weight_header: i.rate_limit.used_weight_header,
        },
        live_timeframes: i.live_timeframes,
    })
}

/// The earliest open time a candle may have: 0001-01-01T00:00:00Z.
const MIN_OPEN_MS: i64 = -62_135_596_800_000;
/// The latest open time a candle may have: 9999-12-01T00:00:00Z (the last month's open).
const MAX_OPEN_MS: i64 = 253_399_622_400_000;

/// The candle part of the contract: each open time a time (years 1 to 9999, the range the
/// adapter kit enforces too), on the `tf` grid, after the previous candle's and inside
/// `window` (when given); prices and volume finite. The error names the first bad candle.
pub(crate) fn candle_contract(
    tf: crate::domain::Timeframe,
    window: Option<Window>,
    candles: &[Candle],
) -> Result<(), String> {
    let mut prev: Option<i64> = None;
    for (i, c) in candles.iter().enumerate() {
        let at = || format!("candle {i} (open time {})", c.open_time);
        // Range first: the grid arithmetic is only defined for times.
        if !(MIN_OPEN_MS..=MAX_OPEN_MS).contains(&c.open_time) {
            return Err(format!(
                "{} is outside years 1 to 9999 ({MIN_OPEN_MS}..={MAX_OPEN_MS} ms): not a time",
                at()
            ));
        }
        if prev.is_some_and(|p| c.open_time <= p) {
            return Err(format!(
                "{} is not after the previous one: candles must be ascending without repeats",
                at()
            ));
        }
        prev = Some(c.open_time);
        if !tf.is_aligned(c.open_time) {
            return Err(format!("{} is not on the {tf} grid", at()));
        }
        if let Some(w) = window
            && !w.contains(c.open_time)
        {
            return Err(format!("{} is outside the window {w}", at()));
        }
        if ![c.open, c.high, c.low, c.close, c.volume]
            .iter()
            .all(|v| v.is_finite())
        {
            return Err(format!("{} has a non-finite price or volume", at()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timeframe;

    const T0: i64 = 1_704_067_200_000; // 2024-01-01, a Monday
    const MIN: i64 = 60_000;

    fn at(t: i64) -> Candle {
        Candle {
            open_time: t,
            open: 1.0,
            high: 2.0,
            low: 0.5,
            close: 1.5,
            volume: 3.0,
        }
    }

    fn refusal(tf: Timeframe, window: Option<Window>, opens: &[i64]) -> String {
        let cs: Vec<Candle> = opens.iter().map(|&t| at(t)).collect();
        candle_contract(tf, window, &cs).expect_err("refused")
    }

    #[test]
    fn a_first_candle_out_of_range_is_reported_as_such() {
        for t in [i64::MIN, i64::MAX, MIN_OPEN_MS - 1, MAX_OPEN_MS + 1] {
            for tf in [Timeframe::M1, Timeframe::W1, Timeframe::Mo1] {
                let e = refusal(tf, None, &[t]);
                assert!(e.starts_with("candle 0 "), "{e}");
                assert!(e.contains("outside years 1 to 9999"), "{e}");
                assert!(!e.contains("previous"), "{e}");
            }
        }
        // A later one too, before any ordering check.
        let e = refusal(Timeframe::M1, None, &[T0, i64::MIN]);
        assert!(
            e.starts_with("candle 1 ") && e.contains("outside years"),
            "{e}"
        );
    }

    #[test]
    fn order_grid_window_and_values() {
        let m1 = Timeframe::M1;
        assert!(candle_contract(m1, None, &[at(T0), at(T0 + MIN)]).is_ok());
        assert!(candle_contract(m1, None, &[]).is_ok());
        // The range's ends are times (1d and 1M grids reach them).
        assert!(candle_contract(Timeframe::D1, None, &[at(MIN_OPEN_MS)]).is_ok());
        assert!(candle_contract(Timeframe::Mo1, None, &[at(MAX_OPEN_MS)]).is_ok());
        assert!(
            refusal(m1, None, &[T0, T0])
                .contains("candle 1 (open time 1704067200000) is not after the previous one")
        );
        assert!(refusal(m1, None, &[T0 + MIN, T0]).contains("not after the previous"));
        assert!(
            refusal(m1, None, &[1_704_067_260_080])
                .contains("candle 0 (open time 1704067260080) is not on the 1m grid")
        );
        let w = Window::new(T0, T0 + 2 * MIN).unwrap();
        assert!(refusal(m1, Some(w), &[T0 + 2 * MIN]).contains("outside the window"));
        let mut nan = at(T0);
        nan.close = f64::NAN;
        assert!(
            candle_contract(m1, None, &[nan])
                .unwrap_err()
                .contains("non-finite")
        );
    }
}
