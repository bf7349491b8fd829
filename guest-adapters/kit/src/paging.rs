//! Page logic shared by adapters (group c: coinbase, kraken, bitfinex, template): sort
//! and check rows ([`normalize`]), which candles a page keeps, the range it proves
//! complete (`covered`) and where the next page starts, for the two shapes exchanges
//! answer in; plus small plumbing: [`http_error`] for unreadable error bodies, timeframe
//! tables ([`lookup`], [`supported`]), the empty-window check ([`nonempty`]), [`hint`]
//! and [`Proof::page`]. (See also [`crate::cover`], group b's variant, which expects
//! rows already in order.)
//!
//! - [`ascending`]: the exchange returns the *first* `limit` rows with
//!   `start <= open < end` (Binance-like `startTime`/`endTime`/`limit`, or `sort=1`).
//!   A full page proves `[start, last open + tf)` and continues after the last row; a
//!   short page proves `[start, end)`.
//! - [`descending`]: the exchange returns the *newest* `limit` rows with
//!   `start <= open < end` (newest-first APIs paged backwards with a moving `end`). A
//!   full page proves `[first open, end)` and continues before the first row; a short
//!   page proves `[start, end)`.
//!
//! Both sort the rows (whatever order they came in), drop repeated open times, refuse
//! rows off the timeframe grid (`malformed`: the host would refuse them anyway) and keep
//! only candles inside the proven range and the window. `covered` always lies inside
//! the window, and a next start is only given when it makes progress (paging never
//! loops).

use crate::{AdapterError, Candle, Page, RateLimitHint, Request, Timeframe, Window};

/// What one page proves.
#[derive(Clone, Debug, PartialEq)]
pub struct Proof {
    /// Ascending, unique, on the grid, inside `covered`.
    pub candles: Vec<Candle>,
    /// The range the page proves complete (inside the window).
    pub covered: Window,
    /// Ascending: the next request's start. Descending: the next request's end.
    pub next: Option<i64>,
}

impl Proof {
    /// The WIT page of this proof, continued by `next`.
    pub fn page(self, next: Option<Request>) -> Page {
        Page {
            candles: self.candles,
            covered: self.covered,
            next,
        }
    }
}

/// A rate-limit hint without a used-weight header.
pub fn hint(budget_per_minute: u32, request_weight: u32) -> RateLimitHint {
    RateLimitHint {
        budget_per_minute,
        request_weight,
        used_weight_header: None,
    }
}

/// Sort ascending, drop repeated open times, refuse off-grid or non-finite rows.
pub fn normalize(tf: Timeframe, mut rows: Vec<Candle>) -> Result<Vec<Candle>, AdapterError> {
    if rows.windows(2).all(|w| w[0].open_time > w[1].open_time) {
        rows.reverse();
    } else if !rows.windows(2).all(|w| w[0].open_time < w[1].open_time) {
        rows.sort_by_key(|c| c.open_time);
    }
    rows.dedup_by_key(|c| c.open_time);
    if let Some(c) = rows.iter().find(|c| !tf.is_aligned(c.open_time)) {
        return Err(AdapterError::Malformed(format!(
            "candle opening at {} ms is not on the {tf} grid",
            c.open_time
        )));
    }
    if let Some(c) = rows.iter().find(|c| !c.is_finite()) {
        return Err(AdapterError::Malformed(format!(
            "candle opening at {} ms has a non-finite value",
            c.open_time
        )));
    }
    Ok(rows)
}

fn keep(rows: Vec<Candle>, covered: Window) -> Vec<Candle> {
    rows.into_iter()
        .filter(|c| covered.contains(c.open_time))
        .collect()
}

/// An ascending page answering `[start, end)` with at most `limit` rows.
pub fn ascending(
    tf: Timeframe,
    window: Window,
    (start, end): (i64, i64),
    limit: usize,
    rows: Vec<Candle>,
) -> Result<Proof, AdapterError> {
    let mut rows = normalize(tf, rows)?;
    rows.retain(|c| c.open_time >= start);
    rows.truncate(limit.max(1));
    let full = rows.len() >= limit.max(1);
    let after_last = rows.last().and_then(|c| tf.next_open(c.open_time));
    let lo = start.clamp(window.start, window.end);
    let hi = match (full, after_last) {
        (true, Some(after)) => after.min(end),
        (true, None) => window.end,
        (false, _) => end,
    };
    let covered = Window {
        start: lo,
        end: hi.clamp(lo, window.end),
    };
    let next = after_last.filter(|&n| full && n > start && n < window.end.min(end));
    Ok(Proof {
        candles: keep(rows, covered),
        covered,
        next,
    })
}

/// A descending (newest-first) page answering `[start, end)` with at most `limit` rows.
pub fn descending(
    tf: Timeframe,
    window: Window,
    (start, end): (i64, i64),
    limit: usize,
    rows: Vec<Candle>,
) -> Result<Proof, AdapterError> {
    let mut rows = normalize(tf, rows)?;
    rows.retain(|c| c.open_time < end);
    let cut = rows.len().saturating_sub(limit.max(1));
    rows.drain(..cut);
    let full = rows.len() >= limit.max(1);
    let first = rows.first().map(|c| c.open_time);
    let hi = end.clamp(window.start, window.end);
    let lo = match (full, first) {
        (true, Some(f)) => f.max(start),
        _ => start,
    };
    let covered = Window {
        start: lo.clamp(window.start, hi),
        end: hi,
    };
    let next = first.filter(|&f| full && f < end && f > window.start.max(start));
    Ok(Proof {
        candles: keep(rows, covered),
        covered,
        next,
    })
}

/// `malformed` for an empty window (`start >= end`): nothing to request.
pub fn nonempty(window: Window) -> Result<Window, AdapterError> {
    if window.start < window.end {
        Ok(window)
    } else {
        Err(AdapterError::Malformed(format!(
            "empty window [{}, {}): nothing to request",
            window.start, window.end
        )))
    }
}

/// The unified names of a timeframe table (unified timeframe → exchange spelling).
pub fn supported<T>(table: &[(Timeframe, T)]) -> Vec<String> {
    table.iter().map(|t| t.0.as_str().to_owned()).collect()
}

/// The row of `table` for the unified timeframe `name`, or `unsupported-timeframe`
/// listing the table's timeframes.
pub fn lookup<T: Copy>(
    table: &[(Timeframe, T)],
    name: &str,
) -> Result<(Timeframe, T), AdapterError> {
    table
        .iter()
        .find(|t| t.0.as_str() == name)
        .copied()
        .ok_or_else(|| AdapterError::UnsupportedTimeframe(supported(table)))
}

/// Characters of a non-JSON error body kept in an error message.
pub const EXCERPT_CHARS: usize = 200;

/// `exchange(HTTP status, first 200 characters of the body)`: the answer for an error
/// body that is not in the exchange's documented error format.
pub fn http_error(status: u16, body: &[u8]) -> AdapterError {
    let head = &body[..body.len().min(EXCERPT_CHARS * 4)];
    AdapterError::Exchange {
        code: i64::from(status),
        message: String::from_utf8_lossy(head)
            .chars()
            .take(EXCERPT_CHARS)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_704_067_200_000;
    const M: i64 = 60_000;

    fn c(t: i64) -> Candle {
        Candle {
            open_time: t,
            open: 1.0,
            high: 2.0,
            low: 0.5,
            close: 1.5,
            volume: 3.0,
        }
    }

    fn opens(p: &Proof) -> Vec<i64> {
        p.candles.iter().map(|c| c.open_time).collect()
    }

    fn rows(ts: &[i64]) -> Vec<Candle> {
        ts.iter().map(|&t| c(t)).collect()
    }

    fn w(a: i64, b: i64) -> Window {
        Window { start: a, end: b }
    }

    #[test]
    fn normalizes_any_order() {
        let tf = Timeframe::M1;
        let asc = normalize(tf, rows(&[T0, T0 + M, T0 + 2 * M])).unwrap();
        let desc = normalize(tf, rows(&[T0 + 2 * M, T0 + M, T0])).unwrap();
        let mixed = normalize(tf, rows(&[T0 + M, T0, T0 + 2 * M, T0])).unwrap();
        assert_eq!(asc, desc);
        assert_eq!(asc, mixed);
        assert!(matches!(
            normalize(tf, rows(&[T0 + 1])),
            Err(AdapterError::Malformed(_))
        ));
        let mut bad = c(T0);
        bad.close = f64::INFINITY;
        assert!(normalize(tf, vec![bad]).is_err());
        assert!(normalize(tf, vec![]).unwrap().is_empty());
    }

    #[test]
    fn ascending_pages() {
        let tf = Timeframe::M1;
        let win = w(T0, T0 + 10 * M);
        let e = win.end;
        // Full page: proves up to the open after the last row, continues there.
        let p = ascending(tf, win, (T0, e), 3, rows(&[T0, T0 + M, T0 + 2 * M])).unwrap();
        assert_eq!(p.covered, w(T0, T0 + 3 * M));
        assert_eq!(p.next, Some(T0 + 3 * M));
        // Short page: proves to the request end, no next.
        let p = ascending(tf, win, (T0 + 3 * M, e), 3, rows(&[T0 + 3 * M])).unwrap();
        assert_eq!(p.covered, w(T0 + 3 * M, e));
        assert_eq!(p.next, None);
        // Rows before the start or beyond the limit are dropped.
        let four = rows(&[T0, T0 + M, T0 + 2 * M, T0 + 3 * M]);
        let p = ascending(tf, win, (T0 + M, e), 2, four).unwrap();
        assert_eq!(opens(&p), [T0 + M, T0 + 2 * M]);
        assert_eq!(p.next, Some(T0 + 3 * M));
        // Full page reaching the window end: no next.
        let p = ascending(tf, win, (T0 + 8 * M, e), 2, rows(&[T0 + 8 * M, T0 + 9 * M])).unwrap();
        assert_eq!(p.next, None);
        assert_eq!(p.covered.end, e);
        // Empty: the rest is proven empty.
        let p = ascending(tf, win, (T0, e), 5, vec![]).unwrap();
        assert_eq!(p.covered, win);
        assert!(p.candles.is_empty() && p.next.is_none());
    }

    #[test]
    fn descending_pages() {
        let tf = Timeframe::M1;
        let win = w(T0, T0 + 10 * M);
        // Full page of the newest 3: proves [first, end), continues before the first.
        let newest = rows(&[T0 + 9 * M, T0 + 8 * M, T0 + 7 * M]);
        let p = descending(tf, win, (win.start, win.end), 3, newest).unwrap();
        assert_eq!(opens(&p), [T0 + 7 * M, T0 + 8 * M, T0 + 9 * M]);
        assert_eq!(p.covered, w(T0 + 7 * M, win.end));
        assert_eq!(p.next, Some(T0 + 7 * M));
        // Short page: proves down to the start.
        let p = descending(tf, win, (win.start, T0 + 7 * M), 3, rows(&[T0 + 2 * M])).unwrap();
        assert_eq!(p.covered, w(T0, T0 + 7 * M));
        assert_eq!(p.next, None);
        // More rows than the limit: the newest are kept.
        let five = rows(&[T0, T0 + M, T0 + 2 * M, T0 + 3 * M, T0 + 4 * M]);
        let p = descending(tf, win, (win.start, T0 + 4 * M), 2, five).unwrap();
        assert_eq!(opens(&p), [T0 + 2 * M, T0 + 3 * M]);
        assert_eq!(p.next, Some(T0 + 2 * M));
        // A full page reaching the window start ends.
        let p = descending(tf, win, (win.start, T0 + 2 * M), 2, rows(&[T0, T0 + M])).unwrap();
        assert_eq!(p.next, None);
        assert_eq!(p.covered, w(T0, T0 + 2 * M));
    }

    #[test]
    fn tables_and_windows() {
        let table = [(Timeframe::M1, "ONE"), (Timeframe::H1, "HOUR")];
        assert_eq!(lookup(&table, "1h"), Ok((Timeframe::H1, "HOUR")));
        assert_eq!(
            lookup(&table, "1d"),
            Err(AdapterError::UnsupportedTimeframe(vec![
                "1m".into(),
                "1h".into()
            ]))
        );
        assert_eq!(nonempty(w(1, 2)), Ok(w(1, 2)));
        assert!(matches!(nonempty(w(2, 2)), Err(AdapterError::Malformed(_))));
    }

    #[test]
    fn unreadable_error_bodies() {
        match http_error(500, "é".repeat(500).as_bytes()) {
            AdapterError::Exchange { code: 500, message } => {
                assert_eq!(message.chars().count(), EXCERPT_CHARS)
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            http_error(502, b"<html>"),
            AdapterError::Exchange {
                code: 502,
                message: "<html>".into()
            }
        );
    }
}
