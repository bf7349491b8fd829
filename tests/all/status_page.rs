//! The status page (`GET /` of `seamless serve`) in a real headless Chromium (Debian's
//! `chromium`), driven over the DevTools protocol on 127.0.0.1: one row per stored series
//! with its coverage bar, a candlestick chart of the chosen series that grows as candles
//! close (server-sent events from `/v1/stream`), and a screenshot that is not blank.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use seamless::domain::{NodeId, Window};
use seamless::provider::{FetchOptions, Strategy};
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

/// Debian's Chromium, or `$CHROMIUM`.
fn chromium() -> String {
    let path = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string());
    assert!(
        std::path::Path::new(&path).exists(),
        "{path} not found: the status page test needs a real Chromium; install it with \
         `apt-get install -y --no-install-recommends chromium` (Debian; .ci/run does), or set CHROMIUM to its path"
    );
    path
}

/// A DevTools session on one page target.
struct Page {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Page {
    async fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = serde_json::json!({ "id": id, "method": method, "params": params });
        self.ws.send(Message::text(msg.to_string())).await.unwrap();
        loop {
            let m = self.ws.next().await.expect("devtools closed").unwrap();
            let Message::Text(t) = m else { continue };
            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
            if v["id"] == id {
                assert!(v["error"].is_null(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    async fn eval(&mut self, expr: &str) -> serde_json::Value {
        let r = self
            .call(
                "Runtime.evaluate",
                serde_json::json!({ "expression": expr, "returnByValue": true }),
            )
            .await;
        r["result"]["value"].clone()
    }

    async fn screenshot(&mut self) -> Vec<u8> {
        let r = self
            .call(
                "Page.captureScreenshot",
                serde_json::json!({ "format": "png" }),
            )
            .await;
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_page_renders_every_series_and_a_live_chart_in_chromium() {
    let chromium = chromium();
    let dir = tempfile::tempdir().unwrap();
    let (sim, p) = fast_clock_provider(&dir.path().join("s.db")).await;
    // Two stored series (the second with history two days back).
    let opts = FetchOptions {
        strategy: Strategy::AutoBackfill,
        ..FetchOptions::default()
    };
    for (node, back) in [
        ("ohlcv:binance:BTC/USDT:1m", 3 * 3_600_000),
        ("ohlcv:binance:ETH/USDT:1h", 2 * DAY),
    ] {
        let node: NodeId = node.parse().unwrap();
        let now = sim.now_ms();
        let w = Window::new(now - back, now).unwrap();
        p.fetch(&node, w, &opts).await.unwrap();
    }
    let server = api_server(p).await;
    let profile = tempfile::tempdir().unwrap();
    let mut browser = KillOnDrop(
        Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
                "about:blank",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/…"
    let stderr = BufReader::new(browser.stderr.take().unwrap());
    let mut devtools = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("DevTools listening on ws://").nth(1) {
            devtools = rest.split('/').next().map(str::to_string);
            break;
        }
    }
    let devtools = devtools.expect("chromium printed its DevTools address");
    seamless::net::install_crypto();
    let http = reqwest::Client::new();
    let page_url = format!("http://{}/?node=ohlcv:binance:BTC/USDT:1m", server.addr());
    let target: serde_json::Value = serde_json::from_str(
        &http
            .put(format!("http://{devtools}/json/new?{page_url}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let ws_url = target["webSocketDebuggerUrl"].as_str().unwrap().to_string();
    let (ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let mut page = Page { ws, next_id: 0 };

    // Wait (observable: the page's own DOM) for both rows and a chart that has grown
    // through at least two live candles.
    let state = "JSON.stringify({rows: [...document.querySelectorAll('tr.series')].map(r => r.dataset.node), \
                 bars: document.querySelectorAll('canvas.coverage').length, \
                 candles: +document.getElementById('chart').dataset.candles, \
                 live: document.getElementById('chart').dataset.live, \
                 error: document.getElementById('error').textContent})";
    let mut first_candles = None;
    let t = std::time::Instant::now();
    let last = loop {
        let v: serde_json::Value =
            serde_json::from_str(page.eval(state).await.as_str().unwrap_or("{}"))
                .unwrap_or_default();
        let candles = v["candles"].as_u64().unwrap_or(0);
        if candles > 0 && first_candles.is_none() {
            first_candles = Some(candles);
        }
        let grown = first_candles.is_some_and(|f| candles >= f + 2);
        if v["rows"].as_array().is_some_and(|r| r.len() == 2) && v["live"] == "yes" && grown {
            break v;
        }
        assert!(t.elapsed() < STARTUP, "the page did not render: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        last["rows"],
        serde_json::json!(["ohlcv:binance:BTC/USDT:1m", "ohlcv:binance:ETH/USDT:1h"]),
        "one row per series"
    );
    assert_eq!(last["bars"], 2, "a coverage bar per series");
    assert_eq!(last["error"], "");
    let png = page.screenshot().await;
    assert_eq!(&png[1..4], b"PNG");
    // The same screenshot of a blank page, as the baseline a rendered page must exceed.
    page.call("Page.navigate", serde_json::json!({ "url": "about:blank" }))
        .await;
    let t = std::time::Instant::now();
    while page.eval("location.href + ' ' + document.readyState").await != "about:blank complete" {
        assert!(t.elapsed() < STARTUP, "about:blank did not load");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let blank = page.screenshot().await;
    assert!(
        png.len() > 4 * blank.len(),
        "the page's screenshot ({} bytes) is not much more than a blank page's ({} bytes)",
        png.len(),
        blank.len()
    );
    let shot = std::env::temp_dir().join("seamless-status-page.png");
    let _ = std::fs::write(&shot, &png);
    eprintln!(
        "status page: {} rows, chart {} candles (from {:?}), screenshot {} bytes (blank {}) at {}",
        2,
        last["candles"],
        first_candles,
        png.len(),
        blank.len(),
        shot.display()
    );
    drop(page);
    drop(browser);
    server.shutdown().await;
}
