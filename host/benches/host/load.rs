//! Component load (`load`): cold Cranelift compile vs cached (deserialize) vs one
//! instantiation.

use seamless::components::{ComponentHost, SandboxLimits};

use crate::{mean, us};

pub(crate) fn bench_load(
    wasm: &[u8],
    cached_host: &ComponentHost,
    adapter: &seamless::components::Adapter,
) {
    // --- component load and instantiation ---
    let cold_host = ComponentHost::new(SandboxLimits::default(), None).unwrap();
    let cold = mean(3, || {
        cold_host.load_adapter("binance", wasm).unwrap();
    });
    let cached = mean(20, || {
        cached_host.load_adapter("binance", wasm).unwrap();
    });
    let inst = mean(2000, || adapter.check_instantiate().unwrap());
    println!("component load (binance, {} KiB):", wasm.len() / 1024);
    println!("  cold compile            {:>12}  (baseline)", us(cold));
    println!(
        "  cached load             {:>12}  {:.4}x of cold",
        us(cached),
        cached.as_secs_f64() / cold.as_secs_f64()
    );
    println!(
        "  instantiate (pre, pool) {:>12}  {:.5}x of cold",
        us(inst),
        inst.as_secs_f64() / cold.as_secs_f64()
    );
}
