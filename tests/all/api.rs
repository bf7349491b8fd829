//! The HTTP data API of `seamless serve` (a real `seamless` process against the simulator):
//! `/v1/candles` equals `seamless fetch` for the same window in JSON, CSV and Arrow; coverage
//! equals `seamless coverage`; bad requests get 4xx with a message naming the parameter and
//! the server keeps serving; tokens; the server answers what its OpenAPI document says.

use std::io::{BufRead, BufReader};
use std::path::Path;

use exchange_sim::{SimConfig, Simulator};

use crate::support::*;

const NODE: &str = "ohlcv:binance:BTC/USDT:1m";

/// A `seamless serve` on a free port; its base URL (`http://127.0.0.1:PORT`).
fn serve(db: &Path, extra: &[&str]) -> (KillOnDrop, String) {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
    args.extend(extra);
    let mut child = KillOnDrop(
        seamless_command(&args, db)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    // Keep reading: a closed pipe would fail the server's next line.
    std::thread::spawn(move || for _ in stderr.lines() {});
    let base = line
        .strip_prefix("api: ")
        .and_then(|l| l.split("/v1/").next())
        .unwrap_or_else(|| panic!("no api line: {line}"))
        .to_string();
    (child, base)
}

fn client() -> reqwest::Client {
    seamless::net::install_crypto();
    reqwest::Client::new()
}

/// The metadata fields that describe the data (not the call that served it).
fn data_fields(m: &serde_json::Value) -> serde_json::Value {
    let keys = [
        "node_id",
        "window",
        "rows",
        "coverage_bounds",
        "coverage_ratio",
        "missing",
        "missing_bars",
        "empty",
        "partial",
        "downgrade",
        "fingerprint",
    ];
    keys.iter().map(|k| (k.to_string(), m[k].clone())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn candles_equal_seamless_fetch_in_json_csv_and_arrow() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let url = format!("binance={}", sim.base_url());
    let (start, end) = ("2024-01-01", "2024-01-02");
    // The CLI's answer, from its own store.
    let meta_file = dir.path().join("meta.json");
    let o = seamless(
        &[
            "fetch",
            "--node",
            NODE,
            "--start",
            start,
            "--end",
            end,
            "--exchange-url",
            &url,
            "--format",
            "jsonl",
            "--metadata",
            meta_file.to_str().unwrap(),
        ],
        &dir.path().join("cli.db"),
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let cli_rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let cli_meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_file).unwrap()).unwrap();
    assert_eq!(cli_rows.len(), 1440);

    let (_server, base) = serve(&dir.path().join("api.db"), &["--exchange-url", &url]);
    let http = client();
    let q = format!(
        "{base}/v1/candles?node={}&start={start}&end={end}",
        NODE.replace('/', "%2F")
    );
    let resp = http.get(&q).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    assert_eq!(
        v["candles"].as_array().unwrap(),
        &cli_rows,
        "JSON candles equal the CLI's"
    );
    assert_eq!(data_fields(&v["metadata"]), data_fields(&cli_meta));
    assert_eq!(v["metadata"]["requests"], 2, "the first call backfilled");

    // CSV: the CLI's columns, the metadata in a header; served from the store now.
    let resp = http.get(format!("{q}&format=csv")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let meta: serde_json::Value =
        serde_json::from_str(resp.headers()["seamless-metadata"].to_str().unwrap()).unwrap();
    assert_eq!(meta["requests"], 0, "second call from the store");
    assert_eq!(data_fields(&meta), data_fields(&cli_meta));
    let csv = resp.text().await.unwrap();
    let cli_csv = text(&seamless(
        &[
            "fetch",
            "--node",
            NODE,
            "--start",
            start,
            "--end",
            end,
            "--format",
            "csv",
            "--strategy",
            "fail-fast",
        ],
        &dir.path().join("cli.db"),
    ))
    .0;
    assert_eq!(csv, cli_csv);

    // Arrow IPC stream.
    let resp = http.get(format!("{q}&format=arrow")).send().await.unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.apache.arrow.stream"
    );
    let bytes = resp.bytes().await.unwrap();
    let reader =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
    let schema = reader.schema();
    let meta: serde_json::Value = serde_json::from_str(&schema.metadata()["seamless"]).unwrap();
    assert_eq!(data_fields(&meta), data_fields(&cli_meta));
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(batches.len(), 1);
    let b = &batches[0];
    assert_eq!(b.num_rows(), 1440);
    let times = b
        .column(0)
        .as_any()
        .downcast_ref::<arrow_array::TimestampMillisecondArray>()
        .unwrap();
    for (name, i) in [
        ("open", 1),
        ("high", 2),
        ("low", 3),
        ("close", 4),
        ("volume", 5),
    ] {
        let col = b
            .column(i)
            .as_any()
            .downcast_ref::<arrow_array::Float64Array>()
            .unwrap();
        for (r, row) in cli_rows.iter().enumerate() {
            assert_eq!(Some(col.value(r)), row[name].as_f64(), "{name} row {r}");
            assert_eq!(Some(times.value(r)), row["open_time"].as_i64());
        }
    }

    // Coverage equals `seamless coverage --format json` over the same store.
    let cov: serde_json::Value = http
        .get(format!(
            "{base}/v1/coverage?node={NODE}&start={start}&end={end}"
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    let o = seamless(
        &[
            "coverage", "--node", NODE, "--start", start, "--end", end, "--format", "json",
        ],
        &dir.path().join("cli.db"),
    );
    let cli_cov: serde_json::Value = serde_json::from_str(&text(&o).0).unwrap();
    assert_eq!(cov, cli_cov);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_4xx_naming_the_fix_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let url = format!("binance={}", sim.base_url());
    let db = dir.path().join("api.db");
    let (_server, base) = serve(&db, &["--exchange-url", &url]);
    let http = client();
    let good = "node=ohlcv:binance:BTC/USDT:1h&start=2024-01-01&end=2024-01-02";
    let cases: &[(&str, u16, &str)] = &[
        ("/v1/candles", 400, "missing parameter 'node'"),
        (
            "/v1/candles?start=2024-01-01",
            400,
            "missing parameter 'node'",
        ),
        (
            "/v1/candles?node=binance:BTC",
            400,
            "bad node 'binance:BTC'",
        ),
        (
            "/v1/candles?node=ohlcv:binance:BTC/USDT:7m&start=2024-01-01",
            400,
            "bad node",
        ),
        (
            "/v1/candles?node=ohlcv:binance:BTCUSDT:1m&start=2024-01-01",
            400,
            "bad node",
        ),
        (
            "/v1/candles?node=ohlcv:nowhere:BTC/USDT:1m&start=2024-01-01&end=2024-01-02",
            400,
            "unknown exchange 'nowhere'",
        ),
        (
            "/v1/candles?node=ohlcv:binance:BTC/USDT:1m",
            400,
            "missing parameter 'start'",
        ),
        (
            "/v1/candles?node=ohlcv:binance:BTC/USDT:1m&start=yesterday-ish",
            400,
            "bad start 'yesterday-ish'",
        ),
        (
            "/v1/candles?node=ohlcv:binance:BTC/USDT:1m&start=2024-01-01&end=tomorrowish",
            400,
            "bad end",
        ),
        (
            "/v1/candles?node=ohlcv:binance:BTC/USDT:1m&start=2024-01-02&end=2024-01-01",
            400,
            "start must be before end",
        ),
        (
            "/v1/candles?node=ohlcv:binance:BTC/USDT:1m&start=2024-01-01&end=2024-01-01",
            400,
            "start must be before end",
        ),
        (
            "/v1/candles?node=ohlcv:binance:BTC/USDT:1s&start=2000-01-01&end=2024-01-01",
            400,
            "over the limit of 2000000 per request",
        ),
        (
            "/v1/candles?node=ohlcv:binance:BTC/USDT:1m&start=0001-01-01&end=9999-01-01",
            400,
            "over the limit",
        ),
        (
            "/v1/candles?node=ohlcv:binance:BTC/USDT:1m&start=2024-01-01&format=xml",
            400,
            "bad format 'xml': use json, csv or arrow",
        ),
        (
            "/v1/candles?node=ohlcv:binance:BTC/USDT:1m&start=2024-01-01&strategy=yolo",
            400,
            "bad strategy 'yolo'",
        ),
        (
            "/v1/candles?node=ohlcv:binance:BTC/USDT:1m&start=2024-01-01&partial_ok=maybe",
            400,
            "bad partial_ok 'maybe': use true or false",
        ),
        (
            "/v1/candles?node=ohlcv:binance:BTC/USDT:1m&start=2024-01-01&limit=5",
            400,
            "unknown parameter 'limit': use node, start, end, strategy, partial_ok, format",
        ),
        (
            "/v1/candles?node=ohlcv:binance:BTC/USDT:1m&node=ohlcv:binance:ETH/USDT:1m&start=2024-01-01",
            400,
            "parameter 'node' given twice",
        ),
        (
            "/v1/candles?node=ohlcv:binance:DOGE/XYZ:1m&start=2024-01-01&end=2024-01-02",
            400,
            "unknown symbol",
        ),
        (
            "/v1/candles?node=ohlcv:binance:BTC/USDT:1m&start=2024-01-01&end=2024-01-02&strategy=fail-fast",
            409,
            "add partial_ok=true",
        ),
        ("/v1/coverage", 400, "missing parameter 'node'"),
        (
            "/v1/coverage?node=ohlcv:binance:BTC/USDT:1m&start=soon",
            400,
            "bad start 'soon'",
        ),
        (
            "/v1/coverage?node=ohlcv:binance:BTC/USDT:1m&start=2024-01-02&end=2024-01-01",
            400,
            "start must be before end",
        ),
        (
            "/v1/coverage?node=ohlcv:binance:BTC/USDT:1m&format=json",
            400,
            "unknown parameter 'format'",
        ),
        ("/v2/candles", 404, "no such endpoint: see /v1/openapi.json"),
        ("/v1/candles?node=%FF%FE&start=2024-01-01", 400, "bad node"),
    ];
    assert!(cases.len() >= 20);
    for (path, status, needle) in cases {
        let resp = http.get(format!("{base}{path}")).send().await.unwrap();
        let got = resp.status().as_u16();
        let body = resp.text().await.unwrap();
        assert_eq!(got, *status, "{path}: {body}");
        let v: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: {body}"));
        let msg = v["error"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "{path}: {msg}");
        if *status == 409 {
            assert_eq!(
                v["missing"],
                serde_json::json!([[1704067200000i64, 1704153600000i64]])
            );
        }
    }
    // A POST is not served; nothing was stored by all of the above.
    let resp = http
        .post(format!("{base}/v1/candles?{good}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(ledger_rows(&db), 0, "bad requests store nothing");
    // Still serving.
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let resp = http
        .get(format!("{base}/v1/candles?{good}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    assert_eq!(v["candles"].as_array().unwrap().len(), 24);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_guards_the_data_and_remote_listening_needs_one() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let url = format!("binance={}", sim.base_url());
    let db = dir.path().join("api.db");
    let (_server, base) = serve(&db, &["--exchange-url", &url, "--token", "s3cret"]);
    let http = client();
    let q =
        format!("{base}/v1/candles?node=ohlcv:binance:BTC/USDT:1h&start=2024-01-01&end=2024-01-02");
    let r = http.get(&q).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Authorization: Bearer TOKEN")
    );
    let r = http.get(&q).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("bad token"));
    let r = http.get(&q).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        sim.requests(KLINES),
        1,
        "only the authorised call reached the exchange"
    );
    // `config show` never prints the token.
    let o = seamless_command(&["config", "show"], &db)
        .env("SEAMLESS_API_TOKEN", "s3cret")
        .output()
        .unwrap();
    let out = text(&o).0;
    assert!(
        out.contains("api.token = \"***\"") && !out.contains("s3cret"),
        "{out}"
    );
    // Beyond loopback: --allow-remote and a token, or a refusal before binding.
    let o = seamless(
        &["serve", "--listen", "0.0.0.0:0", "--token", "s3cret"],
        &db,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("pass --allow-remote"), "{}", text(&o).1);
    let o = seamless(&["serve", "--listen", "0.0.0.0:0", "--allow-remote"], &db);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("set a token (--token TOKEN"),
        "{}",
        text(&o).1
    );
    sim.shutdown().await;
}

/// Every path of the OpenAPI document answers, every documented query parameter of
/// `/v1/candles` is accepted and nothing else is.
#[tokio::test(flavor = "multi_thread")]
async fn the_server_answers_what_its_openapi_document_says() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let url = format!("binance={}", sim.base_url());
    let (_server, base) = serve(&dir.path().join("api.db"), &["--exchange-url", &url]);
    let http = client();
    let doc: serde_json::Value = http
        .get(format!("{base}/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    assert_eq!(
        doc,
        serde_json::from_str::<serde_json::Value>(seamless::api::OPENAPI).unwrap()
    );
    let example = |name: &str| match name {
        "node" => "ohlcv:binance:BTC/USDT:1h",
        "start" => "2024-01-01",
        "end" => "2024-01-02",
        "strategy" => "auto-backfill",
        "partial_ok" => "false",
        "format" => "json",
        other => panic!("no example for documented parameter {other}"),
    };
    for (path, item) in doc["paths"].as_object().unwrap() {
        let op = &item["get"];
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .map(|a| a.iter().map(|p| p["name"].as_str().unwrap()).collect())
            .unwrap_or_default();
        let query: Vec<String> = params
            .iter()
            .map(|p| format!("{p}={}", example(p)))
            .collect();
        let resp = http
            .get(format!("{base}{path}?{}", query.join("&")))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16().to_string();
        assert!(
            op["responses"][&status].is_object(),
            "{path} answered {status}, not a documented response"
        );
        let media = resp.headers()["content-type"].to_str().unwrap().to_string();
        let media = media.split(';').next().unwrap().to_string();
        assert!(
            op["responses"]["200"]["content"][&media].is_object(),
            "{path} answered {media}, not a documented media type"
        );
        if media == "text/event-stream" {
            assert_eq!(status, "200");
            continue; // an endless stream (tested on its own)
        }
        assert_eq!(status, "200", "{path}: {}", resp.text().await.unwrap());
        if !params.is_empty() {
            let resp = http
                .get(format!("{base}{path}?{}&undocumented=1", query.join("&")))
                .send()
                .await
                .unwrap();
            assert_eq!(
                resp.status(),
                400,
                "{path} refuses what it does not document"
            );
        }
    }
    sim.shutdown().await;
}

/// SSE events of one `/v1/stream` client: the closed candles, parsed.
struct SseClient {
    resp: reqwest::Response,
    buf: String,
}

impl SseClient {
    async fn open(url: &str) -> SseClient {
        let resp = client().get(url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        SseClient {
            resp,
            buf: String::new(),
        }
    }

    /// The next `candle` event's candle.
    async fn next_candle(&mut self) -> serde_json::Value {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let event: String = self.buf.drain(..end + 2).collect();
                if event.lines().any(|l| l == "event: candle") {
                    let data = event
                        .lines()
                        .find_map(|l| l.strip_prefix("data: "))
                        .unwrap();
                    return serde_json::from_str(data).unwrap();
                }
                assert!(!event.contains("event: lagged"), "{event}");
                continue;
            }
            let chunk = self.resp.chunk().await.unwrap().expect("stream ended");
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

/// `/v1/stream` delivers each closed candle once, in order, equal to the exchange's; two
/// clients of one series share one live session (one WebSocket); the session ends with
/// its last client.
#[tokio::test(flavor = "multi_thread")]
async fn stream_delivers_each_closed_candle_once_to_every_client() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, p) = fast_clock_provider(&dir.path().join("s.db")).await;
    let server = api_server(p).await;
    let url = format!("http://{}/v1/stream?node={NODE}", server.addr());
    let mut a = SseClient::open(&url).await;
    let mut b = SseClient::open(&url).await;
    let mut got_a = Vec::new();
    let mut got_b = Vec::new();
    for _ in 0..6 {
        got_a.push(a.next_candle().await);
        got_b.push(b.next_candle().await);
    }
    assert_eq!(sim.ws_connections(), 1, "one live session for both clients");
    for got in [&got_a, &got_b] {
        let times: Vec<i64> = got
            .iter()
            .map(|c| c["open_time"].as_i64().unwrap())
            .collect();
        for w in times.windows(2) {
            assert_eq!(w[1] - w[0], MIN, "consecutive, no duplicate: {times:?}");
        }
        let node: seamless::domain::NodeId = NODE.parse().unwrap();
        let want = truth(
            &sim,
            &node,
            seamless::domain::Window {
                start: times[0],
                end: times[5] + MIN,
            },
        );
        for (c, t) in got.iter().zip(&want) {
            assert_eq!(c["open_time"].as_i64(), Some(t.open_time));
            assert_eq!(c["close"].as_f64(), Some(t.close));
            assert_eq!(c["volume"].as_f64(), Some(t.volume));
        }
    }
    // Bad input before any session.
    let r = client()
        .get(format!(
            "http://{}/v1/stream?node=ohlcv:nowhere:BTC/USDT:1m",
            server.addr()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A stopping server ends the streams of the clients still listening (a graceful
    // shutdown would otherwise wait for them forever), and with them the live session.
    drop(a);
    tokio::time::timeout(std::time::Duration::from_secs(30), server.shutdown())
        .await
        .expect("the server stops while a stream client is connected");
    assert!(
        b.resp.chunk().await.map_or(true, |c| c.is_none()),
        "b's stream ended"
    );
    wait_until(
        "the live session to close its WebSocket",
        STARTUP,
        || sim.ws_open() == 0,
        || format!("{} WebSocket(s) open", sim.ws_open()),
    )
    .await;
}
