//! Strategy configuration: `key=value` pairs as given to `strategy.init`.
//!
//! [`Config::new`] refuses unknown and repeated keys up front (the error lists the
//! valid keys); the typed getters return the default for an absent key and an error
//! naming the key, what it expects and an example for a bad value. Keys and values
//! are trimmed.

use crate::node::NodeId;

/// Validated configuration pairs.
#[derive(Clone, Copy, Debug)]
pub struct Config<'a> {
    pairs: &'a [(String, String)],
}

impl<'a> Config<'a> {
    /// Check that every key is one of `valid` and appears once.
    pub fn new(pairs: &'a [(String, String)], valid: &[&str]) -> Result<Self, String> {
        for (i, (k, _)) in pairs.iter().enumerate() {
            let k = k.trim();
            if !valid.contains(&k) {
                let hint = if valid.is_empty() {
                    "this strategy takes no configuration".to_owned()
                } else {
                    format!("valid keys are: {}", valid.join(", "))
                };
                return Err(format!("unknown config key `{k}`; {hint}"));
            }
            if pairs[..i].iter().any(|(p, _)| p.trim() == k) {
                return Err(format!("config key `{k}` is given twice; give it once"));
            }
        }
        Ok(Config { pairs })
    }

    /// The trimmed value of `key`, if given.
    pub fn raw(&self, key: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim())
    }

    /// A free-text value (the default if absent).
    pub fn string(&self, key: &str, default: &str) -> String {
        self.raw(key).unwrap_or(default).to_owned()
    }

    /// A node id `ohlcv:{exchange}:{symbol}:{timeframe}`, shape-checked.
    pub fn node(&self, key: &str, default: &str) -> Result<NodeId, String> {
        let v = self.raw(key).unwrap_or(default);
        NodeId::parse(v).map_err(|e| format!("config key `{key}`: {e}"))
    }

    /// A comma-separated list of node ids (none when the key is absent), each
    /// shape-checked; an empty list or a repeated node is an error.
    pub fn nodes(&self, key: &str) -> Result<Vec<NodeId>, String> {
        let Some(v) = self.raw(key) else {
            return Ok(Vec::new());
        };
        let mut out: Vec<NodeId> = Vec::new();
        for part in v.split(',') {
            let n = NodeId::parse(part.trim()).map_err(|e| format!("config key `{key}`: {e}"))?;
            if out.iter().any(|o| o.to_string() == n.to_string()) {
                return Err(format!(
                    "config key `{key}` names {n} twice; list each node once"
                ));
            }
            out.push(n);
        }
        Ok(out)
    }

    /// A whole number in `min..=max`.
    pub fn u32_in(&self, key: &str, default: u32, min: u32, max: u32) -> Result<u32, String> {
        let Some(v) = self.raw(key) else {
            return Ok(default);
        };
        match v.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(format!(
                "config key `{key}` expects a whole number from {min} to {max}, got `{v}`; e.g. {key}={default}"
            )),
        }
    }

    /// A whole number (`i64`), e.g. a time in milliseconds.
    pub fn i64(&self, key: &str, default: i64) -> Result<i64, String> {
        let Some(v) = self.raw(key) else {
            return Ok(default);
        };
        v.parse::<i64>().map_err(|_| {
            format!("config key `{key}` expects a whole number, got `{v}`; e.g. {key}={default}")
        })
    }

    /// A finite number.
    pub fn f64(&self, key: &str, default: f64) -> Result<f64, String> {
        let Some(v) = self.raw(key) else {
            return Ok(default);
        };
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            _ => Err(format!(
                "config key `{key}` expects a finite number, got `{v}`; e.g. {key}={default}"
            )),
        }
    }

    /// One of `options` (exact match).
    pub fn choice(
        &self,
        key: &str,
        options: &[&'static str],
        default: &'static str,
    ) -> Result<&'static str, String> {
        let Some(v) = self.raw(key) else {
            return Ok(default);
        };
        options.iter().copied().find(|o| *o == v).ok_or_else(|| {
            format!(
                "config key `{key}` expects one of {}, got `{v}`; e.g. {key}={default}",
                options.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    //! Unit tests: Config parsing and its error messages.

    use super::*;

    fn pairs(kv: &[(&str, &str)]) -> Vec<(String, String)> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn unknown_key_lists_valid_keys() {
        let p = pairs(&[("fsat", "3")]);
        let e = Config::new(&p, &["node", "fast", "slow"]).unwrap_err();
        assert_eq!(
            e,
            "unknown config key `fsat`; valid keys are: node, fast, slow"
        );
    }

    #[test]
    fn repeated_key_is_refused() {
        let p = pairs(&[("fast", "3"), (" fast", "4")]);
        let e = Config::new(&p, &["fast"]).unwrap_err();
        assert!(e.contains("`fast` is given twice"), "{e}");
    }

    #[test]
    fn defaults_and_trimmed_values() {
        let p = pairs(&[(" fast ", " 12 "), ("entry", "1.5")]);
        let c = Config::new(&p, &["fast", "slow", "entry", "exit"]).unwrap();
        assert_eq!(c.u32_in("fast", 10, 1, 100), Ok(12));
        assert_eq!(c.u32_in("slow", 30, 1, 100), Ok(30));
        assert_eq!(c.f64("entry", 2.0), Ok(1.5));
        assert_eq!(c.f64("exit", 0.5), Ok(0.5));
    }

    #[test]
    fn bad_numbers_name_key_and_expectation() {
        let p = pairs(&[
            ("fast", "ten"),
            ("slow", "0"),
            ("entry", "NaN"),
            ("at", "1.5"),
        ]);
        let c = Config::new(&p, &["fast", "slow", "entry", "at"]).unwrap();
        assert_eq!(
            c.u32_in("fast", 10, 1, 100).unwrap_err(),
            "config key `fast` expects a whole number from 1 to 100, got `ten`; e.g. fast=10"
        );
        assert!(c.u32_in("slow", 30, 1, 100).unwrap_err().contains("`slow`"));
        assert!(
            c.f64("entry", 2.0)
                .unwrap_err()
                .contains("finite number, got `NaN`")
        );
        assert!(
            c.i64("at", 0)
                .unwrap_err()
                .contains("`at` expects a whole number")
        );
    }

    #[test]
    fn choice_lists_options() {
        let p = pairs(&[("channel", "bufer")]);
        let c = Config::new(&p, &["channel"]).unwrap();
        let e = c
            .choice("channel", &["buffer", "history"], "buffer")
            .unwrap_err();
        assert_eq!(
            e,
            "config key `channel` expects one of buffer, history, got `bufer`; e.g. channel=buffer"
        );
        let p = pairs(&[("channel", "history")]);
        let c = Config::new(&p, &["channel"]).unwrap();
        assert_eq!(
            c.choice("channel", &["buffer", "history"], "buffer"),
            Ok("history")
        );
    }

    #[test]
    fn node_is_shape_checked() {
        let p = pairs(&[("node", "binance:BTC/USDT:1m")]);
        let c = Config::new(&p, &["node"]).unwrap();
        let e = c.node("node", crate::DEFAULT_NODE).unwrap_err();
        assert!(e.starts_with("config key `node`: "), "{e}");
        assert!(e.contains("ohlcv:EXCHANGE:SYMBOL:TIMEFRAME"), "{e}");
        let c = Config::new(&[], &["node"]).unwrap();
        assert_eq!(
            c.node("node", crate::DEFAULT_NODE).unwrap().to_string(),
            crate::DEFAULT_NODE
        );
    }
}
