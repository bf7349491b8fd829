//! Python strategies (`python`): the Python SMA cross (guest-strategies/python/sma_cross,
//! built with componentize-py) next to the Rust sma-cross component in the same run: the
//! build, the first load (Cranelift compile) and a cached start (load from the compile
//! cache + instantiate + `node.create`), and candles/s over the same candles in memory.

use std::time::{Duration, Instant};

use exchange_sim::{SimConfig, Simulator};
use seamless::components::{ComponentHost, SandboxLimits, StrategyComponent, batch_of};
use seamless::domain::{Candle, Window};
use seamless::strategy::python;

use crate::{MIN, guest_dir};

const JAN1_2022: i64 = 1_640_995_200_000;
const BATCH: usize = 4096;

struct NoHistory;

impl seamless::components::HistorySource for NoHistory {
    fn range(&mut self, _: u32, _: Window) -> Result<Vec<Candle>, String> {
        Err("no history in the benchmark".into())
    }
    fn last(&mut self, _: u32, _: u32, _: i64) -> Result<Vec<Candle>, String> {
        Err("no history in the benchmark".into())
    }
}

fn config() -> Vec<(String, String)> {
    vec![
        ("fast".to_string(), "10".to_string()),
        ("slow".to_string(), "30".to_string()),
    ]
}

/// Load from `host`'s cache, instantiate and configure: what a run pays before its
/// first candle.
fn start(host: &ComponentHost, label: &str, wasm: &[u8]) -> (Duration, StrategyComponent) {
    let t = Instant::now();
    let c = host.load_strategy(label, wasm).unwrap();
    let mut inst = c.instantiate(Box::new(NoHistory)).unwrap();
    inst.init(&config()).unwrap().unwrap();
    (t.elapsed(), c)
}

/// Candles/s of `c` over `candles` in batches, and the signals (time, action, value bits).
fn replay(c: &StrategyComponent, candles: &[Candle]) -> (f64, Vec<(i64, String, u64)>) {
    let mut inst = c.instantiate(Box::new(NoHistory)).unwrap();
    inst.init(&config()).unwrap().unwrap();
    let t = Instant::now();
    let mut out = Vec::new();
    for b in candles.chunks(BATCH) {
        out.extend(inst.on_candles(&batch_of(0, b), false).unwrap().unwrap());
    }
    let rate = candles.len() as f64 / t.elapsed().as_secs_f64();
    let sigs = out
        .iter()
        .map(|s| (s.time, s.action.clone(), s.value.to_bits()))
        .collect();
    (rate, sigs)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

pub(crate) fn bench_python(rt: &tokio::runtime::Runtime) {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let folder = repo.join("guest-strategies/python/sma_cross");
    let build_cache = tempfile::tempdir().unwrap();
    let tools = python::default_tools_dir();
    // The tool itself is installed outside the timing (once per machine).
    python::componentize_py(&tools).unwrap();
    let built = python::build(&folder, build_cache.path(), &tools).unwrap();
    assert!(built.fresh);
    let py_wasm = std::fs::read(&built.wasm).unwrap();
    let rust_wasm = std::fs::read(guest_dir().join("sma_cross_strategy.wasm")).unwrap();

    let limits = SandboxLimits::default();
    let cache = tempfile::tempdir().unwrap();
    let host = || ComponentHost::new(limits, Some(cache.path().to_path_buf())).unwrap();
    // First loads: an empty compile cache (Cranelift compiles the component).
    let (py_cold, _) = start(&host(), "sma_cross (Python)", &py_wasm);
    let (rust_cold, _) = start(&host(), "sma-cross", &rust_wasm);
    // Cached starts, each on a new host (as a new `seamless run` process), median of 7.
    let reps = 7;
    let py_cached = median(
        (0..reps)
            .map(|_| start(&host(), "py", &py_wasm).0)
            .collect(),
    );
    let rust_cached = median(
        (0..reps)
            .map(|_| start(&host(), "rust", &rust_wasm).0)
            .collect(),
    );
    // Throughput over the same 100,000 candles.
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    let n = 100_000i64;
    let candles: Vec<Candle> = sim
        .truth("BTC/USDT", "1m", JAN1_2022, JAN1_2022 + n * MIN)
        .into_iter()
        .map(crate::sim_candle)
        .collect();
    rt.block_on(sim.shutdown());
    let (_, py_c) = start(&host(), "py", &py_wasm);
    let (_, rust_c) = start(&host(), "rust", &rust_wasm);
    let (rust_rate, rust_sigs) = replay(&rust_c, &candles);
    let (py_rate, py_sigs) = replay(&py_c, &candles);
    println!(
        "python: the SMA cross (fast 10, slow 30) as a Python component (componentize-py {}, {:.1} MB) and as the Rust one ({:.2} MB):",
        python::COMPONENTIZE_PY,
        py_wasm.len() as f64 / 1e6,
        rust_wasm.len() as f64 / 1e6
    );
    println!(
        "  build (componentize-py, tool installed)  {}",
        ms(built.took)
    );
    println!(
        "  first load (compile) + start            Rust {:>10}   Python {:>10}  ({:.1}x)",
        ms(rust_cold),
        ms(py_cold),
        py_cold.as_secs_f64() / rust_cold.as_secs_f64()
    );
    println!(
        "  cached start (load + instantiate + init) Rust {:>10}   Python {:>10}  ({:.1}x; goal for Python < 100 ms)",
        ms(rust_cached),
        ms(py_cached),
        py_cached.as_secs_f64() / rust_cached.as_secs_f64()
    );
    println!(
        "  {n} candles in batches of {BATCH}       Rust {:>7.2} M/s   Python {:>7.3} M/s  ({:.3}x of Rust)",
        rust_rate / 1e6,
        py_rate / 1e6,
        py_rate / rust_rate
    );
    println!(
        "  signals: Rust {}, Python {}: {}",
        rust_sigs.len(),
        py_sigs.len(),
        if rust_sigs == py_sigs {
            "identical"
        } else {
            "DIFFERENT"
        }
    );
    assert_eq!(rust_sigs, py_sigs, "Python and Rust signals differ");
}
