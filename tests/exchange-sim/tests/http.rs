//! The simulator over real HTTP on 127.0.0.1: in-process servers and the `exchange-sim` binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use exchange_sim::{Faults, SimConfig, Simulator};
use serde_json::Value;

const NOW: i64 = 1_718_000_000_000; // 2024-06-10T06:13:20Z
const KLINES: &str = "/api/v3/klines";

fn client() -> reqwest::Client {
    // In the workspace, reqwest is built with rustls but no crypto provider (the host
    // installs ring at start-up); plain-http test clients need one installed too.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }
}

async fn get(c: &reqwest::Client, url: &str) -> Reply {
    let r = c.get(url).send().await.unwrap();
    Reply {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.bytes().await.unwrap().to_vec(),
    }
}

async fn post(c: &reqwest::Client, url: &str, body: &str) -> Reply {
    let r = c.post(url).body(body.to_string()).send().await.unwrap();
    Reply {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.bytes().await.unwrap().to_vec(),
    }
}

/// Waits, if needed, so that at least `secs` seconds are left in the current wall-clock minute
/// (the weight budget resets on minute boundaries).
async fn away_from_minute_end(secs: u64) {
    let ms = exchange_sim::clock::wall_ms() % 60_000;
    if ms > 60_000 - secs as i64 * 1000 {
        tokio::time::sleep(Duration::from_millis((60_000 - ms + 50) as u64)).await;
    }
}

#[tokio::test]
async fn klines_match_truth_with_headers_and_counts() {
    let sim = Simulator::start(SimConfig::default().with_clock_fixed(NOW))
        .await
        .unwrap();
    let c = client();
    away_from_minute_end(10).await;
    let start = NOW - 2 * 86_400_000;
    let url = format!(
        "{}{KLINES}?symbol=BTCUSDT&interval=1m&startTime={start}&limit=1000",
        sim.base_url()
    );
    let r = get(&c, &url).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json;charset=UTF-8")
    );
    assert_eq!(r.header("x-mbx-used-weight-1m").as_deref(), Some("2"));
    let rows = r.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1000);
    let truth = sim.truth("BTC/USDT", "1m", start, NOW);
    for (row, t) in rows.iter().zip(&truth) {
        let f = |i: usize| -> f64 { row[i].as_str().unwrap().parse().unwrap() };
        assert_eq!(row[0].as_i64(), Some(t.open_time));
        assert_eq!(
            (f(1), f(2), f(3), f(4), f(5)),
            (t.open, t.high, t.low, t.close, t.volume)
        );
    }
    // Second page continues where the first ended; weight accumulates.
    let next = rows[999][0].as_i64().unwrap() + 60_000;
    let r2 = get(
        &c,
        &format!(
            "{}{KLINES}?symbol=BTCUSDT&interval=1m&startTime={next}&limit=1000",
            sim.base_url()
        ),
    )
    .await;
    assert_eq!(r2.header("x-mbx-used-weight-1m").as_deref(), Some("4"));
    assert_eq!(r2.json()[0][0].as_i64(), Some(next));
    // The last page ends with the forming candle, which truth() leaves out.
    let tail = get(
        &c,
        &format!(
            "{}{KLINES}?symbol=BTCUSDT&interval=1m&limit=3",
            sim.base_url()
        ),
    )
    .await
    .json();
    assert_eq!(tail[2][0].as_i64(), Some(NOW - NOW % 60_000));
    assert_eq!(truth.last().unwrap().open_time, NOW - NOW % 60_000 - 60_000);

    // Errors are Binance's.
    let e = get(
        &c,
        &format!("{}{KLINES}?symbol=NOPEUSDT&interval=1m", sim.base_url()),
    )
    .await;
    assert_eq!(e.status, 400);
    assert_eq!(e.text(), r#"{"code":-1121,"msg":"Invalid symbol."}"#);
    let e = get(
        &c,
        &format!(
            "{}{KLINES}?symbol=BTCUSDT&interval=1m&limit=5000",
            sim.base_url()
        ),
    )
    .await;
    assert_eq!(e.json()["code"], -1130);
    let e = get(&c, &format!("{}{KLINES}?interval=1m", sim.base_url())).await;
    assert_eq!(e.json()["code"], -1102);
    let e = get(
        &c,
        &format!("{}{KLINES}?symbol=BTCUSDT&interval=9m", sim.base_url()),
    )
    .await;
    assert_eq!(e.json()["code"], -1120);
    let e = get(
        &c,
        &format!(
            "{}{KLINES}?symbol=BTCUSDT&interval=1m&startTime=9&endTime=1",
            sim.base_url()
        ),
    )
    .await;
    assert_eq!(
        e.json(),
        serde_json::json!({"code": -1023, "msg": "Start time is greater than end time."})
    );

    // Other endpoints and their weights.
    let t = get(&c, &format!("{}/api/v3/time", sim.base_url())).await;
    assert_eq!(t.json(), serde_json::json!({ "serverTime": NOW }));
    let p = get(&c, &format!("{}/api/v3/ping", sim.base_url())).await;
    assert_eq!(p.text(), "{}");
    let info = get(&c, &format!("{}/api/v3/exchangeInfo", sim.base_url())).await;
    assert_eq!(info.json()["symbols"][0]["symbol"], "BTCUSDT");
    assert_eq!(info.header("x-mbx-used-weight-1m").as_deref(), Some("38")); // 8 klines * 2 + time 1 + ping 1 + exchangeInfo 20
    let nf = get(&c, &format!("{}/nope", sim.base_url())).await;
    assert_eq!(nf.status, 404);

    assert_eq!(sim.requests(KLINES), 8);
    assert_eq!(sim.requests("/api/v3/time"), 1);
    assert_eq!(sim.requests("/nope"), 1);
    assert_eq!(sim.status_count(200), 6);
    assert_eq!(sim.status_count(400), 5);
    assert_eq!(sim.status_count(404), 1);
    assert_eq!(sim.weight_used(), 38);

    // The control API sees the same numbers and is not counted itself.
    let stats = get(&c, &format!("{}/__sim/stats", sim.base_url()))
        .await
        .json();
    assert_eq!(stats["requests"][KLINES], 8);
    assert_eq!(stats["statuses"]["400"], 5);
    assert_eq!(stats["weight_used_1m"], 38);
    assert_eq!(stats["now_ms"], NOW);
    let reset = post(&c, &format!("{}/__sim/reset", sim.base_url()), "").await;
    assert_eq!(reset.status, 200);
    assert_eq!(sim.requests(KLINES), 0);
    assert_eq!(sim.status_count(200), 0);
    assert_eq!(sim.weight_used(), 0);
    assert_eq!(sim.requests("/__sim/stats"), 0);

    // Clock control.
    let clk = post(
        &c,
        &format!("{}/__sim/clock", sim.base_url()),
        r#"{"now_ms": 1700000000000}"#,
    )
    .await;
    assert_eq!(clk.json()["now_ms"], 1_700_000_000_000i64);
    assert_eq!(sim.now_ms(), 1_700_000_000_000);
    sim.shutdown().await;
}

#[tokio::test]
async fn injected_faults() {
    let sim = Simulator::start(SimConfig::default().with_clock_fixed(NOW))
        .await
        .unwrap();
    let c = client();
    let url = format!(
        "{}{KLINES}?symbol=ETHUSDT&interval=1h&limit=100",
        sim.base_url()
    );
    let good = get(&c, &url).await.body;

    sim.set_faults(Faults {
        error_every_n: Some(2),
        ..Faults::default()
    });
    assert_eq!(get(&c, &url).await.status, 200);
    let e = get(&c, &url).await;
    assert_eq!(e.status, 503);
    assert_eq!(e.json()["code"], -1008);
    assert_eq!(get(&c, &url).await.status, 200);

    sim.set_faults(Faults {
        error_every_n: Some(1),
        error_status: 502,
        ..Faults::default()
    });
    let e = get(&c, &url).await;
    assert_eq!(e.status, 502);
    assert!(e.text().contains("502 Bad Gateway"));
    assert_eq!(e.header("content-type").as_deref(), Some("text/html"));

    sim.set_faults(Faults {
        rate_limit_every_n: Some(1),
        ..Faults::default()
    });
    let e = get(&c, &url).await;
    assert_eq!(e.status, 429);
    assert_eq!(e.header("retry-after").as_deref(), Some("1"));
    assert_eq!(e.json()["code"], -1003);

    sim.set_faults(Faults {
        truncate_every_n: Some(1),
        ..Faults::default()
    });
    let t = get(&c, &url).await;
    assert_eq!(t.status, 200);
    assert_eq!(t.body, good[..good.len() / 2]);
    assert!(serde_json::from_slice::<Value>(&t.body).is_err());

    sim.set_faults(Faults {
        malformed_every_n: Some(1),
        ..Faults::default()
    });
    let m = get(&c, &url).await;
    assert_eq!(m.status, 200);
    assert!(serde_json::from_slice::<Value>(&m.body).is_err());
    // A body fault picked for a request refused as bad is not injected, so not counted.
    let bad_symbol = format!("{}{KLINES}?symbol=NOPE&interval=1h", sim.base_url());
    assert_eq!(get(&c, &bad_symbol).await.status, 400);

    sim.set_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    });
    let t0 = Instant::now();
    assert_eq!(get(&c, &url).await.body, good);
    assert!(t0.elapsed() >= Duration::from_millis(150));

    // Over HTTP, with defaults for the missing fields.
    let r = post(
        &c,
        &format!("{}/__sim/faults", sim.base_url()),
        r#"{"error_every_n": 1, "error_status": 500}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["latency_ms"], 0);
    assert_eq!(sim.faults().error_status, 500);
    let e = get(&c, &url).await;
    assert_eq!((e.status, e.json()["code"].as_i64()), (500, Some(-1001)));
    let bad = post(&c, &format!("{}/__sim/faults", sim.base_url()), "{nope").await;
    assert_eq!(bad.status, 400);
    let back = get(&c, &format!("{}/__sim/faults", sim.base_url()))
        .await
        .json();
    assert_eq!(back["error_status"], 500);

    // Faults touch only klines.
    assert_eq!(
        get(&c, &format!("{}/api/v3/ping", sim.base_url()))
            .await
            .status,
        200
    );
    assert_eq!(sim.status_count(429), 1);
    assert_eq!(sim.status_count(503), 1);
    assert_eq!(sim.status_count(502), 1);
    assert_eq!(sim.status_count(500), 1);
    // Every injected fault counted by kind, as applied.
    let want = exchange_sim::Injected {
        rate_limited: 1,
        error: 3,
        truncated: 1,
        malformed: 1,
        ..Default::default()
    };
    assert_eq!(sim.injected(), want);
    let stats = get(&c, &format!("{}/__sim/stats", sim.base_url()))
        .await
        .json();
    assert_eq!(
        serde_json::from_value::<exchange_sim::Injected>(stats["injected"].clone()).unwrap(),
        want
    );
    sim.reset_counts();
    assert_eq!(sim.injected(), exchange_sim::Injected::default());
    sim.shutdown().await;
}

#[tokio::test]
async fn weight_budget_429_then_418() {
    let cfg = SimConfig::default()
        .with_clock_fixed(NOW)
        .with_weight_budget(10)
        .with_ban(3, 120);
    let sim = Simulator::start(cfg).await.unwrap();
    let c = client();
    away_from_minute_end(15).await;
    let url = format!(
        "{}{KLINES}?symbol=BTCUSDT&interval=1m&limit=10",
        sim.base_url()
    );
    for i in 1..=5 {
        let r = get(&c, &url).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-mbx-used-weight-1m"), Some((2 * i).to_string()));
    }
    for _ in 0..3 {
        let r = get(&c, &url).await;
        assert_eq!(r.status, 429);
        let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry));
        assert_eq!(r.header("x-mbx-used-weight-1m").as_deref(), Some("10"));
        assert_eq!(
            r.text(),
            r#"{"code":-1003,"msg":"Too much request weight used; current limit is 10 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."}"#
        );
    }
    let ban = get(&c, &url).await;
    assert_eq!(ban.status, 418);
    assert_eq!(ban.header("retry-after").as_deref(), Some("120"));
    let msg = ban.json()["msg"].as_str().unwrap().to_string();
    assert!(
        msg.starts_with("Way too much request weight used; IP banned until "),
        "{msg}"
    );
    // Banned for every endpoint.
    assert_eq!(
        get(&c, &format!("{}/api/v3/ping", sim.base_url()))
            .await
            .status,
        418
    );
    assert_eq!(sim.status_count(200), 5);
    assert_eq!(sim.status_count(429), 3);
    assert_eq!(sim.status_count(418), 2);
    // A reset lifts the ban.
    sim.reset_counts();
    assert_eq!(get(&c, &url).await.status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn concurrent_clients() {
    let sim = Simulator::start(SimConfig::default().with_clock_fixed(NOW))
        .await
        .unwrap();
    let c = client();
    let mut tasks = Vec::new();
    for i in 0..16i64 {
        let c = c.clone();
        let base = sim.base_url();
        tasks.push(tokio::spawn(async move {
            let start = NOW - (i + 1) * 1000 * 60_000;
            let r = get(
                &c,
                &format!("{base}{KLINES}?symbol=SOLUSDT&interval=1m&startTime={start}&limit=1000"),
            )
            .await;
            (r.status, r.json().as_array().unwrap().len())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), (200, 1000));
    }
    assert_eq!(sim.requests(KLINES), 16);
    sim.shutdown().await;
}

#[tokio::test]
async fn binary_prints_its_address_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_exchange-sim"))
        .args([
            "--port",
            "0",
            "--now",
            &NOW.to_string(),
            "--gap",
            "BTC/USDT:1717000000000:1717005600000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn exchange-sim");
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    let base = line
        .trim_end()
        .strip_prefix("exchange-sim listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"));
    let c = client();
    let t = get(&c, &format!("{base}/api/v3/time")).await;
    assert_eq!(t.json()["serverTime"], NOW);
    let rows = get(
        &c,
        &format!("{base}{KLINES}?symbol=BTCUSDT&interval=1h&startTime=1716998400000&limit=3"),
    )
    .await
    .json();
    let opens: Vec<i64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_i64().unwrap())
        .collect();
    assert_eq!(
        opens,
        [1_716_998_400_000, 1_717_005_600_000, 1_717_009_200_000]
    );
    let stats = get(&c, &format!("{base}/__sim/stats")).await.json();
    assert_eq!(stats["requests"][KLINES], 1);
    // Graceful stop on SIGTERM where available.
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "{status:?}");
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("exchange-sim did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    #[cfg(not(unix))]
    {
        let _ = child.kill();
    }
}

/// The control API gives the truth (values that parse back to exactly `Simulator::truth`'s)
/// and the venues with their path prefixes; bad truth queries are 400s naming the fix.
#[tokio::test]
async fn control_api_serves_truth_and_venues() {
    let sim = Simulator::start(SimConfig::default().with_clock_fixed(NOW))
        .await
        .unwrap();
    let c = client();
    let (start, end) = (NOW - 3_600_000, NOW);
    let r = get(
        &c,
        &format!(
            "{}/__sim/truth?symbol=BTC%2FUSDT&timeframe=1m&start={start}&end={end}",
            sim.base_url()
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["now_ms"], NOW);
    let want = sim.truth("BTC/USDT", "1m", start, end);
    let rows = v["candles"].as_array().unwrap();
    assert_eq!(rows.len(), want.len());
    assert!(!want.is_empty());
    for (row, c) in rows.iter().zip(&want) {
        let num = |i: usize| row[i].as_str().unwrap().parse::<f64>().unwrap();
        assert_eq!(row[0].as_i64(), Some(c.open_time));
        assert_eq!(
            [num(1), num(2), num(3), num(4), num(5)],
            [c.open, c.high, c.low, c.close, c.volume]
        );
    }
    let bad = get(
        &c,
        &format!("{}/__sim/truth?symbol=BTCUSDT", sim.base_url()),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.text().contains("pass symbol, timeframe, start and end"),
        "{}",
        bad.text()
    );

    let v = get(&c, &format!("{}/__sim/venues", sim.base_url()))
        .await
        .json();
    let venues = v["venues"].as_array().unwrap();
    assert_eq!(venues.len(), exchange_sim::venues::NAMES.len());
    assert_eq!(
        venues[0],
        serde_json::json!({"name": "binance", "prefix": ""})
    );
    assert!(venues.contains(&serde_json::json!({"name": "bybit", "prefix": "/bybit"})));
    sim.shutdown().await;
}
