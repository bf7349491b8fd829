//! Conformance against ccxt 4.5.90's Gate vectors (`exchanges.gate` in
//! `tests/fixtures/ccxt/ohlcv-vectors-4.5.90.json` at the workspace root). The spot
//! adapter serves `/api/v4/spot/candlesticks`; ccxt's swap vectors use the futures API
//! (`/api/v4/futures/usdt/candlesticks`, object rows), whose symbols the adapter refuses.

use gate_adapter::{parse, plan};
use seamless_adapter_kit::{AdapterError, Market, Request, query_param};
use seamless_adapter_testkit::ccxt::{
    Adapter, Answer, Tally, check_responses, limit_or, list, market, vectors,
    window_until as window_of,
};
use seamless_adapter_testkit::{MINUTE, ok};

fn num(url: &str, k: &str) -> i64 {
    query_param(url, k).unwrap().parse().unwrap()
}

/// How the ccxt vector runner drives this adapter.
const GATE: Adapter = Adapter {
    vectors: "gate",
    plan,
    parse,
    window: window_of,
    default_limit: 1000,
};

#[test]
fn response_vectors_parse_to_ccxt_candles() {
    let tally = check_responses("gate", |v| {
        if v["market_type"] != "spot" {
            return GATE.refusal(v); // spot only
        }
        if v["args"]["since"].is_null() {
            // ccxt's "latest candles" request (`limit` without `from`), which the adapter
            // also uses for live polling.
            let (m, w) = (market("gate", &v["args"]), window_of(&v["args"]));
            let latest = Request::get(
                "https://api.gateio.ws/api/v4/spot/candlesticks?currency_pair=BTC_USDT&interval=1m&limit=1000",
            );
            return Answer::Parsed(GATE.candles_for(v, &m, w, &latest));
        }
        GATE.answer(v)
    });
    assert_eq!(
        tally,
        Tally {
            parsed: 4,
            refused: 4
        }
    );
}

#[test]
fn request_vectors_select_the_same_candles_as_ccxt() {
    let v = vectors("gate");
    let mut compared = 0;
    for vec in list(&v, "request") {
        let desc = vec["description"].as_str().unwrap();
        let args = &vec["args"];
        let m = market("gate", args);
        let w = window_of(args);
        if vec["market_type"] != "spot" {
            assert!(
                matches!(plan(&m, w, 10), Err(AdapterError::UnknownSymbol(_))),
                "{desc}"
            );
            continue;
        }
        if args["since"].is_null() {
            continue; // ccxt's "latest candles": seamless always plans an explicit window.
        }
        let r = plan(&m, w, limit_or(args, 1000)).unwrap();
        let ccxt = vec["url"].as_str().unwrap();
        for key in ["currency_pair", "interval", "from"] {
            assert_eq!(
                query_param(&r.url, key),
                query_param(ccxt, key),
                "{desc}: {key}"
            );
        }
        // ccxt ends the range at the last open (`from + (n − 1) × interval`), seamless one
        // second before the next slice: the same points either way (`t ≤ to`), and never
        // more than Gate's 1000.
        let step = match args["timeframe"].as_str().unwrap() {
            "1m" => 60,
            "1h" => 3600,
            _ => 86_400,
        };
        let points = |url: &str| (num(url, "to") - num(url, "from")) / step + 1;
        assert_eq!(points(&r.url), points(ccxt), "{desc}");
        assert!(
            points(&r.url) <= 1000 && query_param(&r.url, "limit").is_none(),
            "{desc}"
        );
        compared += 1;
    }
    assert_eq!(compared, 5);
}

/// A 1m Gate: every minute with `from <= t <= to` (seconds); more than 1000 points refused.
fn exchange(url: &str) -> Vec<u8> {
    let (from, to) = (num(url, "from"), num(url, "to"));
    assert!((to - from) / 60 < 1000, "range too broad: {url}");
    let first = from + (60 - from.rem_euclid(60)) % 60;
    let rows: Vec<String> = (0..)
        .map(|i| first + i * 60)
        .take_while(|&t| t <= to)
        .map(|t| format!(r#"["{t}","4.5","1.5","2","0.5","1","3","true"]"#))
        .collect();
    format!("[{}]", rows.join(",")).into_bytes()
}

#[test]
fn pagination_slices_the_day_on_the_grid() {
    let v = vectors("gate");
    let vec = list(&v, "pagination")
        .iter()
        .find(|p| p["market_type"] == "spot")
        .unwrap();
    let w = window_of(&vec["args"]);
    let ccxt: Vec<&str> = list(vec, "requests")
        .iter()
        .map(|r| r["url"].as_str().unwrap())
        .collect();
    let m = Market::new("gate", "BTC/USDT", "1m");
    let mut req = Some(plan(&m, w, 1000).unwrap());
    let (mut sent, mut opens, mut covered_to) = (Vec::<Request>::new(), Vec::<i64>::new(), w.start);
    while let Some(r) = req {
        assert!(sent.len() < 10);
        let page = parse(&m, w, &r, &ok(exchange(&r.url))).unwrap();
        assert_eq!(
            page.covered.start, covered_to,
            "covered ranges tile the window"
        );
        covered_to = page.covered.end;
        opens.extend(page.candles.iter().map(|c| c.open_time));
        sent.push(r);
        req = page.next;
    }
    assert_eq!(covered_to, w.end);
    assert_eq!(
        opens,
        (0..1440).map(|i| w.start + i * MINUTE).collect::<Vec<_>>()
    );
    // Two slices like ccxt; ccxt's second starts one second before the grid
    // (since + 1000 min − 1 s), seamless's on it.
    assert_eq!(sent.len(), ccxt.len());
    assert_eq!(
        (num(ccxt[1], "from"), num(&sent[1].url, "from")),
        (1_704_127_199, 1_704_127_200)
    );
    assert_eq!(num(&sent[1].url, "to"), num(ccxt[1], "to"));
}
