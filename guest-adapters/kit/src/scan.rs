//! A fast, allocation-free JSON scanner for hot paths.
//!
//! It reads exactly the values a caller asks for and skips the rest with full
//! syntax checking of what it skips, so a 1000-row kline page parses without
//! building a DOM. Every error carries the byte offset and what was expected; a
//! truncated body ends in "unexpected end of input".

use core::fmt;

/// Deepest nesting [`Scanner::skip_value`] accepts (bounds recursion).
pub const MAX_DEPTH: u32 = 128;

/// Where scanning failed and what was expected there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanError {
    /// Byte offset of the failure.
    pub pos: usize,
    /// What was expected at `pos`.
    pub expected: &'static str,
    /// Whether the input ended before `pos` could be read.
    pub eof: bool,
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.eof {
            write!(
                f,
                "unexpected end of input at byte {} (expected {})",
                self.pos, self.expected
            )
        } else {
            write!(f, "expected {} at byte {}", self.expected, self.pos)
        }
    }
}

impl std::error::Error for ScanError {}

/// A cursor over a JSON document.
#[derive(Clone, Debug)]
pub struct Scanner<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Current byte offset.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// An error at the current position.
    pub fn error(&self, expected: &'static str) -> ScanError {
        ScanError {
            pos: self.pos,
            expected,
            eof: self.pos >= self.buf.len(),
        }
    }

    #[inline]
    fn skip_ws(&mut self) {
        // Checked once before looping: compact JSON has no whitespace, and a loop
        // entered for nothing costs an epoch check per call inside a sandbox.
        if !matches!(self.buf.get(self.pos), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            return;
        }
        while let Some(&b) = self.buf.get(self.pos) {
            if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// The next non-whitespace byte, without consuming it.
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.buf.get(self.pos).copied()
    }

    /// Whether only whitespace remains.
    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// Consume `b` (after whitespace) if it is next.
    #[inline]
    pub fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consume `b` or fail with `expected`.
    #[inline]
    pub fn expect(&mut self, b: u8, expected: &'static str) -> Result<(), ScanError> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    /// Consume the `[` opening an array.
    pub fn begin_array(&mut self) -> Result<(), ScanError> {
        self.expect(b'[', "'['")
    }

    /// Inside an array: `true` if another element follows (its separator
    /// consumed), `false` once the closing `]` is consumed. Start with
    /// `first = true`.
    #[inline]
    pub fn next_element(&mut self, first: &mut bool) -> Result<bool, ScanError> {
        if self.eat(b']') {
            return Ok(false);
        }
        if *first {
            *first = false;
            Ok(true)
        } else {
            self.expect(b',', "',' or ']'")?;
            Ok(true)
        }
    }

    /// Consume the `{` opening an object.
    pub fn begin_object(&mut self) -> Result<(), ScanError> {
        self.expect(b'{', "'{'")
    }

    /// Inside an object: the next key (raw, escapes not decoded) with its `:`
    /// consumed, or `None` once the closing `}` is consumed.
    pub fn next_key(&mut self, first: &mut bool) -> Result<Option<&'a [u8]>, ScanError> {
        if self.eat(b'}') {
            return Ok(None);
        }
        if *first {
            *first = false;
        } else {
            self.expect(b',', "',' or '}'")?;
        }
        let key = self.string_raw()?;
        self.expect(b':', "':'")?;
        Ok(Some(key))
    }

    /// A string's raw contents (between the quotes, escapes not decoded).
    #[inline]
    pub fn string_raw(&mut self) -> Result<&'a [u8], ScanError> {
        self.expect(b'"', "a string")?;
        let start = self.pos;
        loop {
            match find_special(self.buf, self.pos) {
                Some(i) => match self.buf.get(i) {
                    Some(b'"') => {
                        let s = self.buf.get(start..i).unwrap_or_default();
                        self.pos = i + 1;
                        return Ok(s);
                    }
                    Some(b'\\') => self.pos = i + 2,
                    _ => {
                        self.pos = i;
                        return Err(self.error("a string without control characters"));
                    }
                },
                None => {
                    self.pos = self.buf.len();
                    return Err(self.error("'\"' closing a string"));
                }
            }
        }
    }

    /// A JSON number token's text (validated by whoever converts it).
    pub fn number_raw(&mut self) -> Result<&'a [u8], ScanError> {
        self.skip_ws();
        let start = self.pos;
        while let Some(&b) = self.buf.get(self.pos) {
            if b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E') {
                self.pos += 1;
            } else {
                break;
            }
        }
        if self.pos == start {
            Err(self.error("a number"))
        } else {
            Ok(&self.buf[start..self.pos])
        }
    }

    /// The raw bytes of a number, or of a string holding one, and where it began.
    #[inline]
    fn numeric_bytes(&mut self) -> Result<(usize, &'a [u8]), ScanError> {
        self.skip_ws();
        let at = self.pos;
        let raw = if self.buf.get(self.pos) == Some(&b'"') {
            self.string_raw()?
        } else {
            self.number_raw()?
        };
        Ok((at, raw))
    }

    /// A number, or a string holding one (`1.5`, `"42000.10"`), as `f64`.
    /// Non-finite spellings inside strings (`"NaN"`) are returned as such.
    #[inline]
    pub fn f64_lenient(&mut self) -> Result<f64, ScanError> {
        self.skip_ws();
        if let Some(v) = self.plain_decimal() {
            return Ok(v);
        }
        let (at, raw) = self.numeric_bytes()?;
        crate::num::bytes_f64(raw).ok_or(ScanError {
            pos: at,
            expected: "a number or a numeric string",
            eof: false,
        })
    }

    /// Single-pass fast path for a plain decimal, quoted or not; `None` (with
    /// nothing consumed) when the value needs the general path.
    #[inline]
    fn plain_decimal(&mut self) -> Option<f64> {
        let quoted = self.buf.get(self.pos) == Some(&b'"');
        let start = self.pos + usize::from(quoted);
        let (v, len) = crate::num::decimal_prefix(self.buf.get(start..)?)?;
        let end = start + len;
        let next = self.buf.get(end).copied();
        if quoted {
            (next == Some(b'"')).then(|| self.pos = end + 1)?;
        } else {
            // The number must end here (not continue with an exponent).
            let continues = next.is_some_and(|b| matches!(b, b'e' | b'E' | b'+' | b'-' | b'.'));
            (!continues).then(|| self.pos = end)?;
        }
        Some(v)
    }

    /// An integer, or a string holding one, as `i64` (integral decimals accepted).
    #[inline]
    pub fn i64_lenient(&mut self) -> Result<i64, ScanError> {
        self.skip_ws();
        let quoted = self.buf.get(self.pos) == Some(&b'"');
        let start = self.pos + usize::from(quoted);
        if let Some((v, len)) = self.buf.get(start..).and_then(crate::num::integer_prefix) {
            let end = start + len;
            let next = self.buf.get(end).copied();
            let done = if quoted {
                next == Some(b'"')
            } else {
                !next.is_some_and(|b| b.is_ascii_digit() || b".eE+-".contains(&b))
            };
            if done {
                self.pos = end + usize::from(quoted);
                return Ok(v);
            }
        }
        let (at, raw) = self.numeric_bytes()?;
        crate::num::bytes_i64(raw).ok_or(ScanError {
            pos: at,
            expected: "an integer or an integer string",
            eof: false,
        })
    }

    /// Skip one value of any type, checking its syntax.
    #[inline]
    pub fn skip_value(&mut self) -> Result<(), ScanError> {
        match self.peek() {
            Some(b'"') => self.string_raw().map(drop),
            Some(b'-' | b'0'..=b'9') => self.skip_number(),
            _ => self.skip_nested(0),
        }
    }

    #[inline]
    fn skip_number(&mut self) -> Result<(), ScanError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        match json_number_len(rest) {
            // A number followed directly by more number characters ("01",
            // "1.2.3") is not one JSON number.
            Some(n)
                if !rest
                    .get(n)
                    .is_some_and(|b| b.is_ascii_digit() || b".eE+-".contains(b)) =>
            {
                self.pos += n;
                Ok(())
            }
            _ => Err(self.error("a JSON value")),
        }
    }

    fn skip_nested(&mut self, depth: u32) -> Result<(), ScanError> {
        if depth >= MAX_DEPTH {
            return Err(self.error("less deeply nested JSON"));
        }
        match self.peek() {
            Some(b'"') => self.string_raw().map(drop),
            Some(b'[') => {
                self.pos += 1;
                let mut first = true;
                while self.next_element(&mut first)? {
                    self.skip_nested(depth + 1)?;
                }
                Ok(())
            }
            Some(b'{') => {
                self.pos += 1;
                let mut first = true;
                while self.next_key(&mut first)?.is_some() {
                    self.skip_nested(depth + 1)?;
                }
                Ok(())
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => self.skip_number(),
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), ScanError> {
        if self.buf[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error("a JSON value"))
        }
    }
}

/// Index of the first `"`, `\\` or control byte at or after `from`. SWAR:
/// eight bytes per step; the lowest flagged byte of a word is exact, because a
/// borrow only propagates upwards from a byte that is itself flagged.
#[inline]
fn find_special(bytes: &[u8], from: usize) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
    let mut i = from;
    while let Some(word) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let w = u64::from_le_bytes(*word);
        let special = zero(w ^ (LO * u64::from(b'"')))
            | zero(w ^ (LO * u64::from(b'\\')))
            | (w.wrapping_sub(LO * 0x20) & !w & HI);
        if special != 0 {
            return Some(i + (special.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let tail = bytes.get(i..)?;
    tail.iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|p| i + p)
}

/// Length of the JSON number (grammar below) at the start of `t`, if any.
#[inline]
pub fn json_number_len(t: &[u8]) -> Option<usize> {
    let digits = |i: &mut usize| {
        let start = *i;
        crate::num::skip_digits(t, i);
        *i - start
    };
    let mut i = usize::from(t.first() == Some(&b'-'));
    match t.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return None,
    }
    if t.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if matches!(t.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(t.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    Some(i)
}

/// Whether `t` matches JSON's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
pub fn is_json_number(t: &[u8]) -> bool {
    json_number_len(t) == Some(t.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_of_mixed_numbers() {
        let mut s = Scanner::new(br#" [ 1704067200000, "42000.10", 1.5 , "7" ] "#);
        s.begin_array().unwrap();
        let mut first = true;
        assert!(s.next_element(&mut first).unwrap());
        assert_eq!(s.i64_lenient().unwrap(), 1_704_067_200_000);
        assert!(s.next_element(&mut first).unwrap());
        assert_eq!(s.f64_lenient().unwrap(), 42000.1);
        assert!(s.next_element(&mut first).unwrap());
        assert_eq!(s.f64_lenient().unwrap(), 1.5);
        assert!(s.next_element(&mut first).unwrap());
        assert_eq!(s.i64_lenient().unwrap(), 7);
        assert!(!s.next_element(&mut first).unwrap());
        assert!(s.at_end());
    }

    #[test]
    fn empty_array_and_trailing_comma() {
        let mut s = Scanner::new(b"[]");
        s.begin_array().unwrap();
        assert!(!s.next_element(&mut true).unwrap());

        let mut s = Scanner::new(b"[1,]");
        s.begin_array().unwrap();
        let mut first = true;
        assert!(s.next_element(&mut first).unwrap());
        s.skip_value().unwrap();
        assert!(s.next_element(&mut first).unwrap());
        assert!(s.skip_value().is_err());
    }

    #[test]
    fn skips_any_value() {
        let doc = br#"[{"a":[1,{"b":"x\"y"}],"c":null}, true, false, -1.5e3, "s"]"#;
        let mut s = Scanner::new(doc);
        s.skip_value().unwrap();
        assert!(s.at_end());
        for bad in [
            &b"[1 2]"[..],
            b"{\"a\" 1}",
            b"[tru]",
            b"[-]",
            b"{1:2}",
            b"[\"a",
        ] {
            assert!(Scanner::new(bad).skip_value().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn objects() {
        let mut s = Scanner::new(br#"{"k": {"t": 5}, "x": "1"}"#);
        s.begin_object().unwrap();
        let mut first = true;
        assert_eq!(s.next_key(&mut first).unwrap(), Some(&b"k"[..]));
        s.skip_value().unwrap();
        assert_eq!(s.next_key(&mut first).unwrap(), Some(&b"x"[..]));
        assert_eq!(s.f64_lenient().unwrap(), 1.0);
        assert_eq!(s.next_key(&mut first).unwrap(), None);
    }

    #[test]
    fn truncation_is_reported_as_eof() {
        let mut s = Scanner::new(br#"[1704067200000, "4200"#);
        s.begin_array().unwrap();
        let mut first = true;
        s.next_element(&mut first).unwrap();
        s.i64_lenient().unwrap();
        s.next_element(&mut first).unwrap();
        let e = s.f64_lenient().unwrap_err();
        assert!(e.eof);
        assert!(e.to_string().starts_with("unexpected end of input"));
    }

    #[test]
    fn bad_numbers() {
        assert!(Scanner::new(br#""abc""#).f64_lenient().is_err());
        assert!(Scanner::new(b"1.5").i64_lenient().is_err());
        assert!(Scanner::new(b"null").f64_lenient().is_err());
        assert!(Scanner::new(b"").f64_lenient().unwrap_err().eof);
        assert!(Scanner::new(br#""NaN""#).f64_lenient().unwrap().is_nan());
    }

    #[test]
    fn strings_with_escapes_and_controls() {
        let doc = br#"["0123456789abcdef\"0123456789", "x"]"#;
        let mut s = Scanner::new(doc);
        s.begin_array().unwrap();
        let mut first = true;
        s.next_element(&mut first).unwrap();
        assert_eq!(
            s.string_raw().unwrap(),
            &br#"0123456789abcdef\"0123456789"#[..]
        );
        s.next_element(&mut first).unwrap();
        assert_eq!(s.string_raw().unwrap(), b"x");
        assert!(
            Scanner::new(b"\"0123456789\n012345\"")
                .string_raw()
                .is_err()
        );
        assert!(Scanner::new(b"\"0123456789\x01\"").string_raw().is_err());
        // A word boundary right after the closing quote.
        assert_eq!(
            Scanner::new(b"\"0123456\"").string_raw().unwrap(),
            b"0123456"
        );
        assert_eq!(find_special(b"0123456789abcdefXY", 0), None);
        assert_eq!(
            find_special(b"01234567\x7f\xff\xe2\x82\xac123\"", 0),
            Some(16)
        );
        assert_eq!(find_special(b"0123\"567", 0), Some(4));
        assert_eq!(find_special(b"0123\"567", 5), None);
        // Every position, in and out of a word, for each special byte.
        for special in [b'"', b'\\', 0x00, 0x1f] {
            for len in 0..20 {
                for at in 0..len {
                    let mut v = vec![0xe2u8; len];
                    v[at] = special;
                    if at + 1 < len {
                        v[at + 1] = b'"'; // a later hit must not win
                    }
                    assert_eq!(find_special(&v, 0), Some(at), "{special} {len} {at}");
                }
            }
        }
    }

    #[test]
    fn json_number_grammar() {
        for good in ["0", "-0", "12", "1.5", "-1.5e3", "1E+2", "1e-2", "0.0"] {
            assert!(is_json_number(good.as_bytes()), "{good}");
        }
        for bad in [
            "", "-", "01", "1.", ".5", "1e", "1e+", "+1", "1.5.2", "--1", "1-",
        ] {
            assert!(!is_json_number(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let doc = "[".repeat(10_000);
        let e = Scanner::new(doc.as_bytes()).skip_value().unwrap_err();
        assert_eq!(e.expected, "less deeply nested JSON");
    }
}
