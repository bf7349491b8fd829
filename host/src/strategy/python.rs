//! Python strategies: a folder holding `strategy.py` (a `Strategy` subclass and
//! `Node = export(...)`, see `guest-strategies/python/seamless_strategy.py`) built into a
//! `strategy-node` component with componentize-py.
//!
//! The build is cached by content: the SHA-256 of every `.py` file under the folder (by
//! relative path), of the SDK and WIT this binary carries, and of the componentize-py
//! version names `{cache}/python/{hash}.wasm`; an unchanged folder is never rebuilt.
//! componentize-py is pinned ([`COMPONENTIZE_PY`]) and installed from PyPI on first use
//! into a virtual environment of its own under the tools folder (`SEAMLESS_TOOLS_DIR`,
//! else `~/.cache/seamless/tools`); `SEAMLESS_COMPONENTIZE_PY` names an existing
//! executable instead. The SDK and the WIT go first on the module path, so a strategy
//! always builds against the contract of the host that runs it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use thiserror::Error;

/// The componentize-py release strategies are built with (PyPI).
pub const COMPONENTIZE_PY: &str = "0.25.1";
/// The module componentize-py exports: the file a strategy folder must hold.
pub const MODULE: &str = "strategy.py";
/// The Python SDK strategies import (`seamless_strategy`).
pub const SDK: &str = include_str!("../../../guest-strategies/python/seamless_strategy.py");
/// The contract the component is built against.
const WIT: &str = include_str!("../../../wit/market.wit");

/// Why a Python strategy could not be built.
#[derive(Debug, Error)]
pub enum PythonError {
    #[error(
        "{path} holds no {MODULE}: a Python strategy is a folder with {MODULE} (start one with `seamless strategy new --lang python NAME`)"
    )]
    NoModule { path: PathBuf },
    #[error(
        "{path}: the Python module must be named {MODULE} (componentize-py exports the module `strategy`); rename it, or pass its folder"
    )]
    WrongName { path: PathBuf },
    #[error(
        "cannot run {python} to install componentize-py {COMPONENTIZE_PY}: {detail}. Install Python 3.10 or newer, or set SEAMLESS_COMPONENTIZE_PY to a componentize-py {COMPONENTIZE_PY} executable"
    )]
    NoPython { python: String, detail: String },
    #[error(
        "installing componentize-py {COMPONENTIZE_PY} from PyPI into {venv} failed:\n{output}\nCheck that PyPI can be reached (pip's proxy settings apply), or set SEAMLESS_COMPONENTIZE_PY to a componentize-py {COMPONENTIZE_PY} executable"
    )]
    Install { venv: PathBuf, output: String },
    #[error("componentize-py could not build the strategy in {path}:\n{output}")]
    Build { path: PathBuf, output: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl PythonError {
    /// True when the user's input is at fault (a bad folder or Python code), as opposed
    /// to the machine (no Python, no PyPI).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            PythonError::NoModule { .. }
                | PythonError::WrongName { .. }
                | PythonError::Build { .. }
        )
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PythonError + '_ {
    move |source| PythonError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// True when `spec` names a Python strategy: a `.py` file, or a folder holding
/// [`MODULE`].
pub fn is_python(spec: &Path) -> bool {
    spec.extension().is_some_and(|e| e == "py") || spec.join(MODULE).is_file()
}

/// A built strategy component.
#[derive(Debug, Clone)]
pub struct Built {
    pub wasm: PathBuf,
    /// False when an earlier build of the same sources was reused.
    pub fresh: bool,
    pub took: Duration,
}

/// The folder of a Python strategy spec (the folder itself, or a `strategy.py`'s).
pub fn source_dir(spec: &Path) -> Result<PathBuf, PythonError> {
    if spec.is_dir() {
        return if spec.join(MODULE).is_file() {
            Ok(spec.to_path_buf())
        } else {
            Err(PythonError::NoModule {
                path: spec.to_path_buf(),
            })
        };
    }
    if spec.file_name().is_some_and(|n| n == MODULE) && spec.is_file() {
        let parent = spec.parent().filter(|p| !p.as_os_str().is_empty());
        return Ok(parent.unwrap_or(Path::new(".")).to_path_buf());
    }
    if spec.is_file() {
        return Err(PythonError::WrongName {
            path: spec.to_path_buf(),
        });
    }
    Err(PythonError::NoModule {
        path: spec.to_path_buf(),
    })
}

/// The content hash of a strategy folder with this host's SDK, WIT and componentize-py.
pub fn source_hash(dir: &Path) -> Result<String, PythonError> {
    let mut files = Vec::new();
    collect_py(dir, dir, &mut files)?;
    files.sort();
    let mut h = Sha256::new();
    h.update(b"seamless-python-strategy-v1\0");
    h.update(COMPONENTIZE_PY.as_bytes());
    h.update([0]);
    h.update(SDK.as_bytes());
    h.update([0]);
    h.update(WIT.as_bytes());
    for rel in &files {
        let bytes = std::fs::read(dir.join(rel)).map_err(io(&dir.join(rel)))?;
        h.update([0]);
        h.update(rel.to_string_lossy().as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(hex::encode(h.finalize()))
}

/// `.py` files under `dir` (relative to `root`), skipping hidden folders, `__pycache__`
/// and the SDK copy a new strategy folder carries for its native tests.
fn collect_py(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PythonError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "__pycache__" {
            continue;
        }
        if path.is_dir() {
            collect_py(root, &path, out)?;
        } else if name.ends_with(".py") && !(dir == root && name == "seamless_strategy.py") {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

/// Where the component built from the strategy folder `dir` is (or will be) cached.
pub fn component_path(cache: &Path, dir: &Path) -> Result<PathBuf, PythonError> {
    let hash = source_hash(dir)?;
    Ok(cache.join("python").join(format!("{}.wasm", &hash[..32])))
}

/// Build the strategy `spec` (a folder or its `strategy.py`) into
/// `{cache}/python/{hash}.wasm`, or reuse that file when it exists.
pub fn build(spec: &Path, cache: &Path, tools: &Path) -> Result<Built, PythonError> {
    let t = Instant::now();
    let dir = source_dir(spec)?;
    let wasm = component_path(cache, &dir)?;
    if wasm.is_file() {
        return Ok(Built {
            wasm,
            fresh: false,
            took: t.elapsed(),
        });
    }
    let tool = componentize_py(tools)?;
    let stem = wasm
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let work = cache
        .join("python")
        .join(format!("build-{stem}-{}", std::process::id()));
    let (sdk, wit) = (work.join("sdk"), work.join("wit"));
    for d in [&sdk, &wit] {
        std::fs::create_dir_all(d).map_err(io(d))?;
    }
    std::fs::write(sdk.join("seamless_strategy.py"), SDK).map_err(io(&sdk))?;
    std::fs::write(wit.join("market.wit"), WIT).map_err(io(&wit))?;
    let partial = work.join("strategy.wasm");
    let _span = tracing::info_span!("python_build", folder = %dir.display()).entered();
    let output = Command::new(&tool)
        .arg("-d")
        .arg(&wit)
        .args(["-w", "strategy-node", "componentize", "strategy", "-p"])
        .arg(&sdk)
        .arg("-p")
        .arg(&dir)
        .arg("-o")
        .arg(&partial)
        .output()
        .map_err(io(&tool))?;
    let result = if output.status.success() && partial.is_file() {
        std::fs::rename(&partial, &wasm).map_err(io(&wasm))
    } else {
        Err(PythonError::Build {
            path: dir.clone(),
            output: build_output(&output),
        })
    };
    let _ = std::fs::remove_dir_all(&work);
    result?;
    Ok(Built {
        wasm,
        fresh: true,
        took: t.elapsed(),
    })
}

/// What componentize-py printed, without its Rust backtrace (the Python error is above).
fn build_output(o: &std::process::Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let cut = text.find("\nStack backtrace:").unwrap_or(text.len());
    text[..cut].trim().to_string()
}

/// The tools folder: `SEAMLESS_TOOLS_DIR`, else `~/.cache/seamless/tools`.
pub fn default_tools_dir() -> PathBuf {
    std::env::var_os("SEAMLESS_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|d| d.join("seamless").join("tools")))
        .unwrap_or_else(|| PathBuf::from(".seamless-tools"))
}

/// The componentize-py executable: `SEAMLESS_COMPONENTIZE_PY`, else the pinned release
/// in its own virtual environment under `tools` (installed from PyPI when missing; a
/// concurrent install by another process is tolerated).
pub fn componentize_py(tools: &Path) -> Result<PathBuf, PythonError> {
    if let Some(p) = std::env::var_os("SEAMLESS_COMPONENTIZE_PY") {
        return Ok(PathBuf::from(p));
    }
    let venv = tools.join(format!("componentize-py-{COMPONENTIZE_PY}"));
    let exe = venv.join("bin").join("componentize-py");
    if exe.is_file() {
        return Ok(exe);
    }
    std::fs::create_dir_all(tools).map_err(io(tools))?;
    let staging = tools.join(format!(
        ".componentize-py-{COMPONENTIZE_PY}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&staging);
    let python = std::env::var("SEAMLESS_PYTHON").unwrap_or_else(|_| "python3".to_string());
    tracing::info!(venv = %venv.display(), "installing componentize-py {COMPONENTIZE_PY} from PyPI (once)");
    let made = Command::new(&python)
        .args(["-m", "venv"])
        .arg(&staging)
        .output()
        .map_err(|e| PythonError::NoPython {
            python: python.clone(),
            detail: e.to_string(),
        })?;
    if !made.status.success() {
        return Err(PythonError::NoPython {
            python,
            detail: format!(
                "`-m venv` failed: {}",
                String::from_utf8_lossy(&made.stderr).trim()
            ),
        });
    }
    let pip = Command::new(staging.join("bin").join("python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("componentize-py=={COMPONENTIZE_PY}"),
        ])
        .output()
        .map_err(io(&staging))?;
    if !pip.status.success() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(PythonError::Install {
            venv,
            output: build_output(&pip),
        });
    }
    // Installed in a folder of its own and moved in place at once, so a concurrent
    // installer never sees half an environment; the first to finish wins.
    match std::fs::rename(&staging, &venv) {
        Ok(()) => {}
        Err(_) if exe.is_file() => {
            let _ = std::fs::remove_dir_all(&staging);
            return Ok(exe);
        }
        Err(e) => return Err(io(&venv)(e)),
    }
    fix_venv_paths(&staging, &venv)?;
    Ok(exe)
}

/// After moving a virtual environment from `from` to `to`, point its scripts' `#!` lines
/// and `pyvenv.cfg` at the new place.
fn fix_venv_paths(from: &Path, to: &Path) -> Result<(), PythonError> {
    let (old, new) = (from.to_string_lossy(), to.to_string_lossy());
    let bin = to.join("bin");
    for entry in std::fs::read_dir(&bin).map_err(io(&bin))? {
        let path = entry.map_err(io(&bin))?.path();
        if path.is_symlink() || !path.is_file() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // a binary
        };
        if text.contains(old.as_ref()) {
            std::fs::write(&path, text.replace(old.as_ref(), new.as_ref())).map_err(io(&path))?;
        }
    }
    let cfg = to.join("pyvenv.cfg");
    if let Ok(text) = std::fs::read_to_string(&cfg) {
        std::fs::write(&cfg, text.replace(old.as_ref(), new.as_ref())).map_err(io(&cfg))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_the_folder_or_refuse() {
        let d = tempfile::tempdir().unwrap();
        let e = source_dir(d.path()).unwrap_err();
        assert!(matches!(e, PythonError::NoModule { .. }), "{e}");
        assert!(e.to_string().contains("seamless strategy new"), "{e}");
        std::fs::write(d.path().join("other.py"), "x = 1").unwrap();
        let e = source_dir(&d.path().join("other.py")).unwrap_err();
        assert!(e.to_string().contains("must be named strategy.py"), "{e}");
        std::fs::write(d.path().join(MODULE), "x = 1").unwrap();
        assert_eq!(source_dir(d.path()).unwrap(), d.path());
        assert_eq!(source_dir(&d.path().join(MODULE)).unwrap(), d.path());
        assert!(is_python(d.path()) && is_python(&d.path().join("other.py")));
        assert!(!is_python(Path::new("sma-cross")));
    }

    #[test]
    fn the_hash_follows_the_sources_only() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(MODULE), "x = 1").unwrap();
        let a = source_hash(d.path()).unwrap();
        // Caches, hidden folders and the SDK copy do not count.
        std::fs::create_dir(d.path().join("__pycache__")).unwrap();
        std::fs::write(d.path().join("__pycache__").join("s.py"), "junk").unwrap();
        std::fs::write(d.path().join("seamless_strategy.py"), "old sdk").unwrap();
        std::fs::write(d.path().join("README.md"), "words").unwrap();
        assert_eq!(source_hash(d.path()).unwrap(), a);
        // A helper module does.
        std::fs::write(d.path().join("helpers.py"), "y = 2").unwrap();
        let b = source_hash(d.path()).unwrap();
        assert_ne!(a, b);
        std::fs::write(d.path().join(MODULE), "x = 2").unwrap();
        assert_ne!(source_hash(d.path()).unwrap(), b);
    }
}
