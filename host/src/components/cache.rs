//! On-disk cache of compiled components, keyed by the engine's compatibility hash and
//! the SHA-256 of the component bytes, so each component is compiled by Cranelift once
//! per machine and later loads take a fraction of a millisecond.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::ComponentError;

/// Where compiled components are kept; `None` disables the disk cache.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
    engine_key: String,
}

impl ComponentCache {
    pub(super) fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        ComponentCache {
            dir,
            engine_key: format!("{:016x}", h.finish()),
        }
    }

    /// The cache folder, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The SHA-256 of a component's bytes in lowercase hex: the cache's key, what
    /// `seamless adapters inspect` prints and what an adapter pin (`adapters.<id>.sha256`) holds.
    pub fn sha256_hex(wasm: &[u8]) -> String {
        hex::encode(Sha256::digest(wasm))
    }

    /// The cache file a component would use.
    pub fn path_for(&self, wasm: &[u8]) -> Option<PathBuf> {
        let digest = Self::sha256_hex(wasm);
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{}-{}.cwasm", &digest[..32], self.engine_key)))
    }

    /// Load a compiled component from the cache, or compile it and store it.
    pub fn load(
        &self,
        engine: &Engine,
        label: &str,
        wasm: &[u8],
    ) -> Result<Component, ComponentError> {
        let cached = self.path_for(wasm);
        if let Some(path) = &cached
            && path.exists()
        {
            // SAFETY: the file was written by `Component::serialize` of an engine with the
            // same compatibility hash (part of the file name), in a folder owned by the user.
            match unsafe { Component::deserialize_file(engine, path) } {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding unusable cached component")
                }
            }
        }
        let component =
            Component::new(engine, wasm).map_err(|e| ComponentError::NotAComponent {
                label: label.to_string(),
                detail: format!("{e:#}")
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            })?;
        if let Some(path) = cached
            && let Err(e) = store(&component, &path)
        {
            tracing::warn!(path = %path.display(), error = %e, "cannot write component cache");
        }
        Ok(component)
    }
}

fn store(component: &Component, path: &Path) -> std::io::Result<()> {
    let bytes = component
        .serialize()
        .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // One temporary file per writer (threads of one process may compile the same
    // component at once): a reader never maps a file another writer is still writing.
    static WRITER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
