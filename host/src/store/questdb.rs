//! The production store: a real QuestDB server.
//!
//! - **Writes** go over ILP/HTTP (`POST /write`), encoded here and sent with reqwest: a
//!   page is one request and one transaction, errors come back per request, and there is
//!   no extra thread (the official `questdb` crate is blocking-only and would need one).
//!   Doubles go as raw bytes (ILP protocol version 2) when the server's `/settings`
//!   announces it (QuestDB 9.0+), as decimal text otherwise.
//! - **Reads** go over PG wire with `tokio-postgres` (a small pool; timestamps bound as
//!   naive UTC).
//! - **Tables** are created on first use: candles with a designated timestamp,
//!   `PARTITION BY DAY WAL` and `DEDUP UPSERT KEYS(ts, exchange, symbol, timeframe)`, so a
//!   batch resent after a failure cannot duplicate anything; an append-only ledger table
//!   (ranges are merged when read); a meta table holding the schema version.
//! - **Visibility**: WAL tables apply commits asynchronously. A page's candles are
//!   written, then the host waits until the WAL is applied (`wait_wal_table`), and only
//!   then writes the page's ledger ranges (and waits again), so the ledger never claims a
//!   range whose candles readers cannot see yet.
//! - **Restarts**: writes and reads retry with backoff for up to `RETRY_FOR` while the
//!   server is unreachable, reconnecting the PG pool, so a QuestDB restart during a
//!   backfill loses nothing.
//!
//! URL: `questdb://[user:password@]host:http_port[?pg=PORT&table=NAME]` (PG port 8812,
//! user `admin`, password `quest`, table `candles` by default).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime};
use tokio::sync::{Mutex, OnceCell};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row};

use super::{CandleStore, Ledger, StoreError, page_ledger};
use crate::domain::{Candle, NodeId, RangeSet, Window};
use crate::export::text::push_f64;

/// Schema version this host writes.
const SCHEMA_VERSION: i64 = 1;
/// How long an unreachable server is retried before a write or read fails.
const RETRY_FOR: Duration = Duration::from_secs(60);
/// Pooled PG connections.
const POOL: usize = 4;

/// Connection settings parsed from a `questdb://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestDbConfig {
    pub host: String,
    pub http_port: u16,
    pub pg_port: u16,
    pub user: String,
    pub password: String,
    pub table: String,
}

impl QuestDbConfig {
    /// Parse `questdb://[user:password@]host:port[?pg=PORT&table=NAME]`.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let bad = |why: &str| {
            StoreError::BadUrl(format!(
                "{url} ({why}; use questdb://[user:password@]HOST:HTTP_PORT[?pg=PG_PORT&table=NAME])"
            ))
        };
        let rest = url
            .strip_prefix("questdb://")
            .ok_or_else(|| bad("not a questdb:// URL"))?;
        let (auth_host, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (auth, hostport) = match auth_host.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, auth_host),
        };
        let hostport = hostport.trim_end_matches('/');
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad("bad HTTP port"))?),
            None => (hostport, 9000),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let (user, password) = match auth.map(|a| a.split_once(':').unwrap_or((a, ""))) {
            Some((u, p)) => (u.to_string(), p.to_string()),
            None => ("admin".to_string(), "quest".to_string()),
        };
        let mut cfg = QuestDbConfig {
            host: host.to_string(),
            http_port: port,
            pg_port: 8812,
            user,
            password,
            table: "candles".to_string(),
        };
        for kv in query.split('&').filter(|s| !s.is_empty()) {
            match kv.split_once('=') {
                Some(("pg", v)) => cfg.pg_port = v.parse().map_err(|_| bad("bad pg port"))?,
                Some(("table", v))
                    if !v.is_empty()
                        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    cfg.table = v.to_string()
                }
                _ => return Err(bad(&format!("unknown parameter '{kv}'"))),
            }
        }
        Ok(cfg)
    }
}

/// A bound parameter.
type Param = Box<dyn ToSql + Sync + Send>;

/// How a statement is run.
#[derive(Clone, Copy)]
enum Kind {
    Query,
    Batch,
}

/// The QuestDB store. Cheap to clone; connects lazily on first use.
#[derive(Clone)]
pub struct QuestDbStore {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    cfg: QuestDbConfig,
    http: reqwest::Client,
    pool: Mutex<Vec<Client>>,
    /// Set once the tables exist: how to write ILP to this server.
    ready: OnceCell<Ilp>,
}

/// How the server takes ILP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ilp {
    /// ILP protocol version 2 (QuestDB 9.0+, announced in `/settings`): doubles as 8 raw
    /// little-endian bytes after `==` and the type byte 16, instead of decimal text the server
    /// must parse (exact either way; binary is cheaper at both ends).
    binary_doubles: bool,
}

fn query_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Query(format!("questdb: {e}"))
}

fn ts(ms: i64) -> NaiveDateTime {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .naive_utc()
}

/// The type byte that follows `==` for a binary double (ILP protocol version 2).
const BINARY_DOUBLE: u8 = 16;

/// ILP lines of `candles` under the line prefix `prefix` (table and tags), in one buffer:
/// doubles as raw bytes under protocol version 2 (`ilp.binary_doubles`), else as their
/// shortest round-trip decimal text (as `Display` prints them); the timestamp in ns.
fn ilp_candles(prefix: &str, candles: &[Candle], ilp: Ilp) -> Vec<u8> {
    let per_line = prefix.len() + if ilp.binary_doubles { 80 } else { 110 };
    let mut body = Vec::with_capacity(candles.len() * per_line);
    let mut text = String::new();
    let mut ts = itoa::Buffer::new();
    for c in candles {
        body.extend_from_slice(prefix.as_bytes());
        for (name, v) in [
            (&b" open="[..], c.open),
            (b",high=", c.high),
            (b",low=", c.low),
            (b",close=", c.close),
            (b",volume=", c.volume),
        ] {
            body.extend_from_slice(name);
            if ilp.binary_doubles {
                body.extend_from_slice(&[b'=', BINARY_DOUBLE]);
                body.extend_from_slice(&v.to_le_bytes());
            } else {
                text.clear();
                push_f64(&mut text, v);
                body.extend_from_slice(text.as_bytes());
            }
        }
        body.push(b' ');
        body.extend_from_slice(ts.format(c.open_time as i128 * 1_000_000).as_bytes());
        body.push(b'\n');
    }
    body
}

/// Escape an ILP tag value (commas, spaces, equals signs).
fn tag(out: &mut String, v: &str) {
    for ch in v.chars() {
        if matches!(ch, ',' | ' ' | '=' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
}

impl QuestDbStore {
    /// A store for `url`; nothing is contacted until the first operation.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let cfg = QuestDbConfig::parse(url)?;
        crate::net::install_crypto();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| StoreError::Open {
                path: url.into(),
                detail: e.to_string(),
            })?;
        Ok(QuestDbStore {
            inner: std::sync::Arc::new(Inner {
                cfg,
                http,
                pool: Mutex::new(Vec::new()),
                ready: OnceCell::new(),
            }),
        })
    }

    /// The connection settings.
    pub fn config(&self) -> &QuestDbConfig {
        &self.inner.cfg
    }

    fn table(&self) -> &str {
        &self.inner.cfg.table
    }

    async fn connect(&self) -> Result<Client, StoreError> {
        let c = &self.inner.cfg;
        let conn_str = format!(
            "host={} port={} user={} password={} dbname=qdb connect_timeout=5",
            c.host, c.pg_port, c.user, c.password
        );
        let (client, conn) = tokio_postgres::connect(&conn_str, NoTls)
            .await
            .map_err(|e| StoreError::Open {
                path: format!("questdb pg://{}:{}", c.host, c.pg_port).into(),
                detail: format!("{e}; is QuestDB running (just questdb-up)?"),
            })?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    /// Run one statement on a pooled PG client, reconnecting and retrying while the
    /// server is unreachable (up to [`RETRY_FOR`]). `Batch` runs SQL without parameters
    /// or results.
    async fn pg(&self, sql: &str, params: &[Param], kind: Kind) -> Result<Vec<Row>, StoreError> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            let pooled = self.inner.pool.lock().await.pop();
            let client = match pooled {
                Some(c) if !c.is_closed() => Ok(c),
                _ => self.connect().await,
            };
            let err = match client {
                Ok(client) => {
                    let refs: Vec<&(dyn ToSql + Sync)> = params
                        .iter()
                        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                        .collect();
                    let r = match kind {
                        Kind::Query => client.query(sql, &refs).await,
                        Kind::Batch => client.batch_execute(sql).await.map(|_| Vec::new()),
                    };
                    match r {
                        Ok(rows) => {
                            let mut pool = self.inner.pool.lock().await;
                            if pool.len() < POOL {
                                pool.push(client);
                            }
                            return Ok(rows);
                        }
                        // A server-side error (bad SQL, no table) is final; a broken connection is not.
                        Err(e) if !client.is_closed() && e.as_db_error().is_some() => {
                            return Err(query_err(e));
                        }
                        Err(e) => query_err(e),
                    }
                }
                Err(e) => e,
            };
            if started.elapsed() > RETRY_FOR {
                return Err(err);
            }
            tracing::warn!(error = %err, "questdb unreachable; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    async fn exec(&self, sql: &str) -> Result<(), StoreError> {
        self.pg(sql, &[], Kind::Batch).await.map(drop)
    }

    /// Create the tables on first use and check the schema version.
    async fn ensure_schema(&self) -> Result<Ilp, StoreError> {
        self.inner
            .ready
            .get_or_try_init(|| async {
                let t = self.table();
                self.exec(&format!(
                    "CREATE TABLE IF NOT EXISTS {t} (exchange SYMBOL, symbol SYMBOL, timeframe SYMBOL, \
                     open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE, ts TIMESTAMP) \
                     TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, exchange, symbol, timeframe)"
                ))
                .await?;
                self.exec(&format!(
                    "CREATE TABLE IF NOT EXISTS {t}_ledger (node_id SYMBOL, kind SYMBOL, start_ms LONG, end_ms LONG, \
                     ts TIMESTAMP) TIMESTAMP(ts) PARTITION BY MONTH WAL"
                ))
                .await?;
                self.exec(&format!(
                    "CREATE TABLE IF NOT EXISTS {t}_meta (key SYMBOL, value LONG, ts TIMESTAMP) TIMESTAMP(ts) \
                     PARTITION BY YEAR WAL DEDUP UPSERT KEYS(ts, key)"
                ))
                .await?;
                let meta = format!("SELECT value FROM {t}_meta WHERE key = 'schema_version' LATEST ON ts PARTITION BY key");
                let found: Option<i64> = self.pg(&meta, &[], Kind::Query).await?.first().map(|r| r.get(0));
                match found {
                    Some(v) if v > SCHEMA_VERSION => {
                        return Err(StoreError::SchemaTooNew {
                            path: format!("questdb table {t}").into(),
                            found: v,
                            supported: SCHEMA_VERSION,
                        });
                    }
                    Some(_) => {}
                    None => {
                        self.ilp(format!("{t}_meta,key=schema_version value={SCHEMA_VERSION}i 0\n").into_bytes()).await?;
                        self.wait_applied(&format!("{t}_meta")).await?;
                    }
                }
                Ok(Ilp {
                    binary_doubles: self.ilp_versions().await.contains(&2),
                })
            })
            .await
            .copied()
    }

    /// The ILP protocol versions the server announces in `/settings` (`[1]` when it does
    /// not say: servers before 9.0).
    async fn ilp_versions(&self) -> Vec<u64> {
        let c = &self.inner.cfg;
        let url = format!("http://{}:{}/settings", c.host, c.http_port);
        let settings: Option<serde_json::Value> = match self
            .inner
            .http
            .get(&url)
            .basic_auth(&c.user, Some(&c.password))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => r
                .bytes()
                .await
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok()),
            _ => None,
        };
        let key = "line.proto.support.versions";
        settings
            .as_ref()
            .and_then(|s| {
                s.get("config")
                    .and_then(|c| c.get(key))
                    .or_else(|| s.get(key))
            })
            .and_then(|v| v.as_array())
            .map(|v| v.iter().filter_map(|n| n.as_u64()).collect())
            .unwrap_or_else(|| vec![1])
    }

    /// POST ILP lines, retrying while the server is unreachable or answers 5xx.
    async fn ilp(&self, body: Vec<u8>) -> Result<(), StoreError> {
        let c = &self.inner.cfg;
        let url = format!("http://{}:{}/write", c.host, c.http_port);
        let started = Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            let r = self
                .inner
                .http
                .post(&url)
                .basic_auth(&c.user, Some(&c.password))
                .body(body.clone())
                .send()
                .await;
            let err = match r {
                Ok(resp) if resp.status().is_success() => return Ok(()),
                Ok(resp) if resp.status().is_client_error() => {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    return Err(query_err(format!("ILP write refused ({status}): {text}")));
                }
                Ok(resp) => format!("ILP write failed: HTTP {}", resp.status()),
                Err(e) => format!("ILP write to {url} failed: {e}"),
            };
            if started.elapsed() > RETRY_FOR {
                return Err(query_err(err));
            }
            tracing::warn!(error = %err, "questdb write failed; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// Wait until every committed transaction of `table` is applied (visible to readers).
    async fn wait_applied(&self, table: &str) -> Result<(), StoreError> {
        self.exec(&format!("SELECT wait_wal_table('{table}')"))
            .await
    }
}

impl CandleStore for QuestDbStore {
    async fn read(&self, node: &NodeId, window: Window) -> Result<Vec<Candle>, StoreError> {
        self.ensure_schema().await?;
        let sql = format!(
            "SELECT ts, open, high, low, close, volume FROM {} \
             WHERE exchange = $1 AND symbol = $2 AND timeframe = $3 AND ts >= $4 AND ts < $5 ORDER BY ts",
            self.table()
        );
        let params: [Param; 5] = [
            Box::new(node.exchange.clone()),
            Box::new(node.symbol.clone()),
            Box::new(node.timeframe.as_str().to_string()),
            Box::new(ts(window.start)),
            Box::new(ts(window.end)),
        ];
        let rows = self.pg(&sql, &params, Kind::Query).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let t: NaiveDateTime = r.get(0);
                Candle {
                    open_time: t.and_utc().timestamp_millis(),
                    open: r.get(1),
                    high: r.get(2),
                    low: r.get(3),
                    close: r.get(4),
                    volume: r.get(5),
                }
            })
            .collect())
    }

    async fn nodes(&self) -> Result<Vec<NodeId>, StoreError> {
        self.ensure_schema().await?;
        let sql = format!(
            "SELECT DISTINCT node_id FROM {}_ledger ORDER BY node_id",
            self.table()
        );
        let rows = self.pg(&sql, &[], Kind::Query).await?;
        Ok(rows
            .iter()
            .filter_map(|r| r.get::<_, Option<String>>(0)?.parse().ok())
            .collect())
    }

    async fn ledger(&self, node: &NodeId, window: Window) -> Result<Ledger, StoreError> {
        self.ensure_schema().await?;
        let sql = format!(
            "SELECT kind, start_ms, end_ms FROM {}_ledger WHERE node_id = $1 AND start_ms < $3 AND end_ms > $2",
            self.table()
        );
        let params: [Param; 3] = [
            Box::new(node.to_string()),
            Box::new(window.start),
            Box::new(window.end),
        ];
        let rows = self.pg(&sql, &params, Kind::Query).await?;
        let (mut present, mut empty) = (Vec::new(), Vec::new());
        for r in &rows {
            let kind: String = r.get(0);
            let range = (r.get::<_, i64>(1), r.get::<_, i64>(2));
            if kind == "present" {
                present.push(range)
            } else {
                empty.push(range)
            }
        }
        let present = RangeSet::from_ranges(present).clip(window.start, window.end);
        let empty = RangeSet::from_ranges(empty)
            .subtract(&present)
            .clip(window.start, window.end);
        Ok(Ledger { present, empty })
    }

    async fn write_page(
        &self,
        node: &NodeId,
        candles: Vec<Candle>,
        covered: Window,
    ) -> Result<(), StoreError> {
        let ilp = self.ensure_schema().await?;
        let t = self.table();
        let mut prefix = String::with_capacity(64);
        prefix.push_str(t);
        prefix.push_str(",exchange=");
        tag(&mut prefix, &node.exchange);
        prefix.push_str(",symbol=");
        tag(&mut prefix, &node.symbol);
        prefix.push_str(",timeframe=");
        tag(&mut prefix, node.timeframe.as_str());
        if !candles.is_empty() {
            self.ilp(ilp_candles(&prefix, &candles, ilp)).await?;
            // The ledger must not claim these candles before readers can see them.
            self.wait_applied(t).await?;
        }
        let page = page_ledger(node.timeframe, &candles, covered);
        let now_ns = crate::domain::now_ms() as i128 * 1_000_000;
        let mut body = String::new();
        let mut id = String::new();
        tag(&mut id, &node.to_string());
        for (kind, set) in [("present", &page.present), ("empty", &page.empty)] {
            for (s, e) in set.ranges() {
                let _ = writeln!(
                    body,
                    "{t}_ledger,node_id={id},kind={kind} start_ms={s}i,end_ms={e}i {now_ns}"
                );
            }
        }
        if !body.is_empty() {
            self.ilp(body.into_bytes()).await?;
            self.wait_applied(&format!("{t}_ledger")).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        let c = QuestDbConfig::parse("questdb://127.0.0.1:9000").unwrap();
        assert_eq!(
            (c.host.as_str(), c.http_port, c.pg_port, c.table.as_str()),
            ("127.0.0.1", 9000, 8812, "candles")
        );
        let c =
            QuestDbConfig::parse("questdb://me:secret@localhost:19000?pg=18812&table=t1").unwrap();
        assert_eq!(
            (
                c.user.as_str(),
                c.password.as_str(),
                c.pg_port,
                c.table.as_str()
            ),
            ("me", "secret", 18812, "t1")
        );
        for bad in [
            "questdb://",
            "questdb://h:notaport",
            "questdb://h:1?x=1",
            "questdb://h:1?table=a;drop",
        ] {
            let e = QuestDbConfig::parse(bad).unwrap_err().to_string();
            assert!(e.contains("questdb://[user:password@]HOST"), "{bad}: {e}");
        }
    }

    #[test]
    fn ilp_tags_are_escaped() {
        let mut s = String::new();
        tag(&mut s, "a b,c=d");
        assert_eq!(s, r"a\ b\,c\=d");
    }

    /// The fast encoder writes what `writeln!` with `Display` would.
    #[test]
    fn ilp_lines_are_the_display_formatted_ones() {
        let candles = [
            Candle {
                open_time: 1_704_067_200_000,
                open: 42_000.5,
                high: 1e21,
                low: 1e-7,
                close: -0.0,
                volume: 3.0,
            },
            Candle {
                open_time: -60_000,
                open: f64::NAN,
                high: f64::INFINITY,
                low: 0.1 + 0.2,
                close: 123_456_789.123_456_78,
                volume: 0.0,
            },
        ];
        let prefix = "candles,exchange=binance,symbol=BTC/USDT,timeframe=1m";
        let mut want = String::new();
        for c in &candles {
            let _ = writeln!(
                want,
                "{prefix} open={},high={},low={},close={},volume={} {}",
                c.open,
                c.high,
                c.low,
                c.close,
                c.volume,
                c.open_time as i128 * 1_000_000
            );
        }
        let text = Ilp {
            binary_doubles: false,
        };
        assert_eq!(ilp_candles(prefix, &candles, text), want.as_bytes());
        // Protocol version 2: `==`, the type byte, the 8 bytes of each double.
        let binary = ilp_candles(
            prefix,
            &candles[..1],
            Ilp {
                binary_doubles: true,
            },
        );
        let mut want = format!("{prefix} open==").into_bytes();
        want.push(BINARY_DOUBLE);
        want.extend_from_slice(&42_000.5f64.to_le_bytes());
        want.extend_from_slice(b",high==");
        assert!(binary.starts_with(&want));
        assert!(binary.ends_with(b" 1704067200000000000\n"));
        // Field names (32 bytes), five doubles of 10, a space, 19 digits, a newline.
        assert_eq!(binary.len(), prefix.len() + 32 + 50 + 1 + 19 + 1);
    }
}
