//! Chunk leases: single-flight across processes.
//!
//! A lease is the Redis key `seamless:lease:{node id}:{chunk index}` (the chunk grid of
//! [`crate::provider::chunks`], identical in every process) holding the worker id of its
//! holder. It is taken with `SET key worker NX PX ttl`, renewed every `ttl / 3` while the
//! chunk is fetched (compare-and-`PEXPIRE`, [`RENEW`]) and released at the end
//! (compare-and-`DEL`, [`RELEASE`]): only the holder can renew or release it, so a worker
//! that lost its lease (paused past the ttl) cannot delete its successor's. A worker that
//! crashes simply stops renewing; the lease expires and another worker takes over.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

use redis::Script;

use super::{Cluster, CoordError, PREFIX};

/// Compare-and-renew: `PEXPIRE` the lease only if this worker still holds it.
/// `KEYS[1]` = lease, `ARGV[1]` = worker id, `ARGV[2]` = ttl in ms. Returns 1 if renewed.
pub const RENEW: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

/// Compare-and-delete: drop the lease only if this worker still holds it.
/// `KEYS[1]` = lease, `ARGV[1]` = worker id. Returns 1 if released.
pub const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

static RENEW_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RENEW));
static RELEASE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RELEASE));

/// The Redis key of the lease on chunk `index` of `node`.
pub fn lease_key(node: &str, index: i64) -> String {
    format!("{PREFIX}:lease:{node}:{index}")
}

/// The outcome of a lease attempt.
#[derive(Debug)]
pub enum LeaseAttempt {
    /// This worker holds the lease (renewed until released or dropped).
    Acquired(Lease),
    /// Another worker holds it.
    Held,
}

/// A held lease. Renewed in the background; [`Lease::release`] gives it back. Dropping it
/// without releasing (a cancelled backfill) stops the renewal and releases it in the
/// background.
#[derive(Debug)]
pub struct Lease {
    cluster: Cluster,
    key: String,
    renewal: Option<tokio::task::JoinHandle<()>>,
    lost: Arc<AtomicBool>,
    released: bool,
}

impl Cluster {
    /// Try to take the lease on chunk `index` of `node` (`SET key worker NX PX ttl`).
    pub async fn try_lease(&self, node: &str, index: i64) -> Result<LeaseAttempt, CoordError> {
        let key = lease_key(node, index);
        let (worker, ttl) = (
            self.worker_id().to_string(),
            self.options().lease_ttl.as_millis() as u64,
        );
        let k = key.clone();
        let set: Option<String> = self
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(&k)
                    .arg(&worker)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        if set.is_none() {
            return Ok(LeaseAttempt::Held);
        }
        let lost = Arc::new(AtomicBool::new(false));
        let renewal = tokio::spawn(renew_loop(self.clone(), key.clone(), lost.clone()));
        Ok(LeaseAttempt::Acquired(Lease {
            cluster: self.clone(),
            key,
            renewal: Some(renewal),
            lost,
            released: false,
        }))
    }

    /// The holder of the lease on chunk `index` of `node` and its time to live, if held.
    pub async fn lease_holder(
        &self,
        node: &str,
        index: i64,
    ) -> Result<Option<(String, u64)>, CoordError> {
        let key = lease_key(node, index);
        let (holder, pttl): (Option<String>, i64) = self
            .run(
                |mut c| async move { redis::pipe().get(&key).pttl(&key).query_async(&mut c).await },
            )
            .await?;
        Ok(holder.map(|h| (h, pttl.max(0) as u64)))
    }

    async fn renew(&self, key: &str) -> Result<bool, CoordError> {
        let (key, worker, ttl) = (
            key.to_string(),
            self.worker_id().to_string(),
            self.options().lease_ttl.as_millis() as u64,
        );
        self.run(|mut c| async move {
            RENEW_SCRIPT
                .key(&key)
                .arg(&worker)
                .arg(ttl)
                .invoke_async::<i64>(&mut c)
                .await
                .map(|n| n == 1)
        })
        .await
    }

    async fn release_key(&self, key: &str) -> Result<bool, CoordError> {
        let (key, worker) = (key.to_string(), self.worker_id().to_string());
        self.run(|mut c| async move {
            RELEASE_SCRIPT
                .key(&key)
                .arg(&worker)
                .invoke_async::<i64>(&mut c)
                .await
                .map(|n| n == 1)
        })
        .await
    }
}

async fn renew_loop(cluster: Cluster, key: String, lost: Arc<AtomicBool>) {
    let every = cluster.options().lease_ttl / 3;
    loop {
        tokio::time::sleep(every).await;
        match cluster.renew(&key).await {
            Ok(true) => {}
            Ok(false) => {
                // Expired (this process stalled past the ttl) and maybe taken: another worker
                // may fetch the same pages; the store deduplicates, so this only costs requests.
                tracing::warn!(lease = %key, "chunk lease lost before the chunk was done; another worker may fetch it too");
                lost.store(true, Ordering::Relaxed);
                return;
            }
            // Redis down: keep fetching; try again next period.
            Err(e) => tracing::debug!(lease = %key, error = %e, "cannot renew the chunk lease"),
        }
    }
}

impl Lease {
    /// The lease's Redis key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether a renewal found the lease gone (expired, maybe taken by another worker).
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }

    /// Stop renewing and give the lease back (only if still ours).
    pub async fn release(mut self) {
        if let Some(r) = self.renewal.take() {
            r.abort();
        }
        self.released = true;
        if let Err(e) = self.cluster.release_key(&self.key).await {
            tracing::debug!(lease = %self.key, error = %e, "cannot release the chunk lease; it expires by itself");
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(r) = self.renewal.take() {
            r.abort();
        }
        if !self.released
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let (cluster, key) = (self.cluster.clone(), std::mem::take(&mut self.key));
            rt.spawn(async move {
                let _ = cluster.release_key(&key).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_keys_name_the_node_and_chunk() {
        assert_eq!(
            lease_key("ohlcv:binance:BTC/USDT:1m", 28401),
            "seamless:lease:ohlcv:binance:BTC/USDT:1m:28401"
        );
        assert_eq!(lease_key("n", -3), "seamless:lease:n:-3");
    }

    #[test]
    fn scripts_compare_before_touching_the_key() {
        for s in [RENEW, RELEASE] {
            assert!(s.contains("redis.call('GET', KEYS[1]) == ARGV[1]"));
        }
    }
}
