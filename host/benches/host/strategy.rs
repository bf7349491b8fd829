//! Strategy (`strategy`): the SMA-cross strategy over 1,000,000 candles in memory, natively
//! vs the WASM component through the host, and an end-to-end `seamless::strategy::run` over
//! one year of 1m candles from a warm SQLite store, vs the native rate.

use std::time::{Duration, Instant};

use exchange_sim::{SimConfig, Simulator};
use seamless::components::{ComponentHost, SandboxLimits};
use seamless::domain::{NodeId, RangeSet, Window};
use seamless::provider::{AdapterRegistry, Provider};
use seamless::store::AnyStore;

use crate::{DAY, MIN, guest_dir, mean, us};

const JAN1_2022: i64 = 1_640_995_200_000;
const JAN1_2023: i64 = 1_672_531_200_000;
/// Candles per `on-candles` call (the runner's default batch).
const BATCH: usize = 4096;

/// No history for the bench's strategy instances (sma-cross never asks).
struct NoHistory;

impl seamless::components::HistorySource for NoHistory {
    fn range(&mut self, _: u32, _: Window) -> Result<Vec<seamless::domain::Candle>, String> {
        Err("no history in the benchmark".into())
    }
    fn last(&mut self, _: u32, _: u32, _: i64) -> Result<Vec<seamless::domain::Candle>, String> {
        Err("no history in the benchmark".into())
    }
}

fn sma_config() -> Vec<(String, String)> {
    vec![
        ("fast".to_string(), "10".to_string()),
        ("slow".to_string(), "30".to_string()),
    ]
}

/// A fresh sma-cross instance (fast 10, slow 30).
pub(crate) fn sma_instance(
    component: &seamless::components::StrategyComponent,
) -> seamless::components::StrategyInstance {
    let mut inst = component.instantiate(Box::new(NoHistory)).unwrap();
    let inputs = inst.init(&sma_config()).unwrap().unwrap();
    assert_eq!(inputs[0].warmup, 30);
    inst
}

/// (time, action, value bits) of a signal, for exact comparisons.
type Sig = (i64, String, u64);

fn sigs_native(s: &[seamless_strategy_kit::Signal]) -> Vec<Sig> {
    s.iter()
        .map(|s| (s.time, s.action.clone(), s.value.to_bits()))
        .collect()
}

fn sigs_host(s: &[seamless::components::Signal]) -> Vec<Sig> {
    s.iter()
        .map(|s| (s.time, s.action.clone(), s.value.to_bits()))
        .collect()
}

/// Mean time of `run` over `reps` runs after one warm-up, each on a fresh state from
/// `setup`; returns it with the output of the last run.
fn timed<S, R>(
    reps: u32,
    mut setup: impl FnMut() -> S,
    mut run: impl FnMut(&mut S) -> R,
) -> (Duration, R) {
    let mut s = setup();
    let mut out = run(&mut s);
    let mut total = Duration::ZERO;
    for _ in 0..reps {
        let mut s = setup();
        let t = Instant::now();
        out = std::hint::black_box(run(&mut s));
        total += t.elapsed();
    }
    (total / reps, out)
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn mcs(r: f64) -> String {
    format!("{:.2} M candles/s", r / 1e6)
}

pub(crate) fn bench_strategy(rt: &tokio::runtime::Runtime, cached_host: &ComponentHost) {
    use seamless::store::CandleStore;
    // --- SMA cross in memory: native vs the WASM component through the host ---
    let sim = rt
        .block_on(Simulator::start(SimConfig {
            weight_budget_per_minute: 10_000_000,
            ..SimConfig::default()
        }))
        .unwrap();
    let n = 1_000_000i64;
    let candles: Vec<seamless::domain::Candle> = sim
        .truth("BTC/USDT", "1m", JAN1_2022, JAN1_2022 + n * MIN)
        .into_iter()
        .map(crate::sim_candle)
        .collect();
    assert_eq!(candles.len() as i64, n);
    let times: Vec<i64> = candles.iter().map(|c| c.open_time).collect();
    let closes: Vec<f64> = candles.iter().map(|c| c.close).collect();
    let wasm_path = guest_dir().join("sma_cross_strategy.wasm");
    let component = cached_host
        .load_strategy_file(&wasm_path)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; build the guests first with `just guests`",
                wasm_path.display()
            )
        });
    let reps = 10;

    // (a) Baseline: the same Rust, native, over the same batches.
    let (native, native_sigs) = timed(
        reps,
        || sma_cross_strategy::SmaCross::new(10, 30).unwrap(),
        |s| {
            let mut out = Vec::new();
            for (t, c) in times.chunks(BATCH).zip(closes.chunks(BATCH)) {
                s.on_candles(t, c, false, &mut out);
            }
            out
        },
    );
    // (b) The component, columns built per batch (as the runner does).
    let (wasm, wasm_sigs) = timed(
        reps,
        || sma_instance(&component),
        |inst| {
            let mut out = Vec::new();
            for b in candles.chunks(BATCH) {
                let batch = seamless::components::batch_of(0, b);
                out.extend(inst.on_candles(&batch, false).unwrap().unwrap());
            }
            out
        },
    );
    // (c) The component with the columns built beforehand.
    let prebuilt: Vec<_> = candles
        .chunks(BATCH)
        .map(|b| seamless::components::batch_of(0, b))
        .collect();
    let (wasm_pre, pre_sigs) = timed(
        reps,
        || sma_instance(&component),
        |inst| {
            let mut out = Vec::new();
            for batch in &prebuilt {
                out.extend(inst.on_candles(batch, false).unwrap().unwrap());
            }
            out
        },
    );
    // Where the time goes: the call and the copy of the columns into the guest alone
    // (input 1 does not exist: the guest refuses at once, before looking at a candle)...
    let wrong_input: Vec<_> = candles
        .chunks(BATCH)
        .map(|b| seamless::components::batch_of(1, b))
        .collect();
    let (copy_only, _) = timed(
        reps,
        || sma_instance(&component),
        |inst| {
            for batch in &wrong_input {
                assert!(inst.on_candles(batch, false).unwrap().is_err());
            }
        },
    );
    // ... and the fixed cost of one call (a one-candle batch).
    let one = seamless::components::batch_of(1, &candles[..1]);
    let mut inst = sma_instance(&component);
    let per_call = mean(20_000, || {
        inst.on_candles(&one, false).unwrap().unwrap_err();
    });
    // ... and the guest alone on a bench-local engine, with and without the epoch
    // checks the sandbox's deadlines need (columns pre-built).
    let wasm_bytes = std::fs::read(&wasm_path).unwrap();
    let bare_cols: Vec<bare::Batch> = prebuilt.iter().map(bare::batch).collect();
    let bare_time = |epoch: bool| {
        let h = bare::Host::new(&wasm_bytes, epoch, SandboxLimits::default().memory_bytes);
        let (d, signals) = timed(
            reps,
            || h.instance(),
            |inst| bare_cols.iter().map(|c| inst.on_candles(c)).sum::<usize>(),
        );
        assert_eq!(signals, native_sigs.len());
        d
    };
    let bare_epoch = bare_time(true);
    let bare_no_epoch = bare_time(false);
    let nb = prebuilt.len();
    let nat = sigs_native(&native_sigs);
    let identical = nat == sigs_host(&wasm_sigs) && nat == sigs_host(&pre_sigs);
    let first_last = |s: &[Sig]| {
        format!(
            "{}..{}",
            seamless::domain::format_ms(s[0].0),
            seamless::domain::format_ms(s[s.len() - 1].0)
        )
    };
    let (rn, rw, rp) = (
        rate(n as usize, native),
        rate(n as usize, wasm),
        rate(n as usize, wasm_pre),
    );
    println!(
        "sma-cross (fast 10, slow 30), {n} candles of BTC/USDT 1m in memory, {nb} batches of {BATCH}:"
    );
    println!(
        "  native SmaCross::on_candles   {:>18}  (baseline; {:.1} ns/candle)",
        mcs(rn),
        native.as_secs_f64() * 1e9 / n as f64
    );
    println!(
        "  wasm, columns per batch       {:>18}  {:.2}x of native time",
        mcs(rw),
        wasm.as_secs_f64() / native.as_secs_f64()
    );
    println!(
        "  wasm, columns pre-built       {:>18}  {:.2}x of native time",
        mcs(rp),
        wasm_pre.as_secs_f64() / native.as_secs_f64()
    );
    println!(
        "  split of the per-batch run: build columns {:.1} ms, call + copy in {:.1} ms ({} per call, {:.1} µs fixed), guest compute {:.1} ms (native {:.1} ms)",
        (wasm.as_secs_f64() - wasm_pre.as_secs_f64()) * 1e3,
        copy_only.as_secs_f64() * 1e3,
        us(copy_only / nb as u32),
        per_call.as_secs_f64() * 1e6,
        (wasm_pre.as_secs_f64() - copy_only.as_secs_f64()) * 1e3,
        native.as_secs_f64() * 1e3,
    );
    println!(
        "  bench-local engine, pre-built: with epoch checks {:.1} ms ({:.2}x of native), without {:.1} ms ({:.2}x of native)",
        bare_epoch.as_secs_f64() * 1e3,
        bare_epoch.as_secs_f64() / native.as_secs_f64(),
        bare_no_epoch.as_secs_f64() * 1e3,
        bare_no_epoch.as_secs_f64() / native.as_secs_f64(),
    );
    println!(
        "  signals: native {}, wasm {} ({}): {}",
        nat.len(),
        wasm_sigs.len(),
        first_last(&nat),
        if identical {
            "identical (times, actions, values bit for bit)"
        } else {
            "DIFFERENT"
        }
    );
    assert!(identical, "native and WASM signals differ");

    // (d) End to end: `seamless::strategy::run` over one year from a warm SQLite store.
    let node: NodeId = "ohlcv:binance:BTC/USDT:1m".parse().unwrap();
    let year = Window::new(JAN1_2023, JAN1_2023 + 365 * DAY).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut reg = AdapterRegistry::new(cached_host.clone(), vec![guest_dir()], vec![]);
    reg.add_override(&format!("binance={}", sim.base_url()))
        .unwrap();
    let store = AnyStore::open(&format!("sqlite:{}", dir.path().join("y.db").display())).unwrap();
    let provider = Provider::new(store, reg);
    // Warm the store (not timed): the year and a day before it (the warm-up).
    let t = Instant::now();
    let with_warmup = Window::new(year.start - DAY, year.end).unwrap();
    let out = rt
        .block_on(provider.backfill(&node, with_warmup, None))
        .unwrap();
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let warm_took = t.elapsed();
    // The store read of the same rows alone, for the split of the load phase.
    let read_window = Window::new(year.start - 30 * MIN, year.end).unwrap();
    let (read, rows) = timed(
        3,
        || (),
        |_| {
            rt.block_on(provider.store().read(&node, read_window))
                .unwrap()
                .len()
        },
    );
    // ... the fingerprint and the conformance pass over the same rows.
    let rows_read = rt
        .block_on(provider.store().read(&node, read_window))
        .unwrap();
    let (fp, _) = timed(
        3,
        || (),
        |_| seamless::provider::fingerprint(&node, read_window, &rows_read),
    );
    let (conf, _) = timed(
        3,
        || rows_read.clone(),
        |rows| {
            seamless::provider::conformance::check(
                node.timeframe,
                read_window,
                read_window.end,
                &RangeSet::new(),
                std::mem::take(rows),
            )
            .0
            .len()
        },
    );
    let run_reps = 3;
    let mut opts = seamless::strategy::RunOptions::new(year);
    opts.config = sma_config();
    let (mut whole, mut load, mut deliver) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut report = None;
    for i in 0..=run_reps {
        let t = Instant::now();
        let r = rt
            .block_on(seamless::strategy::run(&provider, &component, opts.clone()))
            .unwrap();
        let took = t.elapsed();
        if i > 0 {
            whole += took;
            load += r.load;
            deliver += r.deliver;
        }
        report = Some(r);
    }
    let (whole, load, deliver) = (whole / run_reps, load / run_reps, deliver / run_reps);
    let r = report.unwrap();
    let yc = r.candles;
    assert_eq!(yc, 525_600);
    assert_eq!(r.inputs[0].warmup_rows, 30);
    // The same year natively (30 warm-up candles, then the year).
    let truth: Vec<seamless::domain::Candle> = sim
        .truth("BTC/USDT", "1m", read_window.start, read_window.end)
        .into_iter()
        .map(crate::sim_candle)
        .collect();
    let mut s = sma_cross_strategy::SmaCross::new(10, 30).unwrap();
    let mut want = Vec::new();
    let tt: Vec<i64> = truth.iter().map(|c| c.open_time).collect();
    let cc: Vec<f64> = truth.iter().map(|c| c.close).collect();
    s.on_candles(&tt[..30], &cc[..30], true, &mut want);
    s.on_candles(&tt[30..], &cc[30..], false, &mut want);
    let got: Vec<seamless::components::Signal> =
        r.signals.iter().map(|s| s.signal.clone()).collect();
    let same = sigs_native(&want) == sigs_host(&got);
    println!(
        "end to end: `seamless::strategy::run` of sma-cross over one year of 1m ({yc} candles + 30 warm-up) from a warm SQLite store (warmed in {:.1} s, not timed), mean of {run_reps}:",
        warm_took.as_secs_f64()
    );
    println!(
        "  native, in memory             {:>18}  (baseline, line 1)",
        mcs(rn)
    );
    println!(
        "  whole run (load + deliver)    {:>18}  {:.2}x of native rate; {:.0} ms = load {:.0} ms + deliver {:.0} ms + {:.0} ms start-up",
        mcs(rate(yc, whole)),
        rate(yc, whole) / rn,
        whole.as_secs_f64() * 1e3,
        load.as_secs_f64() * 1e3,
        deliver.as_secs_f64() * 1e3,
        (whole.as_secs_f64() - load.as_secs_f64() - deliver.as_secs_f64()) * 1e3
    );
    println!(
        "  deliver only                  {:>18}  {:.2}x of native rate",
        mcs(rate(yc, deliver)),
        rate(yc, deliver) / rn
    );
    println!(
        "  load only                     {:>18}  {:.2}x of native rate; of it, measured alone: SQLite read of the {rows} rows {:.0} ms, fingerprint {:.0} ms, conformance pass {:.0} ms",
        mcs(rate(yc, load)),
        rate(yc, load) / rn,
        read.as_secs_f64() * 1e3,
        fp.as_secs_f64() * 1e3,
        conf.as_secs_f64() * 1e3
    );
    println!(
        "  signals: run {}, native over the same candles {}: {}",
        got.len(),
        want.len(),
        if same { "identical" } else { "DIFFERENT" }
    );
    assert!(same, "end-to-end signals differ from native");

    // (e) Two inputs over the same year, delivered in batches that run across inputs:
    // sma-cross over BTC/USDT and ETH/USDT (one crossover per input, the same work per
    // candle as the one-input run above: the ratio is the delivery's), and the spread.
    let eth: NodeId = "ohlcv:binance:ETH/USDT:1m".parse().unwrap();
    let out = rt
        .block_on(provider.backfill(&eth, with_warmup, None))
        .unwrap();
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    // Runs alternate between the configurations (so drift on the machine hits all of
    // them alike); each figure is the median deliver time of its runs.
    let spread = cached_host
        .load_strategy_file(&guest_dir().join("spread_strategy.wasm"))
        .unwrap();
    let configs: Vec<(
        &seamless::components::StrategyComponent,
        Vec<(String, String)>,
    )> = {
        let kv = |k: &str, v: String| (k.to_string(), v);
        vec![
            (&component, sma_config()),
            (
                &component,
                vec![
                    kv("nodes", format!("{node},{eth}")),
                    kv("fast", "10".into()),
                    kv("slow", "30".into()),
                ],
            ),
            (
                &spread,
                vec![
                    kv("a", node.to_string()),
                    kv("b", eth.to_string()),
                    kv("window", "60".into()),
                ],
            ),
        ]
    };
    let alt_reps = 7;
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); configs.len()];
    let mut reports: Vec<Option<seamless::strategy::RunReport>> = vec![None; configs.len()];
    for rep in 0..=alt_reps {
        for (k, (component, config)) in configs.iter().enumerate() {
            let mut o = seamless::strategy::RunOptions::new(year);
            o.config = config.clone();
            let r = rt
                .block_on(seamless::strategy::run(&provider, component, o))
                .unwrap();
            if rep > 0 {
                times[k].push(r.deliver);
            }
            reports[k] = Some(r);
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let spread_of = |v: &[Duration]| {
        let ms: Vec<u128> = v.iter().map(Duration::as_millis).collect();
        format!(
            "{}–{} ms",
            ms.iter().min().unwrap_or(&0),
            ms.iter().max().unwrap_or(&0)
        )
    };
    let ranges: Vec<String> = times.iter().map(|v| spread_of(v)).collect();
    let one_deliver = median(&mut times[0]);
    let sma_two_deliver = median(&mut times[1]);
    let spread_deliver = median(&mut times[2]);
    let mut reports = reports.into_iter().map(Option::unwrap);
    let one = reports.next().unwrap();
    let sma_two = reports.next().unwrap();
    let spread_run = reports.next().unwrap();
    assert_eq!(one.candles, 525_600);
    assert_eq!(sma_two.candles, 2 * 525_600);
    assert_eq!(spread_run.candles, 2 * 525_600);
    // The same two series natively (the warm-up candles before the year included).
    let series = |symbol: &str, warmup: i64| -> Vec<seamless::domain::Candle> {
        sim.truth(symbol, "1m", year.start - warmup * MIN, year.end)
            .into_iter()
            .map(crate::sim_candle)
            .collect()
    };
    // sma-cross per input, signals in the runner's merged order (time, then input).
    let mut sma_want: Vec<(i64, u32, String, u64)> = Vec::new();
    for (i, sym) in ["BTC/USDT", "ETH/USDT"].into_iter().enumerate() {
        let c = series(sym, 30);
        let tt: Vec<i64> = c.iter().map(|c| c.open_time).collect();
        let cc: Vec<f64> = c.iter().map(|c| c.close).collect();
        let mut s = sma_cross_strategy::SmaCross::new(10, 30).unwrap();
        let mut out = Vec::new();
        s.on_candles(&tt[..30], &cc[..30], true, &mut out);
        s.on_candles(&tt[30..], &cc[30..], false, &mut out);
        sma_want.extend(
            out.iter()
                .map(|s| (s.time, i as u32, s.action.clone(), s.value.to_bits())),
        );
    }
    sma_want.sort_by_key(|s| (s.0, s.1));
    let sma_got: Vec<(i64, u32, String, u64)> = sma_two
        .signals
        .iter()
        .map(|s| {
            let s = &s.signal;
            (s.time, s.input, s.action.clone(), s.value.to_bits())
        })
        .collect();
    let (btc, eth_c) = (series("BTC/USDT", 60), series("ETH/USDT", 60));
    let (native_spread, native_spread_sigs) = timed(
        run_reps,
        || spread_strategy::Spread::new(60, 2.0, 0.5).unwrap(),
        |s| {
            let mut out = Vec::new();
            for (a, b) in btc.iter().zip(&eth_c) {
                let warm = a.open_time < year.start;
                s.on_candles(0, &[a.open_time], &[a.close], warm, &mut out)
                    .unwrap();
                s.on_candles(1, &[b.open_time], &[b.close], warm, &mut out)
                    .unwrap();
            }
            out
        },
    );
    let spread_got: Vec<seamless::components::Signal> = spread_run
        .signals
        .iter()
        .map(|s| s.signal.clone())
        .collect();
    let one_rate = rate(one.candles, one_deliver);
    let two_rate = rate(sma_two.candles, sma_two_deliver);
    let spread_rate = rate(spread_run.candles, spread_deliver);
    println!(
        "two inputs (BTC/USDT + ETH/USDT 1m) over the same year, {} candles, batches across inputs, median of {alt_reps} alternating runs:",
        sma_two.candles
    );
    println!(
        "  sma-cross, one input, deliver  {:>18}  (baseline; {} guest calls; runs {})",
        mcs(one_rate),
        one.batches,
        ranges[0]
    );
    println!(
        "  sma-cross, two inputs, deliver {:>18}  {:.2}x of the one-input rate ({} guest calls; runs {}; goal >= 0.8x)",
        mcs(two_rate),
        two_rate / one_rate,
        sma_two.batches,
        ranges[1]
    );
    println!(
        "  spread, two inputs, deliver    {:>18}  {:.2}x of the one-input rate ({} guest calls); natively the spread alone runs at {} ({:.0} ms of the {:.0} ms deliver)",
        mcs(spread_rate),
        spread_rate / one_rate,
        spread_run.batches,
        mcs(rate(spread_run.candles, native_spread)),
        native_spread.as_secs_f64() * 1e3,
        spread_deliver.as_secs_f64() * 1e3
    );
    let same = sma_want == sma_got && sigs_native(&native_spread_sigs) == sigs_host(&spread_got);
    println!(
        "  signals: sma-cross run {} / native {}, spread run {} / native {}: {}",
        sma_got.len(),
        sma_want.len(),
        spread_got.len(),
        native_spread_sigs.len(),
        if same { "identical" } else { "DIFFERENT" }
    );
    assert!(same, "two-input signals differ from native");
    rt.block_on(sim.shutdown());
}

/// The sma-cross component on a bench-local engine configured like the host's (pooling
/// allocator, same memory cap), with or without epoch interruption: how much of the
/// guest's time the deadline checks cost. Deny-all WASI, no history, no call deadline.
mod bare {
    use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
    use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
    use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

    wasmtime::component::bindgen!({ world: "strategy-node", path: "../wit" });

    use self::seamless::market::{history, log, types};

    pub struct State {
        wasi: WasiCtx,
        table: ResourceTable,
    }

    impl WasiView for State {
        fn ctx(&mut self) -> WasiCtxView<'_> {
            WasiCtxView {
                ctx: &mut self.wasi,
                table: &mut self.table,
            }
        }
    }

    impl types::Host for State {}

    impl log::Host for State {
        fn log(&mut self, _: log::Level, _: String) {}
    }

    impl history::Host for State {
        fn range(&mut self, _: u32, _: history::Window) -> Result<types::CandleColumns, String> {
            Err("no history in the benchmark".into())
        }
        fn last(&mut self, _: u32, _: u32, _: i64) -> Result<types::CandleColumns, String> {
            Err("no history in the benchmark".into())
        }
    }

    pub use exports::seamless::market::strategy::Batch;
    use types::CandleColumns;

    /// An initialised sma-cross instance (fast 10, slow 30): the component and its
    /// `node` resource.
    pub struct Instance {
        store: Store<State>,
        component: StrategyNode,
        node: wasmtime::component::ResourceAny,
    }

    impl Instance {
        pub fn on_candles(&mut self, batch: &Batch) -> usize {
            self.component
                .seamless_market_strategy()
                .node()
                .call_on_candles(&mut self.store, self.node, batch, false)
                .unwrap()
                .unwrap()
                .len()
        }
    }

    pub struct Host {
        engine: Engine,
        pre: StrategyNodePre<State>,
        epoch: bool,
    }

    impl Host {
        pub fn new(wasm: &[u8], epoch: bool, memory_bytes: usize) -> Host {
            let mut config = Config::new();
            config.wasm_component_model(true);
            config.epoch_interruption(epoch);
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(16);
            pool.total_core_instances(32);
            pool.total_memories(16);
            pool.total_tables(32);
            pool.max_memory_size(memory_bytes);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
            let engine = Engine::new(&config).unwrap();
            let component = Component::new(&engine, wasm).unwrap();
            let mut linker = Linker::new(&engine);
            wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
            StrategyNode::add_to_linker::<_, HasSelf<State>>(&mut linker, |s| s).unwrap();
            let pre = StrategyNodePre::new(linker.instantiate_pre(&component).unwrap()).unwrap();
            Host { engine, pre, epoch }
        }

        pub fn instance(&self) -> Instance {
            let state = State {
                wasi: WasiCtx::builder().build(),
                table: ResourceTable::new(),
            };
            let mut store = Store::new(&self.engine, state);
            if self.epoch {
                // Checked at every function entry and loop back-edge; never reached.
                store.set_epoch_deadline(u64::MAX / 2);
                store.epoch_deadline_trap();
            }
            let component = self.pre.instantiate(&mut store).unwrap();
            let config = super::sma_config();
            let node = component
                .seamless_market_strategy()
                .node()
                .call_create(&mut store, &config)
                .unwrap()
                .unwrap();
            Instance {
                store,
                component,
                node,
            }
        }
    }

    /// The host's batch as this engine's (same record, separate bindings).
    pub fn batch(b: &::seamless::components::CandleBatch) -> Batch {
        let c = &b.candles;
        Batch {
            inputs: b.inputs.clone(),
            candles: CandleColumns {
                open_time: c.open_time.clone(),
                open: c.open.clone(),
                high: c.high.clone(),
                low: c.low.clone(),
                close: c.close.clone(),
                volume: c.volume.clone(),
            },
        }
    }
}
