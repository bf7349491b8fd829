//! Library errors name what is wrong and the library option that would accept it
//! ([`Remedy`], [`StrategyFailure::SKIP_REMEDY`], a config key); on the command line the
//! advice names the flag instead.

use seamless::provider::{ProviderError, Remedy};
use seamless::strategy::StrategyFailure;

/// The command-line spelling of a remedy.
fn flag(r: Remedy) -> &'static str {
    match r {
        Remedy::PartialOk => "pass --partial-ok",
    }
}

/// The library's advice about the exchange's base URL, and the flag that sets it.
const EXCHANGE_URL: (&str, &str) = ("its `exchange_urls` override", "--exchange-url");

/// `e` with its advice in command-line terms.
pub fn provider_error(e: ProviderError) -> anyhow::Error {
    let text = e.to_string();
    let advised = match e.remedy() {
        Some(r) => text.replacen(&r.to_string(), flag(r), 1),
        None if !text.contains(EXCHANGE_URL.0) => return e.into(),
        None => text,
    };
    // Also inside a cause (an incomplete frame after a 404, an unreachable exchange).
    anyhow::anyhow!(advised.replacen(EXCHANGE_URL.0, EXCHANGE_URL.1, 1))
}

/// A strategy failure with its advice in command-line terms.
pub fn strategy_failure(f: StrategyFailure) -> anyhow::Error {
    let text = f.to_string();
    if f.skippable {
        anyhow::anyhow!(text.replacen(StrategyFailure::SKIP_REMEDY, "pass --on-error skip", 1))
    } else {
        f.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seamless::domain::RangeSet;
    use seamless::net::NetError;

    #[test]
    fn library_remedies_become_flags() {
        let e = ProviderError::Incomplete {
            node: "ohlcv:binance:BTC/USDT:1m".into(),
            missing: RangeSet::from_ranges([(0, 60_000)]),
            cause: None,
        };
        assert!(e.to_string().contains("set `partial_ok` to accept"), "{e}");
        let msg = provider_error(e).to_string();
        assert!(
            msg.ends_with("; rerun to backfill, or pass --partial-ok to accept a partial frame"),
            "{msg}"
        );
        let f = StrategyFailure {
            strategy: "chaos".into(),
            call: "on-candles",
            node: "n".into(),
            first: "a".into(),
            last: "b".into(),
            detail: "trap".into(),
            skippable: true,
        };
        let msg = strategy_failure(f).to_string();
        assert!(
            msg.ends_with("trap; pass --on-error skip to continue with the next batch"),
            "{msg}"
        );
        let e = ProviderError::Exhausted {
            node: "n".into(),
            attempts: 2,
            last: NetError::Connect {
                url: "http://127.0.0.1:1".into(),
                detail: "refused".into(),
            }
            .to_string(),
            unreachable: true,
        };
        let msg = provider_error(e).to_string();
        assert!(msg.contains("(--exchange-url)"), "{msg}");
    }
}
