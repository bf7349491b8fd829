//! `seamless coverage`: what the ledger holds for a series: present ranges, empty ranges
//! (the exchange had no data) and missing ranges, as a table or JSON.

use clap::Args;

use seamless::domain::{RangeSet, format_ms, now_ms, parse_time};

use super::options::StoreArgs;
use super::output::{ReportFormat, print_json};
use super::select::SeriesArgs;
use super::{Failure, Global};

#[derive(Debug, Args)]
pub struct CoverageArgs {
    #[command(flatten)]
    series: SeriesArgs,
    /// Start of the window to report (default: the first range the ledger holds).
    #[arg(long, allow_hyphen_values = true)]
    start: Option<String>,
    /// End of the window (default: now).
    #[arg(long, allow_hyphen_values = true)]
    end: Option<String>,
    /// `table` or `json`.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub async fn run(g: &Global, a: &CoverageArgs) -> Result<(), Failure> {
    let node = a.series.node()?;
    let now = now_ms();
    let parse = |s: &Option<String>, flag: &str| -> Result<Option<i64>, Failure> {
        s.as_deref()
            .map(|v| parse_time(v, now).map_err(|e| Failure::bad(anyhow::anyhow!("{flag}: {e}"))))
            .transpose()
    };
    let end = parse(&a.end, "--end")?.unwrap_or(now);
    let provider = g.provider()?;
    let r = provider
        .coverage_report(&node, parse(&a.start, "--start")?, end)
        .await?;
    if a.format == ReportFormat::Json {
        return print_json(&r);
    }
    let w = r.window;
    println!("{node} [{}, {})", format_ms(w.start), format_ms(w.end));
    println!("{:<8} {:<22} {:<22} {:>10}", "KIND", "START", "END", "BARS");
    let mut rows: Vec<(i64, &str, i64)> = Vec::new();
    let mut add = |set: &RangeSet, kind: &'static str| {
        for (s, e) in set.ranges() {
            rows.push((*s, kind, *e));
        }
    };
    add(&r.present, "present");
    add(&r.empty, "empty");
    add(&r.missing, "missing");
    rows.sort();
    for (s, kind, e) in rows {
        println!(
            "{kind:<8} {:<22} {:<22} {:>10}",
            format_ms(s),
            format_ms(e),
            node.timeframe.slots(s, e)
        );
    }
    Ok(())
}
