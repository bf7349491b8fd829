//! Unit tests of the configuration: every source, precedence, messages, the key table and
//! its documented copy.

use super::keys::is_base_url;
use super::*;
use std::io::Write;
use std::time::Duration;

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
    assert_eq!(c.sla, Sla::default());
    assert_eq!(c.sla.on_violation, OnViolation::FailFast);
    assert!(c.store.is_none() && c.redis.is_none() && c.exchange_urls.is_empty());
    assert_eq!(
        l.sources.get("backfill.concurrency"),
        Some(&Source::Default)
    );
    assert_eq!(l.sources.get("store"), None);
    assert_eq!(c.jobs, JobPolicy::default());
    assert_eq!(c.jobs.lease, Duration::from_secs(30));
    assert_eq!(c.jobs.max_attempts, 3);
    assert_eq!(l.sources.get("jobs.lease"), Some(&Source::Default));
    assert_eq!(c.api.listen.to_string(), "127.0.0.1:8765");
    assert_eq!(c.api.token, None);
    assert_eq!(l.sources.len(), 11);
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
        Sla {
            storage: Some(Duration::from_millis(2000)),
            backfill: Some(Duration::from_millis(60000)),
            live: Some(Duration::from_millis(5000)),
            total: Some(Duration::from_millis(120000)),
            max_missing_bars: Some(0),
            on_violation: OnViolation::PartialFill,
        }
    );
    assert_eq!(
        c.ratelimit["binance"],
        LimitOverride {
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
    assert_eq!(c.sla.total, Some(Duration::from_millis(9000)));
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
        lines
            .contains(&format!("redis = \"redis://user:***@cache:6379/0\"  # {file_src}").as_str()),
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
    // 11 defaulted keys (`jobs.lease`, `jobs.max_attempts` and `api.listen` among them) +
    // redis, store, sla.total_ms and ratelimit.binance.share.
    assert_eq!(lines.len(), 15, "{out}");
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
    assert!(
        e.to_string().ends_with(
            ":3: bad value for `backfill.max_attempts`: 0 is not an integer from 1 to 4294967295"
        ),
        "{e}"
    );
    let msg = err_text("[sandbox]\nmemory_mb = -5\n");
    assert!(msg.contains("-5 is not an integer from 1 to"), "{msg}");
    let msg = err_text("[ratelimit.binance]\nshare = 1.5\n");
    assert!(
        msg.contains("`ratelimit.binance.share`: 1.5 is not a number greater than 0 and at most 1"),
        "{msg}"
    );
    let msg = err_text("[ratelimit.binance]\nshare = 0\n");
    assert!(msg.contains("0 is not a number greater than 0"), "{msg}");
    let msg = err_text("[sla]\non_violation = \"stop\"\n");
    assert!(
        msg.contains(
            "`sla.on_violation`: \"stop\" is not one of \"fail-fast\", \"partial-fill\", \"hold\""
        ),
        "{msg}"
    );
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
    let found = |rest: &str| env_target(rest).map(|r| r.map(|(k, id)| (k.path, id)));
    for k in KEYS {
        let var = k.env_var();
        let rest = var.trim_start_matches(ENV_PREFIX);
        match k.per_exchange() {
            None => assert_eq!(found(rest), Some(Ok((k.path, String::new()))), "{var}"),
            Some(_) => {
                let var = rest.replace("<ID>", "MY_EX");
                assert_eq!(found(&var), Some(Ok((k.path, "my_ex".into()))), "{var}");
            }
        }
    }
    assert_eq!(found("NOT_A_KEY"), None);
    assert_eq!(found("ADAPTER_DIR"), None);
}

/// The documented list in `docs/operations.md` is the table's own: regenerate it with
/// `seamless config keys` when a key changes.
#[test]
fn documented_keys_match_the_table() {
    let doc = include_str!("../../../docs/operations.md");
    let (start, end) = ("<!-- config-keys:start -->\n", "<!-- config-keys:end -->");
    let from = doc
        .find(start)
        .expect("docs/operations.md lacks <!-- config-keys:start -->");
    let rest = &doc[from + start.len()..];
    let copy = &rest[..rest
        .find(end)
        .expect("docs/operations.md lacks <!-- config-keys:end -->")];
    let table = keys::markdown_table();
    assert!(
        copy == table,
        "docs/operations.md's key list differs from config::KEYS; replace it with the output of `seamless config keys`:\n{table}"
    );
}

#[test]
fn listening_and_pinning_keys() {
    let hex = "AB".repeat(32);
    let f = file(&format!(
        "metrics = \"0.0.0.0:9184\"\nallow_remote = true\n[adapters.myex]\nsha256 = \"{hex}\"\n"
    ));
    let l = Loaded::load(Some(f.path()), env(&[])).expect("load");
    assert_eq!(
        l.config.metrics,
        Some("0.0.0.0:9184".parse().expect("addr"))
    );
    assert!(l.config.allow_remote);
    // Digests are kept lowercase, as `adapters inspect` prints them.
    assert_eq!(l.config.adapter_sha256["myex"], "ab".repeat(32));
    let out = l.show();
    assert!(
        out.contains(&format!(
            "adapters.myex.sha256 = \"{}\"  # file",
            "ab".repeat(32)
        )),
        "{out}"
    );
    assert!(out.contains("metrics = \"0.0.0.0:9184\"  # file"), "{out}");

    let l = Loaded::load(
        None,
        env(&[
            ("SEAMLESS_ADAPTERS_BIN_ANCE_SHA256", &"cd".repeat(32)),
            ("SEAMLESS_METRICS", "127.0.0.1:1"),
            ("SEAMLESS_ALLOW_REMOTE", "no"),
        ]),
    )
    .expect("load");
    assert_eq!(l.config.adapter_sha256["bin_ance"], "cd".repeat(32));
    assert_eq!(l.config.metrics, Some("127.0.0.1:1".parse().expect("addr")));
    assert!(!l.config.allow_remote);
    // Without a source, allow_remote is not listed (its default is "no").
    assert!(
        !Loaded::load(None, env(&[]))
            .expect("load")
            .show()
            .contains("allow_remote")
    );

    let msg = err_text("[adapters.myex]\nsha256 = \"abc\"\n");
    assert!(msg.contains(":2: bad value for `adapters.myex.sha256`: \"abc\" is not a SHA-256 digest of 64 hex digits"), "{msg}");
    let msg = err_text("metrics = \"localhost:80\"\n");
    assert!(
        msg.contains("bad value for `metrics`: \"localhost:80\" is not a socket address IP:PORT"),
        "{msg}"
    );
    let msg = err_text("[adapters.myex]\nsha = \"abc\"\n");
    assert!(
        msg.contains("unknown key `adapters.myex.sha` (did you mean `adapters.myex.sha256`?)"),
        "{msg}"
    );
}

#[test]
fn flags_come_from_the_table() {
    let mut l = Loaded::load(None, env(&[("SEAMLESS_BACKFILL_CONCURRENCY", "2")])).expect("load");
    l.apply_flag("--concurrency", "7").expect("flag");
    l.apply_flag("--exchange-url", "okx=http://127.0.0.1:2")
        .expect("flag");
    l.apply_flag("--adapter-sha256", &format!("myex={}", "0".repeat(64)))
        .expect("flag");
    l.apply_flag("--allow-remote", "true").expect("flag");
    assert_eq!(l.config.backfill.concurrency, 7);
    assert_eq!(l.config.exchange_urls["okx"], "http://127.0.0.1:2");
    assert_eq!(l.config.adapter_sha256["myex"], "0".repeat(64));
    assert!(l.config.allow_remote);
    assert_eq!(
        l.sources["backfill.concurrency"],
        Source::Flag("--concurrency".into())
    );
    assert_eq!(
        l.sources["adapters.myex.sha256"],
        Source::Flag("--adapter-sha256".into())
    );
    let e = l
        .apply_flag("--adapter-sha256", "abc")
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"abc\" is not EXCHANGE=VALUE"), "{e}");
    let e = l
        .apply_flag("--adapter-sha256", "myex=abc")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("--adapter-sha256: \"abc\" is not a SHA-256 digest"),
        "{e}"
    );
    let e = l.apply_flag("--concurency", "1").unwrap_err().to_string();
    assert!(e.contains("did you mean `--concurrency`"), "{e}");
    // Every flag in the table names a key it can set.
    for k in KEYS.iter().filter(|k| k.flag.is_some()) {
        assert!(k.has_default || k.default.starts_with("none"), "{}", k.path);
    }
}

/// `jobs.lease` (a duration) and `jobs.max_attempts`: the file, the canonical variables and
/// the older `SEAMLESS_JOB_*` names, the worker's flags, `config show`, and bad values.
#[test]
fn job_keys() {
    let f = file("[jobs]\nlease = \"1m\"\nmax_attempts = 5\n");
    let l = Loaded::load(Some(f.path()), env(&[])).expect("load");
    assert_eq!(
        l.config.jobs,
        JobPolicy {
            lease: Duration::from_secs(60),
            max_attempts: 5
        }
    );
    let out = l.show();
    assert!(out.contains("jobs.lease = \"1m\"  # file"), "{out}");
    assert!(out.contains("jobs.max_attempts = 5  # file"), "{out}");
    let out = Loaded::load(None, env(&[])).expect("load").show();
    assert!(out.contains("jobs.lease = \"30s\"  # default"), "{out}");
    assert!(out.contains("jobs.max_attempts = 3  # default"), "{out}");

    // The older names still work (aliases); the canonical ones win over them and the file.
    let l = Loaded::load(
        Some(f.path()),
        env(&[
            ("SEAMLESS_JOB_LEASE", "5s"),
            ("SEAMLESS_JOB_MAX_ATTEMPTS", "10"),
        ]),
    )
    .expect("load");
    assert_eq!(l.config.jobs.lease, Duration::from_secs(5));
    assert_eq!(l.config.jobs.max_attempts, 10);
    assert_eq!(
        l.sources["jobs.lease"],
        Source::Env("SEAMLESS_JOB_LEASE".into())
    );
    let mut l = Loaded::load(
        Some(f.path()),
        env(&[
            ("SEAMLESS_JOB_LEASE", "5s"),
            ("SEAMLESS_JOBS_LEASE", "250ms"),
            ("SEAMLESS_JOBS_MAX_ATTEMPTS", "7"),
        ]),
    )
    .expect("load");
    assert_eq!(l.config.jobs.lease, Duration::from_millis(250));
    assert_eq!(l.config.jobs.max_attempts, 7);
    assert_eq!(
        l.sources["jobs.lease"],
        Source::Env("SEAMLESS_JOBS_LEASE".into())
    );
    assert!(
        l.show()
            .contains("jobs.lease = \"250ms\"  # env SEAMLESS_JOBS_LEASE")
    );

    // The worker's flags win over the environment.
    l.apply_flag("--job-lease", "2h").expect("flag");
    l.apply_flag("--max-attempts", "1").expect("flag");
    assert_eq!(l.config.jobs.lease, Duration::from_secs(7200));
    assert_eq!(l.config.jobs.max_attempts, 1);
    assert_eq!(l.sources["jobs.lease"], Source::Flag("--job-lease".into()));
    // A bare number is seconds, as `--job-lease 45` has always meant.
    l.apply_flag("--job-lease", "45").expect("flag");
    assert_eq!(l.config.jobs.lease, Duration::from_secs(45));

    // Bad values name the key, where they came from and what is allowed.
    let e = l.apply_flag("--job-lease", "10ms").unwrap_err().to_string();
    assert!(
        e.starts_with("--job-lease: \"10ms\" is not a duration of 30ms or more")
            && e.contains("(it sets `jobs.lease`)"),
        "{e}"
    );
    let e = l.apply_flag("--max-attempts", "0").unwrap_err().to_string();
    assert!(
        e.contains("0 is not an integer from 1") && e.contains("(it sets `jobs.max_attempts`)"),
        "{e}"
    );
    let e = Loaded::load(None, env(&[("SEAMLESS_JOB_LEASE", "soon")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("environment variable SEAMLESS_JOB_LEASE: \"soon\" is not a duration")
            && e.contains("(it sets `jobs.lease`)"),
        "{e}"
    );
    let msg = err_text("[jobs]\nlease = \"5 minutes\"\n");
    assert!(
        msg.contains(":2: bad value for `jobs.lease`: \"5 minutes\" is not a duration"),
        "{msg}"
    );
    let msg = err_text("[jobs]\nlease = \"1ms\"\n");
    assert!(
        msg.contains(":2: bad value for `jobs.lease`: \"1ms\" is not a duration of 30ms or more"),
        "{msg}"
    );
    let msg = err_text("[jobs]\nlease = 30\n");
    assert!(
        msg.contains(":2: `jobs.lease` must be a duration")
            && msg.contains("found integer 30; write it with its unit, in quotes: lease = \"30s\""),
        "{msg}"
    );
    let msg = err_text("[jobs]\nmax_attempt = 2\n");
    assert!(
        msg.contains("unknown key `jobs.max_attempt` (did you mean `jobs.max_attempts`?)"),
        "{msg}"
    );
}

#[test]
fn redact_urls() {
    assert_eq!(redact("redis://:pw@h:1/0"), "redis://:***@h:1/0");
    assert_eq!(redact("redis://u:pw@h"), "redis://u:***@h");
    assert_eq!(redact("redis://u@h"), "redis://u@h");
    assert_eq!(redact("http://h/a:b@c"), "http://h/a:b@c");
    assert_eq!(redact("sqlite:/x.db"), "sqlite:/x.db");
}

#[test]
fn api_keys_from_the_file_and_the_token_stays_secret() {
    let l = load_text("[api]\nlisten = \"127.0.0.1:9000\"\ntoken = \"t0ken\"\n").unwrap();
    assert_eq!(l.config.api.listen.to_string(), "127.0.0.1:9000");
    assert_eq!(l.config.api.token.as_deref(), Some("t0ken"));
    let shown = l.show();
    assert!(shown.contains("api.token = \"***\""), "{shown}");
    assert!(!shown.contains("t0ken"), "{shown}");
    let e = load_text("[api]\ntoken = \"has space\"\n").unwrap_err();
    assert!(e.to_string().contains("without spaces"), "{e}");
    assert!(!e.to_string().contains("has space"), "{e}");
}
