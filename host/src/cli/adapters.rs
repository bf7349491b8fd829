//! `seamless adapters`: list the built-in adapters, inspect a component file (with the
//! SHA-256 a pin holds), and run an adapter's `plan` or `parse` by hand.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use seamless::components::{Adapter, ComponentCache, ComponentError, HttpResponse, WIT_PACKAGE};
use seamless::provider::Exchange;

use super::output::{Format, write_candles};
use super::select::{SeriesArgs, WindowArgs};
use super::{Failure, Global};

#[derive(Debug, Subcommand)]
pub enum AdaptersCommand {
    /// List the built-in adapters (and any given with --adapter).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Load a component file and describe it.
    Inspect {
        /// Path of the .wasm component.
        path: PathBuf,
    },
    /// Run the conformance suite against a component: contract checks, and with
    /// --simulator a backfill from the exchange simulator compared with its truth.
    Test {
        /// Path of the .wasm component.
        path: PathBuf,
        /// Simulator format (the exchange the simulator should speak, e.g. binance, bybit).
        /// Starts the `exchange-sim` program found next to seamless or on PATH, unless
        /// --simulator-url names a running one.
        #[arg(long)]
        simulator: Option<String>,
        /// URL of a running exchange simulator (http://127.0.0.1:PORT) for --simulator.
        #[arg(long, requires = "simulator", value_name = "URL")]
        simulator_url: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the HTTP request an adapter would send first for a window.
    Plan(PlanArgs),
    /// Parse a response body (stdin) with an adapter and print the candles.
    Parse(ParseArgs),
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
}

pub async fn run(g: &Global, cmd: &AdaptersCommand) -> Result<(), Failure> {
    match cmd {
        AdaptersCommand::List { json } => list(g, *json),
        AdaptersCommand::Inspect { path } => inspect(g, path),
        AdaptersCommand::Test {
            path,
            simulator,
            simulator_url,
            json,
        } => {
            let sim = simulator
                .as_deref()
                .map(|format| (format, simulator_url.as_deref()));
            test(g, path, sim, *json).await
        }
        AdaptersCommand::Plan(a) => plan(g, a),
        AdaptersCommand::Parse(a) => parse(g, a),
    }
}

fn describe(a: &Adapter, source: &str, sha256: &str) -> String {
    let i = a.info();
    let rl = &i.rate_limit;
    format!(
        "id:            {}\nname:          {}\nversion:       {}\nwit:           {WIT_PACKAGE}@{}\nsource:        {source}\nsha256:        {sha256}\ntimeframes:    {}\nmax/request:   {}\nbase URLs:     {}\nrate limit:    {} weight/min, {} per request{}\n",
        i.id,
        i.name,
        i.version,
        a.wit_version(),
        i.timeframes.join(" "),
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

fn registry_failure(e: seamless::provider::RegistryError) -> Failure {
    if e.is_bad_input() {
        Failure::bad(e)
    } else {
        Failure::runtime(e)
    }
}

fn list(g: &Global, json: bool) -> Result<(), Failure> {
    let reg = g.registry()?;
    let files = reg.builtin_files();
    let mut exchanges = Vec::new();
    for loaded in reg.load_all().map_err(registry_failure)? {
        match loaded {
            Ok(e) => exchanges.push(e),
            Err(e) => eprintln!("warning: skipping an adapter that cannot be loaded: {e}"),
        }
    }
    if json {
        let v: Vec<_> = exchanges
            .iter()
            .map(|e| {
                let mut o = serde_json::to_value(e.adapter.info()).unwrap_or_default();
                o["wit_version"] = e.adapter.wit_version().into();
                o
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(Failure::runtime)?
        );
        return Ok(());
    }
    println!(
        "{:<10} {:<8} {:<6} {:<44} {:<28} SOURCE",
        "ID", "VERSION", "MAX", "TIMEFRAMES", "BASE URLS"
    );
    for e in &exchanges {
        let i = e.adapter.info();
        let source = files
            .get(&i.id)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| e.adapter.label().to_string());
        println!(
            "{:<10} {:<8} {:<6} {:<44} {:<28} {}",
            i.id,
            i.version,
            i.max_candles_per_request,
            i.timeframes.join(","),
            i.base_urls.join(","),
            source
        );
    }
    Ok(())
}

/// Describe a component file, with the SHA-256 a pin (`adapters.<id>.sha256`) would hold.
fn inspect(g: &Global, path: &Path) -> Result<(), Failure> {
    let component_failure = |e: ComponentError| {
        if e.is_bad_input() {
            Failure::bad(e)
        } else {
            Failure::runtime(e)
        }
    };
    let wasm = std::fs::read(path).map_err(|source| {
        component_failure(ComponentError::Read {
            path: path.to_path_buf(),
            source,
        })
    })?;
    let host = g.component_host()?;
    let label = path.display().to_string();
    let adapter = host
        .load_adapter(&label, &wasm)
        .map_err(component_failure)?;
    let sha256 = ComponentCache::sha256_hex(&wasm);
    print!("{}", describe(&adapter, &label, &sha256));
    Ok(())
}

/// `simulator`: the format and, if given, the URL of a running simulator.
async fn test(
    g: &Global,
    path: &Path,
    simulator: Option<(&str, Option<&str>)>,
    json: bool,
) -> Result<(), Failure> {
    if !path.is_file() {
        return Err(Failure::bad(anyhow::anyhow!(
            "{} does not exist: pass the path of a .wasm component",
            path.display()
        )));
    }
    let host = g.component_host()?;
    let (adapter, mut checks) = seamless::suite::contract_checks(&host, path);
    if let (Some(a), Some((format, url))) = (&adapter, simulator) {
        let sim = start_simulator(url).await?;
        let base = match sim.venue_url(format).await {
            Ok(b) => b,
            Err(e) => {
                sim.stop().await;
                return Err(simulator_failure(e));
            }
        };
        checks.extend(seamless::suite::simulator_checks(&host, a, path, &sim, &base).await);
        sim.stop().await;
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&checks).map_err(Failure::runtime)?
        );
    } else {
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
    println!("{} {}", req.method, req.url);
    for (k, v) in &req.headers {
        println!("{k}: {v}");
    }
    let sent = ex.bases.rewrite(&req.url);
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
