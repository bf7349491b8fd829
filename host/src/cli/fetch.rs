//! `seamless fetch`: serve one window and print it.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use seamless::domain::format_ms;

use super::output::{Format, write_candles};
use super::select::{SeriesArgs, WindowArgs};
use super::{Failure, Global};

#[derive(Debug, Args)]
pub struct FetchArgs {
    #[command(flatten)]
    series: SeriesArgs,
    #[command(flatten)]
    window: WindowArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the candles to this file instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

pub async fn run(g: &Global, args: &FetchArgs) -> Result<(), Failure> {
    let node = args.series.node()?;
    let window = args.window.window(&node, g.quiet)?;
    let provider = g.provider()?;
    let fetched = provider.fetch(&node, window).await?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| {
            Failure::bad(anyhow::anyhow!("cannot write {}: {e}; choose a writable --output path", p.display()))
        })?),
        None => Box::new(std::io::stdout().lock()),
    };
    write_candles(&mut out, args.format, &fetched.candles).map_err(Failure::runtime)?;
    let r = &fetched.report;
    if !g.quiet {
        let slots = node.timeframe.slots(r.window.start, r.window.end).max(1);
        eprintln!(
            "{}: {} candles of {} slots in [{}, {}) ({} from store, {} fetched in {} requests) in {} ms",
            r.node_id,
            r.rows,
            slots,
            format_ms(r.window.start),
            format_ms(r.window.end),
            r.from_store,
            r.fetched,
            r.requests,
            r.elapsed_ms
        );
        for (s, e) in r.empty.ranges() {
            eprintln!("  no data at the exchange: [{}, {})", format_ms(*s), format_ms(*e));
        }
        for (s, e) in r.missing.ranges() {
            eprintln!("  missing (not closed yet or not fetched): [{}, {})", format_ms(*s), format_ms(*e));
        }
    }
    Ok(())
}
