//! The built-in adapter components embedded in the extension (see `build.rs`). The adapter
//! registry loads components from files (and checks SHA-256 pins on them), so the embedded
//! bytes are written once to a folder named after their digest, which the registry searches.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use seamless::components::ComponentCache;

include!(concat!(env!("OUT_DIR"), "/embedded_adapters.rs"));

/// The exchange ids of the embedded adapters, sorted.
pub fn ids() -> Vec<&'static str> {
    EMBEDDED.iter().map(|(id, _)| *id).collect()
}

/// A digest of every embedded component (id and bytes), 16 hex digits.
fn digest() -> &'static str {
    static DIGEST: OnceLock<String> = OnceLock::new();
    DIGEST.get_or_init(|| {
        let mut all = Vec::new();
        for (id, wasm) in EMBEDDED {
            all.extend_from_slice(id.as_bytes());
            all.push(0);
            all.extend_from_slice(ComponentCache::sha256_hex(wasm).as_bytes());
        }
        ComponentCache::sha256_hex(&all)[..16].to_string()
    })
}

/// The folder holding the embedded components under `base`
/// (`base/builtin-adapters/<digest>/{id}_adapter.wasm`), written if absent. A component is
/// written to a temporary name and renamed, so a concurrent process never reads half a file.
pub fn folder(base: &Path) -> io::Result<PathBuf> {
    let dir = base.join("builtin-adapters").join(digest());
    std::fs::create_dir_all(&dir)?;
    for (id, wasm) in EMBEDDED {
        let path = dir.join(format!("{id}_adapter.wasm"));
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == wasm.len() as u64) {
            continue;
        }
        let tmp = dir.join(format!(".{id}_adapter.wasm.{}", std::process::id()));
        std::fs::write(&tmp, wasm)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(dir)
}

/// [`folder`] under the user's cache folder (`<cache>/seamless`), else under the temporary
/// folder when the cache folder cannot be written.
pub fn default_folder() -> io::Result<PathBuf> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    if let Some(d) = DIR.get() {
        return Ok(d.clone());
    }
    let cache = dirs::cache_dir().map(|d| d.join("seamless"));
    let dir = match cache.map(|c| folder(&c)) {
        Some(Ok(d)) => d,
        _ => folder(&std::env::temp_dir().join("seamless"))?,
    };
    Ok(DIR.get_or_init(|| dir).clone())
}
