//! `application/json` bodies, flattened into `ARGS_POST` as ModSecurity v3 (`json.cc`) and Coraza
//! (`bodyprocessors/json.go`) name them.
//!
//! Every scalar becomes one argument named by its path from the root `json`: `{"a":{"b":"c"}}` gives
//! `json.a.b` → `c`. Arrays differ between the engines ([`Compat`]):
//! - Coraza: items are `json.a.0`, `json.a.1`..., and after the items `json.a` → the item count (an empty
//!   array adds nothing); a top-level array gives `json.0`... and `json` → count.
//! - ModSecurity: items are `json.a.array_0`..., no count; a top-level array gives `json.array_0`...
//!
//! Values: strings unescaped (`\uXXXX` and surrogate pairs decoded to UTF-8, a lone surrogate becomes
//! U+FFFD), numbers as written, `true`/`false` as written, `null` as an empty value. Duplicate keys are all
//! kept, in document order (ModSecurity; Coraza's map keeps only one). An empty key is `json.` (Coraza) or
//! `json.empty-key` (ModSecurity). A top-level scalar is named `json`. An empty or blank body is no error.
//!
//! The parser is iterative with an explicit stack, so nesting costs heap, not call stack, and is refused
//! beyond [`BodyLimits::max_json_depth`]. Because every name repeats its whole path, the names' total size
//! is capped at 16 bytes per body byte (+64 KiB) so a long key above many items cannot blow up memory. Syntax errors set `REQBODY_ERROR` with a
//! `JSON parsing error: ...` message; the arguments read before the error are kept.

use std::borrow::Cow;

use super::{push_arg, BodyLimits, Compat, ParsedBody};

pub(crate) const PREFIX: &str = "JSON parsing error: ";

/// Argument names are whole paths, so a long key above many items is repeated in every item's name
/// (`{"<1 MB key>":[1,1,1...]}`). Their total size is capped at this many bytes per body byte (plus
/// [`NAME_BYTES_MIN`]), far above what real documents need, to keep memory linear in the body.
const NAME_BYTES_PER_BODY_BYTE: usize = 16;
const NAME_BYTES_MIN: usize = 64 * 1024;

/// Parses a JSON body into flattened `ARGS_POST`.
///
/// ```
/// use portcullis_waf::body::{parse_json, BodyLimits};
/// let p = parse_json(b"[[[[[[", &BodyLimits { max_json_depth: 3, ..BodyLimits::default() });
/// assert!(p.error.unwrap().contains("depth"));
/// ```
pub fn parse_json<'a>(body: &'a [u8], limits: &BodyLimits) -> ParsedBody<'a> {
    let mut out = ParsedBody::default();
    parse_json_into(body, limits, &mut out);
    out
}

/// Where [`parse_json_into`] puts the arguments: a [`ParsedBody`], or a transaction's arena and `ARGS_POST`
/// directly (no owned copy of every name, no second copy into the arena).
pub(crate) trait JsonOut<'a> {
    /// Adds `name` → `value`, unless `limits.max_args` arguments are already there: then it records the
    /// limit error (when no error is recorded yet) and returns `false`, as [`push_arg`] does.
    fn arg(&mut self, limits: &BodyLimits, name: &[u8], value: Cow<'a, [u8]>) -> bool;
    fn error_mut(&mut self) -> &mut Option<String>;
}

impl<'a> JsonOut<'a> for ParsedBody<'a> {
    fn arg(&mut self, limits: &BodyLimits, name: &[u8], value: Cow<'a, [u8]>) -> bool {
        push_arg(self, limits, PREFIX, Cow::Owned(name.to_vec()), value)
    }
    fn error_mut(&mut self) -> &mut Option<String> {
        &mut self.error
    }
}

/// [`parse_json`] into any [`JsonOut`]: the same arguments in the same order, and the same error.
pub(crate) fn parse_json_into<'a, O: JsonOut<'a>>(body: &'a [u8], limits: &BodyLimits, out: &mut O) {
    let name_budget = body.len().saturating_mul(NAME_BYTES_PER_BODY_BYTE).saturating_add(NAME_BYTES_MIN);
    let mut p = Parser { s: body, i: 0, key: b"json".to_vec(), stack: Vec::new(), limits, name_budget, out };
    if let Err(Some(msg)) = p.run() {
        let error = p.out.error_mut();
        if error.is_none() {
            *error = Some(format!("{PREFIX}{msg}"));
        }
    }
}

enum Frame {
    /// An object; `base` is the length of the path to it.
    Object { base: usize },
    /// An array and the index of its current item.
    Array { base: usize, index: usize },
}

/// `Err(Some(msg))` is a syntax or limit error; `Err(None)` stops after an error already recorded.
type Step<T> = Result<T, Option<String>>;

struct Parser<'a, 'o, 'l, O> {
    s: &'a [u8],
    i: usize,
    /// Path of the value being read, e.g. `json.user.name`.
    key: Vec<u8>,
    stack: Vec<Frame>,
    limits: &'l BodyLimits,
    /// Bytes of argument names still allowed.
    name_budget: usize,
    out: &'o mut O,
}

impl<'a, O: JsonOut<'a>> Parser<'a, '_, '_, O> {
    fn run(&mut self) -> Step<()> {
        self.skip_ws();
        if self.i == self.s.len() {
            return Ok(());
        }
        loop {
            if self.value()? {
                continue; // entered a container: its first member/item comes next
            }
            // After a value: close finished containers, or move to the next member/item.
            loop {
                self.skip_ws();
                let Some(top) = self.stack.last_mut() else {
                    if self.i != self.s.len() {
                        return Err(self.err("trailing data after the top-level value"));
                    }
                    return Ok(());
                };
                let peeked = self.s.get(self.i).copied();
                let msg = match (top, peeked) {
                    (Frame::Object { .. }, Some(b',')) => {
                        self.i += 1;
                        self.member_key()?;
                        break;
                    }
                    (Frame::Array { base, index }, Some(b',')) => {
                        self.i += 1;
                        *index += 1;
                        let (base, index) = (*base, *index);
                        self.item_key(base, index);
                        break;
                    }
                    (Frame::Object { base }, Some(b'}')) => {
                        let base = *base;
                        self.i += 1;
                        self.stack.pop();
                        self.key.truncate(base);
                        continue;
                    }
                    (Frame::Array { base, index }, Some(b']')) => {
                        let (base, count) = (*base, *index + 1);
                        self.i += 1;
                        self.stack.pop();
                        self.key.truncate(base);
                        if self.limits.compat == Compat::Coraza {
                            let mut n = Vec::new();
                            push_decimal(&mut n, count);
                            self.emit(Cow::Owned(n))?;
                        }
                        continue;
                    }
                    (Frame::Object { .. }, _) => "expected ',' or '}'",
                    (Frame::Array { .. }, _) => "expected ',' or ']'",
                };
                return Err(self.err(msg));
            }
        }
    }

    /// Reads one value at `self.key`. Returns `true` when it entered a non-empty container (whose first
    /// value comes next) rather than finishing a value; never recurses.
    fn value(&mut self) -> Step<bool> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => {
                self.i += 1;
                self.skip_ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(false);
                }
                self.push(Frame::Object { base: self.key.len() })?;
                self.member_key()?;
                Ok(true)
            }
            Some(b'[') => {
                self.i += 1;
                self.skip_ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(false);
                }
                let base = self.key.len();
                self.push(Frame::Array { base, index: 0 })?;
                self.item_key(base, 0);
                Ok(true)
            }
            Some(b'"') => {
                let v = self.string()?;
                self.emit(v).map(|()| false)
            }
            Some(b't') => self.literal(b"true").map(|()| false),
            Some(b'f') => self.literal(b"false").map(|()| false),
            Some(b'n') => {
                self.literal_bytes(b"null")?;
                self.emit(Cow::Borrowed(&[])).map(|()| false)
            }
            Some(b'-' | b'0'..=b'9') => {
                let v = self.number()?;
                self.emit(Cow::Borrowed(v)).map(|()| false)
            }
            Some(_) => Err(self.err("unexpected character")),
            None => Err(self.err("premature end of input")),
        }
    }

    fn push(&mut self, frame: Frame) -> Step<()> {
        if self.stack.len() >= self.limits.max_json_depth {
            return Err(Some(format!("maximum nesting depth of {} exceeded", self.limits.max_json_depth)));
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Reads `"name":` inside the object on top of the stack and points `self.key` at that member.
    fn member_key(&mut self) -> Step<()> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(self.err("expected an object key"));
        }
        let name = self.string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.err("expected ':' after an object key"));
        }
        self.i += 1;
        let Some(Frame::Object { base }) = self.stack.last() else {
            return Err(self.err("internal: key outside an object"));
        };
        self.key.truncate(*base);
        self.key.push(b'.');
        if name.is_empty() && self.limits.compat == Compat::ModSecurity {
            self.key.extend_from_slice(b"empty-key");
        } else {
            self.key.extend_from_slice(&name);
        }
        Ok(())
    }

    fn item_key(&mut self, base: usize, index: usize) {
        self.key.truncate(base);
        match self.limits.compat {
            Compat::Coraza => self.key.push(b'.'),
            Compat::ModSecurity => self.key.extend_from_slice(b".array_"),
        }
        push_decimal(&mut self.key, index);
    }

    fn emit(&mut self, value: Cow<'a, [u8]>) -> Step<()> {
        let Some(left) = self.name_budget.checked_sub(self.key.len()) else {
            return Err(Some("argument names too long for the body size (deep or long keys)".into()));
        };
        self.name_budget = left;
        if self.out.arg(self.limits, &self.key, value) {
            Ok(())
        } else {
            Err(None)
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Step<()> {
        let start = self.i;
        self.literal_bytes(word)?;
        self.emit(Cow::Borrowed(&self.s[start..self.i]))
    }

    fn literal_bytes(&mut self, word: &[u8]) -> Step<()> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn number(&mut self) -> Step<&'a [u8]> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("invalid number: digit expected after '.'"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("invalid number: digit expected in exponent"));
            }
            self.digits();
        }
        Ok(&self.s[start..self.i])
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
    }

    /// Reads a string starting at its opening quote; borrowed when it has no escapes.
    fn string(&mut self) -> Step<Cow<'a, [u8]>> {
        self.i += 1;
        let start = self.i;
        // Fast path: find the end of a string without escapes in one scan.
        let stop = self.s[start..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        self.i = stop.map_or(self.s.len(), |n| start + n);
        match self.peek() {
            Some(b'"') => {
                self.i += 1;
                return Ok(Cow::Borrowed(&self.s[start..self.i - 1]));
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.err("control character in a string")),
            None => return Err(self.err("unterminated string")),
        }
        let mut buf = self.s[start..self.i].to_vec();
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(Cow::Owned(buf));
                }
                Some(b'\\') => {
                    self.i += 1;
                    let esc = self.peek().ok_or_else(|| self.err("unterminated string"))?;
                    self.i += 1;
                    match esc {
                        b'"' | b'\\' | b'/' => buf.push(esc),
                        b'b' => buf.push(0x08),
                        b'f' => buf.push(0x0c),
                        b'n' => buf.push(b'\n'),
                        b'r' => buf.push(b'\r'),
                        b't' => buf.push(b'\t'),
                        b'u' => {
                            let c = self.unicode_escape()?;
                            let mut tmp = [0u8; 4];
                            buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                        }
                        _ => return Err(self.err("invalid escape in a string")),
                    }
                }
                Some(c) if c < 0x20 => return Err(self.err("control character in a string")),
                Some(c) => {
                    buf.push(c);
                    self.i += 1;
                }
                None => return Err(self.err("unterminated string")),
            }
        }
    }

    /// Decodes the `XXXX` after `\u` (and a following `\uXXXX` low surrogate).
    fn unicode_escape(&mut self) -> Step<char> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) && self.s[self.i..].starts_with(b"\\u") {
            let save = self.i;
            self.i += 2;
            let lo = self.hex4()?;
            if (0xDC00..0xE000).contains(&lo) {
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            self.i = save; // not a pair: the second escape is read on its own
        }
        Ok(char::from_u32(hi).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    fn hex4(&mut self) -> Step<u32> {
        let Some(h) = self.s.get(self.i..self.i + 4) else {
            return Err(self.err("truncated \\u escape"));
        };
        let mut v = 0u32;
        for &c in h {
            let d = (c as char).to_digit(16).ok_or_else(|| self.err("invalid \\u escape"))?;
            v = v << 4 | d;
        }
        self.i += 4;
        Ok(v)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn err(&self, what: &str) -> Option<String> {
        Some(format!("{what} at offset {}", self.i))
    }
}

/// Appends `n` in decimal without going through a `String`.
fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn args_with(body: &[u8], compat: Compat) -> Vec<(String, String)> {
        let p = parse_json(body, &BodyLimits { compat, ..BodyLimits::default() });
        assert_eq!(p.error, None, "unexpected error for {}", String::from_utf8_lossy(body));
        p.args
            .iter()
            .map(|(n, v)| (String::from_utf8_lossy(n).into_owned(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }

    fn args(body: &[u8]) -> Vec<(String, String)> {
        args_with(body, Compat::Coraza)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn objects_flatten_with_dots() {
        assert_eq!(
            args(br#"{"a":{"b":"c","d":{"e":"f"}},"g":"h"}"#),
            pairs(&[("json.a.b", "c"), ("json.a.d.e", "f"), ("json.g", "h")])
        );
        assert_eq!(args(br#"{"id_order":"select(sleep(10));"}"#), pairs(&[("json.id_order", "select(sleep(10));")]));
    }

    #[test]
    fn scalars_keep_their_text() {
        assert_eq!(
            args(br#"{"i":-12,"f":1.5e+3,"t":true,"n":false,"z":null,"s":""}"#),
            pairs(&[
                ("json.i", "-12"),
                ("json.f", "1.5e+3"),
                ("json.t", "true"),
                ("json.n", "false"),
                ("json.z", ""),
                ("json.s", "")
            ])
        );
    }

    #[test]
    fn arrays_coraza_naming() {
        assert_eq!(
            args(br#"{"a":[1,"x",{"b":2},[3]],"e":[]}"#),
            pairs(&[
                ("json.a.0", "1"),
                ("json.a.1", "x"),
                ("json.a.2.b", "2"),
                ("json.a.3.0", "3"),
                ("json.a.3", "1"),
                ("json.a", "4"),
            ])
        );
        assert_eq!(args(br#"[{"a":1},2]"#), pairs(&[("json.0.a", "1"), ("json.1", "2"), ("json", "2")]));
    }

    #[test]
    fn arrays_modsecurity_naming() {
        assert_eq!(
            args_with(br#"{"a":[1,"x",{"b":2},[3]],"":"v"}"#, Compat::ModSecurity),
            pairs(&[
                ("json.a.array_0", "1"),
                ("json.a.array_1", "x"),
                ("json.a.array_2.b", "2"),
                ("json.a.array_3.array_0", "3"),
                ("json.empty-key", "v"),
            ])
        );
        assert_eq!(
            args_with(b"[1,[2]]", Compat::ModSecurity),
            pairs(&[("json.array_0", "1"), ("json.array_1.array_0", "2")])
        );
    }

    #[test]
    fn duplicates_and_empty_keys_kept() {
        assert_eq!(args(br#"{"a":1,"a":2,"":3}"#), pairs(&[("json.a", "1"), ("json.a", "2"), ("json.", "3")]));
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            args(br#"{"k\"ey":"a\nb\u0041\u00e9\ud83d\ude00\/\\","lone":"\ud800x"}"#),
            pairs(&[("json.k\"ey", "a\nbAé😀/\\"), ("json.lone", "\u{fffd}x")])
        );
        let p = parse_json(br#"{"a":"\u00"}"#, &BodyLimits::default());
        assert!(p.error.is_some());
    }

    #[test]
    fn top_level_scalars_and_blank_bodies() {
        assert_eq!(args(br#""abc""#), pairs(&[("json", "abc")]));
        assert_eq!(args(b" 42 "), pairs(&[("json", "42")]));
        assert_eq!(args(b""), pairs(&[]));
        assert_eq!(args(b" \r\n"), pairs(&[]));
        assert_eq!(args(b"{}"), pairs(&[]));
    }

    #[test]
    fn malformed_json_is_an_error() {
        for bad in [
            &b"{"[..],
            b"{\"a\"}",
            b"{\"a\":1,}",
            b"[1,]",
            b"[1 2]",
            b"{'a':1}",
            b"{\"a\":tru}",
            b"{\"a\":01}",
            b"{\"a\":1.}",
            b"{\"a\":-}",
            b"{\"a\":\"x\ny\"}",
            b"{\"a\":1}}",
            b"{\"a\":1} x",
            b"\"unterminated",
            b"nul",
            b"a=1&b=2",
        ] {
            let p = parse_json(bad, &BodyLimits::default());
            let e = p.error.unwrap_or_else(|| panic!("no error for {}", String::from_utf8_lossy(bad)));
            assert!(e.starts_with("JSON parsing error: "), "{e}");
        }
    }

    #[test]
    fn arguments_before_an_error_are_kept() {
        let p = parse_json(br#"{"a":"x","b":"y" "c":1}"#, &BodyLimits::default());
        assert!(p.error.is_some());
        assert_eq!(p.args.len(), 2);
    }

    #[test]
    fn depth_limit() {
        let limits = BodyLimits { max_json_depth: 3, ..BodyLimits::default() };
        assert!(parse_json(b"[[[1]]]", &limits).error.is_none());
        assert!(parse_json(br#"{"a":{"b":{"c":{}}}}"#, &limits).error.is_none(), "empty containers are not entered");
        let e = parse_json(b"[[[[1]]]]", &limits).error.unwrap();
        assert!(e.contains("maximum nesting depth of 3 exceeded"), "{e}");
    }

    #[test]
    fn megabyte_of_brackets_fails_fast() {
        let limits = BodyLimits::default();
        for open in [b'[', b'{'] {
            let body = vec![open; 1 << 20];
            let start = Instant::now();
            let p = parse_json(&body, &limits);
            assert!(p.error.is_some());
            assert!(start.elapsed() < Duration::from_secs(1));
        }
        // Also without a depth limit: the explicit stack grows on the heap, never the call stack.
        let unlimited = BodyLimits { max_json_depth: usize::MAX, max_args: usize::MAX, ..BodyLimits::default() };
        let mut body = vec![b'['; 1 << 20];
        body.extend(vec![b']'; 1 << 20]);
        let start = Instant::now();
        let p = parse_json(&body, &unlimited);
        assert!(p.error.unwrap().contains("argument names too long"));
        assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    }

    #[test]
    fn long_keys_repeated_in_names_are_bounded() {
        let unlimited = BodyLimits { max_args: usize::MAX, ..BodyLimits::default() };
        let body = format!("{{\"{}\":[{}1]}}", "k".repeat(100_000), "1,".repeat(100_000));
        let p = parse_json(body.as_bytes(), &unlimited);
        assert!(p.error.unwrap().contains("argument names too long"));
        let names: usize = p.args.iter().map(|(n, _)| n.len()).sum();
        assert!(names <= body.len() * NAME_BYTES_PER_BODY_BYTE + NAME_BYTES_MIN);
    }

    #[test]
    fn argument_limit() {
        let limits = BodyLimits { max_args: 2, ..BodyLimits::default() };
        let p = parse_json(b"[1,2,3]", &limits);
        assert_eq!(p.args.len(), 2);
        assert!(p.error.unwrap().contains("argument limit"));
    }

    #[test]
    fn unescaped_strings_stay_borrowed() {
        let p = parse_json(br#"{"a":"plain","b":"esc\"aped"}"#, &BodyLimits::default());
        assert!(matches!(p.args[0].1, Cow::Borrowed(_)));
        assert!(matches!(p.args[1].1, Cow::Owned(_)));
    }
}
