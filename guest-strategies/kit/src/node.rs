//! Node ids, `ohlcv:{exchange}:{symbol}:{timeframe}`: a shape check mirroring the
//! host's parser (exchange up to the first `:`, timeframe after the last, so a
//! contract symbol such as `BTC/USDT:USDT` is kept whole), and timeframe lengths.

use core::fmt;

/// A shape-checked node id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeId {
    pub exchange: String,
    pub symbol: String,
    pub timeframe: String,
}

impl NodeId {
    /// Check the shape of `s`; the error names the bad part and the fix.
    pub fn parse(s: &str) -> Result<NodeId, String> {
        let s = s.trim();
        let malformed = || {
            format!(
                "malformed node id `{s}`: expected ohlcv:EXCHANGE:SYMBOL:TIMEFRAME, e.g. ohlcv:binance:BTC/USDT:1m"
            )
        };
        let rest = s.strip_prefix("ohlcv:").ok_or_else(malformed)?;
        let (exchange, rest) = rest.split_once(':').ok_or_else(malformed)?;
        let (symbol, timeframe) = rest.rsplit_once(':').ok_or_else(malformed)?;
        if exchange.is_empty()
            || !exchange
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(format!(
                "bad exchange id `{exchange}` in node id `{s}`: use a lowercase id such as binance"
            ));
        }
        if !valid_symbol(symbol) {
            return Err(format!(
                "bad symbol `{symbol}` in node id `{s}`: use BASE/QUOTE in capitals, e.g. BTC/USDT"
            ));
        }
        if !valid_timeframe(timeframe) {
            return Err(format!(
                "bad timeframe `{timeframe}` in node id `{s}`: use a number and a unit (s, m, h, d, w, M), e.g. 1m"
            ));
        }
        Ok(NodeId {
            exchange: exchange.to_owned(),
            symbol: symbol.to_owned(),
            timeframe: timeframe.to_owned(),
        })
    }

    /// The timeframe length in ms (`None` for calendar months).
    pub fn timeframe_ms(&self) -> Option<i64> {
        timeframe_ms(&self.timeframe)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ohlcv:{}:{}:{}",
            self.exchange, self.symbol, self.timeframe
        )
    }
}

fn valid_symbol(s: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    let (pair, settle) = match s.split_once(':') {
        Some((pair, settle)) => (pair, Some(settle)),
        None => (s, None),
    };
    let pair_ok = matches!(pair.split_once('/'), Some((b, q)) if part(b) && part(q));
    pair_ok && settle.is_none_or(part)
}

fn split_timeframe(tf: &str) -> Option<(i64, char)> {
    let unit = tf.chars().last()?;
    let n = &tf[..tf.len() - unit.len_utf8()];
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = n.parse().ok()?;
    (n > 0 && matches!(unit, 's' | 'm' | 'h' | 'd' | 'w' | 'M')).then_some((n, unit))
}

fn valid_timeframe(tf: &str) -> bool {
    split_timeframe(tf).is_some()
}

/// Length of a timeframe such as `1s`, `15m`, `4h`, `1d`, `1w` in milliseconds;
/// `None` for calendar months (`1M`), malformed timeframes and overflow.
pub fn timeframe_ms(tf: &str) -> Option<i64> {
    let (n, unit) = split_timeframe(tf)?;
    let ms = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        'w' => 604_800_000,
        _ => return None,
    };
    n.checked_mul(ms)
}

#[cfg(test)]
mod tests {
    //! Unit tests: Node-id shapes and timeframe lengths.

    use super::*;

    #[test]
    fn parses_spot_and_contract_ids() {
        let n = NodeId::parse("ohlcv:binance:BTC/USDT:1m").unwrap();
        assert_eq!(
            (n.exchange.as_str(), n.symbol.as_str(), n.timeframe.as_str()),
            ("binance", "BTC/USDT", "1m")
        );
        let n = NodeId::parse("ohlcv:bybit:BTC/USDT:USDT:4h").unwrap();
        assert_eq!(n.symbol, "BTC/USDT:USDT");
        assert_eq!(n.to_string(), "ohlcv:bybit:BTC/USDT:USDT:4h");
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert!(
            NodeId::parse("binance:BTC/USDT:1m")
                .unwrap_err()
                .starts_with("malformed node id")
        );
        assert!(
            NodeId::parse("ohlcv:binance:1m")
                .unwrap_err()
                .starts_with("malformed node id")
        );
        assert!(
            NodeId::parse("ohlcv:Binance:BTC/USDT:1m")
                .unwrap_err()
                .starts_with("bad exchange id `Binance`")
        );
        assert!(
            NodeId::parse("ohlcv:binance:btcusdt:1m")
                .unwrap_err()
                .starts_with("bad symbol `btcusdt`")
        );
        assert!(
            NodeId::parse("ohlcv:binance:BTC/USDT:1x")
                .unwrap_err()
                .starts_with("bad timeframe `1x`")
        );
        assert!(
            NodeId::parse("ohlcv:binance:BTC/USDT:0m")
                .unwrap_err()
                .starts_with("bad timeframe `0m`")
        );
        assert!(
            NodeId::parse("ohlcv:binance:BTC/USDT:m")
                .unwrap_err()
                .starts_with("bad timeframe `m`")
        );
    }

    #[test]
    fn timeframe_lengths() {
        assert_eq!(timeframe_ms("1s"), Some(1_000));
        assert_eq!(timeframe_ms("15m"), Some(900_000));
        assert_eq!(timeframe_ms("4h"), Some(14_400_000));
        assert_eq!(timeframe_ms("3d"), Some(259_200_000));
        assert_eq!(timeframe_ms("1w"), Some(604_800_000));
        assert_eq!(timeframe_ms("1M"), None);
        assert_eq!(timeframe_ms("1y"), None);
        assert_eq!(timeframe_ms("99999999999999999w"), None);
    }
}
