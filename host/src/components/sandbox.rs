//! Per-call sandbox: a fresh store with a memory cap, an epoch deadline, a WASI context
//! that grants nothing (no files, sockets, environment; a frozen clock; deterministic
//! randomness), and the guest's stdout/stderr captured and routed to `tracing`.
//! Also turns wasmtime errors into a [`TrapKind`] a person can act on.

use std::fmt;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::{ComponentError, EPOCH_TICK, SandboxLimits};

/// Most bytes of guest stdout/stderr kept per call.
const OUTPUT_CAP: usize = 64 * 1024;

/// State of one store: WASI (deny-all), resource table, limits, captured output.
pub struct GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    output: MemoryOutputPipe,
    pub(super) component: String,
    /// What a strategy's `history` import reads (none for adapters).
    pub(super) history: Option<Box<dyn super::HistorySource>>,
    /// Bytes of output already routed to tracing (long-lived strategy instances).
    flushed: usize,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl GuestState {
    /// True when the guest wrote anything to stdout/stderr.
    pub fn has_output(&self) -> bool {
        !self.output.contents().is_empty()
    }

    /// What the guest wrote to stdout/stderr during this call.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.contents()).into_owned()
    }
}

/// A clock stuck at the epoch: guests get no time source.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// A store for one guest call, with its deadline armed.
pub fn new_store(engine: &Engine, limits: &SandboxLimits, component: &str) -> Store<GuestState> {
    let output = MemoryOutputPipe::new(OUTPUT_CAP);
    let wasi = WasiCtx::builder()
        .stdout(output.clone())
        .stderr(output.clone())
        .wall_clock(FrozenClock)
        .monotonic_clock(FrozenClock)
        .insecure_random_seed(0)
        .build();
    let state = GuestState {
        wasi,
        table: ResourceTable::new(),
        limits: StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .instances(64)
            .tables(64)
            .memories(16)
            .trap_on_grow_failure(true)
            .build(),
        output,
        component: component.to_string(),
        history: None,
        flushed: 0,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limits);
    store.epoch_deadline_trap();
    arm_deadline(&mut store, limits);
    store
}

/// Set the call deadline `call_timeout` from now (in epoch ticks).
pub fn arm_deadline(store: &mut Store<GuestState>, limits: &SandboxLimits) {
    let ticks = (limits.call_timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64 + 1;
    store.set_epoch_deadline(ticks);
}

/// Why a guest call was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapKind {
    /// The call ran past its deadline.
    Timeout,
    /// The guest tried to grow its memory past the cap.
    OutOfMemory,
    /// The guest panicked (Rust) or aborted.
    Panic,
    /// The guest returned more data than the host accepts to copy out of it.
    TooMuchData,
    /// Any other trap (out-of-bounds access, stack overflow, ...).
    Other,
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrapKind::Timeout => "deadline exceeded",
            TrapKind::OutOfMemory => "memory limit exceeded",
            TrapKind::Panic => "guest panicked",
            TrapKind::TooMuchData => "result too large",
            TrapKind::Other => "trap",
        })
    }
}

/// Turn a failed call into a [`ComponentError::Trap`], using the guest's captured
/// output to tell a panic from other traps.
pub fn trap_error(
    err: wasmtime::Error,
    state: &GuestState,
    call: &'static str,
    limits: &SandboxLimits,
) -> ComponentError {
    let chain = format!("{err:#}");
    let output = state.output();
    let kind = match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => TrapKind::Timeout,
        _ if chain.contains("forcing trap when growing memory")
            || output.contains("memory allocation of") =>
        {
            TrapKind::OutOfMemory
        }
        _ if chain.contains("too much data is being copied") => TrapKind::TooMuchData,
        _ if output.contains("panicked") => TrapKind::Panic,
        Some(Trap::UnreachableCodeReached) if output.contains("abort") => TrapKind::Panic,
        _ => TrapKind::Other,
    };
    let detail = match kind {
        TrapKind::Timeout => format!("budget {} ms", limits.call_timeout.as_millis()),
        TrapKind::OutOfMemory => format!("cap {} MiB", limits.memory_bytes >> 20),
        TrapKind::Panic => output
            .lines()
            .find(|l| l.contains("panicked"))
            .map(|l| {
                // "thread '<unnamed>' panicked at src/lib.rs:12:5:\nmessage" -> keep both lines
                let idx = output.find(l).unwrap_or(0);
                output[idx..].lines().take(2).collect::<Vec<_>>().join(": ")
            })
            .unwrap_or_default(),
        TrapKind::TooMuchData | TrapKind::Other => {
            chain.lines().next().unwrap_or_default().to_string()
        }
    };
    if !output.is_empty() {
        tracing::warn!(component = %state.component, call, output = %output.trim_end(), "guest output before trap");
    }
    ComponentError::Trap {
        component: state.component.clone(),
        call,
        kind,
        detail,
    }
}

/// Log what the guest printed during a successful call.
pub fn flush_output(state: &mut GuestState, call: &'static str) {
    let out = state.output();
    let new = out.get(state.flushed..).unwrap_or_default();
    state.flushed = out.len();
    for line in new.lines() {
        tracing::debug!(component = %state.component, call, "guest: {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_kinds_display() {
        assert_eq!(TrapKind::Timeout.to_string(), "deadline exceeded");
        assert_eq!(TrapKind::OutOfMemory.to_string(), "memory limit exceeded");
    }
}
