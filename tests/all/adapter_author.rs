//! A third-party adapter author's path: `seamless adapters new` writes a crate outside the
//! repository that builds, passes its own tests and `adapters test`, and fetches from the
//! simulator; `adapters test`/`inspect` take a built-in id or a path, offer only the options
//! that do something for them, and report in sentences.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use exchange_sim::{SimConfig, Simulator};

use crate::support::*;

/// A cargo command for the scaffolded crate: its own target folder under the workspace's
/// (warm on a second run, cold on a fresh machine), the workspace's lock file versions.
fn cargo(dir: &Path, args: &[&str]) -> std::process::Output {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/scaffold");
    Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .expect("cargo runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scaffolded_adapter_builds_passes_the_suite_and_fetches_outside_the_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("s.db");
    let krate = tmp.path().join("acme-adapter");
    let t = Instant::now();
    let o = seamless(
        &["adapters", "new", "acme", "--dir", krate.to_str().unwrap()],
        &db,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(
        err.contains("cargo build --release --target wasm32-wasip2"),
        "{err}"
    );
    for f in [
        "Cargo.toml",
        "README.md",
        "wit/market.wit",
        "src/lib.rs",
        "tests/recorded.rs",
    ] {
        assert!(krate.join(f).is_file(), "{f} written");
    }
    // Not twice into the same folder.
    let again = seamless(
        &["adapters", "new", "acme", "--dir", krate.to_str().unwrap()],
        &db,
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again).1.contains("choose another folder with --dir"));
    // The versions the workspace builds with (cargo drops the packages it does not need).
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    std::fs::copy(lock, krate.join("Cargo.lock")).unwrap();

    let o = cargo(&krate, &["test"]);
    let (out, err) = text(&o);
    assert!(
        o.status.success(),
        "cargo test in the new crate:\n{out}{err}"
    );
    for t in [
        "every_error_kind_has_a_recorded_payload_and_maps ... ok",
        "a_recorded_page_parses_to_its_candles ... ok",
        "tests::pages_forward_until_a_short_page ... ok",
    ] {
        assert!(out.contains(t), "{t}:\n{out}");
    }
    let o = cargo(
        &krate,
        &["build", "--quiet", "--release", "--target", "wasm32-wasip2"],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "component build:\n{out}{err}");
    let wasm = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/scaffold/wasm32-wasip2/release/acme_adapter.wasm");
    assert!(wasm.is_file(), "{} built", wasm.display());
    let built = t.elapsed();

    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let url = sim.base_url();
    let w = wasm.to_str().unwrap();
    let o = seamless(
        &[
            "adapters",
            "test",
            w,
            "--simulator",
            "example",
            "--simulator-url",
            &url,
        ],
        &db,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(
        out.lines()
            .filter(|l| l.starts_with("backfill ") && l.contains(" pass "))
            .count()
            == 2,
        "both simulator backfills pass:\n{out}"
    );
    let tested = t.elapsed();
    let base = format!("acme={url}/example");
    let o = seamless(
        &[
            "fetch",
            "--adapter",
            w,
            "--exchange-url",
            &base,
            "--node",
            "ohlcv:acme:BTC/USDT:1m",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-02",
            "--format",
            "jsonl",
        ],
        &db,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(out.lines().count(), 1440, "one day of 1m");
    let node = "ohlcv:acme:BTC/USDT:1m".parse().unwrap();
    let want = truth(
        &sim,
        &node,
        seamless::domain::Window {
            start: JAN1_2024,
            end: JAN1_2024 + DAY,
        },
    );
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["open_time"].as_i64(), Some(want[0].open_time));
    assert_eq!(first["close"].as_f64(), Some(want[0].close));
    eprintln!(
        "adapters new → component built {:.1} s, → adapters test passed {:.1} s",
        built.as_secs_f64(),
        tested.as_secs_f64()
    );
    sim.shutdown().await;
}

#[test]
fn adapters_test_and_inspect_take_a_builtin_id_or_a_path() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("s.db");
    let o = seamless(&["adapters", "inspect", "binance"], &db);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("id:            binance"), "{out}");
    let o = seamless(&["adapters", "test", "kraken"], &db);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(
        out.contains("loads (component, WIT version, world)"),
        "{out}"
    );

    let o = seamless(&["adapters", "test", "acme"], &db);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("'acme' is neither a file nor a built-in adapter id (built-in: binance,")
            && err.contains("pass the path of a .wasm component or a built-in adapter id"),
        "{err}"
    );
    let o = seamless(&["adapters", "inspect", "./acme_adapter.wasm"], &db);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("./acme_adapter.wasm does not exist"), "{err}");
    // `--adapter` takes a built-in id too (it is loaded anyway).
    let o = seamless(&["adapters", "list", "--adapter", "kraken"], &db);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("kraken ")).count(),
        1,
        "{out}"
    );
    let o = seamless(&["adapters", "list", "--adapter", "acme.wasm"], &db);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("adapter file acme.wasm does not exist")
            && err.contains("or a built-in adapter id: binance,"),
        "{err}"
    );
}

#[test]
fn adapter_commands_refuse_options_that_do_nothing_for_them() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("s.db");
    for (args, flag) in [
        (
            vec!["adapters", "test", "binance", "--store", "sqlite:x.db"],
            "--store",
        ),
        (
            vec![
                "adapters",
                "test",
                "binance",
                "--exchange-url",
                "binance=http://127.0.0.1:1",
            ],
            "--exchange-url",
        ),
        (
            vec![
                "adapters",
                "inspect",
                "binance",
                "--redis",
                "redis://127.0.0.1",
            ],
            "--redis",
        ),
        (
            vec!["adapters", "new", "acme", "--concurrency", "3"],
            "--concurrency",
        ),
        (vec!["jobs", "--store", "sqlite:x.db"], "--store"),
    ] {
        let o = seamless(&args, &db);
        let err = text(&o).1;
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&format!("unexpected argument '{flag}'")),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn the_simulator_formats_offered_are_the_ones_it_speaks() {
    assert_eq!(
        seamless::suite::SIMULATOR_FORMATS,
        exchange_sim::venues::NAMES,
        "adapters test --simulator offers exactly the simulator's venues"
    );
}

/// Every check's detail is a sentence: no Rust debug text (`Ok(Err(…))`, `["…"]`).
#[tokio::test(flavor = "multi_thread")]
async fn check_details_are_sentences() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("s.db");
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let url = sim.base_url();
    let template = guest("adapter_template");
    let o = seamless(
        &[
            "adapters",
            "test",
            template.to_str().unwrap(),
            "--simulator",
            "example",
            "--simulator-url",
            &url,
            "--format",
            "json",
        ],
        &db,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let checks: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert!(checks.len() >= 9, "{out}");
    for c in &checks {
        let d = c["detail"].as_str().unwrap();
        assert!(
            !["Ok(", "Err(", "Some(", "[\"", "{ "]
                .iter()
                .any(|t| d.contains(t)),
            "{}: {d}",
            c["name"]
        );
    }
    let unsupported = checks
        .iter()
        .find(|c| c["name"] == "unsupported timeframe → typed error")
        .unwrap();
    assert_eq!(
        unsupported["detail"],
        "1s: typed error: timeframe not supported by this exchange: use one of 1m, 5m, 15m, 1h, 4h, 1d"
    );
    sim.shutdown().await;
}

#[test]
fn inspect_says_when_it_writes_the_compile_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("s.db");
    let cache = tmp.path().join("cache");
    let args = [
        "adapters",
        "inspect",
        "okx",
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    let first = text(&seamless(&args, &db)).1;
    assert!(
        first.contains("note: compiled the component once and cached it as")
            && first.contains(cache.to_str().unwrap())
            && first.contains("--cache-dir"),
        "{first}"
    );
    let second = text(&seamless(&args, &db)).1;
    assert!(!second.contains("note: compiled"), "{second}");
}
