//! Node ids: `ohlcv:{exchange}:{symbol}:{timeframe}`, the name of one candle series.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use super::{Timeframe, TimeframeError};

/// One candle series: exchange id, unified symbol (`BTC/USDT`, or `BTC/USDT:USDT` for a
/// linear contract) and timeframe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub exchange: String,
    pub symbol: String,
    pub timeframe: Timeframe,
}

/// Why a node id or one of its parts was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum NodeIdError {
    #[error(
        "malformed node id '{0}': expected ohlcv:EXCHANGE:SYMBOL:TIMEFRAME, e.g. ohlcv:binance:BTC/USDT:1m"
    )]
    Malformed(String),
    #[error("bad exchange id '{0}': use a lowercase id such as binance")]
    Exchange(String),
    #[error("bad symbol '{0}': use BASE/QUOTE in capitals, e.g. BTC/USDT")]
    Symbol(String),
    #[error(transparent)]
    Timeframe(#[from] TimeframeError),
}

impl NodeId {
    /// Build a node id from its parts, validating each.
    pub fn new(exchange: &str, symbol: &str, timeframe: &str) -> Result<Self, NodeIdError> {
        let exchange = exchange.trim();
        if exchange.is_empty()
            || !exchange
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(NodeIdError::Exchange(exchange.to_string()));
        }
        let symbol = symbol.trim();
        if !valid_symbol(symbol) {
            return Err(NodeIdError::Symbol(symbol.to_string()));
        }
        Ok(NodeId {
            exchange: exchange.to_string(),
            symbol: symbol.to_string(),
            timeframe: timeframe.trim().parse()?,
        })
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

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ohlcv:{}:{}:{}",
            self.exchange, self.symbol, self.timeframe
        )
    }
}

impl FromStr for NodeId {
    type Err = NodeIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || NodeIdError::Malformed(s.to_string());
        let rest = s.strip_prefix("ohlcv:").ok_or_else(malformed)?;
        let (exchange, rest) = rest.split_once(':').ok_or_else(malformed)?;
        let (symbol, timeframe) = rest.rsplit_once(':').ok_or_else(malformed)?;
        if symbol.is_empty() || timeframe.is_empty() {
            return Err(malformed());
        }
        NodeId::new(exchange, symbol, timeframe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        for s in ["ohlcv:binance:BTC/USDT:1m", "ohlcv:bybit:BTC/USDT:USDT:1h"] {
            assert_eq!(s.parse::<NodeId>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert!(matches!(
            "binance:BTC/USDT:1m".parse::<NodeId>(),
            Err(NodeIdError::Malformed(_))
        ));
        assert!(matches!(
            "ohlcv:binance:1m".parse::<NodeId>(),
            Err(NodeIdError::Malformed(_))
        ));
        assert_eq!(
            "ohlcv:Binance:BTC/USDT:1m".parse::<NodeId>(),
            Err(NodeIdError::Exchange("Binance".into()))
        );
        assert_eq!(
            "ohlcv:binance:btcusdt:1m".parse::<NodeId>(),
            Err(NodeIdError::Symbol("btcusdt".into()))
        );
        let e = "ohlcv:binance:BTC/USDT:7m".parse::<NodeId>().unwrap_err();
        assert!(e.to_string().contains("'7m'"), "{e}");
    }

    mod props {
        use proptest::prelude::*;

        use super::super::*;

        fn node_text() -> impl Strategy<Value = String> {
            (
                "[a-z0-9_-]{1,12}",
                "[A-Z0-9]{1,8}",
                "[A-Z0-9]{1,8}",
                proptest::option::of("[A-Z0-9]{1,6}"),
                proptest::sample::select(Timeframe::names()),
            )
                .prop_map(|(ex, base, quote, settle, tf)| match settle {
                    Some(s) => format!("ohlcv:{ex}:{base}/{quote}:{s}:{tf}"),
                    None => format!("ohlcv:{ex}:{base}/{quote}:{tf}"),
                })
        }

        proptest! {
            #[test]
            fn printed_ids_read_back(s in node_text()) {
                let n: NodeId = s.parse().unwrap();
                prop_assert_eq!(n.to_string(), s);
            }

            #[test]
            fn any_text_is_an_id_or_an_error(s in any::<String>()) {
                if let Ok(n) = s.parse::<NodeId>() {
                    prop_assert_eq!(n.to_string().parse::<NodeId>(), Ok(n));
                }
            }

            #[test]
            fn near_misses_are_errors_not_panics(s in "(ohlcv)?:?[a-zA-Z0-9/:_ -]{0,30}") {
                if let Ok(n) = s.parse::<NodeId>() {
                    prop_assert_eq!(n.to_string().parse::<NodeId>(), Ok(n));
                }
            }
        }
    }
}
