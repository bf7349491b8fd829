//! `seamless adapters`: list the built-in adapters, inspect a component (with the SHA-256 a
//! pin holds), run the conformance suite on one, run an adapter's `plan` or `parse` by
//! hand, and write a new adapter crate (`adapters new`, see [`super::scaffold`]).

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use seamless::components::{Adapter, ComponentCache, ComponentError, HttpResponse, WIT_PACKAGE};
use seamless::provider::Exchange;
use seamless::suite::SIMULATOR_FORMATS;

use super::options::{AdapterArgs, SandboxArgs, Settings, settings};
use super::output::{Format, ReportFormat, print_json, write_candles};
use super::scaffold::NewArgs;
use super::select::{SeriesArgs, WindowArgs};
use super::{Failure, Global};

#[derive(Debug, Subcommand)]
pub enum AdaptersCommand {
    /// List the built-in adapters (and any given with --adapter).
    List {
        /// `table` or `json`.
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
        #[command(flatten)]
        adapter: AdapterArgs,
    },
    /// Load a component and describe it (compiling it into the compile cache if needed).
    Inspect {
        /// A built-in adapter id (e.g. binance) or the path of a .wasm component.
        #[arg(value_name = "ID|PATH")]
        target: String,
        /// `table` or `json`.
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
    /// Run the conformance suite against a component: contract checks, and with
    /// --simulator a backfill from the exchange simulator compared with its truth.
    Test {
        /// A built-in adapter id (e.g. binance) or the path of a .wasm component.
        #[arg(value_name = "ID|PATH")]
        target: String,
        /// The exchange API the simulator should speak for the backfill checks (`example` is
        /// the template's made-up exchange). Starts the `exchange-sim` program found next to
        /// seamless or on PATH, unless --simulator-url names a running one.
        #[arg(long, value_name = "FORMAT", value_parser = clap::builder::PossibleValuesParser::new(SIMULATOR_FORMATS))]
        simulator: Option<String>,
        /// URL of a running exchange simulator (http://127.0.0.1:PORT) for --simulator.
        #[arg(long, requires = "simulator", value_name = "URL")]
        simulator_url: Option<String>,
        /// `table` or `json`.
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
    /// Print the HTTP request an adapter would send first for a window.
    Plan(PlanArgs),
    /// Parse a response body (stdin) with an adapter and print the candles.
    Parse(ParseArgs),
    /// Write a new adapter crate (outside this repository) that builds as is: Cargo.toml,
    /// src/ from the template, wit/, recorded payloads with a test, and a README.
    New(NewArgs),
}

impl AdaptersCommand {
    /// What this command's options ask for.
    pub fn settings(&self) -> Settings {
        match self {
            AdaptersCommand::List { adapter, .. } => settings(&[adapter]),
            AdaptersCommand::Inspect { sandbox, .. } | AdaptersCommand::Test { sandbox, .. } => {
                settings(&[sandbox])
            }
            AdaptersCommand::Plan(a) => settings(&[&a.adapter]),
            AdaptersCommand::Parse(a) => settings(&[&a.adapter]),
            AdaptersCommand::New(_) => Settings::default(),
        }
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    series: SeriesArgs,
    #[command(flatten)]
    window: WindowArgs,
    /// Candles per page (default: the adapter's maximum).
    #[arg(long)]
    limit: Option<u32>,
    /// `table` (the request as HTTP text) or `json`.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    #[command(flatten)]
    adapter: AdapterArgs,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    #[command(flatten)]
    series: SeriesArgs,
    #[command(flatten)]
    window: WindowArgs,
    /// HTTP status of the response.
    #[arg(long, default_value_t = 200)]
    status: u16,
    /// Response header NAME:VALUE (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// Candles per page the request asked for (default: the adapter's maximum).
    #[arg(long)]
    limit: Option<u32>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[command(flatten)]
    adapter: AdapterArgs,
}

pub async fn run(g: &Global, cmd: &AdaptersCommand) -> Result<(), Failure> {
    match cmd {
        AdaptersCommand::List { format, .. } => list(g, *format),
        AdaptersCommand::Inspect { target, format, .. } => inspect(g, target, *format),
        AdaptersCommand::Test {
            target,
            simulator,
            simulator_url,
            format,
            ..
        } => {
            let sim = simulator
                .as_deref()
                .map(|format| (format, simulator_url.as_deref()));
            test(g, target, sim, *format).await
        }
        AdaptersCommand::Plan(a) => plan(g, a),
        AdaptersCommand::Parse(a) => parse(g, a),
        AdaptersCommand::New(a) => super::scaffold::run(g, a),
    }
}

/// The component file `target` names: an existing file, or a built-in adapter's id.
fn component_file(g: &Global, target: &str) -> Result<PathBuf, Failure> {
    let path = Path::new(target);
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    let builtins = g.registry()?.builtin_files();
    if let Some(p) = builtins.get(target) {
        return Ok(p.clone());
    }
    let ids: Vec<&str> = builtins.keys().map(String::as_str).collect();
    let known = if ids.is_empty() {
        "no built-in adapters found".to_string()
    } else {
        format!("built-in: {}", ids.join(", "))
    };
    let what = if target.ends_with(".wasm") || target.contains('/') {
        format!("{target} does not exist")
    } else {
        format!("'{target}' is neither a file nor a built-in adapter id ({known})")
    };
    Err(Failure::bad(anyhow::anyhow!(
        "{what}: pass the path of a .wasm component or a built-in adapter id"
    )))
}

fn describe(a: &Adapter, source: &str, sha256: &str) -> String {
    let i = a.info();
    let rl = &i.rate_limit;
    format!(
        "id:            {}\nname:          {}\nversion:       {}\nwit:           {WIT_PACKAGE}@{}\nsource:        {source}\nsha256:        {sha256}\ntimeframes:    {}\nlive:          {}\nmax/request:   {}\nbase URLs:     {}\nrate limit:    {} weight/min, {} per request{}\n",
        i.id,
        i.name,
        i.version,
        a.wit_version(),
        i.timeframes.join(" "),
        live_summary(i),
        i.max_candles_per_request,
        i.base_urls.join(" "),
        rl.budget_per_minute,
        rl.request_weight,
        rl.used_weight_header
            .as_deref()
            .map(|h| format!(", header {h}"))
            .unwrap_or_default(),
    )
}

/// How the adapter follows each timeframe live: over its WebSocket or by REST polling.
fn live_summary(i: &seamless::components::AdapterInfo) -> String {
    if i.live_timeframes.is_empty() {
        "REST polling".to_string()
    } else if i.timeframes.iter().all(|t| i.live_timeframes.contains(t)) {
        "WebSocket".to_string()
    } else {
        format!(
            "WebSocket {}; REST polling for the others",
            i.live_timeframes.join(" ")
        )
    }
}

fn registry_failure(e: seamless::provider::RegistryError) -> Failure {
    if e.is_bad_input() {
        Failure::bad(e)
    } else {
        Failure::runtime(e)
    }
}

fn list(g: &Global, format: ReportFormat) -> Result<(), Failure> {
    let reg = g.registry()?;
    let files = reg.builtin_files();
    let mut exchanges = Vec::new();
    for loaded in reg.load_all().map_err(registry_failure)? {
        match loaded {
            Ok(e) => exchanges.push(e),
            Err(e) => eprintln!("warning: skipping an adapter that cannot be loaded: {e}"),
        }
    }
    if format == ReportFormat::Json {
        let v: Vec<_> = exchanges.iter().map(|e| info_json(&e.adapter)).collect();
        return print_json(&v);
    }
    println!(
        "{:<10} {:<8} {:<6} {:<44} {:<14} {:<28} SOURCE",
        "ID", "VERSION", "MAX", "TIMEFRAMES", "LIVE", "BASE URLS"
    );
    for e in &exchanges {
        let i = e.adapter.info();
        let source = files
            .get(&i.id)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| e.adapter.label().to_string());
        let live = match live_summary(i).as_str() {
            "REST polling" => "poll".to_string(),
            "WebSocket" => "websocket".to_string(),
            _ => format!("websocket:{}", i.live_timeframes.join(",")),
        };
        println!(
            "{:<10} {:<8} {:<6} {:<44} {:<14} {:<28} {}",
            i.id,
            i.version,
            i.max_candles_per_request,
            i.timeframes.join(","),
            live,
            i.base_urls.join(","),
            source
        );
    }
    Ok(())
}

/// An adapter's `info` with its WIT version, as JSON.
fn info_json(a: &Adapter) -> serde_json::Value {
    let mut o = serde_json::to_value(a.info()).unwrap_or_default();
    o["wit_version"] = a.wit_version().into();
    o
}

fn component_failure(e: ComponentError) -> Failure {
    if e.is_bad_input() {
        Failure::bad(e)
    } else {
        Failure::runtime(e)
    }
}

/// Describe a component, with the SHA-256 a pin (`adapters.<id>.sha256`) would hold. Says on
/// stderr when loading it wrote a compiled copy into the compile cache.
fn inspect(g: &Global, target: &str, format: ReportFormat) -> Result<(), Failure> {
    let path = component_file(g, target)?;
    let wasm = std::fs::read(&path).map_err(|source| {
        component_failure(ComponentError::Read {
            path: path.clone(),
            source,
        })
    })?;
    let host = g.component_host()?;
    let cached = host.cache().path_for(&wasm);
    let was_cached = cached.as_deref().is_some_and(Path::is_file);
    let label = path.display().to_string();
    let adapter = host
        .load_adapter(&label, &wasm)
        .map_err(component_failure)?;
    let sha256 = ComponentCache::sha256_hex(&wasm);
    match format {
        ReportFormat::Table => print!("{}", describe(&adapter, &label, &sha256)),
        ReportFormat::Json => {
            let mut v = info_json(&adapter);
            v["source"] = label.clone().into();
            v["sha256"] = sha256.into();
            print_json(&v)?;
        }
    }
    if let Some(c) = cached.filter(|c| !was_cached && c.is_file() && !g.quiet) {
        eprintln!(
            "note: compiled the component once and cached it as {} (later loads skip compiling; \
             --cache-dir or SEAMLESS_CACHE_DIR chooses the folder)",
            c.display()
        );
    }
    Ok(())
}

/// `simulator`: the format and, if given, the URL of a running simulator.
async fn test(
    g: &Global,
    target: &str,
    simulator: Option<(&str, Option<&str>)>,
    format: ReportFormat,
) -> Result<(), Failure> {
    let path = component_file(g, target)?;
    let host = g.component_host()?;
    let (adapter, mut checks) = seamless::suite::contract_checks(&host, &path);
    if let (Some(a), Some((sim_format, url))) = (&adapter, simulator) {
        let sim = start_simulator(url).await?;
        let base = match sim.venue_url(sim_format).await {
            Ok(b) => b,
            Err(e) => {
                sim.stop().await;
                return Err(simulator_failure(e));
            }
        };
        checks.extend(seamless::suite::simulator_checks(&host, a, &path, &sim, &base).await);
        sim.stop().await;
    }
    match format {
        ReportFormat::Json => print_json(&checks)?,
        ReportFormat::Table => {
            println!("{:<72} {:<6} DETAIL", "CHECK", "RESULT");
            for c in &checks {
                let r = match c.passed {
                    Some(true) => "pass",
                    Some(false) => "FAIL",
                    None => "n/a",
                };
                println!("{:<72} {:<6} {}", c.name, r, c.detail);
            }
        }
    }
    if seamless::suite::all_passed(&checks) {
        Ok(())
    } else {
        let failed = checks.iter().filter(|c| c.passed == Some(false)).count();
        Err(Failure::runtime(anyhow::anyhow!(
            "{failed} check(s) failed for {}",
            path.display()
        )))
    }
}

/// The simulator for `adapters test --simulator`: the running one at `url`, or a spawned
/// `exchange-sim`.
async fn start_simulator(url: Option<&str>) -> Result<seamless::suite::Simulator, Failure> {
    use seamless::suite::Simulator;
    match url {
        Some(u) => Simulator::connect(u).map_err(simulator_failure),
        None => Simulator::spawn().await.map_err(simulator_failure),
    }
}

/// A simulator error with the flag advice that fixes it.
fn simulator_failure(e: seamless::suite::SimulatorError) -> Failure {
    use seamless::suite::SimulatorError as E;
    let advice = match &e {
        E::NotFound { .. } => {
            "build it next to seamless (`cargo build --release -p exchange-sim`, or \
             `just demo`), put it on PATH, or pass --simulator-url of a running simulator"
        }
        E::UnknownFormat { .. } => "pass one of those to --simulator",
        E::Spawn { .. } | E::NoAddress { .. } => "pass --simulator-url of a running simulator",
        E::Http { .. } => "check --simulator-url (an exchange-sim, e.g. http://127.0.0.1:PORT)",
    };
    match e {
        E::Http { .. } | E::Spawn { .. } | E::NoAddress { .. } => {
            Failure::runtime(anyhow::anyhow!("{e}: {advice}"))
        }
        _ => Failure::bad(anyhow::anyhow!("{e}: {advice}")),
    }
}

fn exchange_for(
    g: &Global,
    series: &SeriesArgs,
) -> Result<(seamless::domain::NodeId, Exchange), Failure> {
    let node = series.node()?;
    let reg = g.registry()?;
    let ex = reg.get(&node.exchange).map_err(registry_failure)?;
    Ok((node, ex))
}

fn plan(g: &Global, a: &PlanArgs) -> Result<(), Failure> {
    let (node, ex) = exchange_for(g, &a.series)?;
    let window = a.window.window(&node, g.quiet)?;
    let limit = a.limit.unwrap_or(ex.adapter.info().max_candles_per_request);
    let req = ex
        .adapter
        .plan(&node, window, limit)
        .map_err(Failure::runtime)?
        .map_err(Failure::bad)?;
    let sent = ex.bases.rewrite(&req.url);
    if a.format == ReportFormat::Json {
        return print_json(&serde_json::json!({
            "method": req.method,
            "url": req.url,
            "headers": req.headers,
            "sent_to": sent,
        }));
    }
    println!("{} {}", req.method, req.url);
    for (k, v) in &req.headers {
        println!("{k}: {v}");
    }
    if sent != req.url {
        println!("# sent to: {sent}");
    }
    Ok(())
}

fn parse(g: &Global, a: &ParseArgs) -> Result<(), Failure> {
    let (node, ex) = exchange_for(g, &a.series)?;
    let window = a.window.window(&node, g.quiet)?;
    let limit = a.limit.unwrap_or(ex.adapter.info().max_candles_per_request);
    let req = ex
        .adapter
        .plan(&node, window, limit)
        .map_err(Failure::runtime)?
        .map_err(Failure::bad)?;
    let mut body = Vec::new();
    std::io::stdin()
        .read_to_end(&mut body)
        .map_err(Failure::runtime)?;
    let mut headers = Vec::new();
    for h in &a.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| Failure::bad(anyhow::anyhow!("bad --header '{h}': use NAME:VALUE")))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let resp = HttpResponse {
        status: a.status,
        headers,
        body,
    };
    let page = ex
        .adapter
        .parse(&node, window, &req, resp)
        .map_err(Failure::runtime)?
        .map_err(Failure::runtime)?;
    write_candles(&mut std::io::stdout().lock(), a.format, &page.candles)
        .map_err(Failure::runtime)?;
    if !g.quiet {
        eprintln!("covered: {}", page.covered);
        match &page.next {
            Some(n) => eprintln!("next: {} {}", n.method, n.url),
            None => eprintln!("next: none (window complete)"),
        }
    }
    Ok(())
}
