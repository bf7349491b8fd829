//! `seamless run`: run a sandboxed strategy over a window (replay), and with `--live`
//! keep feeding it live candles after the history.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use seamless::domain::{Window, format_ms, parse_time};
use seamless::provider::{AdapterRegistry, FetchOptions, Strategy};
use seamless::strategy::{
    self as runner, LiveRun, OnError, RunError, RunOptions, RunReport, SignalRecord, SignalSink,
};

use super::options::DataArgs;
use super::{Failure, Global};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The strategy: a built-in name (sma-cross, donchian, spread), a .wasm component path,
    /// or a Python strategy folder (holding strategy.py; built once per change of its sources).
    pub strategy: String,
    /// Start of the run (inclusive): ISO-8601, a date, epoch s or ms, or relative (-7d).
    #[arg(long, allow_hyphen_values = true)]
    pub start: String,
    /// End of the run (exclusive), same forms; default now (with --live: until Ctrl-C).
    #[arg(long, allow_hyphen_values = true)]
    pub end: Option<String>,
    /// After the history, keep feeding the strategy live candles (WebSocket, or REST
    /// polling) until --end or Ctrl-C; signals are printed as they come.
    #[arg(long)]
    pub live: bool,
    /// Strategy setting KEY=VALUE passed to its init (repeatable).
    #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// Write the signals to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Signals as `jsonl` or `csv` (default: csv for an --output ending in .csv, else jsonl).
    #[arg(long, value_enum)]
    pub format: Option<SignalFormat>,
    /// What to do when the strategy fails on a batch: stop (default) or skip the batch.
    #[arg(long, default_value = "stop", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<OnError>()))]
    pub on_error: OnError,
    /// Most candles per on-candles call.
    #[arg(long, default_value_t = 4096)]
    pub batch: usize,
    /// How inputs are served: seamless (default), auto-backfill, fail-fast, partial-fill.
    #[arg(long, default_value = "seamless", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<Strategy>()))]
    pub availability: Strategy,
    /// Accept inputs with missing ranges (the summary marks them partial).
    #[arg(long)]
    pub partial_ok: bool,
    /// Write the run summary as JSON to FILE (`-` for stderr).
    #[arg(long, value_name = "FILE")]
    pub summary: Option<String>,
    #[command(flatten)]
    pub data: DataArgs,
}

/// Where built-in components live: the configured adapter folder, then the defaults.
fn component_dirs(g: &Global) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = g.cfg().adapters_dir.iter().cloned().collect();
    dirs.extend(AdapterRegistry::default_dirs());
    dirs
}

/// The history window, and with --live the time to stop at (if any).
fn window(a: &RunArgs, now: i64) -> Result<(Window, Option<i64>), Failure> {
    let start =
        parse_time(&a.start, now).map_err(|e| Failure::bad(anyhow::anyhow!("--start: {e}")))?;
    let end = a
        .end
        .as_deref()
        .map(|e| parse_time(e, now).map_err(|e| Failure::bad(anyhow::anyhow!("--end: {e}"))))
        .transpose()?;
    if a.live {
        // History up to now, then live until --end.
        let w = Window::new(start, end.unwrap_or(now).min(now).max(start)).map_err(Failure::bad)?;
        return Ok((w, end));
    }
    let w = Window::new(start, end.unwrap_or(now)).map_err(Failure::bad)?;
    Ok((w, None))
}

fn config(a: &RunArgs) -> Result<Vec<(String, String)>, Failure> {
    a.config
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| {
                    Failure::bad(anyhow::anyhow!(
                        "--config {kv:?} is not KEY=VALUE; write e.g. --config fast=10"
                    ))
                })
        })
        .collect()
}

impl From<RunError> for Failure {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Provider { source, node } => {
                let f = Failure::from(source);
                Failure {
                    code: f.code,
                    error: f.error.context(format!("input {node}")),
                }
            }
            RunError::Failed(f) => Failure::runtime(super::advice::strategy_failure(*f)),
            e if e.is_bad_input() => Failure::bad(e),
            e => Failure::runtime(e),
        }
    }
}

pub async fn run(g: &Global, a: &RunArgs) -> Result<(), Failure> {
    let config = config(a)?;
    if a.batch == 0 {
        return Err(Failure::bad(anyhow::anyhow!(
            "--batch 0: pass at least 1 candle per call"
        )));
    }
    let path = runner::resolve(&a.strategy, &component_dirs(g))?;
    // A Python strategy is built first (cached) and named by its folder.
    let (path, label) = if runner::python::is_python(&path) {
        let label = format!("{} (Python)", path.display());
        (super::strategy::build(g, &path)?, Some(label))
    } else {
        (path, None)
    };
    let provider = g.provider()?;
    let (window, until) = window(a, provider.now())?;
    let host = provider.registry().host();
    let strategy = match &label {
        Some(label) => std::fs::read(&path)
            .map_err(|source| seamless::components::ComponentError::Read {
                path: path.clone(),
                source,
            })
            .and_then(|wasm| host.load_strategy(label, &wasm)),
        None => host.load_strategy_file(&path),
    }
    .map_err(|e| Failure::from(RunError::from(e)))?;
    let opts = RunOptions {
        window,
        config,
        batch_size: a.batch,
        on_error: a.on_error,
        fetch: FetchOptions {
            strategy: a.availability,
            partial_ok: a.partial_ok,
            sla: g.sla()?,
            include_forming: false,
        },
        live: None,
        sink: None,
    };
    let report = if a.live {
        run_live(g, a, &provider, &strategy, opts, until).await?
    } else {
        let report = runner::run(&provider, &strategy, opts).await?;
        write_signals(a, &report.signals)?;
        report
    };
    if !g.quiet {
        eprint!("{}", summary(&report));
    }
    if let Some(dest) = &a.summary {
        let json = serde_json::to_string_pretty(&report).map_err(Failure::runtime)?;
        if dest == "-" {
            eprintln!("{json}");
        } else {
            std::fs::write(dest, json + "\n")
                .map_err(|e| Failure::bad(anyhow::anyhow!("cannot write --summary {dest}: {e}")))?;
        }
    }
    Ok(())
}

/// A live run: signals are written (and flushed) as they are produced.
async fn run_live(
    g: &Global,
    a: &RunArgs,
    provider: &seamless::provider::Provider,
    strategy: &seamless::components::StrategyComponent,
    mut opts: RunOptions,
    until: Option<i64>,
) -> Result<RunReport, Failure> {
    let csv = is_csv(a);
    let out = std::sync::Arc::new(std::sync::Mutex::new(open_output(a.output.as_deref())?));
    if csv {
        let mut o = out.lock().unwrap_or_else(|p| p.into_inner());
        writeln!(o, "{CSV_HEADER}").map_err(io_failure)?;
    }
    let sink_out = out.clone();
    opts.sink = Some(SignalSink(std::sync::Arc::new(move |r: &SignalRecord| {
        let mut o = sink_out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(o, "{}", signal_line(r, csv)).and_then(|_| o.flush());
    })));
    let live = LiveRun {
        until,
        ..LiveRun::default()
    };
    let stop = live.stop.clone();
    opts.live = Some(live);
    if !g.quiet {
        match until {
            Some(u) => eprintln!("replaying history, then live until {}", format_ms(u)),
            None => eprintln!("replaying history, then live until Ctrl-C"),
        }
    }
    let run = runner::run(provider, strategy, opts);
    tokio::pin!(run);
    let report = tokio::select! {
        r = &mut run => r?,
        _ = super::shutdown_signal() => {
            stop.store(true, std::sync::atomic::Ordering::Release);
            run.await?
        }
    };
    Ok(report)
}

const CSV_HEADER: &str = "time,time_iso,node,input,action,value,note";

/// How signals are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignalFormat {
    /// One JSON object per signal.
    Jsonl,
    /// `time,time_iso,node,input,action,value,note` with a header.
    Csv,
}

/// Signals as CSV: `--format csv`, or no `--format` and an `--output` ending in `.csv`.
fn is_csv(a: &RunArgs) -> bool {
    match a.format {
        Some(f) => f == SignalFormat::Csv,
        None => a
            .output
            .as_deref()
            .is_some_and(|p| p.extension().is_some_and(|e| e == "csv")),
    }
}

fn io_failure(e: std::io::Error) -> Failure {
    Failure::runtime(anyhow::anyhow!("writing signals: {e}"))
}

fn open_output(path: Option<&Path>) -> Result<Box<dyn Write + Send>, Failure> {
    Ok(match path {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).map_err(
            |e| Failure::bad(anyhow::anyhow!("cannot write {}: {e}", p.display())),
        )?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    })
}

/// One signal as a JSON line or a CSV row.
fn signal_line(r: &SignalRecord, csv: bool) -> String {
    let s = &r.signal;
    if csv {
        format!(
            "{},{},{},{},{},{},{}",
            s.time,
            format_ms(s.time),
            r.node,
            s.input,
            csv_field(&s.action),
            s.value,
            csv_field(&s.note)
        )
    } else {
        serde_json::json!({
            "time": s.time,
            "time_iso": format_ms(s.time),
            "node": r.node,
            "input": s.input,
            "action": s.action,
            "value": s.value,
            "note": s.note,
        })
        .to_string()
    }
}

/// Signals as JSON lines or CSV ([`is_csv`]), to `--output` or stdout.
fn write_signals(a: &RunArgs, signals: &[SignalRecord]) -> Result<(), Failure> {
    let csv = is_csv(a);
    let mut out = open_output(a.output.as_deref())?;
    if csv {
        writeln!(out, "{CSV_HEADER}").map_err(io_failure)?;
    }
    for r in signals {
        writeln!(out, "{}", signal_line(r, csv)).map_err(io_failure)?;
    }
    out.flush().map_err(io_failure)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The human summary printed on stderr.
pub fn summary(r: &RunReport) -> String {
    let mut s = format!(
        "strategy {} over [{}, {})\n",
        r.strategy,
        format_ms(r.window.start),
        format_ms(r.window.end)
    );
    for (i, input) in r.inputs.iter().enumerate() {
        s += &format!(
            "  input {i} {}: warm-up {}/{}, {} candles{}, fingerprint {}\n",
            input.node,
            input.warmup_rows,
            input.warmup_requested,
            input.rows,
            if input.partial { " (partial)" } else { "" },
            input.fingerprint
        );
    }
    let secs = r.deliver.as_secs_f64();
    let rate = if r.live_candles > 0 {
        format!(" ({} of the candles live)", r.live_candles)
    } else if secs > 0.0 {
        format!(" ({:.2} M candles/s)", r.candles as f64 / secs / 1e6)
    } else {
        String::new()
    };
    s += &format!(
        "  {} candles in {} batches -> {} signals; load {:.0} ms, strategy {:.1} ms{rate}\n",
        r.candles,
        r.batches,
        r.signals.len(),
        r.load.as_secs_f64() * 1000.0,
        secs * 1000.0
    );
    if !r.skipped.is_empty() {
        s += &format!("  skipped {} batch(es) after errors:\n", r.skipped.len());
        for k in &r.skipped {
            s += &format!(
                "    {} {}..={}: {}\n",
                k.node,
                format_ms(k.first),
                format_ms(k.last),
                k.error
            );
        }
    }
    s
}
