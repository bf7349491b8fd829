//! Property tests of what the host takes from outside ("fuzzing", bounded): every built-in
//! adapter's `parse` and `live-parse` through the real component, on arbitrary bytes and on
//! mutated real bodies (the ccxt response vectors under `tests/fixtures/ccxt`, truncated,
//! bit-flipped, with huge numbers spliced in, deeply nested); and the config loader on
//! arbitrary TOML-ish text.
//!
//! The properties: the host never crashes, a call never runs much past its deadline, and the
//! answer is either an error the adapter reports on purpose, the host's contract check
//! refusing the page, or candles that pass the contract (re-checked here independently).
//! A guest trap (panic, stack overflow, timeout, memory) fails the test: it is an adapter bug.
//!
//! Contract refusals are counted and the first of each call site is printed, but one kind
//! fails the property: a candle whose open time is off the timeframe grid or outside years
//! 1 to 9999 ([`OPEN_TIME_REFUSALS`]). Every adapter refuses those itself (`malformed`, the
//! kit's `paging::on_grid` / `Timeframe::is_open_time`), so the host catching one means an
//! adapter lost that check. The other refusals (order, window, covered range, page size,
//! URLs) stay a pass: the host's check is the guarantee there, and the tally shows how often
//! it was needed.
//!
//! Bounded by default (proptest's 256 cases per property, a few seconds each); set
//! `PROPTEST_CASES` for longer runs (`just fuzz`). A failing case is written to
//! `tests/all/proptest-regressions/fuzz.txt` (commit it). Files under `tests/fixtures/fuzz/`
//! (hand-written hard cases: deep nesting, out-of-range numbers, a lone surrogate, open times
//! off the grid or out of range in pages and live frames; add any input that once broke a
//! property) are replayed by [`recorded_hard_inputs_stay_handled`].

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};
use seamless::components::{
    Adapter, AdapterError, ComponentError, Frame, HttpRequest, HttpResponse, LiveEvents, Page,
};
use seamless::domain::{Candle, NodeId, Timeframe, Window};
use serde_json::Value;

use crate::support::{JAN1_2024, MIN, guest_dir, host};

/// The call budget the adapters run under here.
const CALL_TIMEOUT: Duration = Duration::from_millis(2000);
/// How far past its budget a call may end on a loaded machine (the deadline is checked
/// every epoch tick; a loaded machine delays the tick and the unwinding).
const SLACK: Duration = Duration::from_millis(2000);

/// One real body an adapter parses, with what it answers.
struct Seed {
    node: NodeId,
    window: Window,
    request: HttpRequest,
    body: Vec<u8>,
}

/// A built-in adapter with its seeds.
struct Subject {
    id: String,
    adapter: Adapter,
    seeds: Vec<Seed>,
    frames: Vec<String>,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("tests/fixtures")
}

/// Every `*_adapter.wasm` that `just guests` built, loaded once for the whole module.
fn subjects() -> &'static [Subject] {
    static S: OnceLock<Vec<Subject>> = OnceLock::new();
    S.get_or_init(|| {
        let files = seamless::components::builtin_files(&[guest_dir()], "_adapter.wasm");
        assert!(
            files.len() >= 11,
            "only {} adapters in {}: build the guest components first with `just guests`",
            files.len(),
            guest_dir().display()
        );
        let h = host(256, CALL_TIMEOUT.as_millis() as u64);
        let text = std::fs::read_to_string(fixtures().join("ccxt/ohlcv-vectors-4.5.90.json"))
            .expect("the ccxt vectors");
        let vectors: Value = serde_json::from_str(&text).expect("the ccxt vectors are JSON");
        files
            .values()
            .map(|path| {
                let adapter = h
                    .load_adapter_file(path)
                    .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
                let id = adapter.info().id.clone();
                let seeds = seeds_of(&adapter, &vectors);
                let frames = frames_of(&id);
                Subject {
                    id,
                    adapter,
                    seeds,
                    frames,
                }
            })
            .collect()
    })
}

/// The ccxt response vectors recorded for `id` (Binance's swap vectors belong to
/// `binanceusdm`), each turned into the adapter's own request for the candles' window; and
/// one empty body on a plain 1m window.
fn seeds_of(adapter: &Adapter, vectors: &Value) -> Vec<Seed> {
    let id = adapter.info().id.as_str();
    let (ccxt, market_type) = match id {
        "binanceusdm" => ("binance", Some("swap")),
        other => (other, None),
    };
    let mut out = Vec::new();
    let responses = vectors["exchanges"][ccxt]["response"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for v in responses {
        if market_type.is_some_and(|t| v["market_type"] != t) {
            continue;
        }
        let args = &v["args"];
        let (Some(symbol), Some(tf)) = (args["symbol"].as_str(), args["timeframe"].as_str()) else {
            continue;
        };
        let Ok(node) = NodeId::new(id, symbol, tf) else {
            continue;
        };
        let opens: Vec<i64> = v["parsed"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r[0].as_i64())
            .collect();
        let (Some(first), Some(last)) = (opens.iter().min(), opens.iter().max()) else {
            continue;
        };
        let Ok(window) = Window::new(*first, node.timeframe.next(*last)) else {
            continue;
        };
        let body = serde_json::to_vec(&v["http_response"]).unwrap();
        out.extend(seed(adapter, node.clone(), window, body));
        // Bitget dates its answers (`requestTime`, 2025 here) and trusts its recent
        // endpoint only for the last days before it: without the date the 2024 candles
        // count.
        if let Some(mut undated) = v["http_response"].as_object().cloned()
            && undated.remove("requestTime").is_some()
        {
            let body = serde_json::to_vec(&undated).unwrap();
            out.extend(seed(adapter, node, window, body));
        }
    }
    let node = NodeId::new(id, "BTC/USDT", "1m").unwrap();
    let window = Window::new(JAN1_2024, JAN1_2024 + 100 * MIN).unwrap();
    if id == "binance" {
        let body = binance_adapter::sample::sample_klines(JAN1_2024, MIN, 100);
        out.extend(seed(adapter, node.clone(), window, body));
    }
    out.extend(seed(adapter, node, window, b"[]".to_vec()));
    out
}

fn seed(adapter: &Adapter, node: NodeId, window: Window, body: Vec<u8>) -> Option<Seed> {
    let limit = adapter.info().max_candles_per_request;
    match adapter.plan(&node, window, limit) {
        Ok(Ok(request)) => Some(Seed {
            node,
            window,
            request,
            body,
        }),
        _ => None,
    }
}

/// Live frames to mutate: Binance's kline events (raw and combined-stream), as the
/// simulator sends them; the others follow markets by polling and get the same frames.
fn frames_of(_id: &str) -> Vec<String> {
    let kline = |t: i64, closed: bool| {
        format!(
            r#"{{"e":"kline","E":{e},"s":"BTCUSDT","k":{{"t":{t},"T":{end},"s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"42000.10000000","c":"42004.75000000","h":"42025.50000000","l":"41987.25000000","v":"1.50000000","n":100,"x":{closed},"q":"63007.12500000","V":"0.75000000","Q":"31503.56250000","B":"0"}}}}"#,
            e = t + 30_000,
            end = t + MIN - 1
        )
    };
    vec![
        kline(JAN1_2024, false),
        kline(JAN1_2024, true),
        format!(
            r#"{{"stream":"btcusdt@kline_1m","data":{}}}"#,
            kline(JAN1_2024 + MIN, true)
        ),
        r#"{"result":null,"id":1}"#.to_string(),
    ]
}

/// How a body is changed before it is parsed.
#[derive(Debug, Clone)]
enum Mutation {
    /// The seed as recorded.
    Keep,
    /// The first `n` bytes (a fraction of the length, in thousandths).
    Truncate(u16),
    /// Bit `bit` of the byte at `at` (thousandths of the length) flipped, `count` times at
    /// spread positions.
    FlipBits { at: u16, bit: u8, count: u8 },
    /// The digit run at `at` (thousandths) replaced by `number`.
    Number { at: u16, number: String },
    /// `token` inserted at `at` (thousandths).
    Insert { at: u16, token: Vec<u8> },
    /// The body inside `depth` levels of `open` (closed again when `balanced`).
    Nest {
        depth: u32,
        open: u8,
        balanced: bool,
    },
    /// The byte range `[from, from + len)` (thousandths) repeated `times` times.
    Repeat { from: u16, len: u16, times: u8 },
    /// Replaced by arbitrary bytes.
    Arbitrary(Vec<u8>),
}

const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "-0",
    "1e308",
    "1e309",
    "-1e309",
    "1.7976931348623157e308",
    "4.9e-324",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "99999999999999999999999999999999999999999999999999",
    "0.000000000000000000000000000000000000000000000001",
    "1e-400",
    "NaN",
    "Infinity",
    "-Infinity",
    "1.5",
    "0x10",
    "1_000",
    "\"1e999\"",
    "\"NaN\"",
    "\"\"",
    "null",
    "true",
    "[]",
    "{}",
];

const TOKENS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\"",
    "\\",
    "\\u",
    "\\ud800",
    "null",
    "-",
    ".",
    "e",
    "\0",
    "\u{feff}",
    "\u{10ffff}",
    "\n",
    ",,",
    "[[",
    "]]",
    "\"x\":",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0u16..=1000;
    prop_oneof![
        1 => Just(Mutation::Keep),
        3 => (0u16..1000).prop_map(Mutation::Truncate),
        4 => (at.clone(), 0u8..8, 1u8..8).prop_map(|(at, bit, count)| Mutation::FlipBits { at, bit, count }),
        5 => (at.clone(), prop::sample::select(NUMBERS)).prop_map(|(at, n)| Mutation::Number { at, number: n.to_string() }),
        3 => (at.clone(), prop::sample::select(TOKENS)).prop_map(|(at, t)| Mutation::Insert { at, token: t.as_bytes().to_vec() }),
        2 => (at.clone(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(at, token)| Mutation::Insert { at, token }),
        2 => (1u32..20_000, prop::sample::select(&b"[{\""[..]), any::<bool>())
            .prop_map(|(depth, open, balanced)| Mutation::Nest { depth, open, balanced }),
        2 => (at.clone(), 1u16..300, 2u8..50).prop_map(|(from, len, times)| Mutation::Repeat { from, len, times }),
        2 => prop::collection::vec(any::<u8>(), 0..512).prop_map(Mutation::Arbitrary),
    ]
}

/// `thousandths` of `len`, as an index `<= len`.
fn pos(len: usize, thousandths: u16) -> usize {
    len * usize::from(thousandths.min(1000)) / 1000
}

fn apply(m: &Mutation, body: &[u8]) -> Vec<u8> {
    let len = body.len();
    match m {
        Mutation::Keep => body.to_vec(),
        Mutation::Truncate(t) => body[..pos(len, *t)].to_vec(),
        Mutation::FlipBits { at, bit, count } => {
            let mut b = body.to_vec();
            if !b.is_empty() {
                let start = pos(len, *at);
                for k in 0..usize::from(*count) {
                    let i = (start + k * 7919) % b.len();
                    b[i] ^= 1 << (bit % 8);
                }
            }
            b
        }
        Mutation::Number { at, number } => {
            // The digit run at or after `at` (wrapping), replaced.
            let start = pos(len, *at);
            let found = (start..len)
                .chain(0..start)
                .find(|&i| body[i].is_ascii_digit());
            match found {
                Some(i) => {
                    let mut s = i;
                    while s > 0 && body[s - 1].is_ascii_digit() {
                        s -= 1;
                    }
                    let mut e = i;
                    while e < len && (body[e].is_ascii_digit() || body[e] == b'.') {
                        e += 1;
                    }
                    [&body[..s], number.as_bytes(), &body[e..]].concat()
                }
                None => [body, number.as_bytes()].concat(),
            }
        }
        Mutation::Insert { at, token } => {
            let i = pos(len, *at);
            [&body[..i], token.as_slice(), &body[i..]].concat()
        }
        Mutation::Nest {
            depth,
            open,
            balanced,
        } => {
            let depth = *depth as usize;
            let (o, c): (&[u8], &[u8]) = match open {
                b'{' => (b"{\"a\":", b"}"),
                b'"' => (b"[\"", b"\"]"),
                _ => (b"[", b"]"),
            };
            let mut out = Vec::with_capacity(len + depth * (o.len() + c.len()));
            for _ in 0..depth {
                out.extend_from_slice(o);
            }
            out.extend_from_slice(body);
            if *balanced {
                for _ in 0..depth {
                    out.extend_from_slice(c);
                }
            }
            out
        }
        Mutation::Repeat {
            from,
            len: n,
            times,
        } => {
            let s = pos(len, *from);
            let e = (s + pos(len, *n)).min(len);
            let mut out = body[..e].to_vec();
            for _ in 1..*times {
                out.extend_from_slice(&body[s..e]);
            }
            out.extend_from_slice(&body[e..]);
            out
        }
        Mutation::Arbitrary(b) => b.clone(),
    }
}

/// How the host's contract check words a refused open time (off the grid, or not a time at
/// all): a refusal containing one of these fails the property, since adapters refuse such
/// rows themselves.
const OPEN_TIME_REFUSALS: [&str; 2] = ["is not on the ", "outside years 1 to 9999"];

/// The open times the contract allows: 0001-01-01 to 9999-12-01 (as the host and the kit).
const OPEN_TIMES: std::ops::RangeInclusive<i64> = -62_135_596_800_000..=253_399_622_400_000;

/// What one guest call gave, for the tallies printed at the end of a run.
#[derive(Debug, Default, Clone)]
struct Tally {
    /// Calls answered with candles (possibly none) that pass the contract.
    answers: u64,
    candles: u64,
    adapter_errors: u64,
    contract_refusals: u64,
    /// The first contract refusal of each call site (the adapter and call), to report
    /// what the adapters let through.
    first_refusals: std::collections::BTreeMap<String, String>,
}

/// The property of one guest call: quick, no trap, and a page (or candles) that passes
/// the contract, an adapter error, or the host refusing what broke the contract (except an
/// open time off the grid or out of range, which the adapter must refuse itself).
fn judge<T>(
    what: &str,
    took: Duration,
    r: Result<Result<T, AdapterError>, ComponentError>,
    check: impl FnOnce(&T) -> Result<u64, String>,
    tally: &mut Tally,
) -> Result<(), TestCaseError> {
    prop_assert!(
        took < CALL_TIMEOUT + SLACK,
        "{what}: took {took:?} (budget {CALL_TIMEOUT:?})"
    );
    match r {
        Ok(Ok(v)) => match check(&v) {
            Ok(n) => {
                tally.answers += 1;
                tally.candles += n;
            }
            Err(e) => return Err(TestCaseError::fail(format!("{what}: {e}"))),
        },
        Ok(Err(_)) => tally.adapter_errors += 1,
        Err(e @ ComponentError::Contract { .. }) => {
            let text = e.to_string();
            if OPEN_TIME_REFUSALS.iter().any(|p| text.contains(p)) {
                return Err(TestCaseError::fail(format!(
                    "{what}: the adapter let through an open time only the host refused \
                     (adapters must answer `malformed`: the kit's paging::on_grid or \
                     Timeframe::is_open_time): {text}"
                )));
            }
            tally.contract_refusals += 1;
            let site = what.split(" (").next().unwrap_or(what).to_string();
            tally
                .first_refusals
                .entry(site)
                .or_insert_with(|| e.to_string());
        }
        Err(e) => return Err(TestCaseError::fail(format!("{what}: {e}"))),
    }
    Ok(())
}

/// The contract, checked again from outside the host: candles strictly ascending on the
/// grid inside the window with finite values, at most the page size, covered range inside
/// the window and around the candles.
fn check_page(page: &Page, node: &NodeId, window: Window, max: u32) -> Result<u64, String> {
    if page.candles.len() > max as usize {
        return Err(format!(
            "{} candles, more than {max} per request",
            page.candles.len()
        ));
    }
    check_candles(&page.candles, node.timeframe, Some(window))?;
    let c = page.covered;
    if c.start > c.end || c.start < window.start || c.end > window.end {
        return Err(format!("covered {c} outside the window {window}"));
    }
    if let (Some(f), Some(l)) = (page.candles.first(), page.candles.last())
        && (f.open_time < c.start || l.open_time >= c.end)
    {
        return Err(format!("candles reach outside the covered range {c}"));
    }
    Ok(page.candles.len() as u64)
}

fn check_candles(cs: &[Candle], tf: Timeframe, window: Option<Window>) -> Result<(), String> {
    let mut prev: Option<i64> = None;
    for c in cs {
        // Range first: the grid arithmetic is only defined for times.
        if !OPEN_TIMES.contains(&c.open_time) {
            return Err(format!("open time {} is not a time", c.open_time));
        }
        if prev.is_some_and(|p| c.open_time <= p) {
            return Err(format!("open time {} not ascending", c.open_time));
        }
        prev = Some(c.open_time);
        if !tf.is_aligned(c.open_time) {
            return Err(format!("open time {} off the {tf} grid", c.open_time));
        }
        if window.is_some_and(|w| !w.contains(c.open_time)) {
            return Err(format!("open time {} outside the window", c.open_time));
        }
        if ![c.open, c.high, c.low, c.close, c.volume]
            .iter()
            .all(|v| v.is_finite())
        {
            return Err(format!("candle {} has a non-finite value", c.open_time));
        }
    }
    Ok(())
}

/// Every stream's updates in a frame are contract candles: ascending, finite, times on
/// the 1s grid (the finest; a stream's own timeframe is checked by the feed, which knows
/// it from the stream's key).
fn check_live(ev: &LiveEvents) -> Result<u64, String> {
    let mut keys: Vec<&str> = ev.updates.iter().map(|u| u.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    for k in keys {
        let candles: Vec<Candle> = ev
            .updates
            .iter()
            .filter(|u| u.key == k)
            .map(|u| u.candle)
            .collect();
        check_candles(&candles, Timeframe::S1, None).map_err(|e| format!("stream {k:?}: {e}"))?;
    }
    Ok(ev.updates.len() as u64)
}

/// Parse `body` with every status the host passes on, through `subject`'s component.
fn parse_once(
    s: &Subject,
    seed: &Seed,
    status: u16,
    retry_after: Option<String>,
    body: Vec<u8>,
    tally: &mut Tally,
) -> Result<(), TestCaseError> {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(v) = retry_after {
        headers.push(("retry-after".to_string(), v));
    }
    let resp = HttpResponse {
        status,
        headers,
        body,
    };
    let t = Instant::now();
    let r = s
        .adapter
        .parse(&seed.node, seed.window, &seed.request, resp);
    let max = s.adapter.info().max_candles_per_request;
    judge(
        &format!("{} parse ({}, status {status})", s.id, seed.node),
        t.elapsed(),
        r,
        |p| check_page(p, &seed.node, seed.window, max),
        tally,
    )
}

fn live_once(s: &Subject, frame: &str, tally: &mut Tally) -> Result<(), TestCaseError> {
    let t = Instant::now();
    let r = s.adapter.live_parse(&Frame::Text(frame.to_string()));
    judge(
        &format!("{} live-parse", s.id),
        t.elapsed(),
        r,
        check_live,
        tally,
    )
}

fn config() -> Config {
    // proptest's default (256 cases, or PROPTEST_CASES), no forking; failures persisted
    // next to this file.
    Config {
        max_shrink_iters: 2048,
        ..Config::default()
    }
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        8 => Just(200u16),
        1 => prop::sample::select(vec![400u16, 403, 404, 418, 429, 500, 502, 503, 504]),
        1 => any::<u16>(),
    ]
}

fn retry_after() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => Just(None),
        1 => prop::sample::select(vec!["1", "0", "-1", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT", ""])
            .prop_map(|s| Some(s.to_string())),
    ]
}

fn print_tally(what: &str, t: &Tally) {
    eprintln!(
        "{what}: {} answers with {} candles, {} adapter errors, {} contract refusals",
        t.answers, t.candles, t.adapter_errors, t.contract_refusals
    );
    for (site, e) in &t.first_refusals {
        eprintln!("  first refusal of {site}: {e}");
    }
}

#[test]
fn every_adapter_parses_mutated_real_bodies_safely() {
    let subjects = subjects();
    for s in subjects {
        assert!(
            !s.seeds.is_empty(),
            "{}: no seed body could be planned",
            s.id
        );
    }
    let tally = std::cell::RefCell::new(Tally::default());
    proptest!(config(), |(
        which in any::<prop::sample::Index>(),
        seed_ix in any::<prop::sample::Index>(),
        cross in prop::bool::weighted(0.1),
        m in mutation(),
        status in status(),
        retry in retry_after(),
    )| {
        let s = which.get(subjects);
        // Now and then a body recorded for another exchange.
        let donor = if cross { seed_ix.get(subjects) } else { s };
        let body = apply(&m, &seed_ix.get(&donor.seeds).body);
        let seed = seed_ix.get(&s.seeds);
        parse_once(s, seed, status, retry, body, &mut tally.borrow_mut())?;
    });
    print_tally("parse", &tally.borrow());
}

#[test]
fn every_adapter_recorded_body_parses_into_contract_candles() {
    // The seeds as recorded: every adapter gets candles out of at least one of them (so the
    // mutations above start from bodies the adapter understands).
    for s in subjects() {
        let mut tally = Tally::default();
        for seed in &s.seeds {
            parse_once(s, seed, 200, None, seed.body.clone(), &mut tally)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(
            tally.candles > 0,
            "{}: no recorded body parsed into candles ({tally:?})",
            s.id
        );
    }
}

#[test]
fn every_adapter_live_parses_mutated_frames_safely() {
    let subjects = subjects();
    let tally = std::cell::RefCell::new(Tally::default());
    proptest!(config(), |(
        frame_ix in any::<prop::sample::Index>(),
        m in mutation(),
    )| {
        // Every adapter gets each frame (those that follow markets by polling answer none).
        for s in subjects {
            let frame = frame_ix.get(&s.frames);
            let mutated = String::from_utf8_lossy(&apply(&m, frame.as_bytes())).into_owned();
            live_once(s, &mutated, &mut tally.borrow_mut())?;
        }
    });
    print_tally("live-parse", &tally.borrow());
}

#[test]
fn recorded_hard_inputs_stay_handled() {
    // Every file under tests/fixtures/fuzz/, replayed through every adapter's parse (on each
    // of its seeds) and live-parse.
    let dir = fixtures().join("fuzz");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    let mut tally = Tally::default();
    for f in &files {
        let body = std::fs::read(f).unwrap();
        for s in subjects() {
            for seed in &s.seeds {
                parse_once(s, seed, 200, None, body.clone(), &mut tally)
                    .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            }
            live_once(s, &String::from_utf8_lossy(&body), &mut tally)
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        }
    }
    eprintln!("{} recorded inputs replayed: {tally:?}", files.len());
}

// ---- the config loader ----

/// Key paths of the config, with a value of the right type for each.
const CONFIG_KEYS: &[(&str, &str)] = &[
    ("store", "\"sqlite:/tmp/x.db\""),
    ("redis", "\"redis://127.0.0.1:6379/0\""),
    ("adapters_dir", "\"adapters\""),
    ("cache_dir", "\"cache\""),
    ("log", "\"info\""),
    ("exchange_urls.binance", "\"http://127.0.0.1:8080\""),
    ("sandbox.call_timeout_ms", "2000"),
    ("sandbox.memory_mb", "256"),
    ("backfill.concurrency", "4"),
    ("backfill.max_attempts", "6"),
    ("backfill.retry_base_ms", "200"),
    ("backfill.retry_max_ms", "30000"),
    ("sla.storage_ms", "10"),
    ("sla.backfill_ms", "10"),
    ("sla.live_ms", "10"),
    ("sla.total_ms", "10"),
    ("sla.max_missing_bars", "3"),
    ("sla.on_violation", "\"hold\""),
    ("ratelimit.binance.budget", "6000"),
    ("ratelimit.binance.window_ms", "60000"),
    ("ratelimit.binance.weight", "2"),
    ("ratelimit.binance.disabled", "false"),
    ("ratelimit.binance.share", "0.5"),
];

/// TOML values of every type, in and out of each key's range.
const CONFIG_VALUES: &[&str] = &[
    "0",
    "-1",
    "1",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "1.5",
    "nan",
    "inf",
    "-0.0",
    "1e400",
    "true",
    "\"\"",
    "\"4\"",
    "\"ftp://x\"",
    "\"http://\"",
    "\"sqlite:\"",
    "\"\\u0000\"",
    "[]",
    "[1, \"a\"]",
    "{}",
    "{ a = 1 }",
    "1979-05-27T07:32:00Z",
    "'''multi\nline'''",
];

fn load_text(dir: &Path, text: &str) -> Result<(), String> {
    let path = dir.join("seamless.toml");
    std::fs::write(&path, text).unwrap();
    seamless::config::Loaded::load(Some(&path), std::iter::empty())
        .map(drop)
        .map_err(|e| e.to_string())
}

/// A key written as TOML: dotted at the top level, or its last part under a `[table]`.
fn toml_line(key: &str, value: &str, as_table: bool) -> String {
    match key.rsplit_once('.') {
        Some((table, leaf)) if as_table => format!("[{table}]\n{leaf} = {value}\n"),
        _ => format!("{key} = {value}\n"),
    }
}

#[test]
fn config_loader_never_panics_and_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    // Arbitrary text, and TOML-ish text built from the config's own words.
    let words = prop::sample::select(vec![
        "[",
        "]",
        "=",
        "\"",
        "'",
        "\n",
        ".",
        "[[",
        "]]",
        "{",
        "}",
        ",",
        "#",
        "store",
        "sandbox",
        "backfill",
        "ratelimit",
        "binance",
        "sla",
        "concurrency",
        "memory_mb",
        "1",
        "-1",
        "true",
        "\"x\"",
        " ",
        "exchange_urls",
        "share",
        "0.5",
        "\\",
        "\u{0}",
    ]);
    proptest!(config(), |(
        noise in prop::collection::vec(any::<char>(), 0..200),
        tokens in prop::collection::vec(words, 0..60),
    )| {
        let _ = load_text(dir.path(), &noise.into_iter().collect::<String>());
        let _ = load_text(dir.path(), &tokens.concat());
    });
    // A known key with a value of any type: accepted, or refused naming the key.
    proptest!(config(), |(
        key in prop::sample::select(CONFIG_KEYS),
        value in prop::sample::select(CONFIG_VALUES),
        as_table in any::<bool>(),
        good_before in prop::sample::select(CONFIG_KEYS),
    )| {
        let (key, _) = key;
        let text = format!("{}{}", toml_line(good_before.0, good_before.1, false), toml_line(key, value, as_table));
        if let Err(msg) = load_text(dir.path(), &text) {
            // Two dotted keys defining one table twice is a TOML syntax error, not a key's.
            let syntax = msg.contains("invalid TOML");
            let leaf = key.rsplit('.').next().unwrap();
            prop_assert!(syntax || msg.contains(leaf), "{text:?}: {msg}");
        }
    });
    // An unknown key is refused naming it.
    proptest!(config(), |(
        table in prop::sample::select(vec!["", "sandbox.", "backfill.", "sla.", "ratelimit.binance."]),
        name in "[a-z][a-z_]{0,12}",
    )| {
        let key = format!("{table}{name}");
        prop_assume!(!CONFIG_KEYS.iter().any(|(k, _)| *k == key));
        prop_assume!(!["exchange_urls", "ratelimit", "sandbox", "backfill", "sla"].contains(&key.as_str()));
        match load_text(dir.path(), &format!("{key} = 1\n")) {
            Ok(()) => prop_assert!(false, "unknown key {key} was accepted"),
            Err(msg) => prop_assert!(msg.contains(&name), "{key}: {msg}"),
        }
    });
}

#[test]
fn config_env_values_never_panic_and_errors_name_the_variable() {
    // An explicit empty config file, so no user file on this machine takes part.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    proptest!(config(), |(
        key in prop::sample::select(CONFIG_KEYS),
        value in any::<String>(),
    )| {
        let var = format!("SEAMLESS_{}", key.0.replace('.', "_").to_ascii_uppercase());
        let env = vec![(var.clone(), value.clone())];
        if let Err(e) = seamless::config::Loaded::load(Some(&empty), env) {
            let msg = e.to_string();
            prop_assert!(msg.contains(&var), "{var}={value:?}: {msg}");
        }
    });
}

#[test]
fn the_property_fails_on_a_guest_trap_and_on_a_broken_page() {
    // The judge itself: a panicking guest (the chaos test guest) fails the property, and so
    // does a page that breaks the contract, while an adapter error passes.
    let chaos = host(64, 2000)
        .load_adapter_file(&crate::support::guest("chaos_guest"))
        .expect("loading the chaos adapter");
    // The chaos guest reads its misbehaviour from the symbol (not a BASE/QUOTE one).
    let node = NodeId {
        exchange: "chaos".into(),
        symbol: "PANIC".into(),
        timeframe: Timeframe::M1,
    };
    let window = Window::new(JAN1_2024, JAN1_2024 + 10 * MIN).unwrap();
    let r = chaos.plan(&node, window, 1000);
    assert!(matches!(r, Err(ComponentError::Trap { .. })), "{r:?}");
    let mut t = Tally::default();
    assert!(judge("chaos plan", Duration::ZERO, r, |_| Ok(0), &mut t).is_err());
    let r: Result<Result<(), AdapterError>, ComponentError> =
        Ok(Err(AdapterError::Malformed("x".into())));
    assert!(judge("malformed", Duration::ZERO, r, |_| Ok(0), &mut t).is_ok());
    let slow: Result<Result<(), AdapterError>, ComponentError> = Ok(Ok(()));
    assert!(judge("slow", CALL_TIMEOUT + SLACK, slow, |_| Ok(0), &mut t).is_err());
    let page = Page {
        candles: vec![Candle {
            open_time: JAN1_2024 + 1,
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close: 1.0,
            volume: 1.0,
        }],
        covered: window,
        next: None,
    };
    let n = NodeId::new("binance", "BTC/USDT", "1m").unwrap();
    assert!(
        check_page(&page, &n, window, 1000)
            .unwrap_err()
            .contains("grid")
    );
}
