//! The host's parts as a configuration describes them: the component host (sandbox limits,
//! compile cache), the adapter registry (pins, base-URL overrides) and the provider (store,
//! backfill concurrency and retries, cluster, rate-limit overrides). The `seamless` CLI and
//! the Python package both build through here, so a setting means the same in both.

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use super::Config;
use crate::components::{ComponentError, ComponentHost, SandboxLimits};
use crate::coord::{Cluster, CoordError};
use crate::net::RetryPolicy;
use crate::provider::{AdapterRegistry, Provider, RegistryError};
use crate::store::{AnyStore, StoreError};

/// Why the parts could not be built.
#[derive(Debug, Error)]
pub enum BuildError {
    #[error(transparent)]
    Component(#[from] ComponentError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cluster(#[from] CoordError),
}

impl BuildError {
    /// True when a setting is at fault (a bad store or Redis URL, a bad override).
    pub fn is_bad_input(&self) -> bool {
        match self {
            BuildError::Component(_) => false,
            BuildError::Registry(e) => e.is_bad_input(),
            BuildError::Store(e) => matches!(e, StoreError::BadUrl(_)),
            BuildError::Cluster(_) => true,
        }
    }
}

impl Config {
    /// The store URL in use: `store`, else the default SQLite file.
    pub fn store_url(&self) -> String {
        self.store.clone().unwrap_or_else(AnyStore::default_url)
    }

    /// The component host: the sandbox limits and the compile cache (`cache_dir`, else the
    /// user's cache folder).
    pub fn component_host(&self) -> Result<ComponentHost, BuildError> {
        let limits = SandboxLimits {
            memory_bytes: (self.sandbox.memory_mb.max(1) as usize) << 20,
            call_timeout: Duration::from_millis(self.sandbox.call_timeout_ms.max(1)),
        };
        let cache = self
            .cache_dir
            .clone()
            .or_else(|| dirs::cache_dir().map(|d| d.join("seamless").join("components")));
        Ok(ComponentHost::new(limits, cache)?)
    }

    /// The adapter registry over `dirs` (the built-in adapters' folders, searched in order)
    /// and the third-party components `extra`, with the configured pins and base-URL
    /// overrides; `allow_override` lets `extra` replace a built-in id.
    pub fn registry(
        &self,
        host: ComponentHost,
        dirs: Vec<PathBuf>,
        extra: Vec<PathBuf>,
        allow_override: bool,
    ) -> Result<AdapterRegistry, BuildError> {
        let mut reg = AdapterRegistry::new(host, dirs, extra);
        reg.allow_shadowing(allow_override);
        for (id, sha256) in &self.adapter_sha256 {
            reg.pin_sha256(id, sha256);
        }
        for (id, url) in &self.exchange_urls {
            reg.add_override(&format!("{id}={url}"))?;
        }
        Ok(reg)
    }

    /// The provider over the configured store and `registry`, with the backfill
    /// concurrency and retries, the cluster (`redis`) and the rate-limit overrides.
    pub fn provider(&self, registry: AdapterRegistry) -> Result<Provider, BuildError> {
        let store = AnyStore::open(&self.store_url())?;
        let b = &self.backfill;
        let mut p = Provider::new(store, registry)
            .with_concurrency(b.concurrency as usize)
            .with_retry(RetryPolicy {
                max_attempts: b.max_attempts,
                base_delay: Duration::from_millis(b.retry_base_ms),
                max_delay: Duration::from_millis(b.retry_max_ms),
            });
        if let Some(url) = &self.redis {
            p = p.with_cluster(Cluster::open(url)?);
        }
        for (id, o) in &self.ratelimit {
            p = p.with_rate_limit(id, o.clone());
        }
        Ok(p)
    }
}
