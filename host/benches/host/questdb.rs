//! QuestDB (`questdb`): ILP/HTTP ingest through the store vs PG-wire INSERT batches, and
//! the read rate of a one-year window.

use std::time::{Duration, Instant};

use seamless::domain::{NodeId, Window};
use seamless::store::AnyStore;

use crate::{JAN1_2024, MIN};

pub(crate) async fn bench_questdb(base: &str) {
    use seamless::store::CandleStore;
    // --- QuestDB ingest (ILP/HTTP through the store) vs PG-wire INSERT batches; read rate ---
    let node: NodeId = "ohlcv:bench:BTC/USDT:1m".parse().unwrap();
    let year = 525_600i64;
    let candles: Vec<seamless::domain::Candle> = (0..year)
        .map(|i| {
            let p = 40_000.0 + (i % 1000) as f64 * 0.5;
            seamless::domain::Candle {
                open_time: JAN1_2024 + i * MIN,
                open: p,
                high: p + 10.0,
                low: p - 10.0,
                close: p + 1.0,
                volume: 1.5,
            }
        })
        .collect();
    let sep = if base.contains('?') { '&' } else { '?' };
    let table = format!("bench_{}", std::process::id());
    let store = AnyStore::open(&format!("{base}{sep}table={table}")).unwrap();
    // Warm up: create the tables.
    store
        .write_page(
            &node,
            candles[..1].to_vec(),
            Window::new(JAN1_2024, JAN1_2024 + MIN).unwrap(),
        )
        .await
        .unwrap();
    let t = Instant::now();
    for chunk in candles.chunks(10_000) {
        let w = Window::new(chunk[0].open_time, chunk[chunk.len() - 1].open_time + MIN).unwrap();
        store.write_page(&node, chunk.to_vec(), w).await.unwrap();
    }
    let ilp = t.elapsed();
    // Baseline: the same rows as multi-row PG-wire INSERTs (1000 rows each), 10% of the year.
    let cfg = seamless::store::QuestDbConfig::parse(base).unwrap();
    let (client, conn) = tokio_postgres::connect(
        &format!(
            "host={} port={} user={} password={} dbname=qdb",
            cfg.host, cfg.pg_port, cfg.user, cfg.password
        ),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let pg_table = format!("{table}_pg");
    client
        .batch_execute(&format!(
            "CREATE TABLE {pg_table} (exchange SYMBOL, symbol SYMBOL, timeframe SYMBOL, open DOUBLE, high DOUBLE, low DOUBLE, \
             close DOUBLE, volume DOUBLE, ts TIMESTAMP) TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, exchange, symbol, timeframe)"
        ))
        .await
        .unwrap();
    let sample = &candles[..52_560];
    let t = Instant::now();
    for chunk in sample.chunks(1000) {
        let mut sql = format!("INSERT INTO {pg_table} VALUES ");
        for (i, c) in chunk.iter().enumerate() {
            let ts = chrono::DateTime::from_timestamp_millis(c.open_time)
                .unwrap()
                .naive_utc();
            sql.push_str(&format!(
                "{}('bench','BTC/USDT','1m',{},{},{},{},{},'{}')",
                if i > 0 { "," } else { "" },
                c.open,
                c.high,
                c.low,
                c.close,
                c.volume,
                ts.format("%Y-%m-%dT%H:%M:%S%.6fZ")
            ));
        }
        client.batch_execute(&sql).await.unwrap();
    }
    client
        .batch_execute(&format!("SELECT wait_wal_table('{pg_table}')"))
        .await
        .unwrap();
    let pg = t.elapsed();
    let w = Window::new(JAN1_2024, JAN1_2024 + year * MIN).unwrap();
    let t = Instant::now();
    let got = store.read(&node, w).await.unwrap();
    let read = t.elapsed();
    assert_eq!(got.len() as i64, year);
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    println!("questdb ingest and read (one year of 1m = {year} candles):");
    println!(
        "  PG-wire INSERT batches  {:>9.0} candles/s  (baseline, {} candles)",
        rate(sample.len(), pg),
        sample.len()
    );
    println!(
        "  ILP/HTTP via the store  {:>9.0} candles/s  {:.1}x of PG wire",
        rate(year as usize, ilp),
        rate(year as usize, ilp) / rate(sample.len(), pg)
    );
    println!(
        "  read the year (PG wire) {:>9.0} candles/s  {:.1}x of PG-wire ingest",
        rate(got.len(), read),
        rate(got.len(), read) / rate(sample.len(), pg)
    );
}
