//! Stream tests over real sockets: a simulator on an ephemeral port with a fast clock, and
//! tokio-tungstenite clients.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::timeframe::MINUTE_MS;
use crate::{Faults, SimConfig, Simulator};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

const NOW: i64 = 1_718_000_000_000; // 2024-06-10T06:13:20Z
/// Longest wait for any one frame.
const WAIT: Duration = Duration::from_secs(3);

/// A simulator whose 1m candles close every 100 ms, updating streams every 20 ms.
async fn fast_sim() -> Simulator {
    Simulator::start(
        SimConfig::default()
            .with_clock_fast(NOW, 600)
            .with_ws_update_ms(20),
    )
    .await
    .unwrap()
}

async fn connect(sim: &Simulator, path: &str) -> Client {
    let url = format!("{}{}", sim.ws_url(), path);
    let (ws, resp) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    assert_eq!(resp.status(), 101);
    ws
}

/// The next text frame as JSON; `None` when the stream ended or failed (a drop).
async fn next_json(ws: &mut Client) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("no frame within the wait");
        match msg {
            Some(Ok(WsMessage::Text(t))) => {
                return Some(serde_json::from_str(t.as_str()).expect("frame is JSON"));
            }
            Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => return None,
            Some(Ok(_)) => {}
        }
    }
}

async fn send(ws: &mut Client, text: &str) {
    ws.send(WsMessage::text(text)).await.unwrap();
}

fn num(k: &Value, key: &str) -> f64 {
    k[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string: {k}"))
        .parse()
        .unwrap()
}

fn ohlcv(k: &Value) -> [f64; 5] {
    [
        num(k, "o"),
        num(k, "h"),
        num(k, "l"),
        num(k, "c"),
        num(k, "v"),
    ]
}

/// Waits until `f()` holds (at most 3 s).
async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < WAIT {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    f()
}

#[tokio::test]
async fn closed_candles_equal_truth_after_forming_updates() {
    let sim = fast_sim().await;
    let mut ws = connect(&sim, "/ws/btcusdt@kline_1m").await;
    let mut frames = Vec::new();
    let mut closed = 0;
    while closed < 8 {
        let f = next_json(&mut ws).await.expect("stream ended");
        closed += usize::from(f["k"]["x"] == true);
        frames.push(f);
    }
    // Event shape.
    let first = &frames[0];
    assert_eq!(first["e"], "kline");
    assert_eq!(first["s"], "BTCUSDT");
    assert_eq!(first["k"]["s"], "BTCUSDT");
    assert_eq!(first["k"]["i"], "1m");
    assert_eq!(
        first["k"]["x"], false,
        "a new client starts with the forming candle"
    );
    // Per candle: forming frames, then exactly one closed frame, then the next candle.
    let mut last_closed: Option<i64> = None;
    let mut current: Option<i64> = None;
    let mut with_forming = 0;
    let mut forming_seen = 0;
    for f in &frames {
        let k = &f["k"];
        let t = k["t"].as_i64().unwrap();
        assert_eq!(k["T"].as_i64().unwrap(), t + MINUTE_MS - 1);
        assert!(f["E"].as_i64().unwrap() >= t);
        if let Some(c) = current {
            assert!(t >= c, "candles go forward: {t} after {c}");
        }
        if current != Some(t) {
            forming_seen = 0;
        }
        current = Some(t);
        let truth = sim.truth("BTCUSDT", "1m", t, t + MINUTE_MS);
        assert_eq!(truth.len(), 1, "candle {t} is in truth");
        let tr = truth[0];
        let v = ohlcv(k);
        if k["x"] == true {
            assert_eq!(
                v,
                [tr.open, tr.high, tr.low, tr.close, tr.volume],
                "closed {t}"
            );
            if let Some(prev) = last_closed {
                assert_eq!(t, prev + MINUTE_MS, "no gap, no duplicate");
            }
            last_closed = Some(t);
            with_forming += usize::from(forming_seen > 0);
        } else {
            assert_ne!(
                Some(t),
                last_closed,
                "no forming frame after the closed one"
            );
            // A strict partial view of the final candle.
            assert_eq!(v[0], tr.open);
            assert!(v[1] <= tr.high && v[2] >= tr.low, "{v:?} vs {tr:?}");
            assert!(v[4] < tr.volume, "forming volume {} < {}", v[4], tr.volume);
            forming_seen += 1;
        }
    }
    // At 12 simulated seconds per update nearly every minute is seen forming first.
    assert!(
        with_forming >= 4,
        "only {with_forming} of 8 candles had forming frames"
    );
    assert!(sim.ws_frames() >= frames.len() as u64);
    assert_eq!(sim.ws_connections(), 1);
    assert_eq!(sim.ws_open(), 1);
    drop(ws);
    assert!(eventually(|| sim.ws_open() == 0).await);
    sim.shutdown().await;
}

#[tokio::test]
async fn combined_streams_are_wrapped() {
    let sim = fast_sim().await;
    let mut ws = connect(&sim, "/stream?streams=btcusdt@kline_1m/ethusdt@kline_3m").await;
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 2 {
        let f = next_json(&mut ws).await.expect("stream ended");
        let stream = f["stream"].as_str().expect("wrapped").to_string();
        let data = &f["data"];
        assert_eq!(data["e"], "kline");
        match stream.as_str() {
            "btcusdt@kline_1m" => assert_eq!(
                (&data["s"], &data["k"]["i"]),
                (&"BTCUSDT".into(), &"1m".into())
            ),
            "ethusdt@kline_3m" => assert_eq!(
                (&data["s"], &data["k"]["i"]),
                (&"ETHUSDT".into(), &"3m".into())
            ),
            other => panic!("unexpected stream {other}"),
        }
        seen.insert(stream);
    }
    // Raw path with several streams: unwrapped.
    let mut raw = connect(&sim, "/ws/btcusdt@kline_1m/ethusdt@kline_1m").await;
    let f = next_json(&mut raw).await.unwrap();
    assert!(f.get("stream").is_none());
    assert_eq!(f["e"], "kline");
    sim.shutdown().await;
}

#[tokio::test]
async fn subscribe_unsubscribe_and_bad_requests() {
    let sim = fast_sim().await;
    let mut ws = connect(&sim, "/ws").await;
    send(
        &mut ws,
        r#"{"method":"SUBSCRIBE","params":["ethusdt@kline_1m"],"id":1}"#,
    )
    .await;
    // No stream yet: the ack comes first.
    assert_eq!(
        next_json(&mut ws).await.unwrap(),
        serde_json::json!({"result":null,"id":1})
    );
    let f = next_json(&mut ws).await.unwrap();
    assert_eq!(f["s"], "ETHUSDT");
    // Bad requests get Binance's error shape; the connection stays up.
    send(&mut ws, r#"{"method":"SUBSCRIBEE","params":[],"id":2}"#).await;
    send(&mut ws, "not json").await;
    ws.send(WsMessage::binary(vec![0u8, 159, 146, 150]))
        .await
        .unwrap();
    send(
        &mut ws,
        r#"{"method":"UNSUBSCRIBE","params":["ethusdt@kline_1m"],"id":3}"#,
    )
    .await;
    send(&mut ws, r#"{"method":"LIST_SUBSCRIPTIONS","id":4}"#).await;
    let mut replies = Vec::new();
    while replies.len() < 5 {
        let f = next_json(&mut ws).await.expect("stream ended");
        if f.get("e").is_none() {
            replies.push(f);
        }
    }
    assert_eq!(replies[0]["error"]["code"], 2);
    assert_eq!(replies[0]["id"], 2);
    assert_eq!(replies[1]["error"]["code"], 3);
    assert_eq!(replies[2]["error"]["code"], 3);
    assert_eq!(replies[3], serde_json::json!({"result":null,"id":3}));
    assert_eq!(replies[4], serde_json::json!({"result":[],"id":4}));
    // Unsubscribed: nothing but pings until we close; the close handshake is answered.
    ws.send(WsMessage::Close(None)).await.unwrap();
    let end = tokio::time::timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(WsMessage::Text(t))) => panic!("frame after UNSUBSCRIBE: {t}"),
                Some(Ok(WsMessage::Close(_))) | None => return true,
                Some(Err(_)) => return false,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .unwrap();
    assert!(end, "clean close");
    assert!(eventually(|| sim.ws_open() == 0).await);
    sim.shutdown().await;
}

#[tokio::test]
async fn drop_websockets_ends_every_stream() {
    let sim = fast_sim().await;
    let mut a = connect(&sim, "/ws/btcusdt@kline_1m").await;
    let mut b = connect(&sim, "/stream?streams=solusdt@kline_1m").await;
    assert!(next_json(&mut a).await.is_some());
    assert!(next_json(&mut b).await.is_some());
    assert_eq!(sim.ws_open(), 2);
    assert_eq!(sim.drop_websockets(), 2);
    for ws in [&mut a, &mut b] {
        // Frames already in flight may still arrive; then the stream ends without a Close.
        let ended = tokio::time::timeout(WAIT, async {
            loop {
                match ws.next().await {
                    Some(Ok(WsMessage::Close(_))) => return "close frame",
                    Some(Err(_)) | None => return "dropped",
                    Some(Ok(_)) => {}
                }
            }
        })
        .await
        .expect("stream still open after drop_websockets");
        assert_eq!(ended, "dropped");
    }
    assert!(eventually(|| sim.ws_open() == 0).await);
    assert_eq!(sim.ws_connections(), 2);
    assert_eq!(sim.injected().ws_drop_commanded, 2);
    assert_eq!(sim.injected().ws_drop, 0);
    // Reconnecting works.
    let mut c = connect(&sim, "/ws/btcusdt@kline_1m").await;
    assert!(next_json(&mut c).await.is_some());
    assert_eq!(sim.ws_connections(), 3);
    // Shutting the simulator down drops it too.
    sim.shutdown().await;
    while next_json(&mut c).await.is_some() {}
}

#[tokio::test]
async fn drop_every_n_frames() {
    let sim = fast_sim().await;
    sim.set_faults(Faults {
        ws_drop_every_n: Some(3),
        ..Faults::default()
    });
    for round in 1..=2u64 {
        let mut ws = connect(&sim, "/ws/btcusdt@kline_1m").await;
        let mut n = 0;
        while next_json(&mut ws).await.is_some() {
            n += 1;
        }
        assert_eq!(n, 3, "round {round}");
        assert!(eventually(|| sim.ws_open() == 0).await);
        assert_eq!(sim.ws_frames(), 3 * round);
        assert_eq!(sim.ws_connections(), round);
        assert_eq!(sim.injected().ws_drop, round);
    }
    sim.reset_counts();
    assert_eq!((sim.ws_frames(), sim.ws_connections()), (0, 0));
    assert_eq!(sim.injected(), crate::Injected::default());
    sim.shutdown().await;
}

#[tokio::test]
async fn pings_are_sent() {
    let sim = Simulator::start(
        SimConfig::default()
            .with_clock_fixed(NOW)
            .with_ws_ping_ms(50),
    )
    .await
    .unwrap();
    let mut ws = connect(&sim, "/ws").await;
    let got = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(Ok(WsMessage::Ping(_))) = ws.next().await {
                return true;
            }
        }
    })
    .await
    .unwrap();
    assert!(got);
    sim.shutdown().await;
}

#[tokio::test]
async fn one_second_candles_in_real_time() {
    // Speed 1: a 1s candle closes every wall second.
    let sim = Simulator::start(
        SimConfig::default()
            .with_clock_fast(NOW, 1)
            .with_ws_update_ms(100),
    )
    .await
    .unwrap();
    let mut ws = connect(&sim, "/ws/bnbusdt@kline_1s").await;
    let mut forming_before = false;
    loop {
        let f = next_json(&mut ws).await.expect("stream ended");
        let k = &f["k"];
        assert_eq!(k["i"], "1s");
        let t = k["t"].as_i64().unwrap();
        if k["x"] == true {
            let tr = sim.truth("BNBUSDT", "1s", t, t + 1000)[0];
            assert_eq!(ohlcv(k), [tr.open, tr.high, tr.low, tr.close, tr.volume]);
            assert_eq!(k["T"].as_i64().unwrap(), t + 999);
            break;
        }
        forming_before = true;
    }
    assert!(forming_before);
    sim.shutdown().await;
}

#[tokio::test]
async fn forming_frame_equals_rest_forming_row() {
    // A fixed clock in the middle of a minute: REST's last row and the stream's forming frame are
    // the same partial candle.
    let now = NOW + 12_345;
    let sim = Simulator::start(SimConfig::default().with_clock_fixed(now))
        .await
        .unwrap();
    let mut ws = connect(&sim, "/ws/btcusdt@kline_1m").await;
    let f = next_json(&mut ws).await.unwrap();
    let k = &f["k"];
    assert_eq!(k["x"], false);
    assert_eq!(f["E"], now);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!(
        "{}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1",
        sim.base_url()
    );
    let body = client.get(url).send().await.unwrap().bytes().await.unwrap();
    let rows: Vec<Vec<Value>> = serde_json::from_slice(&body).unwrap();
    let r = &rows[0];
    assert_eq!(k["t"], r[0]);
    for (key, i) in [
        ("o", 1),
        ("h", 2),
        ("l", 3),
        ("c", 4),
        ("v", 5),
        ("q", 7),
        ("n", 8),
    ] {
        assert_eq!(k[key], r[i], "{key}");
    }
    // And it is not the final candle.
    sim.set_clock(crate::Clock::Fixed(now + MINUTE_MS));
    let t = k["t"].as_i64().unwrap();
    let tr = sim.truth("BTCUSDT", "1m", t, t + 1)[0];
    assert_ne!(ohlcv(k), [tr.open, tr.high, tr.low, tr.close, tr.volume]);
    sim.shutdown().await;
}

#[tokio::test]
async fn control_api_clock_and_drop() {
    let sim = Simulator::start(SimConfig::default().with_clock_fixed(NOW))
        .await
        .unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = reqwest::Client::builder().no_proxy().build().unwrap();
    let post = |path: &str, body: &'static str| {
        c.post(format!("{}{path}", sim.base_url()))
            .body(body)
            .send()
    };
    let json = |r: reqwest::Response| async move {
        let b = r.bytes().await.unwrap();
        serde_json::from_slice::<Value>(&b).unwrap()
    };
    let v = json(
        post("/__sim/clock", r#"{"now_ms":1700000000000,"speed":600}"#)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["speed"], 600);
    assert!(matches!(
        sim.shared.clock(),
        crate::Clock::Fast {
            origin_ms: 1_700_000_000_000,
            speed: 600,
            ..
        }
    ));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(sim.now_ms() >= 1_700_000_000_000 + 20 * 600);
    let v = json(post("/__sim/clock", r#"{"speed":0}"#).await.unwrap()).await;
    assert_eq!(v["speed"], 0);
    let frozen = sim.now_ms();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(sim.now_ms(), frozen);
    let v = json(post("/__sim/clock", r#"{}"#).await.unwrap()).await;
    assert_eq!(v["speed"], 1);
    assert_eq!(sim.shared.clock(), crate::Clock::Wall);
    let r = post("/__sim/clock", r#"{"speed":-1}"#).await.unwrap();
    assert_eq!(r.status(), 400);
    // Drop over HTTP, counters in the stats.
    let mut ws = connect(&sim, "/ws/btcusdt@kline_1m").await;
    assert!(next_json(&mut ws).await.is_some());
    let v = json(post("/__sim/ws/drop", "").await.unwrap()).await;
    assert_eq!(v["dropped"], 1);
    while next_json(&mut ws).await.is_some() {}
    assert!(eventually(|| sim.ws_open() == 0).await);
    let stats = json(
        c.get(format!("{}/__sim/stats", sim.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(stats["ws_connections"], 1);
    assert_eq!(stats["ws_open"], 0);
    assert!(stats["ws_frames"].as_u64().unwrap() >= 1);
    assert_eq!(stats["faults"]["ws_drop_every_n"], Value::Null);
    assert_eq!(stats["injected"]["ws_drop_commanded"], 1);
    assert_eq!(stats["injected"]["ws_drop"], 0);
    // A plain GET on a stream path is refused (no upgrade), not a crash.
    let r = c
        .get(format!("{}/ws/btcusdt@kline_1m", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    sim.shutdown().await;
}
