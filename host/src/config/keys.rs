//! The key table: every configuration key once, with its type, default, environment variable,
//! flag, documentation and where its value lives in [`Config`]. The file reader, the
//! `SEAMLESS_*` mapping, command-line flags, `seamless config show` and the documented list
//! (`docs/operations.md`, [`markdown_table`]) all read [`KEYS`]; adding a key is one entry here
//! plus its field in [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{Config, OnViolation, redact};

/// The value type of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Str,
    Path,
    Url,
    U32 {
        min: u32,
    },
    U64 {
        min: u64,
    },
    Bool,
    Share,
    OnViolation,
    /// A socket address `IP:PORT`.
    Addr,
    /// A SHA-256 digest in hex (64 digits), stored lowercase.
    Sha256,
    /// A secret string (a token): shown as `***`.
    Secret,
    /// A duration written with its unit (`"250ms"`, `"30s"`, `"1m"`, `"2h"`; a bare number is
    /// seconds), at least `min_ms`.
    Duration {
        min_ms: u64,
    },
}

impl Kind {
    /// What a valid value is, for messages.
    pub(super) fn expected(self) -> String {
        match self {
            Kind::Str => "a non-empty string".into(),
            Kind::Secret => "a non-empty string without spaces".into(),
            Kind::Path => "a non-empty path".into(),
            Kind::Url => "an http:// or https:// base URL (e.g. \"http://127.0.0.1:8080\")".into(),
            Kind::U32 { min } => format!("an integer from {min} to {}", u32::MAX),
            Kind::U64 { min } => format!("an integer from {min} to {}", u64::MAX),
            Kind::Bool => "true or false".into(),
            Kind::Share => "a number greater than 0 and at most 1 (e.g. 0.5)".into(),
            Kind::OnViolation => "one of \"fail-fast\", \"partial-fill\", \"hold\"".into(),
            Kind::Addr => "a socket address IP:PORT (e.g. \"127.0.0.1:9184\")".into(),
            Kind::Sha256 => {
                "a SHA-256 digest of 64 hex digits (`seamless adapters inspect FILE` prints it)"
                    .into()
            }
            Kind::Duration { min_ms } => format!(
                "a duration of {} or more, with a unit: ms, s, m or h (e.g. \"30s\")",
                format_duration(Duration::from_millis(min_ms))
            ),
        }
    }

    /// The TOML type the file must use, for messages.
    pub(super) fn toml_type(self) -> &'static str {
        match self {
            Kind::Str
            | Kind::Secret
            | Kind::Path
            | Kind::Url
            | Kind::OnViolation
            | Kind::Addr
            | Kind::Sha256
            | Kind::Duration { .. } => "string",
            Kind::U32 { .. } | Kind::U64 { .. } => "integer",
            Kind::Bool => "boolean",
            Kind::Share => "float",
        }
    }

    /// The type column of the documented list.
    fn doc_type(self) -> String {
        match self {
            Kind::Str => "string".into(),
            Kind::Secret => "string, secret (shown as `***`)".into(),
            Kind::Path => "string, folder path".into(),
            Kind::Url => "string, `http://` or `https://` base URL".into(),
            Kind::U32 { min } => format!("integer ≥ {min} (u32)"),
            Kind::U64 { min } => format!("integer ≥ {min} (u64)"),
            Kind::Bool => "boolean".into(),
            Kind::Share => "number in (0, 1]".into(),
            Kind::OnViolation => "`\"fail-fast\"`, `\"partial-fill\"` or `\"hold\"`".into(),
            Kind::Addr => "string, socket address `IP:PORT`".into(),
            Kind::Sha256 => "string, SHA-256 in hex (64 digits)".into(),
            Kind::Duration { min_ms } => format!(
                "string, duration ≥ {} with a unit (`ms`, `s`, `m`, `h`)",
                format_duration(Duration::from_millis(min_ms))
            ),
        }
    }
}

/// A parsed value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Val {
    Str(String),
    Secret(String),
    Path(PathBuf),
    U32(u32),
    U64(u64),
    Bool(bool),
    F64(f64),
    OnViolation(OnViolation),
    Addr(SocketAddr),
    Duration(Duration),
}

impl Val {
    /// The value as `config show` prints it (passwords inside URLs as `***`).
    pub(super) fn to_toml(&self) -> toml::Value {
        let n = |v: u64| match i64::try_from(v) {
            Ok(i) => toml::Value::Integer(i),
            Err(_) => toml::Value::String(v.to_string()),
        };
        match self {
            Val::Str(s) => toml::Value::String(redact(s).into_owned()),
            Val::Secret(_) => toml::Value::String("***".into()),
            Val::Path(p) => toml::Value::String(p.to_string_lossy().into_owned()),
            Val::U32(v) => n(u64::from(*v)),
            Val::U64(v) => n(*v),
            Val::Bool(v) => toml::Value::Boolean(*v),
            Val::F64(v) => toml::Value::Float(*v),
            Val::OnViolation(v) => toml::Value::String(v.as_str().to_string()),
            Val::Addr(a) => toml::Value::String(a.to_string()),
            Val::Duration(d) => toml::Value::String(format_duration(*d)),
        }
    }
}

/// A field of [`Config`] a key reads and writes.
trait Slot {
    fn read(&self) -> Option<Val>;
    /// Store `v`; false if it is not of this field's type.
    fn write(&mut self, v: Val) -> bool;
}

macro_rules! slot {
    ($t:ty, $variant:ident) => {
        impl Slot for $t {
            fn read(&self) -> Option<Val> {
                Some(Val::$variant(self.clone()))
            }
            fn write(&mut self, v: Val) -> bool {
                match v {
                    Val::$variant(x) => {
                        *self = x;
                        true
                    }
                    _ => false,
                }
            }
        }
        impl Slot for Option<$t> {
            fn read(&self) -> Option<Val> {
                self.clone().map(Val::$variant)
            }
            fn write(&mut self, v: Val) -> bool {
                match v {
                    Val::$variant(x) => {
                        *self = Some(x);
                        true
                    }
                    _ => false,
                }
            }
        }
    };
}

slot!(String, Str);
slot!(PathBuf, Path);
slot!(u32, U32);
slot!(u64, U64);
slot!(bool, Bool);
slot!(f64, F64);
slot!(OnViolation, OnViolation);
slot!(SocketAddr, Addr);

/// A duration key (written with its unit).
impl Slot for Duration {
    fn read(&self) -> Option<Val> {
        Some(Val::Duration(*self))
    }
    fn write(&mut self, v: Val) -> bool {
        match v {
            Val::Duration(d) => {
                *self = d;
                true
            }
            _ => false,
        }
    }
}

/// Budgets are written in ms and kept as durations.
impl Slot for Option<Duration> {
    fn read(&self) -> Option<Val> {
        self.map(|d| Val::U64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
    }
    fn write(&mut self, v: Val) -> bool {
        match v {
            Val::U64(ms) => {
                *self = Some(Duration::from_millis(ms));
                true
            }
            _ => false,
        }
    }
}

/// One configuration key.
pub struct Key {
    /// Dotted path; `<id>` stands for an exchange id (`ratelimit.<id>.budget`).
    pub path: &'static str,
    pub(super) kind: Kind,
    /// Whether the built-in default is a value (`config show` lists it as `# default`).
    pub(super) has_default: bool,
    /// The default, as documented.
    pub default: &'static str,
    /// What the key does.
    pub doc: &'static str,
    /// The command-line flag that sets it; a per-exchange key's flag takes `ID=VALUE`.
    pub flag: Option<&'static str>,
    /// Older environment variable names (after `SEAMLESS_`); the canonical name wins.
    pub(super) aliases: &'static [&'static str],
    get: fn(&Config, &str) -> Option<Val>,
    set: fn(&mut Config, &str, Val) -> bool,
}

impl Key {
    const fn new(
        path: &'static str,
        kind: Kind,
        default: &'static str,
        doc: &'static str,
        get: fn(&Config, &str) -> Option<Val>,
        set: fn(&mut Config, &str, Val) -> bool,
    ) -> Key {
        Key {
            path,
            kind,
            has_default: false,
            default,
            doc,
            flag: None,
            aliases: &[],
            get,
            set,
        }
    }

    /// The built-in default is a value (listed by `config show`).
    const fn defaulted(mut self) -> Key {
        self.has_default = true;
        self
    }

    const fn flag(mut self, flag: &'static str) -> Key {
        self.flag = Some(flag);
        self
    }

    const fn aliases(mut self, aliases: &'static [&'static str]) -> Key {
        self.aliases = aliases;
        self
    }

    /// `(table, field)` of a per-exchange key: `ratelimit.<id>.budget` → `("ratelimit",
    /// Some("budget"))`, `exchange_urls.<id>` → `("exchange_urls", None)`; `None` for a fixed key.
    pub(super) fn per_exchange(&self) -> Option<(&'static str, Option<&'static str>)> {
        let (table, rest) = self.path.split_once(".<id>")?;
        Some((table, rest.strip_prefix('.')))
    }

    /// The key's path with `id` in place of `<id>`.
    pub(super) fn path_for(&self, id: &str) -> String {
        if self.per_exchange().is_some() {
            self.path.replace("<id>", id)
        } else {
            self.path.to_string()
        }
    }

    /// The canonical environment variable (`SEAMLESS_` + the path in capitals, `<ID>` for the
    /// exchange id).
    pub fn env_var(&self) -> String {
        format!("{}{}", super::ENV_PREFIX, env_name(self.path))
    }

    /// The current value for exchange `id` (ignored by fixed keys).
    pub(super) fn get(&self, c: &Config, id: &str) -> Option<Val> {
        (self.get)(c, id)
    }

    /// Store a value for exchange `id` (ignored by fixed keys).
    pub(super) fn set(&self, c: &mut Config, id: &str, v: Val) -> bool {
        (self.set)(c, id, v)
    }
}

/// Every key, in documentation order.
pub const KEYS: &[Key] = &[
    Key::new(
        "store",
        Kind::Str,
        "none: the CLI's default store",
        "store URL (`sqlite:PATH`, `questdb://HOST:PORT`)",
        |c, _| c.store.read(),
        |c, _, v| c.store.write(v),
    )
    .flag("--store"),
    Key::new(
        "redis",
        Kind::Str,
        "none: no cluster coordination",
        "Redis URL for cluster-wide rate limits, leases and jobs",
        |c, _| c.redis.read(),
        |c, _, v| c.redis.write(v),
    )
    .flag("--redis"),
    Key::new(
        "adapters_dir",
        Kind::Path,
        "none: the built-in search folders",
        "folder of adapter components",
        |c, _| c.adapters_dir.read(),
        |c, _, v| c.adapters_dir.write(v),
    )
    .aliases(&["ADAPTER_DIR"]),
    Key::new(
        "cache_dir",
        Kind::Path,
        "none: `<cache dir>/seamless/components`",
        "folder of compiled components",
        |c, _| c.cache_dir.read(),
        |c, _, v| c.cache_dir.write(v),
    )
    .flag("--cache-dir"),
    Key::new(
        "log",
        Kind::Str,
        "`\"warn\"`",
        "tracing filter",
        |c, _| c.log.read(),
        |c, _, v| c.log.write(v),
    )
    .defaulted()
    .flag("--log"),
    Key::new(
        "metrics",
        Kind::Addr,
        "none: no endpoint (`serve` serves `/metrics` on `api.listen` too)",
        "address of the Prometheus `/metrics` endpoint; a non-loopback address needs `allow_remote`",
        |c, _| c.metrics.read(),
        |c, _, v| c.metrics.write(v),
    )
    .flag("--metrics"),
    Key::new(
        "api.listen",
        Kind::Addr,
        "`127.0.0.1:8765`",
        "address `seamless serve` serves the HTTP data API on; a non-loopback address needs `allow_remote` and `api.token`",
        |c, _| c.api.listen.read(),
        |c, _, v| c.api.listen.write(v),
    )
    .defaulted()
    .flag("--listen"),
    Key::new(
        "api.token",
        Kind::Secret,
        "none: no token (loopback only)",
        "bearer token every `/v1/` call of the HTTP data API must send (`Authorization: Bearer TOKEN`)",
        |c, _| c.api.token.clone().map(Val::Secret),
        |c, _, v| match v {
            Val::Secret(t) => {
                c.api.token = Some(t);
                true
            }
            _ => false,
        },
    )
    .flag("--token"),
    Key::new(
        "allow_remote",
        Kind::Bool,
        "none (= false)",
        "let listening sockets bind a non-loopback address (a warning is printed)",
        |c, _| c.allow_remote.read(),
        |c, _, v| c.allow_remote.write(v),
    )
    .flag("--allow-remote"),
    Key::new(
        "exchange_urls.<id>",
        Kind::Url,
        "none: the adapter's declared URL",
        "base URL the exchange's requests are sent to",
        |c, id| c.exchange_urls.get(id)?.read(),
        |c, id, v| c.exchange_urls.entry(id.to_string()).or_default().write(v),
    )
    .flag("--exchange-url"),
    Key::new(
        "sandbox.call_timeout_ms",
        Kind::U64 { min: 1 },
        "`2000`",
        "wall-clock budget of one guest call, in ms",
        |c, _| c.sandbox.call_timeout_ms.read(),
        |c, _, v| c.sandbox.call_timeout_ms.write(v),
    )
    .defaulted()
    .flag("--call-timeout-ms")
    .aliases(&["CALL_TIMEOUT_MS"]),
    Key::new(
        "sandbox.memory_mb",
        Kind::U64 { min: 1 },
        "`256`",
        "memory cap of one guest instance, in MiB",
        |c, _| c.sandbox.memory_mb.read(),
        |c, _, v| c.sandbox.memory_mb.write(v),
    )
    .defaulted()
    .flag("--guest-memory-mb")
    .aliases(&["GUEST_MEMORY_MB"]),
    Key::new(
        "backfill.concurrency",
        Kind::U32 { min: 1 },
        "`4`",
        "chunks in flight per exchange",
        |c, _| c.backfill.concurrency.read(),
        |c, _, v| c.backfill.concurrency.write(v),
    )
    .defaulted()
    .flag("--concurrency"),
    Key::new(
        "backfill.max_attempts",
        Kind::U32 { min: 1 },
        "`6`",
        "attempts per chunk before giving up",
        |c, _| c.backfill.max_attempts.read(),
        |c, _, v| c.backfill.max_attempts.write(v),
    )
    .defaulted(),
    Key::new(
        "backfill.retry_base_ms",
        Kind::U64 { min: 0 },
        "`200`",
        "first retry delay, in ms (doubled per attempt, with jitter)",
        |c, _| c.backfill.retry_base_ms.read(),
        |c, _, v| c.backfill.retry_base_ms.write(v),
    )
    .defaulted(),
    Key::new(
        "backfill.retry_max_ms",
        Kind::U64 { min: 0 },
        "`30000`",
        "cap of one retry delay, in ms",
        |c, _| c.backfill.retry_max_ms.read(),
        |c, _, v| c.backfill.retry_max_ms.write(v),
    )
    .defaulted(),
    Key::new(
        "jobs.lease",
        Kind::Duration { min_ms: 30 },
        "`\"30s\"`",
        "a cluster job its worker has not renewed for this long (a killed worker) is claimed by another worker; `seamless worker` renews its jobs every third of it (use one value across the cluster)",
        |c, _| c.jobs.lease.read(),
        |c, _, v| c.jobs.lease.write(v),
    )
    .defaulted()
    .flag("--job-lease")
    .aliases(&["JOB_LEASE"]),
    Key::new(
        "jobs.max_attempts",
        Kind::U32 { min: 1 },
        "`3`",
        "runs of one cluster job before it goes to the dead letters (`seamless jobs` lists them)",
        |c, _| c.jobs.max_attempts.read(),
        |c, _, v| c.jobs.max_attempts.write(v),
    )
    .defaulted()
    .flag("--max-attempts")
    .aliases(&["JOB_MAX_ATTEMPTS"]),
    Key::new(
        "sla.storage_ms",
        Kind::U64 { min: 0 },
        "none: no budget",
        "budget of the storage read, in ms",
        |c, _| c.sla.storage.read(),
        |c, _, v| c.sla.storage.write(v),
    ),
    Key::new(
        "sla.backfill_ms",
        Kind::U64 { min: 0 },
        "none: no budget",
        "budget of the backfill phase, in ms",
        |c, _| c.sla.backfill.read(),
        |c, _, v| c.sla.backfill.write(v),
    ),
    Key::new(
        "sla.live_ms",
        Kind::U64 { min: 0 },
        "none: no budget",
        "budget of the live handoff, in ms",
        |c, _| c.sla.live.read(),
        |c, _, v| c.sla.live.write(v),
    ),
    Key::new(
        "sla.total_ms",
        Kind::U64 { min: 0 },
        "none: no budget",
        "budget of the whole request, in ms",
        |c, _| c.sla.total.read(),
        |c, _, v| c.sla.total.write(v),
    ),
    Key::new(
        "sla.max_missing_bars",
        Kind::U64 { min: 0 },
        "none: no guard",
        "most bars a served frame may miss",
        |c, _| c.sla.max_missing_bars.read(),
        |c, _, v| c.sla.max_missing_bars.write(v),
    ),
    Key::new(
        "sla.on_violation",
        Kind::OnViolation,
        "`\"fail-fast\"`",
        "what a breach does",
        |c, _| c.sla.on_violation.read(),
        |c, _, v| c.sla.on_violation.write(v),
    )
    .defaulted(),
    Key::new(
        "ratelimit.<id>.budget",
        Kind::U32 { min: 1 },
        "none: the adapter's hint",
        "weight per window",
        |c, id| c.ratelimit.get(id)?.budget.read(),
        |c, id, v| c.ratelimit.entry(id.to_string()).or_default().budget.write(v),
    ),
    Key::new(
        "ratelimit.<id>.window_ms",
        Kind::U64 { min: 1 },
        "none: the adapter's hint",
        "window length, in ms",
        |c, id| c.ratelimit.get(id)?.window_ms.read(),
        |c, id, v| {
            c.ratelimit
                .entry(id.to_string())
                .or_default()
                .window_ms
                .write(v)
        },
    ),
    Key::new(
        "ratelimit.<id>.weight",
        Kind::U32 { min: 0 },
        "none: the adapter's hint",
        "weight of one OHLCV request",
        |c, id| c.ratelimit.get(id)?.weight.read(),
        |c, id, v| c.ratelimit.entry(id.to_string()).or_default().weight.write(v),
    ),
    Key::new(
        "ratelimit.<id>.disabled",
        Kind::Bool,
        "none (= false)",
        "no local limiting at all (benchmarks)",
        |c, id| c.ratelimit.get(id)?.disabled.read(),
        |c, id, v| {
            c.ratelimit
                .entry(id.to_string())
                .or_default()
                .disabled
                .write(v)
        },
    ),
    Key::new(
        "ratelimit.<id>.share",
        Kind::Share,
        "none",
        "fraction of the budget this process uses while the cluster limiter is down",
        |c, id| c.ratelimit.get(id)?.share.read(),
        |c, id, v| c.ratelimit.entry(id.to_string()).or_default().share.write(v),
    ),
    Key::new(
        "adapters.<id>.sha256",
        Kind::Sha256,
        "none: not pinned",
        "pin: the adapter component serving this exchange must have this SHA-256, else it is refused",
        |c, id| c.adapter_sha256.get(id)?.read(),
        |c, id, v| c.adapter_sha256.entry(id.to_string()).or_default().write(v),
    )
    .flag("--adapter-sha256"),
];

/// The key named by `path` and the exchange id in it (empty for a fixed key): `None` if no key
/// has that path, `Some(Err)` if the exchange id is malformed.
pub(super) fn resolve_key(path: &str) -> Option<Result<(&'static Key, String), String>> {
    if let Some(k) = KEYS
        .iter()
        .find(|k| k.per_exchange().is_none() && k.path == path)
    {
        return Some(Ok((k, String::new())));
    }
    KEYS.iter().find_map(|k| {
        let (table, field) = k.per_exchange()?;
        let rest = path.strip_prefix(table)?.strip_prefix('.')?;
        let id = match field {
            None => rest,
            Some(f) => rest.strip_suffix(f)?.strip_suffix('.')?,
        };
        Some(check_id(id).map(|()| (k, id.to_string())))
    })
}

/// An environment variable name (after `SEAMLESS_`) → its key and exchange id, like
/// [`resolve_key`]; aliases are not included.
pub(super) fn env_target(rest: &str) -> Option<Result<(&'static Key, String), String>> {
    if let Some(k) = KEYS
        .iter()
        .find(|k| k.per_exchange().is_none() && env_name(k.path) == rest)
    {
        return Some(Ok((k, String::new())));
    }
    KEYS.iter().find_map(|k| {
        let (table, field) = k.per_exchange()?;
        let rest = rest.strip_prefix(&env_name(table))?.strip_prefix('_')?;
        let id = match field {
            None => rest,
            // `RATELIMIT_<ID>_<FIELD>`; a bare `RATELIMIT_<FIELD>` lacks the id (an error).
            Some(f) => {
                let id = rest.strip_suffix(&env_name(f))?;
                if id.is_empty() {
                    id
                } else {
                    id.strip_suffix('_')?
                }
            }
        };
        let id = id.to_ascii_lowercase();
        Some(check_id(&id).map(|()| (k, id)))
    })
}

/// `backfill.concurrency` → `BACKFILL_CONCURRENCY`; `<id>` → `<ID>`.
pub(super) fn env_name(path: &str) -> String {
    path.replace('.', "_").to_ascii_uppercase()
}

/// Every key path (with `<id>` placeholders), for messages.
pub(super) fn all_key_patterns() -> Vec<String> {
    KEYS.iter().map(|k| k.path.to_string()).collect()
}

/// The top-level names of the file: fixed top-level keys, then tables, in table order.
pub(super) fn top_level_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = KEYS
        .iter()
        .filter(|k| !k.path.contains('.'))
        .map(|k| k.path)
        .collect();
    for k in KEYS {
        if let Some((table, _)) = k.path.split_once('.')
            && !names.contains(&table)
        {
            names.push(table);
        }
    }
    names
}

pub(super) fn check_id(id: &str) -> Result<(), String> {
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
pub(super) fn parse_text(kind: Kind, raw: &str) -> Result<Val, String> {
    let bad = || format!("{:?} is not {}", redact(raw), kind.expected());
    let t = raw.trim();
    let val = match kind {
        Kind::Str => Val::Str(raw.to_string()),
        Kind::Secret => Val::Secret(t.to_string()),
        Kind::Path => Val::Path(PathBuf::from(raw)),
        Kind::Url | Kind::Sha256 => Val::Str(t.to_string()),
        Kind::U32 { .. } => Val::U32(t.parse().map_err(|_| bad())?),
        Kind::U64 { .. } => Val::U64(t.parse().map_err(|_| bad())?),
        Kind::Bool => Val::Bool(match t.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(bad()),
        }),
        Kind::Share => Val::F64(t.parse().map_err(|_| bad())?),
        Kind::OnViolation => Val::OnViolation(t.parse().map_err(|_| bad())?),
        Kind::Addr => Val::Addr(t.parse().map_err(|_| bad())?),
        Kind::Duration { .. } => Val::Duration(parse_duration(t).ok_or_else(bad)?),
    };
    check(kind, val).map_err(|shown| format!("{shown} is not {}", kind.expected()))
}

/// Range checks shared by every source (and the normal form of digests); `Err` holds the value
/// as shown in messages.
pub(super) fn check(kind: Kind, val: Val) -> Result<Val, String> {
    let ok = match (&kind, &val) {
        (Kind::Str, Val::Str(s)) => !s.is_empty(),
        (Kind::Secret, Val::Secret(s)) => !s.is_empty() && !s.contains(char::is_whitespace),
        (Kind::Path, Val::Path(p)) => !p.as_os_str().is_empty(),
        (Kind::Url, Val::Str(s)) => is_base_url(s),
        (Kind::Sha256, Val::Str(s)) => s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()),
        (Kind::U32 { min }, Val::U32(v)) => v >= min,
        (Kind::U64 { min }, Val::U64(v)) => v >= min,
        (Kind::Share, Val::F64(v)) => v.is_finite() && *v > 0.0 && *v <= 1.0,
        (Kind::Duration { min_ms }, Val::Duration(d)) => d.as_millis() >= u128::from(*min_ms),
        _ => true,
    };
    if ok {
        return Ok(match (kind, val) {
            (Kind::Sha256, Val::Str(s)) => Val::Str(s.to_ascii_lowercase()),
            (_, val) => val,
        });
    }
    Err(match val {
        Val::Str(s) => format!("{:?}", redact(&s)),
        Val::Secret(_) => "the token given".to_string(),
        Val::Path(p) => format!("{:?}", p.to_string_lossy()),
        Val::U32(v) => v.to_string(),
        Val::U64(v) => v.to_string(),
        Val::Bool(v) => v.to_string(),
        Val::F64(v) => format!("{v:?}"),
        Val::OnViolation(v) => v.to_string(),
        Val::Addr(v) => v.to_string(),
        Val::Duration(d) => format!("{:?}", format_duration(d)),
    })
}

/// `"250ms"`, `"30s"`, `"5m"`, `"2h"`, or a bare number of seconds (`"30"`); `None` otherwise.
pub(super) fn parse_duration(s: &str) -> Option<Duration> {
    crate::domain::parse_duration(s).ok()
}

/// A duration in the largest unit that states it exactly: `30s`, `1m`, `1500ms`.
pub(super) fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0s".to_string(),
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        _ => format!("{ms}ms"),
    }
}

/// `http://host...` or `https://host...`, no whitespace.
pub(super) fn is_base_url(s: &str) -> bool {
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

/// Every key as JSON objects (`seamless config keys --format json`): the same columns as
/// [`markdown_table`].
pub fn as_json() -> serde_json::Value {
    KEYS.iter()
        .map(|k| {
            serde_json::json!({
                "key": k.path,
                "type": k.kind.doc_type(),
                "doc": k.doc,
                "default": k.default,
                "env": k.env_var(),
                "env_aliases": k.aliases.iter().map(|a| format!("{}{a}", super::ENV_PREFIX)).collect::<Vec<_>>(),
                "flag": k.flag,
            })
        })
        .collect()
}

/// The documented list of keys, a Markdown table generated from [`KEYS`] (`docs/operations.md`
/// holds a copy; a unit test keeps the two equal; `seamless config keys` prints it).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| key | type | default | environment variable | flag |\n| --- | --- | --- | --- | --- |\n",
    );
    for k in KEYS {
        let mut env = format!("`{}`", k.env_var());
        for a in k.aliases {
            env.push_str(&format!(" (alias `{}{a}`)", super::ENV_PREFIX));
        }
        let flag = match (k.flag, k.per_exchange()) {
            (None, _) => String::new(),
            (Some(f), None) => format!("`{f}`"),
            (Some(f), Some(_)) => format!("`{f} ID=VALUE`"),
        };
        out.push_str(&format!(
            "| `{}` | {}: {} | {} | {env} | {flag} |\n",
            k.path,
            k.kind.doc_type(),
            k.doc,
            k.default
        ));
    }
    out
}
