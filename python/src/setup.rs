//! Building a [`Provider`] as the `seamless` CLI builds one: the defaults, the config file
//! (`config_file`, else `$SEAMLESS_CONFIG`, else the user's `seamless.toml`), the
//! `SEAMLESS_*` environment variables, then the keyword arguments, which take the place
//! of the CLI's flags (highest precedence). The built-in adapters come from the components
//! embedded in the extension.

use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use seamless::components::{ComponentHost, SandboxLimits};
use seamless::config::{Config, Loaded};
use seamless::net::RetryPolicy;
use seamless::provider::{AdapterRegistry, Provider};
use seamless::store::{AnyStore, StoreError};

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
    let limits = SandboxLimits {
        memory_bytes: (cfg.sandbox.memory_mb.max(1) as usize) << 20,
        call_timeout: Duration::from_millis(cfg.sandbox.call_timeout_ms.max(1)),
    };
    let cache = cfg
        .cache_dir
        .clone()
        .or_else(|| dirs::cache_dir().map(|d| d.join("seamless").join("components")));
    let host = ComponentHost::new(limits, cache).map_err(Failure::runtime)?;
    // The configured folder (`adapters_dir`, also `$SEAMLESS_ADAPTER_DIR`), then the
    // components embedded in this extension.
    let mut dirs: Vec<PathBuf> = cfg.adapters_dir.iter().cloned().collect();
    dirs.push(crate::adapters::default_folder().map_err(|e| {
        Failure::runtime(format!(
            "cannot write the built-in adapter components to the cache folder: {e}"
        ))
    })?);
    let mut reg = AdapterRegistry::new(host, dirs, s.adapters.clone());
    reg.allow_shadowing(s.allow_override);
    for (id, sha256) in &cfg.adapter_sha256 {
        reg.pin_sha256(id, sha256);
    }
    for (id, url) in &cfg.exchange_urls {
        reg.add_override(&format!("{id}={url}"))?;
    }
    let store_url = cfg.store.clone().unwrap_or_else(AnyStore::default_url);
    let store = AnyStore::open(&store_url).map_err(|e| match e {
        StoreError::BadUrl(_) => Failure::bad(e),
        _ => Failure::runtime(e),
    })?;
    let b = &cfg.backfill;
    let mut p = Provider::new(store, reg)
        .with_concurrency(b.concurrency as usize)
        .with_retry(RetryPolicy {
            max_attempts: b.max_attempts,
            base_delay: Duration::from_millis(b.retry_base_ms),
            max_delay: Duration::from_millis(b.retry_max_ms),
        });
    if let Some(url) = &cfg.redis {
        p = p.with_cluster(seamless::coord::Cluster::open(url).map_err(Failure::bad)?);
    }
    for (id, o) in &cfg.ratelimit {
        p = p.with_rate_limit(id, o.clone());
    }
    Ok(Built {
        provider: p,
        config: cfg,
        store_url,
    })
}
