//! The WebAssembly component host: one wasmtime [`Engine`] per process, components
//! compiled once and cached on disk, pre-instantiated so a call pays only for a fresh
//! instance, and every guest call sandboxed (deadline, memory cap, no I/O).
//!
//! Errors are split the Spin way: [`ComponentError`] is the host's (the component could
//! not be loaded, trapped, timed out, or broke the contract), while errors a guest
//! reports on purpose (e.g. an adapter's `rate-limited`) travel inside `Ok(Err(..))`.

mod adapter;
mod cache;
mod live;
mod sandbox;
mod strategy;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// The HTTP wire types of the adapter API (defined in [`crate::net`]).
pub use crate::net::{HttpRequest, HttpResponse};
pub use adapter::{Adapter, AdapterError, AdapterInfo, Page, RateLimitHint};
pub use cache::ComponentCache;
pub use live::{
    Frame, Heartbeat, LiveConnection, LiveEvents, LiveRoute, LiveSetup, LiveStream, LiveUpdate,
    PollPlan,
};
pub use sandbox::TrapKind;
pub use strategy::{
    CandleBatch, CandleColumns, HistorySource, Signal, StrategyComponent, StrategyInput,
    StrategyInstance, batch_of, columns,
};

/// The WIT package version this host implements.
pub const WIT_VERSION: &str = "0.2.0";
/// The WIT package name.
pub const WIT_PACKAGE: &str = "seamless:market";

/// Resource limits applied to every guest call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SandboxLimits {
    /// Linear memory a guest may use, in bytes (default 256 MiB).
    pub memory_bytes: usize,
    /// Wall-clock budget of one guest call (default 2 s).
    pub call_timeout: Duration,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            memory_bytes: 256 << 20,
            call_timeout: Duration::from_secs(2),
        }
    }
}

/// Epoch tick: the resolution of call deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Host-side failures of a component: it could not be loaded, it trapped or timed out,
/// or what it returned breaks the contract. The host stays up in every case.
#[derive(Debug, Error)]
pub enum ComponentError {
    #[error("cannot read component {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{label} is not a WebAssembly component ({detail}); build it with `cargo build --target wasm32-wasip2` against wit/ (world exchange-adapter or strategy-node)"
    )]
    NotAComponent { label: String, detail: String },
    #[error(
        "{label} does not export {WIT_PACKAGE}/{interface}; it exports [{exports}]. Build it against world {world} of wit/"
    )]
    WrongWorld {
        label: String,
        interface: &'static str,
        world: &'static str,
        exports: String,
    },
    #[error(
        "{label} was built against {WIT_PACKAGE}@{found}, but this host implements {WIT_PACKAGE}@{WIT_VERSION}; rebuild the component against wit/ version {WIT_VERSION}"
    )]
    IncompatibleWit { label: String, found: String },
    #[error(
        "{label}: cannot link ({detail}); a component may import only {WIT_PACKAGE}/log and WASI stdio/clocks/random"
    )]
    Link { label: String, detail: String },
    #[error(
        "component {component} trapped in `{call}`: {kind}{}",
        detail_suffix(detail)
    )]
    Trap {
        component: String,
        call: &'static str,
        kind: TrapKind,
        detail: String,
    },
    #[error("component {component} broke the contract in `{call}`: {detail}")]
    Contract {
        component: String,
        call: &'static str,
        detail: String,
    },
    #[error("component engine: {0}")]
    Engine(String),
}

impl ComponentError {
    /// True when the component file itself is unusable (the user chose a bad file),
    /// as opposed to a failure while running a good one.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            ComponentError::Read { .. }
                | ComponentError::NotAComponent { .. }
                | ComponentError::WrongWorld { .. }
                | ComponentError::IncompatibleWit { .. }
                | ComponentError::Link { .. }
        )
    }
}

fn detail_suffix(d: &str) -> String {
    if d.is_empty() {
        String::new()
    } else {
        format!(" ({d})")
    }
}

/// Pre-instantiate `component` with `linker`; a missing import is a [`ComponentError::Link`].
fn link(
    linker: &wasmtime::component::Linker<sandbox::GuestState>,
    component: &Component,
    label: &str,
) -> Result<wasmtime::component::InstancePre<sandbox::GuestState>, ComponentError> {
    linker
        .instantiate_pre(component)
        .map_err(|e| ComponentError::Link {
            label: label.to_string(),
            detail: format!("{e:#}"),
        })
}

/// Built-in component files in `dirs`: every `{name}{suffix}` file (e.g. suffix
/// `_adapter.wasm`), name → path; the first folder holding a name wins.
pub fn builtin_files(
    dirs: &[PathBuf],
    suffix: &str,
) -> std::collections::BTreeMap<String, PathBuf> {
    let mut out = std::collections::BTreeMap::new();
    for dir in dirs {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        for p in rd.filter_map(|e| e.ok().map(|e| e.path())) {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if let Some(id) = name.strip_suffix(suffix) {
                out.entry(id.to_string()).or_insert(p);
            }
        }
    }
    out
}

/// The process-wide component host.
#[derive(Clone)]
pub struct ComponentHost {
    inner: Arc<HostInner>,
}

struct HostInner {
    engine: Engine,
    cache: ComponentCache,
    limits: SandboxLimits,
    adapter_linker: wasmtime::component::Linker<sandbox::GuestState>,
    strategy_linker: wasmtime::component::Linker<sandbox::GuestState>,
}

impl ComponentHost {
    /// Create the engine (pooling allocator when the OS allows it, epoch interruption),
    /// start the epoch ticker and prepare linkers. `cache_dir` holds compiled components.
    pub fn new(limits: SandboxLimits, cache_dir: Option<PathBuf>) -> Result<Self, ComponentError> {
        let engine = build_engine(&limits, true).or_else(|e| {
            tracing::warn!(error = %e, "pooling allocator unavailable; using on-demand instances");
            build_engine(&limits, false)
        })?;
        spawn_epoch_ticker(&engine);
        let adapter_linker = adapter::linker(&engine)?;
        let strategy_linker = strategy::linker(&engine)?;
        Ok(ComponentHost {
            inner: Arc::new(HostInner {
                cache: ComponentCache::new(&engine, cache_dir),
                engine,
                limits,
                adapter_linker,
                strategy_linker,
            }),
        })
    }

    /// The sandbox limits in force.
    pub fn limits(&self) -> SandboxLimits {
        self.inner.limits
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The on-disk compile cache.
    pub fn cache(&self) -> &ComponentCache {
        &self.inner.cache
    }

    /// Load an adapter component from bytes; `label` names it in errors and logs.
    pub fn load_adapter(&self, label: &str, wasm: &[u8]) -> Result<Adapter, ComponentError> {
        let component = self.inner.cache.load(&self.inner.engine, label, wasm)?;
        let version = check_world(
            &self.inner.engine,
            label,
            &component,
            "adapter",
            "exchange-adapter",
        )?;
        Adapter::new(self.clone(), label, &component, version)
    }

    /// Load a strategy component from bytes; `label` names it in errors and logs.
    pub fn load_strategy(
        &self,
        label: &str,
        wasm: &[u8],
    ) -> Result<StrategyComponent, ComponentError> {
        let component = self.inner.cache.load(&self.inner.engine, label, wasm)?;
        let version = check_world(
            &self.inner.engine,
            label,
            &component,
            "strategy",
            "strategy-node",
        )?;
        StrategyComponent::new(self.clone(), label, &component, version)
    }

    /// Load a strategy component from a `.wasm` file.
    pub fn load_strategy_file(
        &self,
        path: &std::path::Path,
    ) -> Result<StrategyComponent, ComponentError> {
        let wasm = std::fs::read(path).map_err(|source| ComponentError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        self.load_strategy(&path.display().to_string(), &wasm)
    }

    /// Load an adapter component from a `.wasm` file.
    pub fn load_adapter_file(&self, path: &std::path::Path) -> Result<Adapter, ComponentError> {
        let wasm = std::fs::read(path).map_err(|source| ComponentError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        self.load_adapter(&path.display().to_string(), &wasm)
    }
}

fn build_engine(limits: &SandboxLimits, pooling: bool) -> Result<Engine, ComponentError> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.parallel_compilation(true);
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(64);
        pool.total_core_instances(128);
        pool.total_memories(64);
        pool.total_tables(128);
        pool.max_memory_size(limits.memory_bytes);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&config).map_err(|e| ComponentError::Engine(format!("{e:#}")))
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`]; it ends when the
/// engine is dropped.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("seamless-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch thread");
}

/// Check that `component` exports `seamless:market/{interface}@V` with a version this
/// host supports, and return V.
fn check_world(
    engine: &Engine,
    label: &str,
    component: &Component,
    interface: &'static str,
    world: &'static str,
) -> Result<String, ComponentError> {
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let prefix = format!("{WIT_PACKAGE}/{interface}@");
    let Some(found) = exports.iter().find_map(|n| n.strip_prefix(&prefix)) else {
        return Err(ComponentError::WrongWorld {
            label: label.to_string(),
            interface,
            world,
            exports: exports.join(", "),
        });
    };
    if !compatible(found, WIT_VERSION) {
        return Err(ComponentError::IncompatibleWit {
            label: label.to_string(),
            found: found.to_string(),
        });
    }
    Ok(found.to_string())
}

/// Semver compatibility: same major, and for 0.x the same minor.
fn compatible(found: &str, ours: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.split(['.', '-', '+']);
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parse(found), parse(ours)) {
        (Some((fm, fn_)), Some((om, on))) => fm == om && (om != 0 || fn_ == on),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_compat() {
        assert!(compatible("0.1.0", "0.1.0"));
        assert!(compatible("0.1.3", "0.1.0"));
        assert!(!compatible("0.2.0", "0.1.0"));
        assert!(!compatible("1.0.0", "0.1.0"));
        assert!(compatible("1.4.0", "1.0.0"));
        assert!(!compatible("garbage", "0.1.0"));
    }
}
