//! Unified symbols (`BASE/QUOTE`, or `BASE/QUOTE:SETTLE` for derivatives) and
//! their exchange spellings (`BTCUSDT`, `BTC-USDT`, `btcusdt`).

/// A unified symbol split into its parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair<'a> {
    pub base: &'a str,
    pub quote: &'a str,
    /// Settlement currency of a derivative (`BTC/USDT:USDT`).
    pub settle: Option<&'a str>,
}

/// Whether `code` is a plausible currency or market code: 1–32 ASCII letters or
/// digits.
pub fn is_code(code: &str) -> bool {
    (1..=32).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Split `BASE/QUOTE[:SETTLE]`; `None` unless every part is a valid code.
pub fn split(unified: &str) -> Option<Pair<'_>> {
    let (pair, settle) = match unified.split_once(':') {
        Some((p, s)) => (p, Some(s)),
        None => (unified, None),
    };
    let (base, quote) = pair.split_once('/')?;
    let ok = is_code(base) && is_code(quote) && settle.is_none_or(is_code);
    ok.then_some(Pair {
        base,
        quote,
        settle,
    })
}

/// Upper-case `BASE{sep}QUOTE` of a spot symbol (`BTC/USDT`, `"-"` → `BTC-USDT`).
/// `None` for a malformed symbol or one with a settlement part.
pub fn join_upper(unified: &str, sep: &str) -> Option<String> {
    let p = split(unified)?;
    if p.settle.is_some() {
        return None;
    }
    let mut out = String::with_capacity(p.base.len() + sep.len() + p.quote.len());
    out.push_str(p.base);
    out.push_str(sep);
    out.push_str(p.quote);
    out.make_ascii_uppercase();
    Some(out)
}

/// The concatenated upper-case id of a spot market, accepting the unified form
/// (`BTC/USDT`) or an id already in that form (`BTCUSDT`, `btcusdt`).
pub fn concat_id(symbol: &str) -> Option<String> {
    if symbol.contains('/') {
        join_upper(symbol, "")
    } else if is_code(symbol) {
        Some(symbol.to_ascii_uppercase())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits() {
        assert_eq!(
            split("BTC/USDT"),
            Some(Pair {
                base: "BTC",
                quote: "USDT",
                settle: None
            })
        );
        assert_eq!(split("BTC/USDT:USDT").and_then(|p| p.settle), Some("USDT"));
        for bad in [
            "",
            "BTC",
            "/USDT",
            "BTC/",
            "BTC/US DT",
            "BTC/USDT:",
            "A/B/C",
            "€/USD",
        ] {
            assert_eq!(split(bad), None, "{bad}");
        }
    }

    #[test]
    fn joins() {
        assert_eq!(join_upper("btc/usdt", "").as_deref(), Some("BTCUSDT"));
        assert_eq!(join_upper("BTC/USDT", "-").as_deref(), Some("BTC-USDT"));
        assert_eq!(join_upper("BTC/USDT:USDT", ""), None);
        assert_eq!(concat_id("BTC/USDT").as_deref(), Some("BTCUSDT"));
        assert_eq!(concat_id("ethbtc").as_deref(), Some("ETHBTC"));
        assert_eq!(concat_id(""), None);
        assert_eq!(concat_id("BTC USDT"), None);
        assert_eq!(concat_id("BTC&x=1"), None);
        assert_eq!(concat_id(&"A".repeat(33)), None);
    }
}
