//! Shared test harness for the exchange adapters under `guest-adapters/` (a
//! `[dev-dependencies]` entry only; never linked into a component).
//!
//! - [`ccxt`]: the ccxt 4.5.90 OHLCV vectors (`tests/fixtures/ccxt/ohlcv-vectors-4.5.90.json`
//!   at the workspace root), windows and markets built from their arguments, candle rows.
//! - [`errors`]: recorded error payloads (`tests/fixtures/error-*.json` of each adapter) as
//!   kit [`Response`](seamless_adapter_kit::Response)s and the assertions on the mapped
//!   [`AdapterError`](seamless_adapter_kit::AdapterError).

pub mod ccxt;
pub mod errors;

use seamless_adapter_kit::{Page, Request, Response, Window, query_param};

/// One minute in milliseconds.
pub const MINUTE: i64 = 60_000;

/// A `200` response with no headers and `body`.
pub fn ok(body: impl Into<Vec<u8>>) -> Response {
    Response {
        status: 200,
        headers: vec![],
        body: body.into(),
    }
}

/// A response with `status`, `headers` (name, value) and the text `body`.
pub fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    let headers = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    Response {
        status,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

/// The open times of a page's candles.
pub fn opens(p: &Page) -> Vec<i64> {
    p.candles.iter().map(|c| c.open_time).collect()
}

/// An integer query parameter of `url`, if present and numeric.
pub fn url_num(url: &str, key: &str) -> Option<i64> {
    query_param(url, key).and_then(|v| v.parse().ok())
}

/// An integer query parameter of a request's URL, if present and numeric.
pub fn param(r: &Request, key: &str) -> Option<i64> {
    url_num(&r.url, key)
}

/// Time `parse` over `response` `runs` times and print `<label> parse: 1000 rows, <n> bytes:
/// <duration> per page` (the ignored `parse_speed` tests; run in release).
pub fn time_parse(label: &str, response: &Response, runs: u32, mut parse: impl FnMut(&Response)) {
    let t = std::time::Instant::now();
    for _ in 0..runs {
        parse(std::hint::black_box(response));
    }
    println!(
        "{label} parse: 1000 rows, {} bytes: {:?} per page",
        response.body.len(),
        t.elapsed() / runs
    );
}

/// Follow `next` from `first`, fetching each page with `fetch`: the candles' opens
/// (ascending) and the number of requests. Asserts that the walk ends within `max_pages`
/// requests and that the covered ranges tile `w` from its end down to its start.
pub fn walk_backwards(
    w: Window,
    first: Request,
    max_pages: usize,
    mut fetch: impl FnMut(&Request) -> Page,
) -> (Vec<i64>, usize) {
    let mut req = Some(first);
    let (mut opens, mut sent, mut covered_from) = (Vec::new(), 0, w.end);
    while let Some(r) = req {
        assert!(sent < max_pages, "pagination terminates");
        let page = fetch(&r);
        assert_eq!(
            page.covered.end, covered_from,
            "covered ranges tile the window backwards"
        );
        covered_from = page.covered.start;
        let mut page_opens: Vec<i64> = page.candles.iter().map(|c| c.open_time).collect();
        page_opens.extend(opens);
        opens = page_opens;
        sent += 1;
        req = page.next;
    }
    assert_eq!(covered_from, w.start);
    (opens, sent)
}
