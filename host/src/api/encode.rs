//! A served frame in the format a client asked for: JSON (`{"metadata": …, "candles": [...]}`),
//! CSV (the CLI's columns; the metadata JSON in the `seamless-metadata` header), or an Arrow
//! IPC stream (`open_time` as a UTC millisecond timestamp, the five values as doubles; the
//! metadata JSON under the schema metadata key `seamless`) that pyarrow and polars read
//! directly.

use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch, TimestampMillisecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::problem;
use crate::domain::Candle;
use crate::export::text;
use crate::provider::Metadata;

/// The `format` of a `/v1/candles` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Csv,
    Arrow,
}

impl std::str::FromStr for Encoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(Encoding::Json),
            "csv" => Ok(Encoding::Csv),
            "arrow" => Ok(Encoding::Arrow),
            _ => Err(format!("bad format '{s}': use json, csv or arrow")),
        }
    }
}

/// The media type of the Arrow IPC stream format.
pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// `candles` with `metadata` in `encoding`.
pub fn encode(encoding: Encoding, candles: &[Candle], metadata: &Metadata) -> Response {
    let meta = match serde_json::to_string(metadata) {
        Ok(m) => m,
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    match encoding {
        Encoding::Json => {
            let mut body = String::with_capacity(64 * candles.len() + meta.len() + 32);
            body.push_str("{\"metadata\":");
            body.push_str(&meta);
            body.push_str(",\"candles\":[");
            for (i, c) in candles.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                text::push_json(&mut body, c, None);
            }
            body.push_str("]}");
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Encoding::Csv => {
            let mut body = String::with_capacity(48 * candles.len() + 64);
            body.push_str(text::CSV_HEADER);
            body.push('\n');
            for c in candles {
                text::push_csv(&mut body, c, None);
                body.push('\n');
            }
            let mut resp = ([(header::CONTENT_TYPE, "text/csv")], body).into_response();
            if let Ok(v) = HeaderValue::from_str(&meta) {
                resp.headers_mut().insert("seamless-metadata", v);
            }
            resp
        }
        Encoding::Arrow => match arrow_stream(candles, &meta) {
            Ok(bytes) => ([(header::CONTENT_TYPE, ARROW_STREAM)], bytes).into_response(),
            Err(e) => problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot encode Arrow: {e}"),
            ),
        },
    }
}

/// One record batch in an Arrow IPC stream.
fn arrow_stream(candles: &[Candle], meta: &str) -> Result<Vec<u8>, arrow_schema::ArrowError> {
    let ts = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    let value = |name: &str| Field::new(name, DataType::Float64, false);
    let schema = Schema::new(vec![
        Field::new("open_time", ts, false),
        value("open"),
        value("high"),
        value("low"),
        value("close"),
        value("volume"),
    ])
    .with_metadata(std::collections::HashMap::from([(
        "seamless".to_string(),
        meta.to_string(),
    )]));
    let schema = Arc::new(schema);
    let col = |f: fn(&Candle) -> f64| -> Arc<dyn arrow_array::Array> {
        Arc::new(Float64Array::from_iter_values(candles.iter().map(f)))
    };
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(
                TimestampMillisecondArray::from_iter_values(candles.iter().map(|c| c.open_time))
                    .with_timezone("UTC"),
            ),
            col(|c| c.open),
            col(|c| c.high),
            col(|c| c.low),
            col(|c| c.close),
            col(|c| c.volume),
        ],
    )?;
    let mut out = Vec::with_capacity(48 * candles.len() + 1024);
    {
        let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut out, &schema)?;
        w.write(&batch)?;
        w.finish()?;
    }
    Ok(out)
}
