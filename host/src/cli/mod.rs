//! The `seamless` command line: argument parsing (clap), the shared setup (store,
//! component host, adapters, exchange URL overrides, adapter pins), the loopback-only rule
//! for listening sockets, the flag advice added to library errors, and exit codes:
//! 0 success, 1 runtime failure, 2 bad input, 3 incomplete data. Flags that set config
//! keys are applied through the key table (`seamless::config::KEYS` names each key's flag).

mod adapters;
mod advice;
mod backfill;
mod coverage;
mod fetch;
mod jobs;
mod live;
mod options;
mod output;
mod run;
mod scaffold;
mod select;
mod serve;
mod strategy;
mod worker;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use seamless::components::ComponentHost;
use seamless::config::{Config, Loaded};
use seamless::provider::{AdapterRegistry, Provider, ProviderError, RegistryError, Sla};

use options::{DataArgs, Settings, settings};
use output::ReportFormat;

/// seamless: candles from storage, backfilled through sandboxed exchange adapters.
#[derive(Debug, Parser)]
#[command(name = "seamless", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes (listed last in each command's `--help`). Each config key
/// can also come from `seamless.toml` or a `SEAMLESS_…` variable (see `seamless config
/// show`); a flag wins over both.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Global options")]
struct GlobalArgs {
    /// Config file (default: $SEAMLESS_CONFIG, else <config dir>/seamless/seamless.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Log filter (error, warn, info, debug, trace, or a tracing directive; default warn).
    #[arg(long, global = true)]
    log: Option<String>,
    /// Expose Prometheus metrics on this address (e.g. 127.0.0.1:9184) while the command runs;
    /// a non-loopback address needs --allow-remote.
    #[arg(long, global = true, value_name = "ADDR")]
    metrics: Option<String>,
    /// Let --metrics and `serve` listen on a non-loopback address (prints a warning).
    #[arg(long, global = true)]
    allow_remote: bool,
    /// Print no summaries or notes on stderr.
    #[arg(long, short, global = true)]
    quiet: bool,
}

impl GlobalArgs {
    /// The global flags that set config keys, as `(flag, text)`.
    fn add_to(&self, s: &mut Settings) {
        for (flag, v) in [("--log", &self.log), ("--metrics", &self.metrics)] {
            if let Some(v) = v {
                s.flags.push((flag, v.clone()));
            }
        }
        if self.allow_remote {
            s.flags.push(("--allow-remote", "true".to_string()));
        }
    }
}

/// The resolved settings of a run: flags over env over the config file over defaults.
pub struct Global {
    pub quiet: bool,
    adapters: Vec<PathBuf>,
    allow_override: bool,
    loaded: Loaded,
}

impl Global {
    /// `settings`: what the command's options ask for (its option groups and its own flags
    /// that set config keys, such as `seamless worker --job-lease`).
    fn resolve(a: &GlobalArgs, mut settings: Settings) -> Result<Global, Failure> {
        let mut loaded =
            Loaded::load(a.config_file.as_deref(), std::env::vars()).map_err(Failure::bad)?;
        let specs = settings
            .flags
            .iter()
            .filter(|(f, _)| *f == "--exchange-url");
        for (_, spec) in specs {
            // The CLI's own shape check, so the message names the flag's form.
            let ok = spec.split_once('=').is_some_and(|(id, url)| {
                !id.is_empty() && (url.starts_with("http://") || url.starts_with("https://"))
            });
            if !ok {
                return Err(Failure::bad(anyhow::anyhow!(
                    "bad --exchange-url '{spec}': use EXCHANGE=URL, e.g. binance=http://127.0.0.1:8080"
                )));
            }
        }
        a.add_to(&mut settings);
        for (flag, value) in &settings.flags {
            loaded.apply_flag(flag, value).map_err(Failure::bad)?;
        }
        Ok(Global {
            quiet: a.quiet,
            adapters: settings.adapters,
            allow_override: settings.allow_override,
            loaded,
        })
    }

    fn cfg(&self) -> &Config {
        &self.loaded.config
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a window of candles, backfilling what storage lacks.
    Fetch(fetch::FetchArgs),
    /// Backfill several symbols and timeframes (resumable), with progress bars.
    Backfill(backfill::BackfillArgs),
    /// Follow a series live: print candles as they close (store them, backfill the seam).
    Live(live::LiveArgs),
    /// Run a sandboxed strategy over a window and print its signals.
    Run(run::RunArgs),
    /// Show the coverage ledger of a series: present, empty and missing ranges.
    Coverage(coverage::CoverageArgs),
    /// Run until interrupted, serving the HTTP data API (candles, coverage, metrics) on
    /// --listen (default 127.0.0.1:8765).
    Serve(serve::ServeArgs),
    /// Take backfill jobs from Redis (--redis; `backfill --enqueue` adds them) until SIGTERM/SIGINT.
    Worker(worker::WorkerArgs),
    /// List the cluster's backfill jobs: pending, running (by worker) and failed (--redis).
    Jobs(jobs::JobsArgs),
    /// List, inspect and exercise adapter components.
    #[command(subcommand)]
    Adapters(adapters::AdaptersCommand),
    /// Start a new strategy (Python) and build Python strategies into components.
    #[command(subcommand)]
    Strategy(strategy::StrategyCommand),
    /// The effective configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print every setting, its value and where it came from (with the options given here
    /// applied).
    Show {
        /// `table` (TOML lines with their source) or `json`.
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
        #[command(flatten)]
        data: Box<DataArgs>,
    },
    /// Print every key: type, default, environment variable and flag (a Markdown table).
    Keys {
        /// `table` (Markdown) or `json`.
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
    },
}

impl Command {
    /// What this command's options ask for.
    fn settings(&self) -> Settings {
        match self {
            Command::Fetch(a) => settings(&[&a.data]),
            Command::Backfill(a) => settings(&[&a.data]),
            Command::Live(a) => settings(&[&a.data]),
            Command::Run(a) => settings(&[&a.data]),
            Command::Coverage(a) => settings(&[&a.store]),
            Command::Serve(a) => {
                let mut s = settings(&[&a.data]);
                s.flags.extend(a.flag_values());
                s
            }
            Command::Worker(a) => {
                let mut s = settings(&[&a.data]);
                s.flags.extend(a.flag_values());
                s
            }
            Command::Jobs(a) => settings(&[&a.redis]),
            Command::Adapters(a) => a.settings(),
            Command::Strategy(a) => a.settings(),
            Command::Config(ConfigCommand::Show { data, .. }) => settings(&[data.as_ref()]),
            Command::Config(ConfigCommand::Keys { .. }) => Settings::default(),
        }
    }
}

/// A failure with its exit code.
#[derive(Debug)]
pub struct Failure {
    pub(crate) code: u8,
    pub(crate) error: anyhow::Error,
}

impl Failure {
    /// Bad input: exit code 2.
    pub fn bad(e: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: 2,
            error: e.into(),
        }
    }
    /// Runtime failure: exit code 1.
    pub fn runtime(e: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: 1,
            error: e.into(),
        }
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
        Failure {
            code,
            error: advice::provider_error(e),
        }
    }
}

impl Global {
    fn component_host(&self) -> Result<ComponentHost, Failure> {
        self.cfg().component_host().map_err(build_failure)
    }

    fn registry(&self) -> Result<AdapterRegistry, Failure> {
        let mut dirs: Vec<PathBuf> = self.cfg().adapters_dir.iter().cloned().collect();
        dirs.extend(AdapterRegistry::default_dirs());
        let builtins = seamless::components::builtin_files(&dirs, "_adapter.wasm");
        // `--adapter ID` of a built-in adapter: it is loaded anyway.
        let mut extra = Vec::new();
        for p in &self.adapters {
            if p.is_file() {
                extra.push(p.clone());
            } else if !p.to_str().is_some_and(|id| builtins.contains_key(id)) {
                return Err(Failure::bad(anyhow::anyhow!(
                    "adapter file {} does not exist: pass the path of a .wasm component (or a built-in adapter id: {})",
                    p.display(),
                    builtins.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        let host = self.component_host()?;
        self.cfg()
            .registry(host, dirs, extra, self.allow_override)
            .map_err(build_failure)
    }

    fn sla(&self) -> Result<Sla, Failure> {
        Ok(self.cfg().sla.clone())
    }

    /// The cluster handle of `url` (nothing is sent yet).
    fn cluster(&self, url: &str) -> Result<seamless::coord::Cluster, Failure> {
        seamless::coord::Cluster::open(url).map_err(Failure::bad)
    }

    fn provider(&self) -> Result<Provider, Failure> {
        let registry = self.registry()?;
        self.cfg().provider(registry).map_err(build_failure)
    }
}

/// A build error as a failure: bad input (exit 2) or a runtime failure (exit 1).
/// The inner error is kept as itself, so that [`Global::advice`] finds a registry error.
fn build_failure(e: seamless::config::BuildError) -> Failure {
    use seamless::config::BuildError as B;
    let code = if e.is_bad_input() { 2 } else { 1 };
    let error = match e {
        B::Registry(r) => anyhow::Error::new(r),
        B::Store(s) => anyhow::Error::new(s),
        B::Component(c) => anyhow::Error::new(c),
        B::Cluster(c) => anyhow::Error::new(c),
    };
    Failure { code, error }
}

/// True for 127.0.0.0/8, `::1` and `::ffff:127.x.y.z`.
pub(crate) fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
    }
}

impl Global {
    /// Where key `path`'s value came from, for messages.
    fn source_of(&self, path: &str) -> String {
        self.loaded
            .sources
            .get(path)
            .map_or_else(|| "default".to_string(), ToString::to_string)
    }

    /// A listening socket may bind a loopback address; any other address needs `allow_remote`
    /// (`--allow-remote`), and then a warning goes to stderr (even with `--quiet`).
    fn check_listen(&self, addr: SocketAddr, key: &str) -> Result<(), Failure> {
        if is_loopback(addr.ip()) {
            return Ok(());
        }
        if !self.cfg().allow_remote {
            return Err(Failure::bad(anyhow::anyhow!(
                "refusing to listen on {addr} (from {}): it is not a loopback address, so other machines could reach it; listen on 127.0.0.1:{}, or pass --allow-remote (or set allow_remote = true) to expose it",
                self.source_of(key),
                addr.port()
            )));
        }
        eprintln!(
            "warning: listening on {addr}, which other machines can reach (allowed by {})",
            self.source_of("allow_remote")
        );
        Ok(())
    }

    /// The flag advice library errors leave to the CLI, appended to the printed error.
    fn advice(&self, e: &anyhow::Error) -> String {
        let registry =
            e.downcast_ref::<RegistryError>()
                .or_else(|| match e.downcast_ref::<ProviderError>() {
                    Some(ProviderError::Registry(r)) => Some(r),
                    _ => None,
                });
        match registry {
            Some(RegistryError::UnknownExchange { .. }) => {
                "; to use a third-party adapter, pass --adapter PATH.wasm".to_string()
            }
            Some(RegistryError::OverrideForUnknownExchange { id, .. }) => format!(
                "; fix the ID in --exchange-url ID=URL (`exchange_urls.{id}` came from {}), or pass --adapter PATH.wasm to load the adapter that has it",
                self.source_of(&format!("exchange_urls.{id}"))
            ),
            Some(RegistryError::Shadows { .. }) => {
                "; pass --override to use it instead of the built-in".to_string()
            }
            Some(RegistryError::PinMismatch(m)) => {
                let (id, actual) = (&m.id, &m.actual);
                let key = format!("adapters.{id}.sha256");
                format!(
                    "; if you trust this file, set the pin `{key}` (from {}) to {actual}, e.g. --adapter-sha256 {id}={actual}",
                    self.source_of(&key)
                )
            }
            _ => String::new(),
        }
    }
}

/// `seamless config show`.
fn config_show(g: &Global, format: ReportFormat) -> Result<(), Failure> {
    match format {
        ReportFormat::Table => {
            match &g.loaded.file {
                Some(f) => println!("# config file: {}", f.display()),
                None => println!("# no config file"),
            }
            print!("{}", g.loaded.show());
        }
        ReportFormat::Json => {
            let v = serde_json::json!({
                "file": g.loaded.file,
                "settings": g.loaded.entries().into_iter().map(|(key, value, source)| {
                    serde_json::json!({"key": key, "value": value, "source": source})
                }).collect::<Vec<_>>(),
            });
            output::print_json(&v)?;
        }
    }
    Ok(())
}

/// `seamless config keys`.
fn config_keys(format: ReportFormat) -> Result<(), Failure> {
    match format {
        ReportFormat::Table => print!("{}", seamless::config::keys::markdown_table()),
        ReportFormat::Json => output::print_json(&seamless::config::keys::as_json())?,
    }
    Ok(())
}

/// SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Colours only on a terminal (logs redirected to a file stay plain text).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Parse the command line, run the command, map failures to exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let global = match Global::resolve(&cli.global, cli.command.settings()) {
        Ok(g) => g,
        Err(f) => {
            eprintln!("error: {:#}", f.error);
            return ExitCode::from(f.code);
        }
    };
    init_tracing(&global.cfg().log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let _server = match global.cfg().metrics {
            Some(addr) => {
                global.check_listen(addr, "metrics")?;
                let s = seamless::metrics::serve(addr).await.map_err(Failure::bad)?;
                if !cli.global.quiet {
                    eprintln!("metrics: http://{}/metrics", s.addr());
                }
                Some(s)
            }
            None => None,
        };
        match &cli.command {
            Command::Serve(_) => serve::run(&global).await,
            Command::Fetch(args) => fetch::run(&global, args).await,
            Command::Backfill(args) => backfill::run(&global, args).await,
            Command::Coverage(args) => coverage::run(&global, args).await,
            Command::Run(args) => run::run(&global, args).await,
            Command::Live(args) => live::run(&global, args).await,
            Command::Worker(args) => worker::run(&global, args).await,
            Command::Jobs(args) => jobs::run(&global, args).await,
            Command::Adapters(cmd) => adapters::run(&global, cmd).await,
            Command::Strategy(cmd) => strategy::run(&global, cmd),
            Command::Config(ConfigCommand::Show { format, .. }) => config_show(&global, *format),
            Command::Config(ConfigCommand::Keys { format }) => config_keys(*format),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {:#}{}", f.error, global.advice(&f.error));
            ExitCode::from(f.code)
        }
    }
}
