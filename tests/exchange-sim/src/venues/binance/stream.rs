//! Binance kline streams: stream names, the kline event payload and the per-stream schedule of
//! which candles a connection is sent.
//!
//! - Names: `<symbol>@kline_<interval>`, symbol lowercase (`btcusdt@kline_1m`, `ethusdt@kline_1M`
//!   for months). Other well-formed names (`btcusdt@trade`, unknown symbols, uppercase symbols,
//!   unknown intervals) are accepted like Binance does and simply never produce an event.
//! - Event: `{"e":"kline","E":<market now>,"s":"BTCUSDT","k":{"t":open,"T":open+tf-1,
//!   "s":"BTCUSDT","i":"1m","f":first_trade_id,"L":last_trade_id,"o":"..","c":"..","h":"..",
//!   "l":"..","v":"..","n":trades,"x":closed,"q":"..","V":"..","Q":"..","B":"0"}}`, numbers
//!   formatted exactly like the REST klines rows. Trade ids are synthetic: the candle's trades are
//!   numbered `open_time * 1000 ..` (so `L - f + 1 = n`; `-1`/`-1` without trades).
//!   Combined streams wrap it as `{"stream":"<name>","data":<event>}`.
//! - Schedule ([`Subscription::poll`]): each poll at market time `now` first sends, oldest first,
//!   every candle that closed since the last poll (`x: true`, the exact REST/`truth` values; at most
//!   [`MAX_CLOSED_PER_POLL`] per poll, the rest on the next polls), then the forming candle
//!   (`x: false`, the partial view of [`crate::market`]). A new subscription starts at the candle
//!   containing `now` (no history replay); candles that do not exist (before the listing, inside a
//!   gap) send nothing. If the market clock goes backwards the stream pauses until it is past the
//!   last candle sent again, so no candle is ever sent closed twice on one connection.

use crate::market::{Candle, Market, Markets};
use crate::timeframe::Timeframe;
use crate::venues::binance::{find, push_fixed, symbol_id};

/// Closed candles sent per stream and poll at most (a big clock jump is caught up over polls).
pub const MAX_CLOSED_PER_POLL: usize = 1000;
/// Longest accepted stream name.
pub const MAX_NAME_LEN: usize = 128;

/// Times are clamped to ±this many ms, as the markets do.
const TIME_LIMIT: i64 = 1 << 53;

/// Whether `name` is a syntactically valid stream name (`<symbol>@<type>`; printable ASCII, no
/// `/`, at most [`MAX_NAME_LEN`] bytes).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
        && name
            .split_once('@')
            .is_some_and(|(s, t)| !s.is_empty() && !t.is_empty())
}

/// The Binance symbol id (`BTCUSDT`) and timeframe of a kline stream name, if it is one.
pub fn parse_kline(name: &str) -> Option<(String, Timeframe)> {
    let (sym, kind) = name.split_once('@')?;
    let interval = kind.strip_prefix("kline_")?;
    let lower = !sym.is_empty()
        && sym
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !lower {
        return None;
    }
    Some((sym.to_ascii_uppercase(), Timeframe::parse(interval)?))
}

/// The kline event of candle `c` of `market` (`x` = `c.closed`), at event time `event_ms`.
pub fn kline_event(market: &Market, tf: Timeframe, c: &Candle, event_ms: i64) -> String {
    let id = symbol_id(market);
    let (pd, vd) = (market.price_decimals(), market.volume_decimals());
    let b = &c.bar;
    let mut it = itoa::Buffer::new();
    let mut buf = Vec::with_capacity(360);
    let int = |buf: &mut Vec<u8>, key: &str, v: i64| {
        buf.extend_from_slice(key.as_bytes());
        buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    };
    int(&mut buf, r#"{"e":"kline","E":"#, event_ms);
    buf.extend_from_slice(br#","s":""#);
    buf.extend_from_slice(id.as_bytes());
    int(&mut buf, r#"","k":{"t":"#, c.open_time);
    int(&mut buf, r#","T":"#, tf.next(c.open_time) - 1);
    buf.extend_from_slice(br#","s":""#);
    buf.extend_from_slice(id.as_bytes());
    buf.extend_from_slice(br#"","i":""#);
    buf.extend_from_slice(tf.name().as_bytes());
    let trades = i64::try_from(b.trades).unwrap_or(i64::MAX);
    let (first, last) = if trades > 0 {
        let f = c.open_time.saturating_mul(1000);
        (f, f.saturating_add(trades - 1))
    } else {
        (-1, -1)
    };
    int(&mut buf, r#"","f":"#, first);
    int(&mut buf, r#","L":"#, last);
    let mut fixed = |buf: &mut Vec<u8>, key: &str, units: u128, decimals: u32| {
        buf.extend_from_slice(key.as_bytes());
        push_fixed(buf, &mut it, units, decimals);
        buf.push(b'"');
    };
    let price = |p: i64| p.max(0) as u128;
    fixed(&mut buf, r#","o":""#, price(b.open), pd);
    fixed(&mut buf, r#","c":""#, price(b.close), pd);
    fixed(&mut buf, r#","h":""#, price(b.high), pd);
    fixed(&mut buf, r#","l":""#, price(b.low), pd);
    fixed(&mut buf, r#","v":""#, u128::from(b.volume), vd);
    int(&mut buf, r#","n":"#, trades);
    buf.extend_from_slice(if c.closed {
        br#","x":true"#
    } else {
        br#","x":false"#
    });
    fixed(&mut buf, r#","q":""#, b.quote_volume, pd + vd);
    fixed(&mut buf, r#","V":""#, u128::from(b.taker_base), vd);
    fixed(&mut buf, r#","Q":""#, b.taker_quote, pd + vd);
    buf.extend_from_slice(br#","B":"0"}}"#);
    // Only ASCII was written.
    String::from_utf8(buf).unwrap_or_default()
}

/// `{"stream":"<name>","data":<event>}` (`name` is a [`valid_name`], so needs no escaping).
pub fn wrap_combined(name: &str, event: &str) -> String {
    let mut s = String::with_capacity(event.len() + name.len() + 24);
    s.push_str(r#"{"stream":""#);
    s.push_str(name);
    s.push_str(r#"","data":"#);
    s.push_str(event);
    s.push('}');
    s
}

/// One stream of one connection and where its schedule stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    name: String,
    kline: Option<(String, Timeframe)>,
    /// Open time from which closed candles are still to be sent.
    next_open: i64,
}

impl Subscription {
    /// Subscribes to `name` at market time `now`: the first event is the candle containing `now`.
    pub fn new(name: &str, now: i64) -> Subscription {
        let kline = parse_kline(name);
        let next_open = kline
            .as_ref()
            .map_or(0, |(_, tf)| tf.floor(now.clamp(-TIME_LIMIT, TIME_LIMIT)));
        Subscription {
            name: name.to_string(),
            kline,
            next_open,
        }
    }

    /// The stream name as subscribed.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends the events due at market time `now` to `out`: every candle closed since the last
    /// poll (oldest first), then the forming candle; each wrapped if `combined`.
    pub fn poll(&mut self, markets: &Markets, now: i64, combined: bool, out: &mut Vec<String>) {
        let Some((id, tf)) = &self.kline else { return };
        let tf = *tf;
        let Some(market) = find(markets, id) else {
            return;
        };
        let now = now.clamp(-TIME_LIMIT, TIME_LIMIT);
        let candles = market.candles_from(tf, self.next_open, now, now, MAX_CLOSED_PER_POLL + 1);
        if candles.is_empty() {
            // Nothing exists in [next_open, now]: later candles start at the one containing now.
            self.next_open = self.next_open.max(tf.floor(now));
            return;
        }
        let mut closed = 0;
        for c in &candles {
            if c.closed {
                if closed == MAX_CLOSED_PER_POLL {
                    break;
                }
                closed += 1;
                self.next_open = tf.next(c.open_time);
            }
            let event = kline_event(market, tf, c, now);
            out.push(if combined {
                wrap_combined(&self.name, &event)
            } else {
                event
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::MarketSpec;
    use crate::timeframe::{MINUTE_MS, SECOND_MS};
    use crate::venues::binance::klines_body;
    use serde_json::Value;

    const NOW: i64 = 1_718_000_000_000; // 2024-06-10T06:13:20Z

    fn markets() -> Markets {
        Markets::new(42, &MarketSpec::defaults())
    }

    fn events(sub: &mut Subscription, ms: &Markets, now: i64) -> Vec<Value> {
        let mut out = Vec::new();
        sub.poll(ms, now, false, &mut out);
        out.iter()
            .map(|s| serde_json::from_str(s).unwrap())
            .collect()
    }

    #[test]
    fn names() {
        assert_eq!(
            parse_kline("btcusdt@kline_1m"),
            Some(("BTCUSDT".into(), Timeframe::M1))
        );
        assert_eq!(
            parse_kline("ethusdt@kline_1M"),
            Some(("ETHUSDT".into(), Timeframe::Mo1))
        );
        assert_eq!(
            parse_kline("bnbusdt@kline_1s"),
            Some(("BNBUSDT".into(), Timeframe::S1))
        );
        for bad in [
            "BTCUSDT@kline_1m",
            "btcusdt@kline_2m",
            "btcusdt@trade",
            "btcusdt",
            "@kline_1m",
            "btc-usdt@kline_1m",
        ] {
            assert_eq!(parse_kline(bad), None, "{bad}");
        }
        assert!(valid_name("btcusdt@kline_1m"));
        assert!(valid_name("btcusdt@trade"));
        for bad in ["", "btcusdt", "a@", "@b", "a b@c", "a/b@c", "é@kline_1m"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(!valid_name(&format!("{}@kline_1m", "a".repeat(200))));
    }

    #[test]
    fn event_matches_rest_row() {
        let ms = markets();
        let m = find(&ms, "BTCUSDT").unwrap();
        let open = NOW - NOW % MINUTE_MS - 5 * MINUTE_MS;
        let c = m.candles_from(Timeframe::M1, open, open, NOW, 1)[0];
        let ev: Value = serde_json::from_str(&kline_event(m, Timeframe::M1, &c, NOW)).unwrap();
        let row: Vec<Vec<Value>> = serde_json::from_slice(
            &klines_body(
                &ms,
                &format!("symbol=BTCUSDT&interval=1m&startTime={open}&limit=1"),
                NOW,
            )
            .unwrap(),
        )
        .unwrap();
        let r = &row[0];
        let k = &ev["k"];
        assert_eq!(ev["e"], "kline");
        assert_eq!(ev["E"], NOW);
        assert_eq!(ev["s"], "BTCUSDT");
        assert_eq!(k["t"], r[0]);
        assert_eq!(k["T"], r[6]);
        assert_eq!(k["s"], "BTCUSDT");
        assert_eq!(k["i"], "1m");
        for (key, i) in [
            ("o", 1),
            ("h", 2),
            ("l", 3),
            ("c", 4),
            ("v", 5),
            ("q", 7),
            ("n", 8),
            ("V", 9),
            ("Q", 10),
        ] {
            assert_eq!(k[key], r[i], "{key}");
        }
        assert_eq!(k["x"], true);
        assert_eq!(k["B"], "0");
        let n = k["n"].as_i64().unwrap();
        assert_eq!(k["L"].as_i64().unwrap() - k["f"].as_i64().unwrap() + 1, n);
        let keys: Vec<&str> = k.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 17);
        let wrapped: Value =
            serde_json::from_str(&wrap_combined("btcusdt@kline_1m", &ev.to_string())).unwrap();
        assert_eq!(wrapped["stream"], "btcusdt@kline_1m");
        assert_eq!(wrapped["data"], ev);
    }

    #[test]
    fn schedule_sends_every_closed_candle_once_then_forming() {
        let ms = markets();
        let m = ms.get("BTC/USDT").unwrap();
        let t0 = NOW + 12_345;
        let mut sub = Subscription::new("btcusdt@kline_1m", t0);
        // First poll: only the forming candle of the current minute.
        let e = events(&mut sub, &ms, t0);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0]["k"]["x"], false);
        assert_eq!(e[0]["k"]["t"], NOW - NOW % MINUTE_MS);
        // Same minute later: forming again.
        assert_eq!(events(&mut sub, &ms, t0 + 1000)[0]["k"]["x"], false);
        // Jump 3.5 minutes: 4 closed (the first one included), in order, then forming.
        let t1 = t0 + 210_000;
        let e = events(&mut sub, &ms, t1);
        let truth = m.closed_candles(Timeframe::M1, NOW - NOW % MINUTE_MS, t1, t1);
        assert_eq!(truth.len(), 4);
        assert_eq!(e.len(), 5);
        for (ev, c) in e.iter().zip(&truth) {
            assert_eq!(ev["k"]["x"], true);
            assert_eq!(ev["k"]["t"], c.open_time);
            let s = m.to_sim(c);
            let f = |k: &str| ev["k"][k].as_str().unwrap().parse::<f64>().unwrap();
            assert_eq!(
                [f("o"), f("h"), f("l"), f("c"), f("v")],
                [s.open, s.high, s.low, s.close, s.volume]
            );
        }
        assert_eq!(e[4]["k"]["x"], false);
        // Nothing is sent twice.
        let e = events(&mut sub, &ms, t1 + 1);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0]["k"]["x"], false);
        // Backwards clock: paused, no duplicate closed candles.
        assert!(events(&mut sub, &ms, t0).is_empty());
        // Combined wrapping.
        let mut out = Vec::new();
        sub.poll(&ms, t1 + 2, true, &mut out);
        let v: Value = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(v["stream"], "btcusdt@kline_1m");
        assert_eq!(v["data"]["k"]["x"], false);
    }

    #[test]
    fn big_jumps_are_caught_up_over_polls() {
        let ms = markets();
        let mut sub = Subscription::new("ethusdt@kline_1s", NOW);
        let later = NOW + 2500 * SECOND_MS + 1;
        let a = events(&mut sub, &ms, later);
        assert_eq!(a.len(), MAX_CLOSED_PER_POLL);
        let b = events(&mut sub, &ms, later);
        assert_eq!(b.len(), MAX_CLOSED_PER_POLL);
        let c = events(&mut sub, &ms, later);
        assert_eq!(c.len(), 501); // 500 closed + the forming second
        let opens: Vec<i64> = a
            .iter()
            .chain(&b)
            .chain(&c[..500])
            .map(|e| e["k"]["t"].as_i64().unwrap())
            .collect();
        assert!(opens.windows(2).all(|w| w[1] == w[0] + SECOND_MS));
        assert_eq!(opens[0], NOW);
        assert_eq!(c[500]["k"]["x"], false);
    }

    #[test]
    fn gaps_and_listing_send_nothing() {
        let base = NOW - NOW % MINUTE_MS;
        let gap = (base + 2 * MINUTE_MS, base + 5 * MINUTE_MS);
        let ms = Markets::new(
            42,
            &[
                MarketSpec::new("BTC/USDT", 1_502_942_400_000, 4261.48).with_gap(gap.0, gap.1),
                MarketSpec::new("NEW/USDT", base + 2 * MINUTE_MS, 10.0),
            ],
        );
        let mut sub = Subscription::new("btcusdt@kline_1m", base + 1);
        let mut new = Subscription::new("newusdt@kline_1m", base + 1);
        assert_eq!(events(&mut sub, &ms, base + 1).len(), 1);
        assert!(events(&mut new, &ms, base + 1).is_empty());
        // Inside the gap: the two minutes before it close, nothing forms.
        let e = events(&mut sub, &ms, gap.0 + 30_000);
        assert_eq!(e.len(), 2);
        assert!(e.iter().all(|e| e["k"]["x"] == true));
        assert_eq!(e[1]["k"]["t"], gap.0 - MINUTE_MS);
        assert!(events(&mut sub, &ms, gap.0 + 90_000).is_empty());
        // After the gap: the first minute after it, nothing for the gap's minutes.
        let e = events(&mut sub, &ms, gap.1 + MINUTE_MS + 5);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0]["k"]["t"], gap.1);
        assert_eq!(e[0]["k"]["x"], true);
        assert_eq!(e[1]["k"]["x"], false);
        // The listing: nothing before, its first minute after.
        let e = events(&mut new, &ms, base + 3 * MINUTE_MS + 5);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0]["k"]["t"], base + 2 * MINUTE_MS);
        assert_eq!(e[0]["k"]["x"], true);
        // Unknown symbols, other stream types: silent.
        let mut other = Subscription::new("xrpusdt@kline_1m", NOW);
        assert!(events(&mut other, &ms, NOW + 5 * MINUTE_MS).is_empty());
        let mut trade = Subscription::new("btcusdt@trade", NOW);
        assert!(events(&mut trade, &ms, NOW + 5 * MINUTE_MS).is_empty());
        assert_eq!(trade.name(), "btcusdt@trade");
    }

    #[test]
    fn every_timeframe_streams() {
        let ms = markets();
        for tf in Timeframe::ALL {
            let name = format!("bnbusdt@kline_{}", tf.name());
            let mut sub = Subscription::new(&name, NOW + 1);
            let e = events(&mut sub, &ms, NOW + 1);
            assert_eq!(e.len(), 1, "{tf}");
            assert_eq!(e[0]["k"]["i"], tf.name());
            assert_eq!(e[0]["k"]["t"], tf.floor(NOW + 1));
            let end = tf.next(tf.floor(NOW + 1));
            let e = events(&mut sub, &ms, end);
            assert_eq!(e.len(), 1, "{tf}");
            assert_eq!(e[0]["k"]["x"], true, "{tf}");
            assert_eq!(e[0]["k"]["T"], end - 1);
        }
    }
}
