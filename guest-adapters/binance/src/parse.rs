//! Kline pages → candles and the next request.
//!
//! [`parse_klines`] reads only the first six fields of each row
//! (`[openTime, "o", "h", "l", "c", "v", closeTime, ...]`) with the kit's
//! allocation-free scanner and skips the rest. [`parse`] maps errors, keeps the
//! rows that are ascending and inside the window, and derives the part of the
//! window the page proves complete and the next request.

use seamless_adapter_kit::paging;
use seamless_adapter_kit::{
    AdapterError, Candle, Market, Page, Request, Response, ScanError, Scanner, Window, query_param,
    set_query_param,
};

use crate::errors;
use crate::plan::{DEFAULT_LIMIT, timeframe};

/// Names of the fields read from each row, by index.
const FIELDS: [&str; 6] = ["open time", "open", "high", "low", "close", "volume"];

/// Parse the response to `request` (produced by `plan` or a previous `parse`).
///
/// A row whose open time is off the timeframe grid or outside years 1–9999 makes the
/// page `malformed` ([`paging::on_grid`]).
/// - `candles`: the rows that are strictly ascending (rows that go backwards or
///   repeat are dropped, as are rows beyond the request's `limit`) and inside
///   `window`. Closed-ness is not checked: adapters have no clock, the host
///   filters forming candles.
/// - `covered`: from the request's `startTime` to the open after the last row
///   when the page was full (`limit` rows: more may follow), else to the
///   request's end (`endTime + 1`, at most `window.end`): a short page proves the
///   exchange has nothing more there. Clamped into `window`.
/// - `next`: the same request with `startTime` moved to the open after the last
///   row, when the page was full, that open is before `window.end`, and it
///   advances past the request's own `startTime` (paging never loops).
pub fn parse(
    market: &Market,
    window: Window,
    request: &Request,
    response: &Response,
) -> Result<Page, AdapterError> {
    let tf = timeframe(&market.timeframe)?;
    if response.status != 200 {
        return Err(errors::from_response(response));
    }
    let rows = paging::on_grid(tf, parse_klines(&response.body)?)?;
    let param = |name| query_param(&request.url, name).and_then(|v| v.parse::<i64>().ok());
    let limit = param("limit")
        .and_then(|l| usize::try_from(l).ok())
        .filter(|&l| l > 0)
        .unwrap_or(DEFAULT_LIMIT as usize);
    let request_start = param("startTime").unwrap_or(window.start);
    let request_end = param("endTime")
        .and_then(|e| e.checked_add(1))
        .map_or(window.end, |e| e.min(window.end));
    let full = rows.len() >= limit;
    let (candles, last_open) = select(rows, window, limit);
    // Open after the last row of a full page; `None` past i64::MAX.
    let after_last = last_open.and_then(|last| tf.next_open(last));
    let covered_end = match (full, last_open) {
        (true, Some(_)) => after_last.map_or(window.end, |n| n.min(request_end)),
        _ => request_end,
    };
    let mut start = request_start.clamp(window.start, window.end);
    let mut end = covered_end.clamp(start, window.end);
    // Whatever the request said, the candles returned are proof of themselves:
    // `covered` always spans them (the host checks that it does).
    if let (Some(first), Some(last)) = (candles.first(), candles.last()) {
        start = start.min(first.open_time);
        let after = tf
            .next_open(last.open_time)
            .map_or(window.end, |n| n.min(window.end));
        end = end.max(after);
    }
    let covered = Window { start, end };
    let next = match after_last {
        Some(n) if full && n < window.end && n > request_start => Some(Request {
            url: set_query_param(&request.url, "startTime", &n.to_string()),
            ..request.clone()
        }),
        _ => None,
    };
    Ok(Page {
        candles,
        covered,
        next,
    })
}

/// Keep the first `limit` strictly ascending rows, then those inside `window`.
/// Also returns the open time of the last row kept before the window filter.
fn select(mut rows: Vec<Candle>, window: Window, limit: usize) -> (Vec<Candle>, Option<i64>) {
    let mut last: Option<i64> = None;
    let mut taken = 0usize;
    rows.retain(|c| {
        if taken >= limit || last.is_some_and(|l| c.open_time <= l) {
            return false;
        }
        taken += 1;
        last = Some(c.open_time);
        window.contains(c.open_time)
    });
    (rows, last)
}

/// Parse a `/api/v3/klines` body into candles, in the order given.
///
/// Reads fields 0–5 of each row (open time as a number or string; prices and
/// volume as strings or numbers) and skips the rest with syntax checking. Any
/// deviation (not an array, a row with fewer than six fields, a non-numeric or
/// non-finite value, a truncated body, trailing data) is `malformed` with the
/// row index, field name and byte offset.
pub fn parse_klines(body: &[u8]) -> Result<Vec<Candle>, AdapterError> {
    let mut s = Scanner::new(body);
    s.begin_array()
        .map_err(|e| malformed(format_args!("klines: expected an array of rows: {e}")))?;
    // Binance rows are ~150 bytes; cap the guess so odd bodies cannot over-reserve.
    let mut out = Vec::with_capacity((body.len() / 128 + 1).min(4096));
    let mut first = true;
    loop {
        let more = s
            .next_element(&mut first)
            .map_err(|e| malformed(format_args!("klines: after row {}: {e}", out.len())))?;
        if !more {
            break;
        }
        out.push(parse_row(&mut s, out.len())?);
    }
    if !s.at_end() {
        return Err(malformed(format_args!(
            "klines: trailing data at byte {}",
            s.position()
        )));
    }
    Ok(out)
}

fn parse_row(s: &mut Scanner<'_>, row: usize) -> Result<Candle, AdapterError> {
    let at = |e: ScanError| malformed(format_args!("row {row}: {e}"));
    s.begin_array().map_err(at)?;
    let mut first = true;
    let mut v = [0f64; 5];
    let mut open_time = 0i64;
    for (i, name) in FIELDS.iter().enumerate() {
        if !s.next_element(&mut first).map_err(at)? {
            return Err(malformed(format_args!(
                "row {row}: has {i} fields, expected at least 6 (missing {name})"
            )));
        }
        let field = |e: ScanError| malformed(format_args!("row {row} field {i} ({name}): {e}"));
        if i == 0 {
            open_time = s.i64_lenient().map_err(field)?;
        } else {
            let x = s.f64_lenient().map_err(field)?;
            if !x.is_finite() {
                return Err(malformed(format_args!(
                    "row {row} field {i} ({name}): not a finite number"
                )));
            }
            v[i - 1] = x;
        }
    }
    while s.next_element(&mut first).map_err(at)? {
        s.skip_value().map_err(at)?;
    }
    let [open, high, low, close, volume] = v;
    Ok(Candle {
        open_time,
        open,
        high,
        low,
        close,
        volume,
    })
}

fn malformed(detail: core::fmt::Arguments<'_>) -> AdapterError {
    AdapterError::Malformed(detail.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::plan;
    use crate::sample::sample_klines;

    const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00Z, a Monday

    fn ok(body: Vec<u8>) -> Response {
        Response {
            status: 200,
            headers: vec![],
            body,
        }
    }

    fn market(tf: &str) -> Market {
        Market::new("binance", "BTC/USDT", tf)
    }

    #[test]
    fn reads_six_fields_and_skips_the_rest() {
        let body = br#"[[1704067200000,"1.5","2.5","0.5","2.0","10.25",1704067259999,"x",3,"y","z","0",[1,{"a":null}]]]"#;
        let c = parse_klines(body).unwrap();
        assert_eq!(
            c,
            [Candle {
                open_time: T0,
                open: 1.5,
                high: 2.5,
                low: 0.5,
                close: 2.0,
                volume: 10.25
            }]
        );
        // Numbers instead of strings, string open time, exactly six fields.
        let c = parse_klines(br#" [ ["1704067200000", 1, 2, 0.5, 1.5, 0] ] "#).unwrap();
        assert_eq!((c[0].open_time, c[0].close), (T0, 1.5));
        assert_eq!(parse_klines(b"[]").unwrap(), []);
    }

    #[test]
    fn malformed_bodies_name_row_and_field() {
        let cases: [(&[u8], &str); 9] = [
            (b"", "expected an array"),
            (br#"{"code":0}"#, "expected an array"),
            (
                br#"[[1704067200000,"1","2","0.5","1.5"]]"#,
                "row 0: has 5 fields",
            ),
            (
                br#"[[1,"1","2","0.5","1.5","1"],[2,"1","x","0.5","1.5","1"]]"#,
                "row 1 field 2 (high)",
            ),
            (
                br#"[[1,"1","2","0.5","NaN","1"]]"#,
                "row 0 field 4 (close): not a finite number",
            ),
            (
                br#"[[1.5,"1","2","0.5","1","1"]]"#,
                "row 0 field 0 (open time)",
            ),
            (br#"[[1,"1","2","0.5","1","1"]] x"#, "trailing data"),
            (br#"[[1,"1","2","0.5","1","1"] [2]]"#, "after row 1"),
            (br#"[7]"#, "row 0: expected '['"),
        ];
        for (body, want) in cases {
            match parse_klines(body) {
                Err(AdapterError::Malformed(d)) => assert!(d.contains(want), "{d} !~ {want}"),
                other => panic!("{want}: {other:?}"),
            }
        }
    }

    #[test]
    fn truncated_body_is_malformed() {
        let body = sample_klines(T0, 60_000, 3);
        for cut in [1, 10, body.len() / 2, body.len() - 1] {
            match parse_klines(&body[..cut]) {
                Err(AdapterError::Malformed(d)) => {
                    assert!(d.contains("unexpected end of input"), "{cut}: {d}")
                }
                other => panic!("{cut}: {other:?}"),
            }
        }
    }

    /// The host's checks: covered inside the window, candles inside covered.
    fn assert_contract(p: &Page, w: Window) {
        assert!(
            w.start <= p.covered.start
                && p.covered.start <= p.covered.end
                && p.covered.end <= w.end
        );
        if let (Some(f), Some(l)) = (p.candles.first(), p.candles.last()) {
            assert!(
                p.covered.start <= f.open_time && l.open_time < p.covered.end,
                "{p:?}"
            );
        }
        assert!(
            p.candles
                .windows(2)
                .all(|c| c[0].open_time < c[1].open_time)
        );
    }

    #[test]
    fn covered_spans_rows_outside_the_request() {
        let w = Window {
            start: T0,
            end: T0 + 3_600_000,
        };
        // A host-made request whose startTime/endTime are narrower than the rows
        // the exchange sent back: covered still spans every candle returned.
        let req = Request::get(format!(
            "https://api.binance.com/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime={}&endTime={}&limit=1000",
            T0 + 120_000,
            T0 + 179_999
        ));
        let p = parse(&market("1m"), w, &req, &ok(sample_klines(T0, 60_000, 10))).unwrap();
        assert_eq!(p.candles.len(), 10);
        assert_eq!(
            p.covered,
            Window {
                start: T0,
                end: T0 + 600_000
            }
        );
        assert_contract(&p, w);
        // No startTime/limit/endTime at all: defaults (window start, 500, window end).
        let bare = Request::get("https://api.binance.com/api/v3/klines?symbol=BTCUSDT&interval=1m");
        let p = parse(&market("1m"), w, &bare, &ok(sample_klines(T0, 60_000, 3))).unwrap();
        assert_eq!(p.covered, w);
        assert_contract(&p, w);
    }

    fn opens(p: &Page) -> Vec<i64> {
        p.candles.iter().map(|c| c.open_time).collect()
    }

    fn start_of(r: &Request) -> Option<&str> {
        query_param(&r.url, "startTime")
    }

    #[test]
    fn drops_backwards_repeats_and_out_of_window_rows() {
        let row = |t: i64| format!(r#"[{t},"1","2","0.5","1.5","1",0]"#);
        let ts = [
            T0 - 60_000,
            T0,
            T0 + 60_000,
            T0 + 60_000,
            T0,
            T0 + 120_000,
            T0 + 180_000,
        ];
        let body = format!("[{}]", ts.map(row).join(","));
        let w = Window {
            start: T0,
            end: T0 + 180_000,
        };
        let req = plan(&market("1m"), w, 1000).unwrap();
        let p = parse(&market("1m"), w, &req, &ok(body.into_bytes())).unwrap();
        assert_eq!(opens(&p), [T0, T0 + 60_000, T0 + 120_000]);
        assert_eq!(p.covered, w);
        assert_contract(&p, w);
        assert!(p.next.is_none());
    }

    #[test]
    fn full_page_gives_next_request() {
        let w = Window {
            start: T0,
            end: T0 + 10 * 60_000,
        };
        let req = plan(&market("1m"), w, 4).unwrap();
        let p = parse(&market("1m"), w, &req, &ok(sample_klines(T0, 60_000, 4))).unwrap();
        assert_eq!(p.candles.len(), 4);
        // Full page: proves only [start, last open + 1m).
        assert_eq!(
            p.covered,
            Window {
                start: T0,
                end: T0 + 240_000
            }
        );
        let next = p.next.unwrap();
        assert_eq!(start_of(&next), Some("1704067440000"));
        assert_eq!(
            next.url,
            req.url
                .replace("startTime=1704067200000", "startTime=1704067440000")
        );
        assert_eq!(
            (next.method.as_str(), &next.headers, &next.body),
            ("GET", &req.headers, &req.body)
        );
        // The next page's coverage starts at its own startTime.
        let p2 = parse(
            &market("1m"),
            w,
            &next,
            &ok(sample_klines(T0 + 240_000, 60_000, 2)),
        )
        .unwrap();
        assert_eq!(
            p2.covered,
            Window {
                start: T0 + 240_000,
                end: w.end
            }
        );
        assert!(p2.next.is_none());
        // A short page ends the window and proves it to the end.
        let p = parse(&market("1m"), w, &req, &ok(sample_klines(T0, 60_000, 3))).unwrap();
        assert!(p.next.is_none());
        assert_eq!(p.covered, w);
        // An empty page proves the whole rest of the window empty.
        let p = parse(&market("1m"), w, &req, &ok(b"[]".to_vec())).unwrap();
        assert!(p.candles.is_empty() && p.next.is_none());
        assert_eq!(p.covered, w);
        // A full page whose next open reaches the window end ends it too.
        let w4 = Window {
            start: T0,
            end: T0 + 4 * 60_000,
        };
        let req4 = plan(&market("1m"), w4, 4).unwrap();
        let p = parse(&market("1m"), w4, &req4, &ok(sample_klines(T0, 60_000, 4))).unwrap();
        assert!(p.next.is_none());
        assert_eq!(p.covered, w4);
    }

    #[test]
    fn non_advancing_page_has_no_next() {
        let w = Window {
            start: T0,
            end: T0 + 3_600_000,
        };
        let req = plan(&market("1m"), w, 2).unwrap();
        // A full page whose rows all open before the request's startTime: the next
        // open would not advance beyond startTime, so paging stops.
        let body = sample_klines(T0 - 180_000, 60_000, 2);
        let p = parse(&market("1m"), w, &req, &ok(body)).unwrap();
        assert!(p.candles.is_empty());
        assert!(p.next.is_none());
        assert_eq!(p.covered, Window { start: T0, end: T0 });
        // The next open would equal startTime exactly: still no next.
        let req1 = plan(&market("1m"), w, 1).unwrap();
        let body = sample_klines(T0 - 60_000, 60_000, 1);
        let p = parse(&market("1m"), w, &req1, &ok(body)).unwrap();
        assert!(p.next.is_none());
        // An open time past the end of time is not a time: the page is malformed (it
        // used to read as an empty page with no next).
        let body = format!(r#"[[{},"1","2","0.5","1.5","1"]]"#, i64::MAX);
        assert!(matches!(
            parse(&market("1m"), w, &req1, &ok(body.into_bytes())),
            Err(AdapterError::Malformed(_))
        ));
    }

    #[test]
    fn off_grid_and_out_of_range_open_times_are_malformed() {
        // Found by tests/all/fuzz.rs: such rows reached the host's contract check.
        let w = Window {
            start: T0,
            end: T0 + 3_600_000,
        };
        let req = plan(&market("1m"), w, 1000).unwrap();
        let row = |t: i64| format!(r#"[{t},"1","2","0.5","1.5","1",0]"#);
        for (bad, want) in [
            (T0 + 60_080, "not on the 1m grid"),
            (T0 + 1, "not on the 1m grid"),
            (i64::MIN, "outside years 1 to 9999"),
            (-62_135_596_800_001, "outside years 1 to 9999"),
        ] {
            let body = format!("[{},{}]", row(T0), row(bad));
            match parse(&market("1m"), w, &req, &ok(body.into_bytes())) {
                Err(AdapterError::Malformed(d)) => assert!(d.contains(want), "{bad}: {d}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        // A 1h page whose rows are on the minute grid only.
        let req = plan(&market("1h"), w, 1000).unwrap();
        let body = format!("[{}]", row(T0 + 60_000));
        assert!(matches!(
            parse(&market("1h"), w, &req, &ok(body.into_bytes())),
            Err(AdapterError::Malformed(_))
        ));
    }

    #[test]
    fn month_and_week_stepping() {
        // 1M: full page of 2 monthly candles (Jan, Feb 2024) → next = Mar 1 (leap Feb).
        let w = Window {
            start: T0,
            end: 1_735_689_600_000, // 2025-01-01
        };
        let req = plan(&market("1M"), w, 2).unwrap();
        let body =
            format!(r#"[[{T0},"1","2","0.5","1.5","1"],[1706745600000,"1","2","0.5","1.5","1"]]"#);
        let p = parse(&market("1M"), w, &req, &ok(body.into_bytes())).unwrap();
        assert_eq!(p.candles.len(), 2);
        assert_eq!(p.covered.end, 1_709_251_200_000);
        assert_contract(&p, w);
        assert_eq!(p.next.as_ref().and_then(start_of), Some("1709251200000"));
        // 1w: Monday grid, next = last + 7 days.
        let req = plan(&market("1w"), w, 2).unwrap();
        let body = sample_klines(T0, 604_800_000, 2);
        let p = parse(&market("1w"), w, &req, &ok(body)).unwrap();
        assert_eq!(p.next.as_ref().and_then(start_of), Some("1705276800000"));
    }

    #[test]
    fn limit_truncates_extra_rows() {
        let w = Window {
            start: T0,
            end: T0 + 3_600_000,
        };
        let req = plan(&market("1m"), w, 3).unwrap();
        let p = parse(&market("1m"), w, &req, &ok(sample_klines(T0, 60_000, 5))).unwrap();
        assert_eq!(p.candles.len(), 3);
        assert_eq!(p.covered.end, T0 + 180_000);
        assert_contract(&p, w);
        assert_eq!(p.next.as_ref().and_then(start_of), Some("1704067380000"));
    }

    #[test]
    fn errors_are_typed_before_the_body_is_read() {
        let w = Window {
            start: T0,
            end: T0 + 60_000,
        };
        let req = plan(&market("1m"), w, 1).unwrap();
        let resp = Response {
            status: 400,
            headers: vec![],
            body: br#"{"code":-1121,"msg":"Invalid symbol."}"#.to_vec(),
        };
        assert_eq!(
            parse(&market("1m"), w, &req, &resp).unwrap_err(),
            AdapterError::UnknownSymbol("Invalid symbol.".into())
        );
        assert!(matches!(
            parse(&market("7m"), w, &req, &ok(b"[]".to_vec())),
            Err(AdapterError::UnsupportedTimeframe(_))
        ));
    }

    /// Native parse time of a 1000-row page: `cargo test -p binance-adapter
    /// --release -- --ignored --nocapture parse_speed`.
    #[test]
    #[ignore = "timing; run in release"]
    fn parse_speed() {
        let body = sample_klines(T0, 60_000, 1000);
        let runs = 2000;
        for _ in 0..100 {
            std::hint::black_box(parse_klines(std::hint::black_box(&body)).unwrap());
        }
        let t = std::time::Instant::now();
        for _ in 0..runs {
            std::hint::black_box(parse_klines(std::hint::black_box(&body)).unwrap());
        }
        let per = t.elapsed() / runs;
        println!(
            "parse_klines: 1000 rows, {} bytes: {per:?} per page",
            body.len()
        );
    }
}
