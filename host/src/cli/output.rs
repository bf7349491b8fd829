//! Writing candles as a table, CSV or JSON lines.

use std::io::{self, Write};

use clap::ValueEnum;

use seamless::domain::{Candle, format_ms};

/// Output format of candle listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns with ISO times, for people.
    Table,
    /// `open_time,open,high,low,close,volume` with a header; times in ms.
    Csv,
    /// One JSON object per candle; times in ms.
    Jsonl,
    /// Apache Parquet (needs --output), with a manifest JSON beside it.
    Parquet,
}

/// Write `candles` in `format`.
pub fn write_candles(out: &mut dyn Write, format: Format, candles: &[Candle]) -> io::Result<()> {
    let mut w = io::BufWriter::with_capacity(1 << 16, out);
    match format {
        Format::Parquet => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "parquet is a file format: pass --output FILE.parquet",
            ));
        }
        Format::Jsonl => {
            for c in candles {
                writeln!(
                    w,
                    r#"{{"open_time":{},"open":{},"high":{},"low":{},"close":{},"volume":{}}}"#,
                    c.open_time, c.open, c.high, c.low, c.close, c.volume
                )?;
            }
        }
        Format::Csv => {
            writeln!(w, "open_time,open,high,low,close,volume")?;
            for c in candles {
                writeln!(
                    w,
                    "{},{},{},{},{},{}",
                    c.open_time, c.open, c.high, c.low, c.close, c.volume
                )?;
            }
        }
        Format::Table => {
            writeln!(
                w,
                "{:<20}  {:>14}  {:>14}  {:>14}  {:>14}  {:>16}",
                "open_time", "open", "high", "low", "close", "volume"
            )?;
            for c in candles {
                writeln!(
                    w,
                    "{:<20}  {:>14}  {:>14}  {:>14}  {:>14}  {:>16}",
                    format_ms(c.open_time),
                    c.open,
                    c.high,
                    c.low,
                    c.close,
                    c.volume
                )?;
            }
        }
    }
    w.flush()
}

/// Write `candles` (state `closed`) and then `forming` (state `forming`) with a `state`
/// column, for `--include-forming`.
pub fn write_candles_with_state(
    out: &mut dyn Write,
    format: Format,
    candles: &[Candle],
    forming: Option<&Candle>,
) -> io::Result<()> {
    let mut w = io::BufWriter::with_capacity(1 << 16, out);
    let rows = candles
        .iter()
        .map(|c| (c, "closed"))
        .chain(forming.map(|c| (c, "forming")));
    match format {
        Format::Parquet => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "--include-forming does not apply to parquet exports (closed candles only)",
            ));
        }
        Format::Jsonl => {
            for (c, s) in rows {
                writeln!(
                    w,
                    r#"{{"open_time":{},"open":{},"high":{},"low":{},"close":{},"volume":{},"state":"{s}"}}"#,
                    c.open_time, c.open, c.high, c.low, c.close, c.volume
                )?;
            }
        }
        Format::Csv => {
            writeln!(w, "open_time,open,high,low,close,volume,state")?;
            for (c, s) in rows {
                writeln!(
                    w,
                    "{},{},{},{},{},{},{s}",
                    c.open_time, c.open, c.high, c.low, c.close, c.volume
                )?;
            }
        }
        Format::Table => {
            writeln!(
                w,
                "{:<20}  {:>14}  {:>14}  {:>14}  {:>14}  {:>16}  state",
                "open_time", "open", "high", "low", "close", "volume"
            )?;
            for (c, s) in rows {
                writeln!(
                    w,
                    "{:<20}  {:>14}  {:>14}  {:>14}  {:>14}  {:>16}  {s}",
                    format_ms(c.open_time),
                    c.open,
                    c.high,
                    c.low,
                    c.close,
                    c.volume
                )?;
            }
        }
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let c = [Candle {
            open_time: 1_704_067_200_000,
            open: 1.5,
            high: 2.0,
            low: 1.0,
            close: 1.25,
            volume: 10.0,
        }];
        let mut buf = Vec::new();
        write_candles(&mut buf, Format::Jsonl, &c).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["open_time"], 1_704_067_200_000i64);
        assert_eq!(v["close"], 1.25);
        let mut buf = Vec::new();
        write_candles(&mut buf, Format::Csv, &c).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "open_time,open,high,low,close,volume\n1704067200000,1.5,2,1,1.25,10\n"
        );
        let mut buf = Vec::new();
        write_candles(&mut buf, Format::Table, &c).unwrap();
        assert!(
            String::from_utf8(buf)
                .unwrap()
                .contains("2024-01-01T00:00:00Z")
        );
    }
}
