//! The option groups a command offers. A command flattens only the groups that do something
//! for it, so `seamless adapters test --store …` is refused instead of ignored, and each
//! group has its own `--help` heading: the command's own options come first, then these
//! groups, then the global options every command takes.
//!
//! Each group contributes to [`Settings`]: the `(flag, text)` pairs that set config keys
//! (the key table, `seamless::config::KEYS`, says which key each flag sets) and the
//! adapter files to load.

use std::path::PathBuf;

use clap::Args;

/// What a command's options ask for, before the config file and environment are merged.
#[derive(Debug, Default)]
pub struct Settings {
    /// `(flag, text)` for every flag given that sets a config key, in order.
    pub flags: Vec<(&'static str, String)>,
    /// `--adapter` files.
    pub adapters: Vec<PathBuf>,
    /// `--override`.
    pub allow_override: bool,
}

impl Settings {
    fn flag(&mut self, flag: &'static str, value: &Option<String>) {
        if let Some(v) = value {
            self.flags.push((flag, v.clone()));
        }
    }
}

/// A group of options that sets part of [`Settings`].
pub trait OptionGroup {
    /// Add what these options ask for to `s`.
    fn add_to(&self, s: &mut Settings);
}

/// Where candles are stored.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Store options")]
pub struct StoreArgs {
    /// Store URL: sqlite:PATH or questdb://HOST:PORT. Default: seamless.db in the user's data
    /// directory.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

impl OptionGroup for StoreArgs {
    fn add_to(&self, s: &mut Settings) {
        s.flag("--store", &self.store);
    }
}

/// The WebAssembly sandbox components run in.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Sandbox options")]
pub struct SandboxArgs {
    /// Folder of compiled-component cache files. Default: the user's cache directory.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Wall-clock budget of one guest call, in ms (default 2000).
    #[arg(long, value_name = "MS")]
    pub call_timeout_ms: Option<String>,
    /// Memory cap of one guest instance, in MiB (default 256).
    #[arg(long, value_name = "MIB")]
    pub guest_memory_mb: Option<String>,
}

impl OptionGroup for SandboxArgs {
    fn add_to(&self, s: &mut Settings) {
        let dir = self.cache_dir.as_ref().map(|d| d.display().to_string());
        s.flag("--cache-dir", &dir);
        s.flag("--call-timeout-ms", &self.call_timeout_ms);
        s.flag("--guest-memory-mb", &self.guest_memory_mb);
    }
}

/// Which adapters serve which exchanges, and where their requests go.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Adapter options")]
pub struct AdapterArgs {
    /// Load a third-party adapter component (repeatable).
    #[arg(long = "adapter", value_name = "PATH.wasm")]
    pub adapters: Vec<PathBuf>,
    /// Send an exchange's requests to another base URL, e.g. binance=http://127.0.0.1:8080
    /// (repeatable).
    #[arg(long = "exchange-url", value_name = "EXCHANGE=URL")]
    pub exchange_urls: Vec<String>,
    /// Pin the adapter serving an exchange to a SHA-256 (`seamless adapters inspect` prints
    /// it); a component that hashes differently is refused (repeatable).
    #[arg(long = "adapter-sha256", value_name = "EXCHANGE=HEX")]
    pub adapter_sha256: Vec<String>,
    /// Let --adapter components replace built-in adapters with the same exchange id.
    #[arg(long = "override")]
    pub allow_override: bool,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

impl OptionGroup for AdapterArgs {
    fn add_to(&self, s: &mut Settings) {
        self.sandbox.add_to(s);
        s.flags.extend(
            self.exchange_urls
                .iter()
                .map(|v| ("--exchange-url", v.clone())),
        );
        s.flags.extend(
            self.adapter_sha256
                .iter()
                .map(|v| ("--adapter-sha256", v.clone())),
        );
        s.adapters.extend(self.adapters.iter().cloned());
        s.allow_override |= self.allow_override;
    }
}

/// The Redis a cluster shares.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Cluster options")]
pub struct RedisArgs {
    /// Cluster mode: share exchange budgets and chunk leases with other workers through this
    /// Redis, e.g. redis://127.0.0.1:6379/0 (options: ?lease_ms=10000&timeout_ms=200&reconnect_ms=2000).
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
}

impl OptionGroup for RedisArgs {
    fn add_to(&self, s: &mut Settings) {
        s.flag("--redis", &self.redis);
    }
}

/// Everything a command that serves or backfills candles uses: the store, the adapters and
/// their sandbox, the cluster, and how many chunks run at once.
#[derive(Debug, Clone, Default, Args)]
pub struct DataArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub adapter: AdapterArgs,
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Chunks in flight per exchange during a backfill (default 4).
    #[arg(long, value_name = "N", help_heading = "Cluster options")]
    pub concurrency: Option<String>,
}

impl OptionGroup for DataArgs {
    fn add_to(&self, s: &mut Settings) {
        self.store.add_to(s);
        self.adapter.add_to(s);
        self.redis.add_to(s);
        s.flag("--concurrency", &self.concurrency);
    }
}

/// A group of options, collected.
pub fn settings(groups: &[&dyn OptionGroup]) -> Settings {
    let mut s = Settings::default();
    for g in groups {
        g.add_to(&mut s);
    }
    s
}
