//! export: writing served frames to files (Parquet + a JSON manifest beside it), and candles
//! as CSV or JSON text ([`text`]).
//!
//! A served frame is written as one Parquet file (`open_time` as a UTC millisecond timestamp,
//! `open`/`high`/`low`/`close`/`volume` as doubles, Snappy-compressed) and a pretty-printed JSON
//! manifest at `<path>.manifest.json` that the caller builds (node id, range, rows, fingerprint,
//! `as_of`, conformance report). Both files are written atomically: to a temporary file in the
//! same folder, synced, then renamed over the target, so a reader never sees half a file.

pub mod parquet;
pub mod text;

use std::path::PathBuf;

pub use self::parquet::{read_parquet, write_parquet};

/// Why an export (or reading one back) failed. Every message names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The file could not be created, written, synced or renamed into place (or read back).
    #[error(
        "cannot write or read {}: {source} (choose a writable --output path in an existing folder)",
        path.display()
    )]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The Parquet encoder or decoder refused the data, or the file is not a seamless export.
    #[error(
        "parquet error for {}: {detail} (check that the file is a Parquet export written by seamless, or re-export it)",
        path.display()
    )]
    Parquet { path: PathBuf, detail: String },
}
