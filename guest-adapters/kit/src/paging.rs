//! Page bookkeeping shared by adapters: which candles of a response to keep, which
//! part of the window the response proves complete (`covered`), and where the next
//! request starts (or ends).
//!
//! Two shapes of endpoint exist:
//! - [`forward`]: the exchange returns the *oldest* `limit` rows with
//!   `start <= open < end` (Binance, MEXC, Gate with `from`/`to`, Coinbase and Bitfinex
//!   with `sort=1`). The next request starts after the last row received.
//! - [`backward`]: the exchange returns the *newest* `limit` rows with
//!   `start <= open < end` (Bitget, OKX, and every newest-first API). The next request
//!   ends at the first row received, so a fixed end with a moving start never skips
//!   candles.
//!
//! Both never loop (a next that would not advance is not returned), drop repeated
//! or backwards rows and rows outside the window, and make `covered` span every
//! candle returned. They take the rows as the exchange sent them; an adapter whose
//! exchange may send rows in any order runs them through [`normalize`] first (sorted,
//! unique, checked); every other adapter runs them through [`on_grid`] (checked, order
//! kept): either way a row off the timeframe grid, outside years 1–9999 or with a
//! non-finite value makes the page `malformed` in the adapter, not at the host's contract
//! check.
//! [`nonempty`] refuses an empty window before anything is planned.

use crate::http::Request;
use crate::query::set_query_param;
use crate::timeframe::{MAX_OPEN_MS, MIN_OPEN_MS, Timeframe};
use crate::types::{AdapterError, Candle, Page, Window};

/// What one request asked for, in ms: rows with `start <= open < end`, at most `limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: i64,
    pub end: i64,
    pub limit: usize,
}

/// The outcome of one page.
#[derive(Clone, Debug, PartialEq)]
pub struct Paged {
    /// Ascending, unique, inside the window.
    pub candles: Vec<Candle>,
    /// The part of the window the page proves complete.
    pub covered: Window,
    /// [`forward`]: where the next request starts; [`backward`]: where it ends
    /// (exclusive). `None` when the window is done.
    pub next: Option<i64>,
}

impl Paged {
    /// The page for the host, continued by `next`.
    pub fn page(self, next: Option<Request>) -> Page {
        Page {
            candles: self.candles,
            covered: self.covered,
            next,
        }
    }

    /// [`forward`]'s page for the host: the next request is `request` with query parameter
    /// `key` set to the next start (ms).
    pub fn page_moving(self, request: &Request, key: &str) -> Page {
        let next = self.next.map(|n| Request {
            url: set_query_param(&request.url, key, &n.to_string()),
            ..request.clone()
        });
        self.page(next)
    }
}

/// The open `n` candles after `open` (`open + n × tf`, calendar months for `1M`),
/// saturating at `i64::MAX`.
pub fn advance(tf: Timeframe, open: i64, n: usize) -> i64 {
    match tf.duration_ms() {
        Some(d) => open.saturating_add(d.saturating_mul(n as i64)),
        None => (0..n)
            .try_fold(open, |t, _| tf.next_open(t))
            .unwrap_or(i64::MAX),
    }
}

/// The first grid open at or after `t` (`i64::MAX` past the end of time).
pub fn ceil(tf: Timeframe, t: i64) -> i64 {
    match tf.floor(t) {
        Some(f) if f < t => tf.next_open(f).unwrap_or(i64::MAX),
        Some(f) => f,
        None => i64::MIN,
    }
}

/// Sort ascending, drop repeated open times, then [`on_grid`].
pub fn normalize(tf: Timeframe, mut rows: Vec<Candle>) -> Result<Vec<Candle>, AdapterError> {
    if rows.windows(2).all(|w| w[0].open_time > w[1].open_time) {
        rows.reverse();
    } else if !rows.windows(2).all(|w| w[0].open_time < w[1].open_time) {
        rows.sort_by_key(|c| c.open_time);
    }
    rows.dedup_by_key(|c| c.open_time);
    on_grid(tf, rows)
}

/// The rows unchanged (order kept) when every open time is a possible open of `tf`
/// ([`Timeframe::is_open_time`]: years 1–9999, on the grid) and every value is finite;
/// else `malformed` naming the first bad row.
pub fn on_grid(tf: Timeframe, rows: Vec<Candle>) -> Result<Vec<Candle>, AdapterError> {
    check_open_times(tf, &rows)?;
    if let Some(c) = rows.iter().find(|c| !c.is_finite()) {
        return Err(AdapterError::Malformed(format!(
            "candle opening at {} ms has a non-finite value",
            c.open_time
        )));
    }
    Ok(rows)
}

/// `malformed` naming the first candle whose open time is outside years 1–9999 or off
/// the `tf` grid.
pub fn check_open_times<'a>(
    tf: Timeframe,
    candles: impl IntoIterator<Item = &'a Candle>,
) -> Result<(), AdapterError> {
    for c in candles {
        let t = c.open_time;
        if !(MIN_OPEN_MS..=MAX_OPEN_MS).contains(&t) {
            return Err(AdapterError::Malformed(format!(
                "candle opening at {t} ms is outside years 1 to 9999 \
                 ({MIN_OPEN_MS}..={MAX_OPEN_MS} ms): not a time"
            )));
        }
        if !tf.is_aligned(t) {
            return Err(AdapterError::Malformed(format!(
                "candle opening at {t} ms is not on the {tf} grid"
            )));
        }
    }
    Ok(())
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

/// A page of an endpoint returning the oldest `span.limit` rows of `span`, ascending.
///
/// - candles: the first `limit` strictly ascending rows (repeats, rows going
///   backwards and rows at or after `span.end`, which were not asked for, are dropped),
///   then those inside the window;
/// - full page (`limit` rows): covered `[span.start, last open + tf)`, next starts
///   at `last open + tf` (if that advances past `span.start` and is before the
///   window end);
/// - short page: the exchange has nothing more in the span: covered
///   `[span.start, span.end)`, next starts at `span.end` if the span ended before
///   the window did (endpoints that bound each request by time, like Gate).
pub fn forward(tf: Timeframe, window: Window, span: Span, rows: Vec<Candle>) -> Paged {
    let full = rows.len() >= span.limit.max(1);
    let mut last: Option<i64> = None;
    let mut taken = 0usize;
    let mut candles = rows;
    candles.retain(|c| c.open_time < span.end);
    candles.retain(|c| {
        if taken >= span.limit.max(1) || last.is_some_and(|l| c.open_time <= l) {
            return false;
        }
        taken += 1;
        last = Some(c.open_time);
        window.contains(c.open_time)
    });
    let after_last = last.and_then(|l| tf.next_open(l));
    let (covered_end, next) = if full && last.is_some() {
        let next = after_last.filter(|&n| n < window.end && n > span.start);
        (after_last.map_or(window.end, |n| n.min(span.end)), next)
    } else {
        let next = (span.end < window.end && span.end > span.start).then_some(span.end);
        (span.end, next)
    };
    let start = span.start.clamp(window.start, window.end);
    let covered = Window {
        start,
        end: covered_end.clamp(start, window.end),
    };
    Paged {
        covered: spanning(tf, window, covered, &candles),
        candles,
        next,
    }
}

/// A page of an endpoint returning the newest `span.limit` rows of `span`, in any
/// order.
///
/// - candles: the rows sorted ascending, repeats dropped, rows at or after
///   `span.end` ignored, the newest `limit` kept, then those inside the window;
/// - full page: covered `[first open, span.end)`, next ends at the first open (if
///   that is after the window start);
/// - short page: covered `[span.start, span.end)`, no next.
pub fn backward(tf: Timeframe, window: Window, span: Span, mut rows: Vec<Candle>) -> Paged {
    if !rows.is_sorted_by_key(|c| c.open_time) {
        rows.sort_by_key(|c| c.open_time);
    }
    rows.dedup_by_key(|c| c.open_time);
    rows.retain(|c| c.open_time < span.end);
    let limit = span.limit.max(1);
    if rows.len() > limit {
        rows.drain(..rows.len() - limit);
    }
    let full = rows.len() >= limit;
    let first = rows.first().map(|c| c.open_time);
    let (lo, next) = match first {
        Some(f) if full => (f, (f > window.start && f < span.end).then_some(f)),
        _ => (span.start, None),
    };
    let end = span.end.clamp(window.start, window.end);
    let covered = Window {
        start: lo.clamp(window.start, end),
        end,
    };
    rows.retain(|c| window.contains(c.open_time));
    Paged {
        covered: spanning(tf, window, covered, &rows),
        candles: rows,
        next,
    }
}

/// `covered` widened to span every candle returned (the host checks that it does).
fn spanning(tf: Timeframe, window: Window, mut covered: Window, candles: &[Candle]) -> Window {
    if let (Some(first), Some(last)) = (candles.first(), candles.last()) {
        covered.start = covered.start.min(first.open_time);
        let after = tf
            .next_open(last.open_time)
            .map_or(window.end, |n| n.min(window.end));
        covered.end = covered.end.max(after);
    }
    covered
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_704_067_200_000;
    const M: i64 = 60_000;
    const TF: Timeframe = Timeframe::M1;

    fn rows(opens: &[i64]) -> Vec<Candle> {
        opens
            .iter()
            .map(|&t| Candle {
                open_time: t,
                open: 1.0,
                high: 2.0,
                low: 0.5,
                close: 1.5,
                volume: 3.0,
            })
            .collect()
    }

    fn opens(p: &Paged) -> Vec<i64> {
        p.candles.iter().map(|c| c.open_time).collect()
    }

    fn w(a: i64, b: i64) -> Window {
        Window {
            start: T0 + a * M,
            end: T0 + b * M,
        }
    }

    fn span(a: i64, b: i64, limit: usize) -> Span {
        Span {
            start: T0 + a * M,
            end: T0 + b * M,
            limit,
        }
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
        let mut bad = rows(&[T0]).remove(0);
        bad.close = f64::INFINITY;
        assert!(normalize(tf, vec![bad]).is_err());
        assert!(normalize(tf, vec![]).unwrap().is_empty());
    }

    #[test]
    fn on_grid_keeps_order_and_refuses_bad_open_times() {
        let tf = Timeframe::M1;
        // Order and repeats are left to `forward`/`backward`.
        let kept = on_grid(tf, rows(&[T0 + M, T0, T0])).unwrap();
        assert_eq!(
            kept.iter().map(|c| c.open_time).collect::<Vec<_>>(),
            [T0 + M, T0, T0]
        );
        let refusal = |opens: &[i64]| match on_grid(tf, rows(opens)) {
            Err(AdapterError::Malformed(m)) => m,
            other => panic!("{opens:?}: {other:?}"),
        };
        // The fuzz module's finding: 60 s and 80 ms past a minute (binanceusdm let it through).
        assert!(refusal(&[T0, 1_704_067_260_080]).contains("not on the 1m grid"));
        assert!(refusal(&[i64::MIN]).contains("outside years 1 to 9999"));
        assert!(refusal(&[i64::MAX]).contains("outside years 1 to 9999"));
        // The week grid is Monday's: the epoch (a Thursday) is off it.
        assert!(on_grid(Timeframe::W1, rows(&[0])).is_err());
        let mut bad = rows(&[T0]).remove(0);
        bad.volume = f64::NAN;
        assert!(on_grid(tf, vec![bad]).is_err());
    }

    #[test]
    fn empty_windows_are_refused() {
        assert_eq!(nonempty(w(1, 2)), Ok(w(1, 2)));
        assert!(matches!(nonempty(w(2, 2)), Err(AdapterError::Malformed(_))));
    }

    #[test]
    fn forward_full_short_and_time_bounded() {
        let win = w(0, 10);
        let full = forward(TF, win, span(0, 10, 3), rows(&[T0, T0 + M, T0 + 2 * M]));
        assert_eq!((full.covered, full.next), (w(0, 3), Some(T0 + 3 * M)));
        let short = forward(TF, win, span(3, 10, 3), rows(&[T0 + 3 * M]));
        assert_eq!((short.covered, short.next), (w(3, 10), None));
        // A span bounded before the window end continues at its end, even if empty.
        let empty = forward(TF, win, span(0, 5, 5), vec![]);
        assert_eq!((empty.covered, empty.next), (w(0, 5), Some(T0 + 5 * M)));
        // Repeats, backwards rows and rows outside the window are dropped.
        let odd = forward(
            TF,
            w(1, 10),
            span(1, 10, 9),
            rows(&[T0, T0 + M, T0 + M, T0, T0 + 2 * M]),
        );
        assert_eq!(opens(&odd), [T0 + M, T0 + 2 * M]);
        // Extra rows beyond the limit are ignored.
        let over = forward(TF, win, span(0, 10, 2), rows(&[T0, T0 + M, T0 + 2 * M]));
        assert_eq!((opens(&over).len(), over.next), (2, Some(T0 + 2 * M)));
    }

    #[test]
    fn forward_never_loops() {
        let win = w(0, 10);
        let p = forward(TF, win, span(0, 10, 1), rows(&[T0 - M]));
        assert!(p.candles.is_empty() && p.next.is_none());
        let p = forward(TF, win, span(0, 10, 1), rows(&[i64::MAX]));
        assert!(p.next.is_none());
        // Reaching the window end ends the window.
        let p = forward(TF, w(0, 2), span(0, 2, 2), rows(&[T0, T0 + M]));
        assert_eq!((p.covered, p.next), (w(0, 2), None));
    }

    #[test]
    fn backward_pages_from_the_end() {
        let win = w(0, 10);
        // Newest three of the window, given newest first.
        let p = backward(
            TF,
            win,
            span(0, 10, 3),
            rows(&[T0 + 9 * M, T0 + 8 * M, T0 + 7 * M]),
        );
        assert_eq!(opens(&p), [T0 + 7 * M, T0 + 8 * M, T0 + 9 * M]);
        assert_eq!((p.covered, p.next), (w(7, 10), Some(T0 + 7 * M)));
        // Short page: proven down to the span start.
        let p = backward(TF, win, span(0, 7, 3), rows(&[T0 + 5 * M, T0 + 6 * M]));
        assert_eq!((p.covered, p.next), (w(0, 7), None));
        // Full page reaching before the window: done, window start proven.
        let p = backward(
            TF,
            w(2, 7),
            span(2, 7, 3),
            rows(&[T0 + M, T0 + 2 * M, T0 + 3 * M]),
        );
        assert_eq!(opens(&p), [T0 + 2 * M, T0 + 3 * M]);
        assert_eq!((p.covered, p.next), (w(2, 7), None));
        // More rows than the limit: the newest are kept; rows at/after the end ignored.
        let p = backward(
            TF,
            win,
            span(0, 5, 2),
            rows(&[T0, T0 + 2 * M, T0 + 3 * M, T0 + 5 * M]),
        );
        assert_eq!(
            (opens(&p), p.next),
            (vec![T0 + 2 * M, T0 + 3 * M], Some(T0 + 2 * M))
        );
        // A full page whose first row is the span end cannot advance.
        let p = backward(TF, win, span(0, 5, 1), rows(&[T0 + 5 * M]));
        assert!(p.next.is_none() && p.candles.is_empty());
    }

    #[test]
    fn ceil_to_the_grid() {
        assert_eq!(ceil(TF, T0), T0);
        assert_eq!(ceil(TF, T0 + 1), T0 + M);
        assert_eq!(ceil(Timeframe::Month, T0 + 1), 1_706_745_600_000);
    }

    #[test]
    fn advance_months_and_minutes() {
        assert_eq!(advance(TF, T0, 3), T0 + 3 * M);
        assert_eq!(advance(Timeframe::Month, T0, 2), 1_709_251_200_000);
        assert_eq!(advance(TF, i64::MAX - 1, 5), i64::MAX);
    }
}
