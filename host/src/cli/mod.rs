//! The `seamless` command line: argument parsing (clap), the shared setup (store,
//! component host, adapters, exchange URL overrides) and exit codes:
//! 0 success, 1 runtime failure, 2 bad input, 3 incomplete data.

mod adapters;
mod backfill;
mod coverage;
mod fetch;
mod output;
mod select;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use seamless::components::{ComponentHost, SandboxLimits};
use seamless::provider::{AdapterRegistry, Provider, ProviderError};
use seamless::store::AnyStore;

/// seamless: candles from storage, backfilled through sandboxed exchange adapters.
#[derive(Debug, Parser)]
#[command(name = "seamless", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, clap::Args)]
struct Global {
    /// Store URL: sqlite:PATH. Default: seamless.db in the user's data directory.
    #[arg(long, global = true, env = "SEAMLESS_STORE")]
    store: Option<String>,
    /// Send an exchange's requests to another base URL, e.g. binance=http://127.0.0.1:8080 (repeatable).
    #[arg(long = "exchange-url", global = true, value_name = "EXCHANGE=URL")]
    exchange_urls: Vec<String>,
    /// Load a third-party adapter component (repeatable).
    #[arg(long = "adapter", global = true, value_name = "PATH.wasm")]
    adapters: Vec<PathBuf>,
    /// Folder of compiled-component cache files. Default: the user's cache directory.
    #[arg(long, global = true, env = "SEAMLESS_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Wall-clock budget of one guest call, in ms.
    #[arg(long, global = true, default_value_t = 2000, env = "SEAMLESS_CALL_TIMEOUT_MS")]
    call_timeout_ms: u64,
    /// Memory cap of one guest instance, in MiB.
    #[arg(long, global = true, default_value_t = 256, env = "SEAMLESS_GUEST_MEMORY_MB")]
    guest_memory_mb: usize,
    /// Log filter (error, warn, info, debug, trace, or a tracing directive).
    #[arg(long, global = true, default_value = "warn", env = "SEAMLESS_LOG")]
    log: String,
    /// Expose Prometheus metrics on this address (e.g. 127.0.0.1:9184) while the command runs.
    #[arg(long, global = true, value_name = "ADDR", env = "SEAMLESS_METRICS")]
    metrics: Option<std::net::SocketAddr>,
    /// Print no summaries or notes on stderr.
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a window of candles, backfilling what storage lacks.
    Fetch(fetch::FetchArgs),
    /// Backfill several symbols and timeframes (resumable), with progress bars.
    Backfill(backfill::BackfillArgs),
    /// Show the coverage ledger of a series: present, empty and missing ranges.
    Coverage(coverage::CoverageArgs),
    /// Run until interrupted, exposing Prometheus metrics (--metrics ADDR, default 127.0.0.1:9184).
    Serve,
    /// List, inspect and exercise adapter components.
    #[command(subcommand)]
    Adapters(adapters::AdaptersCommand),
}

/// A failure with its exit code.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl Failure {
    /// Bad input: exit code 2.
    pub fn bad(e: impl Into<anyhow::Error>) -> Self {
        Failure { code: 2, error: e.into() }
    }
    /// Runtime failure: exit code 1.
    pub fn runtime(e: impl Into<anyhow::Error>) -> Self {
        Failure { code: 1, error: e.into() }
    }
}

impl From<ProviderError> for Failure {
    fn from(e: ProviderError) -> Self {
        let code = if e.is_bad_input() {
            2
        } else if e.is_incomplete() {
            3
        } else {
            1
        };
        Failure { code, error: e.into() }
    }
}

impl Global {
    fn component_host(&self) -> Result<ComponentHost, Failure> {
        let limits = SandboxLimits {
            memory_bytes: self.guest_memory_mb.max(1) << 20,
            call_timeout: Duration::from_millis(self.call_timeout_ms.max(1)),
        };
        let cache = self
            .cache_dir
            .clone()
            .or_else(|| dirs::cache_dir().map(|d| d.join("seamless").join("components")));
        ComponentHost::new(limits, cache).map_err(Failure::runtime)
    }

    fn registry(&self) -> Result<AdapterRegistry, Failure> {
        for p in &self.adapters {
            if !p.is_file() {
                return Err(Failure::bad(anyhow::anyhow!(
                    "adapter file {} does not exist: pass the path of a .wasm component",
                    p.display()
                )));
            }
        }
        let mut reg = AdapterRegistry::new(self.component_host()?, AdapterRegistry::default_dirs(), self.adapters.clone());
        for spec in &self.exchange_urls {
            reg.add_override(spec).map_err(Failure::bad)?;
        }
        Ok(reg)
    }

    fn sla(&self) -> Result<seamless::provider::Sla, Failure> {
        Ok(seamless::provider::Sla::default())
    }

    fn provider(&self) -> Result<Provider, Failure> {
        let url = self.store.clone().unwrap_or_else(AnyStore::default_url);
        let store = AnyStore::open(&url).map_err(|e| match e {
            seamless::store::StoreError::BadUrl(_) => Failure::bad(e),
            _ => Failure::runtime(e),
        })?;
        Ok(Provider::new(store, self.registry()?))
    }
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Parse the command line, run the command, map failures to exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.global.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let server = match (&cli.command, cli.global.metrics) {
            (Command::Serve, addr) => Some(addr.unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 9184)))),
            (_, addr) => addr,
        };
        let _server = match server {
            Some(addr) => {
                let s = seamless::metrics::serve(addr).await.map_err(Failure::bad)?;
                if !cli.global.quiet {
                    eprintln!("metrics: http://{}/metrics", s.addr());
                }
                Some(s)
            }
            None => None,
        };
        match &cli.command {
            Command::Serve => {
                shutdown_signal().await;
                Ok(())
            }
            Command::Fetch(args) => fetch::run(&cli.global, args).await,
            Command::Backfill(args) => backfill::run(&cli.global, args).await,
            Command::Coverage(args) => coverage::run(&cli.global, args).await,
            Command::Adapters(cmd) => adapters::run(&cli.global, cmd).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}
