//! The exchange simulator as the conformance suite's counterpart, reached over HTTP only.
//!
//! The host does not link the simulator: [`Simulator::spawn`] starts the `exchange-sim`
//! program found next to the running executable or on `PATH` (on 127.0.0.1, any free port,
//! with the USD markets the suite needs besides its default USDT ones) and
//! [`Simulator::connect`] uses one already running. Both read the simulator's truth, market
//! clock and venue list through its control API (`/__sim/truth`, `/__sim/stats`,
//! `/__sim/venues`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use crate::domain::Candle;

/// The simulator program's file name.
pub const PROGRAM: &str = "exchange-sim";

/// Markets the suite adds to the simulator's defaults (`SYMBOL:LISTING_MS:BASE_PRICE`): the
/// USD-quoted spot markets of the exchanges that list no USDT pairs.
pub const EXTRA_MARKETS: [&str; 2] = ["BTC/USD:1502942400000:4000", "ETH/USD:1502942400000:300"];

/// How long a spawned simulator may take to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the simulator could not be started, reached or read.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error("the {PROGRAM} program was not found (looked in {})", list(.searched))]
    NotFound { searched: Vec<PathBuf> },
    #[error("cannot start {}: {source}", .program.display())]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("{} did not say where it listens: {detail}", .program.display())]
    NoAddress { program: PathBuf, detail: String },
    #[error("simulator at {url}: {detail}")]
    Http { url: String, detail: String },
    #[error("unknown simulator format {format:?}: the simulator speaks {}", .valid.join(", "))]
    UnknownFormat { format: String, valid: Vec<String> },
}

/// The formats the bundled `exchange-sim` speaks (one per venue, and `example`, the made-up
/// exchange of the adapter template and of `seamless adapters new`), for `--simulator`; a
/// test keeps this list equal to the simulator's own.
pub const SIMULATOR_FORMATS: [&str; 13] = [
    "binance",
    "binanceusdm",
    "bitfinex",
    "bitget",
    "bybit",
    "coinbase",
    "example",
    "gate",
    "htx",
    "kraken",
    "kucoin",
    "mexc",
    "okx",
];

fn list(paths: &[PathBuf]) -> String {
    let v: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    v.join(", ")
}

/// A simulator the suite talks to: one it spawned (stopped by [`Simulator::stop`] or on drop)
/// or one already running.
pub struct Simulator {
    base_url: String,
    http: reqwest::Client,
    /// A spawned simulator and its standard output (kept open: it prints only once).
    child: Option<(Child, BufReader<ChildStdout>)>,
}

impl Simulator {
    /// Where [`Simulator::spawn`] looks for the program: beside `exe` first, then in each
    /// `PATH` directory.
    pub fn candidates(exe: Option<&Path>) -> Vec<PathBuf> {
        let name = format!("{PROGRAM}{}", std::env::consts::EXE_SUFFIX);
        let beside = exe.and_then(Path::parent).map(|d| d.join(&name));
        let on_path: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).map(|d| d.join(&name)).collect())
            .unwrap_or_default();
        beside.into_iter().chain(on_path).collect()
    }

    /// Start the `exchange-sim` program beside the running executable (or on `PATH`) on
    /// 127.0.0.1, any free port, with [`EXTRA_MARKETS`].
    pub async fn spawn() -> Result<Simulator, SimulatorError> {
        let exe = std::env::current_exe().ok();
        let searched = Self::candidates(exe.as_deref());
        let Some(program) = searched.iter().find(|p| p.is_file()).cloned() else {
            return Err(SimulatorError::NotFound { searched });
        };
        let mut cmd = Command::new(&program);
        cmd.args(["--port", "0"]);
        for m in EXTRA_MARKETS {
            cmd.args(["--market", m]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // The simulator writes to stderr only when something is wrong: let it show.
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| SimulatorError::Spawn {
                program: program.clone(),
                source,
            })?;
        let no_address = |detail: String| SimulatorError::NoAddress {
            program: program.clone(),
            detail,
        };
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| no_address("no standard output".into()))?;
        let mut line = String::new();
        let mut stdout = BufReader::new(stdout);
        match tokio::time::timeout(START_TIMEOUT, stdout.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => {}
            Ok(Ok(_)) | Ok(Err(_)) => {
                return Err(no_address("it exited without printing its address".into()));
            }
            Err(_) => return Err(no_address(format!("nothing printed in {START_TIMEOUT:?}"))),
        }
        let base_url = line
            .trim()
            .strip_prefix("exchange-sim listening on ")
            .ok_or_else(|| no_address(format!("unexpected first line {:?}", line.trim())))?
            .to_string();
        let mut sim = Simulator::connect(&base_url)?;
        sim.child = Some((child, stdout));
        Ok(sim)
    }

    /// A simulator already running at `base_url` (`http://127.0.0.1:PORT`).
    pub fn connect(base_url: &str) -> Result<Simulator, SimulatorError> {
        crate::net::install_crypto();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| SimulatorError::Http {
                url: base_url.into(),
                detail: e.to_string(),
            })?;
        Ok(Simulator {
            base_url: base_url.trim_end_matches('/').to_string(),
            http,
            child: None,
        })
    }

    /// The simulator's root URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    async fn get(&self, path_and_query: &str) -> Result<serde_json::Value, SimulatorError> {
        let url = format!("{}{path_and_query}", self.base_url);
        let err = |detail: String| SimulatorError::Http {
            url: url.clone(),
            detail,
        };
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| err(e.to_string()))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| err(e.to_string()))?;
        if !status.is_success() {
            return Err(err(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            )));
        }
        serde_json::from_slice(&body).map_err(|e| err(format!("not JSON: {e}")))
    }

    /// The URL an adapter speaking `format` is pointed at: Binance spot is served at the root,
    /// every other venue under `/{format}`. Unknown formats are refused with the valid ones.
    pub async fn venue_url(&self, format: &str) -> Result<String, SimulatorError> {
        let v = self.get("/__sim/venues").await?;
        let venues = v["venues"].as_array().cloned().unwrap_or_default();
        let mut valid = Vec::new();
        for venue in &venues {
            let (Some(name), Some(prefix)) = (venue["name"].as_str(), venue["prefix"].as_str())
            else {
                continue;
            };
            if name == format {
                return Ok(format!("{}{prefix}", self.base_url));
            }
            valid.push(name.to_string());
        }
        Err(SimulatorError::UnknownFormat {
            format: format.to_string(),
            valid,
        })
    }

    /// The market clock now (ms).
    pub async fn now_ms(&self) -> Result<i64, SimulatorError> {
        let v = self.get("/__sim/stats").await?;
        v["now_ms"].as_i64().ok_or_else(|| SimulatorError::Http {
            url: format!("{}/__sim/stats", self.base_url),
            detail: "no now_ms".into(),
        })
    }

    /// The closed candles of `symbol` with `start <= open_time < end` that the simulator
    /// serves (its truth).
    pub async fn truth(
        &self,
        symbol: &str,
        timeframe: &str,
        start: i64,
        end: i64,
    ) -> Result<Vec<Candle>, SimulatorError> {
        let path = format!(
            "/__sim/truth?symbol={}&timeframe={timeframe}&start={start}&end={end}",
            symbol.replace('/', "%2F")
        );
        let v = self.get(&path).await?;
        let bad = |detail: &str| SimulatorError::Http {
            url: format!("{}{path}", self.base_url),
            detail: detail.to_string(),
        };
        let rows = v["candles"].as_array().ok_or_else(|| bad("no candles"))?;
        rows.iter()
            .map(|r| {
                let num = |i: usize| {
                    r[i].as_str()
                        .and_then(|s| s.parse::<f64>().ok())
                        .ok_or_else(|| bad("a candle value is not a decimal string"))
                };
                Ok(Candle {
                    open_time: r[0]
                        .as_i64()
                        .ok_or_else(|| bad("an open time is not an integer"))?,
                    open: num(1)?,
                    high: num(2)?,
                    low: num(3)?,
                    close: num(4)?,
                    volume: num(5)?,
                })
            })
            .collect()
    }

    /// Stop a spawned simulator (a running one given by URL is left alone).
    pub async fn stop(mut self) {
        if let Some((mut child, _)) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_beside_the_executable_first() {
        let exe = Path::new("/opt/seamless/bin/seamless");
        let c = Simulator::candidates(Some(exe));
        assert_eq!(
            c[0],
            Path::new("/opt/seamless/bin")
                .join(format!("{PROGRAM}{}", std::env::consts::EXE_SUFFIX))
        );
        let e = SimulatorError::NotFound {
            searched: c[..1].to_vec(),
        };
        assert!(e.to_string().contains("/opt/seamless/bin"), "{e}");
    }

    #[test]
    fn unknown_formats_name_the_valid_ones() {
        let e = SimulatorError::UnknownFormat {
            format: "nope".into(),
            valid: vec!["binance".into(), "bybit".into()],
        };
        assert_eq!(
            e.to_string(),
            "unknown simulator format \"nope\": the simulator speaks binance, bybit"
        );
    }
}
