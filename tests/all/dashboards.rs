//! The monitoring files in `deploy/`: Debian's real Prometheus scrapes a `seamless` process
//! (a strategy run with live follow-up, against the simulator with injected 429s and a
//! refused request) through a config made from `deploy/prometheus.yml`, and every query of
//! every panel of `deploy/grafana/seamless.json` must return data.
//!
//! Prometheus is not optional here: without `/usr/bin/prometheus` (Debian package
//! `prometheus`) the test fails and says how to install it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use exchange_sim::{Faults, SimConfig, Simulator};
use serde_json::Value;

use crate::support::{KillOnDrop, STARTUP, seamless_command, wait_until};

/// The address `deploy/prometheus.yml` scrapes (`seamless serve`'s default).
const DEPLOY_TARGET: &str = "127.0.0.1:9184";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Debian's Prometheus (`PROMETHEUS` overrides the path), or a failure saying how to get it.
fn prometheus_bin() -> PathBuf {
    let p = std::env::var_os("PROMETHEUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/prometheus"));
    assert!(
        p.is_file(),
        "{} not found: this test runs the real Prometheus. Install it with \
         `apt-get install -y prometheus` (Debian/Ubuntu), or set PROMETHEUS to its path",
        p.display()
    );
    p
}

/// `promtool` next to the Prometheus binary, when the package ships it.
fn promtool(prometheus: &Path) -> Option<PathBuf> {
    Some(prometheus.with_file_name("promtool")).filter(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Percent-encoding of a query-string value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A panel's query with the dashboard's variables replaced: every template variable by
/// `.*` (the "All" value), Grafana's interval by a window that holds several 1 s scrapes.
fn concrete(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$exchange", ".*")
        .replace("$symbol", ".*")
        .replace("$timeframe", ".*")
}

/// Every `seamless_*` metric a query reads (histogram series named by their base name).
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("seamless_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        out.push(base.to_string());
        rest = &tail[end..];
    }
    out
}

/// One query of a panel.
struct Target {
    panel: String,
    expr: String,
    /// Grafana's legend template, e.g. `{{status}} {{key}}`.
    legend: String,
}

impl Target {
    /// The labels the legend shows (`{{name}}`): each returned series must carry them.
    fn legend_labels(&self) -> Vec<&str> {
        self.legend
            .split("{{")
            .skip(1)
            .filter_map(|p| p.split_once("}}").map(|(l, _)| l.trim()))
            .collect()
    }
}

/// Every target of every panel, after checking the dashboard's shape: uid, title, the
/// Prometheus data-source variable, one data source on every panel.
fn panel_targets(dash: &Value) -> Vec<Target> {
    assert!(dash["uid"].as_str().is_some_and(|u| !u.is_empty()), "uid");
    assert!(
        dash["title"].as_str().is_some_and(|t| !t.is_empty()),
        "title"
    );
    let vars = dash["templating"]["list"].as_array().expect("templating");
    assert!(
        vars.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "the dashboard needs a Prometheus data-source variable named `datasource`"
    );
    let mut out = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for p in dash["panels"].as_array().expect("panels") {
        let title = p["title"].as_str().unwrap_or("?").to_string();
        assert!(
            ids.insert(p["id"].as_i64().expect("panel id")),
            "duplicate id: {title}"
        );
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}", "panel {title:?}");
        let targets = p["targets"].as_array().filter(|t| !t.is_empty());
        for t in targets.unwrap_or_else(|| panic!("panel {title:?} has no targets")) {
            assert_eq!(t["datasource"]["uid"], "${datasource}", "panel {title:?}");
            out.push(Target {
                panel: title.clone(),
                expr: t["expr"].as_str().expect("expr").to_string(),
                legend: t["legendFormat"].as_str().unwrap_or_default().to_string(),
            });
        }
    }
    out
}

/// A child's stderr, read line by line into a buffer (for waiting on a line and for
/// failure messages) so the child never blocks on a full pipe.
fn drain(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<String>> {
    let log = Arc::new(Mutex::new(String::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut l = sink.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    log
}

struct Prom {
    base: String,
    http: reqwest::Client,
}

impl Prom {
    async fn get(&self, path_and_query: &str) -> Value {
        let url = format!("{}{path_and_query}", self.base);
        let resp = self.http.get(&url).send().await;
        let resp = resp.unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = resp.status();
        let body: Value =
            serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or(Value::Null);
        assert!(status.is_success(), "GET {url}: {status} {body}");
        body
    }

    async fn query(&self, expr: &str) -> Vec<Value> {
        let v = self
            .get(&format!("/api/v1/query?query={}", encode(expr)))
            .await;
        assert_eq!(v["status"], "success", "{expr}: {v}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// Health of every active target (`up`, `down`, `unknown`).
    async fn target_health(&self) -> Vec<String> {
        let v = self.get("/api/v1/targets?state=active").await;
        v["data"]["activeTargets"]
            .as_array()
            .map(|ts| {
                ts.iter()
                    .map(|t| t["health"].as_str().unwrap_or("?").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until Prometheus answers `/-/ready`.
    async fn wait_ready(&self, log: &Mutex<String>) {
        let t = std::time::Instant::now();
        while !self
            .http
            .get(format!("{}/-/ready", self.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(
                t.elapsed() < STARTUP,
                "Prometheus never got ready; its log:\n{}",
                log.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until Prometheus is ready, every target is up, and each was scraped twice more.
    async fn wait_scraped(&self, log: &Mutex<String>) {
        let t = std::time::Instant::now();
        loop {
            let ready = self
                .http
                .get(format!("{}/-/ready", self.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                let health = self.target_health().await;
                if !health.is_empty() && health.iter().all(|h| h == "up") {
                    break;
                }
            }
            assert!(
                t.elapsed() < STARTUP,
                "Prometheus never scraped seamless; its log:\n{}",
                log.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let first = self.scrapes().await;
        while self.scrapes().await < first + 2 {
            assert!(
                t.elapsed() < STARTUP,
                "scrapes stuck at {first}; Prometheus log:\n{}",
                log.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Scrapes of the least-scraped `seamless` target so far.
    async fn scrapes(&self) -> u64 {
        let r = self
            .query(r#"min(count_over_time(up{job="seamless"}[1h]))"#)
            .await;
        r.first()
            .and_then(|s| s["value"][1].as_str())
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or(0.0) as u64
    }
}

/// `promtool check config deploy/prometheus.yml`, when the package ships promtool.
fn check_deploy_config(prometheus: &Path) {
    let Some(tool) = promtool(prometheus) else {
        return;
    };
    let o = Command::new(&tool)
        .args(["check", "config"])
        .arg(repo().join("deploy/prometheus.yml"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "promtool check config deploy/prometheus.yml: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A running `seamless` child, its stderr so far, and its metrics URL.
struct Run {
    child: KillOnDrop,
    log: Arc<Mutex<String>>,
    metrics_url: String,
}

/// `seamless run sma-cross` over three hours of BTC/USDT 1s history (11 pages, one chunk
/// at a time), then live 1s candles until killed, with `--metrics` on `metrics_addr`.
async fn start_run(sim: &Simulator, dir: &Path, metrics_addr: &str) -> Run {
    let url = format!("binance={}", sim.base_url());
    let mut child = KillOnDrop(
        seamless_command(
            &[
                "run",
                "sma-cross",
                "--config",
                "node=ohlcv:binance:BTC/USDT:1s",
                "--config",
                "fast=2",
                "--config",
                "slow=5",
                "--start",
                "-3h",
                "--live",
                "--partial-ok",
                "--concurrency",
                "1",
                "--metrics",
                metrics_addr,
                "--exchange-url",
                &url,
                "--output",
                dir.join("signals.jsonl").to_str().unwrap(),
            ],
            &dir.join("run.db"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap(),
    );
    let log = drain(child.stderr.take().unwrap());
    let find = || {
        log.lock()
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("metrics: ").map(str::to_string))
    };
    wait_until(
        "the metrics line",
        STARTUP,
        || find().is_some(),
        || log.lock().unwrap().clone(),
    )
    .await;
    let metrics_url = find().unwrap();
    Run {
        child,
        log,
        metrics_url,
    }
}

impl Run {
    async fn exposition(&self, http: &reqwest::Client) -> String {
        match http.get(&self.metrics_url).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until every metric in `wanted` has a sample in the exposition.
    async fn wait_for_metrics(&mut self, http: &reqwest::Client, wanted: &[String]) {
        let t = std::time::Instant::now();
        loop {
            let text = self.exposition(http).await;
            let missing: Vec<&String> = wanted
                .iter()
                .filter(|m| {
                    !text
                        .lines()
                        .any(|l| l.starts_with(m.as_str()) && !l.starts_with('#'))
                })
                .collect();
            if missing.is_empty() {
                return;
            }
            assert!(
                t.elapsed() < STARTUP,
                "seamless never exposed {missing:?}; its log:\n{}",
                self.log.lock().unwrap()
            );
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "seamless exited ({status}); its log:\n{}",
                    self.log.lock().unwrap()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Debian's Prometheus on a free loopback port with a fresh TSDB in `dir`, configured from
/// `deploy/prometheus.yml` with `target` in place of its target and a 1 s scrape interval.
fn start_prometheus(
    prometheus: &Path,
    dir: &Path,
    target: &str,
) -> (KillOnDrop, Arc<Mutex<String>>, Prom) {
    let deploy = std::fs::read_to_string(repo().join("deploy/prometheus.yml")).unwrap();
    assert!(
        deploy.contains(DEPLOY_TARGET) && deploy.contains("scrape_interval: 15s"),
        "deploy/prometheus.yml should scrape {DEPLOY_TARGET} every 15s (the test swaps both)"
    );
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        deploy
            .replace(DEPLOY_TARGET, target)
            .replace("scrape_interval: 15s", "scrape_interval: 1s"),
    )
    .unwrap();
    let port = free_port();
    let mut child = KillOnDrop(
        Command::new(prometheus)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let log = drain(child.stderr.take().unwrap());
    seamless::net::install_crypto();
    let prom = Prom {
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    };
    (child, log, prom)
}

/// Every panel target's query (variables at "All") returns at least one series, and each
/// series carries the labels its legend shows; the failure names each panel that did not.
async fn check_panels(prom: &Prom, targets: &[Target]) -> Result<(), String> {
    let mut bad = Vec::new();
    for t in targets {
        let q = concrete(&t.expr);
        assert!(
            !q.contains('$'),
            "panel {:?}: unknown variable in {}",
            t.panel,
            t.expr
        );
        let series = prom.query(&q).await;
        if series.is_empty() {
            bad.push(format!("{:?} returned nothing: {q}", t.panel));
        }
        for s in &series {
            for l in t.legend_labels() {
                if s["metric"][l].as_str().is_none_or(str::is_empty) {
                    bad.push(format!(
                        "{:?}: a series lacks the legend's label {l}: {} <- {q}",
                        t.panel, s["metric"]
                    ));
                }
            }
        }
        let values: Vec<&str> = series
            .iter()
            .filter_map(|s| s["value"][1].as_str())
            .collect();
        eprintln!("{}: {} series {values:?} <- {q}", t.panel, series.len());
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("panel queries failed:\n{}", bad.join("\n")))
    }
}

/// The template variables: each `label_values(…, node_id)` query lists the scraped series,
/// and the variable's regex cuts the expected value out of its node id (Grafana keeps the
/// first capture group), e.g. `timeframe` → `1s`.
async fn check_variables(prom: &Prom, dash: &Value, node: &str, expected: &[(&str, &str)]) {
    for (name, want) in expected {
        let v = dash["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == *name)
            .unwrap_or_else(|| panic!("the dashboard has no variable {name}"));
        let def = v["definition"].as_str().unwrap();
        let selector = def
            .strip_prefix("label_values(")
            .and_then(|d| d.strip_suffix("node_id)"))
            .unwrap_or_else(|| panic!("variable {name}: expected label_values(…node_id): {def}"))
            .trim_end_matches(", ");
        let path = if selector.is_empty() {
            "/api/v1/label/node_id/values".to_string()
        } else {
            format!(
                "/api/v1/label/node_id/values?match[]={}",
                encode(&concrete(selector))
            )
        };
        let values = prom.get(&path).await;
        let values = values["data"].as_array().cloned().unwrap_or_default();
        assert!(
            values.iter().any(|n| n == node),
            "variable {name}: {path} gave {values:?}, without {node}"
        );
        let pattern = v["regex"].as_str().unwrap_or_default();
        let re = pattern
            .strip_prefix('/')
            .and_then(|p| p.strip_suffix('/'))
            .and_then(|p| regex::Regex::new(p).ok())
            .unwrap_or_else(|| panic!("variable {name}: regex {pattern:?} is not /…/"));
        let got = re.captures(node).and_then(|c| c.get(1)).map(|m| m.as_str());
        assert_eq!(got, Some(*want), "variable {name}: {pattern} on {node}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_panel_query_returns_data_from_a_scraped_run() {
    let prometheus = prometheus_bin();
    check_deploy_config(&prometheus);
    let dash: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("deploy/grafana/seamless.json")).unwrap(),
    )
    .expect("deploy/grafana/seamless.json is JSON");
    let targets = panel_targets(&dash);
    let mut wanted: Vec<String> = targets.iter().flat_map(|t| metric_names(&t.expr)).collect();
    wanted.sort();
    wanted.dedup();

    // 429 on every 3rd candle request (Retry-After: pause, wait, retry); a refused 400 on
    // every 7th (a chunk fails: a failure, a gap flag, coverage below 1); 200 ms per candle
    // request, so the history fetch spans several 1 s scrapes.
    let sim = Simulator::start(SimConfig {
        ban_after_429s: u32::MAX,
        faults: Faults {
            latency_ms: 200,
            rate_limit_every_n: Some(3),
            error_every_n: Some(7),
            error_status: 400,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Prometheus first, as in production: it scrapes the process from its start.
    let seamless_addr = format!("127.0.0.1:{}", free_port());
    let (prom_child, prom_log, prom) = start_prometheus(&prometheus, dir.path(), &seamless_addr);
    prom.wait_ready(&prom_log).await;
    let mut run = start_run(&sim, dir.path(), &seamless_addr).await;
    assert_eq!(run.metrics_url, format!("http://{seamless_addr}/metrics"));

    // The history fetch, its failed chunk and 429s, and the first live candles are in the
    // exposition; then Prometheus scrapes it twice more.
    run.wait_for_metrics(&prom.http, &wanted).await;
    prom.wait_scraped(&prom_log).await;

    if let Err(e) = check_panels(&prom, &targets).await {
        panic!(
            "{e}\nseamless exposition:\n{}",
            run.exposition(&prom.http).await
        );
    }
    // The requests were made while Prometheus scraped: their rate is not zero.
    let rate = prom
        .query("sum(rate(seamless_http_requests_total[1m]))")
        .await;
    let rate: f64 = rate
        .first()
        .and_then(|s| s["value"][1].as_str())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(rate > 0.0, "HTTP request rate {rate} while scraped");
    check_variables(
        &prom,
        &dash,
        "ohlcv:binance:BTC/USDT:1s",
        &[
            ("exchange", "binance"),
            ("symbol", "BTC/USDT"),
            ("timeframe", "1s"),
        ],
    )
    .await;
    drop(prom_child);
    drop(run);
    sim.shutdown().await;
}

/// The variable regexes also cut node ids whose symbol holds a `:` (a settled swap).
#[test]
fn variable_regexes_split_swap_symbols() {
    let dash: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("deploy/grafana/seamless.json")).unwrap(),
    )
    .unwrap();
    let node = "ohlcv:binanceusdm:BTC/USDT:USDT:1m";
    for (name, want) in [
        ("exchange", "binanceusdm"),
        ("symbol", "BTC/USDT:USDT"),
        ("timeframe", "1m"),
    ] {
        let v = dash["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap();
        let pattern = v["regex"].as_str().unwrap();
        let re = regex::Regex::new(&pattern[1..pattern.len() - 1]).unwrap();
        let got = re.captures(node).and_then(|c| c.get(1)).map(|m| m.as_str());
        assert_eq!(got, Some(want), "variable {name}: {pattern}");
    }
}
