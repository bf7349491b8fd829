//! Embeds the built-in adapter components (`*_adapter.wasm`, built by `just guests`) into the
//! extension, so an installed wheel serves every built-in exchange without the repository.
//!
//! The components are read from `$SEAMLESS_EMBED_ADAPTER_DIR` if set, else from the
//! workspace's `target/wasm32-wasip2/guest` (or `$CARGO_TARGET_DIR/wasm32-wasip2/guest`).
//! With none there the extension still builds (so `cargo clippy --workspace` works before
//! `just guests`), with a warning; such a build serves only `adapters=[...]` components.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=SEAMLESS_EMBED_ADAPTER_DIR");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dir = match std::env::var_os("SEAMLESS_EMBED_ADAPTER_DIR") {
        Some(d) => PathBuf::from(d),
        None => std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| manifest.join("..").join("target"))
            .join("wasm32-wasip2")
            .join("guest"),
    };
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let id = name.strip_suffix("_adapter.wasm")?.to_string();
            Some((id, p))
        })
        .collect();
    found.sort();
    if found.is_empty() {
        println!(
            "cargo:warning=no *_adapter.wasm in {}: the extension embeds no built-in adapters (run `just guests` first)",
            dir.display()
        );
    }
    let mut code =
        String::from("/// Built-in adapter components: (exchange id, component bytes).\n");
    code.push_str("pub static EMBEDDED: &[(&str, &[u8])] = &[\n");
    for (id, path) in &found {
        println!("cargo:rerun-if-changed={}", path.display());
        let abs = path.canonicalize().unwrap_or_else(|_| path.clone());
        writeln!(
            code,
            "    ({id:?}, include_bytes!({:?})),",
            abs.display().to_string()
        )
        .expect("write to a String");
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    std::fs::write(out.join("embedded_adapters.rs"), code)
        .expect("write OUT_DIR/embedded_adapters.rs");
}
