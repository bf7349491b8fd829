//! `seamless adapters new ID`: write a new adapter crate, outside this repository, that builds
//! as is. It is the adapter template (`guest-adapters/template`: a complete adapter for the
//! made-up `example` exchange, which the simulator also speaks) under the new id, with:
//! - `Cargo.toml` depending on the adapter kit and test kit from a seamless checkout (by
//!   default the one this `seamless` was built from; `--kit-path` another, `--kit-git` a
//!   git URL), `wit-bindgen` for the component build, and a release profile for small,
//!   fast components;
//! - `wit/market.wit`, where `export_adapter!("wit", …)` reads it (relative to
//!   `Cargo.toml`);
//! - the template's unit tests and its recorded payloads (`tests/fixtures/`, a test that
//!   parses each);
//! - a README with the commands to build, test and load it.
//!
//! The files are the template's own (compiled into `seamless`), so what the workspace
//! builds and tests is what a new author starts from.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{Failure, Global};

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The new exchange id: lowercase letters and digits, starting with a letter (node ids
    /// read ohlcv:ID:BTC/USDT:1m).
    pub id: String,
    /// Folder to create (default: ./ID-adapter); it must not exist, or be empty.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// A seamless checkout to take the adapter kit from (default: the checkout this
    /// seamless was built from).
    #[arg(long, value_name = "CHECKOUT", conflicts_with = "kit_git")]
    pub kit_path: Option<PathBuf>,
    /// A git URL of the seamless repository to take the adapter kit from instead.
    #[arg(long, value_name = "URL")]
    pub kit_git: Option<String>,
    /// The git revision (commit, tag) of --kit-git to use.
    #[arg(long, value_name = "REV", requires = "kit_git")]
    pub kit_rev: Option<String>,
}

/// The template's files, as the workspace builds and tests them.
const LIB: &str = include_str!("../../../guest-adapters/template/src/lib.rs");
const UNIT_TESTS: &str = include_str!("../../../guest-adapters/template/src/tests.rs");
const RECORDED_TESTS: &str = include_str!("../../../guest-adapters/template/tests/recorded.rs");
const FIXTURES: [(&str, &str); 6] = [
    (
        "page-1m.json",
        include_str!("../../../guest-adapters/template/tests/fixtures/page-1m.json"),
    ),
    (
        "error-exchange.json",
        include_str!("../../../guest-adapters/template/tests/fixtures/error-exchange.json"),
    ),
    (
        "error-malformed-truncated.json",
        include_str!(
            "../../../guest-adapters/template/tests/fixtures/error-malformed-truncated.json"
        ),
    ),
    (
        "error-rate-limited-429.json",
        include_str!("../../../guest-adapters/template/tests/fixtures/error-rate-limited-429.json"),
    ),
    (
        "error-unknown-symbol.json",
        include_str!("../../../guest-adapters/template/tests/fixtures/error-unknown-symbol.json"),
    ),
    (
        "error-unsupported-timeframe.json",
        include_str!(
            "../../../guest-adapters/template/tests/fixtures/error-unsupported-timeframe.json"
        ),
    ),
];
const WIT: &str = include_str!("../../../wit/market.wit");
/// The `wit-bindgen` the workspace builds components with (a unit test keeps it equal).
const WIT_BINDGEN: &str = "0.63.0";
/// The template's id, and its crate's library name.
const TEMPLATE_ID: &str = "example";
const TEMPLATE_LIB: &str = "adapter_template";

/// Why no crate was written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "bad adapter id '{0}': use lowercase letters and digits, starting with a letter, at most 32 (e.g. acme)"
    )]
    BadId(String),
    #[error("{} already exists and is not empty: choose another folder with --dir", .0.display())]
    NotEmpty(PathBuf),
    #[error(
        "no adapter kit at {}: pass --kit-path with a seamless checkout (the folder holding guest-adapters/kit), or --kit-git URL",
        .0.display()
    )]
    NoKit(PathBuf),
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ScaffoldError {
    fn is_bad_input(&self) -> bool {
        !matches!(self, ScaffoldError::Write { .. })
    }
}

/// Where the kit crates come from, as Cargo dependency fields.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KitSource {
    /// A checkout's root folder.
    Path(PathBuf),
    /// A git repository and an optional revision.
    Git(String, Option<String>),
}

impl KitSource {
    /// The dependency spec of `crate_dir` (`kit` or `testkit`).
    fn dependency(&self, crate_dir: &str) -> String {
        match self {
            KitSource::Path(root) => {
                let p = root.join("guest-adapters").join(crate_dir);
                format!("{{ path = {} }}", toml_string(&p.display().to_string()))
            }
            KitSource::Git(url, rev) => match rev {
                Some(r) => format!("{{ git = {}, rev = {} }}", toml_string(url), toml_string(r)),
                None => format!("{{ git = {} }}", toml_string(url)),
            },
        }
    }

    fn describe(&self) -> String {
        match self {
            KitSource::Path(root) => format!("the seamless checkout at {}", root.display()),
            KitSource::Git(url, Some(rev)) => format!("{url} at {rev}"),
            KitSource::Git(url, None) => url.clone(),
        }
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn check_id(id: &str) -> Result<(), ScaffoldError> {
    let ok = id.len() <= 32
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(ScaffoldError::BadId(id.to_string()))
    }
}

/// The checkout this binary was built from, if it is still there.
fn default_checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new(env!("CARGO_MANIFEST_DIR")))
        .to_path_buf()
}

fn kit_source(a: &NewArgs) -> Result<KitSource, ScaffoldError> {
    if let Some(url) = &a.kit_git {
        return Ok(KitSource::Git(url.clone(), a.kit_rev.clone()));
    }
    let root = a.kit_path.clone().unwrap_or_else(default_checkout);
    if !root.join("guest-adapters/kit/Cargo.toml").is_file() {
        return Err(ScaffoldError::NoKit(root));
    }
    Ok(KitSource::Path(
        std::fs::canonicalize(&root).unwrap_or(root),
    ))
}

/// `text` with every `(from, to)` replaced.
fn substitute(text: &str, pairs: &[(String, String)]) -> String {
    pairs.iter().fold(text.to_string(), |t, (from, to)| {
        t.replace(from.as_str(), to)
    })
}

/// The replacements that turn the template's code into `id`'s.
fn code_substitutions(id: &str) -> Vec<(String, String)> {
    let mut name = id.to_string();
    name[..1].make_ascii_uppercase();
    [
        (
            "TEMPLATE adapter for a made-up exchange",
            "Adapter, from the seamless template for a made-up exchange",
        ),
        ("Example Exchange (template)", name.as_str()),
        ("export_adapter!(\"../../wit\"", "export_adapter!(\"wit\""),
        ("cargo test -p adapter-template", "cargo test"),
        (&format!("\"{TEMPLATE_ID}\""), &format!("\"{id}\"")),
        (&format!("api.{TEMPLATE_ID}.com"), &format!("api.{id}.com")),
        (&format!("ohlcv:{TEMPLATE_ID}:"), &format!("ohlcv:{id}:")),
        (
            &format!("--exchange-url {TEMPLATE_ID}="),
            &format!("--exchange-url {id}="),
        ),
        (TEMPLATE_LIB, &format!("{id}_adapter")),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

fn cargo_toml(id: &str, kit: &KitSource) -> String {
    format!(
        r#"[package]
name = "{id}-adapter"
description = "{id} OHLCV adapter for seamless (a WebAssembly component)"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib: the wasm32-wasip2 component; rlib: native tests link the same code.
crate-type = ["cdylib", "rlib"]

[dependencies]
seamless-adapter-kit = {kit}
serde_json = "1"

[dev-dependencies]
seamless-adapter-testkit = {testkit}

# The bindings exist only in the component build: native tests never compile wit-bindgen.
[target.'cfg(target_arch = "wasm32")'.dependencies]
wit-bindgen = "{WIT_BINDGEN}"

# Small, fast components (the settings seamless builds its own adapters with).
[profile.release]
opt-level = 3
lto = true
codegen-units = 1
strip = "debuginfo"

# A crate of its own, even inside another workspace's folder.
[workspace]
"#,
        kit = kit.dependency("kit"),
        testkit = kit.dependency("testkit"),
    )
}

fn readme(id: &str, kit: &KitSource) -> String {
    let wasm = format!("target/wasm32-wasip2/release/{id}_adapter.wasm");
    format!(
        r#"# {id} adapter for seamless

Written by `seamless adapters new {id}`: a complete adapter, with the kit from
{kit}. It speaks the API of `example`, the made-up exchange of seamless's
adapter template, which seamless's exchange simulator also serves, so it builds, passes
its tests and loads before you change a line. Then make it speak your exchange (see
"Adapt it" below).

## Build, test, load

Needs Rust with the component target (`rustup target add wasm32-wasip2`) and `seamless`.

```sh
cargo test                                     # native tests, recorded payloads in tests/fixtures
cargo build --release --target wasm32-wasip2   # the component: {wasm}
seamless adapters test {wasm} --simulator example
```

`adapters test` runs the contract checks and, with `--simulator example`, a backfill from
the exchange simulator compared with its truth (it starts the `exchange-sim` program found
next to `seamless` or on PATH; `--simulator-url` names a running one). Then fetch through it:

```sh
exchange-sim --port 8080 &
seamless fetch --adapter {wasm} --node ohlcv:{id}:BTC/USDT:1m \
    --start 2024-01-01 --end 2024-01-02 --exchange-url {id}=http://127.0.0.1:8080/example
```

Without `--exchange-url` the requests go to the adapter's own base URL (`BASE` in
`src/lib.rs`).

## Adapt it

- `src/lib.rs`: `info()` (base URL, timeframe table, page size, rate limit), `request()`
  (your path, parameters, time units, symbol spelling), `parse()` (where the rows are,
  their layout, the paging direction), `error()` (your error bodies), `live_plan()`.
- `tests/fixtures/`: replace the recorded payloads with your exchange's (a page of candles
  and one error body per kind); `tests/recorded.rs` parses each.
- `wit/market.wit` is the host↔adapter contract: keep it as seamless ships it.

The contract and the kit are documented in seamless's `docs/adapters.md`.
"#,
        kit = kit.describe(),
    )
}

/// The files of `id`'s crate, relative to its folder.
fn files(id: &str, kit: &KitSource) -> Vec<(PathBuf, String)> {
    let subs = code_substitutions(id);
    let mut out = vec![
        (PathBuf::from("Cargo.toml"), cargo_toml(id, kit)),
        (PathBuf::from("README.md"), readme(id, kit)),
        (PathBuf::from(".gitignore"), "/target\n".to_string()),
        (PathBuf::from("wit/market.wit"), WIT.to_string()),
        (PathBuf::from("src/lib.rs"), substitute(LIB, &subs)),
        (PathBuf::from("src/tests.rs"), substitute(UNIT_TESTS, &subs)),
        (
            PathBuf::from("tests/recorded.rs"),
            substitute(RECORDED_TESTS, &subs),
        ),
    ];
    for (name, text) in FIXTURES {
        out.push((Path::new("tests/fixtures").join(name), text.to_string()));
    }
    out
}

/// Write the crate; returns its folder.
fn write(a: &NewArgs) -> Result<PathBuf, ScaffoldError> {
    check_id(&a.id)?;
    let kit = kit_source(a)?;
    let dir = a
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}-adapter", a.id)));
    let occupied = std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some());
    if occupied || dir.is_file() {
        return Err(ScaffoldError::NotEmpty(dir));
    }
    for (rel, text) in files(&a.id, &kit) {
        let path = dir.join(rel);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        written.map_err(|source| ScaffoldError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(dir)
}

pub fn run(g: &Global, a: &NewArgs) -> Result<(), Failure> {
    let dir = write(a).map_err(|e| {
        if e.is_bad_input() {
            Failure::bad(e)
        } else {
            Failure::runtime(e)
        }
    })?;
    if !g.quiet {
        eprintln!(
            "wrote the {} adapter crate in {}; next:\n  cd {}\n  cargo test\n  cargo build --release --target wasm32-wasip2\n  seamless adapters test target/wasm32-wasip2/release/{}_adapter.wasm --simulator example",
            a.id,
            dir.display(),
            dir.display(),
            a.id
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_substitution_finds_its_text_in_the_template() {
        let all = format!("{LIB}{UNIT_TESTS}{RECORDED_TESTS}");
        for (from, _) in code_substitutions("acme") {
            assert!(
                all.contains(&from),
                "the template no longer contains {from:?}"
            );
        }
        let kit = KitSource::Path(PathBuf::from("/src/seamless"));
        for (path, text) in files("acme", &kit) {
            if path.extension().is_some_and(|e| e == "rs") {
                assert!(!text.contains("\"example\""), "{}", path.display());
                assert!(!text.contains(TEMPLATE_LIB), "{}", path.display());
            }
        }
        let lib = &files("acme", &kit)[4].1;
        assert!(lib.contains("id: \"acme\".into()"), "{lib}");
        assert!(lib.contains("export_adapter!(\"wit\", poll)"), "{lib}");
    }

    #[test]
    fn the_crate_uses_the_workspace_wit_bindgen() {
        let root = include_str!("../../../Cargo.toml");
        assert!(
            root.contains(&format!("wit-bindgen = \"{WIT_BINDGEN}\"")),
            "update WIT_BINDGEN to the workspace's wit-bindgen"
        );
    }

    #[test]
    fn ids_and_kit_sources_are_checked() {
        for bad in ["", "Acme", "1acme", "ac-me", "ac:me", &"a".repeat(33)] {
            assert!(
                matches!(check_id(bad), Err(ScaffoldError::BadId(_))),
                "{bad}"
            );
        }
        check_id("acme2").unwrap();
        let kit = KitSource::Git("https://example.org/seamless.git".into(), Some("v1".into()));
        assert_eq!(
            kit.dependency("kit"),
            r#"{ git = "https://example.org/seamless.git", rev = "v1" }"#
        );
        let toml = cargo_toml("acme", &KitSource::Path(PathBuf::from("/x/y")));
        let parsed: toml::Table = toml.parse().unwrap();
        assert_eq!(
            parsed["dependencies"]["seamless-adapter-kit"]["path"].as_str(),
            Some("/x/y/guest-adapters/kit")
        );
        let a = NewArgs {
            id: "acme".into(),
            dir: None,
            kit_path: Some(PathBuf::from("/nonexistent")),
            kit_git: None,
            kit_rev: None,
        };
        let e = kit_source(&a).unwrap_err();
        assert!(e.to_string().contains("--kit-path"), "{e}");
    }
}
