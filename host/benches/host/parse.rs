//! Parse (`parse`): Binance klines parse of a 1000-row page, WASM component vs the same code
//! native.

use seamless::components::HttpResponse;
use seamless::domain::{NodeId, Window};

use crate::{JAN1_2024, MIN, mean, us};

pub(crate) fn bench_parse(adapter: &seamless::components::Adapter, node: &NodeId) {
    // --- parse of a 1000-row page ---
    let body = binance_adapter::sample::sample_klines(JAN1_2024, MIN, 1000);
    let window = Window::new(JAN1_2024, JAN1_2024 + 1000 * MIN).unwrap();
    let req = adapter.plan(node, window, 1000).unwrap().unwrap();
    let native = mean(300, || {
        let c = binance_adapter::parse_klines(std::hint::black_box(&body)).unwrap();
        assert_eq!(c.len(), 1000);
    });
    let in_wasm = mean(300, || {
        let resp = HttpResponse {
            status: 200,
            headers: vec![],
            body: body.clone(),
        };
        let page = adapter.parse(node, window, &req, resp).unwrap().unwrap();
        assert_eq!(page.candles.len(), 1000);
    });
    println!("binance parse, 1000-row page ({} KiB):", body.len() / 1024);
    println!("  native                  {:>12}  (baseline)", us(native));
    println!(
        "  wasm (host call)        {:>12}  {:.2}x of native",
        us(in_wasm),
        in_wasm.as_secs_f64() / native.as_secs_f64()
    );
}
