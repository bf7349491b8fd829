//! Which adapter serves which exchange: built-in adapter components found in the
//! adapter folders (`{id}_adapter.wasm`), third-party components given by path, the
//! user's base-URL overrides (e.g. `binance=http://127.0.0.1:8080`) and SHA-256 pins.
//! Components are loaded lazily, once per process.
//!
//! A pin (`exchange id → sha256`) refuses any component serving that exchange whose bytes
//! hash differently: a built-in file is checked before it is compiled (its id is in its
//! name); a third-party file declares its id by running `info` in the sandbox, so it is
//! checked right after loading, before it plans or parses anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use thiserror::Error;

use crate::components::{Adapter, ComponentCache, ComponentError, ComponentHost};
use crate::net::BaseMap;

/// An exchange ready to use: its adapter and where its requests really go.
#[derive(Clone)]
pub struct Exchange {
    pub adapter: Arc<Adapter>,
    pub bases: BaseMap,
}

/// A component whose bytes do not hash to the SHA-256 pinned for its exchange.
#[derive(Debug)]
pub struct PinMismatch {
    /// The exchange id.
    pub id: String,
    /// The component file.
    pub path: PathBuf,
    /// The pinned SHA-256 (lowercase hex).
    pub expected: String,
    /// The file's SHA-256 (lowercase hex).
    pub actual: String,
}

/// Why an exchange could not be had.
#[derive(Debug, Error)]
pub enum RegistryError {
    #[error("unknown exchange '{id}': available exchanges are {}", if available.is_empty() { "none".to_string() } else { available.join(", ") })]
    UnknownExchange { id: String, available: Vec<String> },
    #[error(
        "no built-in adapter components found (looked in {}); build them with `just guests`, or set SEAMLESS_ADAPTER_DIR to the folder holding *_adapter.wasm",
        dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NoAdapters { dirs: Vec<PathBuf> },
    #[error(
        "base-URL override for exchange '{id}', which no adapter has: the exchanges are {}{}",
        if known.is_empty() { "none".to_string() } else { known.join(", ") },
        suggestion.as_ref().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default()
    )]
    OverrideForUnknownExchange {
        id: String,
        known: Vec<String>,
        suggestion: Option<String>,
    },
    #[error("bad base-URL override '{0}': use EXCHANGE=URL, e.g. binance=http://127.0.0.1:8080")]
    BadOverride(String),
    #[error(
        "{path} declares exchange id '{id}', which a built-in adapter already has; it is used only when shadowing built-ins is allowed"
    )]
    Shadows { id: String, path: PathBuf },
    #[error(
        "refusing adapter component {} for exchange '{}': pinned sha256 {}, but the file's sha256 is {} (check where the file came from)",
        .0.path.display(), .0.id, .0.expected, .0.actual
    )]
    PinMismatch(Box<PinMismatch>),
    #[error(transparent)]
    Component(#[from] ComponentError),
}

impl RegistryError {
    /// True when the user's input is at fault (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            RegistryError::Component(e) => e.is_bad_input(),
            _ => true,
        }
    }
}

/// Adapters by exchange id.
pub struct AdapterRegistry {
    host: ComponentHost,
    dirs: Vec<PathBuf>,
    extra: Vec<PathBuf>,
    overrides: BTreeMap<String, String>,
    pins: BTreeMap<String, String>,
    allow_shadowing: bool,
    loaded: Mutex<BTreeMap<String, Exchange>>,
    /// Whether every override names a known exchange (checked on the first lookup).
    overrides_checked: Mutex<bool>,
}

impl AdapterRegistry {
    /// A registry searching `dirs` for built-in adapters, plus `extra` component files.
    pub fn new(host: ComponentHost, dirs: Vec<PathBuf>, extra: Vec<PathBuf>) -> Self {
        AdapterRegistry {
            host,
            dirs,
            extra,
            overrides: BTreeMap::new(),
            pins: BTreeMap::new(),
            allow_shadowing: false,
            loaded: Mutex::new(BTreeMap::new()),
            overrides_checked: Mutex::new(false),
        }
    }

    /// The default adapter folders: `$SEAMLESS_ADAPTER_DIR`, `<exe dir>/adapters`, and the
    /// build tree next to the executable (`target/wasm32-wasip2/guest`).
    pub fn default_dirs() -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        if let Some(d) = std::env::var_os("SEAMLESS_ADAPTER_DIR") {
            dirs.push(PathBuf::from(d));
        }
        if let Ok(exe) = std::env::current_exe()
            && let Some(bin) = exe.parent()
        {
            dirs.push(bin.join("adapters"));
            // target/{debug,release}/seamless or target/debug/deps/<test>
            for up in [bin.parent(), bin.parent().and_then(Path::parent)]
                .into_iter()
                .flatten()
            {
                dirs.push(up.join("wasm32-wasip2").join("guest"));
            }
        }
        dirs
    }

    /// Refuse any component serving exchange `id` unless its bytes have this SHA-256
    /// (hex, either case).
    pub fn pin_sha256(&mut self, id: &str, sha256_hex: &str) {
        self.pins
            .insert(id.to_string(), sha256_hex.to_ascii_lowercase());
    }

    /// Let third-party adapters replace built-in ones with the same id.
    pub fn allow_shadowing(&mut self, yes: bool) {
        self.allow_shadowing = yes;
    }

    /// Map exchange `id`'s first HTTP base URL to `url`. Accepts `ID=URL`.
    pub fn add_override(&mut self, spec: &str) -> Result<(), RegistryError> {
        let (id, url) = spec
            .split_once('=')
            .ok_or_else(|| RegistryError::BadOverride(spec.to_string()))?;
        let ok_url = url.starts_with("http://") || url.starts_with("https://");
        if id.is_empty() || !ok_url {
            return Err(RegistryError::BadOverride(spec.to_string()));
        }
        self.overrides.insert(id.to_string(), url.to_string());
        Ok(())
    }

    /// The component host.
    pub fn host(&self) -> &ComponentHost {
        &self.host
    }

    /// Built-in adapter files: id → path (first folder wins).
    pub fn builtin_files(&self) -> BTreeMap<String, PathBuf> {
        crate::components::builtin_files(&self.dirs, "_adapter.wasm")
    }

    /// Load every built-in and extra adapter (for listing). A built-in file that cannot
    /// be loaded is returned with its error instead of hiding the others.
    pub fn load_all(&self) -> Result<Vec<Result<Exchange, RegistryError>>, RegistryError> {
        let files = self.builtin_files();
        if files.is_empty() && self.extra.is_empty() {
            return Err(RegistryError::NoAdapters {
                dirs: self.dirs.clone(),
            });
        }
        let mut out: Vec<Result<Exchange, RegistryError>> =
            files.keys().map(|id| self.get(id)).collect();
        for p in &self.extra {
            out.push(Ok(self.load_extra(p)?));
        }
        Ok(out)
    }

    /// Load a component file, checking it against the pin of `id` (when known from the file
    /// name) before compiling it and against the pin of the id it declares after.
    fn load_file(&self, path: &Path, id: Option<&str>) -> Result<Adapter, RegistryError> {
        let wasm = std::fs::read(path).map_err(|source| ComponentError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let actual = ComponentCache::sha256_hex(&wasm);
        if let Some(id) = id {
            self.check_pin(id, path, &actual)?;
        }
        let adapter = self.host.load_adapter(&path.display().to_string(), &wasm)?;
        self.check_pin(&adapter.info().id, path, &actual)?;
        Ok(adapter)
    }

    fn check_pin(&self, id: &str, path: &Path, actual: &str) -> Result<(), RegistryError> {
        match self.pins.get(id) {
            Some(expected) if expected != actual => {
                Err(RegistryError::PinMismatch(Box::new(PinMismatch {
                    id: id.to_string(),
                    path: path.to_path_buf(),
                    expected: expected.clone(),
                    actual: actual.to_string(),
                })))
            }
            _ => Ok(()),
        }
    }

    /// Refuse a base-URL override naming no exchange: the ids are the built-in file names
    /// (`{id}_adapter.wasm`, not compiled for this) and the ids the extra components declare.
    /// Checked once, when the registry first resolves an exchange.
    fn check_overrides(&self) -> Result<(), RegistryError> {
        let mut checked = self
            .overrides_checked
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if *checked || self.overrides.is_empty() {
            return Ok(());
        }
        let files = self.builtin_files();
        if files.is_empty() && self.extra.is_empty() {
            // Nothing to check against: the lookup reports the missing components.
            return Ok(());
        }
        let mut known: Vec<String> = files.into_keys().collect();
        for p in &self.extra {
            known.push(self.load_extra(p)?.adapter.info().id.clone());
        }
        known.sort();
        known.dedup();
        if let Some(id) = self.overrides.keys().find(|id| !known.contains(id)) {
            return Err(RegistryError::OverrideForUnknownExchange {
                id: id.clone(),
                suggestion: crate::domain::closest(id, known.iter().map(String::as_str)),
                known,
            });
        }
        *checked = true;
        Ok(())
    }

    fn load_extra(&self, path: &Path) -> Result<Exchange, RegistryError> {
        let adapter = self.load_file(path, None)?;
        let id = adapter.info().id.clone();
        if !self.allow_shadowing && self.builtin_files().contains_key(&id) {
            return Err(RegistryError::Shadows {
                id,
                path: path.to_path_buf(),
            });
        }
        Ok(self.remember(adapter))
    }

    fn remember(&self, adapter: Adapter) -> Exchange {
        let info = adapter.info();
        let mut bases = BaseMap::default();
        if let Some(url) = self.overrides.get(&info.id)
            && let Some(http_base) = info.base_urls.iter().find(|b| b.starts_with("http"))
        {
            bases.insert(http_base, url);
            // The same host serves the live feed: map WebSocket bases to ws(s)://same.
            let ws = url.replacen("http", "ws", 1);
            for b in info.base_urls.iter().filter(|b| b.starts_with("ws")) {
                bases.insert(b, &ws);
            }
        }
        let ex = Exchange {
            adapter: Arc::new(adapter),
            bases,
        };
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        loaded
            .entry(ex.adapter.info().id.clone())
            .or_insert(ex)
            .clone()
    }

    /// The exchange with this id: an extra (third-party) adapter declaring that id, or
    /// the built-in one.
    pub fn get(&self, id: &str) -> Result<Exchange, RegistryError> {
        if let Some(ex) = self
            .loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
        {
            return Ok(ex.clone());
        }
        self.check_overrides()?;
        for p in &self.extra {
            let ex = self.load_extra(p)?;
            if ex.adapter.info().id == id {
                return Ok(ex);
            }
        }
        let files = self.builtin_files();
        let Some(path) = files.get(id) else {
            if files.is_empty() && self.extra.is_empty() {
                return Err(RegistryError::NoAdapters {
                    dirs: self.dirs.clone(),
                });
            }
            let mut available: Vec<String> = files.keys().cloned().collect();
            available.extend(
                self.loaded
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .keys()
                    .cloned(),
            );
            available.sort();
            available.dedup();
            return Err(RegistryError::UnknownExchange {
                id: id.to_string(),
                available,
            });
        };
        let adapter = self.load_file(path, Some(id))?;
        Ok(self.remember(adapter))
    }
}
