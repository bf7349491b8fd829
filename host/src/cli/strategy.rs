//! `seamless strategy`: start a new strategy folder and build Python strategies.
//!
//! `strategy new --lang python NAME` writes `NAME/` with `strategy.py` (a working SMA
//! cross to edit), `test_strategy.py` (runs natively with `python -m pytest NAME`), a copy
//! of the SDK for those native tests, and a README. `strategy build DIR` builds the
//! folder into a component (componentize-py, pinned, installed on first use; the build is
//! cached by content) and prints its path; `seamless run DIR` builds the same way before
//! running, so an explicit build is only needed to ship the `.wasm`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use seamless::strategy::python;

use super::options::{OptionGroup, SandboxArgs, Settings};
use super::{Failure, Global};

#[derive(Debug, Subcommand)]
pub enum StrategyCommand {
    /// Write a new strategy folder (strategy.py, a test, a README) that `seamless run DIR`
    /// runs as it is.
    New(NewArgs),
    /// Build a Python strategy folder into a WebAssembly component and print its path
    /// (cached: an unchanged folder is not rebuilt).
    Build(BuildArgs),
}

impl StrategyCommand {
    pub fn settings(&self) -> Settings {
        match self {
            StrategyCommand::New(_) => Settings::default(),
            StrategyCommand::Build(a) => {
                let mut s = Settings::default();
                a.sandbox.add_to(&mut s);
                s
            }
        }
    }
}

/// Languages a new strategy can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// Python, built with componentize-py (the SDK is guest-strategies/python/).
    Python,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The strategy's name: the folder to create (it must not exist, or be empty).
    pub name: PathBuf,
    /// The language to write it in.
    #[arg(long, value_enum, default_value_t = Lang::Python)]
    pub lang: Lang,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The strategy folder (holding strategy.py), or its strategy.py.
    #[arg(value_name = "DIR")]
    pub spec: PathBuf,
    /// Also copy the component to FILE.
    #[arg(long, short, value_name = "FILE.wasm")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// The new folder's `strategy.py`: the Python SMA cross, whole.
const TEMPLATE: &str = include_str!("../../../guest-strategies/python/sma_cross/strategy.py");

fn readme(name: &str) -> String {
    format!(
        "# {name}: a seamless strategy in Python\n\
\n\
`strategy.py` is the strategy: a class that reads its configuration in `__init__`, sets\n\
`self.inputs` (the series it reads and the warm-up each needs) and returns signals from\n\
`on_candles(batch, warmup)`; the last line, `Node = export(...)`, makes it the component's\n\
export. It starts as the SMA cross (`fast`/`slow` moving averages); edit it freely.\n\
\n\
```sh\n\
python -m pytest {name}                     # the tests, natively (no build)\n\
seamless run {name} --start -7d --config fast=10 --config slow=30   # build (once) and run\n\
seamless strategy build {name} -o {name}.wasm                      # the component, to ship\n\
```\n\
\n\
- State lives on `self` for the whole run; the host makes a fresh instance (re-warmed on\n\
  the candles before) only after a crash.\n\
- A batch holds candles of every input in time order: `batch.rows()` gives\n\
  `(input, open_time, open, high, low, close, volume)`; the columns are `batch.open_time`,\n\
  `batch.close`, … and `batch.inputs`.\n\
- `Config` refuses keys not listed in `keys` and names the key and the fix on a bad value.\n\
- `self.history.last(input, count, before)` and `.range(input, start, end)` read closed\n\
  candles from the host (never after the candle being processed).\n\
- An exception ends the run with its traceback, naming the strategy, the call and the\n\
  candle times (`seamless run --on-error skip` skips the batch instead).\n\
- `seamless_strategy.py` is a copy of the SDK for the native tests; the build uses the\n\
  SDK of the seamless that builds it.\n\
\n\
The first build installs componentize-py {cpy} from PyPI into seamless's tools folder and\n\
takes about ten seconds; the first run compiles the component once (about as long); later\n\
runs reuse both.\n",
        cpy = python::COMPONENTIZE_PY
    )
}

fn test_file() -> &'static str {
    r#""""Native tests of strategy.py (no build): `python -m pytest` in this folder."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from seamless_strategy import Batch, StrategyError  # noqa: E402
from strategy import Node  # noqa: E402


def test_a_crossing_gives_one_buy():
    node = Node.create([("fast", "1"), ("slow", "2")])
    assert [i.node for i in node.inputs()] == ["ohlcv:binance:BTC/USDT:1m"]
    closes = [10.0, 9.0, 10.0]
    batch = Batch.of(0, [(t, c, c, c, c, 1.0) for t, c in enumerate(closes)])
    signals = node.on_candles(batch, False)
    assert [(s.time, s.action) for s in signals] == [(2, "buy")]


def test_a_bad_setting_names_the_key():
    try:
        Node.create([("fast", "30"), ("slow", "10")])
    except StrategyError as e:
        assert "`fast`" in str(e)
    else:
        raise AssertionError("fast >= slow must be refused")
"#
}

/// Write the new folder; returns its path.
fn write_new(a: &NewArgs) -> Result<PathBuf, Failure> {
    let dir = &a.name;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Failure::bad(anyhow::anyhow!("name the strategy folder, e.g. my_sma")))?;
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Failure::bad(anyhow::anyhow!(
            "{} exists and is not empty: choose a new folder name",
            dir.display()
        )));
    }
    let files: [(&str, String); 4] = [
        (python::MODULE, TEMPLATE.to_string()),
        ("test_strategy.py", test_file().to_string()),
        ("seamless_strategy.py", python::SDK.to_string()),
        ("README.md", readme(&name)),
    ];
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::runtime(anyhow::anyhow!("cannot create {}: {e}", dir.display())))?;
    for (file, text) in files {
        let p = dir.join(file);
        std::fs::write(&p, text)
            .map_err(|e| Failure::runtime(anyhow::anyhow!("cannot write {}: {e}", p.display())))?;
    }
    Ok(dir.clone())
}

pub fn run(g: &Global, cmd: &StrategyCommand) -> Result<(), Failure> {
    match cmd {
        StrategyCommand::New(a) => {
            let dir = write_new(a)?;
            if !g.quiet {
                eprintln!(
                    "wrote the Python strategy {d}; next:\n  python -m pytest {d}\n  seamless run {d} --start -7d",
                    d = dir.display()
                );
            }
            Ok(())
        }
        StrategyCommand::Build(a) => {
            let built = build(g, &a.spec)?;
            if let Some(out) = &a.output {
                std::fs::copy(&built, out).map_err(|e| {
                    Failure::runtime(anyhow::anyhow!("cannot write {}: {e}", out.display()))
                })?;
                println!("{}", out.display());
            } else {
                println!("{}", built.display());
            }
            Ok(())
        }
    }
}

/// Build the Python strategy `spec` (a folder or its strategy.py) into the component
/// cache, saying so on stderr when it is built now; returns the component's path.
pub fn build(g: &Global, spec: &Path) -> Result<PathBuf, Failure> {
    let host = g.component_host()?;
    let cache = host
        .cache()
        .dir()
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    let tools = python::default_tools_dir();
    let cached = python::source_dir(spec)
        .and_then(|d| python::component_path(&cache, &d))
        .is_ok_and(|p| p.is_file());
    if !g.quiet && !cached {
        eprintln!(
            "building the Python strategy in {} with componentize-py {} (once per change of its sources)",
            spec.display(),
            python::COMPONENTIZE_PY
        );
    }
    let built = python::build(spec, &cache, &tools).map_err(|e| {
        if e.is_bad_input() {
            Failure::bad(e)
        } else {
            Failure::runtime(e)
        }
    })?;
    if built.fresh && !g.quiet {
        eprintln!("built {} in {}", built.wasm.display(), secs(built.took));
    }
    Ok(built.wasm)
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}
