//! Parquet export of a served frame, with the low-level `parquet` API (no Arrow).
//!
//! Schema (every column `REQUIRED`, so there are no definition levels to write):
//!
//! ```text
//! message candle {
//!   REQUIRED INT64 open_time (TIMESTAMP(MILLIS,true));
//!   REQUIRED DOUBLE open; REQUIRED DOUBLE high; REQUIRED DOUBLE low;
//!   REQUIRED DOUBLE close; REQUIRED DOUBLE volume;
//! }
//! ```
//!
//! One row group per [`ROW_GROUP_ROWS`] rows, Snappy compression, `open_time` delta-encoded
//! (the grid makes the deltas constant), and the key-value metadata `seamless.node_id` and
//! `seamless.fingerprint` in the footer so a reader can tell which data set it holds.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::{Compression, Encoding};
use parquet::column::reader::get_typed_column_reader;
use parquet::data_type::{DataType, DoubleType, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::ColumnPath;

use super::ExportError;
use crate::domain::Candle;

/// Rows per row group.
pub const ROW_GROUP_ROWS: usize = 1_000_000;

/// Key of the node id in the file's key-value metadata.
pub const META_NODE_ID: &str = "seamless.node_id";
/// Key of the dataset fingerprint in the file's key-value metadata.
pub const META_FINGERPRINT: &str = "seamless.fingerprint";

const SCHEMA: &str = "
message candle {
  REQUIRED INT64 open_time (TIMESTAMP(MILLIS,true));
  REQUIRED DOUBLE open;
  REQUIRED DOUBLE high;
  REQUIRED DOUBLE low;
  REQUIRED DOUBLE close;
  REQUIRED DOUBLE volume;
}";

/// Column names in file order.
const COLUMNS: [&str; 6] = ["open_time", "open", "high", "low", "close", "volume"];

/// The manifest written beside `path`: `<path>.manifest.json`.
pub fn manifest_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".manifest.json");
    PathBuf::from(name)
}

/// Write candles (schema: open_time INT64 TIMESTAMP(MILLIS, UTC), open/high/low/close/volume
/// DOUBLE, all REQUIRED; one row group per 1M rows; key-value metadata `seamless.node_id` and
/// `seamless.fingerprint`) to `path`, and `manifest` (a JSON value the caller builds: node id,
/// range, rows, fingerprint, as_of, conformance report) pretty-printed to
/// `<path>.manifest.json`. Both are written atomically (temporary file in the same folder,
/// synced, renamed over the target); the Parquet file is in place before the manifest.
/// Returns the manifest path.
///
/// `path` must be a regular file path (existing or not); special files such as `/dev/null`
/// are refused, because the atomic rename would replace them.
pub fn write_parquet(
    path: &Path,
    node_id: &str,
    fingerprint: &str,
    candles: &[Candle],
    manifest: &serde_json::Value,
) -> Result<PathBuf, ExportError> {
    refuse_special_file(path)?;
    let manifest_path = manifest_path(path);
    refuse_special_file(&manifest_path)?;

    atomic_write(path, |file| {
        encode(file, node_id, fingerprint, candles).map_err(|e| ExportError::Parquet {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })
    })?;

    let mut text = serde_json::to_vec_pretty(manifest).map_err(|e| ExportError::Io {
        path: manifest_path.clone(),
        source: std::io::Error::other(e),
    })?;
    text.push(b'\n');
    atomic_write(&manifest_path, |file| {
        file.write_all(&text).map_err(|source| ExportError::Io {
            path: manifest_path.clone(),
            source,
        })
    })?;
    Ok(manifest_path)
}

/// Read a file written by [`write_parquet`] back: the candles in file order and the footer's
/// key-value metadata. Used by tests and by `seamless` to verify an export.
pub fn read_parquet(path: &Path) -> Result<(Vec<Candle>, BTreeMap<String, String>), ExportError> {
    let file = File::open(path).map_err(|source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |detail: String| ExportError::Parquet {
        path: path.to_path_buf(),
        detail,
    };
    let reader = SerializedFileReader::new(file).map_err(|e| bad(e.to_string()))?;
    let meta = reader.metadata();
    let file_meta = meta.file_metadata();

    let schema = file_meta.schema_descr();
    let names: Vec<String> = (0..schema.num_columns())
        .map(|i| schema.column(i).name().to_owned())
        .collect();
    if names != COLUMNS {
        return Err(bad(format!(
            "not a seamless candle export: columns are {names:?}, expected {COLUMNS:?}"
        )));
    }

    let kv: BTreeMap<String, String> = file_meta
        .key_value_metadata()
        .map(|kvs| {
            kvs.iter()
                .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();

    let total = usize::try_from(file_meta.num_rows()).map_err(|e| bad(e.to_string()))?;
    let mut times: Vec<i64> = Vec::with_capacity(total);
    let mut cols: [Vec<f64>; 5] = std::array::from_fn(|_| Vec::with_capacity(total));

    for rg in 0..reader.num_row_groups() {
        let row_group = reader.get_row_group(rg).map_err(|e| bad(e.to_string()))?;
        let rows =
            usize::try_from(row_group.metadata().num_rows()).map_err(|e| bad(e.to_string()))?;
        let reader = row_group
            .get_column_reader(0)
            .map_err(|e| bad(e.to_string()))?;
        read_column::<Int64Type>(reader, rows, &mut times)
            .map_err(|e| bad(format!("{}: {e}", COLUMNS[0])))?;
        for (i, col) in cols.iter_mut().enumerate() {
            let reader = row_group
                .get_column_reader(i + 1)
                .map_err(|e| bad(e.to_string()))?;
            read_column::<DoubleType>(reader, rows, col)
                .map_err(|e| bad(format!("{}: {e}", COLUMNS[i + 1])))?;
        }
    }
    if cols.iter().any(|c| c.len() != times.len()) || times.len() != total {
        return Err(bad(format!(
            "column lengths differ: open_time has {}, the footer says {total}",
            times.len()
        )));
    }

    let [open, high, low, close, volume] = cols;
    let candles = (0..times.len())
        .map(|i| Candle {
            open_time: times[i],
            open: open[i],
            high: high[i],
            low: low[i],
            close: close[i],
            volume: volume[i],
        })
        .collect();
    Ok((candles, kv))
}

/// Read `rows` values of one required column chunk, appending them to `out`.
fn read_column<T: DataType>(
    reader: parquet::column::reader::ColumnReader,
    rows: usize,
    out: &mut Vec<T::T>,
) -> parquet::errors::Result<()> {
    let mut reader = get_typed_column_reader::<T>(reader);
    let want = out.len() + rows;
    while out.len() < want {
        let (records, _, _) = reader.read_records(want - out.len(), None, None, out)?;
        if records == 0 {
            return Err(parquet::errors::ParquetError::General(format!(
                "column chunk ended after {} of {rows} rows",
                rows - (want - out.len())
            )));
        }
    }
    Ok(())
}

fn properties(node_id: &str, fingerprint: &str) -> WriterProperties {
    let time = ColumnPath::from("open_time");
    WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("seamless {}", env!("CARGO_PKG_VERSION")))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        // Grid timestamps: constant deltas, which DELTA_BINARY_PACKED stores in a few bits.
        .set_column_dictionary_enabled(time.clone(), false)
        .set_column_encoding(time, Encoding::DELTA_BINARY_PACKED)
        .set_key_value_metadata(Some(vec![
            KeyValue::new(META_NODE_ID.to_owned(), node_id.to_owned()),
            KeyValue::new(META_FINGERPRINT.to_owned(), fingerprint.to_owned()),
        ]))
        .build()
}

/// Encode the whole file into `file`.
fn encode(
    file: &mut File,
    node_id: &str,
    fingerprint: &str,
    candles: &[Candle],
) -> parquet::errors::Result<()> {
    let schema = Arc::new(parse_message_type(SCHEMA)?);
    let props = Arc::new(properties(node_id, fingerprint));
    let mut writer =
        SerializedFileWriter::new(BufWriter::with_capacity(1 << 20, file), schema, props)?;

    let mut times: Vec<i64> = Vec::new();
    let mut values: Vec<f64> = Vec::new();
    for chunk in candles.chunks(ROW_GROUP_ROWS) {
        let mut rg = writer.next_row_group()?;
        times.clear();
        times.extend(chunk.iter().map(|c| c.open_time));
        write_column::<Int64Type>(&mut rg, &times)?;
        let fields: [fn(&Candle) -> f64; 5] =
            [|c| c.open, |c| c.high, |c| c.low, |c| c.close, |c| c.volume];
        for field in fields {
            values.clear();
            values.extend(chunk.iter().map(field));
            write_column::<DoubleType>(&mut rg, &values)?;
        }
        rg.close()?;
    }
    let buffered = writer.into_inner()?;
    buffered
        .into_inner()
        .map_err(|e| parquet::errors::ParquetError::External(Box::new(e.into_error())))?;
    Ok(())
}

fn write_column<T: DataType>(
    rg: &mut SerializedRowGroupWriter<'_, BufWriter<&mut File>>,
    values: &[T::T],
) -> parquet::errors::Result<()>
where
    T::T: Clone,
{
    let mut col = rg.next_column()?.ok_or_else(|| {
        parquet::errors::ParquetError::General("schema has fewer columns than written".into())
    })?;
    let written = col.typed::<T>().write_batch(values, None, None)?;
    if written != values.len() {
        return Err(parquet::errors::ParquetError::General(format!(
            "wrote {written} of {} values",
            values.len()
        )));
    }
    col.close()
}

/// Refuse targets that exist and are not regular files (`/dev/null`, a FIFO, a folder):
/// renaming the temporary file over them would replace them.
fn refuse_special_file(path: &Path) -> Result<(), ExportError> {
    match fs::metadata(path) {
        Ok(meta) if !meta.is_file() => Err(ExportError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file (Parquet exports are written to a temporary file and renamed into place)",
            ),
        }),
        _ => Ok(()),
    }
}

/// Write `path` through a temporary file in the same folder: `fill` writes the content, then
/// the file is synced and renamed over `path`. On any failure the temporary file is removed.
fn atomic_write(
    path: &Path,
    fill: impl FnOnce(&mut File) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    let io = |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file_name = path.file_name().ok_or_else(|| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path has no file name",
        ))
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);

    let result = (|| {
        let mut file = File::create(&tmp).map_err(io)?;
        fill(&mut file)?;
        file.sync_all().map_err(io)?;
        drop(file);
        fs::rename(&tmp, path).map_err(io)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Deterministic candles on the 1m grid with awkward doubles (tiny, huge, negative zero,
    /// subnormal) so "bit for bit" means something.
    fn candles(n: usize) -> Vec<Candle> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let t0 = 1_704_067_200_000_i64; // 2024-01-01T00:00:00Z
        (0..n)
            .map(|i| {
                let base = 42_000.0 + (next() % 1_000_000) as f64 / 97.0;
                let spread = (next() % 10_000) as f64 / 113.0;
                let volume = match i % 1000 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => f64::MIN_POSITIVE / 3.0,
                    3 => 1.0e300,
                    _ => f64::from_bits(next() >> 12 | 0x3FF0_0000_0000_0000) - 1.0,
                };
                Candle {
                    open_time: t0 + i as i64 * 60_000,
                    open: base,
                    high: base + spread,
                    low: base - spread,
                    close: base + spread / 3.0,
                    volume,
                }
            })
            .collect()
    }

    fn manifest(rows: usize) -> serde_json::Value {
        serde_json::json!({
            "node_id": "ohlcv:binance:BTC/USDT:1m",
            "range": {"start": 1_704_067_200_000_i64, "end": 1_704_067_200_000_i64 + rows as i64 * 60_000},
            "rows": rows,
            "fingerprint": "sha256:abc",
            "as_of": "2024-02-01T00:00:00Z",
            "conformance": {"flags": {}, "warnings": []},
        })
    }

    fn same_bits(a: &[Candle], b: &[Candle]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                x.open_time == y.open_time
                    && [x.open, x.high, x.low, x.close, x.volume]
                        .iter()
                        .zip([y.open, y.high, y.low, y.close, y.volume])
                        .all(|(p, q)| p.to_bits() == q.to_bits())
            })
    }

    #[test]
    fn export_round_trip_100k_bit_for_bit_with_metadata_and_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("btc.parquet");
        let data = candles(100_000);
        let m = write_parquet(
            &path,
            "ohlcv:binance:BTC/USDT:1m",
            "sha256:abc",
            &data,
            &manifest(data.len()),
        )
        .unwrap();
        assert_eq!(m, dir.path().join("btc.parquet.manifest.json"));

        let (back, kv) = read_parquet(&path).unwrap();
        assert!(same_bits(&data, &back), "round trip changed the data");
        assert_eq!(
            kv.get(META_NODE_ID).map(String::as_str),
            Some("ohlcv:binance:BTC/USDT:1m")
        );
        assert_eq!(
            kv.get(META_FINGERPRINT).map(String::as_str),
            Some("sha256:abc")
        );

        let text = fs::read_to_string(&m).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, manifest(data.len()));
        assert!(text.contains("\n  \""), "manifest is pretty-printed");

        // No temporary files left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn export_schema_and_row_groups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.parquet");
        let data = candles(ROW_GROUP_ROWS + 10);
        write_parquet(&path, "n", "f", &data, &manifest(data.len())).unwrap();
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let meta = reader.metadata();
        assert_eq!(meta.num_row_groups(), 2);
        assert_eq!(meta.row_group(0).num_rows(), ROW_GROUP_ROWS as i64);
        assert_eq!(meta.file_metadata().num_rows(), data.len() as i64);
        let col = meta.row_group(0).column(1);
        assert_eq!(col.compression(), Compression::SNAPPY);
        let schema = parquet::schema::printer::print_schema;
        let mut out = Vec::new();
        schema(&mut out, meta.file_metadata().schema());
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("REQUIRED INT64 open_time (TIMESTAMP(MILLIS,true))"),
            "{text}"
        );
        assert!(text.contains("REQUIRED DOUBLE volume"), "{text}");
        let (back, _) = read_parquet(&path).unwrap();
        assert!(same_bits(&data, &back));
    }

    #[test]
    fn export_unwritable_path_is_io_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-folder").join("x.parquet");
        let err = write_parquet(&path, "n", "f", &candles(3), &manifest(3)).unwrap_err();
        match &err {
            ExportError::Io { path: p, .. } => assert_eq!(p, &path),
            other => panic!("expected Io, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("choose a writable --output path"), "{msg}");

        // A special file is refused instead of being replaced by the rename.
        if Path::new("/dev/null").exists() {
            let err =
                write_parquet(Path::new("/dev/null"), "n", "f", &[], &manifest(0)).unwrap_err();
            assert!(matches!(err, ExportError::Io { .. }), "{err:?}");
            assert!(err.to_string().contains("/dev/null"));
        }
    }

    #[test]
    fn export_empty_frame_is_a_valid_file_with_zero_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.parquet");
        let m = write_parquet(
            &path,
            "ohlcv:binance:BTC/USDT:1m",
            "sha256:e3b0",
            &[],
            &manifest(0),
        )
        .unwrap();
        assert!(m.exists());
        let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
        let (back, kv) = read_parquet(&path).unwrap();
        assert!(back.is_empty());
        assert_eq!(
            kv.get(META_FINGERPRINT).map(String::as_str),
            Some("sha256:e3b0")
        );
    }

    #[test]
    fn export_overwrites_existing_file_and_rejects_non_parquet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        fs::write(&path, b"not parquet").unwrap();
        let err = read_parquet(&path).unwrap_err();
        assert!(matches!(err, ExportError::Parquet { .. }), "{err:?}");
        assert!(err.to_string().contains("x.parquet"));
        write_parquet(&path, "n", "f", &candles(5), &manifest(5)).unwrap();
        assert_eq!(read_parquet(&path).unwrap().0.len(), 5);
    }

    /// Write time for a year of 1m candles (525,600). Prints the figure; run with
    /// `--nocapture` to see it.
    #[test]
    fn export_write_time_one_year_1m() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("year.parquet");
        let data = candles(525_600);
        let t = Instant::now();
        write_parquet(
            &path,
            "ohlcv:binance:BTC/USDT:1m",
            "sha256:x",
            &data,
            &manifest(data.len()),
        )
        .unwrap();
        let write = t.elapsed();
        let size = fs::metadata(&path).unwrap().len();
        let t = Instant::now();
        let (back, _) = read_parquet(&path).unwrap();
        let read = t.elapsed();
        assert_eq!(back.len(), data.len());
        eprintln!(
            "parquet export: 525,600 candles written in {:.1} ms ({:.1} M candles/s), {:.1} MiB, read back in {:.1} ms",
            write.as_secs_f64() * 1e3,
            data.len() as f64 / write.as_secs_f64() / 1e6,
            size as f64 / (1024.0 * 1024.0),
            read.as_secs_f64() * 1e3,
        );
    }
}
