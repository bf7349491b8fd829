//! The `seamless.toml` configuration: defaults, the file, `SEAMLESS_*` environment variables
//! and command-line flags, merged with their provenance.
//!
//! # Where the file is
//!
//! 1. `--config-file PATH` (must exist),
//! 2. else `SEAMLESS_CONFIG` (must exist),
//! 3. else `<user config dir>/seamless/seamless.toml` if it exists (on Linux:
//!    `$XDG_CONFIG_HOME/seamless/seamless.toml`, else `$HOME/.config/seamless/seamless.toml`),
//! 4. else no file.
//!
//! # Precedence
//!
//! Command-line flags win over environment variables, environment variables over the file, the
//! file over the defaults. `seamless config show` prints the effective value of every key and
//! where it came from ([`Loaded::show`]).
//!
//! # Keys
//!
//! Every key can also be set by the environment variable `SEAMLESS_` + the key path in capitals
//! with `.` replaced by `_`. Empty environment variables are ignored, as are `SEAMLESS_*`
//! variables that name no key (other parts of the CLI read their own `SEAMLESS_*` variables).
//!
//! | key | type | default | environment variable |
//! | --- | --- | --- | --- |
//! | `store` | string, store URL (`sqlite:PATH`) | none: the CLI's default store | `SEAMLESS_STORE` |
//! | `redis` | string, Redis URL | none: no cluster coordination | `SEAMLESS_REDIS` |
//! | `adapters_dir` | string, folder path | none: the built-in search folders | `SEAMLESS_ADAPTERS_DIR` (alias `SEAMLESS_ADAPTER_DIR`) |
//! | `cache_dir` | string, folder path | none: `<cache dir>/seamless/components` | `SEAMLESS_CACHE_DIR` |
//! | `log` | string, tracing filter | `"warn"` | `SEAMLESS_LOG` |
//! | `exchange_urls.<id>` | string, `http://` or `https://` base URL | none: the adapter's declared URL | `SEAMLESS_EXCHANGE_URLS_<ID>` |
//! | `sandbox.call_timeout_ms` | integer ≥ 1 (u64) | `2000` | `SEAMLESS_SANDBOX_CALL_TIMEOUT_MS` (alias `SEAMLESS_CALL_TIMEOUT_MS`) |
//! | `sandbox.memory_mb` | integer ≥ 1 (u64) | `256` | `SEAMLESS_SANDBOX_MEMORY_MB` (alias `SEAMLESS_GUEST_MEMORY_MB`) |
//! | `backfill.concurrency` | integer ≥ 1 (u32): chunks in flight per exchange | `4` | `SEAMLESS_BACKFILL_CONCURRENCY` |
//! | `backfill.max_attempts` | integer ≥ 1 (u32) | `6` | `SEAMLESS_BACKFILL_MAX_ATTEMPTS` |
//! | `backfill.retry_base_ms` | integer ≥ 0 (u64) | `200` | `SEAMLESS_BACKFILL_RETRY_BASE_MS` |
//! | `backfill.retry_max_ms` | integer ≥ 0 (u64) | `30000` | `SEAMLESS_BACKFILL_RETRY_MAX_MS` |
//! | `sla.storage_ms` | integer ≥ 0 (u64) | none: no budget | `SEAMLESS_SLA_STORAGE_MS` |
//! | `sla.backfill_ms` | integer ≥ 0 (u64) | none: no budget | `SEAMLESS_SLA_BACKFILL_MS` |
//! | `sla.live_ms` | integer ≥ 0 (u64) | none: no budget | `SEAMLESS_SLA_LIVE_MS` |
//! | `sla.total_ms` | integer ≥ 0 (u64) | none: no budget | `SEAMLESS_SLA_TOTAL_MS` |
//! | `sla.max_missing_bars` | integer ≥ 0 (u64) | none: no guard | `SEAMLESS_SLA_MAX_MISSING_BARS` |
//! | `sla.on_violation` | `"fail-fast"`, `"partial-fill"` or `"hold"` | `"fail-fast"` | `SEAMLESS_SLA_ON_VIOLATION` |
//! | `ratelimit.<id>.budget` | integer ≥ 1 (u32): weight per window | none: the adapter's hint | `SEAMLESS_RATELIMIT_<ID>_BUDGET` |
//! | `ratelimit.<id>.window_ms` | integer ≥ 1 (u64) | none: the adapter's hint | `SEAMLESS_RATELIMIT_<ID>_WINDOW_MS` |
//! | `ratelimit.<id>.weight` | integer ≥ 0 (u32): weight of one OHLCV request | none: the adapter's hint | `SEAMLESS_RATELIMIT_<ID>_WEIGHT` |
//! | `ratelimit.<id>.disabled` | boolean: no local limiting at all (benchmarks) | none (= false) | `SEAMLESS_RATELIMIT_<ID>_DISABLED` |
//! | `ratelimit.<id>.share` | number in (0, 1]: fraction of the budget this process uses while the cluster limiter is down | none | `SEAMLESS_RATELIMIT_<ID>_SHARE` |
//!
//! `<id>` is an exchange id: lowercase letters, digits, `-` and `_`. In environment variable
//! names the id is written in capitals and read back lowercased
//! (`SEAMLESS_EXCHANGE_URLS_BINANCE` → `exchange_urls.binance`); for `ratelimit` the field is
//! the known suffix (`SEAMLESS_RATELIMIT_BINANCE_US_WINDOW_MS` → `ratelimit.binance_us.window_ms`).
//!
//! Environment and flag values are parsed from text: integers in decimal, booleans as
//! `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
//!
//! Relative folder paths (`adapters_dir`, `cache_dir`) written in the file are relative to the
//! file's folder; given by environment variable or flag they are relative to the working folder.
//!
//! Unknown keys in the file are errors that name the key, the closest valid key and the valid
//! keys of that table. Every error names where the bad value came from (file and line,
//! environment variable, or flag) and what to write instead.
//!
//! ```toml
//! store = "sqlite:/var/lib/seamless/seamless.db"
//! log = "info"
//!
//! [exchange_urls]
//! binance = "http://127.0.0.1:8080"
//!
//! [backfill]
//! concurrency = 8
//!
//! [sla]
//! total_ms = 120000
//! on_violation = "partial-fill"
//!
//! [ratelimit.binance]
//! budget = 6000
//! window_ms = 60000
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;
use toml::de::{DeTable, DeValue};

/// Prefix of every configuration environment variable.
pub const ENV_PREFIX: &str = "SEAMLESS_";
/// The environment variable holding the config file path.
pub const CONFIG_ENV: &str = "SEAMLESS_CONFIG";
/// The file name looked for in the user config folder (`<config dir>/seamless/`).
pub const FILE_NAME: &str = "seamless.toml";

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// Store URL, e.g. `sqlite:/path/seamless.db`; `None`: the CLI's default store.
    pub store: Option<String>,
    /// Redis URL for cluster-wide rate limiting and single-flight; `None`: local only.
    pub redis: Option<String>,
    /// Folder of adapter components; `None`: the built-in search folders.
    pub adapters_dir: Option<PathBuf>,
    /// Folder of the compiled-component cache; `None`: the user's cache folder.
    pub cache_dir: Option<PathBuf>,
    /// Log filter (a `tracing` directive).
    pub log: String,
    /// Exchange id → base URL the exchange's requests are sent to.
    pub exchange_urls: BTreeMap<String, String>,
    /// Guest sandbox limits.
    pub sandbox: SandboxConfig,
    /// Backfill scheduling and retries.
    pub backfill: BackfillConfig,
    /// Per-phase budgets and the breach policy.
    pub sla: SlaConfig,
    /// Exchange id → overrides of the adapter's rate-limit hint.
    pub ratelimit: BTreeMap<String, RateLimitOverride>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            store: None,
            redis: None,
            adapters_dir: None,
            cache_dir: None,
            log: "warn".to_string(),
            exchange_urls: BTreeMap::new(),
            sandbox: SandboxConfig::default(),
            backfill: BackfillConfig::default(),
            sla: SlaConfig::default(),
            ratelimit: BTreeMap::new(),
        }
    }
}

/// Guest sandbox limits (`[sandbox]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SandboxConfig {
    /// Wall-clock budget of one guest call, in ms.
    pub call_timeout_ms: u64,
    /// Memory cap of one guest instance, in MiB.
    pub memory_mb: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            call_timeout_ms: 2000,
            memory_mb: 256,
        }
    }
}

/// Backfill scheduling and retries (`[backfill]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackfillConfig {
    /// Chunks in flight per exchange (≥ 1).
    pub concurrency: u32,
    /// Attempts per chunk before giving up (≥ 1).
    pub max_attempts: u32,
    /// First retry delay, in ms (doubled per attempt, with jitter).
    pub retry_base_ms: u64,
    /// Cap of one retry delay, in ms.
    pub retry_max_ms: u64,
}

impl Default for BackfillConfig {
    fn default() -> Self {
        BackfillConfig {
            concurrency: 4,
            max_attempts: 6,
            retry_base_ms: 200,
            retry_max_ms: 30_000,
        }
    }
}

/// Per-phase budgets and the breach policy (`[sla]`); `None` means no budget.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SlaConfig {
    /// Budget of the storage read, in ms.
    pub storage_ms: Option<u64>,
    /// Budget of the backfill phase, in ms.
    pub backfill_ms: Option<u64>,
    /// Budget of the live handoff, in ms.
    pub live_ms: Option<u64>,
    /// Budget of the whole request, in ms.
    pub total_ms: Option<u64>,
    /// Most bars a served frame may miss.
    pub max_missing_bars: Option<u64>,
    /// What a breach does.
    pub on_violation: OnViolation,
}

/// What an SLA breach does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnViolation {
    /// Error naming the phase, the elapsed time and the budget.
    #[default]
    FailFast,
    /// Return what is ready, marked downgraded.
    PartialFill,
    /// Return nothing new, marked held.
    Hold,
}

impl OnViolation {
    /// Every policy, in documentation order.
    pub const ALL: [OnViolation; 3] = [
        OnViolation::FailFast,
        OnViolation::PartialFill,
        OnViolation::Hold,
    ];

    /// The kebab-case name (`fail-fast`, `partial-fill`, `hold`).
    pub fn as_str(self) -> &'static str {
        match self {
            OnViolation::FailFast => "fail-fast",
            OnViolation::PartialFill => "partial-fill",
            OnViolation::Hold => "hold",
        }
    }
}

impl fmt::Display for OnViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown `on_violation` name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown on_violation {0:?}: use one of fail-fast, partial-fill, hold")]
pub struct ParseOnViolationError(pub String);

impl FromStr for OnViolation {
    type Err = ParseOnViolationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        OnViolation::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(t) || v.as_str().replace('-', "_") == t)
            .ok_or_else(|| ParseOnViolationError(s.to_string()))
    }
}

/// Overrides of an adapter's rate-limit hint for one exchange (`[ratelimit.<id>]`).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RateLimitOverride {
    /// Weight allowed per window.
    pub budget: Option<u32>,
    /// Window length, in ms.
    pub window_ms: Option<u64>,
    /// Weight of one OHLCV request.
    pub weight: Option<u32>,
    /// No local limiting at all (benchmarks).
    pub disabled: Option<bool>,
    /// Fraction in (0, 1] of the budget this process may use when the cluster limiter is down.
    pub share: Option<f64>,
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The built-in default.
    Default,
    /// The config file at this path.
    File(PathBuf),
    /// This environment variable.
    Env(String),
    /// This command-line flag.
    Flag(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(v) => write!(f, "env {v}"),
            Source::Flag(fl) => write!(f, "flag {fl}"),
        }
    }
}

/// A configuration problem; every message names where the value came from and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error(
        "cannot read config file {} (given by {via}): {error}; {}",
        .path.display(),
        read_fix(.via)
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// How the path was chosen: `--config-file`, `SEAMLESS_CONFIG` or `the user config folder`.
        via: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error(
        "{}:{line}:{column}: invalid TOML: {message}; fix the syntax (see https://toml.io)",
        .path.display()
    )]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A key that does not exist (in the file, or given to [`Loaded::set_flag`]).
    #[error("{at}: unknown key `{key}`{}; valid keys{scope}: {valid}", did_you_mean(.suggestion))]
    UnknownKey {
        /// `path:line` of the file, or `flag --x`.
        at: String,
        /// The full key path as written.
        key: String,
        /// The closest valid key, if one is close.
        suggestion: Option<String>,
        /// Which table the valid keys belong to, e.g. ` in [backfill]` (may be empty).
        scope: String,
        /// The valid keys, comma-separated.
        valid: String,
    },
    /// A file value of the wrong TOML type.
    #[error("{}:{line}: `{key}` must be {expected}, found {found}", .path.display())]
    WrongType {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The full key path.
        key: String,
        /// The expected type, e.g. `an integer from 1 to 4294967295`.
        expected: String,
        /// What was found, with advice where there is some, e.g.
        /// `string "4"; remove the quotes: concurrency = 4`.
        found: String,
    },
    /// A file value of the right type but not allowed (range, URL scheme, exchange id).
    #[error("{}:{line}: bad value for `{key}`: {reason}", .path.display())]
    InvalidValue {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The full key path.
        key: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// An environment variable with a bad value.
    #[error("environment variable {var}: {reason} (it sets `{key}`); fix the value or unset {var}")]
    Env {
        /// The variable name.
        var: String,
        /// The key it sets.
        key: String,
        /// The value (passwords in URLs redacted).
        value: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A command-line flag with a bad value.
    #[error("{flag}: {reason} (it sets `{key}`)")]
    Flag {
        /// The flag, e.g. `--store`.
        flag: String,
        /// The key it sets.
        key: String,
        /// The value (passwords in URLs redacted).
        value: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
}

fn read_fix(via: &str) -> &'static str {
    match via {
        "--config-file" => "check the path given to --config-file",
        CONFIG_ENV => "check SEAMLESS_CONFIG or unset it",
        _ => "fix its permissions or move it away",
    }
}

fn did_you_mean(s: &Option<String>) -> String {
    match s {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

/// The configuration with the source of every value and the file it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The effective configuration.
    pub config: Config,
    /// Key path (e.g. `backfill.concurrency`) → where its value came from; every key that has a
    /// value, defaults included.
    pub sources: BTreeMap<String, Source>,
    /// The config file read, if any.
    pub file: Option<PathBuf>,
}

impl Loaded {
    /// Load: defaults, then the file (an explicit path, from `--config-file` or `SEAMLESS_CONFIG`,
    /// must exist; the implicit user file is optional), then the `SEAMLESS_*` variables of `env`
    /// (pass `std::env::vars()` in production; the process environment is not read here).
    pub fn load(
        explicit: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, ConfigError> {
        let env: BTreeMap<String, String> = env.into_iter().collect();
        let mut loaded = Loaded::defaults();
        if let Some((path, via)) = locate(explicit, &env) {
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    loaded.apply_file(&path, &text)?;
                    loaded.file = Some(path);
                }
                // The implicit file vanished between the check and the read: no file.
                Err(e) if via == Via::User && e.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(ConfigError::Read {
                        path,
                        via: via.name().to_string(),
                        error,
                    });
                }
            }
        }
        loaded.apply_env(&env)?;
        Ok(loaded)
    }

    /// Apply a command-line flag value to a key (highest precedence), parsed like an
    /// environment value. `key` is a key path (`store`, `exchange_urls.binance`,
    /// `ratelimit.binance.budget`); `flag` is e.g. `--store`.
    pub fn set_flag(&mut self, key: &str, value: &str, flag: &str) -> Result<(), ConfigError> {
        let Some(resolved) = resolve_key(key) else {
            let all = all_key_patterns();
            let suggestion = closest(key, all.iter().map(String::as_str));
            return Err(ConfigError::UnknownKey {
                at: format!("flag {flag}"),
                key: key.to_string(),
                suggestion,
                scope: String::new(),
                valid: all.join(", "),
            });
        };
        let (target, kind) = match resolved {
            Ok(t) => t,
            Err(reason) => {
                return Err(ConfigError::Flag {
                    flag: flag.to_string(),
                    key: key.to_string(),
                    value: redact(value).into_owned(),
                    reason,
                });
            }
        };
        let val = parse_text(kind, value).map_err(|reason| ConfigError::Flag {
            flag: flag.to_string(),
            key: target.path(),
            value: redact(value).into_owned(),
            reason,
        })?;
        self.assign(&target, val, Source::Flag(flag.to_string()));
        Ok(())
    }

    /// `key = value  # source` lines, sorted by key, one for every key that has a value
    /// (defaults included), e.g. `backfill.concurrency = 4  # default`. Passwords inside URLs
    /// are shown as `***`.
    pub fn show(&self) -> String {
        let c = &self.config;
        let mut rows: BTreeMap<String, toml::Value> = BTreeMap::new();
        let mut put = |k: String, v: toml::Value| {
            rows.insert(k, v);
        };
        let s = |v: &str| toml::Value::String(redact(v).into_owned());
        let p = |v: &Path| toml::Value::String(v.to_string_lossy().into_owned());
        let n = |v: u64| match i64::try_from(v) {
            Ok(i) => toml::Value::Integer(i),
            Err(_) => toml::Value::String(v.to_string()),
        };
        if let Some(v) = &c.store {
            put("store".into(), s(v));
        }
        if let Some(v) = &c.redis {
            put("redis".into(), s(v));
        }
        if let Some(v) = &c.adapters_dir {
            put("adapters_dir".into(), p(v));
        }
        if let Some(v) = &c.cache_dir {
            put("cache_dir".into(), p(v));
        }
        put("log".into(), s(&c.log));
        for (id, url) in &c.exchange_urls {
            put(format!("exchange_urls.{id}"), s(url));
        }
        put(
            "sandbox.call_timeout_ms".into(),
            n(c.sandbox.call_timeout_ms),
        );
        put("sandbox.memory_mb".into(), n(c.sandbox.memory_mb));
        put(
            "backfill.concurrency".into(),
            n(u64::from(c.backfill.concurrency)),
        );
        put(
            "backfill.max_attempts".into(),
            n(u64::from(c.backfill.max_attempts)),
        );
        put("backfill.retry_base_ms".into(), n(c.backfill.retry_base_ms));
        put("backfill.retry_max_ms".into(), n(c.backfill.retry_max_ms));
        for (k, v) in [
            ("sla.storage_ms", c.sla.storage_ms),
            ("sla.backfill_ms", c.sla.backfill_ms),
            ("sla.live_ms", c.sla.live_ms),
            ("sla.total_ms", c.sla.total_ms),
            ("sla.max_missing_bars", c.sla.max_missing_bars),
        ] {
            if let Some(v) = v {
                put(k.into(), n(v));
            }
        }
        put("sla.on_violation".into(), s(c.sla.on_violation.as_str()));
        for (id, r) in &c.ratelimit {
            if let Some(v) = r.budget {
                put(format!("ratelimit.{id}.budget"), n(u64::from(v)));
            }
            if let Some(v) = r.window_ms {
                put(format!("ratelimit.{id}.window_ms"), n(v));
            }
            if let Some(v) = r.weight {
                put(format!("ratelimit.{id}.weight"), n(u64::from(v)));
            }
            if let Some(v) = r.disabled {
                put(format!("ratelimit.{id}.disabled"), toml::Value::Boolean(v));
            }
            if let Some(v) = r.share {
                put(format!("ratelimit.{id}.share"), toml::Value::Float(v));
            }
        }
        let mut out = String::new();
        for (k, v) in rows {
            let src = self.sources.get(&k).cloned().unwrap_or(Source::Default);
            out.push_str(&format!("{k} = {v}  # {src}\n"));
        }
        out
    }

    /// The defaults, each recorded with [`Source::Default`].
    fn defaults() -> Loaded {
        let sources = KEYS
            .iter()
            .filter(|k| k.has_default)
            .map(|k| (k.path.to_string(), Source::Default))
            .collect();
        Loaded {
            config: Config::default(),
            sources,
            file: None,
        }
    }

    fn apply_file(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let ctx = FileCtx { path, text };
        let root = DeTable::parse(text).map_err(|e| {
            let (line, column) = e.span().map(|s| ctx.line_col(s.start)).unwrap_or((1, 1));
            ConfigError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        let source = Source::File(path.to_path_buf());
        let top_valid: Vec<&str> = KEYS
            .iter()
            .filter(|k| !k.path.contains('.'))
            .map(|k| k.path)
            .chain(["exchange_urls", "sandbox", "backfill", "sla", "ratelimit"])
            .collect();
        for (k, v) in root.get_ref() {
            let name: &str = k.get_ref();
            match name {
                "exchange_urls" => {
                    let table = ctx.table(name, v)?;
                    for (id, url) in table {
                        let key = format!("exchange_urls.{}", id.get_ref());
                        ctx.check_id(&key, id.get_ref(), id.span().start)?;
                        let val = ctx.value(&key, Kind::Url, url)?;
                        self.assign(
                            &Target::ExchangeUrl(id.get_ref().to_string()),
                            val,
                            source.clone(),
                        );
                    }
                }
                "ratelimit" => {
                    let table = ctx.table(name, v)?;
                    for (id, fields) in table {
                        let prefix = format!("ratelimit.{}", id.get_ref());
                        let is_field = RATELIMIT_FIELDS
                            .iter()
                            .any(|(f, _)| *f == id.get_ref().as_ref());
                        if is_field && !fields.get_ref().is_table() {
                            // `[ratelimit]` + `budget = 5`: the exchange table is missing.
                            return Err(ConfigError::WrongType {
                                path: path.to_path_buf(),
                                line: ctx.line(id.span().start),
                                key: prefix,
                                expected: "a table of one exchange's overrides".to_string(),
                                found: format!(
                                    "{}; rate-limit fields go under an exchange table, e.g. [ratelimit.binance] then {} = ...",
                                    describe(fields.get_ref()),
                                    id.get_ref()
                                ),
                            });
                        }
                        ctx.check_id(&prefix, id.get_ref(), id.span().start)?;
                        let fields = ctx.table(&prefix, fields)?;
                        for (f, val) in fields {
                            let key = format!("{prefix}.{}", f.get_ref());
                            let Some((field, kind)) = RATELIMIT_FIELDS
                                .iter()
                                .find(|(n, _)| *n == f.get_ref().as_ref())
                            else {
                                let valid: Vec<&str> =
                                    RATELIMIT_FIELDS.iter().map(|f| f.0).collect();
                                return Err(ctx.unknown(
                                    &key,
                                    f.get_ref(),
                                    f.span().start,
                                    &valid,
                                    &format!(" in [{prefix}]"),
                                ));
                            };
                            let parsed = ctx.value(&key, *kind, val)?;
                            let target = Target::RateLimit(id.get_ref().to_string(), field);
                            self.assign(&target, parsed, source.clone());
                        }
                    }
                }
                "sandbox" | "backfill" | "sla" => {
                    let table = ctx.table(name, v)?;
                    let valid: Vec<&str> = KEYS
                        .iter()
                        .filter_map(|k| k.path.strip_prefix(name)?.strip_prefix('.'))
                        .collect();
                    for (f, val) in table {
                        let key = format!("{name}.{}", f.get_ref());
                        let Some(spec) = KEYS.iter().find(|k| k.path == key) else {
                            return Err(ctx.unknown(
                                &key,
                                f.get_ref(),
                                f.span().start,
                                &valid,
                                &format!(" in [{name}]"),
                            ));
                        };
                        let parsed = ctx.value(&key, spec.kind, val)?;
                        self.assign(&Target::Static(spec.path), parsed, source.clone());
                    }
                }
                _ => {
                    let Some(spec) = KEYS.iter().find(|k| k.path == name && !name.contains('.'))
                    else {
                        return Err(ctx.unknown(
                            name,
                            name,
                            k.span().start,
                            &top_valid,
                            " at the top level",
                        ));
                    };
                    let mut parsed = ctx.value(name, spec.kind, v)?;
                    if let Val::Path(p) = &mut parsed
                        && p.is_relative()
                        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                    {
                        *p = dir.join(&*p);
                    }
                    self.assign(&Target::Static(spec.path), parsed, source.clone());
                }
            }
        }
        Ok(())
    }

    fn apply_env(&mut self, env: &BTreeMap<String, String>) -> Result<(), ConfigError> {
        // (priority, var, value, target): aliases first so the canonical name wins.
        let mut todo: Vec<(u8, &str, &str, Target, Kind)> = Vec::new();
        for (var, value) in env {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if var == CONFIG_ENV || value.is_empty() {
                continue;
            }
            if let Some((_, path)) = ENV_ALIASES.iter().find(|(a, _)| *a == rest) {
                if let Some(spec) = KEYS.iter().find(|k| k.path == *path) {
                    todo.push((0, var, value, Target::Static(spec.path), spec.kind));
                }
                continue;
            }
            match env_target(rest) {
                Some(Ok((target, kind))) => todo.push((1, var, value, target, kind)),
                Some(Err(reason)) => {
                    return Err(ConfigError::Env {
                        var: var.clone(),
                        key: if rest.starts_with("EXCHANGE_URLS_") {
                            "exchange_urls.<id>".to_string()
                        } else {
                            "ratelimit.<id>.<field>".to_string()
                        },
                        value: redact(value).into_owned(),
                        reason,
                    });
                }
                None => warn_near_miss(var, rest),
            }
        }
        todo.sort_by_key(|t| t.0);
        for (_, var, value, target, kind) in todo {
            let val = parse_text(kind, value).map_err(|reason| ConfigError::Env {
                var: var.to_string(),
                key: target.path(),
                value: redact(value).into_owned(),
                reason,
            })?;
            self.assign(&target, val, Source::Env(var.to_string()));
        }
        Ok(())
    }

    /// Store a parsed value and record its source.
    fn assign(&mut self, target: &Target, val: Val, source: Source) {
        let c = &mut self.config;
        let done = match (target, val) {
            (Target::ExchangeUrl(id), Val::Str(s)) => {
                c.exchange_urls.insert(id.clone(), s);
                true
            }
            (Target::RateLimit(id, field), val) => {
                let r = c.ratelimit.entry(id.clone()).or_default();
                match (*field, val) {
                    ("budget", Val::U32(v)) => r.budget = Some(v),
                    ("window_ms", Val::U64(v)) => r.window_ms = Some(v),
                    ("weight", Val::U32(v)) => r.weight = Some(v),
                    ("disabled", Val::Bool(v)) => r.disabled = Some(v),
                    ("share", Val::F64(v)) => r.share = Some(v),
                    _ => return,
                }
                true
            }
            (Target::Static(path), val) => match (*path, val) {
                ("store", Val::Str(v)) => set(&mut c.store, Some(v)),
                ("redis", Val::Str(v)) => set(&mut c.redis, Some(v)),
                ("adapters_dir", Val::Path(v)) => set(&mut c.adapters_dir, Some(v)),
                ("cache_dir", Val::Path(v)) => set(&mut c.cache_dir, Some(v)),
                ("log", Val::Str(v)) => set(&mut c.log, v),
                ("sandbox.call_timeout_ms", Val::U64(v)) => set(&mut c.sandbox.call_timeout_ms, v),
                ("sandbox.memory_mb", Val::U64(v)) => set(&mut c.sandbox.memory_mb, v),
                ("backfill.concurrency", Val::U32(v)) => set(&mut c.backfill.concurrency, v),
                ("backfill.max_attempts", Val::U32(v)) => set(&mut c.backfill.max_attempts, v),
                ("backfill.retry_base_ms", Val::U64(v)) => set(&mut c.backfill.retry_base_ms, v),
                ("backfill.retry_max_ms", Val::U64(v)) => set(&mut c.backfill.retry_max_ms, v),
                ("sla.storage_ms", Val::U64(v)) => set(&mut c.sla.storage_ms, Some(v)),
                ("sla.backfill_ms", Val::U64(v)) => set(&mut c.sla.backfill_ms, Some(v)),
                ("sla.live_ms", Val::U64(v)) => set(&mut c.sla.live_ms, Some(v)),
                ("sla.total_ms", Val::U64(v)) => set(&mut c.sla.total_ms, Some(v)),
                ("sla.max_missing_bars", Val::U64(v)) => set(&mut c.sla.max_missing_bars, Some(v)),
                ("sla.on_violation", Val::OnViolation(v)) => set(&mut c.sla.on_violation, v),
                _ => false,
            },
            _ => false,
        };
        if done {
            self.sources.insert(target.path(), source);
        }
    }
}

fn set<T>(slot: &mut T, v: T) -> bool {
    *slot = v;
    true
}

/// The config file location from `--config-file`, else `SEAMLESS_CONFIG` (non-empty), else
/// `<user config dir>/seamless/seamless.toml` if that file exists; `None` when there is none.
/// `env` is the environment to consult (the process environment is not read, except for the
/// platform's config folder outside Linux/BSD).
pub fn config_path(explicit: Option<&Path>, env: &BTreeMap<String, String>) -> Option<PathBuf> {
    locate(explicit, env).map(|(p, _)| p)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Flag,
    Env,
    User,
}

impl Via {
    fn name(self) -> &'static str {
        match self {
            Via::Flag => "--config-file",
            Via::Env => CONFIG_ENV,
            Via::User => "the user config folder",
        }
    }
}

fn locate(explicit: Option<&Path>, env: &BTreeMap<String, String>) -> Option<(PathBuf, Via)> {
    if let Some(p) = explicit {
        return Some((p.to_path_buf(), Via::Flag));
    }
    if let Some(p) = env.get(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Some((PathBuf::from(p), Via::Env));
    }
    let file = user_config_dir(env)?.join("seamless").join(FILE_NAME);
    file.is_file().then_some((file, Via::User))
}

/// The user's config folder, computed from `env` where the platform defines it by environment
/// variables (XDG on Linux and the BSDs), so tests can pass their own.
fn user_config_dir(env: &BTreeMap<String, String>) -> Option<PathBuf> {
    if cfg!(all(
        unix,
        not(target_os = "macos"),
        not(target_os = "ios"),
        not(target_os = "android")
    )) {
        if let Some(x) = env
            .get("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
        {
            return Some(x);
        }
        env.get("HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .map(|h| h.join(".config"))
    } else {
        dirs::config_dir()
    }
}

/// The value type of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Path,
    Url,
    U32 { min: u32 },
    U64 { min: u64 },
    Bool,
    Share,
    OnViolation,
}

impl Kind {
    /// What a valid value is, for messages.
    fn expected(self) -> String {
        match self {
            Kind::Str => "a non-empty string".into(),
            Kind::Path => "a non-empty path".into(),
            Kind::Url => "an http:// or https:// base URL (e.g. \"http://127.0.0.1:8080\")".into(),
            Kind::U32 { min } => format!("an integer from {min} to {}", u32::MAX),
            Kind::U64 { min } => format!("an integer from {min} to {}", u64::MAX),
            Kind::Bool => "true or false".into(),
            Kind::Share => "a number greater than 0 and at most 1 (e.g. 0.5)".into(),
            Kind::OnViolation => "one of \"fail-fast\", \"partial-fill\", \"hold\"".into(),
        }
    }

    /// The TOML type the file must use, for messages.
    fn toml_type(self) -> &'static str {
        match self {
            Kind::Str | Kind::Path | Kind::Url | Kind::OnViolation => "string",
            Kind::U32 { .. } | Kind::U64 { .. } => "integer",
            Kind::Bool => "boolean",
            Kind::Share => "float",
        }
    }
}

/// A parsed value.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Str(String),
    Path(PathBuf),
    U32(u32),
    U64(u64),
    Bool(bool),
    F64(f64),
    OnViolation(OnViolation),
}

/// A fixed key.
struct KeySpec {
    path: &'static str,
    kind: Kind,
    has_default: bool,
}

const fn key(path: &'static str, kind: Kind, has_default: bool) -> KeySpec {
    KeySpec {
        path,
        kind,
        has_default,
    }
}

const KEYS: &[KeySpec] = &[
    key("store", Kind::Str, false),
    key("redis", Kind::Str, false),
    key("adapters_dir", Kind::Path, false),
    key("cache_dir", Kind::Path, false),
    key("log", Kind::Str, true),
    key("sandbox.call_timeout_ms", Kind::U64 { min: 1 }, true),
    key("sandbox.memory_mb", Kind::U64 { min: 1 }, true),
    key("backfill.concurrency", Kind::U32 { min: 1 }, true),
    key("backfill.max_attempts", Kind::U32 { min: 1 }, true),
    key("backfill.retry_base_ms", Kind::U64 { min: 0 }, true),
    key("backfill.retry_max_ms", Kind::U64 { min: 0 }, true),
    key("sla.storage_ms", Kind::U64 { min: 0 }, false),
    key("sla.backfill_ms", Kind::U64 { min: 0 }, false),
    key("sla.live_ms", Kind::U64 { min: 0 }, false),
    key("sla.total_ms", Kind::U64 { min: 0 }, false),
    key("sla.max_missing_bars", Kind::U64 { min: 0 }, false),
    key("sla.on_violation", Kind::OnViolation, true),
];

/// Fields of `[ratelimit.<id>]`, longest env suffix first where one ends another.
const RATELIMIT_FIELDS: &[(&str, Kind)] = &[
    ("budget", Kind::U32 { min: 1 }),
    ("window_ms", Kind::U64 { min: 1 }),
    ("weight", Kind::U32 { min: 0 }),
    ("disabled", Kind::Bool),
    ("share", Kind::Share),
];

/// Older variable names (after `SEAMLESS_`) still accepted; the canonical name wins.
const ENV_ALIASES: &[(&str, &str)] = &[
    ("ADAPTER_DIR", "adapters_dir"),
    ("CALL_TIMEOUT_MS", "sandbox.call_timeout_ms"),
    ("GUEST_MEMORY_MB", "sandbox.memory_mb"),
];

/// Where a value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Static(&'static str),
    ExchangeUrl(String),
    RateLimit(String, &'static str),
}

impl Target {
    fn path(&self) -> String {
        match self {
            Target::Static(p) => (*p).to_string(),
            Target::ExchangeUrl(id) => format!("exchange_urls.{id}"),
            Target::RateLimit(id, f) => format!("ratelimit.{id}.{f}"),
        }
    }
}

/// Every key, with `<id>` placeholders, for messages.
fn all_key_patterns() -> Vec<String> {
    KEYS.iter()
        .map(|k| k.path.to_string())
        .chain(std::iter::once("exchange_urls.<id>".to_string()))
        .chain(
            RATELIMIT_FIELDS
                .iter()
                .map(|(f, _)| format!("ratelimit.<id>.{f}")),
        )
        .collect()
}

/// A key path → its target: `None` if unknown, `Some(Err)` if the exchange id is malformed.
fn resolve_key(key: &str) -> Option<Result<(Target, Kind), String>> {
    if let Some(spec) = KEYS.iter().find(|k| k.path == key) {
        return Some(Ok((Target::Static(spec.path), spec.kind)));
    }
    if let Some(id) = key.strip_prefix("exchange_urls.") {
        return Some(check_id(id).map(|()| (Target::ExchangeUrl(id.to_string()), Kind::Url)));
    }
    let rest = key.strip_prefix("ratelimit.")?;
    let (id, field) = rest.rsplit_once('.')?;
    let (field, kind) = RATELIMIT_FIELDS.iter().find(|(f, _)| *f == field)?;
    Some(check_id(id).map(|()| (Target::RateLimit(id.to_string(), field), *kind)))
}

/// An environment variable name (after `SEAMLESS_`) → its target, like [`resolve_key`].
fn env_target(rest: &str) -> Option<Result<(Target, Kind), String>> {
    if let Some(spec) = KEYS.iter().find(|k| env_name(k.path) == rest) {
        return Some(Ok((Target::Static(spec.path), spec.kind)));
    }
    if let Some(id) = rest.strip_prefix("EXCHANGE_URLS_") {
        let id = id.to_ascii_lowercase();
        return Some(check_id(&id).map(|()| (Target::ExchangeUrl(id), Kind::Url)));
    }
    let rest = rest.strip_prefix("RATELIMIT_")?;
    let (field, kind, id) = RATELIMIT_FIELDS.iter().find_map(|(f, k)| {
        // `RATELIMIT_<ID>_<FIELD>`; a bare `RATELIMIT_<FIELD>` lacks the id (an error).
        let id = rest.strip_suffix(&env_name(f))?;
        let id = if id.is_empty() {
            id
        } else {
            id.strip_suffix('_')?
        };
        Some((*f, *k, id))
    })?;
    let id = id.to_ascii_lowercase();
    Some(check_id(&id).map(|()| (Target::RateLimit(id, field), kind)))
}

fn env_name(path: &str) -> String {
    path.replace('.', "_").to_ascii_uppercase()
}

/// Log `SEAMLESS_*` variables that look like a misspelt key (they are otherwise ignored).
fn warn_near_miss(var: &str, rest: &str) {
    let in_table = ["SANDBOX_", "BACKFILL_", "SLA_", "RATELIMIT_"]
        .iter()
        .any(|t| rest.starts_with(t));
    if !in_table {
        return;
    }
    let names: Vec<String> = KEYS
        .iter()
        .map(|k| format!("{ENV_PREFIX}{}", env_name(k.path)))
        .collect();
    let hint = did_you_mean(&closest(var, names.iter().map(String::as_str)));
    tracing::warn!("ignoring environment variable {var}: it names no config key{hint}");
}

fn check_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "exchange id {id:?} is not valid: use lowercase letters, digits, '-' and '_' (e.g. \"binance\")"
        ))
    }
}

/// Parse an environment or flag value.
fn parse_text(kind: Kind, raw: &str) -> Result<Val, String> {
    let bad = || format!("{:?} is not {}", redact(raw), kind.expected());
    let t = raw.trim();
    let val = match kind {
        Kind::Str => Val::Str(raw.to_string()),
        Kind::Path => Val::Path(PathBuf::from(raw)),
        Kind::Url => Val::Str(t.to_string()),
        Kind::U32 { .. } => Val::U32(t.parse().map_err(|_| bad())?),
        Kind::U64 { .. } => Val::U64(t.parse().map_err(|_| bad())?),
        Kind::Bool => Val::Bool(match t.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(bad()),
        }),
        Kind::Share => Val::F64(t.parse().map_err(|_| bad())?),
        Kind::OnViolation => Val::OnViolation(t.parse().map_err(|_| bad())?),
    };
    check(kind, val).map_err(|shown| format!("{shown} is not {}", kind.expected()))
}

/// Range checks shared by every source; `Err` holds the value as shown in messages.
fn check(kind: Kind, val: Val) -> Result<Val, String> {
    let ok = match (&kind, &val) {
        (Kind::Str, Val::Str(s)) => !s.is_empty(),
        (Kind::Path, Val::Path(p)) => !p.as_os_str().is_empty(),
        (Kind::Url, Val::Str(s)) => is_base_url(s),
        (Kind::U32 { min }, Val::U32(v)) => v >= min,
        (Kind::U64 { min }, Val::U64(v)) => v >= min,
        (Kind::Share, Val::F64(v)) => v.is_finite() && *v > 0.0 && *v <= 1.0,
        _ => true,
    };
    if ok {
        return Ok(val);
    }
    Err(match val {
        Val::Str(s) => format!("{:?}", redact(&s)),
        Val::Path(p) => format!("{:?}", p.to_string_lossy()),
        Val::U32(v) => v.to_string(),
        Val::U64(v) => v.to_string(),
        Val::Bool(v) => v.to_string(),
        Val::F64(v) => format!("{v:?}"),
        Val::OnViolation(v) => v.to_string(),
    })
}

/// `http://host...` or `https://host...`, no whitespace.
fn is_base_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// A URL with the password of its user info replaced by `***`; other text unchanged.
fn redact(s: &str) -> Cow<'_, str> {
    let Some(scheme_end) = s.find("://") else {
        return Cow::Borrowed(s);
    };
    let auth_start = scheme_end + 3;
    let auth_end = s[auth_start..]
        .find(['/', '?', '#'])
        .map_or(s.len(), |i| auth_start + i);
    let authority = &s[auth_start..auth_end];
    let Some(at) = authority.rfind('@') else {
        return Cow::Borrowed(s);
    };
    let Some(colon) = authority[..at].find(':') else {
        return Cow::Borrowed(s);
    };
    if colon + 1 == at {
        return Cow::Borrowed(s);
    }
    let pw_start = auth_start + colon + 1;
    let pw_end = auth_start + at;
    Cow::Owned(format!("{}***{}", &s[..pw_start], &s[pw_end..]))
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| {
            (
                edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, c)| {
            *d <= limit
                || (word.len() >= 3
                    && c.to_ascii_lowercase()
                        .starts_with(&word.to_ascii_lowercase()))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The file being applied, for messages.
struct FileCtx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl FileCtx<'_> {
    /// 1-based line and column of a byte offset.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = self.text.get(..offset.min(self.text.len())).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    fn line(&self, offset: usize) -> usize {
        self.line_col(offset).0
    }

    /// `v` as a table, or a wrong-type error for `key`.
    fn table<'v, 'i>(
        &self,
        key: &str,
        v: &'v toml::Spanned<DeValue<'i>>,
    ) -> Result<&'v DeTable<'i>, ConfigError> {
        match v.get_ref() {
            DeValue::Table(t) => Ok(t),
            other => Err(ConfigError::WrongType {
                path: self.path.to_path_buf(),
                line: self.line(v.span().start),
                key: key.to_string(),
                expected: format!("a table (write it as [{key}])"),
                found: describe(other),
            }),
        }
    }

    fn check_id(&self, key: &str, id: &str, offset: usize) -> Result<(), ConfigError> {
        check_id(id).map_err(|reason| ConfigError::InvalidValue {
            path: self.path.to_path_buf(),
            line: self.line(offset),
            key: key.to_string(),
            reason,
        })
    }

    fn unknown(
        &self,
        key: &str,
        name: &str,
        offset: usize,
        valid: &[&str],
        scope: &str,
    ) -> ConfigError {
        // A close key in the same table, else the same name in another table (misplaced key).
        let suggestion = closest(name, valid.iter().copied())
            .map(|s| match key.rsplit_once('.') {
                Some((table, _)) => format!("{table}.{s}"),
                None => s,
            })
            .or_else(|| {
                KEYS.iter()
                    .map(|k| k.path)
                    .filter(|p| p.rsplit('.').next() == Some(name) && *p != key)
                    .map(str::to_string)
                    .next()
            });
        ConfigError::UnknownKey {
            at: format!("{}:{}", self.path.display(), self.line(offset)),
            key: key.to_string(),
            suggestion,
            scope: scope.to_string(),
            valid: valid.join(", "),
        }
    }

    /// A file value of `kind` for `key`.
    fn value(
        &self,
        key: &str,
        kind: Kind,
        v: &toml::Spanned<DeValue<'_>>,
    ) -> Result<Val, ConfigError> {
        let line = self.line(v.span().start);
        let wrong = |hint: String| ConfigError::WrongType {
            path: self.path.to_path_buf(),
            line,
            key: key.to_string(),
            expected: format!("{} ({})", kind.expected(), kind.toml_type()),
            found: format!("{}{hint}", describe(v.get_ref())),
        };
        let invalid = |shown: String| ConfigError::InvalidValue {
            path: self.path.to_path_buf(),
            line,
            key: key.to_string(),
            reason: format!("{shown} is not {}", kind.expected()),
        };
        let parsed = match (kind, v.get_ref()) {
            (Kind::Str | Kind::Url, DeValue::String(s)) => Val::Str(s.to_string()),
            (Kind::Path, DeValue::String(s)) => Val::Path(PathBuf::from(s.as_ref())),
            (Kind::OnViolation, DeValue::String(s)) => match s.parse() {
                Ok(o) => Val::OnViolation(o),
                Err(_) => return Err(invalid(format!("{:?}", s.as_ref()))),
            },
            (Kind::Bool, DeValue::Boolean(b)) => Val::Bool(*b),
            (Kind::U32 { .. } | Kind::U64 { .. } | Kind::Share, DeValue::Integer(i)) => {
                let Ok(n) = i128::from_str_radix(i.as_str(), i.radix()) else {
                    return Err(invalid(i.to_string()));
                };
                match kind {
                    Kind::U32 { .. } => {
                        Val::U32(u32::try_from(n).map_err(|_| invalid(n.to_string()))?)
                    }
                    Kind::U64 { .. } => {
                        Val::U64(u64::try_from(n).map_err(|_| invalid(n.to_string()))?)
                    }
                    // Whole numbers are fine where a float is expected (`share = 1`).
                    _ => Val::F64(n as f64),
                }
            }
            (Kind::Share, DeValue::Float(f)) => match f.as_str().parse::<f64>() {
                Ok(x) => Val::F64(x),
                Err(_) => return Err(invalid(f.to_string())),
            },
            (_, DeValue::String(s))
                if parse_text(kind, s).is_ok()
                    && (kind != Kind::Bool || matches!(s.trim(), "true" | "false")) =>
            {
                return Err(wrong(format!(
                    "; remove the quotes: {} = {}",
                    leaf(key),
                    s.trim()
                )));
            }
            _ => return Err(wrong(String::new())),
        };
        check(kind, parsed).map_err(invalid)
    }
}

fn leaf(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

/// A TOML value's type and, for scalars, the value, for messages.
fn describe(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("string {:?}", redact(s)),
        DeValue::Integer(i) => format!("integer {i}"),
        DeValue::Float(f) => format!("float {f}"),
        DeValue::Boolean(b) => format!("boolean {b}"),
        other => other.type_str().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new()
            .suffix(".toml")
            .tempfile()
            .expect("tempfile");
        f.write_all(text.as_bytes()).expect("write");
        f
    }

    fn load_text(text: &str) -> Result<Loaded, ConfigError> {
        let f = file(text);
        Loaded::load(Some(f.path()), env(&[]))
    }

    fn err_text(text: &str) -> String {
        match load_text(text) {
            Ok(l) => panic!("expected an error, got {:?}", l.config),
            Err(e) => e.to_string(),
        }
    }

    const FULL: &str = r#"
store = "sqlite:/data/seamless.db"
redis = "redis://127.0.0.1:6379"
adapters_dir = "/opt/adapters"
cache_dir = "cache"
log = "info"

[exchange_urls]
binance = "http://127.0.0.1:8080"
binance-us = "https://api.binance.us/"

[sandbox]
call_timeout_ms = 500
memory_mb = 64

[backfill]
concurrency = 8
max_attempts = 3
retry_base_ms = 1_000
retry_max_ms = 0x10

[sla]
storage_ms = 2000
backfill_ms = 60000
live_ms = 5000
total_ms = 120000
max_missing_bars = 0
on_violation = "partial-fill"

[ratelimit.binance]
budget = 6000
window_ms = 60000
weight = 2
disabled = false
share = 0.25

[ratelimit.okx]
share = 1
"#;

    #[test]
    fn defaults() {
        let l = Loaded::load(None, env(&[])).expect("load");
        assert_eq!(l.config, Config::default());
        assert_eq!(l.file, None);
        let c = &l.config;
        assert_eq!(c.log, "warn");
        assert_eq!(
            c.sandbox,
            SandboxConfig {
                call_timeout_ms: 2000,
                memory_mb: 256
            }
        );
        assert_eq!(
            c.backfill,
            BackfillConfig {
                concurrency: 4,
                max_attempts: 6,
                retry_base_ms: 200,
                retry_max_ms: 30000
            }
        );
        assert_eq!(c.sla, SlaConfig::default());
        assert_eq!(c.sla.on_violation, OnViolation::FailFast);
        assert!(c.store.is_none() && c.redis.is_none() && c.exchange_urls.is_empty());
        assert_eq!(
            l.sources.get("backfill.concurrency"),
            Some(&Source::Default)
        );
        assert_eq!(l.sources.get("store"), None);
        assert_eq!(l.sources.len(), 8);
    }

    #[test]
    fn file_values() {
        let f = file(FULL);
        let l = Loaded::load(Some(f.path()), env(&[])).expect("load");
        let c = &l.config;
        assert_eq!(l.file.as_deref(), Some(f.path()));
        assert_eq!(c.store.as_deref(), Some("sqlite:/data/seamless.db"));
        assert_eq!(c.redis.as_deref(), Some("redis://127.0.0.1:6379"));
        assert_eq!(c.adapters_dir.as_deref(), Some(Path::new("/opt/adapters")));
        // Relative paths in the file are relative to the file's folder.
        let dir = f.path().parent().expect("parent");
        assert_eq!(c.cache_dir, Some(dir.join("cache")));
        assert_eq!(c.log, "info");
        assert_eq!(c.exchange_urls["binance"], "http://127.0.0.1:8080");
        assert_eq!(c.exchange_urls["binance-us"], "https://api.binance.us/");
        assert_eq!(
            c.sandbox,
            SandboxConfig {
                call_timeout_ms: 500,
                memory_mb: 64
            }
        );
        assert_eq!(
            c.backfill,
            BackfillConfig {
                concurrency: 8,
                max_attempts: 3,
                retry_base_ms: 1000,
                retry_max_ms: 16
            }
        );
        assert_eq!(
            c.sla,
            SlaConfig {
                storage_ms: Some(2000),
                backfill_ms: Some(60000),
                live_ms: Some(5000),
                total_ms: Some(120000),
                max_missing_bars: Some(0),
                on_violation: OnViolation::PartialFill,
            }
        );
        assert_eq!(
            c.ratelimit["binance"],
            RateLimitOverride {
                budget: Some(6000),
                window_ms: Some(60000),
                weight: Some(2),
                disabled: Some(false),
                share: Some(0.25),
            }
        );
        assert_eq!(c.ratelimit["okx"].share, Some(1.0));
        let src = Source::File(f.path().to_path_buf());
        assert_eq!(l.sources["ratelimit.binance.budget"], src);
        assert_eq!(l.sources["exchange_urls.binance"], src);
        assert_eq!(l.sources["backfill.concurrency"], src);
        assert_eq!(l.sources["store"], src);
        // Untouched defaults keep their source.
        let l2 = load_text("log = \"debug\"\n").expect("load");
        assert_eq!(l2.sources["backfill.concurrency"], Source::Default);
    }

    #[test]
    fn serializes_to_json() {
        let l = load_text(FULL).expect("load");
        let j = serde_json::to_value(&l.config).expect("json");
        assert_eq!(j["sla"]["on_violation"], "partial-fill");
        assert_eq!(j["backfill"]["concurrency"], 8);
    }

    #[test]
    fn env_beats_file() {
        let f = file(
            "store = \"sqlite:/from/file.db\"\n[backfill]\nconcurrency = 8\n[ratelimit.binance]\nbudget = 10\n",
        );
        let l = Loaded::load(
            Some(f.path()),
            env(&[
                ("SEAMLESS_STORE", "sqlite:/from/env.db"),
                ("SEAMLESS_BACKFILL_CONCURRENCY", "2"),
                ("SEAMLESS_EXCHANGE_URLS_BINANCE", "http://127.0.0.1:9000"),
                ("SEAMLESS_RATELIMIT_BINANCE_US_WINDOW_MS", "1000"),
                ("SEAMLESS_RATELIMIT_BINANCE_BUDGET", "20"),
                ("SEAMLESS_RATELIMIT_OKX_DISABLED", "yes"),
                ("SEAMLESS_SLA_ON_VIOLATION", "hold"),
                ("SEAMLESS_SLA_TOTAL_MS", "9000"),
                ("SEAMLESS_LOG", ""),                    // empty: ignored
                ("SEAMLESS_SOMETHING_ELSE", "whatever"), // unknown: ignored
                ("SEAMLESS_CONFIG", "/not/read/because/explicit"),
                ("PATH", "/usr/bin"),
            ]),
        )
        .expect("load");
        let c = &l.config;
        assert_eq!(c.store.as_deref(), Some("sqlite:/from/env.db"));
        assert_eq!(c.backfill.concurrency, 2);
        assert_eq!(c.exchange_urls["binance"], "http://127.0.0.1:9000");
        assert_eq!(c.ratelimit["binance_us"].window_ms, Some(1000));
        assert_eq!(c.ratelimit["binance"].budget, Some(20));
        assert_eq!(c.ratelimit["okx"].disabled, Some(true));
        assert_eq!(c.sla.on_violation, OnViolation::Hold);
        assert_eq!(c.sla.total_ms, Some(9000));
        assert_eq!(c.log, "warn");
        assert_eq!(l.sources["store"], Source::Env("SEAMLESS_STORE".into()));
        assert_eq!(
            l.sources["ratelimit.binance_us.window_ms"],
            Source::Env("SEAMLESS_RATELIMIT_BINANCE_US_WINDOW_MS".into())
        );
        assert_eq!(l.sources["log"], Source::Default);
    }

    #[test]
    fn env_aliases_lose_to_canonical_names() {
        let l = Loaded::load(
            None,
            env(&[
                ("SEAMLESS_ADAPTER_DIR", "/alias/adapters"),
                ("SEAMLESS_CALL_TIMEOUT_MS", "100"),
                ("SEAMLESS_SANDBOX_CALL_TIMEOUT_MS", "300"),
                ("SEAMLESS_GUEST_MEMORY_MB", "32"),
            ]),
        )
        .expect("load");
        assert_eq!(
            l.config.adapters_dir.as_deref(),
            Some(Path::new("/alias/adapters"))
        );
        assert_eq!(l.config.sandbox.call_timeout_ms, 300);
        assert_eq!(l.config.sandbox.memory_mb, 32);
        assert_eq!(
            l.sources["sandbox.call_timeout_ms"],
            Source::Env("SEAMLESS_SANDBOX_CALL_TIMEOUT_MS".into())
        );
        assert_eq!(
            l.sources["sandbox.memory_mb"],
            Source::Env("SEAMLESS_GUEST_MEMORY_MB".into())
        );
        assert_eq!(
            l.sources["adapters_dir"],
            Source::Env("SEAMLESS_ADAPTER_DIR".into())
        );
    }

    #[test]
    fn flag_beats_env() {
        let mut l = Loaded::load(
            None,
            env(&[
                ("SEAMLESS_STORE", "sqlite:/env.db"),
                ("SEAMLESS_BACKFILL_CONCURRENCY", "2"),
            ]),
        )
        .expect("load");
        l.set_flag("store", "sqlite:/flag.db", "--store")
            .expect("flag");
        l.set_flag("backfill.concurrency", "16", "--concurrency")
            .expect("flag");
        l.set_flag(
            "exchange_urls.binance",
            "http://127.0.0.1:1",
            "--exchange-url",
        )
        .expect("flag");
        l.set_flag("ratelimit.binance.share", "0.5", "--share")
            .expect("flag");
        l.set_flag("sla.on_violation", "partial-fill", "--on-violation")
            .expect("flag");
        l.set_flag("cache_dir", "rel/cache", "--cache-dir")
            .expect("flag");
        assert_eq!(l.config.store.as_deref(), Some("sqlite:/flag.db"));
        assert_eq!(l.config.backfill.concurrency, 16);
        assert_eq!(l.config.exchange_urls["binance"], "http://127.0.0.1:1");
        assert_eq!(l.config.ratelimit["binance"].share, Some(0.5));
        assert_eq!(l.config.sla.on_violation, OnViolation::PartialFill);
        // Flag paths stay relative to the working folder.
        assert_eq!(l.config.cache_dir.as_deref(), Some(Path::new("rel/cache")));
        assert_eq!(l.sources["store"], Source::Flag("--store".into()));
        assert_eq!(
            l.sources["exchange_urls.binance"],
            Source::Flag("--exchange-url".into())
        );
    }

    #[test]
    fn set_flag_errors() {
        let mut l = Loaded::load(None, env(&[])).expect("load");
        let e = l
            .set_flag("backfill.concurrency", "0", "--concurrency")
            .unwrap_err();
        assert!(matches!(e, ConfigError::Flag { .. }));
        assert_eq!(
            e.to_string(),
            "--concurrency: 0 is not an integer from 1 to 4294967295 (it sets `backfill.concurrency`)"
        );
        let e = l
            .set_flag("backfill.concurency", "3", "--x")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "flag --x: unknown key `backfill.concurency` (did you mean `backfill.concurrency`?)"
            ),
            "{e}"
        );
        assert!(e.contains("ratelimit.<id>.budget"), "{e}");
        let e = l
            .set_flag("exchange_urls.Binance", "http://x", "--exchange-url")
            .unwrap_err()
            .to_string();
        assert!(e.contains("exchange id \"Binance\" is not valid"), "{e}");
        let e = l.set_flag("store", "", "--store").unwrap_err().to_string();
        assert!(e.contains("\"\" is not a non-empty string"), "{e}");
        // The failed flags changed nothing.
        assert_eq!(l.config, Config::default());
    }

    #[test]
    fn show_lists_values_and_sources() {
        let f = file(
            "redis = \"redis://user:secret@cache:6379/0\"\n[backfill]\nconcurrency = 8\n[ratelimit.binance]\nshare = 0.5\n",
        );
        let mut l =
            Loaded::load(Some(f.path()), env(&[("SEAMLESS_SLA_TOTAL_MS", "1000")])).expect("load");
        l.set_flag("store", "sqlite:/x.db", "--store")
            .expect("flag");
        let out = l.show();
        let file_src = format!("file {}", f.path().display());
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines.contains(&format!("backfill.concurrency = 8  # {file_src}").as_str()),
            "{out}"
        );
        assert!(
            lines.contains(&"backfill.max_attempts = 6  # default"),
            "{out}"
        );
        assert!(
            lines.contains(&"sla.total_ms = 1000  # env SEAMLESS_SLA_TOTAL_MS"),
            "{out}"
        );
        assert!(
            lines.contains(&"store = \"sqlite:/x.db\"  # flag --store"),
            "{out}"
        );
        assert!(lines.contains(&"log = \"warn\"  # default"), "{out}");
        assert!(
            lines.contains(&"sla.on_violation = \"fail-fast\"  # default"),
            "{out}"
        );
        assert!(
            lines.contains(&format!("ratelimit.binance.share = 0.5  # {file_src}").as_str()),
            "{out}"
        );
        // Passwords are not printed.
        assert!(
            lines.contains(
                &format!("redis = \"redis://user:***@cache:6379/0\"  # {file_src}").as_str()
            ),
            "{out}"
        );
        assert!(!out.contains("secret"));
        // Unset optional keys are not listed; lines are sorted by key.
        assert!(!out.contains("sla.storage_ms"));
        let keys: Vec<&str> = lines
            .iter()
            .map(|l| l.split(" = ").next().unwrap_or(""))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(lines.len(), 12, "{out}");
    }

    #[test]
    fn unknown_key_errors() {
        let e = load_text("[backfill]\nconcurency = 4\n").unwrap_err();
        let ConfigError::UnknownKey {
            key, suggestion, ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(key, "backfill.concurency");
        assert_eq!(suggestion.as_deref(), Some("backfill.concurrency"));
        let msg = e.to_string();
        assert!(
            msg.contains(
                ".toml:2: unknown key `backfill.concurency` (did you mean `backfill.concurrency`?)"
            ),
            "{msg}"
        );
        assert!(
            msg.contains(
                "valid keys in [backfill]: concurrency, max_attempts, retry_base_ms, retry_max_ms"
            ),
            "{msg}"
        );

        // A table key at the top level: suggests where it belongs.
        let msg = err_text("concurrency = 4\n");
        assert!(
            msg.contains("unknown key `concurrency` (did you mean `backfill.concurrency`?)"),
            "{msg}"
        );
        assert!(
            msg.contains("valid keys at the top level: store, redis, adapters_dir"),
            "{msg}"
        );

        let msg = err_text("[backfil]\nconcurrency = 4\n");
        assert!(
            msg.contains(":1: unknown key `backfil` (did you mean `backfill`?)"),
            "{msg}"
        );

        let msg = err_text("[ratelimit.binance]\nbudgett = 4\n");
        assert!(
            msg.contains(
                "unknown key `ratelimit.binance.budgett` (did you mean `ratelimit.binance.budget`?)"
            ),
            "{msg}"
        );
        assert!(
            msg.contains(
                "valid keys in [ratelimit.binance]: budget, window_ms, weight, disabled, share"
            ),
            "{msg}"
        );

        let msg = err_text("[sla]\ntotal = 1\n");
        assert!(
            msg.contains("unknown key `sla.total` (did you mean `sla.total_ms`?)"),
            "{msg}"
        );

        let msg = err_text("totally_unrelated_thing = 1\n");
        assert!(!msg.contains("did you mean"), "{msg}");
    }

    #[test]
    fn wrong_type_errors() {
        let e = load_text("[backfill]\nconcurrency = \"4\"\n").unwrap_err();
        assert!(matches!(e, ConfigError::WrongType { line: 2, .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.ends_with(":2: `backfill.concurrency` must be an integer from 1 to 4294967295 (integer), found string \"4\"; remove the quotes: concurrency = 4"),
            "{msg}"
        );
        let msg = err_text("log = 3\n");
        assert!(
            msg.contains("`log` must be a non-empty string (string), found integer 3"),
            "{msg}"
        );
        let msg = err_text("backfill = 3\n");
        assert!(
            msg.contains("`backfill` must be a table (write it as [backfill]), found integer 3"),
            "{msg}"
        );
        let msg = err_text("[ratelimit]\nbinance = true\n");
        assert!(msg.contains("`ratelimit.binance` must be a table"), "{msg}");
        let msg = err_text("[ratelimit]\nbudget = 5\n");
        assert!(msg.contains(":2: `ratelimit.budget` must be a table of one exchange's overrides, found integer 5; rate-limit fields go under an exchange table, e.g. [ratelimit.binance] then budget = ..."), "{msg}");
        let msg = err_text("[ratelimit.binance]\ndisabled = \"no\"\n");
        assert!(
            msg.contains(
                "`ratelimit.binance.disabled` must be true or false (boolean), found string \"no\""
            ),
            "{msg}"
        );
        let msg = err_text("[sla]\non_violation = 1\n");
        assert!(
            msg.contains("must be one of \"fail-fast\", \"partial-fill\", \"hold\" (string)"),
            "{msg}"
        );
    }

    #[test]
    fn invalid_value_errors() {
        let e = load_text("[backfill]\n\nmax_attempts = 0\n").unwrap_err();
        assert!(
            matches!(e, ConfigError::InvalidValue { line: 3, .. }),
            "{e:?}"
        );
        assert!(e.to_string().ends_with(":3: bad value for `backfill.max_attempts`: 0 is not an integer from 1 to 4294967295"), "{e}");
        let msg = err_text("[sandbox]\nmemory_mb = -5\n");
        assert!(msg.contains("-5 is not an integer from 1 to"), "{msg}");
        let msg = err_text("[ratelimit.binance]\nshare = 1.5\n");
        assert!(
            msg.contains(
                "`ratelimit.binance.share`: 1.5 is not a number greater than 0 and at most 1"
            ),
            "{msg}"
        );
        let msg = err_text("[ratelimit.binance]\nshare = 0\n");
        assert!(msg.contains("0 is not a number greater than 0"), "{msg}");
        let msg = err_text("[sla]\non_violation = \"stop\"\n");
        assert!(msg.contains("`sla.on_violation`: \"stop\" is not one of \"fail-fast\", \"partial-fill\", \"hold\""), "{msg}");
        let msg = err_text("[exchange_urls]\nBinance = \"http://x\"\n");
        assert!(
            msg.contains(
                ":2: bad value for `exchange_urls.Binance`: exchange id \"Binance\" is not valid"
            ),
            "{msg}"
        );
        let msg = err_text("[ratelimit.\"Bin ance\"]\nbudget = 1\n");
        assert!(
            msg.contains("exchange id \"Bin ance\" is not valid"),
            "{msg}"
        );
        let msg = err_text("store = \"\"\n");
        assert!(
            msg.contains("`store`: \"\" is not a non-empty string"),
            "{msg}"
        );
    }

    #[test]
    fn exchange_url_validation() {
        for good in [
            "http://127.0.0.1:8080",
            "https://api.binance.com",
            "https://h/path/",
            "HTTP://x".to_lowercase().as_str(),
        ] {
            assert!(is_base_url(good), "{good}");
        }
        for bad in [
            "ftp://x",
            "127.0.0.1:8080",
            "http://",
            "https:///path",
            "http://a b",
            "",
            "binance",
        ] {
            assert!(!is_base_url(bad), "{bad}");
        }
        let msg = err_text("[exchange_urls]\nbinance = \"ftp://127.0.0.1\"\n");
        assert!(msg.contains("bad value for `exchange_urls.binance`: \"ftp://127.0.0.1\" is not an http:// or https:// base URL"), "{msg}");
        let e = Loaded::load(
            None,
            env(&[("SEAMLESS_EXCHANGE_URLS_BINANCE", "127.0.0.1:8080")]),
        )
        .unwrap_err();
        assert!(
            matches!(&e, ConfigError::Env { var, .. } if var == "SEAMLESS_EXCHANGE_URLS_BINANCE"),
            "{e:?}"
        );
        let mut l = Loaded::load(None, env(&[])).expect("load");
        assert!(
            l.set_flag("exchange_urls.binance", "ws://x", "--exchange-url")
                .is_err()
        );
        assert!(
            l.set_flag("exchange_urls.binance", " https://x ", "--exchange-url")
                .is_ok()
        );
        assert_eq!(l.config.exchange_urls["binance"], "https://x");
    }

    #[test]
    fn env_errors_name_the_variable() {
        let e = Loaded::load(None, env(&[("SEAMLESS_BACKFILL_CONCURRENCY", "lots")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "environment variable SEAMLESS_BACKFILL_CONCURRENCY: \"lots\" is not an integer from 1 to 4294967295 (it sets `backfill.concurrency`); fix the value or unset SEAMLESS_BACKFILL_CONCURRENCY"
        );
        let e = Loaded::load(
            None,
            env(&[("SEAMLESS_RATELIMIT_BINANCE_DISABLED", "maybe")]),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("SEAMLESS_RATELIMIT_BINANCE_DISABLED: \"maybe\" is not true or false"),
            "{e}"
        );
        let e = Loaded::load(None, env(&[("SEAMLESS_RATELIMIT_BUDGET", "5")])).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Env { var, .. } if var == "SEAMLESS_RATELIMIT_BUDGET"),
            "{e:?}"
        );
        assert!(
            e.to_string().contains("exchange id \"\" is not valid"),
            "{e}"
        );
        let e = Loaded::load(None, env(&[("SEAMLESS_REDIS", "redis://u:hunter2@h")]));
        assert!(e.is_ok());
        // Passwords in bad values are redacted.
        let e = Loaded::load(
            None,
            env(&[("SEAMLESS_EXCHANGE_URLS_X", "ftp://u:hunter2@h")]),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        // Unknown SEAMLESS_ variables are ignored, misspelt ones included (logged).
        assert!(Loaded::load(None, env(&[("SEAMLESS_BACKFILL_CONCURENCY", "x")])).is_ok());
    }

    #[test]
    fn read_and_syntax_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.toml");
        let e = Loaded::load(Some(&missing), env(&[])).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }));
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!(
                "cannot read config file {} (given by --config-file): ",
                missing.display()
            )),
            "{msg}"
        );
        assert!(
            msg.contains("os error 2") && msg.ends_with("check the path given to --config-file"),
            "{msg}"
        );

        let missing_s = missing.to_string_lossy().into_owned();
        let e = Loaded::load(None, env(&[("SEAMLESS_CONFIG", &missing_s)])).unwrap_err();
        assert!(e.to_string().contains("(given by SEAMLESS_CONFIG)"), "{e}");

        let e = load_text("[backfill]\nconcurrency = = 4\n").unwrap_err();
        let ConfigError::Syntax { line, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(*line, 2);
        assert!(
            e.to_string().contains(":2:") && e.to_string().contains("invalid TOML"),
            "{e}"
        );
        let msg = err_text("[backfill]\nconcurrency = 1\nconcurrency = 2\n");
        assert!(msg.contains("invalid TOML") && msg.contains(":3:"), "{msg}");
    }

    #[test]
    fn config_path_resolution() {
        let dir = tempfile::tempdir().expect("tempdir");
        let xdg = dir.path().to_string_lossy().into_owned();
        let mut e = BTreeMap::new();
        assert_eq!(config_path(None, &e), None);
        e.insert("XDG_CONFIG_HOME".to_string(), xdg.clone());
        // The user file is only used when it exists.
        assert_eq!(config_path(None, &e), None);
        let user = dir.path().join("seamless").join(FILE_NAME);
        std::fs::create_dir_all(user.parent().expect("parent")).expect("mkdir");
        std::fs::write(&user, "[backfill]\nconcurrency = 3\n").expect("write");
        if cfg!(all(
            unix,
            not(target_os = "macos"),
            not(target_os = "ios"),
            not(target_os = "android")
        )) {
            assert_eq!(config_path(None, &e), Some(user.clone()));
            let l = Loaded::load(None, e.clone()).expect("load");
            assert_eq!(l.config.backfill.concurrency, 3);
            assert_eq!(l.file, Some(user.clone()));
            let home = BTreeMap::from([("HOME".to_string(), "/nonexistent-home".to_string())]);
            assert_eq!(config_path(None, &home), None);
        }
        e.insert(
            "SEAMLESS_CONFIG".to_string(),
            "/etc/seamless.toml".to_string(),
        );
        assert_eq!(
            config_path(None, &e),
            Some(PathBuf::from("/etc/seamless.toml"))
        );
        assert_eq!(
            config_path(Some(Path::new("/x.toml")), &e),
            Some(PathBuf::from("/x.toml"))
        );
        e.insert("SEAMLESS_CONFIG".to_string(), String::new());
        assert_ne!(config_path(None, &e), Some(PathBuf::new()));
    }

    #[test]
    fn on_violation_parse() {
        assert_eq!(
            "fail-fast".parse::<OnViolation>(),
            Ok(OnViolation::FailFast)
        );
        assert_eq!(
            "partial-fill".parse::<OnViolation>(),
            Ok(OnViolation::PartialFill)
        );
        assert_eq!("HOLD".parse::<OnViolation>(), Ok(OnViolation::Hold));
        assert_eq!(
            "partial_fill".parse::<OnViolation>(),
            Ok(OnViolation::PartialFill)
        );
        let e = "stop".parse::<OnViolation>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown on_violation \"stop\": use one of fail-fast, partial-fill, hold"
        );
        for v in OnViolation::ALL {
            assert_eq!(v.to_string().parse::<OnViolation>(), Ok(v));
            assert_eq!(serde_json::to_value(v).expect("json"), v.as_str());
        }
        assert_eq!(OnViolation::default(), OnViolation::FailFast);
    }

    #[test]
    fn source_display() {
        assert_eq!(Source::Default.to_string(), "default");
        assert_eq!(
            Source::File("/p/seamless.toml".into()).to_string(),
            "file /p/seamless.toml"
        );
        assert_eq!(
            Source::Env("SEAMLESS_X".into()).to_string(),
            "env SEAMLESS_X"
        );
        assert_eq!(Source::Flag("--x".into()).to_string(), "flag --x");
    }

    #[test]
    fn env_names_cover_every_key() {
        for k in KEYS {
            let var = format!("SEAMLESS_{}", env_name(k.path));
            assert_eq!(
                env_target(var.trim_start_matches(ENV_PREFIX)).map(|r| r.map(|t| t.0)),
                Some(Ok(Target::Static(k.path))),
                "{var}"
            );
        }
        for (f, _) in RATELIMIT_FIELDS {
            let var = format!("RATELIMIT_MY_EX_{}", env_name(f));
            assert_eq!(
                env_target(&var).map(|r| r.map(|t| t.0)),
                Some(Ok(Target::RateLimit("my_ex".into(), f)))
            );
        }
        assert_eq!(env_target("NOT_A_KEY"), None);
        assert_eq!(env_target("ADAPTER_DIR"), None);
    }

    #[test]
    fn redact_urls() {
        assert_eq!(redact("redis://:pw@h:1/0"), "redis://:***@h:1/0");
        assert_eq!(redact("redis://u:pw@h"), "redis://u:***@h");
        assert_eq!(redact("redis://u@h"), "redis://u@h");
        assert_eq!(redact("http://h/a:b@c"), "http://h/a:b@c");
        assert_eq!(redact("sqlite:/x.db"), "sqlite:/x.db");
    }
}
