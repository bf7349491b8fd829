//! Building a [`Provider`] as the `seamless` CLI builds one (through the same
//! `seamless::config` builders): the defaults, the config file
//! (`config_file`, else `$SEAMLESS_CONFIG`, else the user's `seamless.toml`), the
//! `SEAMLESS_*` environment variables, then the keyword arguments, which take the place
//! of the CLI's flags (highest precedence). The built-in adapters come from the components
//! embedded in the extension.

use std::path::PathBuf;
use std::sync::Once;

use seamless::config::{Config, Loaded};
use seamless::provider::Provider;

use crate::errors::Failure;

/// The keyword arguments of `Provider(...)`.
#[derive(Debug, Default)]
pub struct Settings {
    pub config_file: Option<PathBuf>,
    pub store: Option<String>,
    /// Exchange id → base URL (the CLI's `--exchange-url ID=URL`).
    pub exchange_urls: Vec<(String, String)>,
    pub redis: Option<String>,
    /// Third-party adapter components (the CLI's `--adapter`).
    pub adapters: Vec<PathBuf>,
    /// Let `adapters` replace built-in adapters (the CLI's `--override`).
    pub allow_override: bool,
    /// Any other config key, by its path (`backfill.max_attempts`), as text.
    pub settings: Vec<(String, String)>,
}

/// A provider and the configuration it was built from.
pub struct Built {
    pub provider: Provider,
    pub config: Config,
    /// The store URL in use.
    pub store_url: String,
}

fn apply(loaded: &mut Loaded, key: &str, value: &str, label: &str) -> Result<(), Failure> {
    loaded.set_flag(key, value, label).map_err(Failure::bad)
}

/// Resolve the configuration: file, environment, keywords.
pub fn config(s: &Settings) -> Result<Loaded, Failure> {
    let mut loaded =
        Loaded::load(s.config_file.as_deref(), std::env::vars()).map_err(Failure::bad)?;
    if let Some(v) = &s.store {
        apply(&mut loaded, "store", v, "Provider(store=...)")?;
    }
    if let Some(v) = &s.redis {
        apply(&mut loaded, "redis", v, "Provider(redis=...)")?;
    }
    for (id, url) in &s.exchange_urls {
        if id.is_empty() || !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Failure::bad(format!(
                "bad exchange_urls entry {id:?}: {url:?}; use {{EXCHANGE: URL}}, e.g. exchange_urls={{'binance': 'http://127.0.0.1:8080'}}"
            )));
        }
        let key = format!("exchange_urls.{id}");
        apply(&mut loaded, &key, url, "Provider(exchange_urls={...})")?;
    }
    for (key, value) in &s.settings {
        apply(
            &mut loaded,
            key,
            value,
            &format!("Provider(settings={{{key:?}: ...}})"),
        )?;
    }
    Ok(loaded)
}

/// Log to stderr through `tracing`, filtered by the `log` key (default `warn`), as the CLI
/// does; set up once per process.
fn init_tracing(filter: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_new(filter)
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .try_init();
    });
}

/// The provider for `s`. Must run inside the tokio runtime (stores open clients).
pub fn provider(s: &Settings) -> Result<Built, Failure> {
    let loaded = config(s)?;
    let cfg = loaded.config;
    init_tracing(&cfg.log);
    for p in &s.adapters {
        if !p.is_file() {
            return Err(Failure::bad(format!(
                "adapter file {} does not exist: pass the path of a .wasm component",
                p.display()
            )));
        }
    }
    let host = cfg.component_host()?;
    // The configured folder (`adapters_dir`, also `$SEAMLESS_ADAPTER_DIR`), then the
    // components embedded in this extension.
    let mut dirs: Vec<PathBuf> = cfg.adapters_dir.iter().cloned().collect();
    dirs.push(crate::adapters::default_folder().map_err(|e| {
        Failure::runtime(format!(
            "cannot write the built-in adapter components to the cache folder: {e}"
        ))
    })?);
    let reg = cfg.registry(host, dirs, s.adapters.clone(), s.allow_override)?;
    let store_url = cfg.store_url();
    let p = cfg.provider(reg)?;
    Ok(Built {
        provider: p,
        config: cfg,
        store_url,
    })
}
