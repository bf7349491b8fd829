//! The `seamless` binary: fetch through the simulator, output formats, the adapters
//! commands, and bad input (exit code 2, or 1 for runtime failures; a message that names
//! the problem and the fix; never a panic).

use exchange_sim::{SimConfig, Simulator};

use crate::support::{JAN1_2024, guest, seamless, seamless_with_stdin, text};

const KLINES: &str = "/api/v3/klines";

fn no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fetch_jsonl_twice_second_from_store() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let url = format!("binance={}", sim.base_url());
    let args = [
        "fetch",
        "--exchange",
        "binance",
        "--symbol",
        "BTC/USDT",
        "--timeframe",
        "1m",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-02",
        "--exchange-url",
        &url,
        "--format",
        "jsonl",
    ];
    let o = seamless(&args, &db);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1440);
    assert_eq!(lines[0]["open_time"], JAN1_2024);
    for k in ["open", "high", "low", "close", "volume"] {
        assert!(
            lines[0][k].is_f64() || lines[0][k].is_i64(),
            "{k} in {}",
            lines[0]
        );
    }
    let truth = sim.truth("BTC/USDT", "1m", JAN1_2024, JAN1_2024 + 86_400_000);
    assert_eq!(lines[1439]["close"].as_f64().unwrap(), truth[1439].close);
    assert_eq!(sim.requests(KLINES), 2);
    sim.reset_counts();
    // Same window through --node, as CSV into a file: no request this time.
    let csv = dir.path().join("out.csv");
    let o = seamless(
        &[
            "fetch",
            "--node",
            "ohlcv:binance:BTC/USDT:1m",
            "--start",
            "1704067200",
            "--end",
            "1704153600000",
            "--exchange-url",
            &url,
            "--format",
            "csv",
            "--output",
            csv.to_str().unwrap(),
        ],
        &db,
    );
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        sim.requests(KLINES),
        0,
        "second fetch must come from the store"
    );
    assert!(err.contains("1440 from store"), "{err}");
    let body = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(body.lines().count(), 1441);
    assert!(body.starts_with("open_time,open,high,low,close,volume\n1704067200000,"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn adapters_list_inspect_plan_parse() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let o = seamless(&["adapters", "list"], &db);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("binance"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("1000") && line.contains("https://api.binance.com") && line.contains("1m"),
        "{line}"
    );

    let wasm = guest("binance_adapter");
    let o = seamless(&["adapters", "inspect", wasm.to_str().unwrap()], &db);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("seamless:market@0.2.0") && out.contains("id:            binance"),
        "{out}"
    );

    let o = seamless(
        &[
            "adapters",
            "plan",
            "--node",
            "ohlcv:binance:ETH/USDT:1h",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-02",
        ],
        &db,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.starts_with("GET https://api.binance.com/api/v3/klines?"),
        "{out}"
    );
    for p in [
        "symbol=ETHUSDT",
        "interval=1h",
        "startTime=1704067200000",
        "endTime=1704153599999",
    ] {
        assert!(out.contains(p), "{p} not in {out}");
    }

    let body = br#"[[1704067200000,"42000.10","42025.50","41987.25","42004.75","1.5",1704067259999,"0",1,"0","0","0"],
                    [1704067260000,"42004.75","42010.00","42000.00","42001.00","2.25",1704067319999,"0",1,"0","0","0"]]"#;
    let o = seamless_with_stdin(
        &[
            "adapters",
            "parse",
            "--node",
            "ohlcv:binance:BTC/USDT:1m",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-02",
            "--format",
            "csv",
        ],
        &db,
        Some(body),
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        out,
        "open_time,open,high,low,close,volume\n1704067200000,42000.1,42025.5,41987.25,42004.75,1.5\n1704067260000,42004.75,42010,42000,42001,2.25\n"
    );
}

/// Each bad input exits with the expected code and a message naming the fix.
#[tokio::test(flavor = "multi_thread")]
async fn bad_input_exits_2_with_a_helpful_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not a component").unwrap();
    let junk = junk.to_str().unwrap().to_string();
    let base = ["fetch", "--start", "2024-01-01", "--end", "2024-01-02"];
    let cases: Vec<(Vec<&str>, u8, &str)> = vec![
        (
            vec![
                "--exchange",
                "nosuch",
                "--symbol",
                "BTC/USDT",
                "--timeframe",
                "1m",
            ],
            2,
            "available exchanges are",
        ),
        (
            vec![
                "--exchange",
                "binance",
                "--symbol",
                "BTC/USDT",
                "--timeframe",
                "7m",
            ],
            2,
            "use one of 1s, 1m",
        ),
        (
            vec!["--node", "binance:BTC/USDT:1m"],
            2,
            "expected ohlcv:EXCHANGE:SYMBOL:TIMEFRAME",
        ),
        (
            vec!["--node", "ohlcv:binance:btcusdt:1m"],
            2,
            "use BASE/QUOTE",
        ),
        (
            vec!["--exchange", "binance", "--symbol", "BTC/USDT"],
            2,
            "--timeframe",
        ),
        (
            vec![
                "--node",
                "ohlcv:binance:BTC/USDT:1m",
                "--store",
                "postgres://x",
            ],
            2,
            "use sqlite:PATH",
        ),
        (
            vec![
                "--node",
                "ohlcv:binance:BTC/USDT:1m",
                "--exchange-url",
                "binance",
            ],
            2,
            "use EXCHANGE=URL",
        ),
        (
            vec![
                "--node",
                "ohlcv:binance:BTC/USDT:1m",
                "--adapter",
                "/no/such.wasm",
            ],
            2,
            "does not exist",
        ),
        (
            vec!["--node", "ohlcv:binance:BTC/USDT:1m", "--adapter", &junk],
            2,
            "not a WebAssembly component",
        ),
        // Unreachable exchange: a runtime failure (1), naming the URL and the flag to fix it.
        (
            vec![
                "--node",
                "ohlcv:binance:BTC/USDT:1m",
                "--exchange-url",
                "binance=http://127.0.0.1:9",
            ],
            1,
            "--exchange-url",
        ),
    ];
    for (extra, code, needle) in cases {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(extra.iter());
        let o = seamless(&args, &db);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(code as i32), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: expected '{needle}' in: {err}"
        );
        no_panic(&err);
    }
    // Window problems.
    for (start, end, needle) in [
        ("2024-01-02", "2024-01-01", "not before end"),
        (
            "yesterday-ish",
            "2024-01-01",
            "--start: cannot read time 'yesterday-ish'",
        ),
        ("2024-01-01", "2024-02-30", "--end: cannot read time"),
    ] {
        let o = seamless(
            &[
                "fetch",
                "--node",
                "ohlcv:binance:BTC/USDT:1m",
                "--start",
                start,
                "--end",
                end,
            ],
            &db,
        );
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{start} {end}: {err}");
        assert!(err.contains(needle), "expected '{needle}' in: {err}");
        no_panic(&err);
    }
    // Options, configuration and other commands.
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[backfill]\nconcurency = 3\n").unwrap();
    let cfg = cfg.to_str().unwrap().to_string();
    let node = [
        "--node",
        "ohlcv:binance:BTC/USDT:1m",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-02",
    ];
    let with_node = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["fetch".into()];
        v.extend(node.iter().map(|s| s.to_string()));
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    type Case<'a> = (Vec<String>, Vec<(&'a str, &'a str)>, &'a str);
    let more: Vec<Case> = vec![
        (
            with_node(&["--strategy", "fastest"]),
            vec![],
            "use seamless, fail-fast",
        ),
        (
            with_node(&["--format", "xml"]),
            vec![],
            "invalid value 'xml'",
        ),
        (
            with_node(&["--config-file", "/no/such/seamless.toml"]),
            vec![],
            "/no/such/seamless.toml",
        ),
        (with_node(&["--config-file", &cfg]), vec![], "did you mean"),
        (
            with_node(&[]),
            vec![("SEAMLESS_BACKFILL_CONCURRENCY", "lots")],
            "SEAMLESS_BACKFILL_CONCURRENCY",
        ),
        (with_node(&["--concurrency", "0"]), vec![], "--concurrency"),
        (
            with_node(&["--call-timeout-ms", "soon"]),
            vec![],
            "--call-timeout-ms",
        ),
        (
            with_node(&["--exchange-url", "binance=ftp://127.0.0.1:21"]),
            vec![],
            "use EXCHANGE=URL",
        ),
        (
            vec![
                "backfill".into(),
                "--exchange".into(),
                "binance".into(),
                "--symbols".into(),
                "BTC/USDT".into(),
            ],
            vec![],
            "no range given",
        ),
        (
            vec![
                "backfill".into(),
                "--exchange".into(),
                "binance".into(),
                "--symbols".into(),
                "BTC/USDT".into(),
                "--timeframes".into(),
                "7m".into(),
                "--days".into(),
                "2".into(),
            ],
            vec![],
            "unknown timeframe '7m'",
        ),
        (
            vec![
                "coverage".into(),
                "--node".into(),
                "ohlcv:binance:BTC-USDT:1m".into(),
            ],
            vec![],
            "use BASE/QUOTE",
        ),
        (
            vec![
                "fetch".into(),
                "--node".into(),
                "ohlcv:binance:BTC/USDT:1m".into(),
            ],
            vec![],
            "--start",
        ),
        (vec!["frobnicate".into()], vec![], "unrecognized subcommand"),
    ];
    for (args, env, needle) in more {
        let mut c = crate::support::seamless_command(
            &args.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            &db,
        );
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: expected '{needle}' in: {err}"
        );
        no_panic(&err);
    }
    // A file that is not a component, inspected directly.
    let o = seamless(&["adapters", "inspect", &junk], &db);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("not a WebAssembly component") && err.contains("wasm32-wasip2"),
        "{err}"
    );
    no_panic(&err);
}

#[tokio::test(flavor = "multi_thread")]
async fn fetch_parquet_with_manifest() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let out = dir.path().join("btc.parquet");
    let url = format!("binance={}", sim.base_url());
    let o = seamless(
        &[
            "fetch",
            "--node",
            "ohlcv:binance:BTC/USDT:5m",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-08",
            "--exchange-url",
            &url,
            "--format",
            "parquet",
            "--output",
            out.to_str().unwrap(),
            "--metadata",
            dir.path().join("meta.json").to_str().unwrap(),
        ],
        &db,
    );
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let (candles, kv) = seamless::export::read_parquet(&out).unwrap();
    let truth = sim.truth("BTC/USDT", "5m", JAN1_2024, JAN1_2024 + 7 * 86_400_000);
    assert_eq!(candles.len(), truth.len());
    assert!(
        candles
            .iter()
            .zip(&truth)
            .all(|(a, b)| a.open_time == b.open_time && a.close == b.close && a.volume == b.volume)
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("meta.json")).unwrap())
            .unwrap();
    let manifest = seamless::export::parquet::manifest_path(&out);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(manifest).unwrap()).unwrap();
    assert_eq!(manifest["fingerprint"], meta["fingerprint"]);
    assert_eq!(manifest["rows"], 2016);
    assert_eq!(
        kv.get("seamless.fingerprint").map(String::as_str),
        meta["fingerprint"].as_str()
    );
    sim.shutdown().await;
}

/// The conformance suite over every built-in adapter, against the simulator speaking its
/// format (what CI runs for each adapter); and a misbehaving component fails it.
#[tokio::test(flavor = "multi_thread")]
async fn every_builtin_adapter_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let sim = conformance_simulator().await;
    let url = sim.base_url();
    let mut tested = 0;
    for entry in std::fs::read_dir(crate::support::guest_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(id) = name.strip_suffix("_adapter.wasm") else {
            continue;
        };
        let o = seamless(
            &[
                "adapters",
                "test",
                path.to_str().unwrap(),
                "--simulator",
                id,
                "--simulator-url",
                url.as_str(),
            ],
            &db,
        );
        let (out, err) = text(&o);
        assert!(o.status.success(), "{id}:\n{out}\n{err}");
        assert!(
            !out.contains("FAIL") && out.contains("equals the simulator's truth"),
            "{id}:\n{out}"
        );
        tested += 1;
    }
    assert!(
        tested >= 12,
        "only {tested} built-in adapters found in the guest folder"
    );
    let o = seamless(
        &["adapters", "test", guest("chaos_guest").to_str().unwrap()],
        &db,
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        out.contains("FAIL") && out.contains("candles from nothing"),
        "{out}"
    );
    sim.shutdown().await;
}

/// A simulator like the one `adapters test --simulator` starts: its default markets plus the
/// USD ones (`seamless::suite::simulator::EXTRA_MARKETS`).
async fn conformance_simulator() -> Simulator {
    let cfg = SimConfig::default()
        .with_market(exchange_sim::MarketSpec::new(
            "BTC/USD",
            1_502_942_400_000,
            4000.0,
        ))
        .with_market(exchange_sim::MarketSpec::new(
            "ETH/USD",
            1_502_942_400_000,
            300.0,
        ));
    Simulator::start(cfg).await.unwrap()
}

/// `adapters test --simulator FORMAT` refuses a format the simulator does not speak and
/// lists the ones it does.
#[tokio::test(flavor = "multi_thread")]
async fn adapters_test_refuses_an_unknown_simulator_format() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let sim = conformance_simulator().await;
    let url = sim.base_url();
    let path = guest("binance_adapter");
    let args = [
        "adapters",
        "test",
        path.to_str().unwrap(),
        "--simulator",
        "binanse",
        "--simulator-url",
        url.as_str(),
    ];
    let o = seamless(&args, &db);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(
        err.contains("invalid value 'binanse' for '--simulator <FORMAT>'")
            && err.contains("possible values: binance, binanceusdm, bitfinex")
            && err.contains("example"),
        "{err}"
    );
    assert_eq!(
        sim.requests("/api/v3/klines"),
        0,
        "refused before any request"
    );
    sim.shutdown().await;
}

/// An exchange id that no built-in has: the error lists the built-ins and says how to
/// load a third-party adapter.
#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_exchange_suggests_loading_a_third_party_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let args = [
        "fetch",
        "--node",
        "ohlcv:acme:BTC/USDT:1m",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-02",
    ];
    let o = seamless(&args, &db);
    let (out, err) = text(&o);
    no_panic(&err);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(
        err.contains("unknown exchange 'acme'")
            && err.contains("binance")
            && err.contains("to use a third-party adapter, pass --adapter PATH.wasm"),
        "{err}"
    );
}

/// `--exchange-url ID=URL` for an id that no loaded adapter has is refused (exit 2) before
/// any request, naming the id, the exchanges there are and a close one; the ids of
/// `--adapter` files count.
#[tokio::test(flavor = "multi_thread")]
async fn an_exchange_url_for_no_loaded_adapter_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let url = sim.base_url();
    let template = guest("adapter_template");
    let window = ["--start", "2024-01-01", "--end", "2024-01-02"];
    let run = |extra: &[&str]| {
        let mut args = vec!["fetch"];
        args.extend(window);
        args.extend(extra);
        seamless(&args, &db)
    };
    // The right override too, so that nothing could leave the machine if the check failed.
    let binance = format!("binance={url}");
    let example = format!("example={url}");
    let o = run(&[
        "--node",
        "ohlcv:binance:BTC/USDT:1m",
        "--exchange-url",
        &binance,
        "--exchange-url",
        &example,
    ]);
    let (out, err) = text(&o);
    no_panic(&err);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(
        err.contains("override for exchange 'example', which no adapter has")
            && err.contains("binance, binanceusdm")
            && err.contains("--exchange-url ID=URL")
            && err.contains("--adapter PATH.wasm")
            && !err.contains("did you mean"),
        "{err}"
    );
    let typo = format!("exampel={url}");
    let o = run(&[
        "--node",
        "ohlcv:example:BTC/USDT:1m",
        "--adapter",
        template.to_str().unwrap(),
        "--exchange-url",
        &example,
        "--exchange-url",
        &typo,
    ]);
    let (out, err) = text(&o);
    no_panic(&err);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(
        err.contains("exchange 'exampel'")
            && err.contains(", example,")
            && err.contains("did you mean 'example'?"),
        "{err}"
    );
    assert_eq!(sim.requests(KLINES), 0, "refused before any request");
    sim.shutdown().await;
}

/// A base URL missing the path the exchange serves under (here the simulator's `/example`)
/// gets an empty 404: the error names the URL that got it and the base URL to check.
#[tokio::test(flavor = "multi_thread")]
async fn a_404_from_the_exchange_names_the_url_and_the_base_url_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let url = sim.base_url();
    let template = guest("adapter_template");
    let wrong = format!("example={url}");
    let args = [
        "fetch",
        "--node",
        "ohlcv:example:BTC/USDT:1m",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-02",
        "--adapter",
        template.to_str().unwrap(),
        "--exchange-url",
        &wrong,
    ];
    let o = seamless(&args, &db);
    let (out, err) = text(&o);
    no_panic(&err);
    assert!(sim.status_count(404) >= 1, "the simulator answered 404");
    // A refusal is the cause, not an incomplete frame: exit 1, no "rerun"/--partial-ok advice.
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains(&format!("HTTP 404 from {url}/"))
            && err.contains("check the exchange's base URL (--exchange-url)")
            && !err.contains("exchange error 404")
            && !err.contains("rerun")
            && !err.contains("--partial-ok"),
        "{err}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_third_party_adapter_may_not_shadow_a_builtin_without_override() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let copy = dir.path().join("my_binance.wasm");
    std::fs::copy(guest("binance_adapter"), &copy).unwrap();
    let args = [
        "adapters",
        "plan",
        "--node",
        "ohlcv:binance:BTC/USDT:1m",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-02",
        "--adapter",
        copy.to_str().unwrap(),
    ];
    let o = seamless(&args, &db);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("already has") && err.contains("--override"),
        "{err}"
    );
    let mut with = args.to_vec();
    with.push("--override");
    let o = seamless(&with, &db);
    assert!(o.status.success(), "{}", text(&o).1);
}

/// `serve` and `--metrics` listen on loopback only, unless `--allow-remote` says otherwise
/// (and then a warning is printed).
#[tokio::test(flavor = "multi_thread")]
async fn listening_sockets_stay_on_loopback_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    // Refused: a non-loopback address from a flag, from the environment, from the file.
    let o = seamless(&["serve", "--metrics", "0.0.0.0:0"], &db);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 (from flag --metrics)")
            && err.contains("listen on 127.0.0.1:0, or pass --allow-remote"),
        "{err}"
    );
    no_panic(&err);
    let o = crate::support::seamless_command(&["config", "show"], &db)
        .env("SEAMLESS_METRICS", "[::]:9")
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("refusing to listen on [::]:9 (from env SEAMLESS_METRICS)"),
        "{err}"
    );
    let cfg = dir.path().join("seamless.toml");
    std::fs::write(&cfg, "metrics = \"192.0.2.1:9\"\n").unwrap();
    let o = seamless(
        &["--config-file", cfg.to_str().unwrap(), "config", "show"],
        &db,
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("refusing to listen on 192.0.2.1:9 (from file"),
        "{err}"
    );
    // A malformed address is bad input naming the flag.
    let o = seamless(&["serve", "--metrics", "localhost:9184"], &db);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--metrics: \"localhost:9184\" is not a socket address"),
        "{err}"
    );

    // Allowed: the warning names the address and what allowed it. 192.0.2.1 (TEST-NET-1) is on
    // no interface here, so the bind itself fails and nothing listens beyond loopback.
    let o = seamless(
        &[
            "config",
            "show",
            "--metrics",
            "192.0.2.1:0",
            "--allow-remote",
        ],
        &db,
    );
    let (_, err) = text(&o);
    assert!(
        err.contains(
            "warning: listening on 192.0.2.1:0, which other machines can reach (allowed by flag --allow-remote)"
        ),
        "{err}"
    );
    assert!(!err.contains("refusing"), "{err}");
    no_panic(&err);

    // Loopback needs nothing: IPv4 and IPv6.
    for addr in ["127.0.0.1:0", "[::1]:0"] {
        use std::io::{BufRead, BufReader};
        let mut child = crate::support::seamless_command(
            &["serve", "--metrics", addr, "--listen", "127.0.0.1:0"],
            &db,
        )
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        if addr.starts_with('[') && line.contains("cannot") {
            continue; // no IPv6 on this machine
        }
        assert!(line.starts_with("metrics: http://"), "{addr}: {line}");
    }
}

/// Adapter pins: `adapters inspect` prints the SHA-256; a pinned adapter whose file hashes
/// differently is refused, naming the file and both hashes; the pin may come from the flag,
/// the environment or the file, and also holds for built-in adapters.
#[tokio::test(flavor = "multi_thread")]
async fn adapters_are_refused_when_their_sha256_differs_from_the_pin() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let copy = dir.path().join("example.wasm");
    std::fs::copy(guest("adapter_template"), &copy).unwrap();
    let copy_s = copy.to_str().unwrap();
    let sha = hex::encode(sha2::Sha256::digest(std::fs::read(&copy).unwrap()));
    let wrong = "0".repeat(64);

    let o = seamless(&["adapters", "inspect", copy_s], &db);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains(&format!("\nsha256:        {sha}\n")), "{out}");

    let list = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["adapters", "list", "--adapter", copy_s];
        args.extend(extra);
        let mut c = crate::support::seamless_command(&args, &db);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    // The right pin, in either case: loaded.
    let pin = format!("example={}", sha.to_uppercase());
    let o = list(&["--adapter-sha256", &pin], &[]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.lines().any(|l| l.starts_with("example")), "{out}");

    // A wrong pin from the flag: refused, naming the file, both hashes and the fix.
    let pin = format!("example={wrong}");
    let o = list(&["--adapter-sha256", &pin], &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "refusing adapter component {copy_s} for exchange 'example': pinned sha256 {wrong}, but the file's sha256 is {sha}"
        )),
        "{err}"
    );
    assert!(
        err.contains("`adapters.example.sha256` (from flag --adapter-sha256)"),
        "{err}"
    );
    no_panic(&err);

    // From the environment and from the file.
    let o = list(&[], &[("SEAMLESS_ADAPTERS_EXAMPLE_SHA256", &wrong)]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("(from env SEAMLESS_ADAPTERS_EXAMPLE_SHA256)"),
        "{err}"
    );
    let cfg = dir.path().join("seamless.toml");
    std::fs::write(&cfg, format!("[adapters.example]\nsha256 = \"{wrong}\"\n")).unwrap();
    let o = list(&["--config-file", cfg.to_str().unwrap()], &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("pinned sha256 {wrong}")), "{err}");
    std::fs::write(&cfg, format!("[adapters.example]\nsha256 = \"{sha}\"\n")).unwrap();
    let o = list(&["--config-file", cfg.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", text(&o).1);

    // A built-in adapter pinned to the wrong hash is refused too (before it is compiled).
    let plan = |pin: &str| {
        seamless(
            &[
                "adapters",
                "plan",
                "--node",
                "ohlcv:binance:BTC/USDT:1m",
                "--start",
                "2024-01-01",
                "--end",
                "2024-01-02",
                "--adapter-sha256",
                pin,
            ],
            &db,
        )
    };
    let o = plan(&format!("binance={wrong}"));
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("binance_adapter.wasm for exchange 'binance': pinned sha256 000"),
        "{err}"
    );
    let builtin = hex::encode(sha2::Sha256::digest(
        std::fs::read(guest("binance_adapter")).unwrap(),
    ));
    let o = plan(&format!("binance={builtin}"));
    assert!(o.status.success(), "{}", text(&o).1);

    // A malformed pin is bad input.
    let o = list(&["--adapter-sha256", "example=abc"], &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--adapter-sha256: \"abc\" is not a SHA-256 digest of 64 hex digits"),
        "{err}"
    );
}

/// `seamless config keys` prints the key table the docs hold.
#[test]
fn config_keys_prints_the_key_table() {
    let dir = tempfile::tempdir().unwrap();
    let o = seamless(&["config", "keys"], &dir.path().join("s.db"));
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(out, seamless::config::keys::markdown_table());
    let docs = include_str!("../../docs/operations.md");
    assert!(
        docs.contains(&out),
        "docs/operations.md lacks the key table"
    );
}

/// Each command's `--help` lists its own options first, then its option groups, then the
/// global options.
#[test]
fn help_lists_the_commands_own_options_before_the_global_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    for cmd in [
        vec!["fetch"],
        vec!["backfill"],
        vec!["coverage"],
        vec!["adapters", "test"],
        vec!["adapters", "list"],
    ] {
        let mut args = cmd.clone();
        args.push("--help");
        let o = seamless(&args, &db);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{cmd:?}: {err}");
        let own = out.find("--format").expect("its own --format");
        let global = out.find("Global options:").expect("a global section");
        let config_file = out.find("--config-file").expect("--config-file");
        assert!(own < global && global < config_file, "{cmd:?}:\n{out}");
    }
}

/// One output convention: every command that prints data or a report takes `--format`.
#[tokio::test(flavor = "multi_thread")]
async fn every_report_takes_format_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let url = format!("binance={}", sim.base_url());
    let node = "ohlcv:binance:BTC/USDT:1h";
    let json = |args: &[&str]| -> serde_json::Value {
        let o = seamless(args, &db);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{args:?}: {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"))
    };
    let window = ["--start", "2024-01-01", "--end", "2024-01-02"];
    let mut args = vec![
        "backfill",
        "--node",
        node,
        "--exchange-url",
        &url,
        "--format",
        "json",
    ];
    args.extend(window);
    let v = json(&args);
    assert_eq!(v["nodes"][0]["node_id"], node);
    assert_eq!(v["nodes"][0]["candles"], 24);
    assert_eq!(v["nodes"][0]["missing"], serde_json::json!([]));
    let mut args = vec!["coverage", "--node", node, "--format", "json"];
    args.extend(window);
    assert_eq!(json(&args)["missing"], serde_json::json!([]));
    let v = json(&["adapters", "list", "--format", "json"]);
    assert!(
        v.as_array().unwrap().iter().any(|a| a["id"] == "okx"),
        "{v}"
    );
    let v = json(&["adapters", "inspect", "binance", "--format", "json"]);
    assert_eq!(v["sha256"].as_str().map(str::len), Some(64), "{v}");
    let mut args = vec![
        "adapters",
        "plan",
        "--node",
        node,
        "--exchange-url",
        &url,
        "--format",
        "json",
    ];
    args.extend(window);
    let v = json(&args);
    assert!(
        v["url"]
            .as_str()
            .unwrap()
            .starts_with("https://api.binance.com/"),
        "{v}"
    );
    assert!(
        v["sent_to"].as_str().unwrap().starts_with(&sim.base_url()),
        "{v}"
    );
    let v = json(&["config", "show", "--format", "json", "--concurrency", "3"]);
    let c = v["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "backfill.concurrency")
        .cloned()
        .unwrap();
    assert_eq!(
        (c["value"].as_i64(), c["source"].as_str()),
        (Some(3), Some("flag --concurrency"))
    );
    let v = json(&["config", "keys", "--format", "json"]);
    assert!(
        v.as_array().unwrap().iter().any(|k| k["key"] == "store"),
        "{v}"
    );
    sim.shutdown().await;
}
