//! Adapter metadata and request planning for `GET /api/v3/klines`.

use seamless_adapter_kit::timeframe::{self, ALL};
use seamless_adapter_kit::{
    AdapterError, AdapterInfo, Market, Query, RateLimitHint, Request, Timeframe, Window, symbol,
};

/// REST base URL.
pub const REST_BASE: &str = "https://api.binance.com";
/// WebSocket base URL.
pub const WS_BASE: &str = "wss://stream.binance.com:9443";
/// Kline endpoint path.
pub const KLINES_PATH: &str = "/api/v3/klines";
/// Most klines one request returns.
pub const MAX_LIMIT: u32 = 1000;
/// Klines Binance returns when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 500;
/// Weight of one `/api/v3/klines` request, whatever the limit.
pub const REQUEST_WEIGHT: u32 = 2;
/// Request weight allowed per minute per IP.
pub const BUDGET_PER_MINUTE: u32 = 6000;
/// Header reporting the weight used in the current minute.
pub const USED_WEIGHT_HEADER: &str = "x-mbx-used-weight-1m";
/// Timeframes Binance serves: every unified one, spelled the same way.
pub const TIMEFRAMES: [Timeframe; 16] = ALL;

/// Describe the adapter.
pub fn info() -> AdapterInfo {
    AdapterInfo {
        id: "binance".to_owned(),
        name: "Binance Spot".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        base_urls: vec![REST_BASE.to_owned(), WS_BASE.to_owned()],
        timeframes: timeframe::names(&TIMEFRAMES),
        max_candles_per_request: MAX_LIMIT,
        rate_limit: RateLimitHint {
            budget_per_minute: BUDGET_PER_MINUTE,
            request_weight: REQUEST_WEIGHT,
            used_weight_header: Some(USED_WEIGHT_HEADER.to_owned()),
        },
        // Every timeframe streams over the WebSocket (`live_plan`).
        live_timeframes: timeframe::names(&TIMEFRAMES),
    }
}

/// Binance's symbol id: `BTC/USDT` (or `BTCUSDT`) → `BTCUSDT`.
pub fn symbol_id(unified: &str) -> Result<String, AdapterError> {
    symbol::concat_id(unified).ok_or_else(|| {
        AdapterError::UnknownSymbol(format!(
            "{unified:?} is not a spot symbol like BTC/USDT or BTCUSDT"
        ))
    })
}

/// The served timeframe called `name`, or `unsupported-timeframe` listing them.
pub fn timeframe(name: &str) -> Result<Timeframe, AdapterError> {
    Timeframe::parse(name)
        .filter(|tf| TIMEFRAMES.contains(tf))
        .ok_or_else(|| AdapterError::UnsupportedTimeframe(timeframe::names(&TIMEFRAMES)))
}

/// Binance's `interval` spelling of a timeframe (identical to the unified one).
pub fn interval(tf: Timeframe) -> &'static str {
    tf.as_str()
}

/// The first request for `window` (`[start, end)` ms) of `market`, at most
/// `limit` candles per page (clamped to `1..=1000`).
///
/// `GET {REST_BASE}/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime={start}&endTime={end-1}&limit={limit}`:
/// Binance's `endTime` is inclusive (open time ≤ endTime), so the half-open
/// window's last admissible open time is `end - 1`.
pub fn plan(market: &Market, window: Window, limit: u32) -> Result<Request, AdapterError> {
    let tf = timeframe(&market.timeframe)?;
    let id = symbol_id(&market.symbol)?;
    if window.start >= window.end {
        return Err(AdapterError::Malformed(format!(
            "empty window [{}, {}): nothing to request",
            window.start, window.end
        )));
    }
    let query = Query::new()
        .push("symbol", &id)
        .push("interval", interval(tf))
        .push("startTime", window.start)
        .push("endTime", window.end - 1)
        .push("limit", limit.clamp(1, MAX_LIMIT));
    Ok(Request::get(
        query.url(&format!("{REST_BASE}{KLINES_PATH}")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use seamless_adapter_kit::query_param;

    fn m(symbol: &str, tf: &str) -> Market {
        Market::new("binance", symbol, tf)
    }

    #[test]
    fn info_is_complete() {
        let i = info();
        assert_eq!(i.id, "binance");
        assert_eq!(i.name, "Binance Spot");
        assert_eq!(i.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(
            i.base_urls,
            ["https://api.binance.com", "wss://stream.binance.com:9443"]
        );
        assert_eq!(
            i.timeframes.join(" "),
            "1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M"
        );
        assert_eq!(i.max_candles_per_request, 1000);
        assert_eq!(i.rate_limit.budget_per_minute, 6000);
        assert_eq!(i.rate_limit.request_weight, 2);
        assert_eq!(
            i.rate_limit.used_weight_header.as_deref(),
            Some("x-mbx-used-weight-1m")
        );
    }

    #[test]
    fn plans_the_first_page() {
        let w = Window {
            start: 1_704_067_200_000,
            end: 1_704_153_600_000,
        };
        let r = plan(&m("BTC/USDT", "1m"), w, 1000).unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(
            r.url,
            "https://api.binance.com/api/v3/klines?symbol=BTCUSDT&interval=1m\
             &startTime=1704067200000&endTime=1704153599999&limit=1000"
        );
        assert!(r.headers.is_empty() && r.body.is_none());
    }

    #[test]
    fn clamps_the_limit() {
        let w = Window {
            start: 0,
            end: 60_000,
        };
        let lim = |l| {
            let r = plan(&m("BTCUSDT", "1m"), w, l).unwrap();
            query_param(&r.url, "limit").map(str::to_owned)
        };
        assert_eq!(lim(5000).as_deref(), Some("1000"));
        assert_eq!(lim(0).as_deref(), Some("1"));
        assert_eq!(lim(7).as_deref(), Some("7"));
    }

    #[test]
    fn rejects_bad_input() {
        let w = Window {
            start: 0,
            end: 60_000,
        };
        for bad in ["", "BTC/", "BTC USDT", "BTC/USDT:USDT", "BTC&USDT", "../x"] {
            assert!(
                matches!(
                    plan(&m(bad, "1m"), w, 10),
                    Err(AdapterError::UnknownSymbol(_))
                ),
                "{bad}"
            );
        }
        match plan(&m("BTC/USDT", "2d"), w, 10) {
            Err(AdapterError::UnsupportedTimeframe(list)) => assert_eq!(list.len(), 16),
            other => panic!("{other:?}"),
        }
        let empty = Window { start: 5, end: 5 };
        assert!(matches!(
            plan(&m("BTC/USDT", "1m"), empty, 10),
            Err(AdapterError::Malformed(_))
        ));
        let lowest = Window {
            start: i64::MIN,
            end: i64::MIN + 1,
        };
        assert!(plan(&m("BTC/USDT", "1m"), lowest, 10).is_ok());
    }
}
