//! The output conventions: candles as a table, CSV, JSON lines or Parquet ([`Format`]),
//! reports (lists, coverage, check results, summaries) as a table or JSON
//! ([`ReportFormat`]); every command that prints data or a report takes `--format`.

use std::io::{self, Write};

use clap::ValueEnum;

use seamless::domain::{Candle, format_ms};
use seamless::export::text;

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

/// Output format of reports: a table for people, or JSON for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ReportFormat {
    /// Aligned columns (or text) for people.
    #[default]
    Table,
    /// One pretty-printed JSON document on stdout.
    Json,
}

/// Print `v` as pretty JSON on stdout.
pub fn print_json(v: &impl serde::Serialize) -> Result<(), super::Failure> {
    let text = serde_json::to_string_pretty(v).map_err(super::Failure::runtime)?;
    println!("{text}");
    Ok(())
}

/// Write `candles` in `format`.
pub fn write_candles(out: &mut dyn Write, format: Format, candles: &[Candle]) -> io::Result<()> {
    write_rows(out, format, candles.iter().map(|c| (c, None)), false)
}

/// Write `candles` (state `closed`) and then `forming` (state `forming`) with a `state`
/// column, for `--include-forming`.
pub fn write_candles_with_state(
    out: &mut dyn Write,
    format: Format,
    candles: &[Candle],
    forming: Option<&Candle>,
) -> io::Result<()> {
    let rows = candles
        .iter()
        .map(|c| (c, Some("closed")))
        .chain(forming.map(|c| (c, Some("forming"))));
    write_rows(out, format, rows, true)
}

/// The header line of `format` (none for JSON lines), with a `state` column if asked.
pub fn header(format: Format, state: bool) -> Option<String> {
    let state = if state { "state" } else { "" };
    match format {
        Format::Jsonl | Format::Parquet => None,
        Format::Csv => Some(format!(
            "{}{}{state}",
            text::CSV_HEADER,
            if state.is_empty() { "" } else { "," }
        )),
        Format::Table => Some(
            format!(
                "{:<20}  {:>14}  {:>14}  {:>14}  {:>14}  {:>16}  {state}",
                "open_time", "open", "high", "low", "close", "volume"
            )
            .trim_end()
            .to_string(),
        ),
    }
}

/// One candle as a line of `format`, with its state if given.
pub fn row(format: Format, c: &Candle, state: Option<&str>) -> String {
    let mut line = String::with_capacity(128);
    push_row(&mut line, format, c, state);
    line
}

/// Append one candle as a line of `format` (no newline) to `out`.
fn push_row(out: &mut String, format: Format, c: &Candle, state: Option<&str>) {
    match format {
        Format::Jsonl | Format::Parquet => text::push_json(out, c, state),
        Format::Csv => text::push_csv(out, c, state),
        Format::Table => {
            use std::fmt::Write as _;
            let _ = write!(
                out,
                "{:<20}  {:>14}  {:>14}  {:>14}  {:>14}  {:>16}  {}",
                format_ms(c.open_time),
                c.open,
                c.high,
                c.low,
                c.close,
                c.volume,
                state.unwrap_or_default()
            );
            out.truncate(out.trim_end().len());
        }
    }
}

fn write_rows<'a>(
    out: &mut dyn Write,
    format: Format,
    rows: impl Iterator<Item = (&'a Candle, Option<&'a str>)>,
    state: bool,
) -> io::Result<()> {
    if format == Format::Parquet {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "parquet is a file format: pass --output FILE.parquet",
        ));
    }
    let mut w = io::BufWriter::with_capacity(1 << 16, out);
    if let Some(h) = header(format, state) {
        writeln!(w, "{h}")?;
    }
    let mut line = String::with_capacity(128);
    for (c, s) in rows {
        line.clear();
        push_row(&mut line, format, c, s);
        line.push('\n');
        w.write_all(line.as_bytes())?;
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
        write_candles_with_state(&mut buf, Format::Csv, &c, Some(&c[0])).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "open_time,open,high,low,close,volume,state\n1704067200000,1.5,2,1,1.25,10,closed\n1704067200000,1.5,2,1,1.25,10,forming\n"
        );
        let mut buf = Vec::new();
        write_candles_with_state(&mut buf, Format::Jsonl, &c, None).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["state"], "closed");
        let mut buf = Vec::new();
        write_candles(&mut buf, Format::Table, &c).unwrap();
        assert!(
            String::from_utf8(buf)
                .unwrap()
                .contains("2024-01-01T00:00:00Z")
        );
    }
}
