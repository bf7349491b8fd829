//! The adapter conformance suite behind `seamless adapters test PATH.wasm`: contract
//! checks any adapter must pass (it loads; `info` is sane; every planned URL is inside
//! its declared bases; an unsupported timeframe is a typed error; garbage and
//! non-advancing pages give typed errors, never a loop or a trap), and — with a simulator
//! format — a real backfill through the host compared with the simulator's truth.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::components::{Adapter, AdapterError, ComponentError, ComponentHost, HttpResponse};
use crate::domain::{NodeId, Timeframe, Window, now_ms};

mod simulator;

pub use simulator::{SIMULATOR_FORMATS, Simulator, SimulatorError};

/// One check of the suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    /// `Some(true)` passed, `Some(false)` failed, `None` not applicable.
    pub passed: Option<bool>,
    pub detail: String,
}

impl Check {
    fn new(name: &str, passed: Option<bool>, detail: impl Into<String>) -> Self {
        Check {
            name: name.to_string(),
            passed,
            detail: detail.into(),
        }
    }
}

/// All checks passed (or were not applicable).
pub fn all_passed(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.passed != Some(false))
}

/// A symbol the adapter accepts in `plan` (spot USDT, spot USD, then a USDT-margined
/// contract).
fn symbol_for(a: &Adapter, tf: Timeframe) -> Option<NodeId> {
    let id = &a.info().id;
    for sym in ["BTC/USDT", "BTC/USD", "BTC/USDT:USDT"] {
        let node = NodeId {
            exchange: id.clone(),
            symbol: sym.to_string(),
            timeframe: tf,
        };
        let w = Window {
            start: tf.floor(now_ms()) - 10 * tf.nominal_ms(),
            end: tf.floor(now_ms()),
        };
        if let Ok(Ok(_)) = a.plan(&node, w, 10) {
            return Some(node);
        }
    }
    None
}

/// What a guest call gave, as a sentence: its answer, the typed error it returned, or the
/// failure of the call itself (a trap, a timeout).
fn outcome<T: std::fmt::Display>(r: &Result<Result<T, AdapterError>, ComponentError>) -> String {
    match r {
        Ok(Ok(answer)) => format!("no error: {answer}"),
        Ok(Err(e)) => format!("typed error: {e}"),
        Err(e) => format!("the call failed: {e}"),
    }
}

/// Run the contract checks (no network).
pub fn contract_checks(host: &ComponentHost, path: &Path) -> (Option<Adapter>, Vec<Check>) {
    let mut out = Vec::new();
    let adapter = match host.load_adapter_file(path) {
        Ok(a) => {
            out.push(Check::new(
                "loads (component, WIT version, world)",
                Some(true),
                format!(
                    "a component of world exchange-adapter, seamless:market@{}",
                    a.wit_version()
                ),
            ));
            a
        }
        Err(e) => {
            out.push(Check::new(
                "loads (component, WIT version, world)",
                Some(false),
                e.to_string(),
            ));
            return (None, out);
        }
    };
    let info = adapter.info().clone();
    let unknown: Vec<&String> = info
        .timeframes
        .iter()
        .filter(|t| t.parse::<Timeframe>().is_err())
        .collect();
    out.push(Check::new(
        "info: timeframes are unified names",
        Some(unknown.is_empty() && !info.timeframes.is_empty()),
        if unknown.is_empty() {
            info.timeframes.join(" ")
        } else {
            format!(
                "not unified names: {}",
                unknown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    ));
    let tfs: Vec<Timeframe> = info
        .timeframes
        .iter()
        .filter_map(|t| t.parse().ok())
        .collect();
    let Some(first) = tfs.first().copied() else {
        return (Some(adapter), out);
    };
    let Some(base_node) = symbol_for(&adapter, first) else {
        out.push(Check::new(
            "plan accepts BTC/USDT, BTC/USD or BTC/USDT:USDT",
            Some(false),
            "plan refused all three symbols with a typed error",
        ));
        return (Some(adapter), out);
    };
    // Every declared timeframe plans a request inside the declared bases.
    let mut bad = Vec::new();
    for tf in &tfs {
        let node = NodeId {
            timeframe: *tf,
            ..base_node.clone()
        };
        let w = Window {
            start: tf.floor(now_ms()) - 50 * tf.nominal_ms(),
            end: tf.floor(now_ms()),
        };
        let (w, _) = w.align(*tf);
        match adapter.plan(&node, w, info.max_candles_per_request) {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => bad.push(format!("{tf}: {e}")),
            Err(e) => bad.push(format!("{tf}: {e}")),
        }
    }
    out.push(Check::new(
        "plan: every timeframe, URL inside declared bases",
        Some(bad.is_empty()),
        if bad.is_empty() {
            format!(
                "planned a request inside the bases for each of {} timeframes",
                tfs.len()
            )
        } else {
            bad.join("; ")
        },
    ));
    // An unsupported timeframe is a typed error listing the supported ones.
    match Timeframe::ALL.iter().find(|t| !tfs.contains(t)) {
        None => out.push(Check::new(
            "unsupported timeframe → typed error",
            None,
            "the adapter supports every timeframe",
        )),
        Some(tf) => {
            let node = NodeId {
                timeframe: *tf,
                ..base_node.clone()
            };
            let w = Window {
                start: 0,
                end: tf.next(0),
            };
            let r = adapter.plan(&node, w, 10);
            let ok =
                matches!(&r, Ok(Err(AdapterError::UnsupportedTimeframe(list))) if !list.is_empty());
            out.push(Check::new(
                "unsupported timeframe → typed error",
                Some(ok),
                format!(
                    "{tf}: {}",
                    outcome(&r.map(|r| r.map(|_| "planned a request")))
                ),
            ));
        }
    }
    // Garbage and empty bodies: typed errors or an empty page, never a trap or a loop.
    let w = Window {
        start: first.floor(now_ms()) - 100 * first.nominal_ms(),
        end: first.floor(now_ms()),
    };
    if let Ok(Ok(req)) = adapter.plan(&base_node, w, info.max_candles_per_request) {
        for (label, body) in [
            ("garbage body", &b"<html>oops"[..]),
            ("empty JSON", &b"{}"[..]),
            ("empty list", &b"[]"[..]),
        ] {
            let resp = HttpResponse {
                status: 200,
                headers: vec![],
                body: body.to_vec(),
            };
            let r = adapter.parse(&base_node, w, &req, resp);
            let (ok, detail) = match &r {
                Ok(Err(e)) => (true, format!("typed error: {e}")),
                Ok(Ok(p)) if p.next.as_ref() == Some(&req) => {
                    (false, "next repeats the request: would loop".to_string())
                }
                Ok(Ok(p)) if !p.candles.is_empty() => {
                    (false, format!("{} candles from nothing", p.candles.len()))
                }
                Ok(Ok(_)) => (true, "empty page".to_string()),
                Err(e) => (false, e.to_string()),
            };
            out.push(Check::new(
                &format!("parse {label} → typed error, no loop"),
                Some(ok),
                detail,
            ));
        }
        let resp = HttpResponse {
            status: 500,
            headers: vec![],
            body: b"Internal Server Error".to_vec(),
        };
        let r = adapter.parse(&base_node, w, &req, resp);
        let said = r.map(|r| r.map(|p| format!("a page of {} candles", p.candles.len())));
        out.push(Check::new(
            "parse HTTP 500 → typed error",
            Some(matches!(said, Ok(Err(_)))),
            outcome(&said).chars().take(160).collect::<String>(),
        ));
    }
    (Some(adapter), out)
}

/// Backfill through the host from `sim` speaking `format` (served at `base`, see
/// [`Simulator::venue_url`]) and compare with the simulator's truth.
pub async fn simulator_checks(
    host: &ComponentHost,
    adapter: &Adapter,
    path: &Path,
    sim: &Simulator,
    base: &str,
) -> Vec<Check> {
    use crate::provider::{AdapterRegistry, FetchOptions, Provider, Strategy};
    use crate::store::AnyStore;

    let mut out = Vec::new();
    let info = adapter.info();
    let tf = info
        .timeframes
        .iter()
        .filter_map(|t| t.parse::<Timeframe>().ok())
        .find(|t| *t >= Timeframe::M1);
    let Some(tf) = tf else {
        return vec![Check::new(
            "simulator backfill",
            Some(false),
            "no timeframe of 1m or more",
        )];
    };
    let Some(node) = symbol_for(adapter, tf) else {
        return vec![Check::new(
            "simulator backfill",
            Some(false),
            "no usable symbol",
        )];
    };
    let dir = std::env::temp_dir().join(format!(
        "seamless-adapter-test-{}-{}",
        std::process::id(),
        now_ms()
    ));
    let _ = std::fs::create_dir_all(&dir);
    let run = async {
        let mut reg = AdapterRegistry::new(host.clone(), vec![], vec![path.to_path_buf()]);
        reg.allow_shadowing(true);
        reg.add_override(&format!("{}={base}", info.id))
            .map_err(|e| e.to_string())?;
        let store = AnyStore::open(&format!("sqlite:{}", dir.join("t.db").display()))
            .map_err(|e| e.to_string())?;
        let provider = Provider::new(store, reg).with_rate_limit(
            &info.id,
            crate::provider::LimitOverride {
                disabled: Some(true),
                ..Default::default()
            },
        );
        let max = info.max_candles_per_request as i64;
        // Recent: what every exchange serves. Deep: several pages in 2024 (an exchange
        // that serves no history there must say so with `unavailable-before`).
        let now = sim.now_ms().await.map_err(|e| e.to_string())?;
        let end = tf.floor(now) - tf.nominal_ms();
        let recent = Window {
            start: end - (max.min(600) - 10) * tf.nominal_ms(),
            end,
        };
        let deep_start = tf.ceil(1_704_067_200_000);
        let deep = Window {
            start: deep_start,
            end: deep_start + (2 * max + max / 2) * tf.nominal_ms(),
        };
        let mut checks = Vec::new();
        for (label, w) in [("recent window", recent), ("deep multi-page window", deep)] {
            let (w, _) = w.align(tf);
            let opts = FetchOptions {
                strategy: Strategy::AutoBackfill,
                ..FetchOptions::default()
            };
            let r = tokio::time::timeout(Duration::from_secs(60), provider.fetch(&node, w, &opts))
                .await;
            let name = format!("backfill {label} ({node}) equals the simulator's truth");
            let check = match r {
                Err(_) => Check::new(&name, Some(false), "did not finish in 60 s (a loop?)"),
                Ok(Err(crate::provider::ProviderError::Exchange {
                    error: AdapterError::UnavailableBefore(t),
                    ..
                })) => Check::new(
                    &name,
                    None,
                    format!(
                        "exchange serves no data before {}",
                        crate::domain::format_ms(t)
                    ),
                ),
                // The endpoint cannot reach that far back, and said so (not short data).
                Ok(Err(crate::provider::ProviderError::Incomplete { cause: Some(c), .. }))
                    if c.contains("serves no data before") =>
                {
                    Check::new(&name, None, c)
                }
                Ok(Err(e)) => Check::new(&name, Some(false), e.to_string()),
                Ok(Ok(got)) => {
                    // Contracts (`BTC/USDT:USDT`) follow the same simulated market.
                    let spot = node.symbol.split(':').next().unwrap_or(&node.symbol);
                    let truth = sim
                        .truth(spot, tf.as_str(), w.start, w.end)
                        .await
                        .map_err(|e| e.to_string())?;
                    let sane = got.candles.iter().all(|c| c.is_sane());
                    if got.candles == truth && sane {
                        Check::new(
                            &name,
                            Some(true),
                            format!(
                                "{} candles in {} requests",
                                got.candles.len(),
                                got.metadata.requests
                            ),
                        )
                    } else {
                        let first_diff = got.candles.iter().zip(&truth).position(|(a, b)| a != b);
                        Check::new(
                            &name,
                            Some(false),
                            format!(
                                "got {} candles, truth {}; first difference at row {first_diff:?}; sane: {sane}",
                                got.candles.len(),
                                truth.len()
                            ),
                        )
                    }
                }
            };
            checks.push(check);
        }
        Ok::<_, String>(checks)
    };
    match run.await {
        Ok(c) => out.extend(c),
        Err(e) => out.push(Check::new("simulator backfill", Some(false), e)),
    }
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// Why the suite could not run at all.
pub fn engine_error(e: ComponentError) -> Vec<Check> {
    vec![Check::new("component engine", Some(false), e.to_string())]
}
