//! The sandbox holds against misbehaving guests: each misbehaviour becomes a typed error
//! that names the component and the call, quickly, and the next call works.

use std::time::{Duration, Instant};

use seamless::components::{Adapter, ComponentError, HttpRequest, HttpResponse, TrapKind};
use seamless::domain::{NodeId, Timeframe, Window};

use crate::support::{JAN1_2024, MIN, guest, host};

fn chaos(memory_mb: usize, timeout_ms: u64) -> Adapter {
    host(memory_mb, timeout_ms)
        .load_adapter_file(&guest("chaos_guest"))
        .expect("loading the chaos adapter")
}

fn node(symbol: &str) -> NodeId {
    NodeId {
        exchange: "chaos".into(),
        symbol: symbol.into(),
        timeframe: Timeframe::M1,
    }
}

const W: Window = Window {
    start: JAN1_2024,
    end: JAN1_2024 + 10 * MIN,
};

/// A normal plan + parse round trip works (used after every failure).
fn assert_healthy(a: &Adapter) {
    let n = node("BTC/USDT");
    let req = a
        .plan(&n, W, 1000)
        .expect("plan after a failure")
        .expect("guest plan");
    assert!(req.url.starts_with("http://chaos.invalid/"), "{}", req.url);
    let resp = HttpResponse {
        status: 200,
        headers: vec![],
        body: b"[]".to_vec(),
    };
    let page = a
        .parse(&n, W, &req, resp)
        .expect("parse after a failure")
        .expect("guest parse");
    assert_eq!(page.candles.len(), 10);
}

fn parse_with(a: &Adapter, symbol: &str) -> Result<(), ComponentError> {
    let req = HttpRequest {
        method: "GET".into(),
        url: "http://chaos.invalid/klines".into(),
        headers: vec![],
        body: None,
    };
    let resp = HttpResponse {
        status: 200,
        headers: vec![],
        body: b"[]".to_vec(),
    };
    a.parse(&node(symbol), W, &req, resp).map(|_| ())
}

#[test]
fn infinite_loop_hits_the_deadline() {
    let a = chaos(64, 200);
    let t = Instant::now();
    let err = a
        .plan(&node("LOOP"), W, 1000)
        .err()
        .expect("a looping guest must fail");
    let took = t.elapsed();
    match &err {
        ComponentError::Trap {
            component,
            call,
            kind: TrapKind::Timeout,
            ..
        } => {
            assert!(component.contains("chaos"), "{err}");
            assert_eq!(*call, "plan");
        }
        other => panic!("expected a timeout trap, got {other}"),
    }
    assert!(
        took < Duration::from_secs(2),
        "stopped after {took:?} for a 200 ms budget"
    );
    assert!(err.to_string().contains("deadline exceeded"), "{err}");
    assert_healthy(&a);
}

#[test]
fn one_gib_allocation_hits_the_memory_cap() {
    let a = chaos(64, 2000);
    let err = a
        .plan(&node("OOM"), W, 1000)
        .err()
        .expect("a 1 GiB allocation must fail");
    assert!(
        matches!(
            err,
            ComponentError::Trap {
                kind: TrapKind::OutOfMemory,
                call: "plan",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("memory limit exceeded"), "{err}");
    assert_healthy(&a);
}

#[test]
fn panic_is_reported_with_its_message() {
    let a = chaos(64, 2000);
    let err = a
        .plan(&node("PANIC"), W, 1000)
        .err()
        .expect("a panic must fail");
    assert!(
        matches!(
            err,
            ComponentError::Trap {
                kind: TrapKind::Panic,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("deliberate panic"), "{err}");
    assert_healthy(&a);
}

#[test]
fn url_outside_declared_bases_is_refused() {
    let a = chaos(64, 2000);
    let err = a
        .plan(&node("BADURL"), W, 1000)
        .err()
        .expect("a foreign URL must be refused");
    assert!(
        matches!(err, ComponentError::Contract { call: "plan", .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("evil.invalid") && msg.contains("outside the declared base URLs"),
        "{msg}"
    );
    assert_healthy(&a);
}

#[test]
fn nan_prices_are_refused() {
    let a = chaos(64, 2000);
    let err = parse_with(&a, "NAN").err().expect("NaN must be refused");
    assert!(
        matches!(err, ComponentError::Contract { call: "parse", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("non-finite"), "{err}");
    assert_healthy(&a);
}

#[test]
fn unordered_and_off_grid_candles_are_refused() {
    let a = chaos(64, 2000);
    let err = parse_with(&a, "UNORDERED")
        .err()
        .expect("descending candles must be refused");
    assert!(err.to_string().contains("ascending"), "{err}");
    let err = parse_with(&a, "OFFGRID")
        .err()
        .expect("off-grid candles must be refused");
    assert!(err.to_string().contains("not on the 1m grid"), "{err}");
    assert_healthy(&a);
}

#[test]
fn ten_million_candles_are_refused_quickly() {
    // With the default 256 MiB cap the guest cannot even build the list (480 MB).
    let a = chaos(256, 5000);
    let t = Instant::now();
    let err = parse_with(&a, "HUGE")
        .err()
        .expect("10 M candles must be refused");
    assert!(
        matches!(
            err,
            ComponentError::Trap {
                kind: TrapKind::OutOfMemory,
                ..
            }
        ),
        "{err}"
    );
    // With room to build it, wasmtime refuses to copy that much out of the guest (and
    // were it copied, the host would refuse a page over max-candles-per-request).
    let roomy = chaos(1024, 10_000);
    let err = parse_with(&roomy, "HUGE")
        .err()
        .expect("10 M candles must be refused");
    assert!(
        matches!(
            err,
            ComponentError::Trap {
                kind: TrapKind::TooMuchData,
                call: "parse",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("result too large"), "{err}");
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );
    assert_healthy(&a);
    assert_healthy(&roomy);
}

#[test]
fn bytes_that_are_not_a_component_are_refused() {
    let h = host(64, 1000);
    let err = h
        .load_adapter("junk.wasm", b"this is not wasm")
        .err()
        .expect("junk must be refused");
    assert!(matches!(err, ComponentError::NotAComponent { .. }), "{err}");
    // A core module is not a component either.
    let err = h
        .load_adapter("core.wasm", b"\0asm\x01\0\0\0")
        .err()
        .expect("a core module must be refused");
    assert!(
        err.to_string().contains("not a WebAssembly component"),
        "{err}"
    );
}

#[test]
fn a_component_for_the_previous_wit_version_is_refused_naming_both_and_the_fix() {
    let h = host(64, 1000);
    let path = guest("previous_wit_guest");
    let as_adapter = h.load_adapter_file(&path).err().expect("must be refused");
    let as_strategy = h.load_strategy_file(&path).err().expect("must be refused");
    for err in [as_adapter, as_strategy] {
        let msg = err.to_string();
        assert!(
            matches!(err, ComponentError::IncompatibleWit { .. }),
            "{msg}"
        );
        assert!(
            msg.contains("seamless:market@0.1.0")
                && msg.contains("seamless:market@0.2.0")
                && msg.contains("rebuild the component against wit/"),
            "{msg}"
        );
    }
}

#[test]
fn compiled_components_are_cached_on_disk() {
    let h = host(64, 1000);
    let wasm = std::fs::read(guest("binance_adapter")).unwrap();
    let path = h.cache().path_for(&wasm).expect("a cache dir is set");
    h.load_adapter("binance", &wasm).unwrap();
    assert!(path.is_file(), "{} was not written", path.display());
    let t = Instant::now();
    let a = h.load_adapter("binance", &wasm).unwrap();
    assert_eq!(a.info().id, "binance");
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "cached load took {:?}",
        t.elapsed()
    );
}
