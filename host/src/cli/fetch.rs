//! `seamless fetch`: serve one window and print it.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use seamless::domain::format_ms;
use seamless::provider::{FetchOptions, Phase, Strategy};

use super::options::DataArgs;
use super::output::{Format, write_candles, write_candles_with_state};
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
    /// Availability strategy: seamless (storage, backfill, live), fail-fast (storage only),
    /// auto-backfill, partial-fill (serve what is stored, backfill in the background).
    #[arg(long, default_value = "seamless", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<Strategy>()))]
    strategy: Strategy,
    /// Accept a frame with missing ranges or conformance flags (it is marked partial).
    #[arg(long)]
    partial_ok: bool,
    /// With the seamless strategy and a window reaching now: add the forming candle from
    /// the live feed (never stored); every row then gets a `state` column (closed|forming).
    #[arg(long)]
    include_forming: bool,
    /// Write the result metadata as JSON to FILE (`-` for stderr).
    #[arg(long, value_name = "FILE")]
    metadata: Option<String>,
    #[command(flatten)]
    pub data: DataArgs,
}

pub async fn run(g: &Global, args: &FetchArgs) -> Result<(), Failure> {
    let node = args.series.node()?;
    let window = args.window.window(&node, g.quiet)?;
    let provider = g.provider()?;
    let opts = FetchOptions {
        strategy: args.strategy,
        partial_ok: args.partial_ok,
        sla: g.sla()?,
        include_forming: args.include_forming,
    };
    if args.include_forming && args.strategy != Strategy::Seamless {
        return Err(Failure::bad(anyhow::anyhow!(
            "--include-forming needs the live phase: use --strategy seamless (the default)"
        )));
    }
    // Closed history through the provider, then (seamless) the live phase on top.
    let fetched = seamless::live::fetch_with_live(&provider, &node, window, &opts).await?;
    if args.format == Format::Parquet {
        let Some(path) = &args.output else {
            return Err(Failure::bad(anyhow::anyhow!(
                "--format parquet writes a file: pass --output FILE.parquet"
            )));
        };
        let m = &fetched.metadata;
        let manifest = serde_json::json!({
            "node_id": m.node_id,
            "range": m.window,
            "rows": m.rows,
            "fingerprint": m.fingerprint,
            "as_of": m.as_of,
            "partial": m.partial,
            "missing": m.missing,
            "conformance": m.conformance,
        });
        let manifest_path = seamless::export::write_parquet(
            path,
            &m.node_id,
            &m.fingerprint,
            &fetched.candles,
            &manifest,
        )
        .map_err(Failure::bad)?;
        if !g.quiet {
            eprintln!("wrote {} and {}", path.display(), manifest_path.display());
        }
    }
    let mut out: Box<dyn Write> = match (&args.output, args.format) {
        (_, Format::Parquet) => Box::new(std::io::sink()),
        (Some(p), _) => Box::new(std::fs::File::create(p).map_err(|e| {
            Failure::bad(anyhow::anyhow!(
                "cannot write {}: {e}; choose a writable --output path",
                p.display()
            ))
        })?),
        (None, _) => Box::new(std::io::stdout().lock()),
    };
    if args.format != Format::Parquet {
        if args.include_forming {
            write_candles_with_state(
                &mut out,
                args.format,
                &fetched.candles,
                fetched.forming.as_ref(),
            )
            .map_err(Failure::runtime)?;
        } else {
            write_candles(&mut out, args.format, &fetched.candles).map_err(Failure::runtime)?;
        }
    }
    let r = &fetched.metadata;
    if let Some(dest) = &args.metadata {
        let json = serde_json::to_string_pretty(r).map_err(Failure::runtime)?;
        if dest == "-" {
            eprintln!("{json}");
        } else {
            std::fs::write(dest, json + "\n").map_err(|e| {
                Failure::bad(anyhow::anyhow!(
                    "cannot write metadata to {dest}: {e}; choose a writable --metadata path"
                ))
            })?;
        }
    }
    if !g.quiet {
        let slots = node.timeframe.slots(r.window.start, r.window.end).max(1);
        eprintln!(
            "{}: {} candles of {} slots in [{}, {}) ({} from store, {} fetched in {} requests), coverage {:.1}%, {} ms{}",
            r.node_id,
            r.rows,
            slots,
            format_ms(r.window.start),
            format_ms(r.window.end),
            r.from_store,
            r.fetched,
            r.requests,
            r.coverage_ratio * 100.0,
            r.phases_ms.get(&Phase::Total).copied().unwrap_or_default(),
            if r.partial { ", PARTIAL" } else { "" }
        );
        if let Some(l) = &r.live {
            eprintln!(
                "live: {}, {} closed candle(s) added{}{}",
                l.source.as_deref().unwrap_or("no feed"),
                l.closed,
                l.forming
                    .map(|t| format!(", forming candle {}", format_ms(t)))
                    .unwrap_or_default(),
                l.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
        }
        if let Some(d) = &r.downgrade {
            eprintln!("  downgraded ({}): {}", d.mode, d.reason);
        }
        for (s, e) in r.empty.ranges() {
            eprintln!(
                "  no data at the exchange: [{}, {})",
                format_ms(*s),
                format_ms(*e)
            );
        }
        for (s, e) in r.missing.ranges() {
            eprintln!(
                "  missing (not closed yet or not fetched): [{}, {})",
                format_ms(*s),
                format_ms(*e)
            );
        }
    }
    if let Some(bg) = fetched.background {
        if !g.quiet {
            eprintln!("  finishing the background backfill...");
        }
        let outcome = bg.await.map_err(Failure::runtime)?;
        if let Some(e) = outcome.errors.into_iter().next() {
            return Err(Failure::runtime(e));
        }
    }
    Ok(())
}
